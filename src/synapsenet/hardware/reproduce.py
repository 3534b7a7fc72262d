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

The software baseline (``Software``) is the same protocol in floating point: digital SGD with
the weights bounded at ±1, which is what the chip computes on ideal, continuous devices with
ideal converters. What differs from NeuroSim is listed
in ``docs/hardware.md`` ("Reproducing NeuroSim").
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass

import numpy as np

from .. import _blas
from ..errors import ConfigError
from ..substrate import Digital
from .devices.presets import NEUROSIM_ACCURACY, NEUROSIM_DEVICES, NEUROSIM_SOFTWARE_ACCURACY

SOFTWARE = "software"
CONFIGURATIONS = NEUROSIM_DEVICES + (SOFTWARE,)
PUBLISHED = {**NEUROSIM_ACCURACY, SOFTWARE: NEUROSIM_SOFTWARE_ACCURACY}
TIERS = {"high": ("gst-pcm", "epiram", "hzo-fefet"), "middle": ("ag-si", "taox-hfox"),
         "low": ("pcmo", "alox-hfo2")}
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
    from .config import HardwareConfig, IOConfig
    from .learning import LearningConfig

    learning = LearningConfig(device=device, scheme="deterministic", synapse="reference",
                              weight_max=1.0, backward="digital", bias="fixed",
                              layer_rates=list(protocol.layer_rates))
    io = IOConfig(dac_bits=1, input_scaling="fixed", input_range=1.0,
                  adc_bits=protocol.adc_bits, adc_full_scale="rows")
    cfg = HardwareConfig(name=f"neurosim-{device}" if isinstance(device, str) else "neurosim",
                         source="MLP+NeuroSim V3.0's benchmark (synapsenet.hardware.reproduce)",
                         io=io, learning=learning)
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

    def trainer(self, network, loss, optimizer, batch):
        """The compiled training step, with this baseline's rate per layer and its biases
        left at 0 (``update``'s arithmetic), where it covers the rest."""
        if not optimizer.folds_learning_rate:
            return None, "NeuroSim's software baseline trains by plain SGD"
        if len(self.layer_rates) != len(network.layers):
            return None, "layer_rates does not give one factor per layer"
        engine, why = super().trainer(network, loss, optimizer, batch)
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
            progress=None) -> dict:
    """One configuration through the protocol: ``data`` = (X, y, X_test, y_test) prepared
    by :func:`prepare`; ``progress(name, epoch, accuracy)`` after every epoch. Returns its
    record: accuracy after each epoch (fractions), pulses, seconds."""
    from .. import Dense, Network
    from .crossbar import Analog

    protocol.check()
    X, y, X_test, y_test = data
    rng = np.random.default_rng([seed, _index(name)])
    W1, W2 = initial_weights(name, rng, protocol)
    layers = [Dense(W.shape[1], W.shape[0], "sigmoid", W=W, b=np.zeros(W.shape[0], np.float32))
              for W in (W1, W2)]
    substrate = Software(protocol.layer_rates) if name == SOFTWARE else \
        Analog(hardware_config(name, protocol), seed=seed, threads=1)
    chip = Network(layers, seed=seed).on(substrate)
    accuracy, t0, cpu0 = [], time.perf_counter(), time.process_time()
    # batch-1 products are too small for BLAS's threads (they cost more than they give),
    # and one thread makes the results the same however many configurations run at once
    with _blas.single_threaded():
        for epoch in range(protocol.epochs):
            pick = rng.integers(0, len(X), protocol.images_per_epoch)  # with replacement
            chip.fit(X[pick], y[pick], epochs=1, learning_rate=protocol.learning_rate,
                     loss="squared_error", mode="sgd", shuffle=False, seed=rng)
            Z = chip.predict(X_test, threads=1)
            accuracy.append(float(np.mean(Z.argmax(axis=1) == y_test)))
            if progress is not None:
                progress(name, epoch + 1, accuracy[-1])
    out = {"accuracy": accuracy, "epochs": protocol.epochs, "published": PUBLISHED.get(name),
           "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0}
    if name != SOFTWARE:
        out["pulses"] = int(substrate.pulses)
        out["refreshes"] = sum(s.refreshes for s in substrate.synapses if s is not None)
    return out


def _index(name: str) -> int:
    """A configuration's number in the seeds: its place in ``CONFIGURATIONS``, or for any
    other device a stable number from its name."""
    if name in CONFIGURATIONS:
        return CONFIGURATIONS.index(name)
    return len(CONFIGURATIONS) + int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little")


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
    return out


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
