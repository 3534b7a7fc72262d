"""Learning in the synapse: a layer's weights as the states of programmable devices, changed
by voltage pulses.

The textbook's memory *is* the synapse; on the chip that is literal. Each weight is held by
devices whose state ``w`` (dimensionless, ``[w_min, w_max]`` of their law; see
``hardware.devices``) moves by one nonlinear, noisy step per pulse:

* ``synapse="pair"``: ``W = γ (w⁺ − w⁻)``, a differential pair of one-sided devices. A
  positive update potentiates ``w⁺``, a negative one potentiates ``w⁻`` (only LTP pulses, as
  in Burr et al., IEEE TED 62:3498, 2015). When either device of a pair nears its upper bound
  the pair is *refreshed*: the weight is read, both devices are reset to ``w_min`` and the
  difference is written into one of them (counted in ``refreshes``).
* ``synapse="reference"``: ``W = γ (w − w_ref)``, one bidirectional device against a
  reference column at mid-range (NeuroSim's mapping): LTP pulses up, LTD pulses down.

``γ = weight_max / (w_max − w_min)`` for a pair (``weight_max``: the weight of a fully set
pair, network units), ``2 weight_max / (w_max − w_min)`` against a reference.

An update ``ΔW = −η Σ_batch δᵀ z`` (the substrate's ``update``, η already in δ) becomes pulses
by one of two schemes:

* ``scheme="deterministic"`` (NeuroSim): each device gets ``n = round(ΔW / (γ Δw))`` pulses,
  Δw the law's nominal step. With an ideal, continuous device n is not rounded and the
  chip's update is exactly gradient descent's.
* ``scheme="stochastic"`` (aihwkit's ``StochasticCompressed``, Gokmen & Vlasov, Front.
  Neurosci. 10:333, 2016): for each sample of the batch, each input ``z_i`` and each delta
  ``δ_j`` fire a train of ``BL`` pulse slots with probabilities ``p_i = C_x |z_i|`` and
  ``q_j = C_d |δ_j|``; a device receives a pulse where both fire (a coincidence), of sign
  ``−sign(δ_j z_i)``. The expected number of pulses, ``BL C_x C_d |δ_j z_i|``, times the step
  ``γ Δw`` is the gradient step when ``C_x C_d = 1 / (γ Δw BL)``; ``C_x`` and ``C_d`` share
  that product in the ratio of the largest ``|δ|`` to the largest ``|z|`` (aihwkit's update
  management), and a probability beyond 1 is capped (``capped`` counts them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

SCHEMES = ("deterministic", "stochastic")
SYNAPSES = ("pair", "reference")


@dataclass
class LearningConfig:
    """How the chip learns: the device law, the update scheme, the mapping."""

    device: str = "ideal"  # a device preset (hardware.devices.DEVICE_PRESETS) or a TOML file
    scheme: str = "deterministic"  # "deterministic" (NeuroSim) or "stochastic" (aihwkit)
    synapse: str = "pair"  # "pair" (w⁺ − w⁻, one-sided, refreshed) or "reference"
    pulse_length: int = 31  # BL: pulse slots per sample of the stochastic scheme
    weight_max: float = 1.0  # the weight of a fully set pair (network units)
    refresh_at: float = 0.95  # pair: refresh when a device passes this fraction of its range

    def validate(self, where="learning"):
        if self.scheme not in SCHEMES:
            raise ConfigError(f"{where}: scheme must be one of {', '.join(SCHEMES)}, got "
                              f"{self.scheme!r}")
        if self.synapse not in SYNAPSES:
            raise ConfigError(f"{where}: synapse must be one of {', '.join(SYNAPSES)}, got "
                              f"{self.synapse!r}")
        if not 1 <= self.pulse_length <= 1024:
            raise ConfigError(f"{where}: pulse_length must be in 1…1024, got "
                              f"{self.pulse_length}")
        if not self.weight_max > 0:
            raise ConfigError(f"{where}: weight_max must be > 0, got {self.weight_max}")
        if not 0 < self.refresh_at <= 1:
            raise ConfigError(f"{where}: refresh_at must be in (0, 1], got {self.refresh_at}")

    def law(self):
        from .devices import load_device

        return load_device(self.device)


class DeviceSynapses:
    """One layer's weights held by devices (see the module's docstring): their states, the
    pulses that change them, and what that cost (pulse and refresh counts)."""

    def __init__(self, layer, cfg: LearningConfig, rng: np.random.Generator):
        self.cfg = cfg
        self.law = law = cfg.law()
        shape = (layer.n_out, layer.n_in)
        self.pair = cfg.synapse == "pair"
        span = law.w_max - law.w_min
        self.gamma = cfg.weight_max / span * (1.0 if self.pair else 2.0)
        # the law's nominal step, Δw: what one pulse is worth in the deterministic scheme
        self.dw = float(getattr(law, "dw_min", 0.0) or span / law.states)
        self.continuous = bool(getattr(law, "continuous", False))
        self.devices = [law.instantiate(shape, rng)] + \
            ([law.instantiate(shape, rng)] if self.pair else [])
        self.states = [np.empty(shape, np.float32) for _ in self.devices]
        self.w_ref = 0.5 * (law.w_min + law.w_max)
        self.pulses = 0  # pulses applied, all devices
        self.refreshes = 0  # pairs re-written because a device saturated
        self.capped = 0  # stochastic: firing probabilities capped at 1
        # what the pulses cost, counted when metered (substrate.LayerCounts: by direction,
        # the states they started from, the row-by-row write steps; refreshes always)
        self.meter = False
        self.tally = dict.fromkeys(("pulses_up", "pulses_down", "pulse_state_up",
                                    "pulse_state_down", "write_steps_up", "write_steps_down",
                                    "rows_written", "refreshes"), 0)
        self.write(layer.W)

    # -- reading and writing the weights --------------------------------------------------
    def write(self, W) -> None:
        """Program the weights W (network units) by write-verify: each device set to the
        state that represents them, within its bounds."""
        target = np.asarray(W, np.float32) / self.gamma
        lo = self.law.w_min
        if self.pair:  # one device of each pair carries |w|, the other rests at w_min
            self.states[0][...] = lo + np.maximum(target, 0)
            self.states[1][...] = lo + np.maximum(-target, 0)
        else:
            self.states[0][...] = self.w_ref + target
        for devs, w in zip(self.devices, self.states):
            devs.clip(w, out=w)

    def weights(self, out=None) -> np.ndarray:
        """W as the chip reads it now, γ (w⁺ − w⁻) or γ (w − w_ref)."""
        a = self.devices[0].apparent(self.states[0])
        if self.pair:
            b = self.devices[1].apparent(self.states[1])
            out = np.subtract(a, b, out=out)
        else:
            out = np.subtract(a, np.float32(self.w_ref), out=out)
        out *= np.float32(self.gamma)
        return out

    # -- the update ---------------------------------------------------------------------------
    def update(self, Z_prev, delta, rng) -> None:
        """Apply ΔW = −δᵀ·Z_prev (η and the batch mean already in δ) by pulses."""
        if self.cfg.scheme == "deterministic":
            dW = -(delta.T @ Z_prev)  # ∂E/∂w_ji = δ_j z_i, summed over the batch, times −η
            n = dW / np.float32(self.gamma * self.dw)
            if not self.continuous:
                n = np.rint(n)
            self._apply(n, rng)
        else:
            for b in range(len(delta)):  # each sample of the batch its own pulse trains
                self._apply(self._coincidences(Z_prev[b], delta[b], rng), rng)

    def _coincidences(self, z, d, rng) -> np.ndarray:
        """Signed pulse counts of one sample's stochastic trains: coincidences of the input
        and delta pulses in each of BL slots, signed −sign(δ_j z_i)."""
        BL = self.cfg.pulse_length
        zmax, dmax = float(np.abs(z).max()), float(np.abs(d).max())
        n = np.zeros((len(d), len(z)), np.float32)
        if zmax == 0 or dmax == 0:
            return n
        C = 1.0 / (self.gamma * self.dw * BL)  # C_x C_d: expected pulses × step = the update
        Cx, Cd = np.sqrt(C * dmax / zmax), np.sqrt(C * zmax / dmax)  # balanced probabilities
        p, q = np.abs(z) * Cx, np.abs(d) * Cd
        self.capped += int((p > 1).sum() + (q > 1).sum())
        X = (rng.random((BL, len(z)), dtype=np.float32) < p).astype(np.float32)
        D = (rng.random((BL, len(d)), dtype=np.float32) < q).astype(np.float32)
        np.matmul(D.T, X, out=n)  # coincidences per device, 0…BL
        n *= -np.outer(np.sign(d), np.sign(z)).astype(np.float32)
        return n

    def _apply(self, n, rng) -> None:
        self.pulses += int(np.abs(n).sum()) if not self.continuous else int(np.count_nonzero(n))
        if not self.pair:  # bidirectional: LTP for n > 0, LTD for n < 0
            if not self.meter:
                self.devices[0].pulses(self.states[0], n, rng, out=self.states[0])
                return
            counts = [self._weight(np.maximum(n, 0)), self._weight(np.maximum(-n, 0))]
            before = [self._state_sum(c, 0) for c in counts]
            self.devices[0].pulses(self.states[0], n, rng, out=self.states[0])
            self._tally(counts, before, [self._state_sum(c, 0) for c in counts])
            return
        # one-sided pair: a positive update potentiates w⁺, a negative one w⁻; a pair whose
        # device this update would take past refresh_at of its range is refreshed first
        parts = (np.maximum(n, 0), np.maximum(-n, 0))
        lo, hi = self.law.w_min, self.law.w_max
        limit = np.float32(lo + self.cfg.refresh_at * (hi - lo))
        step = np.float32(self.dw)
        full = (self.states[0] + parts[0] * step >= limit) | \
            (self.states[1] + parts[1] * step >= limit)
        if full.any():
            self._refresh(full)
        counts = [self._weight(p) for p in parts] if self.meter else None
        before = [self._state_sum(c, i) for i, c in enumerate(counts)] if self.meter else None
        for devs, w, part in zip(self.devices, self.states, parts):
            devs.pulses(w, part, rng, out=w)
        if self.meter:  # every pulse of a pair potentiates one of its devices: all LTP
            after = [self._state_sum(c, i) for i, c in enumerate(counts)]
            self._tally([counts[0] + counts[1], np.zeros_like(counts[0])],
                        [sum(before), 0.0], [sum(after), 0.0])

    def _weight(self, p):
        """Pulses per device: the count, or one for any update of a continuous device."""
        return (p != 0).astype(np.float32) if self.continuous else p.astype(np.float32)

    def _state_sum(self, counts, device) -> float:
        """Σ over the pulses ``counts`` of the state of ``device`` now, as a fraction of the
        law's range (the conductance they meet, in units of the range above g_min)."""
        lo, hi = self.law.w_min, self.law.w_max
        x = (self.states[device] - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        return float(np.vdot(counts, x))

    def _tally(self, counts, before, after) -> None:
        """Add one update's pulses (``counts``: LTP, LTD per device) to the tally."""
        t = self.tally
        for name, c, b, a in zip(("up", "down"), counts, before, after):
            t[f"pulses_{name}"] += int(round(float(c.sum())))
            t[f"pulse_state_{name}"] += 0.5 * (b + a)
            t[f"write_steps_{name}"] += _batch_steps(c)
        t["rows_written"] += int(np.count_nonzero((counts[0] + counts[1]).any(axis=0)))

    def _refresh(self, full) -> None:
        """Re-write the pairs marked ``full``: read the weight, reset both devices, write the
        difference into one of them (as in Burr et al. 2015; counted in ``refreshes``)."""
        W = self.weights()
        self.refreshes += int(full.sum())
        self.tally["refreshes"] += int(full.sum())
        kept = [w.copy() for w in self.states]
        self.write(W)
        for w, old in zip(self.states, kept):  # only the marked pairs are re-written
            np.copyto(w, old, where=~full)


WRITE_BATCHES = 16  # columns of a row are written in this many batches (NeuroSim V3's
# numWriteColMuxed = 16, Param.cpp), the columns of a batch in parallel


def _batch_steps(c) -> int:
    """Σ over the rows (inputs) and column batches of ``c`` (pulses, (n_out, n_in)) of the
    largest count in the batch: the pulse slots a row-by-row write takes (NeuroSim's
    Train.cpp, maxLatencyLTP + maxLatencyLTD per batch)."""
    size = -(-c.shape[0] // WRITE_BATCHES)
    starts = np.arange(0, c.shape[0], size)
    return int(round(float(np.maximum.reduceat(c, starts, axis=0).sum())))
