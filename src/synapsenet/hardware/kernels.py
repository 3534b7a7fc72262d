"""The chip's compiled kernels, bound for the simulator: the DAC stage (:func:`dac`), the
stochastic pulse update of a layer (``_accel/pulses.c``; :class:`PulseKernel`), the Gaussian
noise (``_accel/noise.c``; :func:`normal`) and the read of a layer in one call
(``_accel/chipread.c``; :func:`chip_read`).
The library, its settings and the digital engine are ``synapsenet._engine``'s; the NumPy twins
of these kernels are the simulator's own lines (``learning.py``, ``noise.py``,
``crossbar.py``). This module only binds arrays."""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _engine
from .._engine import _F, _I64, _LIB, _P, ISAS, numpy_forced


# -- the chip's input stage (_accel/loops.h: dac) ---------------------------------------------

def dac(Z: np.ndarray, q: int, X: np.ndarray, s: np.ndarray) -> bool:
    """The chip's input stage, compiled (see ``sn_dac``): s = max |z| per row (1 for zeros),
    X = round(Z · q / s). False, with nothing done, where it does not apply (the library not
    built, or not float32 rows)."""
    if _LIB is None or not (Z.dtype == X.dtype == s.dtype == np.float32 and
                            Z.strides[1] == X.strides[1] == 4 and s.flags.c_contiguous):
        return False
    _LIB.sn_dac(_data(Z), Z.strides[0] // 4, Z.shape[0], Z.shape[1], float(q), _data(X),
                X.strides[0] // 4, _data(s), ctypes.byref(_engine._SETTINGS))
    return True


# -- the chip's stochastic pulse update (_accel/pulses.c) --------------------------------------
# One layer's whole batch of stochastic trains in one call (hardware/learning.py decides what
# it is handed and keeps the NumPy twin). This block only binds arrays.

class _Param(ctypes.Structure):
    _fields_ = [("v", _P), ("step", _I64)]


class _PulseDevices(ctypes.Structure):
    _fields_ = [("n_out", _I64), ("n_in", _I64), ("w", _P), ("lo", _Param), ("hi", _Param),
                ("a", _Param * 2), ("b", _Param * 2), ("sigma", _Param * 2),
                ("table_g", _P), ("table_c", _P), ("table_mid", _I64),
                ("curved", ctypes.c_int), ("continuous", ctypes.c_int)]


class _PulseMirror(ctypes.Structure):
    _fields_ = [("W", _P), ("W2", _P), ("WnT", _P), ("scaled", _P), ("w2_row", _I64),
                ("w2_col", _I64), ("gamma", _F), ("w_ref", _F), ("inv_wmax", _F), ("g", _F)]


class _PulseMeter(ctypes.Structure):
    _fields_ = [("n_in", _I64), ("batches", _I64), ("batch_rows", _I64), ("lo", _F),
                ("inv_span", _F), ("pulses", _I64 * 2), ("state", ctypes.c_double * 2),
                ("steps", _I64 * 2), ("rows_written", _I64)]


class _PulsePair(ctypes.Structure):
    _fields_ = [("minus", ctypes.POINTER(_PulseDevices)), ("limit", _F), ("step", _F),
                ("w_min", _F), ("gamma", _F), ("refreshes", _I64)]


class _PulseArgs(ctypes.Structure):  # sn_pulse_args
    _fields_ = [("dev", _P), ("mir", _P), ("Z", _P), ("ldz", _I64), ("D", _P), ("ldd", _I64),
                ("B", _I64), ("BL", ctypes.c_int), ("adaptive", ctypes.c_int),
                ("C", ctypes.c_double), ("seed", ctypes.c_uint64), ("XM", _P), ("DM", _P),
                ("given", ctypes.c_int), ("counts", _P), ("meter", _P), ("pair", _P),
                ("work", _P), ("trains", _P)]


PULSE_JOBS = 16  # PULSE_JOBS in _accel/sn.h: the most jobs a call of run_jobs takes

if _LIB is not None:
    _LIB.sn_pulse_updates.argtypes = [_P, ctypes.c_int, ctypes.c_int, _P]
    _LIB.sn_pulse_updates.restype = _I64
    _LIB.sn_pulse_work_size.argtypes = [_I64, _I64]
    _LIB.sn_pulse_work_size.restype = _I64
    _LIB.sn_pulse_trains_size.argtypes = [_I64, _I64, _I64]
    _LIB.sn_pulse_trains_size.restype = _I64


def pulses_unsupported() -> str | None:
    """Why the compiled pulse update cannot run here (None: it can)."""
    if _LIB is None:
        return "the compiled library is not built"
    if numpy_forced():
        return "SYNAPSENET_ENGINE=numpy"
    return None


def _view_key(a):
    """What tells one array (or view: the layer's W, a fresh view of its Wᵀ at each access)
    from another cheaply: the array owning the memory, the shape and the strides."""
    if a is None:
        return None
    return id(a) if a.base is None else id(a.base), a.shape, a.strides


def _data(a: np.ndarray) -> int:
    """The address of an array's first element (without building its ctypes view)."""
    return a.__array_interface__["data"][0]


def _f32(x) -> np.ndarray:
    """A parameter as the kernel reads it: float32, C order, flat."""
    return np.ascontiguousarray(np.asarray(x, np.float32).reshape(-1))


def _pulse_devices(states, lo, hi, a, b, sigma, table=None, curved=False, continuous=False):
    """``sn_devices`` for a device array (see :class:`PulseKernel`), and the arrays it points
    into (to keep)."""
    n_out, n_in = states.shape
    assert states.dtype == np.float32 and states.flags.c_contiguous
    size = n_out * n_in
    keep = [states]
    # the per-device parameters side by side, one row a device (a train reads them from one
    # cache line); shared ones as one value
    values = {"lo": lo, "hi": hi, "a0": a[0], "a1": a[1], "b0": b[0], "b1": b[1],
              "s0": sigma[0], "s1": sigma[1]}
    values = {k: _f32(v) for k, v in values.items() if v is not None}
    assert all(len(v) in (1, size) for v in values.values())
    own = [k for k, v in values.items() if len(v) > 1]
    rows = np.empty((size, max(len(own), 1)), np.float32)
    for c, k in enumerate(own):
        rows[:, c] = values[k]
    keep += [rows, *values.values()]

    def param(k):
        if k not in values:
            return _Param(None, 0)
        if k in own:
            return _Param(_data(rows) + 4 * own.index(k), rows.shape[1])
        return _Param(_data(values[k]), 0)

    d = _PulseDevices(n_out, n_in, _data(states), param("lo"), param("hi"))
    for k in range(2):
        d.a[k], d.b[k], d.sigma[k] = param(f"a{k}"), param(f"b{k}"), param(f"s{k}")
    if table is not None:
        g, c, mid = table
        g, c = _f32(g), _f32(c)
        keep += [g, c]
        d.table_g, d.table_c, d.table_mid = _data(g), _data(c), int(mid)
    d.curved, d.continuous = int(bool(curved)), int(bool(continuous))
    return d, keep


class PulseKernel:
    """A device array bound for ``sn_pulse_updates``: ``states`` (float32, n_out × n_in, C
    order, updated in place) and the law's parameters, each per device or one value: the
    bounds ``lo``, ``hi``; per direction (up, down) the coefficients ``a``, ``b`` of
    ``dw = a + b w`` and the train noise ``sigma`` (None: noiseless); ``table`` (g, c, mid):
    a train of k pulses is ``w g[mid ± k] + c[mid ± k]`` (None: the closed form); ``curved``:
    some b ≠ 0; ``continuous``: a device hit counts one pulse. ``pair``: the pair mapping,
    these devices holding w⁺ — (the keyword arguments above for the devices of w⁻, the state
    past which a pair is refreshed, the nominal step up, the law's w_min, γ)."""

    def __init__(self, states, lo, hi, a, b, sigma, table=None, curved=False,
                 continuous=False, pair=None):
        n_out, n_in = states.shape
        assert n_out * n_in < 2 ** 31  # (32-bit device indices: kernel_unsupported says so)
        d, keep = _pulse_devices(states, lo, hi, a, b, sigma, table, curved, continuous)
        self._pair = None
        if pair is not None:
            minus, limit, step, w_min, gamma = pair
            m, more = _pulse_devices(**minus)
            assert m.n_out == n_out and m.n_in == n_in
            keep += more + [m]
            self._pair = _PulsePair(ctypes.pointer(m), limit, step, w_min, gamma, 0)
        self._devices, self._keep, self.shape = d, keep, (n_out, n_in)
        self.states = states
        self._work = np.zeros(_LIB.sn_pulse_work_size(n_out, n_in), np.uint8)
        self._counts = np.zeros(3, np.int64)
        self._batch, self._trains = 0, None
        # what every call passes, made once (a batch-1 update is mostly its call)
        self._work_at, self._counts_at = _data(self._work), _data(self._counts)
        self._mirrored = (None,)  # the last mirror: its key, struct and arrays

    def _mirror(self, mirror):
        """The mirror's struct (made again only when its arrays or values change; the
        arrays are kept referenced while it is, so that their addresses stay theirs)."""
        key = None if mirror is None else tuple(map(_view_key, mirror[:4])) + \
            tuple(float(c) for c in mirror[4:])
        if key == self._mirrored[0] and key is not None:
            return self._mirrored[1]
        n_out, n_in = self.shape
        m = _PulseMirror()
        if mirror is not None:
            arrays, consts = mirror[:4], mirror[4:]
            for name, a in zip(("W", "W2", "WnT", "scaled"), arrays):
                if a is not None:
                    assert a.dtype == np.float32 and a.size == n_out * n_in
                    assert name == "W2" and a.shape == self.shape or a.flags.c_contiguous
                    setattr(m, name, _data(a))
            if arrays[1] is not None:  # W2 (n_out × n_in) with its own strides
                m.w2_row, m.w2_col = (st // 4 for st in arrays[1].strides)
            m.gamma, m.w_ref, m.inv_wmax, m.g = (float(c) for c in consts)
        self._mirrored = (key, m, mirror)
        return m

    def __call__(self, Z, D, pulse_length: int, C: float, seed: int, mirror=None, masks=None,
                 given=False, meter=None, adaptive=False, threads=1):
        """Apply the B samples' trains (Z: B × n_in, D: B × n_out, float32 C order) in
        order, with the settings in force (:func:`using`). ``mirror``: (W, W2, WnT, scaled, γ,
        w_ref, 1/weight_max, g), arrays or None (W2 of any strides, the others C order),
        written after each train. ``masks``: (XM, DM) uint64 arrays (B × n_in, B × n_out)
        of slots, read when ``given`` (the generator then draws only the noise) or filled
        with the slots drawn. ``meter``: (law's w_min, w_max, outputs a write batch) to
        tally the pulses' cost, which then comes as a fifth value, a dict (``pulses_up``,
        ``pulses_down``, ``pulse_state_up``, ``pulse_state_down``, ``write_steps_up``,
        ``write_steps_down``, ``rows_written``, ``refreshes``; with the pair mapping
        ``refreshes`` comes so unmetered too). ``adaptive``: each sample's train as long
        as its largest update needs, up to ``pulse_length`` (``learning.adapt_pulse_length``).
        ``threads``: how many may share the call (the same devices on any number). Returns
        (pulses, capped, devices hit, path bits)."""
        job = self.job(Z, D, pulse_length, C, seed, mirror, masks, given, meter, adaptive)
        run_jobs([job], threads)
        return job.result()

    def job(self, Z, D, pulse_length: int, C: float, seed: int, mirror=None, masks=None,
            given=False, meter=None, adaptive=False) -> "PulseJob":
        """The update :meth:`__call__` makes, made ready and not yet run: run it (with other
        layers') by :func:`run_jobs`, then read ``job.result()``. The kernel's buffers are
        the job's until then: one job of a kernel at a time."""
        n_out, n_in = self.shape
        Z = np.ascontiguousarray(Z, np.float32)
        D = np.ascontiguousarray(D, np.float32)
        assert Z.shape == (len(D), n_in) and D.shape == (len(Z), n_out), (Z.shape, D.shape)
        mirrored = self._mirror(mirror)
        XM = DM = None
        if masks is not None:
            XM, DM = masks
            assert XM.dtype == DM.dtype == np.uint64 and XM.shape == (len(Z), n_in) and \
                DM.shape == (len(Z), n_out) and XM.flags.c_contiguous and DM.flags.c_contiguous
        self._counts[:] = 0
        if self._trains is None or len(Z) > self._batch:  # the trains' buffer, for batches
            self._batch = max(1, len(Z))                    # of up to len(Z) samples
            self._trains = np.empty(_LIB.sn_pulse_trains_size(n_out, n_in, self._batch),
                                    np.uint8)
        tally = None
        if meter is not None:
            lo, hi, rows = meter
            tally = _PulseMeter(n_in, -(-n_out // rows), rows, lo, np.float32(1.0 / (hi - lo)))
        addr = ctypes.addressof
        args = _PulseArgs(
            addr(self._devices), addr(mirrored), _data(Z), n_in, _data(D), n_out,
            len(Z), int(pulse_length), int(bool(adaptive)), float(C),
            int(seed) & ((1 << 64) - 1), None if XM is None else _data(XM),
            None if DM is None else _data(DM), int(bool(given)), self._counts_at,
            None if tally is None else addr(tally),
            None if self._pair is None else addr(self._pair), self._work_at,
            _data(self._trains))
        return PulseJob(self, args, tally, (Z, D, XM, DM))

    def _result(self, tally, paths):
        counts = self._counts
        out = int(counts[0]), int(counts[1]), int(counts[2]), int(paths)
        refreshes = 0
        if self._pair is not None:
            refreshes, self._pair.refreshes = self._pair.refreshes, 0
        if tally is None:
            return out if self._pair is None else out + ({"refreshes": refreshes},)
        t = tally
        return out + ({"pulses_up": t.pulses[0], "pulses_down": t.pulses[1],
                       "pulse_state_up": t.state[0], "pulse_state_down": t.state[1],
                       "write_steps_up": t.steps[0], "write_steps_down": t.steps[1],
                       "rows_written": t.rows_written, "refreshes": refreshes},)


class PulseJob:
    """One layer's update made ready (:meth:`PulseKernel.job`): its arguments, and the arrays
    they point into kept alive until it has run."""

    def __init__(self, kernel, args, tally, keep):
        self.kernel, self.args, self.tally, self._keep = kernel, args, tally, keep
        self.paths = None

    def result(self):
        """(pulses, capped, devices hit, path bits[, tally]) as :meth:`PulseKernel.__call__`
        returns them."""
        assert self.paths is not None, "the job has not run"
        return self.kernel._result(self.tally, self.paths)


def run_jobs(jobs, threads: int = 1) -> None:
    """Run the layers' updates ``jobs`` (each a kernel of its own) in one call: their trains,
    then their devices, share up to ``threads`` threads (``sn_pulse_updates``)."""
    jobs = list(jobs)
    assert len({id(j.kernel) for j in jobs}) == len(jobs) <= PULSE_JOBS
    array = (_PulseArgs * len(jobs))(*(j.args for j in jobs))
    paths = _LIB.sn_pulse_updates(array, len(jobs), max(1, int(threads)),
                                  ctypes.byref(_engine._SETTINGS))
    if paths < 0:
        raise ValueError(f"sn_pulse_updates failed ({paths}): pulse_length must be in 1…64 "
                         "and a write batch one of at most 16")
    for j in jobs:
        j.paths = paths


# -- NumPy's own loops, for the compiled steps (_accel/chipsteps.c) ---------------------------

class _UFunc(ctypes.Structure):
    """The head of NumPy's PyUFuncObject (numpy/ufuncobject.h, public C API)."""

    _fields_ = [("ob_refcnt", ctypes.c_ssize_t), ("ob_type", _P), ("nin", ctypes.c_int),
                ("nout", ctypes.c_int), ("nargs", ctypes.c_int), ("identity", ctypes.c_int),
                ("functions", ctypes.POINTER(_P)), ("data", ctypes.POINTER(_P)),
                ("ntypes", ctypes.c_int), ("reserved1", ctypes.c_int),
                ("name", ctypes.c_char_p), ("types", ctypes.POINTER(ctypes.c_char))]


def ufunc_loop(ufunc, char: str):
    """(the inner loop of a one-input ufunc for dtype ``char`` → ``char``, its data), as
    NumPy's ufunc object holds them, checked against the ufunc itself on a probe of values;
    ValueError if not found so."""
    head = _UFunc.from_address(id(ufunc))
    code = np.dtype(char).num  # (the type numbers, as NumPy lists a loop's types)
    if head.nin != 1 or head.nout != 1 or head.name != ufunc.__name__.encode():
        raise ValueError(f"{ufunc.__name__}: not the ufunc layout this binding reads")
    for i in range(head.ntypes):
        if head.types[2 * i] == head.types[2 * i + 1] == bytes([code]):
            fn, data = head.functions[i], head.data[i]
            break
    else:
        raise ValueError(f"{ufunc.__name__}: no {char}->{char} loop")
    loop = ctypes.CFUNCTYPE(None, ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_ssize_t),
                            ctypes.POINTER(ctypes.c_ssize_t), _P)(fn)
    probe = np.linspace(-20, 20, 4099, dtype=char)
    got = np.empty_like(probe)
    size = probe.itemsize
    loop((_P * 2)(_data(probe), _data(got)), (ctypes.c_ssize_t * 1)(probe.size),
         (ctypes.c_ssize_t * 2)(size, size), data)
    if not np.array_equal(got, ufunc(probe)):
        raise ValueError(f"{ufunc.__name__}: its {char} loop does not give its values")
    return fn, data


# -- the chip's Gaussian noise (_accel/noise.c) ------------------------------------------------
# hardware/noise.py's Box–Muller transform in one pass; that module keeps the NumPy twin.
_NOISE = _LIB is not None and hasattr(_LIB, "sn_normal_from_words")  # (an older build: no)
if _NOISE:
    _LIB.sn_normal_from_words.argtypes = [_P, _P, _I64, _P, _I64, _P]
    _LIB.sn_normal_from_words.restype = ctypes.c_int


def normal_unsupported() -> str | None:
    """Why the compiled noise cannot run here (None: it can)."""
    if not _NOISE:
        return "the compiled library is not built" if _LIB is None else \
            "the compiled library predates the noise kernel (rebuild it)"
    if numpy_forced():
        return "SYNAPSENET_ENGINE=numpy"
    return None


def _normal_sigma(out: np.ndarray, sigma):
    """(sigma as the kernel reads it, rows), or None where the kernel does not take them."""
    if normal_unsupported() is not None or out.dtype != np.float32 or out.ndim == 0 or \
            not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
        return None
    if sigma is None:
        return None, 1
    sigma = np.ascontiguousarray(sigma, np.float32).reshape(-1)
    if sigma.size not in (1, len(out)):
        return None  # NumPy's broadcasting says what is wrong
    return sigma, sigma.size


def normal_from_words(words: np.ndarray, out: np.ndarray, sigma=None) -> str | None:
    """N(0, σ²) draws into ``out`` (float32, C order) by ``hardware.noise``'s transform of
    ``words``, the 2⌈n/2⌉ uint32 words of ``random_raw(⌈n/2⌉)``; ``sigma`` one standard
    deviation per row of ``out`` (or one for all; None: 1). Returns the instruction set of the
    copy that ran, or None, with nothing done, where the kernel does not take these arrays
    (see also :func:`normal_unsupported`)."""
    taken = _normal_sigma(out, sigma)
    if taken is None or words.dtype != np.uint32 or not words.flags.c_contiguous or \
            words.size != 2 * ((out.size + 1) // 2):
        return None
    return _normal(words, out, *taken)


def _normal(words, out, sigma, rows) -> str:
    isa = _LIB.sn_normal_from_words(_data(words), _data(out), out.size,
                                    None if sigma is None else _data(sigma), rows,
                                    ctypes.byref(_engine._SETTINGS))
    if isa < 0:
        raise ValueError(f"sn_normal_from_words: {rows} rows do not divide {out.size} values")
    return ISAS[isa]


def normal(bit_generator, out: np.ndarray, sigma=None) -> str | None:
    """:func:`normal_from_words` of ``bit_generator.random_raw(⌈n/2⌉)``, drawn only where
    the kernel runs (None: nothing drawn)."""
    taken = _normal_sigma(out, sigma)
    if taken is None:
        return None
    return _normal(bit_generator.random_raw((out.size + 1) // 2).view(np.uint32), out, *taken)


# -- the chip's analog read of a layer (_accel/chipread.c) -------------------------------------
# CrossbarArray.matvec's lines for per-vector input scaling in one call; those lines stay the
# twin it is tested against (``using(fused_read=0)`` runs them).
class _ChipRead(ctypes.Structure):
    _fields_ = [("M", _I64), ("K", _I64), ("N", _I64), ("Z", _P), ("ldz", _I64), ("q", _F),
                ("rows", _I64), ("W", _P), ("ldw", _I64), ("words", _P), ("var0", _F),
                ("var_per_x2", _F), ("saturates", ctypes.c_int), ("rounds", ctypes.c_int),
                ("bound", _F), ("scale", _P), ("bias", _P), ("out", _P), ("ybuf", _P),
                ("s", _P), ("threads", ctypes.c_int), ("gemm", _P)]


if _LIB is not None:
    _LIB.sn_chip_read.argtypes = [ctypes.POINTER(_ChipRead), _P]
    _LIB.sn_chip_read.restype = ctypes.c_int


def _rows_f32(a: np.ndarray) -> bool:
    return a.dtype == np.float32 and a.ndim == 2 and a.strides[1] == 4


def read_args(Z, q: int, rows: int, W, noisy: bool, var0: float, var_per_x2: float, bound,
              rounds: bool, scale, bias, out, ybuf, s, threads: int = 1):
    """The arguments of :func:`chip_read` as ``sn_chip_read`` takes them, its noise words not
    yet drawn: (the struct, the 64-bit words its noise takes, the arrays it points into), or
    None where the one-call read does not apply (see :func:`chip_read`)."""
    M, K = Z.shape
    N = W.shape[1]
    if _LIB is None or numpy_forced() or not _engine._SETTINGS.fused_read:
        return None
    # our product for the blocks, as the NumPy lines' product() takes it; else, for a noisy
    # read, BLAS's sgemm as their add_product() calls it (the same call: the same bits)
    own = N % 16 == 0 and _engine.own_product_for(N, min(rows, K))
    # (a block of one input: add_product calls sger, which rounds once, not sgemm)
    blas = not own and noisy and _engine.own_products() and _engine._GEMM is not None \
        and M * N % 2 == 0 and W.flags.c_contiguous and K % rows != 1
    if not (own or blas) or (noisy and not _NOISE) \
            or not all(map(_rows_f32, (Z, W, out))) or out.shape != (M, N) \
            or not out.flags.c_contiguous or W.shape[0] != K:
        return None
    blocks = -(-K // rows)
    if ybuf.dtype != np.float32 or not ybuf.flags.c_contiguous or ybuf.size < (blocks - 1) * M * N:
        return None
    if bias is not None and np.asarray(bias).dtype != np.float32:
        return None  # (NumPy adds another bias in its own precision)
    scale = np.ascontiguousarray(scale, np.float32).reshape(-1)
    if bias is not None:
        bias = np.ascontiguousarray(bias, np.float32).reshape(-1)
    if scale.size != N or (bias is not None and bias.size != N) or s.dtype != np.float32 or \
            s.size < M or not s.flags.c_contiguous:
        return None
    args = _ChipRead(M, K, N, _data(Z), Z.strides[0] // 4, float(q), rows, _data(W),
                     W.strides[0] // 4, None, var0, var_per_x2, bound is not None,
                     bool(rounds), 0.0 if bound is None else bound, _data(scale),
                     None if bias is None else _data(bias), _data(out), _data(ybuf), _data(s),
                     threads, None if own else _engine._GEMM)
    return args, blocks * (M * N // 2) if noisy else 0, (Z, W, scale, bias, out, ybuf, s)


def chip_read(Z, q: int, rows: int, W, bit_generator, var0: float, var_per_x2: float,
              bound, rounds: bool, scale, bias, out, ybuf, s, threads: int = 1) -> bool:
    """The chip's read of a layer with per-vector input scaling (see ``sn_chip_read``):
    ``out`` = ((Σ_blocks ADC(σ ξ + x_block · W_block)) · s) · scale + bias, x the codes of the
    DAC (``q``: codes ±q; 0: x = z / s), σ² = var0 + var_per_x2 Σ x² per row and block, ξ the
    normals of ``bit_generator``'s next words in :func:`normal`'s order, block after block
    (``bit_generator`` None: noiseless); ``bound``: the ADC's saturation (None: none);
    ``bias`` None: none added.
    ``ybuf``: (blocks − 1) × M × N float32 for the later blocks' sums; ``threads``: how many
    may share the call (the same bits on any number). False, with nothing
    drawn or written, where it does not apply (the library not built, SYNAPSENET_ENGINE=numpy,
    ``fused_read`` off, no AVX-512 product for these sizes and the read noiseless, a bias not
    float32, other layouts)."""
    made = read_args(Z, q, rows, W, bit_generator is not None, var0, var_per_x2, bound,
                     rounds, scale, bias, out, ybuf, s, threads)
    return made is not None and run_read(made, bit_generator)


def run_read(made, bit_generator) -> bool:
    """Run a read :func:`read_args` made, its noise from ``bit_generator``'s next words (None:
    noiseless). True."""
    args, n_words, keep = made
    if bit_generator is not None:
        words = bit_generator.random_raw(n_words).view(np.uint32)
        args.words = _data(words)
    code = _LIB.sn_chip_read(ctypes.byref(args), ctypes.byref(_engine._SETTINGS))
    if code:  # pragma: no cover - checked above; out of memory
        raise MemoryError(f"sn_chip_read: {code}")
    return True
