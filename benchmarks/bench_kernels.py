"""Each compiled path against its simpler alternative, in the same run (same-run A/B).

    python benchmarks/bench_kernels.py [--threads 2] [--rounds 9] [--data-dir ../shared/data]

Variants, all in one process, timed in alternation round after round (``synapsenet.bench``'s
``interleaved``), each a one-epoch ``Network.fit`` of 784-256-10 (ReLU, softmax,
cross-entropy, plain SGD) on 20,000 samples, and inference of 10,000 rows:

* ``shipped``      the settings as shipped (our AVX-512 product where it applies, the loops
                   compiled for the CPU's best instruction set, NumPy's BLAS);
* ``blas_product`` every forward product OpenBLAS's (``own_gemm_max=0``);
* ``full_product`` our products over every input, the zeros of a block of rows included
                   (``sparse_share=0``: the forward product's and the update's);
* ``blas_update``  the weight update's product Zᵀδ all OpenBLAS's, the forward product still
                   over the inputs used (``gathered_update=0``);
* ``avx2_loops``   no AVX-512 at all: the loops compiled for AVX2, OpenBLAS's products;
* ``portable``     the loops compiled for any CPU (x86-64's SSE2), OpenBLAS's products;
* ``scipy_blas``   as shipped but on SciPy's BLAS (the cython_blas capsules) instead of
                   NumPy's (only where SciPy's route loads).

Each line prints samples/s (best pass) and, per variant, the median over rounds of its time
over ``shipped``'s (above 1: the variant is slower, i.e. the shipped path gains that much).
Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine.
"""

import argparse
import contextlib

import numpy as np
from threadpoolctl import threadpool_limits

import synapsenet as sn
from synapsenet import _blas, _engine, bench


def variants():
    """name → a context manager factory that puts the library in that variant."""
    out = {
        "shipped": contextlib.nullcontext,
        "blas_product": lambda: _engine.using(own_gemm_max=0),
        "full_product": lambda: _engine.using(sparse_share=0),
        "blas_update": lambda: _engine.using(gathered_update=0),
        "avx2_loops": lambda: _engine.using(isa="avx2"),
        "portable": lambda: _engine.using(isa="portable"),
    }
    try:
        scipy_gemm = _engine._LIB.sn_gemm_from_fortran(_blas._ScipyRoute().pointers["sgemm"])
    except ImportError:  # pragma: no cover - SciPy absent
        return out

    @contextlib.contextmanager
    def on_scipy():
        before, _engine._GEMM = _engine._GEMM, scipy_gemm
        _engine._close_kept()  # an engine keeps the sgemm of its creation
        try:
            yield
        finally:
            _engine._GEMM = before
            _engine._close_kept()

    if _blas.ROUTE is None or _blas.ROUTE.name != "scipy":
        out["scipy_blas"] = on_scipy
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--batches", default="64,256,1024")
    p.add_argument("--data-dir")
    args = p.parse_args()
    if not _engine.AVAILABLE:
        raise SystemExit("the compiled engine is not built")
    X, y, source = bench.data(20000, data_dir=args.data_dir)
    kinds = variants()
    print(f"data {source}; threads {args.threads}; CPU {_engine.cpu_isa()}; "
          f"BLAS route {_blas.ROUTE.name}; {_engine.COMPILER}")
    with threadpool_limits(limits=args.threads):
        for batch in map(int, args.batches.split(",")):
            passes = {}
            for name, ctx in kinds.items():
                net = sn.Network.from_sizes([784, 256, 10], hidden="relu", output="softmax",
                                            seed=0)

                def run(net=net, ctx=ctx, batch=batch):
                    with ctx():
                        net.fit(X, y, epochs=1, learning_rate=0.01, loss="cross_entropy",
                                seed=0, batch_size=batch)

                passes[name] = run
            report(f"train batch {batch}", bench.interleaved(passes, args.rounds), len(X))
        Xi = np.ascontiguousarray(np.resize(X, (10000, 784)))
        net = sn.Network.from_sizes([784, 256, 10], hidden="relu", output="softmax", seed=0)

        def infer(ctx):
            def run():
                with ctx():
                    net.predict(Xi)
            return run

        passes = {name: infer(ctx) for name, ctx in kinds.items()}
        report("inference 10,000 rows", bench.interleaved(passes, args.rounds), len(Xi))


def report(what, times, n):
    base = np.array(times["shipped"])
    parts = [f"{name} {n / min(t):,.0f}/s" + ("" if name == "shipped" else
             f" (time ×{np.median(np.array(t) / base):.3f})") for name, t in times.items()]
    print(f"{what}: " + ", ".join(parts), flush=True)


if __name__ == "__main__":
    main()
