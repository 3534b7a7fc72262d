"""How long `synapsenet reproduce neurosim` takes: each configuration's epochs, measured.

Each of NeuroSim V3.0's seven devices and the software baseline runs a few epochs of the
benchmark (8,000 images at batch 1 and the 10,000-image test) in this process, one after the
other, BLAS on one thread as the command runs them. Printed per configuration: seconds per
epoch, wall and CPU (CPU time is what the run costs when other programs share the cores), and
microseconds per training step; then the full run's estimate, 125 epochs of every
configuration packed onto the given number of cores as the command's processes take them.
Early epochs pulse more than later ones, so the estimate from the first epochs is on the
high side.

    python benchmarks/bench_reproduce.py [--data-dir ../shared/data] [--epochs 2] [--cores 2]
        [--devices NAME,…] [--no-meter]
"""

import argparse
import json
import os
import time

from synapsenet.hardware import reproduce as rp


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data", help="folder with the MNIST files")
    p.add_argument("--epochs", type=int, default=2, help="epochs per configuration")
    p.add_argument("--cores", type=int, default=2, help="cores of the estimate (default 2)")
    p.add_argument("--devices", help="configurations (default: all eight)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--no-meter", action="store_true", help="leave the chips unmetered (the "
                   "command meters them, to price the run): the difference is the meter's cost")
    a = p.parse_args()
    names = a.devices.split(",") if a.devices else rp.CONFIGURATIONS
    data = rp.load_data(a.data_dir)
    protocol = rp.Protocol(epochs=a.epochs)
    rows = {}
    print(f"{a.epochs} epoch(s) each of {protocol.images_per_epoch:,} images; BLAS 1 thread; "
          f"{os.cpu_count()} CPU(s); chips {'un' if a.no_meter else ''}metered")
    for name in names:
        t0 = time.perf_counter()
        rec = rp.run_one(name, data, protocol, meter=not a.no_meter)
        wall, cpu = (time.perf_counter() - t0) / a.epochs, rec["cpu_seconds"] / a.epochs
        rows[name] = {"wall_per_epoch": wall, "cpu_per_epoch": cpu,
                      "us_per_step": 1e6 * cpu / protocol.images_per_epoch}
        print(f"{name:>10}: {wall:5.2f} s/epoch wall, {cpu:5.2f} s CPU, "
              f"{rows[name]['us_per_step']:4.0f} µs per step (test included)", flush=True)
    # the command's processes take configurations in order, each the next when it is free
    free = [0.0] * a.cores
    for name in sorted(names, key=lambda n: n == rp.SOFTWARE):
        free[free.index(min(free))] += 125 * rows[name]["cpu_per_epoch"]
    total = max(free)
    print(f"125 epochs of all on {a.cores} core(s): about {total / 60:.1f} minutes of "
          "computing (CPU time, each core free)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"epochs": a.epochs, "cores": a.cores, "configurations": rows,
                       "estimate_seconds": total}, f, indent=2)


if __name__ == "__main__":
    main()
