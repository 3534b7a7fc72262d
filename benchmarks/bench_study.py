"""Studies on 1 worker and on 2: a 48-cell inference sweep and an 8-cell training study, on
the local backend and on Ray, with the speed-up and Ray's overhead per task.

The sweep deploys a trained network on 48 simulated chips (6 ADC resolutions × 4 read-noise
levels × 2 seeds) and scores each on held-out samples (MNIST's 10,000 test images when
--data-dir holds MNIST, else the digits' 360); the training study trains a 64-64-10 network on
the digits at 8 cells (2 learning rates × 2 hidden activations × 2 seeds). Each runs with 1
and with 2 workers, on the local backend (1 worker: in this process; 2: two processes) and on
a Ray cluster of 2 CPUs started here on the loopback interface (its start-up timed apart).
Every configuration must give the same rows: the script checks it.

Ray's overhead per task is measured twice: as (the study's wall time on 1 Ray worker − its wall
time in this process) ÷ tasks, and as the round trip of 200 empty tasks. Each kind runs once
first, unmeasured, so that no configuration pays for the first imports. The scaling
estimate for a larger cluster is then ⌈cells ÷ workers⌉ × (task time + overhead) + start-up:
printed for 100 and 1,000 cells of each kind.

    python benchmarks/bench_study.py [--data-dir ../shared/data] [--json results.json]
"""

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data", help="folder with the MNIST files")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--no-ray", action="store_true", help="the local backend only")
    a = p.parse_args()
    from synapsenet import runs
    from synapsenet.hardware.config import load_config
    from synapsenet.study import Axis, inference, training

    net, X, y, what = model(a.data_dir)
    sweep_axes = [Axis("adc_bits", (3, 4, 5, 6, 7, 8)), Axis("read_noise", (0.0, 0.02, 0.05, 0.1))]
    base, _ = runs.resolve_options({"layers": "64", "epochs": 40})
    study_axes = [Axis("learning_rate", (0.5, 1.0)), Axis("hidden", ("sigmoid", "tanh"))]
    kinds = {
        "sweep": lambda backend, w, out: inference.sweep(
            net, X, y, load_config("pcm"), sweep_axes, seeds=2, backend=backend, workers=w),
        "study": lambda backend, w, out: training.study(
            base, study_axes, seeds=2, out=out, backend=backend, workers=w),
    }
    backends = ["local"] + ([] if a.no_ray else ["ray"])
    results = {"machine": {"cpus": os.cpu_count()}, "sweep_data": what}
    startup = None
    if "ray" in backends:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
        import ray

        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
        startup = time.perf_counter() - t0
        results["ray_startup_s"] = startup
        results["ray_empty_task_s"] = empty_task_overhead(ray)
    print(f"{os.cpu_count()} CPU(s); sweep on {what}"
          + (f"; Ray cluster start-up {startup:.2f} s, empty task round trip "
             f"{1e3 * results['ray_empty_task_s']:.2f} ms" if startup is not None else ""))
    for kind, run in kinds.items():
        with tempfile.TemporaryDirectory() as tmp:
            run("local", 1, Path(tmp) / "s")  # warm-up: imports, the data's first load
        rows, table = None, {}
        for backend in backends:
            for w in (1, 2):
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    r = run(backend, w, Path(tmp) / "s")
                    wall = time.perf_counter() - t0
                assert rows is None or r["rows"] == rows, f"{kind}: {backend} × {w} differs"
                rows = r["rows"]
                table[f"{backend}-{w}"] = {"wall_s": wall, "task_s": r["timing"]["task_seconds"],
                                           "cells": r["cells"]}
        cells = table["local-1"]["cells"]
        task = table["local-1"]["task_s"] / cells  # one task's own time, in this process
        line = {k: f"{v['wall_s']:.2f} s" for k, v in table.items()}
        print(f"\n{kind}: {cells} cells, {1e3 * task:.1f} ms per task; wall " +
              ", ".join(f"{k} {v}" for k, v in line.items()))
        print(f"  speed-up 2 workers vs 1: local "
              f"{table['local-1']['wall_s'] / table['local-2']['wall_s']:.2f}×" +
              (f", ray {table['ray-1']['wall_s'] / table['ray-2']['wall_s']:.2f}×"
               if "ray-1" in table else ""))
        entry = {"cells": cells, "task_s": task, "runs": table}
        if "ray-1" in table:
            over = max(0.0, (table["ray-1"]["wall_s"] - table["local-1"]["wall_s"]) / cells)
            entry["ray_overhead_per_task_s"] = over
            print(f"  Ray's overhead per task: {1e3 * over:.2f} ms (1 worker: Ray's wall time − "
                  "this process's, ÷ tasks)")
            print("  estimate on a Ray cluster, ⌈cells ÷ workers⌉ × (task + overhead) + start-up:")
            est = {}
            for n in (100, 1000):
                for workers in (2, 16, 64):
                    t = math.ceil(n / workers) * (task + over) + (startup or 0.0)
                    est[f"{n}x{workers}"] = t
                print(f"    {n:>5} cells: " + ", ".join(
                    f"{workers} workers {est[f'{n}x{workers}']:.1f} s" for workers in (2, 16, 64)))
            entry["estimate_s"] = est
        results[kind] = entry
    if "ray" in backends:
        import ray

        ray.shutdown()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")


def empty_task_overhead(ray, n=200) -> float:
    @ray.remote(num_cpus=1)
    def nothing(i):
        return i

    ray.get([nothing.remote(i) for i in range(8)])  # the workers started
    t0 = time.perf_counter()
    for i in range(n):
        ray.get(nothing.remote(i))
    return (time.perf_counter() - t0) / n


def model(data_dir):
    """A trained network and held-out samples: MNIST 784-256-10 if the files are there, else
    the digits 64-64-10."""
    from synapsenet import Network, datasets

    try:
        ds = datasets.load("mnist", data_dir=data_dir, allow_download=False)
        X, y = (ds.X[:10000] / np.float32(255)), ds.y[:10000]
        Xt, yt = ds.X_test / np.float32(255), ds.y_test
        sizes, what = [784, 256, 10], "MNIST, 10,000 test images, 784-256-10"
    except Exception:  # noqa: BLE001 - no MNIST here: the digits
        from sklearn.datasets import load_digits

        D, t = load_digits(return_X_y=True)
        D = (D / 16).astype(np.float32)
        X, y, Xt, yt = D[:1437], t[:1437], D[1437:], t[1437:]
        sizes, what = [64, 64, 10], "digits, 360 held-out samples, 64-64-10"
    net = Network.from_sizes(sizes, seed=0)
    net.fit(X.astype(np.float32), y, epochs=3, learning_rate=1.0, batch_size=16, seed=0)
    return net, Xt.astype(np.float32), yt, what


if __name__ == "__main__":
    main()
