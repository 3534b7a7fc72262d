"""``synapsenet study``: the same network trained over a grid of training options and chip
presets, each cell a run folder."""

from __future__ import annotations

import json

from . import flags, tables, ui


def add_parser(sub):
    s = sub.add_parser("study", help="train one network over a grid of training options",
                       description="Train the same network at every cell of a grid (the "
                       "product of several --vary over training options such as "
                       "learning_rate, batch_size, epochs, hidden, layers (64/32 for two "
                       "layers), or hardware presets, trained in situ), each cell a run "
                       "folder under --out/cells; write study.csv, study.json and a plot. The "
                       "other options are train's. Re-run with the same --out to resume.")
    s.add_argument("--out", required=True, metavar="DIR", help="the study folder")
    flags.add_grid_flags(s, seeds=1, vary_help="e.g. learning_rate=0.1,0.5,1 batch_size=8,32 "
                         "hardware=epiram,ag-si; repeat for a grid")
    s.add_argument("--config", metavar="FILE.toml", help="read train's options from a file")
    s.add_argument("--plots", action="store_true", help="write each run folder's figures")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    flags.add_training_flags(s, skip=("seed",))  # --seed: the study's


def run(args) -> int:
    from .. import runs
    from ..study import parse_vary, training

    axes = parse_vary(args.vary, training.check_axis)
    flags.check_grid_flags(args, axes)
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
        raise ui.grid_interrupted(args.out) from None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    tables.show_study(result, base["dataset"])
    ui.say_grid_written(args.out, result)
    return 0
