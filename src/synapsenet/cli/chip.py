"""The simulated chip as the command line uses it.

The one module of ``cli/`` that calls :mod:`synapsenet.hardware` (deploy, predict, drift,
evaluate, energy_report, the configs), so that a change of the simulator's interface is made
here and nowhere else in the command line.
"""

from __future__ import annotations

import numpy as np

TIME = "time"  # pseudo-parameter of a sweep: seconds since programming (drift)


def load_config(spec):
    """A hardware config from a preset name or a TOML file (ConfigError naming it)."""
    from ..hardware import load_config

    return load_config(spec)


def check_parameter(name: str) -> None:
    """Refuse a sweep parameter that is neither a hardware parameter nor 'time'."""
    from ..hardware.config import resolve_parameter

    if name != TIME:
        resolve_parameter(name)


def score(net, spec, X, y, seed: int) -> dict:
    """Loss, accuracy and energy of ``net`` on the chip ``spec`` for inputs X (scaled),
    labels y: the chip's own outputs, scored with the loss the network was trained with."""
    from ..hardware import deploy, energy_report

    chip = deploy(net, load_config(spec), seed=seed)
    result = chip.evaluate(X, y)
    return {"loss": result["loss"], "accuracy": result.get("accuracy"),
            "energy": energy_report(chip, len(X))}


def sweep(net, cfg, X, y, parameter, values, seeds=3) -> list[dict]:
    """Rows of {parameter, value, seed, accuracy} for the network on the chip ``cfg``."""
    from ..hardware import deploy

    rows = []
    for v in values:
        chip_cfg = cfg if parameter == TIME else cfg.replace(**{parameter: v})
        for seed in range(seeds):
            chip = deploy(net, chip_cfg, seed=seed)
            if parameter == TIME:
                chip.substrate.drift(float(v))
            rows.append({"parameter": parameter, "value": v, "seed": seed,
                         "accuracy": float(np.mean(chip.classify(X) == y))})
    return rows


PRESET_COLUMNS = ("preset", "levels", "g range µS", "noise prog/read", "DAC/ADC bits", "tile",
                  "source")


def preset_rows() -> list[tuple]:
    """One row per hardware preset, under PRESET_COLUMNS."""
    from ..hardware.config import PRESETS

    rows = []
    for name in PRESETS:
        h = load_config(name)
        d, io = h.device, h.io
        rows.append((name, str(d.levels or "continuous"), f"{d.g_min:g}–{d.g_max:g}",
                     f"{d.prog_noise:g}/{d.read_noise:g}",
                     f"{io.dac_bits or '∞'}/{io.adc_bits or '∞'}", f"{h.tile.rows}×{h.tile.cols}",
                     h.source[:120] + ("…" if len(h.source) > 120 else "")))
    return rows


def as_toml(spec) -> str:
    """A preset or file as TOML, to edit and pass back as --hardware FILE.toml."""
    from ..hardware.config import to_toml

    return to_toml(load_config(spec))


def neurosim_configurations(spec: str | None) -> list[str]:
    """NeuroSim's benchmark configurations named in ``spec`` (comma-separated; None: all),
    refused with a ConfigError that lists the valid ones."""
    from ..hardware import reproduce

    names = reproduce.CONFIGURATIONS if spec is None else \
        [n.strip() for n in spec.split(",") if n.strip()]
    return reproduce.check_names(names)


def reproduce_neurosim(names, epochs: int, images: int, seed: int, data_dir, jobs: int,
                       progress) -> dict:
    """NeuroSim V3.0's benchmark (``hardware.reproduce.run``): its report."""
    from ..hardware import reproduce

    protocol = reproduce.Protocol(epochs=epochs, images_per_epoch=images)
    return reproduce.run(names, protocol, seed=seed, data_dir=data_dir, jobs=jobs,
                         progress=progress)
