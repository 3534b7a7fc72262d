"""Where a study's cells run: processes on this machine, or a Ray cluster.

Both backends take the same thing: a function ``fn(shared, task)`` importable by name, the
``shared`` data (the model and the data set: sent to each worker once, not once per task),
and the tasks. Each result comes back to the driver, which writes it (``on_result``), so a
cluster needs no shared file system. Every task runs with BLAS on one thread, in the driver
too: the sums are then made in the same order everywhere, and the rows are the same on any
backend and any number of workers.

* ``local``: one process per core (``spawn``: fresh interpreters, no inherited threads). A
  worker that dies (killed, out of memory) breaks the pool; the tasks not yet back are run
  again in a new one.
* ``ray``: the shared data goes into Ray's object store once (``ray.put``); each task holds a
  reference to it. Tasks are retried when their worker is lost (``max_retries``). With an
  address, the driver joins that cluster (``ray start --head`` on the head node); without
  one it starts a cluster on this machine, on the loopback interface only, and stops it
  after the study.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import sys
import time
import traceback

from ..errors import ConfigError, SynapseError

BACKENDS = ("local", "ray")
RETRIES = 3  # times a lost worker's tasks are run again before the study gives up
KILL_ONCE = "SYNAPSENET_TEST_KILL_WORKER_ONCE"  # tests: a file path; the first worker task
#                                                 to create it kills its own process


def n_cores() -> int:
    from .._parallel import n_cores

    return n_cores()


def execute(fn, shared, tasks, on_result, *, backend="local", workers=None, address=None,
            progress=None) -> None:
    """Run ``fn(shared, task)`` for every ``(key, task)`` in ``tasks``; call
    ``on_result(key, result, seconds)`` in the driver as each comes back (in the order they
    finish), and ``progress(done)`` after each."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be ≥ 1, got {workers}")
    if address is not None and backend != "ray":
        raise ConfigError("--address is the Ray cluster's: give it with --backend ray")
    if backend == "ray":
        import_ray(loopback=address is None)  # first: its absence is bad input, exit 2
        if address is not None:
            check_reachable(address)
    if not tasks:
        return
    shared = dict(shared, _kill_once=os.environ.get(KILL_ONCE))
    if backend == "ray":
        _ray(import_ray(), fn, shared, tasks, on_result, workers, address, progress)
    elif min(workers or n_cores(), len(tasks)) == 1:
        _in_process(fn, shared, tasks, on_result, progress)
    else:
        _local(fn, shared, tasks, on_result, min(workers or n_cores(), len(tasks)), progress)


# -- one task, wherever it runs ---------------------------------------------------------
def _call(fn, shared, task):
    """In a worker: ``("ok", result, seconds)`` or ``("error", description)``; exceptions
    come back as data, so that the driver raises the library's own error in one line."""
    _single_threaded_blas()
    mark = shared.get("_kill_once")
    if mark:
        try:
            os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), signal.SIGKILL)
    t0 = time.perf_counter()
    try:
        return "ok", fn(shared, task), time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 - described to the driver, which raises it
        return "error", (isinstance(e, SynapseError), type(e).__name__, str(e),
                         "".join(traceback.format_exception(e)))


def _raise(description, key):
    ours, name, message, trace = description
    if ours:
        raise SynapseError(message) if name != "ConfigError" else ConfigError(message)
    raise RuntimeError(f"{name}: {message} (in the cell {key})\n{trace}")


_LIMIT = None


def _single_threaded_blas():
    global _LIMIT
    if _LIMIT is None:  # for the life of the worker process
        from threadpoolctl import threadpool_limits

        _LIMIT = threadpool_limits(limits=1)


# -- in this process --------------------------------------------------------------------
def _in_process(fn, shared, tasks, on_result, progress):
    from .. import _blas

    with _blas.single_threaded():
        for done, (key, task) in enumerate(tasks, 1):
            t0 = time.perf_counter()
            result = fn(shared, task)  # its errors, with their tracebacks, as they are
            on_result(key, result, time.perf_counter() - t0)
            if progress:
                progress(done)


# -- processes on this machine ----------------------------------------------------------
_SHARED = None


def _init_worker(shared):
    global _SHARED
    _SHARED = shared
    _single_threaded_blas()


def _run_task(fn, task):
    return _call(fn, _SHARED, task)


def _local(fn, shared, tasks, on_result, workers, progress):
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    left = dict(tasks)
    done, losses = 0, 0
    while left:
        pool = ProcessPoolExecutor(min(workers, len(left)), mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(shared,))
        futures = {pool.submit(_run_task, fn, task): key for key, task in left.items()}
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for f in finished:
                    key = futures[f]
                    try:
                        status, *rest = f.result()
                    except BrokenProcessPool:
                        continue  # a worker was lost: this task runs again
                    if status == "error":
                        _raise(rest[0], key)
                    on_result(key, *rest)
                    del left[key]
                    done += 1
                    if progress:
                        progress(done)
        except BaseException:
            _stop(pool)
            raise
        if left:
            losses += 1
            _stop(pool)
            if losses > RETRIES:
                raise RuntimeError(f"worker processes were lost {losses} times; "
                                   f"{len(left)} cells did not finish")
        else:
            pool.shutdown()


def _stop(pool):
    # the executor ends its workers only once their tasks finish (Python 3.14 adds
    # terminate_workers): after an error or a Ctrl-C they are stopped now
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        if p.is_alive():
            p.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


# -- Ray ---------------------------------------------------------------------------------
INSTALL = "pip install 'synapsenet[ray]'"


def import_ray(loopback=False):
    """Ray, or a ConfigError saying how to install it. With ``loopback``, a cluster this
    process starts listens on 127.0.0.1 only (Ray's own switch for single-machine clusters,
    read when Ray is first imported), not on the machine's network address."""
    if loopback and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--backend ray needs Ray, which is not installed: {INSTALL}") \
            from None
    return ray


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Refuse an ``--address`` nothing answers at, at once and in one line (Ray itself
    retries for a long time). ``auto`` (the cluster ``ray start`` recorded) is Ray's to find."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.1:6379, "
                          "ray://10.0.0.1:10001 or auto)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        why = e.strerror or str(e) or type(e).__name__
        raise ConfigError(f"cannot reach a Ray cluster at {address}: {why}; start one with "
                          "'ray start --head', or leave out --address to start one here") \
            from None


def _ray_task(fn, shared, task):
    return _call(fn, shared, task)


def _ray(ray, fn, shared, tasks, on_result, workers, address, progress):
    started = False
    if not ray.is_initialized():
        started = True
        if address is None:
            cpus = workers or n_cores()
            ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        window = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        ref = ray.put(shared)  # once: every task reads it from the object store
        remote = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(_ray_task)
        queue, running, done = collections.deque(tasks), {}, 0
        while queue or running:
            while queue and len(running) < window:
                key, task = queue.popleft()
                running[remote.remote(fn, ref, task)] = key
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for r in ready:
                key = running.pop(r)
                try:
                    status, *rest = ray.get(r)
                except ray.exceptions.RayTaskError as e:
                    if "No module named 'synapsenet" in str(e):
                        raise ConfigError("the Ray cluster's workers cannot import synapsenet: "
                                          "install it (the same version) on every node") \
                            from None
                    raise
                if status == "error":
                    _raise(rest[0], key)
                on_result(key, *rest)
                done += 1
                if progress:
                    progress(done)
    finally:
        if started:
            ray.shutdown()
