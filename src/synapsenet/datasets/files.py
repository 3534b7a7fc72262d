"""Tabular data from files: CSV (features plus a label column) and NumPy .npz archives."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def encode_labels(raw, source: str):
    """Map label values to 0…k−1; returns (labels, class_names) with class_names[i] the
    original value of class i (numeric values sorted numerically)."""
    raw = np.asarray(raw)
    if raw.size == 0:
        raise DataError(f"{source}: no samples")
    if raw.dtype.kind in "OUS" and all(_is_number(str(v)) for v in raw):
        raw = raw.astype(np.float64)
    if raw.dtype.kind == "f":
        if not np.isfinite(raw).all():
            raise DataError(f"{source}: labels contain NaN or infinity")
        if np.all(raw == np.round(raw)):
            raw = raw.astype(np.int64)
    classes, y = np.unique(raw, return_inverse=True)
    return y.astype(np.int64), [str(c) for c in classes.tolist()]


def _read_table(path: Path):
    """Non-empty CSV rows as (line number, fields), and the header if the first row is one
    (it has non-numeric fields where the next row has numbers, or only non-numeric ones)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as e:
        raise DataError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{str(path)!r} is not a readable CSV text file ({e})") from None
    numbered = [(i + 1, r) for i, r in enumerate(rows) if r and any(f.strip() for f in r)]
    if not numbered:
        raise DataError(f"{str(path)!r} is empty")
    first = numbered[0][1]
    second = numbered[1][1] if len(numbered) > 1 else None
    non_numeric = [j for j, f in enumerate(first) if not _is_number(f)]
    header = None
    if non_numeric and (len(non_numeric) == len(first) or second is None or
                        any(j < len(second) and _is_number(second[j]) for j in non_numeric)):
        header = [f.strip() for f in first]
        numbered = numbered[1:]
    if not numbered:
        raise DataError(f"{str(path)!r} has a header but no data rows")
    return numbered, header


def _parse_numbers(path: Path, numbered, columns, header, width) -> np.ndarray:
    """The given columns as float64, naming line and column of any bad or non-finite value."""
    X = np.empty((len(numbered), len(columns)))
    for r, (line, row) in enumerate(numbered):
        if len(row) != width:
            raise DataError(f"{str(path)!r} line {line}: {len(row)} fields, expected {width}")
        for k, j in enumerate(columns):
            try:
                X[r, k] = float(row[j])
            except ValueError:
                col = f"{header[j]!r} ({j + 1})" if header else str(j + 1)
                raise DataError(f"{str(path)!r} line {line}, column {col}: {row[j]!r} is not "
                                "a number") from None
    if not np.isfinite(X).all():
        r, k = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{str(path)!r} line {numbered[r][0]}, column {columns[k] + 1}: "
                        "NaN or infinity")
    return X


def load_csv(path, label_column=None):
    """Read a CSV file: numeric feature columns and one label column (name or index; default
    the last). A first row with non-numeric fields is taken as a header.

    Returns (X float64 (N, F), y int64 (N,), class_names).
    """
    path = Path(path)
    numbered, header = _read_table(path)
    width = len(numbered[0][1])
    if width < 2:
        raise DataError(f"{str(path)!r} needs at least one feature column and a label column")
    if label_column is None:
        lc = width - 1
    elif isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if header is None or label_column not in header:
            have = f"its columns are {', '.join(header)}" if header else "it has no header row"
            raise DataError(f"{str(path)!r}: no label column named {label_column!r}; {have}")
        lc = header.index(label_column)
    else:
        lc = int(label_column)
        if not -width <= lc < width:
            raise DataError(f"{str(path)!r}: label column {lc} is out of range for "
                            f"{width} columns")
        lc %= width
    X = _parse_numbers(path, numbered, [j for j in range(width) if j != lc], header, width)
    y, classes = encode_labels(np.array([row[lc].strip() for _, row in numbered]), str(path))
    return X, y, classes


def load_features(path) -> np.ndarray:
    """Inputs without labels, for prediction: every column of a CSV file (optional header),
    or the array X (or x, data, features) of a .npz archive. Returns float64 (N, F)."""
    path = Path(path)
    if path.suffix != ".npz":
        numbered, header = _read_table(path)
        width = len(numbered[0][1])
        return _parse_numbers(path, numbered, list(range(width)), header, width)
    try:
        with np.load(path, allow_pickle=False) as npz:
            key = next((k for k, _ in _NPZ_KEYS if k in npz.files), None)
            if key is None:
                raise DataError(f"{str(path)!r} has arrays {sorted(npz.files)}; expected the "
                                "inputs in an array named X")
            X = npz[key]
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise DataError(f"cannot read {str(path)!r} as .npz: {e}") from None
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise DataError(f"{str(path)!r}: X must be a 2-D array of finite numbers, got "
                        f"{X.dtype} {X.shape}")
    return X.astype(np.float64)


_NPZ_KEYS = (("X", "y"), ("x", "y"), ("data", "target"), ("features", "labels"))


def load_npz(path):
    """Read features and labels from a .npz archive with keys X/y (or x/y, data/target,
    features/labels). Returns (X, y, class_names)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            for kx, ky in _NPZ_KEYS:
                if kx in keys and ky in keys:
                    X, raw = npz[kx], npz[ky]
                    break
            else:
                raise DataError(f"{str(path)!r} has arrays {sorted(keys)}; expected a feature "
                                "array and a label array named X and y (or data/target)")
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise DataError(f"cannot read {str(path)!r} as .npz: {e}") from None
    if X.ndim != 2 or len(X) != len(raw):
        raise DataError(f"{str(path)!r}: X must be 2-D with one row per label, got X "
                        f"{X.shape} and y {raw.shape}")
    if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise DataError(f"{str(path)!r}: X must hold finite numbers")
    y, classes = encode_labels(raw, str(path))
    return X.astype(np.float64), y, classes
