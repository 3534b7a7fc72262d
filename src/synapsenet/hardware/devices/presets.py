"""Named devices with their published parameters, and ``load_device``.

NeuroSim V3.0's benchmark devices: MLP+NeuroSim V3.0 user manual, Table II "The Benchmark Table
in NeuroSimV3.0 (at 32nm node)" (Y. Luo, X. Peng, S. Yu, ICONS 2019; the V2.0 table is P.-Y.
Chen, S. Yu, IEEE Design & Test 36(3) 2019, DOI 10.1109/MDAT.2018.2890229): conductance states,
nonlinearity labels LTP/LTD, on-state resistance, on/off ratio, write pulses, cycle-to-cycle
variation and the online-learning accuracy it reports. Device weights are ``w = G/G_max``:
``w_max = 1``, ``w_min = 1/(on/off ratio)``.

aihwkit's device presets: ``aihwkit.simulator.presets.devices`` (aihwkit 1.2.0, identical in
the current master), their parameter values as there, each fitted by IBM to the measurements
it cites.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError
from .base import DeviceLaw
from .laws import ConstantStep, ExpStep, Ideal, LinearStep, SoftBounds
from .neurosim import NeuroSimNonlinear

_NS = ("MLP+NeuroSim V3.0 user manual, Table II (benchmark at 32 nm; Luo, Peng & Yu, ICONS "
       "2019)")

# name: (states LTP, states LTD, NL LTP, NL LTD, on/off, C2C σ, (V, s) LTP, (V, s) LTD,
#        published online-learning accuracy, device reference, remark)
_NEUROSIM_TABLE = {
    "ag-si": (97, 100, 2.40, -4.88, 12.5, 0.035, (3.2, 300e-6), (-2.8, 300e-6), 0.72,
              "Ag:a-Si memristor, Jo et al., Nano Lett. 10:1297 (2010)",
              "97 LTP / 100 LTD levels and G = 3.08–38.5 nS as in NeuroSim's Cell.cpp "
              "(RealDevice); the table lists 97 states"),
    "taox-hfox": (128, 128, 0.04, -0.63, 10.0, 0.037, (1.6, 50e-9), (1.6, 50e-9), 0.80,
                  "TaOx/HfOx RRAM, Wu et al., VLSI Technology (2018)",
                  "the table gives 1.6 V / 50 ns for both directions"),
    "pcmo": (50, 50, 3.68, -6.76, 6.84, 0.01, (-2.0, 1e-3), (2.0, 1e-3), 0.33,
             "Pr0.7Ca0.3MnO3 RRAM, Park et al., IEDM (2013)",
             "the table's C2C '<1 %' is taken as 1 %"),
    "alox-hfo2": (40, 40, 1.94, -0.61, 4.43, 0.05, (0.9, 100e-6), (-1.0, 100e-6), 0.20,
                  "AlOx/HfO2 bilayer RRAM, Woo et al., IEEE EDL 37:994 (2016)", ""),
    "gst-pcm": (100, 120, 0.105, 2.40, 19.8, 0.015, (0.7, 6e-6), (3.0, 125e-9), 0.89,
                "Ge2Sb2Te5 PCM, Kuzum et al., Nano Lett. 12:2179 (2012)",
                "the table's '100–120' states read as 100 LTP / 120 LTD; pulse voltages are "
                "averages"),
    "epiram": (64, 64, 0.5, -0.5, 50.2, 0.02, (5.0, 5e-6), (-3.0, 5e-6), 0.92,
               "Ag:SiGe epitaxial RAM, Choi et al., Nat. Mater. 17:335 (2018)", ""),
    "hzo-fefet": (32, 32, 1.75, 1.46, 45.0, 0.005, (3.65, 75e-9), (-2.95, 75e-9), 0.88,
                  "Hf0.5Zr0.5O2 FeFET, Jerry et al., IEDM (2017)",
                  "the table's C2C '<0.5 %' is taken as 0.5 %; pulse voltages are averages"),
}

NEUROSIM_DEVICES = tuple(_NEUROSIM_TABLE)  # the seven, in the table's order
NEUROSIM_R_ON = {"ag-si": 26e6, "taox-hfox": 100e3, "pcmo": 23e6, "alox-hfo2": 16.9e3,
                 "gst-pcm": 4.71e3, "epiram": 81e3, "hzo-fefet": 559.28e3}
"""On-state resistance R_ON (Ω) of each device, the same Table II (Ag:a-Si's 26 MΩ is also
``RealDevice``'s maxConductance = 3.8462e-8 S in NeuroSim's Cell.cpp)."""


def neurosim_conductance(name: str) -> tuple[float, float]:
    """(G_min, G_max) of a NeuroSim device in µS: G_max = 1/R_ON, G_min = G_max/(on/off
    ratio), both from Table II."""
    g_max = 1e6 / NEUROSIM_R_ON[name]
    return g_max / _NEUROSIM_TABLE[name][4], g_max
NEUROSIM_ACCURACY = {k: v[8] for k, v in _NEUROSIM_TABLE.items()}
"""Online-learning accuracy on MNIST that NeuroSim V3.0 reports for each device (Table II of
its manual: 400-100-10 MLP, 125 epochs of 8,000 images); "~72 %" is stored as 0.72."""
NEUROSIM_SOFTWARE_ACCURACY = 0.94  # the same table: digital SRAM synapses, ~94 %


def _neurosim(name):
    ltp, ltd, nl_p, nl_d, onoff, c2c, (v_p, t_p), (v_d, t_d), acc, ref, note = \
        _NEUROSIM_TABLE[name]
    source = (f"{_NS}: {ltp if ltp == ltd else f'{ltp}/{ltd}'} states, NL {nl_p:+}/{nl_d:+}, "
              f"R_ON {NEUROSIM_R_ON[name]:g} Ω, on/off {onoff}, C2C {c2c:.1%}, pulses "
              f"{v_p:+} V/{t_p:g} s and {v_d:+} V/{t_d:g} s; published accuracy ~{acc:.0%}. "
              f"Device: {ref}."
              + (f" Note: {note}." if note else ""))
    return NeuroSimNonlinear(
        name=name, source=source, w_min=1.0 / onoff, w_max=1.0, levels=ltp,
        levels_ltd=None if ltd == ltp else ltd, nl_ltp=nl_p, nl_ltd=nl_d, sigma_c2c=c2c,
        pulse_voltage_up=v_p, pulse_width_up=t_p, pulse_voltage_down=v_d, pulse_width_down=t_d)


_AIHWKIT = "aihwkit 1.2.0, simulator/presets/devices.py"


def _reram_es():
    return ExpStep(
        name="reram-es", source=f"{_AIHWKIT}, ReRamESPresetDevice: ExpStep fit to HfO2 ReRAM of "
        "Gong et al., Nat. Commun. 9:2102 (2018)",
        dw_min=0.00135, up_down=0.259359, w_max=1.0, w_min=-1.0, a=-0.5, b=-0.5,
        gamma_up=5.0, gamma_down=5.0, A_up=-1.18445, A_down=-0.081404, dw_min_dtod=0.2,
        up_down_dtod=0.05, w_max_dtod=0.3, w_min_dtod=0.3, dw_min_std=5.0,
        write_noise_std=75.0)


def _reram_sb():
    return SoftBounds(
        name="reram-sb", source=f"{_AIHWKIT}, ReRamSBPresetDevice: soft-bounds fit to Gong et "
        "al., Nat. Commun. 9:2102 (2018), assuming the symmetry point is calibrated away "
        "(aihwkit's SoftBoundsReferenceDevice without a reference; additive noise)",
        dw_min=0.002, up_down=0.0, w_max=1.25, w_min=-0.75, mult_noise=False,
        dw_min_dtod=0.3, up_down_dtod=0.01, w_max_dtod=0.3 / 1.25, w_min_dtod=0.3 / 0.75,
        dw_min_std=3.75, write_noise_std=56.0)


def _capacitor():
    return LinearStep(
        name="capacitor", source=f"{_AIHWKIT}, CapacitorPresetDevice: LinearStep fit to the "
        "capacitor cell of Li et al., VLSI Technology (2018); aihwkit's leakage (lifetime "
        "1e6 mini-batches) is not modelled here",
        dw_min=0.005, up_down=0.0, w_max=1.0, w_min=-1.0, mult_noise=False, gamma_up=0.05,
        gamma_down=0.05, dw_min_dtod=0.1, up_down_dtod=0.06, w_max_dtod=0.07, w_min_dtod=0.07,
        gamma_up_dtod=0.01, gamma_down_dtod=0.01, dw_min_std=0.3, mean_bound_reference=True)


def _ecram():
    return LinearStep(
        name="ecram", source=f"{_AIHWKIT}, EcRamPresetDevice: LinearStep fit to Li-based "
        "ECRAM of Tang et al., IEDM (2018), range shifted to put the symmetry point at 0",
        dw_min=0.002, up_down=0.0, w_max=1.1724, w_min=-0.8276, mult_noise=True,
        gamma_up=0.1153, gamma_down=0.5085, dw_min_dtod=0.1, up_down_dtod=0.01,
        w_max_dtod=0.05, w_min_dtod=0.05, gamma_up_dtod=0.05, gamma_down_dtod=0.05,
        dw_min_std=0.3, mean_bound_reference=True)


def _ecram_mo():
    return LinearStep(
        name="ecram-mo", source=f"{_AIHWKIT}, EcRamMOPresetDevice: LinearStep fit to "
        "metal-oxide ECRAM of Kim et al., IEDM (2019)",
        dw_min=2.8214e-4, up_down=0.0, w_max=1.1714, w_min=-0.8286, mult_noise=True,
        gamma_up=0.4152, gamma_down=0.7342, dw_min_dtod=0.1, up_down_dtod=0.01,
        w_max_dtod=0.05, w_min_dtod=0.05, gamma_up_dtod=0.05, gamma_down_dtod=0.05,
        dw_min_std=2.0, mean_bound_reference=True)


def _idealized():
    return ConstantStep(
        name="idealized", source=f"{_AIHWKIT}, IdealizedPresetDevice: ConstantStep after "
        "Gokmen & Vlasov, Front. Neurosci. 10:333 (2016), symmetric, 10,000 states",
        dw_min=0.0002, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0, up_down_dtod=0.0,
        w_max=1.0, w_min=-1.0, w_max_dtod=0.3, w_min_dtod=0.3)


def _gokmen_vlasov():
    return ConstantStep(
        name="gokmen-vlasov", source=f"{_AIHWKIT}, GokmenVlasovPresetDevice: ConstantStep "
        "with the RPU specifications of Gokmen & Vlasov, Front. Neurosci. 10:333 (2016), "
        "1,200 states",
        dw_min=0.0016, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0, up_down_dtod=0.01,
        w_max=1.0, w_min=-1.0, w_max_dtod=0.3, w_min_dtod=0.3)


def _pcm_es():
    return ExpStep(
        name="pcm-es", source=f"{_AIHWKIT}, PCMPresetDevice: ExpStep fit to Ge2Sb2Te5 PCM of "
        "Nandakumar et al., Front. Neurosci. 14:406 (2020). One-sided (potentiation only in "
        "use): aihwkit pairs two as PCMPresetUnitCell (G⁺ − G⁻ with refresh); the reset "
        "parameters are not modelled here",
        dw_min=0.01, up_down=0.0, w_max=2.0, w_min=0.0, a=-1.0, b=0.0, gamma_up=2.5,
        gamma_down=2.5, A_up=-27.235, A_down=-2.235, dw_min_dtod=0.2, up_down_dtod=0.05,
        w_max_dtod=0.1, w_min_dtod=0.0, dw_min_std=0.6, dw_min_std_add=0.042,
        dw_min_std_slope=0.108)


def _ideal():
    return Ideal(name="ideal", source="the textbook synapse: linear, symmetric, continuous "
                 "(updates of any size), no variation", dw_min=0.001, continuous=True)


DEVICE_PRESETS = {
    "ideal": _ideal,
    **{name: (lambda name=name: _neurosim(name)) for name in NEUROSIM_DEVICES},
    "reram-es": _reram_es,
    "reram-sb": _reram_sb,
    "ecram": _ecram,
    "ecram-mo": _ecram_mo,
    "capacitor": _capacitor,
    "pcm-es": _pcm_es,
    "idealized": _idealized,
    "gokmen-vlasov": _gokmen_vlasov,
}
"""Preset name → a function returning a fresh ``DeviceLaw`` (with ``name`` and ``source``)."""


def load_device(spec) -> DeviceLaw:
    """A device law from a preset name, a dict (``{"law": ..., ...}``, or ``{"preset": NAME,
    ...}`` to change some of a preset's parameters), a TOML file with the same keys, or a
    ``DeviceLaw`` (returned as is)."""
    if isinstance(spec, DeviceLaw):
        return spec
    if isinstance(spec, dict):
        return _from_dict(spec, "device law")
    text = str(spec)
    if text in DEVICE_PRESETS:
        return DEVICE_PRESETS[text]()
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        from ...files import read_toml

        return _from_dict(read_toml(path, "device law"), f"device law {text!r}")
    raise ConfigError(f"unknown device {text!r}: give a preset ({', '.join(DEVICE_PRESETS)}) "
                      "or a .toml file")


def _from_dict(d: dict, where: str) -> DeviceLaw:
    d = dict(d)
    base = d.pop("preset", None)
    if base is None:
        return DeviceLaw.from_dict(d, where=where)
    if base not in DEVICE_PRESETS:
        raise ConfigError(f"{where}: unknown preset {base!r}; presets: "
                          f"{', '.join(DEVICE_PRESETS)}")
    merged = DEVICE_PRESETS[base]().to_dict()
    if "law" in d and d["law"] != merged["law"]:
        raise ConfigError(f"{where}: preset {base!r} has law {merged['law']!r}, not {d['law']!r}")
    merged.update(d)
    return DeviceLaw.from_dict(merged, where=where)
