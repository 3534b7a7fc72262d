"""The update laws of IBM's aihwkit, one class each, and the ideal linear device.

Each law is written as aihwkit states it (``aihwkit.simulator.configs.devices``, version 1.2.0,
whose docstrings give the formulas) and as its C++ simulator applies it (``src/rpucuda/
rpu_*_device.cpp``, ``update_once``), re-implemented here vectorised over all devices. Notation:
``d`` is the pulse direction (+1 potentiation/LTP, −1 depression/LTD), ``s⁺, s⁻ > 0`` a device's
step sizes up and down, ``b_min, b_max`` its bounds, ``σ`` the cycle-to-cycle spread
``dw_min_std`` and ``ξ`` a standard normal number drawn at every pulse. After every pulse the
state is clipped to ``[b_min, b_max]``.

Shared by all aihwkit laws (``PulsedDevice``), drawn once per device:

* step sizes ``s^± = dw_min · |1 + β^± + σ_dtod ξ₁ ± σ_ud ξ₂|`` with ``σ_dtod = dw_min_dtod``
  (or a log-normal gain ``e^{σ_dtod ξ₁}`` with ``dw_min_dtod_log_normal``) and
  ``σ_ud = up_down_dtod``. The asymmetry ``up_down = β`` shortens one direction: ``β > 0``
  gives ``s⁺ = dw_min, s⁻ = dw_min (1 − β)``; ``β < 0`` gives ``s⁺ = dw_min (1 + β)``. aihwkit's
  docstring writes ``dw_min (1 ± β)``; its code (``rpu_pulsed_device.cpp``, ``populate``)
  keeps the larger step at ``dw_min``, and so do we, so aihwkit's presets behave as there.
* bounds ``b_max = w_max (1 + w_max_dtod ξ)``, ``b_min = w_min (1 + w_min_dtod ξ)``.
* write noise (``write_noise_std``): the chip reads ``w + write_noise_std · dw_min · ξ``, ``ξ``
  redrawn whenever the device is pulsed, while pulses act on the stored ``w``
  (``DeviceArray.apparent``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import ConfigError
from .base import DeviceLaw, _at_least, register, sel


@register
@dataclass
class Ideal(DeviceLaw):
    """The ideal linear device: every pulse moves the state by ``dw_min``, the same up and
    down, until a hard bound.

    ``w ← clip(w + d · dw_min, w_min, w_max)``  — the textbook synapse; with
    ``continuous = True`` a "pulse count" may be any real number (an update of
    ``n · dw_min``), which makes the deterministic pulse scheme exactly digital SGD.
    Source: aihwkit's ``IdealDevice`` (floating-point update) and NeuroSim's ``IdealDevice``
    (``Cell.cpp``: linear, ``maxNumLevelLTP = 64`` levels).
    """

    kind = "ideal"
    title = "linear: w ← w ± dw_min"

    dw_min: float = 0.001
    continuous: bool = False

    def _check(self, where):
        _check_dw_min(self, where)

    @property
    def states(self) -> float:
        return math.inf if self.continuous else (self.w_max - self.w_min) / self.dw_min

    def _draw(self, shape, rng, p):
        return {}

    def _delta(self, w, up, p):
        return sel(up, self.dw_min, -self.dw_min)  # dw = d · dw_min

    def _affine(self, p):
        return (self.dw_min, 0.0, -self.dw_min, 0.0)


@dataclass
class PulsedLaw(DeviceLaw):
    """aihwkit's ``PulsedDevice`` parameters, shared by its step laws (not a law itself).

    ``dw_min`` mean step; ``up_down`` asymmetry β; ``dw_min_std`` cycle-to-cycle σ relative to
    the step; ``dw_min_dtod``, ``up_down_dtod`` device-to-device spreads relative to
    ``dw_min``; ``write_noise_std`` read-out write noise in units of ``dw_min``. aihwkit's
    defaults carry variation (``dw_min_dtod = 0.3`` …); here the defaults are the plain law
    and the presets carry aihwkit's values.
    """

    dw_min: float = 0.001
    up_down: float = 0.0
    dw_min_std: float = 0.0
    dw_min_dtod: float = 0.0
    dw_min_dtod_log_normal: bool = False
    up_down_dtod: float = 0.0
    write_noise_std: float = 0.0

    def _check(self, where):
        _check_dw_min(self, where)
        if not -1.0 < self.up_down < 1.0:
            raise ConfigError(f"{where}: up_down must be in (−1, 1) (one direction's step is "
                              f"dw_min·(1 − |up_down|)), got {self.up_down}")
        for n in ("dw_min_std", "dw_min_dtod", "up_down_dtod", "write_noise_std"):
            _at_least(self, n, 0.0, where)

    @property
    def states(self) -> float:
        return (self.w_max - self.w_min) / self.dw_min

    def _c2c(self):
        return self.dw_min_std > 0

    def _write_noise(self):
        return self.write_noise_std * self.dw_min

    def _sigma(self, dw, w, up, p):
        return self.dw_min_std * np.abs(dw) if self.dw_min_std else None  # dw (1 + σ ξ)

    def _steps(self, shape, rng):
        """Each device's step sizes s⁺ and s⁻ (aihwkit ``PulsedRPUDevice::populate``)."""
        beta = self.up_down
        up_bias, down_bias = min(beta, 0.0), -max(beta, 0.0)
        if rng is None or not shape or not (self.dw_min_dtod or self.up_down_dtod):
            return (self.dw_min * abs(1 + up_bias), self.dw_min * abs(1 + down_bias))
        xi = rng.standard_normal(shape)
        gain = np.exp(self.dw_min_dtod * xi) if self.dw_min_dtod_log_normal \
            else 1.0 + self.dw_min_dtod * xi
        r = self.up_down_dtod * rng.standard_normal(shape) if self.up_down_dtod else 0.0
        return (self.dw_min * np.abs(up_bias + gain + r),
                self.dw_min * np.abs(down_bias + gain - r))


@register
@dataclass
class ConstantStep(PulsedLaw):
    """Constant step with hard bounds (aihwkit ``ConstantStepDevice``).

    ``w ← clip(w + d · s^d (1 + σ ξ), b_min, b_max)``  — the same step everywhere in the range,
    ``s⁺ ≠ s⁻`` when ``up_down ≠ 0``. Source: aihwkit 1.2.0
    ``simulator/configs/devices.py`` (``ConstantStepDevice``),
    ``rpucuda/rpu_constantstep_device.cpp``.
    """

    kind = "constant_step"
    title = "constant step: w ← w ± s (1 + σξ)"

    def _draw(self, shape, rng, p):
        s_up, s_dn = self._steps(shape, rng)
        return {"s_up": s_up, "s_dn": s_dn}

    def _delta(self, w, up, p):
        return sel(up, p["s_up"], -p["s_dn"])  # dw = d · s^d

    def _affine(self, p):
        return (p["s_up"], 0.0, -p["s_dn"], 0.0)

    def _train_noise(self, p, up):
        # k pulses of one sign add k steps s (1 + σ ξ_i): k s + s σ √k ξ, a sum of normals,
        # exactly. Their partial sums are monotone (unless 1 + σ ξ_i < 0: P < 10⁻³ per pulse
        # for σ ≤ 0.3), so one clip at the end is the clip after every pulse: a train is
        # loop-free and the same in distribution as pulse after pulse
        return self.dw_min_std * sel(up, p["s_up"], p["s_dn"]) if self.dw_min_std else None


@dataclass
class _LinearBase(PulsedLaw):
    """A step that changes linearly with the state: ``dw = a^d + b^d · w`` per direction."""

    mult_noise: bool = True

    def _coefficients(self, shape, rng, p, g_up, g_dn, ref_up, ref_dn):
        s_up, s_dn = self._steps(shape, rng)
        slope_up = _ratio(-g_up * s_up, ref_up)  # −γ⁺ s⁺ / b_max
        slope_dn = _ratio(-g_dn * s_dn, ref_dn)  # −γ⁻ s⁻ / b_min
        # up: w += s⁺ + slope⁺·w ; down: w −= s⁻ + slope⁻·w
        return {"a_up": s_up, "b_up": slope_up, "a_dn": -s_dn, "b_dn": -slope_dn}

    def _delta(self, w, up, p):
        return sel(up, p["a_up"], p["a_dn"]) + sel(up, p["b_up"], p["b_dn"]) * w

    def _affine(self, p):
        return (p["a_up"], p["b_up"], p["a_dn"], p["b_dn"])

    def _sigma(self, dw, w, up, p):
        if not self.dw_min_std:
            return None
        if self.mult_noise:
            return self.dw_min_std * np.abs(dw)  # (s + slope·w)(1 + σ ξ)
        return self.dw_min_std * np.abs(sel(up, p["a_up"], p["a_dn"]))  # s(1 + σ ξ) + slope·w


@register
@dataclass
class LinearStep(_LinearBase):
    """Step size linear in the state (aihwkit ``LinearStepDevice``).

    ``w ← clip(w + d · s^d (1 − γ^d · w / b^d)(1 + σ ξ), b_min, b_max)``, ``b⁺ = b_max``,
    ``b⁻ = b_min``  — the step shrinks by the fraction γ towards the bound it approaches (γ = 1:
    soft bounds). ``γ^d = |gamma_d + gamma_d_dtod · ξ|`` per device (the absolute value unless
    ``allow_increasing``); ``b^d`` is the mean bound (``mean_bound_reference``, aihwkit's
    default) or the device's own. ``mult_noise = False`` makes the noise additive,
    ``s^d σ ξ``, independent of the state. Source: aihwkit 1.2.0 ``LinearStepDevice``,
    ``rpucuda/rpu_linearstep_device.cpp``.
    """

    kind = "linear_step"
    title = "linear step: dw = ±s (1 − γ w / b)"

    gamma_up: float = 0.0
    gamma_down: float = 0.0
    gamma_up_dtod: float = 0.0
    gamma_down_dtod: float = 0.0
    allow_increasing: bool = False
    mean_bound_reference: bool = True

    def _check(self, where):
        super()._check(where)
        for n in ("gamma_up_dtod", "gamma_down_dtod"):
            _at_least(self, n, 0.0, where)
        if not self.allow_increasing:
            for n in ("gamma_up", "gamma_down"):
                _at_least(self, n, 0.0, where)

    def _draw(self, shape, rng, p):
        g_up, g_dn = self.gamma_up, self.gamma_down
        if rng is not None and shape:
            if self.gamma_up_dtod:
                g_up = g_up + self.gamma_up_dtod * rng.standard_normal(shape)
            if self.gamma_down_dtod:
                g_dn = g_dn + self.gamma_down_dtod * rng.standard_normal(shape)
        if not self.allow_increasing:
            g_up, g_dn = np.abs(g_up), np.abs(g_dn)
        ref_up, ref_dn = ((self.w_max, self.w_min) if self.mean_bound_reference
                          else (p["hi"], p["lo"]))
        return self._coefficients(shape, rng, p, g_up, g_dn, ref_up, ref_dn)


@register
@dataclass
class SoftBounds(_LinearBase):
    """Soft bounds (aihwkit ``SoftBoundsDevice``): the step vanishes at each bound.

    ``w ← clip(w + s⁺ (1 − w / b_max)(1 + σ ξ))`` up, ``w ← clip(w − s⁻ (1 − w / b_min)(1 + σ ξ))``
    down  — aihwkit's LinearStep with γ = 1 and each device's own bounds. With
    ``mult_noise = False`` (aihwkit's ``SoftBoundsReferenceDevice`` default) the noise is
    additive, ``s^d σ ξ``. Needs ``w_min < 0 < w_max``. Source: aihwkit 1.2.0
    ``SoftBoundsDevice``, ``rpucuda/rpu_linearstep_device.h``
    (``SoftBoundsRPUDeviceMetaParameter``).
    """

    kind = "soft_bounds"
    title = "soft bounds: dw = +s⁺ (1 − w/w_max), −s⁻ (1 − w/w_min)"

    def _check(self, where):
        super()._check(where)
        if not self.w_min < 0 < self.w_max:
            raise ConfigError(f"{where}: soft bounds need w_min < 0 < w_max (steps scale with "
                              f"1 − w/w_max and 1 − w/w_min), got w_min={self.w_min}, "
                              f"w_max={self.w_max}")

    def _draw(self, shape, rng, p):
        return self._coefficients(shape, rng, p, 1.0, 1.0, p["hi"], p["lo"])


@register
@dataclass
class ExpStep(PulsedLaw):
    """Exponential step (aihwkit ``ExpStepDevice``), fitted to RRAM and PCM measurements.

    ``z = 2 a · w / (b_max − b_min) + b``, ``y^d = max(1 − A^d e^{d γ^d z}, 0)``,
    ``w ← clip(w + d · y^d · s^d (1 + σ ξ), b_min, b_max)``. With ``dw_min_std_add`` or
    ``dw_min_std_slope`` the noise is ``σ (|dw| + dw_min_std_add + dw_min_std_slope · |w|) ξ``
    instead. ``a, b, A^±, γ^±`` are the same for all devices (as in aihwkit). Source: aihwkit
    1.2.0 ``ExpStepDevice``, ``rpucuda/rpu_expstep_device.cpp``; defaults are aihwkit's.
    """

    kind = "exp_step"
    title = "exponential step: dw = ±s max(1 − A e^{±γ z}, 0)"

    A_up: float = 0.00081
    A_down: float = 0.36833
    gamma_up: float = 12.44625
    gamma_down: float = 12.78785
    a: float = 0.244
    b: float = 0.2425
    dw_min_std_add: float = 0.0
    dw_min_std_slope: float = 0.0

    def _check(self, where):
        super()._check(where)
        for n in ("dw_min_std_add", "dw_min_std_slope"):
            _at_least(self, n, 0.0, where)

    def _draw(self, shape, rng, p):
        s_up, s_dn = self._steps(shape, rng)
        zscale = _ratio(2 * self.a, p["hi"] - p["lo"])  # 2a / (b_max − b_min)
        return {"s_up": s_up, "s_dn": s_dn, "zscale": zscale}

    def _delta(self, w, up, p):
        z = p["zscale"] * w + self.b
        A, g = sel(up, self.A_up, self.A_down), sel(up, self.gamma_up, -self.gamma_down)
        y = np.maximum(1 - A * np.exp(g * z), 0)  # y = max(1 − A e^{dγz}, 0)
        return sel(up, p["s_up"], -p["s_dn"]) * y

    def _sigma(self, dw, w, up, p):
        if not self.dw_min_std:
            return None
        if self.dw_min_std_add or self.dw_min_std_slope:
            return self.dw_min_std * (np.abs(dw) + self.dw_min_std_add
                                      + self.dw_min_std_slope * np.abs(w))
        return self.dw_min_std * np.abs(dw)


@register
@dataclass
class PowStep(PulsedLaw):
    """Power-law step (aihwkit ``PowStepDevice``, after Fusi & Abbott 2007).

    ``ω = (b_max − w)/(b_max − b_min)``; up ``w ← clip(w + s⁺ ω^{γ⁺} (1 + σ ξ))``, down
    ``w ← clip(w − s⁻ (1 − ω)^{γ⁻} (1 + σ ξ))``. ``γ^± = γ |1 + β^± + σ_γ ξ₁ ± σ_β ξ₂|`` per
    device, with ``β = pow_up_down`` (one-sided, as for ``up_down``), ``σ_γ = pow_gamma_dtod``
    and ``σ_β = pow_up_down_dtod``. γ = 1 is soft bounds on ``[b_min, b_max]``. Source: aihwkit
    1.2.0 ``PowStepDevice``, ``rpucuda/rpu_powstep_device.cpp``.
    """

    kind = "pow_step"
    title = "power step: dw = +s⁺ ω^γ⁺, −s⁻ (1 − ω)^γ⁻"

    pow_gamma: float = 1.0
    pow_gamma_dtod: float = 0.0
    pow_up_down: float = 0.0
    pow_up_down_dtod: float = 0.0

    def _check(self, where):
        super()._check(where)
        _at_least(self, "pow_gamma", 0.0, where, strict=True)
        if not -1.0 < self.pow_up_down < 1.0:
            raise ConfigError(f"{where}: pow_up_down must be in (−1, 1), got {self.pow_up_down}")
        for n in ("pow_gamma_dtod", "pow_up_down_dtod"):
            _at_least(self, n, 0.0, where)

    def _draw(self, shape, rng, p):
        s_up, s_dn = self._steps(shape, rng)
        beta = self.pow_up_down
        up_bias, down_bias = min(beta, 0.0), -max(beta, 0.0)
        gain, r = 1.0, 0.0
        if rng is not None and shape:
            if self.pow_gamma_dtod:
                gain = 1.0 + self.pow_gamma_dtod * rng.standard_normal(shape)
            if self.pow_up_down_dtod:
                r = self.pow_up_down_dtod * rng.standard_normal(shape)
        g_up = self.pow_gamma * np.abs(up_bias + gain + r)
        g_dn = self.pow_gamma * np.abs(down_bias + gain - r)
        inv = _ratio(1.0, p["hi"] - p["lo"])
        return {"s_up": s_up, "s_dn": s_dn, "g_up": g_up, "g_dn": g_dn, "inv_range": inv}

    def _delta(self, w, up, p):
        if isinstance(up, (bool, np.bool_)):
            base = (p["hi"] - w) if up else (w - p["lo"])
        else:
            base = np.where(up > 0, p["hi"] - w, w - p["lo"])
        base = np.maximum(base * p["inv_range"], 0)  # ω up, 1 − ω down
        return sel(up, p["s_up"], -p["s_dn"]) * base ** sel(up, p["g_up"], p["g_dn"])


@register
@dataclass
class PiecewiseStep(PulsedLaw):
    """Step size from a table of factors over the range (aihwkit ``PiecewiseStepDevice``).

    ``u = (w − b_min)/(b_max − b_min)``; ``v^d(u)`` interpolates linearly between the factors
    ``piecewise_up`` (or ``piecewise_down``) placed at equal spacing from ``u = 0`` to
    ``u = 1``; ``w ← clip(w + d · s^d v^d(u) (1 + σ ξ), b_min, b_max)``. A table of measured
    step sizes (divided by ``dw_min``) reproduces a measured device. Source: aihwkit 1.2.0
    ``PiecewiseStepDevice``, ``rpucuda/rpu_piecewisestep_device.cpp``.
    """

    kind = "piecewise_step"
    title = "piecewise step: dw = ±s v(u), v from a table"

    piecewise_up: list[float] = field(default_factory=lambda: [1.0])
    piecewise_down: list[float] = field(default_factory=lambda: [1.0])

    def _check(self, where):
        super()._check(where)
        up, dn = list(self.piecewise_up), list(self.piecewise_down)
        if not up or len(up) != len(dn):
            raise ConfigError(f"{where}: piecewise_up and piecewise_down need the same number "
                              f"(≥ 1) of factors, got {len(up)} and {len(dn)}")
        for n, v in (("piecewise_up", up), ("piecewise_down", dn)):
            if not all(math.isfinite(x) and x >= 0 for x in v) or not any(v):
                raise ConfigError(f"{where}: {n} factors must be finite, ≥ 0 and not all 0, "
                                  f"got {v}")

    def _draw(self, shape, rng, p):
        s_up, s_dn = self._steps(shape, rng)
        return {"s_up": s_up, "s_dn": s_dn, "inv_range": _ratio(1.0, p["hi"] - p["lo"])}

    def _table(self):
        m = len(self.piecewise_up)
        x = np.linspace(0.0, 1.0, m) if m > 1 else np.zeros(1)
        # up factors on [0, 1], down factors on [2, 3]: one interpolation serves both
        return np.concatenate([x, x + 2.0]), np.array(self.piecewise_up + self.piecewise_down)

    def _delta(self, w, up, p):
        u = np.clip((w - p["lo"]) * p["inv_range"], 0.0, 1.0)
        xp, fp = self._table()
        if isinstance(up, (bool, np.bool_)):
            v = np.interp(u if up else u + 2.0, xp, fp)
        else:
            v = np.interp(u + 2.0 * (1 - up), xp, fp)  # v^d(u), linear between the nodes
        return sel(up, p["s_up"], -p["s_dn"]) * v.astype(np.result_type(w), copy=False)


def _check_dw_min(law, where):
    span = law.w_max - law.w_min
    if not 0 < law.dw_min <= span / 2:
        raise ConfigError(f"{where}: dw_min must be in (0, (w_max − w_min)/2] = (0, {span / 2:g}] "
                          f"(at least 2 states), got {law.dw_min}")


def _ratio(num, den):
    """num / den, 0 where den is 0 (a stuck device, or a bound at 0)."""
    if np.ndim(num) == 0 and np.ndim(den) == 0:
        return num / den if den else 0.0
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    return np.divide(num, den, out=np.zeros(num.shape), where=den != 0)
