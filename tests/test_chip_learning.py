"""Learning in the synapse: networks trained on the chip, their updates by device pulses."""

import numpy as np
import pytest
from conftest import chip_config, ideal_law, network_of

import synapsenet as sn
from synapsenet import hardware
from synapsenet.hardware.learning import DeviceSynapses, LearningConfig


@pytest.mark.parametrize("synapse", ["pair", "reference"])
@pytest.mark.parametrize("mode,batch", [("sgd", None), ("minibatch", 16)])
def test_an_ideal_device_trains_exactly_as_digital_sgd(tmp_path, data, synapse, mode, batch):
    """Continuous ideal devices, deterministic pulse counts, ideal converters: the chip's
    training is gradient descent, weight for weight."""
    X, y = data
    digital = sn.Network.from_sizes([5, 7, 2], hidden="tanh", output="softmax", seed=2)
    chip = hardware.deploy(sn.Network.from_sizes([5, 7, 2], hidden="tanh", output="softmax",
                                                 seed=2),
                           chip_config(device=ideal_law(tmp_path), synapse=synapse,
                                       weight_max=8.0))
    kw = dict(epochs=3, learning_rate=0.2, loss="cross_entropy", mode=mode, batch_size=batch,
              seed=0)
    hd = digital.fit(X, y, **kw)
    hc = chip.fit(X, y, **kw)
    for a, b in zip(digital.parameters(), chip.parameters()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(hc.loss, hd.loss, rtol=1e-4)
    assert chip.train_config["engine"].startswith("numpy (")  # not a case of the chip engine


def test_deterministic_pulse_counts_add_up(tmp_path):
    law_cfg = LearningConfig(device=ideal_law(tmp_path, continuous=False, dw_min=0.01),
                             synapse="reference", weight_max=1.0)
    layer = sn.Dense(3, 2, "identity", W=np.zeros((2, 3), np.float32), b=np.zeros(2))
    syn = DeviceSynapses(layer, law_cfg, np.random.default_rng(0))
    dw = syn.gamma * syn.dw  # one pulse in network units
    Z = np.array([[1.0, 0.5, 0.0]], np.float32)
    delta = np.array([[-3.2 * dw, 1.0 * dw]], np.float32)
    syn.update(Z, delta, np.random.default_rng(0))
    expected = np.rint(-(delta.T @ Z) / dw)  # pulses per device
    assert syn.pulses == int(np.abs(expected).sum())
    np.testing.assert_allclose(syn.weights(), expected * dw, atol=1e-6)


def test_the_stochastic_scheme_is_unbiased(tmp_path):
    """E[pulses × step] = −δ zᵀ (η already in δ), checked over many trains."""
    cfg = LearningConfig(device=ideal_law(tmp_path, continuous=False, dw_min=0.01),
                         synapse="reference", scheme="stochastic",
                         pulse_length=31, weight_max=1.0)
    layer = sn.Dense(4, 3, "identity", W=np.zeros((3, 4), np.float32), b=np.zeros(3))
    syn = DeviceSynapses(layer, cfg, np.random.default_rng(0))
    z = np.array([0.9, -0.4, 0.0, 0.2], np.float32)
    d = np.array([0.02, -0.05, 0.01], np.float32)
    rng = np.random.default_rng(1)
    trials = 4000
    total = np.zeros(12)
    for _ in range(trials):
        index, n = syn._coincidences(z, d, rng)
        np.add.at(total, index, n)
    total = total.reshape(3, 4)
    mean_update = total / trials * syn.gamma * syn.dw
    want = -np.outer(d, z)
    # the standard error of each mean is below 3 % of the largest update here
    np.testing.assert_allclose(mean_update, want, atol=0.1 * np.abs(want).max())
    assert np.all(mean_update[:, 2] == 0)  # a silent input fires no pulse


def test_reruns_with_a_seed_are_identical(data):
    X, y = data

    def run():
        net = sn.Network.from_sizes([5, 6, 2], hidden="relu", output="softmax", seed=0)
        chip = hardware.deploy(net, chip_config(device="ideal", scheme="stochastic"), seed=3)
        chip.fit(X, y, epochs=2, learning_rate=0.1, loss="cross_entropy", batch_size=8,
                 seed=1)
        return chip.parameters()

    for a, b in zip(run(), run()):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("device", ["epiram", "ag-si", "ecram"])
def test_the_chip_learns_with_nonlinear_asymmetric_devices(data, device):
    """NeuroSim's EpiRAM and Ag:a-Si, aihwkit's ECRAM: a few hundred updates by pulses
    take the network from chance to near what digital training reaches (0.83 here)."""
    X, y = data
    net = sn.Network.from_sizes([5, 8, 2], hidden="tanh", output="softmax", seed=0)
    before = net.evaluate(X, y)["accuracy"]
    chip = hardware.deploy(net, chip_config(device=device, weight_max=1.0))
    chip.fit(X, y, epochs=30, learning_rate=0.5, loss="cross_entropy", batch_size=8, seed=0)
    after = chip.evaluate(X, y)["accuracy"]
    assert after > 0.75 and after > before + 0.2
    desc = chip.train_config["substrate"]
    assert desc["pulses"] > 0 and desc["scheme"] == "deterministic"
    assert chip.substrate.counters.total().write_pulses == desc["pulses"]


def test_momentum_is_refused_on_the_chip(data):
    X, y = data
    chip = hardware.deploy(sn.Network.from_sizes([5, 3, 2], seed=0), "ideal")
    with pytest.raises(sn.ConfigError, match="optimizer='sgd'"):
        chip.fit(X, y, epochs=1, optimizer="momentum")


@pytest.mark.parametrize("key,value,match", [
    ("scheme", "random", "scheme must be one of deterministic, stochastic"),
    ("synapse", "triple", "synapse must be one of pair, reference"),
    ("pulse_length", 0, "pulse_length must be in 1…1024"),
    ("weight_max", -1.0, "weight_max must be > 0"),
])
def test_impossible_learning_settings_are_refused(key, value, match):
    with pytest.raises(sn.ConfigError, match=match):
        chip_config(**{key: value})


def test_a_few_devices_pulsed_by_table_match_the_closed_form():
    law = hardware.devices.load_device("ag-si").replace(sigma_c2c=0.0)
    devs = law.instantiate((40, 30), rng=0)
    rng = np.random.default_rng(0)
    w = devs.clip(rng.uniform(law.w_min, law.w_max, (40, 30)).astype(np.float32))
    index = rng.choice(w.size, 50, replace=False)
    n = rng.integers(-120, 121, 50).astype(np.float32)
    full = np.zeros(w.size, np.float32)
    full[index] = n
    want = devs.pulses(w.copy(), full.reshape(w.shape).astype(np.int64))  # loop-free formula
    got = w.copy()
    devs.pulses_at(got, index, n)
    np.testing.assert_allclose(got, want, atol=2e-6)
    untouched = np.setdiff1d(np.arange(w.size), index)
    assert np.array_equal(got.reshape(-1)[untouched], w.reshape(-1)[untouched])


@pytest.mark.parametrize("synapse", ["pair", "reference"])
def test_sparse_updates_leave_the_chip_as_a_full_reload_would(synapse):
    """Only pulsed synapses are read again and reloaded: the network's weights and the
    crossbar's are then what a full read and load_weights give."""
    rng = np.random.default_rng(0)
    X = (rng.random((40, 30)) < 0.3).astype(np.float32)
    y = rng.integers(0, 4, 40)
    net = sn.Network.from_sizes([30, 20, 4], hidden="sigmoid", output="sigmoid", seed=0)
    cfg = chip_config(device="epiram", synapse=synapse).replace(**{"io.adc_bits": 8})
    chip = hardware.deploy(net, cfg)
    chip.fit(X, y, epochs=2, learning_rate=0.8, mode="sgd", seed=0)
    sub = chip.substrate
    assert sub.pulses > 0
    assert_weight_copies_in_step(chip)


def assert_weight_copies_in_step(chip):
    """Every copy of each layer's weights is what its devices hold: the layer's W, the
    substrate's float32 W and the crossbar's normalised and ADC-step copies (as a fresh
    ``load_weights`` would make them)."""
    sub = chip.substrate
    for k, (layer, syn, array) in enumerate(zip(chip.layers, sub.synapses, sub.arrays)):
        W = syn.weights()
        np.testing.assert_array_equal(layer.W, W)
        np.testing.assert_array_equal(sub._W32(k, layer), W)
        kept_T, kept_scaled = array.Wn_T.copy(), array._scaled
        array.load_weights(W, syn.cfg.weight_max)
        np.testing.assert_array_equal(array.Wn_T, kept_T)
        if kept_scaled is not None:
            g, scaled = kept_scaled
            np.testing.assert_array_equal(array._weights_in_steps(g), scaled)


def test_digital_backward_fixed_biases_and_layer_rates():
    rng = np.random.default_rng(1)
    X = rng.random((20, 6), dtype=np.float32)
    y = rng.integers(0, 3, 20)

    def train(**learning):
        net = sn.Network.from_sizes([6, 5, 3], hidden="sigmoid", output="sigmoid", seed=0)
        chip = hardware.deploy(net, chip_config(device="epiram", synapse="reference",
                                                **learning))
        chip.fit(X, y, epochs=1, learning_rate=0.5, mode="sgd", seed=0)
        return chip

    chip = train(backward="digital", bias="fixed")
    assert all(not layer.b.any() for layer in chip.layers)
    sub = chip.substrate
    delta = rng.standard_normal((2, 3)).astype(np.float32)
    out = np.empty((2, 5), np.float32)
    np.testing.assert_allclose(sub.backward(1, chip.layers[1], delta, out),
                               delta @ chip.layers[1].W, rtol=1e-6)
    assert sub.counters.layer(1).backward_macs > 0
    slow, fast = train(layer_rates=[1e-6, 1e-6]), train(layer_rates=[1.0, 1.0])
    assert slow.substrate.pulses == 0 < fast.substrate.pulses
    with pytest.raises(sn.ConfigError, match="layer_rates has 3 factor"):
        train(layer_rates=[1.0, 1.0, 1.0])


@pytest.mark.parametrize("key,value,match", [
    ("backward", "analog", "backward must be one of chip, digital"),
    ("bias", "none", "bias must be one of digital, fixed"),
    ("layer_rates", [1.0, -2.0], "layer_rates must be positive numbers"),
])
def test_impossible_training_options_are_refused(key, value, match):
    with pytest.raises(sn.ConfigError, match=match):
        chip_config(**{key: value})


def test_a_one_bit_dac_and_an_adc_over_every_row():
    cfg = hardware.load_config("ideal").replace(**{"io.dac_bits": 1, "io.adc_bits": 4,
                                                   "io.adc_full_scale": "rows",
                                                   "io.input_scaling": "fixed"})
    W = np.ones((2, 10), np.float32)
    W[1] = -1
    net = network_of(W)
    chip = hardware.deploy(net, cfg)
    x = np.array([[0.5, 0.7, 1.0, 0.49, 0.2, 0, 0, 0, 0, 0]], np.float32)
    step = 10 / 7  # 4 bits: codes −7…7 over ±10 rows
    np.testing.assert_allclose(chip.predict(x), [[np.round(3 / step) * step,
                                                  -np.round(3 / step) * step]], rtol=1e-6)
    with pytest.raises(sn.ConfigError, match="adc_full_scale must be"):
        cfg.replace(**{"io.adc_full_scale": "max"})
    with pytest.raises(sn.ConfigError, match="bit_serial inputs need dac_bits ≥ 2"):
        cfg.replace(**{"io.bit_serial": True})
