"""The compiled kernels: the same maths as ``Network.train_step`` and ``Network.predict``.

The library ``_cengine`` (built at install from ``_accel/*.c`` when a C compiler is there;
``_accel/sn.h`` lists its units) runs a whole training step — gather of the batch, forward
pass, loss, output delta, backpropagation and the update (plain gradient descent, momentum,
Nesterov, L2 decay or Adam) — with each of T threads owning a fixed share of every hidden
layer's neurons, so that synaptic weights, optimiser state and activations stay in one core's
cache instead of crossing between cores at every product (see docs/performance.md).

Matrix products are the library's own AVX-512 kernel where it applies (:func:`own_products`)
and BLAS otherwise (float32, single-threaded per call; ``_blas`` says which BLAS); the
element-wise passes are compiled for AVX-512, AVX2 and any CPU and picked at run time. Which
compiled path runs where is decided by one :class:`Settings` (:func:`using` changes it;
``SYNAPSENET_KERNELS=avx2`` or ``=portable`` caps the instruction set at load). This module
hands the library arrays and those settings only, never a layer's or optimiser's insides.

The fit loop uses the engine when the configuration is one it covers (:func:`unsupported`
says why not otherwise) and runs the NumPy engine in every other case;
``SYNAPSENET_ENGINE=numpy`` turns it off. The same library also serves :class:`Forward`
(inference), :func:`product` (our matrix-product kernel, for the chip simulator's tiles) and
:func:`maybe_finite` (the NaN/∞ scan of input data); the chip's own kernels (its input stage,
pulse update, noise and read) are bound in ``hardware/kernels.py``."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import math
import os
import threading
import warnings

import numpy as np

from . import _blas
from .layers import aligned_zeros

_HIDDEN = {"identity": 0, "relu": 1, "sigmoid": 2, "tanh": 3}
_OUTPUT = {**_HIDDEN, "softmax": 4}
_LOSSES = {"squared_error": 0, "cross_entropy": 1, "binary_cross_entropy": 2}
_ABI = 16  # must equal SN_ABI in _accel/sn.h
#: the instruction sets the element-wise loops are compiled for (ISA_* in _accel/sn.h), in
#: order; our own product needs the last
ISAS = ("portable", "avx2", "avx512")
_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_F = ctypes.c_float


def _load(path=None):
    """The compiled library (built beside this module, or the file ``path``), or None."""
    if path is None:
        spec = importlib.util.find_spec("synapsenet._cengine")
        if spec is None or spec.origin is None or not spec.origin.endswith((".so", ".pyd")):
            return None
        path = spec.origin
    try:
        lib = ctypes.CDLL(str(path))
        lib.sn_abi.restype = ctypes.c_int
        if lib.sn_abi() != _ABI:  # pragma: no cover - built from other sources: rebuild
            return None
    except (OSError, AttributeError):  # pragma: no cover - a broken or stale build
        return None
    lib.sn_compiler.restype = ctypes.c_char_p
    lib.sn_create.argtypes = [ctypes.c_int, _P, _P, _P, _P, _P, _P, ctypes.c_int, ctypes.c_int,
                              _P, _P, _P, _P, ctypes.c_int, _I64, _P, _P]
    lib.sn_create.restype = _P
    lib.sn_bind.argtypes = [_P, _P, _I64, _P, _I64, _P, _F, _F, _F, ctypes.c_int, _F, _F, _P,
                            ctypes.c_int]
    lib.sn_bind.restype = None
    lib.sn_step.argtypes = [_P, _P, _I64, _I64, _F, _F, _F, ctypes.POINTER(ctypes.c_double),
                            ctypes.POINTER(_I64)]
    lib.sn_step.restype = ctypes.c_int
    lib.sn_steps.argtypes = [_P, _P, _P, _P, _P, _P, _P, _I64, _P, _P,
                             ctypes.POINTER(ctypes.c_int)]
    lib.sn_steps.restype = _I64
    lib.sn_forward.argtypes = [ctypes.c_int, _P, _P, _P, _P, _P, _P, _I64, _I64, _P, _P, _P,
                               _P, _P, ctypes.POINTER(ctypes.c_int)]
    lib.sn_forward.restype = ctypes.c_int
    lib.sn_cpu_isa.restype = ctypes.c_int
    lib.sn_loops_name.argtypes = [_P]
    lib.sn_loops_name.restype = ctypes.c_char_p
    lib.sn_matmul.argtypes = [_I64, _I64, _I64, _F, _P, _I64, _I64, _P, _I64, _F, _P, _I64, _P,
                              _P]
    lib.sn_matmul.restype = ctypes.c_int
    lib.sn_paths.argtypes = [_P]
    lib.sn_paths.restype = ctypes.c_int
    lib.sn_dac.argtypes = [_P, _I64, _I64, _I64, _F, _P, _I64, _P, _P]
    lib.sn_dac.restype = None
    lib.sn_all_finite.argtypes = [_P, _I64, _P]
    lib.sn_all_finite.restype = ctypes.c_int
    lib.sn_free.argtypes = [_P]
    lib.sn_free.restype = None
    lib.sn_gemm_from_fortran.argtypes = [_P]
    lib.sn_gemm_from_fortran.restype = _P
    lib.sn_own_product.argtypes = [_P, _I64, _I64]
    lib.sn_own_product.restype = ctypes.c_int
    return lib


def _engine_gemm(lib):
    """The address of the row-major sgemm the library's threads call (see _blas), or None."""
    found = _blas.engine_sgemm()
    if lib is None or found is None:
        return None
    kind, address = found
    return address if kind == "cblas" else lib.sn_gemm_from_fortran(address)


_LIB = _load()
_GEMM = _engine_gemm(_LIB)

#: whether the compiled engine was built and can call a BLAS
AVAILABLE = _LIB is not None and _GEMM is not None
#: the compiler that built it ("gcc 12.2.0", "clang 14.0.6 ..."), or None
COMPILER = _LIB.sn_compiler().decode() if _LIB is not None else None


class Settings(ctypes.Structure):
    """Which compiled path makes what (``sn_settings`` in _accel/sn.h), passed with every call
    that has a choice to make. The defaults put each threshold where the path starts to pay
    on the machine of docs/performance.md; the tests move them to force every path at any
    size (:func:`using`)."""

    _fields_ = [
        # the most capable instruction set to use (an index into ISAS; the CPU's, if less):
        # "avx512" runs our own product and the loops compiled for it
        ("isa", ctypes.c_int),
        # the most weights (rows padded to 16) our own product takes: it keeps them in a
        # core's second-level cache; beyond, OpenBLAS's packed slabs are as fast
        ("own_gemm_max", _I64),
        # our product skips the inputs that are 0 in every row of a block of rows (6) where
        # at most this many 1024ths of them are not 0 in some row (0: never); it gives the
        # same sums, and pays from where the block's work shrinks by a quarter
        ("sparse_share", _I64),
        # the chip's read of a layer (CrossbarArray.matvec) in one compiled call, where it
        # applies (1), or NumPy's lines, the twin it is tested against (0)
        ("fused_read", _I64),
        # the weight update's product Zᵀδ by our gathered tiles for the blocks of inputs
        # that are 0 in most of the batch (their share as sparse_share's), BLAS for the
        # others (1); BLAS for all (0)
        ("gathered_update", _I64),
    ]

    def as_dict(self) -> dict:
        return {"isa": ISAS[self.isa], "own_gemm_max": self.own_gemm_max,
                "sparse_share": self.sparse_share, "fused_read": self.fused_read,
                "gathered_update": self.gathered_update}

    def copy(self, **changes) -> "Settings":
        """These settings, with ``changes`` (field values) made."""
        return Settings(**{**{f: getattr(self, f) for f, _ in self._fields_}, **changes})


DEFAULT_SETTINGS = {"isa": "avx512", "own_gemm_max": 1 << 18, "sparse_share": 768,
                    "fused_read": 1, "gathered_update": 1}
#: every optional path forced on at any size (on the kernels this CPU has)
FORCED_ON = {"own_gemm_max": 1 << 62, "sparse_share": 1024}


def _settings(values: dict) -> Settings:
    isa = values["isa"]
    if isa not in ISAS:
        raise ValueError(f"isa must be one of {', '.join(ISAS)}, got {isa!r}")
    share = int(values["sparse_share"])
    if not 0 <= share <= 1024:
        raise ValueError(f"sparse_share must be in 0…1024 (1024ths of the inputs), got {share}")
    return Settings(ISAS.index(isa), int(values["own_gemm_max"]), share,
                    int(bool(values["fused_read"])), int(bool(values["gathered_update"])))


#: the optional paths a compiled call reports it took (PATH_* in _accel/sn.h), as bits
PATHS = {"own_gemm": 1, "own_sparse": 4, "own_gradient": 8,
         "pulses_avx2": 2}  # (the last: the pulse update's copy for AVX2 and popcnt)


def path_names(bits: int) -> set[str]:
    """The names of the paths in a PATH_* bit set."""
    return {name for name, bit in PATHS.items() if bits & bit}


def _initial_settings() -> Settings:
    kernels = os.environ.get("SYNAPSENET_KERNELS", "auto").strip().lower() or "auto"
    if kernels not in ("auto",) + ISAS:
        warnings.warn(f"SYNAPSENET_KERNELS={kernels!r} is not 'auto' or one of "
                      f"{', '.join(ISAS)}: using 'auto'", RuntimeWarning, stacklevel=2)
        kernels = "auto"
    return _settings({**DEFAULT_SETTINGS, "isa": "avx512" if kernels == "auto" else kernels})


_SETTINGS = _initial_settings()
_CAP = Settings(isa=_SETTINGS.isa)  # the environment's cap on the instruction set


def settings() -> dict:
    """The settings in force (a copy)."""
    return _SETTINGS.as_dict()


@contextlib.contextmanager
def using(**changes):
    """Run the block with some settings changed (:class:`Settings`' fields), e.g.
    ``using(**FORCED_ON)`` or ``using(isa="portable")``; the previous ones come back after it.
    The instruction set only comes down: under ``SYNAPSENET_KERNELS=portable`` a block that
    asks for "avx512" still runs the portable loops. Engines keep the settings of their
    creation."""
    global _SETTINGS
    unknown = set(changes) - set(DEFAULT_SETTINGS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}")
    before = _SETTINGS
    new = _settings({**before.as_dict(), **changes})
    new.isa = min(new.isa, _CAP.isa)
    _SETTINGS = new
    try:
        yield settings()
    finally:
        _SETTINGS = before


def cpu_isa() -> str:
    """The most capable instruction set of :data:`ISAS` this CPU runs ("portable" where the
    library is not built)."""
    return ISAS[_LIB.sn_cpu_isa()] if _LIB is not None else "portable"


def isa_in_use() -> str:
    """The instruction set the settings in force run on this CPU."""
    return ISAS[min(_SETTINGS.isa, ISAS.index(cpu_isa()))]


#: larger batches (mode="batch" on a big set, say) run on the NumPy engine: the compiled one
#: keeps a copy of the batch per thread
MAX_BATCH = 8192


def numpy_forced() -> bool:
    """Whether ``SYNAPSENET_ENGINE=numpy`` asks for the NumPy lines everywhere (read at each
    call: tests set it for a block)."""
    return os.environ.get("SYNAPSENET_ENGINE", "").lower() == "numpy"


def _network_unsupported(network):
    """None if the compiled library can run this network (training or inference), else why
    not: float32 Dense layers it knows the activations of."""
    from .layers import Dense

    if not AVAILABLE:
        return "the compiled engine is not built"
    if numpy_forced():
        return "SYNAPSENET_ENGINE=numpy"
    layers = network.layers
    if not all(type(layer) is Dense for layer in layers) or len(layers) > 16:
        return "only networks of up to 16 Dense layers"
    if any(layer.dtype != np.float32 for layer in layers):
        return "float32 only"
    if any(layer.activation.name not in _HIDDEN for layer in layers[:-1]) or \
            layers[-1].activation.name not in _OUTPUT:
        return "activations other than identity, relu, sigmoid, tanh (and a softmax output)"
    return None


def unsupported(network, loss, opt, *, batch=1):
    """None if the compiled engine covers this training configuration, else why not."""
    from .optimizers import SGD, Adam

    why = _network_unsupported(network)
    if why is not None:
        return why
    if any(layer.dropout for layer in network.layers):
        return "dropout runs on the NumPy engine"
    if batch > MAX_BATCH:
        return f"batches over {MAX_BATCH:,} samples (memory: a copy per thread)"
    if loss.name not in _LOSSES:
        return f"loss {loss.name!r}"
    if type(opt) in (SGD, Adam):
        return None
    return f"optimizer {type(opt).__name__}"


def _pointers(arrays):
    return (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])


class _Layers:
    """The network as the C library takes it: sizes n[0..L], the row stride of each stored
    Wᵀ, pointers to Wᵀ and b, activation codes. Keeps the arrays alive."""

    def __init__(self, network):
        layers = network.layers
        for layer in layers:  # what the library needs: contiguous rows (whole cache lines
            # only make it faster: a Dense keeps them so, see Dense.__setstate__)
            assert layer.WT.strides[1] == 4 and layer.WT.strides[0] % 4 == 0
            assert layer.b.flags.c_contiguous and layer.db.flags.c_contiguous
        self.L = len(layers)
        self.sizes = np.array([layers[0].n_in] + [lay.n_out for lay in layers], np.int64)
        self.ldw = np.array([lay.WT.strides[0] // 4 for lay in layers], np.int64)
        self.WT = _pointers([lay.WT for lay in layers])
        self.b = _pointers([lay.b for lay in layers])
        self.act = (ctypes.c_int * self.L)(*[_HIDDEN[lay.activation.name] for lay in layers[:-1]],
                                           _OUTPUT[layers[-1].activation.name])
        self._keep = [lay.WT for lay in layers] + [lay.b for lay in layers]


def _engine_layout(s, p):
    """Optimiser state ``s`` for parameter ``p`` laid out as the engine reads it: exactly as
    the parameter (Wᵀ with its padded rows, or b), starting a cache line — ``s`` itself if it
    is, else a copy that is."""
    if s.shape == p.shape and s.dtype == p.dtype and s.strides == p.strides and \
            s.ctypes.data % 64 == 0:
        return s
    fixed = aligned_zeros(p.T.shape, p.dtype).T if p.ndim == 2 else \
        aligned_zeros(p.shape, p.dtype)
    fixed[...] = s
    return fixed


class Forward:
    """Inference through the compiled library: one call per chunk of rows, on the calling
    thread, with the bias and activation fused after each product (see ``sn_forward``).
    :meth:`supports` says whether a network can use it (float32 Dense layers with the
    activations the engine knows)."""

    _local = threading.local()  # per-thread buffers, kept: fresh ones cost page faults

    @staticmethod
    def supports(network) -> bool:
        return _network_unsupported(network) is None

    def __init__(self, network):
        self._layers = _Layers(network)
        self.paths = 0  # PATH_* bits of every call so far (see path_names)
        self._paths_lock = threading.Lock()  # calls come from several threads
        # hidden outputs go in rows of whole cache lines (sn_forward)
        self._widest = -(-max([lay.n_out for lay in network.layers[:-1]], default=1) // 16) * 16

    def __call__(self, X, out) -> bool:
        """Outputs of the rows of X (C-contiguous float32) into ``out``; False when the
        first layer's u was not finite somewhere (check the inputs)."""
        n = len(X) * self._widest
        bufs = getattr(self._local, "bufs", None)
        if bufs is None or bufs[0].size < n:
            bufs = self._local.bufs = (np.empty(n, np.float32), np.empty(n, np.float32))
        la, paths = self._layers, ctypes.c_int()
        ok = _LIB.sn_forward(la.L, la.sizes.ctypes.data, la.ldw.ctypes.data, la.WT, la.b, la.act,
                             X.ctypes.data, X.shape[1], len(X), out.ctypes.data,
                             bufs[0].ctypes.data, bufs[1].ctypes.data, _GEMM,
                             ctypes.byref(_SETTINGS), ctypes.byref(paths))
        with self._paths_lock:
            self.paths |= paths.value
        return bool(ok)


def own_products(on: bool | None = None) -> bool:
    """Whether the library's own AVX-512 product makes the forward products whose weights fit
    in a core's second-level cache (otherwise, and on CPUs without AVX-512, OpenBLAS does);
    ``on`` switches the AVX-512 kernels on or off (for comparisons: off runs the AVX2 loops
    where the CPU has them), returning the previous setting. :func:`using` does it for a
    block."""
    global _SETTINGS
    was = isa_in_use() == "avx512"
    if on is not None:
        _SETTINGS = _SETTINGS.copy(isa=min(ISAS.index("avx512" if on else "avx2"), _CAP.isa))
    return was


def product(A: np.ndarray, B: np.ndarray, C: np.ndarray, alpha=1.0, beta=0.0) -> bool:
    """``C = alpha · A @ B + beta · C`` by the library's own kernel, where it applies (see
    :func:`own_products`; float32 with contiguous rows, C's width a multiple of 16, B at most
    ``own_gemm_max`` values); False, with nothing done, where it does not."""
    M, K = A.shape
    N = B.shape[1]
    if not (N % 16 == 0 and N * K <= _SETTINGS.own_gemm_max and own_products()
            and A.dtype == B.dtype == C.dtype == np.float32
            and A.strides[1] == B.strides[1] == C.strides[1] == 4 and C.shape == (M, N)):
        return False
    _LIB.sn_matmul(M, N, K, alpha, A.ctypes.data, A.strides[0] // 4, 1, B.ctypes.data,
                   B.strides[0] // 4, beta, C.ctypes.data, C.strides[0] // 4, _GEMM,
                   ctypes.byref(_SETTINGS))
    return True


def maybe_finite(X: np.ndarray) -> bool:
    """True when every value of X is finite; False when one may not be (the caller then
    searches X element-wise). float32 is scanned by the compiled library, in chunks side by
    side on the cores from 2 M values on (20,000 MNIST images: 1.3 ms on 2 cores, 2.5 ms on
    one, NumPy's sum 4.6 ms); otherwise a finite sum proves it (NaN and ±inf propagate), a
    non-finite one may also be an overflow."""
    if _LIB is None or X.dtype != np.float32 or not X.flags.c_contiguous:
        return bool(np.isfinite(X.sum()))
    flat = X.reshape(-1)
    from ._parallel import default_threads, map_batches

    parts = min(default_threads(), max(1, flat.size >> 21))
    step = -(-flat.size // parts)
    bad = []

    def scan(start):
        chunk = flat[start:start + step]
        if not _LIB.sn_all_finite(chunk.ctypes.data, chunk.size, ctypes.byref(_SETTINGS)):
            bad.append(start)

    map_batches(scan, range(0, flat.size, step), parts)
    return not bad


def threads_for(network, batch: int, inputs=None, optimizer=None) -> int:
    """Threads for a step of ``batch`` samples: one per 3 million multiply-adds a step that the
    step makes, up to one per core (as many as BLAS may use, see
    :func:`synapsenet._parallel.default_threads`). Where our product skips the inputs that are
    0 in a block of rows, the first layer's count is the share of its inputs that blocks of
    ``inputs`` (the training data, if given) use: a step on MNIST makes well under half of its
    full products, and a second thread pays only for more work than that (below, the
    barriers between the threads cost more than they share out; docs/performance.md). An
    ``optimizer`` with state of its own (Adam, momentum) adds its pass over the parameters,
    about 8 multiply-adds' worth a parameter."""
    from ._parallel import default_threads

    if not _blas.can_set_threads():  # pragma: no cover - another BLAS: cannot pin it to 1
        return 1
    sizes = [layer.n_in * layer.n_out for layer in network.layers]
    first = network.layers[0]
    share = 1.0
    if inputs is not None and _SETTINGS.sparse_share > 0 and \
            own_product_for(first.n_out, first.n_in):
        share = block_share(inputs)
    macs = batch * (sizes[0] * share + sum(sizes[1:]))
    if optimizer is not None and not optimizer.folds_learning_rate:
        macs += 8 * network.n_params
    return int(max(1, min(default_threads(), macs // 3_000_000)))


def own_product_for(n_out: int, n_in: int) -> bool:
    """Whether our product makes the forward product of an n_out × n_in layer with the
    settings in force (``sn_own_product``'s answer: AVX-512 in the settings, the padded
    weights in L2)."""
    return _LIB is not None and bool(_LIB.sn_own_product(ctypes.byref(_SETTINGS), n_out, n_in))


def block_share(X, rows: int = 6, blocks: int = 16) -> float:
    """The mean share of X's columns that some row of a block of ``rows`` rows has not 0, over
    ``blocks`` blocks of rows drawn at random (a fixed seed: training shuffles, so a block's
    rows come from anywhere in X): what our product over the inputs used makes of the full
    product's work (1.0 for fewer than ``rows`` rows, or X not 2-D)."""
    X = np.asarray(X)
    if X.ndim != 2 or len(X) < rows:
        return 1.0
    pick = np.random.default_rng(0).integers(0, len(X), (blocks, rows))
    return float(np.mean([np.any(X[p] != 0, axis=0).mean() for p in pick]))


class TrainingEngine:
    """The compiled engine bound to one network, loss and optimiser for one ``fit`` call.

    Make one with :meth:`acquire` and hand it back with :meth:`release`: the engine a fit
    leaves is kept (its threads asleep) and taken up again by the next fit of the same
    network with the same configuration, arrays and optimiser state, which saves the
    creation (~1 ms) and the first touches of its buffers (~3–5 ms a fit at batch 1,024,
    measured: it matters to one-epoch fits and ``partial_fit``)."""

    _SGD, _ADAM, _MOMENTUM = 0, 1, 2  # as OPT_* in _accel/sn.h
    _kept: TrainingEngine | None = None  # the last engine released, one in all
    _kept_lock = threading.Lock()

    @classmethod
    def acquire(cls, network, loss, opt, max_batch: int, threads: int) -> TrainingEngine:
        """An engine for this fit: the kept one if it fits exactly, else a new one."""
        with cls._kept_lock:
            kept, cls._kept = cls._kept, None
        try:
            return cls(network, loss, opt, max_batch, threads, reuse=kept)
        finally:
            if kept is not None:
                kept.close()  # nothing left to close if it was taken up

    def release(self):
        """Done with this fit: keep the engine for the next one (closing the one kept
        before), unless its buffers are large (over 32 MiB: a large batch on a wide input)."""
        if not getattr(self, "_handle", None):
            return
        if self._buffer_bytes > 32 << 20:
            self.close()
            return
        self._data = None  # the training data is bound afresh by each fit
        with self._kept_lock:
            previous, TrainingEngine._kept = TrainingEngine._kept, self
        if previous is not None and previous is not self:
            previous.close()

    def __init__(self, network, loss, opt, max_batch: int, threads: int, reuse=None):
        from .optimizers import Adam

        layers = network.layers
        self.layers, self.opt, self.threads = layers, opt, int(threads)
        self.weight_bound = None  # set by the substrate: every weight and bias kept in ±bound
        # set by the substrate too: a factor per layer on its update (plain SGD), and biases
        # that stay as they are (their gradients still computed)
        self.layer_rates, self.fixed_bias = None, False
        self.kind = self._ADAM if isinstance(opt, Adam) else \
            self._SGD if opt.folds_learning_rate else self._MOMENTUM
        la = _Layers(network)
        # optimiser state, laid out as the weights: Adam's m', v'; momentum's velocity (the
        # engine and the optimiser then share the arrays)
        state = opt.state_arrays(network.parameters(), layout=_engine_layout)
        assert tuple(state) == (("m", "v") if self.kind == self._ADAM else
                                ("velocity",) if self.kind == self._MOMENTUM and opt.momentum
                                else ()), tuple(state)
        state_ptrs = [None] * 4
        for k, bufs in enumerate(state.values()):
            state_ptrs[k] = _pointers([a.T for a in bufs[0::2]])  # for W (stored as Wᵀ)
            state_ptrs[k + 2] = _pointers(bufs[1::2])  # for b
        db = _pointers([layer.db for layer in layers])
        self.settings = _SETTINGS.copy()  # kept, as created
        args = (la.L, la.sizes.ctypes.data, la.ldw.ctypes.data, la.WT, la.b, db, la.act,
                _LOSSES[loss.name], self.kind, *state_ptrs, int(threads), int(max_batch),
                _GEMM, ctypes.byref(self.settings))
        # every value the library keeps: equal keys, the same engine
        self._key = (la.L, tuple(la.sizes), tuple(la.ldw), *(tuple(p) if p is not None else
                     None for p in (la.WT, la.b, db, la.act, *state_ptrs)), args[7], args[8],
                     int(threads), int(max_batch), tuple(self.settings.as_dict().items()))
        self._keep = [la, db] + [p for p in state_ptrs if p is not None]
        # about what sn_create allocates: per thread a copy of the batch and the output
        # layer's buffers, per hidden layer z and δ, and the two partial-δ buffers
        self._buffer_bytes = 4 * int(max_batch) * (
            int(threads) * (int(la.sizes[0]) + 4 * int(la.sizes[-1]) + 2 * int(la.sizes.max()))
            + 2 * int(la.sizes[1:-1].sum()))
        if reuse is not None and reuse._key == self._key:
            self._handle, reuse._handle = reuse._handle, None
            self._keep += reuse._keep
        else:
            self._handle = _LIB.sn_create(*args)
        if not self._handle:
            raise MemoryError("the compiled training engine could not allocate its buffers")
        self._Ev, self._cv = ctypes.c_double(), _I64()
        self._E, self._correct = ctypes.byref(self._Ev), ctypes.byref(self._cv)

    @property
    def paths(self) -> int:
        """The PATH_* bits of every step this engine made (see :func:`path_names`)."""
        return _LIB.sn_paths(self._handle) if getattr(self, "_handle", None) else 0

    @property
    def loops(self) -> str:
        """The instruction set of the element-wise loops this engine runs."""
        return _LIB.sn_loops_name(self._handle).decode()

    def count(self, counters, samples: int) -> None:
        """Add ``samples`` training samples' products to a substrate's counters."""
        for k, layer in enumerate(self.layers):
            macs = samples * layer.n_in * layer.n_out
            counters.add(k, vectors=samples, macs=macs, update_macs=macs,
                         backward_macs=macs if k else 0)

    def begin_epoch(self):
        """Nothing to do as an epoch begins (the chip's engine seeds its noise there)."""

    def bind(self, X, D, labels, rng=None):
        """The training data of this fit (kept alive here; the engine reads them in place;
        ``rng``, the fit's generator, it does not draw from)."""
        assert X.dtype == D.dtype == np.float32 and X.flags.c_contiguous and D.flags.c_contiguous
        if labels is not None:
            labels = np.ascontiguousarray(labels, np.int64)
        self._data = (X, D, labels)
        opt = self.opt
        b1, b2 = (opt.beta1, opt.beta2) if self.kind == self._ADAM else (0.0, 0.0)
        mu, nesterov = (opt.momentum, opt.nesterov) if self.kind == self._MOMENTUM else (0, 0)
        rates = None if self.layer_rates is None else \
            np.ascontiguousarray(self.layer_rates, np.float32)
        self._rates = rates  # kept alive with the data
        _LIB.sn_bind(self._handle, X.ctypes.data, X.shape[1], D.ctypes.data, D.shape[1],
                     None if labels is None else labels.ctypes.data, b1, b2, mu, int(nesterov),
                     opt.weight_decay, 0.0 if self.weight_bound is None else
                     float(self.weight_bound), None if rates is None else rates.ctypes.data,
                     int(self.fixed_bias))

    def _constants(self, m: int, lr: float, t: int):
        """sn_step's scale, step and ε for a batch of m samples, the optimiser's step t."""
        opt = self.opt
        if self.kind == self._ADAM:
            b1, b2 = opt.beta1, opt.beta2
            root = math.sqrt((1 - b2 ** t) / (1 - b2))  # as in optimizers.Adam.step
            return 1.0 / m, lr * (1 - b1) / (1 - b1 ** t) * root, opt.eps * root
        if self.kind == self._MOMENTUM:  # the mean gradient, then the optimiser's step
            return 1.0 / m, lr, 0.0
        return lr / m, 0.0, 0.0  # η folded into δ_out, as Network.train_step(update=True)

    def _after(self, made: int, status: int):
        """The optimiser's count after ``made`` updates and then ``status``."""
        opt = self.opt
        opt.t += made
        if status < 0:  # pragma: no cover - a batch larger than the buffers
            raise ValueError("a batch exceeds the engine's buffers")
        if status == 2 and self.kind != self._SGD:
            # the step was made with a non-finite δ: the caller restores the weights of the
            # epoch's start, and the optimiser's state (now NaN somewhere) starts afresh
            opt.state.clear()
            opt.t = 0

    def step(self, idx, start: int, m: int, lr: float):
        """One update on rows ``idx`` of the bound X (an int64 array, or None for rows
        start…start+m). Returns (E, correct, status): status 1 after an update, 0 when the
        loss was not finite (nothing changed), 2 when the step was made but the first
        layer's δ was not finite, 3 when an input of the batch was NaN or infinite (nothing
        changed: the engine checks the data as it gathers it)."""
        rows = None if idx is None else idx.ctypes.data
        status = _LIB.sn_step(self._handle, rows, start, m,
                              *self._constants(m, lr, self.opt.t + 1), self._E, self._correct)
        self._after(int(status == 1), status)
        return self._Ev.value, self._cv.value, status

    def steps(self, order, slices, lr: float):
        """The steps of consecutive batches ``slices`` (of ``order``, an int64 permutation, or
        of the rows when None) in one call into the library — Python's own cost per step
        (10–20 µs) is most of a small batch's. Returns (E, correct) per step (arrays), how many
        steps were made with status 1, and the status of the one after them (1 if none)."""
        n, t = len(slices), self.opt.t
        off = np.array([sl.start for sl in slices], np.int64)
        size = np.array([sl.stop - sl.start for sl in slices], np.int64)
        consts = np.array([self._constants(int(m), lr, t + 1 + k) for k, m in enumerate(size)],
                          np.float32).reshape(n, 3)
        scale, step, eps = (np.ascontiguousarray(consts[:, i]) for i in range(3))
        E, correct, status = np.zeros(n), np.zeros(n, np.int64), ctypes.c_int()
        made = _LIB.sn_steps(self._handle, None if order is None else order.ctypes.data,
                             off.ctypes.data, size.ctypes.data, scale.ctypes.data,
                             step.ctypes.data, eps.ctypes.data, n, E.ctypes.data,
                             correct.ctypes.data, ctypes.byref(status))
        self._after(made, status.value)
        return E, correct, made, status.value

    def close(self):
        if getattr(self, "_handle", None):
            _LIB.sn_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()


def _close_kept():
    kept, TrainingEngine._kept = TrainingEngine._kept, None
    if kept is not None:
        kept.close()


def _forget_kept():
    """In a forked child the kept engine's threads do not exist: drop it without joining."""
    kept, TrainingEngine._kept = TrainingEngine._kept, None
    if kept is not None:
        kept._handle = None  # its memory stays with the child, unused
    TrainingEngine._kept_lock = threading.Lock()


atexit.register(_close_kept)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_kept)
