"""What every device law shares: the configuration base class and the array of devices.

A ``DeviceLaw`` is plain configuration: a dataclass of numbers that round-trips through
``to_dict``/``from_dict`` (and TOML) and is validated on construction. ``law.instantiate``
draws each device's own parameters once (device-to-device variation, stuck devices) and
returns a ``DeviceArray``, which applies pulses to an array of device states ``w``.

The device state is aihwkit's dimensionless device weight ``w ∈ [w_min, w_max]``. The chip
maps it linearly to a conductance, ``G = g_min + (w − w_min)/(w_max − w_min) · (g_max − g_min)``,
so a law's shape does not depend on the conductance units. The NeuroSim presets use
``w = G / G_max`` (``w_max = 1``, ``w_min = 1 / on-off ratio``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...errors import ConfigError

LAWS: dict[str, type["DeviceLaw"]] = {}  # law name (the ``law`` key of a dict) → class


def register(cls):
    """Class decorator: make a law known to ``DeviceLaw.from_dict`` by its ``kind``."""
    LAWS[cls.kind] = cls
    return cls


def as_rng(rng) -> np.random.Generator:
    """A numpy Generator from a Generator, an integer seed, or None (seed 0)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng if rng is not None else 0)
    raise ConfigError(f"rng must be a numpy Generator or an integer seed, got {rng!r}")


def clip(x, lo, hi, out=None):
    """``np.clip(x, lo, hi, out=out)``: NumPy's clip on large arrays (one pass, where its
    minimum and maximum each take longer than clip takes for both), the two ufuncs on small
    ones (without clip's own overhead, which then dominates)."""
    if np.size(x) > 2048:
        return np.clip(x, lo, hi, out=out)
    out = np.maximum(x, lo, out=out)
    return np.minimum(out, hi, out=out)


def sel(up, a, b):
    """``a`` for a potentiation, ``b`` for a depression. ``up`` is a bool (one direction for
    all devices) or an array holding 1.0 where the pulse is a potentiation and 0.0 elsewhere
    (arithmetic selection is several times faster than ``np.where`` in float32)."""
    if isinstance(up, (bool, np.bool_)):
        return a if up else b
    return b + (a - b) * up


@dataclass
class DeviceLaw:
    """A device update law: "device state and pulse direction → state after one pulse".

    Common parameters (every law has them):

    * ``w_min``, ``w_max``: the device's weight range (hard bounds), dimensionless.
    * ``w_min_dtod``, ``w_max_dtod``: device-to-device spread of the bounds, relative to
      ``|w_min|`` and ``|w_max|`` (aihwkit's ``PulsedDevice``: ``b = w_max (1 + σ ξ)``).
    * ``stuck_at_min``, ``stuck_at_max``, ``stuck_random``: fractions of devices stuck at their
      lower bound, their upper bound, or a uniform random state inside their range (aihwkit's
      ``corrupt_devices_prob``); a stuck device's bounds coincide, so no pulse moves it.
    * ``pulse_voltage_up/down`` (V) and ``pulse_width_up/down`` (s): the programming pulse, for
      energy and latency (None: not known).
    * ``name``, ``source``: what the device is and where its numbers come from.
    """

    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""  # the formula in words, for listings

    w_min: float = -1.0
    w_max: float = 1.0
    w_min_dtod: float = 0.0
    w_max_dtod: float = 0.0
    stuck_at_min: float = 0.0
    stuck_at_max: float = 0.0
    stuck_random: float = 0.0
    pulse_voltage_up: float | None = None
    pulse_width_up: float | None = None
    pulse_voltage_down: float | None = None
    pulse_width_down: float | None = None
    name: str = ""
    source: str = ""

    def __post_init__(self):
        self.validate()

    # -- configuration ------------------------------------------------------------------
    def validate(self, where: str | None = None) -> None:
        """Refuse impossible parameters with a ConfigError naming the parameter and the
        accepted range."""
        where = where or self.kind
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{where}: {f.name} must be a finite number, got {v}")
        if not self.w_max > self.w_min:
            raise ConfigError(f"{where}: need w_max > w_min, got w_min={self.w_min}, "
                              f"w_max={self.w_max}")
        for n in ("w_min_dtod", "w_max_dtod"):
            _at_least(self, n, 0.0, where)
        stuck = (self.stuck_at_min, self.stuck_at_max, self.stuck_random)
        if not all(0.0 <= s <= 1.0 for s in stuck) or sum(stuck) > 1.0:
            raise ConfigError(f"{where}: stuck_at_min, stuck_at_max and stuck_random must be "
                              f"fractions in [0, 1] summing to ≤ 1, got {stuck}")
        for n in ("pulse_width_up", "pulse_width_down"):
            v = getattr(self, n)
            if v is not None and not v > 0:
                raise ConfigError(f"{where}: {n} must be > 0 seconds (or unset), got {v}")
        self._check(where)

    def _check(self, where: str) -> None:
        """Law-specific validation (subclasses)."""

    def to_dict(self) -> dict:
        """Plain values: ``{"law": kind, ...}``; unset (None) values are left out."""
        own = [f for f in dataclasses.fields(self) if f.name not in _BASE_FIELDS]
        base = [f for f in dataclasses.fields(DeviceLaw) if f.name not in ("name", "source")]
        d = {"law": self.kind}
        if self.name:
            d["name"] = self.name
        if self.source:
            d["source"] = self.source
        for f in own + base:
            v = getattr(self, f.name)
            if v is not None:
                d[f.name] = list(v) if isinstance(v, (list, tuple)) else v
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "device law") -> "DeviceLaw":
        """The law described by ``d`` (as written by ``to_dict``), validated. On the base
        class the ``law`` key chooses the class; on a subclass it may be left out."""
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: expected a table of parameters, got {type(d).__name__}")
        d = dict(d)
        kind = d.pop("law", None)
        if cls is DeviceLaw:
            if kind is None:
                raise ConfigError(f"{where}: missing key 'law'; valid laws: {', '.join(LAWS)}")
            if kind not in LAWS:
                raise ConfigError(f"{where}: unknown law {kind!r}; valid laws: "
                                  f"{', '.join(LAWS)}")
            klass = LAWS[kind]
        else:
            klass = cls
            if kind is not None and kind != cls.kind:
                raise ConfigError(f"{where}: law {kind!r} given to {cls.__name__}")
        fields = {f.name: f for f in dataclasses.fields(klass)}
        unknown = set(d) - set(fields)
        if unknown:
            raise ConfigError(f"{where}: unknown parameter(s) {sorted(unknown)} for law "
                              f"{klass.kind!r}; valid: {', '.join(sorted(fields))}")
        values = {k: _coerce(fields[k], v, f"{where}: {k}") for k, v in d.items()}
        try:
            return klass(**values)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None

    def replace(self, **changes) -> "DeviceLaw":
        """A validated copy with some parameters changed."""
        return type(self).from_dict({**self.to_dict(), **changes}, where=self.kind)

    def to_toml(self) -> str:
        """The law as a TOML file that ``load_device`` reads back."""
        return "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n"
                       for k, v in self.to_dict().items())

    # -- the devices --------------------------------------------------------------------
    @property
    def states(self) -> float:
        """About how many distinguishable states a device has, ``(w_max − w_min)/dw_min``."""
        raise NotImplementedError

    def nominal_steps(self) -> tuple[float, float]:
        """What one pulse up and one pulse down are worth when an update is converted to a
        pulse count (the deterministic scheme): ``dw_min`` where the law has one, else the
        range over the number of states, the same both ways."""
        dw = float(getattr(self, "dw_min", 0.0) or (self.w_max - self.w_min) / self.states)
        return dw, dw

    def instantiate(self, shape, rng=None, dtype=np.float32) -> "DeviceArray":
        """An array of ``shape`` devices with their own parameters, drawn once from ``rng``
        (a numpy Generator or a seed): the spread of bounds, step sizes, asymmetry and
        nonlinearity, and which devices are stuck. Without variation every parameter stays a
        scalar, so the array holds nothing the size of ``shape``."""
        shape = tuple(int(s) for s in np.atleast_1d(shape)) if np.ndim(shape) else (int(shape),)
        rng = as_rng(rng)
        dt = np.dtype(dtype)
        lo = self._spread(self.w_min, self.w_min_dtod, shape, rng)
        hi = self._spread(self.w_max, self.w_max_dtod, shape, rng)
        if np.ndim(lo) or np.ndim(hi):  # a large spread can cross the bounds: swap them
            lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        stuck = None
        if self.stuck_at_min or self.stuck_at_max or self.stuck_random:
            lo = np.broadcast_to(lo, shape).astype(np.float64)
            hi = np.broadcast_to(hi, shape).astype(np.float64)
            u = rng.random(shape)
            a, b = self.stuck_at_min, self.stuck_at_min + self.stuck_at_max
            value = np.where(u < a, lo, np.where(u < b, hi, lo + rng.random(shape) * (hi - lo)))
            stuck = u < b + self.stuck_random
            lo[stuck] = hi[stuck] = value[stuck]  # equal bounds: the device cannot move
        p = {"lo": lo, "hi": hi}
        p.update(self._draw(shape, rng, p))
        p = {k: (np.ascontiguousarray(v, dt) if np.ndim(v) else float(v)) for k, v in p.items()}
        return DeviceArray(self, shape, p, dt, stuck=stuck)

    def nominal(self) -> "DeviceArray":
        """One device with the nominal parameters (no variation, float64): ``step`` and
        ``response`` use it."""
        cache = self.__dict__.get("_nominal_cache")
        if cache is not None and cache[0] == self.to_dict():
            return cache[1]
        p = {"lo": float(self.w_min), "hi": float(self.w_max)}
        p.update(self._draw((), None, p))
        p = {k: float(v) for k, v in p.items()}
        devs = DeviceArray(self, (), p, np.dtype(np.float64), stuck=None, noiseless=True)
        self.__dict__["_nominal_cache"] = (self.to_dict(), devs)
        return devs

    def step(self, w, direction=1):
        """The nominal law, no variation and no noise: the state after one pulse from ``w``
        (+1 potentiation/LTP, −1 depression/LTD, 0 none); ``w`` and ``direction`` broadcast."""
        devs = self.nominal()
        w = np.asarray(w, np.float64)
        d = np.asarray(direction)
        shape = np.broadcast_shapes(w.shape, d.shape)
        out = np.array(np.broadcast_to(w, shape), np.float64)
        out = devs._pulse(out, np.broadcast_to(d, shape) if d.ndim else int(d), None, out)
        return float(out) if out.ndim == 0 else out

    def response(self, n_up: int, n_down: int) -> np.ndarray:
        """The nominal state after each of ``n_up`` LTP pulses and then ``n_down`` LTD pulses,
        starting at ``w_min``: ``n_up + n_down + 1`` values, the first being ``w_min``."""
        n_up, n_down = int(n_up), int(n_down)
        if n_up < 0 or n_down < 0:
            raise ConfigError(f"response: pulse counts must be ≥ 0, got {n_up}, {n_down}")
        return self._response(self.w_min, n_up, n_down)

    def _response(self, w0: float, n_up: int, n_down: int) -> np.ndarray:
        devs = self.nominal()
        out = np.empty(n_up + n_down + 1)
        if devs.closed_form:
            out[: n_up + 1] = devs.clip(devs._closed(np.full(n_up + 1, w0), np.arange(n_up + 1.0)))
            out[n_up:] = devs.clip(devs._closed(np.full(n_down + 1, out[n_up]),
                                                -np.arange(n_down + 1.0)))
            return out
        w = np.array([w0], np.float64)
        out[0] = w0
        for k in range(n_up + n_down):
            devs._pulse(w, 1 if k < n_up else -1, None, w)
            out[k + 1] = w[0]
        return out

    # -- what each law provides -----------------------------------------------------------
    def _spread(self, mean, rel, shape, rng):
        """``mean (1 + rel·ξ)`` per device, keeping the sign of ``mean`` as aihwkit does (so a
        range around 0 keeps 0 inside)."""
        if not (rel and shape):
            return mean
        v = mean + rel * abs(mean) * rng.standard_normal(shape)
        return np.abs(v) * np.sign(mean)

    def _draw(self, shape, rng, p) -> dict:
        """Each device's own parameters (arrays of ``shape``, or scalars without variation);
        ``rng`` is None for the nominal device. ``p`` holds the bounds ``lo`` and ``hi``."""
        raise NotImplementedError

    def _delta(self, w, up, p):
        """The nominal signed change of ``w`` by one pulse (``up``: potentiation)."""
        raise NotImplementedError

    def _sigma(self, dw, w, up, p):
        """The standard deviation of the pulse's cycle-to-cycle noise (None: noiseless)."""
        return None

    def _c2c(self) -> bool:
        """Whether pulses have cycle-to-cycle noise."""
        return False

    def _affine(self, p):
        """For laws whose step is affine in w, ``dw = a + b·w`` in each direction: the
        coefficients (a_up, b_up, a_down, b_down); None otherwise. Affine laws get loop-free
        closed forms for trains of pulses."""
        return None

    def _write_noise(self):
        """σ of aihwkit's write noise (the state read differs from the stored one)."""
        return 0.0

    def _train_sigma(self, p):
        """For a law whose own model of a train of n pulses is "closed form + σ√n noise"
        (NeuroSim), σ per pulse; None otherwise."""
        return None

    def _train_noise(self, p, up):
        """σ per pulse of a train's "closed form + σ√n ξ" noise, by direction (``up``: the
        trains that potentiate): a law's own train model, or one that is exact in
        distribution (see ``ConstantStep``); None where the law has none."""
        return self._train_sigma(p)


_BASE_FIELDS = {f.name for f in dataclasses.fields(DeviceLaw)}
_TABLE_PULSES = 256  # pulse counts each way that DeviceArray._table covers


class DeviceArray:
    """An array of devices obeying one law, each with its own parameters (drawn once).

    ``pulse(w, direction, rng)`` applies one pulse to each device whose direction is not 0;
    ``pulses(w, n, rng)`` applies ``|n|`` pulses of sign ``n`` to each. Both are vectorised over
    all devices, work in the array's dtype (float32 by default) and write into ``out`` if given
    (``out=w`` updates in place). States stay inside each device's bounds ``lo``/``hi``.
    """

    def __init__(self, law, shape, params, dtype, stuck=None, noiseless=False):
        self.law = law
        self.shape = tuple(shape)
        self.p = params
        self.dtype = np.dtype(dtype)
        self.stuck = stuck  # bool array of stuck devices, or None
        self.noiseless = noiseless
        coef = law._affine(params)
        if coef is not None and (np.any(np.asarray(coef[1]) <= -1)
                                 or np.any(np.asarray(coef[3]) <= -1)):
            coef = None  # a step that overshoots its fixed point: no monotone closed form
        self.affine = coef
        noisy = not noiseless and law._c2c()
        self.closed_form = coef is not None and (
            not noisy or law._train_noise(params, True) is not None)
        wn = 0.0 if noiseless else law._write_noise()
        self.write_noise = wn
        self.offset = np.zeros(self.shape, self.dtype) if wn and self.shape else None
        # every device within the same bounds, no write noise: few-device trains by table
        self._shared_bounds = self.offset is None and \
            np.ndim(params["lo"]) == 0 and np.ndim(params["hi"]) == 0

    # -- the device parameters --------------------------------------------------------------
    @property
    def lo(self):
        """Each device's lower bound (a scalar when all devices share it)."""
        return self.p["lo"]

    @property
    def hi(self):
        """Each device's upper bound."""
        return self.p["hi"]

    @property
    def nbytes(self) -> int:
        """Memory held per device array (parameters and write-noise offsets)."""
        extra = self.offset.nbytes if self.offset is not None else 0
        return extra + sum(v.nbytes for v in self.p.values() if isinstance(v, np.ndarray))

    def arrays(self) -> dict:
        """The per-device parameters as arrays (for saving); scalars are shared values."""
        d = {k: v for k, v in self.p.items()}
        if self.stuck is not None:
            d["stuck"] = self.stuck
        if self.offset is not None:
            d["offset"] = self.offset
        return d

    @classmethod
    def from_arrays(cls, law, shape, arrays, dtype=np.float32) -> "DeviceArray":
        """The device array saved by ``arrays()``."""
        arrays = dict(arrays)
        stuck = arrays.pop("stuck", None)
        offset = arrays.pop("offset", None)
        p = {k: (np.asarray(v, dtype) if np.ndim(v) else float(v)) for k, v in arrays.items()}
        devs = cls(law, shape, p, dtype, stuck=None if stuck is None else np.asarray(stuck, bool))
        if offset is not None and devs.offset is not None:
            devs.offset[...] = offset
        return devs

    def clip(self, w, out=None):
        """``w`` inside each device's bounds (a stuck device reads its stuck state)."""
        return clip(w, self.p["lo"], self.p["hi"], out)

    def clip_at(self, values, index):
        """``values`` for the devices at flat ``index`` inside those devices' bounds."""
        lo, hi = (v if np.ndim(v) == 0 else v.reshape(-1)[index] for v in (self.lo, self.hi))
        return clip(values, lo, hi)

    def apparent_at(self, w, index):
        """``apparent(w).reshape(-1)[index]``, for those devices alone (a new array)."""
        values = w.reshape(-1)[index]
        if self.offset is not None:
            values += self.offset.reshape(-1)[index]
        return values

    def apparent(self, w, out=None):
        """The state the chip reads: ``w`` plus aihwkit's write noise, redrawn at every pulse
        a device receives (``w`` itself without write noise)."""
        if self.offset is not None:
            return np.add(w, self.offset, out=out)
        if out is None:
            return np.array(w, copy=True)
        np.copyto(out, w)
        return out

    # -- pulses ----------------------------------------------------------------------------
    def pulse(self, w, direction, rng=None, out=None):
        """The states after one pulse per device: ``direction`` is +1 (potentiation, LTP),
        −1 (depression, LTD) or 0 (none), an int8 array the shape of ``w`` or a scalar.
        Cycle-to-cycle noise is drawn from ``rng``."""
        w = self._check_w(w)
        if np.ndim(direction):
            direction = np.asarray(direction)
            if direction.shape != w.shape:
                raise ConfigError(f"pulse: direction has shape {direction.shape}, the states "
                                  f"{w.shape}")
        else:
            direction = int(direction)
        return self._pulse(w, direction, rng, out)

    def _pulse(self, w, d, rng, out):
        law, p = self.law, self.p
        scalar = isinstance(d, int)
        if scalar and d == 0:
            return self.clip(w, out=out)
        rt = np.result_type(w, self.dtype)
        if scalar:
            up = d > 0
        else:
            if self._sparse_enough(d):
                return self._sparse(w, d, rng, out, DeviceArray._pulse)
            up = (d > 0).astype(rt)  # 1.0 for potentiation, 0.0 otherwise
        dw = law._delta(w, up, p)
        if not (isinstance(dw, np.ndarray) and dw.shape == w.shape and dw.dtype == rt) or \
                any(np.may_share_memory(dw, v) for v in (w, *p.values())
                    if isinstance(v, np.ndarray)):
            dw = np.array(np.broadcast_to(dw, w.shape), dtype=rt)  # a fresh, writable step
        if not self.noiseless:
            sigma = law._sigma(dw, w, up, p)
            if sigma is not None:
                xi = _normal(_rng(rng, "pulse"), w.shape)
                xi *= sigma
                dw += xi
        if not scalar:
            dw *= d != 0
        out = np.add(w, dw, out=out)
        self.clip(out, out=out)
        self._touch(d, rng)
        return out

    def _sparse_enough(self, k):
        """Whether few enough devices are pulsed that working on them alone pays."""
        return k.size >= 4096 and self.shape and np.count_nonzero(k) < k.size // 8

    def _start(self, w, out, what):
        """``out`` (a copy of ``w`` if None) holding ``w`` inside each device's bounds: where
        pulses then act."""
        if out is None:
            out = np.array(w, copy=True)
        else:
            if not out.flags.c_contiguous:
                raise ConfigError(f"{what}: out must be a C-contiguous array")
            np.copyto(out, w)
        return self.clip(out, out=out)

    def _sparse(self, w, k, rng, out, apply):
        """``apply`` (a pulse or a train) on the devices where ``k`` is not 0, the others kept
        (and kept inside their bounds)."""
        out = self._start(w, out, "pulse")
        idx = np.flatnonzero(k)
        sub = self._subset(idx)
        flat = out.reshape(-1)
        flat[idx] = apply(sub, flat[idx], k.reshape(-1)[idx], rng, None)
        if self.offset is not None:
            self.offset.reshape(-1)[idx] = sub.offset
        return out

    def pulses(self, w, n, rng=None, out=None):
        """The states after ``|n|`` pulses of sign ``n`` per device (``n``: a signed integer
        array the shape of ``w``, or a scalar). Loop-free where the law has a closed form for a
        train (affine laws without noise; NeuroSim's law, whose own noise model for a train is
        σ·√|n|); otherwise a loop over ``max|n|`` that visits only the devices still pulsing,
        statistically the same as repeated ``pulse``."""
        w = self._check_w(w)
        n = np.asarray(n)
        if n.ndim and n.shape != w.shape:
            raise ConfigError(f"pulses: n has shape {n.shape}, the states {w.shape}")
        continuous = getattr(self.law, "continuous", False)
        if n.dtype.kind == "f" and not continuous:
            if not np.all(np.isfinite(n)) or np.any(n != np.round(n)):
                raise ConfigError("pulses: n must hold whole pulse counts (this law is not "
                                  "continuous)")
        elif n.dtype.kind not in "iuf":
            raise ConfigError(f"pulses: n must be integer pulse counts, got dtype {n.dtype}")
        if self.closed_form:
            return self._train(w, n, rng, out)
        return self._loop(w, n, rng, out)

    def pulses_at(self, w, index, n, rng=None) -> None:
        """``pulses`` for the devices at the flat ``index`` (C order) of ``w`` alone, in
        place: ``n`` holds their pulse counts. The other devices are not visited and nothing
        the size of ``w`` is made, so an update that pulses few devices costs what they do."""
        if not w.flags.c_contiguous:
            raise ConfigError("pulses_at: the states must be a C-contiguous array")
        flat = w.reshape(-1)
        table = self._table()  # made once here, shared by every subset
        if table is not None and len(index) < 4096 and self._shared_bounds and \
                w.dtype == self.dtype:
            k = np.abs(n)
            if k.max(initial=0) <= _TABLE_PULSES and np.all(k == np.round(k)):
                # a few devices sharing their law's coefficients: the table, and NumPy's
                # normal draws, fewer operations than the vectorised generator's for so few
                at = (n + _TABLE_PULSES).astype(np.intp)
                x = flat[index]
                x *= table[0][at]
                x += table[1][at]
                sigma = None if self.noiseless else self.law._train_noise(self.p, n > 0)
                if sigma is not None:
                    xi = _rng(rng, "pulses").standard_normal(len(x), dtype=np.float32)
                    xi *= np.sqrt(k, dtype=np.float32)
                    xi *= np.float32(sigma)
                    x += xi
                flat[index] = clip(x, self.p["lo"], self.p["hi"], x)
                return
        sub = self._subset(index)
        flat[index] = sub.pulses(flat[index], n, rng)
        if self.offset is not None:
            self.offset.reshape(-1)[index] = sub.offset

    def _train(self, w, n, rng, out):
        law, p = self.law, self.p
        if n.ndim and self._sparse_enough(n):
            return self._sparse(w, n, rng, out, DeviceArray._train)
        k = np.abs(n).astype(self.dtype if w.dtype == self.dtype else np.float64)
        table = self._table() if w.dtype == self.dtype and n.ndim else None
        if table is not None and k.size and k.max() <= _TABLE_PULSES:
            at = (n + _TABLE_PULSES).astype(np.intp)  # whole counts: checked by pulses()
            new = w * table[0][at]
            new += table[1][at]
        else:
            new = self._closed(w, np.asarray(n, k.dtype))
        sigma = None if self.noiseless else law._train_noise(p, n > 0)
        if sigma is not None:
            xi = _normal(_rng(rng, "pulses"), w.shape)
            xi *= np.sqrt(k)
            xi *= sigma
            new += xi
        if out is None:
            out = new
        else:
            np.copyto(out, new)
        self.clip(out, out=out)
        self._touch(n, rng)
        return out

    def _table(self):
        """For an affine law with curved steps whose coefficients every device shares, the
        noise-free state after n pulses, ``w·g[n + K] + c[n + K]`` for n = −K…K
        (K = ``_TABLE_PULSES``), as two arrays in the array's dtype, computed once from the
        closed form in float64; None otherwise. A train is then two look-ups and two
        operations per device, whatever its law costs to evaluate."""
        if "_lut" not in self.__dict__:
            table = None
            coef = self.affine
            if coef is not None and not getattr(self.law, "continuous", False) and \
                    all(np.ndim(c) == 0 for c in coef) and (coef[1] or coef[3]):
                n = np.arange(-_TABLE_PULSES, _TABLE_PULSES + 1, dtype=np.float64)
                c = self._closed(np.zeros(len(n)), n)
                g = self._closed(np.ones(len(n)), n) - c
                table = (g.astype(self.dtype), c.astype(self.dtype))
            self.__dict__["_lut"] = table
        return self.__dict__["_lut"]

    def _closed(self, w, n):
        """Noise-free n pulses of an affine law: w ← w·(1+b)^k + a·((1+b)^k − 1)/b, k = |n|."""
        a_up, b_up, a_dn, b_dn = self.affine
        dt = np.result_type(w, n)
        constant = all(np.ndim(c) == 0 and c == 0 for c in (b_up, b_dn))
        if constant and np.ndim(a_up) == np.ndim(a_dn) == 0 and a_up == -a_dn:
            return w + np.asarray(a_up, dt) * np.asarray(n, dt)  # the same step both ways
        up = n > 0 if np.ndim(n) else bool(n > 0)
        k = np.abs(n)
        if constant:
            return w + np.asarray(sel(up, a_up, a_dn), dt) * k  # constant steps
        a = np.asarray(sel(up, a_up, a_dn), dt)
        b = np.asarray(sel(up, b_up, b_dn), dt)
        safe = np.where(b == 0, 1, b)
        with np.errstate(over="ignore", invalid="ignore"):
            g = np.exp(k * np.log1p(b))  # (1 + b)^k, the contraction towards the fixed point
            s = np.where(b == 0, k, np.expm1(k * np.log1p(b)) / safe)  # Σ_{j<k} (1 + b)^j
            new = w * g + a * s
        if not np.all(np.isfinite(g)):
            # (1 + b)^k past float's range (b > 0, a long train): the law runs away from its
            # fixed point −a/b, towards ±∞ by the side w is on, which the bounds then clip
            away = w + a / safe
            new = np.where(np.isfinite(g), new, np.where(away > 0, np.inf, np.where(
                away < 0, -np.inf, w))).astype(new.dtype, copy=False)
        return new

    def _loop(self, w, n, rng, out):
        flat_n = np.broadcast_to(n, w.shape).reshape(-1).astype(np.int64)
        m = int(np.abs(flat_n).max()) if flat_n.size else 0
        out = self._start(w, out, "pulses")
        if m == 0:
            return out
        idx = np.flatnonzero(flat_n)
        k = np.abs(flat_n[idx])
        key = (m - k).astype(np.uint16 if m < 65536 else np.int64)  # small ints: radix sort
        order = idx[np.argsort(key, kind="stable")]  # devices by pulse count, most first
        still = np.cumsum(np.bincount(k, minlength=m + 1)[::-1])[::-1]  # still[j]: |n| ≥ j
        sub = self._subset(order)
        ws = out.reshape(-1)[order]
        ds = np.sign(flat_n[order]).astype(np.int8)
        for j in range(m):
            c = int(still[j + 1])  # devices with |n| > j: a prefix of the sorted order
            view = sub._slice(c)
            view._pulse(ws[:c], ds[:c], rng, ws[:c])
        out.reshape(-1)[order] = ws
        if self.offset is not None:
            self.offset.reshape(-1)[order] = sub.offset
        return out

    def _subset(self, index):
        p = {k: (v.reshape(-1)[index] if isinstance(v, np.ndarray) else v)
             for k, v in self.p.items()}
        sub = DeviceArray.__new__(DeviceArray)
        sub.__dict__.update(self.__dict__)
        sub.p, sub.shape, sub.stuck = p, (len(index),), None
        sub.offset = self.offset.reshape(-1)[index] if self.offset is not None else None
        if self.affine is not None:  # per-device coefficients, of these devices
            sub.affine = self.law._affine(p)
        return sub

    def _slice(self, c):
        sub = DeviceArray.__new__(DeviceArray)
        sub.__dict__.update(self.__dict__)
        sub.p = {k: (v[:c] if isinstance(v, np.ndarray) else v) for k, v in self.p.items()}
        sub.shape = (c,)
        sub.offset = self.offset[:c] if self.offset is not None else None
        if self.affine is not None:
            sub.affine = self.law._affine(sub.p)
        return sub

    def _touch(self, d, rng):
        """Redraw aihwkit's write noise of the devices that were pulsed."""
        if self.offset is None:
            return
        new = _normal(_rng(rng, "pulse"), self.shape)
        new *= self.write_noise
        if np.ndim(d):
            np.copyto(self.offset, new, where=np.asarray(d) != 0)
        elif d:
            self.offset[...] = new

    def _check_w(self, w):
        w = np.asarray(w)
        if self.shape and w.shape != self.shape:
            raise ConfigError(f"device states have shape {w.shape}, the devices {self.shape}")
        if w.dtype.kind != "f":
            w = w.astype(self.dtype)
        return w

    def __repr__(self):
        return (f"DeviceArray({type(self.law).__name__}, shape={self.shape}, "
                f"dtype={self.dtype.name}, {self.nbytes / 1e6:.1f} MB)")


def _normal(rng, shape):
    """Standard normal float32 draws from ``rng``: the chip's vectorised Box–Muller generator
    (``hardware.noise.standard_normal``, faster than NumPy's float32 ziggurat)."""
    from ..noise import standard_normal

    return standard_normal(rng, np.empty(shape, np.float32))


def _rng(rng, what):
    if rng is None:
        raise ConfigError(f"{what}: this device law has cycle-to-cycle noise; pass a numpy "
                          "Generator as rng")
    return rng


def _at_least(law, name, low, where, strict=False):
    v = getattr(law, name)
    if (v <= low) if strict else (v < low):
        op = ">" if strict else "≥"
        raise ConfigError(f"{where}: {name} must be {op} {low}, got {v}")


def _coerce(f, value, where):
    t = str(f.type)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "unset")):
        if "None" in t:
            return None
        raise ConfigError(f"{where}: a value is required")
    if t == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return bool(value)
    if t == "str":
        return str(value)
    if t.startswith("list"):
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise ConfigError(f"{where}: expected a list of numbers, got {value!r}")
        try:
            return [float(v) for v in value]
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a list of numbers, got {value!r}") from None
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if t.startswith("int"):
        if not math.isfinite(num) or num != int(num):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return int(num)
    return num
