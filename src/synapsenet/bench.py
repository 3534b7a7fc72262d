"""Throughput benchmarks: synapsenet against PyTorch (CPU), scikit-learn and the GEMM roofline.

Every figure is measured in the same run, on the same data, with the same thread count:

* synapsenet: ``Network.fit`` for one pass over the samples (float32, plain SGD);
* PyTorch: a plain ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU`` with ``optim.SGD`` and
  ``cross_entropy``, the usual training loop over mini-batches;
* scikit-learn: ``MLPClassifier(solver="sgd")`` with ``partial_fit`` for one epoch (float32);
* roofline: NumPy's own float32 matmul on the same shapes as one training step
  (forward U = Z Wᵀ, backward dWᵀ = Zᵀ δ and G = δ W, in the fastest layouts), timed alone.
  Dividing its GFLOP/s by the network's FLOPs per sample gives the most samples/s any NumPy
  training loop can reach (for batches; a single sample's outer product is no GEMM).

* large SGEMM: one 4096³ float32 product by NumPy's BLAS, a peer in the same rounds; a
  training step's share of it is its GFLOP/s (the full products' FLOPs over its time) over
  the product's, round by round.

The peers are timed in alternation, round after round, so that the machine's drifts hit all
of them alike; each figure is a peer's best pass, and each ratio the median of the per-round
ratios.

Run: ``synapsenet bench [--json results.json]`` (or ``python benchmarks/bench_training.py``).
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time

import numpy as np


def flops_per_sample(sizes, train=True) -> int:
    """2 FLOPs per multiply-add; training does the forward product and two backward ones
    (none for the input layer's G)."""
    macs = sum(a * b for a, b in zip(sizes, sizes[1:]))
    if not train:
        return 2 * macs
    backward = 2 * macs - sizes[0] * sizes[1]
    return 2 * (macs + backward)


def roofline(sizes, batch) -> float:
    """GFLOP/s of NumPy float32 matmuls with the shapes of one training step."""
    rng = np.random.default_rng(0)
    WTs = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
    Zs = [rng.standard_normal((batch, a), dtype=np.float32) for a in sizes]
    Us = [np.empty((batch, b), np.float32) for b in sizes[1:]]
    dWTs = [np.empty_like(WT) for WT in WTs]
    Gs = [np.empty((batch, a), np.float32) for a in sizes[:-1]]

    def step():
        for i, WT in enumerate(WTs):
            np.matmul(Zs[i], WT, out=Us[i])  # U = Z Wᵀ
        for i in range(len(WTs) - 1, -1, -1):
            np.matmul(Zs[i].T, Us[i], out=dWTs[i])  # dWᵀ = Zᵀ δ
            if i:
                np.matmul(Us[i], WTs[i].T, out=Gs[i])  # G = δ W

    sec = min(interleaved({"gemm": step}, rounds=3, settle=0)["gemm"])
    return flops_per_sample(sizes) * batch / sec / 1e9


def interleaved(passes: dict, rounds=5, min_time=0.25, settle=0.3) -> dict:
    """Time several peers' passes in alternation: each round runs every peer once (repeating
    a pass until ``min_time``), so drifts of the machine's speed hit all of them alike.
    Before each, ``settle`` seconds of sleep let the previous peer's thread pool stop
    spinning (OpenBLAS and OpenMP workers busy-wait after a job, stealing the other core).
    Returns, per peer, the seconds per pass of every round."""
    for fn in passes.values():
        fn()  # warm up (allocations, BLAS threads)
    times = {name: [] for name in passes}
    for _ in range(rounds):
        for name, fn in passes.items():
            if settle:
                time.sleep(settle)
            n, t0 = 0, time.perf_counter()
            while True:
                fn()
                n += 1
                dt = time.perf_counter() - t0
                if dt >= min_time:
                    break
            times[name].append(dt / n)
    return times


def pass_synapsenet(sizes, X, y, batch):
    """One training pass (epoch) of ``Network.fit``."""
    import synapsenet as sn

    net = sn.Network.from_sizes(sizes, hidden="relu", output="softmax", seed=0)
    mode = {"mode": "sgd"} if batch == 1 else {"batch_size": batch}
    return lambda: net.fit(X, y, epochs=1, learning_rate=0.01, loss="cross_entropy", seed=0,
                           **mode)


def pass_torch(sizes, X, y, batch, threads):
    """One epoch of the usual PyTorch loop: nn.Sequential, optim.SGD, cross_entropy."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run():
        perm = torch.randperm(len(Xt))
        for s in range(0, len(Xt), batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
            opt.step()

    return run


def pass_sklearn(sizes, X, y, batch):
    """One epoch of MLPClassifier.partial_fit (plain SGD)."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="sgd", momentum=0.0,
                        batch_size=batch, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(X[:batch], y[:batch], classes=np.arange(sizes[-1]))

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(X, y)

    return run


def inference_passes(sizes, X, threads) -> dict:
    import synapsenet as sn

    net = sn.Network.from_sizes(sizes, hidden="relu", output="softmax", seed=0)
    passes = {"synapsenet": lambda: net.predict(X)}
    try:
        import torch

        torch.set_num_threads(threads)
        layers = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            layers.append(torch.nn.ReLU() if i < len(sizes) - 2 else torch.nn.Softmax(dim=1))
        model = torch.nn.Sequential(*layers)
        Xt = torch.from_numpy(X)

        def run_torch():
            with torch.inference_mode():
                model(Xt)

        passes["pytorch"] = run_torch
    except ImportError:
        pass
    return passes


def _summarise(times: dict, n: int) -> dict:
    """samples/s from the best pass of each peer, and synapsenet's ratio to each peer as the
    median of the per-round ratios."""
    out = {name: n / min(t) for name, t in times.items()}
    ours = times["synapsenet"]
    for name, t in times.items():
        if name != "synapsenet":
            out[f"ratio_{name}"] = float(np.median([b / a for a, b in zip(ours, t)]))
    return out


def data(n, n_in=784, n_classes=10, data_dir=None):
    """MNIST training images if found (÷255), else uniform random pixels. The speed is not
    quite the same: our forward product skips the inputs that are 0 in a whole block of rows,
    which MNIST's are, and random pixels are not."""
    try:
        from .datasets import load

        ds = load("mnist", data_dir=data_dir, allow_download=False)
        return (ds.X[:n] / np.float32(255)).astype(np.float32), ds.y[:n].astype(np.int64), "mnist"
    except Exception:
        rng = np.random.default_rng(0)
        return (rng.random((n, n_in), dtype=np.float32),
                rng.integers(0, n_classes, n).astype(np.int64), "random")


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2 ** 20


def mnist_training_rss(data_dir=None, threads=2) -> dict | None:
    """Peak resident memory of a separate process that loads MNIST and trains 784-256-10
    for one epoch, against the size of the training set as float32. (VmHWM, not ru_maxrss:
    on Linux a forked child's ru_maxrss starts at its parent's peak.)"""
    import subprocess

    code = ("import resource, sys, numpy as np, synapsenet as sn;"
            "from threadpoolctl import threadpool_limits;"
            f"ds = sn.datasets.load('mnist', data_dir={data_dir!r}, allow_download=False);"
            "X = sn.datasets.Scaler('255').fit(ds.X).transform(ds.X); y = ds.y; del ds;"
            "net = sn.Network.from_sizes([784, 256, 10], hidden='relu', output='softmax');"
            f"threadpool_limits({threads});"
            "net.fit(X, y, epochs=1, learning_rate=0.05, loss='cross_entropy', batch_size=64);"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')];"
            "kb = int(hwm[0].split()[1]) if hwm else "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
            "print(kb, X.nbytes)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    rss_kb, nbytes = map(int, p.stdout.split())
    return {"peak_rss_mb": rss_kb / 1024, "train_set_float32_mb": nbytes / 2 ** 20}


def large_sgemm(n=4096):
    """One large float32 product (n × n × n) by NumPy's BLAS, as a pass to time, and its FLOPs:
    this machine's rate with the threads it is given, the bar a training step is held to."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    C = np.empty((n, n), np.float32)
    return (lambda: np.matmul(A, B, out=C)), 2 * n ** 3


def run(threads=2, n=20000, quick=False, data_dir=None, peers=("pytorch", "sklearn"),
        rounds=5):
    from threadpoolctl import threadpool_info, threadpool_limits

    cases = [([784, 256, 10], b) for b in (1, 16, 64, 256, 1024)] + [([784, 800, 800, 10], 256)]
    if quick:
        cases = [([784, 256, 10], 64), ([784, 256, 10], 256)]
    X, y, source = data(n, data_dir=data_dir)
    rows = []
    sgemm_rates = []
    with threadpool_limits(limits=threads):
        sgemm, sgemm_flops = large_sgemm()
        blas = [f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                for i in threadpool_info()]
        for sizes, batch in cases:
            m = min(n, 3000 if batch == 1 else n)  # batch 1 is per-sample Python: fewer samples
            Xs, ys = X[:m], y[:m]
            passes = {"synapsenet": pass_synapsenet(sizes, Xs, ys, batch)}
            if "pytorch" in peers:
                try:
                    passes["pytorch"] = pass_torch(sizes, Xs, ys, batch, threads)
                except ImportError:
                    pass
            if "sklearn" in peers and batch > 1:
                passes["sklearn"] = pass_sklearn(sizes, Xs, ys, batch)
            if batch > 1:  # the large SGEMM in the same rounds: its share, round by round
                passes["large_sgemm"] = sgemm
            times = interleaved(passes, rounds)
            big = times.pop("large_sgemm", None)
            row = {"network": "-".join(map(str, sizes)), "batch": batch,
                   **_summarise(times, m)}
            row["roofline"] = roofline(sizes, batch) * 1e9 / flops_per_sample(sizes)
            row["gflops"] = row["synapsenet"] * flops_per_sample(sizes) / 1e9
            if big is not None:
                step = flops_per_sample(sizes) * m
                row["of_large_sgemm"] = float(np.median(
                    [(step / t) / (sgemm_flops / b) for t, b in zip(times["synapsenet"], big)]))
                sgemm_rates += [sgemm_flops / b / 1e9 for b in big]
            rows.append(row)
            print(_fmt_row(row), flush=True)
        rate = float(np.median(sgemm_rates))  # (every case list has a batch over 1)
        print(f"large SGEMM (4096³, {threads} threads, in the same rounds): {rate:,.0f} GFLOP/s "
              f"({min(sgemm_rates):,.0f}–{max(sgemm_rates):,.0f});"
              " training steps (the median of the rounds' ratios) "
              + ", ".join(f"{r['network']} batch {r['batch']} {100 * r['of_large_sgemm']:.0f} %"
                          for r in rows if "of_large_sgemm" in r), flush=True)
        Xi = np.ascontiguousarray(np.resize(X, (10000, 784)))
        inference = _summarise(interleaved(inference_passes([784, 256, 10], Xi, threads),
                                           rounds), len(Xi))
        # and on inputs without zeros, which our product cannot skip (MNIST's pixels are
        # 81 % zeros): uniform random pixels
        Xd = np.random.default_rng(1).random((10000, 784), dtype=np.float32)
        inference_dense = _summarise(interleaved(inference_passes([784, 256, 10], Xd,
                                                                  threads), rounds), len(Xd))
    return {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpus": os.cpu_count(), "python": platform.python_version(),
                        "numpy": np.__version__, "blas": blas, "threads": threads},
            "data": source, "samples": n, "training": rows, "large_sgemm_gflops": rate,
            "inference_batch_10000": inference,
            "inference_batch_10000_dense_inputs": inference_dense, "peak_rss_mb": peak_rss_mb(),
            "mnist_training_memory": mnist_training_rss(data_dir, threads)}


def _fmt_row(r):
    s = f"{r['network']:>16} batch {r['batch']:>5}: synapsenet {r['synapsenet']:>9,.0f}/s"
    if "pytorch" in r:
        s += f" | pytorch {r['pytorch']:>9,.0f}/s ×{r['ratio_pytorch']:.2f}"
    if "sklearn" in r:
        s += f" | sklearn {r['sklearn']:>9,.0f}/s ×{r['ratio_sklearn']:.2f}"
    s += f" | roofline {r['roofline']:>9,.0f}/s {100 * r['synapsenet'] / r['roofline']:.0f}%"
    return s

