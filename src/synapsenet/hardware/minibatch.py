"""The chip's compiled mini-batch engine: ``Analog.trainer`` for the stochastic pulse scheme.

A mini-batch step on the chip is, layer by layer, a compiled read per layer and direction and
one compiled pulse update for all layers, with some forty NumPy operations and calls around
them (the batch's gather, the activations, δ, the bias steps, the bindings): at batch 64 on
MNIST, a third of the step. ``_accel/chipsteps.c`` makes whole steps, several a call, from the
very kernels those steps call (``sn_chip_read``, ``sn_pulse_updates``) with the arguments the
layer-by-layer steps bind (``CrossbarArray.read_plan``, ``read_plan_t``; ``DeviceSynapses``'
pulse job), on the chip's own arrays. It draws the noise words and the pulse seeds from the
generators the layer-by-layer steps draw them from, in their order (the forward reads' from
the fit's generator, the backward reads' and the seeds from the chip's, through the bit
generators' own ``next_raw``), and makes the activations and the output layer's δ with
NumPy's operations (its ``tanh`` and ``exp`` loops, called from C, and for a softmax's row
sums the BLAS call its ``matmul`` makes). So the engine and its twin, the layer-by-layer steps
(an unsupported configuration runs them), make the same steps bit for bit: the same devices,
weights and biases (``tests/test_minibatch.py``). A softmax under squared error (its
Jacobian) takes ``sn_output_layer``'s arithmetic, a rounding from NumPy's; the loss reported
is computed in double, to a rounding of the twin's.

It covers (see :func:`unsupported`): the stochastic scheme with plain SGD, the backward read
through the chip, any mapping and device law the compiled pulse update takes, per-layer
rates, fixed or digital biases, every read one compiled call (per-vector input scaling,
amplitude codes or no DAC, any ADC and noise), hidden layers of identity, ReLU, sigmoid or
tanh, unmetered. Counters, pulses, refreshes and the devices' write-back are as the
layer-by-layer steps leave them. One difference: the engine places the devices when the fit
starts, the layer-by-layer steps at its first step, so a first epoch that diverges keeps
them as placed (the weights they hold) where those steps go back to the unplaced chip.
"""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _blas, _engine, _parallel
from . import kernels
from .engine import OneStep

_P, _I64, _F, _I = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int


class _BatchLayer(ctypes.Structure):
    """``sn_batch_layer`` of _accel/sn.h."""

    _fields_ = [("n_in", _I64), ("n_out", _I64), ("act", _I), ("b", _P), ("db", _P),
                ("bias_digital", _I), ("has_rate", _I), ("rate", _F),
                ("fwd", kernels._ChipRead), ("bwd", kernels._ChipRead),
                ("fwd_blocks", _I64), ("bwd_blocks", _I64), ("fwd_noisy", _I),
                ("bwd_noisy", _I), ("WnT", _P), ("w_scale", _P), ("g_t", _F), ("Wt", _P),
                ("Zt", _P), ("G", _P), ("pulse", kernels._PulseArgs), ("U", _P), ("Dk", _P),
                ("Dr", _P), ("tanh_loop", _P), ("tanh_data", _P), ("numpy_out", _I),
                ("exp_loop", _P), ("exp_data", _P), ("gemv", _P), ("dot", _P), ("ones", _P),
                ("sums", _P)]


def _declare(lib):
    if getattr(lib, "_batch_declared", False):
        return
    lib.sn_batch_steps.argtypes = [_P, _I, _I, _P, _I64, _P, _I64, _P, _P, _P, _P, _P, _I64,
                                   _P, _P, _P, _P, _P, _P, _P, _P, _I, _P]
    lib.sn_batch_steps.restype = _I64
    lib._batch_declared = True


def unsupported(chip, network, loss, optimizer, batch) -> str | None:
    """None if the compiled mini-batch engine covers training ``network`` on ``chip`` this
    way, else why not (the configuration alone: the reads and the devices are checked once
    placed, by :func:`make`)."""
    from ..optimizers import SGD

    why = _engine._network_unsupported(network)
    if why is not None:
        return why
    if any(layer.dropout for layer in network.layers):
        return "dropout runs on the NumPy engine"
    if loss.name not in _engine._LOSSES:
        return f"loss {loss.name!r}"
    if type(optimizer) is not SGD or not optimizer.folds_learning_rate:
        return "on the chip the update is the devices' pulses: plain SGD only"
    lc = chip.config.learning
    if lc.algorithm != "sgd":
        return f"learning.algorithm = {lc.algorithm!r} (the compiled engine: plain SGD)"
    if lc.scheme != "stochastic" or lc.backward != "chip":
        return "the mini-batch engine: the stochastic scheme, the backward read on the chip"
    if chip.meter or any(s is not None and s.meter for s in chip.synapses):
        return "a metered chip (its reads' energy terms are the NumPy lines')"
    if lc.layer_rates and len(lc.layer_rates) != len(network.layers):
        return "learning.layer_rates does not give one factor per layer"
    if _numpys("tanh") is None and any(layer.activation.name in ("sigmoid", "tanh")
                                    for layer in network.layers[:-1]):
        return "NumPy's float32 tanh loop was not found"
    return None


def make(chip, network, loss, optimizer, batch):
    """``(engine, None)`` for a fit of ``network`` on ``chip`` at batches of up to ``batch``
    rows, or ``(None, why not)``."""
    why = unsupported(chip, network, loss, optimizer, batch)
    if why is not None:
        return None, why
    # the devices, as the first step places them; put back unplaced if the engine declines,
    # so that the layer-by-layer steps start from the chip as it was
    unplaced = any(s is None for s in chip.synapses)
    kept = (chip.snapshot(), network.get_weights()) if unplaced else None
    for k, layer in enumerate(network.layers):
        if chip.synapses[k] is None:
            chip._learn(k, layer)
    engine = BatchEngine(chip, network, loss, optimizer, max(1, int(batch)))
    why = engine.why_not
    if why is None:
        return engine, None
    if kept is not None:
        chip.restore_snapshot(kept[0])
        network.set_weights(kept[1])
    return None, why


_FOUND = {}


def _numpys(name):
    """NumPy's own float32 ``tanh`` or ``exp`` loop (``kernels.ufunc_loop``: (loop, data)), or
    its BLAS's ``row_sums`` (``_blas.numpy_row_sums``); None where not found so (found
    once)."""
    if name not in _FOUND:
        try:
            _FOUND[name] = _blas.numpy_row_sums() if name == "row_sums" else \
                kernels.ufunc_loop(getattr(np, name), "f")
        except (ValueError, OSError):  # pragma: no cover - another NumPy's layout
            _FOUND[name] = None
    return _FOUND[name]


class BatchEngine(OneStep):
    """The compiled mini-batch training of one chip for one ``fit`` (the interface of
    ``_engine.TrainingEngine``: ``bind``, ``steps``, ``step``, ``count``, ``release``).
    ``why_not``: None, or why the reads or the devices are not the compiled kernels'."""

    def __init__(self, chip, network, loss, optimizer, batch):
        lib = _engine._LIB
        _declare(lib)
        self.chip, self.layers, self.opt, self.loss = chip, network.layers, optimizer, loss
        self.batch, self.threads = batch, _parallel.threads_here()
        self.settings = _engine._SETTINGS.copy()
        self._data = self._rng = None
        self._pending = [dict() for _ in self.layers]  # counts since the last count()
        self.why_not = self._plan()

    # -- the layers bound -----------------------------------------------------------------
    def _plan(self) -> str | None:
        """Every layer's structs and buffers (None), or why the engine cannot make them."""
        chip, B = self.chip, self.batch
        L = len(self.layers)
        self._structs = (_BatchLayer * L)()
        self._keep, self._jobs, self._bound = [], [], []
        first = self.layers[0]
        self.Xb = np.empty((B, first.n_in), np.float32)
        tanh = _numpys("tanh")
        fw, cw = 0, L  # a step's noise words at the largest batch (and a seed a layer)
        for k, layer in enumerate(self.layers):
            c, array, syn = self._structs[k], chip.arrays[k], chip.synapses[k]
            c.n_in, c.n_out = layer.n_in, layer.n_out
            c.act = (_engine._HIDDEN if k < L - 1 else _engine._OUTPUT)[layer.activation.name]
            for a in (layer.b, layer.db):
                assert a.dtype == np.float32 and a.flags.c_contiguous
            c.b, c.db = kernels._data(layer.b), kernels._data(layer.db)
            c.bias_digital = int(syn.cfg.bias == "digital")
            rates = syn.cfg.layer_rates
            c.has_rate, c.rate = int(bool(rates)), float(np.float32(rates[k])) if rates else 1.0
            U, Dk = (np.empty((B, layer.n_out), np.float32) for _ in range(2))
            Dr = np.empty_like(Dk) if rates else None
            Zin = self.Xb if k == 0 else self._keep[-1]["U"]
            keep = {"U": U, "Dk": Dk, "Dr": Dr, "ws": {"s": np.empty(B, np.float32)}}
            self._keep.append(keep)
            c.U, c.Dk = kernels._data(U), kernels._data(Dk)
            c.Dr = None if Dr is None else kernels._data(Dr)
            if tanh is not None:
                c.tanh_loop, c.tanh_data = tanh
            # the forward read as matvec makes it (the bias added after, by the steps)
            made = array.read_plan(Zin, U, keep["ws"])
            if made is None:
                return f"layer {k}'s forward read is not one compiled call"
            c.fwd, words, keep["fwd"] = made
            fw += words
            noisy = array._read_setting()[3]  # (either way: the same noise, the same σ's)
            c.fwd_blocks, c.fwd_noisy = array.n_row_blocks, int(noisy)
            if noisy and layer.n_out % 2:  # (a batch's noise in pairs of normals)
                return "a noisy read of an odd number of outputs"
            if k > 0:  # the backward read, as matvec_t makes it
                Zt = np.empty((B, layer.n_out), np.float32)
                G = np.empty((B, layer.n_in), np.float32)
                Wt = np.empty((layer.n_out, layer.n_in), np.float32)
                keep["ws_t"] = {"s": np.empty(B, np.float32)}
                made = array.read_plan_t(Zt, G, keep["ws_t"], Wt)
                if made is None:
                    return f"layer {k}'s backward read is not one compiled call"
                (c.bwd, words, keep["bwd"]), w_scale, c.g_t = made
                cw += words
                c.bwd_blocks, c.bwd_noisy = array.n_col_blocks, int(noisy)
                if noisy and layer.n_in % 2:
                    return "a noisy backward read of an odd number of inputs"
                keep.update(Zt=Zt, G=G, Wt=Wt, w_scale=w_scale)
                c.Zt, c.G, c.Wt = kernels._data(Zt), kernels._data(G), kernels._data(Wt)
                c.w_scale = kernels._data(w_scale)
            c.WnT = kernels._data(array.Wn_T)
            # the pulse update as Analog.update makes it, its seed set at each step
            mirror = chip._mirror(k, layer)
            job = None if mirror is None else \
                syn.update_later(Zin, Dk if Dr is None else Dr, None, mirror, seed=0)
            if job is None:
                return f"layer {k}'s devices are not the compiled pulse update's"
            if job.tally is not None:
                return "a metered chip (its reads' energy terms are the NumPy lines')"
            c.pulse = job.args
            self._jobs.append(job)
            keep["mirror"] = mirror
            if k == L - 1:
                c.numpy_out = self._numpy_output(c, keep, layer)
            # what the structs point into: if the chip replaces one, bind again
            self._bound.append(self._arrays_of(k))
        self._words_buf = tuple(np.empty(max(w, 1), np.uint64) for w in (fw, cw))
        return None

    def _numpy_output(self, c, keep, layer) -> bool:
        """The output layer's z, loss and δ made with NumPy's operations (the same bits as
        the twin's), where NumPy's loops are found: all but a softmax under squared error
        (its Jacobian: sn_output_layer's)."""
        softmax = layer.activation.name == "softmax"
        if softmax and (self.loss.name != "cross_entropy" or not _numpys("exp") or
                        not _numpys("row_sums")):
            return False
        if layer.activation.name in ("sigmoid", "tanh") and _numpys("tanh") is None:
            return False
        if softmax:
            keep["ones"] = np.ones(layer.n_out, np.float32)
            keep["sums"] = np.empty(self.batch, np.float32)
            c.exp_loop, c.exp_data = _numpys("exp")
            c.gemv, c.dot = _numpys("row_sums")
            c.ones, c.sums = kernels._data(keep["ones"]), kernels._data(keep["sums"])
        return True

    def _still_bound(self) -> bool:
        return all(now is was for k, bound in enumerate(self._bound)
                   for now, was in zip(self._arrays_of(k), bound))

    def _arrays_of(self, k):
        """What layer k's structs point into that the chip or its kernel may replace: the
        crossbar's copies, the layer's parameters, the devices, the kernel's trains and
        mirror."""
        array, layer, syn = self.chip.arrays[k], self.layers[k], self.chip.synapses[k]
        kernel = syn.kernel() if syn is not None else None
        return (array.Wn_T, None if array._scaled is None else array._scaled[1], layer.WT,
                layer.b, layer.db, None if syn is None else syn.states[0], kernel,
                None if kernel is None else kernel._trains,
                None if kernel is None else kernel._mirrored[1])

    # -- the interface of the fit loop --------------------------------------------------------
    def bind(self, X, D, labels, rng=None):
        """The training data of this fit (read in place) and its generator ``rng``, which
        draws the forward reads' noise as in the layer-by-layer steps (None: the chip's)."""
        assert X.dtype == D.dtype == np.float32 and X.flags.c_contiguous and D.flags.c_contiguous
        if labels is not None:
            labels = np.ascontiguousarray(labels, np.int64)
        self._data = (X, D, labels)
        self._rng = self.chip.rng if rng is None else rng
        # a NaN or infinite input anywhere: the first step reports it before any pulse
        self._bad_data = not _engine.maybe_finite(X)

    def begin_epoch(self):
        """(Nothing: the steps draw their noise as they go.)"""

    def steps(self, order, slices, lr: float):
        """Consecutive steps ``slices`` (of ``order`` or of the rows) in one call: (E and
        correct per step, steps made, the status of the one after them)."""
        n = len(slices)
        E, correct = np.zeros(n), np.zeros(n, np.int64)
        if self._bad_data:
            return np.full(n, np.nan), correct, 0, 3
        if not self._still_bound():  # (the chip put back, or its arrays made anew)
            why = self._plan()
            if why is not None:
                raise RuntimeError(f"the chip changed under its compiled training: {why}")
        X, D, labels = self._data
        if order is not None:
            order = np.ascontiguousarray(order, np.int64)
        sizes = np.array([sl.stop - sl.start for sl in slices], np.int64)
        assert sizes.max(initial=0) <= self.batch
        off = np.array([sl.start for sl in slices], np.int64)
        # η folded into δ_out and the batch mean, as train_step(update=True) folds them
        scale = np.array([np.float32(lr / m) for m in sizes.tolist()], np.float32)
        status, data = ctypes.c_int(1), kernels._data
        fit, own = self._rng.bit_generator, self.chip.rng.bit_generator
        with fit.lock, own.lock:  # (the steps draw their words from both, as random_raw)
            made = _engine._LIB.sn_batch_steps(
                ctypes.addressof(self._structs), len(self.layers),
                _engine._LOSSES[self.loss.name], data(X), X.shape[1], data(D), D.shape[1],
                None if labels is None else data(labels),
                None if order is None else data(order), data(off), data(sizes), data(scale), n,
                fit.ctypes.bit_generator, own.ctypes.bit_generator,
                *(data(w) for w in self._words_buf), data(self.Xb), data(E), data(correct),
                ctypes.byref(status), self.threads, ctypes.byref(self.settings))
        if made < 0:  # pragma: no cover - checked when bound
            raise (MemoryError if made == -2 else RuntimeError)(
                f"sn_batch_steps failed ({made})")
        # the step after them: status 5, made (its δ not finite); 2, its forward reads made
        self._took(sizes[:made + (status.value == 5)],
                   int(sizes[made]) if status.value == 2 else 0)
        self.opt.t += made  # as the layer-by-layer loop counts its steps
        return E, correct, made, status.value

    def _took(self, sizes, read=0):
        """What steps of ``sizes`` rows did, into the synapses and the counts for
        :meth:`count` (and the forward reads of a step of ``read`` rows that went no
        further); the copies the steps do not write marked to be brought in step."""
        rows = int(sizes.sum())
        chip = self.chip
        for k, (layer, job) in enumerate(zip(self.layers, self._jobs)):
            syn, array = chip.synapses[k], chip.arrays[k]
            before = syn.pulses
            job.paths = 0
            syn.took(job)
            job.kernel._counts[:] = 0
            n = self._pending[k]
            blocks = array.n_row_blocks
            fw = rows + read
            add = {"vectors": fw, "macs": fw * layer.n_in * layer.n_out,
                   "array_reads": fw * blocks, "dac_conversions": fw * layer.n_in,
                   "adc_conversions": fw * layer.n_out * blocks,
                   "input_energy_units": 0.0, "input_drive": 0.0, "input_drive_units": 0.0,
                   "write_pulses": syn.pulses - before,
                   "update_macs": rows * layer.n_in * layer.n_out}
            if k > 0:
                cols = array.n_col_blocks
                add["array_reads"] += rows * cols
                add["dac_conversions"] += rows * layer.n_out
                add["adc_conversions"] += rows * layer.n_in * cols
            for name, v in add.items():
                n[name] = n.get(name, 0) + v
            chip._stale.add(k)  # the steps wrote the layer's and the crossbar's copies
        chip._engine_wrote()

    def count(self, counters, samples: int) -> None:
        """What the chip did since the last count into its counters (``samples``: the
        loop's count, the engine knows its own)."""
        for k, n in enumerate(self._pending):
            if n:
                counters.add(k, **n)
            n.clear()

    def release(self):
        """Done with this fit."""
        self._data = self._rng = None

    close = release

