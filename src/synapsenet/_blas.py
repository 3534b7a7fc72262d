"""BLAS for synapsenet's products: the weight update inside the product, ``C ← C + α·A·B``,
the sgemm the compiled engine's threads call, and BLAS's thread count.

Plain gradient descent, ``W ← W − η δᵀ z``, is a matrix product added to the weights. NumPy
can only write a product into a fresh (or scratch) array, so the textbook update costs a
product *and* a second pass that reads the gradient and rewrites every weight — and that
pass, in one Python thread, touches weights the BLAS threads just handled on the other cores.
BLAS itself computes ``C ← α·A·B + β·C``; with β = 1 the update is made where the product is,
in one pass, by every BLAS thread (GEMM; GER for a single sample's outer product). That is
what an analog chip does too: it adds the update to the weights in place.

Two routes lead to a BLAS; ``SYNAPSENET_BLAS=numpy`` or ``=scipy`` picks one, else the first
that works is taken:

* ``numpy``: the OpenBLAS that NumPy's own wheels bundle, through the CBLAS symbols its
  extension module exports. NumPy does not promise those symbols, so the route is checked (a
  small self-test against NumPy's matmul) and passed over where they are missing or wrong.
  It comes first because it was the faster one in a same-run A/B (docs/performance.md), and
  it is the BLAS, and the thread pool, that NumPy uses anyway.
* ``scipy``: SciPy's supported route, the Fortran BLAS whose function pointers
  ``scipy.linalg.cython_blas`` exports as PyCapsules (row-major products by the transpose
  identity, 32-bit integers). SciPy bundles an OpenBLAS of its own.

Where neither works, :func:`add_product` falls back to NumPy (the same numbers, one pass more)
and the compiled engine is not used. Thread counts are read and set through ``threadpoolctl``
(imported on first use), for every BLAS library in the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_INT = ctypes.c_int
_REALS = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}


class _NumpyRoute:
    """CBLAS from NumPy's extension module (its wheels' OpenBLAS, 64-bit integers)."""

    name = "numpy"

    def __init__(self):
        core = getattr(np, "_core", None) or np.core
        lib = ctypes.CDLL(core._multiarray_umath.__file__)  # OSError, AttributeError: absent
        # NumPy's wheels bundle OpenBLAS with 64-bit integers and prefixed, suffixed names;
        # other builds link a BLAS with the plain CBLAS names and 32-bit integers
        for prefix, suffix, Int in (("scipy_cblas_", "64_", ctypes.c_int64),
                                    ("cblas_", "64_", ctypes.c_int64),
                                    ("cblas_", "", ctypes.c_int)):
            try:
                self.funcs = {dt: self._bind(lib, prefix, suffix, Int, ch, Real)
                              for (dt, Real), ch in zip(_REALS.items(), "sd")}
                self.int64 = Int is ctypes.c_int64
                return
            except AttributeError:
                continue
        raise AttributeError("no CBLAS symbols in NumPy's extension module")

    @staticmethod
    def _bind(lib, prefix, suffix, Int, ch, Real):
        gemm = getattr(lib, f"{prefix}{ch}gemm{suffix}")
        gemm.argtypes = [_INT, _INT, _INT, Int, Int, Int, Real, ctypes.c_void_p, Int,
                         ctypes.c_void_p, Int, Real, ctypes.c_void_p, Int]
        gemm.restype = None
        ger = getattr(lib, f"{prefix}{ch}ger{suffix}")
        ger.argtypes = [_INT, Int, Int, Real, ctypes.c_void_p, Int, ctypes.c_void_p, Int,
                        ctypes.c_void_p, Int]
        ger.restype = None
        return gemm, ger

    def gemm(self, dtype, trans_a, n, m, k, alpha, A, lda, B, C, ldc):
        """C (n × m, rows ldc apart) += α op(A) B, B C-contiguous (k × m), all row-major."""
        self.funcs[dtype][0](_ROW_MAJOR, _TRANS if trans_a else _NO_TRANS, _NO_TRANS, n, m, k,
                             alpha, A, lda, B, m, 1.0, C, ldc)

    def ger(self, dtype, n, m, alpha, a, inca, b, C, ldc):
        """C (n × m, rows ldc apart) += α a bᵀ."""
        self.funcs[dtype][1](_ROW_MAJOR, n, m, alpha, a, inca, b, 1, C, ldc)

    def engine_sgemm(self):
        """("cblas", the address of a row-major sgemm with 64-bit integers), or None."""
        if not self.int64:  # pragma: no cover - a NumPy built on a 32-bit CBLAS
            return None
        return "cblas", ctypes.cast(self.funcs[np.dtype(np.float32)][0], ctypes.c_void_p).value


class _ScipyRoute:
    """Fortran BLAS from SciPy's ``cython_blas`` capsules (its wheels' OpenBLAS)."""

    name = "scipy"

    def __init__(self):
        from scipy.linalg import cython_blas  # ImportError: SciPy absent

        name = ctypes.pythonapi.PyCapsule_GetName
        name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
        pointer = ctypes.pythonapi.PyCapsule_GetPointer
        pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        caps = cython_blas.__pyx_capi__
        self.pointers = {f: pointer(caps[f], name(caps[f]))
                         for f in ("sgemm", "dgemm", "sger", "dger")}
        P, I = ctypes.c_void_p, ctypes.POINTER(_INT)
        self.funcs = {}
        for (dt, Real), ch in zip(_REALS.items(), "sd"):
            R = ctypes.POINTER(Real)
            gemm = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, I, I, I, R, P, I, P,
                                    I, R, P, I)(self.pointers[f"{ch}gemm"])
            ger = ctypes.CFUNCTYPE(None, I, I, R, P, I, P, I, P, I)(self.pointers[f"{ch}ger"])
            self.funcs[dt] = (gemm, ger, Real)

    def gemm(self, dtype, trans_a, n, m, k, alpha, A, lda, B, C, ldc):
        # row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: B, then A, in Fortran's order
        gemm, _, Real = self.funcs[dtype]
        r = ctypes.byref
        gemm(b"N", b"T" if trans_a else b"N", r(_INT(m)), r(_INT(n)), r(_INT(k)),
             r(Real(alpha)), B, r(_INT(m)), A, r(_INT(lda)), r(Real(1.0)), C, r(_INT(ldc)))

    def ger(self, dtype, n, m, alpha, a, inca, b, C, ldc):
        _, ger, Real = self.funcs[dtype]  # Cᵀ += α b aᵀ
        r = ctypes.byref
        ger(r(_INT(m)), r(_INT(n)), r(Real(alpha)), b, r(_INT(1)), a, r(_INT(inca)), C,
            r(_INT(ldc)))

    def engine_sgemm(self):
        """("fortran", the address of SciPy's sgemm): the engine adapts it to its CBLAS-style
        calls (_accel/blas.c)."""
        return "fortran", self.pointers["sgemm"]


def _choose():
    """The first route that loads and passes the self-test (or the one SYNAPSENET_BLAS asks
    for), else None."""
    want = os.environ.get("SYNAPSENET_BLAS", "").strip().lower()
    routes = {"numpy": _NumpyRoute, "scipy": _ScipyRoute}
    for name in [want] if want in routes else list(routes):
        try:
            route = routes[name]()
        except (OSError, AttributeError, ImportError, KeyError):  # pragma: no cover
            continue
        if _self_test(route):
            return route
    return None  # pragma: no cover - no BLAS we can call


def add_product(A: np.ndarray, B: np.ndarray, C: np.ndarray, alpha: float,
                work: np.ndarray | None = None) -> np.ndarray:
    """``C += alpha · A @ B`` in place, for 2-D arrays of one float dtype.

    ``C`` (n × m) must have contiguous rows (any row stride) and ``B`` (k × m) be
    C-contiguous; ``A`` (n × k) may be any row-major view with contiguous rows (a block of
    columns, say) or the transpose of one.
    Other layouts take the NumPy fallback, whose scratch array ``work`` (n × m) may be given.
    """
    return _add_product(ROUTE, A, B, C, alpha, work)


def _add_product(route, A, B, C, alpha, work=None):
    n, k = A.shape
    m = B.shape[1]
    if route is None or not _blas_ready(A, B, C):
        P = np.matmul(A, B, out=work)
        if alpha != 1:
            P *= alpha
        C += P
        return C
    dt, size = C.dtype, C.itemsize
    ldc = C.strides[0] // size
    if k == 1:  # one sample: C += α a bᵀ, the rank-1 update
        route.ger(dt, n, m, alpha, A.ctypes.data, A.strides[0] // size, B.ctypes.data,
                  C.ctypes.data, ldc)
    elif A.strides[1] == size:  # rows of A contiguous, lda apart
        route.gemm(dt, False, n, m, k, alpha, A.ctypes.data, A.strides[0] // size,
                   B.ctypes.data, C.ctypes.data, ldc)
    else:  # A = Xᵀ, X's rows contiguous
        route.gemm(dt, True, n, m, k, alpha, A.ctypes.data, A.strides[1] // size,
                   B.ctypes.data, C.ctypes.data, ldc)
    return C


def _blas_ready(A, B, C) -> bool:
    """Whether the arrays are laid out as the direct call above expects."""
    dt = C.dtype
    if A.dtype != dt or B.dtype != dt or dt not in _REALS:
        return False
    if not (C.flags.writeable and B.flags.c_contiguous):
        return False
    c0, c1 = C.strides
    if c1 != C.itemsize or c0 % C.itemsize or c0 < C.shape[1] * C.itemsize:
        return False  # C's rows must be contiguous, ldc apart
    s0, s1, size = A.strides[0], A.strides[1], A.itemsize
    if A.shape[1] == 1:  # a column: any stride
        return s0 % size == 0 and s0 > 0
    if s1 == size:  # row-major with leading dimension s0 / size
        return s0 % size == 0 and s0 >= A.shape[1] * size
    return s0 == size and s1 % size == 0 and s1 >= A.shape[0] * size  # a transposed one


def _self_test(route=None) -> bool:
    """Check a route on small products against NumPy (both dtypes, every layout)."""
    route = ROUTE if route is None else route
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for k, transposed in ((1, True), (3, True), (3, False)):
            X = rng.standard_normal((k, 5)).astype(dtype)
            A = X.T if transposed else np.ascontiguousarray(X.T)
            B = rng.standard_normal((k, 4)).astype(dtype)
            C = rng.standard_normal((5, 4)).astype(dtype)
            want = C - 0.5 * (A @ B)
            _add_product(route, A, B, C, -0.5)
            if not np.allclose(C, want, rtol=1e-4, atol=1e-5):
                return False
    return True


#: the route to BLAS in use (see the module's docstring), or None
ROUTE = _choose()
#: True when updates run inside BLAS (else the NumPy fallback, one pass more)
FUSED = ROUTE is not None


def engine_sgemm():
    """What the compiled engine calls for its products: (kind, address) with kind "cblas" (a
    row-major CBLAS sgemm, 64-bit integers) or "fortran" (a Fortran sgemm), or None."""
    return None if ROUTE is None else ROUTE.engine_sgemm()


def numpy_row_sums():
    """(sgemv, sdot): the addresses of the row-major CBLAS sgemv and the sdot (64-bit
    integers) NumPy's own matmul calls for a float32 matrix times a vector, of several rows
    and of one; each checked on a probe to give ``A @ x``'s bits. None if not found so. (The
    compiled chip steps sum a softmax's rows with them, as ``activations.row_sum`` does.)"""
    try:
        core = getattr(np, "_core", None) or np.core
        lib = ctypes.CDLL(core._multiarray_umath.__file__)
        gemv = getattr(lib, "scipy_cblas_sgemv64_", None) or lib.cblas_sgemv64_
        dot = getattr(lib, "scipy_cblas_sdot64_", None) or lib.cblas_sdot64_
    except (OSError, AttributeError):
        return None
    I64, P = ctypes.c_int64, ctypes.c_void_p
    gemv.argtypes = [_INT, _INT, I64, I64, ctypes.c_float, P, I64, P, I64, ctypes.c_float, P,
                     I64]
    gemv.restype = None
    dot.argtypes = [I64, P, I64, P, I64]
    dot.restype = ctypes.c_float
    A = np.random.default_rng(0).random((37, 10), dtype=np.float32)
    x, y = np.ones(10, np.float32), np.empty(37, np.float32)
    gemv(_ROW_MAJOR, _NO_TRANS, 37, 10, 1.0, A.ctypes.data, 10, x.ctypes.data, 1, 0.0,
         y.ctypes.data, 1)
    one = A[:1] @ x
    if not (np.array_equal(y, A @ x) and
            np.float32(dot(10, A.ctypes.data, 1, x.ctypes.data, 1)) == one[0]):
        return None
    return tuple(ctypes.cast(f, ctypes.c_void_p).value for f in (gemv, dot))


# -- threads ----------------------------------------------------------------------------------
_controller = None
_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 1
_limiter = None


def _blas_libraries():
    """threadpoolctl's controller of every BLAS library loaded (kept: a scan costs ~0.1 ms;
    made afresh when the route has loaded one since)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def can_set_threads() -> bool:
    """Whether BLAS's thread count can be read and set here (threadpoolctl finds it)."""
    return bool(_blas_libraries().lib_controllers)


def _current_threads() -> int | None:
    counts = [lib.num_threads for lib in _blas_libraries().lib_controllers]
    return min(counts) if counts else None


def blas_threads() -> int | None:
    """The thread count BLAS is set to now (the least of the BLAS libraries loaded; None where
    none is known). Inside :func:`single_threaded` blocks it is the count from before them."""
    with _threads_lock:
        return _threads_before if _threads_users else _current_threads()


def _forget_users():
    global _threads_lock, _threads_users, _limiter
    _threads_lock, _threads_users, _limiter = threading.Lock(), 0, None


if hasattr(os, "register_at_fork"):  # a forked child starts with no block open
    os.register_at_fork(after_in_child=_forget_users)


@contextlib.contextmanager
def single_threaded():
    """BLAS on one thread inside the block, for callers that run their own threads side by
    side (one per core). The setting is process-wide, as BLAS keeps it, and restored (by
    threadpoolctl) when the last such block ends."""
    global _threads_users, _threads_before, _limiter
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = _current_threads() or 1
            _limiter = _blas_libraries().limit(limits=1)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
