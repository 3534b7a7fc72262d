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
  management), and a probability beyond 1 is capped (``capped`` counts them). With
  ``adaptive_pulse_length`` (the default, as aihwkit's ``update_bl_management``) a sample's
  ``BL`` is the fewest slots its largest update needs, ``⌈max|z| max|δ| / (γ Δw)⌉``, up to
  ``pulse_length`` (:func:`adapt_pulse_length`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._parallel import threads_here
from ..errors import ConfigError, UpdateRefused
from .devices.base import _TABLE_PULSES

# the longest train of the deterministic scheme: 2²⁴, beyond which a float32 pulse count is
# no longer a whole number; an update asking for more has diverged
MAX_TRAIN = 2 ** 24


def train_too_long(most=None) -> str:
    """What an update refused for asking a device for ``most`` pulses says (None: more than
    MAX_TRAIN, as the compiled engine reports it)."""
    if most is None:
        return f"the update asks a device for more than the {MAX_TRAIN:,} pulses of the " \
            "longest train whose count is exact"
    return f"the update asks a device for {most:.3g} pulses, more than the {MAX_TRAIN:,} of " \
        "the longest train whose count is exact"


def _check_trains(n) -> None:
    """UpdateRefused where a count of ``n`` is past MAX_TRAIN (or not a number), before any
    device is pulsed."""
    most = np.abs(n).max(initial=0)
    if not most <= MAX_TRAIN:
        raise UpdateRefused(train_too_long(most))

def adapt_pulse_length(zmax: float, dmax: float, C: float, BL: int) -> tuple[int, float]:
    """One sample's train length and its C = 1 / (γ Δw BL) under aihwkit's
    ``update_bl_management``: the largest update, ``zmax dmax / (γ Δw)`` = zmax dmax C BL
    pulses expected, rounded up to whole slots, at least 1 and at most ``BL`` (the same
    double-precision steps as _accel/pulses.h, so the two draw alike)."""
    cb = C * BL
    most = zmax * dmax * cb
    bl = BL if not most < BL else 1 if most <= 1.0 else math.ceil(most)
    return bl, cb / bl


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
    # BL per sample: the fewest slots the sample's largest update needs, up to pulse_length
    # (aihwkit's update_bl_management, on by default there as here); false: always BL
    adaptive_pulse_length: bool = True
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
        self.engine = "numpy"  # the stochastic update's: "compiled", or "numpy (why)"
        self._tally = dict.fromkeys(("pulses_up", "pulses_down", "pulse_state_up",
                                     "pulse_state_down", "write_steps_up", "write_steps_down",
                                     "rows_written", "refreshes"), 0)
        # metered updates not yet in the tally: (index, signed counts, mean states), summed
        # in bulk (a batch-1 update pulses tens of synapses: per update, the sums would be
        # mostly the cost of calling NumPy)
        self._pending, self._pending_size = [], 0
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

    # -- what training changes, kept and put back ---------------------------------------------
    def snapshot(self) -> dict:
        """Copies of what training changes here, for :meth:`restore_snapshot`: the states,
        the write-noise offsets, the counts and the tally (the devices' drawn parameters and
        stuck masks never change)."""
        return {"states": [w.copy() for w in self.states],
                "offsets": [None if d.offset is None else d.offset.copy() for d in self.devices],
                "counts": (self.pulses, self.refreshes, self.capped),
                "tally": dict(self.tally)}  # (reading it sums what is pending)

    def restore_snapshot(self, kept: dict) -> None:
        """Back to what :meth:`snapshot` copied, written into the same arrays (a compiled
        update bound to them stays bound)."""
        for w, saved in zip(self.states, kept["states"]):
            np.copyto(w, saved)
        for devs, saved in zip(self.devices, kept["offsets"]):
            if saved is not None:
                np.copyto(devs.offset, saved)
        self.pulses, self.refreshes, self.capped = kept["counts"]
        self._pending, self._pending_size = [], 0
        self._tally.clear()
        self._tally.update(kept["tally"])

    # -- the update ---------------------------------------------------------------------------
    def update(self, Z_prev, delta, rng, mirror=None):
        """Apply ΔW = −δᵀ·Z_prev (η and the batch mean already in δ) by pulses. Returns the
        flat indices (C order of W) of the synapses whose devices were pulsed, or None where
        any may have changed (the stochastic scheme). ``mirror`` (a dict of float32 arrays
        ``W``, ``W2``, ``WnT``, ``scaled`` and the constants ``g``, ``inv_wmax``; see
        ``CrossbarArray.mirror``): where the compiled stochastic update writes the weights
        as it changes them, which then returns no index (nothing left to write)."""
        if self.cfg.scheme == "deterministic":
            index, n = self._pulse_counts(Z_prev, delta)
            if index is None and self.pair:
                n = n.reshape(-1)
                index = np.flatnonzero(n)
                n = n[index]
            if index is None:  # most synapses pulse: all of them at once, in place
                self.pulses += int(np.count_nonzero(n) if self.continuous else np.abs(n).sum())
                nz = np.flatnonzero(n) if self.meter else None
                before = self._before(nz)
                self.devices[0].pulses(self.states[0], n, rng, out=self.states[0])
                if nz is not None:
                    self._metered(nz, n.reshape(-1)[nz], before)
            elif len(index):
                self._apply_at(index, n, rng)
            return index
        if self._compiled(Z_prev, delta, rng, mirror):
            return None if mirror is None else np.zeros(0, np.intp)
        for b in range(len(delta)):  # each sample of the batch its own pulse trains
            index, n = self._coincidences(Z_prev[b], delta[b], rng)
            if len(index):
                self._apply_at(index, n, rng)
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
        _check_trains(n)
        if dense:
            return None, n
        n = n.reshape(-1)
        nz = np.flatnonzero(n)
        r, c = np.divmod(nz, dW.shape[1])
        return rows[r] * n_in + (c if cols is None else cols[c]), n[nz]

    def _coincidences(self, z, d, rng):
        """One sample's stochastic trains: coincidences of the input and delta pulses in each
        of BL slots, signed −sign(δ_j z_i), as (flat indices in C order of W, signed counts)
        of the devices that get any."""
        fired = self._fire(z, d, rng)
        if fired is None:
            return np.zeros(0, np.intp), np.zeros(0, np.float32)
        return self._coincide(*fired, z, d)

    def _probabilities(self, z, d):
        """The firing probabilities p = C_x |z|, q = C_d |δ| of one sample and its train
        length BL (None where all z or all δ are 0), C_x C_d = 1 / (γ Δw BL) shared in the
        ratio of the largest |δ| to the largest |z| (aihwkit's update management). With
        ``adaptive_pulse_length`` BL is the fewest slots that the sample's largest update
        needs, ⌈max|z| max|δ| / (γ Δw)⌉, up to ``pulse_length`` (aihwkit's
        ``update_bl_management``): below the cap no probability then passes 1."""
        zmax, dmax = float(np.abs(z).max()), float(np.abs(d).max())
        if zmax == 0 or dmax == 0:
            return None
        BL = self.cfg.pulse_length
        C = 1.0 / (self.gamma * self.dw * BL)  # expected pulses × step
        if self.cfg.adaptive_pulse_length:
            BL, C = adapt_pulse_length(zmax, dmax, C, BL)
        Cx, Cd = np.sqrt(C * dmax / zmax), np.sqrt(C * zmax / dmax)  # = the update
        return np.abs(z) * Cx, np.abs(d) * Cd, BL

    def _fire(self, z, d, rng):
        """The slots each input and each delta fires in, (BL × n_in, BL × n_out) booleans,
        or None where all z or all δ are 0; probabilities beyond 1 are counted in
        ``capped``."""
        pq = self._probabilities(z, d)
        if pq is None:
            return None
        p, q, BL = pq
        self.capped += int((p > 1).sum() + (q > 1).sum())
        X = rng.random((BL, len(z)), dtype=np.float32) < p  # the slots each input fires in
        D = rng.random((BL, len(d)), dtype=np.float32) < q
        return X, D

    def _coincide(self, X, D, z, d):
        """The coincidences of the slots X (inputs) and D (deltas) as (flat indices, signed
        counts) of the devices that get any. Only the inputs and deltas that fire at all
        enter the product, so a sparse firing costs what fires."""
        cols, rows = np.flatnonzero(X.any(axis=0)), np.flatnonzero(D.any(axis=0))
        if len(cols) == 0 or len(rows) == 0:
            return np.zeros(0, np.intp), np.zeros(0, np.float32)
        # the signs folded into the trains: (−sign δ_j D_j)ᵀ (sign z_i X_i) counts each
        # device's coincidences, 0…BL, with the sign of its update
        n = (D[:, rows] * -np.sign(d[rows])).T @ (X[:, cols] * np.sign(z[cols]))
        nz = np.flatnonzero(n)
        r, c = np.divmod(nz, len(cols))
        return rows[r] * len(z) + cols[c], n.reshape(-1)[nz]

    # -- the compiled stochastic update -------------------------------------------------
    def kernel_unsupported(self) -> str | None:
        """Why the compiled stochastic update (``kernels.PulseKernel``, _accel/pulses.c)
        cannot take these devices now, or None where it can; the update then runs the NumPy
        lines above, which state the same maths."""
        from . import kernels

        why = kernels.pulses_unsupported()
        if why is None:
            devs = self.devices[0]
            why = f"pulse_length {self.cfg.pulse_length} is over the kernel's 64 slots" \
                if self.cfg.pulse_length > 64 else \
                "the device law has no closed form for a train of pulses" \
                if not devs.closed_form else \
                "the device law has write noise (its offsets are redrawn in NumPy)" \
                if devs.offset is not None else \
                "the array has 2³¹ devices or more (the kernel's indices are 32-bit)" \
                if self.size >= 2 ** 31 else None
        self.engine = "compiled" if why is None else f"numpy ({why})"
        return why

    def kernel(self):
        """The compiled pulse update bound to these devices (made once; None where
        ``kernel_unsupported`` says why not)."""
        if self.kernel_unsupported() is not None:
            return None
        kept = self.__dict__.get("_kernel")
        if kept is None or kept.states is not self.states[0]:  # bound to these arrays
            from . import kernels

            args = [self._kernel_arrays(devs, w) for devs, w in zip(self.devices, self.states)]
            pair = (args[1], *self.pair_constants()) if self.pair else None  # (w⁻'s devices)
            self._kernel = kernels.PulseKernel(**args[0], pair=pair)
        return self._kernel

    def pair_constants(self):
        """A pair's refresh as :meth:`_pulse_at` makes it, float32, for the compiled
        engines: (the state past which a pair is refreshed, the nominal step up, the law's
        w_min, γ)."""
        lo, hi = self.law.w_min, self.law.w_max
        return (np.float32(lo + self.cfg.refresh_at * (hi - lo)), np.float32(self.dw_up),
                np.float32(lo), np.float32(self.gamma))

    def __getstate__(self):  # the kernel points into this object's arrays: a copy binds its own
        state = dict(self.__dict__)
        state.pop("_kernel", None)
        return state

    def _kernel_arrays(self, devs, states) -> dict:
        """A device array's parameters as the kernel takes them (``kernels.PulseKernel``):
        each coefficient as ``DeviceArray._closed`` selects it for a direction."""
        from .devices.base import sel

        up, down = np.ones(1, bool), np.zeros(1, bool)
        a_up, b_up, a_dn, b_dn = devs.affine
        table = devs._table()
        return dict(
            states=states, lo=devs.lo, hi=devs.hi,
            a=[np.asarray(sel(u, a_up, a_dn), np.float32) for u in (up, down)],
            b=[np.asarray(sel(u, b_up, b_dn), np.float32) for u in (up, down)],
            sigma=[None if devs.noiseless else self.law._train_noise(devs.p, u)
                   for u in (up, down)],
            table=None if table is None else (*table, _TABLE_PULSES),
            curved=not all(np.ndim(c) == 0 and c == 0 for c in (b_up, b_dn)),
            continuous=self.continuous)

    def _compiled(self, Z, delta, rng, mirror) -> bool:
        """The stochastic update of the batch by the compiled kernel, if it takes these
        devices (whether it ran)."""
        job = self._compiled_job(Z, delta, rng, mirror)
        if job is None:
            return False
        from . import kernels

        kernels.run_jobs([job], threads_here())
        self.took(job)
        return True

    def _compiled_job(self, Z, delta, rng, mirror, seed=None):
        """The compiled kernel's update of the batch made ready (``kernels.PulseJob``; its
        seed drawn from ``rng`` now, unless given), or None where the kernel does not take
        these devices."""
        kernel = self.kernel()
        if kernel is None:
            return None
        m = None
        if mirror is not None:
            m = (mirror.get("W"), mirror.get("W2"), mirror.get("WnT"), mirror.get("scaled"),
                 np.float32(self.gamma), np.float32(self.w_ref), mirror["inv_wmax"],
                 mirror.get("g", 0.0))
        C = 1.0 / (self.gamma * self.dw * self.cfg.pulse_length)
        meter = (self.law.w_min, self.law.w_max, -(-self.shape[0] // WRITE_BATCHES)) \
            if self.meter else None
        return kernel.job(Z, delta, self.cfg.pulse_length, C,
                          int(rng.bit_generator.random_raw()) if seed is None else seed,
                          mirror=m, meter=meter,
                          adaptive=self.cfg.adaptive_pulse_length)

    def update_later(self, Z_prev, delta, rng, mirror, seed=None):
        """:meth:`update` by the compiled stochastic kernel, made ready but not run, so that
        a step's layers run together (``kernels.run_jobs``; then call :meth:`took` with the
        job): the job, or None where the update is not that (another scheme or algorithm,
        no kernel for these devices, no ``mirror``) — then call :meth:`update`."""
        if mirror is None or self.cfg.scheme != "stochastic" or \
                type(self).update is not DeviceSynapses.update:
            return None
        return self._compiled_job(Z_prev, delta, rng, mirror, seed)

    def took(self, job) -> None:
        """What a compiled job that has run did, into these synapses' counts."""
        out = job.result()
        self.pulses += out[0]
        self.capped += out[1]
        tally = out[4] if len(out) > 4 else {}
        self.refreshes += tally.get("refreshes", 0)
        for name, v in tally.items():  # what the pulses cost, and the pairs refreshed
            self.tally[name] += v

    def _apply_at(self, index, n, rng) -> None:
        """``n`` pulses (signed) to the synapses at flat ``index``, the others untouched."""
        _check_trains(n)  # (an algorithm's own counts too: mixed precision's)
        self.pulses += int(np.abs(n).sum()) if not self.continuous else len(index)
        before = self._before(index)
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
        limit, step = self.pair_constants()[:2]
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
        self._tally["refreshes"] += len(index)
        self._write(self.weights_at(index), index)

    # -- what the pulses cost (metered) ---------------------------------------------------
    def _before(self, index):
        """The states of the synapses at flat ``index`` before an update, when metering
        (else None)."""
        return [w.reshape(-1)[index] for w in self.states] if self.meter else None

    def _metered(self, index, n, before) -> None:
        """Note one update's pulses for the tally: the synapses at flat ``index``, their
        signed pulse counts ``n``, the mean of their states ``before`` and after."""
        if before is None:
            return
        if self.continuous:  # one pulse for any update of a continuous device
            n = np.sign(n)
        # before and after, summed when the tally is (as the mean state, a fraction)
        self._pending.append((index, n, before, [w.reshape(-1)[index] for w in self.states]))
        self._pending_size += len(index)
        if self._pending_size > 1 << 16:
            self._flush()

    @property
    def tally(self) -> dict:
        """What the metered pulses cost, summed: pulses by direction (a pair's all
        potentiate one of its devices), Σ of the states they met (the mean of before and
        after, as fractions of the range), the row-by-row write steps, the rows written
        (per update), the refreshes."""
        if self._pending:
            self._flush()
        return self._tally

    def _flush(self) -> None:
        """The pending updates into the tally, all at once."""
        pending, self._pending, self._pending_size = self._pending, [], 0
        index = np.concatenate([p[0] for p in pending]).astype(np.int64, copy=False)
        n = np.concatenate([p[1] for p in pending]).astype(np.float32, copy=False)
        mean = [self._fraction(np.concatenate([p[2][d] for p in pending]) +
                               np.concatenate([p[3][d] for p in pending]))
                for d in range(len(self.states))]
        update = np.repeat(np.arange(len(pending), dtype=np.int64),
                           [len(p[0]) for p in pending])
        a = np.abs(n)
        if self.pair:  # positive updates pulse w⁺, negative ones w⁻: LTP both
            up = (float(a.sum()), 0.0)
            met = (float(np.vdot(np.maximum(n, 0), mean[0]) + np.vdot(np.maximum(-n, 0),
                                                                      mean[1])), 0.0)
            down = np.zeros(len(n), np.int64)
        else:  # n > 0 is LTP, n < 0 LTD: each half of |n| ± n
            total, signed = float(a.sum()), float(n.sum())
            up = (0.5 * (total + signed), 0.5 * (total - signed))
            m_abs, m_sgn = float(np.vdot(a, mean[0])), float(np.vdot(n, mean[0]))
            met = (0.5 * (m_abs + m_sgn), 0.5 * (m_abs - m_sgn))
            down = (n < 0).astype(np.int64)
        j, i = np.divmod(index, self.shape[1])  # output (column), input (row)
        size = -(-self.shape[0] // WRITE_BATCHES)
        slots = -(-self.shape[0] // size) * self.shape[1]
        # one slot per update, direction, column batch and row: its largest count is the
        # pulse slots the row-by-row write takes (NeuroSim's write steps)
        key = (update * 2 + down) * slots + (j // size) * self.shape[1] + i
        # key and count in one integer, sorted: each slot's last entry holds its largest count
        packed = (key << _COUNT_BITS) | np.minimum(a, _COUNT_MASK).astype(np.int64)
        packed.sort()
        key = packed >> _COUNT_BITS
        last = np.flatnonzero(np.r_[key[1:] != key[:-1], True]) if len(key) else key
        peak = packed[last] & _COUNT_MASK
        lte = ((key[last] // slots) % 2).astype(bool)
        steps = (float(peak[~lte].sum()), float(peak[lte].sum()))
        row = np.sort(update * self.shape[1] + i)  # rows written: distinct (update, row)
        rows = int(np.count_nonzero(row[1:] != row[:-1])) + 1 if len(row) else 0
        t = self._tally
        for name, k, m, st in zip(("up", "down"), up, met, steps):
            t[f"pulses_{name}"] += int(round(k))
            t[f"pulse_state_{name}"] += m
            t[f"write_steps_{name}"] += int(round(st))
        t["rows_written"] += rows

    def _fraction(self, w2):
        """The mean of two device states (``w2``: their sum) as a fraction of the range."""
        lo, hi = self.law.w_min, self.law.w_max
        return (w2 - np.float32(2 * lo)) * np.float32(0.5 / (hi - lo))


_COUNT_BITS = 24  # the tally packs a pulse count (< 2^24) beside its slot in one int64
_COUNT_MASK = (1 << _COUNT_BITS) - 1
WRITE_BATCHES = 16  # columns of a row are written in this many batches (NeuroSim V3's
# numWriteColMuxed = 16, Param.cpp), the columns of a batch in parallel


def _batch_steps(c) -> int:
    """Σ over the rows (inputs) and column batches of ``c`` (pulses, (n_out, n_in)) of the
    largest count in the batch: the pulse slots a row-by-row write takes (NeuroSim's
    Train.cpp, maxLatencyLTP + maxLatencyLTD per batch). The tally's dense twin, for the
    tests."""
    size = -(-c.shape[0] // WRITE_BATCHES)
    starts = np.arange(0, c.shape[0], size)
    return int(round(float(np.maximum.reduceat(c, starts, axis=0).sum())))
