"""Simulated analog inference against digital inference, in the same run.

MNIST's 10,000 test images through a 784-256-10 ReLU/softmax network (trained for 2 epochs:
the weights' values do not change the cost), digital `Network.predict` against
`hardware.deploy(net, preset).predict` for the presets. The two are timed alternately, 9 pairs,
and the median of the per-pair ratios is reported (robust to a noisy machine), with the best
time of each.

    python benchmarks/bench_hardware.py [--data-dir ../shared/data] [--threads 2]
"""

import json
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import synapsenet as sn
from _common import mnist, parse_args
from synapsenet import hardware


def best(fn, n=5):
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    a = parse_args(__doc__)
    X, y, Xt, yt = mnist(a.data_dir)
    net = sn.Network.from_sizes([784, 256, 10], hidden="relu", output="softmax", seed=0)
    out = {"threads": a.threads}
    with threadpool_limits(a.threads):
        out["blas"] = [f"{i['internal_api']} {i['version']}" for i in threadpool_info()]
        net.fit(X, y, epochs=2, learning_rate=0.05, loss="cross_entropy", batch_size=64,
                optimizer="momentum")
        digital = best(lambda: net.predict(Xt))
        out["digital_s"] = digital
        print(f"digital inference, 10,000 images: {1e3 * digital:.1f} ms (best)")
        for preset in ("ideal", "pcm", "rram"):
            chip = hardware.deploy(net, preset, seed=0)
            ratios, times = [], []
            chip.predict(Xt)
            for _ in range(9):
                d = best(lambda: net.predict(Xt), n=1)
                t = best(lambda chip=chip: chip.predict(Xt), n=1)
                ratios.append(t / d)
                times.append(t)
            acc = chip.evaluate(Xt, yt)
            med = float(np.median(ratios))
            out[preset] = {"best_seconds": min(times), "median_ratio": med,
                           "ratios": ratios, "accuracy": acc}
            print(f"{preset:>6}: {1e3 * min(times):7.1f} ms (best)  ×{med:.2f} of digital "
                  f"(median of 9 pairs; {min(ratios):.2f}–{max(ratios):.2f})   "
                  f"accuracy {100 * acc:.2f}%")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
