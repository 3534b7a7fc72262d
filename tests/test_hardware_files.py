"""A hardware file as every command reads it: one loader (``hardware.load_hardware``, its
``[cost]`` table checked by ``cost.load_hardware``), so that a file ``synapsenet cost``
accepts is accepted by train, evaluate, study and sweep, and its ``[cost]`` table prices what
they report. What they refuse in such a file: test_cli_bad_input.py."""

import json

import pytest
from conftest import synapsenet

from synapsenet import cost, hardware
from synapsenet.errors import ConfigError
from synapsenet.study import Axis, training

CHIP = 'preset = "ideal"\n[learning]\ndevice = "epiram"\n'
COSTED = CHIP + '[cost]\nnode = "7nm"\nadc_columns = 8\n'


@pytest.fixture
def files(tmp_path):
    """The same chip twice: plain.toml, and costed.toml with a [cost] table."""
    (tmp_path / "plain.toml").write_text(CHIP)
    (tmp_path / "costed.toml").write_text(COSTED)
    return tmp_path / "plain.toml", tmp_path / "costed.toml"


def ok(*args, **kw):
    p = synapsenet(*args, **kw)
    assert p.returncode == 0, p.stderr + p.stdout
    return p


def test_the_simulator_and_the_cost_model_read_one_file_alike(files):
    plain, costed = files
    cfg, table = hardware.load_hardware(costed)
    assert table == {"node": "7nm", "adc_columns": 8}
    assert cfg.to_dict() == hardware.load_config(plain).to_dict() == \
        hardware.Analog(str(costed)).config.to_dict()  # the chip never sees the table
    assert cost.load_hardware(costed) == (cfg, table)
    assert hardware.load_hardware(plain)[1] == {} and hardware.load_hardware("pcm")[1] == {}


@pytest.mark.parametrize("text,match", [
    ('[cost]\nnodee = "7nm"\n', "hardware config '{f}' [cost]: unknown cost constant 'nodee'"),
    ('[cost]\nnode = "13nm"\n', "hardware config '{f}' [cost]: unknown technology node '13nm'"),
    ('[cost]\nread_time = -1.0\n', "[cost]: cost constant 'read_time' must be a finite"),
    ('cost = 3\n', "hardware config '{f}': [cost] must be a table"),
    ('[energy]\nread_voltage = -0.2\n', "[energy] read_voltage must be ≥ 0 and finite"),
])
def test_a_bad_cost_table_is_refused_naming_the_file_the_table_and_the_key(tmp_path, text,
                                                                           match):
    f = tmp_path / "chip.toml"
    f.write_text('preset = "pcm"\n' + text)
    with pytest.raises(ConfigError) as e:
        cost.load_hardware(str(f))
    assert match.format(f=f) in str(e.value)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "run"
    ok("train", "--dataset", "moons", "--layers", "8", "--epochs", "2", "--out", out, "-q",
       "--no-plots")
    return out / "model.safetensors"


def test_train_on_a_file_with_a_cost_table_prices_its_training_with_it(files):
    plain, costed = files
    runs = [json.loads(ok("train", "--dataset", "moons", "--layers", "8", "--epochs", "1",
                          "--hardware", f, "--out", f.with_suffix(""), "--json",
                          "--no-plots").stdout) for f in (plain, costed)]
    # the same chip, trained alike: the same pulses and accuracy …
    assert runs[0]["substrate"]["pulses"] == runs[1]["substrate"]["pulses"] > 0
    assert runs[0]["test_accuracy"] == runs[1]["test_accuracy"]
    # … priced at the file's node: 7 nm converters and logic cost less than 45 nm's
    a, b = (r["chip_training_cost"] for r in runs)
    assert 0 < b["energy_j_per_epoch"] < a["energy_j_per_epoch"]


def test_evaluate_and_sweep_take_a_file_with_a_cost_table(model, files):
    plain, costed = files
    on = {f: json.loads(ok("evaluate", model, "--hardware", f, "--json").stdout)
          for f in (plain, costed)}
    assert on[plain]["accuracy"] == on[costed]["accuracy"] is not None
    p = ok("sweep", model, "--vary", f"hardware={plain},{costed}", "--seeds", "1", "--json")
    rows = json.loads(p.stdout)["rows"]
    assert sorted(r["hardware"] for r in rows) == sorted([str(plain), str(costed)])


def test_cost_reads_the_file_once_for_its_node_and_constants(model, files):
    _, costed = files
    r = json.loads(ok("cost", model, "--hardware", costed, "--samples", "20", "--json",
                      "-").stdout)
    assert r["node"] == "7nm"
    assert any(a["name"] == "adc_columns" and a["value"] == 8 for a in r["assumptions"])


def test_a_study_on_a_file_with_a_cost_table_prices_its_cells_with_it(files, tmp_path):
    from synapsenet import runs

    plain, costed = files
    rows = {}
    for f in (plain, costed):  # the chip fixed, not a coordinate: the same cells, seeds
        base, _ = runs.resolve_options({"dataset": "moons", "layers": "8", "epochs": 1,
                                        "hardware": str(f)})
        result = training.study(base, [Axis("learning_rate", (0.5,))], out=tmp_path / f.stem,
                                workers=1)
        (rows[f],) = result["rows"]
    assert rows[plain]["test_accuracy"] == rows[costed]["test_accuracy"]
    assert 0 < rows[costed]["chip_train_energy_j"] < rows[plain]["chip_train_energy_j"]
    metrics = json.loads((tmp_path / costed.stem / rows[costed]["run"] /
                          "metrics.json").read_text())
    assert metrics["chip_training_cost"]["energy_j"] == rows[costed]["chip_train_energy_j"]


def test_the_study_command_takes_a_file_with_a_cost_table(files, tmp_path):
    plain, costed = files
    p = ok("study", "--dataset", "moons", "--layers", "8", "--epochs", "1", "--vary",
           f"hardware=digital,{costed}", "--out", tmp_path / "s", "--json")
    rows = {r["hardware"]: r for r in json.loads(p.stdout)["rows"]}
    assert rows["digital"]["chip_train_energy_j"] is None
    assert rows[str(costed)]["chip_train_energy_j"] > 0


@pytest.mark.parametrize("command", [
    ["cost", "{model}", "--hardware", "{file}", "--samples", "10", "--train-epoch",
     "--train-samples", "20", "--json", "{tmp}/cost.json"],
    ["train", "--dataset", "moons", "--layers", "4", "--epochs", "1", "--hardware", "{file}",
     "--out", "{tmp}/run", "-q", "--no-plots"],
    ["study", "--dataset", "moons", "--layers", "4", "--epochs", "1", "--vary",
     "learning_rate=0.5,1", "--hardware", "{file}", "--out", "{tmp}/s", "--json"],
])
def test_each_command_reads_the_hardware_file_once(model, files, tmp_path, monkeypatch,
                                                   capsys, command):
    from synapsenet import files as synapsenet_files
    from synapsenet.cli import main

    _, costed = files
    reads, real = [], synapsenet_files.read_toml
    monkeypatch.setattr(synapsenet_files, "read_toml",
                        lambda path, *a: reads.append(str(path)) or real(path, *a))
    args = [a.format(model=model, file=costed, tmp=tmp_path) for a in command]
    assert main(args) == 0
    assert reads.count(str(costed)) == 1, reads
