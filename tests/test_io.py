import json
import struct

import numpy as np
import pytest

import synapsenet as sn
from synapsenet import ModelFileError, files


@pytest.fixture
def trained(xor):
    net = sn.Network.from_sizes([2, 3, 2], hidden="tanh", output="softmax", seed=0)
    net.fit(*xor, epochs=5, learning_rate=0.1, loss="cross_entropy", batch_size=2)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_gives_identical_outputs(tmp_path, xor, dtype):
    net = sn.Network.from_sizes([2, 5, 3, 1], hidden="relu", output="sigmoid", seed=1,
                                dtype=dtype)
    sn.save(net, tmp_path / "m.safetensors")
    back = sn.load(tmp_path / "m.safetensors")
    assert back.dtype == net.dtype and repr(back) == repr(net)
    assert np.array_equal(back.predict(xor[0]), net.predict(xor[0]))


def test_file_is_safetensors_with_json_description(tmp_path, trained):
    path = tmp_path / "m.safetensors"
    sn.save(trained, path, metadata={"dataset": "xor"})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header["__metadata__"]
    assert meta["format"] == "synapsenet"
    assert json.loads(meta["network"])["layers"][1]["activation"] == {"name": "softmax"}
    assert json.loads(meta["training"])["loss"] == "cross_entropy"
    assert json.loads(meta["user"]) == {"dataset": "xor"}
    assert header["layers.0.W"]["shape"] == [3, 2]
    back, user, extras = sn.model_file.load(path, with_extras=True)
    assert user == {"dataset": "xor"} and back.train_config["loss"] == "cross_entropy"


def test_save_is_atomic_and_leaves_no_temporary(tmp_path, trained, monkeypatch):
    path = tmp_path / "m.safetensors"
    sn.save(trained, path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        sn.save(sn.Network.from_sizes([2, 1]), path)
    assert path.read_bytes() == before  # the old model is intact
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        sn.load(tmp_path / "nope.safetensors")


def test_corrupt_file(tmp_path, trained):
    path = tmp_path / "m.safetensors"
    sn.save(trained, path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ModelFileError, match="not a readable safetensors file"):
        sn.load(path)
    path.write_bytes(b"hello, I am text")
    with pytest.raises(ModelFileError, match="not a readable safetensors file"):
        sn.load(path)


def test_foreign_safetensors_file(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="not a synapsenet model"):
        sn.load(path)


def test_damaged_header(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "bad.safetensors"
    save_file({"layers.0.W": np.zeros((2, 3), np.float32)}, str(path),
              metadata={"format": "synapsenet", "version": "1", "network": "{not json"})
    with pytest.raises(ModelFileError, match="damaged synapsenet header"):
        sn.load(path)
    save_file({"layers.0.W": np.zeros((2, 3), np.float32), "layers.0.b": np.zeros(5, np.float32)},
              str(path), metadata={"format": "synapsenet", "version": "1", "network": json.dumps(
                  {"layers": [{"n_in": 3, "n_out": 2, "activation": "relu"}], "dtype": "float32"})})
    with pytest.raises(ModelFileError, match="invalid network"):
        sn.load(path)


def test_no_pickle_anywhere():
    import pathlib

    src = pathlib.Path(sn.__file__).parent
    for f in src.rglob("*.py"):
        text = f.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, f


def test_saved_files_get_ordinary_permissions(tmp_path, trained):
    import os

    sn.save(trained, tmp_path / "m.safetensors")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o666 & ~mask


def _rewrite(path, tensors_override):
    """The model at ``path`` written again with some tensors replaced."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file({**tensors, **tensors_override}, str(path), metadata=meta)


def test_integer_weights_are_refused_naming_tensor_and_file(tmp_path, trained):
    path = tmp_path / "m.safetensors"
    sn.save(trained, path)
    _rewrite(path, {"layers.1.W": np.ones((2, 3), np.int8)})
    with pytest.raises(ModelFileError, match=r"m\.safetensors.*'layers\.1\.W' is int8; weights "
                                             "must be floating point"):
        sn.load(path)


def test_float16_weights_are_upcast(tmp_path, trained):
    path = tmp_path / "m.safetensors"
    sn.save(trained, path)
    W16 = np.ascontiguousarray(trained.layers[0].W, np.float16)
    _rewrite(path, {"layers.0.W": W16})
    back = sn.load(path)
    assert back.layers[0].W.dtype == np.float32
    np.testing.assert_array_equal(back.layers[0].W, W16.astype(np.float32))


def test_non_finite_or_missing_weights_are_refused(tmp_path, trained):
    path = tmp_path / "m.safetensors"
    sn.save(trained, path)
    _rewrite(path, {"layers.0.b": np.array([0, np.nan, 0], np.float32)})
    with pytest.raises(ModelFileError, match="'layers.0.b' holds non-finite values"):
        sn.load(path)
    sn.save(trained, path)
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys() if k != "layers.1.b"}
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ModelFileError, match="has no tensor 'layers.1.b'"):
        sn.load(path)


def test_saving_is_a_function_not_a_network_method():
    # the model file format imports the network, never the reverse
    assert not hasattr(sn.Network, "save") and sn.save is sn.model_file.save


def test_staged_files_appear_together_or_not_at_all(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with files.Staged(tmp_path) as s:
        s.write_text("a.txt", "new a")
        with s.file("b.bin") as p:  # for writers that take a path
            files.atomic_write_bytes(p, b"new b")
        assert (tmp_path / "a.txt").read_text() == "old a" and not (tmp_path / "b.bin").exists()
        s.commit(last="a.txt")
    assert (tmp_path / "a.txt").read_text() == "new a"
    assert (tmp_path / "b.bin").read_bytes() == b"new b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]
    with pytest.raises(OSError) as e, files.Staged(tmp_path) as s:
        s.write_text("a.txt", "newer a")
        with s.file("c.bin") as p:
            raise OSError(28, "No space left on device", str(p))
    assert e.value.filename == str(tmp_path / "c.bin")  # the file meant, not its temporary
    assert (tmp_path / "a.txt").read_text() == "new a"  # untouched, temporaries gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_temporary_names_and_their_removal(tmp_path):
    for name in (".model.safetensors.ab12.tmp", "..model.safetensors.ab12.tmp.cd34.tmp",
                 ".notes.txt.ef56.tmp", "model.safetensors", ".hidden"):
        (tmp_path / name).write_text("")
    assert files.is_temporary(".model.safetensors.ab12.tmp", ["model.safetensors"])
    assert not files.is_temporary(".model.safetensors.ab12.tmp", ["model.json"])
    assert not files.is_temporary(".hidden")
    files.remove_temporaries(tmp_path, ["model.safetensors"])  # only those of the files named
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", ".notes.txt.ef56.tmp",
                                                          "model.safetensors"]


def test_a_locked_folder_is_refused_until_released(tmp_path):
    fcntl = pytest.importorskip("fcntl")  # noqa: F841 - POSIX only
    lock = files.lock_folder(tmp_path, "run folder")
    assert lock is not None
    with pytest.raises(sn.SynapseError, match="run folder .* is in use by another process"):
        files.lock_folder(tmp_path, "run folder")  # another open of it: another holder
    files.unlock_folder(lock)
    files.unlock_folder(files.lock_folder(tmp_path))
