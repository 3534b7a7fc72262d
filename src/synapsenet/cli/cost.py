"""``synapsenet cost``: what a saved model costs — energy, latency and area per inference
(and per epoch of training) — on the simulated chip, beside digital processors, this
machine and the brain, every figure counted from a run and priced by ``synapsenet.cost``."""

from __future__ import annotations

import sys

import numpy as np

from ..errors import ConfigError
from . import chip, ui


def add_parser(sub):
    c = sub.add_parser(
        "cost", help="energy, latency and area: the chip, digital baselines, the brain",
        description="Count what a saved model's inference does on the simulated chip (on its "
        "held-out inputs), price every operation with published constants (each with its "
        "value, unit, node and source: docs/cost.md) and set it beside digital processors "
        "(fp32 and int8 at 45 nm, int8 at 7 nm, a datacentre GPU at its peak), this machine "
        "(measured) and the brain. For a model trained on the chip, or with --train-epoch, "
        "also the cost of an epoch of in-situ training.")
    c.add_argument("model", help="model file (.safetensors)")
    c.add_argument("--hardware", metavar="PRESET|FILE.toml",
                   help="the chip (default: the one the model was trained on, else pcm); a "
                   "file's [cost] table may set node = \"7nm\" and any constant by name")
    c.add_argument("--dataset", help="dataset (default: the model's)")
    c.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST IDX files")
    c.add_argument("--label-column", help="CSV label column")
    c.add_argument("--samples", type=int, default=1000,
                   help="held-out inputs to count on (default 1000)")
    c.add_argument("--node", choices=("45nm", "7nm"),
                   help="the chip's technology node (default: the file's [cost] node, else "
                   "45nm, the node of the digital baseline)")
    c.add_argument("--encoding", choices=("amplitude", "pwm"),
                   help="how inputs drive the rows (default: amplitude; bit-serial comes "
                   "from the hardware's io.bit_serial)")
    c.add_argument("--batch", type=int, default=256,
                   help="inferences per weight fetch of the batched digital baseline "
                   "(default 256)")
    c.add_argument("--watts", type=float,
                   help="this machine's power (W), to turn its measured time into energy")
    c.add_argument("--train-epoch", action="store_true",
                   help="also train a copy in situ for an epoch, counting its pulses (done "
                   "anyway for a model trained on the chip)")
    c.add_argument("--train-samples", type=int,
                   help="train on only the first N samples of the epoch and scale the counts "
                   "to the whole epoch (default: all)")
    c.add_argument("--seed", type=int, default=0, help="seed of the simulated chip (default 0)")
    c.add_argument("--chart", metavar="FILE.png", help="write a bar chart of the breakdown")
    c.add_argument("--json", metavar="FILE", help="write the whole ledger as JSON ('-': "
                   "standard output, and no table)")


def _check(args):
    for name in ("samples", "batch", "train_samples"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be ≥ 1, got {v}")
    if args.watts is not None and not args.watts > 0:
        raise ConfigError(f"--watts must be > 0, got {args.watts:g}")


def _training_data(data, data_dir, label_column):
    """The training split of the model's dataset, scaled as it was trained."""
    from .. import datasets, runs
    from ..datasets.preprocessing import model_scaler

    user, net = data.user, data.network
    drawn = user.get("data", {}) if data.dataset == user.get("dataset") else {}
    ds = datasets.load(data.dataset, data_dir=data_dir,
                       label_column=label_column or drawn.get("label_column"),
                       n_samples=drawn.get("n_samples"), noise=drawn.get("noise"),
                       seed=data.seed)
    X, y, _, _ = runs.split_test(ds, drawn.get("test_split", 0.2), data.seed)
    return model_scaler(user, net.n_inputs).transform(X, net.dtype), y


def _fit_options(net) -> dict:
    tc = net.train_config or {}
    mode = tc.get("mode", "minibatch")
    opts = {"learning_rate": tc.get("learning_rate", 0.1), "loss": tc.get("loss", "squared_error"),
            "optimizer": "sgd", "mode": mode}  # on the chip the update is plain descent
    if mode == "minibatch":
        opts["batch_size"] = tc.get("batch_size", 32)
    return opts


def _chip_of(args, trained_on) -> str:
    """The chip to cost: --hardware, else the preset the model was trained on, else pcm."""
    if args.hardware:
        return args.hardware
    name = trained_on.get("hardware") if trained_on.get("name") == "analog" else None
    if name is None:
        return "pcm"
    if name not in chip.preset_names():
        raise ConfigError(f"the model was trained on the chip {name!r}, which is not a preset: "
                          "pass its file as --hardware FILE.toml")
    return name


def run(args) -> int:
    from .. import runs

    _check(args)
    data = runs.load_held_out(args.model, args.dataset, data_dir=args.data_dir,
                              label_column=args.label_column)
    ui.warn(data.warning)
    net, X, y = data.network, data.X[:args.samples], data.y[:args.samples]
    trained_on = (net.train_config.get("substrate") or {})
    chip_trained = trained_on.get("name") == "analog"
    spec = _chip_of(args, trained_on)
    training = None
    if chip_trained or args.train_epoch:
        Xt, yt = _training_data(data, args.data_dir, args.label_column)
        n = len(Xt) if args.train_samples is None else min(args.train_samples, len(Xt))
        training = chip.training_cost(net, spec, Xt[:n], yt[:n], len(Xt), seed=args.seed,
                                      fit=_fit_options(net), node=args.node, watts=args.watts)
    report = chip.cost_report(net, spec, X, seed=args.seed, watts=args.watts,
                              encoding=args.encoding, batch=args.batch, node=args.node,
                              training=training)
    scores = chip.score(net, spec, X, y, args.seed)
    report["accuracy"] = {"digital": float(np.mean(net.classify(X) == y)),
                          "chip": scores.get("accuracy")}
    report.update(model=args.model, dataset=data.dataset, chip_trained=chip_trained)
    if args.chart:
        chip.cost_chart(report["breakdown"], args.chart)
    if args.json:
        text = runs.to_json(report)
        if args.json == "-":
            sys.stdout.write(text)
            return 0
        from ..files import atomic_write_text

        atomic_write_text(args.json, text)
    show(report)
    ui.warn(report["warning"])
    return 0


def _j(v) -> str:
    return ui.si(v, "J")


def _s(v) -> str:
    return ui.si(v, "s")


def show(r) -> None:
    out = ui.console()
    c, b, acc = r["chip"], r["brain"], r["accuracy"]
    tr = r.get("training")
    learn = {}
    if tr:
        learn["chip"] = f"{_j(tr['per_epoch']['energy_j'])}, {_s(tr['per_epoch']['latency_s'])}"
        for base in tr["baselines"]:
            learn[base["name"]] = _j(base["energy_j"])
        if tr.get("machine"):
            m = tr["machine"]
            learn["machine"] = (f"{_j(m['energy_j'])}, " if m["energy_j"] is not None else "") + \
                _s(m["seconds"])
    digital = ui.percent(acc["digital"])
    rows = [("brain", "parallel, spikes", f"{_j(b['energy_j'])} (20 W × 150 ms); "
             f"{_j(b['event_j'][0])}–{_j(b['event_j'][1])} per synaptic event",
             _s(b["latency_s"]), f"~{b['bits_per_synapse']} bits/synapse", "graceful", "—",
             "—")]
    for base in r["baselines"]:
        name = base["name"]
        if name.startswith("this machine"):
            energy = _j(base["energy_j"]) if base["energy_j"] is not None else "(--watts)"
            rows.append((f"this machine, {base['cores']} cores", "serial + SIMD", energy,
                         _s(base["latency_s"]), "fp32", digital, learn.get("machine", "—"),
                         "—"))
            continue
        key = next((k for k in learn if name.startswith(k)), None)
        org = "parallel" if name.startswith("GPU") else \
            f"serial, weights in {base.get('weights_from', '?').replace('sram_', '')}"
        rows.append((name, org, _j(base["energy_j"]), _s(base.get("latency_s")),
                     base["precision"], digital, learn.get(key, "—") if key else "—", "—"))
    bits = c["precision"]
    rows.append((f"the chip: {r['hardware']}, {r['node']}", "parallel, in memory",
                 _j(c["energy_j"]), _s(c["latency_s"]),
                 f"DAC {bits['dac_bits']} b, ADC {bits['adc_bits']} b "
                 f"({bits['adc_enob']:.1f} eff.)", ui.percent(acc["chip"]),
                 learn.get("chip", "—"), f"{c['area_m2'] * 1e6:.3g} mm²"))
    ui.table(("", "organisation", "energy / inference", "latency", "precision", "accuracy",
              "learning / epoch", "area"), rows,
             title=f"{r['model']}: what it costs ({r['samples']} {r['dataset']} inputs, "
             f"{r['inputs']})", overflow="fold", out=out)
    total = c["energy_j"]
    ui.table(("term", "J / inference", "share"),
             [(k, f"{v:.3g}", f"{100 * v / total:.1f}%" if total else "—")
              for k, v in r["breakdown"].items()],
             title="the chip's energy, by term", out=out)
    lo, hi = r["digital_over_analog"]
    m = r["measured_chips"]
    out.print(f"digital / chip: ×{lo:.3g}–×{hi:.3g} over the baselines; pipelined "
              f"{c['throughput_per_s']:.3g} inferences/s at {_j(c['pipelined_energy_j'])} "
              f"each; {c['ops_per_j'] / 1e12:.3g} TOPS/W")
    out.print(f"measured analog chips imply {m['range_j'][0]:.3g}–{m['range_j'][1]:.3g} J "
              f"for these {c['macs']:,} multiply-adds (Ambrogio et al. 2023, 12.4 TOPS/W; "
              "IBM HERMES 2.48–9.76 TOPS/W)")
    prog = c["programming"]
    out.print(f"programming the {prog['devices']:,} devices once (program-and-verify): "
              f"{_j(prog['energy_j'])} in {_s(prog['latency_s'])}")
    if tr:
        pe = tr["per_epoch"]
        out.print(f"training on the chip ({tr['device']} devices), per epoch of "
                  f"{tr['epoch_samples']} samples (counted on {tr['samples_trained']}): "
                  f"{_j(pe['energy_j'])}, writes {_j(pe['write_energy_j'])} in "
                  f"{_s(pe['write_latency_s'])}, reads {_s(pe['read_latency_s'])}")
    out.print(f"{len(r['assumptions'])} constants, each with its unit and source: "
              "--json FILE lists them, docs/cost.md explains them")
