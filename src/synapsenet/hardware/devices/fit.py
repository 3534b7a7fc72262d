"""Fit a device law to a measured pulse response, and say how well it fits.

The data: a device's conductance after each pulse of a potentiation (LTP) train and then a
depression (LTD) train, as arrays or a CSV file (``read_pulse_csv``). ``fit_law`` finds the
law's parameters by least squares on its nominal response (SciPy's ``least_squares``), estimates
the cycle-to-cycle noise from the one-pulse prediction errors, and reports RMSE and R².
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from .base import LAWS, DeviceLaw

_PULSE_NAMES = {"pulse", "pulses", "pulse_number", "pulse number", "n", "p", "number", "#"}
_PHASE_NAMES = {"phase", "direction", "dir", "sign", "type", "mode"}
_LTP_WORDS = {"ltp", "up", "potentiation", "set", "+", "+1", "1", "1.0", "inc", "increase"}
_LTD_WORDS = {"ltd", "down", "depression", "reset", "-", "-1", "-1.0", "dec", "decrease"}


def read_pulse_csv(path):
    """A pulse-response CSV as ``(pulse, conductance, phase)`` arrays (``pulse`` and ``phase``
    None when absent).

    Accepted layouts, with or without a header row (``#`` starts a comment): one column
    (conductance, one row per pulse, the first row before any pulse); two (pulse number,
    conductance); three (pulse number, conductance, phase). With a header the columns are
    found by name: ``pulse``, a conductance column (``conductance``, ``G``, ``g_uS`` …) and
    ``phase``/``direction`` (``ltp``/``ltd``, ``up``/``down`` or ``+1``/``-1``).
    """
    where = f"pulse-response CSV {str(path)!r}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(csv.reader(fh))]
    except OSError as e:
        raise DataError(f"cannot read {where}: {e.strerror or e}") from None
    rows = [(i, r) for i, r in rows if r and any(r) and not r[0].startswith("#")]
    if not rows:
        raise DataError(f"{where} holds no data rows")
    header = None
    if not _numeric(rows[0][1][0]):
        header = [h.lower() for h in rows[0][1]]
        rows = rows[1:]
    width = len(header) if header else len(rows[0][1])
    if header:
        cols = _columns(header, where)
    else:
        cols = {1: {"g": 0}, 2: {"pulse": 0, "g": 1}, 3: {"pulse": 0, "g": 1, "phase": 2}}.get(
            width)
        if cols is None:
            raise DataError(f"{where}: expected 1 to 3 columns (conductance; pulse, "
                            f"conductance; pulse, conductance, phase), got {width}")
    pulse, g, phase = [], [], []
    for line, r in rows:
        if len(r) < width:
            raise DataError(f"{where} line {line}: expected {width} columns, got {len(r)}")
        try:
            g.append(float(r[cols["g"]]))
            if "pulse" in cols:
                pulse.append(float(r[cols["pulse"]]))
        except ValueError:
            raise DataError(f"{where} line {line}: {r!r} is not numeric") from None
        if "phase" in cols:
            phase.append(_phase_word(r[cols["phase"]], f"{where} line {line}"))
    return (np.array(pulse) if "pulse" in cols else None, np.array(g),
            np.array(phase, np.int8) if "phase" in cols else None)


@dataclass
class FitResult:
    """A fitted law and how well it fits.

    ``law`` is in device weights ``w``; the measured conductance is ``G = g_offset + g_scale·w``.
    ``rmse`` (in the data's units) and ``r2`` compare the law's nominal response with the data;
    ``c2c`` is the cycle-to-cycle σ of one pulse, estimated from the one-pulse prediction
    errors, as a fraction of the law's range (already set in ``law`` where it has a noise
    parameter).
    """

    law: DeviceLaw
    family: str
    rmse: float
    r2: float
    rmse_ltp: float
    rmse_ltd: float
    c2c: float
    g_offset: float
    g_scale: float
    measured: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)
    ltp: np.ndarray = field(repr=False)
    pulse: np.ndarray = field(repr=False)

    @property
    def span(self) -> float:
        return float(np.ptp(self.measured))

    def conductance(self, w):
        """Device weights of the fitted law as the data's conductance."""
        return self.g_offset + self.g_scale * np.asarray(w)

    def summary(self) -> str:
        law = self.law
        extra = ""
        if law.kind == "neurosim":
            extra = (f": NL {law.nl_ltp:+.2f}/{law.nl_ltd:+.2f}, {law.levels}"
                     + (f"/{law.levels_ltd}" if law.levels_ltd else "") + " levels, on/off "
                     f"{law.w_max / law.w_min:.3g}" if law.w_min > 0 else "")
        return (f"{type(law).__name__} fits {len(self.measured)} points{extra}; RMSE "
                f"{self.rmse:.4g} ({self.rmse / self.span:.1%} of the measured range; LTP "
                f"{self.rmse_ltp:.3g}, LTD {self.rmse_ltd:.3g}), R² = {self.r2:.4f}, "
                f"cycle-to-cycle σ ≈ {self.c2c:.2%} of the range per pulse")

    def __str__(self):
        return self.summary()


def fit_law(pulse_numbers_or_csv, conductances=None, *, law="neurosim", phase=None,
            noise=True) -> FitResult:
    """Fit a law family to a measured pulse response (LTP pulses, then LTD pulses).

    ``pulse_numbers_or_csv``: a CSV path (see ``read_pulse_csv``), or the pulse numbers (None:
    one row per pulse) with ``conductances`` beside them. ``phase`` (+1 LTP / −1 LTD per row)
    is optional: without it the LTD rows begin where the pulse numbers start again, or else
    after the highest conductance (give the phase for noisy data, whose highest point need not
    be the turn). ``law``: a family (``"neurosim"``,
    ``"constant_step"``, ``"soft_bounds"``, ``"linear_step"``, ``"pow_step"``, ``"exp_step"``,
    ``"ideal"``) or a ``DeviceLaw`` whose parameters that are not fitted (variation, ExpStep's
    ``a`` and ``b``) are kept. ``noise``: also set the law's cycle-to-cycle parameter from the
    data. NeuroSim's levels are the numbers of LTP and LTD pulses in the data.
    """
    if conductances is None:
        if isinstance(pulse_numbers_or_csv, (str, Path)):
            pulse, g, csv_phase = read_pulse_csv(pulse_numbers_or_csv)
            where = f"pulse-response CSV {str(pulse_numbers_or_csv)!r}"
            phase = csv_phase if phase is None else phase
        else:
            raise ConfigError("fit_law: give a CSV path, or pulse numbers and conductances")
    else:
        pulse = None if pulse_numbers_or_csv is None else np.asarray(pulse_numbers_or_csv, float)
        g = np.asarray(conductances, float)
        where = "pulse-response data"
    base, family = _family(law)
    ltp, u = _phases(pulse, g, phase, where)
    _check_trend(g, u, ltp, where)
    spec = _FAMILIES[family]
    return spec(base, g, u, ltp, noise)


# -- the data -------------------------------------------------------------------------------
def _numeric(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _columns(header, where):
    cols = {}
    for i, h in enumerate(header):
        if h in _PULSE_NAMES and "pulse" not in cols:
            cols["pulse"] = i
        elif h in _PHASE_NAMES and "phase" not in cols:
            cols["phase"] = i
        elif "g" not in cols and (h.startswith("g") or "conduct" in h or h.startswith("w")):
            cols["g"] = i
    if "g" not in cols:
        raise DataError(f"{where}: no conductance column among {header} (name it "
                        "'conductance' or 'G')")
    return cols


def _phase_word(s, where):
    t = s.strip().lower()
    if t in _LTP_WORDS:
        return 1
    if t in _LTD_WORDS:
        return -1
    raise DataError(f"{where}: phase {s!r} is not one of ltp/ltd, up/down, +1/-1")


def _phases(pulse, g, phase, where):
    """Which rows are LTP, and each row's pulse count within its phase."""
    if g.ndim != 1 or len(g) < 6:
        raise DataError(f"{where}: need a 1-D series of at least 6 conductances (3 per phase), "
                        f"got shape {g.shape}")
    bad = np.flatnonzero(~np.isfinite(g))
    if bad.size:
        raise DataError(f"{where}: conductance in row {bad[0] + 1} is not a finite number "
                        f"({g[bad[0]]})")
    if np.any(g < 0):
        raise DataError(f"{where}: conductances must be ≥ 0; row {np.argmax(g < 0) + 1} has "
                        f"{g[np.argmax(g < 0)]}")
    if pulse is not None:
        if pulse.shape != g.shape:
            raise DataError(f"{where}: {len(pulse)} pulse numbers for {len(g)} conductances")
        if not np.all(np.isfinite(pulse)):
            raise DataError(f"{where}: pulse numbers must be finite")
    if phase is not None:
        ph = np.sign(np.asarray(phase, float))
        if ph.shape != g.shape or np.any(ph == 0):
            raise DataError(f"{where}: phase must be +1 (LTP) or −1 (LTD) for every row")
        split = int(np.argmax(ph < 0)) if np.any(ph < 0) else len(ph)
        if np.any(ph[split:] > 0):
            raise DataError(f"{where}: expected the LTP rows first, then the LTD rows")
    elif pulse is not None and np.any(np.diff(pulse) < 0):
        split = int(np.argmax(np.diff(pulse) < 0)) + 1  # the pulse count starts again
    else:  # LTD starts after the highest conductance (the last row of a plateau at the top)
        top = np.flatnonzero(g >= g.max() - 1e-12 * abs(g.max()))
        split = int(top[-1]) + 1
    n_ltp, n_ltd = split, len(g) - split
    if n_ltp < 3 or n_ltd < 3:
        raise DataError(f"{where}: need at least 3 rows in each phase, got {n_ltp} LTP and "
                        f"{n_ltd} LTD rows")
    ltp = np.arange(len(g)) < split
    if pulse is None:
        u = np.concatenate([np.arange(n_ltp), np.arange(1, n_ltd + 1)]).astype(float)
    else:
        up, dn = pulse[:split], pulse[split:]
        restart = dn[0] < up[-1]
        u = np.concatenate([up, dn if restart else dn - up[-1]])
        for name, part in (("LTP", u[:split]), ("LTD", u[split:])):
            if np.any(np.diff(part) <= 0):
                raise DataError(f"{where}: pulse numbers must increase within the {name} "
                                "phase")
        if u[0] < 0 or u[split] < 0:
            raise DataError(f"{where}: pulse numbers must be ≥ 0")
    return ltp, u


def _check_trend(g, u, ltp, where):
    """Each phase must move its way: rank correlation with the pulse number ≥ 0.5 (LTP) or
    ≤ −0.5 (LTD). Noisy steps against the direction are fine, a flat or reversed phase not."""
    for name, mask, sign in (("LTP", ltp, 1), ("LTD", ~ltp, -1)):
        rows = np.flatnonzero(mask)
        rho = _spearman(u[mask], g[mask])
        if not sign * rho >= 0.5:
            verb = "rise" if sign > 0 else "fall"
            raise DataError(f"{where}: the {name} phase (rows {rows[0] + 1}–{rows[-1] + 1}) is "
                            f"not monotone: its conductance should {verb} with the pulse "
                            f"number, but their rank correlation is {rho:+.2f} (need "
                            f"{'≥ +' if sign > 0 else '≤ −'}0.5)")


def _spearman(x, y):
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y, kind="stable")).astype(float)
    if np.ptp(ry) == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


# -- fitting --------------------------------------------------------------------------------
def _family(law):
    if isinstance(law, DeviceLaw):
        return law, law.kind
    key = str(law).lower().replace("-", "_")
    aliases = {"neurosimnonlinear": "neurosim", "constantstep": "constant_step",
               "softbounds": "soft_bounds", "linearstep": "linear_step", "powstep": "pow_step",
               "expstep": "exp_step"}
    key = aliases.get(key.replace("_", ""), key)
    if key not in _FAMILIES:
        raise ConfigError(f"fit_law: cannot fit law {law!r}; fittable laws: "
                          f"{', '.join(_FAMILIES)}")
    return LAWS[key](), key


def _model(law, u, ltp):
    """The law's nominal response at the rows' pulse counts (LTP from w_min, then LTD)."""
    n_up = int(math.ceil(u[ltp].max()))
    n_dn = int(math.ceil(u[~ltp].max()))
    traj = law.response(n_up, n_dn)
    out = np.empty(len(u))
    out[ltp] = np.interp(u[ltp], np.arange(n_up + 1), traj[: n_up + 1])
    out[~ltp] = np.interp(u[~ltp], np.arange(n_dn + 1), traj[n_up:])
    return out


def _least_squares(make, names, x0s, bounds, y, u, ltp):
    from scipy.optimize import least_squares

    def residual(x):
        try:
            law = make(dict(zip(names, x)))
        except ConfigError:
            return np.full(len(y), 10.0)
        return _model(law, u, ltp) - y

    best = None
    for x0 in x0s:
        x0 = np.clip(x0, bounds[0], bounds[1])
        r = least_squares(residual, x0, bounds=bounds, x_scale="jac", max_nfev=400)
        if best is None or r.cost < best.cost:
            best = r
    return make(dict(zip(names, best.x)))


def _result(law, family, g, u, ltp, offset, scale, noise):
    pred = offset + scale * _model(law, u, ltp)
    res = g - pred
    ss = float(np.sum((g - g.mean()) ** 2))
    sigma = _one_pulse_sigma(law, (g - offset) / scale, u, ltp)
    span = law.w_max - law.w_min
    if noise and sigma > 0:
        law = _with_noise(law, sigma)
    return FitResult(law=law, family=family, rmse=float(np.sqrt(np.mean(res ** 2))),
                     r2=1.0 - float(np.sum(res ** 2)) / ss if ss else 0.0,
                     rmse_ltp=float(np.sqrt(np.mean(res[ltp] ** 2))),
                     rmse_ltd=float(np.sqrt(np.mean(res[~ltp] ** 2))),
                     c2c=sigma / span, g_offset=float(offset), g_scale=float(scale),
                     measured=g, predicted=pred, ltp=ltp, pulse=u)


def _one_pulse_sigma(law, w, u, ltp):
    """σ of a pulse's noise from the errors of predicting each row from the previous one."""
    res2, count = [], []
    for mask, d in ((ltp, 1), (~ltp, -1)):
        ws, us = w[mask], u[mask]
        for k in range(1, len(ws)):
            m = int(round(us[k] - us[k - 1]))
            if m < 1 or abs(us[k] - us[k - 1] - m) > 0.25:
                continue
            x = ws[k - 1]
            for _ in range(m):
                x = law.step(x, d)
            res2.append((ws[k] - x) ** 2)
            count.append(m)
    return float(np.sqrt(np.sum(res2) / np.sum(count))) if count else 0.0


def _with_noise(law, sigma):
    if law.kind == "neurosim":
        return law.replace(sigma_c2c=sigma / (law.w_max - law.w_min))
    if law.kind == "ideal":
        return law
    changes = {"dw_min_std": sigma / law.dw_min}
    if law.kind in ("linear_step", "soft_bounds"):
        changes["mult_noise"] = False  # additive: σ = dw_min_std · dw_min, as estimated
    return law.replace(**changes)


def _fit_neurosim(base, g, u, ltp, noise):
    top = float(g.max())
    y = g / top
    n_up, n_dn = int(round(u[ltp].max())), int(round(u[~ltp].max()))
    keep = {k: v for k, v in base.to_dict().items() if k not in (
        "law", "w_min", "w_max", "levels", "levels_ltd", "nl_ltp", "nl_ltd")}

    def make(x):
        return LAWS["neurosim"].from_dict({**keep, "w_min": x["w_min"], "w_max": x["w_max"],
                                           "levels": max(n_up, 2), "nl_ltp": x["nl_ltp"],
                                           "levels_ltd": max(n_dn, 2) if n_dn != n_up else None,
                                           "nl_ltd": x["nl_ltd"]})

    names = ["w_min", "w_max", "nl_ltp", "nl_ltd"]
    lo0, hi0 = float(y.min()), float(y.max())
    starts = [[lo0, hi0, a, b] for a, b in ((1, -1), (4, -4), (0.1, 0.1), (-1, 1), (3, 3))]
    cap = 10.05
    bounds = ([0.0, 0.3 * hi0, -cap, -cap], [hi0, 2.0 * hi0, cap, cap])
    law = _least_squares(make, names, starts, bounds, y, u, ltp)
    scale = law.w_max * top  # w = G / G_max
    law = law.replace(w_min=law.w_min / law.w_max, w_max=1.0)
    return _result(law, "neurosim", g, u, ltp, 0.0, scale, noise)


def _fit_pulsed(family, extra):
    """A fitter for an aihwkit-like family: bounds, dw_min and up_down, plus ``extra``:
    [(name, start, low, high)]."""

    def fit(base, g, u, ltp, noise):
        mid, half = (g.max() + g.min()) / 2, (g.max() - g.min()) / 2 or 1.0
        y = (g - mid) / half
        n = max(int(round(u[ltp].max())), 2)
        fitted = ["w_min", "w_max", "dw_min"] + ([] if family == "ideal" else ["up_down"])
        fitted += [e[0] for e in extra]
        keep = {k: v for k, v in base.to_dict().items() if k not in fitted + ["law"]}
        soft = family == "soft_bounds"
        bounds_lo = [-3.0 if soft else -1.5, 0.05 if soft else -0.5, 1e-6]
        bounds_hi = [-0.05 if soft else 0.5, 3.0 if soft else 1.5, 1.0]
        start = [-1.0, 1.0, 2.0 / n]
        if family != "ideal":
            bounds_lo.append(-0.95)
            bounds_hi.append(0.95)
            start.append(0.0)
        bounds_lo += [e[2] for e in extra]
        bounds_hi += [e[3] for e in extra]
        starts = [start + [e[1] for e in extra]]
        if soft or family in ("linear_step", "pow_step", "exp_step"):
            starts.append([-1.2, 1.2, 4.0 / n] + start[3:] + [e[1] for e in extra])

        def make(x):
            return LAWS[family].from_dict({**keep, **x})

        law = _least_squares(make, fitted, starts, (bounds_lo, bounds_hi), y, u, ltp)
        return _result(law, family, g, u, ltp, mid, half, noise)

    return fit


_FAMILIES = {
    "neurosim": _fit_neurosim,
    "ideal": _fit_pulsed("ideal", []),
    "constant_step": _fit_pulsed("constant_step", []),
    "soft_bounds": _fit_pulsed("soft_bounds", []),
    "linear_step": _fit_pulsed("linear_step", [("gamma_up", 0.5, 0.0, 5.0),
                                               ("gamma_down", 0.5, 0.0, 5.0)]),
    "pow_step": _fit_pulsed("pow_step", [("pow_gamma", 1.0, 0.05, 20.0),
                                         ("pow_up_down", 0.0, -0.95, 0.95)]),
    "exp_step": _fit_pulsed("exp_step", [("A_up", 0.1, -50.0, 50.0), ("A_down", 0.1, -50.0, 50.0),
                                         ("gamma_up", 2.0, 0.0, 30.0),
                                         ("gamma_down", 2.0, 0.0, 30.0)]),
}
