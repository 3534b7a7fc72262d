"""The same network trained over a grid of training options and chip presets (``hardware``:
training in situ, by device pulses), each cell a run folder.

Every cell trains on the same data (drawn and split with the study's seed, ``data_seed``)
from its own seed (initial weights, shuffling, the chip's noise); the data are prepared once
in the driver and sent to the workers once.
"""

from __future__ import annotations

import difflib
import time

from ..errors import ConfigError
from . import SEED, Grid, replicates, run_grid

# what a study holds fixed: the data set, and the seeds (the study's seed and each cell's)
FIXED = ("dataset", "data_dir", "label_column", "seed", "data_seed")
# the options that change the prepared data: cells that differ in them get data of their own
DATA = ("dataset", "label_column", "scale", "n_samples", "noise", "test_split", "val_split",
        "dtype", "data_seed")
# the hardware axis's value for a cell trained digitally, beside the chips
DIGITAL = "digital"
# a row's columns for what training on the chip cost (the whole run: every epoch it trained,
# validation reads included), in studies where some cell trains on a chip
COST_COLUMNS = {"chip_train_energy_j": "energy_j", "chip_train_latency_s": "latency_s"}
BOOLS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def check_axis(name: str):
    """(option name, value type) of a study parameter: a training option (``learning_rate``
    or ``learning-rate``), or ``seed``, the replicate; a ConfigError otherwise."""
    from ..runs import OPTION_NAMES

    key = name.replace("-", "_")
    if key == SEED:
        return key, int
    if key not in OPTION_NAMES or key in FIXED:
        known = [n for n in OPTION_NAMES if n not in FIXED]
        near = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        what = "a study holds it fixed" if key in FIXED else "unknown training option"
        raise ConfigError(f"--vary '{name}': {what}{hint}; vary one of {', '.join(known)}")
    kind = OPTION_NAMES[key].type
    return key, (str if kind is bool else kind)


def study(base: dict, axes, *, out, seeds=1, backend="local", workers=None, address=None,
          confirmed=False, plots=False, progress=None, data_progress=None,
          force=False) -> dict:
    """Train ``base`` (resolved options, as ``runs.resolve_options`` gives them) at every cell
    of ``axes`` × ``seeds`` replicates; each cell's run folder in ``out``/cells/."""
    from pathlib import Path

    from .. import runs

    grid = Grid(replicates(axes, seeds), base["seed"])
    grid.check_size(confirmed)
    axes = [_typed(a) for a in grid.axes]
    grid = Grid(axes, base["seed"])
    varied = {a.name for a in axes}
    data_seed = runs.data_seed(base)
    configs, data, loaded = {}, {}, {}
    for c in grid.cells():  # every cell checked, and its data prepared, before any runs
        given = {**base, **{k: v for k, v in c.coords.items() if k != SEED},
                 "seed": c.seed, "data_seed": data_seed}
        if given.get("hardware") == DIGITAL:
            given["hardware"] = None
        cfg = _checked(given, c.coords, loaded)
        key = repr(tuple(cfg.get(k) for k in DATA))
        if key not in data:
            data[key] = runs.prepare(cfg, progress=data_progress)
        configs[c.key] = (cfg, key)
    fixed = {k: v for k, v in base.items() if k not in varied and k not in ("data_dir", "seed")}
    out = Path(out)
    # read here, sent with the data: a chip's TOML file need not be on the workers
    chips = {name: {"config": chip.to_dict(), "cost": cost}
             for name, (chip, cost) in loaded.items()}
    # the cost columns in every row (empty in a digital cell's), when some cell is on a chip
    shared = {"data": data, "chips": chips, "plots": plots, "cost": bool(chips)}
    return run_grid("study", grid, train_cell, shared,
                    lambda c: {"cfg": configs[c.key][0], "data": configs[c.key][1],
                               "coords": c.coords, "seed": c.seed, "run": f"cells/{c.key}",
                               "run_dir": str(out / "cells" / c.key)},
                    fixed, metric="test_accuracy", out=out, name="study",
                    title=f"{base['dataset']}: test accuracy", backend=backend,
                    workers=workers, address=address, progress=progress,
                    info={"dataset": base["dataset"]}, force=force,
                    means=tuple(COST_COLUMNS) if chips else ())


def _typed(axis):
    """The axis with its values as the option takes them (words for bools, layer lists)."""
    from ..runs import OPTION_NAMES, coerce

    if axis.name == SEED:
        return axis
    opt = OPTION_NAMES[axis.name]
    values = []
    for v in axis.values:
        if opt.type is bool:
            if str(v).lower() not in BOOLS:
                raise ConfigError(f"--vary '{axis.name}' takes yes or no, got {v!r}")
            v = BOOLS[str(v).lower()]
        elif opt.name == "layers":
            v = v.replace("/", ",")  # 64/32: two hidden layers (a comma separates values)
        elif opt.type is float:
            v = float(v)
        values.append(coerce(opt, v, f"--vary '{axis.name}'"))
    return type(axis)(axis.name, tuple(values))


def _checked(given: dict, coords: dict, chips: dict) -> dict:
    """The cell's resolved options, refused (naming the cell) if ``fit`` would refuse them;
    its chip, read once for all the cells on it, into ``chips`` (``runs.chip_of``)."""
    from .. import runs
    from ..options import TrainingOptions

    try:
        cfg, _ = runs.resolve_options(given)
        TrainingOptions(**runs.fit_options(cfg))
        if cfg.get("hardware"):
            if cfg["hardware"] not in chips:
                chips[cfg["hardware"]] = runs.chip_of(cfg)
            runs.substrate(cfg, chips[cfg["hardware"]][0])
    except ConfigError as e:
        where = ", ".join(f"{k}={v}" for k, v in coords.items() if k != SEED)
        raise ConfigError(f"the cell '{where}': {e}") from None
    return cfg


def train_cell(shared, task) -> dict:
    """One cell: its network trained on the shared data; its run folder's files."""
    import tempfile
    from pathlib import Path

    from .. import runs
    from ..cost import run_training_cost
    from ..hardware.config import HardwareConfig

    cfg, prep = task["cfg"], shared["data"][task["data"]]
    chip = shared["chips"].get(cfg.get("hardware"), {})  # the chip as the driver read it
    config = HardwareConfig.from_dict(chip["config"]) if chip else None
    net = runs.build_network(cfg, prep.dataset.n_features, prep.dataset.n_classes, config)
    optimizer, opts, rng, history, _ = runs.training_state(cfg)
    val = None if prep.X_val is None else (prep.X_val, prep.y_val)
    t0 = time.perf_counter()
    history = net.fit(prep.X_train, prep.y_train, optimizer=optimizer, seed=rng,
                      validation_data=val, augment=runs.augmentation(cfg, prep),
                      history=history, **opts)
    seconds = time.perf_counter() - t0
    # what training on the chip cost, from its counters, before the test pass adds reads
    cost = run_training_cost(net, len(history), chip.get("cost"))
    extra = {"run_dir": task["run_dir"]}
    if cost:
        extra["chip_training_cost"] = cost
    with tempfile.TemporaryDirectory(prefix="synapsenet-cell-") as tmp:
        with runs.RunFolder(Path(tmp) / "run") as folder:
            metrics, _ = runs.save_results(folder, net, prep, history, cfg,
                                           runs.model_metadata(cfg, prep), seconds,
                                           plots=shared["plots"],
                                           extra=extra)
            files = {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()}
    row = {**task["coords"], "cell_seed": task["seed"],
           "test_accuracy": metrics["test_accuracy"], "test_loss": metrics["test_loss"],
           "final_train_loss": metrics["final_train_loss"], "epochs": metrics["epochs"]}
    if shared.get("cost"):
        row.update({k: None if cost is None else cost[v] for k, v in COST_COLUMNS.items()})
    row["run"] = task["run"]
    if metrics.get("val_accuracy") is not None:
        row["val_accuracy"] = metrics["val_accuracy"]
    return {"row": row, "files": files}
