"""The network: layers in order, inference, and backpropagation by the delta rule.

Backpropagation for a batch of N samples (rows), written out as the textbook derives it::

    forward     z⁰ = x;   uˡ = Wˡ zˡ⁻¹ + bˡ;   zˡ = f(uˡ)
    output      δᴸ_k = ∂E/∂u_k = (z_k − d_k) f'(u_k)       (squared error)
    hidden      δˡ_j = (Σ_k δˡ⁺¹_k wˡ⁺¹_kj) f'(uˡ_j)
    gradient    ∂E/∂wˡ_ji = δˡ_j zˡ⁻¹_i,   ∂E/∂bˡ_j = δˡ_j     (mean over the batch)
    update      w ← w − η ∂E/∂w

No automatic differentiation is involved: the deltas are the engine. Each product — W·z,
δ·W and the update — is made by the network's *substrate* (``synapsenet.substrate``: the
digital computer, or a simulated analog chip), so these loops are written once for all.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from . import _engine
from ._parallel import map_batches
from .errors import ConfigError, DataError, ShapeError
from .layers import Dense, _check_dtype
from .losses import Loss, get_loss
from .substrate import Digital, Substrate


class Workspace:
    """The per-step values of a training pass over a batch of up to ``n`` rows, per layer:
    ``U`` (u), ``Z`` (z = f(u)), ``D`` (δ), ``G`` (δ·W for the layer below), the layer's
    input ``Z_prev`` and its dropout ``mask``. Owned by the loop that trains, allocated
    once, passed explicitly; the layers keep only their parameters."""

    def __init__(self, layers, n: int):
        self.n = n
        self.U = [np.empty((n, l.n_out), l.dtype) for l in layers]
        self.Z = [np.empty((n, l.n_out), l.dtype) for l in layers]
        self.D = [np.empty((n, l.n_out), l.dtype) for l in layers]
        self.G = [np.empty((n, l.n_in), l.dtype) for l in layers]
        self.Z_prev: list = [None] * len(layers)
        self.mask: list = [None] * len(layers)

    def rows(self, m: int) -> "Workspace":
        """The same buffers seen for a batch of m ≤ n rows (views, no allocation)."""
        if m == self.n:
            return self
        view = Workspace.__new__(Workspace)
        view.n = m
        for name in ("U", "Z", "D", "G"):
            setattr(view, name, [a[:m] for a in getattr(self, name)])
        view.Z_prev, view.mask = self.Z_prev, self.mask
        return view


class Network:
    """A feed-forward network of :class:`~synapsenet.layers.Dense` layers.

    >>> net = Network.from_sizes([2, 2, 1], hidden="sigmoid", output="sigmoid", seed=0)
    >>> net
    Network(2 → 2 → 1: Dense(2→2, sigmoid), Dense(2→1, sigmoid); 9 parameters)
    >>> net.predict([[0.0, 1.0]]).shape
    (1, 1)
    """

    def __init__(self, layers: Sequence[Dense], *, seed=0, substrate: Substrate | None = None):
        layers = list(layers)
        if not layers:
            raise ConfigError("a Network needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise ConfigError(f"layer {i + 1} is {type(layer).__name__}, expected Dense")
        for i, (a, b) in enumerate(zip(layers, layers[1:]), start=1):
            if a.n_out != b.n_in:
                raise ShapeError(f"layer {i} ({a!r}) has {a.n_out} outputs but layer {i + 1} "
                                 f"({b!r}) expects {b.n_in} inputs")
            if a.dtype != b.dtype:
                raise ConfigError(f"layers {i} and {i + 1} have different dtypes "
                                  f"({a.dtype} and {b.dtype})")
        self.layers = layers
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.stop_training = False
        self.history = None
        self.train_config: dict = {}
        self._inference = threading.local()  # per-thread inference buffers, kept
        self._ws: Workspace | None = None  # the training workspace of gradient() and friends
        self.substrate = Digital() if substrate is None else substrate
        if not isinstance(self.substrate, Substrate):
            raise ConfigError(f"substrate must be a synapsenet.substrate.Substrate, got "
                              f"{type(substrate).__name__}")
        self.substrate.place(self)

    def __getstate__(self):  # buffers are not part of a network: a copy makes its own
        state = dict(self.__dict__)
        state.pop("_inference", None)
        state["_ws"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._inference = threading.local()

    def on(self, substrate: Substrate) -> "Network":
        """This network's layers on another substrate: a new Network sharing the layers
        (the same synapses; an analog chip programs its devices from them now). Training
        the result trains on that substrate; ``Digital()`` brings a network back."""
        net = Network(self.layers, seed=self.seed, substrate=substrate)
        net.rng = self.rng
        net.train_config = dict(self.train_config)
        net.history = self.history
        if hasattr(self, "optimizer"):
            net.optimizer = self.optimizer
        return net

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_sizes(cls, sizes: Sequence[int], *, hidden="sigmoid", output="sigmoid",
                   activations=None, init=None, dropout=0.0, seed=0, dtype="float32"):
        """Build a network from layer sizes, e.g. ``[784, 300, 10]``.

        ``hidden`` and ``output`` name the activations; ``activations`` may instead give one
        per layer. ``dropout`` applies to the inputs of every hidden and output layer except
        the first (the raw input).
        """
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ConfigError(f"sizes needs at least an input and an output size, got {sizes}")
        n_layers = len(sizes) - 1
        if activations is None:
            activations = [hidden] * (n_layers - 1) + [output]
        elif len(activations) != n_layers:
            raise ConfigError(f"{n_layers} layers need {n_layers} activations, "
                              f"got {len(activations)}")
        rng = np.random.default_rng(seed)
        layers = [Dense(n_in, n_out, act, init=init, seed=rng, dtype=dtype,
                        dropout=dropout if i > 0 else 0.0)
                  for i, (n_in, n_out, act) in enumerate(zip(sizes, sizes[1:], activations))]
        return cls(layers, seed=seed)

    # -- properties ----------------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0].dtype

    @property
    def output_activation(self):
        return self.layers[-1].activation

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    @property
    def macs_per_sample(self) -> int:
        """Multiply-accumulate operations of one inference: Σ n_in · n_out."""
        return sum(layer.n_in * layer.n_out for layer in self.layers)

    @property
    def n_classes(self) -> int:
        return 2 if self.n_outputs == 1 else self.n_outputs

    def parameters(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self) -> list[np.ndarray]:
        return [g for layer in self.layers for g in layer.gradients()]

    def get_weights(self) -> list[np.ndarray]:
        return [p.copy(order="K") for p in self.parameters()]

    def set_weights(self, weights) -> None:
        params = self.parameters()
        if len(weights) != len(params):
            raise ShapeError(f"expected {len(params)} arrays, got {len(weights)}")
        for i, (p, w) in enumerate(zip(params, weights)):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ShapeError(f"parameter {i}: expected shape {p.shape}, got {w.shape}")
            p[...] = w

    def astype(self, dtype) -> "Network":
        """A copy of this network with parameters in another dtype."""
        dtype = _check_dtype(dtype)
        layers = [Dense(l.n_in, l.n_out, l.activation, init=l.init, dropout=l.dropout,
                        dtype=dtype, W=l.W.astype(dtype), b=l.b.astype(dtype))
                  for l in self.layers]
        net = Network(layers, seed=self.seed)
        net.train_config = dict(self.train_config)
        return net

    def config(self) -> dict:
        return {"layers": [layer.config() for layer in self.layers], "dtype": str(self.dtype),
                "seed": self.seed if isinstance(self.seed, (int, type(None))) else None}

    def __repr__(self):
        arrows = " → ".join(str(s) for s in self.sizes)
        inner = ", ".join(repr(layer) for layer in self.layers)
        on = "" if type(self.substrate) is Digital and self.substrate.weight_bound is None \
            else f" on {self.substrate!r}"
        return f"Network({arrows}: {inner}; {self.n_params} parameters{on})"

    # -- inference -----------------------------------------------------------------------
    def predict(self, X, threads=None, batch_size=None) -> np.ndarray:
        """Inference: the output z of the last layer for each row of X, shape (N, n_outputs).

        A single sample given as a 1-D array returns a 1-D array. The substrate makes each
        product; rows run in chunks (``batch_size`` rows; None: the substrate's choice), side
        by side on up to ``threads`` threads (None: as many as BLAS may use, one per core at
        most), each with its own product and element-wise work (see
        ``synapsenet._parallel``). The outputs do not depend on the number of threads, up to
        the rounding of BLAS's order of summation; a noisy substrate draws each chunk's noise
        from a generator seeded by the chunk's first row.
        """
        X, single = self._check_X(X, allow_1d=True, finite=False)
        out = self._outputs(X, threads, batch_size)[0]
        return out[0] if single else out

    def _outputs(self, X, threads=None, batch_size=None, keep_u=False):
        """(Z, U) of the last layer for checked rows X; U only with ``keep_u``."""
        out = np.empty((len(X), self.n_outputs), self.dtype)
        u_out = np.empty_like(out) if keep_u else None
        sub = self.substrate
        rows, n = sub.inference_plan(self, len(X), threads)
        if batch_size is not None:
            rows = max(1, int(batch_size))
        fused = None if keep_u else sub.fused_inference(self)
        noise = sub.noise(len(X))
        last = len(self.layers) - 1

        def run(s):
            Z = X[s:s + rows]
            if fused is not None:  # the same layers, bias and f fused, compiled
                if not fused(Z, out[s:s + rows]):
                    self._raise_if_not_finite(X)  # else an overflow, not a bad input
                return
            rng = None if noise is None else noise(s)
            for k, layer in enumerate(self.layers):
                with np.errstate(invalid="ignore", over="ignore"):  # checked just below
                    U = sub.forward(k, layer, Z, self._buffer(k, len(Z)), rng)  # u = W z + b
                    # a NaN or ±inf input makes its row of u non-finite (inf·w, or inf·0 =
                    # NaN), so checking u — smaller than x, and in cache — checks x
                    finite = k > 0 or np.isfinite(U.sum())
                if not finite:
                    self._raise_if_not_finite(X)
                if keep_u and k == last:
                    u_out[s:s + rows] = U
                Z = layer.activation.forward(U, out=U)  # z = f(u)
            out[s:s + rows] = Z

        map_batches(run, range(0, len(X), rows), n)
        return out, u_out

    def _buffer(self, k, n):
        """This thread's inference buffer for layer k, n rows (valid until its next use):
        kept, since fresh arrays per chunk cost page faults."""
        bufs = getattr(self._inference, "bufs", None)
        if bufs is None:
            bufs = self._inference.bufs = {}
        buf = bufs.get(k)
        if buf is None or len(buf) < n:
            buf = bufs[k] = np.empty((n, self.layers[k].n_out), self.dtype)
        return buf[:n]

    __call__ = predict

    def classify(self, X) -> np.ndarray:
        """Predicted class index per row: argmax of the outputs, or a threshold at the middle
        of the output activation's range for a single output."""
        return self.outputs_to_classes(self.predict(X))

    def outputs_to_classes(self, Z) -> np.ndarray:
        Z = np.asarray(Z)
        if Z.ndim == 1:
            Z = Z[None, :]
        if Z.shape[1] == 1:
            act = self.output_activation
            return (Z[:, 0] >= (act.low + act.high) / 2).astype(np.int64)
        return Z.argmax(axis=1)

    def evaluate(self, X, y, loss=None) -> dict:
        """Loss (mean over samples) and, for class labels, accuracy on (X, y), computed from
        this network's outputs on its substrate. ``loss``: None means the loss the network
        was trained with (``train_config["loss"]``), else squared error."""
        loss = get_loss(loss if loss is not None else
                        self.train_config.get("loss", "squared_error"))
        X, _ = self._check_X(X)
        D, labels = self.targets(y, len(X))
        Z = self._outputs(X)[0]
        E = loss.quick_value(Z, D)
        if E is None:  # the exact log needs u of the output layer: the pass again, keeping it
            Z, U = self._outputs(X, keep_u=True)
            E = loss.value(Z, D, U)
        result = {"loss": E, "n": int(len(X))}
        if labels is not None:
            result["accuracy"] = float(np.mean(self.outputs_to_classes(Z) == labels))
        return result

    def _output_u(self, X):
        """u of the output layer for the rows of X."""
        return self._outputs(self._check_X(X)[0], keep_u=True)[1]

    # -- data checks ---------------------------------------------------------------------
    @staticmethod
    def _raise_if_not_finite(X):
        if not np.isfinite(X).all():
            bad = np.argwhere(~np.isfinite(X))[0]
            raise DataError(f"X contains NaN or infinity (first at row {bad[0]}, "
                            f"column {bad[1]})")

    def _check_X(self, X, allow_1d=False, finite=True):
        try:
            X = np.asarray(X)
        except Exception as e:  # ragged lists and the like
            raise DataError(f"X could not be read as an array: {e}") from None
        single = False
        if X.ndim == 1 and allow_1d:
            X, single = X[None, :], True
        if X.ndim != 2:
            raise ShapeError(f"X must be 2-D (samples × features), got shape {X.shape}")
        if X.shape[0] == 0:
            raise DataError("X is empty: it has no samples")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise DataError(f"X must hold real numbers, got dtype {X.dtype}")
        first = self.layers[0]
        if X.shape[1] != first.n_in:
            raise ShapeError(f"X has {X.shape[1]} features per sample but layer 1 "
                             f"({first!r}) expects {first.n_in}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        # a quick scan (no boolean copy of X); only if it fails is X searched element-wise
        if finite and not _engine.maybe_finite(X):
            self._raise_if_not_finite(X)
        return X, single

    def targets(self, y, n: int):
        """Turn y into a target matrix d (N × n_outputs) and, for class labels, the labels.

        ``y`` may be integer class labels (1-D; one-hot encoded with the output activation's
        low/high values, e.g. 0/1 for sigmoid, −1/1 for tanh) or a target matrix.
        """
        try:
            y = np.asarray(y)
        except Exception as e:
            raise DataError(f"y could not be read as an array: {e}") from None
        if len(y) != n:
            raise ShapeError(f"X has {n} samples but y has {len(y)}")
        if y.dtype.kind in "OUSV":
            raise DataError(f"labels must be integers 0…{self.n_classes - 1}, got values of "
                            f"type {y.dtype} (encode them first, e.g. with "
                            "sklearn.preprocessing.LabelEncoder)")
        if y.dtype.kind not in "biuf":
            raise DataError(f"y must be numeric, got dtype {y.dtype}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            bad = np.argwhere(~np.isfinite(y))[0]
            raise DataError(f"y contains NaN or infinity (first at index {tuple(bad)})")
        act = self.output_activation
        k = self.n_classes
        integral = y.dtype.kind in "biu" or bool(np.all(y == np.round(y)))
        in_range = integral and y.size > 0 and y.min() >= 0 and y.max() < k
        # 1-D integers are class labels; so are integral floats, unless a single output
        # is given values outside {0, 1} (then they are regression targets)
        if y.ndim == 1 and (y.dtype.kind in "biu" or in_range or (integral and k > 2)):
            labels = y.astype(np.int64)
            if labels.min() < 0 or labels.max() >= k:
                bad = int(np.flatnonzero((labels < 0) | (labels >= k))[0])
                raise DataError(f"label {labels[bad]} at index {bad} is out of range: this "
                                f"network has {self.n_outputs} output(s), so labels must be "
                                f"0…{k - 1}")
            D = np.full((n, self.n_outputs), act.low, self.dtype)
            if self.n_outputs == 1:
                D[labels == 1, 0] = act.high
            else:
                D[np.arange(n), labels] = act.high
            return D, labels
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != self.n_outputs:
            raise ShapeError(f"targets y have shape {y.shape} but the network has "
                             f"{self.n_outputs} outputs; give class labels (1-D integers) or "
                             f"a target matrix of shape ({n}, {self.n_outputs})")
        return np.ascontiguousarray(y, dtype=self.dtype), None

    # -- learning ------------------------------------------------------------------------
    def workspace(self, n: int) -> Workspace:
        """A training workspace for batches of up to n rows."""
        return Workspace(self.layers, n)

    def train_step(self, X, D, loss: Loss, rng=None, weights=None, scale=1.0, update=False,
                   ws: Workspace | None = None) -> tuple[float, np.ndarray]:
        """One forward and backward pass over a batch, every product made by the substrate:
        fills every layer's dW, db with the *mean* gradient over the batch (weighted by
        ``weights`` when given), times ``scale``, and returns (loss, outputs).

        ``update=True`` also makes the plain gradient-descent step w ← w − scale·∂E/∂w, layer
        by layer inside backpropagation (``scale`` is then η), instead of filling dW; a
        non-finite loss returns before any weight is touched. ``ws``: the caller's
        workspace (else one kept by the network).
        """
        if ws is None:
            if self._ws is None or self._ws.n < len(X):
                self._ws = self.workspace(len(X))
            ws = self._ws
        ws = ws.rows(len(X))
        sub = self.substrate
        Z = X
        for k, layer in enumerate(self.layers):
            if layer.dropout and rng is not None:  # inverted dropout of this layer's inputs
                keep = rng.random(Z.shape, dtype=layer.dtype) >= layer.dropout
                ws.mask[k] = keep * layer.dtype.type(1.0 / (1.0 - layer.dropout))
                Z = Z * ws.mask[k]
            else:
                ws.mask[k] = None
            ws.Z_prev[k] = Z
            U = sub.forward(k, layer, Z, ws.U[k], rng, train=True)  # u = W z_prev + b
            Z = layer.activation.forward(U, out=ws.Z[k])  # z = f(u)
        last = len(self.layers) - 1
        E = loss.value(Z, D, ws.U[last], weights)  # E = (1/N) Σ_n E_n
        if update and not math.isfinite(E):
            return E, Z
        delta = loss.output_delta(Z, D, ws.U[last], self.layers[last].activation,
                                  out=ws.D[last])  # δ_out
        if weights is None:
            delta *= scale / len(X)  # mean over the batch: every later gradient is a mean too
        else:
            total = weights.sum()  # weighted mean; a batch of zero weights changes nothing
            w = weights * (scale / total) if total > 0 else 0 * weights
            delta *= w[:, None].astype(delta.dtype)
        with sub.updates():  # (a chip makes its layers' pulse updates together)
            for k in range(last, -1, -1):
                layer = self.layers[k]
                G = None
                if k > 0:  # ∂E/∂z_prev = δ·W, with the weights before this layer's step
                    G = sub.backward(k, layer, delta, ws.G[k])
                    if ws.mask[k] is not None:
                        G *= ws.mask[k]
                sub.update(k, layer, ws.Z_prev[k], delta, update)  # ∂E/∂w_ji = δ_j z_i
                if k > 0:
                    below = self.layers[k - 1]
                    # hidden δ_j = (Σ_k δ_k w_kj) f'(u_j)
                    delta = below.activation.backward(G, ws.U[k - 1], ws.Z[k - 1],
                                                      out=ws.D[k - 1])
        return E, Z

    def gradient(self, X, y, loss="squared_error") -> list[np.ndarray]:
        """Mean gradients ∂E/∂W, ∂E/∂b of every layer on (X, y), as copies (no dropout)."""
        loss = get_loss(loss)
        loss.check_output(self.output_activation)
        X, _ = self._check_X(X)
        D, _ = self.targets(y, len(X))
        self.train_step(X, D, loss)
        return [g.copy() for g in self.gradients()]

    def fit(self, X, y, options=None, **keywords):
        """Train by gradient descent on this network's substrate; see
        :func:`synapsenet.training.fit` for the options."""
        from .training import fit

        return fit(self, X, y, options, **keywords)
