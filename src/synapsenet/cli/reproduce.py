"""``synapsenet reproduce neurosim``: NeuroSim V3.0's online-learning benchmark on the simulated
chip, beside the accuracies it publishes (the protocol is :mod:`synapsenet.hardware.reproduce`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import ConfigError
from . import chip, ui

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

    for flag, v in (("--epochs", args.epochs), ("--images", args.images),
                    ("--jobs", 1 if args.jobs is None else args.jobs)):
        if v < 1:
            raise ConfigError(f"{flag} must be ≥ 1, got {v}")
    try:
        names = chip.neurosim_configurations(args.devices)
    except ConfigError as e:
        raise ConfigError(f"--devices: {e}") from None
    jobs = min(args.jobs or os.cpu_count() or 1, len(names))
    out_dir = runs.new_run_dir(args.out, "reproduce-neurosim", force=True)  # before the run
    con = ui.console()
    con.print(f"NeuroSim V3.0's benchmark: {', '.join(names)}; {args.epochs} epoch(s) of "
              f"{args.images:,} images, {jobs} process(es)")
    with _Progress(con, names, args.epochs) as progress:
        result = chip.reproduce_neurosim(names, args.epochs, args.images, args.seed,
                                         args.data_dir, jobs, progress.update)
    _print(con, result)
    _write(out_dir, result, args.json)
    con.print(f"wrote {out_dir / 'neurosim.png'}, neurosim.json and neurosim.csv"
              + (f"; {args.json}" if args.json else ""))
    return 0


def rows(result) -> list[tuple]:
    """The table's rows: configuration, our accuracy (the mean of the last epochs, and after
    the last), NeuroSim's, the difference, the tier and whether it is met."""
    out = []
    for name, rec in result["devices"].items():
        ours, theirs = rec["final"], rec["published"]
        tier = result["tiers"].get(name)
        out.append((name, ui.percent(ours), ui.percent(rec["accuracy"][-1]),
                    f"~{100 * theirs:.0f}%", f"{100 * (ours - theirs):+.1f}",
                    tier["tier"] if tier else "",
                    ("yes" if tier["ok"] else "no") if tier else ""))
    return out


def _print(con, result):
    p = result["protocol"]
    k = min(result["plateau_epochs"], p["epochs"])
    ui.table(("", "ours", "last epoch", "NeuroSim", "Δ points", "tier", "in tier"),
             rows(result), out=con, justify="right",
             title=f"MNIST test accuracy, {p['network']}, {p['epochs']} epoch(s) of "
             f"{p['images_per_epoch']:,} images"
             + (f" (ours: the mean of the last {k})" if k > 1 else ""))
    placed = [t["ok"] for t in result["tiers"].values()]
    line = f"{sum(placed)}/{len(placed)} devices in NeuroSim's tiers" if placed else ""
    if "spearman" in result:
        line += f"; Spearman's rank correlation with the published accuracies " \
                f"{result['spearman']:.2f}"
    _print_cost(con, result)
    minutes, seconds = divmod(round(result["seconds"]), 60)
    con.print(f"{line}{'; ' if line else ''}{minutes}:{seconds:02d} on {result['jobs']} "
              "process(es)")


def cost_rows(result) -> list[tuple]:
    """The cost table's rows: per metered device, ours for the run (energy, latency, the
    writes' share of it), the full protocol's (scaled where the run was shorter) beside
    Table II's, and the ratios ours/theirs."""
    si, out = ui.si, []
    for name, c in result["cost"]["devices"].items():
        r = result["devices"][name]
        pair = lambda ours, theirs, unit: f"{si(ours, unit)} / {si(theirs, unit)}"  # noqa: E731
        out.append((name, si(r["energy_j"], "J"), si(r["latency_s"], "s"),
                    f"{r['write_latency_s'] / r['latency_s']:.0%}" if r["latency_s"] else "",
                    pair(r["full_neurosim_terms_energy_j"], c["published_energy_j"], "J"),
                    f"×{c['energy_ratio']:.2g}",
                    pair(r["full_latency_s"], c["published_latency_s"], "s"),
                    f"×{c['latency_ratio']:.2g}",
                    f"{r['area_m2'] * 1e12:,.0f} / {c['published_area_m2'] * 1e12:,.0f}",
                    f"×{c['area_ratio']:.2g}", "yes" if c["within"] else "no"))
    return out


def _print_cost(con, result):
    c = result["cost"]
    if not c["devices"]:
        return
    scale = result["devices"][next(iter(c["devices"]))]["full_run_scale"]
    ui.table(("", "energy", "latency", "writes", "energy†: ours / Table II", "",
              "latency: ours / Table II", "", "area µm²: ours / Table II", "",
              f"within ×{c['factor']:g}"), cost_rows(result), out=con, justify="right",
             title="What training cost on the chip, for the run (read + write, 45 nm "
             "periphery)" + (f"; beside Table II, the full protocol: ×{scale:,.4g} this run"
                             if scale != 1 else ""))
    con.print(f"† the terms NeuroSim models too (arrays, lines, drivers, ADCs, adders, write "
              f"pulses). {c['within']}/{len(c['devices'])} devices within ×{c['factor']:g} of "
              "Table II on both energy and latency; docs/hardware.md says what differs")


def _write(out_dir: Path, result, json_file):
    from ..files import atomic_write_text
    from ..plots import plot_reproduction
    from ..runs import write_json

    write_json(out_dir / "neurosim.json", result)
    if json_file:
        write_json(json_file, result)
    names = list(result["devices"])
    n = max(len(r["accuracy"]) for r in result["devices"].values())
    lines = ["epoch," + ",".join(names)] + [
        f"{e + 1}," + ",".join(f"{r['accuracy'][e]:.4f}" if e < len(r["accuracy"]) else ""
                               for r in result["devices"].values()) for e in range(n)]
    atomic_write_text(out_dir / "neurosim.csv", "\n".join(lines) + "\n")
    plot_reproduction(result["devices"], out_dir / "neurosim.png",
                      title="NeuroSim V3.0's benchmark on synapsenet's chip (dashed: published)")


class _Progress:
    """One bar per configuration (epochs done, the last accuracy); where the output is not a
    terminal, a line per configuration every fifth of the run instead."""

    def __init__(self, con, names, epochs):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.con, self.epochs, self.t0 = con, epochs, time.perf_counter()
        self.every = max(1, epochs // 5)
        self.progress = None
        if con.is_terminal:
            self.progress = Progress(TextColumn("{task.description:>10}"),
                                     BarColumn(bar_width=30), MofNCompleteColumn(),
                                     TextColumn("{task.fields[acc]}"), console=con)
            self.tasks = {n: self.progress.add_task(n, total=epochs, acc="") for n in names}

    def __enter__(self):
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc) if self.progress is not None else None

    def update(self, name, epoch, accuracy):
        if self.progress is not None:
            self.progress.update(self.tasks[name], completed=epoch, acc=ui.percent(accuracy))
        elif epoch % self.every == 0 or epoch == self.epochs:
            minutes, seconds = divmod(round(time.perf_counter() - self.t0), 60)
            self.con.print(f"{name}: epoch {epoch}/{self.epochs}, {ui.percent(accuracy)} "
                           f"({minutes}:{seconds:02d})")
