"""The command-line flags commands share: the training options, for ``train`` and ``study``
(one --flag per option of :data:`synapsenet.runs.OPTIONS`, declared once in
``TrainingOptions``), the grid flags of ``study`` and ``sweep``, the held-out data of a saved
model (``cost``, ``sweep``), and the check of counts such as --samples."""

from __future__ import annotations

import argparse

from ..errors import ConfigError

_METAVARS = {"dataset": "NAME", "data_dir": "DIR", "label_column": "COLUMN", "layers": "SIZES",
             "hardware": "PRESET|FILE.toml"}
_OLD_FLAGS = {"weight_noise": ["--train-noise"]}  # earlier names, still understood


def options():
    """The training options, each a --flag of this command (from synapsenet.runs)."""
    from ..runs import OPTIONS

    return OPTIONS


def add_training_flags(parser, skip=()) -> None:
    """A --flag for every training option but those in ``skip``, in the groups data,
    network and training."""
    groups = {g: parser.add_argument_group(g) for g in ("data", "network", "training")}
    for o in options():
        if o.name in skip:
            continue
        flags = ["--" + o.name.replace("_", "-")] + _OLD_FLAGS.get(o.name, [])
        g = groups[o.group]
        if o.type is bool:
            g.add_argument(*flags, action=argparse.BooleanOptionalAction, default=None,
                           help=o.help + ("" if o.default is None else
                                          f" (default: {'yes' if o.default else 'no'})"))
        else:
            metavar = None if o.choices else _METAVARS.get(o.name) or {int: "N", float: "X"}[o.type]
            shown = "" if o.default is None else f" (default: {o.default})"
            g.add_argument(*flags, type=o.type, default=None, choices=o.choices, metavar=metavar,
                           help=o.help + shown)


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


def add_held_out_flags(p, label_column: bool = True) -> None:
    """--dataset, --data-dir (and --label-column): the data a saved model is run on."""
    p.add_argument("--dataset", help="dataset (default: the model's)")
    p.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST IDX files")
    if label_column:
        p.add_argument("--label-column", help="CSV label column")


def check_counts(args, *names: str) -> None:
    """Each of the options ``names`` (as in ``args``) given is a count ≥ 1: a ConfigError
    naming its flag otherwise (-5 samples would drop the last five)."""
    for name in names:
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be ≥ 1, got {v}")
