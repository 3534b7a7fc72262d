"""The chip that learns, from the command line: train --hardware, devices."""

import json

import pytest
from test_cli import ok, run


def test_train_in_situ_on_a_chip_records_its_pulses(tmp_path):
    p = ok("train", "--hardware", "pcm", "--epochs", "3", "--out", tmp_path / "run", "--json",
           cwd=tmp_path)
    metrics = json.loads(p.stdout)
    assert metrics["test_accuracy"] > 0.5
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    sub = info["training"]["substrate"]
    assert sub["name"] == "analog" and sub["hardware"] == "pcm" and sub["pulses"] > 0
    assert metrics["substrate"] == sub and sub["scheme"] == "deterministic"
    assert 'hardware = "pcm"' in (tmp_path / "run" / "config.toml").read_text()
    # what training on the chip cost, from its counters (the cost ledger), per epoch and run
    c = metrics["chip_training_cost"]
    assert c["epochs_counted"] == 3 and 0 < c["write_energy_j_per_epoch"] < c["energy_j_per_epoch"]
    assert c["energy_j"] == pytest.approx(3 * c["energy_j_per_epoch"])
    assert c["latency_s"] == pytest.approx(3 * c["latency_s_per_epoch"])


def test_train_in_situ_prints_its_cost_per_epoch(tmp_path):
    p = ok("train", "--hardware", "ideal", "--epochs", "2", "--out", tmp_path / "run",
           "--quiet", cwd=tmp_path)
    assert "on the chip:" in p.stdout and "per epoch, of which" in p.stdout


@pytest.mark.parametrize("args,match", [
    (("--hardware", "flash"), "unknown hardware 'flash'"),
    (("--hardware", "pcm", "--train-noise", "0.1"), "drop --weight-noise"),
    (("--hardware", "pcm", "--optimizer", "adam"), "optimizer='sgd'"),
])
def test_train_on_a_chip_refuses_what_it_cannot_do(tmp_path, args, match):
    p = run("train", "--epochs", "1", "--out", tmp_path / "run", *args, cwd=tmp_path)
    assert p.returncode == 2 and match in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_devices_lists_presets_prints_laws_and_plots(tmp_path):
    listing = ok("devices").stdout
    for name in ("epiram", "gst-pcm", "reram-sb", "ecram"):
        assert name in listing
    p = ok("devices", "epiram", "ag-si", "--plot", tmp_path / "laws.png")
    assert p.stdout.count('law = "neurosim"') == 2
    assert (tmp_path / "laws.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run("devices", "flash")
    assert bad.returncode == 2 and "unknown device 'flash'" in bad.stderr
