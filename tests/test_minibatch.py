"""The chip's compiled mini-batch engine (hardware/minibatch.py, _accel/chipsteps.c) against
its twin, the chip's layer-by-layer steps with the same compiled reads and pulse update.

Both draw the same noise words and pulse seeds from the same generators in the same order,
and the engine makes the activations and the output layer's δ with NumPy's own operations
(its tanh and exp loops, the BLAS call of its matmul for a softmax's row sums): bit for bit
the same steps, the same devices, weights and biases, epoch after epoch. A softmax under
squared error (its Jacobian) takes sn_output_layer (the C library's expf and sums), a
rounding from NumPy's, which could move a DAC code or a pulse where a value lands on a
boundary: there the tests allow a device in ten thousand.
"""

import re

import numpy as np
import pytest

import synapsenet as sn
from synapsenet import _engine, _parallel, hardware
from synapsenet.errors import DataError, DivergenceError, InputScaleWarning
from synapsenet.hardware import kernels, minibatch

pytestmark = pytest.mark.skipif(not _engine.AVAILABLE, reason="the compiled engine is not built")

CONSTANT_STEP = {"law": "constant_step", "dw_min": 0.001, "dw_min_std": 0.3,
                 "dw_min_dtod": 0.3, "up_down_dtod": 0.01, "w_max": 0.6, "w_min": -0.6,
                 "w_max_dtod": 0.3, "w_min_dtod": 0.3}
# aihwkit's default periphery in synapsenet's units (benchmarks/bench_aihwkit.py)
PERIPHERY = {"io.dac_bits": 7, "io.adc_bits": 9, "io.adc_range": 20.0, "io.out_noise": 0.1,
             "io.input_scaling": "abs_max"}


def chip_config(**changes):
    cfg = hardware.load_config("ideal").replace(**{
        "learning.scheme": "stochastic", "learning.synapse": "reference",
        "learning.weight_max": 0.6, **PERIPHERY, **changes})
    cfg.learning.device = changes.get("learning.device", CONSTANT_STEP)
    return cfg


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = (rng.random((300, 64)) * (rng.random((300, 64)) < 0.4)).astype(np.float32)
    y = (X[:, :16].sum(axis=1) > X[:, 16:32].sum(axis=1)).astype(int) + \
        2 * (X[:, 32:48].sum(axis=1) > X[:, 48:].sum(axis=1))
    return X, y


def train(monkeypatch, compiled, cfg, data, sizes=(64, 32, 4), hidden="sigmoid",
          output="softmax", loss="cross_entropy", batch=16, epochs=2, callbacks=(), **kw):
    if not compiled:
        monkeypatch.setattr(minibatch, "unsupported", lambda *a: "the twin, for the test")
    net = sn.Network.from_sizes(list(sizes), hidden=hidden, output=output, seed=2)
    net = net.on(hardware.Analog(cfg, seed=5))
    X, y = data
    h = net.fit(X, y, epochs=epochs, learning_rate=0.2, loss=loss, mode="minibatch",
                batch_size=batch, seed=7, callbacks=list(callbacks), **kw)
    monkeypatch.undo()
    return net, h


def assert_same_steps(a, b, exact=True):
    """The engine's run ``a`` and the twin's ``b``: the same devices, weights and biases
    (not ``exact``: the devices but for one in ten thousand, the weights to a rounding, the
    biases to a few), the same pulses, counters and generators' states after."""
    assert a.train_config["engine"].startswith("compiled"), a.train_config["engine"]
    assert b.train_config["engine"].startswith("numpy"), b.train_config["engine"]
    ca, cb = a.substrate, b.substrate
    for k, (la, lb) in enumerate(zip(a.layers, b.layers)):
        for sa, sb in zip(ca.synapses[k].states, cb.synapses[k].states):
            if exact:
                np.testing.assert_array_equal(sa, sb)
            else:
                assert np.mean(sa != sb) <= 1e-4, (k, np.mean(sa != sb))
        if exact:
            np.testing.assert_array_equal(la.W, lb.W)
            np.testing.assert_array_equal(la.b, lb.b)
        else:
            np.testing.assert_allclose(la.W, lb.W, atol=1e-6)
            np.testing.assert_allclose(la.b, lb.b, atol=1e-5)
    assert ca.pulses == cb.pulses > 0
    assert ca.counters == cb.counters
    np.testing.assert_array_equal(ca.rng.bit_generator.state["state"]["state"],
                                  cb.rng.bit_generator.state["state"]["state"])
    assert sum(s.refreshes for s in ca.synapses) == sum(s.refreshes for s in cb.synapses)


CASES = {
    "aihwkit's periphery": ({}, {}),
    "no converters": ({"io.dac_bits": None, "io.adc_bits": None, "io.adc_range": None}, {}),
    "read noise, per-layer rates": ({"device.read_noise": 0.02, "learning.layer_rates": [1.0, 0.5]},
                                    {}),
    "pairs refreshed, fixed length": ({"learning.synapse": "pair", "learning.refresh_at": 0.6,
                                       "learning.adaptive_pulse_length": False}, {}),
    "tanh, squared error, no shuffle": ({}, {"hidden": "tanh", "output": "sigmoid",
                                             "loss": "squared_error", "shuffle": False}),
    "three layers of relu, batch 1": ({}, {"sizes": (64, 32, 16, 4), "hidden": "relu",
                                           "batch": 1, "epochs": 1}),
    "tiles of 24 × 16: blocks of partial sums both ways": ({"tile.rows": 24, "tile.cols": 16},
                                                          {"sizes": (64, 32, 24, 4)}),
    "binary cross-entropy": ({}, {"output": "sigmoid", "loss": "binary_cross_entropy"}),
    "a softmax under squared error": ({}, {"loss": "squared_error"}),  # (sn_output_layer's)
}


@pytest.mark.parametrize("name", CASES)
def test_the_engine_makes_the_twins_steps(monkeypatch, data, name):
    changes, kw = CASES[name]
    a, ha = train(monkeypatch, True, chip_config(**changes), data, **kw)
    b, hb = train(monkeypatch, False, chip_config(**changes), data, **kw)
    assert_same_steps(a, b, exact=name != "a softmax under squared error")
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-6)
    assert ha.accuracy == hb.accuracy


def test_batch_by_batch_callbacks_see_the_same_steps(monkeypatch, data):
    seen = []

    class Each(sn.training.Callback):
        def on_batch_end(self, batch, size, loss):
            seen.append((batch, size))

    a, _ = train(monkeypatch, True, chip_config(), data, batch=64, callbacks=[Each()])
    b, _ = train(monkeypatch, False, chip_config(), data, batch=64)
    assert_same_steps(a, b)
    assert [s for _, s in seen] == [64, 64, 64, 64, 44] * 2


def test_the_same_devices_on_any_number_of_threads(monkeypatch, data):
    runs = []
    for threads in (1, 3):
        monkeypatch.setattr(_parallel, "default_threads", lambda t=threads: t)
        net, _ = train(monkeypatch, True, chip_config(), data, batch=32)
        assert net.train_config["engine"] == f"compiled, {threads} thread(s)"
        runs.append(net)
    for k in range(2):
        np.testing.assert_array_equal(runs[0].substrate.synapses[k].states[0],
                                      runs[1].substrate.synapses[k].states[0])


def test_it_steps_aside_where_it_does_not_cover_the_training(monkeypatch, data):
    chip = hardware.Analog(chip_config(), seed=0, meter=True)
    net = sn.Network.from_sizes([64, 32, 4], hidden="sigmoid", output="softmax").on(chip)
    net.fit(*data, epochs=1, learning_rate=0.1, loss="cross_entropy", batch_size=16)
    assert net.train_config["engine"].startswith("numpy (a metered chip")
    # declined once the devices are placed: put back unplaced, so the same run as the twin's
    cfg = chip_config(**{"io.input_scaling": "fixed"})
    a, _ = train(monkeypatch, True, cfg, data, epochs=1)
    assert a.train_config["engine"] == "numpy (layer 0's forward read is not one compiled call)"
    b, _ = train(monkeypatch, False, cfg, data, epochs=1)
    for k in range(2):
        np.testing.assert_array_equal(a.substrate.synapses[k].states[0],
                                      b.substrate.synapses[k].states[0])
    np.testing.assert_array_equal(a.substrate.rng.bit_generator.state["state"]["state"],
                                  b.substrate.rng.bit_generator.state["state"]["state"])
    net = sn.Network.from_sizes([64, 32, 5], hidden="sigmoid", output="softmax")
    net = net.on(hardware.Analog(chip_config(), seed=0))
    net.fit(*data, epochs=1, learning_rate=0.1, loss="cross_entropy", batch_size=16)
    assert net.train_config["engine"] == "numpy (a noisy read of an odd number of outputs)"
    net = sn.Network.from_sizes([64, 32, 4], hidden="elu", output="softmax")
    net = net.on(hardware.Analog(chip_config(), seed=0))
    net.fit(*data, epochs=1, learning_rate=0.1, loss="cross_entropy", batch_size=16)
    assert "activations" in net.train_config["engine"]


def test_a_non_finite_input_stops_before_any_pulse(data):
    X, y = data
    X = X.copy()
    X[17, 3] = np.nan
    net = sn.Network.from_sizes([64, 32, 4], hidden="sigmoid", output="softmax")
    net = net.on(hardware.Analog(chip_config(), seed=0))
    with pytest.raises(DataError):
        net.fit(X, y, epochs=1, learning_rate=0.1, loss="cross_entropy", batch_size=16)
    assert net.substrate.pulses == 0


def test_a_diverging_run_keeps_the_devices_of_its_last_good_epoch(monkeypatch, data):
    runs = []
    for compiled in (True, False):
        net, _ = train(monkeypatch, compiled, chip_config(), data, epochs=1)
        kept = [s.copy() for s in net.substrate.synapses[0].states]
        weights = net.get_weights()
        if not compiled:
            monkeypatch.setattr(minibatch, "unsupported", lambda *a: "the twin, for the test")
        with pytest.raises(DivergenceError) as e:  # the digital biases overflow
            net.fit(*data, epochs=1, learning_rate=3e39, loss="cross_entropy", batch_size=16)
        monkeypatch.undo()
        assert net.train_config["engine"].startswith("compiled" if compiled else "numpy")
        for s, k in zip(net.substrate.synapses[0].states, kept):
            np.testing.assert_array_equal(s, k)
        for w, k in zip(net.get_weights(), weights):
            np.testing.assert_array_equal(w, k)
        runs.append(re.sub(r"the loss is \S+", "the loss is E", str(e.value)))
    assert runs[0] == runs[1], runs  # (E as each computes it, to a rounding)
    assert "batch 1: the loss is E" in runs[0] and "keeps its last finite weights" in runs[0]


def test_numpys_own_loop_gives_numpys_values():
    fn, data = kernels.ufunc_loop(np.tanh, "f")
    assert fn
    with pytest.raises(ValueError, match="not the ufunc layout"):
        kernels.ufunc_loop(np.add, "f")


def test_a_step_with_an_infinite_output_leaves_the_chip_as_the_twin_does(monkeypatch, data):
    X, y = data
    X = X.copy()
    X[20] *= np.float32(3e38) / X[20].max()  # finite, but its read overflows: a NaN loss
    nets = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(minibatch, "unsupported", lambda *a: "the twin, for the test")
        net = sn.Network.from_sizes([64, 32, 4], hidden="relu", output="identity", seed=2)
        net = net.on(hardware.Analog(chip_config(), seed=5))
        # (the inputs' root mean square is still told, their squares past float32's range)
        scale = r"are 7e\+36 in magnitude \(root mean square; largest 3e\+38\)"
        with pytest.raises(DivergenceError, match="batch 2: the loss is nan"), \
                pytest.warns(InputScaleWarning, match=scale):
            net.fit(X, y, epochs=1, learning_rate=0.2, loss="squared_error", batch_size=16,
                    shuffle=False, seed=7)
        monkeypatch.undo()
        nets.append(net)
    a, b = nets
    assert a.train_config["engine"].startswith("compiled")
    # the step before was made alike; the failing one drew only its forward reads' noise
    np.testing.assert_array_equal(a.substrate.rng.bit_generator.state["state"]["state"],
                                  b.substrate.rng.bit_generator.state["state"]["state"])
    assert a.substrate.counters == b.substrate.counters
    for k in range(2):
        np.testing.assert_array_equal(a.substrate.synapses[k].states[0],
                                      b.substrate.synapses[k].states[0])


def test_a_step_with_a_non_finite_delta_is_counted_as_the_twin_counts_it(monkeypatch, data):
    cfg = chip_config(**{"learning.bias": "fixed"})  # (the weights stay finite: no restore)
    nets = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(minibatch, "unsupported", lambda *a: "the twin, for the test")
        net = sn.Network.from_sizes([64, 32, 4], hidden="sigmoid", output="softmax", seed=2)
        net = net.on(hardware.Analog(cfg, seed=5))
        with pytest.raises(DivergenceError):
            net.fit(*data, epochs=1, learning_rate=3e39, loss="cross_entropy", batch_size=16,
                    seed=7)
        monkeypatch.undo()
        nets.append(net)
    a, b = nets
    assert a.train_config["engine"].startswith("compiled")
    assert a.substrate.counters == b.substrate.counters
    assert a.substrate.pulses == b.substrate.pulses


def test_a_chip_whose_synapses_meter_is_declined(monkeypatch, data):
    chip = hardware.Analog(chip_config(), seed=0, meter=True)
    net = sn.Network.from_sizes([64, 32, 4], hidden="sigmoid", output="softmax").on(chip)
    net.fit(*data, epochs=1, learning_rate=0.1, loss="cross_entropy", batch_size=16)
    chip.meter = False  # (the synapses placed metered still are)
    net.fit(*data, epochs=1, learning_rate=0.1, loss="cross_entropy", batch_size=16)
    assert net.train_config["engine"].startswith("numpy (a metered chip")


def test_mnist_sized_steps_are_the_twins(monkeypatch):
    """784-256-10 on inputs as sparse as MNIST's (a fifth of the pixels lit): the first
    layer's product over the inputs used, the output layer's by BLAS, four blocks of 256."""
    rng = np.random.default_rng(0)
    X = (rng.random((256, 784)) * (rng.random((256, 784)) < 0.2)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    cfg = chip_config(**{"tile.rows": 256, "tile.cols": 256})
    a, _ = train(monkeypatch, True, cfg, (X, y), sizes=(784, 256, 10), batch=64, epochs=1)
    b, _ = train(monkeypatch, False, cfg, (X, y), sizes=(784, 256, 10), batch=64, epochs=1)
    assert_same_steps(a, b)
