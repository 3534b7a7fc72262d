"""Studies (synapsenet.study): the grid and its seeds, the local backend (processes, a lost
worker), resume, training studies, and the same rows on Ray. The Ray tests share one local
cluster of 2 CPUs on the loopback interface, started and stopped by a module fixture; they
skip only where Ray cannot be imported. Bad input through the command: test_cli_bad_input.py
and the end of this file."""

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess

import numpy as np
import pytest
from conftest import EXE, needs_exe, refused, synapsenet

from synapsenet import Network
from synapsenet.errors import ConfigError
from synapsenet.hardware.config import load_config
from synapsenet.study import Axis, Grid, backends, inference, parse_values, training
from synapsenet.study.grid import cell_seed



@contextlib.contextmanager
def deadline(seconds):
    """Fail a test that hangs (a cluster that never answers) instead of blocking the suite."""
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def digits():
    """A small 64-16-10 network trained briefly on digits, and 120 held-out samples."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    net = Network.from_sizes([64, 16, 10], seed=1)
    net.fit(X[:600], y[:600], epochs=5, learning_rate=1.0, batch_size=16, seed=0)
    return net, X[-120:], y[-120:]


AXES = [Axis("adc_bits", (3, 6)), Axis("read_noise", (0.0, 0.05)), Axis("time", (20.0, 1e6))]


def sweep(digits, **kw):
    net, X, y = digits
    return inference.sweep(net, X, y, load_config("pcm"), AXES, seeds=2, seed=7, **kw)


# -- the grid ------------------------------------------------------------------------------
def test_a_cells_seed_depends_on_its_coordinates_and_the_studys_seed_only():
    a = cell_seed(3, {"adc_bits": 4, "seed": 0, "read_noise": 0.01})
    assert a == cell_seed(3, {"read_noise": 0.01, "seed": 0, "adc_bits": 4.0})  # any order
    assert len({a, cell_seed(4, {"adc_bits": 4, "seed": 0, "read_noise": 0.01}),
                cell_seed(3, {"adc_bits": 4, "seed": 1, "read_noise": 0.01}),
                cell_seed(3, {"adc_bits": 5, "seed": 0, "read_noise": 0.01})}) == 4
    grid = Grid([Axis("a", (1, 2, 3)), Axis("b", ("x", "y"))], seed=3)
    cells = list(grid.cells())
    assert grid.size == len(cells) == 6 and len({c.key for c in cells}) == 6
    assert cells[1].coords == {"a": 1, "b": "y"}  # the last axis varies fastest
    grown = Grid([Axis("a", (0, 1, 2, 3)), Axis("b", ("x", "y"))], seed=3)
    assert {c.key: c.seed for c in cells}.items() <= \
        {c.key: c.seed for c in grown.cells()}.items()  # a cell keeps its seed as the grid grows


@pytest.mark.parametrize("spec,message", [("5..4", "is an empty range"),
                                          ("0:1:0", "is an empty range"),
                                          (",", "has no values"), ("a,b", "not understood")])
def test_empty_and_unreadable_ranges_are_refused(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_values(spec, "adc_bits")


def test_a_grid_over_a_million_cells_needs_confirming():
    grid = Grid([Axis("a", tuple(range(1001))), Axis("b", tuple(range(1000)))])
    with pytest.raises(ConfigError, match=r"1,001,000 cells \(1001 a × 1000 b\).*--yes"):
        grid.check_size(confirmed=False)
    grid.check_size(confirmed=True)


# -- the local backend ---------------------------------------------------------------------
def test_the_same_rows_in_this_process_and_on_two_workers(digits):
    one = sweep(digits, workers=1)
    two = sweep(digits, workers=2)
    assert len(one["rows"]) == 16 and one["rows"] == two["rows"]
    accs = {r["accuracy"] for r in one["rows"]}
    assert len(accs) > 4  # the cells differ: each is its own chip
    low, high = (np.mean([r["accuracy"] for r in one["rows"] if r["adc_bits"] == b])
                 for b in (3, 6))
    assert high > low


def test_a_killed_worker_has_its_cells_run_again(digits, tmp_path, monkeypatch):
    mark = tmp_path / "killed"
    monkeypatch.setenv(backends.KILL_ONCE, str(mark))
    disturbed = sweep(digits, workers=2)
    assert mark.exists()  # a worker process did kill itself
    monkeypatch.delenv(backends.KILL_ONCE)
    assert disturbed["rows"] == sweep(digits, workers=1)["rows"]


def test_a_restarted_study_skips_the_cells_already_written(digits, tmp_path):
    out = tmp_path / "study"
    first = sweep(digits, workers=1, out=out)
    assert first["timing"]["cells_run"] == 16 and (out / "sweep.png").stat().st_size > 1000
    cells = sorted((out / "cells").glob("*.json"))
    for p in cells[:5]:  # as if the study had been stopped before these
        p.unlink()
    (out / "sweep.json").unlink()
    again = sweep(digits, workers=2, out=out)
    assert again["timing"]["cells_run"] == 5 and again["timing"]["cells_resumed"] == 11
    assert again["rows"] == first["rows"]
    assert json.loads((out / "sweep.json").read_text())["rows"] == first["rows"]
    net, X, y = digits
    with pytest.raises(ConfigError, match="holds a sweep with hardware 'pcm', not 'rram'"):
        inference.sweep(net, X, y, load_config("rram"), AXES, seeds=2, seed=7, out=out)
    afresh = inference.sweep(net, X, y, load_config("rram"), AXES[:1], seeds=1, seed=7,
                             out=out, force=True)  # the earlier study's cells go
    assert afresh["timing"]["cells_run"] == 2 and len(list((out / "cells").iterdir())) == 2


BASE = {"layers": "8", "epochs": 2, "n_samples": None}


def training_base(**over):
    from synapsenet import runs

    cfg, _ = runs.resolve_options({**BASE, **over})
    return cfg


def test_a_training_study_writes_a_run_folder_per_cell_and_resumes(tmp_path):
    axes = [Axis("learning_rate", (0.5, 1.0)), Axis("hardware", ("ideal", "pcm"))]
    out = tmp_path / "study"
    two = training.study(training_base(), axes, out=out, workers=2)
    rows = two["rows"]
    assert [(r["learning_rate"], r["hardware"]) for r in rows] == \
        [(0.5, "ideal"), (0.5, "pcm"), (1.0, "ideal"), (1.0, "pcm")]
    for r in rows:
        run = out / r["run"]
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["test_accuracy"] == r["test_accuracy"]
        assert (run / "model.safetensors").exists()
        assert metrics["run_dir"] == str(run) and metrics["epochs"] == 2
        assert f"learning_rate = {r['learning_rate']}" in (run / "config.toml").read_text()
    assert "substrate" in json.loads((out / rows[1]["run"] / "metrics.json").read_text())
    assert len({r["test_accuracy"] for r in rows}) > 1
    again = training.study(training_base(), axes, out=out, workers=2)
    assert again["timing"]["cells_run"] == 0 and again["rows"] == rows
    one = training.study(training_base(), axes, out=tmp_path / "serial", workers=1)
    assert one["rows"] == [{**r} for r in rows]


def test_cells_trained_on_a_chip_report_what_their_training_cost(tmp_path, capsys,
                                                                   monkeypatch):
    import csv

    from synapsenet import cost, runs
    from synapsenet.cli import tables

    axes = [Axis("hardware", ("digital", "pcm")), Axis("epochs", (1, 2))]
    out = tmp_path / "study"
    result = training.study(training_base(n_samples=300), axes, out=out, workers=1)
    rows = {(r["hardware"], r["epochs"]): r for r in result["rows"]}
    for e in (1, 2):
        digital, chip = rows["digital", e], rows["pcm", e]
        assert digital["chip_train_energy_j"] is None and digital["chip_train_latency_s"] is None
        assert "chip_training_cost" not in json.loads(
            (out / digital["run"] / "metrics.json").read_text())
        metrics = json.loads((out / chip["run"] / "metrics.json").read_text())
        c = metrics["chip_training_cost"]
        assert c["epochs_counted"] == e
        assert chip["chip_train_energy_j"] == c["energy_j"] > 0
        assert chip["chip_train_latency_s"] == c["latency_s"] > 0
        assert c["energy_j_per_epoch"] == pytest.approx(c["energy_j"] / e)
    # the counters are the run's: a second epoch costs more on the chip
    assert rows["pcm", 2]["chip_train_energy_j"] > rows["pcm", 1]["chip_train_energy_j"]
    assert rows["pcm", 2]["chip_train_latency_s"] > rows["pcm", 1]["chip_train_latency_s"]
    # what train's run_training_cost gives for the cell's own options (its config.toml)
    cell, _ = runs.resolve_options({}, config=out / rows["pcm", 1]["run"] / "config.toml")
    prep = runs.prepare(cell)
    net = runs.build_network(cell, prep.dataset.n_features, prep.dataset.n_classes)
    optimizer, opts, rng, history, _ = runs.training_state(cell)
    net.fit(prep.X_train, prep.y_train, optimizer=optimizer, seed=rng, history=history, **opts)
    assert cost.run_training_cost(net, 1)["energy_j"] == \
        pytest.approx(rows["pcm", 1]["chip_train_energy_j"], rel=1e-9)
    with open(out / "study.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert {"chip_train_energy_j", "chip_train_latency_s"} <= set(table[0])
    for r in table:
        filled = r["chip_train_energy_j"] != "" and r["chip_train_latency_s"] != ""
        assert filled == (r["hardware"] == "pcm")
        assert not filled or float(r["chip_train_energy_j"]) > 0
    saved = json.loads((out / "study.json").read_text())
    assert saved["rows"] == result["rows"]
    means = {s["hardware"]: s["chip_train_energy_j"] for s in saved["summary"]
             if s["epochs"] == 2}
    assert means == {"digital": None, "pcm": rows["pcm", 2]["chip_train_energy_j"]}
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "160")  # a table of eight columns on one line each
    tables.show_study(result, "digits")  # the console table: the cost beside the accuracy
    shown = capsys.readouterr().out
    assert "energy" in shown and "latency" in shown and "—" in shown
    assert re.search(r"\d [fpnµm]?J", shown) and re.search(r"\d [fpnµm]?s", shown)
    # no chip in the study: no cost columns
    digital = training.study(training_base(n_samples=300), [Axis("learning_rate", (0.5, 1.0))],
                             out=tmp_path / "digital", workers=1)
    assert not any("chip_train_energy_j" in r for r in digital["rows"])
    assert "chip_train_energy_j" not in (tmp_path / "digital" / "study.csv").read_text()


def test_training_study_parameters_are_checked_before_any_cell_runs(tmp_path):
    with pytest.raises(ConfigError, match="unknown training option.*did you mean 'learning_rate'"):
        training.check_axis("learning_rat")
    with pytest.raises(ConfigError, match="holds it fixed"):
        training.check_axis("dataset")
    assert training.check_axis("batch-size") == ("batch_size", int)
    with pytest.raises(ConfigError, match="the cell 'learning_rate=-1.0': learning_rate must be"):
        training.study(training_base(), [Axis("learning_rate", (1, -1))], out=tmp_path / "s")
    assert not (tmp_path / "s").exists()


# -- Ray -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs on the loopback interface only (Ray's switch for
    single-machine clusters, read when Ray is imported), stopped after the module."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install "
                              "'synapsenet[ray]')")
    with deadline(120):
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
    address = ray.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:"), address
    yield address
    ray.shutdown()


def test_ray_gives_the_rows_of_the_local_backend(digits, ray_cluster, tmp_path):
    with deadline(120):
        on_ray = sweep(digits, backend="ray", out=tmp_path / "ray")
    assert on_ray["rows"] == sweep(digits, workers=2)["rows"]
    axes = [Axis("batch_size", (8, 32)), Axis("hidden", ("sigmoid", "relu"))]
    with deadline(120):
        trained = training.study(training_base(), axes, out=tmp_path / "t", backend="ray")
    assert trained["rows"] == training.study(training_base(), axes, out=tmp_path / "l",
                                             workers=1)["rows"]
    assert (tmp_path / "t" / trained["rows"][0]["run"] / "model.safetensors").exists()


def test_ray_runs_a_lost_workers_task_again(digits, ray_cluster, tmp_path, monkeypatch):
    mark = tmp_path / "killed"
    monkeypatch.setenv(backends.KILL_ONCE, str(mark))  # read by the driver, sent to the tasks
    with deadline(120):
        disturbed = sweep(digits, backend="ray")
    assert mark.exists()
    monkeypatch.delenv(backends.KILL_ONCE)
    assert disturbed["rows"] == sweep(digits, workers=1)["rows"]


# -- through the command -------------------------------------------------------------------
def cli(*args, env=None, timeout=120):
    return synapsenet(*args, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def model(digits, tmp_path_factory):
    p = cli("train", "--layers", "8", "--epochs", "3", "--out",
            tmp_path_factory.mktemp("m") / "run", "-q", "--no-plots")
    assert p.returncode == 0, p.stderr
    return p.stdout.split(" in ")[-1].strip() + "/model.safetensors"


@needs_exe
def test_the_command_on_ray_gives_the_rows_of_the_local_backend(model, ray_cluster, tmp_path):
    grid = ["sweep", model, "--vary", "adc_bits=3,6", "--vary", "hardware=pcm,rram",
            "--seeds", "2", "--json"]
    local = json.loads(cli(*grid, "--workers", "2").stdout)
    p = cli(*grid, "--backend", "ray", "--address", ray_cluster)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rows"] == local["rows"] and len(local["rows"]) == 8
    out = tmp_path / "s"
    p = cli("sweep", model, "--vary", "adc_bits=3,6", "--vary", "read_noise=0,0.05",
            "--seeds", "1", "--out", out)
    assert p.returncode == 0 and "adc_bits × read_noise" in p.stdout, p.stderr
    assert (out / "sweep.png").stat().st_size > 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_exe
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")
def test_the_command_refuses_an_unreachable_cluster(model):
    p = cli("sweep", model, "--vary", "adc_bits=4", "--backend", "ray", "--address",
            f"127.0.0.1:{free_port()}", timeout=60)  # nothing listens there
    refused(p, "cannot reach a Ray cluster at 127.0.0.1:")


@needs_exe
def test_the_command_without_ray_says_how_to_install_it(model, tmp_path):
    fake = tmp_path / "noray" / "ray"  # a Ray that cannot be imported, ahead on the path
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    path = os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    p = cli("sweep", model, "--vary", "adc_bits=4", "--backend", "ray",
            env={"PYTHONPATH": path})
    refused(p, "--backend ray needs Ray, which is not installed: pip install "
            "'synapsenet[ray]'")


@needs_exe
def test_the_command_stopped_by_ctrl_c_resumes_to_the_rows_of_an_unbroken_run(model, tmp_path):
    import time

    out = tmp_path / "s"
    grid = ["sweep", model, "--vary", "adc_bits=2..11", "--vary", "read_noise=0:0.1:10",
            "--seeds", "2", "--workers", "1", "--out", out]
    proc = subprocess.Popen([EXE, *map(str, grid)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while len(list((out / "cells").glob("*.json"))) < 5 and time.monotonic() - t0 < 60:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"the finished cells are kept in {out}: run the same command again" in err
    kept = len(list((out / "cells").glob("*.json")))
    assert 5 <= kept < 200 and not (out / "sweep.json").exists()
    p = cli(*grid, "--json")
    assert p.returncode == 0, p.stderr
    resumed = json.loads(p.stdout)
    assert resumed["timing"]["cells_resumed"] == kept and resumed["cells"] == 200
    unbroken = json.loads(cli(*grid[:-1], tmp_path / "again", "--json").stdout)
    assert resumed["rows"] == unbroken["rows"]


def test_data_seed_keeps_the_split_while_the_seed_changes():
    from synapsenet import runs

    a = runs.prepare(training_base(seed=0))
    b = runs.prepare(training_base(seed=5, data_seed=0))
    c = runs.prepare(training_base(seed=5))
    assert np.array_equal(a.X_test, b.X_test) and not np.array_equal(a.X_test, c.X_test)
    assert runs.model_metadata(training_base(seed=5, data_seed=0), b)["data"]["seed"] == 0


class _CountedHashlib:
    """The grid module's hashlib, counting the SHA-256 objects it makes."""

    def __init__(self, monkeypatch):
        import hashlib

        from synapsenet.study import grid

        self.n = 0

        def sha256(*a):
            self.n += 1
            return hashlib.sha256(*a)

        monkeypatch.setattr(grid, "hashlib", type("hashlib", (), {"sha256": staticmethod(sha256)}))


def test_each_cell_is_hashed_once_for_its_key_and_its_seed(digits, tmp_path, monkeypatch):
    import hashlib

    from synapsenet.study.grid import _words

    grid = Grid([Axis("a", (1, 2, 3)), Axis("seed", (0, 1))], seed=3)
    expected = [(c.key, c.seed) for c in Grid(grid.axes, 3).cells()]
    # the names and seeds of the folders studies have written: resumed as before
    assert [k for k, _ in expected] == [hashlib.sha256(_words(c)).hexdigest()[:16]
                                        for c in ({"a": a, "seed": s} for a in (1, 2, 3)
                                                  for s in (0, 1))]
    assert [s for _, s in expected] == [cell_seed(3, c.coords) for c in Grid(grid.axes, 3).cells()]
    counted = _CountedHashlib(monkeypatch)
    assert [(c.key, c.seed) for c in grid.cells()] == expected
    assert grid.cells() is grid.cells() and counted.n == 6  # named once, asked twice
    counted.n = 0
    sweep(digits, out=tmp_path / "sweep")  # 16 cells
    assert counted.n == 16
    counted.n = 0
    # a training study checks every cell before any runs, then runs them: still one hash each
    training.study(training_base(n_samples=200, epochs=1), [Axis("learning_rate", (0.5, 1.0))],
                   out=tmp_path / "study", workers=1)
    assert counted.n == 2
