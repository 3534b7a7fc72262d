"""Each hardware effect against its definition."""

import numpy as np
import pytest
from conftest import network_of

import synapsenet as sn
from synapsenet import ConfigError
from synapsenet.hardware import HardwareConfig, deploy, energy_report, load_config
from synapsenet.substrate import NoisyDigital
from synapsenet.hardware.noise import standard_normal


@pytest.fixture
def net():
    return sn.Network.from_sizes([20, 16, 5], hidden="relu", output="softmax", seed=0)


@pytest.fixture
def X():
    return np.random.default_rng(1).normal(size=(64, 20)).astype(np.float32)


def hw(**kw):
    return HardwareConfig().replace(**kw)


def test_ideal_reproduces_the_digital_network(net, X):
    chip = deploy(net, "ideal")
    assert np.allclose(chip.predict(X), net.predict(X), rtol=1e-5, atol=1e-6)
    for al, layer in zip(chip.substrate.arrays, net.layers):
        assert np.allclose(al.effective_weights(), layer.W, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mapping", ["column", "layer"])
def test_differential_pair_mapping(mapping):
    W = np.array([[0.5, -0.25, 0.0], [-1.0, 0.1, 0.2]])
    chip = deploy(network_of(W), hw(g_min=2.0, g_max=12.0, mapping=mapping))
    Gp, Gm = chip.substrate.arrays[0].G0
    # one device of each pair at g_min, the other carries |w|, full range at the largest |w|
    assert np.all((Gp == 2.0) | (Gm == 2.0))
    span = (np.abs(W).max(axis=1, keepdims=True) if mapping == "column"
            else np.abs(W).max())
    assert np.allclose((Gp - Gm) / 10.0, W / span)
    assert np.isclose(np.abs(Gp - Gm).max(), 10.0)


def test_quantisation_error_within_half_a_level():
    W = np.random.default_rng(0).uniform(-1, 1, size=(30, 40))
    for levels in (2, 4, 16, 64):
        chip = deploy(network_of(W), hw(levels=levels, mapping="layer"))
        al = chip.substrate.arrays[0]
        G = al.G0
        step = (25.0 - 0.0) / (levels - 1)
        ideal = np.stack([np.maximum(al.target, 0), np.maximum(-al.target, 0)]) * 25.0
        assert np.abs(G - ideal).max() <= step / 2 + 1e-9
        assert np.allclose(np.round(G / step), G / step)  # on the level grid


def test_programming_noise_spread():
    W = np.full((200, 200), 0.5)
    W[0, 0] = 1.0
    chip = deploy(network_of(W), hw(prog_noise=0.05, g_min=0.0, g_max=10.0, mapping="layer"),
                  seed=3)
    Gp = chip.substrate.arrays[0].G0[0].ravel()[1:]
    assert np.isclose(Gp.mean(), 5.0, atol=0.01)
    assert np.isclose(Gp.std(), 0.5, rtol=0.03)  # 40k samples: ±1.5 % sampling error
    before = chip.substrate.arrays[0].G0.copy()
    chip.substrate.program()
    assert not np.array_equal(before, chip.substrate.arrays[0].G0)  # a fresh draw


def test_read_noise_spread_on_every_product():
    """σ of a column output = read_noise · √(2 Σ x²) (two devices per synapse)."""
    W = np.full((1, 100), 0.5)
    W[0, 0] = 1.0
    chip = deploy(network_of(W), hw(read_noise=0.02, mapping="layer"), seed=0)
    x = np.full((20000, 100), 0.3, np.float32)  # abs_max scaling turns these into 1.0
    out = chip.predict(x)[:, 0]
    exact = 0.3 * W.sum()
    expected_sigma = 0.02 * np.sqrt(2 * 100) * 0.3 * 1.0  # × input scale × weight scale
    assert np.isclose(out.mean(), exact, atol=4 * expected_sigma / np.sqrt(20000))
    assert np.isclose(out.std(), expected_sigma, rtol=0.03)
    assert not np.array_equal(chip.predict(x[:5]), chip.predict(x[:5]))  # new noise per read


def test_output_noise_spread():
    chip = deploy(network_of([[1.0]]), hw(out_noise=0.1), seed=0)
    out = chip.predict(np.ones((20000, 1), np.float32))[:, 0]
    assert np.isclose(out.std(), 0.1, rtol=0.03) and np.isclose(out.mean(), 1.0, atol=0.003)


@pytest.mark.parametrize("p_min,p_max", [(0.05, 0.0), (0.0, 0.1), (0.02, 0.03)])
def test_fault_rates_within_statistical_bounds(p_min, p_max):
    W = np.random.default_rng(0).uniform(-1, 1, size=(100, 100))
    chip = deploy(network_of(W), hw(stuck_at_min=p_min, stuck_at_max=p_max, g_min=1.0,
                                   g_max=11.0), seed=4)
    al = chip.substrate.arrays[0]
    n = al.stuck_min.size  # 20,000 devices
    for rate, mask, value in ((p_min, al.stuck_min, 1.0), (p_max, al.stuck_max, 11.0)):
        sd = np.sqrt(rate * (1 - rate) / n)
        assert abs(mask.mean() - rate) <= 4 * sd + 1e-12
        assert np.all(al.G0[mask] == value)
    chip.substrate.program()  # faults are properties of the chip: they survive re-programming
    assert np.all(al.G0[al.stuck_max] == 11.0)


def test_drift_follows_its_law():
    W = np.random.default_rng(0).uniform(0.1, 1, size=(50, 50))
    cfg = hw(drift_nu=0.05, drift_nu_std=0.01, drift_t0=20.0, drift_compensation=False)
    chip = deploy(network_of(W), cfg, seed=0)
    al = chip.substrate.arrays[0]
    G0 = al.G0.copy()
    for t in (20.0, 3600.0, 86400.0 * 365):
        chip.substrate.drift(t)
        assert np.allclose(al.G, G0 * (t / 20.0) ** (-al.nu))
    assert np.isclose(al.nu.mean(), 0.05, atol=4 * 0.01 / np.sqrt(al.nu.size))
    assert np.isclose(al.nu.std(), 0.01, rtol=0.05)
    with pytest.raises(ConfigError, match="drift time must be ≥ t0"):
        chip.substrate.drift(1.0)


def test_drift_compensation_restores_the_scale():
    W = np.random.default_rng(0).uniform(0.1, 1, size=(10, 50))
    x = np.random.default_rng(1).random((100, 50)).astype(np.float32)
    net = network_of(W)
    plain = deploy(net, hw(drift_nu=0.1, drift_compensation=False))
    plain.substrate.drift(1e6)
    comp = deploy(net, hw(drift_nu=0.1, drift_compensation=True))
    comp.substrate.drift(1e6)
    exact = net.predict(x)
    assert np.abs(plain.predict(x) / exact - 1).max() > 0.5  # (1e6/20)^−0.1 ≈ 0.34
    assert np.allclose(comp.predict(x), exact, rtol=1e-4)  # uniform ν: fully compensated


def test_tiling_with_ideal_converters_equals_untiled(net, X):
    whole = deploy(net, hw(rows=512, cols=512)).predict(X)
    for rows in (3, 7, 16):
        tiled = deploy(net, hw(rows=rows, cols=4))
        assert tiled.substrate.arrays[0].n_tiles == -(-20 // rows) * 4
        assert np.allclose(tiled.predict(X), whole, rtol=1e-5, atol=1e-6)


def test_adc_quantises_and_saturates():
    chip = deploy(network_of([[1.0, 1.0]]), hw(adc_bits=4, adc_range=1.5))
    x = np.array([[1.0, 1.0], [1.0, 0.2], [1.0, -0.05]], np.float32)
    out = chip.predict(x)[:, 0]
    step = 1.5 / 7  # 4-bit signed: codes −7…7
    assert out[0] == pytest.approx(1.5)  # 2.0 saturates at the ADC's full scale
    assert out[1] == pytest.approx(np.round(1.2 / step) * step)
    assert out[2] == pytest.approx(np.round(0.95 / step) * step)


def test_dac_quantises_inputs():
    chip = deploy(network_of([[1.0, 0.0]]), hw(dac_bits=3))  # 3 codes per polarity
    x = np.array([[1.0, 0.0], [0.4, 1.0], [-0.55, 1.0]], np.float32)
    out = chip.predict(x)[:, 0]
    assert out.tolist() == pytest.approx([1.0, 1 / 3, -2 / 3])


def test_the_compiled_input_stage_gives_numpys_codes(monkeypatch, net, X):
    """sn_dac (scale by max |x|, DAC codes) against NumPy's passes: the same outputs, bit for
    bit, with negative inputs, a row of zeros, ties at half a code; a NaN input still says so."""
    from synapsenet import _engine
    from synapsenet.hardware import kernels

    X = X.copy()
    X[3] = 0.0
    X[4, :3] = [1.0, 0.5 / 7, -1.5 / 7]  # with 4-bit codes (q = 7): halves, to even
    outs = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(kernels, "dac", lambda *a: False)
        elif not _engine.AVAILABLE:
            pytest.skip("the compiled library is not built: NumPy's stage runs")
        chip = deploy(net, hw(dac_bits=4, adc_bits=8, read_noise=0.01), seed=0)
        with _engine.using(fused_read=0):  # the read's NumPy lines, their stage compiled or not
            outs.append(chip.predict(X))
        bad = X.copy()
        bad[9, 2] = np.nan
        with pytest.raises(sn.DataError, match="row 9, column 2"):
            chip.predict(bad)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_bit_serial_inputs_equal_parallel_ones_with_ideal_adc(net, X):
    a = deploy(net, hw(dac_bits=6)).predict(X)
    b = deploy(net, hw(dac_bits=6, bit_serial=True)).predict(X)
    assert np.allclose(a, b, rtol=1e-4, atol=1e-5)
    c = deploy(net, hw(dac_bits=6, bit_serial=True, adc_bits=3, adc_range=4.0)).predict(X)
    assert not np.allclose(a, c, atol=1e-3)  # one coarse ADC read per bit plane costs accuracy


def test_device_spread_changes_weights_by_its_size():
    W = np.full((100, 100), 0.5)
    W[0, 0] = 1
    chip = deploy(network_of(W), hw(d2d_spread=0.1, mapping="layer"), seed=0)
    ratio = chip.substrate.arrays[0].effective_weights()[W == 0.5] / 0.5
    assert np.isclose(ratio.std(), 0.1, rtol=0.05)


def test_seeded_and_reproducible(net, X):
    a = deploy(net, "pcm", seed=5).predict(X)
    b = deploy(net, "pcm", seed=5).predict(X)
    c = deploy(net, "pcm", seed=6).predict(X)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_threads_do_not_change_the_outputs_and_blas_threads_come_back(net):
    """Batches on several threads draw the same noise as in order; the BLAS thread count
    is restored after (and a batch's error still reaches the caller)."""
    from threadpoolctl import threadpool_info

    X = np.random.default_rng(2).normal(size=(700, 20)).astype(np.float32)
    before = [i["num_threads"] for i in threadpool_info()]
    outs = [deploy(net, "pcm", seed=5, threads=t).predict(X, batch_size=64) for t in (1, 2, 3)]
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
    assert [i["num_threads"] for i in threadpool_info()] == before
    chip = deploy(net, "pcm", seed=5, threads=2)
    assert not np.array_equal(chip.predict(X), chip.predict(X))  # fresh noise per call
    X[650, 3] = np.nan
    with pytest.raises(sn.DataError, match="row 650"):
        chip.predict(X, batch_size=64)
    assert [i["num_threads"] for i in threadpool_info()] == before


def test_standard_normal_is_standard():
    out = np.empty(400_001, np.float32)
    standard_normal(np.random.default_rng(0), out)
    assert abs(out.mean()) < 0.01 and abs(out.std() - 1) < 0.01
    assert abs(((out ** 4).mean()) - 3) < 0.05  # Gaussian kurtosis
    assert abs(np.mean(np.abs(out) > 1.96) - 0.05) < 0.002


def test_presets_and_config_files(tmp_path):
    for name in ("ideal", "pcm", "rram"):
        cfg = load_config(name)
        assert cfg.name == name and (name == "ideal" or "et al." in cfg.source)
    f = tmp_path / "chip.toml"
    f.write_text('preset = "pcm"\n[io]\nadc_bits = 5\n[tile]\nrows = 64\n')
    cfg = load_config(str(f))
    assert cfg.io.adc_bits == 5 and cfg.tile.rows == 64 and cfg.device.g_max == 25.0
    from synapsenet.hardware import to_toml

    f.write_text(to_toml(cfg))
    assert load_config(str(f)).to_dict() == cfg.to_dict()


@pytest.mark.parametrize("text,msg", [
    ("[device]\ng_max = -1\n", "need 0 ≤ g_min < g_max"),
    ("[device]\nlevles = 4\n", r"unknown key\(s\) \['levles'\]"),
    ("[io]\nadc_bits = 40\n", "adc_bits must be in 2…24"),
    ("[io]\nbit_serial = true\n", "bit_serial inputs need dac_bits"),
    ('preset = "flash"\n', "unknown preset 'flash'"),
    ("[device\n", "not valid TOML"),
    ("[device]\nread_noise = nan\n", "read_noise must be ≥ 0 and finite, got nan"),
    ("[io]\nout_noise = nan\n", "out_noise ≥ 0, all finite"),
    ("[io]\nadc_range = inf\n", "adc_range and input_range must be > 0"),
])
def test_bad_hardware_config(tmp_path, text, msg):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=msg):
        load_config(str(f))


def test_unknown_preset_and_parameter():
    with pytest.raises(ConfigError, match="unknown hardware 'flash'"):
        load_config("flash")
    with pytest.raises(ConfigError, match="unknown hardware parameter 'adc_bitz'"):
        HardwareConfig().replace(adc_bitz=3)


def test_energy_report_counts_operations(net, X):
    chip = deploy(net, "pcm")
    e = energy_report(chip, 10, X)
    assert e["analog_j_per_inference"] > 0 and e["digital_j_per_inference"] > 0
    assert e["analog_j_total"] == pytest.approx(10 * e["analog_j_per_inference"])
    l1 = e["layers"][0]
    cfg = chip.substrate.config
    # 16 conversions (16 outputs, one row block, one phase), each the survey's FoM at the
    # rate the PCM read time implies (16 columns per ADC in 250 ns: 64 MS/s) × 2^ENOB
    e_conv = 33.8e-15 * (1 + 16 / 250e-9 / 1.22e9) * 2 ** (8 - 1.4)
    assert l1["adc_j"] == pytest.approx(16 * 1 * e_conv)
    assert l1["dac_j"] == pytest.approx(20 * 7 * cfg.energy.dac_energy_per_bit)
    assert e["brain_watts"] == 20.0
    assert e["inputs"] == "measured" and e["samples"] == len(X)
    assert e["analog_j_per_inference"] == pytest.approx(
        sum(l["analog_j"] for l in e["layers"]) + e["leakage_j_per_inference"])


def test_hardware_aware_training_injects_weight_noise(X):
    y = (X[:, 0] > 0).astype(int)
    net = sn.Network.from_sizes([20, 8, 2], hidden="tanh", output="softmax", seed=0)
    twin = sn.Network.from_sizes([20, 8, 2], hidden="tanh", output="softmax", seed=0)
    net = net.on(NoisyDigital(weight_noise=0.1))
    net.fit(X, y, epochs=3, learning_rate=0.1, loss="cross_entropy", seed=1)
    twin.fit(X, y, epochs=3, learning_rate=0.1, loss="cross_entropy", seed=1)
    assert not np.allclose(net.layers[0].W, twin.layers[0].W)
    assert net.train_config["substrate"] == {"name": "noisy", "weight_noise": 0.1,
                                             "weight_bound": None}
    assert net.train_config["engine"].startswith("numpy")
    assert np.array_equal(net.predict(X), net.predict(X))  # inference is noise-free
