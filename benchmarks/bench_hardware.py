"""Simulated analog inference against digital inference, in the same run.

MNIST's 10,000 test images through a 784-256-10 ReLU/softmax network (trained for 2 epochs:
the weights' values do not change the cost), digital `Network.predict` against
`hardware.deploy(net, preset).predict` for the presets. Timed as the training benchmark times
its peers (`synapsenet.bench.interleaved`): in alternation, 7 rounds, each round repeating a
call for at least 0.25 s after 0.3 s of sleep, so that neither side's thread pool (OpenBLAS
threads busy-wait ~0.1 s after a job) takes a core from the other. The figure is the median
of the per-round ratios, with the best time of each. A third peer in the same rounds is the
chip with its read in NumPy's lines (``_engine.using(fused_read=0)``: ``CrossbarArray._read``,
the twin of the one-call read ``_accel/chipread.c``), for that path's A/B.

    python benchmarks/bench_hardware.py [--data-dir ../shared/data] [--threads 2]
"""

import json

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import synapsenet as sn
from _common import mnist, parse_args
from synapsenet import _engine, hardware
from synapsenet.bench import interleaved


def main():
    a = parse_args(__doc__)
    X, y, Xt, yt = mnist(a.data_dir)
    net = sn.Network.from_sizes([784, 256, 10], hidden="relu", output="softmax", seed=0)
    out = {"threads": a.threads}
    with threadpool_limits(a.threads):
        out["blas"] = [f"{i['internal_api']} {i['version']}" for i in threadpool_info()]
        net.fit(X, y, epochs=2, learning_rate=0.05, loss="cross_entropy", batch_size=64,
                optimizer="momentum")
        for preset in ("ideal", "pcm", "rram"):
            chip = hardware.deploy(net, preset, seed=0, threads=a.threads)
            def numpy_read(chip=chip):
                with _engine.using(fused_read=0):
                    chip.predict(Xt)

            times = interleaved({"digital": lambda: net.predict(Xt),
                                 "chip": lambda chip=chip: chip.predict(Xt),
                                 "numpy_read": numpy_read}, rounds=7)
            ratios = [c / d for c, d in zip(times["chip"], times["digital"])]
            gain = float(np.median([n / c for n, c in zip(times["numpy_read"], times["chip"])]))
            acc = chip.evaluate(Xt, yt)["accuracy"]
            med = float(np.median(ratios))
            out.setdefault("digital_s", []).append(min(times["digital"]))
            out[preset] = {"best_seconds": min(times["chip"]), "median_ratio": med,
                           "ratios": ratios, "accuracy": acc,
                           "digital_best_seconds": min(times["digital"]),
                           "numpy_read_best_seconds": min(times["numpy_read"]),
                           "one_call_read_gain": gain}
            print(f"{preset:>6}: {1e3 * min(times['chip']):7.1f} ms (best; digital "
                  f"{1e3 * min(times['digital']):.1f})  ×{med:.2f} of digital (median of 7 "
                  f"rounds; {min(ratios):.2f}–{max(ratios):.2f})   accuracy {100 * acc:.2f}%"
                  f"   one-call read ×{gain:.2f} over NumPy's lines "
                  f"({1e3 * min(times['numpy_read']):.1f} ms)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
