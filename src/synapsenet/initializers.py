"""How the synapses start: the textbook's uniform(−1, 1), Xavier/Glorot, He.

Each initialiser returns ``(W, b)`` with W of shape (n_out, n_in), drawn from a seeded
``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from .errors import unknown_name


def uniform(n_in, n_out, rng, dtype):
    """W, b ~ U(−1, 1): the textbook's random start, biases included."""
    W = rng.uniform(-1.0, 1.0, size=(n_out, n_in))
    b = rng.uniform(-1.0, 1.0, size=n_out)
    return W.astype(dtype), b.astype(dtype)


def xavier(n_in, n_out, rng, dtype):
    """W ~ U(±√(6 / (n_in + n_out))) (Glorot & Bengio 2010), b = 0. For sigmoid and tanh."""
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_out, n_in)).astype(dtype), np.zeros(n_out, dtype)


def he(n_in, n_out, rng, dtype):
    """W ~ N(0, 2 / n_in) (He et al. 2015), b = 0. For ReLU-like neurons."""
    W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
    return W.astype(dtype), np.zeros(n_out, dtype)


INITIALIZERS = {"uniform": uniform, "xavier": xavier, "glorot": xavier, "he": he}
_RELU_LIKE = {"relu", "leaky_relu", "elu", "softplus"}


def default_init(activation_name: str) -> str:
    """He for ReLU-like neurons, Xavier for the rest."""
    return "he" if activation_name in _RELU_LIKE else "xavier"


def get_initializer(name: str):
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise unknown_name("initializer", name, INITIALIZERS) from None
