"""Tabular data from files: CSV (features plus a label column) and NumPy .npz archives.

Class labels are whole numbers (any integers: 0/1, -1/1, 3/7) or names ("cat", "dog"). They are
encoded as 0…k−1 in sorted order (numbers numerically) and ``class_names[i]`` keeps the label
of class i. Anything else is refused with the line (CSV) or index (npz) where it is: a fraction
such as 1.5, NaN or infinity, an empty label, numbers mixed with names; and so are sets that
cannot be a classification: fewer than two samples, a single class, or a label per sample.

Features are numbers; missing values, NaN and infinity are refused, naming line and column.
The arrays of an .npz archive are checked against their declared shapes and types (read from
the .npy headers inside the zip) before anything is allocated, so a few bytes declaring
terabytes are refused instead of exhausting memory (see :mod:`.limits`).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from ..errors import DataError
from .limits import check_size

HOW_LABELS = ("labels are read from the last column unless another is named, by name or "
              "index: --label-column on the command line, label_column= in Python")


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _check_classes(y: np.ndarray, classes: list, source: str, hint: str) -> None:
    """A classification needs two samples, two classes, and some class with two samples."""
    n, k = len(y), len(classes)
    if n < 2:
        raise DataError(f"{source}: only {n} sample; a classification needs at least two "
                        "samples, of at least two classes")
    if k == 1:
        raise DataError(f"{source}: all {n} samples have the label {classes[0]!r}: one class; "
                        f"a classification needs at least two ({hint})")
    if k == n:
        raise DataError(f"{source}: each of the {n} samples has a label of its own "
                        f"({classes[0]!r}, {classes[1]!r}, …): no class has two samples to "
                        f"learn from and test on. Is the label column an ID or a measurement? "
                        f"({hint})")


def encode_labels(raw, source: str, where=None, hint: str = "labels are the array y"):
    """Map class labels to 0…k−1: returns (labels int64, class_names).

    ``raw`` is a sequence of label strings (a CSV column) or a 1-D array; ``where(i)`` names
    sample i in messages (default ``y[i]``) and ``hint`` says where labels come from.
    Numbers must be whole (1.5, NaN and infinity are refused); strings are names, unless all
    of them are numbers. Empty labels and numbers mixed with names are refused, and so are
    sets of fewer than two samples, one class, or a class per sample.
    """
    where = where or (lambda i: f"y[{i}]")
    raw = np.asarray(raw)
    if raw.size == 0:
        raise DataError(f"{source}: no samples")
    if raw.dtype.kind == "S":
        raw = np.char.decode(raw, "utf-8", "replace")
    if raw.dtype.kind in "OU":
        text = [str(v).strip() for v in raw.tolist()]
        empty = next((i for i, s in enumerate(text) if not s), None)
        if empty is not None:
            raise DataError(f"{source} {where(empty)}: empty label; every sample needs a class "
                            f"label, a whole number or a name ({hint})")
        numeric = [_is_number(s) for s in text]
        if any(numeric) and not all(numeric):
            i = numeric.index(not numeric[0])
            kinds = ("a number", "a name") if numeric[0] else ("a name", "a number")
            raise DataError(f"{source} {where(i)}: label {text[i]!r} is {kinds[1]} but "
                            f"{where(0)}'s label {text[0]!r} is {kinds[0]}; class labels are "
                            "either all whole numbers or all names")
        if not all(numeric):
            classes, y = np.unique(np.array(text), return_inverse=True)
            y = y.astype(np.int64)
            _check_classes(y, classes.tolist(), source, hint)
            return y, classes.tolist()
        values = np.array([float(s) for s in text])
        shown = text
    elif raw.dtype.kind in "biuf":
        values, shown = raw, None
    else:
        raise DataError(f"{source}: labels of type {raw.dtype} are not accepted; class labels "
                        "are whole numbers or names (strings)")
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.floor(values)) | (np.abs(values) > 2.0 ** 53)
        if bad.any():
            i = int(np.argmax(bad))
            v = shown[i] if shown is not None else values[i].item()
            why = "is not a whole number" if np.isfinite(values[i]) else "is not finite"
            raise DataError(f"{source} {where(i)}: label {v!r} {why}; class labels must be "
                            f"whole numbers or names ({hint})")
        values = values.astype(np.int64)
    classes, y = np.unique(values, return_inverse=True)
    names = [str(c) for c in classes.tolist()]
    y = y.astype(np.int64)
    _check_classes(y, names, source, hint)
    return y, names


# -- CSV ------------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    """The file as text (UTF-8, with or without a byte-order mark); a byte that is not UTF-8
    is reported with its line."""
    src = repr(str(path))
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{src} is a folder, not a CSV file") from None
    except OSError as e:
        raise DataError(f"cannot read {src}: {e.strerror or e}") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(f"{src} is UTF-16 text; CSV files are read as UTF-8: save it as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{src} line {line}: byte 0x{data[e.start]:02x} is not UTF-8 text; CSV "
                        "files are read as UTF-8 (save it as UTF-8; is it a CSV file?)") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise DataError(f"{src} line {text.count(chr(10), 0, nul) + 1}: a NUL byte; this is a "
                        "binary file, not CSV text")
    return text


def _read_table(path: Path):
    """Non-empty CSV rows as (line number, fields), and the header if the first row is one
    (it has non-numeric fields where the next row has numbers, or only non-numeric ones)."""
    src = repr(str(path))
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), strict=True)
    rows, start = [], 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{src} line {start}: not valid CSV ({e}; a quoted field must end "
                        "with a quote followed by a comma or the end of the line)") from None
    numbered = [(line, r) for line, r in rows if r and any(f.strip() for f in r)]
    if not numbered:
        raise DataError(f"{src} is empty")
    first = numbered[0][1]
    second = numbered[1][1] if len(numbered) > 1 else None
    non_numeric = [j for j, f in enumerate(first) if not _is_number(f)]
    header = None
    if non_numeric and (len(non_numeric) == len(first) or second is None or
                        any(j < len(second) and _is_number(second[j]) for j in non_numeric)):
        header = [f.strip() for f in first]
        numbered = numbered[1:]
    if not numbered:
        raise DataError(f"{src} has a header but no data rows")
    if header is not None and len(header) != len(numbered[0][1]):
        raise DataError(f"{src}: the header has {len(header)} names but line "
                        f"{numbered[0][0]} has {len(numbered[0][1])} fields")
    return numbered, header


def _parse_numbers(path: Path, numbered, columns, header, width, label=None) -> np.ndarray:
    """The given columns as float64, naming line and column of any bad or non-finite value."""
    src = repr(str(path))
    X = np.empty((len(numbered), len(columns)))
    for r, (line, row) in enumerate(numbered):
        if len(row) != width:
            raise DataError(f"{src} line {line}: {len(row)} fields, expected {width}")
        for k, j in enumerate(columns):
            try:
                X[r, k] = float(row[j])
            except ValueError:
                col = f"{header[j]!r} ({j + 1})" if header else str(j + 1)
                what = ("is empty (a missing value)" if not row[j].strip() else
                        f"{row[j]!r} is not a number")
                where = f"; the labels are {label}" if label else ""
                raise DataError(f"{src} line {line}, column {col}: {what}; feature columns "
                                f"must hold numbers{where}") from None
    if not np.isfinite(X).all():
        r, k = np.argwhere(~np.isfinite(X))[0]
        j = columns[k]
        col = f"{header[j]!r} ({j + 1})" if header else str(j + 1)
        raise DataError(f"{src} line {numbered[r][0]}, column {col}: {X[r, k]} (NaN or "
                        "infinity); features must be finite numbers")
    return X


def _label_index(src: str, label_column, header, width) -> int:
    if label_column is None:
        return width - 1
    if isinstance(label_column, str) and not label_column.strip().lstrip("-").isdigit():
        if header is None or label_column not in header:
            have = f"its columns are {', '.join(header)}" if header else "it has no header row"
            raise DataError(f"{src}: no label column named {label_column!r}; {have}")
        if header.count(label_column) > 1:
            raise DataError(f"{src}: {header.count(label_column)} columns are named "
                            f"{label_column!r}; name the label column by its index instead")
        return header.index(label_column)
    lc = int(label_column)
    if not -width <= lc < width:
        raise DataError(f"{src}: label column {lc} is out of range for {width} columns "
                        f"(0…{width - 1}, or negative from the end)")
    return lc % width


def load_csv(path, label_column=None):
    """Read a CSV file (UTF-8): numeric feature columns and one label column (name or
    index; default the last). A first row with non-numeric fields is taken as a header.

    Returns (X float64 (N, F), y int64 (N,), class_names); see the module docstring for the
    labels accepted and the files refused.
    """
    path = Path(path)
    src = repr(str(path))
    numbered, header = _read_table(path)
    width = len(numbered[0][1])
    if width < 2:
        raise DataError(f"{src} needs at least one feature column and a label column; it has "
                        f"{width} column")
    lc = _label_index(src, label_column, header, width)
    if label_column is None:
        col = "the last column"
        hint = HOW_LABELS
    else:
        col = f"column {header[lc]!r} ({lc + 1})" if header else f"column {lc + 1}"
        hint = f"labels are read from {col}, as label_column says"
    X = _parse_numbers(path, numbered, [j for j in range(width) if j != lc], header, width,
                       label=f"in {col}")
    lines = [line for line, _ in numbered]
    y, classes = encode_labels([row[lc] for _, row in numbered], src,
                               where=lambda i: f"line {lines[i]}", hint=hint)
    return X, y, classes


# -- NPZ ------------------------------------------------------------------------------------
_NPZ_KEYS = (("X", "y"), ("x", "y"), ("data", "target"), ("features", "labels"))


def _npy_header(fh):
    version = npy_format.read_magic(fh)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(fh)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(fh)
    return npy_format._read_array_header(fh, version)  # 3.0 (UTF-8 field names): no public API


def _npz_headers(path: Path) -> dict:
    """{array name: (shape, dtype)} of an .npz archive, from the .npy headers in the zip:
    nothing but the headers is decompressed."""
    src = repr(str(path))
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except IsADirectoryError:
        raise DataError(f"{src} is a folder, not an .npz file") from None
    except OSError as e:
        raise DataError(f"cannot read {src}: {e.strerror or e}") from None
    if magic == b"\x93NUMPY":
        raise DataError(f"{src} is a single .npy array, not an .npz archive of named arrays; "
                        "save features and labels with np.savez(path, X=X, y=y)")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{src} is not an .npz archive (a zip of .npy arrays, as np.savez "
                        "writes it)")
    out, name = {}, None
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                name = info.filename[:-4]
                with zf.open(info) as fh:
                    shape, _fortran, dtype = _npy_header(fh)
                out[name] = (tuple(shape), np.dtype(dtype))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
            NotImplementedError) as e:
        what = f"array {name!r}" if name else "the archive"
        huge = re.search(r"Header info length \((\d+)\)", str(e))
        if huge:  # NumPy's own limit on header text: its advice (allow_pickle) is not ours
            raise DataError(f"{src}: {what} has a .npy header of {int(huge[1]):,} bytes, more "
                            "than NumPy reads safely (10,000); np.save writes a few hundred"
                            ) from None
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{src}: {what} is damaged or not a NumPy array ({first})") from None
    return out


def _load_npz_arrays(path: Path, names) -> dict:
    """Check the declared types and sizes of ``names``, then load them."""
    src = repr(str(path))
    headers = _npz_headers(path)
    total = 0
    for name in names:
        shape, dtype = headers[name]
        if dtype.hasobject or dtype.names or dtype.kind not in "biufUS":
            raise DataError(f"{src}: array {name!r} holds {dtype} values; accepted are real "
                            "numbers (and strings for labels), not objects, records or complex")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        check_size(nbytes, f"{src}: array {name!r} declares shape {shape} {dtype}")
        total += nbytes
    if len(names) > 1:
        check_size(total, f"{src}: arrays {', '.join(map(repr, names))} declare together")
    out, current = {}, None
    try:
        with np.load(path, allow_pickle=False) as npz:
            for current in names:
                out[current] = npz[current]
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
        what = f"array {current!r}" if current else "the archive"
        raise DataError(f"{src}: {what} is truncated or damaged ({e})") from None
    return out


def _check_features(X: np.ndarray, src: str, name: str) -> np.ndarray:
    """X as float64 (N, F): numbers, 2-D, non-empty, finite."""
    if X.dtype.kind not in "biuf":
        raise DataError(f"{src}: array {name!r} holds {X.dtype} values; features must be "
                        "numbers (integer, float or bool)")
    if X.ndim != 2:
        advice = ("store one row per sample, shape (N, n_features); X.reshape(-1, 1) for a "
                  "single feature" if X.ndim == 1 else
                  "expected 2-D, one row per sample: flatten images with X.reshape(len(X), -1)")
        raise DataError(f"{src}: array {name!r} has {X.ndim} dimensions {X.shape}; {advice}")
    if 0 in X.shape:
        raise DataError(f"{src}: array {name!r} has shape {X.shape}: no "
                        f"{'samples' if X.shape[0] == 0 else 'features'}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{src}: {name}[{r}, {c}] is {X[r, c]}; features must be finite "
                        "numbers")
    return X.astype(np.float64)


def load_features(path) -> np.ndarray:
    """Inputs without labels, for prediction: every column of a CSV file (optional header),
    or the array X (or x, data, features) of a .npz archive. Returns float64 (N, F)."""
    path = Path(path)
    if path.suffix != ".npz":
        numbered, header = _read_table(path)
        width = len(numbered[0][1])
        return _parse_numbers(path, numbered, list(range(width)), header, width)
    src = repr(str(path))
    headers = _npz_headers(path)
    key = next((k for k, _ in _NPZ_KEYS if k in headers), None)
    if key is None:
        raise DataError(f"{src} has arrays {sorted(headers)}; expected the inputs in an array "
                        "named X (or x, data, features)")
    return _check_features(_load_npz_arrays(path, [key])[key], src, key)


def load_npz(path):
    """Read features and labels from a .npz archive with keys X/y (or x/y, data/target,
    features/labels). X is 2-D (samples × features) of numbers; y holds one class label per
    sample, 1-D or (N, 1). Returns (X float64, y int64, class_names)."""
    path = Path(path)
    src = repr(str(path))
    headers = _npz_headers(path)
    pair = next(((kx, ky) for kx, ky in _NPZ_KEYS if kx in headers and ky in headers), None)
    if pair is None:
        raise DataError(f"{src} has arrays {sorted(headers)}; expected a feature array and a "
                        "label array named X and y (or x/y, data/target, features/labels)")
    kx, ky = pair
    arrays = _load_npz_arrays(path, [kx, ky])
    X = _check_features(arrays[kx], src, kx)
    raw = arrays[ky]
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        advice = ("one-hot or multi-label; store one class label per sample (y.argmax(axis=1) "
                  "for one-hot)" if raw.ndim == 2 else "expected 1-D, one label per sample")
        raise DataError(f"{src}: array {ky!r} has shape {raw.shape}: {advice}")
    if len(X) != len(raw):
        raise DataError(f"{src}: {kx!r} has {len(X)} rows but {ky!r} has {len(raw)} labels; "
                        "every sample needs exactly one label")
    y, classes = encode_labels(raw, src, where=lambda i: f"{ky}[{i}]",
                               hint=f"labels are the array {ky!r}")
    return X, y, classes


__all__ = ["load_csv", "load_npz", "load_features", "encode_labels"]
