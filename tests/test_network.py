import numpy as np
import pytest

import synapsenet as sn
from synapsenet import ConfigError, DataError, ShapeError


def test_from_sizes_builds_layers_in_textbook_shapes():
    net = sn.Network.from_sizes([784, 300, 10], hidden="sigmoid", output="sigmoid", seed=0)
    assert [l.W.shape for l in net.layers] == [(300, 784), (10, 300)]
    assert [l.b.shape for l in net.layers] == [(300,), (10,)]
    assert net.dtype == np.float32 and net.layers[0].W.dtype == np.float32
    assert net.n_params == 784 * 300 + 300 + 300 * 10 + 10
    assert net.macs_per_sample == 784 * 300 + 300 * 10
    assert repr(net).startswith("Network(784 → 300 → 10: Dense(784→300, sigmoid)")


def test_forward_is_f_of_W_z_plus_b():
    net = sn.Network.from_sizes([3, 4, 2], hidden="tanh", output="sigmoid", seed=1,
                                dtype="float64")
    x = np.array([0.5, -1.0, 2.0])
    h = np.tanh(net.layers[0].W @ x + net.layers[0].b)
    z = 1 / (1 + np.exp(-(net.layers[1].W @ h + net.layers[1].b)))
    assert np.allclose(net.predict(x), z)  # one sample in, one out
    assert net.predict(np.stack([x, x])).shape == (2, 2)


def test_single_perceptron():
    """z = f(Σ w_i x_i + b) with a hand-set weight vector."""
    p = sn.Network([sn.Dense(2, 1, "sigmoid", W=[[20.0, 20.0]], b=[-30.0])])
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert p.classify(X).tolist() == [0, 0, 0, 1]  # AND


@pytest.mark.parametrize("name,target", [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1])])
def test_perceptron_learns_and_or(name, target):
    X, y = sn.datasets.load(name)
    net = sn.Network.from_sizes([2, 1], output="sigmoid", seed=0)
    net.fit(X, y, epochs=2000, learning_rate=2.0, mode="batch")
    assert net.classify(X).tolist() == target


def test_perceptron_cannot_learn_xor(xor):
    """No single line separates XOR: whatever the start, at least one sample stays wrong."""
    X, y = xor
    for seed in range(10):
        net = sn.Network.from_sizes([2, 1], output="sigmoid", seed=seed)
        net.fit(X, y, epochs=2000, learning_rate=2.0, mode="batch")
        assert (net.classify(X) == y).sum() <= 3


def test_two_two_one_network_learns_xor(xor):
    X, y = xor
    net = sn.Network.from_sizes([2, 2, 1], hidden="sigmoid", output="sigmoid", init="uniform",
                                seed=0)
    net.fit(X, y, epochs=3000, learning_rate=0.5, mode="sgd")
    assert net.classify(X).tolist() == [0, 1, 1, 0]
    z = net.predict(X)[:, 0]
    assert z[[1, 2]].min() > 0.8 and z[[0, 3]].max() < 0.2


def test_xor_is_learned_from_most_starting_points(xor):
    X, y = xor
    learned = 0
    for seed in range(10):
        net = sn.Network.from_sizes([2, 2, 1], init="uniform", seed=seed)
        net.fit(X, y, epochs=2000, learning_rate=1.0, mode="sgd")
        learned += bool((net.classify(X) == y).all())
    assert learned >= 6  # a few starts end in the well-known local minimum


def test_same_seed_same_data_bit_identical(xor):
    X, y = xor
    runs = []
    for _ in range(2):
        net = sn.Network.from_sizes([2, 3, 2], hidden="relu", output="softmax", seed=5)
        net.fit(X, y, epochs=20, learning_rate=0.1, loss="cross_entropy", batch_size=2, seed=9)
        runs.append(net.get_weights())
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
    other = sn.Network.from_sizes([2, 3, 2], hidden="relu", output="softmax", seed=6)
    assert not np.array_equal(other.layers[0].W, sn.Network.from_sizes(
        [2, 3, 2], hidden="relu", output="softmax", seed=5).layers[0].W)


def test_float64_on_request(xor):
    net = sn.Network.from_sizes([2, 2, 1], dtype="float64")
    assert net.predict(xor[0]).dtype == np.float64
    with pytest.raises(ConfigError, match="dtype must be 'float32' or 'float64'"):
        sn.Network.from_sizes([2, 1], dtype="int8")


def test_initialisers():
    W = sn.Dense(100, 50, "sigmoid", init="uniform", seed=0).W
    assert W.min() >= -1 and W.max() <= 1 and W.min() < -0.9
    W = sn.Dense(100, 50, "sigmoid", seed=0).W  # Xavier by default for sigmoid
    assert np.abs(W).max() <= np.sqrt(6 / 150)
    W = sn.Dense(1000, 200, "relu", seed=0).W  # He by default for ReLU
    assert W.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.05)
    with pytest.raises(ConfigError, match="unknown initializer 'zeros'.*he, uniform, xavier"):
        sn.Dense(2, 2, init="zeros")


# -- bad input -----------------------------------------------------------------------------
def test_data_width_mismatch_names_layer_and_sizes():
    net = sn.Network.from_sizes([784, 30, 10])
    with pytest.raises(ShapeError, match=r"X has 64 features per sample but layer 1 "
                                         r"\(Dense\(784→30, sigmoid\)\) expects 784"):
        net.predict(np.zeros((3, 64)))


def test_layers_that_do_not_chain():
    with pytest.raises(ShapeError, match="layer 1 .* has 5 outputs but layer 2 .* expects 4"):
        sn.Network([sn.Dense(3, 5), sn.Dense(4, 2)])


@pytest.mark.parametrize("X,msg", [
    (np.zeros((0, 2)), "X is empty"),
    (np.array([[0.0, np.nan]]), r"NaN or infinity \(first at row 0, column 1\)"),
    (np.array([[np.inf, 0.0]]), "NaN or infinity"),
    (np.zeros((2, 2, 2)), "X must be 2-D"),
    (np.array([["a", "b"]]), "X must hold real numbers"),
])
def test_bad_X(X, msg):
    net = sn.Network.from_sizes([2, 2])
    with pytest.raises((DataError, ShapeError), match=msg):
        net.fit(X, np.zeros(len(X), int), epochs=1, learning_rate=0.1)


@pytest.mark.parametrize("y,msg", [
    (np.array([0, 3]), "label 3 at index 1 is out of range: .* labels must be 0…2"),
    (np.array([0, -1]), "label -1 at index 1 is out of range"),
    (np.array(["a", "b"]), "labels must be integers 0…2"),
    (np.array([0.0, np.nan]), "y contains NaN"),
    (np.array([0, 1, 2]), "X has 2 samples but y has 3"),
    (np.zeros((2, 4)), r"targets y have shape \(2, 4\) but the network has 3 outputs"),
])
def test_bad_y(y, msg):
    net = sn.Network.from_sizes([2, 3])
    with pytest.raises((DataError, ShapeError), match=msg):
        net.fit(np.zeros((2, 2)), y, epochs=1, learning_rate=0.1)


def test_label_encoding_follows_output_activation():
    tanh_net = sn.Network.from_sizes([2, 3], output="tanh")
    D, labels = tanh_net.targets(np.array([2, 0]), 2)
    assert D.tolist() == [[-1, -1, 1], [1, -1, -1]] and labels.tolist() == [2, 0]
    single = sn.Network.from_sizes([2, 1], output="sigmoid")
    assert single.targets(np.array([1, 0]), 2)[0].tolist() == [[1], [0]]
    # a single output with values outside {0, 1} is regression, not labels
    D, labels = single.targets(np.array([2.5, -1.0]), 2)
    assert labels is None and D.tolist() == [[2.5], [-1.0]]


def test_classify_thresholds_single_output_mid_range():
    net = sn.Network([sn.Dense(1, 1, "tanh", W=[[1.0]], b=[0.0])])
    assert net.classify([[-0.5], [0.5]]).tolist() == [0, 1]


def test_empty_network_and_bad_layer_sizes():
    with pytest.raises(ConfigError, match="at least one layer"):
        sn.Network([])
    with pytest.raises(ConfigError, match="n_out must be a positive integer"):
        sn.Dense(3, 0)
    with pytest.raises(ConfigError, match="needs at least an input and an output size"):
        sn.Network.from_sizes([3])


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_rejects_non_finite_input_even_when_f_saturates(act, bad):
    """predict checks u = W·x + b instead of x: ±inf must still be caught where f(±inf) is
    finite (sigmoid, tanh), and where a weight is exactly 0 (inf·0 = NaN)."""
    net = sn.Network.from_sizes([3, 4, 2], hidden=act, output="sigmoid", seed=0)
    net.layers[0].W[:, 2] = 0.0
    X = np.ones((5000, 3))
    for col in (0, 2):
        Xb = X.copy()
        Xb[4321, col] = bad
        with pytest.raises(DataError, match=rf"first at row 4321, column {col}"):
            net.predict(Xb)
        from synapsenet import hardware

        with pytest.raises(DataError, match=rf"first at row 4321, column {col}"):
            hardware.deploy(net, "pcm").predict(Xb)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_on_several_threads_equals_one_thread(dtype):
    """Chunks side by side on the cores give the outputs of one thread (to rounding: BLAS
    may sum in another order for another chunk size)."""
    net = sn.Network.from_sizes([30, 40, 7], hidden="relu", output="softmax", seed=0,
                                dtype=dtype)
    X = np.random.default_rng(0).normal(size=(9001, 30))
    one = net.predict(X, threads=1)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for t in (2, 3, None):
        np.testing.assert_allclose(net.predict(X, threads=t), one, rtol=tol, atol=tol)
    np.testing.assert_allclose(net.predict(X[17]), one[17], rtol=tol, atol=tol)


def test_evaluate_cross_entropy_is_exact_with_and_without_saturated_outputs():
    """evaluate reads the loss off z when it can and goes through u when an output
    underflowed to 0; both give the exact value."""
    from synapsenet.losses import get_loss

    net = sn.Network.from_sizes([4, 6, 3], hidden="tanh", output="softmax", seed=0,
                                dtype="float64")
    X = np.random.default_rng(0).normal(size=(50, 4))
    y = np.arange(50) % 3
    ce = get_loss("cross_entropy")
    D, _ = net.targets(y, len(X))
    exact = ce.value(net.predict(X), D, net._output_u(X))
    assert net.evaluate(X, y, "cross_entropy")["loss"] == pytest.approx(exact, rel=1e-12)
    net.layers[-1].W[...] *= 1e4  # outputs saturate: some z are exactly 0
    Z = net.predict(X)
    assert (Z == 0).any() and ce.quick_value(Z, D) is None
    exact = ce.value(Z, D, net._output_u(X))
    assert np.isfinite(exact) and exact > 1.0
    assert net.evaluate(X, y, "cross_entropy")["loss"] == pytest.approx(exact, rel=1e-12)
