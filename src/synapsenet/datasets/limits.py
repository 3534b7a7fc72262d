"""How much memory one data file may ask for, checked against its declared sizes before
anything is allocated (an .npz or IDX header can promise terabytes in a few bytes)."""

from __future__ import annotations

import os

from ..errors import DataError

ENV = "SYNAPSENET_MAX_DATA_BYTES"
_FALLBACK = 8 << 30  # when the machine does not say how much memory it has


def max_bytes() -> int:
    """The limit: ``$SYNAPSENET_MAX_DATA_BYTES`` if set, else half of the physical memory
    (the loaders also need room for a float copy of the data)."""
    env = os.environ.get(ENV)
    if env:
        try:
            limit = int(float(env))
        except ValueError:
            limit = 0
        if limit <= 0:
            raise DataError(f"{ENV} must be a positive number of bytes, got {env!r}")
        return limit
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return _FALLBACK


def human(n: int) -> str:
    """Bytes in a readable unit: 8.0 GB, 512 kB."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} EB"  # pragma: no cover


def check_size(nbytes: int, what: str) -> None:
    """Refuse ``what`` (e.g. "'d.npz': array 'X' declares shape (…) float64") when its
    declared size is beyond the limit."""
    limit = max_bytes()
    if nbytes > limit:
        why = f"set in {ENV}" if os.environ.get(ENV) else f"half the memory; {ENV} changes it"
        raise DataError(f"{what} = {human(nbytes)}, more than the {human(limit)} a data file "
                        f"may use ({why})")
