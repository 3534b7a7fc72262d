import math

import numpy as np
import pytest

import synapsenet as sn
from synapsenet.substrate import Digital
from synapsenet import ConfigError, DataWarning, DivergenceError
from synapsenet.optimizers import CosineSchedule, StepSchedule
from synapsenet.training import batch_slices


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("mode,kwargs,updates_per_epoch", [
    ("sgd", {}, 10), ("batch", {}, 1), ("minibatch", {"batch_size": 4}, 3),
    ("minibatch", {"n_batches": 5}, 5), ("minibatch", {}, 1)])
def test_modes_make_the_expected_number_of_updates(data, mode, kwargs, updates_per_epoch):
    net = sn.Network.from_sizes([3, 4, 2], seed=0)
    h = net.fit(*data, epochs=3, learning_rate=0.1, mode=mode, **kwargs)
    assert h.updates == 3 * updates_per_epoch


def test_n_batches_splits_into_near_equal_parts():
    sizes = [s.stop - s.start for s in batch_slices(10, "minibatch", n_batches=3)]
    assert sorted(sizes) == [3, 3, 4] and sum(sizes) == 10
    assert [s.stop - s.start for s in batch_slices(10, "minibatch", batch_size=4)] == [4, 4, 2]


def test_batch_mode_step_is_mean_of_per_sample_gradients(data):
    X, y = data
    net = sn.Network.from_sizes([3, 4, 2], seed=1, dtype="float64")
    per_sample = [net.gradient(X[i:i + 1], y[i:i + 1]) for i in range(len(X))]
    mean = [np.mean([g[k] for g in per_sample], axis=0) for k in range(4)]
    before = net.get_weights()
    net.fit(X, y, epochs=1, learning_rate=0.3, mode="batch")
    for w0, w1, g in zip(before, net.get_weights(), mean):
        assert np.allclose(w1, w0 - 0.3 * g)  # w ← w − η · mean gradient


def test_sgd_mode_steps_sample_by_sample(data):
    X, y = data
    net = sn.Network.from_sizes([3, 2], seed=2, dtype="float64")
    twin = sn.Network.from_sizes([3, 2], seed=2, dtype="float64")
    net.fit(X, y, epochs=1, learning_rate=0.2, mode="sgd", shuffle=False)
    for i in range(len(X)):
        grads = twin.gradient(X[i:i + 1], y[i:i + 1])
        for p, g in zip(twin.parameters(), grads):
            p -= 0.2 * g
    for a, b in zip(net.parameters(), twin.parameters()):
        assert np.allclose(a, b)


def test_mode_options_that_contradict_the_mode_are_rejected(data):
    net = sn.Network.from_sizes([3, 2])
    with pytest.raises(ConfigError, match="mode='sgd' updates after every sample"):
        net.fit(*data, epochs=1, learning_rate=0.1, mode="sgd", batch_size=8)
    with pytest.raises(ConfigError, match="unknown mode 'online'.*batch, minibatch, sgd"):
        net.fit(*data, epochs=1, learning_rate=0.1, mode="online")
    with pytest.raises(ConfigError, match="either batch_size or n_batches"):
        net.fit(*data, epochs=1, learning_rate=0.1, batch_size=2, n_batches=2)


@pytest.mark.parametrize("kwargs,msg", [
    ({"learning_rate": 0}, "learning_rate must be a positive number, got 0"),
    ({"learning_rate": -0.1}, "learning_rate must be a positive number"),
    ({"learning_rate": float("nan")}, "learning_rate must be a positive number"),
    ({"epochs": 0}, "epochs must be a positive integer, got 0"),
    ({"epochs": 2.5}, "epochs must be a positive integer"),
    ({"loss": "hinge"}, "unknown loss 'hinge'"),
    ({"loss": "cross_entropy"}, "needs a softmax output"),
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'.*adam"),
    ({"schedule": "linear"}, "unknown schedule 'linear'"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"validation_data": np.zeros(3)}, "validation_data must be a pair"),
])
def test_bad_options(data, kwargs, msg):
    net = sn.Network.from_sizes([3, 2])
    opts = {"epochs": 1, "learning_rate": 0.1, **kwargs}
    with pytest.raises(ConfigError, match=msg):
        net.fit(*data, **opts)


def test_bad_validation_data_is_named(data):
    net = sn.Network.from_sizes([3, 2])
    with pytest.raises(sn.ShapeError, match="validation data: X has 5 features"):
        net.fit(*data, epochs=1, learning_rate=0.1,
                validation_data=(np.zeros((2, 5)), np.zeros(2, int)))


def test_history_records_each_epoch_with_validation(data):
    X, y = data
    net = sn.Network.from_sizes([3, 4, 2], seed=0)
    h = net.fit(X, y, epochs=4, learning_rate=0.5, validation_data=(X, y))
    assert h.epoch == [1, 2, 3, 4] and len(h.loss) == len(h.val_accuracy) == 4
    assert all(0 <= a <= 1 for a in h.accuracy + h.val_accuracy)
    assert h.learning_rate == [0.5] * 4
    assert net.history is h


def test_regression_history_has_no_accuracy():
    X = np.linspace(-1, 1, 20)[:, None]
    net = sn.Network.from_sizes([1, 8, 1], hidden="tanh", output="identity", seed=0)
    h = net.fit(X, 0.5 * X, epochs=50, learning_rate=0.1, batch_size=5)
    assert h.accuracy[-1] is None and h.loss[-1] < h.loss[0]


def test_schedules():
    assert [StepSchedule(2, 0.5)(1.0, e, 6) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    cos = CosineSchedule()
    assert cos(1.0, 0, 10) == 1.0 and cos(1.0, 5, 10) == pytest.approx(0.5)
    h = sn.Network.from_sizes([3, 2]).fit(np.eye(3), [0, 1, 0], epochs=4, learning_rate=0.4,
                                           schedule={"name": "step", "step_size": 1,
                                                     "gamma": 0.5})
    assert h.learning_rate == pytest.approx([0.4, 0.2, 0.1, 0.05])


def test_weight_bound_keeps_synapses_in_range(data):
    X, y = data
    net = sn.Network.from_sizes([3, 8, 2], init="uniform", seed=0).on(Digital(weight_bound=1.0))
    net.fit(X * 10, y, epochs=30, learning_rate=5.0)
    for p in net.parameters():
        assert np.abs(p).max() <= 1.0
    assert any(np.isclose(np.abs(p).max(), 1.0) for p in net.parameters())  # bound was hit


@pytest.mark.parametrize("bound", [0, -1.0, float("inf"), "one"])
def test_weight_bound_must_be_positive_and_finite(bound):
    with pytest.raises(sn.ConfigError, match="weight_bound must be (a )?positive"):
        Digital(weight_bound=bound)


def test_early_stopping_restores_best_weights():
    rng = np.random.default_rng(0)
    X, Xv = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    y, yv = rng.integers(0, 2, 40), rng.integers(0, 2, 40)  # pure noise: val loss rises
    net = sn.Network.from_sizes([5, 32, 2], hidden="relu", output="softmax", seed=0)
    h = net.fit(X, y, epochs=300, learning_rate=0.5, loss="cross_entropy", batch_size=8,
                validation_data=(Xv, yv), early_stopping=True, patience=5)
    assert h.stopped_early and len(h) < 300
    best = int(np.argmin(h.val_loss))
    assert h.best_epoch == best + 1
    assert net.evaluate(Xv, yv, "cross_entropy")["loss"] == pytest.approx(h.val_loss[best],
                                                                          rel=1e-5)


def test_divergence_stops_with_epoch_and_batch_and_keeps_finite_weights():
    X = np.array([[1e3, -1e3], [2e3, 1e3]])
    net = sn.Network.from_sizes([2, 4, 1], hidden="relu", output="identity", seed=0)
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+, batch \d+") as err, \
            pytest.warns(DataWarning):  # the large inputs are what makes it diverge
        net.fit(X, np.array([[1.0], [2.0]]), epochs=100, learning_rate=10.0, mode="sgd")
    assert err.value.epoch >= 1 and err.value.batch in (1, 2)
    assert all(np.isfinite(p).all() for p in net.parameters())


class Stopper(sn.Callback):
    def __init__(self, after):
        self.after, self.seen, self.net = after, 0, None

    def on_train_begin(self, network, info):
        self.net = network

    def on_batch_end(self, batch, n, loss):
        self.seen += 1
        if self.seen == self.after:
            self.net.stop_training = True


def test_callback_can_stop_after_a_batch(data):
    net = sn.Network.from_sizes([3, 2], seed=0)
    stopper = Stopper(after=7)
    h = net.fit(*data, epochs=5, learning_rate=0.1, batch_size=2, callbacks=[stopper])
    assert h.interrupted and h.updates == 7
    assert len(h) == 1  # the second epoch was cut short and is not recorded


def test_digits_small_mlp_reaches_97_percent():
    ds = sn.datasets.load("digits").scaled()  # pixels 0–16 → 0–1
    Xtr, Xte, ytr, yte = sn.datasets.split(ds.X, ds.y, 0.25, seed=0)
    net = sn.Network.from_sizes([64, 64, 10], hidden="relu", output="softmax", seed=0)
    net.fit(Xtr, ytr, epochs=60, learning_rate=0.1, loss="cross_entropy", batch_size=16,
            optimizer="momentum", seed=0)
    assert net.evaluate(Xte, yte)["accuracy"] >= 0.97


def test_digits_textbook_setting_sigmoid_squared_error():
    ds = sn.datasets.load("digits").scaled()  # pixels 0–16 → 0–1
    Xtr, Xte, ytr, yte = sn.datasets.split(ds.X, ds.y, 0.25, seed=0)
    net = sn.Network.from_sizes([64, 64, 10], hidden="sigmoid", output="sigmoid", seed=0)
    net.fit(Xtr, ytr, epochs=100, learning_rate=0.5, batch_size=16, seed=0)
    assert net.evaluate(Xte, yte)["accuracy"] >= 0.95


def test_dropout_trains_and_inference_is_deterministic(data):
    X, y = data
    net = sn.Network.from_sizes([3, 16, 2], hidden="relu", output="softmax", dropout=0.5,
                                seed=0)
    assert net.layers[0].dropout == 0 and net.layers[1].dropout == 0.5
    h = net.fit(X, y, epochs=50, learning_rate=0.2, loss="cross_entropy", batch_size=5)
    assert math.isfinite(h.loss[-1])
    assert np.array_equal(net.predict(X), net.predict(X))


@pytest.mark.slow
def test_mnist_textbook_network_error_at_most_2_5_percent(mnist_dir):
    """784-300-10, sigmoid layers, squared-error cost, mini-batch SGD (LeCun et al. 1998
    report 4.7 % for this network)."""
    ds = sn.datasets.load("mnist", data_dir=mnist_dir)
    X, Xt = ds.X / np.float32(255), ds.X_test / np.float32(255)
    net = sn.Network.from_sizes([784, 300, 10], hidden="sigmoid", output="sigmoid", seed=0)
    net.fit(X, ds.y, epochs=20, learning_rate=1.0, batch_size=16, seed=0)
    assert 1 - net.evaluate(Xt, ds.y_test)["accuracy"] <= 0.025


def test_sample_weights_give_the_weighted_mean_gradient(data):
    X, y = data
    w = np.arange(1, 11, dtype=float)
    net = sn.Network.from_sizes([3, 4, 2], seed=1, dtype="float64")
    per_sample = [net.gradient(X[i:i + 1], y[i:i + 1]) for i in range(len(X))]
    expected = [sum(w[i] * g[k] for i, g in enumerate(per_sample)) / w.sum() for k in range(4)]
    before = net.get_weights()
    net.fit(X, y, epochs=1, learning_rate=0.3, mode="batch", sample_weight=w)
    for w0, w1, g in zip(before, net.get_weights(), expected):
        assert np.allclose(w1, w0 - 0.3 * g)
    # integer weights act like repeated samples
    a = sn.Network.from_sizes([3, 2], seed=2, dtype="float64")
    b = sn.Network.from_sizes([3, 2], seed=2, dtype="float64")
    a.fit(X, y, epochs=3, learning_rate=0.5, mode="batch", sample_weight=np.r_[2, np.ones(9)])
    b.fit(np.vstack([X[:1], X]), np.r_[y[:1], y], epochs=3, learning_rate=0.5, mode="batch")
    assert np.allclose(a.layers[0].W, b.layers[0].W)
    with pytest.raises(sn.DataError, match="non-negative"):
        a.fit(X, y, epochs=1, learning_rate=0.1, sample_weight=-w)


def test_fit_warns_about_unscaled_inputs():
    # sn.datasets.load("mnist") gives 0–255 pixels; trained on as they are, a network reaches
    # about one class in ten, and nothing said why
    import warnings

    from sklearn.preprocessing import StandardScaler

    ds = sn.datasets.load("digits")
    pixels = np.minimum(ds.X * 16, 255)  # the digits as 8-bit pixels
    net = sn.Network.from_sizes([64, 16, 10], seed=0)
    with pytest.warns(DataWarning, match=r"Dataset\.scaled\(\) or Scaler\('255'\)") as w:
        net.fit(pixels, ds.y, epochs=1)
    assert w[0].message.rms > 10 and w[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        net.fit(ds.scaled().X, ds.y, epochs=1)
        net.fit(ds.X, ds.y, epochs=1)  # 0–16: they learn as they are
        Z = StandardScaler().fit_transform(ds.X)  # rare pixels reach 40 standard deviations
        assert np.abs(Z).max() > 20
        net.fit(Z, ds.y, epochs=1)


def test_early_stopping_resumed_from_its_history_stops_as_one_run():
    """A fit continued from epoch k (its history and the weights of epoch k, as a resumed
    run has them) counts patience from the best epoch before k and restores that epoch's
    weights: the same epochs and weights as one uninterrupted fit."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    val = (X[1500:], y[1500:])
    X, y = X[:1500], y[:1500]
    kw = dict(epochs=60, learning_rate=0.5, mode="minibatch", batch_size=32,
              early_stopping=True, patience=4, min_delta=0.002, validation_data=val)

    def net():
        return sn.Network.from_sizes([64, 32, 10], hidden="sigmoid", output="softmax", seed=3)

    ref = net()
    h_ref = ref.fit(X, y, seed=np.random.default_rng(1), **kw)
    assert h_ref.stopped_early and h_ref.best_epoch < len(h_ref) - 1  # patience ran out
    k = len(h_ref) - 2  # interrupted after the best epoch, before patience ran out

    class Stop(sn.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch + 1 == k:
                self.weights = self.net.get_weights()
                self.net.stop_training = True

        def on_train_begin(self, network, info):
            self.net = network

    part, stop, rng = net(), Stop(), np.random.default_rng(1)
    h = part.fit(X, y, seed=rng, callbacks=[stop], **kw)
    assert len(h) == k and h.best_epoch == h_ref.best_epoch
    part.set_weights(stop.weights)  # the state at the end of epoch k, as a checkpoint holds it
    h.interrupted = False
    h = part.fit(X, y, seed=rng, initial_epoch=k, history=h, **kw)
    assert len(h) == len(h_ref) and h.stopped_early and h.best_epoch == h_ref.best_epoch
    for a, b in zip(part.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_keeps_early_stoppings_best_weights(tmp_path):
    from synapsenet import runs
    from synapsenet.optimizers import SGD
    from synapsenet.training import History

    net = sn.Network.from_sizes([4, 3, 2], hidden="tanh", output="softmax", seed=0)
    history = History(epoch=[1, 2, 3], loss=[0.5, 0.4, 0.45], accuracy=[None] * 3,
                      val_loss=[None] * 3, val_accuracy=[None] * 3, learning_rate=[0.1] * 3,
                      seconds=[0.0] * 3)
    best = [w + 1 for w in net.get_weights()]
    history.best_epoch, history.best_weights = 2, best
    cfg = runs.defaults()
    with runs.RunFolder(tmp_path / "run") as folder:
        folder.save_checkpoint(net, {}, SGD(), np.random.default_rng(0), history, cfg)
        _, opt_state, state = runs.load_checkpoint(tmp_path / "run")
    restored = runs.training_state(cfg, (opt_state, state))[3]
    for a, b in zip(restored.best_weights, best, strict=True):
        np.testing.assert_array_equal(a, b)
