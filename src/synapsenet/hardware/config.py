"""The analog AI chip as plain, serialisable configuration.

A ``HardwareConfig`` has four parts, kept apart from the simulator that reads them:

* ``DeviceConfig``  the synaptic device: conductance range, programmable levels, programming
  and read noise, drift, stuck-at faults, device-to-device spread;
* ``IOConfig``      the periphery: input DAC, output ADC, output noise, input scaling;
* ``TileConfig``    the crossbar size; larger layers are split across tiles;
* ``EnergyConfig``  the energy of each operation, analog and digital.

Noise magnitudes are relative: ``prog_noise`` and ``read_noise`` are standard deviations as a
fraction of the device's conductance range ``g_max − g_min``; ``out_noise`` and ``adc_range``
are in units of a full-scale weight times a full-scale input (one synapse at ``g_max`` driven
by the largest input gives 1).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .learning import LearningConfig


@dataclass
class DeviceConfig:
    g_min: float = 0.0  # µS, lowest programmable conductance
    g_max: float = 25.0  # µS, highest reliably programmable conductance
    levels: int | None = None  # programmable states per device (None: continuous)
    prog_noise: float = 0.0  # σ of the programming error, × (g_max − g_min)
    read_noise: float = 0.0  # σ of the conductance at every read, × (g_max − g_min)
    drift_nu: float = 0.0  # mean drift exponent ν in G(t) = G0 (t / t0)^−ν
    drift_nu_std: float = 0.0  # device-to-device spread of ν
    drift_t0: float = 20.0  # s, time of the first read after programming
    stuck_at_min: float = 0.0  # fraction of devices stuck at g_min
    stuck_at_max: float = 0.0  # fraction of devices stuck at g_max
    d2d_spread: float = 0.0  # relative σ of each device's own g_max (range spread)


@dataclass
class IOConfig:
    dac_bits: int | None = None  # input DAC resolution (None: ideal; 1: on at half scale)
    adc_bits: int | None = None  # output ADC resolution (None: ideal)
    # ADC full scale (± this); outputs beyond saturate. None: no saturation without adc_bits;
    # with adc_bits, set by adc_full_scale
    adc_range: float | None = None
    # the unset adc_range: "weights", calibrated to the worst case of the programmed weights
    # (crossbar.py); "rows", every row of a block at full input and full weight (NeuroSim's
    # partial-sum range)
    adc_full_scale: str = "weights"
    out_noise: float = 0.0  # σ of additive noise at each column output
    input_scaling: str = "abs_max"  # "abs_max": each input vector scaled to max |x| = 1
    input_range: float = 1.0  # with input_scaling="fixed": inputs clipped to ± this
    bit_serial: bool = False  # apply inputs bit by bit (one ADC read per bit)
    mapping: str = "column"  # weight → conductance scale per "column" (output) or "layer"
    drift_compensation: bool = True  # global per-layer rescaling after drift (Joshi 2020)


@dataclass
class TileConfig:
    rows: int = 512  # inputs per tile
    cols: int = 512  # outputs per tile


@dataclass
class EnergyConfig:
    read_voltage: float = 0.2  # V, full-scale read pulse
    read_time: float = 10e-9  # s, integration time per read
    adc_fom: float = 50e-15  # J per conversion step (Walden figure of merit)
    dac_energy_per_bit: float = 0.05e-12  # J per bit per conversion
    digital_add: float = 0.9e-12  # J, fp32 add (Horowitz 2014, 45 nm)
    digital_mul: float = 3.7e-12  # J, fp32 multiply (Horowitz 2014, 45 nm)
    sram_read_64bit: float = 10e-12  # J, 64-bit read from an 8 kB SRAM (Horowitz 2014)


@dataclass
class HardwareConfig:
    name: str = "custom"
    source: str = ""
    device: DeviceConfig = field(default_factory=DeviceConfig)
    io: IOConfig = field(default_factory=IOConfig)
    tile: TileConfig = field(default_factory=TileConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where="hardware config") -> "HardwareConfig":
        d = dict(d)
        parts = {}
        for section, klass in _SECTIONS.items():
            values = d.pop(section, {}) or {}
            if not isinstance(values, dict):
                raise ConfigError(f"{where}: [{section}] must be a table")
            parts[section] = _build(klass, values, f"{where} [{section}]")
        unknown = set(d) - {"name", "source"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; expected name, "
                              f"source and sections {', '.join(_SECTIONS)}")
        cfg = cls(name=str(d.get("name", "custom")), source=str(d.get("source", "")), **parts)
        cfg.validate(where)
        return cfg

    def replace(self, **dotted) -> "HardwareConfig":
        """A copy with parameters changed, by ``section.name`` or a unique bare ``name``."""
        cfg = HardwareConfig.from_dict(self.to_dict())
        for key, value in dotted.items():
            section, name = resolve_parameter(key)
            part = getattr(cfg, section)
            setattr(part, name, _coerce(part, name, value, f"parameter {key!r}"))
        cfg.validate(f"hardware with {dotted}")
        return cfg

    def validate(self, where="hardware config"):
        d, io = self.device, self.io
        if not 0 <= d.g_min < d.g_max:
            raise ConfigError(f"{where}: need 0 ≤ g_min < g_max, got {d.g_min}, {d.g_max}")
        if d.levels is not None and d.levels < 2:
            raise ConfigError(f"{where}: levels must be ≥ 2 (or unset), got {d.levels}")
        for n in ("prog_noise", "read_noise", "drift_nu", "drift_nu_std", "d2d_spread"):
            if not 0 <= getattr(d, n) < math.inf:  # also NaN
                raise ConfigError(f"{where}: {n} must be ≥ 0 and finite, got {getattr(d, n)}")
        if not (0 <= d.stuck_at_min <= 1 and 0 <= d.stuck_at_max <= 1
                and d.stuck_at_min + d.stuck_at_max <= 1):
            raise ConfigError(f"{where}: stuck-at rates must be fractions summing to ≤ 1")
        if d.drift_t0 <= 0:
            raise ConfigError(f"{where}: drift_t0 must be positive")
        for n, low in (("dac_bits", 1), ("adc_bits", 2)):
            b = getattr(io, n)
            if b is not None and not low <= b <= 24:
                raise ConfigError(f"{where}: {n} must be in {low}…24 (or unset), got {b}")
        if (io.adc_range is not None and not 0 < io.adc_range < math.inf) or \
                not 0 < io.input_range < math.inf or not 0 <= io.out_noise < math.inf:
            raise ConfigError(f"{where}: adc_range and input_range must be > 0, out_noise ≥ 0, "
                              f"all finite (got {io.adc_range}, {io.input_range}, "
                              f"{io.out_noise})")
        if io.input_scaling not in ("abs_max", "fixed"):
            raise ConfigError(f"{where}: input_scaling must be 'abs_max' or 'fixed'")
        if io.mapping not in ("column", "layer"):
            raise ConfigError(f"{where}: mapping must be 'column' or 'layer'")
        if io.bit_serial and (io.dac_bits is None or io.dac_bits < 2):
            raise ConfigError(f"{where}: bit_serial inputs need dac_bits ≥ 2")
        if io.adc_full_scale not in ("weights", "rows"):
            raise ConfigError(f"{where}: adc_full_scale must be 'weights' or 'rows'")
        if self.tile.rows < 1 or self.tile.cols < 1:
            raise ConfigError(f"{where}: tile rows and cols must be ≥ 1")
        for f in dataclasses.fields(EnergyConfig):
            value = getattr(self.energy, f.name)
            if not 0 <= value < math.inf:
                raise ConfigError(f"{where}: [energy] {f.name} must be ≥ 0 and finite, got "
                                  f"{value}")
        self.learning.validate(f"{where} [learning]")


_SECTIONS = {"device": DeviceConfig, "io": IOConfig, "tile": TileConfig, "energy": EnergyConfig,
             "learning": LearningConfig}


def _build(klass, values, where):
    names = {f.name for f in dataclasses.fields(klass)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; valid: "
                          f"{', '.join(sorted(names))}")
    obj = klass()
    for k, v in values.items():
        setattr(obj, k, _coerce(obj, k, v, f"{where} {k}"))
    return obj


def _coerce(obj, name, value, where):
    default = getattr(type(obj)(), name)
    optional_int = name in ("levels", "dac_bits", "adc_bits")
    if isinstance(default, str) and value is not None:
        return str(value)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "ideal", "auto")):
        if optional_int or name == "adc_range":
            return None
        raise ConfigError(f"{where}: a value is required")
    if isinstance(default, list):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{where}: expected a list of numbers, got {value!r}")
        try:
            return [float(v) for v in items if not (isinstance(v, str) and not v.strip())]
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a list of numbers, got {value!r}") from None
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, str):
        return str(value)
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if optional_int or isinstance(default, int):
        if num != int(num):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(num)
    return num


def parameter_names() -> dict[str, str]:
    """Every tunable parameter, bare name → section."""
    out = {}
    for section, klass in _SECTIONS.items():
        for f in dataclasses.fields(klass):
            out.setdefault(f.name, section)
    return out


def resolve_parameter(key: str) -> tuple[str, str]:
    if "." in key:
        section, name = key.split(".", 1)
        known = _SECTIONS.get(section)
        if known is not None and name in {f.name for f in dataclasses.fields(known)}:
            return section, name
    elif key in parameter_names():
        return parameter_names()[key], key
    raise ConfigError(f"unknown hardware parameter {key!r}; valid: "
                      f"{', '.join(sorted(parameter_names()))}")


# -- presets ------------------------------------------------------------------------------
def _pcm():
    return HardwareConfig(
        name="pcm",
        source=("PCM-like inference chip after IBM's statistical PCM model (Nandakumar et al., "
                "ICECS 2019; Joshi et al., Nat. Commun. 11:2473, 2020) as documented in aihwkit: "
                "g_max 25 µS, programming σ ≈ 0.26–1.1 µS (here 3 % of the range), drift "
                "ν ≥ 0.049 with σ_ν ≥ 0.008, t0 = 20 s, global drift compensation; converters "
                "as in aihwkit's documented example (input resolution 1/64, output 1/256, "
                "w_noise 0.02, out_noise 0.02)"),
        device=DeviceConfig(g_min=0.0, g_max=25.0, levels=None, prog_noise=0.03,
                            read_noise=0.02, drift_nu=0.05, drift_nu_std=0.01, drift_t0=20.0),
        io=IOConfig(dac_bits=7, adc_bits=8, adc_range=12.0, out_noise=0.02))


def _rram():
    return HardwareConfig(
        name="rram",
        source=("RRAM-like 1T1R HfO2 crossbar: 128×128 tiles after the 128×64 arrays of Li et "
                "al. (Nat. Electron. 1:52, 2018; 99.8 % device yield, 5–8 bit output "
                "precision); 32 levels and 1 % spread are assumptions; on/off ratio 10 (Mehonic "
                "et al., Front. Neurosci. 13:593, 2019, find ratios > 3 sufficient for MNIST)"),
        device=DeviceConfig(g_min=10.0, g_max=100.0, levels=32, prog_noise=0.02,
                            read_noise=0.01, stuck_at_min=0.001, stuck_at_max=0.001,
                            d2d_spread=0.01),
        io=IOConfig(dac_bits=8, adc_bits=8, adc_range=12.0, out_noise=0.01),
        tile=TileConfig(rows=128, cols=128))


PRESETS = {
    "ideal": lambda: HardwareConfig(name="ideal", source="no non-idealities: continuous "
                                    "conductances, no noise, ideal converters, one tile per layer"),
    "pcm": _pcm,
    "rram": _rram,
}


def load_config(spec) -> HardwareConfig:
    """A preset name (``ideal``, ``pcm``, ``rram``), a TOML file, or a HardwareConfig; a
    file's ``[cost]`` table is set aside (:func:`load_hardware`)."""
    return load_hardware(spec)[0]


def load_hardware(spec) -> tuple[HardwareConfig, dict]:
    """What a hardware spec describes: the chip's config and the ``[cost]`` table of its file
    (``{}`` for a preset, a HardwareConfig, or a dict or file without one). The one reader of
    hardware files: the simulator (``load_config``, ``Analog``) and every command (through
    ``synapsenet.cost.load_hardware``) read a file here, so that they accept the same files.

    The ``[cost]`` table (``node = "7nm"``, constants by name) belongs to the cost model,
    which checks its names and values; the chip never reads it."""
    if isinstance(spec, HardwareConfig):
        return spec, {}
    if isinstance(spec, dict):
        table, cost = _cost_table(spec, "hardware config")
        return HardwareConfig.from_dict(table), cost
    spec = str(spec)
    if spec in PRESETS:
        return PRESETS[spec](), {}
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        from ..files import read_toml

        table, cost = _cost_table(read_toml(path, "hardware config"),
                                  f"hardware config {spec!r}")
        return from_toml_table(table, spec), cost
    raise ConfigError(f"unknown hardware {spec!r}: give a preset ({', '.join(PRESETS)}) or a "
                      ".toml file")


def _cost_table(raw: dict, where: str) -> tuple[dict, dict]:
    """``raw`` without its ``[cost]`` table, and that table."""
    raw = dict(raw)
    cost = raw.pop("cost", None)
    if cost is None:
        return raw, {}
    if not isinstance(cost, dict):
        raise ConfigError(f"{where}: [cost] must be a table, got {cost!r}")
    return raw, dict(cost)


def from_toml_table(raw: dict, spec) -> HardwareConfig:
    """A config from a TOML file's table: ``preset = NAME`` starts from that preset, whose
    sections the file's own tables then change."""
    raw = dict(raw)
    base = raw.pop("preset", None)
    if base is not None:
        if base not in PRESETS:
            raise ConfigError(f"{spec}: unknown preset {base!r}; presets: {', '.join(PRESETS)}")
        merged = PRESETS[base]().to_dict()
        for section, values in raw.items():
            if isinstance(values, dict) and section in merged:
                merged[section].update(values)
            else:
                merged[section] = values
        raw = merged
    return HardwareConfig.from_dict(raw, where=f"hardware config {str(spec)!r}")


def to_toml(cfg: HardwareConfig) -> str:
    import json

    lines = [f"name = {json.dumps(cfg.name)}", f"source = {json.dumps(cfg.source)}"]
    for section in _SECTIONS:
        lines.append(f"\n[{section}]")
        for k, v in dataclasses.asdict(getattr(cfg, section)).items():
            unset = "calibrated to the weights' worst case" if k == "adc_range" else "ideal"
            lines.append(f"# {k} = (unset: {unset})" if v is None else f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"
