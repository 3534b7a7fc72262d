"""End-to-end: the installed `synapsenet` command, run in a subprocess. What it refuses is in
test_cli_bad_input.py."""

import csv
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import EXE, command_env, needs_exe
from conftest import synapsenet as run

pytestmark = needs_exe


def ok(*args, **kw):
    p = run(*args, **kw)
    assert p.returncode == 0, p.stderr + p.stdout
    return p


def test_train_with_no_arguments_is_the_main_job(tmp_path):
    p = ok("train", cwd=tmp_path)
    assert "test accuracy" in p.stdout and "samples/s" in p.stdout
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    files = {f.name for f in runs[0].iterdir()}
    assert {"model.safetensors", "model.json", "config.toml", "history.csv", "metrics.json",
            "curves.png", "confusion.png"} <= files
    desc = json.loads((runs[0] / "model.json").read_text())
    assert desc["network"]["layers"][0]["n_in"] == 64 and desc["preprocessing"]["kind"] == "16"
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9


def test_train_xor_and_evaluate_predict_info(tmp_path):
    out = tmp_path / "xor"
    p = ok("train", "--dataset", "xor", "--layers", "2", "--mode", "sgd", "--epochs", "3000",
           "--learning-rate", "0.5", "--init", "uniform", "--out", out, "--json")
    metrics = json.loads(p.stdout)
    assert metrics["test_accuracy"] == 1.0 and metrics["updates"] == 12000
    assert (out / "boundary.png").stat().st_size > 1000
    model = out / "model.safetensors"
    ev = json.loads(ok("evaluate", model, "--json").stdout)
    assert ev["accuracy"] == 1.0 and ev["dataset"] == "xor"
    inputs = tmp_path / "in.csv"
    inputs.write_text("x1,x2\n0,0\n0,1\n1,0\n1,1\n")
    pred = ok("predict", model, inputs).stdout.splitlines()
    assert pred[0].startswith("class,output_0")
    assert [r.split(",")[0] for r in pred[1:]] == ["0", "1", "1", "0"]
    ok("predict", model, inputs, "-o", tmp_path / "p.json")
    classes = [r["class"] for r in json.loads((tmp_path / "p.json").read_text())]
    assert classes == ["0", "1", "1", "0"]
    info = ok("info", model).stdout
    assert "MACs" in info and "multiply-accumulates per inference: 6" in info
    assert "holds the chip" not in info  # trained digitally
    assert json.loads(ok("info", model, "--json").stdout)["trained_chip"] is None


@pytest.mark.parametrize("options,shown", [
    ([], "optimizer sgd, schedule constant"),
    (["--optimizer", "momentum"], "optimizer momentum (momentum 0.9), schedule constant"),
    (["--optimizer", "nesterov", "--momentum", "0.8", "--schedule", "step",
      "--weight-decay", "0.001"],
     "optimizer nesterov (momentum 0.8), weight decay 0.001, schedule step (step_size 10, "
     "gamma 0.1)"),
    (["--optimizer", "adam", "--schedule", "cosine"], "optimizer adam, schedule cosine (min_lr 0)"),
])
def test_info_shows_the_optimizer_and_schedule(options, shown, tmp_path):
    # momentum and Nesterov runs showed "optimizer sgd", and no run showed its schedule
    ok("train", "--dataset", "xor", "--epochs", "2", "--learning-rate", "0.1", *options,
       "--out", tmp_path / "r", "-q", "--no-plots")
    info = " ".join(ok("info", tmp_path / "r" / "model.safetensors").stdout.split())
    assert shown in info


def test_digits_run_is_reproducible_from_its_config(tmp_path):
    ok("train", "--epochs", "5", "--out", tmp_path / "a", "-q")
    ok("train", "--config", tmp_path / "a" / "config.toml", "--out", tmp_path / "b", "-q")
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["test_accuracy"] == b["test_accuracy"] and a["test_loss"] == b["test_loss"]
    ha = (tmp_path / "a" / "history.csv").read_text().splitlines()
    hb = (tmp_path / "b" / "history.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in ha] == [r.split(",")[:3] for r in hb]


def test_config_file_options_and_command_line_override(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('dataset = "moons"\nlayers = [8, 8]\nhidden = "tanh"\nepochs = 3\n'
                   'learning_rate = 0.3\n')
    ok("train", "--config", cfg, "--epochs", "2", "--out", tmp_path / "r", "-q")
    resolved = (tmp_path / "r" / "config.toml").read_text()
    assert 'dataset = "moons"' in resolved and "epochs = 2" in resolved
    assert 'layers = "8,8"' in resolved
    assert len((tmp_path / "r" / "history.csv").read_text().splitlines()) == 3


def test_existing_run_folder_is_not_overwritten(tmp_path):
    out = tmp_path / "r"
    ok("train", "--dataset", "xor", "--epochs", "2", "--out", out, "-q")
    before = (out / "model.safetensors").read_bytes()
    p = run("train", "--dataset", "xor", "--epochs", "3", "--out", out, "-q")
    assert p.returncode == 2 and "exists and is not empty" in p.stderr
    assert (out / "model.safetensors").read_bytes() == before
    ok("train", "--dataset", "xor", "--epochs", "3", "--out", out, "-q", "--force")


def test_csv_dataset_with_string_labels_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "iris-like.csv"
    with open(data, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["f1", "f2", "species"])
        for i in range(150):
            c = i % 3
            w.writerow([c + rng.normal(0, 0.2), -c + rng.normal(0, 0.2), ["a", "b", "c"][c]])
    p = ok("train", "--dataset", f"csv:{data}", "--label-column", "species", "--layers", "8",
           "--epochs", "30", "--learning-rate", "0.5", "--out", tmp_path / "r", "--json")
    assert json.loads(p.stdout)["test_accuracy"] > 0.9
    inputs = tmp_path / "x.csv"
    inputs.write_text("2.0,-2.0\n0.0,0.0\n")
    pred = ok("predict", tmp_path / "r" / "model.safetensors", inputs).stdout.splitlines()
    assert [r.split(",")[0] for r in pred[1:]] == ["c", "a"]  # original class names


def test_sigint_saves_checkpoint_and_resume_finishes(tmp_path):
    out = tmp_path / "r"
    proc = subprocess.Popen([EXE, "train", "--dataset", "digits", "--mode", "sgd",
                             "--epochs", "400", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=command_env())
    # wait until training has begun (the header line is printed just before it)
    deadline = time.time() + 120
    for line in proc.stdout:
        if line.startswith("data:") or time.time() > deadline:
            break
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and (out / "checkpoint.safetensors").exists()
    assert not (out / "model.safetensors").exists()
    p = run("train", "--resume", out, "--epochs", "300", "-q")
    if p.returncode == 2 and "already has" in p.stderr:  # a very fast machine: done > 300
        p = run("train", "--resume", out, "--epochs", "400", "-q")
    assert p.returncode == 0, p.stderr
    assert (out / "model.safetensors").exists() and not (out / "checkpoint.safetensors").exists()
    history = (out / "history.csv").read_text().splitlines()
    epochs = [int(r.split(",")[0]) for r in history[1:]]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 300


def test_datasets_lists_sources(tmp_path):
    p = ok("datasets", "--data-dir", tmp_path)
    for name in ("xor", "digits", "moons", "spiral", "mnist", "fashion-mnist", "csv:PATH",
                 "npz:PATH", "idx:DIR"):
        assert name in p.stdout
    assert "would download to" in p.stdout


@pytest.mark.parametrize("args", [["datasets"], ["hardware"], ["hardware", "pcm"], ["--help"],
                                  ["train", "--dataset", "xor", "--epochs", "2", "--no-plots"]])
def test_a_closed_stdout_pipe_is_not_an_error(args, tmp_path):
    # `synapsenet datasets | head -1`: the reader has gone before we write (rich exited with
    # 1); with stdout buffered, as on a user's machine, the closed pipe may show only at exit
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        p = subprocess.run([EXE, *args], stdout=write_end, stderr=subprocess.PIPE, text=True,
                           cwd=tmp_path, timeout=300, env=env)
    finally:
        os.close(write_end)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_mnist_from_data_dir(tmp_path, mnist_dir):
    p = ok("train", "--dataset", "mnist", "--data-dir", mnist_dir.parent, "--layers", "32",
           "--epochs", "1", "--batch-size", "64", "--out", tmp_path / "m", "--json")
    m = json.loads(p.stdout)
    assert m["test_samples"] == 10000 and m["test_accuracy"] > 0.85


# -- the chip from the command line -----------------------------------------------------------
@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("hw") / "run"
    p = run("train", "--layers", "32", "--hidden", "relu", "--output", "softmax", "--loss",
            "cross_entropy", "--learning-rate", "0.1", "--optimizer", "momentum", "--epochs",
            "30", "--out", out, "-q")
    assert p.returncode == 0, p.stderr
    return out / "model.safetensors"


def test_evaluate_on_hardware_presets(digits_model):
    ideal = json.loads(ok("evaluate", digits_model, "--hardware", "ideal", "--json").stdout)
    assert ideal["accuracy"] == ideal["digital_accuracy"]  # ideal chip = digital maths
    pcm = json.loads(ok("evaluate", digits_model, "--hardware", "pcm", "--json").stdout)
    assert pcm["energy"]["digital_over_analog"] > 1 and 0.5 < pcm["accuracy"] <= 1


def test_sweep_and_evaluate_score_the_same_held_out_samples(digits_model):
    # digits has no official test split: both must use the run's own (360 of 1,797 samples),
    # never the training data
    ev = json.loads(ok("evaluate", digits_model, "--json").stdout)
    sw = json.loads(ok("sweep", digits_model, "--vary", "adc_bits=8", "--seeds", "1",
                       "--json").stdout)
    assert sw["samples"] == ev["samples"] == 360
    assert sw["digital_accuracy"] == pytest.approx(ev["accuracy"])


def test_sweep_writes_table_and_plot(digits_model, tmp_path):
    p = ok("sweep", digits_model, "--vary", "adc_bits=2..6", "--seeds", "2", "--out",
           tmp_path / "s")
    assert "accuracy vs adc_bits" in p.stdout
    rows = (tmp_path / "s" / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 5 * 2
    res = json.loads((tmp_path / "s" / "sweep.json").read_text())
    means = [s["mean"] for s in res["summary"]]
    assert means[-1] > means[0]  # more ADC bits, more accuracy
    assert (tmp_path / "s" / "sweep.png").stat().st_size > 1000
    t = json.loads(ok("sweep", digits_model, "--vary", "time=20,1e7", "--seeds", "1",
                      "--hardware", "pcm", "--json").stdout)
    assert [s["time"] for s in t["summary"]] == [20, 1e7]


def test_hardware_command_lists_and_prints_presets(tmp_path, digits_model):
    assert "rram" in ok("hardware").stdout
    toml = ok("hardware", "rram").stdout
    f = tmp_path / "chip.toml"
    f.write_text(toml.replace("adc_bits = 8", "adc_bits = 6"))
    res = json.loads(ok("evaluate", digits_model, "--hardware", f, "--json").stdout)
    assert res["hardware"] == str(f)


def test_train_with_weight_noise(tmp_path):
    p = ok("train", "--weight-noise", "0.05", "--epochs", "3", "--out", tmp_path / "r", "--json")
    assert json.loads(p.stdout)["test_accuracy"] > 0.5
    assert "weight_noise = 0.05" in (tmp_path / "r" / "config.toml").read_text()


def test_evaluate_finds_the_training_runs_test_split(tmp_path):
    p = ok("train", "--dataset", "moons", "--n-samples", "300", "--noise", "0.3", "--seed", "4",
           "--test-split", "0.3", "--layers", "8", "--hidden", "tanh", "--epochs", "20",
           "--learning-rate", "0.5", "--out", tmp_path / "r", "--json")
    trained = json.loads(p.stdout)
    ev = json.loads(ok("evaluate", tmp_path / "r" / "model.safetensors", "--json").stdout)
    assert ev["samples"] == trained["test_samples"] == 90
    assert ev["accuracy"] == pytest.approx(trained["test_accuracy"])


def test_predict_reads_npz_inputs(tmp_path):
    ok("train", "--dataset", "xor", "--layers", "2", "--mode", "sgd", "--epochs", "3000",
       "--learning-rate", "0.5", "--init", "uniform", "--out", tmp_path / "r", "-q")
    model = tmp_path / "r" / "model.safetensors"
    np.savez(tmp_path / "in.npz", X=np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float))
    pred = ok("predict", model, tmp_path / "in.npz").stdout.splitlines()
    assert [r.split(",")[0] for r in pred[1:]] == ["0", "1", "1", "0"]
    np.savez(tmp_path / "bad.npz", weights=np.zeros(3))
    p = run("predict", model, tmp_path / "bad.npz")
    assert p.returncode == 2 and "expected the inputs in an array named X" in p.stderr


# -- scaling: explicit, stored with the model, warned about ----------------------------------
@pytest.fixture(scope="module")
def small_digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "run"
    p = run("train", "--layers", "16", "--epochs", "10", "--scale", "16", "--out", out, "-q",
            "--no-plots")  # the scaling auto picks for digits, which --scale refused
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "model.json").read_text())["preprocessing"]["kind"] == "16"
    return out / "model.safetensors"


def _pixels_255(tmp_path, n=40):
    """Digits as 0–255 pixels (an 8-bit image's units), in a CSV and an NPZ."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = np.minimum(d.data[:n] * 16, 255)
    np.savetxt(tmp_path / "x255.csv", X, delimiter=",", fmt="%g")
    np.savez(tmp_path / "d255.npz", X=X, y=d.target[:n])
    return tmp_path / "x255.csv", tmp_path / "d255.npz"


def test_inputs_far_from_the_training_range_are_warned_about(small_digits_model, tmp_path):
    # a model trained on 0–16 pixels given 0–255 ones answers, wrongly, without a word
    csv_in, npz = _pixels_255(tmp_path)
    for args in (["predict", small_digits_model, csv_in],
                 ["evaluate", small_digits_model, "--dataset", f"npz:{npz}"],
                 ["sweep", small_digits_model, "--dataset", f"npz:{npz}", "--vary",
                  "adc_bits=8", "--seeds", "1", "--hardware", "ideal"]):
        p = ok(*args)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("synapsenet: warning: "), p.stderr
        assert "span 0…255 but the model was trained on raw inputs in 0…16" in lines[0]
    from sklearn.datasets import load_digits

    np.savetxt(tmp_path / "x16.csv", load_digits().data[:40], delimiter=",", fmt="%g")
    assert ok("predict", small_digits_model, tmp_path / "x16.csv").stderr == ""  # its units
    assert ok("evaluate", small_digits_model).stderr == ""


def test_a_model_saved_before_scalings_were_explicit_still_reads_digits(small_digits_model,
                                                                         tmp_path):
    # such a model stored "none" (the loader divided by 16 unseen); the loader now returns
    # 0–16, and the model must still get the ÷16 it was trained with
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(small_digits_model), framework="np") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    user = json.loads(meta["user"])
    user["preprocessing"] = {"kind": "none", "offset": [0.0] * 64, "scale": [1.0] * 64}
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old), metadata={**meta, "user": json.dumps(user)})
    now = json.loads(ok("evaluate", small_digits_model, "--json").stdout)
    before = json.loads(ok("evaluate", old, "--json").stdout)
    assert before["accuracy"] == now["accuracy"] > 0.8


def test_training_on_unscaled_inputs_is_warned_about(tmp_path):
    _, npz = _pixels_255(tmp_path, n=200)
    p = ok("train", "--dataset", f"npz:{npz}", "--scale", "none", "--epochs", "1", "--out",
           tmp_path / "r", "-q", "--no-plots")
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synapsenet: warning: the training inputs")
    assert "choose a --scale" in lines[0]
    p = ok("train", "--dataset", f"npz:{npz}", "--epochs", "1", "--out", tmp_path / "s", "-q",
           "--no-plots")  # auto: standard for an npz file
    assert p.stderr == ""
