"""The playground's data: two-class sets on the plane [−6, 6]², and the input features.

Every set here has two classes, so that one sigmoid output neuron draws the decision boundary
(the textbook's single-output classifier). ``circle``, ``moons`` and ``gaussians`` come from
:mod:`synapsenet.datasets`, rescaled to the plane (``gaussians`` keeps two of its four blobs);
``xor`` and ``spiral`` are drawn here, since the library's are other problems: its ``xor`` is
the four corners of the truth table, its ``spiral`` has three arms (three classes).
"""

from __future__ import annotations

import numpy as np

from .. import datasets

EXTENT = 6.0  # the plane is [−EXTENT, EXTENT]² (as in TensorFlow Playground)
DATASETS = ("circle", "xor", "gaussians", "spiral", "moons")

# name → (label, f(x1, x2)); each scaled so that it stays within [−1, 1] on the plane
FEATURES = {
    "x1": ("x₁", lambda a, b: a / EXTENT),
    "x2": ("x₂", lambda a, b: b / EXTENT),
    "x1sq": ("x₁²", lambda a, b: (a / EXTENT) ** 2),
    "x2sq": ("x₂²", lambda a, b: (b / EXTENT) ** 2),
    "x1x2": ("x₁x₂", lambda a, b: a * b / EXTENT ** 2),
    "sin1": ("sin x₁", lambda a, b: np.sin(a)),
    "sin2": ("sin x₂", lambda a, b: np.sin(b)),
}


def features(P: np.ndarray, names) -> np.ndarray:
    """The input features ``names`` of points P (N × 2, plane coordinates), float32."""
    a, b = P[:, 0], P[:, 1]
    return np.stack([FEATURES[n][1](a, b) for n in names], axis=1).astype(np.float32)


def make(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of the set ``name`` on the plane and their labels 0/1. ``noise`` ∈ [0, 1]
    blurs the classes (0: clean); the same (name, n, noise, seed) gives the same points."""
    rng = np.random.default_rng(seed)
    if name == "circle":  # a disc inside a ring
        X, y = datasets.load("circles", n_samples=n, noise=0.2 * noise, seed=seed)
        return X * (EXTENT - 1), y
    if name == "moons":
        X, y = datasets.load("moons", n_samples=n, noise=0.3 * noise, seed=seed)
        return (X - [0.5, 0.25]) * 3.2, y
    if name == "gaussians":  # the library's blobs at (−3, −3) and (3, 3): two of four
        ds = datasets.load("gaussians", n_samples=4 * n + 8, noise=0.5 + 2.0 * noise,
                           seed=seed)
        keep = np.flatnonzero(ds.y < 2)[:n]
        return ds.X[keep], ds.y[keep]
    if name == "xor":  # the truth table spread over the plane: label = [x₁ x₂ < 0]
        X = rng.uniform(-EXTENT + 1, EXTENT - 1, (n, 2))
        X += np.sign(X) * 0.3  # a small margin along the axes
        y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
        X += rng.normal(0, 1.5 * noise, X.shape)
        return X, y
    if name == "spiral":  # two arms, half a turn apart
        y = np.arange(n) % 2
        t = np.linspace(0.0, 1.0, n // 2 + 1)[np.arange(n) // 2] if n > 1 else np.zeros(n)
        r = 5.0 * t
        angle = 1.75 * 2 * np.pi * t + np.pi * y
        X = np.c_[r * np.sin(angle), r * np.cos(angle)]
        X += rng.normal(0, 1.0 * noise, X.shape)
        return X, y.astype(np.int64)
    raise ValueError(f"unknown playground dataset {name!r}")


def split(X, y, train_ratio: float, seed: int):
    """(X_train, y_train, X_test, y_test): a random share ``train_ratio`` for training, the
    rest held out; each part keeps at least one point."""
    order = np.random.default_rng(seed + 1).permutation(len(X))
    k = min(max(1, round(train_ratio * len(X))), len(X) - 1)
    tr, te = order[:k], order[k:]
    return X[tr], y[tr], X[te], y[te]


def grid(n: int) -> np.ndarray:
    """n × n points covering the plane, row by row from the top (x₂ = +EXTENT) down, each at
    the centre of its pixel: the heat map's pixels, in the order an image stores them."""
    c = (np.arange(n) + 0.5) / n * 2 * EXTENT - EXTENT
    x1, x2 = np.meshgrid(c, c[::-1])
    return np.c_[x1.ravel(), x2.ravel()]
