"""``synapsenet sweep``: accuracy on the simulated chip over a grid of its parameters."""

from __future__ import annotations

import json

import numpy as np

from . import chip, flags, ui


def add_parser(sub):
    s = sub.add_parser("sweep", help="accuracy on simulated hardware over a grid of parameters",
                       description="Deploy a trained model on simulated hardware many times, "
                       "over the product of several --vary (any numeric hardware parameter, "
                       "'hardware' for presets, 'time' for drift, 'seed'), each point over "
                       "several seeds, on this machine's cores or a Ray cluster; write a table "
                       "and a plot (a line for one parameter, a heat map for two) with the "
                       "digital accuracy as reference. Re-run with the same --out to resume.")
    s.add_argument("model", help="model file (.safetensors)")
    s.add_argument("--hardware", default="pcm", metavar="PRESET|FILE.toml",
                   help="the chip the parameters vary on (default: pcm)")
    flags.add_held_out_flags(s, label_column=False)
    s.add_argument("--samples", type=int, help="use only the first N held-out samples")
    flags.add_grid_flags(s, seeds=3, vary_help="e.g. adc_bits=2..8, read_noise=0,0.01,0.05, "
                         "time=20,3600,86400, prog_noise=0:0.1:6 (start:stop:count), "
                         "hardware=pcm,rram; repeat for a grid")
    s.add_argument("--out", metavar="DIR", help="write sweep.csv, sweep.json and sweep.png "
                   "here, and each finished cell under DIR/cells (a restart skips them)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    from .. import runs
    from ..study import inference, parse_vary

    axes = parse_vary(args.vary, inference.check_axis)
    flags.check_counts(args, "samples")
    flags.check_grid_flags(args, axes)
    cfg = chip.load_config(args.hardware)
    data = runs.load_held_out(args.model, args.dataset, data_dir=args.data_dir)
    ui.warn(data.warning)
    net, X, y = data.network, data.X[:args.samples], data.y[:args.samples]
    digital = float(np.mean(net.classify(X) == y))
    names = [a.name for a in axes if a.name != "seed"] or ["seed"]
    where = "" if "hardware" in names else f" on '{cfg.name}'"
    title = f"{data.dataset}{where}: accuracy vs {' × '.join(names)}"
    try:
        with ui.TaskProgress(ui.console(stderr=True), "cells", quiet=args.json) as bar:
            result = inference.sweep(
                net, X, y, cfg, axes, seeds=args.seeds or 3, seed=args.seed, out=args.out,
                backend=args.backend, workers=args.workers, address=args.address,
                confirmed=args.yes, progress=bar.update, title=title, force=args.force,
                info={"model": args.model, "hardware": cfg.name, "digital_accuracy": digital,
                      "samples": len(X)})
    except KeyboardInterrupt:
        raise ui.grid_interrupted(args.out) from None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    seeds = result["summary"][0]["n"] if result["summary"] else 0
    names = result["parameters"]  # none: the seeds alone vary
    ui.table((*names, "mean", "± std", "min", "max", "vs digital"),
             [(*(str(s[n]) for n in names), ui.percent(s["mean"]),
               f"{100 * s['std']:.2f}", ui.percent(s["min"]), ui.percent(s["max"]),
               f"{100 * (s['mean'] - digital):+.2f}") for s in result["summary"]],
             justify="right", title=f"{title} ({seeds} chips each; digital "
             f"{ui.percent(digital)})")
    ui.say_grid_written(args.out, result)
    return 0
