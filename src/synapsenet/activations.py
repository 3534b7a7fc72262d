"""Neuron activations: each ``f`` and its derivative side by side.

A layer computes ``u = W·z_prev + b`` and then ``z = f(u)``. Backpropagation needs
``δ = ∂E/∂u = ∂E/∂z ⊙ f'(u)``; every activation provides that product as ``backward(g, u, z)``
and computes ``f'`` from what the forward pass already stored (``z`` where the textbook's
identities allow it: sigmoid' = z(1 − z), tanh' = 1 − z²), never by recomputing ``f``.

All functions are numerically stable: no overflow for |u| up to 1e4 and beyond.
Arrays are batches of rows, shape (batch, n). ``out=`` arguments let the training loop reuse
buffers; when given, the result is written there and returned.
"""

from __future__ import annotations

import numpy as np

from .errors import unknown_name


def row_max(a: np.ndarray) -> np.ndarray:
    """max over each row, shape (N, 1). For many narrow rows (a softmax over 10 classes) a
    loop over the columns beats NumPy's reduction along a short axis; for
    a few rows, or wide ones, the reduction is faster."""
    if a.shape[1] > 32 or len(a) < 128:
        return a.max(axis=1, keepdims=True)
    m = a[:, :1].copy()
    for k in range(1, a.shape[1]):
        np.maximum(m[:, 0], a[:, k], out=m[:, 0])
    return m


def row_sum(a: np.ndarray) -> np.ndarray:
    """Σ over each row, shape (N, 1), as a matrix-vector product with ones (BLAS)."""
    return (a @ np.ones(a.shape[1], a.dtype))[:, None]


def _written(value, u, out):
    """Return ``value`` in ``u``'s dtype, copied into ``out`` when a buffer is given."""
    if out is None:
        return value.astype(u.dtype, copy=False)
    out[...] = value
    return out


class Activation:
    """Base class. ``low``/``high`` are the target values that encode "no"/"yes" for a class
    when this activation drives an output trained with squared error (the middle is the
    decision threshold)."""

    name = "activation"
    low, high = 0.0, 1.0
    #: every output is ≥ 0 (an analog chip then need not look for negative inputs)
    nonnegative = False

    def forward(self, u, out=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g, u, z, out=None):
        """δ = g ⊙ f'(u): the error signal ``g = ∂E/∂z`` carried back through the neuron.
        ``out`` may be ``g`` itself (the update is then in place)."""
        return np.multiply(g, self.derivative(u, z), out=out)

    def derivative(self, u, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, u):
        return self.forward(np.asarray(u))

    def __repr__(self):
        return self.name

    def config(self) -> dict:
        return {"name": self.name}


class Sigmoid(Activation):
    """f(u) = 1 / (1 + e^(−u)),  f'(u) = z(1 − z)."""

    name = "sigmoid"
    nonnegative = True

    def forward(self, u, out=None):
        # 1/(1+e^-u) == (1 + tanh(u/2)) / 2, which never overflows.
        out = np.multiply(u, 0.5, out=out)
        np.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        return out

    def derivative(self, u, z):
        return z * (1 - z)

    def backward(self, g, u, z, out=None):
        out = np.multiply(g, z, out=out)  # g z  (out may be g itself)
        out *= 1 - z  # g z(1 − z) = g f'(u)
        return out


class Tanh(Activation):
    """f(u) = tanh(u),  f'(u) = 1 − z²."""

    name = "tanh"
    low = -1.0

    def forward(self, u, out=None):
        return np.tanh(u, out=out)

    def derivative(self, u, z):
        return 1 - z * z

    def backward(self, g, u, z, out=None):
        return np.multiply(g, 1 - z * z, out=out)  # g (1 − z²)  (out may be g itself)


class ReLU(Activation):
    """f(u) = max(0, u),  f'(u) = [u > 0]."""

    name = "relu"
    nonnegative = True

    def forward(self, u, out=None):
        return np.maximum(u, 0, out=out)

    def derivative(self, u, z):
        return (u > 0).astype(u.dtype)

    def backward(self, g, u, z, out=None):
        return np.multiply(g, u > 0, out=out)


class LeakyReLU(Activation):
    """f(u) = u for u > 0, αu otherwise;  f'(u) = 1 or α."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        self.alpha = float(alpha)

    def forward(self, u, out=None):
        return _written(np.where(u > 0, u, self.alpha * u), u, out)

    def derivative(self, u, z):
        return np.where(u > 0, 1, self.alpha).astype(u.dtype, copy=False)

    def config(self):
        return {"name": self.name, "alpha": self.alpha}

    def __repr__(self):
        return f"leaky_relu(alpha={self.alpha})"


class ELU(Activation):
    """f(u) = u for u > 0, α(e^u − 1) otherwise;  f'(u) = 1 or z + α."""

    name = "elu"
    low = 0.0

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def forward(self, u, out=None):
        return _written(np.where(u > 0, u, self.alpha * np.expm1(np.minimum(u, 0))), u, out)

    def derivative(self, u, z):
        return np.where(u > 0, 1, z + self.alpha).astype(u.dtype, copy=False)

    def config(self):
        return {"name": self.name, "alpha": self.alpha}

    def __repr__(self):
        return f"elu(alpha={self.alpha})"


class Softplus(Activation):
    """f(u) = ln(1 + e^u),  f'(u) = sigmoid(u)."""

    name = "softplus"
    nonnegative = True

    def forward(self, u, out=None):
        return np.logaddexp(0, u, out=out)

    def derivative(self, u, z):
        return Sigmoid().forward(u)


class Identity(Activation):
    """f(u) = u,  f'(u) = 1 (a linear neuron, for regression outputs)."""

    name = "identity"

    def forward(self, u, out=None):
        if out is None:
            return u.copy()
        np.copyto(out, u)
        return out

    def derivative(self, u, z):
        return np.ones_like(u)

    def backward(self, g, u, z, out=None):
        if out is None:
            return g.copy()
        np.copyto(out, g)
        return out


class Softmax(Activation):
    """z_k = e^(u_k) / Σ_j e^(u_j) over each row.

    Its derivative is a Jacobian, ∂z_k/∂u_j = z_k(δ_kj − z_j), so ``backward`` returns the
    product δ_k = z_k (g_k − Σ_j g_j z_j). Paired with cross-entropy the output delta is simply
    z − d (see :mod:`synapsenet.losses`).
    """

    name = "softmax"
    nonnegative = True

    def forward(self, u, out=None):
        out = np.subtract(u, row_max(u), out=out)  # shift: no overflow
        np.exp(out, out=out)
        out /= row_sum(out)
        return out

    def derivative(self, u, z):
        raise TypeError("softmax has a Jacobian, not an elementwise derivative; use backward()")

    def backward(self, g, u, z, out=None):
        s = np.einsum("ij,ij->i", g, z)[:, None]  # Σ_j g_j z_j per row
        out = np.subtract(g, s, out=out)
        out *= z
        return out


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Identity, Softmax)
}
_ALIASES = {"linear": "identity", "logistic": "sigmoid"}


def get_activation(spec) -> Activation:
    """An activation from a name (``"sigmoid"``), a config dict, or an instance."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        return _lookup(name)(**spec)
    return _lookup(spec)()


def _lookup(name) -> type[Activation]:
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    try:
        return ACTIVATIONS[key]
    except (KeyError, TypeError):
        raise unknown_name("activation", name, ACTIVATIONS) from None
