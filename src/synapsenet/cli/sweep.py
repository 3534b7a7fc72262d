"""``synapsenet sweep``: accuracy on the simulated chip against one of its parameters."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from . import chip, ui


def add_parser(sub):
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
    s.add_argument("--samples", type=int, help="use only the first N held-out samples")
    s.add_argument("--out", metavar="DIR", help="write sweep.csv, sweep.json and sweep.png here")
    s.add_argument("--json", action="store_true", help="print the rows as JSON")


def parse_values(spec: str) -> list:
    """``A..B`` (integers), ``A,B,C`` or ``START:STOP:COUNT`` as a list of values."""
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


def run(args) -> int:
    from .. import runs

    if "=" not in args.vary:
        raise ConfigError("--vary needs NAME=VALUES, e.g. adc_bits=2..8")
    name, spec = (s.strip() for s in args.vary.split("=", 1))
    chip.check_parameter(name)
    values = parse_values(spec)
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be ≥ 1, got {args.seeds}")
    if args.samples is not None and args.samples < 1:  # -5 dropped the last five samples
        raise ConfigError(f"--samples must be ≥ 1, got {args.samples}")
    cfg = chip.load_config(args.hardware)
    data = runs.load_held_out(args.model, args.dataset, data_dir=args.data_dir)
    ui.warn(data.warning)
    net, X, y = data.network, data.X[:args.samples], data.y[:args.samples]
    digital = float(np.mean(net.classify(X) == y))
    rows = chip.sweep(net, cfg, X, y, name, values, args.seeds)
    summary = [{"value": v, "mean": float(np.mean(a)), "std": float(np.std(a)),
                "min": float(np.min(a)), "max": float(np.max(a))}
               for v in values for a in [[r["accuracy"] for r in rows if r["value"] == v]]]
    result = {"model": args.model, "hardware": cfg.name, "parameter": name,
              "digital_accuracy": digital, "samples": len(X), "seeds": args.seeds,
              "summary": summary, "rows": rows}
    title = f"{data.dataset} on '{cfg.name}'"
    if args.out:
        _write(Path(args.out), result, f"{title}: accuracy vs {name}")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    out = ui.console()
    ui.table((name, "mean", "± std", "min", "max", "vs digital"),
             [(str(s["value"]), ui.percent(s["mean"]), f"{100 * s['std']:.2f}",
               ui.percent(s["min"]), ui.percent(s["max"]), f"{100 * (s['mean'] - digital):+.2f}")
              for s in summary], justify="right", out=out,
             title=f"{title} hardware: accuracy vs {name} ({args.seeds} chips each; digital "
             f"{ui.percent(digital)})")
    if args.out:
        out.print(f"wrote {Path(args.out) / 'sweep.csv'}, sweep.json and sweep.png")
    return 0


def _write(out: Path, result: dict, title: str) -> None:
    """sweep.csv, sweep.json and sweep.png, put in place together: a failed write (a full
    disk) leaves the folder as it was, and removes it if it was made for them."""
    from ..files import Staged
    from ..plots import plot_sweep

    rows = result["rows"]
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lines = ["parameter,value,seed,accuracy"] + [
        f"{r['parameter']},{r['value']},{r['seed']},{r['accuracy']:.6f}" for r in rows]
    try:
        with Staged(out) as staged:
            staged.write_text("sweep.csv", "\n".join(lines) + "\n")
            staged.write_text("sweep.json", json.dumps(result, indent=2) + "\n")
            with staged.file("sweep.png") as path:
                plot_sweep(rows, result["parameter"], path,
                           reference=result["digital_accuracy"], title=title)
            staged.commit()
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
