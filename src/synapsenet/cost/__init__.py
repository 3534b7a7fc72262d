"""What it costs: energy, latency and area of inference and training — the brain, the
digital computer and the analog chip — computed from what the substrates counted.

>>> import numpy as np, synapsenet as sn
>>> from synapsenet import cost
>>> net = sn.Network.from_sizes([16, 8, 4], hidden="relu", output="softmax", seed=0)
>>> r = cost.report(net, np.full((4, 16), 0.5, np.float32), hardware="pcm")
>>> r["analog_energy_j"] == sum(r["breakdown"].values())
True
>>> sorted(b["name"] for b in r["baselines"])[:2]
['GPU at peak (int8, H100 SXM)', 'fp32, 45 nm, batch 1']

The model (``cost.chip``, ``cost.digital``, ``cost.brain``) reads its numbers from
``cost.constants`` only — each with value, unit, node and source — and its counts from the
substrates' ``Counters``: the chip's energy is never re-derived from the digital forward
pass. ``docs/cost.md`` gives every formula and constant.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import brain as _brain
from . import chip as _chip
from . import digital as _digital
from . import machine
from .constants import (BRAIN, CHIP, MEASURED, NODES, Constant, Parameters, all_constants,
                        parameters)

__all__ = ["report", "training_report", "run_training_cost", "chip_parameters", "load_hardware",
           "Constant", "Parameters", "parameters", "all_constants", "machine", "BASELINE"]

BASELINE = "int8, 45 nm, batch 1"  # the default digital baseline: the chip's precision class

# EnergyConfig fields a hardware file may set, and the cost constants they are
_ENERGY_FIELDS = {"read_voltage": "read_voltage", "read_time": "read_time",
                  "dac_energy_per_bit": "dac_energy_per_bit", "adc_fom": "adc_fom"}


def load_hardware(spec):
    """A hardware preset, TOML file or config, and its file's ``[cost]`` table: (HardwareConfig,
    {name: value}), read by the one loader of hardware files (``hardware.load_hardware``),
    the table checked here against the constants it may change (``node = "7nm"``, any
    constant of ``cost.constants`` by name): a ConfigError names the file, the table and the
    key. Every command that reads a hardware file reads it through this."""
    from ..hardware.config import load_hardware as read

    cfg, overrides = read(spec)
    if overrides:  # (the constants as a run would take them: a bad one is refused here)
        chip_parameters(cfg, overrides, where=f"hardware config {str(spec)!r} [cost]")
    return cfg, overrides


def chip_parameters(cfg, overrides=None, where="cost") -> Parameters:
    """The constants for the chip ``cfg``: its node (``overrides["node"]``, default 45 nm),
    its preset's own table, the [energy] values its file changed, then ``overrides``."""
    from ..hardware.config import EnergyConfig

    overrides = dict(overrides or {})
    node = str(overrides.pop("node", "45nm"))
    p = parameters(node, cfg.name, where=where)
    default = EnergyConfig()
    for field, name in _ENERGY_FIELDS.items():
        value = getattr(cfg.energy, field)  # ≥ 0: HardwareConfig.validate
        if value != getattr(default, field):
            p[name] = Constant(float(value), p[name].unit, node,
                               f"the hardware config's [energy] {field}")
    if overrides:
        changed = parameters(node, cfg.name, overrides, where=where)
        p.update({k: changed[k] for k in overrides})
    return p


def _counted(net, X, meter=True):
    """Run X through ``net`` and return a copy of its substrate's counters, leaving them as
    they were."""
    sub = net.substrate
    saved_layers = sub.counters.layers
    saved_meter = getattr(sub, "meter", None)
    sub.counters.layers = []
    if saved_meter is not None:
        sub.meter = meter
    try:
        net.predict(X)
        return [dataclasses.replace(c) for c in sub.counters.layers]
    finally:
        sub.counters.layers = saved_layers
        if saved_meter is not None:
            sub.meter = saved_meter


def _on_chip(network, hardware, seed):
    from ..hardware import Analog

    if isinstance(network.substrate, Analog):
        return network, network.substrate.config, {}
    cfg, overrides = load_hardware(hardware or "pcm")
    return network.on(Analog(cfg, seed=seed)), cfg, overrides


def report(network, X=None, *, hardware=None, overrides=None, encoding=None, batch=256,
           seed=0, watts=None, timing=False, training=None) -> dict:
    """The ledger for ``network``: per inference, its energy, latency and area on the
    chip, beside digital baselines, this machine (``timing``: measured on X) and the brain.

    The chip is the network's own substrate if it is on one, else ``hardware`` (a preset or
    a TOML file, whose ``[cost]`` table may change constants; default "pcm"), seeded by
    ``seed``. Its counts come from running ``X`` through it (None: one input at full scale,
    an upper bound); ``overrides`` change constants by name (``node``: "45nm" or "7nm").
    ``batch``: the digital baseline that fetches its weights once per that many inferences.
    ``watts``: this machine's power, to turn its measured time into energy.
    ``training``: a :func:`training_report`, to include as it is.
    """
    chip_net, cfg, file_overrides = _on_chip(network, hardware, seed)
    p = chip_parameters(cfg, {**file_overrides, **(overrides or {})})
    inputs = "measured" if X is not None else "one full-scale input"
    if X is None:
        X = np.ones((1, network.n_inputs), network.dtype)
    X = np.asarray(X, network.dtype)
    counts = _counted(chip_net, X)
    chip = _chip.inference(chip_net, counts, p, encoding)
    chip["programming"] = _chip.programming(chip_net, p)

    from ..network import Network

    digital_net = Network(network.layers, seed=network.seed)
    dcounts = _counted(digital_net, X, meter=False)
    layers = network.layers
    p45, p7 = parameters("45nm"), parameters("7nm")
    baselines = [_digital.processor("fp32, 45 nm, batch 1", dcounts, layers, p45, "fp32"),
                 _digital.processor(BASELINE, dcounts, layers, p45, "int8"),
                 _digital.processor("int8, 7 nm, batch 1", dcounts, layers, p7, "int8"),
                 _digital.processor(f"int8, 7 nm, batch {batch}", dcounts, layers, p7, "int8",
                                    batch=batch),
                 _digital.gpu(dcounts, p45)]
    machine_row = None
    if timing:
        t = machine.time_inference(digital_net, X)
        machine_row = {"name": "this machine (measured)", "latency_s": t["batch1_s"],
                       "energy_j": machine.energy(t["batch1_s"], watts),
                       "batched_s": t["batched_s"], "watts": watts, **machine.describe(),
                       "timing": t}
        baselines.append(machine_row)
    sanity = _digital.measured_chips(chip["macs"], p)
    warning = None
    factor = p.warn_factor
    if chip["ops_per_j"] > factor * sanity["best_ops_per_j"]:
        warning = (f"the modelled chip does {chip['ops_per_j'] / 1e12:.3g} TOPS/W, more than "
                   f"{factor:g}× the best measured analog chip "
                   f"({sanity['best_ops_per_j'] / 1e12:.3g} TOPS/W): check the constants")
    ratios = [b["energy_j"] / chip["energy_j"] if chip["energy_j"] else float("inf")
              for b in baselines if b.get("energy_j") is not None]
    default = next(b for b in baselines if b["name"] == BASELINE)
    used = {**{f"45nm.{k}": c for k, c in NODES["45nm"].items()},
            **{f"7nm.{k}": c for k, c in NODES["7nm"].items()},
            **{f"brain.{k}": c for k, c in BRAIN.items()}}
    assumptions = p.assumptions() + [{"name": k, "value": c.value, "unit": c.unit,
                                      "node": c.node, "source": c.source}
                                     for k, c in sorted(used.items())]
    out = {
        "analog_energy_j": chip["energy_j"], "analog_latency_s": chip["latency_s"],
        "analog_area_m2": chip["area_m2"], "digital_energy_j": default["energy_j"],
        "digital_baseline": BASELINE, "baselines": baselines, "breakdown": chip["breakdown"],
        "digital_over_analog": (min(ratios), max(ratios)),
        "chip": chip, "hardware": cfg.name, "node": p["feature"].node, "inputs": inputs,
        "samples": len(X), "brain": _brain.brain(chip["macs"]), "measured_chips": sanity,
        "warning": warning, "assumptions": assumptions, "machine": machine_row,
    }
    if training is not None:
        out["training"] = training
    return out


def training_report(network, counters, *, epochs=1.0, overrides=None, encoding=None,
                    digital=None, watts=None) -> dict:
    """The cost of a training run of ``network`` on its chip from the counters it left
    (``counters``: a list of LayerCounts, metered), per epoch: ``epochs`` says how many
    epochs the counters cover (a fraction for part of one; the counts scale linearly).
    ``digital``: the same samples trained digitally on this machine
    (``machine.time_epoch``: its counters, updates and wall time), for the baselines and
    this machine's row; ``watts`` turns its time into energy."""
    chip_net = network
    cfg = chip_net.substrate.config
    p = chip_parameters(cfg, overrides)
    run = _chip.training(chip_net, counters, p, encoding)
    scale = 1.0 / epochs
    per_epoch = {"energy_j": run["energy_j"] * scale, "latency_s": run["latency_s"] * scale,
                 "write_energy_j": run["write_energy_j"] * scale,
                 "write_latency_s": run["write_latency_s"] * scale,
                 "read_latency_s": run["read_latency_s"] * scale,
                 "breakdown": {k: v * scale for k, v in run["breakdown"].items()}}
    out = {"chip": run, "per_epoch": per_epoch, "epochs_counted": epochs,
           "area_m2": run["area_m2"], "baselines": []}
    if digital is not None:
        for prec, node in (("fp32", "45nm"), ("int8", "45nm"), ("int8", "7nm")):
            b = _digital.processor_training(digital["counters"], network.layers,
                                            parameters(node), prec, digital["updates"])
            out["baselines"].append({"name": f"{prec}, {node[:-2]} nm",
                                     "energy_j": b["energy_j"] * scale,
                                     "breakdown": {k: v * scale
                                                   for k, v in b["breakdown"].items()},
                                     "weights_from": b["weights_from"]})
        seconds = digital["seconds"] * scale
        out["machine"] = {"name": "this machine (measured)", "seconds": seconds,
                          "energy_j": machine.energy(seconds, watts),
                          "engine": digital.get("engine")}
    return out


def run_training_cost(network, epochs: int, overrides=None) -> dict | None:
    """What training ``network`` in situ cost, from the counters its chip kept while it
    trained (``epochs`` of them, validation reads included; read it before a test pass adds
    reads of its own): energy and latency per epoch and for the run, with the constants
    ``overrides`` changes (its hardware file's ``[cost]`` table). None for a network not
    trained on a metered chip. ``train`` and ``study`` write it as ``chip_training_cost``."""
    from ..hardware import Analog

    sub = network.substrate
    if not isinstance(sub, Analog) or not sub.meter or epochs < 1 or not sub.counters.layers:
        return None
    r = training_report(network, sub.counters.layers, epochs=epochs, overrides=overrides)
    pe = r["per_epoch"]
    return {"energy_j_per_epoch": pe["energy_j"], "latency_s_per_epoch": pe["latency_s"],
            "write_energy_j_per_epoch": pe["write_energy_j"], "energy_j": r["chip"]["energy_j"],
            "latency_s": r["chip"]["latency_s"], "epochs_counted": epochs}


# the constants tables, for listing
CONSTANT_TABLES = {"nodes": NODES, "chip": CHIP, "measured": MEASURED, "brain": BRAIN}
