"""``synapsenet evaluate``: a saved model's metrics on a dataset, digitally or on a chip."""

from __future__ import annotations

import json

from ..errors import ConfigError, DataError
from . import chip, ui


def add_parser(sub):
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


def run(args) -> int:
    from .. import datasets, runs

    net, user = runs.load_model(args.model)
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
    Xs = runs.model_scaler(user, net).transform(X, net.dtype)
    loss = net.train_config.get("loss", "squared_error")
    result = {"dataset": name, "samples": len(X), **{k: v for k, v in
                                                     net.evaluate(Xs, y, loss).items() if k != "n"}}
    if args.hardware:
        on_chip = chip.score(net, args.hardware, Xs, y, seed)
        result["hardware"] = args.hardware
        result["digital_accuracy"] = result.pop("accuracy", None)
        result.update(on_chip)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    out = ui.console()
    for k, v in result.items():
        if k != "energy":
            out.print(f"{k:>18}: {ui.percent(v)}" if "accuracy" in k and v is not None
                      else f"{k:>18}: {v}")
    if "energy" in result:
        e = result["energy"]
        out.print(f"{'energy / inference':>18}: analog {e['analog_j_per_inference']:.3g} J, "
                  f"digital {e['digital_j_per_inference']:.3g} J")
    return 0
