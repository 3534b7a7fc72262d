"""Learning in the synapse: networks trained on the chip, their updates by device pulses."""

import numpy as np
import pytest

import synapsenet as sn
from synapsenet import hardware
from synapsenet.hardware.learning import DeviceSynapses, LearningConfig


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.random((96, 5), dtype=np.float32)
    y = (X[:, 0] + X[:, 1] > X[:, 2] + 0.4).astype(int)
    return X, y


def chip_config(**learning):
    cfg = hardware.load_config("ideal")
    return cfg.replace(**{f"learning.{k}": v for k, v in learning.items()})


def ideal_law(tmp_path, continuous=True, dw_min=0.001):
    path = tmp_path / f"ideal-{continuous}.toml"
    path.write_text(f'law = "ideal"\ndw_min = {dw_min}\ncontinuous = {str(continuous).lower()}\n'
                    'w_min = -1.0\nw_max = 1.0\n')
    return str(path)


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
    assert chip.train_config["engine"].startswith("numpy (the chip trains")


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
    total = np.zeros((3, 4))
    for _ in range(trials):
        total += syn._coincidences(z, d, rng)
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
