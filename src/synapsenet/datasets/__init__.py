"""Datasets: built-in toy sets, scikit-learn's digits, MNIST / Fashion-MNIST, and files of
one's own: CSV, NPZ, and a folder of IDX files.

>>> from synapsenet import datasets
>>> ds = datasets.load("xor")
>>> X, y = ds
>>> X.tolist(), y.tolist()
([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .files import load_csv, load_npz
from .preprocessing import SCALINGS, Scaler, split

LOGIC = {"xor": [0, 1, 1, 0], "and": [0, 0, 0, 1], "or": [0, 1, 1, 1]}
TWO_D = ("moons", "circles", "spiral", "gaussians")
IDX_SETS = ("mnist", "fashion-mnist")
BUILTIN = tuple(LOGIC) + ("digits",) + TWO_D
NAMES = BUILTIN + IDX_SETS

DESCRIPTIONS = {
    "xor": "4 samples, 2 inputs: exclusive or (needs a hidden layer)",
    "and": "4 samples, 2 inputs: logical and (linearly separable)",
    "or": "4 samples, 2 inputs: logical or (linearly separable)",
    "digits": "1,797 8×8 handwritten digits, 10 classes (scikit-learn)",
    "moons": "2-D, two interleaving half circles, 2 classes",
    "circles": "2-D, a circle inside a circle, 2 classes",
    "spiral": "2-D, interleaved spiral arms, 3 classes",
    "gaussians": "2-D, Gaussian blobs, 4 classes",
    "mnist": "70,000 28×28 handwritten digits, 10 classes (60k train / 10k test)",
    "fashion-mnist": "70,000 28×28 clothing images, 10 classes (60k train / 10k test)",
}

FILE_KINDS = ("csv", "npz", "idx")
# Files of one's own: the form to write and what it reads (for `synapsenet datasets`).
FILE_FORMATS = {
    "csv:PATH": "a CSV file: numeric feature columns and a label column (the last, or "
                "--label-column); labels whole numbers or names",
    "npz:PATH": "a NumPy .npz archive: arrays X (samples × features) and y (one label each)",
    "idx:DIR": "a folder of four IDX files with MNIST's names (train-images-idx3-ubyte, "
               "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; raw "
               "or .gz): EMNIST, KMNIST, a subset of MNIST…, validated but not checksummed",
}


@dataclass
class Dataset:
    """Features ``X`` (N × n_features) and integer labels ``y``; ``X_test``/``y_test`` when
    the set has an official test split. Unpacks as ``X, y = dataset``.

    Values are as the source stores them; no loader rescales them: MNIST's pixels are 0–255
    (uint8), the digits' 0–16, a file's numbers as written. ``value_range`` says which range
    that is and ``scale`` names the scaling that suits the data, *not applied*. A network wants
    inputs of order one (pixels of 0–255 saturate its neurons, and training learns next to
    nothing), so :meth:`scaled` applies it and keeps the fitted :class:`Scaler` in ``scaler``,
    to be stored with a model (``synapsenet train`` does this with ``--scale auto``), so that
    the model's users give it raw inputs in the same units.

    >>> ds = load("digits")
    >>> ds.value_range, ds.scale, ds.scaler
    ((0.0, 16.0), '16', None)
    >>> s = ds.scaled()
    >>> s.value_range, s.scaler.kind, s.scale
    ((0.0, 1.0), '16', 'none')
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list = field(default_factory=list)
    scale: str = "none"  # the scaling that suits it, not applied: one of SCALINGS
    value_range: tuple | None = None  # (lowest, highest) value as stored; None: from the data
    scaler: Scaler | None = None  # the fitted scaling already applied to X (and X_test)

    def __post_init__(self):
        if self.value_range is None:
            parts = [a for a in (self.X, self.X_test) if a is not None and a.size]
            self.value_range = ((float(min(a.min() for a in parts)),
                                 float(max(a.max() for a in parts))) if parts else None)
        else:
            self.value_range = tuple(map(float, self.value_range))

    def scaled(self, kind: str | None = None, dtype=np.float32) -> Dataset:
        """A copy with ``X`` (and ``X_test``) scaled by ``kind`` (default: :attr:`scale`),
        fitted on the training rows; its ``scaler`` is the fitted :class:`Scaler`."""
        scaler = Scaler(self.scale if kind is None else kind).fit(self.X)
        X_test = None if self.X_test is None else scaler.transform(self.X_test, dtype)
        return Dataset(self.name, scaler.transform(self.X, dtype), self.y, X_test, self.y_test,
                       list(self.class_names), scale="none", scaler=scaler)

    def __iter__(self):
        return iter((self.X, self.y))

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names) or int(self.y.max()) + 1

    @property
    def is_2d(self) -> bool:
        return self.X.shape[1] == 2


def load(name: str, *, data_dir=None, n_samples=None, noise=None, seed=0,
         label_column=None, allow_download=True, progress=None) -> Dataset:
    """Load a dataset by name: one of :data:`NAMES`, or a file of one's own (:data:`FILE_FORMATS`):
    ``csv:PATH``, ``npz:PATH`` (a path ending in .csv or .npz works too) or ``idx:DIR``.

    ``n_samples`` and ``noise`` shape the 2-D sets; ``data_dir`` is where MNIST files are
    looked for first; ``label_column`` (name or index) picks the CSV's label column.
    ``mnist`` and ``fashion-mnist`` are the published files, verified by checksum; ``idx:DIR``
    reads any four IDX files with their names, validated (see :func:`.idx.load_idx_dir`).

    Values come as the source stores them (see :class:`Dataset`): scale them before training,
    with :meth:`Dataset.scaled` or the :class:`Scaler` named by ``dataset.scale``.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"dataset must be a name, got {name!r}")
    kind, _, path = name.partition(":")
    if kind not in FILE_KINDS:  # a plain path: data.csv, ./a:b.npz
        kind, path = "", ""
        if name.lower().endswith((".csv", ".npz")):
            kind, path = name.rsplit(".", 1)[1].lower(), name
    if label_column == "":
        label_column = None  # an option left empty
    if label_column is not None and kind != "csv":
        raise ConfigError(f"dataset {name!r} has no label column to choose: a label column "
                          "is for CSV files (drop --label-column / label_column=)")
    if kind == "csv" and path:
        X, y, classes = load_csv(path, label_column=label_column)
        return Dataset(name, X, y, class_names=classes, scale="standard")
    if kind == "npz" and path:
        X, y, classes = load_npz(path)
        return Dataset(name, X, y, class_names=classes, scale="standard")
    if kind == "idx" and path:
        from .idx import load_idx_dir

        Xtr, ytr, Xte, yte, classes = load_idx_dir(path)
        return Dataset(name, Xtr, ytr, Xte, yte, class_names=classes, scale="255",
                       value_range=(0, 255))
    key = name.lower()
    if key in LOGIC:
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
        return Dataset(key, X, np.array(LOGIC[key]), class_names=["0", "1"],
                       value_range=(0, 1))
    if key == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()  # 4-bit pixels, 0–16, as scikit-learn stores them
        return Dataset(key, d.data, d.target.astype(np.int64),
                       class_names=[str(i) for i in range(10)], scale="16", value_range=(0, 16))
    if key in TWO_D:
        _check_two_d_options(n_samples, noise)
        X, y = _two_d(key, 600 if n_samples is None else int(n_samples), noise, seed)
        return Dataset(key, X, y, class_names=[str(c) for c in range(int(y.max()) + 1)],
                       scale="standard")
    if key in IDX_SETS:
        from .mnist import CLASS_NAMES, load_idx_dataset

        Xtr, ytr, Xte, yte = load_idx_dataset(key, data_dir, allow_download, progress)
        return Dataset(key, Xtr, ytr, Xte, yte, class_names=CLASS_NAMES[key], scale="255",
                       value_range=(0, 255))
    if kind in FILE_KINDS and not path:
        raise ConfigError(f"dataset {name!r} needs a path after the colon: {kind}:"
                          f"{'DIR' if kind == 'idx' else 'PATH'}")
    raise ConfigError(f"unknown dataset {name!r}; valid datasets are: {', '.join(NAMES)}, "
                      f"{', '.join(FILE_FORMATS)}")


def _check_two_d_options(n_samples, noise):
    if n_samples is not None and (isinstance(n_samples, bool) or
                                  not float(n_samples).is_integer() or n_samples < 8):
        raise ConfigError(f"n_samples must be a whole number ≥ 8 (two samples of each class of "
                          f"the 2-D sets), got {n_samples!r}")
    if noise is not None and not (isinstance(noise, (int, float)) and np.isfinite(noise)
                                  and noise >= 0):
        raise ConfigError(f"noise must be a finite number ≥ 0, got {noise!r}")


def _two_d(name, n, noise, seed):
    rng = np.random.default_rng(seed)
    if name in ("moons", "circles"):
        from sklearn.datasets import make_circles, make_moons

        if name == "moons":
            return make_moons(n, noise=0.1 if noise is None else noise, random_state=seed)
        return make_circles(n, noise=0.05 if noise is None else noise, factor=0.5,
                            random_state=seed)
    if name == "spiral":
        k, noise = 3, 0.2 if noise is None else noise
        per = [n // k + (i < n % k) for i in range(k)]  # exactly n samples
        t = np.concatenate([np.linspace(0.0, 1.0, c) for c in per])
        y = np.repeat(np.arange(k), per)
        angle = 4.0 * t + y * (2 * np.pi / k) + rng.normal(0, noise, t.size)
        X = np.c_[t * np.cos(angle), t * np.sin(angle)]
        return X, y
    k, noise = 4, 1.0 if noise is None else noise  # gaussians
    centres = np.array([[-3.0, -3.0], [3.0, 3.0], [-3.0, 3.0], [3.0, -3.0]])
    y = rng.integers(0, k, n)
    if len(np.unique(y)) < k:  # a few samples: every blob gets some
        y = rng.permutation(np.arange(n) % k)
    return centres[y] + rng.normal(0, noise, (n, 2)), y


__all__ = ["Dataset", "load", "NAMES", "BUILTIN", "DESCRIPTIONS", "FILE_FORMATS", "SCALINGS",
           "Scaler", "split", "load_csv", "load_npz"]
