"""The cost model: every term against a hand computation, the counters against the
operations the simulator made, linearity in the counts, totals that add up, constants that
carry their unit and source, and the ``synapsenet cost`` command."""

import dataclasses
import doctest
import json
import math

import numpy as np
import pytest
from conftest import network_of, synapsenet as run_synapsenet

import synapsenet as sn
from synapsenet import cost, hardware
from synapsenet.cost import chip as chipcost
from synapsenet.cost.constants import NODES, Constant, all_constants, parameters
from synapsenet.errors import ConfigError
from synapsenet.hardware.devices import ConstantStep
from synapsenet.hardware.learning import DeviceSynapses, LearningConfig, _batch_steps
from synapsenet.substrate import LayerCounts

W = np.array([[0.5, -1.0, 0.25], [0.0, 0.75, -0.5]], np.float32)  # 2 outputs, 3 inputs
X1 = np.array([[1.0, 0.5, -0.25]], np.float32)
def approx(expected, rel=1e-9, abs=0):
    """Relative only: the energies are far below pytest's default absolute tolerance."""
    return pytest.approx(expected, rel=rel, abs=abs)


US = 25e-6  # g_max of the "ideal" preset, S
# Σ_j (G⁺ + G⁻) per input row, the weights mapped per layer (max |w| = 1 → g_max)
G_ROWS = US * np.abs(W.astype(np.float64)).sum(axis=0)  # 12.5, 43.75, 18.75 µS
X_DAC = np.array([7, 4, -2]) / 7  # 4-bit DAC codes of X1 (q = 7; 3.5 rounds to 4)


def small_chip(**changes):
    cfg = hardware.load_config("ideal").replace(dac_bits=4, adc_bits=6, mapping="layer", rows=2,
                                                cols=4, **changes)
    return hardware.deploy(network_of(W), cfg, meter=True), cfg


def test_the_counters_are_the_drive_the_rows_received():
    chip, _ = small_chip()
    chip.predict(X1)
    c = chip.substrate.counters.layers[0]
    assert c.input_drive == approx(np.abs(X_DAC).sum())
    assert c.input_drive_units == approx(np.abs(X_DAC) @ G_ROWS)
    assert c.array_reads == 2 and c.dac_conversions == 3 and c.adc_conversions == 4


def test_bit_serial_counts_each_set_bit_at_full_read_voltage():
    """Magnitudes 7, 4, 2 (signs +, +, −): planes b0+ [1,0,0], b1+ [1,0,0], b1− [0,0,1],
    b2+ [1,1,0]: each set bit drives its row at V_read, whatever its significance."""
    chip, cfg = small_chip(bit_serial=True)
    chip.predict(X1)
    c = chip.substrate.counters.layers[0]
    assert c.input_drive == 5
    assert c.input_drive_units == approx(3 * G_ROWS[0] + G_ROWS[1] + G_ROWS[2])
    assert c.dac_conversions == 3 * 4 and c.adc_conversions == 2 * 2 * 4
    p = cost.chip_parameters(cfg)
    r = cost.report(chip, X1)
    assert r["chip"]["encoding"] == "bit_serial"
    assert r["breakdown"]["dac"] == approx(12 * 1 * p.dac_energy_per_bit)  # 1-bit drivers


def test_the_backward_read_counts_the_columns_it_drives():
    chip, _ = small_chip()
    array = chip.substrate.arrays[0]
    counts = {"meter": True}
    array.matvec_t(np.array([[0.5, -1.0]], np.float32), None, np.empty((1, 3), np.float32),
                   counts)
    v = np.array([4, 7]) / 7  # δ·w_scale in 4-bit codes (3.5 → 4)
    g_cols = US * np.abs(W.astype(np.float64)).sum(axis=1)  # Σ_i (G⁺ + G⁻) per column
    assert counts["input_drive"] == approx(v.sum())
    assert counts["input_drive_units"] == approx(v @ g_cols)


def hand(cfg, drive, drive_units, conversions, dac_conversions, outputs, n_in, n_out,
         phases=1, row_blocks=2):
    """Every term of one inference of the small chip, by hand."""
    vdd, v, t = 0.9, 0.2, 10e-9  # 45 nm V_DD, the ideal preset's read pulse
    side = 4 * 45e-9  # a 16 F² cell's side
    c_row = 2 * 4 * side * 0.2e-9  # a row spans the pairs of 4 columns
    e_conv = 33.8e-15 * (1 + (16 / t) / 1.22e9) * 2 ** (6 - 1.4)
    tile = {"array": 2 * 8 * 16 * 45e-9 ** 2, "adc": 0.0032e-6, "dac": 2 * 100e-12,
            "digital": (137 + 1360 + 1640) * 1e-12, "buffer": 2 * (2 * 8 + 4 * 16) * 0.346e-12}
    tile_area = sum(tile.values())
    e = {"array": vdd * v * t * drive_units,
         "lines": drive * c_row * v * vdd + dac_conversions * c_row * vdd * vdd,
         "dac": dac_conversions * 4 * 0.05e-12,
         "adc": conversions * e_conv,
         "digital": (conversions - outputs) * 0.1e-12 + outputs * (2 * 1.1 + 0.4 + 0.4) * 1e-12,
         "buffer": (n_in * 8 + n_out * 16) / 64 * 10e-12,
         "interconnect": n_out * 16 * math.sqrt(tile_area) * 0.2e-9 * vdd * vdd * 0.5}
    latency = 1e-9 + phases * t + t + 16 * (row_blocks - 1 + 3 + 1) * 1e-9 + 1e-9
    tiles = row_blocks  # 3 inputs on tiles of 2 rows
    e["leakage"] = 1e3 * (tile_area - tile["array"]) * tiles * latency
    return e, latency, tiles * tile_area


def test_every_inference_term_against_a_hand_computation():
    chip, cfg = small_chip()
    r = cost.report(chip, X1)
    e, latency, area = hand(cfg, np.abs(X_DAC).sum(), np.abs(X_DAC) @ G_ROWS, 4, 3, 2, 3, 2)
    for term, value in e.items():
        assert r["breakdown"][term] == approx(value), term
    assert r["analog_latency_s"] == approx(latency, rel=1e-12, abs=0)
    assert r["analog_area_m2"] == approx(area, rel=1e-12, abs=0)
    # the slowest stage: the digital periphery (16 columns × 5 ops) and the transfer
    assert r["chip"]["throughput_per_s"] == approx(1 / (16 * 5e-9 + 1e-9))
    assert r["inputs"] == "measured"


def test_the_totals_add_up():
    net = sn.Network.from_sizes([20, 12, 3], hidden="relu", output="softmax", seed=0)
    X = np.random.default_rng(0).random((30, 20), dtype=np.float32)
    r = cost.report(net, X, hardware="pcm")
    c = r["chip"]
    assert r["analog_energy_j"] == approx(sum(r["breakdown"].values()))
    assert r["analog_energy_j"] == approx(sum(l["total_j"] for l in c["layers"])
                                                 + r["breakdown"]["leakage"])
    assert r["analog_area_m2"] == approx(sum(c["area"].values()))
    assert r["analog_latency_s"] == approx(sum(sum(l["latency_s"].values())
                                                      for l in c["layers"]))
    assert c["pipelined_energy_j"] <= r["analog_energy_j"]
    for b in r["baselines"]:
        if "breakdown" in b:
            assert b["energy_j"] == approx(sum(b["breakdown"].values()))
    lo, hi = r["digital_over_analog"]
    assert lo <= r["digital_energy_j"] / r["analog_energy_j"] <= hi


def test_energy_is_linear_in_the_counts():
    chip, cfg = small_chip()
    p = cost.chip_parameters(cfg)
    chip.predict(X1)
    c = chip.substrate.counters.layers[0]
    twice = LayerCounts(**{k: 2 * v for k, v in dataclasses.asdict(c).items()})
    geo = chipcost.Geometry(cfg, p)
    args = (chip.layers[0], chip.substrate.arrays[0])
    one = chipcost.layer_energy(*args, c, p, cfg, geo, "amplitude", last=True)["energy_j"]
    two = chipcost.layer_energy(*args, twice, p, cfg, geo, "amplitude", last=True)["energy_j"]
    for term in one:
        assert two[term] == approx(2 * one[term]), term
    # the same inputs twice: the totals double, the energy per inference stays
    r1, r2 = cost.report(chip, X1), cost.report(chip, np.vstack([X1, X1]))
    assert r2["analog_energy_j"] == approx(r1["analog_energy_j"])
    assert r2["samples"] == 2


def test_a_full_scale_input_is_the_default_and_says_so():
    chip, _ = small_chip()
    r = cost.report(chip)
    assert r["inputs"] == "one full-scale input" and r["samples"] == 1


def test_the_adc_is_priced_at_its_effective_bits_and_rate():
    p = parameters()
    e, fs, enob = chipcost.adc_conversion_energy(p, 8, 250e-9)
    assert fs == approx(16 / 250e-9) and enob == approx(6.6)
    assert e == approx(33.8e-15 * (1 + 64e6 / 1.22e9) * 2 ** 6.6)
    fast = chipcost.adc_conversion_energy(p, 8, 1e-9)[0]  # 16 GS/s: past the survey's corner
    assert fast / e == approx((1 + 16e9 / 1.22e9) / (1 + 64e6 / 1.22e9))


def test_the_pcm_preset_reads_for_the_time_its_source_assumes():
    cfg = hardware.load_config("pcm")
    assert cfg.energy.read_time == 10e-9  # the simulator's default …
    assert cost.chip_parameters(cfg).read_time == 250e-9  # … the cost model: aihwkit's t_read
    mine = cfg.replace(read_time=100e-9)  # a hardware file's own value wins
    assert cost.chip_parameters(mine).read_time == 100e-9


def chip_for_training(**learning):
    cfg = hardware.load_config("ideal").replace(device="taox-hfox", synapse="reference",
                                                **learning)
    net = sn.Network.from_sizes([3, 2], output="identity", seed=0)
    return hardware.deploy(net, cfg), cfg


def test_write_energy_and_latency_from_the_pulses_by_hand():
    chip, cfg = chip_for_training()
    p = cost.chip_parameters(cfg)
    c = LayerCounts(pulses_up=10, pulses_down=4, pulse_state_up=3.0, pulse_state_down=1.0,
                    write_steps_up=5, write_steps_down=2, rows_written=3, refreshes=1,
                    update_macs=100, write_pulses=14)
    r = chipcost.training(chip, [c], p)
    V, t, vdd, span = 1.6, 50e-9, 0.9, 25e-6  # TaOx/HfOx: 1.6 V, 50 ns both ways
    side = 4 * 45e-9
    c_col, c_row = 512 * side * 0.2e-9, (512 + 1) * side * 0.2e-9  # a reference column
    write = (V * V * t * (10 * 0 + 3.0 * span) + V * V * c_col * 10
             + V * V * t * (4 * 0 + 1.0 * span) + V * V * c_col * 4
             + 3 * (2 * c_row * vdd * vdd + c_row * V * V))
    assert r["breakdown"]["write"] == approx(write)
    e_conv = chipcost.adc_conversion_energy(p, 8, 10e-9)[0]
    reset = V * V * (span * t + c_col)
    program = V * V * (0.5 * span * t + c_col) + e_conv
    assert r["breakdown"]["refresh"] == approx(2 * reset + 10 * program)
    assert r["breakdown"]["update"] == approx(100 * (0.2e-12 + 0.1e-12))
    assert r["write_latency_s"] == approx(5 * t + 2 * t + 2 * t + 10 * (t + 10e-9))
    assert r["pulses"]["up"] == {"voltage_v": V, "width_s": t, "from_device": True}
    doubled = LayerCounts(**{k: 2 * v for k, v in dataclasses.asdict(c).items()})
    r2 = chipcost.training(chip, [doubled], p)
    for term in ("write", "refresh", "update"):
        assert r2["breakdown"][term] == approx(2 * r["breakdown"][term])


def test_a_device_without_pulse_figures_gets_the_assumed_pulse():
    net = sn.Network.from_sizes([3, 2], seed=0)
    chip = hardware.deploy(net, "ideal")
    p = cost.chip_parameters(chip.substrate.config)
    pulses = chipcost.pulse_parameters(chip.substrate.config, p)
    assert pulses["up"] == (1.0, 50e-9, False)


def test_the_synapses_tally_their_pulses_by_direction_state_and_row():
    law = ConstantStep(dw_min=0.25, up_down=0.0, w_min=-1.0, w_max=1.0)
    layer = sn.Dense(3, 2, "identity", W=np.zeros((2, 3), np.float32))
    syn = DeviceSynapses(layer, LearningConfig(device=law, synapse="reference"),
                         np.random.default_rng(0))
    syn.meter = True
    n = np.array([[2, 0, -1], [0, 1, 0]], np.float32)
    index = np.flatnonzero(n)
    syn._apply_at(index, n.reshape(-1)[index], np.random.default_rng(1))
    t = syn.tally
    assert syn.states[0].tolist() == [[0.5, 0.0, -0.25], [0.0, 0.25, 0.0]]
    assert t["pulses_up"] == 3 and t["pulses_down"] == 1
    # states as fractions of the range, the mean of before (0.5) and after each update
    assert t["pulse_state_up"] == approx(0.5 * ((2 + 1) * 0.5 + 2 * 0.75 + 0.625))
    assert t["pulse_state_down"] == approx(0.5 * (0.5 + 0.375))
    assert t["write_steps_up"] == 3 and t["write_steps_down"] == 1  # one column per batch
    assert t["rows_written"] == 3


def test_write_steps_take_the_largest_count_of_each_column_batch_per_row():
    c = np.zeros((32, 2), np.float32)  # 32 columns: 16 batches of 2
    c[0, 0], c[1, 0], c[2, 1], c[3, 1] = 3, 5, 1, 0
    assert _batch_steps(c) == 5 + 1


@pytest.mark.parametrize("synapse", ["reference", "pair"])
def test_the_tally_summed_in_bulk_is_the_sum_of_each_updates(synapse):
    # many sparse updates of a 40 × 30 array, tallied at once, against the dense twin of
    # each update (its pulse counts as a matrix) summed one by one
    law = ConstantStep(dw_min=0.01, up_down=0.0, w_min=-1.0, w_max=1.0)
    layer = sn.Dense(30, 40, "identity", W=np.zeros((40, 30), np.float32))
    syn = DeviceSynapses(layer, LearningConfig(device=law, synapse=synapse),
                         np.random.default_rng(0))
    syn.meter = True
    rng = np.random.default_rng(1)
    steps = rows = pulses = 0
    for _ in range(25):
        n = rng.integers(-3, 4, (40, 30)).astype(np.float32) * (rng.random((40, 30)) < 0.05)
        index = np.flatnonzero(n)
        syn._apply_at(index, n.reshape(-1)[index], rng)
        counts = [np.abs(n)] if synapse == "pair" else [np.maximum(n, 0), np.maximum(-n, 0)]
        steps += sum(_batch_steps(c) for c in counts)
        rows += int(np.count_nonzero(np.abs(n).any(axis=0)))
        pulses += int(np.abs(n).sum())
    t = syn.tally
    assert t["write_steps_up"] + t["write_steps_down"] == steps
    assert t["rows_written"] == rows and t["pulses_up"] + t["pulses_down"] == pulses
    assert (t["pulses_down"] == 0) == (synapse == "pair")


def test_the_chip_counts_every_pulse_when_metered():
    X = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    for synapse in ("pair", "reference"):
        cfg = hardware.load_config("ideal").replace(device="ag-si", synapse=synapse)
        net = sn.Network.from_sizes([3, 4, 2], hidden="tanh", output="softmax", seed=0)
        chip = hardware.deploy(net, cfg, meter=True)
        chip.fit(X, y, epochs=2, learning_rate=0.5, loss="cross_entropy", batch_size=8)
        total = chip.substrate.counters.total()
        assert total.pulses_up + total.pulses_down == total.write_pulses > 0
        assert (total.pulses_down == 0) == (synapse == "pair")  # a pair only potentiates
        assert total.refreshes == chip.train_config["substrate"]["refreshes"]
        r = cost.training_report(chip, chip.substrate.counters.layers, epochs=2)
        assert r["per_epoch"]["energy_j"] == approx(r["chip"]["energy_j"] / 2)
        assert r["chip"]["energy_j"] == approx(sum(r["chip"]["breakdown"].values()))


def test_the_digital_baselines_by_hand():
    net = sn.Network.from_sizes([784, 256, 10], hidden="relu", output="softmax", seed=0)
    X = np.zeros((2, 784), np.float32)
    r = cost.report(net, X, hardware="pcm")
    b = {x["name"]: x for x in r["baselines"]}
    macs, params = 784 * 256 + 256 * 10, 784 * 256 + 256 + 256 * 10 + 10
    acts, outs = 784 + 256 + 256 + 10, 256 + 10
    fp32 = b["fp32, 45 nm, batch 1"]
    assert fp32["weights_from"] == "sram_1mb"  # 814 kB of weights: the 1 MB SRAM
    assert fp32["energy_j"] == approx(macs * (3.7 + 0.9) * 1e-12
                                             + params * 4 / 8 * 100e-12
                                             + acts * 4 / 8 * 10e-12 + outs * 2 * 0.9e-12)
    int8 = b["int8, 45 nm, batch 1"]
    assert int8["energy_j"] == approx(macs * (0.2 + 0.1) * 1e-12 + params / 8 * 100e-12
                                             + acts / 8 * 10e-12 + outs * 2 * 0.1e-12)
    assert r["digital_energy_j"] == int8["energy_j"]
    batched = b["int8, 7 nm, batch 256"]
    assert batched["breakdown"]["weights"] == approx(params / 8 * 100e-12 / 256)
    gpu = b["GPU at peak (int8, H100 SXM)"]
    assert gpu["energy_j"] == approx(2 * macs / 1979e12 * 700)
    # the measured chips' efficiencies imply 33–164 nJ for this network (issue 14)
    lo, hi = r["measured_chips"]["range_j"]
    assert round(lo * 1e9) == 33 and round(hi * 1e9) == 164


@pytest.mark.parametrize("nbytes,level", [(8192, "sram_8kb"), (8193, "sram_32kb"),
                                          (1024 * 1024, "sram_1mb"), (2 ** 21, "dram")])
def test_the_memory_level_is_chosen_by_size(nbytes, level):
    assert chipcost.sram_level(parameters(), nbytes)[0] == level


def test_the_brain_row_by_hand():
    b = cost.report(sn.Network.from_sizes([4, 2], seed=0), hardware="ideal")["brain"]
    assert b["event_j_top_down"] == approx((20 * 0.3 / (1e15 * 1.0),
                                                   20 * 0.6 / (1e14 * 0.1)))
    assert b["event_j_bottom_up"] == approx((1.64e5 * 8.3e-20, 1.64e5 * 1e-19))
    assert b["energy_j"] == approx(20 * 0.15) and b["bits_per_synapse"] == 4.7
    assert b["neurons"] == 8.6e10 and b["synapses"] == (1e14, 1e15)


def test_a_chip_far_beyond_the_measured_ones_is_flagged():
    net = sn.Network.from_sizes([64, 32, 10], hidden="relu", output="softmax", seed=0)
    X = np.ones((1, 64), np.float32)
    free = {name: 0.0 for name in ("adc_fom", "dac_energy_per_bit", "leakage_density",
                                   "read_voltage", "sram_8kb", "wire_cap", "e_mult_fp16",
                                   "e_add_fp16")}
    r = cost.report(net, X, hardware="pcm", overrides=free)
    assert "more than 3×" in r["warning"]
    assert cost.report(net, X, hardware="pcm")["warning"] is None


def test_every_constant_carries_value_unit_node_and_source():
    constants = all_constants()
    assert len(constants) > 80
    for name, c in constants.items():
        assert isinstance(c, Constant) and math.isfinite(c.value), name
        assert c.unit and c.node and len(c.source) > 10, name
    assert set(NODES) == {"45nm", "7nm"}
    assert all(set(NODES["45nm"]) == set(t) for t in NODES.values())  # every node complete
    with pytest.raises(ConfigError, match="unit and a source"):
        Constant(1.0, "", "any", "")
    rows = cost.report(sn.Network.from_sizes([4, 2], seed=0), hardware="ideal")["assumptions"]
    assert {"name", "value", "unit", "source"} <= set(rows[0])


@pytest.mark.parametrize("overrides,match", [
    ({"node": "13nm"}, "unknown technology node '13nm'"),
    ({"read_time": -1e-9}, "'read_time' must be a finite number ≥ 0"),
    ({"adc_fomm": 1.0}, "unknown cost constant 'adc_fomm'"),
    ({"adc_columns": "many"}, "'adc_columns' must be a number"),
])
def test_bad_constants_are_refused_naming_them(overrides, match):
    with pytest.raises(ConfigError, match=match):
        cost.chip_parameters(hardware.load_config("pcm"), overrides)


def test_a_hardware_file_carries_its_cost_table(tmp_path):
    f = tmp_path / "chip.toml"
    f.write_text('preset = "pcm"\n[io]\nadc_bits = 6\n[cost]\nnode = "7nm"\nadc_columns = 8\n')
    cfg, overrides = cost.load_hardware(str(f))
    assert cfg.name == "pcm" and cfg.io.adc_bits == 6 and cfg.io.dac_bits == 7
    p = cost.chip_parameters(cfg, overrides)
    assert p.adc_columns == 8 and p["feature"].node == "7nm" and p.e_add_int8 == 0.007e-12
    assert "hardware file" in p["adc_columns"].source or "cost" in p["adc_columns"].source
    assert p.read_time == 250e-9  # still the pcm preset's own


def test_the_docstring_example():
    result = doctest.testmod(cost, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# -- the command ---------------------------------------------------------------------------
def synapsenet(*args, cwd=None):
    return run_synapsenet(*args, cwd=cwd, env={"COLUMNS": "160"}, timeout=600)


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("cost") / "run"
    p = synapsenet("train", "--layers", "16", "--hidden", "relu", "--output", "softmax",
                   "--loss", "cross_entropy", "--epochs", "2", "--out", out, "--no-plots",
                   "--quiet")
    assert p.returncode == 0, p.stderr
    return out / "model.safetensors"


def test_the_cost_command(digits_model, tmp_path):
    js, png = tmp_path / "cost.json", tmp_path / "cost.png"
    p = synapsenet("cost", digits_model, "--samples", "40", "--train-epoch", "--train-samples",
                   "100", "--watts", "50", "--json", js, "--chart", png)
    assert p.returncode == 0, p.stderr
    for word in ("brain", "fp32, 45 nm", "int8, 7 nm", "GPU at peak", "this machine",
                 "the chip: pcm", "array", "adc", "per epoch"):
        assert word in p.stdout, word
    r = json.loads(js.read_text())
    assert r["analog_energy_j"] > 0 and r["analog_latency_s"] > 0 and r["digital_energy_j"] > 0
    assert all({"name", "energy_j"} <= set(b) for b in r["baselines"])
    assert set(r["breakdown"]) >= {"array", "adc", "dac", "digital", "leakage"}
    assert all({"name", "value", "unit", "source"} <= set(a) for a in r["assumptions"])
    assert r["training"]["per_epoch"]["energy_j"] > 0 and r["samples"] == 40
    assert png.stat().st_size > 1000


def test_a_chip_trained_model_is_costed_with_its_training(tmp_path):
    out = tmp_path / "chip"
    p = synapsenet("train", "--layers", "8", "--epochs", "1", "--hardware", "pcm", "--out", out,
                   "--no-plots", "--quiet")
    assert p.returncode == 0, p.stderr
    p = synapsenet("cost", out / "model.safetensors", "--samples", "20", "--json", "-")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["chip_trained"] and r["hardware"] == "pcm"
    t = r["training"]
    assert t["epoch_samples"] == t["samples_trained"] > 0
    assert t["per_epoch"]["write_energy_j"] > 0 and t["per_epoch"]["write_latency_s"] > 0


@pytest.mark.parametrize("args,toml,match", [
    (["--samples", "0"], None, "--samples must be ≥ 1"),
    (["--watts", "-5"], None, "--watts must be > 0"),
    ([], '[cost]\nnode = "13nm"\n', "unknown technology node '13nm'"),
    ([], '[cost]\nread_time = -1.0\n', "'read_time' must be a finite number ≥ 0"),
])
def test_the_cost_command_refuses_bad_input(digits_model, tmp_path, args, toml, match):
    if toml is not None:
        f = tmp_path / "chip.toml"
        f.write_text('preset = "pcm"\n' + toml)
        args = [*args, "--hardware", f]
    p = synapsenet("cost", digits_model, *args)
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], p.stderr


def test_the_cost_command_warns_of_a_chip_beyond_the_measured_ones(digits_model, tmp_path):
    f = tmp_path / "free.toml"
    f.write_text('preset = "pcm"\n[cost]\n' + "".join(
        f"{k} = 0.0\n" for k in ("adc_fom", "dac_energy_per_bit", "leakage_density",
                                  "read_voltage", "sram_8kb", "wire_cap", "e_mult_fp16",
                                  "e_add_fp16")))
    p = synapsenet("cost", digits_model, "--samples", "10", "--hardware", f)
    assert p.returncode == 0, p.stderr
    assert "more than 3× the best measured analog chip" in (p.stdout + p.stderr).replace("\n", " ")
    p = synapsenet("cost", digits_model, "--samples", "10")
    assert "best measured analog chip" not in p.stdout + p.stderr


def test_evaluate_on_a_chip_prints_the_energy_of_the_inputs_it_ran(digits_model):
    p = synapsenet("evaluate", digits_model, "--hardware", "pcm")
    assert p.returncode == 0, p.stderr
    line = next(ln for ln in p.stdout.splitlines() if "energy / inference" in ln)
    assert "counted on the" in line and "inputs evaluated" in line
    n = json.loads(synapsenet("evaluate", digits_model, "--hardware", "pcm", "--json").stdout)
    assert f"counted on the {n['energy']['samples']} " in line and n["energy"]["samples"] > 0


def test_the_docs_table_every_constant():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "cost.md").read_text()
    for name in all_constants():
        key = name.split(".", 1)[1]
        assert f"`{key}`" in text or f"`pcm.{key}`" in text, name
