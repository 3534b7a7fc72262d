"""The substrate: where the synapses live and how their three operations happen.

A layer's maths is the textbook's (``synapsenet.network``): ``u = W·z_prev + b`` forward,
``∂E/∂z_prev = δ·W`` backward, ``W ← W − η δᵀ z_prev`` as the update. *How* each product is
made is the substrate's: exact floating point on a digital computer, or currents through a
crossbar of synaptic devices on an analog chip. A network is always on one substrate
(``Network.substrate``); its inference and training loops are written once and call:

    forward(k, layer, Z, out)      U = Z·Wᵀ + b        for layer k, a batch of rows Z
    backward(k, layer, delta, out) G = δ·W             ∂E/∂z_prev, handed to the layer below
    update(k, layer, Z, delta)     W ← W − δᵀ·Z, b ← b − Σδ   (η already in δ), or only
                                   the gradients dW, db for an optimiser to apply
    constrain(layer)               the synapse's limits after an optimiser's step

and every substrate counts what it did (:class:`Counters`), so that costs are computed from
the operations made, never re-derived. This is the shape of IBM aihwkit's tiles
(``forward / backward / update``; digital is just another tile, its ``FloatingPointTile``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError


@dataclass
class LayerCounts:
    """What one layer's substrate did since the counters were last reset.

    ``vectors``: input rows through the forward product; ``macs``: multiply-adds of forward
    products (``vectors · n_in · n_out``); ``backward_macs`` and ``update_macs`` likewise for
    ``δ·W`` and ``δᵀ·z``. On an analog chip also ``array_reads`` (one per row block of tiles
    and input phase, per vector), ``dac_conversions`` and ``adc_conversions``, and
    ``input_energy_units``: Σ over reads of Σ_i x_i² Σ_j (G⁺_ij + G⁻_ij) in siemens, x_i the
    normalised input of row i (the read energy is V_read² · t_read times it). ``write_pulses``
    counts device programming pulses once updates happen on the devices.

    Metered too (``Analog(meter=True)``), for the cost model (``synapsenet.cost``), over the
    forward and the backward reads: ``input_drive``, Σ over reads of Σ_i |v_i|, and
    ``input_drive_units``, Σ over reads of Σ_i |v_i| Σ_j (G⁺_ij + G⁻_ij) in siemens, v_i the
    drive of line i as a fraction of V_read (amplitude coding: |x_i|; bit-serial: the bit of
    the plane, whatever its significance), so that the current drawn from the supply is
    V_read · v_i · ΣG. Of the training pulses, by direction (``_up``: potentiation/LTP,
    ``_down``: depression/LTD): ``pulses_*``; ``pulse_state_*``, Σ over pulses of the device's
    state as a fraction of its range, the mean of before and after the update (NeuroSim's
    (G_prev + G)/2); ``write_steps_*``, Σ over updates, rows and column batches of the
    largest pulse count in the batch (NeuroSim's row-by-row write latency, in pulses);
    ``rows_written``, rows that received a pulse, per update; ``refreshes``, pairs re-written
    because a device saturated; ``transfers``, what a learning algorithm beyond plain SGD
    moved (``hardware.algorithms``: synapses written from the digital accumulator of mixed
    precision, columns moved from Tiki-Taka's fast array to its slow one)."""

    vectors: int = 0
    macs: int = 0
    backward_macs: int = 0
    update_macs: int = 0
    array_reads: int = 0
    dac_conversions: int = 0
    adc_conversions: int = 0
    input_energy_units: float = 0.0
    write_pulses: int = 0
    input_drive: float = 0.0
    input_drive_units: float = 0.0
    pulses_up: int = 0
    pulses_down: int = 0
    pulse_state_up: float = 0.0
    pulse_state_down: float = 0.0
    write_steps_up: int = 0
    write_steps_down: int = 0
    rows_written: int = 0
    refreshes: int = 0
    transfers: int = 0

    def add(self, **counts) -> None:
        for k, v in counts.items():
            setattr(self, k, getattr(self, k) + v)


@dataclass
class Counters:
    """Per-layer :class:`LayerCounts`, safe to add to from several threads."""

    layers: list[LayerCounts] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __getstate__(self):
        return {"layers": self.layers}

    def __setstate__(self, state):
        self.layers = state["layers"]
        self._lock = threading.Lock()

    def layer(self, k: int) -> LayerCounts:
        while len(self.layers) <= k:
            self.layers.append(LayerCounts())
        return self.layers[k]

    def add(self, k: int, **counts) -> None:
        with self._lock:
            self.layer(k).add(**counts)

    def reset(self) -> None:
        with self._lock:
            self.layers = []

    def total(self) -> LayerCounts:
        out = LayerCounts()
        for lc in self.layers:
            out.add(**dataclasses.asdict(lc))
        return out

    def as_dict(self) -> dict:
        return {"layers": [dataclasses.asdict(lc) for lc in self.layers],
                "total": dataclasses.asdict(self.total())}


class Substrate:
    """The interface every substrate implements; see the module's docstring.

    A substrate is *placed* under one network (:meth:`place`, called by ``Network.on``):
    the analog chip programs its devices then. ``k`` is the layer's index in that network.
    Arrays are rows of a batch: ``Z`` (batch, n_in), ``U`` and ``delta`` (batch, n_out).
    """

    name = "substrate"
    #: whether :meth:`update` trains this substrate's synapses
    trainable = True

    def __init__(self):
        self.counters = Counters()

    # -- placement ------------------------------------------------------------------------
    def place(self, network) -> None:
        """Bind to ``network``'s layers (the analog chip programs its devices here)."""

    # -- the three operations ---------------------------------------------------------------
    def forward(self, k, layer, Z, out, rng=None, train=False) -> np.ndarray:
        """``U = Z·Wᵀ + b`` into ``out`` (batch, n_out) and return it. ``train``: a training
        pass, whose ``backward`` follows; ``rng``: the generator of this pass's noise."""
        raise NotImplementedError

    def backward(self, k, layer, delta, out) -> np.ndarray:
        """``G = δ·W`` into ``out`` (batch, n_in): ∂E/∂z_prev with the weights the forward
        pass of this step used."""
        raise NotImplementedError

    def update(self, k, layer, Z_prev, delta, step: bool) -> None:
        """Given ``delta`` (already scaled: the batch mean, and η when ``step``), set
        ``layer.db = Σ_batch δ`` and either make the plain gradient-descent step
        ``W ← W − δᵀ·Z_prev``, ``b ← b − db`` (``step=True``) or fill ``layer.dW = δᵀ·Z_prev``
        for an optimiser to apply (``step=False``)."""
        raise NotImplementedError

    def updates(self):
        """A context around one step's :meth:`update` calls (the backward pass): a
        substrate may make them together when it ends, as long as nothing in the step reads
        the updated weights before (backpropagation reads each layer's before its update).
        Here: nothing held back."""
        return contextlib.nullcontext()

    def constrain(self, layer) -> None:
        """Keep the layer's synapses within what this substrate can hold, after a step."""

    # -- speed and noise ----------------------------------------------------------------------
    def fused_inference(self, network):
        """An optional compiled whole-network inference ``f(X, out) -> bool`` (False: the
        first layer's u was not finite somewhere), or None to use the per-layer loop."""
        return None

    def trainer(self, network, loss, optimizer, batch: int, inputs=None):
        """``(engine, None)`` for an optional compiled training step covering this
        configuration, or ``(None, why not)``; the loop then uses the per-layer steps.
        ``inputs``: the training data, which may size the engine (its threads)."""
        return None, f"the {self.name} substrate trains layer by layer"

    def inference_plan(self, network, n_rows: int, threads) -> tuple[int, int]:
        """(rows per chunk, threads) of an inference of ``n_rows`` rows: chunks run side by
        side on that many threads (``threads``: the caller's wish; None: the default)."""
        return max(1, n_rows), 1

    def noise(self, n_rows: int):
        """A function ``start_row → numpy Generator`` for the noise of each chunk of one
        inference (the same outputs on any number of threads), or None when noiseless."""
        return None

    def saved_state(self):
        """What a model file must hold to rebuild this substrate as it is now, as (a
        JSON-able description, named arrays); None where the layers' weights say it all."""
        return None

    def snapshot(self):
        """Copies of what training changes in this substrate beyond the layers' parameters
        (a chip's devices, its generator and counters), for :meth:`restore_snapshot`: a fit
        stopped in the middle of an epoch goes back to the end of the last one. None where
        the layers hold it all."""
        return None

    def restore_snapshot(self, snapshot) -> None:
        """Put back what :meth:`snapshot` copied."""

    def describe(self) -> dict:
        """Plain, serialisable description (stored with a trained model)."""
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "name")
        return f"{type(self).__name__}({args})"


def check_weight_bound(weight_bound):
    if weight_bound is None:
        return None
    try:
        w = float(weight_bound)
    except (TypeError, ValueError):
        raise ConfigError(f"weight_bound must be a positive number (or None), got "
                          f"{weight_bound!r}") from None
    if not w > 0 or w == float("inf"):
        raise ConfigError(f"weight_bound must be positive and finite (or None), got "
                          f"{weight_bound!r}")
    return w
