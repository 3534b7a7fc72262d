"""The chip's compiled training engine (hardware/engine.py, _accel/chip.c) against its NumPy
twin, the chip's layer-by-layer steps (SYNAPSENET_ENGINE=numpy).

Noiseless devices, against a reference or in pairs: the same weights, device states, pulse
counts, refreshes, counters and tally, step for step. The two engines compute the sigmoid
with different tanh implementations, so a value that lands within a rounding of a half-pulse
could round the other way; the comparison allows a few such synapses in a thousand. Noisy
devices: the engine draws its own normals, so the same in distribution.
"""

import numpy as np
import pytest
from conftest import network_of
from scipy import stats

import synapsenet as sn
from synapsenet import _engine, hardware
from synapsenet.errors import ConfigError, DataError
from synapsenet.hardware import engine as chip_engine
from synapsenet.hardware import reproduce as rp
from synapsenet.losses import get_loss
from synapsenet.optimizers import get_optimizer

pytestmark = pytest.mark.skipif(not _engine.AVAILABLE, reason="the compiled engine is not built")

CONSTANT_STEP = {"law": "constant_step", "dw_min": 0.001, "dw_min_dtod": 0.3,
                 "up_down_dtod": 0.01, "w_max": 0.6, "w_min": -0.6, "w_max_dtod": 0.3,
                 "w_min_dtod": 0.3}
NOISELESS = {
    "gst-pcm": {"preset": "gst-pcm", "sigma_c2c": 0.0},
    "ag-si": {"preset": "ag-si", "sigma_c2c": 0.0, "sigma_d2d": 0.0},  # per-device curves
    "constant-step": CONSTANT_STEP,  # per-device steps and bounds
    "ideal": {"law": "ideal", "dw_min": 0.01},
    "soft-bounds": {"law": "soft_bounds", "dw_min": 0.01, "w_min": -1.0, "w_max": 1.0},
    "linear-step": {"law": "linear_step", "dw_min": 0.005, "gamma_up": 0.5, "gamma_down": 0.3,
                    "up_down": 0.2},
}


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    X = (rng.random((160, 64)) < 0.3).astype(np.float32)
    y = (X[:, :8].sum(axis=1) > X[:, 8:16].sum(axis=1)).astype(int) + \
        2 * (X[:, 16:24].sum(axis=1) > 2)
    return X, y


def network(sizes=(64, 24, 4), hidden="sigmoid", output="sigmoid", seed=1, scale=0.5):
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        W = (rng.integers(-3, 4, (n_out, n_in)) / 3 * scale).astype(np.float32)
        act = hidden if k < len(sizes) - 2 else output
        layers.append(sn.Dense(n_in, n_out, act, W=W, b=np.zeros(n_out, np.float32)))
    return sn.Network(layers, seed=0)


def chip_config(device, **changes):
    """reproduce's chip with ``device`` (a preset or a law's dict) and some changes."""
    cfg = rp.hardware_config("gst-pcm", rp.Protocol())
    cfg = cfg.replace(**changes) if changes else cfg
    cfg.learning.device = device
    return cfg


def train(monkeypatch, engine, cfg, data, meter=True, seed=0, loss="squared_error",
          epochs=1, net=None, **kw):
    monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy" if engine == "numpy" else "")
    net = (net or network()).on(hardware.Analog(cfg, seed=seed, meter=meter))
    X, y = data
    h = net.fit(X, y, epochs=epochs, learning_rate=0.4, loss=loss, mode="sgd", shuffle=True,
                seed=seed, **kw)
    return net, h


def assert_nearly_all_equal(a, b, what):
    """Equal to float32 rounding (NumPy's float32 exp and log1p of a long train's closed form
    are not the C library's) but for a few synapses in a thousand (see the module's
    docstring)."""
    differ = np.mean(np.abs(a - b) > 1e-6 * (1 + np.abs(a)))
    assert differ <= 3e-3, f"{what}: {differ:.2%} differ"


def assert_same_counts(ca, cb, rel=1e-3):
    for k, (la, lb) in enumerate(zip(ca.layers, cb.layers)):
        for name, va in vars(la).items():
            vb = getattr(lb, name)
            assert vb == pytest.approx(va, rel=rel, abs=1e-9), (k, name, va, vb)


@pytest.mark.parametrize("device", list(NOISELESS))
@pytest.mark.parametrize("meter", [True, False])
def test_noiseless_devices_train_as_the_numpy_twin(monkeypatch, binary, device, meter):
    cfg = chip_config(NOISELESS[device])
    twin, ht = train(monkeypatch, "numpy", cfg, binary, meter)
    net, h = train(monkeypatch, "compiled", cfg, binary, meter)
    assert net.train_config["engine"] == "compiled, 1 thread(s)"
    assert twin.train_config["engine"] == "numpy (SYNAPSENET_ENGINE=numpy)"
    a, b = twin.substrate, net.substrate
    assert b.pulses > 1000  # the updates did pulse
    for k in range(2):
        assert_nearly_all_equal(a.synapses[k].states[0], b.synapses[k].states[0], "states")
        assert_nearly_all_equal(twin.layers[k].W, net.layers[k].W, "weights")
        # every copy of the weights in step: the chip's, the crossbar's, the layer's
        np.testing.assert_array_equal(b._W[k], net.layers[k].W)
        np.testing.assert_array_equal(b.arrays[k].Wn_T, np.clip(net.layers[k].W.T, -1, 1))
        assert a.synapses[k].pulses == pytest.approx(b.synapses[k].pulses, rel=3e-3)
        for name, v in a.synapses[k].tally.items():
            assert b.synapses[k].tally[name] == pytest.approx(v, rel=3e-3), name
    assert_same_counts(a.counters, b.counters, rel=3e-3)
    np.testing.assert_allclose(h.loss, ht.loss, rtol=1e-4)
    assert h.accuracy == pytest.approx(ht.accuracy, abs=0.02)
    # inference reads what training wrote: the same predictions
    assert np.mean(net.predict(binary[0]).argmax(1) == twin.predict(binary[0]).argmax(1)) > 0.98


@pytest.mark.parametrize("case", ["4-bit DAC, two row blocks, digital bias", "no converters",
                                  "tanh, softmax, cross-entropy", "relu, identity output",
                                  "32 hidden (the AVX-512 product where the CPU has it)",
                                  "three layers of tanh, 3-bit DAC"])
def test_the_chip_variants_the_engine_covers(monkeypatch, binary, case):
    changes, net, loss = {}, None, "squared_error"
    if case.startswith("4-bit"):
        changes = {"io.dac_bits": 4, "tile.rows": 40, "learning.bias": "digital"}
    elif case == "no converters":
        changes = {"io.dac_bits": None, "io.adc_bits": None}
    elif case.startswith("tanh"):
        net, loss = (lambda: network(hidden="tanh", output="softmax")), "cross_entropy"
    elif case.startswith("relu"):
        net = lambda: network(hidden="relu", output="identity", scale=0.3)  # noqa: E731
    elif case.startswith("32"):
        net = lambda: network(sizes=(64, 32, 4))  # noqa: E731
    else:
        changes = {"io.dac_bits": 3, "learning.layer_rates": [2.0, 1.5, 1.0]}
        net = lambda: network(sizes=(64, 24, 16, 4), hidden="tanh")  # noqa: E731
    make = net or network
    cfg = chip_config(NOISELESS["gst-pcm"], **changes)
    twin, ht = train(monkeypatch, "numpy", cfg, binary, loss=loss, net=make())
    chip, h = train(monkeypatch, "compiled", cfg, binary, loss=loss, net=make())
    assert chip.train_config["engine"].startswith("compiled")
    for k in range(len(chip.layers)):
        assert_nearly_all_equal(twin.substrate.synapses[k].states[0],
                                chip.substrate.synapses[k].states[0], "states")
        np.testing.assert_allclose(chip.layers[k].b, twin.layers[k].b, atol=1e-5)
    if case.startswith("4-bit"):
        assert chip.layers[0].b.any()  # the digital biases trained
        assert chip.substrate.counters.layers[0].array_reads == 2 * len(binary[0])
    assert_same_counts(twin.substrate.counters, chip.substrate.counters, rel=3e-3)
    np.testing.assert_allclose(h.loss, ht.loss, rtol=1e-3)


@pytest.mark.parametrize("device", ["gst-pcm", "constant-step"])
@pytest.mark.parametrize("meter", [True, False])
def test_pairs_with_refreshes_train_as_the_twin(monkeypatch, binary, device, meter):
    """w⁺ − w⁻, LTP pulses only, a pair refreshed before a device would pass refresh_at."""
    law = NOISELESS[device]
    if device == "constant-step":  # one-sided devices
        law = law | {"w_min": 0.0, "w_min_dtod": 0.0}
    cfg = chip_config(law, **{"learning.synapse": "pair", "learning.refresh_at": 0.8})
    twin, ht = train(monkeypatch, "numpy", cfg, binary, meter, epochs=2)
    net, h = train(monkeypatch, "compiled", cfg, binary, meter, epochs=2)
    assert net.train_config["engine"].startswith("compiled")
    a, b = twin.substrate, net.substrate
    assert min(s.refreshes for s in b.synapses) > 100  # pairs were refreshed
    for k in range(2):
        assert a.synapses[k].refreshes == b.synapses[k].refreshes
        for d in range(2):
            assert_nearly_all_equal(a.synapses[k].states[d], b.synapses[k].states[d], "states")
        assert_nearly_all_equal(twin.layers[k].W, net.layers[k].W, "weights")
        assert a.synapses[k].tally == pytest.approx(b.synapses[k].tally, rel=1e-6)
    assert_same_counts(a.counters, b.counters, rel=1e-6)
    np.testing.assert_allclose(h.loss, ht.loss, rtol=1e-4)


def test_a_continuous_ideal_device_follows_the_twin_to_rounding(monkeypatch, binary):
    cfg = chip_config({"law": "ideal", "continuous": True})
    twin, ht = train(monkeypatch, "numpy", cfg, binary)
    net, h = train(monkeypatch, "compiled", cfg, binary)
    for k in range(2):
        np.testing.assert_allclose(net.layers[k].W, twin.layers[k].W, atol=1e-5)
    assert net.substrate.pulses == twin.substrate.pulses  # one per synapse updated
    np.testing.assert_allclose(h.loss, ht.loss, rtol=1e-5)


# -- noisy devices: the same in distribution ------------------------------------------------
@pytest.mark.parametrize("device", ["gst-pcm", "hzo-fefet", "pcmo", "constant-step"])
def test_noisy_trains_change_the_weights_as_the_twin_does(monkeypatch, device):
    """One step on all-ones inputs: every synapse of a row gets the same pulse count, so the
    spread of a row's weight changes over its 256 devices is the trains' noise (and, for
    devices with curves of their own, as HZO FeFET's and PCMO's, their spread, the same in
    both: the devices are drawn from the chip's generator before either engine runs)."""
    law = CONSTANT_STEP | {"dw_min_std": 0.3, "dw_min_dtod": 0.0, "up_down_dtod": 0.0,
                           "w_max_dtod": 0.0, "w_min_dtod": 0.0} \
        if device == "constant-step" else device
    cfg = chip_config(law, **{"learning.layer_rates": [1.0]})
    X = np.ones((1, 256), np.float32)
    y = np.array([[1.0] * 20 + [0.0] * 20], np.float32)
    changes = []
    for engine in ("numpy", "compiled"):
        net = sn.Network([sn.Dense(256, 40, "sigmoid", W=np.zeros((40, 256), np.float32),
                                   b=np.zeros(40, np.float32))], seed=0)
        net, _ = train(monkeypatch, engine, cfg, (X, y), net=net)
        changes.append(net.layers[0].W.astype(np.float64))
    (a, b) = changes
    assert net.train_config["engine"].startswith("compiled")
    assert np.all(a.std(axis=1) > 0)  # noisy
    # per row: the mean change within 5 standard errors, the spread within 20 %
    se = np.hypot(a.std(axis=1), b.std(axis=1)) / np.sqrt(a.shape[1])
    assert np.all(np.abs(a.mean(axis=1) - b.mean(axis=1)) < 5 * se)
    ratio = b.std(axis=1) / a.std(axis=1)
    assert 0.8 < ratio.min() and ratio.max() < 1.25
    assert stats.ks_2samp((a - a.mean(axis=1, keepdims=True)).ravel(),
                          (b - b.mean(axis=1, keepdims=True)).ravel()).pvalue > 1e-3


def test_noisy_training_reaches_the_twins_accuracy(monkeypatch, binary):
    cfg = chip_config("gst-pcm")
    acc = {}
    for engine in ("numpy", "compiled"):
        runs = [train(monkeypatch, engine, cfg, binary, seed=s, epochs=3)[1].accuracy[-1]
                for s in range(3)]
        acc[engine] = np.mean(runs)
    assert acc["numpy"] > 0.5  # it learns at all
    assert abs(acc["compiled"] - acc["numpy"]) < 0.1


def test_the_engine_draws_standard_normals():
    net = network().on(hardware.Analog(chip_config("gst-pcm")))
    engine, why = net.substrate.trainer(net, get_loss("squared_error"), get_optimizer("sgd"), 1)
    assert why is None
    engine.bind(np.zeros((1, 64), np.float32), np.zeros((1, 4), np.float32), None)
    x = engine.normals(400_000)
    engine.release()
    assert abs(x.mean()) < 5 / np.sqrt(len(x))
    assert abs(x.std() - 1) < 5 / np.sqrt(2 * len(x))
    assert stats.kstest(x, "norm").pvalue > 1e-3
    tail = np.mean(np.abs(x) > 3.442619855899)  # the ziggurat's base strip and tail
    assert tail == pytest.approx(2 * stats.norm.sf(3.442619855899), rel=0.25)


def test_a_seed_draws_the_same_normals_on_every_instruction_set():
    """The generator is the stochastic pulse update's (_accel/devices.h), its buffer refilled
    by a copy compiled for the instruction set the engine's settings allow: every copy makes
    the same words, so a seed draws the same normals on any CPU."""
    draws = {}
    for isa in ("portable", _engine.cpu_isa()):
        with _engine.using(isa=isa):
            net = network().on(hardware.Analog(chip_config("gst-pcm")))
            engine, why = net.substrate.trainer(net, get_loss("squared_error"),
                                                get_optimizer("sgd"), 1)
        assert why is None
        engine.bind(np.zeros((1, 64), np.float32), np.zeros((1, 4), np.float32), None)
        engine._bind(2024)
        draws[isa] = engine.normals(5000)  # some twenty refills of the buffer
        engine.release()
    assert len(np.unique(draws["portable"])) > 4990
    np.testing.assert_array_equal(draws["portable"], draws[_engine.cpu_isa()])


def test_a_seed_gives_the_same_run_twice(monkeypatch, binary):
    cfg = chip_config(CONSTANT_STEP | {"dw_min_std": 0.3})
    a, ha = train(monkeypatch, "compiled", cfg, binary, seed=4, epochs=2)
    b, hb = train(monkeypatch, "compiled", cfg, binary, seed=4, epochs=2)
    c, _ = train(monkeypatch, "compiled", cfg, binary, seed=5, epochs=2)
    for k in range(2):
        np.testing.assert_array_equal(a.layers[k].W, b.layers[k].W)
    assert ha.loss == hb.loss
    assert not np.array_equal(a.layers[0].W, c.layers[0].W)


# -- what the engine declines -----------------------------------------------------------------
@pytest.mark.parametrize("changes,why", [
    ({"learning.scheme": "stochastic"}, "the mini-batch engine: the stochastic"),
    ({"learning.backward": "chip"}, "learning.backward = 'chip'"),
    ({"io.input_scaling": "abs_max"}, "inputs other than fixed-range"),
    ({"device.read_noise": 0.01}, "read or output noise"),
    ({"device": CONSTANT_STEP | {"write_noise_std": 1.0}}, "write noise"),
    ({"device": {"law": "exp_step"}}, "no closed form"),
])
def test_configurations_it_does_not_cover_train_layer_by_layer(monkeypatch, binary, changes,
                                                               why):
    changes = dict(changes)
    cfg = chip_config(changes.pop("device", "gst-pcm"), **changes)
    net, _ = train(monkeypatch, "compiled", cfg, binary)
    assert net.train_config["engine"].startswith("numpy (") and why in \
        net.train_config["engine"], net.train_config["engine"]
    assert net.substrate.pulses > 0


def test_mini_batches_and_other_optimizers_are_declined(monkeypatch, binary):
    cfg = chip_config("gst-pcm")
    monkeypatch.setenv("SYNAPSENET_ENGINE", "")
    net = network().on(hardware.Analog(cfg))
    net.fit(*binary, epochs=1, learning_rate=0.4, mode="minibatch", batch_size=8)
    assert "batch-1" in net.train_config["engine"]
    chip = network().on(hardware.Analog(cfg))
    _, why = chip.substrate.trainer(chip, get_loss("squared_error"),
                                    get_optimizer("sgd", momentum=0.9), 1)
    assert "plain SGD" in why
    with pytest.raises(ConfigError, match="optimizer='sgd'"):  # the twin's own refusal
        chip.fit(*binary, epochs=1, mode="sgd", momentum=0.9)


# -- what stops a run -------------------------------------------------------------------------
def test_bad_inputs_stop_before_any_pulse(monkeypatch, binary):
    X, y = binary[0].copy(), binary[1]
    X[100, 3] = np.nan
    for engine in ("numpy", "compiled"):
        monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy" if engine == "numpy" else "")
        net = network().on(hardware.Analog(chip_config("gst-pcm")))
        W0 = [layer.W.copy() for layer in net.layers]
        with pytest.raises(DataError):
            net.fit(X, y, epochs=1, learning_rate=0.4, mode="sgd")
        assert net.substrate.pulses == 0
        for layer, W in zip(net.layers, W0):
            np.testing.assert_array_equal(layer.W, W)


def test_a_non_finite_loss_changes_nothing(binary):
    net = network().on(hardware.Analog(chip_config("gst-pcm")))
    engine, _ = net.substrate.trainer(net, get_loss("squared_error"), get_optimizer("sgd"), 1)
    X = np.ascontiguousarray(binary[0][:4])
    D = np.zeros((4, 4), np.float32)
    D[2, 1] = np.inf
    engine.bind(X, D, None)
    states = [s.states[0].copy() for s in net.substrate.synapses]
    E, correct, made, status = engine.steps(None, [slice(2, 3)], 0.4)
    assert (made, status) == (0, 0) and not np.isfinite(E[0])
    for syn, s in zip(net.substrate.synapses, states):
        np.testing.assert_array_equal(syn.states[0], s)
    E, correct, made, status = engine.steps(None, [slice(0, 1), slice(1, 2)], 0.4)
    assert (made, status) == (2, 1) and np.isfinite(E).all()
    engine.release()


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_a_run_stopped_mid_epoch_resumes_draw_for_draw(monkeypatch, binary, engine):
    """The engine's noise is seeded from the chip's generator as each epoch begins, so a run
    put back to an epoch's end (EpochKeeper) and resumed draws what the uninterrupted one
    drew: the same devices and weights, with cycle-to-cycle noise on the devices."""
    from synapsenet import runs
    from synapsenet.optimizers import get_optimizer
    from synapsenet.training import Callback, History

    monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy" if engine == "numpy" else "")
    X, y = binary
    kw = dict(learning_rate=0.4, loss="squared_error", mode="sgd", shuffle=True, epochs=3)

    def fit(callbacks=(), initial_epoch=0, net=None, state=None):
        net = net or network().on(hardware.Analog(chip_config("gst-pcm"), seed=0))
        opt, rng, h = state or (get_optimizer("sgd"), np.random.default_rng(5), History())
        net.fit(X, y, optimizer=opt, seed=rng, history=h, callbacks=list(callbacks),
                initial_epoch=initial_epoch, **kw)
        return net, (opt, rng, h)

    class Stop(Callback):
        def on_train_begin(self, network, info):
            self.net = network

        def on_epoch_begin(self, epoch, n):
            self.epoch = epoch

        def on_batch_end(self, batch, n, loss):
            if self.epoch == 1 and batch == 40:
                self.net.stop_training = True

    whole, _ = fit()
    assert whole.train_config["engine"].startswith(engine)
    assert not whole.substrate.synapses[0].devices[0].noiseless
    state = (get_optimizer("sgd"), np.random.default_rng(5), History())
    keeper = runs.EpochKeeper(*state)
    net, _ = fit([Stop(), keeper], state=state)
    assert state[2].interrupted and len(state[2]) == 1
    keeper.restore()
    net.stop_training, state[2].interrupted = False, False
    fit(initial_epoch=1, net=net, state=state)
    for a, b in zip(whole.substrate.synapses, net.substrate.synapses):
        np.testing.assert_array_equal(b.states[0], a.states[0])
    for a, b in zip(whole.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(b, a)
    assert net.substrate.pulses == whole.substrate.pulses


@pytest.mark.parametrize("lr", [1e12, 1e38])  # trains past 2²⁴ pulses, and past float32
def test_an_update_past_the_longest_train_stops_and_undoes_the_epoch(monkeypatch, binary, lr):
    X, y = binary
    for engine in ("numpy", "compiled"):
        net, _ = train(monkeypatch, engine, chip_config("gst-pcm"), binary)
        sub = net.substrate
        states = [s.states[0].copy() for s in sub.synapses]
        weights, pulses = [w.copy() for w in net.get_weights()], sub.pulses
        with pytest.raises(sn.DivergenceError, match="16,777,216 .*start of that epoch") as e:
            net.fit(X, y, epochs=1, learning_rate=lr, mode="sgd", shuffle=False)
        assert e.value.batch == 1 and e.value.step_begun, engine
        assert net.train_config["engine"].startswith(engine)
        for syn, s in zip(sub.synapses, states):  # the devices as the epoch found them
            np.testing.assert_array_equal(syn.states[0], s)
        for a, b in zip(net.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(a, b)
        assert sub.pulses == pulses, engine


def test_the_counts_of_a_reproduce_run(monkeypatch):
    """reproduce's chip, metered: one read per layer and sample, the tally's parts add up."""
    rng = np.random.default_rng(0)
    X = (rng.random((64, 400)) < 0.3).astype(np.float32)
    y = rng.integers(0, 10, 64)
    monkeypatch.setenv("SYNAPSENET_ENGINE", "")
    Ws = rp.initial_weights("gst-pcm", np.random.default_rng(1))
    net = network_of(*Ws, activation="sigmoid").on(
        hardware.Analog(rp.hardware_config("gst-pcm"), meter=True))
    net.fit(X, y, epochs=1, learning_rate=0.4, mode="sgd", shuffle=False)
    assert net.train_config["engine"].startswith("compiled")
    c = net.substrate.counters
    for k, lc in enumerate(c.layers):
        n_in, n_out = Ws[k].shape[1], Ws[k].shape[0]
        assert lc.vectors == 64 and lc.array_reads == 64 and lc.macs == 64 * n_in * n_out
        assert lc.adc_conversions == 64 * n_out and lc.dac_conversions == 64 * n_in
        assert lc.update_macs == 64 * n_in * n_out
        assert lc.backward_macs == (64 * n_in * n_out if k else 0)
        assert lc.write_pulses == lc.pulses_up + lc.pulses_down > 0
        assert lc.write_steps_up <= lc.pulses_up and lc.write_steps_down <= lc.pulses_down
        assert 0 < lc.pulse_state_up < lc.pulses_up and lc.input_energy_units > 0
        assert lc.refreshes == 0  # one device against a reference: nothing to refresh
    # the engine counts every counter the layer-by-layer steps do
    # (but Tiki-Taka's transfers: the algorithms beyond plain SGD never run on the engine)
    assert set(chip_engine.COUNTS) == set(vars(c.layers[0])) - {"transfers"}


def test_a_callback_that_sees_every_batch_gets_the_same_steps(monkeypatch, binary):
    """With a callback that needs each batch, the loop calls the engine step by step."""
    seen = []

    class Every(sn.training.Callback):
        batch_by_batch = True

        def on_batch_end(self, batch, n_samples, loss):
            seen.append(loss)

    cfg = chip_config(NOISELESS["constant-step"])
    a, ha = train(monkeypatch, "compiled", cfg, binary)
    b, hb = train(monkeypatch, "compiled", cfg, binary, callbacks=[Every()])
    assert b.train_config["engine"].startswith("compiled") and len(seen) == len(binary[0])
    for k in range(2):
        np.testing.assert_array_equal(a.layers[k].W, b.layers[k].W)
    assert ha.loss == hb.loss and a.substrate.pulses == b.substrate.pulses
    assert_same_counts(a.substrate.counters, b.substrate.counters, rel=0)
