"""The compiled engine's behaviour around its kernels: which configurations it takes, its
threads, data checks, divergence, kept engines, chunked steps. Each kernel's agreement with its
NumPy twin, over every path, is in test_kernels.py.
"""

import os

import numpy as np
import pytest
from conftest import four_classes

import synapsenet as sn
from synapsenet.substrate import Digital
from synapsenet import _blas, _engine
from synapsenet.errors import DivergenceError
from synapsenet.layers import Dense, aligned_zeros
from synapsenet.optimizers import get_optimizer

# Where no C compiler was found at install the NumPy engine runs everything and these tests
# skip; CI sets SYNAPSENET_REQUIRE_ENGINE=1, which turns that skip into a failure.
if os.environ.get("SYNAPSENET_REQUIRE_ENGINE") == "1":
    assert _engine.AVAILABLE, "the compiled engine was not built (is a C compiler installed?)"
pytestmark = pytest.mark.skipif(not _engine.AVAILABLE, reason="the compiled engine is not "
                                "built here (no C compiler at install): the NumPy engine runs")


@pytest.fixture
def data():
    return four_classes()


def train(monkeypatch, X, y, sizes, acts, engine, threads=2, epochs=2, **kw):
    """Fit a fresh network with the compiled engine on ``threads`` threads, or with NumPy."""
    monkeypatch.setenv("SYNAPSENET_ENGINE", "compiled" if engine else "numpy")
    monkeypatch.setattr(_engine, "threads_for", lambda net, batch, *_: threads)
    bound = kw.pop("weight_bound", None)
    net = sn.Network.from_sizes(sizes, activations=acts, seed=3).on(Digital(weight_bound=bound))
    kw = {"learning_rate": 0.05, "batch_size": 16, "seed": 0, **kw}
    h = net.fit(X, y, epochs=epochs, **kw)
    want = "compiled" if engine else "numpy"
    assert net.train_config["engine"].startswith(want), net.train_config["engine"]
    return net, h


def test_targets_as_a_matrix_and_no_labels(monkeypatch, data):
    X, y = data
    D = np.eye(4, dtype=np.float32)[y] * 0.8 + 0.1
    a, ha = train(monkeypatch, X, D, [20, 32, 4], ["relu", "identity"], False,
                  loss="squared_error")
    b, hb = train(monkeypatch, X, D, [20, 32, 4], ["relu", "identity"], True,
                  loss="squared_error")
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-5)
    assert hb.accuracy == [None, None]


def test_more_threads_than_cores_still_agree(monkeypatch, data):
    X, y = data
    a, _ = train(monkeypatch, X, y, [20, 64, 40, 4], ["relu", "tanh", "softmax"], False,
                 epochs=1, loss="cross_entropy")
    b, _ = train(monkeypatch, X, y, [20, 64, 40, 4], ["relu", "tanh", "softmax"], True, 3,
                 epochs=1, loss="cross_entropy")
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(q, p, rtol=1e-4, atol=2e-5)


def test_two_threads_give_the_same_weights_every_time(monkeypatch, data):
    X, y = data
    runs = [train(monkeypatch, X, y, [20, 64, 40, 4], ["relu", "tanh", "softmax"], True, 2,
                  loss="cross_entropy", optimizer="adam")[0] for _ in range(3)]
    for other in runs[1:]:
        for p, q in zip(runs[0].parameters(), other.parameters()):
            np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum"])
def test_divergence_keeps_the_last_finite_weights(monkeypatch, optimizer):
    # a finite loss (summed in float64) whose backpropagated δ overflows float32: the step
    # is made, found non-finite, and the epoch's starting weights come back
    rng = np.random.default_rng(0)
    X = rng.random((32, 2), dtype=np.float32)
    y = np.ones((32, 1), np.float32)
    y[5] = 3e38
    monkeypatch.setattr(_engine, "threads_for", lambda net, batch, *_: 2)
    net = sn.Network.from_sizes([2, 40, 1], hidden="relu", output="identity", seed=0)
    before = net.get_weights()
    opt = sn.optimizers.get_optimizer(optimizer)
    with pytest.raises(DivergenceError, match=r"diverged (at|in) epoch \d+") as err:
        net.fit(X, y, epochs=2, learning_rate=100.0, optimizer=opt, batch_size=32,
                loss="squared_error")
    assert net.train_config["engine"].startswith("compiled")
    assert all(np.isfinite(p).all() for p in net.parameters())
    if err.value.epoch == 1:  # the weights the network started with
        for p, q in zip(net.get_weights(), before):
            np.testing.assert_array_equal(p, q)
    # Adam's moments, NaN after that step, start afresh with the restored weights
    assert all(np.isfinite(a).all() for arrs in opt.state.values() for a in arrs)


class Lion(sn.optimizers.SGD):  # an optimiser the engine does not know
    pass


@pytest.mark.parametrize("change,why", [
    (dict(dropout=0.2), "dropout"),
    (dict(optimizer=Lion()), "optimizer Lion"),
    (dict(dtype="float64"), "float32"),
    (dict(activations=["elu", "softmax"]), "activations"),
])
def test_unsupported_options_run_on_numpy_and_say_why(data, change, why):
    X, y = data
    net_kw = {k: change.pop(k) for k in ("dropout", "dtype", "activations") if k in change}
    net = sn.Network.from_sizes([20, 16, 4], **{"activations": ["relu", "softmax"], **net_kw})
    net.fit(X, y, epochs=1, loss="cross_entropy", **change)
    assert net.train_config["engine"].startswith("numpy") and why in \
        net.train_config["engine"]


def test_very_large_batches_run_on_numpy():
    rng = np.random.default_rng(0)
    X = rng.random((_engine.MAX_BATCH + 1, 3), dtype=np.float32)
    net = sn.Network.from_sizes([3, 4, 2], hidden="relu", output="softmax")
    net.fit(X, (X[:, 0] > 0.5).astype(int), epochs=1, mode="batch", loss="cross_entropy")
    assert "batches over" in net.train_config["engine"]


def test_the_environment_can_turn_it_off(monkeypatch, data):
    monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy")
    net = sn.Network.from_sizes([20, 16, 4], hidden="relu", output="softmax")
    net.fit(*data, epochs=1, loss="cross_entropy")
    assert net.train_config["engine"] == "numpy (SYNAPSENET_ENGINE=numpy)"


def test_threads_follow_the_work_per_step():
    small = sn.Network.from_sizes([64, 100, 10])
    large = sn.Network.from_sizes([784, 256, 10])
    assert _engine.threads_for(small, 200) == 1  # 1.5 M multiply-adds: hand-offs dominate
    assert _engine.threads_for(large, 256) == min(2, _engine.threads_for(large, 10 ** 6))


def test_threads_count_only_the_inputs_a_block_uses(monkeypatch):
    """On inputs mostly 0 our product makes a fraction of the first layer's products, and a
    second thread waits for more work per step than on dense inputs."""
    monkeypatch.setattr("synapsenet._parallel.default_threads", lambda: 2)  # 2 cores, as here
    large = sn.Network.from_sizes([784, 256, 10])
    rng = np.random.default_rng(0)
    dense = rng.random((600, 784), dtype=np.float32)
    sparse = dense * (rng.random(dense.shape) < 0.05)  # a block of 6 rows uses ~26 %
    assert 0.2 < _engine.block_share(sparse) < 0.32 and _engine.block_share(dense) == 1.0
    assert _engine.block_share(dense[:5]) == 1.0  # no whole block: no claim
    if not (_engine.own_products() and _blas.can_set_threads()):
        pytest.skip("no AVX-512 product here (or no BLAS to pin): the share does not count")
    assert _engine.threads_for(large, 64, dense) == 2  # 13 M multiply-adds
    assert _engine.threads_for(large, 64, sparse) == 1  # of which ~3.5 M made
    assert _engine.threads_for(large, 256, sparse) == 2
    with _engine.using(sparse_share=0):  # every input multiplied: the full count
        assert _engine.threads_for(large, 64, sparse) == 2
    wide = sn.Network.from_sizes([784, 512, 10])  # beyond our product: OpenBLAS multiplies all
    assert _engine.threads_for(wide, 32, sparse) == 2
    adam = get_optimizer("adam")  # its pass over the parameters counts too
    assert _engine.threads_for(large, 96, sparse, adam) == 2
    assert _engine.threads_for(large, 96, sparse, get_optimizer("sgd")) == 1


def test_weight_rows_start_cache_lines_and_keep_their_values(tmp_path):
    layer = Dense(30, 100, "relu", seed=1)
    assert layer.WT.ctypes.data % 64 == 0 and layer.WT.strides[0] % 64 == 0
    assert layer.b.ctypes.data % 64 == 0
    net = sn.Network([layer, Dense(100, 3, "softmax", seed=2)])
    sn.save(net, tmp_path / "m.safetensors")
    back = sn.load(tmp_path / "m.safetensors")
    for p, q in zip(net.parameters(), back.parameters()):
        np.testing.assert_array_equal(p, q)


def test_aligned_zeros_shapes():
    a = aligned_zeros((3, 5), np.float32)
    assert a.shape == (3, 5) and a.strides == (64, 4) and not a.any()
    b = aligned_zeros(7, np.float64)
    assert b.shape == (7,) and b.flags.c_contiguous and b.ctypes.data % 64 == 0


def test_fused_update_into_padded_rows():
    rng = np.random.default_rng(0)
    C = aligned_zeros((6, 5), np.float32)
    C[...] = rng.standard_normal((6, 5))
    A = rng.standard_normal((3, 6)).astype(np.float32)
    B = rng.standard_normal((3, 5)).astype(np.float32)
    want = C - 0.5 * (A.T @ B)
    _blas.add_product(A.T, B, C, -0.5)
    np.testing.assert_allclose(C, want, rtol=1e-5, atol=1e-6)


def test_compiled_inference_tells_a_bad_input_from_an_overflow():
    net = sn.Network.from_sizes([4, 8, 3], hidden="relu", output="softmax", seed=0)
    X = np.ones((50, 4), np.float32)
    X[7, 2] = np.nan
    with pytest.raises(sn.DataError, match=r"row 7, column 2"):
        net.predict(X)
    net.layers[0].W = np.full((8, 4), 1e38, np.float32)  # u overflows: not the input's fault
    with np.errstate(all="ignore"):
        Z = net.predict(np.ones((50, 4), np.float32))
    assert Z.shape == (50, 3)


def test_the_library_says_which_compiler_built_it():
    """CI builds the engine with gcc and again with clang, and checks it got the one it asked
    for (SYNAPSENET_EXPECT_COMPILER) rather than a stale build found first on the path."""
    assert _engine.COMPILER.split()[0] in ("gcc", "clang"), _engine.COMPILER
    want = os.environ.get("SYNAPSENET_EXPECT_COMPILER")
    if want:
        assert _engine.COMPILER.split()[0] == want, (_engine.COMPILER, want)


def test_a_library_built_from_other_sources_is_refused(monkeypatch):
    assert _engine._load() is not None
    monkeypatch.setattr(_engine, "_ABI", _engine._ABI + 1)
    assert _engine._load() is None  # the NumPy engine then runs, rather than a crash


@pytest.mark.parametrize("copy", ["pickle", "deepcopy"])
def test_a_copied_network_trains_and_predicts_on_the_engine(monkeypatch, data, copy):
    import copy as copying
    import pickle

    X, y = data
    net = sn.Network.from_sizes([20, 40, 4], hidden="relu", output="softmax", seed=3)
    net.fit(X, y, epochs=1, loss="cross_entropy", optimizer="adam")
    twin = pickle.loads(pickle.dumps(net)) if copy == "pickle" else copying.deepcopy(net)
    for layer in twin.layers:  # rows back on cache lines
        assert layer.WT.ctypes.data % 64 == 0 and layer.WT.strides[0] % 64 == 0
    np.testing.assert_array_equal(twin.predict(X), net.predict(X))
    monkeypatch.setattr(_engine, "threads_for", lambda n, b, *_: 2)
    for n in (net, twin):
        n.fit(X, y, epochs=1, loss="cross_entropy", optimizer="adam", seed=0)
        assert n.train_config["engine"].startswith("compiled")
    for p, q in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("size", [1, 15, 16, 1000, 3 << 20])
def test_the_quick_finite_check_finds_every_nan_and_inf(size):
    X = np.zeros(size, np.float32)
    assert _engine.maybe_finite(X)
    for where in {0, size // 2, size - 1}:  # first, middle (a chunk's edge), last value
        for bad in (np.nan, np.inf, -np.inf):
            X[where] = bad
            assert not _engine.maybe_finite(X), (where, bad)
            X[where] = 0
    X[-1] = np.finfo(np.float32).max  # large is finite: no overflow as a sum would have
    assert _engine.maybe_finite(X)
    assert _engine.maybe_finite(X.astype(np.float64)[:5])  # other types: NumPy's sum


def test_a_network_trained_again_takes_up_its_engine(monkeypatch, data):
    X, y = data
    created = []
    real_create = _engine._LIB.sn_create
    monkeypatch.setattr(_engine._LIB, "sn_create",
                        lambda *a: created.append(1) or real_create(*a))
    net = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=3)
    twin = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=3)
    for n in (net, net, net):
        n.fit(X, y, epochs=1, loss="cross_entropy", seed=0)
    assert len(created) == 1  # the same network, configuration and arrays: one engine
    twin.fit(X, y, epochs=1, loss="cross_entropy", seed=0)
    net.fit(X, y, epochs=1, loss="cross_entropy", optimizer="adam", seed=0)
    assert len(created) == 3  # another network, then another optimiser: new engines
    a = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=5)
    b = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=5)
    a.fit(X, y, epochs=1, loss="cross_entropy", seed=0)
    a.fit(X, y, epochs=1, loss="cross_entropy", seed=1)  # taken up
    b.fit(X, y, epochs=1, loss="cross_entropy", seed=0)
    monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy")
    b.fit(X, y, epochs=1, loss="cross_entropy", seed=1)  # the same steps on NumPy
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("batch", [16, 64])  # a gather of its own; inside the first product
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shuffle", [True, False])
def test_a_bad_input_met_mid_epoch_stops_the_fit_and_changes_nothing(monkeypatch, data, batch,
                                                                      bad, shuffle):
    """The engine checks each sample as it gathers it, instead of a pass over X first: a NaN
    or ±inf input stops the fit with the same error, and the network is left as it was."""
    X, y = data
    X = X.copy()
    X[200, 7] = bad  # a late row: steps have been made before the engine meets it
    X[250, 3] = bad
    monkeypatch.setattr(_engine, "threads_for", lambda net, b, *_: 2)
    net = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=3)
    adam = sn.optimizers.Adam()
    net.fit(X[:100], y[:100], epochs=1, batch_size=batch, optimizer=adam)
    state = {k: [a.copy() for a in v] for k, v in adam.state.items()}, adam.t
    before = (net.get_weights(), net.history, net.train_config)
    with pytest.raises(sn.DataError, match=r"first at row 200, column 7"):
        net.fit(X, y, epochs=3, batch_size=batch, optimizer=adam, shuffle=shuffle, seed=0)
    assert "compiled" in before[2]["engine"]
    for p, q in zip(net.get_weights(), before[0]):
        np.testing.assert_array_equal(p, q)
    assert net.history is before[1] and net.train_config is before[2]
    assert adam.t == state[1]
    for k, arrays in state[0].items():
        for p, q in zip(adam.state[k], arrays):
            np.testing.assert_array_equal(p, q)


def test_the_numpy_engine_still_checks_the_data_first(monkeypatch, data):
    from synapsenet import training

    X, y = data
    X = X.copy()
    X[5, 1] = np.inf
    net = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=3,
                                dropout=0.2)  # dropout: the NumPy engine
    w = net.get_weights()
    monkeypatch.setattr(training._Loop, "batch", lambda *a: pytest.fail("a step was made"))
    with pytest.raises(sn.DataError, match=r"first at row 5, column 1"):
        net.fit(X, y, epochs=1)
    for p, q in zip(net.get_weights(), w):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kw", [{"mode": "sgd", "batch_size": None}, {"batch_size": 16},
                                {"batch_size": 64, "optimizer": "adam"},
                                {"batch_size": 40, "optimizer": "nesterov", "shuffle": False}])
def test_steps_in_chunks_equal_steps_one_by_one(monkeypatch, data, kw):
    """Without callbacks the fit hands the engine a chunk of batches per call; with one (which
    must see every batch) one batch per call: the same steps, the same history."""
    from synapsenet import training

    X, y = data
    monkeypatch.setattr(training, "_CHUNK_SAMPLES", 50)  # several chunks, a partial last one
    monkeypatch.setattr(_engine, "threads_for", lambda net, b, *_: 2)
    seen = []

    class Count(sn.training.Callback):
        def on_batch_end(self, batch, n_samples, loss):
            seen.append(n_samples)

    runs = []
    for callbacks in ((), (Count(),)):
        net = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=3)
        h = net.fit(X, y, epochs=2, learning_rate=0.05, loss="cross_entropy", seed=0,
                    callbacks=callbacks, **kw)
        assert net.train_config["engine"].startswith("compiled")
        runs.append((net, h))
    (a, ha), (b, hb) = runs
    assert sum(seen) == 2 * len(X)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)
    assert ha.loss == hb.loss and ha.accuracy == hb.accuracy and ha.updates == hb.updates
    assert a.optimizer.t == b.optimizer.t == ha.updates


def test_divergence_in_a_chunk_names_its_batch(monkeypatch):
    from synapsenet import training

    monkeypatch.setattr(training, "_CHUNK_SAMPLES", 64)
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((400, 20)) * 50).astype(np.float32)
    y = rng.integers(0, 4, 400)
    net = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=3)
    with pytest.raises(DivergenceError, match=r"epoch 1, batch \d+") as e, \
            pytest.warns(sn.DataWarning):  # large inputs on purpose, to diverge
        net.fit(X, y, epochs=5, learning_rate=1e6, batch_size=16, loss="cross_entropy")
    assert e.value.epoch == 1 and e.value.batch >= 1
    assert all(np.isfinite(p).all() for p in net.parameters())


def test_a_reporting_callback_gets_every_batch_after_each_chunk(monkeypatch, data):
    """A callback with batch_by_batch = False lets the engine run chunks; it still sees every
    batch in order, and a stop it asks for ends the epoch at the chunk's end."""
    from synapsenet import training

    X, y = data
    monkeypatch.setattr(training, "_CHUNK_SAMPLES", 64)  # 4 batches of 16 a chunk
    calls = []

    class Report(sn.training.Callback):
        batch_by_batch = False

        def on_train_begin(self, network, info):
            self.net = network

        def on_batch_end(self, batch, n_samples, loss):
            calls.append((batch, n_samples))
            if len(calls) == 6:
                self.net.stop_training = True  # in the second chunk: stops after batch 8

    net = sn.Network.from_sizes([20, 32, 4], hidden="relu", output="softmax", seed=3)
    h = net.fit(X, y, epochs=3, batch_size=16, callbacks=[Report()])
    assert net.train_config["engine"].startswith("compiled")
    assert [b for b, _ in calls] == list(range(8)) and h.interrupted and h.updates == 8


def test_the_engine_shares_the_optimisers_state_through_its_public_method(monkeypatch, data):
    """The engine asks the optimiser for its state (Optimizer.state_arrays) in the layout of
    the weights: arrays made elsewhere are replaced once by copies in that layout, which the
    engine then updates in place, so the optimiser sees every step."""
    X, y = data
    assert sn.optimizers.SGD().slots == () and sn.optimizers.Adam().slots == ("m", "v")
    assert sn.optimizers.SGD(momentum=0.9).slots == ("velocity",)
    monkeypatch.setattr(_engine, "threads_for", lambda net, b, *_: 2)
    net = sn.Network.from_sizes([20, 33, 4], hidden="relu", output="softmax", seed=3)
    adam = sn.optimizers.Adam()  # 33 neurons: the weights' rows are padded to 48
    plain = adam.state_arrays(net.parameters())["m"][0]  # NumPy's layout: no padded rows
    assert plain.strides != net.layers[0].W.strides
    net.fit(X, y, epochs=1, optimizer=adam, seed=0)
    assert net.train_config["engine"].startswith("compiled")
    moved = adam.state["m"][0]
    assert moved is not plain and moved.strides == net.layers[0].W.strides
    assert moved.ctypes.data % 64 == 0 and np.abs(moved).sum() > 0
    before = moved.copy()
    net.fit(X, y, epochs=1, optimizer=adam, seed=1)
    assert adam.state["m"][0] is moved and not np.array_equal(moved, before)
