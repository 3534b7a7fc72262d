"""Learning algorithms on the devices, beyond plain SGD: what to do with an update before it
becomes pulses.

Plain SGD on the devices (``algorithm = "sgd"``, :class:`~.learning.DeviceSynapses`) turns
each update straight into pulses. On devices whose steps are coarse or asymmetric that
fails: an update smaller than half a step is lost, and up and down steps that differ drift
every weight towards the devices' symmetry point. Two remedies, both built on
``DeviceSynapses`` (the same laws, mappings, schemes, refresh and metering):

* ``"mixed_precision"`` (:class:`MixedPrecision`; Nandakumar et al., "Mixed-precision deep
  learning based on computational memory", Front. Neurosci. 14:406, 2020; aihwkit's
  ``MixedPrecisionCompound``): a digital accumulator χ per weight collects every update,
  ``χ ← χ − δᵀ z``. Where ``|χ| ≥ threshold · ε``, ε = γΔw the weight one nominal pulse is
  worth (up or down by the sign of χ), the device gets ``n = trunc(χ / ε)`` pulses and
  ``χ ← χ − n ε``: nothing below a step is lost, it waits in χ. With a continuous device
  ``n = χ / ε`` is not truncated and χ is emptied.
* ``"tiki_taka"`` (:class:`TikiTaka`; Gokmen & Haensch, "Algorithm for training neural
  networks on resistive device arrays", Front. Neurosci. 14:103, 2020; aihwkit's
  ``TransferCompound``): two arrays of devices, a fast one A that receives the gradient
  pulses and a slow one C; the forward and backward passes read ``W = C + β A``
  (``fast_weight`` β; both in network units, each ``γ (w⁺ − w⁻)`` or ``γ (w − w_ref)``).
  Every ``transfer_every`` updates one column i of A (the synapses of input i, in turn) is
  read and written into C by pulses of C's scheme, ``C[:, i] ← C[:, i] + transfer_lr ·
  A[:, i]``. A's own asymmetry then acts like a restoring force around its symmetry point,
  and C integrates A's slowly varying mean: the gradient's sign is kept where plain SGD
  drifts.

Counts: the pulses of every array go to ``pulses`` and the tally the cost ledger reads
(``substrate.LayerCounts``), ``transfers`` counts the accumulator's writes (mixed precision:
synapses written) or the columns moved from A to C (Tiki-Taka, whose column read also counts
an array read with its conversions). The read of A's column is exact (no read noise or ADC):
a difference from aihwkit, whose transfer read goes through the forward periphery.

``state`` and ``restore`` turn any of them into plain arrays and JSON and back, for the model
file (:mod:`synapsenet.model_file`): the devices' states, each device's drawn parameters, the
stuck masks, the accumulator, the arrays A and C.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import ConfigError, ModelFileError
from .learning import DeviceSynapses

ALGORITHMS = ("sgd", "mixed_precision", "tiki_taka")


def check(cfg, where) -> None:
    """Refuse an unknown algorithm or impossible parameters (ConfigError naming them)."""
    if cfg.algorithm not in ALGORITHMS:
        raise ConfigError(f"{where}: algorithm must be one of {', '.join(ALGORITHMS)}, got "
                          f"{cfg.algorithm!r}")
    for name, low, strict in (("threshold", 0.0, False), ("transfer_lr", 0.0, True),
                              ("fast_weight", 0.0, False)):
        v = getattr(cfg, name)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
            and (v > low if strict else v >= low)
        if not ok:
            raise ConfigError(f"{where}: {name} must be a finite number {'>' if strict else '≥'}"
                              f" {low:g}, got {v!r}")
    t = cfg.transfer_every
    if isinstance(t, bool) or not isinstance(t, int) or t < 1:
        raise ConfigError(f"{where}: transfer_every must be a whole number of updates ≥ 1, "
                          f"got {t!r}")


def synapses(layer, cfg, rng):
    """Layer ``layer``'s weights on devices, learning by ``cfg.algorithm``."""
    return _CLASSES[cfg.algorithm](layer, cfg, rng)


class MixedPrecision(DeviceSynapses):
    """Devices behind a digital accumulator χ (see the module's docstring)."""

    def __init__(self, layer, cfg, rng):
        super().__init__(layer, cfg, rng)
        self.chi = np.zeros(self.shape, np.float32)  # χ: what the devices still owe
        self.tally["transfers"] = 0
        self.transfers = 0

    def update(self, Z_prev, delta, rng, mirror=None):
        """χ ← χ − δᵀ·Z_prev; pulses where χ holds ``threshold`` pulses' worth or more.
        Returns the flat indices of the synapses pulsed (``mirror``, where the compiled
        stochastic update would write the weights, is not used: the caller writes them)."""
        chi = self.chi
        chi -= delta.T @ Z_prev  # ∂E/∂w_ji = δ_j z_i, times −η, summed over the batch
        s_up, s_down = np.float32(self.gamma * self.dw_up), np.float32(self.gamma * self.dw_down)
        eps = s_up if s_up == s_down else np.where(chi > 0, s_up, s_down)  # ε = γ Δw
        n = chi / eps
        if not self.continuous:
            np.trunc(n, out=n)
        fire = n != 0
        if self.cfg.threshold > 0:
            fire &= np.abs(chi) >= np.float32(self.cfg.threshold) * eps
        index = np.flatnonzero(fire)
        if len(index):
            counts = n.reshape(-1)[index]
            self._apply_at(index, counts, rng)
            flat = chi.reshape(-1)
            if self.continuous:  # the whole of χ was written
                flat[index] = 0.0
            else:
                flat[index] -= counts * (eps if np.ndim(eps) == 0 else eps.reshape(-1)[index])
            self.transfers += len(index)
            self.tally["transfers"] += len(index)
        return index

    def snapshot(self) -> dict:
        """``DeviceSynapses.snapshot`` with the accumulator χ."""
        return {**super().snapshot(), "chi": self.chi.copy(), "transfers": self.transfers}

    def restore_snapshot(self, kept: dict) -> None:
        super().restore_snapshot(kept)
        np.copyto(self.chi, kept["chi"])
        self.transfers = kept["transfers"]


class TikiTaka:
    """A fast array A and a slow array C of devices, ``W = C + β A`` (see the module's
    docstring). It answers what the chip asks of ``DeviceSynapses``: ``update``,
    ``weights``, ``weights_at``, ``pulses``, ``refreshes``, ``tally``, ``meter``,
    ``snapshot``."""

    def __init__(self, layer, cfg, rng):
        self.cfg = cfg
        self.slow = DeviceSynapses(layer, cfg, rng)  # C: starts with the layer's weights
        self.fast = DeviceSynapses(layer, cfg, rng)  # A: starts at 0
        self.fast.write(np.zeros((layer.n_out, layer.n_in), np.float32))
        self.shape, self.size, self.law = self.slow.shape, self.slow.size, self.slow.law
        self.beta = np.float32(cfg.fast_weight)
        self.updates = 0  # gradient updates made
        self.column = 0  # the column of A the next transfer reads
        self.transfers = 0  # columns moved from A to C

    # -- what the chip reads --------------------------------------------------------------
    @property
    def pulses(self) -> int:
        return self.fast.pulses + self.slow.pulses

    @property
    def refreshes(self) -> int:
        return self.fast.refreshes + self.slow.refreshes

    @property
    def capped(self) -> int:
        return self.fast.capped + self.slow.capped

    @property
    def meter(self) -> bool:
        return self.slow.meter

    @meter.setter
    def meter(self, value) -> None:
        self.fast.meter = self.slow.meter = bool(value)

    @property
    def tally(self) -> dict:
        """Both arrays' pulses, the transfers, and the column reads (one array read per
        transfer, its inputs through the DACs and its outputs through the ADCs)."""
        out = {k: v + self.slow.tally[k] for k, v in self.fast.tally.items()}
        out.update(transfers=self.transfers, array_reads=self.transfers,
                   dac_conversions=self.transfers * self.shape[1],
                   adc_conversions=self.transfers * self.shape[0])
        return out

    def weights(self, out=None) -> np.ndarray:
        """``W = C + β A``, as the chip reads it now."""
        out = self.slow.weights(out=out)
        out += self.beta * self.fast.weights()
        return out

    def weights_at(self, index) -> np.ndarray:
        out = self.slow.weights_at(index)
        out += self.beta * self.fast.weights_at(index)
        return out

    def write(self, W) -> None:
        """Program W into C, A back to 0."""
        self.slow.write(W)
        self.fast.write(np.zeros(self.shape, np.float32))

    def snapshot(self) -> dict:
        """Copies of what training changes (``DeviceSynapses.snapshot``: both arrays)."""
        return {"slow": self.slow.snapshot(), "fast": self.fast.snapshot(),
                "counts": (self.updates, self.column, self.transfers)}

    def restore_snapshot(self, kept: dict) -> None:
        self.slow.restore_snapshot(kept["slow"])
        self.fast.restore_snapshot(kept["fast"])
        self.updates, self.column, self.transfers = kept["counts"]

    # -- the update -------------------------------------------------------------------------
    def update(self, Z_prev, delta, rng, mirror=None):
        """The gradient's pulses into A; every ``transfer_every`` updates, one column of A
        into C. Returns the flat indices of the synapses whose W changed (None: any); W is
        γ(C + β A), which the caller writes (``mirror`` is not used)."""
        changed = self.fast.update(Z_prev, delta, rng)
        self.updates += 1
        if self.updates % self.cfg.transfer_every == 0:
            moved = self.transfer(rng)
            changed = None if changed is None or moved is None else np.union1d(changed, moved)
        return changed

    def transfer(self, rng):
        """Read column ``self.column`` of A and write ``transfer_lr`` times it into C by
        pulses (C's scheme: the update ΔC = −δᵀ e_i with δ = −transfer_lr · A[:, i], e_i the
        one-hot input i); then move to the next column. Returns what C's update returns."""
        n_out, n_in = self.shape
        i = self.column
        self.column = (i + 1) % n_in
        self.transfers += 1
        a = self.fast.weights_at(np.arange(n_out) * n_in + i)  # A[:, i]
        e = np.zeros((1, n_in), np.float32)
        e[0, i] = 1.0
        return self.slow.update(e, (-np.float32(self.cfg.transfer_lr) * a)[None, :], rng)


_CLASSES = {"sgd": DeviceSynapses, "mixed_precision": MixedPrecision, "tiki_taka": TikiTaka}


# -- saving and restoring ----------------------------------------------------------------------
def state(syn) -> tuple[dict, dict]:
    """(JSON-able description, named arrays) of a layer's synapses as they are now."""
    if isinstance(syn, TikiTaka):
        meta, tensors = {}, {}
        for part in ("slow", "fast"):
            m, t = _devices_state(getattr(syn, part))
            meta[part] = m
            tensors.update({f"{part}.{k}": v for k, v in t.items()})
        meta.update(updates=syn.updates, column=syn.column, transfers=syn.transfers)
        return meta, tensors
    meta, tensors = _devices_state(syn)
    if isinstance(syn, MixedPrecision):
        tensors["chi"] = syn.chi
        meta["transfers"] = syn.transfers
    return meta, tensors


def restore(layer, cfg, meta, tensors, where):
    """The synapses ``state`` described, for ``layer`` (a ModelFileError, naming ``where``,
    for arrays that do not fit it)."""
    if not isinstance(meta, dict):
        raise ModelFileError(f"{where}: the devices' description is not a table")
    # the devices are drawn again only to be replaced by the saved ones: a generator of
    # their own, so that the chip's stays where it was saved
    scratch = np.random.default_rng(0)
    law_cfg = _with_law(cfg, meta.get("slow", meta), where)
    syn = synapses(layer, law_cfg, scratch)
    syn.cfg = cfg
    if isinstance(syn, TikiTaka):
        for part in ("slow", "fast"):
            sub = getattr(syn, part)
            sub.cfg = cfg
            _load_devices(sub, meta.get(part), _prefixed(tensors, part), f"{where} ({part})")
        syn.updates, syn.column = int(meta.get("updates", 0)), int(meta.get("column", 0))
        syn.transfers = int(meta.get("transfers", 0))
        if not 0 <= syn.column < syn.shape[1]:
            raise ModelFileError(f"{where}: transfer column {syn.column} is outside the "
                                 f"layer's {syn.shape[1]} inputs")
        return syn
    _load_devices(syn, meta, tensors, where)
    if isinstance(syn, MixedPrecision):
        syn.chi[...] = _tensor(tensors, "chi", syn.shape, where)
        syn.transfers = int(meta.get("transfers", 0))
    return syn


def _devices_state(syn) -> tuple[dict, dict]:
    """One DeviceSynapses: its law, counters, each device array's parameters (shared
    values in the description, per-device ones as arrays) and the states."""
    tensors, devices = {}, []
    for i, (devs, w) in enumerate(zip(syn.devices, syn.states)):
        shared = {}
        for name, v in devs.arrays().items():
            if np.ndim(v):
                tensors[f"device.{i}.{name}"] = np.ascontiguousarray(
                    v.astype(np.uint8) if v.dtype == bool else v)
            else:
                shared[name] = float(v)
        devices.append(shared)
        tensors[f"state.{i}"] = w
    meta = {"law": syn.law.to_dict(), "pulses": int(syn.pulses),
            "refreshes": int(syn.refreshes), "capped": int(syn.capped),
            "tally": {k: v for k, v in syn.tally.items() if k != "transfers"},
            "devices": devices}
    return meta, tensors


def _with_law(cfg, meta, where):
    """``cfg`` with the saved law in place of its device (a file it named may be gone)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("law"), dict):
        raise ModelFileError(f"{where}: the devices' law is missing")
    return dataclasses.replace(cfg, device=meta["law"])


def _load_devices(syn, meta, tensors, where) -> None:
    from .devices.base import DeviceArray

    if not isinstance(meta, dict) or not isinstance(meta.get("devices"), list) or \
            len(meta["devices"]) != len(syn.devices):
        raise ModelFileError(f"{where}: expected {len(syn.devices)} device array(s) for the "
                             f"'{syn.cfg.synapse}' mapping")
    try:
        from .devices import load_device

        law = load_device(meta["law"])
    except ConfigError as e:
        raise ModelFileError(f"{where}: {e}") from None
    devices = []
    for i, shared in enumerate(meta["devices"]):
        arrays = dict(shared)
        for key in tensors:
            if key.startswith(f"device.{i}."):
                name = key[len(f"device.{i}."):]
                arrays[name] = _tensor(tensors, key, syn.shape, where)
        try:
            devices.append(DeviceArray.from_arrays(law, syn.shape, arrays))
        except (TypeError, ValueError, KeyError) as e:
            raise ModelFileError(f"{where}: device array {i} cannot be rebuilt ({e})") from None
        syn.states[i][...] = _tensor(tensors, f"state.{i}", syn.shape, where)
    syn.law, syn.devices = law, devices
    syn.pulses, syn.refreshes = int(meta.get("pulses", 0)), int(meta.get("refreshes", 0))
    syn.capped = int(meta.get("capped", 0))
    for k, v in (meta.get("tally") or {}).items():
        if k in syn.tally:
            syn.tally[k] = v


def _tensor(tensors, name, shape, where):
    if name not in tensors:
        raise ModelFileError(f"{where}: the model file has no device array {name!r}")
    t = tensors[name]
    if t.shape != tuple(shape):
        raise ModelFileError(f"{where}: device array {name!r} has shape {t.shape}, but the "
                             f"layer's weights are {tuple(shape)}")
    if t.dtype.kind == "f" and not np.isfinite(t).all():
        raise ModelFileError(f"{where}: device array {name!r} holds non-finite values")
    return t


def _prefixed(tensors, part):
    p = part + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}
