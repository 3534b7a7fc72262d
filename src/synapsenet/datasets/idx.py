"""The IDX format of MNIST and Fashion-MNIST (LeCun et al.), gzip-compressed or raw, and
``idx:DIR``: any four IDX files with MNIST's names (EMNIST, KMNIST, a subset of MNIST…).

Layout (big-endian): two zero bytes, a type code (0x08 = unsigned byte), the number of
dimensions, then one uint32 per dimension, then the data in row-major order.

Files are read as a stream: the header's declared size is checked against the data memory
limit (:mod:`.limits`) before anything is allocated, and the body must hold exactly that many
bytes (a truncated or over-long body is refused), so a small gzip file that inflates to
gigabytes is refused from its header.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .limits import check_size

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32",
               0x0D: "float32", 0x0E: "float64"}

# The four files of a set, as MNIST names them: training images and labels, then the test set.
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _header(head: bytes, source: str, more) -> tuple[int, tuple[int, ...]]:
    """(type code, dims) from the first bytes; ``more(n)`` reads n further bytes."""
    if len(head) < 4:
        raise DataError(f"{source}: too short to be an IDX file ({len(head)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", head[:4])
    if zero != 0 or code not in _TYPES or not 1 <= ndim <= 4:
        raise DataError(f"{source}: wrong magic number 0x{head[:4].hex()} (expected "
                        "0x0000 then a type code and 1–4 dimensions, e.g. 0x00000803)")
    dims_bytes = more(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DataError(f"{source}: truncated in the header")
    return code, struct.unpack(f">{ndim}I", dims_bytes)


def _declared(code, dims, source) -> int:
    nbytes = int(np.prod(dims, dtype=object)) * np.dtype(_TYPES[code]).itemsize
    check_size(nbytes, f"{source}: the header declares dims {dims} of {_TYPE_NAMES[code]}")
    return nbytes


def _mismatch(source, dims, expected, found, at_least=False) -> DataError:
    what = "truncated" if found < expected else "longer than its header says"
    return DataError(f"{source}: {what}: header promises dims {dims} = {expected} bytes of "
                     f"data, found {'at least ' if at_least else ''}{found}")


def read_idx_bytes(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes; every structural fault raises DataError naming ``source``."""
    code, dims = _header(data[:4], source, lambda n: data[4:4 + n])
    header = 4 + 4 * len(dims)
    expected = _declared(code, dims, source)
    if len(data) - header != expected:
        raise _mismatch(source, dims, expected, len(data) - header)
    return np.frombuffer(data, dtype=_TYPES[code], offset=header).reshape(dims)


def _read_stream(fh, source: str) -> np.ndarray:
    code, dims = _header(fh.read(4), source, fh.read)
    expected = _declared(code, dims, source)
    body = np.empty(expected, np.uint8)
    view, got = memoryview(body), 0
    while got < expected:
        n = fh.readinto(view[got:])
        if not n:
            raise _mismatch(source, dims, expected, got)
        got += n
    extra, cap = 0, 1 << 26  # count what follows, up to 64 MB: enough to say by how much
    while extra < cap and (chunk := fh.read(1 << 20)):
        extra += len(chunk)
    if extra:
        raise _mismatch(source, dims, expected, expected + extra, at_least=extra >= cap)
    return body.view(_TYPES[code]).reshape(dims)


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``, detected by content) or raw."""
    path = Path(path)
    source = repr(str(path))
    try:
        with open(path, "rb") as raw:
            if raw.read(2) == b"\x1f\x8b":
                raw.seek(0)
                try:
                    with gzip.GzipFile(fileobj=raw) as fh:
                        return _read_stream(fh, source)
                except (OSError, EOFError, zlib.error) as e:
                    raise DataError(f"{source}: damaged gzip data ({e})") from None
            raw.seek(0)
            return _read_stream(raw, source)
    except IsADirectoryError:
        raise DataError(f"{source} is a folder, not an IDX file") from None
    except OSError as e:
        raise DataError(f"cannot read {source}: {e.strerror or e}") from None


def read_idx_pair(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, rows, cols) uint8 and labels (N,) uint8, checked to agree: the types the
    file names promise (``ubyte``), three and one dimensions, at least one image, and as many
    labels as images."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    for path, a, dims in ((images_path, images, "3-D image data (N, rows, cols)"),
                          (labels_path, labels, "1-D labels (N,)")):
        if a.dtype != np.uint8:
            raise DataError(f"{str(path)!r}: holds {a.dtype.name} data, but IDX files named "
                            "…-ubyte hold unsigned bytes (type code 0x08)")
        if a.ndim != (3 if a is images else 1):
            raise DataError(f"{str(path)!r}: expected {dims}, got dims {a.shape}")
    if 0 in images.shape:
        raise DataError(f"{str(images_path)!r}: holds no images (dims {images.shape})")
    if len(images) != len(labels):
        raise DataError(f"{str(images_path)!r} has {len(images)} images but "
                        f"{str(labels_path)!r} has {len(labels)} labels")
    return images, labels


def find_files(folder) -> dict[str, Path]:
    """The four files in ``folder``, each as ``NAME.gz`` or ``NAME``; DataError naming the
    missing ones."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DataError(f"idx:{folder}: {str(folder)!r} {what}; idx:DIR names a folder holding "
                        f"the four IDX files {', '.join(FILES)} (each raw or .gz)")
    found, missing = {}, []
    for f in FILES:
        cand = next((p for p in (folder / f"{f}.gz", folder / f) if p.is_file()), None)
        if cand is None:
            missing.append(f)
        else:
            found[f] = cand
    if missing:
        raise DataError(f"idx:{folder}: {str(folder)!r} has no {' and no '.join(missing)} "
                        f"(looked for NAME.gz and NAME); idx:DIR needs all four of "
                        f"{', '.join(FILES)}")
    return found


def load_idx_dir(folder):
    """``idx:DIR``: the four IDX files in ``folder`` (MNIST's names, raw or gzip), fully
    validated: magic and types, dimensions, counts matching between images and labels and the
    same image shape in training and test sets, at least two classes, test labels among the
    training labels, truncated or over-long bodies, declared sizes within the memory limit.

    Labels are class numbers; like CSV labels they are encoded as 0…k−1 in sorted order, and
    ``class_names[i]`` is the number of class i (EMNIST letters 1–26 become 26 classes).
    Returns (X_train, y_train, X_test, y_test, class_names): images flattened to rows of
    uint8 pixels, labels int64.
    """
    paths = find_files(folder)
    tr_img, tr_lab, te_img, te_lab = (paths[f] for f in FILES)
    Xtr, ytr = read_idx_pair(tr_img, tr_lab)
    Xte, yte = read_idx_pair(te_img, te_lab)
    if Xtr.shape[1:] != Xte.shape[1:]:
        raise DataError(f"{str(te_img)!r}: test images are {'×'.join(map(str, Xte.shape[1:]))} "
                        f"but the training images in {str(tr_img)!r} are "
                        f"{'×'.join(map(str, Xtr.shape[1:]))}")
    classes = np.unique(ytr)
    if len(classes) < 2:
        raise DataError(f"{str(tr_lab)!r}: all {len(ytr)} training labels are {classes[0]}: one "
                        "class; a classification needs at least two")
    unknown = ~np.isin(yte, classes)
    if unknown.any():
        i = int(np.argmax(unknown))
        raise DataError(f"{str(te_lab)!r}: label {yte[i]} (test sample {i}) is not among the "
                        f"training labels of {str(tr_lab)!r} "
                        f"({', '.join(map(str, classes.tolist()))})")
    encode = np.zeros(256, np.int64)
    encode[classes] = np.arange(len(classes))
    return (Xtr.reshape(len(Xtr), -1), encode[ytr], Xte.reshape(len(Xte), -1), encode[yte],
            [str(c) for c in classes.tolist()])


__all__ = ["FILES", "read_idx", "read_idx_bytes", "read_idx_pair", "find_files",
           "load_idx_dir"]
