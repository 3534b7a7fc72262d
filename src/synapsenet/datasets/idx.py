"""The IDX format of MNIST and Fashion-MNIST (LeCun et al.), gzip-compressed or raw.

Layout (big-endian): two zero bytes, a type code (0x08 = unsigned byte), the number of
dimensions, then one uint32 per dimension, then the data in row-major order.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx_bytes(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes; every structural fault raises DataError naming ``source``."""
    if len(data) < 4:
        raise DataError(f"{source}: too short to be an IDX file ({len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _TYPES or not 1 <= ndim <= 4:
        raise DataError(f"{source}: wrong magic number 0x{data[:4].hex()} (expected "
                        "0x0000 then a type code and 1–4 dimensions, e.g. 0x00000803)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated in the header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_TYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    body = len(data) - header
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise DataError(f"{source}: {what}: header promises dims {dims} = {expected} bytes of "
                        f"data, found {body}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``, detected by content) or raw."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{str(path)!r}: damaged gzip data ({e})") from None
    return read_idx_bytes(raw, str(path))


def read_idx_pair(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, rows, cols) uint8 and labels (N,) uint8, checked to agree."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{str(images_path)!r}: expected 3-D image data, got dims {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{str(labels_path)!r}: expected 1-D labels, got dims {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{str(images_path)!r} has {len(images)} images but "
                        f"{str(labels_path)!r} has {len(labels)} labels")
    return images, labels
