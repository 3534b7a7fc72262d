"""Batches side by side on the CPU's cores.

Inference is a matrix product per layer plus element-wise work (bias, activation; on a
simulated chip also converters and noise). BLAS spreads a product over the cores, but NumPy
runs every element-wise pass on one core, so with one batch at a time the other cores wait
for a large part of the time. Running whole batches side by side, one per core, with BLAS
single-threaded meanwhile, keeps every core busy: each thread's product and element-wise
work stay on its own core (and in its own cache). NumPy and BLAS release the GIL while they
compute, so Python threads suffice.

OpenBLAS keeps one thread count for the whole process: while batches run side by side it is
1, also for any other thread of the program that calls BLAS meanwhile, and it is restored
afterwards. How many threads run batches follows the BLAS thread count set before (so a
``threadpoolctl`` limit, or joblib's in its workers, holds here as well).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import _blas

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inside = threading.local()  # set in the pool's threads: a nested call runs in order


def n_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - not Linux


def default_threads() -> int:
    """As many threads as BLAS may use now (so that ``threadpoolctl`` limits, and joblib's
    workers that set them, hold here too), at most one per core and 8."""
    return max(1, min(_blas.blas_threads() or n_cores(), n_cores(), 8))


def threads_here() -> int:
    """The threads a compiled kernel called on this thread may share its work with: one in a
    thread of :func:`map_batches` (the batches already fill the cores), else
    :func:`default_threads`."""
    return 1 if getattr(_inside, "yes", False) else default_threads()


def map_batches(fn, starts, threads=None) -> None:
    """Call ``fn(s)`` for every ``s`` in ``starts``: on up to ``threads`` threads (None:
    :func:`default_threads`), BLAS single-threaded meanwhile, when there is more than one
    batch and this NumPy's BLAS lets us set its threads; otherwise in order, on this thread.
    An exception raised by ``fn`` reaches the caller either way."""
    global _pool
    starts = list(starts)
    allowed = default_threads()
    workers = min(len(starts), allowed if threads is None else max(1, int(threads)))
    if workers <= 1 or not _blas.can_set_threads() or getattr(_inside, "yes", False):
        for s in starts:
            fn(s)
        return
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max(workers, allowed),
                                       thread_name_prefix="synapsenet", initializer=_mark)
        pool = _pool
    with _blas.single_threaded():
        # each batch is one task; more tasks than threads balance uneven batches
        for _ in pool.map(fn, starts):
            pass


def _mark():
    _inside.yes = True


def _forget_pool():
    """In a forked child the pool's threads do not exist: start afresh there."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
