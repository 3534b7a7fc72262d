"""Batches side by side: every batch runs once, errors reach the caller, nesting is safe."""

import threading

import pytest

from synapsenet import _blas, _parallel


def test_every_batch_runs_once_on_several_threads():
    seen, names = [], set()
    lock = threading.Lock()

    def fn(s):
        with lock:
            seen.append(s)
            names.add(threading.current_thread().name)

    _parallel.map_batches(fn, range(0, 100, 10), threads=2)
    assert sorted(seen) == list(range(0, 100, 10))
    if _blas.can_set_threads() and _parallel.n_cores() > 1:
        assert all(n.startswith("synapsenet") for n in names)


def test_an_error_in_a_batch_reaches_the_caller():
    def fn(s):
        if s == 30:
            raise ValueError("batch 30")

    with pytest.raises(ValueError, match="batch 30"):
        _parallel.map_batches(fn, range(0, 60, 10), threads=2)


def test_a_nested_call_runs_in_order_instead_of_waiting_for_busy_threads():
    out = []

    def inner(s):
        out.append(s)

    def outer(s):
        _parallel.map_batches(inner, [s, s + 1], threads=2)

    _parallel.map_batches(outer, [0, 10, 20, 30], threads=2)  # would hang if it waited
    assert sorted(out) == [0, 1, 10, 11, 20, 21, 30, 31]


def test_a_forked_child_can_still_run_batches():
    """A child forked after the pool started (multiprocessing's default on Linux) must not
    wait for threads it does not have."""
    import multiprocessing as mp

    import numpy as np

    import synapsenet as sn

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("this platform cannot fork")
    net = sn.Network.from_sizes([8, 16, 3], hidden="relu", output="softmax", seed=0)
    X = np.random.default_rng(0).normal(size=(9000, 8)).astype(np.float32)
    want = net.predict(X)  # starts the pool in the parent
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(net.predict, (X,)).get(timeout=60)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_threads_follow_the_blas_limit_set_by_threadpoolctl():
    from threadpoolctl import threadpool_limits

    if not _blas.can_set_threads():
        pytest.skip("this NumPy's BLAS thread count cannot be read")
    with threadpool_limits(1):
        assert _parallel.default_threads() == 1
    if _parallel.n_cores() > 1:
        with threadpool_limits(2):
            assert _parallel.default_threads() == 2
