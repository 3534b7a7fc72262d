"""What the page may ask for, declared once: every setting's type, default and bounds.

The page's controls, the URL a teacher shares and the messages on the WebSocket all speak in
these names. :func:`check` validates a whole configuration; :func:`parse_message` turns one
message from the page into a checked command or raises :class:`MessageError` with a sentence
the page shows. The caps keep one connection's work and memory small: at most 6 hidden layers
of 16 neurons, 2,000 points, 16 KiB per message.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from ..activations import ACTIVATIONS
from ..errors import ConfigError
from ..hardware import PRESETS
from ..hardware.devices import DEVICE_PRESETS
from .data import DATASETS, FEATURES

MAX_MESSAGE = 16 * 1024  # characters of one message from the page
MAX_LAYERS = 6
MAX_NEURONS = 16
MAX_POINTS = 2000
# "hidden" / "visible": the tab went to the background or came back (frames slow down)
COMMANDS = ("config", "play", "pause", "step", "reset", "hidden", "visible")
# the hidden activations the page offers (softmax is for several outputs, not a hidden layer)
HIDDEN = tuple(n for n in ("tanh", "sigmoid", "relu", "leaky_relu", "elu", "softplus",
                           "identity") if n in ACTIVATIONS)
LOSSES = {"squared_error": "squared_error", "cross_entropy": "binary_cross_entropy"}
DRIFT_T0, DRIFT_MAX = 20.0, 3.2e8  # s: the first read after programming; about ten years


class MessageError(ValueError):
    """A message from the page that is not accepted; its text is shown on the page."""


@dataclass(frozen=True)
class Field:
    kind: str  # "choice", "int", "number", "features", "layers"
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    optional: bool = False  # None allowed: for the chip's sliders, "the preset's value"
    zero: bool = False  # 0 allowed below `low` (levels, ADC bits: 0 means ideal)
    help: str = ""

    def spec(self) -> dict:
        return {"kind": self.kind, "default": self.default, "low": self.low,
                "high": self.high, "choices": list(self.choices), "optional": self.optional,
                "zero": self.zero, "help": self.help}


FIELDS: dict[str, Field] = {
    "dataset": Field("choice", "circle", choices=DATASETS, help="the points to classify"),
    "noise": Field("number", 0.0, 0.0, 1.0, help="how much the two classes blur (0–1)"),
    "ratio": Field("number", 0.5, 0.1, 0.9, help="share of the points used for training"),
    "points": Field("int", 500, 20, MAX_POINTS, help="number of points"),
    "seed": Field("int", 1, 0, 2**31 - 1, help="draws the points and the first weights"),
    "features": Field("features", ("x1", "x2"), choices=tuple(FEATURES),
                      help="the input neurons"),
    "layers": Field("layers", (4, 2), 1, MAX_NEURONS, help="neurons per hidden layer"),
    "activation": Field("choice", "tanh", choices=HIDDEN, help="f of the hidden neurons"),
    "loss": Field("choice", "squared_error", choices=tuple(LOSSES),
                  help="½Σ(z−d)² or cross-entropy (the output is one sigmoid neuron)"),
    "mode": Field("choice", "minibatch", choices=("sgd", "batch", "minibatch"),
                  help="stochastic (one sample per update), batch (all), or mini-batch"),
    "batch_size": Field("int", 10, 1, MAX_POINTS, help="samples per mini-batch"),
    "learning_rate": Field("number", 0.3, 1e-5, 10.0, help="η in w ← w − η ∂E/∂w"),
    "l2": Field("number", 0.0, 0.0, 1.0, help="L2 penalty λ on the weights"),
    "speed": Field("int", 100, 1, 1000, help="epochs per second at most"),
    "substrate": Field("choice", "digital", choices=("digital", *PRESETS),
                       help="where the network runs: exact digital maths or a chip preset"),
    "train_on": Field("choice", "digital", choices=("digital", "chip"),
                      help="train digitally, or in situ on the chip's devices"),
    "device": Field("choice", "ideal", choices=tuple(DEVICE_PRESETS),
                    help="the synaptic device that learns on the chip"),
    "chip_noise": Field("number", None, 0.0, 0.5, optional=True,
                        help="programming and read noise, σ as a fraction of the range"),
    "chip_levels": Field("int", None, 2, 256, optional=True, zero=True,
                         help="conductance levels per device (0: continuous)"),
    "chip_adc": Field("int", None, 2, 16, optional=True, zero=True,
                      help="output ADC bits (0: ideal)"),
    "chip_drift": Field("number", None, DRIFT_T0, DRIFT_MAX, optional=True,
                        help="seconds since the weights were programmed"),
    "chip_faults": Field("number", None, 0.0, 0.5, optional=True,
                         help="fraction of devices stuck (half at g_min, half at g_max)"),
}

# what a change of each setting does to a running session
DATA_FIELDS = {"dataset", "noise", "ratio", "points", "seed"}
NETWORK_FIELDS = {"features", "layers", "activation", "train_on", "device"}
CHIP_FIELDS = {"substrate", "chip_noise", "chip_levels", "chip_adc", "chip_drift",
               "chip_faults"}


def defaults() -> dict:
    return {name: _plain(f.default) for name, f in FIELDS.items()}


def schema() -> dict:
    return {name: f.spec() for name, f in FIELDS.items()}


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def _number(name, value, f: Field, integral: bool):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise MessageError(f"{name} must be a number, got {_show(value)}")
    if integral and value != int(value):
        raise MessageError(f"{name} must be a whole number, got {_show(value)}")
    value = int(value) if integral else float(value)
    if f.zero and value == 0:
        return value
    if not f.low <= value <= f.high:
        zero = "0 or " if f.zero else ""
        raise MessageError(f"{name} must be {zero}between {f.low:g} and {f.high:g}, got "
                           f"{_show(value)}")
    return value


def _show(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def check_field(name: str, value):
    """``value`` for the setting ``name``, checked and in its plain form."""
    f = FIELDS[name]
    if value is None and f.optional:
        return None
    if f.kind == "choice":
        if not isinstance(value, str) or value not in f.choices:
            raise MessageError(f"{name} must be one of {', '.join(f.choices)}; got "
                               f"{_show(value)}")
        return value
    if f.kind in ("int", "number"):
        return _number(name, value, f, f.kind == "int")
    if f.kind == "features":
        if not isinstance(value, list) or not value or len(value) > len(f.choices) or \
                not all(isinstance(v, str) and v in f.choices for v in value) or \
                len(set(value)) != len(value):
            raise MessageError(f"features must be a list of one to {len(f.choices)} different "
                               f"names among {', '.join(f.choices)}; got {_show(value)}")
        return [v for v in f.choices if v in value]  # in the page's order
    if f.kind == "layers":
        if not isinstance(value, list) or len(value) > MAX_LAYERS or \
                not all(isinstance(v, int) and not isinstance(v, bool) and
                        1 <= v <= MAX_NEURONS for v in value):
            raise MessageError(f"layers must be a list of at most {MAX_LAYERS} hidden layer "
                               f"sizes, each 1 to {MAX_NEURONS} neurons; got {_show(value)}")
        return list(value)
    raise AssertionError(f.kind)  # pragma: no cover


def check(config: dict) -> dict:
    """A whole configuration, each setting checked, then the settings against each other."""
    if not isinstance(config, dict):
        raise MessageError(f"a configuration is an object of settings, got {_show(config)}")
    unknown = sorted(set(config) - set(FIELDS))
    if unknown:
        raise MessageError(f"unknown setting {_show(unknown[0])}; settings: "
                           f"{', '.join(FIELDS)}")
    out = defaults()
    for name, value in config.items():
        out[name] = check_field(name, value)
    if out["train_on"] == "chip":
        if out["substrate"] == "digital":
            raise MessageError("training on the chip needs a chip: choose a substrate other "
                               "than digital, or train digitally")
        if out["l2"]:
            raise MessageError("on the chip the update is the devices' pulses, which know no "
                               "L2 penalty: set L2 to 0 to train on the chip")
    if out["substrate"] != "digital":
        try:
            hardware_config(out)
        except ConfigError as e:
            raise MessageError(str(e)) from None
    return out


def chip_values(config: dict) -> dict | None:
    """The chip's settings in force (the sliders' own values, or the preset's), or None for
    the digital substrate."""
    if config["substrate"] == "digital":
        return None
    cfg = hardware_config(config)
    d, io = cfg.device, cfg.io
    return {"chip_noise": d.prog_noise, "chip_read_noise": d.read_noise,
            "chip_levels": d.levels or 0, "chip_adc": io.adc_bits or 0,
            "chip_drift": DRIFT_T0 if config["chip_drift"] is None else config["chip_drift"],
            "chip_faults": d.stuck_at_min + d.stuck_at_max, "drifts": bool(d.drift_nu),
            "source": cfg.source}


def hardware_config(config: dict):
    """The chip preset of ``config`` with the sliders' values put in, and its [learning]
    device set."""
    cfg = PRESETS[config["substrate"]]()
    d, io = cfg.device, cfg.io
    if config["chip_noise"] is not None:
        d.prog_noise = d.read_noise = config["chip_noise"]
    if config["chip_levels"] is not None:
        d.levels = config["chip_levels"] or None
    if config["chip_adc"] is not None:
        io.adc_bits = config["chip_adc"] or None
    if config["chip_faults"] is not None:
        d.stuck_at_min = d.stuck_at_max = config["chip_faults"] / 2
    cfg.learning.device = config["device"]
    cfg.validate(f"the {config['substrate']} chip")
    return cfg


def parse_message(text) -> tuple[str, dict | None]:
    """(command, settings) from one message of the page: ``{"type": "play"}``, or
    ``{"type": "config", "config": {…}}`` with some or all settings (unchecked here: they
    are merged over the current ones, then checked as a whole)."""
    if not isinstance(text, str):
        raise MessageError("messages are JSON text, not binary")
    if len(text) > MAX_MESSAGE:
        raise MessageError(f"message too long ({len(text):,} characters; at most "
                           f"{MAX_MESSAGE:,})")
    try:
        msg = json.loads(text, parse_constant=_no_constant)
    except MessageError:
        raise
    except (ValueError, RecursionError):
        raise MessageError("message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise MessageError(f"a message is an object with a \"type\", got {_show(msg)}")
    kind = msg.get("type")
    if kind not in COMMANDS:
        raise MessageError(f"unknown message type {_show(kind)}; types: {', '.join(COMMANDS)}")
    extra = sorted(set(msg) - ({"type", "config"} if kind == "config" else {"type"}))
    if extra:
        raise MessageError(f"a {kind!r} message has no {_show(extra[0])}")
    if kind != "config":
        return kind, None
    settings = msg.get("config")
    if not isinstance(settings, dict):
        raise MessageError("a 'config' message needs \"config\": an object of settings")
    return kind, settings


def _no_constant(name):
    raise MessageError(f"{name} is not a number the playground accepts")
