"""A layer of neurons and the synapses that feed it.

``Dense(n_in, n_out, activation)`` holds the synaptic weights ``W`` (n_out × n_in, as in the
textbook's ``W·x``) and biases ``b`` (n_out). With a batch of inputs as rows, all outputs of the
layer are computed at once::

    U = Z_prev @ W.T + b      # u_j = Σ_i w_ji z_i + b_j   for every sample and neuron
    Z = f(U)                  # z_j = f(u_j)

and backpropagation, given this layer's deltas δ = ∂E/∂U::

    dW = δᵀ @ Z_prev          # ∂E/∂w_ji = δ_j z_i   (summed over the batch)
    db = Σ_batch δ            # ∂E/∂b_j  = δ_j
    G  = δ @ W                # ∂E/∂z_i = Σ_j δ_j w_ji, handed to the layer below
"""

from __future__ import annotations

import threading

import numpy as np

from . import _blas
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
        # run on BLAS's fastest layout (up to 30 % faster at batch 64). `W` is a view of it.
        # Each row starts a cache line, so that threads owning different neurons never share
        # one (the compiled engine, _engine.py).
        self._WT = aligned_zeros((self.n_in, self.n_out), self.dtype)
        self._WT[...] = W.T
        self.b = aligned_zeros(self.n_out, self.dtype)
        self.b[...] = b
        self._dWT = np.zeros_like(self._WT, order="C")
        self.db = aligned_zeros(self.n_out, self.dtype)
        self._ws: dict[int, dict[str, np.ndarray]] = {}  # training workspaces by batch size
        self._infer: dict[int, np.ndarray] = {}  # inference buffers by thread
        self._mask = None
        self.weight_noise = 0.0  # set by fit(weight_noise=...) while training

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

    # -- inference -----------------------------------------------------------------------
    def linear(self, Z_prev, reuse=False):
        """u = W·z_prev + b for a batch, shape (batch, n_out). With ``reuse=True`` it is
        written into a buffer the layer keeps for inference (valid until its next call),
        which avoids allocating, and page-faulting, a fresh array per batch."""
        if reuse:  # one buffer per thread (inference may run on several), grown as needed
            key = threading.get_ident()
            buf = self._infer.get(key)
            if buf is None or len(buf) < len(Z_prev):
                buf = self._infer[key] = np.empty((len(Z_prev), self.n_out), self.dtype)
            U = buf[:len(Z_prev)]
            np.matmul(Z_prev, self._WT, out=U)  # u = W·z_prev ...
        else:
            U = Z_prev @ self._WT
        U += self.b  # ... + b
        return U

    def forward(self, Z_prev, reuse=False):
        """Outputs z = f(W·z_prev + b) for a batch, shape (batch, n_out)."""
        U = self.linear(Z_prev, reuse)
        return self.activation.forward(U, out=U)  # z = f(u), in place

    __call__ = forward

    # -- training ------------------------------------------------------------------------
    def _workspace(self, n):
        ws = self._ws.get(n)
        if ws is None:
            if len(self._ws) > 6:  # keep the usual sizes (full batch, last batch), drop others
                self._ws.clear()
            ws = {k: np.empty((n, m), self.dtype) for k, m in
                  (("U", self.n_out), ("Z", self.n_out), ("D", self.n_out), ("G", self.n_in))}
            self._ws[n] = ws
        return ws

    def _ones(self, n):
        ones = self._ws.get(("ones", n))
        if ones is None:
            ones = self._ws[("ones", n)] = np.ones(n, self.dtype)
        return ones

    def forward_train(self, Z_prev, rng=None):
        """Forward pass that stores u, z (and the input) for :meth:`backward`."""
        ws = self._workspace(len(Z_prev))
        if self.dropout and rng is not None:
            keep = rng.random(Z_prev.shape, dtype=self.dtype) >= self.dropout
            self._mask = keep * self.dtype.type(1.0 / (1.0 - self.dropout))
            Z_prev = Z_prev * self._mask
        else:
            self._mask = None
        self._Z_prev = Z_prev
        WT = self._WT
        if self.weight_noise and rng is not None:
            # hardware-aware training: the forward (and backward) pass sees noisy synapses,
            # σ = weight_noise · max|W|, as an analog array would; the update goes to W
            sigma = self.weight_noise * float(np.abs(WT).max())
            WT = WT + rng.normal(0.0, sigma, WT.shape).astype(self.dtype)
        self._WT_used = WT
        U = np.matmul(Z_prev, WT, out=ws["U"])  # u = W·z_prev + b, for all rows at once
        U += self.b
        self._U = U
        self._Z = self.activation.forward(U, out=ws["Z"])  # z = f(u)
        return self._Z

    def backward(self, delta, need_input_grad=True, update=False):
        """Given δ = ∂E/∂u for this layer (already divided by the batch size), fill dW, db and
        return G = ∂E/∂z_prev = δ·W (or None for the first layer).

        ``update=True`` is plain gradient descent with η already in δ: the step
        w ← w − δ z_prev is then made here, inside the product (see ``_blas``), and dW is
        not kept. G is computed first, with the weights before the step.
        """
        # ∂E/∂b_j = δ_j summed over the batch, as 1ᵀ·δ: BLAS beats an axis-0 reduction
        np.matmul(self._ones(len(delta)), delta, out=self.db)
        G = None
        if need_input_grad:
            G = self._workspace(len(delta))["G"]
            np.matmul(delta, self._WT_used.T, out=G)  # ∂E/∂z_i = Σ_k δ_k w_ki
            if self._mask is not None:
                G *= self._mask
        if update:  # w_ji ← w_ji − δ_j z_i, b_j ← b_j − δ_j (summed over the batch)
            _blas.add_product(self._Z_prev.T, delta, self._WT, -1.0, work=self._dWT)
            self.b -= self.db
        elif len(delta) == 1:  # one sample: an outer product, far faster than a K = 1 GEMM
            np.multiply(self._Z_prev.T, delta, out=self._dWT)  # ∂E/∂w_ji = δ_j z_i
        else:
            np.matmul(self._Z_prev.T, delta, out=self._dWT)  # ∂E/∂w_ji = δ_j z_i (as dWᵀ)
        return G

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
