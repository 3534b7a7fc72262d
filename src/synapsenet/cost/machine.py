"""This machine, measured: what it is, and its wall time per inference and per epoch of a
real run; its energy only from a power figure the user gives (watts × seconds)."""

from __future__ import annotations

import copy
import os
import platform
import time

import numpy as np


def describe() -> dict:
    """CPU model and cores, and the BLAS NumPy uses (threadpoolctl, where installed)."""
    out = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    out["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        out["blas"] = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} "
                       f"threads, {i.get('architecture')})" for i in threadpool_info()
                       if i.get("user_api") == "blas"]
    except ImportError:
        out["blas"] = ["unknown (threadpoolctl not installed)"]
    return out


def time_inference(network, X, single=200) -> dict:
    """Wall time per inference: batch 1 (the median over up to ``single`` one-row
    predictions) and in one batch of all of X (total / rows)."""
    X = np.asarray(X, network.dtype)
    rows = X[: max(1, min(single, len(X)))]
    network.predict(rows[:1])  # warm: buffers, the compiled engine
    times = []
    for i in range(len(rows)):
        t0 = time.perf_counter()
        network.predict(rows[i:i + 1])
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    network.predict(X)
    batched = (time.perf_counter() - t0) / len(X)
    return {"batch1_s": float(np.median(times)), "batched_s": batched, "rows": len(X),
            "batch1_rows": len(rows)}


def time_epoch(network, X, y, **fit) -> dict:
    """One training epoch of a copy of ``network`` (digital) on (X, y): wall time, updates,
    and the digital substrate's counters of it."""
    from ..network import Network

    net = Network([copy.deepcopy(layer) for layer in network.layers], seed=network.seed)
    t0 = time.perf_counter()
    history = net.fit(X, y, epochs=1, **fit)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "samples": len(X), "updates": history.updates,
            "counters": net.substrate.counters.layers, "engine": net.train_config.get("engine")}


def energy(seconds, watts):
    """Joules from a measured time and a power the user gives (None: not estimated)."""
    return None if watts is None else seconds * float(watts)
