import gzip
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from synapsenet import DataError, datasets
from synapsenet.datasets import idx, mnist
from synapsenet.errors import ConfigError


# -- IDX --------------------------------------------------------------------------------------
def test_real_mnist_files(mnist_dir):
    X, y = idx.read_idx_pair(mnist_dir / "t10k-images-idx3-ubyte.gz",
                             mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    ds = datasets.load("mnist", data_dir=mnist_dir)
    assert ds.X.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert np.bincount(ds.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                          5851, 5949]


def test_real_fashion_files(fashion_dir):
    ds = datasets.load("fashion-mnist", data_dir=fashion_dir.parent)
    assert np.bincount(ds.y).tolist() == [6000] * 10 and ds.class_names[9] == "Ankle boot"


def _labels_bytes(labels):
    return b"\x00\x00\x08\x01" + len(labels).to_bytes(4, "big") + bytes(labels)


def test_raw_and_gzip_are_both_read(tmp_path):
    raw = _labels_bytes([1, 2, 3])
    (tmp_path / "l").write_bytes(raw)
    (tmp_path / "l.gz").write_bytes(gzip.compress(raw))
    assert idx.read_idx(tmp_path / "l").tolist() == [1, 2, 3]
    assert idx.read_idx(tmp_path / "l.gz").tolist() == [1, 2, 3]


@pytest.mark.parametrize("mutate,msg", [
    (lambda b: b"\x01\x02" + b[2:], "wrong magic number"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\x00", "longer than its header says"),
    (lambda b: b[:6], "truncated in the header"),
    (lambda b: b[:4] + (5).to_bytes(4, "big") + b[8:], "truncated"),  # wrong count
    (lambda b: b"", "too short"),
])
def test_corrupted_idx(tmp_path, mutate, msg):
    f = tmp_path / "bad"
    f.write_bytes(mutate(_labels_bytes([0, 1, 2, 3])))
    with pytest.raises(DataError, match=msg):
        idx.read_idx(f)


def test_corrupted_real_file(tmp_path, mnist_dir):
    data = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "trunc.gz").write_bytes(gzip.compress(data[:5000]))
    with pytest.raises(DataError, match="truncated"):
        idx.read_idx(tmp_path / "trunc.gz")
    original = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "broken.gz").write_bytes(original[:1000])
    with pytest.raises(DataError, match="damaged gzip data"):
        idx.read_idx(tmp_path / "broken.gz")


def test_image_label_count_mismatch(tmp_path):
    img = b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (2, 2, 2)) + bytes(8)
    (tmp_path / "i").write_bytes(img)
    (tmp_path / "l").write_bytes(_labels_bytes([1, 2, 3]))
    with pytest.raises(DataError, match="has 2 images but .* has 3 labels"):
        idx.read_idx_pair(tmp_path / "i", tmp_path / "l")


def test_checksum_mismatch_in_user_folder(tmp_path, mnist_dir):
    folder = tmp_path / "mnist"
    shutil.copytree(mnist_dir, folder)
    f = folder / "t10k-labels-idx1-ubyte.gz"
    f.chmod(0o644)
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes())[:-1] + b"\x07"))
    with pytest.raises(DataError, match="does not match the published mnist file"):
        datasets.load("mnist", data_dir=folder)


def test_uncompressed_files_are_accepted(tmp_path, mnist_dir):
    folder = tmp_path / "raw"
    folder.mkdir()
    for f in mnist.FILES:
        (folder / f).write_bytes(gzip.decompress((mnist_dir / f"{f}.gz").read_bytes()))
    assert datasets.load("mnist", data_dir=folder).X_test.shape == (10000, 784)


def test_offline_and_missing_says_where_to_put_files(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"Put the four mnist files .*--data-dir"):
        datasets.load("mnist", data_dir=tmp_path, allow_download=False)


# -- download from a local server -------------------------------------------------------------
class _Server:
    """A loopback HTTP server that serves a folder; ``truncate`` cuts responses short."""

    def __init__(self, folder: Path, truncate: set | None = None):
        truncate = truncate or set()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = folder / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if path.name in truncate else data)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_verifies_and_caches(tmp_path, mnist_dir, monkeypatch):
    with _Server(mnist_dir) as srv:
        monkeypatch.setenv("SYNAPSENET_MIRRORS", srv.url)
        seen = []
        ds = datasets.load("mnist", progress=lambda f, d, t: seen.append((f, d, t)))
    assert ds.X.shape == (60000, 784)
    cached = mnist.cache_dir() / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(f"{f}.gz" for f in mnist.FILES)
    assert {f for f, _, _ in seen} == set(mnist.FILES) and seen[-1][1] == seen[-1][2]
    # now offline: served from the cache
    monkeypatch.setenv("SYNAPSENET_MIRRORS", "http://127.0.0.1:9/")
    assert datasets.load("mnist").X_test.shape == (10000, 784)


def test_download_checksum_mismatch_is_rejected(tmp_path, monkeypatch):
    bad = tmp_path / "srv"
    bad.mkdir()
    for f in mnist.FILES:
        (bad / f"{f}.gz").write_bytes(gzip.compress(b"not mnist"))
    with _Server(bad) as srv:
        monkeypatch.setenv("SYNAPSENET_MIRRORS", srv.url)
        with pytest.raises(DataError, match="checksum mismatch"):
            datasets.load("mnist")
    cached = mnist.cache_dir() / "mnist"
    assert not any(cached.iterdir())  # nothing half-written or unverified was kept


def test_download_broken_transfer_tries_next_mirror(tmp_path, mnist_dir, monkeypatch):
    with _Server(mnist_dir, truncate={"train-labels-idx1-ubyte.gz"}) as broken, \
            _Server(mnist_dir) as good:
        monkeypatch.setenv("SYNAPSENET_MIRRORS", f"{broken.url} {good.url}")
        assert datasets.load("mnist").y.shape == (60000,)
    with _Server(mnist_dir, truncate={"train-labels-idx1-ubyte.gz"}) as broken:
        monkeypatch.setenv("SYNAPSENET_MIRRORS", broken.url)
        (mnist.cache_dir() / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(DataError, match="transfer broken off"):
            datasets.load("mnist")


def test_sha256_table_matches_shared_files(mnist_dir, fashion_dir):
    for name, folder in (("mnist", mnist_dir), ("fashion-mnist", fashion_dir)):
        for f in mnist.FILES:
            digest = hashlib.sha256((folder / f"{f}.gz").read_bytes()).hexdigest()
            assert digest == mnist.SHA256[name][f][0]


# -- built-in sets, CSV, NPZ, preprocessing ---------------------------------------------------
@pytest.mark.parametrize("name", datasets.BUILTIN)
def test_builtin_sets(name):
    ds = datasets.load(name, seed=1)
    assert ds.X.ndim == 2 and len(ds.X) == len(ds.y) and ds.y.min() == 0
    assert np.array_equal(datasets.load(name, seed=1).X, ds.X)  # seeded


def test_two_d_noise_option():
    a = datasets.load("spiral", noise=0.0, n_samples=300)
    b = datasets.load("spiral", noise=0.5, n_samples=300)
    assert a.X.shape == (300, 2) and not np.allclose(a.X, b.X)


def test_unknown_dataset():
    with pytest.raises(ConfigError, match="unknown dataset 'mnsit'; valid datasets are: xor"):
        datasets.load("mnsit")


def test_csv_header_detection_and_label_by_index(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("3,1.5,2\n4,2.5,1\n3,0.5,1\n4,3.5,2\n")
    X, y, classes = datasets.load_csv(f, label_column=0)
    assert X.tolist() == [[1.5, 2.0], [2.5, 1.0], [0.5, 1.0], [3.5, 2.0]]
    assert y.tolist() == [0, 1, 0, 1] and classes == ["3", "4"]


# the files CSV and npz loaders refuse are listed in test_data_bad_input.py
def test_npz(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, X=np.eye(3), y=np.array([2, 0, 2]))
    ds = datasets.load(f"npz:{f}")
    assert ds.y.tolist() == [1, 0, 1] and ds.class_names == ["0", "2"]
    np.savez(f, features=np.eye(2))
    with pytest.raises(DataError, match="expected a feature array and a label array"):
        datasets.load(str(f))


def test_scaler_kinds():
    X = np.array([[0.0, 10.0], [255.0, 30.0]])
    assert datasets.Scaler("255").fit_transform(X)[1, 0] == 1.0
    s = datasets.Scaler("standard").fit_transform(X)
    assert np.allclose(s.mean(axis=0), 0) and np.allclose(s.std(axis=0), 1)
    m = datasets.Scaler("minmax").fit_transform(X)
    assert m.min() == 0 and m.max() == 1
    back = datasets.Scaler.from_dict(datasets.Scaler("standard").fit(X).to_dict())
    assert np.allclose(back.transform(X), s)
    with pytest.raises(ConfigError, match="unknown scaling 'log'"):
        datasets.Scaler("log")


def test_split_is_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.arange(100)[:, None]
    a = datasets.split(X, y, 0.2, seed=3)
    b = datasets.split(X, y, 0.2, seed=3)
    assert np.array_equal(a[1], b[1])
    assert np.bincount(a[3]).tolist() == [10, 6, 4]


def test_random_shift_moves_whole_images():
    from synapsenet.datasets.augment import RandomShift, get_augmentation

    rng = np.random.default_rng(0)
    X = np.zeros((50, 36), np.float32)
    X[:, 14] = 1.0  # one lit pixel at (2, 2) of a 6×6 image
    out = RandomShift(6, 6, max_shift=2)(X.copy(), rng)
    assert np.all(out.sum(axis=1) == 1)  # moved within the frame, never lost
    pos = np.argwhere(out.reshape(50, 6, 6))[:, 1:]
    assert np.all(np.abs(pos - 2) <= 2) and len({tuple(p) for p in pos}) > 5
    with pytest.raises(ConfigError, match="needs square images"):
        get_augmentation("shift", 10)
    with pytest.raises(ConfigError, match="unknown augmentation 'rotate'"):
        get_augmentation("rotate", 16)


# -- scaling: values come as stored, the scaling is named, applied explicitly, stored ---------
def test_loaders_return_values_as_stored_and_name_the_scaling_that_suits_them(tmp_path):
    digits = datasets.load("digits")
    assert digits.value_range == (0.0, 16.0) and digits.X.max() == 16.0  # not divided by 16
    assert digits.scale == "16" and digits.scaler is None
    xor = datasets.load("xor")
    assert xor.value_range == (0.0, 1.0) and xor.scale == "none"
    f = tmp_path / "d.csv"
    f.write_text("a,b,label\n-3,10,x\n5,20,y\n1,15,x\n")
    ds = datasets.load(f"csv:{f}")
    assert ds.value_range == (-3.0, 20.0) and ds.scale == "standard"


def test_mnist_pixels_are_0_to_255_and_say_so(mnist_dir):
    ds = datasets.load("mnist", data_dir=mnist_dir)
    assert ds.X.dtype == np.uint8 and ds.value_range == (0.0, 255.0) and ds.scale == "255"
    s = ds.scaled()
    assert s.X.dtype == np.float32 and s.X.max() == 1.0 and s.X_test.max() == 1.0
    assert s.scaler.kind == "255" and s.scale == "none"


def test_scaled_keeps_the_fitted_scaler_to_store_with_a_model():
    s = datasets.load("digits").scaled()
    assert s.value_range == (0.0, 1.0)
    stored = s.scaler.to_dict()
    assert stored["kind"] == "16" and stored["input_range"] == [0.0, 16.0]
    back = datasets.Scaler.from_dict(stored)
    raw = datasets.load("digits").X[:5]
    assert np.array_equal(back.transform(raw), s.X[:5])  # raw inputs, scaled as in training


def test_scaler_warns_when_inputs_are_far_from_the_training_range():
    raw = datasets.load("digits").X
    scaler = datasets.Scaler("16").fit(raw)
    assert scaler.range_warning(raw[:10]) is None
    assert "span 0…255 but the model was trained on raw inputs in 0…16" in \
        scaler.range_warning(raw[:10] * 255 / 16)  # 8-bit pixels
    assert "span 0…1" in scaler.range_warning(raw[:10] / 16)  # scaled twice
    two_d = datasets.Scaler("standard").fit(datasets.load("moons").X)
    assert two_d.range_warning(np.array([[0.5, 0.5]])) is None  # one sample: no alarm
    assert datasets.Scaler("none").range_warning(raw) is None  # not fitted: nothing to say


def test_models_saved_before_explicit_scaling_keep_theirs():
    """A digits model saved with scaling 'none' saw pixels ÷16 (the old loader did that)."""
    from synapsenet.datasets.preprocessing import model_scaler

    old = {"dataset": "digits", "preprocessing": {"kind": "none", "offset": [0.0] * 64,
                                                  "scale": [1.0] * 64}}
    assert model_scaler(old, 64).kind == "16"
    new = {"dataset": "digits", "preprocessing": {**old["preprocessing"],
                                                  "input_range": [0.0, 1.0]}}
    assert model_scaler(new, 64).kind == "none"  # chosen explicitly, after the change
    assert model_scaler({}, 3).transform(np.ones((1, 3))).tolist() == [[1.0, 1.0, 1.0]]
