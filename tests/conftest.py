import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SYNAPSENET_SHARED_DATA", ROOT.parent / "shared" / "data"))

# The command's tests run it in other folders: a relative PYTHONPATH (PYTHONPATH=src) must
# still name this checkout's code there, not whatever synapsenet is installed.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        str(Path(p).resolve()) for p in os.environ["PYTHONPATH"].split(os.pathsep) if p)


# The installed command, beside this interpreter (or on PATH); None where it is not installed.
EXE = shutil.which("synapsenet", path=str(Path(sys.executable).parent)) or shutil.which(
    "synapsenet")
needs_exe = pytest.mark.skipif(EXE is None, reason="the synapsenet command is not installed")


def command_env(extra=None) -> dict:
    """The environment the command runs in: this one, on a console 120 columns wide (tables
    on one line), with ``extra`` on top."""
    return {**os.environ, "COLUMNS": "120", **(extra or {})}


def synapsenet(*args, cwd=None, env=None, timeout=300, exe=None):
    """``synapsenet ARGS`` run to its end in a subprocess (a CompletedProcess, text): the
    installed command (``python -m synapsenet`` where it is not installed), or ``exe`` (a
    command line to start instead), in ``command_env(env)``."""
    exe = exe or ((EXE,) if EXE else (sys.executable, "-m", "synapsenet"))
    return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=command_env(env))


def refused(p, message):
    """The command refused its input as it should: exit status 2 and ``message`` in one line
    on stderr, without a traceback."""
    assert p.returncode == 2, p.stderr + p.stdout
    assert message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def shared_data(name: str) -> Path:
    """Folder of the original IDX files in ../shared/data; skips the test when absent."""
    path = SHARED_DATA / name
    if not (path / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"{name} IDX files not found in {path} (../shared/data is provided in CI)")
    return path


@pytest.fixture
def data():
    """A small two-class problem for the chip's learning tests: 96 samples, 5 features."""
    rng = np.random.default_rng(0)
    X = rng.random((96, 5), dtype=np.float32)
    y = (X[:, 0] + X[:, 1] > X[:, 2] + 0.4).astype(int)
    return X, y


@pytest.fixture
def mnist_dir():
    return shared_data("mnist")


@pytest.fixture
def fashion_dir():
    return shared_data("fashion-mnist")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's real cache or environment settings."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SYNAPSENET_DATA", raising=False)
    monkeypatch.delenv("SYNAPSENET_MIRRORS", raising=False)


@pytest.fixture
def xor():
    return np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float), np.array([0, 1, 1, 0])


def chip_config(**learning):
    """The ideal chip with its ``[learning]`` section changed (``device=…``, ``synapse=…``)."""
    from synapsenet import hardware

    return hardware.load_config("ideal").replace(
        **{f"learning.{k}": v for k, v in learning.items()})


def ideal_law(tmp_path, continuous=True, dw_min=0.001) -> str:
    """A law file of the ideal device (weights within ±1), continuous or in steps of
    ``dw_min``: its path."""
    path = tmp_path / f"ideal-{continuous}-{dw_min}.toml"
    path.write_text(f'law = "ideal"\ndw_min = {dw_min}\ncontinuous = {str(continuous).lower()}\n'
                    'w_min = -1.0\nw_max = 1.0\n')
    return str(path)


def network_of(*Ws, activation="identity"):
    """A network of Dense layers holding the weights ``Ws`` (n_out × n_in each), its biases
    zero."""
    import synapsenet as sn

    Ws = [np.asarray(W, np.float32) for W in Ws]
    return sn.Network([sn.Dense(W.shape[1], W.shape[0], activation, W=W,
                                b=np.zeros(len(W), np.float32)) for W in Ws])


def four_classes():
    """300 samples of 20 uniform features, four classes at random: data for the engines'
    twins (what they learn does not matter, that they agree does)."""
    rng = np.random.default_rng(1)
    return rng.random((300, 20), dtype=np.float32), rng.integers(0, 4, 300)
