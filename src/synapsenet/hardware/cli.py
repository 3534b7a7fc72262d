"""``synapsenet sweep`` and ``synapsenet hardware``: the chip from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError

TIME = "time"  # pseudo-parameter of a sweep: seconds since programming (drift)


def add_commands(sub):
    s = sub.add_parser("sweep", help="accuracy on simulated hardware against one parameter",
                       description="Deploy a trained model on simulated hardware many times, "
                       "varying one parameter (any numeric hardware parameter, or 'time' for "
                       "drift), over several seeds; write a table and a plot with the digital "
                       "accuracy as reference.")
    s.add_argument("model", help="model file (.safetensors)")
    s.add_argument("--vary", required=True, metavar="NAME=VALUES",
                   help="e.g. adc_bits=2..8, read_noise=0,0.01,0.05, time=20,3600,86400, "
                   "prog_noise=0:0.1:6 (start:stop:count)")
    s.add_argument("--hardware", default="pcm", metavar="PRESET|FILE.toml",
                   help="the chip the parameter varies on (default: pcm)")
    s.add_argument("--seeds", type=int, default=3, help="chips per value (default 3)")
    s.add_argument("--dataset", help="dataset (default: the model's)")
    s.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST IDX files")
    s.add_argument("--samples", type=int, help="use only the first N test samples")
    s.add_argument("--out", metavar="DIR", help="write sweep.csv, sweep.json and sweep.png here")
    s.add_argument("--json", action="store_true", help="print the rows as JSON")

    h = sub.add_parser("hardware", help="list hardware presets or print one as TOML")
    h.add_argument("preset", nargs="?", help="preset name or file to print as TOML")


def parse_values(spec: str) -> list:
    spec = spec.strip()
    try:
        if ".." in spec:
            a, b = spec.split("..")
            a, b = int(a), int(b)
            if b < a:
                raise ValueError
            return list(range(a, b + 1))
        if spec.count(":") == 2:
            a, b, n = spec.split(":")
            return [float(v) for v in np.linspace(float(a), float(b), int(n))]
        vals = [float(v) for v in spec.split(",") if v.strip()]
        if not vals:
            raise ValueError
        return [int(v) if v.is_integer() and "." not in spec else v for v in vals]
    except ValueError:
        raise ConfigError(f"--vary values {spec!r} are not understood; use A..B (integers), "
                          "A,B,C or START:STOP:COUNT") from None


def run_sweep(net, cfg, X, y, parameter, values, seeds=3):
    """Rows of {value, seed, accuracy} for the network on the chip ``cfg``."""
    from . import deploy

    rows = []
    for v in values:
        chip_cfg = cfg if parameter == TIME else cfg.replace(**{parameter: v})
        for seed in range(seeds):
            chip = deploy(net, chip_cfg, seed=seed)
            if parameter == TIME:
                chip.drift(float(v))
            rows.append({"parameter": parameter, "value": v, "seed": seed,
                         "accuracy": chip.evaluate(X, y)})
    return rows


def cmd_sweep(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from .. import datasets
    from ..cli import _load_model, _scaler
    from ..files import atomic_write_text
    from .config import load_config, resolve_parameter

    if "=" not in args.vary:
        raise ConfigError("--vary needs NAME=VALUES, e.g. adc_bits=2..8")
    name, spec = args.vary.split("=", 1)
    name = name.strip()
    if name != TIME:
        resolve_parameter(name)
    values = parse_values(spec)
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be ≥ 1, got {args.seeds}")
    net, user = _load_model(args.model)
    cfg = load_config(args.hardware)
    ds_name = args.dataset or user.get("dataset")
    if not ds_name:
        raise ConfigError("the model does not record its dataset; pass --dataset")
    ds = datasets.load(ds_name, data_dir=args.data_dir)
    X, y = (ds.X_test, ds.y_test) if ds.X_test is not None else (ds.X, ds.y)
    if args.samples:
        X, y = X[:args.samples], y[:args.samples]
    X = _scaler(user, net).transform(X, net.dtype)
    digital = float(np.mean(net.classify(X) == y))
    rows = run_sweep(net, cfg, X, y, name, values, args.seeds)
    summary = []
    for v in values:
        accs = [r["accuracy"] for r in rows if r["value"] == v]
        summary.append({"value": v, "mean": float(np.mean(accs)), "std": float(np.std(accs)),
                        "min": float(np.min(accs)), "max": float(np.max(accs))})
    result = {"model": args.model, "hardware": cfg.name, "parameter": name,
              "digital_accuracy": digital, "samples": len(X), "seeds": args.seeds,
              "summary": summary, "rows": rows}
    if args.out:
        from ..plots import plot_sweep

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        lines = ["parameter,value,seed,accuracy"] + [
            f"{r['parameter']},{r['value']},{r['seed']},{r['accuracy']:.6f}" for r in rows]
        atomic_write_text(out / "sweep.csv", "\n".join(lines) + "\n")
        atomic_write_text(out / "sweep.json", json.dumps(result, indent=2) + "\n")
        plot_sweep(rows, name, out / "sweep.png", reference=digital,
                   title=f"{ds_name} on '{cfg.name}': accuracy vs {name}")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    c = Console(highlight=False)
    t = Table(title=f"{ds_name} on '{cfg.name}' hardware: accuracy vs {name} "
                    f"({args.seeds} chips each; digital {100 * digital:.2f}%)", show_edge=False)
    for col in (name, "mean", "± std", "min", "max", "vs digital"):
        t.add_column(col, justify="right")
    for s in summary:
        t.add_row(str(s["value"]), f"{100 * s['mean']:.2f}%", f"{100 * s['std']:.2f}",
                  f"{100 * s['min']:.2f}%", f"{100 * s['max']:.2f}%",
                  f"{100 * (s['mean'] - digital):+.2f}")
    c.print(t)
    if args.out:
        c.print(f"wrote {Path(args.out) / 'sweep.csv'}, sweep.json and sweep.png")
    return 0


def cmd_hardware(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from .config import PRESETS, load_config, to_toml

    if args.preset:
        print(to_toml(load_config(args.preset)), end="")
        return 0
    c = Console(highlight=False)
    t = Table(show_edge=False)
    for col in ("preset", "levels", "g range µS", "noise prog/read", "DAC/ADC bits", "tile",
                "source"):
        t.add_column(col, overflow="fold")
    for name in PRESETS:
        h = load_config(name)
        d, io = h.device, h.io
        t.add_row(name, str(d.levels or "continuous"), f"{d.g_min:g}–{d.g_max:g}",
                  f"{d.prog_noise:g}/{d.read_noise:g}",
                  f"{io.dac_bits or '∞'}/{io.adc_bits or '∞'}", f"{h.tile.rows}×{h.tile.cols}",
                  h.source[:120] + ("…" if len(h.source) > 120 else ""))
    c.print(t)
    c.print("Print one as TOML to edit it: synapsenet hardware pcm > chip.toml; then "
            "synapsenet evaluate MODEL --hardware chip.toml")
    return 0
