"""Faults: a run killed at any moment, a full disk, two runs into one folder, a damaged
checkpoint. Each runs the installed `synapsenet` command (a full disk is simulated by a wrapper
that starts the same entry point with the writes of synapsenet.files made to fail, or, where
this user may mount one, by a tiny tmpfs).

What must hold: a folder never holds half a file under a final name (temporary files are named
.NAME.XXXXXXXX.tmp, and the next run clears a killed one's); the previous model and checkpoint
stay loadable; `--resume` after any number of kills ends at the weights of a run never killed;
refusals are exit status 2 and one line, with nothing left behind.

The kills are bounded (twenty, and twelve while saving, at seeded random moments) so that the
file runs in well under a minute; `-m slow` runs four times as many.
"""

import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import EXE, command_env, needs_exe, refused, synapsenet

from synapsenet import files, model_file, runs

pytestmark = needs_exe

# ~½ s of training on the digits, a checkpoint every epoch: kills land in training, in
# checkpoint writes and in the final save. A network this small trains on one thread, its
# sums made in one order: a resumed run repeats the uninterrupted one. The digits come as IDX
# files (idx:DIR, with an official test set): read without scikit-learn, a command starts in
# half the time, and there are many commands here.
TRAIN = ["train", "--dataset", "idx:{digits}", "--layers", "32", "--mode", "sgd",
         "--learning-rate", "0.1", "--epochs", "100", "--no-plots", "--checkpoint-every", "0"]
RESUME = ["--checkpoint-every", "0", "--no-plots"]
DIGITS = None  # the IDX folder, made once by the fixture below


@pytest.fixture(scope="module", autouse=True)
def digits_as_idx(tmp_path_factory):
    global DIGITS
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = (d.data * 15).astype(np.uint8).reshape(-1, 8, 8), d.target.astype(np.uint8)
    DIGITS = tmp_path_factory.mktemp("digits-idx")
    for part, rows in (("train", slice(0, 1437)), ("t10k", slice(1437, None))):
        n = len(y[rows])
        (DIGITS / f"{part}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x803, n, 8, 8) + X[rows].tobytes())
        (DIGITS / f"{part}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x801, n) + y[rows].tobytes())


def command(args):
    return [str(a).format(digits=DIGITS) for a in args]


def run(*args, cwd=None, timeout=300, exe=None):
    return synapsenet(*command(args), cwd=cwd, timeout=timeout, exe=exe)


def weights(path):
    return model_file.load(path).get_weights()


def history_without_times(run_dir):
    rows = (Path(run_dir) / "history.csv").read_text().splitlines()
    return [r.rsplit(",", 1)[0] for r in rows]  # the last column is the epoch's seconds


def assert_whole(folder: Path):
    """Every file under a final name is whole and of the run; the rest are temporaries."""
    for p in folder.iterdir():
        if files.is_temporary(p.name, runs.RUN_FILES):
            continue
        assert p.name in runs.RUN_FILES, p.name
        if p.name == runs.CHECKPOINT:
            runs.load_checkpoint(folder)  # network, optimiser state and state, checked
        elif p.suffix == ".safetensors":
            model_file.load(p)
        elif p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".toml":
            tomllib.loads(p.read_text())
        elif p.suffix == ".csv":
            text = p.read_text()
            assert text.endswith("\n") and len({r.count(",") for r in text.splitlines()}) == 1
        elif p.suffix == ".png":
            data = p.read_bytes()
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[-12:-4] == b"\0\0\0\0IEND"


def checkpoint_epochs(folder: Path):
    if not (folder / runs.CHECKPOINT).exists():
        return None
    return runs.load_checkpoint(folder)[2]["epochs_done"]


def temporaries(folder: Path):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] if folder.exists() else []


def next_command(folder: Path, force=False):
    """What a user does next with a run folder: resume it if it has a checkpoint, else start
    the run (again)."""
    if (folder / runs.CHECKPOINT).exists():
        return ["train", "--resume", folder, *RESUME]
    return [*TRAIN, "--out", folder] + (["--force"] if force else [])


def start(args):
    return subprocess.Popen([EXE, *command(args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=command_env())


def wait_for_training(proc):
    """Read the command's output until training begins (its 'data:' line)."""
    for line in proc.stdout:
        if line.startswith("data:"):
            return True
    return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory, digits_as_idx):
    """The run never killed."""
    out = tmp_path_factory.mktemp("reference") / "run"
    p = run(*TRAIN, "--out", out, "-q")
    assert p.returncode == 0, p.stderr
    return out


def finish(folder: Path, force=False):
    p = run(*next_command(folder, force), "-q")
    assert p.returncode == 0, p.stderr
    assert not (folder / runs.CHECKPOINT).exists() and not temporaries(folder)


def assert_same_run(folder: Path, reference: Path):
    for a, b in zip(weights(folder / "model.safetensors"),
                    weights(reference / "model.safetensors"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # float32 rounding at most
    assert history_without_times(folder) == history_without_times(reference)


# -- SIGKILL ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kills", [20, pytest.param(80, marks=pytest.mark.slow)])
def test_killed_at_random_moments_resume_ends_at_the_uninterrupted_weights(kills, reference,
                                                                           tmp_path):
    # a run that finishes between kills is run again over itself (--force): the series
    # goes on, and the finished run's files must survive the kills of the next one
    folder, rng = tmp_path / "run", random.Random(kills)
    done = resumed = 0  # epochs in the checkpoint: never lost
    for i in range(kills):
        resuming = (folder / runs.CHECKPOINT).exists()
        resumed += resuming
        done = done if resuming else 0
        proc = start(next_command(folder, force=True))
        if i % 4 == 3:  # as it starts: reading its checkpoint, taking its folder
            time.sleep(rng.uniform(0.0, 0.25))
        elif wait_for_training(proc):
            time.sleep(rng.uniform(0.0, 0.04))  # within the ½ s of training
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if not folder.exists():  # killed before the folder was made
            continue
        assert_whole(folder)
        now = checkpoint_epochs(folder)
        if now is None:  # killed before the first checkpoint, or after the results
            assert done == 0 or (folder / "model.safetensors").exists()
        else:
            assert now >= done
            done = now
    finish(folder, force=True)
    assert resumed >= 3  # the kills left checkpoints, and runs went on from them
    assert_same_run(folder, reference)


def test_ctrl_c_in_the_middle_of_an_epoch_then_resume_ends_at_the_uninterrupted_weights(
        tmp_path):
    # the checkpoint is the state at the end of the last whole epoch: a stop after a batch in
    # the middle of one saved that batch's weights as if the epoch were done. (The NumPy
    # engine: it stops after any batch, the compiled one after chunks of whole epochs here.)
    args = command(["train", "--dataset", "idx:{digits}", "--layers", "32", "--epochs", "60",
                    "--no-plots"])
    numpy_env = {**command_env(), "SYNAPSENET_ENGINE": "numpy"}
    ref = subprocess.run([EXE, *args, "--out", str(tmp_path / "ref"), "-q"], env=numpy_env,
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    folder = tmp_path / "run"
    proc = subprocess.Popen([EXE, *args, "--out", str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=numpy_env)
    wait_for_training(proc)
    time.sleep(random.Random(1).uniform(0.05, 0.2))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    assert checkpoint_epochs(folder) < 60  # stopped in the middle of an epoch
    p = subprocess.run([EXE, "train", "--resume", str(folder), "--no-plots", "-q"],
                       env=numpy_env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert_same_run(folder, tmp_path / "ref")


@pytest.mark.parametrize("kills", [12, pytest.param(48, marks=pytest.mark.slow)])
def test_killed_while_saving_the_previous_model_and_checkpoint_stay_loadable(kills, reference,
                                                                             tmp_path):
    # each kill comes as a checkpoint or one of the results is being written (its temporary
    # file has appeared), over a finished run that --force replaces
    folder, rng = tmp_path / "run", random.Random(kills)
    shutil.copytree(reference, folder)
    targets = [runs.CHECKPOINT, "config.toml", runs.CHECKPOINT, "history.csv", "metrics.json",
               "model.safetensors"]
    for i in range(kills):
        wanted = targets[i % len(targets)]
        proc = start(next_command(folder, force=True))
        while proc.poll() is None:
            if any(files.is_temporary(n, [wanted]) for n in os.listdir(folder)):
                time.sleep(rng.uniform(0, 0.002))  # somewhere in the write, or just after
                break
            time.sleep(0.0002)  # leave the cores to the run
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert_whole(folder)
        # the previous model stays until the new one replaces it, whole
        assert (folder / "model.safetensors").exists()
    finish(folder, force=True)
    assert_same_run(folder, reference)


def test_a_killed_runs_folder_does_not_block_the_next_run(tmp_path):
    # the lock is the system's, released with the process; its temporary files are cleared
    folder = tmp_path / "run"
    proc = start([*TRAIN, "--out", folder])
    wait_for_training(proc)
    while not any(files.is_temporary(n) for n in os.listdir(folder)):
        pass
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    (folder / ".model.safetensors.stale123.tmp").write_bytes(b"half")  # a kill mid-save
    finish(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        {"config.toml", "history.csv", "metrics.json", "model.json", "model.safetensors"})


# -- a full disk ------------------------------------------------------------------------------
# Starts the installed entry point with every write of synapsenet.files failing as a full
# disk fails: the FAIL-th file written (1 = the first) gets half its bytes, then ENOSPC, in
# write() or, as on filesystems that allocate late, in fsync().
FULL_DISK = r"""
import errno, os, sys, types
import synapsenet.files as F
from synapsenet.cli import main

fail, where = int(sys.argv[1]), sys.argv[2]
count = [0]

def full():
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

class File:
    def __init__(self, f, n):
        self.f, self.n = f, n
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.f.close()
    def write(self, data):
        if self.n == fail and where == "write":
            self.f.write(data[:len(data) // 2])
            raise full()
        return self.f.write(data)
    def __getattr__(self, name):
        return getattr(self.f, name)

def fdopen(fd, *args, **kwargs):
    count[0] += 1
    return File(os.fdopen(fd, *args, **kwargs), count[0])

def fsync(fd):
    if count[0] == fail and where == "fsync":
        raise full()
    os.fsync(fd)

F.os = types.SimpleNamespace(**{**vars(os), "fdopen": fdopen, "fsync": fsync})
sys.argv = ["synapsenet"] + sys.argv[3:]
sys.exit(main())
"""


def full_disk(fail, where="write"):
    return (sys.executable, "-c", FULL_DISK, str(fail), where)


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """An earlier run, which nothing may touch."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    p = run("train", "--dataset", "xor", "--epochs", "2", "--out", out, "-q")
    assert p.returncode == 0, p.stderr
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


SHORT = ["train", "--dataset", "idx:{digits}", "--layers", "8", "--epochs", "3",
         "--checkpoint-every", "0"]


# the files a SHORT run writes: 1, 2 the checkpoints after epochs 1 and 2; then the results,
# 3 config.toml, 4 history.csv, 5 model.json, 6 metrics.json, (with plots: curves.png,
# confusion.png,) model.safetensors
@pytest.mark.parametrize("fail,where,plots", [
    (1, "write", False),  # the first checkpoint: nothing to keep
    (3, "write", False),  # the results, with a checkpoint to keep
    (4, "fsync", False),
    (7, "write", True),  # a plot
    (7, "fsync", False),  # the model, the last
])
def test_a_full_disk_is_one_line_leaves_no_temporary_and_earlier_runs_intact(
        fail, where, plots, earlier, tmp_path):
    earlier_dir, before = earlier
    folder = tmp_path / "run"
    p = run(*SHORT, "--out", folder, *([] if plots else ["--no-plots"]),
            exe=full_disk(fail, where))
    refused(p, "No space left on device")
    assert p.stderr.startswith(f"synapsenet: error: cannot write '{folder}/")
    assert {q.name: q.read_bytes() for q in earlier_dir.iterdir()} == before
    if fail == 1:
        assert "nothing of this run was left behind" in p.stderr and not folder.exists()
        return
    assert "the checkpoint after epoch 2 is kept: free some space, then resume with: " \
           f"synapsenet train --resume {folder}" in p.stderr
    assert sorted(q.name for q in folder.iterdir()) == [runs.CHECKPOINT]  # no temporaries
    assert_whole(folder)
    p = run("train", "--resume", folder, "--no-plots", "-q")  # space freed
    assert p.returncode == 0, p.stderr
    assert (folder / "model.safetensors").exists() and not temporaries(folder)


def test_a_full_disk_while_resuming_keeps_the_checkpoint(tmp_path):
    folder = tmp_path / "run"
    proc = start([*SHORT, "--epochs", "2000", "--out", folder])
    wait_for_training(proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    before = (folder / runs.CHECKPOINT).read_bytes()
    p = run("train", "--resume", folder, "--epochs", checkpoint_epochs(folder) + 1,
            "--checkpoint-every", "1000", exe=full_disk(1))
    refused(p, "No space left on device; the checkpoint after epoch")
    assert (folder / runs.CHECKPOINT).read_bytes() == before
    assert sorted(q.name for q in folder.iterdir()) == [runs.CHECKPOINT]


def test_predict_and_sweep_outputs_on_a_full_disk_leave_the_previous_files(tmp_path, earlier):
    model = earlier[0] / "model.safetensors"
    (tmp_path / "in.csv").write_text("0,0\n1,1\n")
    out = tmp_path / "p.csv"
    out.write_text("previous\n")
    refused(run("predict", model, tmp_path / "in.csv", "-o", out, exe=full_disk(1)),
            f"'{out}': No space left on device")
    assert out.read_text() == "previous\n" and sorted(os.listdir(tmp_path)) == ["in.csv", "p.csv"]
    refused(run("predict", model, tmp_path / "in.csv", "-o", out, exe=full_disk(1, "fsync")),
            "No space left on device")
    refused(run("predict", model, tmp_path / "wide.csv", "-o", out), "cannot read")
    assert out.read_text() == "previous\n" and sorted(os.listdir(tmp_path)) == ["in.csv", "p.csv"]
    # a sweep writes grid.json (1), then each cell as it finishes (2), then sweep.csv (3)
    sweep = tmp_path / "sweep"
    args = ("sweep", model, "--vary", "adc_bits=4", "--seeds", "1", "--hardware", "ideal",
            "--out", sweep)
    refused(run(*args, exe=full_disk(1)), "No space left on device; nothing of this study "
            "was left behind")
    assert not sweep.exists()
    refused(run(*args, exe=full_disk(3)), "sweep.csv': No space left on device; 1 finished "
            "cell is kept: free some space, then run the same command to resume")
    assert sorted(p.name for p in sweep.iterdir()) == ["cells", "grid.json"]
    p = run(*args, "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["timing"]["cells_resumed"] == 1


@pytest.fixture
def tiny_disk(tmp_path):
    """A 320 kB tmpfs (needs the right to mount: root), unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(mnt)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root); the simulated full disk covers it")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_real_full_disk(tiny_disk, earlier):
    earlier_dir, before = earlier
    shutil.copytree(earlier_dir, tiny_disk / "earlier")
    free = shutil.disk_usage(tiny_disk).free
    (tiny_disk / "filler").write_bytes(b"\0" * max(0, free - 60_000))  # room for a checkpoint
    p = run(*SHORT, "--out", tiny_disk / "run")  # with plots: ~100 kB
    refused(p, "No space left on device")
    assert {q.name: q.read_bytes() for q in (tiny_disk / "earlier").iterdir()} == before
    assert not temporaries(tiny_disk / "run") and not temporaries(tiny_disk)
    (tiny_disk / "filler").unlink()
    if (tiny_disk / "run").exists():
        assert run("train", "--resume", tiny_disk / "run", "--no-plots", "-q").returncode == 0


# -- two runs into one folder -------------------------------------------------------------
@pytest.mark.parametrize("force", [False, True])
def test_two_runs_into_one_folder_one_wins_and_the_other_is_refused(force, tmp_path):
    folder = tmp_path / "run"
    a = start([*TRAIN, "--layers", "8", "--out", folder] + ["--force"] * force)
    b = start([*TRAIN, "--layers", "12", "--out", folder] + ["--force"] * force)
    (_, err_a), (_, err_b) = a.communicate(timeout=300), b.communicate(timeout=300)
    codes = sorted([a.returncode, b.returncode])
    assert codes == [0, 2], err_a + err_b
    loser = err_a if a.returncode else err_b
    assert "Traceback" not in loser and len(loser.strip().splitlines()) == 1, loser
    assert ("is in use by another synapsenet train" in loser
            or "exists and is not empty" in loser), loser
    winner = "8" if a.returncode == 0 else "12"
    # no mixed folder: every file is the winner's
    assert tomllib.loads((folder / "config.toml").read_text())["layers"] == winner
    assert json.loads((folder / "model.json").read_text())["network"]["layers"][0]["n_out"] == \
        int(winner)
    assert model_file.load(folder / "model.safetensors").sizes[1] == int(winner)
    assert len(history_without_times(folder)) == 101


def test_a_run_in_progress_cannot_be_resumed_or_replaced(tmp_path):
    folder = tmp_path / "run"
    proc = start([*TRAIN, "--epochs", "2000", "--out", folder])
    wait_for_training(proc)
    while not (folder / runs.CHECKPOINT).exists():
        time.sleep(0.01)
    refused(run("train", "--resume", folder), "is in use by another synapsenet train")
    refused(run(*TRAIN, "--out", folder, "--force"), "is in use by another synapsenet train")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130


# -- a damaged checkpoint ---------------------------------------------------------------------
def _rewrite_state(path, change):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    user = json.loads(meta["user"])
    change(user["checkpoint"], tensors)
    save_file(tensors, str(path), metadata={**meta, "user": json.dumps(user)})


DAMAGE = {  # what was damaged → how, and the words of the refusal
    "cut short": (lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]),
                  "is not a readable safetensors file"),
    "not safetensors": (lambda p: p.write_bytes(b"\0" * 100), "is not a readable safetensors"),
    "epochs not a number": (lambda p: _rewrite_state(
        p, lambda s, t: s.update(epochs_done="3")), "epochs_done is '3'"),
    "history shorter than its epochs": (lambda p: _rewrite_state(
        p, lambda s, t: s["history"]["loss"].pop()), "its history does not hold"),
    "random generator state": (lambda p: _rewrite_state(
        p, lambda s, t: s.update(rng={"bit_generator": "nope"})), "random generator state"),
    "optimizer state of another network": (lambda p: _rewrite_state(
        p, lambda s, t: t.update({"extra.optimizer.velocity.0": np.zeros((2, 2), np.float32)})),
        "optimizer state 'velocity.0' has shape (2, 2)"),
    "unknown option": (lambda p: _rewrite_state(
        p, lambda s, t: s["config"].update(epochz=3)), "unknown option 'epochz'"),
}


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, digits_as_idx):
    """A run stopped by Ctrl-C: its folder holds a checkpoint."""
    folder = tmp_path_factory.mktemp("interrupted") / "run"
    proc = start([*TRAIN, "--optimizer", "momentum", "--epochs", "2000", "--out", folder])
    wait_for_training(proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    return folder


@pytest.mark.parametrize("damage", DAMAGE)
def test_resuming_a_damaged_checkpoint_is_refused_naming_it(damage, interrupted, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(interrupted, folder)
    how, message = DAMAGE[damage]
    how(folder / runs.CHECKPOINT)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    p = run("train", "--resume", folder)
    refused(p, message)
    assert f"{folder / runs.CHECKPOINT}" in p.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # left as it was


def test_resume_where_the_checkpoint_is_the_last_epoch_writes_the_results(interrupted, tmp_path):
    # a stop after the last epoch: nothing is left to train, and the run is finished
    folder = tmp_path / "run"
    shutil.copytree(interrupted, folder)
    done = checkpoint_epochs(folder)
    p = run("train", "--resume", folder, "--epochs", done, "-q")
    assert p.returncode == 0, p.stderr
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == done
    assert not (folder / runs.CHECKPOINT).exists()

