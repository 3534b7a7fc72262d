"""A trained network on simulated chips, over a grid of hardware parameters, presets
(``hardware``), drift times (``time``, seconds since programming) and seeds."""

from __future__ import annotations

import hashlib

import numpy as np

from . import SEED, Grid, replicates, run_grid

TIME, HARDWARE = "time", "hardware"


def check_axis(name: str):
    """(name, value type) of a sweep parameter; an unknown one is a ConfigError."""
    from ..hardware.config import resolve_parameter

    if name == TIME:
        return name, float
    if name == HARDWARE:
        return name, str
    if name == SEED:
        return name, int
    resolve_parameter(name)
    return name, float


def sweep(net, X, y, hardware, axes, *, seeds=3, seed=0, out=None, backend="local",
          workers=None, address=None, confirmed=False, progress=None, info=None,
          title="", force=False) -> dict:
    """Accuracy of ``net`` on the chip ``hardware`` (a HardwareConfig) for inputs X (scaled)
    and labels y, at every cell of the product of ``axes`` × ``seeds`` replicates."""
    from ..cost import load_hardware

    grid = Grid(replicates(axes, seeds), seed)
    grid.check_size(confirmed)
    presets = {}
    for axis in grid.axes:  # every value checked before any cell runs
        if axis.name == HARDWARE:
            presets = {v: load_hardware(v)[0].to_dict() for v in axis.values}
        elif axis.name not in (TIME, SEED):
            for v in axis.values:
                hardware.replace(**{axis.name: v})
    shared = {"net": net, "X": X, "y": y, "hardware": hardware.to_dict(), "presets": presets}
    fixed = {"model": _digest(*net.get_weights()), "data": _digest(X, y),
             "hardware": hardware.name, "hardware_config": _digest(repr(hardware.to_dict())),
             "samples": len(X)}
    return run_grid("sweep", grid, infer, shared,
                    lambda c: {"coords": c.coords, "seed": c.seed}, fixed, metric="accuracy",
                    out=out, name="sweep", title=title, backend=backend, workers=workers,
                    address=address, progress=progress, info=info, force=force)


def infer(shared, task) -> dict:
    """One cell: the network deployed on its chip (seeded by the cell), drifted to its time,
    scored on the held-out inputs."""
    from ..hardware import deploy
    from ..hardware.config import HardwareConfig

    coords = task["coords"]
    base = shared["presets"][coords[HARDWARE]] if HARDWARE in coords else shared["hardware"]
    cfg = HardwareConfig.from_dict(base)
    params = {k: v for k, v in coords.items() if k not in (TIME, HARDWARE, SEED)}
    if params:
        cfg = cfg.replace(**params)
    chip = deploy(shared["net"], cfg, seed=task["seed"])
    if TIME in coords:
        chip.substrate.drift(float(coords[TIME]))
    accuracy = float(np.mean(chip.classify(shared["X"]) == shared["y"]))
    return {"row": {**coords, "cell_seed": task["seed"], "accuracy": accuracy}}


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(np.ascontiguousarray(p).tobytes() if not isinstance(p, str) else p.encode())
    return h.hexdigest()[:16]
