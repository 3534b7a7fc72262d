"""``synapsenet info``: what a saved model is, how big, and how it was trained."""

from __future__ import annotations

import json

from . import ui


def add_parser(sub):
    i = sub.add_parser("info", help="describe a saved model")
    i.add_argument("model", help="model file (.safetensors)")
    i.add_argument("--json", action="store_true", help="print as JSON")


def run(args) -> int:
    from .. import runs
    from ..substrate import Digital

    net, user = runs.load_model(args.model, chip=True)
    # a chip trained in situ, saved with the model (evaluate --hardware alone reads it)
    chip = None if isinstance(net.substrate, Digital) else net.substrate.describe()
    info = {"file": args.model, "layers": [repr(l) for l in net.layers], "sizes": net.sizes,
            "parameters": net.n_params, "macs_per_inference": net.macs_per_sample,
            "dtype": str(net.dtype), "dataset": user.get("dataset"),
            "preprocessing": (user.get("preprocessing") or {}).get("kind"),
            "classes": user.get("class_names"), "training": net.train_config,
            "trained_chip": chip}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    out = ui.console()
    out.print(f"[bold]{args.model}[/bold]: {net!r}")
    rows = [(str(i), f"{l.n_out}×{l.n_in}", str(l.n_out), repr(l.activation), f"{l.n_params:,}",
             f"{l.n_in * l.n_out:,}") for i, l in enumerate(net.layers, 1)]
    rows.append(("total", "", "", "", f"{net.n_params:,}", f"{net.macs_per_sample:,}"))
    ui.table(("layer", "synapses W", "neurons", "activation", "parameters", "MACs"), rows,
             justify="right", out=out)
    out.print(f"multiply-accumulates per inference: {net.macs_per_sample:,}; dtype {net.dtype}")
    if user.get("dataset"):
        out.print(f"trained on {user['dataset']} ({info['preprocessing']} scaling)")
    if net.train_config:
        tc = net.train_config
        out.print(f"training: loss {tc.get('loss')}, mode {tc.get('mode')}, batch "
                  f"{tc.get('batch_size')}, η {tc.get('learning_rate')}, optimizer "
                  f"{optimizer_text(tc.get('optimizer') or {})}, schedule "
                  f"{schedule_text(tc.get('schedule') or {})}, epochs {tc.get('epochs')}"
                  + substrate_text(tc)
                  + (f", engine {tc['engine']}" if tc.get("engine") else ""))
    if chip:
        out.print(f"holds the chip it trained on: {chip.get('hardware')!r} with "
                  f"{chip.get('device')} devices ({chip.get('scheme')} pulses, "
                  f"{chip.get('pulses', 0):,} of them); `synapsenet evaluate MODEL "
                  "--hardware` evaluates on those devices")
    return 0


def substrate_text(tc: dict) -> str:
    """The synapses' limits and noise of the run, from its substrate (older model files
    kept them beside the optimiser)."""
    sub = tc.get("substrate") or {}
    bound = sub.get("weight_bound", tc.get("weight_bound"))
    noise = sub.get("weight_noise", tc.get("weight_noise"))
    return (f", weight bound {bound:g}" if bound else "") + \
        (f", train noise {noise:g}" if noise else "")


def optimizer_text(o: dict) -> str:
    """The optimiser as --optimizer names it: momentum and Nesterov are SGD with a momentum."""
    name = o.get("name") or "?"
    if name == "sgd" and o.get("momentum"):
        name = f"{'nesterov' if o.get('nesterov') else 'momentum'} (momentum {o['momentum']:g})"
    return name + (f", weight decay {o['weight_decay']:g}" if o.get("weight_decay") else "")


def schedule_text(s: dict) -> str:
    """'constant', or e.g. 'step (step_size 10, gamma 0.1)'."""
    params = ", ".join(f"{k} {v:g}" for k, v in s.items() if k != "name")
    return (s.get("name") or "constant") + (f" ({params})" if params else "")
