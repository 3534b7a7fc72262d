"""Plain SGD, mixed precision and Tiki-Taka on devices where plain SGD struggles: accuracy.

scikit-learn's digits (8×8 images, pixels / 16; 1,400 images to train, the other 397 to
test), a 64-32-10 network (sigmoid, softmax, cross-entropy), 5 epochs of mini-batches of 8 at
learning rate η, trained in situ on an otherwise ideal chip (``hardware.load_config("ideal")``,
one device against a reference column), with the deterministic pulse scheme. Each
configuration runs with several seeds (the network's initial weights, the chip's devices, the
batches); printed: each seed's test accuracy, and the mean. The same network trained
digitally by SGD is the reference.

    python benchmarks/bench_algorithms.py [--seeds 5] [--json FILE]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import synapsenet as sn
from synapsenet import datasets, hardware

# name: (device law as TOML, η, what makes it hard for plain SGD)
DEVICES = {
    "soft-bounds": ('law = "soft_bounds"\ndw_min = 0.002\nw_min = -1.0\nw_max = 1.0\n', 0.3,
                    "steps shrink towards each bound: up and down differ everywhere but at "
                    "the symmetry point (about 1,000 states, no noise)"),
    "reram-es (no C2C)": ('preset = "reram-es"\ndw_min_std = 0.0\nwrite_noise_std = 0.0\n',
                          0.3, "aihwkit's ReRAM ExpStep preset, its device-to-device spread "
                          "kept, its cycle-to-cycle and write noise left out"),
    "linear, 50 states": ('law = "ideal"\ndw_min = 0.04\nw_min = -1.0\nw_max = 1.0\n', 0.1,
                          "coarse steps: most updates are less than half a step"),
    "hzo-fefet": ('preset = "hzo-fefet"\n', 0.1, "NeuroSim's HZO FeFET, 32 levels, "
                  "nonlinear"),
}
ALGORITHMS = ("sgd", "mixed_precision", "tiki_taka")


def data():
    ds = datasets.load("digits")
    X, y = (ds.X / 16.0).astype(np.float32), ds.y
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    return X[:1400], y[:1400], X[1400:], y[1400:]


def accuracy(device_file, algorithm, eta, seed, split):
    Xtr, ytr, Xte, yte = split
    net = sn.Network.from_sizes([64, 32, 10], hidden="sigmoid", output="softmax", seed=seed)
    if device_file is not None:
        cfg = hardware.load_config("ideal").replace(**{
            "learning.device": device_file, "learning.algorithm": algorithm,
            "learning.synapse": "reference"})
        net = hardware.deploy(net, cfg, seed=seed)
    net.fit(Xtr, ytr, epochs=5, learning_rate=eta, loss="cross_entropy", batch_size=8,
            seed=seed)
    return float(net.evaluate(Xte, yte)["accuracy"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    split = data()
    seeds = range(a.seeds)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for eta in sorted({v[1] for v in DEVICES.values()}):
            accs = [accuracy(None, None, eta, s, split) for s in seeds]
            results[f"digital SGD, η = {eta}"] = {"digital": accs}
            print(f"{'digital SGD, η = ' + str(eta):<28} {_row(accs)}")
        for name, (toml, eta, why) in DEVICES.items():
            path = Path(tmp) / "device.toml"
            path.write_text(toml)
            print(f"\n{name} (η = {eta}): {why}")
            results[name] = {}
            for alg in ALGORITHMS:
                t0 = time.perf_counter()
                accs = [accuracy(str(path), alg, eta, s, split) for s in seeds]
                results[name][alg] = accs
                print(f"  {alg:<26} {_row(accs)}  ({time.perf_counter() - t0:.1f} s)")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))


def _row(accs):
    return " ".join(f"{x:.3f}" for x in accs) + f"   mean {np.mean(accs):.3f}"


if __name__ == "__main__":
    main()
