import os
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
