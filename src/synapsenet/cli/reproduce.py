"""``synapsenet reproduce neurosim``: NeuroSim V3.0's online-learning benchmark on the simulated
chip, beside the accuracies it publishes (the protocol is :mod:`synapsenet.hardware.reproduce`)."""

from __future__ import annotations

import os

from ..errors import ConfigError
from . import chip, flags, tables, ui
from .tables import neurosim_cost_rows as cost_rows  # noqa: F401  (the cost table's rows)
from .tables import neurosim_rows as rows  # noqa: F401  (the accuracy table's rows)

BENCHMARKS = ("neurosim",)


def add_parser(sub):
    p = sub.add_parser(
        "reproduce", help="reproduce a published benchmark on the simulated chip",
        description="Run MLP+NeuroSim V3.0's benchmark as its code does it (a 400-100-10 "
        "sigmoid network trained in situ on the central 20×20 pixels of MNIST in black and "
        "white, batch 1, 8,000 images an epoch, tested on all 10,000 after every epoch) for "
        "its seven devices and the software baseline; print the accuracies beside the "
        "published ones, with their rank correlation, and plot accuracy per epoch.")
    p.add_argument("benchmark", choices=BENCHMARKS, help="the benchmark: neurosim")
    p.add_argument("--devices", metavar="NAME,…", help="configurations to run (default: all "
                   "seven devices and 'software')")
    p.add_argument("--epochs", type=int, default=125, help="epochs (default 125, NeuroSim's)")
    p.add_argument("--images", type=int, default=8000,
                   help="training images an epoch (default 8000, NeuroSim's)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, images and noise")
    p.add_argument("--jobs", type=int, help="configurations side by side, one process each "
                   "(default: one per core)")
    p.add_argument("--data-dir", help="folder with the MNIST IDX files")
    p.add_argument("--out", metavar="DIR", help="write neurosim.png, neurosim.json and "
                   "neurosim.csv here (default: runs/reproduce-neurosim-TIME)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")


def run(args) -> int:
    from .. import runs

    flags.check_counts(args, "epochs", "images", "jobs")
    try:
        names = chip.neurosim_configurations(args.devices)
    except ConfigError as e:
        raise ConfigError(f"--devices: {e}") from None
    jobs = min(args.jobs or os.cpu_count() or 1, len(names))
    out_dir = runs.new_run_dir(args.out, "reproduce-neurosim", force=True)  # before the run
    con = ui.console()
    con.print(f"NeuroSim V3.0's benchmark: {', '.join(names)}; {args.epochs} epoch(s) of "
              f"{args.images:,} images, {jobs} process(es)")
    with ui.ConfigurationProgress(con, names, args.epochs) as progress:
        result = chip.reproduce_neurosim(names, args.epochs, args.images, args.seed,
                                         args.data_dir, jobs, progress.update)
    tables.show_neurosim(con, result)
    runs.write_reproduction(out_dir, result, args.json)
    con.print(f"wrote {out_dir / 'neurosim.png'}, neurosim.json and neurosim.csv"
              + (f"; {args.json}" if args.json else ""))
    return 0
