"""``synapsenet study``: the same network trained over a grid of training options and chip
presets, each cell a run folder; and the grid flags it shares with ``sweep``."""

from __future__ import annotations

import json

from ..errors import ConfigError
from . import flags, ui


def add_grid_flags(p, seeds: int, vary_help: str) -> None:
    g = p.add_argument_group("grid and backend")
    g.add_argument("--vary", action="append", required=True, metavar="NAME=VALUES",
                   help=vary_help)
    g.add_argument("--seeds", type=int, help=f"runs per point of the grid (default {seeds})")
    g.add_argument("--seed", type=int, default=0, help="the study's seed, from which every "
                   "cell's own derives (default 0)")
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: processes on this machine; ray: a Ray cluster (default local)")
    g.add_argument("--address", metavar="HOST:PORT", help="join the Ray cluster there "
                   "(default: start one on this machine)")
    g.add_argument("--workers", type=int, metavar="N", help="tasks at once (default: one per "
                   "core, or the Ray cluster's CPUs)")
    g.add_argument("--yes", action="store_true", help="run a grid of over a million cells")
    g.add_argument("--force", action="store_true", help="start afresh in an --out that holds "
                   "another study (its cells and summary are removed)")


def check_grid_flags(args, axes) -> None:
    if args.seeds is not None and any(a.name == "seed" for a in axes):
        raise ConfigError("give --seeds N or --vary seed=…, not both")
    if args.seed < 0:
        raise ConfigError(f"--seed must be ≥ 0, got {args.seed}")


def interrupted(out) -> ui.Interrupted:
    """Ctrl-C during a study: what is kept, and how to go on."""
    if out:
        return ui.Interrupted(f"interrupted; the finished cells are kept in {out}: run the "
                              "same command again to resume")
    return ui.Interrupted("interrupted (with --out DIR a study keeps its finished cells)")


def say_written(out, result) -> None:
    if out and result.get("files"):
        t = result["timing"]
        resumed = f"; {t['cells_resumed']} cells were already there" if t["cells_resumed"] else ""
        print(f"wrote {out}/{result['files'][0]}, {', '.join(result['files'][1:])} and "
              f"{result['cells']} cells in {out}/cells{resumed}")


def add_parser(sub):
    s = sub.add_parser("study", help="train one network over a grid of training options",
                       description="Train the same network at every cell of a grid (the "
                       "product of several --vary over training options such as "
                       "learning_rate, batch_size, epochs, hidden, layers (64/32 for two "
                       "layers), or hardware presets, trained in situ), each cell a run "
                       "folder under --out/cells; write study.csv, study.json and a plot. The "
                       "other options are train's. Re-run with the same --out to resume.")
    s.add_argument("--out", required=True, metavar="DIR", help="the study folder")
    add_grid_flags(s, seeds=1, vary_help="e.g. learning_rate=0.1,0.5,1 batch_size=8,32 "
                   "hardware=epiram,ag-si; repeat for a grid")
    s.add_argument("--config", metavar="FILE.toml", help="read train's options from a file")
    s.add_argument("--plots", action="store_true", help="write each run folder's figures")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    flags.add_training_flags(s, skip=("seed",))  # --seed: the study's


def run(args) -> int:
    from .. import runs
    from ..study import parse_vary, training

    axes = parse_vary(args.vary, training.check_axis)
    check_grid_flags(args, axes)
    given = {o.name: getattr(args, o.name, None) for o in runs.OPTIONS
             if getattr(args, o.name, None) is not None}
    given["seed"] = args.seed
    base, _ = runs.resolve_options(given, config=args.config)
    try:
        with ui.TaskProgress(ui.console(stderr=True), "cells", quiet=args.json) as bar:
            result = training.study(base, axes, out=args.out, seeds=args.seeds or 1,
                                    backend=args.backend, workers=args.workers,
                                    address=args.address, confirmed=args.yes,
                                    plots=args.plots, progress=bar.update,
                                    force=args.force)
    except KeyboardInterrupt:
        raise interrupted(args.out) from None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    names = result["parameters"]  # none: the seeds alone vary
    ui.table((*names, "runs", "test accuracy", "± std", "min", "max"),
             [(*(str(s[n]) for n in names), str(s["n"]), ui.percent(s["mean"]),
               "" if s["std"] is None else f"{100 * s['std']:.2f}", ui.percent(s["min"]),
               ui.percent(s["max"])) for s in result["summary"]],
             justify="right", title=f"{base['dataset']}: test accuracy over "
             f"{' × '.join(names or ['seed'])}")
    say_written(args.out, result)
    return 0
