"""Bad input the data loaders refuse, and why: one list per format, readable as a table.

Each case writes a small file, loads it as a user would, and checks that the DataError says
what was wrong, where it is (file, line, array), and what is accepted.
"""

import io
import zipfile

import numpy as np
import pytest
from conftest import synapsenet
from numpy.lib import format as npy_format

from synapsenet import DataError, datasets
from synapsenet.errors import ConfigError

# -- CSV: features are numbers, labels are whole numbers or names -----------------------------
CSV_REFUSED = [
    # (why it is refused, file contents, options, what the message must say)
    ("a label 1.5 is not a class",
     "x,y,label\n1,2,0\n3,4,1.5\n5,6,1\n", {},
     r"line 3: label '1\.5' is not a whole number; class labels must be whole numbers or "
     r"names \(labels are read from the last column"),
    ("only measurements, no label column (it would be a class per value)",
     "0.31,1.20,0.55\n0.12,0.98,0.47\n0.44,1.31,0.58\n0.27,1.02,0.51\n", {},
     r"line 1: label '0\.55' is not a whole number.*read from the last column unless"),
    ("a label column chosen by name that holds fractions",
     "w,h,label\n1.5,2,0\n2.5,3,1\n", {"label_column": "w"},
     r"line 2: label '1\.5' is not a whole number.*column 'w' \(1\), as label_column says"),
    ("a NaN label", "x,label\n1,0\n2,nan\n3,1\n", {}, r"line 3: label 'nan' is not finite"),
    ("an empty label", "x,label\n1,0\n2,\n3,1\n", {}, r"line 3: empty label"),
    ("numbers mixed with names", "x,label\n1,0\n2,cat\n3,1\n4,1\n", {},
     r"line 3: label 'cat' is a name but line 2's label '0' is a number"),
    ("a single row", "x,label\n1,0\n", {}, r"only 1 sample; a classification needs at least two"),
    ("one class", "x,label\n1,7\n2,7\n3,7\n", {},
     r"all 3 samples have the label '7': one class"),
    ("a label per sample (an ID column)", "x,id\n1,101\n2,102\n3,103\n", {},
     r"each of the 3 samples has a label of its own \('101', '102', …\)"),
    ("a byte that is not UTF-8", b"x,label\n1,0\n2,1\n3,\xff\n", {},
     r"line 4: byte 0xff is not UTF-8 text"),
    ("UTF-16 text", "x,label\n1,0\n".encode("utf-16"), {}, r"is UTF-16 text.*save it as UTF-8"),
    ("a binary file", b"x,label\n1,0\n\x00\x01\x02\n", {}, r"line 3: a NUL byte; this is a binary"),
    ("an unclosed quote", 'x,label\n1,0\n2,"1\n3,1\n', {}, r"line 3: not valid CSV"),
    ("a missing feature value", "x,y,label\n1,,0\n2,3,1\n", {},
     r"line 2, column 'y' \(2\): is empty \(a missing value\)"),
    ("a feature that is not a number", "x,label\n1,0\ntwo,1\n", {},
     r"line 3, column 'x' \(1\): 'two' is not a number; feature columns must hold numbers; "
     r"the labels are in the last column"),
    ("an infinite feature", "x,label\n1,0\ninf,1\n", {}, r"line 3, column 'x' \(1\): inf"),
    ("a NaN feature", "x,y,label\n1,nan,0\n2,3,1\n", {},
     r"line 2, column 'y' \(2\): nan \(NaN or infinity\); features must be finite"),
    ("a ragged row", "a,b\n1,2\n3\n", {}, r"line 3: 1 fields, expected 2"),
    ("a header longer than the rows", "a,b,c\n1,2\n3,4\n", {},
     r"the header has 3 names but line 2 has 2 fields"),
    ("no feature column", "label\n0\n1\n", {}, r"needs at least one feature column"),
    ("an ambiguous label column name", "a,a,b\n1,2,0\n3,4,1\n", {"label_column": "a"},
     r"2 columns are named 'a'; name the label column by its index"),
    ("an unknown label column", "a,b\n1,2\n", {"label_column": "c"},
     r"no label column named 'c'; its columns are a, b"),
    ("a label column out of range", "1,2\n3,4\n", {"label_column": "7"},
     r"label column 7 is out of range for 2 columns"),
    ("an empty file", "", {}, r"is empty"),
    ("a header and no rows", "a,b\n", {}, r"header but no data rows"),
]


@pytest.mark.parametrize("contents,options,message",
                         [pytest.param(*c[1:], id=c[0]) for c in CSV_REFUSED])
def test_csv_refuses(tmp_path, contents, options, message):
    f = tmp_path / "data.csv"
    f.write_bytes(contents if isinstance(contents, bytes) else contents.encode())
    with pytest.raises(DataError, match=message) as err:
        datasets.load(f"csv:{f}", label_column=options.get("label_column"))
    assert str(f) in str(err.value)


CSV_ACCEPTED = [
    # (what is accepted, file contents, class names, labels)
    ("whole numbers, sorted numerically", "x,l\n1,10\n2,9\n3,10\n4,9\n", ["9", "10"],
     [1, 0, 1, 0]),
    ("whole numbers written as floats", "x,l\n1,1.0\n2,0.0\n3,1\n", ["0", "1"], [1, 0, 1]),
    ("negative labels are names like any other", "x,l\n1,-1\n2,1\n3,-1\n", ["-1", "1"],
     [0, 1, 0]),
    ("names, stripped and kept", "x,l\n1, cat\n2,dog \n3,cat\n", ["cat", "dog"], [0, 1, 0]),
    ("a byte-order mark", "\ufeffx,l\n1,a\n2,b\n3,a\n", ["a", "b"], [0, 1, 0]),
]


@pytest.mark.parametrize("contents,names,labels",
                         [pytest.param(*c[1:], id=c[0]) for c in CSV_ACCEPTED])
def test_csv_accepts(tmp_path, contents, names, labels):
    f = tmp_path / "data.csv"
    f.write_text(contents, encoding="utf-8")
    ds = datasets.load(f"csv:{f}")
    assert ds.class_names == names and ds.y.tolist() == labels


# -- NPZ: X is 2-D numbers, y one label per row; sizes checked before anything is allocated --
def _npz_declaring(path, shape, dtype="<f8", name="X"):
    """An .npz whose array ``name`` declares ``shape`` but holds no data: a few bytes."""
    hdr = io.BytesIO()
    npy_format.write_array_header_1_0(hdr, {"descr": dtype, "fortran_order": False,
                                            "shape": shape})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}.npy", hdr.getvalue())
        zf.writestr("y.npy", _npy_bytes(np.zeros(3, np.int64)))


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _savez(**arrays):
    return lambda path: np.savez(path, **arrays)


def _bomb(path):
    """8 MB of zeros that compress to a few kB: refused by size, not by MemoryError."""
    np.savez_compressed(path, X=np.zeros((1000, 1000)), y=np.zeros(1000, np.int64))


def _huge_header(path):
    """A .npy header of 200 kB (NumPy reads at most 10 kB of header text)."""
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }"
    head = b"\x93NUMPY\x02\x00" + (200_000).to_bytes(4, "little") + text.ljust(199_999) + b"\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("X.npy", head)
        zf.writestr("y.npy", _npy_bytes(np.zeros(3, np.int64)))


def _not_zip(path):
    path.write_bytes(b"this is not a zip file")


def _single_npy(path):
    path.write_bytes(_npy_bytes(np.eye(3)))


def _truncated(path):
    np.savez(path, X=np.eye(40), y=np.arange(40) % 2)
    data = path.read_bytes()
    with zipfile.ZipFile(path, "w") as zf:  # a member whose data stops short of its header
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            zf.writestr("X.npy", src.read("X.npy")[:300])
            zf.writestr("y.npy", src.read("y.npy"))


TWO = np.array([0, 1])
NPZ_REFUSED = [
    # (why it is refused, how the file is made, what the message must say)
    ("a header declaring terabytes", lambda p: _npz_declaring(p, (10 ** 6, 10 ** 6)),
     r"array 'X' declares shape \(1000000, 1000000\) float64 = 8\.0 TB, more than the"),
    ("a decompression bomb", _bomb, r"array 'X' declares shape \(1000, 1000\) float64 = 8\.0 MB"),
    ("a header of 200 kB", _huge_header,
     r"array 'X' has a \.npy header of 200,000 bytes, more than NumPy reads safely"),
    ("a truncated array", _truncated, r"array 'X' is truncated or damaged"),
    ("not a zip file", _not_zip, r"is not an \.npz archive"),
    ("a single .npy array", _single_npy, r"is a single \.npy array.*np\.savez\(path, X=X, y=y\)"),
    ("no X/y arrays", _savez(features=np.eye(2)), r"has arrays \['features'\]; expected a feature"),
    ("Python objects", lambda p: _npz_declaring(p, (3, 2), "|O"), r"array 'X' holds object"),
    ("complex numbers", _savez(X=np.eye(2) * 1j, y=TWO), r"array 'X' holds complex128"),
    ("strings as features", _savez(X=np.array([["a"], ["b"]]), y=TWO), r"'X' holds <U1 values"),
    ("3-D images", _savez(X=np.zeros((4, 2, 2)), y=np.arange(4) % 2),
     r"'X' has 3 dimensions \(4, 2, 2\); expected 2-D.*X\.reshape\(len\(X\), -1\)"),
    ("1-D features", _savez(X=np.arange(4.0), y=np.arange(4) % 2),
     r"'X' has 1 dimensions \(4,\); store one row per sample"),
    ("no features", _savez(X=np.zeros((4, 0)), y=np.arange(4) % 2),
     r"'X' has shape \(4, 0\): no features"),
    ("no samples", _savez(X=np.zeros((0, 3)), y=np.zeros(0, int)),
     r"'X' has shape \(0, 3\): no samples"),
    ("NaN in X", _savez(X=np.array([[0.0, 1], [np.nan, 2], [1, 1]]), y=np.array([0, 1, 0])),
     r"X\[1, 0\] is nan; features must be finite"),
    ("more rows than labels", _savez(X=np.eye(4), y=np.array([0, 1, 0])),
     r"'X' has 4 rows but 'y' has 3 labels"),
    ("one-hot labels", _savez(X=np.eye(3), y=np.eye(3)),
     r"'y' has shape \(3, 3\): one-hot.*y\.argmax\(axis=1\)"),
    ("a label 1.5", _savez(X=np.eye(3), y=np.array([0.0, 1.5, 1.0])),
     r"y\[1\]: label 1\.5 is not a whole number"),
    ("a NaN label", _savez(X=np.eye(3), y=np.array([0.0, np.nan, 1.0])),
     r"y\[1\]: label .*nan.* is not finite"),
    ("one class", _savez(X=np.eye(3), y=np.zeros(3, int)), r"all 3 samples have the label '0'"),
    ("a single sample", _savez(X=np.eye(1), y=np.zeros(1, int)), r"only 1 sample"),
]


@pytest.mark.parametrize("make,message", [pytest.param(*c[1:], id=c[0]) for c in NPZ_REFUSED])
def test_npz_refuses(tmp_path, monkeypatch, make, message):
    monkeypatch.setenv("SYNAPSENET_MAX_DATA_BYTES", "1000000")  # 1 MB: the bomb is 8 MB
    f = tmp_path / "data.npz"
    make(f)
    with pytest.raises(DataError, match=message) as err:
        datasets.load(f"npz:{f}")
    assert str(f) in str(err.value)


def test_npz_size_is_checked_before_loading(tmp_path, monkeypatch):
    """The declared size is refused from the header alone: np.load is never reached."""
    f = tmp_path / "huge.npz"
    _npz_declaring(f, (2 ** 40, 2 ** 20))
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load was called"))
    with pytest.raises(DataError, match=r"\(1099511627776, 1048576\) float64 = 9223\.4 PB"):
        datasets.load_npz(f)


def test_npz_accepts_column_labels_and_strings(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, X=np.eye(4, dtype=np.uint8), y=np.array([["b"], ["a"], ["b"], ["a"]]))
    ds = datasets.load(f"npz:{f}")
    assert ds.class_names == ["a", "b"] and ds.y.tolist() == [1, 0, 1, 0]
    assert ds.X.dtype == np.float64


def test_features_for_predict_are_checked_the_same_way(tmp_path, monkeypatch):
    from synapsenet.datasets.files import load_features

    monkeypatch.setenv("SYNAPSENET_MAX_DATA_BYTES", "1000000")
    f = tmp_path / "in.npz"
    _bomb(f)
    with pytest.raises(DataError, match=r"array 'X' declares shape \(1000, 1000\)"):
        load_features(f)
    np.savez(f, X=np.zeros((2, 2, 2)))
    with pytest.raises(DataError, match=r"'X' has 3 dimensions"):
        load_features(f)


# -- splits: both parts need samples, and a stratified split one of each class on each side --
SPLIT_REFUSED = [
    # (why it is refused, labels, fraction set aside, what the message must say)
    ("one sample", [0], 0.2, r"1 sample cannot be split 0\.8 : 0\.2: it leaves 0 to keep and 1"),
    ("a fraction that takes everything", [0, 1, 0, 1], 0.9,
     r"4 samples cannot be split 0\.1 : 0\.9: it leaves 0 to keep and 4 to set aside"),
    ("fewer test samples than classes", [0, 0, 1, 1, 2, 2, 3, 3, 4, 4], 0.2,
     r"10 samples of 5 classes cannot be split 0\.8 : 0\.2 with every class on both sides: "
     r"8 kept and 2 set aside, and each part needs at least 5"),
]


@pytest.mark.parametrize("labels,fraction,message",
                         [pytest.param(*c[1:], id=c[0]) for c in SPLIT_REFUSED])
def test_split_refuses(labels, fraction, message):
    y = np.array(labels)
    with pytest.raises(DataError, match=message):
        datasets.split(np.zeros((len(y), 1)), y, fraction)


def test_split_sets_aside_the_stated_number():
    y = np.array([0, 1] * 5 + [2])  # class 2 has one sample: not stratified
    _, part, _, y_part = datasets.split(np.arange(11)[:, None], y, 0.2, seed=0)
    assert len(part) == len(y_part) == 3


# -- idx:DIR: any four IDX files with MNIST's names, each fault named with its file ----------
def _idx(dims, body=None, code=0x08):
    """IDX bytes: magic, dims, body (default: zeros of the declared size)."""
    head = bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    if body is None:
        size = int(np.prod(dims)) * {0x08: 1, 0x0B: 2}[code]
        body = bytes(size)
    return head + (body if isinstance(body, bytes) else np.asarray(body, np.uint8).tobytes())


GOOD = {  # 6 training images of 2×3 pixels, labels 0–2; 3 test images
    "train-images-idx3-ubyte": _idx((6, 2, 3), range(36)),
    "train-labels-idx1-ubyte": _idx((6,), [0, 1, 2, 0, 1, 2]),
    "t10k-images-idx3-ubyte": _idx((3, 2, 3), range(18)),
    "t10k-labels-idx1-ubyte": _idx((3,), [2, 1, 0]),
}


def _write_idx_set(folder, gz=("train-images-idx3-ubyte",), **replace):
    """The four files, some gzip-compressed; ``replace`` swaps one file's bytes (None: left out)."""
    import gzip

    folder.mkdir(exist_ok=True)
    for name, data in GOOD.items():
        data = replace.get(name.replace("-", "_"), data)
        if data is None:
            continue
        if name in gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


IDX_REFUSED = [
    # (why it is refused, the file it concerns, its replacement bytes, what the message says)
    ("a file missing", "t10k_labels_idx1_ubyte", None,
     r"has no t10k-labels-idx1-ubyte \(looked for NAME\.gz and NAME\)"),
    ("wrong magic", "train_labels_idx1_ubyte", b"\x01\x02\x08\x01" + bytes(10),
     r"train-labels-idx1-ubyte': wrong magic number 0x01020801"),
    ("an empty file", "t10k_images_idx3_ubyte", b"", r"t10k-images-idx3-ubyte': too short"),
    ("labels of type int16", "train_labels_idx1_ubyte", _idx((6,), None, 0x0B),
     r"train-labels-idx1-ubyte': holds int16 data, but IDX files named …-ubyte hold unsigned"),
    ("images with two dimensions", "t10k_images_idx3_ubyte", _idx((3, 6)),
     r"t10k-images-idx3-ubyte': expected 3-D image data \(N, rows, cols\), got dims \(3, 6\)"),
    ("labels with two dimensions", "train_labels_idx1_ubyte", _idx((6, 1)),
     r"train-labels-idx1-ubyte': expected 1-D labels"),
    ("no images", "train_images_idx3_ubyte", _idx((0, 2, 3)), r"holds no images"),
    ("fewer labels than images", "train_labels_idx1_ubyte", _idx((5,), [0, 1, 2, 0, 1]),
     r"train-images-idx3-ubyte.gz' has 6 images but .*train-labels-idx1-ubyte' has 5 labels"),
    ("test images of another shape", "t10k_images_idx3_ubyte", _idx((3, 3, 2)),
     r"t10k-images-idx3-ubyte': test images are 3×2 but the training images .* are 2×3"),
    ("a test label the training set lacks", "t10k_labels_idx1_ubyte", _idx((3,), [2, 7, 0]),
     r"t10k-labels-idx1-ubyte': label 7 \(test sample 1\) is not among the training labels"),
    ("one class", "train_labels_idx1_ubyte", _idx((6,), [4] * 6),
     r"train-labels-idx1-ubyte': all 6 training labels are 4: one class"),
    ("a truncated body", "t10k_images_idx3_ubyte", _idx((3, 2, 3), range(17)),
     r"t10k-images-idx3-ubyte': truncated: header promises dims \(3, 2, 3\) = 18 bytes of "
     r"data, found 17"),
    ("an over-long body", "t10k_labels_idx1_ubyte", _idx((3,), [2, 1, 0, 0]),
     r"t10k-labels-idx1-ubyte': longer than its header says: .* = 3 bytes of data, found 4"),
    ("a truncated gzip file", "train_images_idx3_ubyte", "truncated-gzip",
     r"train-images-idx3-ubyte.gz': damaged gzip data"),
    ("a header declaring more than memory", "train_images_idx3_ubyte",
     _idx((60000, 100000, 100000), b""),
     r"train-images-idx3-ubyte.gz': the header declares dims \(60000, 100000, 100000\) of "
     r"unsigned byte = 600\.0 TB, more than the"),
]


@pytest.mark.parametrize("which,data,message",
                         [pytest.param(*c[1:], id=c[0]) for c in IDX_REFUSED])
def test_idx_dir_refuses(tmp_path, which, data, message):
    folder = _write_idx_set(tmp_path / "mine", **{which: data if data != "truncated-gzip"
                                                   else GOOD["train-images-idx3-ubyte"]})
    if data == "truncated-gzip":
        f = folder / "train-images-idx3-ubyte.gz"
        f.write_bytes(f.read_bytes()[:-12])
    with pytest.raises(DataError, match=message):
        datasets.load(f"idx:{folder}")


def test_idx_dir_is_not_a_folder(tmp_path):
    with pytest.raises(DataError, match=r"idx:.*nowhere' does not exist; idx:DIR names a folder"):
        datasets.load(f"idx:{tmp_path / 'nowhere'}")


def test_idx_gzip_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    """40 MB of zeros compressed to a few kB: refused before it is inflated."""
    import gzip

    monkeypatch.setenv("SYNAPSENET_MAX_DATA_BYTES", "1000000")
    f = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(f, "wb") as out:
        out.write(_idx((50000, 28, 28), b""))
        out.write(bytes(50000 * 784))
    assert f.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"declares dims \(50000, 28, 28\) .* = 39\.2 MB, more "
                                        r"than the 1\.0 MB a data file may use \(set in"):
        datasets.idx.read_idx(f)


def test_idx_dir_loads_a_set_of_ones_own(tmp_path):
    """EMNIST-style labels 1–3 become classes 0–2, named by their numbers."""
    folder = _write_idx_set(tmp_path / "mine", train_labels_idx1_ubyte=_idx((6,), [1, 2, 3] * 2),
                            t10k_labels_idx1_ubyte=_idx((3,), [3, 2, 1]))
    ds = datasets.load(f"idx:{folder}")
    assert ds.X.shape == (6, 6) and ds.X.dtype == np.uint8 and ds.X_test.shape == (3, 6)
    assert ds.class_names == ["1", "2", "3"] and ds.y.tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.y_test.tolist() == [2, 1, 0] and ds.n_classes == 3
    assert ds.X[0].tolist() == list(range(6))


# -- mnist / fashion-mnist: the same file names, told apart by checksum -----------------------
def _link_set(src, dest):
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        (dest / f.name).symlink_to(f)
    return dest


def test_fashion_is_not_read_from_an_mnist_folder(tmp_path, mnist_dir, monkeypatch):
    from synapsenet.datasets import mnist

    monkeypatch.setenv("SYNAPSENET_MIRRORS", "http://127.0.0.1:9/")  # nothing may download
    with pytest.raises(DataError) as err:
        datasets.load("fashion-mnist", data_dir=mnist_dir)
    msg = str(err.value)
    assert f"{mnist_dir} holds the mnist files (recognised by their checksums), not " \
           "fashion-mnist's" in msg and "Delete" not in msg and "could not download" not in msg
    if (mnist_dir.parent / "fashion-mnist").is_dir():  # the shared folder's layout
        assert f"(the folder {mnist_dir.parent / 'fashion-mnist'} beside it has files of the " \
               f"same names: --data-dir {mnist_dir.parent} would look there first)" in msg
    assert mnist.find("fashion-mnist", mnist_dir) is None  # what `synapsenet datasets` shows
    assert not (mnist.cache_dir() / "fashion-mnist").exists()


def test_a_sets_own_subfolder_comes_first(tmp_path, mnist_dir, fashion_dir):
    """MNIST's files directly in the folder, Fashion-MNIST's in its fashion-mnist/ sub-folder."""
    top = _link_set(mnist_dir, tmp_path / "data")
    _link_set(fashion_dir, top / "fashion-mnist")
    assert datasets.load("fashion-mnist", data_dir=top).class_names[0] == "T-shirt/top"
    assert datasets.load("mnist", data_dir=top).class_names[0] == "0"


def test_another_sets_file_among_the_files_is_named_not_condemned(tmp_path, mnist_dir,
                                                                  fashion_dir):
    folder = _link_set(fashion_dir, tmp_path / "data" / "fashion-mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").symlink_to(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match=r"is the published mnist file t10k-labels-idx1-ubyte, "
                                        r"not fashion-mnist's") as err:
        datasets.load("fashion-mnist", data_dir=tmp_path / "data")
    assert "Delete" not in str(err.value)


def test_a_damaged_file_of_ones_own_is_not_to_be_deleted(tmp_path, mnist_dir):
    import gzip

    folder = _link_set(mnist_dir, tmp_path / "mine")
    f = folder / "t10k-labels-idx1-ubyte.gz"
    data = gzip.decompress(f.read_bytes())
    f.unlink()
    f.write_bytes(gzip.compress(data[:-1] + b"\x07"))
    with pytest.raises(DataError, match=r"does not match the published mnist file .*Replace it "
                                        r"with the published file; .* use idx:") as err:
        datasets.load("mnist", data_dir=folder)
    assert "Delete" not in str(err.value)


def test_a_damaged_file_in_the_cache_may_be_deleted(mnist_dir):
    from synapsenet.datasets import mnist

    folder = mnist.cache_dir() / "mnist"
    _link_set(mnist_dir, folder)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    with pytest.raises(DataError, match="Delete it and load again to re-download"):
        datasets.load("mnist")


def test_download_keeps_another_sets_file_in_its_folder(mnist_dir, monkeypatch):
    from synapsenet.datasets import mnist

    monkeypatch.setenv("SYNAPSENET_MIRRORS", "http://127.0.0.1:9/")
    folder = mnist.cache_dir() / "fashion-mnist"
    folder.mkdir(parents=True)
    f = folder / "train-images-idx3-ubyte.gz"
    f.symlink_to(mnist_dir / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="is the published mnist file train-images-idx3-ubyte"):
        datasets.load("fashion-mnist")
    assert f.exists()  # not deleted to make room for a download


# -- options of the built-in sets, and a model's stored scaling -------------------------------
OPTIONS_REFUSED = [
    # (why it is refused, dataset, options, error type, what the message must say)
    ("no samples", "moons", {"n_samples": 0}, ConfigError, r"n_samples must be a whole number ≥ 8"),
    ("negative samples", "spiral", {"n_samples": -5}, ConfigError, r"got -5"),
    ("fractional samples", "circles", {"n_samples": 20.5}, ConfigError, r"got 20\.5"),
    ("negative noise", "spiral", {"noise": -0.1}, ConfigError, r"noise must be a finite number"),
    ("NaN noise", "gaussians", {"noise": float("nan")}, ConfigError, r"got nan"),
    ("csv: without a path", "csv:", {}, ConfigError, r"'csv:' needs a path after the colon"),
    ("idx: without a folder", "idx:", {}, ConfigError, r"'idx:' needs a path.*idx:DIR"),
    ("a label column for a set that has none", "digits", {"label_column": "7"}, ConfigError,
     r"dataset 'digits' has no label column to choose: a label column is for CSV files"),
]


@pytest.mark.parametrize("name,options,error,message",
                         [pytest.param(*c[1:], id=c[0]) for c in OPTIONS_REFUSED])
def test_options_refused(name, options, error, message):
    with pytest.raises(error, match=message):
        datasets.load(name, **options)


def test_a_plain_path_is_read_by_its_suffix(tmp_path):
    folder = tmp_path / "a:b"  # a colon in the path is not a dataset kind
    folder.mkdir()
    f = folder / "D.CSV"
    f.write_text("x,label\n1,0\n2,1\n3,0\n")
    assert datasets.load(str(f)).y.tolist() == [0, 1, 0]


def test_two_d_sets_have_the_samples_asked_for():
    assert len(datasets.load("spiral", n_samples=100).X) == 100  # was 99: 3 arms of 33
    assert set(datasets.load("gaussians", n_samples=8).y.tolist()) == {0, 1, 2, 3}


def test_a_pixel_scaling_is_refused_for_data_beyond_its_full_scale():
    with pytest.raises(DataError, match=r"the '16' scaling is for values 0…16 .* the training "
                                        r"data span 0…255"):
        datasets.Scaler("16").fit(np.array([[0.0, 255.0]]))
    with pytest.raises(DataError, match=r"the '255' scaling .* span -3…2"):
        datasets.Scaler("255").fit(np.array([[-3.0, 2.0]]))


@pytest.mark.parametrize("stored,message", [
    pytest.param("none", r"must be a table with a 'kind'", id="not a table"),
    pytest.param({"kind": "log"}, r"unknown scaling 'log'", id="an unknown kind"),
    pytest.param({"kind": "standard", "offset": [0.0, 1.0], "scale": [1.0]},
                 r"offset and scale must be lists of the same length", id="lengths differ"),
    pytest.param({"kind": "standard", "offset": [0.0], "scale": [0.0]}, r"every scale > 0",
                 id="a zero scale"),
])
def test_a_damaged_stored_scaling_is_refused(stored, message):
    with pytest.raises((DataError, ConfigError), match=message):
        datasets.Scaler.from_dict(stored)


# -- through the installed command: exit 2, one line, no traceback, nothing left behind ------
def _cli(*args):
    return synapsenet(*args, env={"SYNAPSENET_MIRRORS": "http://127.0.0.1:9/"})


def _csv_fraction(tmp_path):
    (tmp_path / "d.csv").write_text("x,y,label\n1,2,0\n3,4,1.5\n5,6,1\n")
    return "csv:" + str(tmp_path / "d.csv"), r"line 3: label '1\.5' is not a whole number"


def _npz_huge(tmp_path):
    _npz_declaring(tmp_path / "d.npz", (10 ** 6, 10 ** 6))
    return "npz:" + str(tmp_path / "d.npz"), r"array 'X' declares shape \(1000000, 1000000\)"


def _idx_bad_magic(tmp_path):
    folder = _write_idx_set(tmp_path / "mine", train_labels_idx1_ubyte=b"\x01\x02\x08\x01")
    return f"idx:{folder}", r"train-labels-idx1-ubyte': wrong magic number"


def _idx_too_few(tmp_path):
    folder = _write_idx_set(tmp_path / "mine", train_labels_idx1_ubyte=_idx((6,), [3] * 6))
    return f"idx:{folder}", r"all 6 training labels are 3: one class"


@pytest.mark.parametrize("make", [_csv_fraction, _npz_huge, _idx_bad_magic, _idx_too_few])
def test_the_command_refuses_bad_data_in_one_line(tmp_path, make):
    import re

    dataset, message = make(tmp_path)
    p = _cli("train", "--dataset", dataset, "--epochs", "1", "--out", tmp_path / "run")
    assert p.returncode == 2, p.stderr
    assert re.search(message, p.stderr) and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_the_command_names_mnist_files_given_for_fashion(tmp_path, mnist_dir):
    p = _cli("train", "--dataset", "fashion-mnist", "--data-dir", mnist_dir, "--epochs", "1",
             "--out", tmp_path / "run")
    assert p.returncode == 2 and "holds the mnist files" in p.stderr
    assert "Delete" not in p.stderr and not (tmp_path / "run").exists()


def test_the_command_trains_on_idx_files_of_ones_own(tmp_path):
    import json

    big = {"train-images-idx3-ubyte": _idx((40, 2, 3), np.arange(240) % 256),
           "train-labels-idx1-ubyte": _idx((40,), [1, 2] * 20),
           "t10k-images-idx3-ubyte": _idx((10, 2, 3), np.arange(60)),
           "t10k-labels-idx1-ubyte": _idx((10,), [2, 1] * 5)}
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, data in big.items():
        (folder / name).write_bytes(data)
    p = _cli("train", "--dataset", f"idx:{folder}", "--layers", "4", "--epochs", "2",
             "--out", tmp_path / "run", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["test_samples"] == 10
    desc = json.loads((tmp_path / "run" / "model.json").read_text())
    assert desc["preprocessing"]["kind"] == "255" and desc["class_names"] == ["1", "2"]
