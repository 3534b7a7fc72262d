"""The simulated chip as the command line uses it.

The one module of ``cli/`` that calls :mod:`synapsenet.hardware` (deploy, predict, drift,
evaluate, energy_report, the configs), so that a change of the simulator's interface is made
here and nowhere else in the command line.
"""

from __future__ import annotations


def load_config(spec):
    """A hardware config from a preset name or a TOML file (ConfigError naming it); a
    file's [cost] table is the cost model's (``synapsenet cost``) and is set aside here."""
    from ..cost import load_hardware

    return load_hardware(spec)[0]


def score(net, spec, X, y, seed: int) -> dict:
    """Loss, accuracy and energy of ``net`` on the chip ``spec`` for inputs X (scaled),
    labels y: the chip's own outputs, scored with the loss the network was trained with."""
    from ..hardware import deploy, energy_report

    chip = deploy(net, load_config(spec), seed=seed)
    result = chip.evaluate(X, y)
    return {"loss": result["loss"], "accuracy": result.get("accuracy"),
            "energy": energy_report(chip, len(X), X)}  # counted on the inputs it ran


def score_model(held, spec, X, y, seed: int) -> tuple[dict, str]:
    """``score`` of a saved model (``runs.HeldOut``) on a chip, and a line saying which: the
    chip it trained on, its devices as training left them, when ``spec`` is empty or
    describes that same chip; else a fresh chip ``spec``, programmed from the weights."""
    import json

    from ..errors import ConfigError
    from ..hardware import energy_report

    trained = held.chip
    name = trained.substrate.config.name if trained is not None else None
    if not spec:
        if trained is None:
            raise ConfigError("--hardware without a value evaluates on the chip the model "
                              "trained on, but this model was trained digitally: name a chip "
                              "(--hardware PRESET|FILE.toml)")
    else:
        cfg = load_config(spec)
        same = trained is not None and json.dumps(cfg.to_dict(), sort_keys=True) == \
            json.dumps(trained.substrate.config.to_dict(), sort_keys=True)
        if not same:
            said = f"on a fresh chip {spec!r}, programmed from the weights" + (
                f" (the model trained on another chip, {name!r} with "
                f"{trained.substrate.config.learning.device} devices: --hardware alone "
                "evaluates on those)" if trained is not None else "")
            return score(held.network, cfg, X, y, seed), said
    result = trained.evaluate(X, y)
    return ({"loss": result["loss"], "accuracy": result.get("accuracy"),
             "energy": energy_report(trained, len(X), X)},
            f"on the chip it trained on ({name!r}): its devices as training left them")


def preset_names() -> tuple:
    from ..hardware.config import PRESETS

    return tuple(PRESETS)


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


DEVICE_COLUMNS = ("preset", "law", "states", "source")


def device_rows() -> list[tuple]:
    """One row per synaptic-device preset, under DEVICE_COLUMNS."""
    from ..hardware.devices import DEVICE_PRESETS, load_device

    rows = []
    for name in DEVICE_PRESETS:
        law = load_device(name)
        states = "continuous" if law.states == float("inf") else f"{law.states:.0f}"
        rows.append((name, law.kind, states, law.source[:90] +
                     ("…" if len(law.source) > 90 else "")))
    return rows


def device_laws(specs) -> list:
    """The device laws of preset names or law TOML files (ConfigError naming a bad one)."""
    from ..hardware.devices import load_device

    return [load_device(s) for s in specs]


def cost_report(net, cfg, X, *, seed=0, watts=None, encoding=None, batch=256, overrides=None,
                training=None) -> dict:
    """The cost model's ledger (``synapsenet.cost.report``) of ``net`` on the chip ``cfg``
    (a HardwareConfig) with the constants ``overrides`` changes, counted on X."""
    from .. import cost

    return cost.report(net, X, hardware=cfg, overrides=overrides, encoding=encoding,
                       batch=batch, seed=seed, watts=watts, timing=True, training=training)


def training_cost(net, cfg, X, y, epoch_samples: int, *, seed=0, fit=None, overrides=None,
                  watts=None, digital_epoch=True) -> dict:
    """The cost of training ``net`` in situ on the chip ``cfg`` (a HardwareConfig; with the
    constants ``overrides`` changes): a copy trained on (X, y) (the first samples of an
    epoch of ``epoch_samples``) with its pulses metered, priced per epoch; beside it one
    digital epoch of the same copy, timed on this machine."""
    import copy

    from .. import cost
    from ..hardware import Analog
    from ..network import Network

    twin = Network([copy.deepcopy(layer) for layer in net.layers], seed=net.seed)
    on_chip = twin.on(Analog(cfg, seed=seed, meter=True))
    fit = dict(fit or {})
    on_chip.fit(X, y, epochs=1, seed=seed, **fit)
    counters = on_chip.substrate.counters.layers
    digital = None
    if digital_epoch:
        digital = cost.machine.time_epoch(net, X, y, seed=seed, **fit)
    report = cost.training_report(on_chip, counters, epochs=len(X) / epoch_samples,
                                  overrides=overrides, digital=digital, watts=watts)
    report.update(samples_trained=len(X), epoch_samples=epoch_samples,
                  hardware=cfg.name, device=cfg.learning.device)
    return report


def chip_to_cost(hardware, trained_on: dict) -> str:
    """The chip to cost a model on: ``hardware`` (--hardware), else the preset the model was
    trained on (``trained_on``: its saved substrate), else pcm."""
    from ..errors import ConfigError

    if hardware:
        return hardware
    name = trained_on.get("hardware") if trained_on.get("name") == "analog" else None
    if name is None:
        return "pcm"
    if name not in preset_names():
        raise ConfigError(f"the model was trained on the chip {name!r}, which is not a preset: "
                          "pass its file as --hardware FILE.toml")
    return name


def model_cost(net, spec, X, y, training_set=None, *, train_samples=None, fit=None, seed=0,
               watts=None, encoding=None, batch=256, node=None) -> dict:
    """The cost ledger of ``net`` on the chip ``spec`` (a preset or a TOML file, whose [cost]
    table may change constants; ``node`` wins over its node), counted on the inputs X, with
    the accuracy of the network and of the chip on them (labels y). With ``training_set``
    (X, y), also an epoch of in-situ training on it (the first ``train_samples`` only, the
    counts scaled to the whole epoch), with the fit options ``fit``."""
    import numpy as np

    from ..cost import load_hardware
    from ..hardware import deploy

    cfg, overrides = load_hardware(spec)  # the file read once, for all three below
    if node:
        overrides = {**overrides, "node": node}
    training = None
    if training_set is not None:
        Xt, yt = training_set
        n = len(Xt) if train_samples is None else min(train_samples, len(Xt))
        training = training_cost(net, cfg, Xt[:n], yt[:n], len(Xt), seed=seed, fit=fit,
                                 overrides=overrides, watts=watts)
    report = cost_report(net, cfg, X, seed=seed, watts=watts, encoding=encoding, batch=batch,
                         overrides=overrides, training=training)
    # the chip's accuracy alone (score() would count its energy again, a third pass)
    chip = deploy(net, cfg, seed=seed).evaluate(X, y).get("accuracy")
    report["accuracy"] = {"digital": float(np.mean(net.classify(X) == y)), "chip": chip}
    return report


def cost_chart(breakdown, path) -> None:
    from ..plots import plot_cost_breakdown

    plot_cost_breakdown(breakdown, path)


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

