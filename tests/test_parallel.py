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
    if _blas.CAN_SET_THREADS and _parallel.n_cores() > 1:
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
