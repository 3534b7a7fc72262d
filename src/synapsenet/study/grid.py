"""The grid of a study: axes, their product, and each cell's coordinates and seed.

A study varies several parameters at once; its cells are the product of the axes' values,
each cell repeated over ``seed`` (the replicate number, 0 … n−1). Every cell draws its random
numbers from a seed derived from the study's seed and the cell's coordinates alone — never
from its position in a queue or the worker that runs it — so the same study gives the same
rows on any backend and any number of workers, and a cell keeps its seed when the grid grows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

SEED = "seed"  # the replicate axis: every other coordinate repeated with seeds 0 … n−1
LARGE = 1_000_000  # a grid of more cells is refused unless confirmed (--yes)


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple


@dataclass(frozen=True)
class Cell:
    coords: dict  # axis name → value, the replicate ``seed`` among them
    key: str  # a stable name: the hash of the coordinates (its file in the study folder)
    seed: int  # the cell's own seed, from the study's seed and the coordinates


def parse_values(spec: str, name: str = "the parameter", kind: type = float) -> list:
    """``A..B`` (integers), ``A,B,C`` or ``START:STOP:COUNT`` as a list of numbers; for a
    ``kind`` of str, the comma-separated words. An empty range is a ConfigError."""
    spec = spec.strip()
    if kind is str:
        vals = [v.strip() for v in spec.split(",") if v.strip()]
        if not vals:
            raise ConfigError(f"--vary {name}= has no values (an empty range)")
        return vals
    try:
        if ".." in spec:
            a, b = (int(s) for s in spec.split(".."))
            if b < a:
                raise ConfigError(f"--vary {name}={spec} is an empty range (A..B needs B ≥ A)")
            return list(range(a, b + 1))
        if spec.count(":") == 2:
            a, b, n = spec.split(":")
            if int(n) < 1:
                raise ConfigError(f"--vary {name}={spec} is an empty range (COUNT must be ≥ 1)")
            return [float(v) for v in np.linspace(float(a), float(b), int(n))]
        vals = [float(v) for v in spec.split(",") if v.strip()]
        if not vals:
            raise ConfigError(f"--vary {name}= has no values (an empty range)")
        return [int(v) if v.is_integer() and "." not in spec and "e" not in spec.lower()
                else v for v in vals]
    except ConfigError:
        raise
    except ValueError:
        raise ConfigError(f"--vary values {spec!r} are not understood; use A..B (integers), "
                          "A,B,C or START:STOP:COUNT") from None


def parse_vary(specs, check) -> list[Axis]:
    """The axes of ``--vary NAME=VALUES`` options. ``check(name)`` refuses an unknown name
    (a ConfigError) and returns the name as the study knows it and the values' type."""
    axes, seen = [], set()
    for spec in specs:
        if "=" not in spec:
            raise ConfigError(f"--vary needs NAME=VALUES, e.g. adc_bits=2..8 (got {spec!r})")
        name, values = (s.strip() for s in spec.split("=", 1))
        name, kind = check(name)
        if name in seen:
            raise ConfigError(f"--vary {name} is given twice; give each parameter once")
        seen.add(name)
        vals = parse_values(values, name, kind)
        if len(set(map(_canonical, vals))) < len(vals):
            raise ConfigError(f"--vary {name}={values} repeats a value")
        axes.append(Axis(name, tuple(vals)))
    if not axes:
        raise ConfigError("give at least one --vary NAME=VALUES")
    return axes


def replicates(axes: list[Axis], seeds: int) -> list[Axis]:
    """``axes`` with the replicate axis ``seed`` (0 … seeds−1) unless one is varied."""
    if any(a.name == SEED for a in axes):
        return axes
    if seeds < 1:
        raise ConfigError(f"--seeds must be ≥ 1, got {seeds}")
    return [*axes, Axis(SEED, tuple(range(seeds)))]


class Grid:
    """The product of ``axes`` (the last varies fastest), with the study's ``seed``."""

    def __init__(self, axes: list[Axis], seed: int = 0):
        self.axes, self.seed = tuple(axes), int(seed)
        self._cells = None

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    @property
    def size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    def check_size(self, confirmed: bool, limit: int = LARGE) -> None:
        if self.size > limit and not confirmed:
            shape = " × ".join(f"{len(a.values)} {a.name}" for a in self.axes)
            raise ConfigError(f"the grid has {self.size:,} cells ({shape}), more than "
                              f"{limit:,}; pass --yes to run it")

    def cells(self) -> tuple[Cell, ...]:
        """Every cell, in grid order; named and seeded once (each cell's coordinates hashed
        once, for its key and its seed), however often the study asks."""
        if self._cells is None:
            if self.seed < 0:
                raise ConfigError(f"the study's seed must be ≥ 0, got {self.seed}")
            cells = []
            for values in itertools.product(*(a.values for a in self.axes)):
                coords = dict(zip(self.names, values))
                digest = _hash(coords)
                cells.append(Cell(coords, _key(digest), _seed(self.seed, digest)))
            self._cells = tuple(cells)
        return self._cells


def _canonical(v):
    """A value as the grid names it: 4 and 4.0 are one coordinate."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _words(coords: dict) -> bytes:
    return json.dumps({k: _canonical(v) for k, v in sorted(coords.items())},
                      sort_keys=True, separators=(",", ":")).encode()


def _hash(coords: dict) -> bytes:
    """A SHA-256 of the coordinates, whatever their order (4 and 4.0 alike)."""
    return hashlib.sha256(_words(coords)).digest()


def _key(digest: bytes) -> str:
    return digest.hex()[:16]


def _seed(study_seed: int, digest: bytes) -> int:
    words = np.frombuffer(digest, dtype="<u4").tolist()
    state = np.random.SeedSequence([int(study_seed), *words]).generate_state(1, np.uint64)
    return int(state[0]) >> 2


def cell_seed(study_seed: int, coords: dict) -> int:
    """A seed in [0, 2⁶²) from the study's seed and the coordinates (not their order, nor
    the worker, nor the time): NumPy's SeedSequence over a SHA-256 of the coordinates."""
    if int(study_seed) < 0:
        raise ConfigError(f"the study's seed must be ≥ 0, got {study_seed}")
    return _seed(study_seed, _hash(coords))
