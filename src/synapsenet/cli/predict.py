"""``synapsenet predict``: classes and outputs of a saved model for inputs in a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import DataError
from . import ui


def add_parser(sub):
    pr = sub.add_parser("predict", help="predict classes for inputs in a CSV or NPZ file")
    pr.add_argument("model", help="model file (.safetensors)")
    pr.add_argument("input", help="CSV (features only, optional header) or NPZ (array X)")
    pr.add_argument("--output", "-o", help="write here (.csv or .json); default: stdout CSV")
    pr.add_argument("--format", choices=("csv", "json"), help="output format")


def run(args) -> int:
    from .. import runs
    from ..datasets.files import load_features
    from ..datasets.preprocessing import model_scaler
    from ..files import atomic_write_text

    net, user = runs.load_model(args.model)
    path = Path(args.input)
    X = load_features(path)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise DataError(f"{str(path)!r} has {X.shape[-1]} features per row but the model expects "
                        f"{net.n_inputs}")
    scaler = model_scaler(user, net.n_inputs)
    ui.warn(scaler.range_warning(X, what=f"the inputs in {str(path)!r}"))
    Z = net.predict(scaler.transform(X, net.dtype))
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
    return 0
