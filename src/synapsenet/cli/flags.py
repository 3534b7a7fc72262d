"""The training options as command-line flags, for ``train`` and ``study``: one --flag per
option of :data:`synapsenet.runs.OPTIONS` (declared once in ``TrainingOptions``)."""

from __future__ import annotations

import argparse

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
