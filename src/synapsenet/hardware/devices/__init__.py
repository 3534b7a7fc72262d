"""Synaptic devices: how a pulse changes a device's state, vectorised over all devices.

A law is plain, serialisable configuration; ``instantiate`` draws each device's own parameters
once; the ``DeviceArray`` applies pulses to an array of states. The state is a dimensionless
device weight ``w ∈ [w_min, w_max]`` (aihwkit's convention) that the chip maps linearly to a
conductance between ``g_min`` and ``g_max``.

>>> import numpy as np
>>> from synapsenet.hardware import devices
>>> law = devices.ConstantStep(dw_min=0.25, up_down=0.5, w_min=-1, w_max=1)
>>> law.step(0.0, +1), law.step(0.0, -1)        # the nominal law: one pulse up, one down
(0.25, -0.125)
>>> law.response(3, 2)                          # from w_min: 3 LTP pulses, then 2 LTD
array([-1.   , -0.75 , -0.5  , -0.25 , -0.375, -0.5  ])
>>> devs = law.replace(dw_min_std=0.3).instantiate((2, 3), np.random.default_rng(0))
>>> w = np.zeros((2, 3), np.float32)
>>> w = devs.pulse(w, np.int8([[1, 0, -1], [1, 1, 0]]), np.random.default_rng(1))
>>> w = devs.pulses(w, np.array([[5, 0, 0], [-2, 0, 3]]), np.random.default_rng(2))
>>> w.dtype, devs.clip(w).shape
(dtype('float32'), (2, 3))
>>> ag = devices.load_device("ag-si")            # NeuroSim's Ag:a-Si memristor
>>> ag.levels, ag.nl_ltp, ag.nl_ltd, round(ag.A_ltp / ag.levels, 4)
(97, 2.4, -4.88, 0.4992)
>>> round(float(devices.normalized_a(2.4)), 4), round(float(devices.nonlinearity_label(0.2003)), 2)
(0.4992, 4.88)
"""

from .base import LAWS, DeviceArray, DeviceLaw
from .fit import FitResult, fit_law, read_pulse_csv
from .laws import (ConstantStep, ExpStep, Ideal, LinearStep, PiecewiseStep, PowStep, PulsedLaw,
                   SoftBounds)
from .neurosim import (LABEL_MAX, NeuroSimNonlinear, max_deviation, nonlinearity_label,
                       normalized_a)
from .presets import (DEVICE_PRESETS, NEUROSIM_ACCURACY, NEUROSIM_DEVICES,
                      NEUROSIM_SOFTWARE_ACCURACY, load_device)


def pulse_response_curves(law, n_up=None, n_down=None, points=201) -> dict:
    """What hardware papers plot for a device, as arrays: the nominal state after each pulse
    (LTP from ``w_min``, then LTD; ``n_up``/``n_down`` default to 1.2 × the states, at most
    24,000) and the step size against the state in each direction, on ``points`` states
    spread evenly inside the range.

    Returns ``{"pulse", "w", "ltp" (bool per pulse), "w_grid", "step_up", "step_down"}``.
    """
    import numpy as np

    states = law.states if np.isfinite(law.states) else (law.w_max - law.w_min) / law.dw_min
    n = int(min(24_000, max(2, round(1.2 * states))))
    n_up = n if n_up is None else int(n_up)
    n_down = n if n_down is None else int(n_down)
    w = law.response(n_up, n_down)
    grid = law.w_min + (np.arange(points) + 0.5) / points * (law.w_max - law.w_min)
    return {"pulse": np.arange(n_up + n_down + 1), "w": w,
            "ltp": np.arange(n_up + n_down + 1) <= n_up, "w_grid": grid,
            "step_up": law.step(grid, 1) - grid, "step_down": grid - law.step(grid, -1)}


__all__ = ["DeviceLaw", "DeviceArray", "LAWS", "Ideal", "PulsedLaw", "ConstantStep",
           "LinearStep", "SoftBounds", "ExpStep", "PowStep", "PiecewiseStep",
           "NeuroSimNonlinear", "nonlinearity_label", "normalized_a", "max_deviation",
           "LABEL_MAX", "DEVICE_PRESETS", "NEUROSIM_DEVICES", "NEUROSIM_ACCURACY",
           "NEUROSIM_SOFTWARE_ACCURACY", "load_device", "fit_law", "FitResult",
           "read_pulse_csv", "pulse_response_curves"]
