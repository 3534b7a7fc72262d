"""The in-place update C += α·A·B (BLAS with β = 1) against NumPy, and training with and
without it."""

import os

import numpy as np
import pytest

import synapsenet as sn
from synapsenet import _blas


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 17])
@pytest.mark.parametrize("a_layout", ["transposed", "contiguous", "column block"])
def test_add_product_equals_numpy(dtype, k, a_layout):
    rng = np.random.default_rng(k)
    n, m = 13, 7
    if a_layout == "transposed":  # as in backpropagation: A = Z_prevᵀ
        A = rng.standard_normal((k, n)).astype(dtype).T
    elif a_layout == "column block":  # as in a crossbar tile: some of each row's inputs
        A = rng.standard_normal((n, k + 5)).astype(dtype)[:, 2:2 + k]
    else:
        A = rng.standard_normal((n, k)).astype(dtype)
    B = rng.standard_normal((k, m)).astype(dtype)
    C = rng.standard_normal((n, m)).astype(dtype)
    want = C + (-0.25) * (A.astype(np.float64) @ B.astype(np.float64))
    got = _blas.add_product(A, B, C, -0.25)
    assert got is C
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C, want, rtol=tol, atol=tol)


def test_unusual_layouts_fall_back_to_numpy():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 8))[:, ::2]  # neither contiguous nor a transpose
    B = rng.standard_normal((4, 3))
    C = rng.standard_normal((6, 3))
    want = C + 2.0 * (A @ B)
    _blas.add_product(A, B, C, 2.0)
    np.testing.assert_allclose(C, want, rtol=1e-12)


def test_this_numpy_build_updates_inside_blas():
    """On NumPy's own wheels (OpenBLAS) the fused path is found; elsewhere this says so."""
    if not _blas.FUSED:
        pytest.skip("this NumPy's BLAS is not one the binding knows; the NumPy fallback runs")
    assert _blas._self_test()


@pytest.fixture(scope="module")
def scipy_route():
    pytest.importorskip("scipy.linalg.cython_blas")
    return _blas._ScipyRoute()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 17])
@pytest.mark.parametrize("a_layout", ["transposed", "contiguous", "column block"])
def test_scipys_route_adds_the_same_products(scipy_route, dtype, k, a_layout):
    """SciPy's Fortran BLAS (cython_blas capsules), the supported route, through the transpose
    identity: the same updates as NumPy's matmul, for every layout add_product takes."""
    rng = np.random.default_rng(k)
    n, m = 13, 7
    if a_layout == "transposed":
        A = rng.standard_normal((k, n)).astype(dtype).T
    elif a_layout == "column block":
        A = rng.standard_normal((n, k + 5)).astype(dtype)[:, 2:2 + k]
    else:
        A = rng.standard_normal((n, k)).astype(dtype)
    B = rng.standard_normal((k, m)).astype(dtype)
    C = np.zeros((n, m + 3), dtype)[:, :m]  # rows padded, as a layer's Wᵀ
    C[...] = rng.standard_normal((n, m))
    want = C + 0.75 * (A.astype(np.float64) @ B)
    assert _blas._add_product(scipy_route, A, B, C, 0.75) is C
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C, want, rtol=tol, atol=tol)
    assert _blas._self_test(scipy_route)


def test_either_route_can_be_chosen_and_the_engine_runs_on_it(tmp_path):
    """SYNAPSENET_BLAS picks the route; the compiled engine trains the same on both."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, synapsenet as sn\n"
            "from synapsenet import _blas\n"
            "rng = np.random.default_rng(0)\n"
            "X = rng.random((200, 20), dtype=np.float32); y = rng.integers(0, 4, 200)\n"
            "net = sn.Network.from_sizes([20, 40, 24, 4], hidden='relu', output='softmax',"
            " seed=3)\n"
            "net.fit(X, y, epochs=2, batch_size=32, learning_rate=0.05, seed=0)\n"
            "print(_blas.ROUTE.name, net.train_config['engine'].split(',')[0])\n"
            "np.save(sys.argv[1], np.concatenate([p.ravel() for p in net.parameters()]))")
    out = {}
    for route in ("numpy", "scipy"):
        env = {**os.environ, "SYNAPSENET_BLAS": route}
        path = tmp_path / f"{route}.npy"
        run = subprocess.run([sys.executable, "-c", code, str(path)], env=env,
                             capture_output=True, text=True, check=True)
        assert run.stdout.split() == [route, "compiled"], run.stdout
        out[route] = np.load(path)
    np.testing.assert_allclose(out["scipy"], out["numpy"], rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("mode", [{"mode": "sgd"}, {"batch_size": 8}])
def test_training_is_the_same_with_and_without_the_fused_update(monkeypatch, mode):
    X, y = sn.datasets.load("digits")
    X, y = (X[:64] / 16).astype(np.float64), y[:64]

    def train():
        net = sn.Network.from_sizes([64, 16, 10], hidden="tanh", output="softmax", seed=3,
                                    dtype="float64")
        net.fit(X, y, epochs=2, learning_rate=0.05, loss="cross_entropy", seed=1, **mode)
        return net.get_weights()

    fused = train()
    monkeypatch.setattr(_blas, "ROUTE", None)
    plain = train()
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
