"""Training runs: resolved options, data preparation, the run folder, checkpoints.

A run folder holds everything needed to inspect or repeat a run::

    model.safetensors   the trained network (+ preprocessing, class names in its header)
    model.json          the same description as plain JSON, for people and other tools
    config.toml         every option, fully resolved: `synapsenet train --config` repeats it
    history.csv         loss and accuracy per epoch
    metrics.json        final test metrics
    curves.png, confusion.png, boundary.png (2-D data)
    checkpoint.safetensors   only while a run is interrupted: `synapsenet train --resume`
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import datasets
from .errors import ConfigError, DataError, SynapseError
from .files import atomic_write_text, jsonable, read_toml
from .network import Network


@dataclass(frozen=True)
class Option:
    name: str
    type: type
    default: object
    help: str
    choices: tuple | None = None
    group: str = "training"


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
    Option("loss", str, "squared_error", "cost function",
           ("squared_error", "cross_entropy", "binary_cross_entropy")),
    Option("mode", str, "minibatch", "learning mode", ("minibatch", "sgd", "batch")),
    Option("batch_size", int, 16, "samples per mini-batch"),
    Option("n_batches", int, None, "split the data into this many mini-batches instead"),
    Option("epochs", int, 40, "passes over the training data"),
    Option("learning_rate", float, 1.0, "η in w ← w − η ∂E/∂w"),
    Option("optimizer", str, "sgd", "update rule", ("sgd", "momentum", "nesterov", "adam")),
    Option("momentum", float, None, "momentum μ (default 0.9 for momentum/nesterov)"),
    Option("weight_decay", float, 0.0, "L2 penalty λ on the weights"),
    Option("schedule", str, "constant", "learning-rate schedule", ("constant", "step", "cosine")),
    Option("weight_bound", float, None, "keep every synapse in [−w, w] (textbook: 1)"),
    Option("early_stopping", bool, False, "stop when the validation loss stops improving"),
    Option("patience", int, 10, "epochs without improvement before stopping"),
    Option("train_noise", float, 0.0, "hardware-aware training: relative weight noise "
           "injected in every forward pass"),
    Option("augment", str, "none", "data augmentation of image rows every epoch",
           ("none", "shift"), "data"),
    Option("seed", int, 0, "seed of every random draw"),
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
        cfg = load_run_config(resume)
        checkpoint = load_checkpoint(resume)
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


def prepare(cfg: dict, progress=None) -> Prepared:
    """Load, split and scale the data as the options say (seeded: the same every time)."""
    ds = datasets.load(cfg["dataset"], data_dir=cfg.get("data_dir"), n_samples=cfg.get("n_samples"),
                       noise=cfg.get("noise"), seed=cfg["seed"],
                       label_column=cfg.get("label_column"), progress=progress)
    X, y, Xte, yte = split_test(ds, cfg["test_split"], cfg["seed"])
    Xv = yv = None
    if cfg.get("val_split"):
        X, Xv, y, yv = datasets.split(X, y, cfg["val_split"], seed=cfg["seed"] + 1)
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


def build_network(cfg: dict, n_features: int, n_classes: int) -> Network:
    n_out = 1 if n_classes == 2 and cfg["output"] in ("sigmoid", "tanh") else n_classes
    sizes = [n_features] + parse_layers(cfg["layers"]) + [n_out]
    net = Network.from_sizes(sizes, hidden=cfg["hidden"], output=cfg["output"],
                             init=cfg.get("init"), dropout=cfg.get("dropout", 0.0),
                             seed=cfg["seed"], dtype=cfg["dtype"])
    return net.on(substrate(cfg))


def substrate(cfg: dict):
    """The substrate a run trains on: digital, with the synapses' bound, or noisy digital
    (hardware-aware training) when ``train_noise`` is set."""
    from .substrate import Digital, NoisyDigital

    if cfg.get("train_noise"):
        return NoisyDigital(cfg["train_noise"], weight_bound=cfg.get("weight_bound"))
    return Digital(weight_bound=cfg.get("weight_bound"))


def fit_options(cfg: dict) -> dict:
    mode = cfg["mode"]
    by_size = mode == "minibatch" and cfg.get("n_batches") is None  # (0 is refused by fit)
    return dict(epochs=cfg["epochs"], learning_rate=cfg["learning_rate"], loss=cfg["loss"],
                mode=mode, batch_size=cfg["batch_size"] if by_size else None,
                n_batches=cfg.get("n_batches") if mode == "minibatch" else None,
                optimizer=cfg["optimizer"], momentum=cfg.get("momentum"),
                weight_decay=cfg["weight_decay"], schedule=cfg["schedule"],
                early_stopping=cfg["early_stopping"],
                patience=cfg["patience"])


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
            "data": {k: cfg.get(k) for k in ("seed", "test_split", "n_samples", "noise",
                                             "label_column")}}


# -- outputs ------------------------------------------------------------------------------
def history_csv(history) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(history.COLUMNS)
    for row in history.rows():
        w.writerow(["" if row[c] is None else (f"{row[c]:.8g}" if isinstance(row[c], float)
                                               else row[c]) for c in history.COLUMNS])
    return buf.getvalue()


def write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=jsonable) + "\n")


def new_run_dir(out: str | None, dataset: str, force: bool, create: bool = True) -> Path:
    """The run folder; an existing non-empty one is an error unless ``force``."""
    if out is None:
        import time

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
        if path.exists() and (not path.is_dir() or any(path.iterdir())) and not force:
            raise ConfigError(f"run folder {str(path)!r} exists and is not empty; choose "
                              "another --out, or pass --force to overwrite it")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def load_run_config(run_dir) -> dict:
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a run folder (it has no config.toml)")
    cfg = defaults()
    cfg.update(read_config(run_dir / "config.toml"))
    return cfg


def load_checkpoint(run_dir):
    """(network, optimizer state, state dict) from an interrupted run."""
    from .model_file import load

    path = Path(run_dir) / "checkpoint.safetensors"
    if not path.is_file():
        raise ConfigError(f"{str(run_dir)!r} has no checkpoint.safetensors to resume from "
                          "(the run finished, or was not interrupted)")
    net, user, extras = load(path, with_extras=True)
    state = user.get("checkpoint")
    if not state:
        raise SynapseError(f"{str(path)!r} is a model, not a training checkpoint")
    opt_state = {k[len("optimizer."):]: v for k, v in extras.items() if k.startswith("optimizer.")}
    return net, opt_state, state


# -- training state and the run folder's results ----------------------------------------------
def training_state(cfg: dict, checkpoint=None):
    """(optimizer, fit options, rng, history, initial epoch) for ``fit``: fresh, or from
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
    return optimizer, opts, rng, history, initial_epoch


def save_checkpoint(run_dir, net, meta: dict, optimizer, rng, history) -> None:
    """checkpoint.safetensors: the network, the optimiser's state, the rng and the history."""
    from .model_file import save

    state = {"epochs_done": len(history), "rng": rng.bit_generator.state,
             "history": {c: getattr(history, c) for c in history.COLUMNS}}
    extras = {f"optimizer.{k}": v for k, v in optimizer.state_dict().items()}
    save(net, Path(run_dir) / "checkpoint.safetensors", metadata={**meta, "checkpoint": state},
         extra_tensors=extras)


def save_results(run_dir, net, prep: Prepared, history, cfg: dict, meta: dict,
                 seconds: float) -> tuple[dict, dict]:
    """Write the model, model.json, history.csv and metrics.json, remove the checkpoint;
    return (metrics, the test evaluation)."""
    from .model_file import save

    run_dir = Path(run_dir)
    save(net, run_dir / "model.safetensors", metadata=meta)
    write_json(run_dir / "model.json", {"network": net.config(), "training": net.train_config,
                                        **meta})  # the same description, for people
    atomic_write_text(run_dir / "history.csv", history_csv(history))
    test = net.evaluate(prep.X_test, prep.y_test, loss=cfg["loss"])
    metrics = {"dataset": cfg["dataset"], "test_accuracy": test.get("accuracy"),
               "test_loss": test["loss"], "test_samples": test["n"], "epochs": len(history),
               "updates": history.updates, "train_seconds": round(seconds, 3),
               "final_train_loss": history.loss[-1], "stopped_early": history.stopped_early,
               "network": repr(net), "engine": net.train_config.get("engine"),
               "run_dir": str(run_dir)}
    if history.val_accuracy and history.val_accuracy[-1] is not None:
        metrics["val_accuracy"] = history.val_accuracy[-1]
    write_json(run_dir / "metrics.json", metrics)
    ckpt = run_dir / "checkpoint.safetensors"
    if ckpt.exists():
        ckpt.unlink()
    return metrics, test


def write_plots(net, prep: Prepared, history, run_dir, dataset: str) -> None:
    """curves.png, confusion.png (classes) and boundary.png (2-D data)."""
    from . import plots

    run_dir = Path(run_dir)
    acts = "/".join(dict.fromkeys(l.activation.name for l in net.layers))
    plots.plot_history(history, run_dir / "curves.png",
                       title=f"{dataset}: {' → '.join(map(str, net.sizes))} ({acts})")
    pred = net.classify(prep.X_test)
    k = prep.dataset.n_classes
    if int(pred.max(initial=0)) < k and net.n_outputs in (1, k):
        cm = plots.confusion_matrix(prep.y_test, pred, k)
        plots.plot_confusion(cm, prep.dataset.class_names, run_dir / "confusion.png")
    if prep.dataset.n_features == 2:
        official = prep.dataset.X_test is not None
        X_all = np.vstack([prep.dataset.X] + ([prep.X_test_raw] if official else []))
        y_all = np.concatenate([prep.dataset.y] + ([prep.y_test] if official else []))
        plots.plot_decision_boundary(
            lambda P: net.classify(prep.scaler.transform(P, net.dtype)), X_all, y_all,
            run_dir / "boundary.png", title=f"{dataset}: decision boundary")


# -- a saved model ----------------------------------------------------------------------------
def load_model(path):
    """(network, the metadata saved with it) from a model file."""
    from .model_file import load

    net, user, _ = load(path, with_extras=True)
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


def load_held_out(model, dataset=None, *, data_dir=None, label_column=None,
                  seed=None) -> HeldOut:
    """The model file ``model`` and its held-out data: on the dataset it was trained on, the
    samples its run held out (the official test set, or the run's own seeded split, never
    training data); on another ``dataset``, that set's test set, or all of it.

    ``seed`` replaces the run's seed of the draw and split."""
    from .datasets.preprocessing import model_scaler

    net, user = load_model(model)
    name = dataset or user.get("dataset")
    if not name:
        raise ConfigError("the model does not record its dataset; pass --dataset")
    same = name == user.get("dataset")
    drawn = user.get("data", {}) if same else {}  # the training run's draw and split
    seed = drawn.get("seed", 0) if seed is None else seed
    ds = datasets.load(name, data_dir=data_dir,
                       label_column=label_column or drawn.get("label_column"),
                       n_samples=drawn.get("n_samples"), noise=drawn.get("noise"), seed=seed)
    if same:
        _, _, X, y = split_test(ds, drawn.get("test_split", 0.2), seed)
    else:
        X, y = (ds.X, ds.y) if ds.X_test is None else (ds.X_test, ds.y_test)
    if X.shape[1] != net.n_inputs:
        raise DataError(f"dataset {name!r} has {X.shape[1]} features but the model expects "
                        f"{net.n_inputs}")
    scaler = model_scaler(user, net.n_inputs)
    return HeldOut(net, user, name, scaler.transform(X, net.dtype), y, seed,
                   scaler.range_warning(X, what=f"the inputs of dataset {name!r}"))
