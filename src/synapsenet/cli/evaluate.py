"""``synapsenet evaluate``: a saved model's metrics on a dataset, digitally or on a chip."""

from __future__ import annotations

import json

from . import chip, ui


def add_parser(sub):
    e = sub.add_parser("evaluate", help="evaluate a saved model on a dataset")
    e.add_argument("model", help="model file (.safetensors)")
    e.add_argument("--dataset", help="dataset (default: the one it was trained on)")
    e.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST IDX files")
    e.add_argument("--label-column", help="CSV label column")
    e.add_argument("--hardware", metavar="PRESET|FILE.toml", nargs="?", const="",
                   help="run on simulated analog hardware (see 'synapsenet hardware'); alone, "
                   "or naming the chip a model trained in situ on, on that chip's devices as "
                   "training left them")
    e.add_argument("--seed", type=int, default=None,
                   help="seed of the data split and the simulated chip (default: the training "
                   "run's)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")


def run(args) -> int:
    from .. import runs

    data = runs.load_held_out(args.model, args.dataset, data_dir=args.data_dir,
                              label_column=args.label_column, seed=args.seed)
    ui.warn(data.warning)
    net, X, y = data.network, data.X, data.y
    loss = net.train_config.get("loss", "squared_error")
    result = {"dataset": data.dataset, "samples": len(X),
              **{k: v for k, v in net.evaluate(X, y, loss).items() if k != "n"}}
    if args.hardware is not None:
        on_chip, said = chip.score_model(data, args.hardware, X, y, data.seed)
        result["hardware"] = args.hardware or data.chip.substrate.config.name
        result["chip"] = said
        result["digital_loss"] = result.pop("loss")
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
                  f"digital ({e['digital_baseline']}) {e['digital_j_per_inference']:.3g} J, "
                  f"counted on the {e['samples']} {data.dataset} inputs evaluated (more in "
                  f"'synapsenet cost')")
    return 0
