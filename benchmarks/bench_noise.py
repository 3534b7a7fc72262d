"""The chip's Gaussian noise, compiled against its NumPy twin, in the same run (A/B).

Two peers timed in alternation (``synapsenet.bench.interleaved``, 7 rounds): ``compiled``,
as shipped (``_accel/noise.c``: the Box–Muller transform in one pass), and ``numpy``, the
same draws by NumPy's lines (``SYNAPSENET_ENGINE=numpy`` for the block, which also turns the
chip's one-call read off). Timed: ``hardware.noise.standard_normal``
alone on 10,000 × 260 float32 values with a σ per row from an SFC64 generator, as the chip
draws them, and ``deploy(net, "pcm").predict`` of MNIST's 10,000 test images through
784-256-10 (trained 2 epochs, as bench_hardware.py). Prints the best time of each and the
median over rounds of each peer's time over compiled's (above 1: the compiled pass is faster
by that much).

    python benchmarks/bench_noise.py [--data-dir ../shared/data] [--threads 2]
"""

import contextlib
import json
import os

import numpy as np
from threadpoolctl import threadpool_limits

import synapsenet as sn
from _common import mnist, parse_args
from synapsenet import _engine, hardware
from synapsenet.hardware import kernels
from synapsenet.bench import interleaved
from synapsenet.files import atomic_write_text
from synapsenet.hardware.noise import standard_normal


@contextlib.contextmanager
def numpy_noise():
    before = os.environ.get("SYNAPSENET_ENGINE")
    os.environ["SYNAPSENET_ENGINE"] = "numpy"
    try:
        yield
    finally:
        if before is None:
            del os.environ["SYNAPSENET_ENGINE"]
        else:
            os.environ["SYNAPSENET_ENGINE"] = before


def peers(fn):
    def under(ctx):
        def run():
            with ctx():
                fn()
        return run
    return {"compiled": fn, "numpy": under(numpy_noise)}


def report(what, times, out):
    base = np.array(times["compiled"])
    ratios = {k: float(np.median(np.array(v) / base)) for k, v in times.items()
              if k != "compiled"}
    best = {k: min(v) for k, v in times.items()}
    out[what] = {"best_seconds": best, "median_ratios": ratios, "rounds": times}
    print(f"{what}: " + ", ".join(f"{k} {1e3 * b:.2f} ms" + (f" ×{ratios[k]:.2f}" if k in ratios
                                                            else "") for k, b in best.items())
          + f" (best; ratios the median of {len(base)} rounds)", flush=True)


def main():
    a = parse_args(__doc__)
    why = kernels.normal_unsupported()
    if why is not None:
        raise SystemExit(f"the compiled noise does not run here: {why}")
    X, y, Xt, yt = mnist(a.data_dir)
    out = {"threads": a.threads, "isa": _engine.isa_in_use(), "compiler": _engine.COMPILER}
    print(f"threads {a.threads}; ISA {out['isa']}; {out['compiler']}")
    with threadpool_limits(a.threads):
        rng = np.random.Generator(np.random.SFC64(0))  # the chip's generator
        z = np.empty((10_000, 260), np.float32)
        sigma = rng.uniform(0.5, 2.0, len(z)).astype(np.float32)
        work = np.empty(z.size + 2, np.uint32)
        report("standard_normal 10,000 x 260", interleaved(
            peers(lambda: standard_normal(rng, z, work, sigma)), rounds=7), out)
        net = sn.Network.from_sizes([784, 256, 10], hidden="relu", output="softmax", seed=0)
        net.fit(X, y, epochs=2, learning_rate=0.05, loss="cross_entropy", batch_size=64,
                optimizer="momentum")
        chip = hardware.deploy(net, "pcm", seed=0, threads=a.threads)
        report("pcm predict 10,000", interleaved(peers(lambda: chip.predict(Xt)), rounds=7), out)
    if a.json:
        atomic_write_text(a.json, json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
