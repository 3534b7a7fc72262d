"""NeuroSim's nonlinear update law and its nonlinearity label.

MLP+NeuroSim V3.0 (P.-Y. Chen, X. Peng, S. Yu, IEDM 2017 and IEEE TCAD 37(12) 2018; Y. Luo,
X. Peng, S. Yu, ICONS 2019; user manual §5.1) describes a device's conductance after ``P``
identical pulses as

    G(P) = B (1 − e^{−P/A}) + G_min,    B = (G_max − G_min) / (1 − e^{−P_max/A}),

one curve for potentiation (LTP) and one for depression (LTD), each with its own ``A`` and
``P_max`` (the number of levels). ``A > 0`` bends the curve down (large steps first), ``A < 0``
up; the manual proves that the LTD equation is the LTP one with the sign of ``A`` flipped, so
one equation serves both. A pulse recovers the device's pulse number from its conductance,
``P = −A ln(1 − (G − G_min)/B)``, moves it by ±1 and returns ``G(P ± 1)``, clipped to the range
(``RealDevice::Write`` in ``Cell.cpp``; ``NonlinearWeight``/``InvNonlinearWeight`` in
``formula.cpp``).

**The label → A relation.** NeuroSim does not take ``A`` but a *nonlinearity label* NL
(``NL_LTP``, ``NL_LTD``, roughly −10…10, 0 = linear, the sign that of A) and looks the
normalised ``a = A/P_max`` up in a table (``documents/Nonlinearity-NormA.htm``, the array in
``getParamA``: 900 values for |NL| = 0.01…9). The manual (§5.1–5.2) shows the labelled curves
(its Fig. 2) and the table but no formula. Here is one, derived from the curve's deviation
from linear. With ``x = P/P_max`` and ``y = (G − G_min)/(G_max − G_min)`` the curve is

    y(x) = (1 − e^{−x/a}) / (1 − e^{−1/a}).

Its vertical distance from the line ``y = x`` is largest where ``y'(x) = 1``, i.e. at
``e^{−x*/a} = a c`` with ``c = 1 − e^{−1/a}``: ``x* = −a ln(a c)``, which tends to the midpoint
``x = ½`` as the curve straightens. The largest deviation is

    D(a) = y(x*) − x* = 1/c − a + a ln(a c),

falling from 1 (``a → 0``, a step) to 0 (``a → ∞``) as ``1/(8a) − 1/(576 a³)``. NeuroSim's
table is, to all of its six printed digits (relative error ≤ 2·10⁻⁵ over the 900 entries),

    D(|a|) = 0.07·√2 · |NL|,

i.e. the largest distance of the normalised curve from the diagonal, measured perpendicular to
it (``D/√2``), is 0.07 per unit of label. So ``|NL| = D(|a|)/(0.07√2) ≈ 10.1 D`` and
``|NL| < 1/(0.07√2) ≈ 10.10``. (The deviation exactly *at* ``x = ½``, ``½ tanh(1/(4a))``, agrees
only for near-linear curves: at NL = 4.88 it would give a = 0.123 where the table has 0.2003.)
``normalized_a`` inverts ``D`` by bisection, vectorised, so device-to-device spread of the label
(NeuroSim's ``sigmaDtoD``) costs one inversion per device when the devices are made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from .base import DeviceLaw, _at_least, register, sel

DEVIATION_PER_LABEL = 0.07 * math.sqrt(2)  # largest vertical deviation per unit of label
LABEL_MAX = 1.0 / DEVIATION_PER_LABEL  # ≈ 10.10: the step curve (a → 0)


def max_deviation(a):
    """D(a): the largest vertical deviation of the normalised curve y(x) from y = x, for
    a = A/P_max > 0 (array or scalar)."""
    a = np.asarray(a, np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        h = 1.0 / a
        c = -np.expm1(-h)  # 1 − e^{−1/a}
        exact = 1.0 / c - a + a * np.log(a * c)
        series = h / 8 - h ** 3 / 576  # large a: the exact form cancels
        d = np.where(h < 1e-3, series, exact)
    return np.where(np.isinf(a), 0.0, d)


def nonlinearity_label(a):
    """NeuroSim's nonlinearity label of a curve with normalised A = a (signed; ±inf → 0)."""
    a = np.asarray(a, np.float64)
    return np.sign(a) * max_deviation(np.abs(a)) / DEVIATION_PER_LABEL


def normalized_a(label):
    """The normalised A = A/P_max for NeuroSim's nonlinearity label (signed; 0 → inf, a
    linear curve), inverting ``nonlinearity_label`` by bisection on log a."""
    nl = np.asarray(label, np.float64)
    if np.any(~np.isfinite(nl)) or np.any(np.abs(nl) >= LABEL_MAX):
        raise ConfigError(f"nonlinearity label must be in (−{LABEL_MAX:.2f}, {LABEL_MAX:.2f}), "
                          f"got {label}")
    target = np.abs(nl) * DEVIATION_PER_LABEL
    lo = np.full(nl.shape, math.log(1e-6))  # D ≈ 1
    hi = np.full(nl.shape, math.log(1e15))  # D ≈ 1e-16
    for _ in range(64):  # D decreases with a: halve the bracket on log a
        mid = 0.5 * (lo + hi)
        big = max_deviation(np.exp(mid)) > target
        lo = np.where(big, mid, lo)
        hi = np.where(big, hi, mid)
    a = np.exp(0.5 * (lo + hi))
    out = np.where(nl == 0, np.inf, np.sign(nl) * a)
    return out[()] if out.ndim == 0 else out


@register
@dataclass
class NeuroSimNonlinear(DeviceLaw):
    """NeuroSim's nonlinear device: ``G(P) = B (1 − e^{−P/A}) + G_min`` per direction.

    In device weights (``w = G/G_max`` in the presets): ``w(P) = w_min + B (1 − e^{−P/A})``,
    ``B = (w_max − w_min)/(1 − e^{−P_max/A})``. A pulse: ``P = −A ln(1 − (w − w_min)/B)``,
    ``P ± 1``, ``w ← clip(w(P ± 1))`` — which is the affine map
    ``w − w_min ← (w − w_min) e^{∓1/A} + B (1 − e^{∓1/A})`` (no logarithm needed), and ``n``
    pulses are the same map with ``n/A``.

    Parameters: ``levels`` (P_max of LTP, NeuroSim's ``maxNumLevelLTP``), ``levels_ltd``
    (P_max of LTD; unset: ``levels``), ``nl_ltp``, ``nl_ltd`` (labels, ``A = a(NL)·P_max``, see
    the module docstring), ``sigma_c2c`` (cycle-to-cycle σ per pulse as a fraction of
    ``w_max − w_min``; a train of n pulses gets ``σ √n``, NeuroSim's ``sigmaCtoC``),
    ``sigma_d2d`` (device-to-device σ of the labels, drawn separately for LTP and LTD,
    NeuroSim's ``sigmaDtoD``). Conductance-range variation (``maxConductanceVar``) is the
    common ``w_max_dtod``/``w_min_dtod``. Source: MLP+NeuroSim V3.0 ``Cell.cpp``
    (``RealDevice``), ``formula.cpp``, user manual §5.
    """

    kind = "neurosim"
    title = "NeuroSim: G(P) = B (1 − e^(−P/A)) + G_min"

    w_min: float = 0.0
    w_max: float = 1.0
    levels: int = 64
    levels_ltd: int | None = None
    nl_ltp: float = 0.0
    nl_ltd: float = 0.0
    sigma_c2c: float = 0.0
    sigma_d2d: float = 0.0

    def _check(self, where):
        for n in ("levels", "levels_ltd"):
            v = getattr(self, n)
            if v is not None and not (isinstance(v, (int, np.integer)) and v >= 2):
                raise ConfigError(f"{where}: {n} (pulses from w_min to w_max) must be an "
                                  f"integer ≥ 2, got {v!r}")
        for n in ("nl_ltp", "nl_ltd"):
            if not abs(getattr(self, n)) < LABEL_MAX:
                raise ConfigError(f"{where}: {n} must be in (−{LABEL_MAX:.2f}, "
                                  f"{LABEL_MAX:.2f}) (0 = linear), got {getattr(self, n)}")
        for n in ("sigma_c2c", "sigma_d2d"):
            _at_least(self, n, 0.0, where)

    @property
    def p_ltd(self) -> int:
        return self.levels if self.levels_ltd is None else self.levels_ltd

    @property
    def states(self) -> float:
        return float(self.levels)

    def nominal_steps(self) -> tuple[float, float]:
        """NeuroSim's pulse count: the range over the LTP levels up, over the LTD levels
        down (``RealDevice::Write``: ``numPulse = ΔW/(w_max − w_min) · maxNumLevelLTP``, or
        ``maxNumLevelLTD`` for a decrease)."""
        span = self.w_max - self.w_min
        return span / self.levels, span / self.p_ltd

    @property
    def A_ltp(self) -> float:
        """A of the LTP curve, in pulses (inf: linear)."""
        return float(normalized_a(self.nl_ltp)) * self.levels

    @property
    def A_ltd(self) -> float:
        """A of the LTD curve, in pulses."""
        return float(normalized_a(self.nl_ltd)) * self.p_ltd

    def conductance(self, P, ltd: bool = False):
        """The nominal curve w(P) of the LTP (or LTD) side: ``w_min + B (1 − e^{−P/A})``."""
        A, pmax = (self.A_ltd, self.p_ltd) if ltd else (self.A_ltp, self.levels)
        span = self.w_max - self.w_min
        P = np.asarray(P, np.float64)
        if math.isinf(A):
            return self.w_min + span * P / pmax
        return self.w_min + span * np.expm1(-P / A) / np.expm1(-pmax / A)

    def pulse_number(self, w, ltd: bool = False):
        """The pulse number P of state ``w`` on the LTP (or LTD) curve, NeuroSim's
        ``InvNonlinearWeight``: ``P = −A ln(1 − (w − w_min)/B)``."""
        A, pmax = (self.A_ltd, self.p_ltd) if ltd else (self.A_ltp, self.levels)
        x = (np.asarray(w, np.float64) - self.w_min) / (self.w_max - self.w_min)
        if math.isinf(A):
            return x * pmax
        return -A * np.log1p(x * np.expm1(-pmax / A))

    def _c2c(self):
        return self.sigma_c2c > 0

    def _draw(self, shape, rng, p):
        nl_up, nl_dn = self.nl_ltp, self.nl_ltd
        if self.sigma_d2d and rng is not None and shape:
            cap = LABEL_MAX - 1e-3
            nl_up = np.clip(nl_up + self.sigma_d2d * rng.standard_normal(shape), -cap, cap)
            nl_dn = np.clip(nl_dn + self.sigma_d2d * rng.standard_normal(shape), -cap, cap)
        r_up = _rate(nl_up, self.levels)  # 1/A: 0 for a linear curve
        r_dn = _rate(nl_dn, self.p_ltd)
        lo, span = p["lo"], p["hi"] - p["lo"]
        # one LTP pulse, P → P + 1: x ← x e^{−1/A} + k, x = w − w_min, k = B (1 − e^{−1/A})
        b_up = np.expm1(-r_up)
        k_up = span * _fraction(r_up, self.levels, -1)
        # one LTD pulse, P → P − 1 on the LTD curve: x ← x e^{+1/A} + k (k < 0)
        b_dn = np.expm1(r_dn)
        k_dn = span * _fraction(r_dn, self.p_ltd, +1)
        out = {"a_up": k_up - b_up * lo, "b_up": b_up, "a_dn": k_dn - b_dn * lo, "b_dn": b_dn}
        if self.sigma_c2c:
            out["sigma"] = self.sigma_c2c * span
        return out

    def _delta(self, w, up, p):
        return sel(up, p["a_up"], p["a_dn"]) + sel(up, p["b_up"], p["b_dn"]) * w

    def _affine(self, p):
        return (p["a_up"], p["b_up"], p["a_dn"], p["b_dn"])

    def _sigma(self, dw, w, up, p):
        return p.get("sigma")

    def _train_sigma(self, p):
        return p.get("sigma")


def _rate(label, pmax):
    """1/A in pulses⁻¹ for a label and P_max (0 for a linear curve)."""
    a = normalized_a(label)
    with np.errstate(divide="ignore"):
        return np.where(np.isinf(a), 0.0, 1.0 / (np.asarray(a) * pmax))


def _fraction(r, pmax, sign):
    """e^{sign·r} − 1 over e^{−P_max r} − 1: the signed share of the range that one pulse
    covers from the curve's start (sign −1: LTP, +1: LTD); its limit ∓1/P_max for r = 0."""
    r = np.asarray(r, np.float64)
    small = np.abs(r) < 1e-12
    safe = np.where(small, 1.0, r)
    with np.errstate(over="ignore"):
        f = np.expm1(sign * safe) / np.expm1(-pmax * safe)
    out = np.where(small, -sign / pmax, f)
    return out[()] if out.ndim == 0 else out
