"""Training runs: resolved options, data preparation, the run folder, checkpoints.

A run folder holds everything needed to inspect or repeat a run::

    model.safetensors   the trained network (+ preprocessing, class names in its header)
    model.json          the same description as plain JSON, for people and other tools
    config.toml         every option, fully resolved: `synapsenet train --config` repeats it
    history.csv         loss and accuracy per epoch
    metrics.json        final test metrics
    curves.png, confusion.png, boundary.png (2-D data)
    checkpoint.safetensors   while a run trains or after it was stopped: the state at the
                        end of an epoch (options included), for `synapsenet train --resume`

A run holds its folder (:class:`RunFolder`) while it trains: a second run into it is refused.
The results are written under temporary names and put in place together, model.safetensors
last, then the checkpoint is removed; a run killed at any moment leaves whole files only, and
its last checkpoint, from which `--resume` continues to the weights of an uninterrupted run.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import datasets, files
from .errors import ConfigError, DataError, InUseError, ModelFileError, SynapseError
from .files import atomic_write_text, jsonable, read_toml
from .network import Network
from .options import TrainingOptions
from .training import Callback

# what a run folder holds (the checkpoint last): the files a run writes, replaces and removes
RESULT_FILES = ("config.toml", "history.csv", "model.json", "metrics.json", "curves.png",
                "confusion.png", "boundary.png", "model.safetensors")
CHECKPOINT = "checkpoint.safetensors"
RUN_FILES = RESULT_FILES + (CHECKPOINT,)


@dataclass(frozen=True)
class Option:
    name: str
    type: type
    default: object
    help: str
    choices: tuple | None = None
    group: str = "training"


# the training options of the command line: TrainingOptions', with the command's own defaults
# (a textbook network that learns the digits in seconds)
_CLI_TRAINING = ("loss", "mode", "batch_size", "n_batches", "epochs", "learning_rate",
                 "optimizer", "momentum", "weight_decay", "schedule", "shuffle",
                 "early_stopping", "patience", "min_delta")
_CLI_DEFAULTS = {"epochs": 40, "learning_rate": 1.0, "batch_size": 16}
# older names of options, read from config files and checkpoints as the options they became
_RENAMED = {"train_noise": "weight_noise"}

_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "identity", "softmax")

OPTIONS = [
    Option("dataset", str, "digits", "dataset name, csv:PATH, npz:PATH or idx:DIR", group="data"),
    Option("data_dir", str, None, "folder with the MNIST / Fashion-MNIST IDX files", group="data"),
    Option("label_column", str, None, "CSV label column (name or index; default: last)",
           group="data"),
    Option("scale", str, "auto", "feature scaling (auto: by dataset)",
           ("auto",) + datasets.SCALINGS, "data"),
    Option("n_samples", int, None, "samples to draw for the 2-D sets", group="data"),
    Option("noise", float, None, "noise of the 2-D sets", group="data"),
    Option("test_split", float, 0.2, "test fraction for sets without an official test set",
           group="data"),
    Option("val_split", float, 0.0, "validation fraction taken from the training data",
           group="data"),
    Option("layers", str, "64", "hidden layer sizes, comma-separated ('' for none)",
           group="network"),
    Option("hidden", str, "sigmoid", "hidden activation", _ACTIVATIONS, "network"),
    Option("output", str, "sigmoid", "output activation", _ACTIVATIONS, "network"),
    Option("init", str, None, "initial weights (default: he for relu-like, else xavier)",
           ("uniform", "xavier", "he"),
           group="network"),
    Option("dropout", float, 0.0, "dropout on the inputs of hidden/output layers",
           group="network"),
    Option("dtype", str, "float32", "float32 or float64", ("float32", "float64"), "network"),
    *(Option(o["name"], o["type"], _CLI_DEFAULTS.get(o["name"], o["default"]), o["help"],
             o["choices"]) for o in TrainingOptions.spec() if o["name"] in _CLI_TRAINING),
    Option("weight_bound", float, None, "keep every synapse in [−w, w] (textbook: 1)"),
    Option("weight_noise", float, 0.0, "hardware-aware training: relative weight noise "
           "injected in every training pass (also --train-noise)"),
    Option("hardware", str, None, "train in-situ on this simulated chip, its updates by "
           "device pulses (a preset or FILE.toml; see 'synapsenet hardware')"),
    Option("augment", str, "none", "data augmentation of image rows every epoch",
           ("none", "shift"), "data"),
    Option("seed", int, 0, "seed of every random draw"),
    Option("data_seed", int, None, "seed of the data's draw and split instead (default: "
           "--seed; a study trains its cells on one split)", group="data"),
]
OPTION_NAMES = {o.name: o for o in OPTIONS}


def defaults() -> dict:
    return {o.name: o.default for o in OPTIONS}


def resolve_options(given: dict, *, config=None, resume=None):
    """The options of a run: the defaults, then the ``config`` file (TOML), then ``given``; or,
    with ``resume`` (a run folder), the run's own options with only ``epochs`` and ``data_dir``
    changeable. Returns (options, checkpoint), the checkpoint being
    (network, optimizer state, state) when resuming, else None."""
    checkpoint = None
    if resume:
        if config:
            raise ConfigError("--resume continues a run with its own config; drop --config")
        checkpoint = load_checkpoint(resume)
        stored = checkpoint[2].get("config")
        if stored is None:  # a checkpoint saved before checkpoints held their options
            cfg = load_run_config(resume)
        else:
            cfg = {**defaults(), **stored}
        extra = set(given) - {"epochs", "data_dir"}
        if extra:
            flags = ", ".join("--" + e.replace("_", "-") for e in sorted(extra))
            raise ConfigError(f"--resume keeps the run's options; only --epochs and --data-dir "
                              f"may be given, not {flags}")
    else:
        cfg = defaults()
        if config:
            cfg.update(read_config(config))
    cfg.update(given)
    parse_layers(cfg["layers"])
    for k in ("test_split", "val_split"):
        if not 0 <= cfg[k] < 1:
            raise ConfigError(f"--{k.replace('_', '-')} must be in [0, 1), got {cfg[k]}")
    if cfg.get("n_samples") is not None and cfg["n_samples"] < 1:  # 0 meant the default
        raise ConfigError(f"--n-samples must be ≥ 1, got {cfg['n_samples']}")
    if cfg.get("noise") is not None and not cfg["noise"] >= 0:
        raise ConfigError(f"--noise must be ≥ 0, got {cfg['noise']}")
    if cfg["early_stopping"] and not cfg["val_split"]:
        cfg["val_split"] = 0.1  # early stopping needs a validation set
    return cfg, checkpoint


def read_config(path) -> dict:
    """Options from a TOML file; unknown keys and wrong types are errors naming the file."""
    path = Path(path)
    raw = {k.replace("-", "_"): v for k, v in read_toml(path, "config").items()}
    raw = {_RENAMED.get(k, k): v for k, v in raw.items()}
    out = {}
    for key, value in raw.items():
        opt = OPTION_NAMES.get(key)
        if opt is None:
            raise ConfigError(f"config {str(path)!r}: unknown option {key!r}; known options: "
                              f"{', '.join(OPTION_NAMES)}")
        out[key] = coerce(opt, value, f"config {str(path)!r}, option {key!r}")
    return out


def coerce(opt: Option, value, where: str):
    if value is None:
        return None
    if opt.name == "layers" and isinstance(value, list):
        value = ",".join(str(v) for v in value)
    ok = (isinstance(value, bool) if opt.type is bool else
          isinstance(value, (int, float)) and not isinstance(value, bool) if opt.type is float
          else isinstance(value, int) and not isinstance(value, bool) if opt.type is int
          else isinstance(value, str))
    if not ok:
        raise ConfigError(f"{where}: expected {opt.type.__name__}, got {value!r}")
    value = float(value) if opt.type is float else value
    if opt.choices and value not in opt.choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(opt.choices)}")
    return value


def to_toml(config: dict) -> str:
    """The resolved options as TOML (flat keys; unset options are written as comments)."""
    lines = ["# synapsenet training run: every option, resolved.",
             "# Repeat it with: synapsenet train --config config.toml --out NEW_FOLDER", ""]
    for opt in OPTIONS:
        v = config.get(opt.name)
        if v is None:
            lines.append(f"# {opt.name} = (unset)")
        else:
            lines.append(f"{opt.name} = {json.dumps(v)}")  # JSON scalars are valid TOML
    return "\n".join(lines) + "\n"


def parse_layers(spec: str) -> list[int]:
    """Hidden layer sizes from '64,32' ('' for none); an empty, non-integer or non-positive
    entry is an error naming it ('2,,1' is not '2,1')."""
    spec = (spec or "").strip()
    if not spec:
        return []
    sizes = []
    for i, s in enumerate(spec.split(","), 1):
        s = s.strip()
        size = int(s) if s.isascii() and s.isdecimal() else None  # no sign, point, exponent
        if not size:
            what = "is empty" if not s else f"{s!r} is not a positive integer"
            raise ConfigError(f"--layers must be comma-separated positive integers ('' for "
                              f"none), got {spec!r}: entry {i} {what}")
        sizes.append(size)
    return sizes


# -- data ---------------------------------------------------------------------------------
@dataclass
class Prepared:
    dataset: datasets.Dataset
    scaler: datasets.Scaler
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    X_test_raw: np.ndarray


def data_seed(cfg: dict) -> int:
    """The seed of the data's draw and split: ``data_seed``, else the run's ``seed``."""
    return cfg["seed"] if cfg.get("data_seed") is None else cfg["data_seed"]


def prepare(cfg: dict, progress=None) -> Prepared:
    """Load, split and scale the data as the options say (seeded: the same every time)."""
    seed = data_seed(cfg)
    ds = datasets.load(cfg["dataset"], data_dir=cfg.get("data_dir"), n_samples=cfg.get("n_samples"),
                       noise=cfg.get("noise"), seed=seed,
                       label_column=cfg.get("label_column"), progress=progress)
    X, y, Xte, yte = split_test(ds, cfg["test_split"], seed)
    Xv = yv = None
    if cfg.get("val_split"):
        X, Xv, y, yv = datasets.split(X, y, cfg["val_split"], seed=seed + 1)
    kind = ds.scale if cfg.get("scale", "auto") == "auto" else cfg["scale"]
    scaler = datasets.Scaler(kind).fit(X)
    dt = np.dtype(cfg.get("dtype", "float32"))
    return Prepared(ds, scaler, scaler.transform(X, dt), y,
                    None if Xv is None else scaler.transform(Xv, dt), yv,
                    scaler.transform(Xte, dt), yte, Xte)


def split_test(ds: datasets.Dataset, fraction: float, seed: int):
    """(X_train, y_train, X_test, y_test): the set's official test split; for the logic gates
    the four patterns as both; else a seeded split that holds out ``fraction``."""
    if ds.X_test is not None:
        return ds.X, ds.y, ds.X_test, ds.y_test
    if len(ds.X) <= 16:
        return ds.X, ds.y, ds.X, ds.y
    X, Xte, y, yte = datasets.split(ds.X, ds.y, fraction, seed=seed)
    return X, y, Xte, yte


def build_network(cfg: dict, n_features: int, n_classes: int, chip=None) -> Network:
    """The run's network, on its substrate (``chip``: the run's chip as ``chip_of`` read it;
    None: read it from ``cfg``)."""
    n_out = 1 if n_classes == 2 and cfg["output"] in ("sigmoid", "tanh") else n_classes
    sizes = [n_features] + parse_layers(cfg["layers"]) + [n_out]
    net = Network.from_sizes(sizes, hidden=cfg["hidden"], output=cfg["output"],
                             init=cfg.get("init"), dropout=cfg.get("dropout", 0.0),
                             seed=cfg["seed"], dtype=cfg["dtype"])
    return net.on(substrate(cfg, chip))


def chip_of(cfg: dict) -> tuple:
    """The chip a run trains on, its file read once (``cost.load_hardware``): its config and
    the cost constants its ``[cost]`` table changes, for the run's cost; (None, {}) for a
    run trained digitally."""
    if not cfg.get("hardware"):
        return None, {}
    from .cost import load_hardware

    return load_hardware(cfg["hardware"])


def substrate(cfg: dict, chip=None):
    """The substrate a run trains on: digital, with the synapses' bound; noisy digital
    (hardware-aware training) when ``weight_noise`` is set; the simulated chip, trained in
    situ, when ``hardware`` is (``chip``: its config, as ``chip_of`` read it)."""
    from .substrate import Digital, NoisyDigital

    if cfg.get("hardware"):
        from .hardware import Analog

        if cfg.get("weight_noise") or cfg.get("weight_bound"):
            raise ConfigError("on the chip the devices' range bounds the synapses and their "
                              "own noise is the training noise: drop --weight-noise and "
                              "--weight-bound with --hardware (set learning.weight_max in "
                              "the chip's TOML)")
        if chip is None:
            chip = chip_of(cfg)[0]
        return Analog(chip, seed=cfg["seed"], meter=True)  # metered, for its cost
    if cfg.get("weight_noise"):
        return NoisyDigital(cfg["weight_noise"], weight_bound=cfg.get("weight_bound"))
    return Digital(weight_bound=cfg.get("weight_bound"))


def fit_options(cfg: dict) -> dict:
    """The run's training options, as ``fit`` takes them (validated there): a batch size
    only for mini-batches by size."""
    opts = {k: cfg[k] for k in _CLI_TRAINING if k in cfg}
    mode = opts["mode"]
    if mode != "minibatch" or opts.get("n_batches") is not None:
        opts["batch_size"] = None
    if mode != "minibatch":
        opts["n_batches"] = None
    return opts


def augmentation(cfg: dict, prep: Prepared):
    """The augmentation callable for ``fit`` (None for 'none'); it fills uncovered pixels
    with the data's background (its smallest scaled value)."""
    from .datasets.augment import get_augmentation

    aug = get_augmentation(cfg.get("augment", "none"), prep.dataset.n_features)
    if aug is not None:
        aug.fill = float(prep.X_train.min())
    return aug


def model_metadata(cfg: dict, prep: Prepared) -> dict:
    return {"dataset": cfg["dataset"], "preprocessing": prep.scaler.to_dict(),
            "class_names": prep.dataset.class_names, "n_features": prep.dataset.n_features,
            # how the data was drawn and split, so `evaluate` can find the same test set
            "data": {"seed": data_seed(cfg), **{k: cfg.get(k) for k in (
                "test_split", "n_samples", "noise", "label_column")}}}


# -- outputs ------------------------------------------------------------------------------
def history_csv(history) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(history.COLUMNS)
    for row in history.rows():
        w.writerow(["" if row[c] is None else (f"{row[c]:.8g}" if isinstance(row[c], float)
                                               else row[c]) for c in history.COLUMNS])
    return buf.getvalue()


def to_json(obj) -> str:
    return json.dumps(obj, indent=2, default=jsonable) + "\n"


def write_json(path, obj) -> None:
    atomic_write_text(path, to_json(obj))


def new_run_dir(out: str | None, dataset: str, force: bool, create: bool = True) -> Path:
    """The run folder; an existing non-empty one is an error unless ``force``. Without ``out``,
    a new folder under runs/ named after the dataset and the time."""
    if out is None:
        stem = dataset.replace(":", "-").replace("/", "-").replace(".", "-")[-40:]
        base = Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, i = base, 1
        while path.exists():
            path, i = Path(f"{base}-{i}"), i + 1
    else:
        path = Path(out)
        blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:  # found now, not after the training
            raise ConfigError(f"run folder {str(path)!r} cannot be made: {str(blocked)!r} is "
                              "a file; choose another --out")
        if path.exists() and (not path.is_dir() or _occupied(path)) and not force:
            raise _not_empty(path)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _occupied(folder: Path) -> bool:
    """Whether ``folder`` holds anything but what a killed run's writes left (temporaries)."""
    return any(not files.is_temporary(p.name, RUN_FILES) for p in folder.iterdir())


def _not_empty(path) -> ConfigError:
    return ConfigError(f"run folder {str(path)!r} exists and is not empty; choose another "
                       "--out, or pass --force to overwrite it")


class RunFolder:
    """The folder of one training run, held while the run trains and writes.

    ``with RunFolder(path) as folder:`` makes the folder if needed and locks it (the system's
    lock on the folder, released when the process ends, however it ends: it never goes
    stale); another run into it, or a resume of it, is then refused until this one ends. A
    new run needs the folder empty (temporary files of a killed run do not count, and are
    removed), unless ``force``; ``resume`` continues the run that is in it. With ``pick``, a
    folder that is taken makes the run pick the next free name (``PATH-1``, ``PATH-2``…)
    instead of failing: the default run folders, named after the time.

    If the run fails, what it wrote goes (a new folder is removed), unless its checkpoint is
    there and the failure was not bad input (a full disk, a second Ctrl-C, an internal error):
    the checkpoint stays, to resume from. A failed write is an error naming the file and
    saying what was kept.
    """

    def __init__(self, path, *, force=False, resume=False, pick=False):
        self.path, self.force, self.resume, self.pick = Path(path), force, resume, pick
        self.checkpoint_epochs = None  # epochs done in the checkpoint on disk (this run's)
        self._lock = None
        self._made = None  # the outermost folder this run made
        self._wrote_checkpoint = False

    def __enter__(self):
        base, i = self.path, 1
        while True:
            try:
                self._claim()
                return self
            except (InUseError, _Occupied) as e:
                self._release(remove=True)
                if not self.pick:
                    raise (_not_empty(self.path) if isinstance(e, _Occupied) else e) from None
            except BaseException:
                self._release(remove=True)
                raise
            self.path, i = Path(f"{base}-{i}"), i + 1

    def _claim(self):
        path = self.path
        for _ in range(10):
            made, missing = False, []
            if self.resume:
                if not path.is_dir():
                    raise ConfigError(f"{str(path)!r} is not a run folder (there is no such "
                                      "folder)")
            else:
                missing = [p for p in path.parents if not p.exists()]
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.mkdir(path)
                    made = True
                except FileExistsError:
                    pass
            try:
                self._lock = files.lock_folder(path, "run folder")
            except FileNotFoundError:  # removed by the run that held it: make it again
                continue
            except InUseError:
                raise InUseError(f"run folder {str(path)!r} is in use by another synapsenet "
                                 "train; wait until it ends, or choose another --out") from None
            if made:  # ours to remove if the run fails, and so are the parents made for it
                self._made = missing[-1] if missing else path
            break
        else:  # pragma: no cover - made and removed by others ten times over
            raise InUseError(f"run folder {str(path)!r} keeps being removed by another process")
        files.remove_temporaries(path, RUN_FILES)  # a killed run's: ours to clear now
        if not self.resume and not self.force and _occupied(path):
            raise _Occupied

    def __exit__(self, etype, exc, tb):
        if exc is None:
            self._release()
            return
        kept = self.checkpoint_epochs is not None and not isinstance(exc, SynapseError)
        if not self.resume and not kept:
            if self._wrote_checkpoint:
                (self.path / CHECKPOINT).unlink(missing_ok=True)
        self._release(remove=not self.resume and not kept)
        if isinstance(exc, OSError) and exc.errno is not None and \
                files.error_inside(exc, self.path):
            where = exc.filename2 if exc.filename2 is not None else exc.filename
            if kept:
                fix = ("free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                       else "once it can be written")
                then = (f"the checkpoint after epoch {self.checkpoint_epochs} is kept: {fix}, "
                        f"then resume with: synapsenet train --resume {self.path}")
            else:
                then = ("nothing else was changed" if self.resume else
                        "nothing of this run was left behind")
            raise SynapseError(f"cannot write {str(where)!r}: {exc.strerror}; {then}") from None

    def _release(self, remove=False):
        if remove and self._made is not None:  # the folders this run made, if still empty
            for p in (self.path, *self.path.parents):  # (removed while locked: no one is in)
                try:
                    p.rmdir()
                except OSError:
                    break
                if p == self._made:
                    break
        self._made = None
        files.unlock_folder(self._lock)
        self._lock = None

    def save_checkpoint(self, net, meta: dict, optimizer, rng, history, cfg: dict) -> None:
        """checkpoint.safetensors: the network, the optimiser's state, the rng, the history
        and the run's options (what ``--resume`` needs, in one file written at once)."""
        from .model_file import save

        state = {"epochs_done": len(history), "rng": rng.bit_generator.state,
                 "history": {c: getattr(history, c) for c in history.COLUMNS},
                 "updates": int(history.updates), "config": cfg}
        extras = {f"optimizer.{k}": v for k, v in optimizer.state_dict().items()}
        if history.best_weights is not None and history.best_epoch != len(history):
            # early stopping's best weights, from an earlier epoch than the network's
            extras.update({f"best.{i}": w for i, w in enumerate(history.best_weights)})
        save(net, self.path / CHECKPOINT, metadata={**meta, "checkpoint": state},
             extra_tensors=extras)
        self._wrote_checkpoint = True
        self.checkpoint_epochs = len(history)


class _Occupied(Exception):
    pass


def new_run_folder(out: str | None, dataset: str, force: bool = False) -> RunFolder:
    """The folder of a new run, ``out`` or (None) runs/DATASET-TIME: checked now (see
    :func:`new_run_dir`), made and locked when entered; a default name taken meanwhile by
    another run makes it pick the next free one."""
    return RunFolder(new_run_dir(out, dataset, force, create=False), force=force,
                     pick=out is None)


def load_run_config(run_dir) -> dict:
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a run folder (it has no config.toml)")
    cfg = defaults()
    cfg.update(read_config(run_dir / "config.toml"))
    return cfg


def load_checkpoint(run_dir):
    """(network, optimizer state, state dict) from a run's checkpoint; a damaged one is a
    ModelFileError naming the file."""
    from .model_file import load

    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file():
        if not (run_dir / "config.toml").is_file() and not (run_dir / "model.safetensors").exists():
            raise ConfigError(f"{str(run_dir)!r} is not a run folder (it has no {CHECKPOINT} "
                              "and no config.toml)")
        raise ConfigError(f"{str(run_dir)!r} has no {CHECKPOINT} to resume from (the run "
                          "finished, or was not interrupted)")
    net, user, extras = load(path, with_extras=True)
    state = user.get("checkpoint")
    if not state:
        raise SynapseError(f"{str(path)!r} is a model, not a training checkpoint")
    opt_state = {k[len("optimizer."):]: v for k, v in extras.items() if k.startswith("optimizer.")}
    _check_checkpoint(path, net, state, opt_state)
    best = [extras[f"best.{i}"] for i in range(len(extras)) if f"best.{i}" in extras]
    if best:
        if [w.shape for w in best] != [w.shape for w in net.get_weights()]:
            raise ModelFileError(f"{str(path)!r} is a damaged checkpoint: its best weights do "
                                 "not fit its network")
        state = {**state, "best_weights": best}
    return net, opt_state, state


def _check_checkpoint(path, net, state, opt_state) -> None:
    """Refuse a checkpoint whose state is damaged, before training starts on it."""
    from .training import History

    def damaged(what):
        return ModelFileError(f"{str(path)!r} is a damaged checkpoint: {what}")

    if not isinstance(state, dict):
        raise damaged("its state is not a table")
    done = state.get("epochs_done")
    if not isinstance(done, int) or isinstance(done, bool) or done < 0:
        raise damaged(f"epochs_done is {done!r}, not a whole number ≥ 0")
    hist = state.get("history")
    if not isinstance(hist, dict) or any(not isinstance(hist.get(c), list) or
                                         len(hist[c]) != done for c in History.COLUMNS):
        raise damaged(f"its history does not hold {done} epoch(s) of "
                      f"{', '.join(History.COLUMNS)}")
    try:
        np.random.default_rng().bit_generator.state = state.get("rng")
    except (TypeError, ValueError, KeyError, AttributeError):
        raise damaged("its random generator state is not one numpy can restore") from None
    stored = state.get("config")  # the run's options (checked by the loader of config files)
    if stored is not None:
        if not isinstance(stored, dict):
            raise damaged("its options are not a table")
        stored = {_RENAMED.get(str(k), k): v for k, v in stored.items()}
        unknown = sorted(set(map(str, stored)) - set(OPTION_NAMES))
        if unknown:
            raise damaged(f"it holds unknown option{'s' * (len(unknown) > 1)} "
                          f"{', '.join(map(repr, unknown))}")
        try:
            state["config"] = {k: coerce(OPTION_NAMES[k], v, f"option {k!r}")
                               for k, v in stored.items()}
        except ConfigError as e:
            raise damaged(str(e)) from None
    shapes = [p.shape for p in net.parameters()]
    for k, v in opt_state.items():
        if k == "t":
            continue
        i = k.rpartition(".")[2]
        if not i.isdigit() or int(i) >= len(shapes) or v.shape != shapes[int(i)]:
            raise damaged(f"optimizer state {k!r} has shape {v.shape}, which fits no parameter "
                          "of its network")


# -- training state and the run folder's results ----------------------------------------------
class TrainingState(NamedTuple):
    """What ``fit`` starts from: the optimiser, the other fit options, the random generator,
    the history so far and the epochs it holds."""

    optimizer: object
    opts: dict
    rng: np.random.Generator
    history: object
    initial_epoch: int


def training_state(cfg: dict, checkpoint=None) -> TrainingState:
    """The optimiser, fit options, rng, history and initial epoch for ``fit``: fresh, or from
    ``checkpoint`` = (optimizer state, state dict) as :func:`load_checkpoint` gives them."""
    from .optimizers import get_optimizer
    from .training import History

    opts = fit_options(cfg)
    optimizer = get_optimizer(opts.pop("optimizer"), momentum=opts.pop("momentum"),
                              weight_decay=opts.pop("weight_decay"))
    history, initial_epoch = History(), 0
    rng = np.random.default_rng(cfg["seed"] + 7919)
    if checkpoint:
        opt_state, state = checkpoint
        optimizer.load_state_dict(opt_state)
        initial_epoch = int(state["epochs_done"])
        rng.bit_generator.state = state["rng"]
        for k, v in state["history"].items():
            setattr(history, k, v)
        history.updates = int(state.get("updates", 0))
        history.best_weights = state.get("best_weights")
    return TrainingState(optimizer, opts, rng, history, initial_epoch)


def resumed_network(saved: Network, cfg: dict, chip=None) -> Network:
    """The network of a checkpoint, on the run's substrate: a chip trained in situ is the one
    the checkpoint saved, its devices as the run left them."""
    return saved if saved.substrate.name == "analog" else saved.on(substrate(cfg, chip))


class EpochKeeper(Callback):
    """Keeps the training state as it was at the end of the last complete epoch (weights,
    optimiser state, random generator, updates, and what the substrate holds of its own: a
    chip's devices, generator and counters, ``Substrate.snapshot``), so that a run stopped
    mid-epoch saves a checkpoint from which ``--resume`` repeats that epoch exactly; and calls
    ``save`` (which writes the checkpoint from the live state) at the end of an epoch when
    ``every`` seconds have passed since the last (0: every epoch), except after the last
    epoch, which the results follow."""

    batch_by_batch = False  # it needs the epochs' ends only

    def __init__(self, optimizer, rng, history, save=None, every=None):
        self.optimizer, self.rng, self.history, self.save = optimizer, rng, history, save
        self.every = every
        self.net = self.epochs = self._kept = None
        self._saved_at = 0.0

    def on_train_begin(self, network, info):
        import time

        self.net, self.epochs = network, info["epochs"]
        self._saved_at = time.monotonic()
        self._keep()

    def on_epoch_end(self, epoch, logs):
        import time

        self._keep()
        due = self.every is not None and time.monotonic() - self._saved_at >= self.every
        if self.save is not None and due and epoch + 1 < self.epochs:
            self.save()
            self._saved_at = time.monotonic()

    def _keep(self):
        self._kept = (self.net.get_weights(),
                      {k: np.array(v) for k, v in self.optimizer.state_dict().items()},
                      self.rng.bit_generator.state, self.history.updates,
                      self.net.substrate.snapshot())

    def restore(self):
        """Put the state of the last epoch's end back (after a stop in the middle of one)."""
        weights, opt_state, rng_state, updates, substrate = self._kept
        self.net.set_weights(weights)
        self.net.substrate.restore_snapshot(substrate)
        self.optimizer.load_state_dict(opt_state)
        self.rng.bit_generator.state = rng_state
        self.history.updates = updates


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit_run` did: the history (all the run's epochs), the seconds it trained,
    the model file's metadata, and whether it stopped on request with a checkpoint saved."""

    history: object
    seconds: float
    meta: dict
    stopped: bool
    epochs: int  # trained in this call, after those of a resumed checkpoint


def fit_run(folder: RunFolder, net, prep: Prepared, cfg: dict, state: TrainingState, *,
            every=None, callbacks=(), stop_requested=None) -> Fitted:
    """Train ``net`` on ``prep`` from ``state``, saving a checkpoint into ``folder`` at the end
    of an epoch once ``every`` seconds have passed since the last (None: never; see
    :class:`EpochKeeper`). When ``stop_requested()`` is true after ``fit`` stopped (a callback
    passed on a Ctrl-C), the state of the last complete epoch is put back and saved as the
    checkpoint: resumed, the run repeats the epoch it was in, as an uninterrupted run would
    have trained it."""
    optimizer, opts, rng, history, initial_epoch = state
    if folder.resume:  # the checkpoint on disk is the one this run started from
        folder.checkpoint_epochs = initial_epoch
    meta = model_metadata(cfg, prep)
    keeper = EpochKeeper(optimizer, rng, history, every=every,
                         save=lambda: folder.save_checkpoint(net, meta, optimizer, rng,
                                                             history, cfg))
    val = None if prep.X_val is None else (prep.X_val, prep.y_val)
    augment = augmentation(cfg, prep)
    t0 = time.perf_counter()
    history = net.fit(prep.X_train, prep.y_train, optimizer=optimizer, seed=rng,
                      validation_data=val, callbacks=[*callbacks, keeper], augment=augment,
                      initial_epoch=initial_epoch, history=history, **opts)
    seconds = time.perf_counter() - t0
    stopped = bool(history.interrupted and stop_requested is not None and stop_requested())
    if stopped:
        keeper.restore()
        # (what the substrate says of itself, a chip's pulse counts, as of that epoch's end)
        net.train_config["substrate"] = net.substrate.describe()
        folder.save_checkpoint(net, meta, optimizer, rng, history, cfg)
    return Fitted(history, seconds, meta, stopped, len(history) - initial_epoch)


def save_results(folder: RunFolder, net, prep: Prepared, history, cfg: dict, meta: dict,
                 seconds: float, plots: bool = True, extra: dict | None = None
                 ) -> tuple[dict, dict]:
    """Write the model, model.json, config.toml, history.csv, metrics.json and the plots,
    all put in place together (model.safetensors last); then remove the checkpoint and any
    file of a run this one replaced (--force) that it did not write. Returns (metrics, the
    test evaluation)."""
    from .model_file import save

    run_dir = folder.path
    test = net.evaluate(prep.X_test, prep.y_test, loss=cfg["loss"])
    metrics = {"dataset": cfg["dataset"], "test_accuracy": test.get("accuracy"),
               "test_loss": test["loss"], "test_samples": test["n"], "epochs": len(history),
               "updates": history.updates, "train_seconds": round(seconds, 3),
               "final_train_loss": history.loss[-1] if history.loss else None,
               "stopped_early": history.stopped_early,
               "network": repr(net), "engine": net.train_config.get("engine"),
               "substrate": net.train_config.get("substrate"),
               "run_dir": str(run_dir)}
    if history.val_accuracy and history.val_accuracy[-1] is not None:
        metrics["val_accuracy"] = history.val_accuracy[-1]
    metrics.update(extra or {})
    with files.Staged(run_dir) as staged:
        staged.write_text("config.toml", to_toml(cfg))
        staged.write_text("history.csv", history_csv(history))
        staged.write_text("model.json", to_json({"network": net.config(),
                                                 "training": net.train_config, **meta}))
        staged.write_text("metrics.json", to_json(metrics))
        if plots:
            write_plots(net, prep, history, staged, cfg["dataset"])
        with staged.file("model.safetensors") as path:
            save(net, path, metadata=meta)
        written = set(staged.names)
        staged.commit(last="model.safetensors")
    for name in RUN_FILES:  # the checkpoint, and what a replaced run had that this one has not
        if name not in written:
            (run_dir / name).unlink(missing_ok=True)
    return metrics, test


def write_plots(net, prep: Prepared, history, staged: files.Staged, dataset: str) -> None:
    """curves.png, confusion.png (classes) and boundary.png (2-D data), into ``staged``."""
    from . import plots

    acts = "/".join(dict.fromkeys(l.activation.name for l in net.layers))
    with staged.file("curves.png") as path:
        plots.plot_history(history, path,
                           title=f"{dataset}: {' → '.join(map(str, net.sizes))} ({acts})")
    pred = net.classify(prep.X_test)
    k = prep.dataset.n_classes
    if int(pred.max(initial=0)) < k and net.n_outputs in (1, k):
        cm = plots.confusion_matrix(prep.y_test, pred, k)
        with staged.file("confusion.png") as path:
            plots.plot_confusion(cm, prep.dataset.class_names, path)
    if prep.dataset.n_features == 2:
        official = prep.dataset.X_test is not None
        X_all = np.vstack([prep.dataset.X] + ([prep.X_test_raw] if official else []))
        y_all = np.concatenate([prep.dataset.y] + ([prep.y_test] if official else []))
        with staged.file("boundary.png") as path:
            plots.plot_decision_boundary(
                lambda P: net.classify(prep.scaler.transform(P, net.dtype)), X_all, y_all,
                path, title=f"{dataset}: decision boundary")


# -- a saved model ----------------------------------------------------------------------------
def load_model(path, chip: bool = False):
    """(network, the metadata saved with it) from a model file. A model trained on a chip
    in situ comes back on that chip, its devices as training left them, with ``chip``;
    otherwise on the digital substrate (the weights its devices held)."""
    from .model_file import load
    from .substrate import Digital

    net, user, _ = load(path, with_extras=True)
    if not chip and not isinstance(net.substrate, Digital):
        net = net.on(Digital())
    return net, user


@dataclass
class HeldOut:
    """A saved model and the data to score it on, scaled as its training data was."""
    network: Network
    user: dict  # the metadata saved with the model
    dataset: str
    X: np.ndarray
    y: np.ndarray
    seed: int  # of the data's draw and split
    warning: str | None = None  # the raw inputs are far from those the network saw
    chip: Network | None = None  # the network on the chip it trained on, if saved with one
    # the data set as loaded (raw) and the fraction its run held out, for ``training_split``
    source: datasets.Dataset | None = None
    test_split: float = 0.2


def load_held_out(model, dataset=None, *, data_dir=None, label_column=None,
                  seed=None) -> HeldOut:
    """The model file ``model`` and its held-out data: on the dataset it was trained on, the
    samples its run held out (the official test set, or the run's own seeded split, never
    training data); on another ``dataset``, that set's test set, or all of it.

    ``seed`` replaces the run's seed of the draw and split."""
    from .datasets.preprocessing import model_scaler
    from .substrate import Digital

    net, user = load_model(model, chip=True)
    trained = None
    if not isinstance(net.substrate, Digital):
        trained, net = net, net.on(Digital())
    name = dataset or user.get("dataset")
    if not name:
        raise ConfigError("the model does not record its dataset; pass --dataset")
    same = name == user.get("dataset")
    drawn = user.get("data", {}) if same else {}  # the training run's draw and split
    seed = drawn.get("seed", 0) if seed is None else seed
    ds = datasets.load(name, data_dir=data_dir,
                       label_column=label_column or drawn.get("label_column"),
                       n_samples=drawn.get("n_samples"), noise=drawn.get("noise"), seed=seed)
    test_split = drawn.get("test_split", 0.2)
    if same:
        _, _, X, y = split_test(ds, test_split, seed)
    else:
        X, y = (ds.X, ds.y) if ds.X_test is None else (ds.X_test, ds.y_test)
    if X.shape[1] != net.n_inputs:
        raise DataError(f"dataset {name!r} has {X.shape[1]} features but the model expects "
                        f"{net.n_inputs}")
    scaler = model_scaler(user, net.n_inputs)
    return HeldOut(net, user, name, scaler.transform(X, net.dtype), y, seed,
                   scaler.range_warning(X, what=f"the inputs of dataset {name!r}"), trained,
                   ds, test_split)


def training_split(held: HeldOut):
    """(X, y): the training split of ``held``'s dataset (the samples its run trained on, on
    the dataset it was trained on), scaled as it was trained: from the data
    ``load_held_out`` loaded, not loaded again."""
    from .datasets.preprocessing import model_scaler

    if held.source is None:
        raise ValueError("training_split needs the HeldOut of load_held_out (its data set)")
    X, y, _, _ = split_test(held.source, held.test_split, held.seed)
    return model_scaler(held.user, held.network.n_inputs).transform(X, held.network.dtype), y


def chip_fit_options(net) -> dict:
    """The fit options to train ``net`` again in situ on a chip: its own learning rate, loss,
    mode and batch size, with plain gradient descent (the update a chip applies)."""
    tc = net.train_config or {}
    mode = tc.get("mode", "minibatch")
    opts = {"learning_rate": tc.get("learning_rate", 0.1), "loss": tc.get("loss", "squared_error"),
            "optimizer": "sgd", "mode": mode}
    if mode == "minibatch":
        opts["batch_size"] = tc.get("batch_size", 32)
    return opts


def write_reproduction(out_dir, result, json_file=None) -> None:
    """NeuroSim's benchmark report ``result`` into ``out_dir``: neurosim.json, neurosim.csv
    (test accuracy per epoch, a column per configuration) and neurosim.png; also the JSON to
    ``json_file``, if given."""
    from .plots import plot_reproduction

    out_dir = Path(out_dir)
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
