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
  Δw the law's nominal step in the direction of ΔW (``law.nominal_steps()``; NeuroSim's
  ``RealDevice::Write`` in ``Cell.cpp``: ΔW over the weight range times the LTP or the LTD
  number of levels). With an ideal, continuous device n is not rounded and the chip's
  update is exactly gradient descent's. Only the synapses that get a pulse are touched.
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

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError

SCHEMES = ("deterministic", "stochastic")
SYNAPSES = ("pair", "reference")
BACKWARDS = ("chip", "digital")
BIASES = ("digital", "fixed")


@dataclass
class LearningConfig:
    """How the chip learns: the device law, the update scheme, the mapping."""

    device: str = "ideal"  # a device preset (hardware.devices.DEVICE_PRESETS) or a TOML file
    scheme: str = "deterministic"  # "deterministic" (NeuroSim) or "stochastic" (aihwkit)
    synapse: str = "pair"  # "pair" (w⁺ − w⁻, one-sided, refreshed) or "reference"
    pulse_length: int = 31  # BL: pulse slots per sample of the stochastic scheme
    weight_max: float = 1.0  # the weight of a fully set pair (network units)
    refresh_at: float = 0.95  # pair: refresh when a device passes this fraction of its range
    # the backward read δ·W: "chip" through the arrays (their converters and noise), or
    # "digital" from the weights the devices hold, exactly (NeuroSim V3.0's training)
    backward: str = "chip"
    # the biases, digital registers: "digital" trained by SGD beside the devices, or
    # "fixed" held where they are (NeuroSim's network has none: leave them at 0)
    bias: str = "digital"
    # per layer, a factor on the learning rate (NeuroSim trains its two layers with
    # alpha1 = 0.4 and alpha2 = 0.2); empty: 1 for every layer
    layer_rates: list = field(default_factory=list)
    # the algorithm on the devices (hardware.algorithms): "sgd", every update straight to
    # pulses; "mixed_precision", a digital accumulator that pulses once it holds `threshold`
    # pulses' worth; "tiki_taka", a fast array A and a slow array C, W = C + fast_weight·A,
    # a column of A written into C (× transfer_lr) every `transfer_every` updates
    algorithm: str = "sgd"
    threshold: float = 1.0
    transfer_every: int = 1
    transfer_lr: float = 1.0
    fast_weight: float = 1.0

    def validate(self, where="learning"):
        from .algorithms import check

        check(self, where)
        for name, choices in (("scheme", SCHEMES), ("synapse", SYNAPSES),
                              ("backward", BACKWARDS), ("bias", BIASES)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{where}: {name} must be one of {', '.join(choices)}, got "
                                  f"{getattr(self, name)!r}")
        if not all(isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0
                   and r < float("inf") for r in self.layer_rates):
            raise ConfigError(f"{where}: layer_rates must be positive numbers, one per layer, "
                              f"got {self.layer_rates!r}")
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
        self.shape = shape = (layer.n_out, layer.n_in)
        self.size = layer.n_out * layer.n_in
        self.pair = cfg.synapse == "pair"
        span = law.w_max - law.w_min
        self.gamma = cfg.weight_max / span * (1.0 if self.pair else 2.0)
        # the law's nominal steps up and down, Δw: what one pulse is worth in the
        # deterministic scheme (NeuroSim counts LTP and LTD pulses on their own scales)
        self.dw_up, self.dw_down = law.nominal_steps()
        self.dw = self.dw_up
        s_up, s_down = np.float32(self.gamma * self.dw_up), np.float32(self.gamma * self.dw_down)
        # one pulse up and down in network units, and the least |ΔW| that rounds to one
        # (less a margin for the rounding of the bound it is compared with)
        self._steps = (s_up, s_down, min(s_up, s_down) * np.float32(0.4999))
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
        self._write(np.asarray(W, np.float32).reshape(-1), None)

    def _write(self, W, index) -> None:
        """Write-verify the weights W (flat) of the synapses at flat ``index`` (None: all)."""
        target = W / np.float32(self.gamma)
        lo = np.float32(self.law.w_min)
        if self.pair:  # one device of each pair carries |w|, the other rests at w_min
            values = (lo + np.maximum(target, 0), lo + np.maximum(-target, 0))
        else:
            values = (np.float32(self.w_ref) + target,)
        for devs, w, v in zip(self.devices, self.states, values):
            flat = w.reshape(-1)
            if index is None:
                flat[...] = v
                devs.clip(w, out=w)
            else:
                flat[index] = devs.clip_at(v, index)

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

    def weights_at(self, index) -> np.ndarray:
        """The weights of the synapses at flat ``index`` (C order of W) as the chip reads
        them: ``weights().reshape(-1)[index]``, computed for those synapses alone."""
        a = self.devices[0].apparent_at(self.states[0], index)
        if self.pair:
            out = np.subtract(a, self.devices[1].apparent_at(self.states[1], index), out=a)
        else:
            out = np.subtract(a, np.float32(self.w_ref), out=a)
        out *= np.float32(self.gamma)
        return out

    # -- the update ---------------------------------------------------------------------------
    def update(self, Z_prev, delta, rng):
        """Apply ΔW = −δᵀ·Z_prev (η and the batch mean already in δ) by pulses. Returns the
        flat indices (C order of W) of the synapses whose devices were pulsed, or None where
        any may have changed (the stochastic scheme)."""
        if self.cfg.scheme == "deterministic":
            index, n = self._pulse_counts(Z_prev, delta)
            if index is None and self.pair:
                n = n.reshape(-1)
                index = np.flatnonzero(n)
                n = n[index]
            if index is None:  # most synapses pulse: all of them at once, in place
                self.pulses += int(np.count_nonzero(n) if self.continuous else np.abs(n).sum())
                before = self._before()
                self.devices[0].pulses(self.states[0], n, rng, out=self.states[0])
                self._metered(None, n, before)
            elif len(index):
                self._apply_at(index, n, rng)
            return index
        for b in range(len(delta)):  # each sample of the batch its own pulse trains
            n = self._coincidences(Z_prev[b], delta[b], rng).reshape(-1)
            index = np.flatnonzero(n)
            if len(index):
                self._apply_at(index, n[index], rng)
        return None

    def _pulse_counts(self, Z, delta):
        """The deterministic scheme's pulse counts ``n = ΔW / (γ Δw)`` (rounded to whole
        pulses unless the device is continuous; Δw up or down by the sign of ΔW), as (flat
        indices, counts) of the synapses that get any — or, where more than an eighth of
        them would, as (None, counts of all), for the whole array at once is cheaper then.

        A row j of ΔW is at most ``Σ_batch |δ_j| max_i |z_i|``; rows whose bound rounds to
        no pulse are not computed at all. On devices of tens of levels that is most rows of
        a batch-1 update, which then costs the few rows that pulse, not all of W."""
        s_up, s_down, least = self._steps
        n_in = self.shape[1]
        if len(Z) == 1:  # one sample: ΔW = −δ zᵀ, only where δ_j and z_i are not 0
            d, z = delta[0], Z[0]
            cols = np.flatnonzero(z)
            zmax = np.abs(z[cols]).max(initial=0)
            ad = np.abs(d)
            rows = np.flatnonzero(ad > 0 if self.continuous else ad * zmax >= least)
            if len(rows) == 0 or len(cols) == 0:
                return rows, np.zeros(0, np.float32)
            dense = len(rows) * len(cols) > self.size // 8
            dW = np.multiply.outer(-d, z) if dense else np.multiply.outer(-d[rows], z[cols])
        else:
            bound = np.abs(delta).T @ np.abs(Z).max(axis=1)  # (n_out,)
            rows = np.flatnonzero(bound > 0 if self.continuous else bound >= least)
            cols = None
            if len(rows) == 0:
                return rows, np.zeros(0, np.float32)
            dense = len(rows) * n_in > self.size // 8
            # ∂E/∂w_ji = δ_j z_i, summed over the batch, times −η
            # (rows left out of a dense ΔW round to no pulse)
            dW = -(delta.T @ Z) if dense or len(rows) == self.shape[0] else \
                -(delta[:, rows].T @ Z)
        n = dW / (s_up if s_up == s_down else np.where(dW > 0, s_up, s_down))
        if not self.continuous:
            np.rint(n, out=n)
        if dense:
            return None, n
        n = n.reshape(-1)
        nz = np.flatnonzero(n)
        r, c = np.divmod(nz, dW.shape[1])
        return rows[r] * n_in + (c if cols is None else cols[c]), n[nz]

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

    def _apply_at(self, index, n, rng) -> None:
        """``n`` pulses (signed) to the synapses at flat ``index``, the others untouched."""
        self.pulses += int(np.abs(n).sum()) if not self.continuous else len(index)
        before = self._before()
        self._pulse_at(index, n, rng)
        self._metered(index, n, before)

    def _pulse_at(self, index, n, rng) -> None:
        if not self.pair:  # bidirectional: LTP for n > 0, LTD for n < 0
            self.devices[0].pulses_at(self.states[0], index, n, rng)
            return
        # one-sided pair: a positive update potentiates w⁺, a negative one w⁻; a pair whose
        # device this update would take past refresh_at of its range is refreshed first
        up = n > 0
        parts = (np.where(up, n, 0), np.where(up, 0, -n))
        lo, hi = self.law.w_min, self.law.w_max
        limit = np.float32(lo + self.cfg.refresh_at * (hi - lo))
        step = np.float32(self.dw_up)
        full = (self.states[0].reshape(-1)[index] + parts[0] * step >= limit) | \
            (self.states[1].reshape(-1)[index] + parts[1] * step >= limit)
        if full.any():
            self._refresh(index[full])
        for devs, w, part, on in zip(self.devices, self.states, parts, (up, ~up)):
            if on.any():
                devs.pulses_at(w, index[on], part[on], rng)

    def _refresh(self, index) -> None:
        """Re-write the pairs at flat ``index``: read the weight, reset both devices, write
        the difference into one of them (as in Burr et al. 2015; counted in
        ``refreshes``)."""
        self.refreshes += len(index)
        self.tally["refreshes"] += len(index)
        self._write(self.weights_at(index), index)

    # -- what the pulses cost (metered) ---------------------------------------------------
    def _before(self):
        """The device states before an update, when metering (else None)."""
        return [w.copy() for w in self.states] if self.meter else None

    def _metered(self, index, n, before) -> None:
        """Add one update's pulses to the tally: by direction (a pair's pulses all
        potentiate one of its devices), the states they met, the row-by-row write steps."""
        if before is None:
            return
        c = np.zeros(self.size, np.float32)
        if index is None:
            c[:] = np.asarray(n, np.float32).reshape(-1)
        else:
            c[index] = n
        c = c.reshape(self.shape)
        if self.continuous:  # one pulse for any update of a continuous device
            c = np.sign(c)
        lo, hi = self.law.w_min, self.law.w_max
        frac = lambda w: (w - np.float32(lo)) * np.float32(1.0 / (hi - lo))  # noqa: E731
        pos, neg = np.maximum(c, 0), np.maximum(-c, 0)
        if self.pair:  # positive updates pulse w⁺, negative ones w⁻: LTP both
            counts = (pos + neg, np.zeros_like(c))
            met = [0.5 * (float(np.vdot(pos, frac(b0) + frac(self.states[0]))) +
                          float(np.vdot(neg, frac(b1) + frac(self.states[1]))))
                   for b0, b1 in [before]] + [0.0]
        else:
            counts = (pos, neg)
            met = [0.5 * float(np.vdot(k, frac(before[0]) + frac(self.states[0])))
                   for k in counts]
        t = self.tally
        for name, k, m in zip(("up", "down"), counts, met):
            t[f"pulses_{name}"] += int(round(float(k.sum())))
            t[f"pulse_state_{name}"] += m
            t[f"write_steps_{name}"] += _batch_steps(k)
        t["rows_written"] += int(np.count_nonzero((counts[0] + counts[1]).any(axis=0)))


WRITE_BATCHES = 16  # columns of a row are written in this many batches (NeuroSim V3's
# numWriteColMuxed = 16, Param.cpp), the columns of a batch in parallel


def _batch_steps(c) -> int:
    """Σ over the rows (inputs) and column batches of ``c`` (pulses, (n_out, n_in)) of the
    largest count in the batch: the pulse slots a row-by-row write takes (NeuroSim's
    Train.cpp, maxLatencyLTP + maxLatencyLTD per batch)."""
    size = -(-c.shape[0] // WRITE_BATCHES)
    starts = np.arange(0, c.shape[0], size)
    return int(round(float(np.maximum.reduceat(c, starts, axis=0).sum())))
