"""The chip's compiled training engine: ``Analog.trainer`` for in-situ learning at batch 1.

A batch-1 training step on the chip is some sixty small array operations in NumPy (the read
through each crossbar with its DAC and ADC, the activations, δ, the digital backward pass, the
pulse counts, the devices' trains, the write-back of the changed weights), each costing more
to call than to compute. The library's unit ``_accel/chip.c`` makes the whole step in C, with
the arithmetic of the NumPy twin (``CrossbarArray.matvec``, ``Analog.backward`` and
``update``, ``DeviceSynapses``, ``DeviceArray``'s closed-form trains), on the chip's own
arrays: the device states, the weights in network units and the crossbar's copy in ADC steps
(the layer's Wᵀ and the crossbar's normalised weights are brought in step after each call).
It draws its own normals (the cycle-to-cycle noise of the trains: a ziggurat on xoshiro256++,
the stochastic pulse update's generator, seeded by one draw of the chip's generator per epoch),
so a seed gives the same run, and the twin's in distribution, not draw for draw. A train, a
pair's refresh and the write-back are the pulse update's C (``_accel/devices.h``), on the
same structs, filled here by the same code (``DeviceSynapses._kernel_arrays``).

It covers what NeuroSim V3.0's protocol (``hardware.reproduce``) and aihwkit-style
ConstantStep training need (see :func:`unsupported`): the deterministic scheme on either
mapping (a device against a reference, or pairs with their refreshes), the backward pass
digital, fixed or digital biases, per-layer rates, fixed input scaling with a one-bit,
multi-bit or ideal DAC, any ADC and number of row blocks, no read or output noise, and device
laws with an affine closed form for a train (Ideal, ConstantStep, LinearStep and SoftBounds
without noise, NeuroSim's law), their parameters shared or per device, without write noise.
Everything else trains layer by layer (``SYNAPSENET_ENGINE=numpy`` forces that). What the
chip did goes into its counters as the layer-by-layer steps put it there, the metered tally
of the pulses included.
"""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _engine
from . import kernels

_P, _I64, _F, _I = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int

#: the counters the engine adds to, in the order of CH_* in _accel/sn.h
COUNTS = ("vectors", "macs", "array_reads", "dac_conversions", "adc_conversions",
          "input_energy_units", "input_drive", "input_drive_units", "backward_macs",
          "update_macs", "write_pulses", "pulses_up", "pulses_down", "pulse_state_up",
          "pulse_state_down", "write_steps_up", "write_steps_down", "rows_written", "refreshes")
#: those of them that are the synapses' metered tally (DeviceSynapses.tally)
TALLY = COUNTS[11:]
_FLOATS = {"input_energy_units", "input_drive", "input_drive_units", "pulse_state_up",
           "pulse_state_down"}
_DAC_NONE, _DAC_ONE_BIT, _DAC_LEVELS = 0, 1, 2


class _Layer(ctypes.Structure):
    """``sn_chip_layer`` of _accel/sn.h: its devices, pair and mirror are the pulse
    update's structs (``kernels.PulseKernel``), filled by the same code."""

    _fields_ = [("n_in", _I64), ("n_out", _I64), ("act", _I),
                ("b", _P), ("db", _P), ("rowsum", _P),
                ("dev", kernels._PulseDevices * 2), ("pair", kernels._PulsePair),
                ("mirror", kernels._PulseMirror), ("continuous", _I),
                ("s_up", _F), ("s_dn", _F), ("least", _F),
                ("has_rate", _I), ("rate", _F), ("bias_digital", _I),
                ("dac", _I), ("q", _F), ("dac_gain", _F), ("input_range", _F), ("unit", _F),
                ("saturates", _I), ("rounds", _I), ("bound", _F), ("out_scale", _F),
                ("rows", _I64),
                ("meter", _I), ("law_lo", _F), ("law_inv_span", _F), ("g_min", ctypes.c_double),
                ("g_span", ctypes.c_double)]


def _declare(lib):
    if getattr(lib, "_chip_declared", False):
        return
    lib.sn_chip_create.argtypes = [_I, _P, _I, _P, _P, _P]
    lib.sn_chip_create.restype = _P
    lib.sn_chip_bind.argtypes = [_P, _P, _I64, _P, _I64, _P, ctypes.c_uint64]
    lib.sn_chip_bind.restype = None
    lib.sn_chip_steps.argtypes = [_P, _P, _P, _P, _I64, _P, _P, ctypes.POINTER(_I)]
    lib.sn_chip_steps.restype = _I64
    lib.sn_chip_normals.argtypes = [_P, _P, _I64]
    lib.sn_chip_normals.restype = None
    lib.sn_chip_free.argtypes = [_P]
    lib.sn_chip_free.restype = None
    lib._chip_declared = True


def unsupported(chip, network, loss, optimizer, batch) -> str | None:
    """None if the compiled engine covers training ``network`` on ``chip`` this way, else why
    not (the configuration alone: the devices are checked once placed, by :func:`make`)."""
    from ..optimizers import SGD

    why = _engine._network_unsupported(network)
    if why is not None:
        return why
    if any(layer.dropout for layer in network.layers):
        return "dropout runs on the NumPy engine"
    if batch != 1:
        return "the chip's compiled engine makes batch-1 steps; mini-batches train layer by layer"
    if loss.name not in _engine._LOSSES:
        return f"loss {loss.name!r}"
    if type(optimizer) is not SGD or not optimizer.folds_learning_rate:
        return "on the chip the update is the devices' pulses: plain SGD only"
    lc, io, dev = chip.config.learning, chip.config.io, chip.config.device
    if lc.algorithm != "sgd":
        return f"learning.algorithm = {lc.algorithm!r} (the compiled engine: plain SGD)"
    for name, want in (("scheme", "deterministic"), ("backward", "digital")):
        if getattr(lc, name) != want:
            return f"learning.{name} = {getattr(lc, name)!r} (the compiled engine: {want!r})"
    if io.input_scaling != "fixed" or io.bit_serial:
        return "inputs other than fixed-range amplitude codes (input_scaling = 'fixed')"
    if dev.read_noise or io.out_noise:
        return "read or output noise"
    if lc.layer_rates and len(lc.layer_rates) != len(network.layers):
        return "learning.layer_rates does not give one factor per layer"
    return None


def _device_unsupported(syn) -> str | None:
    for devs, states in zip(syn.devices, syn.states):
        if devs.affine is None or not devs.closed_form:
            return f"device law {syn.law.kind!r} has no closed form for a train of pulses"
        if devs.offset is not None:
            return "devices with write noise"
        if devs.dtype != np.float32 or states.dtype != np.float32:
            return "float32 device states only"
    return None


def make(chip, network, loss, optimizer, batch):
    """``(engine, None)`` for a fit of ``network`` on ``chip``, or ``(None, why not)``."""
    why = unsupported(chip, network, loss, optimizer, batch)
    if why is not None:
        return None, why
    for k, layer in enumerate(network.layers):  # the devices, as the first step places them
        if chip.synapses[k] is None:
            chip._learn(k, layer)
    for syn in chip.synapses:
        why = _device_unsupported(syn)
        if why is not None:
            return None, why
    return ChipEngine(chip, network, loss, optimizer), None


class OneStep:
    """A chip engine's single step, as one call of its ``steps`` (both chip engines')."""

    def step(self, idx, start: int, m: int, lr: float):
        """One step (see ``_engine.TrainingEngine.step``): (E, correct, status)."""
        order = None if idx is None else np.ascontiguousarray(idx, np.int64)
        first = 0 if order is not None else start
        E, correct, made, status = self.steps(order, [slice(first, first + m)], lr)
        return float(E[0]), int(correct[0]), 1 if made else status


class ChipEngine(OneStep):
    """The compiled in-situ training of one chip for one ``fit`` (the interface of
    ``_engine.TrainingEngine``: ``bind``, ``steps``, ``step``, ``count``, ``release``)."""

    threads = 1

    def __init__(self, chip, network, loss, optimizer):
        lib = _engine._LIB
        _declare(lib)
        self.chip, self.layers, self.opt = chip, network.layers, optimizer
        L = len(self.layers)
        self.counts = np.zeros((L, len(COUNTS)), np.float64)
        self._keep = []
        self._structs = (_Layer * L)()
        for k, layer in enumerate(self.layers):
            self._fill(self._structs[k], k, layer)
        self.settings = _engine._SETTINGS.copy()
        self._handle = lib.sn_chip_create(L, ctypes.addressof(self._structs),
                                          _engine._LOSSES[loss.name], self.counts.ctypes.data,
                                          _engine._GEMM, ctypes.byref(self.settings))
        if not self._handle:
            raise MemoryError("the chip's compiled training engine could not allocate its "
                              "buffers")
        self._data = None

    def _fill(self, c, k, layer):
        chip = self.chip
        array, syn = chip.arrays[k], chip.synapses[k]
        cfg, io = chip.config, chip.config.io
        law, keep = syn.law, self._keep.append
        c.n_in, c.n_out = layer.n_in, layer.n_out
        c.act = (_engine._HIDDEN if k < len(self.layers) - 1 else _engine._OUTPUT)[
            layer.activation.name]
        W = chip._W32(k, layer)
        # the crossbar's copies as they are now: normalised, and in ADC steps
        q = 2 ** (io.dac_bits - 1) - 1 if io.dac_bits else 0
        unit = 1.0 / q if q else 1.0
        step = array.adc_range / (2 ** (io.adc_bits - 1) - 1) if io.adc_bits else 1.0
        array.load_weights(W, syn.cfg.weight_max)
        Wk = array._weights_in_steps(unit / step)
        WnT = array.Wn_T
        for a in (W, WnT, Wk, *syn.states, layer.b, layer.db):
            assert a.dtype == np.float32 and a.flags.c_contiguous
        keep((W, WnT, Wk, syn.states, layer))
        c.b, c.db = layer.b.ctypes.data, layer.db.ctypes.data
        c.meter = int(chip.meter)
        if chip.meter:  # Σ_j |Wn| per input row, kept in step by the engine's writes
            rowsum = np.abs(WnT).sum(axis=1, dtype=np.float64)
            keep(rowsum)
            c.rowsum = rowsum.ctypes.data
        else:
            c.rowsum = None
        # the devices as the pulse update takes them: bounds, coefficients per direction,
        # train noise, table (shared or per device), and a pair's refresh
        for j, (devices, states) in enumerate(zip(syn.devices, syn.states)):
            c.dev[j], arrays = kernels._pulse_devices(**syn._kernel_arrays(devices, states))
            keep(arrays)
        if syn.pair:  # (DeviceSynapses._pulse_at's limit and step)
            c.pair = kernels._PulsePair(ctypes.pointer(c.dev[1]), *syn.pair_constants(), 0)
        # the weights written where they are read: W, and the crossbar's copy in ADC steps
        c.mirror = kernels._PulseMirror(
            W.ctypes.data, None, None, Wk.ctypes.data, 0, 0, np.float32(syn.gamma),
            np.float32(syn.w_ref), np.float32(1.0 / syn.cfg.weight_max), np.float32(unit / step))
        c.continuous = int(syn.continuous)
        c.s_up, c.s_dn, c.least = (float(s) for s in syn._steps)
        rates = syn.cfg.layer_rates
        c.has_rate, c.rate = int(bool(rates)), float(np.float32(rates[k])) if rates else 1.0
        c.bias_digital = int(syn.cfg.bias == "digital")
        # the input stage (CrossbarArray._fixed_input_stage) and the ADC
        r = np.float32(io.input_range)
        c.dac = _DAC_LEVELS if q else _DAC_ONE_BIT if io.dac_bits == 1 else _DAC_NONE
        c.q, c.dac_gain, c.input_range, c.unit = float(q), np.float32(q) / r, r, unit
        c.saturates, c.rounds = int(array.adc_range is not None), int(bool(io.adc_bits))
        c.bound = np.float32(array.adc_range / step) if array.adc_range is not None else 0.0
        c.out_scale = np.float32(syn.cfg.weight_max * (1.0 * step))
        c.rows = cfg.tile.rows
        c.law_lo, c.law_inv_span = np.float32(law.w_min), np.float32(1.0 / (law.w_max - law.w_min))
        c.g_min, c.g_span = cfg.device.g_min, cfg.device.g_max - cfg.device.g_min

    # -- the interface of the fit loop --------------------------------------------------------
    def bind(self, X, D, labels, rng=None):
        """The training data of this fit (read in place); the noise is seeded at each epoch's
        start (:meth:`begin_epoch`) from the chip's generator, not from the fit's ``rng``."""
        assert X.dtype == D.dtype == np.float32 and X.flags.c_contiguous and D.flags.c_contiguous
        if labels is not None:
            labels = np.ascontiguousarray(labels, np.int64)
        self._data = (X, D, labels)
        # a NaN or infinite input anywhere: the first step reports it before any pulse, so
        # that the devices stay as they were (the layer-by-layer loop checks the data first)
        self._bad_data = not _engine.maybe_finite(X)
        self._bind(0)

    def begin_epoch(self):
        """The epoch's noise seeded afresh by one draw of the chip's generator, so that a run
        stopped after an epoch and resumed from the chip as that epoch left it (generator
        included) draws what the uninterrupted run draws."""
        self._bind(int(self.chip.rng.bit_generator.random_raw()))

    def _bind(self, seed: int):
        X, D, labels = self._data
        _engine._LIB.sn_chip_bind(self._handle, X.ctypes.data, X.shape[1], D.ctypes.data,
                                  D.shape[1], None if labels is None else labels.ctypes.data,
                                  seed)

    def steps(self, order, slices, lr: float):
        """Consecutive batch-1 steps ``slices`` (of ``order`` or of the rows) in one call:
        (E and correct per step, steps made, the status of the one after them)."""
        n = len(slices)
        if self._bad_data:
            return np.full(n, np.nan), np.zeros(n, np.int64), 0, 3
        off = np.array([sl.start for sl in slices], np.int64)
        assert all(sl.stop - sl.start == 1 for sl in slices)
        scale = np.full(n, lr, np.float32)  # η folded into δ_out, as train_step(update=True)
        E, correct, status = np.zeros(n), np.zeros(n, np.int64), ctypes.c_int()
        made = _engine._LIB.sn_chip_steps(self._handle, None if order is None else
                                          order.ctypes.data, off.ctypes.data, scale.ctypes.data,
                                          n, E.ctypes.data, correct.ctypes.data,
                                          ctypes.byref(status))
        self.opt.t += int(made)  # as the layer-by-layer loop counts its steps
        self._sync()
        return E, correct, made, status.value

    def count(self, counters, samples: int) -> None:
        """What the chip did since the last count into its counters, and the synapses' pulse
        counts and tally (``samples``: the loop's count, the engine knows its own)."""
        for k, syn in enumerate(self.chip.synapses):
            row = self.counts[k]
            done = {name: (float(v) if name in _FLOATS else int(round(v)))
                    for name, v in zip(COUNTS, row)}
            syn.pulses += done["write_pulses"]
            syn.refreshes += done["refreshes"]
            for name in TALLY:  # the pulses' tally when metered (the refreshes always)
                syn.tally[name] += done[name]
            # (the tally reaches the counters from the synapses, when they are read)
            counters.add(k, **{n: v for n, v in done.items() if n not in TALLY})
            row[:] = 0.0

    def _sync(self):
        """The copies the engine does not write synapse by synapse, from the weights it does:
        the layer's Wᵀ and the crossbar's normalised weights (as ``load_weights`` makes them);
        the crossbar's caches derived from them are dropped."""
        for k, layer in enumerate(self.layers):
            array, W = self.chip.arrays[k], self.chip._W[k]
            wmax = self.chip.synapses[k].cfg.weight_max
            np.multiply(W.T, np.float32(1.0 / wmax), out=array.Wn_T)
            np.clip(array.Wn_T, -1.0, 1.0, out=array.Wn_T)
            layer.W[...] = W
        self.chip._engine_wrote()

    def release(self):
        """Done with this fit: the library's buffers freed."""
        if getattr(self, "_handle", None):
            _engine._LIB.sn_chip_free(self._handle)
            self._handle = None
        self._data = None

    close = release

    def normals(self, n: int) -> np.ndarray:
        """For the tests: ``n`` standard normal draws of the engine's generator."""
        out = np.empty(n)
        _engine._LIB.sn_chip_normals(self._handle, out.ctypes.data, n)
        return out

    def __del__(self):
        self.release()
