"""The weight update inside the matrix product: ``C ← C + α·A·B`` in one BLAS call.

Plain gradient descent, ``W ← W − η δᵀ z``, is a matrix product added to the weights. NumPy
can only write a product into a fresh (or scratch) array, so the textbook update costs a
product *and* a second pass that reads the gradient and rewrites every weight — and that
pass, in one Python thread, touches weights the BLAS threads just handled on the other cores.
BLAS itself computes ``C ← α·A·B + β·C``; with β = 1 the update is made where the product is,
in one pass, by every BLAS thread (GEMM; GER for a single sample's outer product). That is
what an analog chip does too: it adds the update to the weights in place.

We call the BLAS that NumPy itself uses (no second library, no second thread pool), found
through NumPy's own extension module. Where it cannot be found or does not pass a small
self-test (another NumPy build, an unknown BLAS), :func:`add_product` falls back to NumPy:
the same numbers, one pass more.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _numpy_blas():
    """NumPy's extension module as a library handle: its symbols and its BLAS's."""
    try:
        core = getattr(np, "_core", None) or np.core
        return ctypes.CDLL(core._multiarray_umath.__file__)
    except (OSError, AttributeError):  # pragma: no cover - not a shared-library build
        return None


_LIB = _numpy_blas()


def _bind():
    """(gemm, ger) per dtype from NumPy's BLAS, or None."""
    lib = _LIB
    if lib is None:  # pragma: no cover
        return None
    # NumPy's wheels bundle OpenBLAS with 64-bit integers and prefixed, suffixed names;
    # other builds link a BLAS with the plain CBLAS names and 32-bit integers
    for prefix, suffix, Int in (("scipy_cblas_", "64_", ctypes.c_int64),
                                ("cblas_", "64_", ctypes.c_int64),
                                ("cblas_", "", ctypes.c_int)):
        try:
            funcs = {}
            for dtype, ch, Real in ((np.float32, "s", ctypes.c_float),
                                    (np.float64, "d", ctypes.c_double)):
                gemm = getattr(lib, f"{prefix}{ch}gemm{suffix}")
                gemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, Int, Int, Int, Real,
                                 ctypes.c_void_p, Int, ctypes.c_void_p, Int, Real,
                                 ctypes.c_void_p, Int]
                gemm.restype = None
                ger = getattr(lib, f"{prefix}{ch}ger{suffix}")
                ger.argtypes = [ctypes.c_int, Int, Int, Real, ctypes.c_void_p, Int,
                                ctypes.c_void_p, Int, ctypes.c_void_p, Int]
                ger.restype = None
                funcs[np.dtype(dtype)] = (gemm, ger)
            return funcs
        except AttributeError:
            continue
    return None  # pragma: no cover - depends on the NumPy build


_FUNCS = _bind()


def add_product(A: np.ndarray, B: np.ndarray, C: np.ndarray, alpha: float,
                work: np.ndarray | None = None) -> np.ndarray:
    """``C += alpha · A @ B`` in place, for 2-D arrays of one float dtype.

    ``C`` (n × m) must have contiguous rows (any row stride) and ``B`` (k × m) be
    C-contiguous; ``A`` (n × k) may be any row-major view with contiguous rows (a block of
    columns, say) or the transpose of one.
    Other layouts take the NumPy fallback, whose scratch array ``work`` (n × m) may be given.
    """
    n, k = A.shape
    m = B.shape[1]
    fused = _FUNCS is not None and _blas_ready(A, B, C)
    if not fused:
        P = np.matmul(A, B, out=work)
        if alpha != 1:
            P *= alpha
        C += P
        return C
    gemm, ger = _FUNCS[C.dtype]
    ldc = C.strides[0] // C.itemsize
    if k == 1:  # one sample: C += α a bᵀ, the rank-1 update
        ger(_ROW_MAJOR, n, m, alpha, A.ctypes.data, A.strides[0] // A.itemsize,
            B.ctypes.data, 1, C.ctypes.data, ldc)
        return C
    if A.strides[1] == A.itemsize:  # rows of A contiguous, lda apart
        trans, lda = _NO_TRANS, A.strides[0] // A.itemsize
    else:  # A = Xᵀ, X's rows contiguous
        trans, lda = _TRANS, A.strides[1] // A.itemsize
    gemm(_ROW_MAJOR, trans, _NO_TRANS, n, m, k, alpha, A.ctypes.data, lda, B.ctypes.data, m,
         1.0, C.ctypes.data, ldc)
    return C


def _blas_ready(A, B, C) -> bool:
    """Whether the arrays are laid out as the direct call above expects."""
    dt = C.dtype
    if A.dtype != dt or B.dtype != dt or dt not in _FUNCS:
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


def _self_test() -> bool:
    """Check the binding on small products against NumPy (both dtypes, both layouts)."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for k in (1, 3):
            X = rng.standard_normal((k, 5)).astype(dtype)
            B = rng.standard_normal((k, 4)).astype(dtype)
            C = rng.standard_normal((5, 4)).astype(dtype)
            want = C - 0.5 * (X.T @ B)
            add_product(X.T, B, C, -0.5)
            if not np.allclose(C, want, rtol=1e-4, atol=1e-5):
                return False
    return True


if _FUNCS is not None and not _self_test():  # pragma: no cover - a BLAS we misread
    _FUNCS = None

#: True when updates run inside BLAS (else the NumPy fallback, one pass more)
FUSED = _FUNCS is not None


def _bind_threads():
    """OpenBLAS's (get, set) of its thread count, or None."""
    for get, set_ in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                      ("openblas_get_num_threads", "openblas_set_num_threads")):
        g, s_ = getattr(_LIB, get, None), getattr(_LIB, set_, None)
        if g is not None and s_ is not None:
            g.argtypes, g.restype = [], ctypes.c_int
            s_.argtypes, s_.restype = [ctypes.c_int], None
            return g, s_
    return None  # pragma: no cover - another BLAS


_THREADS = _bind_threads()
_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 1

#: whether :func:`single_threaded` can set NumPy's BLAS thread count here
CAN_SET_THREADS = _THREADS is not None


def blas_threads() -> int | None:
    """The thread count NumPy's OpenBLAS is set to now (None where it cannot be read). Inside
    :func:`single_threaded` blocks it is the count from before them."""
    if _THREADS is None:  # pragma: no cover - another BLAS
        return None
    with _threads_lock:
        return _threads_before if _threads_users else _THREADS[0]()


def _forget_users():
    global _threads_lock, _threads_users
    _threads_lock, _threads_users = threading.Lock(), 0


if hasattr(os, "register_at_fork"):  # a forked child starts with no block open
    os.register_at_fork(after_in_child=_forget_users)


@contextlib.contextmanager
def single_threaded():
    """BLAS on one thread inside the block, for callers that run their own threads side by
    side (one per core). The setting is process-wide, as OpenBLAS keeps it, and restored
    when the last such block ends."""
    global _threads_users, _threads_before
    if _THREADS is None:  # pragma: no cover - another BLAS: leave it alone
        yield
        return
    get, set_ = _THREADS
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = get()
            set_(1)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                set_(_threads_before)
