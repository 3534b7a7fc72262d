"""The digital computer as a substrate: exact floating-point products (NumPy/BLAS).

:class:`Digital` is the reference every other substrate is measured against; its optional
compiled kernels (``synapsenet._engine``: a fused inference and a whole training step on
every core) compute the same equations and are tested against these NumPy lines.
:class:`NoisyDigital` is hardware-aware training: the forward and backward passes of a
training step see noisy synapses, as an analog array would, while the update goes to the
exact weights.
"""

from __future__ import annotations

import numpy as np

from .. import _blas, _engine
from .._parallel import default_threads
from ..errors import ConfigError
from .base import Substrate, check_weight_bound

# inference runs in chunks of rows: memory stays bounded (a layer's buffer ≤ 8 MiB of float32)
# while each matrix product stays large enough for BLAS's best speed
_CHUNK_ELEMENTS = 1 << 21
_PARALLEL_ROWS = 4096  # below this many rows inference runs on one thread (BLAS's own threads)
_TASK_ROWS = 2048  # rows per task when inference runs on several threads


class Digital(Substrate):
    """Exact floating point. ``weight_bound``: keep every weight and bias in
    [−w, w] after each update (the textbook's bounded synapses: 1.0); None: unbounded."""

    name = "digital"

    def __init__(self, weight_bound=None):
        super().__init__()
        self.weight_bound = check_weight_bound(weight_bound)
        self._ones_cache: dict = {}

    def forward(self, k, layer, Z, out, rng=None, train=False):
        np.matmul(Z, layer.WT, out=out)  # u = W·z_prev ...
        out += layer.b  # ... + b
        self.counters.add(k, vectors=len(Z), macs=len(Z) * layer.n_in * layer.n_out)
        return out

    def backward(self, k, layer, delta, out):
        np.matmul(delta, layer.W, out=out)  # ∂E/∂z_i = Σ_j δ_j w_ji
        self.counters.add(k, backward_macs=len(delta) * layer.n_in * layer.n_out)
        return out

    def update(self, k, layer, Z_prev, delta, step):
        # ∂E/∂b_j = δ_j summed over the batch, as 1ᵀ·δ: BLAS beats an axis-0 reduction
        np.matmul(self._ones(len(delta), delta.dtype), delta, out=layer.db)
        dWT = layer.dW.T  # ∂E/∂W stored as the weights are, transposed
        if step:  # w_ji ← w_ji − δ_j z_i, b_j ← b_j − δ_j, the step inside the product
            _blas.add_product(Z_prev.T, delta, layer.WT, -1.0, work=dWT)
            layer.b -= layer.db
        elif len(delta) == 1:  # one sample: an outer product, far faster than a K = 1 GEMM
            np.multiply(Z_prev.T, delta, out=dWT)  # ∂E/∂w_ji = δ_j z_i
        else:
            np.matmul(Z_prev.T, delta, out=dWT)  # ∂E/∂w_ji = Σ_batch δ_j z_i
        self.counters.add(k, update_macs=len(delta) * layer.n_in * layer.n_out)

    def constrain(self, layer):
        if self.weight_bound is not None:
            for p in (layer.W, layer.b):
                np.clip(p, -self.weight_bound, self.weight_bound, out=p)

    def _ones(self, n, dtype):
        ones = self._ones_cache.get((n, dtype))
        if ones is None:
            if len(self._ones_cache) > 8:
                self._ones_cache.clear()
            ones = self._ones_cache[(n, dtype)] = np.ones(n, dtype)
        return ones

    # -- speed ------------------------------------------------------------------------------
    def fused_inference(self, network):
        if not _engine.Forward.supports(network):
            return None
        compiled = _engine.Forward(network)
        layers, counters = network.layers, self.counters

        def infer(X, out):
            ok = compiled(X, out)
            for k, layer in enumerate(layers):
                counters.add(k, vectors=len(X), macs=len(X) * layer.n_in * layer.n_out)
            return ok

        return infer

    def trainer(self, network, loss, optimizer, batch, inputs=None):
        why = _engine.unsupported(network, loss, optimizer, batch=batch)
        if why is not None:
            return None, why
        threads = _engine.threads_for(network, batch, inputs, optimizer)
        engine = _engine.TrainingEngine.acquire(network, loss, optimizer, batch, threads)
        engine.weight_bound = self.weight_bound
        return engine, None

    def inference_plan(self, network, n_rows, threads):
        n = default_threads() if threads is None else max(1, int(threads))
        if n_rows < _PARALLEL_ROWS:
            n = 1
        rows = min(8192, max(256, _CHUNK_ELEMENTS // max(l.n_out for l in network.layers)))
        if n > 1:  # equal chunks, the same number for every thread, each near _TASK_ROWS
            tasks = n * max(1, round(n_rows / (n * _TASK_ROWS)))
            rows = -(-n_rows // tasks)
        return rows, n

    def describe(self):
        return {"name": self.name, "weight_bound": self.weight_bound}


class NoisyDigital(Digital):
    """Hardware-aware training: in every training step the forward and backward passes use
    ``W + N(0, σ²)``, σ = ``weight_noise · max|W|`` of the layer, a fresh draw per step; the
    update goes to the exact ``W``. Inference is exact, so a
    network trained so is then deployed on the chip whose noise it learnt to tolerate."""

    name = "noisy"

    def __init__(self, weight_noise=0.05, weight_bound=None):
        super().__init__(weight_bound)
        try:
            weight_noise = float(weight_noise)
        except (TypeError, ValueError):
            raise ConfigError(f"weight_noise must be a number, got {weight_noise!r}") from None
        if not 0 <= weight_noise < 10:
            raise ConfigError(f"weight_noise must be in [0, 10), got {weight_noise!r}")
        self.weight_noise = weight_noise
        self._used: dict[int, np.ndarray] = {}  # the noisy Wᵀ of this step, per layer

    def forward(self, k, layer, Z, out, rng=None, train=False):
        if not train or not self.weight_noise or rng is None:
            self._used.pop(k, None)
            return super().forward(k, layer, Z, out)
        WT = layer.WT
        sigma = self.weight_noise * float(np.abs(WT).max())
        WT = WT + rng.normal(0.0, sigma, WT.shape).astype(WT.dtype)
        self._used[k] = WT
        np.matmul(Z, WT, out=out)  # u = (W + noise)·z_prev ...
        out += layer.b  # ... + b
        self.counters.add(k, vectors=len(Z), macs=len(Z) * layer.n_in * layer.n_out)
        return out

    def backward(self, k, layer, delta, out):
        WT = self._used.get(k)
        if WT is None:
            return super().backward(k, layer, delta, out)
        np.matmul(delta, WT.T, out=out)  # δ·W with the synapses this step's forward saw
        self.counters.add(k, backward_macs=len(delta) * layer.n_in * layer.n_out)
        return out

    def trainer(self, network, loss, optimizer, batch, inputs=None):
        return None, "weight noise runs on the NumPy engine"

    def describe(self):
        return {"name": self.name, "weight_noise": self.weight_noise,
                "weight_bound": self.weight_bound}
