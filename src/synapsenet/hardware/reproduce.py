"""NeuroSim V3.0's online-learning benchmark, run on the simulated chip.

MLP+NeuroSim V3.0 (P.-Y. Chen, X. Peng, S. Yu, IEEE TCAD 37(12) 2018; user manual, Table II)
trains a 400-100-10 network of sigmoid neurons on MNIST *in situ* — the forward pass read from
the synaptic arrays, every weight update a train of device pulses — and reports the test
accuracy each of its seven devices reaches. This module runs the same protocol on
``hardware.Analog``, each configuration through ``Network.fit``, as the program does it
(``main.cpp``, ``Param.cpp``, ``Train.cpp``, ``Test.cpp``, ``Mapping.cpp``, ``Cell.cpp``,
``formula.cpp`` of github.com/neurosim/MLP_NeuroSim_V3.0; the values are cited where used):

* data: the central 20×20 pixels of each 28×28 image, black and white at half the full scale
  (``BWthreshold = 0.5``); every epoch 8,000 training images drawn at random, with replacement,
  from the 60,000 (``rand() % 60000``); after every epoch the test accuracy on all 10,000;
* network: 400 inputs, 100 hidden and 10 output sigmoid neurons, no biases; squared error
  ``Σ(d − z)²``, whose δ is twice that of the textbook's ``½Σ(z − d)²``: NeuroSim's learning
  rates ``alpha1 = 0.4`` (input → hidden) and ``alpha2 = 0.2`` are η = 0.8 and 0.4 here;
  plain SGD, batch 1; weights in [−1, 1];
* initial weights uniform over {−1, −2/3, …, 1} (``WeightInitialize``), written to the devices
  as ``WeightToConductance`` does: ``G = (w + 1)/2 · (G_max − G_min)`` — without ``G_min``, so
  each weight starts ``2 G_min/(G_max − G_min)`` lower (clipped at −1), which matters for the
  devices of small on/off ratio;
* synapse: one device against a reference column at mid-range, ``w = 2 (G − G_min)/(G_max −
  G_min) − 1``; an update ΔW becomes ``round(ΔW/2 · levels)`` pulses of the LTP or LTD curve,
  with cycle-to-cycle noise ``σ √|n|`` (``RealDevice::Write``);
* periphery: inputs applied as one bit (the pixels, and the hidden neurons' outputs compared
  with ``Hthreshold = 0.5``); each column's current read by an 8-bit ADC whose full scale is the
  whole array at full weight (``CurrentToDigits`` over ``IsumMax − IsumMin``); the backward pass
  and the update's inputs digital, from the weights read out and the analog sigmoid outputs.

What the run cost: each chip is metered (``Analog(meter=True)``) and priced by
``synapsenet.cost`` from its counters (:func:`run_cost`), with Table II's conductances (R_ON,
on/off ratio) and NeuroSim's read pulse, and compared with Table II's energy, latency and area
(:func:`compare_cost`; ``PUBLISHED_COST``).

The software baseline (``Software``) is the same protocol in floating point: digital SGD with
the weights bounded at ±1, which is what the chip computes on ideal, continuous devices with
ideal converters. What differs from NeuroSim is listed
in ``docs/hardware.md`` ("Reproducing NeuroSim").
"""

from __future__ import annotations

import math
import time
import traceback
import zlib
from dataclasses import dataclass

import numpy as np

from .. import _blas
from ..errors import ConfigError
from ..substrate import Digital
from .devices.presets import (NEUROSIM_ACCURACY, NEUROSIM_DEVICES, NEUROSIM_SOFTWARE_ACCURACY,
                              neurosim_conductance)

SOFTWARE = "software"
CONFIGURATIONS = NEUROSIM_DEVICES + (SOFTWARE,)
PUBLISHED = {**NEUROSIM_ACCURACY, SOFTWARE: NEUROSIM_SOFTWARE_ACCURACY}
TIERS = {"high": ("gst-pcm", "epiram", "hzo-fefet"), "middle": ("ag-si", "taox-hfox"),
         "low": ("pcmo", "alox-hfo2")}
# What training cost in NeuroSim, for the whole run (125 epochs of 8,000 images, read and
# write; NeuroSim's accumulators are never reset, main.cpp prints their running totals): its
# user manual, Table II "The Benchmark Table in NeuroSimV3.0 (at 32nm node)", the rows Area,
# Latency (optimized) and Energy (optimized); device: (energy J, latency s, area m²)
PUBLISHED_COST = {
    "ag-si": (13.44e-3, 31997.0, 6292.3e-12), "taox-hfox": (4.01e-3, 10.15, 8663.1e-12),
    "pcmo": (2.53e-3, 12218.0, 6292.4e-12), "alox-hfo2": (15.26e-3, 470.42, 21760e-12),
    "gst-pcm": (35.0e-3, 203.0, 46565e-12), "epiram": (31.01e-3, 229.6, 9144.3e-12),
    "hzo-fefet": (1.9e-3, 2.73, 7032.6e-12)}
PUBLISHED_COST_SOURCE = ("MLP+NeuroSim V3.0 user manual (github.com/neurosim/MLP_NeuroSim_V3.0, "
                         "documents/NeuroSimV3.0_user_mannual.pdf), Table II, at 32 nm: the "
                         "whole run's energy and latency (optimized weight update), and area")
PUBLISHED_LEAKAGE_W = 105.65e-6  # the same table's leakage power, every analog device
# the same manual's §8, Table 2: Ag:a-Si's run split into read and write
PUBLISHED_AGSI_SPLIT = {"read_latency_s": 7.2030e-2, "write_latency_s": 3.1997e4,
                        "read_energy_j": 4.1964e-4, "write_energy_j": 1.3019e-2}
COST_FACTOR = 3.0  # the bound: within a factor of 3 of Table II
# the cost model's terms that NeuroSim V3.0 models too (the synaptic arrays and their write
# pulses, the drivers, the read circuits, the neuron periphery's adders): Table II's energy
# is compared with their sum. It has no activation buffers, no interconnect, no hardware
# for the weight update's δᵀz ("will be included in the future release", manual §7) and
# reports leakage as a power, not an energy
NEUROSIM_TERMS = ("array", "lines", "dac", "adc", "digital", "write", "refresh")
READ_VOLTAGE, READ_TIME = 0.5, 5e-9  # NeuroSim's RealDevice: readVoltage, readPulseWidth
HIGH, LOW = 0.80, 0.55  # the tier bounds: high ≥ 80 %, low ≤ 55 %
PLATEAU = 10  # epochs whose mean accuracy is compared with the published one


@dataclass(frozen=True)
class Protocol:
    """NeuroSim V3.0's benchmark settings (``Param.cpp``); change them only to try less."""

    epochs: int = 125  # totalNumEpochs
    images_per_epoch: int = 8000  # numTrainImagesPerEpoch
    crop: int = 20  # the central crop, pixels a side (400 inputs)
    hidden: int = 100  # nHide
    threshold: float = 0.5  # BWthreshold, of the full scale
    learning_rate: float = 0.4  # 2 · alpha2 (η of the output layer, for ½Σ(z − d)²)
    layer_rates: tuple = (2.0, 1.0)  # alpha1/alpha2, alpha2/alpha2
    adc_bits: int = 8  # numBitPartialSum

    def check(self):
        for name in ("epochs", "images_per_epoch"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")


def prepare(images) -> np.ndarray:
    """MNIST images (N × 784, pixels 0–255) as the benchmark's inputs: the central 20×20
    pixels, 1 where a pixel is at least half the full scale, else 0 (float32, N × 400)."""
    X = np.asarray(images)
    side = math.isqrt(X.shape[1])
    if side * side != X.shape[1] or side < Protocol.crop:
        raise ConfigError(f"expected square images of at least {Protocol.crop}×{Protocol.crop} "
                          f"pixels, got {X.shape[1]} pixels per image")
    a = (side - Protocol.crop) // 2
    crop = X.reshape(len(X), side, side)[:, a:a + Protocol.crop, a:a + Protocol.crop]
    return (crop.reshape(len(X), -1) >= Protocol.threshold * 255).astype(np.float32)


def hardware_config(device, protocol: Protocol = Protocol()):
    """The chip of one configuration: ``device`` (a NeuroSim preset, or any device law that
    ``LearningConfig`` takes) with NeuroSim's mapping, pulses and periphery."""
    from .config import DeviceConfig, EnergyConfig, HardwareConfig, IOConfig, TileConfig
    from .learning import LearningConfig

    learning = LearningConfig(device=device, scheme="deterministic", synapse="reference",
                              weight_max=1.0, backward="digital", bias="fixed",
                              layer_rates=list(protocol.layer_rates))
    io = IOConfig(dac_bits=1, input_scaling="fixed", input_range=1.0,
                  adc_bits=protocol.adc_bits, adc_full_scale="rows")
    # the conductances (Table II's R_ON and on/off ratio), the read pulse and the tile (the
    # first layer's array, 400 × 100, as NeuroSim sizes it) matter only to the cost: the
    # simulation reads the states as fractions of their range, each layer in one tile
    g = neurosim_conductance(device) if device in NEUROSIM_DEVICES else None
    dev = DeviceConfig(g_min=g[0], g_max=g[1]) if g else DeviceConfig()
    cfg = HardwareConfig(name=f"neurosim-{device}" if isinstance(device, str) else "neurosim",
                         source="MLP+NeuroSim V3.0's benchmark (synapsenet.hardware.reproduce)",
                         device=dev, io=io, learning=learning,
                         tile=TileConfig(rows=protocol.crop ** 2, cols=protocol.hidden),
                         energy=EnergyConfig(read_voltage=READ_VOLTAGE, read_time=READ_TIME))
    cfg.validate()
    return cfg


class Software(Digital):
    """NeuroSim's software baseline as a substrate: digital SGD with a learning rate of its
    own per layer (``layer_rates``), no biases, and weights kept in [−1, 1] (``minWeight``,
    ``maxWeight``). The same as the chip of ``hardware_config`` on ideal, continuous devices
    with ideal converters (the tests check it), at the digital computer's speed."""

    name = "neurosim-software"

    def __init__(self, layer_rates=Protocol.layer_rates):
        super().__init__(weight_bound=1.0)
        self.layer_rates = tuple(float(r) for r in layer_rates)

    def update(self, k, layer, Z_prev, delta, step):
        if not step:
            raise ConfigError("NeuroSim's software baseline trains by plain SGD")
        delta = delta * delta.dtype.type(self.layer_rates[k])
        np.add.reduce(delta, axis=0, out=layer.db)  # no biases: computed, not applied
        _blas.add_product(Z_prev.T, delta, layer.WT, -1.0, work=layer.dW.T)
        self.counters.add(k, update_macs=len(delta) * layer.n_in * layer.n_out)

    def trainer(self, network, loss, optimizer, batch, inputs=None):
        """The compiled training step, with this baseline's rate per layer and its biases
        left at 0 (``update``'s arithmetic), where it covers the rest."""
        if not optimizer.folds_learning_rate:
            return None, "NeuroSim's software baseline trains by plain SGD"
        if len(self.layer_rates) != len(network.layers):
            return None, "layer_rates does not give one factor per layer"
        engine, why = super().trainer(network, loss, optimizer, batch, inputs)
        if engine is not None:
            engine.layer_rates, engine.fixed_bias = self.layer_rates, True
        return engine, why

    def describe(self):
        return {"name": self.name, "weight_bound": 1.0, "layer_rates": list(self.layer_rates)}


def initial_weights(name: str, rng, protocol: Protocol = Protocol()) -> list[np.ndarray]:
    """The two layers' initial weights as the devices of ``name`` read them: uniform over
    {−1, −2/3, …, 1}, written as NeuroSim writes them (see the module's docstring)."""
    from .devices import load_device

    sizes = (protocol.crop ** 2, protocol.hidden, 10)
    Ws = [(rng.integers(-3, 4, (n_out, n_in)) / 3).astype(np.float32)
          for n_in, n_out in zip(sizes, sizes[1:])]
    if name != SOFTWARE:
        law = load_device(name)
        # 2 G_min / (G_max − G_min): a conductance's floor, lost in the write (a law whose
        # states are signed weights, as aihwkit's, has no such floor)
        shift = 2 * max(law.w_min, 0.0) / (law.w_max - law.w_min)
        Ws = [np.maximum(W - np.float32(shift), -1.0) for W in Ws]
    return Ws


def run_one(name: str, data, protocol: Protocol = Protocol(), seed: int = 0,
            progress=None, meter: bool = True) -> dict:
    """One configuration through the protocol: ``data`` = (X, y, X_test, y_test) prepared
    by :func:`prepare`; ``progress(name, epoch, accuracy)`` after every epoch. Returns its
    record: accuracy after each epoch (fractions), pulses, seconds, and (``meter``, a
    device) what the training cost, from the chip's metered counters (:func:`run_cost`)."""
    from .. import Dense, Network
    from .crossbar import Analog

    protocol.check()
    X, y, X_test, y_test = data
    rng = np.random.default_rng([seed, _index(name)])
    W1, W2 = initial_weights(name, rng, protocol)
    layers = [Dense(W.shape[1], W.shape[0], "sigmoid", W=W, b=np.zeros(W.shape[0], np.float32))
              for W in (W1, W2)]
    substrate = Software(protocol.layer_rates) if name == SOFTWARE else \
        Analog(hardware_config(name, protocol), seed=seed, threads=1, meter=meter)
    chip = Network(layers, seed=seed).on(substrate)
    metered = meter and name != SOFTWARE
    accuracy, t0, cpu0 = [], time.perf_counter(), time.process_time()
    # batch-1 products are too small for BLAS's threads (they cost more than they give),
    # and one thread makes the results the same however many configurations run at once
    with _blas.single_threaded():
        for epoch in range(protocol.epochs):
            pick = rng.integers(0, len(X), protocol.images_per_epoch)  # with replacement
            chip.fit(X[pick], y[pick], epochs=1, learning_rate=protocol.learning_rate,
                     loss="squared_error", mode="sgd", shuffle=False, seed=rng)
            Z = _test(chip, X_test) if metered else chip.predict(X_test, threads=1)
            accuracy.append(float(np.mean(Z.argmax(axis=1) == y_test)))
            if progress is not None:
                progress(name, epoch + 1, accuracy[-1])
    out = {"accuracy": accuracy, "epochs": protocol.epochs, "published": PUBLISHED.get(name),
           "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0}
    if name != SOFTWARE:
        out["pulses"] = int(substrate.pulses)
        out["refreshes"] = sum(s.refreshes for s in substrate.synapses if s is not None)
    if metered:
        out.update(run_cost(chip, substrate.counters.layers, protocol))
    return out


def _test(chip, X_test):
    """The test pass, out of the training's counters and unmetered (NeuroSim's Table II
    latency is the training's; its read energy adds the tests', ≤ 3 % of Ag:a-Si's total)."""
    sub = chip.substrate
    kept, sub.counters.layers, sub.meter = sub.counters.layers, [], False
    try:
        return chip.predict(X_test, threads=1)
    finally:
        sub.counters.layers, sub.meter = kept, True


def run_cost(chip, counters, protocol: Protocol) -> dict:
    """What the run cost on the chip, from the counters of its training (``cost.
    training_report``: reads, write pulses by direction and the states they met, row-by-row
    write steps), at the 45 nm node: ``energy_j`` and ``latency_s`` for the whole run,
    read and write, ``write_energy_j`` and ``write_latency_s``, ``area_m2``; scaled to
    NeuroSim's full protocol (``full_*``) where the run was shorter, and beside Table II."""
    from .. import cost

    r = cost.training_report(chip, counters, epochs=protocol.epochs)["chip"]
    out = {k: float(r[k]) for k in ("energy_j", "latency_s", "write_energy_j",
                                    "write_latency_s", "area_m2")}
    out["cost_breakdown_j"] = {k: float(v) for k, v in r["breakdown"].items()}
    # NeuroSim's Table II energy is dynamic, its leakage a power of its own
    out["dynamic_energy_j"] = out["energy_j"] - out["cost_breakdown_j"]["leakage"]
    out["neurosim_terms_energy_j"] = sum(out["cost_breakdown_j"][k] for k in NEUROSIM_TERMS)
    out["leakage_power_w"] = out["cost_breakdown_j"]["leakage"] / out["latency_s"] \
        if out["latency_s"] else 0.0
    full = Protocol()
    scale = full.epochs * full.images_per_epoch / (protocol.epochs * protocol.images_per_epoch)
    out["full_run_scale"] = scale
    for k in ("dynamic_energy_j", "neurosim_terms_energy_j", "latency_s", "write_energy_j",
              "write_latency_s"):
        out[f"full_{k}"] = out[k] * scale
    return out


def _index(name: str) -> int:
    """A configuration's number in the seeds: its place in ``CONFIGURATIONS``, or for any
    other device a stable number from its name."""
    if name in CONFIGURATIONS:
        return CONFIGURATIONS.index(name)
    return len(CONFIGURATIONS) + zlib.crc32(name.encode())


def load_data(data_dir=None):
    """MNIST from ``data_dir`` (see ``datasets.load``), prepared: (X, y, X_test, y_test)."""
    from .. import datasets

    ds = datasets.load("mnist", data_dir=data_dir)
    return (prepare(ds.X), np.asarray(ds.y, np.int64), prepare(ds.X_test),
            np.asarray(ds.y_test, np.int64))


def run(names=CONFIGURATIONS, protocol: Protocol = Protocol(), seed: int = 0, data=None,
        data_dir=None, jobs: int = 1, progress=None) -> dict:
    """The protocol for each configuration in ``names`` (NeuroSim devices and
    ``"software"``), ``jobs`` of them side by side in processes of their own. ``data``: the
    prepared (X, y, X_test, y_test), else MNIST from ``data_dir``. Returns the report
    (``report``) with every configuration's record."""
    names = check_names(names)
    protocol.check()
    t0 = time.perf_counter()
    if jobs <= 1 or len(names) == 1:
        data = load_data(data_dir) if data is None else data
        records = {n: run_one(n, data, protocol, seed, progress) for n in names}
    else:
        records = _run_parallel(names, protocol, seed, data, data_dir, jobs, progress)
    return report({n: records[n] for n in names}, protocol, seed,
                  time.perf_counter() - t0, jobs)


def check_names(names) -> list[str]:
    """``names`` without repeats, each a configuration (a ConfigError naming the valid)."""
    names = list(dict.fromkeys(names))
    bad = [n for n in names if n not in CONFIGURATIONS]
    if bad or not names:
        what = f"unknown device {bad[0]!r}" if bad else "no device given"
        raise ConfigError(f"{what}; valid: {', '.join(CONFIGURATIONS)}")
    return names


def report(records: dict, protocol: Protocol, seed: int, seconds: float, jobs: int) -> dict:
    """The JSON-able result: per configuration its record, and the comparison with the
    published accuracies (Spearman's rank correlation over the devices, the tiers) of each
    configuration's ``final`` accuracy, the mean over its last ``PLATEAU`` epochs: the
    published figures are read off curves that swing by several points from epoch to epoch
    (PCMO's by twenty), and one epoch's value would rank the devices by chance."""
    for rec in records.values():  # the plateau: the curves swing by points epoch to epoch
        rec["final"] = float(np.mean(rec["accuracy"][-PLATEAU:]))
    devices = [n for n in records if n != SOFTWARE]
    ours = [records[n]["final"] for n in devices]
    out = {"devices": records,
           "plateau_epochs": PLATEAU,
           "protocol": {"epochs": protocol.epochs, "images_per_epoch": protocol.images_per_epoch,
                        "network": f"{protocol.crop ** 2}-{protocol.hidden}-10 sigmoid",
                        "learning_rate": protocol.learning_rate,
                        "layer_rates": list(protocol.layer_rates), "seed": seed,
                        "source": "MLP+NeuroSim V3.0 (Chen, Peng & Yu, IEEE TCAD 2018), user "
                                  "manual Table II"},
           "seconds": seconds, "jobs": jobs}
    if len(devices) >= 2:
        out["spearman"] = spearman(ours, [PUBLISHED[n] for n in devices])
    out["tiers"] = tiers({n: records[n]["final"] for n in devices})
    out["cost"] = compare_cost(records)
    return out


def compare_cost(records: dict) -> dict:
    """Each metered device's run cost (scaled to the full protocol) beside Table II's, as
    ratios ours/theirs — energy (of the terms both model, ``NEUROSIM_TERMS``; also all our
    dynamic terms), latency, area, leakage power — and how many land within
    ``COST_FACTOR`` on both energy and latency."""
    rows = {}
    for n, rec in records.items():
        if "full_dynamic_energy_j" not in rec or n not in PUBLISHED_COST:
            continue
        e, t, a = PUBLISHED_COST[n]
        rows[n] = {"published_energy_j": e, "published_latency_s": t, "published_area_m2": a,
                   "published_leakage_w": PUBLISHED_LEAKAGE_W,
                   "energy_ratio": rec["full_neurosim_terms_energy_j"] / e,
                   "dynamic_energy_ratio": rec["full_dynamic_energy_j"] / e,
                   "latency_ratio": rec["full_latency_s"] / t,
                   "area_ratio": rec["area_m2"] / a,
                   "leakage_ratio": rec["leakage_power_w"] / PUBLISHED_LEAKAGE_W}
        rows[n]["within"] = bool(all(1 / COST_FACTOR <= rows[n][k] <= COST_FACTOR
                                     for k in ("energy_ratio", "latency_ratio")))
        if n == "ag-si":  # the manual's split of this device's run into read and write
            split = PUBLISHED_AGSI_SPLIT
            rows[n].update(published_split=split,
                           write_energy_ratio=rec["full_write_energy_j"] / split["write_energy_j"],
                           write_latency_ratio=rec["full_write_latency_s"]
                           / split["write_latency_s"])
    return {"devices": rows, "within": sum(r["within"] for r in rows.values()),
            "factor": COST_FACTOR, "source": PUBLISHED_COST_SOURCE}


def spearman(a, b) -> float:
    """Spearman's rank correlation of two sequences (ties get their mean rank)."""
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den else float("nan")


def _ranks(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(1, len(v) + 1)
    for x in np.unique(v):  # ties: the mean of their ranks
        same = v == x
        r[same] = r[same].mean()
    return r


def tiers(final: dict) -> dict:
    """Whether each device run lands in NeuroSim's tier: high ≥ 80 %, low ≤ 55 %, the
    middle above every low and below every high device. {device: (tier, ok)}."""
    high = [final[n] for n in TIERS["high"] if n in final]
    low = [final[n] for n in TIERS["low"] if n in final]
    out = {}
    for tier, members in TIERS.items():
        for n in members:
            if n not in final:
                continue
            a = final[n]
            ok = a >= HIGH if tier == "high" else a <= LOW if tier == "low" else \
                a > max(low, default=LOW) and a < min(high, default=HIGH)
            out[n] = {"tier": tier, "ok": bool(ok)}
    return out


# -- configurations side by side --------------------------------------------------------
def _worker(tasks, events, protocol, seed, data_dir):
    try:
        data = load_data(data_dir)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
        events.put(("error", None, _describe(e)))
        return
    while True:
        name = tasks.get()
        if name is None:
            return
        try:
            rec = run_one(name, data, protocol, seed,
                          lambda n, e, a: events.put(("epoch", n, (e, a))))
            events.put(("done", name, rec))
        except Exception as e:  # noqa: BLE001
            events.put(("error", name, _describe(e)))
            return


def _describe(e):
    from ..errors import SynapseError

    return (isinstance(e, SynapseError), f"{type(e).__name__}: {e}",
            "".join(traceback.format_exception(e)))


def _run_parallel(names, protocol, seed, data, data_dir, jobs, progress):
    import multiprocessing as mp
    import queue

    ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited BLAS threads
    tasks, events = ctx.Queue(), ctx.Queue()
    # the software baseline is the quickest: last, to fill the gap at the end
    for n in sorted(names, key=lambda n: n == SOFTWARE):
        tasks.put(n)
    jobs = min(jobs, len(names))
    for _ in range(jobs):
        tasks.put(None)
    workers = [ctx.Process(target=_worker, args=(tasks, events, protocol, seed, data_dir),
                           daemon=True) for _ in range(jobs)]
    for w in workers:
        w.start()
    records = {}
    try:
        while len(records) < len(names):
            try:
                kind, name, payload = events.get(timeout=1.0)
            except queue.Empty:
                if not any(w.is_alive() for w in workers):
                    raise RuntimeError("the worker processes ended before finishing") from None
                continue
            if kind == "epoch" and progress is not None:
                progress(name, *payload)
            elif kind == "done":
                records[name] = payload
            elif kind == "error":
                ours, message, trace = payload
                if ours:
                    raise ConfigError(message)
                raise RuntimeError(f"{message} (in the worker{f' for {name}' if name else ''})"
                                   f"\n{trace}")
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            w.join(timeout=5)
    return records
