"""A layer of neurons and the synapses that feed it.

``Dense(n_in, n_out, activation)`` holds the synaptic weights ``W`` (n_out × n_in, as in the
textbook's ``W·x``), the biases ``b`` (n_out), the neurons' activation f, and the gradients
``dW``, ``db`` of the last backward pass — its parameters, nothing else. How ``u = W·z + b``,
``δ·W`` and the update are computed is the substrate's (``synapsenet.substrate``); the loops
that chain layers are the network's, with the per-step values (u, z, δ, dropout masks) in a
workspace the loop owns (``synapsenet.network.Workspace``).
"""

from __future__ import annotations

import numpy as np

from .activations import Activation, get_activation
from .errors import ConfigError, ShapeError
from .initializers import default_init, get_initializer


class Dense:
    """A fully connected layer: ``z = f(W z_prev + b)``.

    Parameters
    ----------
    n_in, n_out : int
        Number of inputs (synapses per neuron) and of neurons.
    activation : str or Activation
        The neurons' f: ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``elu``, ``softplus``,
        ``identity`` or ``softmax``.
    init : {"uniform", "xavier", "he"}, optional
        Initial weights; by default He for ReLU-like neurons and Xavier otherwise.
    dropout : float
        Probability of dropping each *input* of this layer during training (inverted dropout:
        kept inputs are scaled by 1/(1 − p), so inference needs no change). 0 disables it.
    seed : int or numpy.random.Generator
    dtype : "float32" or "float64"

    Attributes
    ----------
    W : ndarray (n_out, n_in)   synaptic weights
    b : ndarray (n_out,)        biases
    WT : ndarray (n_in, n_out)  the same weights as stored, transposed (see ``WT``)
    dW, db : ndarray            gradients of the last backward pass (mean over the batch)
    """

    def __init__(self, n_in, n_out, activation="sigmoid", *, init=None, dropout=0.0,
                 seed=0, dtype="float32", W=None, b=None):
        for name, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"Dense: {name} must be a positive integer, got {n!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"Dense: dropout must be in [0, 1), got {dropout!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.activation: Activation = get_activation(activation)
        self.dtype = _check_dtype(dtype)
        self.dropout = float(dropout)
        self.init = init or default_init(self.activation.name)
        if W is None or b is None:
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            W0, b0 = get_initializer(self.init)(self.n_in, self.n_out, rng, self.dtype)
            W = W0 if W is None else W
            b = b0 if b is None else b
        W = np.asarray(W, dtype=self.dtype)
        b = np.asarray(b, dtype=self.dtype).reshape(-1)
        if W.shape != (self.n_out, self.n_in) or b.shape != (self.n_out,):
            raise ShapeError(
                f"Dense({self.n_in}→{self.n_out}): W must be {(self.n_out, self.n_in)} and b "
                f"({self.n_out},), got {W.shape} and {b.shape}")
        # Stored as Wᵀ, rows contiguous (n_in × n_out): the products Z·Wᵀ and Z_prevᵀ·δ then
        # run on BLAS's fastest layout (no transposed operand to handle). `W` is a view of it.
        # Each row starts a cache line, so that threads owning different neurons never share
        # one (the compiled engine, _engine.py).
        self._WT = aligned_zeros((self.n_in, self.n_out), self.dtype)
        self._WT[...] = W.T
        self.b = aligned_zeros(self.n_out, self.dtype)
        self.b[...] = b
        self._dWT = np.zeros_like(self._WT, order="C")
        self.db = aligned_zeros(self.n_out, self.dtype)

    def __setstate__(self, state):
        # an unpickled (or deep-copied) layer gets plain NumPy arrays: put the rows of its
        # weights back on cache lines, as __init__ made them
        self.__dict__.update(state)
        for name in ("_WT", "b", "db"):
            old = getattr(self, name)
            new = aligned_zeros(old.shape, old.dtype)
            new[...] = old
            setattr(self, name, new)

    @property
    def W(self) -> np.ndarray:
        """Synaptic weights, (n_out, n_in): a writable view of the stored Wᵀ."""
        return self._WT.T

    @property
    def WT(self) -> np.ndarray:
        """The stored Wᵀ, (n_in, n_out), rows contiguous and on cache lines: the layout in
        which the products ``Z·Wᵀ`` and ``Z_prevᵀ·δ`` run fastest (a writable view)."""
        return self._WT

    @W.setter
    def W(self, value):
        value = np.asarray(value, dtype=self.dtype)
        if value.shape != (self.n_out, self.n_in):
            raise ShapeError(f"{self!r}: W must be {(self.n_out, self.n_in)}, got {value.shape}")
        self._WT[...] = value.T

    @property
    def dW(self) -> np.ndarray:
        """∂E/∂W of the last backward pass, (n_out, n_in)."""
        return self._dWT.T

    # -- bookkeeping ---------------------------------------------------------------------
    def parameters(self):
        return [self.W, self.b]

    def gradients(self):
        return [self.dW, self.db]

    @property
    def n_params(self):
        return self.W.size + self.b.size

    def config(self) -> dict:
        return {"type": "Dense", "n_in": self.n_in, "n_out": self.n_out,
                "activation": self.activation.config(), "init": self.init,
                "dropout": self.dropout}

    def __repr__(self):
        extra = f", dropout={self.dropout}" if self.dropout else ""
        return f"Dense({self.n_in}→{self.n_out}, {self.activation!r}{extra})"


def aligned_zeros(shape, dtype, align=64) -> np.ndarray:
    """A zeroed array whose rows each start a cache line (NumPy's own allocations are only
    16-byte aligned): 1-D, contiguous; 2-D, rows padded to whole lines (a view whose row
    stride may exceed its width). Threads that own different columns then share no line."""
    dtype = np.dtype(dtype)
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    per_line = align // dtype.itemsize
    width = shape[-1]
    padded = -(-width // per_line) * per_line if len(shape) == 2 else width
    rows = shape[0] if len(shape) == 2 else 1
    nbytes = rows * padded * dtype.itemsize
    buf = np.zeros(nbytes + align, np.uint8)
    start = -buf.ctypes.data % align
    flat = buf[start:start + nbytes].view(dtype)
    return flat.reshape(rows, padded)[:, :width] if len(shape) == 2 else flat


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype) if dtype is not None else np.dtype("float32")
    if dt not in (np.float32, np.float64):
        raise ConfigError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt
