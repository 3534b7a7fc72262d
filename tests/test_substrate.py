"""The substrate seam: one network loop, the products made by whichever substrate it is on."""

import numpy as np
import pytest
from conftest import network_of

import synapsenet as sn
from synapsenet import hardware
from synapsenet.substrate import Digital, NoisyDigital, Substrate


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.random((120, 6), dtype=np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return X, y


class RoundedWeights(Digital):
    """A substrate added in a few lines: synapses that hold only multiples of 1/8 (the
    forward and backward passes see the rounded weights; the update goes to W)."""

    name = "rounded"

    def forward(self, k, layer, Z, out, rng=None, train=False):
        np.matmul(Z, np.round(layer.WT * 8) / 8, out=out)
        out += layer.b
        return out

    def backward(self, k, layer, delta, out):
        return np.matmul(delta, np.round(layer.W * 8) / 8, out=out)

    def fused_inference(self, network):
        return None  # the compiled path would compute with the exact weights

    def trainer(self, network, loss, optimizer, batch, inputs=None):
        return None, "rounded weights train layer by layer"


def test_a_new_substrate_needs_no_change_to_the_network(data):
    X, y = data
    net = sn.Network.from_sizes([6, 8, 2], hidden="tanh", output="softmax", seed=1)
    rounded = net.on(RoundedWeights())
    W = rounded.layers[0].W
    expected = np.tanh(X @ (np.round(W * 8) / 8).T + rounded.layers[0].b)
    U = rounded.substrate.forward(0, rounded.layers[0], X, np.empty((len(X), 8), np.float32))
    assert np.allclose(np.tanh(U), expected, atol=1e-6)
    h = rounded.fit(X, y, epochs=30, learning_rate=0.5, loss="cross_entropy", seed=0)
    assert h.loss[-1] < h.loss[0]
    assert rounded.train_config["engine"] == "numpy (rounded weights train layer by layer)"
    assert all(a is b for a, b in zip(rounded.layers, net.layers))  # the same synapses


def test_on_shares_the_layers_and_keeps_the_original(data):
    X, _ = data
    net = sn.Network.from_sizes([6, 4, 2], seed=0)
    other = net.on(Digital(weight_bound=0.5))
    assert other is not net and all(a is b for a, b in zip(other.layers, net.layers))
    assert type(net.substrate) is Digital and net.substrate.weight_bound is None
    assert np.array_equal(other.predict(X), net.predict(X))
    assert "on Digital(weight_bound=0.5)" in repr(other)
    with pytest.raises(sn.ConfigError, match="substrate must be"):
        sn.Network(net.layers, substrate="digital")


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_digital_counts_every_product(monkeypatch, data, engine):
    """The counters say what was computed, whichever path of the digital substrate ran."""
    from synapsenet import _engine

    if engine == "compiled" and not _engine.AVAILABLE:
        pytest.skip("the compiled engine is not built here")
    monkeypatch.setenv("SYNAPSENET_ENGINE", engine)
    X, y = data
    net = sn.Network.from_sizes([6, 8, 2], hidden="relu", output="softmax", seed=0)
    net.fit(X, y, epochs=2, batch_size=16, learning_rate=0.1, loss="cross_entropy")
    assert net.train_config["engine"].startswith(engine)
    first, second = net.substrate.counters.layers
    assert first.vectors == second.vectors == 2 * len(X)
    assert first.macs == first.update_macs == 2 * len(X) * 6 * 8
    assert second.macs == second.backward_macs == 2 * len(X) * 8 * 2
    assert first.backward_macs == 0  # nothing is handed below the first layer
    net.substrate.counters.reset()
    net.predict(X[:10])
    assert net.substrate.counters.total().vectors == 20  # ten rows through two layers


def test_noisy_digital_is_exact_at_inference_and_noisy_in_training(data):
    X, y = data
    net = sn.Network.from_sizes([6, 8, 2], hidden="tanh", output="softmax", seed=0)
    noisy = net.on(NoisyDigital(weight_noise=0.2))
    assert np.array_equal(noisy.predict(X), net.predict(X))
    layer = noisy.layers[0]
    out = np.empty((len(X), 8), np.float32)
    rng = np.random.default_rng(0)
    a = noisy.substrate.forward(0, layer, X, out.copy(), rng, train=True)
    G = noisy.substrate.backward(0, layer, np.ones((len(X), 8), np.float32),
                                 np.empty((len(X), 6), np.float32))
    W_used = noisy.substrate._used[0].T  # the draw of this step, used forward and backward
    assert np.allclose(a, X @ W_used.T + layer.b, atol=1e-5)
    assert np.allclose(G, np.ones((len(X), 8)) @ W_used, atol=1e-5)
    assert not np.allclose(W_used, layer.W)
    with pytest.raises(sn.ConfigError, match=r"weight_noise must be in \[0, 10\)"):
        NoisyDigital(weight_noise=-0.1)


def test_a_chip_is_under_one_network_and_fit_refuses_a_substrate_that_cannot_train(data):
    X, y = data
    net = sn.Network.from_sizes([6, 4, 2], seed=0)
    chip = hardware.deploy(net, "pcm")
    with pytest.raises(sn.ConfigError, match="already under a network"):
        net.on(chip.substrate)

    class ReadOnly(Digital):
        name, trainable = "read-only", False

    with pytest.raises(sn.ConfigError, match="read-only substrate, which cannot train"):
        net.on(ReadOnly()).fit(X, y, epochs=1)


def test_the_chip_counts_its_reads_and_conversions(data):
    X, _ = data
    net = sn.Network.from_sizes([6, 40, 3], hidden="relu", output="softmax", seed=0)
    cfg = hardware.load_config("ideal").replace(rows=4, cols=16, dac_bits=6, adc_bits=8)
    chip = hardware.deploy(net, cfg)
    chip.predict(X)
    c0, c1 = chip.substrate.counters.layers
    blocks0, blocks1 = -(-6 // 4), -(-40 // 4)
    assert c0.vectors == c1.vectors == len(X)
    assert c0.array_reads == len(X) * blocks0 and c1.array_reads == len(X) * blocks1
    assert c0.dac_conversions == len(X) * 6 and c1.dac_conversions == len(X) * 40
    assert c0.adc_conversions == len(X) * 40 * blocks0
    assert c1.adc_conversions == len(X) * 3 * blocks1
    assert c0.input_energy_units == 0.0  # metered only when asked (one more pass)


def test_metered_read_energy_is_sum_of_x_squared_times_row_conductance():
    W = np.array([[0.5, -1.0], [0.25, 0.0]], np.float32)
    net = network_of(W)
    chip = hardware.deploy(net, hardware.load_config("ideal").replace(mapping="layer"),
                           meter=True)
    X = np.array([[1.0, 0.5], [0.0, -2.0]], np.float32)
    chip.predict(X)
    G_rows = chip.substrate.arrays[0].G.sum(axis=(0, 1)) * 1e-6  # S per input row
    Xn = X / np.abs(X).max(axis=1, keepdims=True)  # inputs as the DAC applies them
    expected = float((Xn ** 2).sum(axis=0) @ G_rows)
    assert chip.substrate.counters.layers[0].input_energy_units == pytest.approx(expected)


def test_an_adc_without_a_range_is_calibrated_not_collapsed():
    """adc_bits alone used to quantise every output to zero (a full scale of 10⁹)."""
    X, y = sn.datasets.load("digits").scaled()
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    net = sn.Network.from_sizes([64, 32, 10], hidden="relu", output="softmax", seed=0)
    net.fit(X[:1400], y[:1400], epochs=30, learning_rate=0.5, loss="cross_entropy")
    digital = net.evaluate(X[1400:], y[1400:])["accuracy"]
    chip = hardware.deploy(net, hardware.load_config("ideal").replace(adc_bits=8))
    assert chip.substrate.arrays[0].adc_range > 0
    on_chip = chip.evaluate(X[1400:], y[1400:])["accuracy"]
    assert digital > 0.9 and on_chip > digital - 0.02
    collapsed = hardware.deploy(net, hardware.load_config("ideal").replace(adc_bits=8,
                                                                          adc_range=1e9))
    assert collapsed.evaluate(X[1400:], y[1400:])["accuracy"] < 0.2  # what it used to do


def test_evaluate_reports_the_chip_and_the_training_loss(data):
    X, y = data
    net = sn.Network.from_sizes([6, 8, 2], hidden="tanh", output="softmax", seed=0)
    net.fit(X, y, epochs=5, learning_rate=0.5, loss="cross_entropy", seed=0)
    from synapsenet.losses import get_loss

    D, _ = net.targets(y, len(X))
    assert net.evaluate(X, y)["loss"] == pytest.approx(
        get_loss("cross_entropy").value(net.predict(X), D))  # the loss it was trained with
    noisy_chip = hardware.deploy(net, hardware.load_config("ideal").replace(out_noise=0.5))
    assert net.evaluate(X, y)["loss"] != pytest.approx(noisy_chip.evaluate(X, y)["loss"])


def test_the_interface_names_what_a_substrate_must_do():
    bare = Substrate()
    layer = sn.Dense(2, 2)
    for call in (lambda: bare.forward(0, layer, np.zeros((1, 2)), np.zeros((1, 2))),
                 lambda: bare.backward(0, layer, np.zeros((1, 2)), np.zeros((1, 2))),
                 lambda: bare.update(0, layer, np.zeros((1, 2)), np.zeros((1, 2)), True)):
        with pytest.raises(NotImplementedError):
            call()
    assert bare.trainer(None, None, None, 1) == (None, "the substrate substrate trains layer "
                                                      "by layer")


@pytest.mark.parametrize("scaling", ["abs_max", "fixed"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_chip_names_a_non_finite_input_whatever_its_input_scaling(scaling, bad):
    net = sn.Network.from_sizes([4, 3, 2], seed=0)
    chip = hardware.deploy(net, hardware.load_config("ideal").replace(input_scaling=scaling,
                                                                      dac_bits=6))
    X = np.ones((5, 4), np.float32)
    X[3, 2] = bad
    with pytest.raises(sn.DataError, match="row 3, column 2"):
        chip.predict(X)
