"""The ``synapsenet`` command.

    synapsenet train                      train a small network on 'digits' (the main job)
    synapsenet train --dataset mnist --layers 300 --epochs 20
    synapsenet evaluate RUN/model.safetensors --dataset digits
    synapsenet predict RUN/model.safetensors inputs.csv
    synapsenet info RUN/model.safetensors
    synapsenet datasets

Exit status: 0 success, 2 bad input or usage (one line on stderr, no traceback), 1 internal
error, 130 interrupted (a checkpoint is saved; resume with ``synapsenet train --resume RUN``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ConfigError, DataError, SynapseError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(SynapseError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own status), no usage dump
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _console(stderr=False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# -- argument parsing ---------------------------------------------------------------------
_METAVARS = {"dataset": "NAME", "data_dir": "DIR", "label_column": "COLUMN", "layers": "SIZES"}

def build_parser() -> argparse.ArgumentParser:
    from .runs import OPTIONS

    p = _Parser(prog="synapsenet", description="The textbook neural network: train, evaluate "
                "and predict, on digital maths or simulated analog hardware.",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="Run 'synapsenet COMMAND --help' for the options of a command.")
    p.add_argument("--version", action="version", version=f"synapsenet {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a network and write a run folder",
                       description="Train a network. With no options: a 64-unit sigmoid "
                       "network on scikit-learn's digits, in seconds. Options may also come "
                       "from --config FILE.toml (same names, underscores); the command line "
                       "wins.")
    groups = {g: t.add_argument_group(g) for g in ("data", "network", "training")}
    for o in OPTIONS:
        flag = "--" + o.name.replace("_", "-")
        g = groups[o.group]
        if o.type is bool:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=o.help)
        else:
            metavar = None if o.choices else _METAVARS.get(o.name) or {int: "N", float: "X"}[o.type]
            shown = "" if o.default is None else f" (default: {o.default})"
            g.add_argument(flag, type=o.type, default=None, choices=o.choices, metavar=metavar,
                           help=o.help + shown)
    r = t.add_argument_group("run")
    r.add_argument("--config", metavar="FILE.toml", help="read options from a TOML file")
    r.add_argument("--out", metavar="DIR", help="run folder (default: runs/DATASET-TIME)")
    r.add_argument("--force", action="store_true", help="allow writing into a non-empty --out")
    r.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    r.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    r.add_argument("--json", action="store_true", help="print the final metrics as JSON")

    e = sub.add_parser("evaluate", help="evaluate a saved model on a dataset")
    e.add_argument("model", help="model file (.safetensors)")
    e.add_argument("--dataset", help="dataset (default: the one it was trained on)")
    e.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST IDX files")
    e.add_argument("--label-column", help="CSV label column")
    e.add_argument("--hardware", metavar="PRESET|FILE.toml",
                   help="run on simulated analog hardware (see 'synapsenet hardware')")
    e.add_argument("--seed", type=int, default=None,
                   help="seed of the data split and the simulated chip (default: the training "
                   "run's)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")

    pr = sub.add_parser("predict", help="predict classes for inputs in a CSV or NPZ file")
    pr.add_argument("model", help="model file (.safetensors)")
    pr.add_argument("input", help="CSV (features only, optional header) or NPZ (array X)")
    pr.add_argument("--output", "-o", help="write here (.csv or .json); default: stdout CSV")
    pr.add_argument("--format", choices=("csv", "json"), help="output format")

    i = sub.add_parser("info", help="describe a saved model")
    i.add_argument("model", help="model file (.safetensors)")
    i.add_argument("--json", action="store_true", help="print as JSON")

    d = sub.add_parser("datasets", help="list the datasets and where they are read from")
    d.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST IDX files")

    from .bench import add_command as add_bench_command
    from .hardware.cli import add_commands as add_hardware_commands

    add_hardware_commands(sub)
    add_bench_command(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return EXIT_OK
        return COMMANDS[args.command](args)
    except SynapseError as e:
        msg = str(e).replace("\n", " ")
        print(f"synapsenet: error: {msg}" if not isinstance(e, UsageError) else msg,
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("synapsenet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # an internal error: say so in one line, traceback on request
        if os.environ.get("SYNAPSENET_DEBUG"):
            raise
        print(f"synapsenet: internal error: {type(e).__name__}: {e} "
              "(set SYNAPSENET_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


# -- train --------------------------------------------------------------------------------
class _Progress:
    """A rich progress bar per epoch: samples/s, loss, accuracy, time left."""

    def __init__(self, console, epochs):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = console
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[rate]:>9} samples/s"),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[acc]}"),
            TimeRemainingColumn(), console=console, transient=False)
        self.epochs = epochs
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


def _make_callback(progress: _Progress | None, n_samples: int):
    from .training import Callback

    class Live(Callback):
        batch_by_batch = False  # it reports: batches may come in chunks (training.Callback)

        def __init__(self):
            self.net = None
            self.t0 = time.perf_counter()
            self.samples = self.loss_sum = 0.0
            self.every = 1

        def on_train_begin(self, network, info):
            self.net = network

        def on_epoch_begin(self, epoch, n_batches):
            self.t0, self.samples, self.loss_sum = time.perf_counter(), 0, 0.0
            self.every = max(1, n_batches // 100)
            self.batches = 0
            if progress:
                if progress.task is not None:
                    progress.progress.update(progress.task, visible=False)
                progress.task = progress.progress.add_task(
                    "", total=n_samples, epoch=epoch + 1, epochs=progress.epochs, rate="",
                    loss="…", acc="")

        def on_batch_end(self, batch, n, loss):
            self.samples += n
            self.loss_sum += loss * n
            self.batches += 1
            if _INTERRUPT["requested"]:
                self.net.stop_training = True
            if progress and self.batches % self.every == 0:
                rate = self.samples / max(time.perf_counter() - self.t0, 1e-9)
                progress.progress.update(progress.task, completed=self.samples,
                                         rate=f"{rate:,.0f}",
                                         loss=f"{self.loss_sum / self.samples:.4f}")

        def on_epoch_end(self, epoch, logs):
            if progress:
                acc = "" if logs["accuracy"] is None else f"acc {100 * logs['accuracy']:.2f}%"
                if logs.get("val_accuracy") is not None:
                    acc += f"  val {100 * logs['val_accuracy']:.2f}%"
                rate = self.samples / max(logs["seconds"], 1e-9)
                progress.progress.update(progress.task, completed=n_samples, rate=f"{rate:,.0f}",
                                         loss=f"{logs['loss']:.4f}", acc=acc)
                if epoch + 1 < progress.epochs:
                    progress.progress.update(progress.task, visible=(epoch + 1) % max(
                        1, progress.epochs // 10) == 0)

    return Live()


_INTERRUPT = {"requested": False}


def _on_sigint(signum, frame):
    if _INTERRUPT["requested"]:  # a second Ctrl-C: stop at once
        raise KeyboardInterrupt
    _INTERRUPT["requested"] = True


def cmd_train(args) -> int:
    from . import runs
    from .files import atomic_write_text
    from .model_file import save

    cli_values = {o.name: getattr(args, o.name) for o in runs.OPTIONS
                  if getattr(args, o.name) is not None}
    resume_state = None
    if args.resume:
        if args.config:
            raise ConfigError("--resume continues a run with its own config; drop --config")
        run_dir = Path(args.resume)
        cfg = runs.load_run_config(run_dir)
        net, opt_state, resume_state = runs.load_checkpoint(run_dir)
        allowed = {"epochs", "data_dir"}
        extra = set(cli_values) - allowed
        if extra:
            flags = ", ".join("--" + e.replace("_", "-") for e in sorted(extra))
            raise ConfigError(f"--resume keeps the run's options; only --epochs and --data-dir "
                              f"may be given, not {flags}")
        cfg.update(cli_values)
    else:
        cfg = runs.defaults()
        if args.config:
            cfg.update(runs.read_config(args.config))
        cfg.update(cli_values)
        run_dir = None
    _validate(cfg)
    quiet = args.quiet or args.json
    console = _console(stderr=args.json)
    say = (lambda *a, **k: None) if quiet else console.print

    dl = _download_progress(console) if not quiet else None
    prep = runs.prepare(cfg, progress=dl)
    if not args.resume:
        net = runs.build_network(cfg, prep.dataset.n_features, prep.dataset.n_classes)
        # checked now, created once there is something to write into it
        run_dir = runs.new_run_dir(args.out, cfg["dataset"], args.force, create=False)
    say(f"[bold]synapsenet[/bold] {__version__}: {net!r}")
    say(f"data: {cfg['dataset']}  train {len(prep.X_train)}"
        + (f"  validation {len(prep.X_val)}" if prep.X_val is not None else "")
        + f"  test {len(prep.X_test)}  ({prep.scaler.kind} scaling)   run folder: {run_dir}")

    from .optimizers import get_optimizer
    from .training import History

    opts = runs.fit_options(cfg)
    optimizer = get_optimizer(opts.pop("optimizer"), momentum=opts.pop("momentum"),
                              weight_decay=opts.pop("weight_decay"))
    history, initial_epoch = History(), 0
    rng = np.random.default_rng(cfg["seed"] + 7919)
    if resume_state:
        optimizer.load_state_dict(opt_state)
        initial_epoch = int(resume_state["epochs_done"])
        rng.bit_generator.state = resume_state["rng"]
        for k, v in resume_state["history"].items():
            setattr(history, k, v)
        say(f"resuming after epoch {initial_epoch} of {cfg['epochs']}")
        if initial_epoch >= cfg["epochs"]:
            raise ConfigError(f"the run already has {initial_epoch} epochs; pass a larger "
                              "--epochs to train further")

    augment = runs.augmentation(cfg, prep)
    _INTERRUPT["requested"] = False
    previous = signal.signal(signal.SIGINT, _on_sigint)
    t0 = time.perf_counter()
    try:
        with contextlib.nullcontext() if quiet else _Progress(console, cfg["epochs"]) as progress:
            cb = _make_callback(progress, len(prep.X_train))
            history = net.fit(prep.X_train, prep.y_train, optimizer=optimizer, seed=rng,
                              validation_data=_val(prep), callbacks=[cb],
                              weight_noise=cfg["train_noise"], augment=augment,
                              initial_epoch=initial_epoch, history=history, **opts)
    finally:
        signal.signal(signal.SIGINT, previous)
    seconds = time.perf_counter() - t0
    meta = runs.model_metadata(cfg, prep)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", runs.to_toml(cfg))

    if history.interrupted and _INTERRUPT["requested"]:
        state = {"epochs_done": len(history), "rng": rng.bit_generator.state,
                 "history": {c: getattr(history, c) for c in History.COLUMNS}}
        extras = {f"optimizer.{k}": v for k, v in optimizer.state_dict().items()}
        save(net, run_dir / "checkpoint.safetensors", metadata={**meta, "checkpoint": state},
             extra_tensors=extras)
        print(f"synapsenet: interrupted after {len(history)} complete epoch(s); checkpoint "
              f"saved. Resume with: synapsenet train --resume {run_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED

    save(net, run_dir / "model.safetensors", metadata=meta)
    runs.write_json(run_dir / "model.json", {"network": net.config(), "training": net.train_config,
                                            **meta})  # the same description, for people
    atomic_write_text(run_dir / "history.csv", runs.history_csv(history))
    test = net.evaluate(prep.X_test, prep.y_test, loss=cfg["loss"])
    metrics = {"dataset": cfg["dataset"], "test_accuracy": test.get("accuracy"),
               "test_loss": test["loss"], "test_samples": test["n"], "epochs": len(history),
               "updates": history.updates, "train_seconds": round(seconds, 3),
               "final_train_loss": history.loss[-1], "stopped_early": history.stopped_early,
               "network": repr(net), "engine": net.train_config.get("engine"),
               "run_dir": str(run_dir)}
    if history.val_accuracy and history.val_accuracy[-1] is not None:
        metrics["val_accuracy"] = history.val_accuracy[-1]
    runs.write_json(run_dir / "metrics.json", metrics)
    ckpt = run_dir / "checkpoint.safetensors"
    if ckpt.exists():
        ckpt.unlink()
    if not args.no_plots:
        _write_plots(net, prep, history, run_dir, cfg)

    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        if not quiet:
            _summary(console, history, metrics)
        acc = metrics["test_accuracy"]
        line = (f"test accuracy {100 * acc:.2f}% ({test['n']} samples)" if acc is not None
                else f"test loss {test['loss']:.5g}")
        print(f"{line}; model and plots in {run_dir}")
    return EXIT_OK


def _val(prep):
    return None if prep.X_val is None else (prep.X_val, prep.y_val)


def _validate(cfg):
    from .runs import parse_layers

    parse_layers(cfg["layers"])
    for k in ("test_split", "val_split"):
        if not 0 <= cfg[k] < 1:
            raise ConfigError(f"--{k.replace('_', '-')} must be in [0, 1), got {cfg[k]}")
    if cfg["early_stopping"] and not cfg["val_split"]:
        cfg["val_split"] = 0.1  # early stopping needs a validation set


def _download_progress(console):
    """A rich download bar per file (bytes, speed, time left), for ``datasets.load``."""
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=console)
    tasks = {}

    def progress(fname, done, total):
        if fname not in tasks:
            if not tasks:
                bars.start()
            tasks[fname] = bars.add_task(f"{fname}.gz", total=total or None)
        bars.update(tasks[fname], completed=done)
        if total and done >= total and len(tasks) == 4:
            bars.stop()

    return progress


def _write_plots(net, prep, history, run_dir, cfg):
    from . import plots

    acts = "/".join(dict.fromkeys(l.activation.name for l in net.layers))
    plots.plot_history(history, run_dir / "curves.png",
                       title=f"{cfg['dataset']}: {' → '.join(map(str, net.sizes))} ({acts})")
    pred = net.classify(prep.X_test)
    k = prep.dataset.n_classes
    if int(pred.max(initial=0)) < k and net.n_outputs in (1, k):
        cm = plots.confusion_matrix(prep.y_test, pred, k)
        plots.plot_confusion(cm, prep.dataset.class_names, run_dir / "confusion.png")
    if prep.dataset.n_features == 2:
        X_all = np.vstack([prep.dataset.X] + ([prep.X_test_raw]
                                               if prep.dataset.X_test is not None else []))
        y_all = np.concatenate([prep.dataset.y] + ([prep.y_test]
                                                   if prep.dataset.X_test is not None else []))
        plots.plot_decision_boundary(
            lambda P: net.classify(prep.scaler.transform(P, net.dtype)), X_all, y_all,
            run_dir / "boundary.png", title=f"{cfg['dataset']}: decision boundary")


def _summary(console, history, metrics):
    from rich.table import Table

    t = Table(title="training summary", show_edge=False)
    for c in ("epoch", "loss", "accuracy", "val loss", "val accuracy", "seconds"):
        t.add_column(c, justify="right")
    rows = list(history.rows())
    show = rows if len(rows) <= 8 else rows[:3] + [None] + rows[-4:]
    for r in show:
        if r is None:
            t.add_row("…", "", "", "", "", "")
            continue
        pct = lambda a: "" if a is None else f"{100 * a:.2f}%"  # noqa: E731
        t.add_row(str(r["epoch"]), f"{r['loss']:.5f}", pct(r["accuracy"]),
                  "" if r["val_loss"] is None else f"{r['val_loss']:.5f}",
                  pct(r["val_accuracy"]), f"{r['seconds']:.3f}")
    console.print(t)


# -- evaluate / predict / info / datasets -------------------------------------------------
def _load_model(path):
    from .model_file import load

    net, user, _ = load(path, with_extras=True)
    return net, user


def _scaler(user, net):
    from .datasets import Scaler

    if user.get("preprocessing"):
        return Scaler.from_dict(user["preprocessing"])
    return Scaler("none").fit(np.zeros((1, net.n_inputs)))


def cmd_evaluate(args) -> int:
    from . import datasets

    net, user = _load_model(args.model)
    name = args.dataset or user.get("dataset")
    if not name:
        raise ConfigError("the model does not record its dataset; pass --dataset")
    same = name == user.get("dataset")
    drawn = user.get("data", {}) if same else {}  # the training run's draw and split
    seed = drawn.get("seed", 0) if args.seed is None else args.seed
    ds = datasets.load(name, data_dir=args.data_dir,
                       label_column=args.label_column or drawn.get("label_column"),
                       n_samples=drawn.get("n_samples"), noise=drawn.get("noise"), seed=seed)
    if ds.X_test is not None:
        X, y = ds.X_test, ds.y_test
    elif len(ds.X) <= 16 or not same:
        X, y = ds.X, ds.y
    else:  # the same held-out split the training run used
        _, X, _, y = datasets.split(ds.X, ds.y, drawn.get("test_split", 0.2), seed=seed)
    if X.shape[1] != net.n_inputs:
        raise DataError(f"dataset {name!r} has {X.shape[1]} features but the model expects "
                        f"{net.n_inputs}")
    Xs = _scaler(user, net).transform(X, net.dtype)
    loss = net.train_config.get("loss", "squared_error")
    result = {"dataset": name, "samples": len(X), **{k: v for k, v in
                                                     net.evaluate(Xs, y, loss).items() if k != "n"}}
    if args.hardware:
        from .hardware import deploy, load_config

        chip = deploy(net, load_config(args.hardware), seed=seed)
        pred = net.outputs_to_classes(chip.predict(Xs))
        result["hardware"] = args.hardware
        result["digital_accuracy"] = result.pop("accuracy", None)
        result["accuracy"] = float(np.mean(pred == y))
        result["energy"] = chip.energy_report(len(X))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        c = _console()
        for k, v in result.items():
            if k == "energy":
                continue
            c.print(f"{k:>18}: {100 * v:.2f}%" if "accuracy" in k and v is not None
                    else f"{k:>18}: {v}")
        if "energy" in result:
            e = result["energy"]
            c.print(f"{'energy / inference':>18}: analog {e['analog_j_per_inference']:.3g} J, "
                    f"digital {e['digital_j_per_inference']:.3g} J")
    return EXIT_OK


def cmd_predict(args) -> int:
    from .datasets.files import load_features
    from .files import atomic_write_text

    net, user = _load_model(args.model)
    path = Path(args.input)
    X = load_features(path)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise DataError(f"{str(path)!r} has {X.shape[-1]} features per row but the model expects "
                        f"{net.n_inputs}")
    Z = net.predict(_scaler(user, net).transform(X, net.dtype))
    classes = net.outputs_to_classes(Z)
    names = user.get("class_names") or []
    label = [names[c] if c < len(names) else str(c) for c in classes]
    fmt = args.format or ("json" if args.output and args.output.endswith(".json") else "csv")
    if fmt == "json":
        text = json.dumps([{"class": lab, "index": int(c), "outputs": z.tolist()}
                           for lab, c, z in zip(label, classes, Z)], indent=1) + "\n"
    else:
        head = ["class"] + [f"output_{k}" for k in range(Z.shape[1])]
        rows = [",".join([lab] + [f"{v:.6g}" for v in z]) for lab, z in zip(label, Z)]
        text = "\n".join([",".join(head)] + rows) + "\n"
    if args.output:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_info(args) -> int:
    net, user = _load_model(args.model)
    info = {"file": args.model, "layers": [repr(l) for l in net.layers], "sizes": net.sizes,
            "parameters": net.n_params, "macs_per_inference": net.macs_per_sample,
            "dtype": str(net.dtype), "dataset": user.get("dataset"),
            "preprocessing": (user.get("preprocessing") or {}).get("kind"),
            "classes": user.get("class_names"), "training": net.train_config}
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    from rich.table import Table

    c = _console()
    c.print(f"[bold]{args.model}[/bold]: {net!r}")
    t = Table(show_edge=False)
    for col in ("layer", "synapses W", "neurons", "activation", "parameters", "MACs"):
        t.add_column(col, justify="right")
    for i, l in enumerate(net.layers, 1):
        t.add_row(str(i), f"{l.n_out}×{l.n_in}", str(l.n_out), repr(l.activation),
                  f"{l.n_params:,}", f"{l.n_in * l.n_out:,}")
    t.add_row("total", "", "", "", f"{net.n_params:,}", f"{net.macs_per_sample:,}")
    c.print(t)
    c.print(f"multiply-accumulates per inference: {net.macs_per_sample:,}; dtype {net.dtype}")
    if user.get("dataset"):
        c.print(f"trained on {user['dataset']} ({info['preprocessing']} scaling)")
    if net.train_config:
        tc = net.train_config
        c.print(f"training: loss {tc.get('loss')}, mode {tc.get('mode')}, batch "
                f"{tc.get('batch_size')}, η {tc.get('learning_rate')}, optimizer "
                f"{(tc.get('optimizer') or {}).get('name')}, epochs {tc.get('epochs')}"
                + (f", engine {tc['engine']}" if tc.get("engine") else ""))
    return EXIT_OK


def cmd_datasets(args) -> int:
    from rich.table import Table

    from .datasets import BUILTIN, DESCRIPTIONS, IDX_SETS
    from .datasets.mnist import _find, cache_dir, search_dirs

    c = _console()
    t = Table(show_edge=False)
    for col in ("name", "what", "source"):
        t.add_column(col)
    for n in BUILTIN:
        t.add_row(n, DESCRIPTIONS[n], "built in" if n != "digits" else "built in (scikit-learn)")
    for n in IDX_SETS:
        found = _find(n, search_dirs(n, args.data_dir))
        where = (f"found: {Path(next(iter(found.values()))).parent}" if found else
                 f"not found; would download to {cache_dir() / n}")
        t.add_row(n, DESCRIPTIONS[n], where)
    t.add_row("csv:PATH", "features + a label column (--label-column)", "your file")
    t.add_row("npz:PATH", "arrays X and y", "your file")
    c.print(t)
    c.print("MNIST files are looked for in --data-dir, $SYNAPSENET_DATA, then the cache "
            f"({cache_dir()}), each directly or in a sub-folder named after the set.")
    return EXIT_OK


def _hardware_dispatch(name):
    def run(args):
        from .hardware import cli as hcli

        return getattr(hcli, name)(args)

    return run


def _bench(args):
    from .bench import run_cli

    return run_cli(args)


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "info": cmd_info, "datasets": cmd_datasets, "sweep": _hardware_dispatch("cmd_sweep"),
            "hardware": _hardware_dispatch("cmd_hardware"), "bench": _bench}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
