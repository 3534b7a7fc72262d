"""One harness for every compiled kernel against its NumPy twin (bottleneck's pattern).

NumPy states each equation once; the compiled library (``synapsenet._engine``, behind the
Digital substrate) computes the same ones faster. Each kernel is run here against its twin:

    training step     TrainingEngine (via fit)  ↔  Network.train_step on Digital's forward,
                                                   backward and update, then the optimiser
    inference         Forward (via predict)     ↔  Network.predict's loop over the layers
    matrix product    sn_matmul                 ↔  NumPy's matmul in float64

over sizes × activations × losses × optimisers × batch sizes × thread counts × kernel modes,
asserting agreement to float32 rounding (the compiled step adds per-thread partial products
in another order, so weights agree to rounding, not bit for bit) and that each forced mode
took the paths it was meant to take (the library reports them). The compiled kernels take
float32 only; float64 networks run on NumPy (test_engine.py checks that they say so).

Kernel modes (``_engine.using``): ``default`` as shipped; ``forced_on`` every size threshold at
its lowest, so each optional path runs at any size; ``blas_products`` every product OpenBLAS's;
``avx2`` and ``portable`` the x86 AVX-512 kernels off, the element-wise loops compiled for
AVX2 or for any CPU. With ``SYNAPSENET_KERNELS=portable`` in the environment (a CI step) no
mode turns the AVX-512 kernels on, so the whole harness runs without them.
"""

import ctypes
import functools
import os

import numpy as np
import pytest
from conftest import four_classes

import synapsenet as sn
from synapsenet import _engine
from synapsenet.substrate import Digital

if os.environ.get("SYNAPSENET_REQUIRE_ENGINE") == "1":
    assert _engine.AVAILABLE, "the compiled engine was not built (is a C compiler installed?)"
pytestmark = pytest.mark.skipif(not _engine.AVAILABLE, reason="the compiled engine is not "
                                "built here (no C compiler at install): the NumPy engine runs")

MODES = {
    "default": {},
    "forced_on": _engine.FORCED_ON,  # our product at any size, over the inputs used only
    "own_dense": {**_engine.FORCED_ON, "sparse_share": 0},  # our product, over every input
    "blas_products": {"own_gemm_max": 0},  # every product BLAS's, the loops as shipped
    "avx2": {"isa": "avx2"},  # no AVX-512 kernel: BLAS's products, the loops for AVX2
    "portable": {"isa": "portable"},  # the loops for any CPU
}

#: the paths of our product in the modes that force it
OWN = {"forced_on": {"own_gemm", "own_sparse"}, "own_dense": {"own_gemm"}}


def avx512_in(mode) -> bool:
    """Whether the AVX-512 kernels run in this mode, on this CPU, in this environment."""
    with _engine.using(**MODES[mode]):
        return _engine.own_products()


def loops_in(mode) -> str:
    """The instruction set of the element-wise loops in this mode, here."""
    with _engine.using(**MODES[mode]):
        return _engine.isa_in_use()


# -- the training step ---------------------------------------------------------------------
CASES = [  # sizes, activations, loss, fit options
    ([20, 32, 4], ["relu", "softmax"], "cross_entropy", {}),
    ([20, 32, 4], ["relu", "softmax"], "cross_entropy", {"optimizer": "adam"}),
    ([20, 48, 4], ["tanh", "softmax"], "cross_entropy",
     {"optimizer": "adam", "weight_decay": 1e-3, "batch_size": 50}),
    ([20, 40, 24, 4], ["tanh", "sigmoid", "softmax"], "cross_entropy", {"batch_size": 7}),
    ([20, 40, 24, 4], ["relu", "relu", "sigmoid"], "squared_error", {"optimizer": "adam"}),
    ([20, 4], ["softmax"], "cross_entropy", {}),  # a single layer: its inputs are split
    ([20, 33, 4], ["sigmoid", "softmax"], "squared_error", {}),  # softmax's Jacobian
    ([20, 33, 4], ["relu", "sigmoid"], "binary_cross_entropy", {"weight_bound": 0.3}),
    ([20, 100, 4], ["identity", "tanh"], "squared_error", {"shuffle": False}),
    ([20, 17, 4], ["relu", "softmax"], "cross_entropy", {"mode": "sgd", "batch_size": None}),
    ([20, 40, 24, 4], ["relu", "tanh", "softmax"], "cross_entropy", {"optimizer": "momentum"}),
    ([20, 32, 4], ["sigmoid", "softmax"], "cross_entropy",
     {"optimizer": "nesterov", "weight_decay": 1e-3, "weight_bound": 0.5}),
    ([20, 32, 4], ["relu", "sigmoid"], "squared_error", {"weight_decay": 1e-2}),
    # larger batches
    ([20, 40, 4], ["relu", "softmax"], "cross_entropy", {"batch_size": 64}),
    ([20, 33, 4], ["tanh", "sigmoid"], "squared_error", {"batch_size": 40, "optimizer": "adam"}),
    ([20, 40, 24, 4], ["relu", "relu", "softmax"], "cross_entropy",
     {"batch_size": 100, "optimizer": "momentum", "weight_bound": 0.5}),
    ([20, 40, 4], ["relu", "softmax"], "cross_entropy", {"batch_size": 150}),
    ([20, 33, 4], ["sigmoid", "softmax"], "squared_error", {"batch_size": 128,
                                                           "optimizer": "adam"}),
    # wider outputs, and hidden widths of whole vectors or not
    ([20, 48, 20], ["relu", "softmax"], "cross_entropy", {"batch_size": 64}),
    ([20, 64, 16], ["relu", "identity"], "squared_error", {"batch_size": 33,
                                                          "optimizer": "adam"}),
    ([20, 37, 100, 4], ["relu", "relu", "softmax"], "cross_entropy", {"batch_size": 25}),
    # a layer beyond our product's default size on one thread (a thread's share of it within)
    ([20, 600, 500, 4], ["relu", "tanh", "softmax"], "cross_entropy", {"batch_size": 64}),
]


@pytest.fixture(scope="module")
def data():
    return four_classes()


def _fit(X, y, case, engine, threads=1):
    sizes, acts, loss, kw = case
    kw = dict(kw)
    bound = kw.pop("weight_bound", None)
    if sizes[-1] > 4:  # more classes than the data has: targets of the network's width
        y = np.eye(sizes[-1], dtype=np.float32)[y]
    net = sn.Network.from_sizes(sizes, activations=acts, seed=3).on(Digital(weight_bound=bound))
    kw = {"learning_rate": 0.05, "batch_size": 16, "seed": 0, "loss": loss, **kw}
    h = net.fit(X, y, epochs=2, **kw)
    want = "compiled" if engine else "numpy"
    assert net.train_config["engine"].startswith(want), net.train_config["engine"]
    return net, h


@functools.lru_cache(maxsize=None)
def _numpy_twin(i):
    """The NumPy engine's fit of case i (once per case; every kernel mode compares to it)."""
    rng = np.random.default_rng(1)
    X = rng.random((300, 20), dtype=np.float32)
    y = rng.integers(0, 4, 300)
    before = os.environ.get("SYNAPSENET_ENGINE")
    os.environ["SYNAPSENET_ENGINE"] = "numpy"
    try:
        return _fit(X, y, CASES[i], engine=False)
    finally:
        if before is None:
            del os.environ["SYNAPSENET_ENGINE"]
        else:  # pragma: no cover
            os.environ["SYNAPSENET_ENGINE"] = before


def expected_training_paths(case, threads, mode) -> set[str] | None:
    """The optional paths the forced modes must take (None: no claim for the default ones)."""
    if mode in ("blas_products", "avx2", "portable"):
        return set()
    if mode not in ("forced_on", "own_dense"):
        return None
    sizes = case[0]
    if not avx512_in(mode):
        return set()
    # a hidden layer's forward product is ours (the output layer's is always BLAS's)
    paths = set(OWN[mode]) if len(sizes) > 2 else set()
    if mode == "forced_on" and gathers_gradient(sizes, threads):
        paths.add("own_gradient")
    return paths


def gathers_gradient(sizes, threads) -> bool:
    """Whether some thread's share of some layer's update is whole vectors of 16 outputs (our
    gathered tiles then make it; engine.c splits a hidden layer's neurons among the threads in
    whole cache lines of 16, and each thread updates the output layer's weights from its share
    of the inputs: every output)."""
    T = threads
    for n in sizes[1:-1]:  # the hidden layers' neurons, split
        cuts = [n if t == T else min(n, (n * t // T + 8) // 16 * 16) for t in range(T + 1)]
        if any(b > a and (b - a) % 16 == 0 for a, b in zip(cuts, cuts[1:])):
            return True
    return sizes[-1] % 16 == 0


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("i", range(len(CASES)),
                         ids=["-".join(map(str, c[0])) + f"-{c[1][-1]}-{k}"
                              for k, c in enumerate(CASES)])
def test_training_step_matches_its_numpy_twin(monkeypatch, data, i, threads, mode):
    X, y = data
    a, ha = _numpy_twin(i)
    monkeypatch.setenv("SYNAPSENET_ENGINE", "compiled")
    monkeypatch.setattr(_engine, "threads_for", lambda net, batch, *_: threads)
    engines = []
    acquire = _engine.TrainingEngine.acquire
    monkeypatch.setattr(_engine.TrainingEngine, "acquire",
                        lambda *args: engines.append(acquire(*args)) or engines[-1])
    with _engine.using(**MODES[mode]):
        b, hb = _fit(X, y, CASES[i], engine=True, threads=threads)
    kw = CASES[i][3]
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(q, p, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-5)
    if ha.accuracy[0] is not None:
        assert hb.accuracy == pytest.approx(ha.accuracy, abs=1 / len(X))
    assert hb.updates == ha.updates and b.optimizer.t == a.optimizer.t
    public = lambda opt: sorted(k for k in opt.state if not k.startswith("_"))
    assert public(a.optimizer) == public(b.optimizer)
    for s in public(a.optimizer):  # Adam's moments, momentum's velocity, in either layout
        for p, q in zip(a.optimizer.state[s], b.optimizer.state[s]):
            np.testing.assert_allclose(q, p, rtol=1e-4, atol=1e-7)
    if "weight_bound" in kw:
        assert all(np.abs(p).max() <= kw["weight_bound"] for p in b.parameters())
        assert b.train_config["substrate"]["weight_bound"] == kw["weight_bound"]
    assert engines and all(e.loops == loops_in(mode) for e in engines)
    paths = set().union(*(_engine.path_names(e.paths) for e in engines))
    want = expected_training_paths(CASES[i], threads, mode)
    if want is not None:
        assert paths == want, (paths, want)
    if not avx512_in(mode):
        assert not paths


# -- inference ------------------------------------------------------------------------------
NETS = [  # sizes, activations
    ([30, 50, 40], ["relu", "softmax"]),  # wide output, not whole vectors: BLAS's product
    ([30, 50, 40, 7], ["tanh", "sigmoid", "identity"]),
    ([30, 50, 40], ["sigmoid", "relu"]),
    ([30, 50, 40], ["identity", "tanh"]),
    ([30, 50, 7], ["relu", "softmax"]),  # narrow output
    ([30, 64, 32], ["relu", "softmax"]),  # wide output of whole vectors: our product
    ([30, 16], ["softmax"]),  # one layer
]


def expected_inference_paths(sizes, mode) -> set[str] | None:
    if mode in ("blas_products", "avx2", "portable"):
        return set()
    if mode not in ("forced_on", "own_dense"):
        return None
    # ours for hidden layers, and for the output layer when it is whole vectors wide
    return OWN[mode] if avx512_in(mode) and (len(sizes) > 2 or sizes[-1] % 16 == 0) \
        else set()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("rows", [1, 7, 100, 9000])
@pytest.mark.parametrize("sizes,acts", NETS, ids=["-".join(map(str, n[0])) + f"-{n[1][-1]}"
                                                 for n in NETS])
@pytest.mark.parametrize("zeros", [0.0, 0.85])  # inputs like MNIST's pixels: most are 0
def test_inference_matches_its_numpy_twin(monkeypatch, sizes, acts, rows, mode, zeros):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, sizes[0])).astype(np.float32)
    X[rng.random(X.shape) < zeros] = 0
    net = sn.Network.from_sizes(sizes, activations=acts, seed=1)
    monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy")
    assert not _engine.Forward.supports(net)
    twin = net.predict(X)
    monkeypatch.setenv("SYNAPSENET_ENGINE", "compiled")
    assert _engine.Forward.supports(net)
    with _engine.using(**MODES[mode]):
        forward = _engine.Forward(net)
        out = np.empty_like(twin)
        assert forward(X, out)
        for threads in (1, 2):  # rows side by side on threads from 4,096 rows on
            np.testing.assert_allclose(net.predict(X, threads=threads), twin, rtol=1e-5,
                                       atol=1e-6)
    np.testing.assert_allclose(out, twin, rtol=1e-5, atol=1e-6)
    want = expected_inference_paths(sizes, mode)
    if want is not None:
        assert _engine.path_names(forward.paths) == want
    if not avx512_in(mode):
        assert "own_gemm" not in _engine.path_names(forward.paths)


# -- the matrix product ---------------------------------------------------------------------
def _matmul(A, B, C, alpha=1.0, beta=0.0, transposed=False) -> int:
    """C = α A B + β C by the library's product (A given as its transpose if ``transposed``);
    returns the path bit it took."""
    M, N = C.shape
    ars, acs = (1, A.strides[0] // 4) if transposed else (A.strides[0] // 4, 1)
    return _engine._LIB.sn_matmul(M, N, B.shape[0], alpha, A.ctypes.data, ars, acs,
                                  B.ctypes.data, B.strides[0] // 4, beta, C.ctypes.data,
                                  C.strides[0] // 4, _engine._GEMM,
                                  ctypes.byref(_engine._SETTINGS))


@pytest.mark.parametrize("mode", list(MODES))
def test_the_matrix_product_matches_float64(mode):
    """Every tile shape of the AVX-512 kernel (1–12 rows, one or two vectors of 16 columns)
    and OpenBLAS alike, with β = 0 never reading C (here full of NaN) and β ≠ 0 adding to it."""
    rng = np.random.default_rng(0)
    with _engine.using(**MODES[mode]):
        limit = _engine.settings()["own_gemm_max"]
        own = avx512_in(mode)
        for M in (1, 5, 11, 12, 13, 25, 300):
            for N in (16, 32, 48, 80, 256):
                for K in (1, 7, 784):
                    A = rng.standard_normal((M, K)).astype(np.float32)
                    B = rng.standard_normal((K, N)).astype(np.float32)
                    want = A.astype(np.float64) @ B
                    C = np.full((M, N), np.nan, np.float32)
                    path = _matmul(A, B, C)
                    ours = own and N * K <= limit
                    assert path & _engine.PATHS["own_gemm"] == (_engine.PATHS["own_gemm"]
                                                               if ours else 0)
                    assert bool(path & _engine.PATHS["own_sparse"]) == (ours and mode ==
                                                                       "forced_on")
                    np.testing.assert_allclose(C, want, rtol=1e-4, atol=1e-4 * np.sqrt(K))
                    C0 = rng.standard_normal((M, N)).astype(np.float32)
                    C = C0.copy()
                    _matmul(np.ascontiguousarray(A.T), B, C, -0.5, 2.0, transposed=True)
                    np.testing.assert_allclose(C, 2.0 * C0 - 0.5 * want, rtol=1e-4,
                                               atol=1e-4 * np.sqrt(K))


@pytest.mark.skipif(not avx512_in("forced_on"), reason="our product needs AVX-512, which this "
                    "CPU or environment (SYNAPSENET_KERNELS) does not give")
def test_the_product_over_the_inputs_used_gives_the_full_products_sums():
    """Every tile of the gathered kernel (1–6 rows, 1–4 vectors), inputs 0 in whole blocks
    of rows or not: the same sums as our full product, bit for bit, NaN and ±inf inputs
    included; by default it is taken only where a block leaves out enough inputs."""
    rng = np.random.default_rng(2)
    full, used = _engine.PATHS["own_gemm"], _engine.PATHS["own_gemm"] | _engine.PATHS[
        "own_sparse"]
    for M in (1, 5, 6, 7, 12, 13, 25):
        for N in (16, 48, 64, 80, 256):
            for K in (1, 7, 16, 17, 784):
                for zeros in (0.0, 0.6, 0.95, 1.0):
                    A = rng.standard_normal((M, K)).astype(np.float32)
                    A[rng.random((M, K)) < zeros] = 0
                    if M > 6 and K > 7:
                        A[3, 5], A[M - 1, 2] = np.nan, np.inf  # kept: NaN rows either way
                    B = rng.standard_normal((K, N)).astype(np.float32)
                    C0 = rng.standard_normal((M, N)).astype(np.float32)
                    # A by rows (the forward product) and by columns (the update's Zᵀ δ)
                    for At, by_columns in ((A, False), (np.ascontiguousarray(A.T), True)):
                        out = {}
                        for mode in ("own_dense", "forced_on"):
                            with _engine.using(**MODES[mode]):
                                C = np.full((M, N), np.nan, np.float32)
                                path = _matmul(At, B, C, transposed=by_columns)
                                C2 = C0.copy()
                                _matmul(At, B, C2, -0.5, 2.0, transposed=by_columns)
                            out[mode] = (path, C, C2)
                        assert out["own_dense"][0] == full and out["forced_on"][0] == used
                        for a, b in zip(out["own_dense"][1:], out["forced_on"][1:]):
                            np.testing.assert_array_equal(b, a)
                        if M > 6 and K > 7:
                            assert np.isnan(out["forced_on"][1][3]).all()
    share = _engine.DEFAULT_SETTINGS["sparse_share"] / 1024
    with _engine.using(**{**MODES["forced_on"], "sparse_share":
                          _engine.DEFAULT_SETTINGS["sparse_share"]}):
        for zeros, gathered in ((0.0, False), (0.9, True)):
            A = rng.standard_normal((60, 784)).astype(np.float32)
            A[rng.random(A.shape) < zeros] = 0
            assert (1 - zeros ** 6 <= share) == gathered  # the share of a block's inputs
            path = _matmul(A, B := rng.standard_normal((784, 64)).astype(np.float32),
                           C := np.empty((60, 64), np.float32))
            assert path == (used if gathered else full)
            np.testing.assert_allclose(C, A.astype(np.float64) @ B, rtol=1e-4, atol=3e-3)


@pytest.mark.skipif(not avx512_in("forced_on"), reason="our product needs AVX-512, which this "
                    "CPU or environment (SYNAPSENET_KERNELS) does not give")
def test_the_update_gathers_the_sparse_blocks_of_inputs_and_leaves_the_dense_to_blas():
    """sn_own_gathered, the weight update's product Aᵀ δ (A by columns): blocks of 12 inputs
    that are 0 in most samples by gathered tiles (the full product's bits), the others left
    as runs of rows for BLAS."""
    lib = _engine._LIB
    lib.sn_own_gathered.restype = ctypes.c_int64
    rng = np.random.default_rng(5)
    B_, rows, N = 64, 12 * 7 + 5, 48
    Z = rng.random((B_, rows), dtype=np.float32)
    dense = [1, 2, 5, 7]  # blocks of 12 inputs (the last one of 5) with no zeros
    for blk in set(range(8)) - set(dense):
        Z[rng.random(B_) < 0.97, 12 * blk:12 * blk + 12] = 0  # a few samples use them
    D = rng.standard_normal((B_, N)).astype(np.float32)
    C0 = rng.standard_normal((rows, N)).astype(np.float32)
    C = C0.copy()
    runs = np.zeros(2 * (rows // 12 + 1), np.int64)
    share = _engine.DEFAULT_SETTINGS["sparse_share"]
    n = lib.sn_own_gathered(ctypes.c_int64(rows), ctypes.c_int64(N), ctypes.c_int64(B_),
                            ctypes.c_float(-1.0), ctypes.c_void_p(Z.ctypes.data),
                            ctypes.c_int64(1), ctypes.c_int64(rows),
                            ctypes.c_void_p(D.ctypes.data), ctypes.c_int64(N),
                            ctypes.c_float(1.0), ctypes.c_void_p(C.ctypes.data),
                            ctypes.c_int64(N), ctypes.c_int64(share),
                            ctypes.c_void_p(runs.ctypes.data))
    # the runs: blocks 1–2 together, 5, 7 (the last, 5 rows)
    assert runs[:2 * n].tolist() == [12, 24, 60, 12, 84, 5]
    left = np.zeros(rows, bool)
    for a, m in runs[:2 * n].reshape(-1, 2):
        left[a:a + m] = True
    np.testing.assert_array_equal(C[left], C0[left])  # not touched
    full = C0.copy()
    with _engine.using(**MODES["own_dense"]):
        _matmul(np.ascontiguousarray(Z), D, full, -1.0, 1.0, transposed=True)
    np.testing.assert_array_equal(C[~left], full[~left])


# -- the hooks themselves -------------------------------------------------------------------
def test_settings_change_only_inside_the_block_and_refuse_unknown_names():
    before = _engine.settings()
    assert before["own_gemm_max"] == _engine.DEFAULT_SETTINGS["own_gemm_max"]
    with _engine.using(own_gemm_max=16, isa="portable") as now:
        assert now == {"isa": "portable", "own_gemm_max": 16,
                       "sparse_share": before["sparse_share"],
                       "fused_read": before["fused_read"],
                       "gathered_update": before["gathered_update"]}
        assert not _engine.own_products() and _engine.isa_in_use() == "portable"
    assert _engine.settings() == before
    with pytest.raises(TypeError, match="unknown settings"):
        with _engine.using(own_gemm=1):
            pass
    with pytest.raises(ValueError, match="isa must be one of portable, avx2, avx512"):
        with _engine.using(isa="sse"):
            pass


@pytest.mark.parametrize("kernels,isa", [("portable", "portable"), ("avx2", "avx2"),
                                         ("auto", "avx512"), ("nonsense", "avx512")])
def test_the_environment_caps_the_instruction_set(kernels, isa):
    import subprocess
    import sys

    code = ("import warnings; warnings.simplefilter('ignore'); "
            "from synapsenet import _engine as e\n"
            "with e.using(isa='avx512'):\n"
            "    print(e.settings()['isa'], e.isa_in_use(), e.own_products())")
    env = {**os.environ, "SYNAPSENET_KERNELS": kernels}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    cpu = _engine.ISAS.index(_engine.cpu_isa())
    in_use = _engine.ISAS[min(_engine.ISAS.index(isa), cpu)]
    assert out == [isa, in_use, str(in_use == "avx512")]
