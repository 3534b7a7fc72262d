"""``synapsenet train``: train a network and write a run folder (see :mod:`synapsenet.runs`)."""

from __future__ import annotations

import contextlib

from ..errors import ConfigError
from . import flags, ui


def add_parser(sub):
    t = sub.add_parser("train", help="train a network and write a run folder",
                       description="Train a network. With no options: a 64-unit sigmoid "
                       "network on scikit-learn's digits, in seconds. Options may also come "
                       "from --config FILE.toml (same names, underscores); the command line "
                       "wins.")
    flags.add_training_flags(t)
    r = t.add_argument_group("run")
    r.add_argument("--config", metavar="FILE.toml", help="read options from a TOML file")
    r.add_argument("--out", metavar="DIR", help="run folder (default: runs/DATASET-TIME)")
    r.add_argument("--force", action="store_true", help="allow writing into a non-empty --out")
    r.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    r.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                   help="save a checkpoint at the end of an epoch once this long has passed "
                   "since the last (0: every epoch), so that a killed run can be resumed "
                   "(default: 60)")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    r.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    r.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def run(args) -> int:
    from .. import runs

    if not args.checkpoint_every >= 0:  # also NaN
        raise ConfigError(f"--checkpoint-every must be ≥ 0 seconds, got {args.checkpoint_every}")
    cli_values = {o.name: getattr(args, o.name) for o in runs.OPTIONS
                  if getattr(args, o.name) is not None}
    with contextlib.ExitStack() as stack:
        folder = None
        if args.resume:  # held before its checkpoint is read: one run continues it
            folder = stack.enter_context(runs.RunFolder(args.resume, resume=True))
        cfg, checkpoint = runs.resolve_options(cli_values, config=args.config, resume=args.resume)
        return _train(args, cfg, checkpoint, folder, stack)


def _train(args, cfg, checkpoint, folder, stack) -> int:
    from .. import cost, runs

    quiet = args.quiet or args.json
    out = ui.console(stderr=args.json)
    say = (lambda *a, **k: None) if quiet else out.print
    chip, chip_cost = runs.chip_of(cfg)  # its hardware file read once, before the data
    prep = runs.prepare(cfg, progress=None if quiet else ui.download_progress(out))
    if checkpoint:
        net = runs.resumed_network(checkpoint[0], cfg, chip)
    else:
        net = runs.build_network(cfg, prep.dataset.n_features, prep.dataset.n_classes, chip)
        folder = stack.enter_context(runs.new_run_folder(args.out, cfg["dataset"], args.force))
    run_dir = folder.path
    ui.say_run_start(say, net, cfg["dataset"], prep, run_dir)
    state = runs.training_state(cfg, checkpoint and checkpoint[1:])
    if checkpoint:
        say(f"resuming after epoch {state.initial_epoch} of {cfg['epochs']}")
        if state.initial_epoch > cfg["epochs"]:
            raise ConfigError(f"the run already has {state.initial_epoch} epochs; pass a "
                              "larger --epochs to train further")
    with ui.watching_training(out, cfg["epochs"], len(prep.X_train), quiet) as (live, stopped):
        fitted = runs.fit_run(folder, net, prep, cfg, state, every=args.checkpoint_every,
                              callbacks=[live], stop_requested=stopped)
    if fitted.stopped:  # its checkpoint: the end of the last whole epoch
        raise ui.train_interrupted(len(fitted.history), run_dir)
    # the chip's cost, from its counters, before the test pass adds reads of its own
    training_cost = cost.run_training_cost(net, fitted.epochs, chip_cost)
    metrics, test = runs.save_results(folder, net, prep, fitted.history, cfg, fitted.meta,
                                      fitted.seconds, plots=not args.no_plots,
                                      extra={"chip_training_cost": training_cost}
                                      if training_cost else None)
    return ui.run_summary(out, metrics, test, fitted.history, run_dir, training_cost,
                          as_json=args.json, quiet=quiet)
