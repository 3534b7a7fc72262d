"""``synapsenet cost``: what a saved model costs — energy, latency and area per inference
(and per epoch of training) — on the simulated chip, beside digital processors, this
machine and the brain, every figure counted from a run and priced by ``synapsenet.cost``."""

from __future__ import annotations

from ..errors import ConfigError
from . import chip, flags, tables, ui


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
    flags.add_held_out_flags(c)
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


def run(args) -> int:
    from .. import runs

    flags.check_counts(args, "samples", "batch", "train_samples")
    if args.watts is not None and not args.watts > 0:
        raise ConfigError(f"--watts must be > 0, got {args.watts:g}")
    data = runs.load_held_out(args.model, args.dataset, data_dir=args.data_dir,
                              label_column=args.label_column)
    ui.warn(data.warning)
    net = data.network
    trained_on = (net.train_config.get("substrate") or {})
    chip_trained = trained_on.get("name") == "analog"
    spec = chip.chip_to_cost(args.hardware, trained_on)
    training_set = None
    if chip_trained or args.train_epoch:
        training_set = runs.training_split(data)
    report = chip.model_cost(net, spec, data.X[:args.samples], data.y[:args.samples],
                             training_set, train_samples=args.train_samples,
                             fit=runs.chip_fit_options(net), seed=args.seed, watts=args.watts,
                             encoding=args.encoding, batch=args.batch, node=args.node)
    report.update(model=args.model, dataset=data.dataset, chip_trained=chip_trained)
    if args.chart:
        chip.cost_chart(report["breakdown"], args.chart)
    if args.json and ui.write_json(args.json, runs.to_json(report)) == "stdout":
        return 0  # the JSON alone, no table
    tables.show_cost(report)
    ui.warn(report["warning"])
    return 0
