"""The training options, declared once.

:class:`TrainingOptions` is the one validated statement of what ``fit`` takes: each option's
type, default, accepted values and meaning. ``fit`` validates its options through it; the
saved ``train_config`` records them; the command line derives its training flags from it
(``synapsenet.runs``), and the scikit-learn estimators map their own parameter names onto it
(``SKLEARN_NAMES`` in ``synapsenet.sklearn``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field

from .errors import ConfigError

LOSSES = ("squared_error", "cross_entropy", "binary_cross_entropy")
MODES = ("minibatch", "sgd", "batch")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "step", "cosine")


def _opt(help: str, *, choices=None, low=None, high=None, open_low=False, open_high=False):
    return {"help": help, "choices": choices, "low": low, "high": high, "open_low": open_low,
            "open_high": open_high}


@dataclass(frozen=True)
class TrainingOptions:
    """What ``fit`` is told, checked when made: ``TrainingOptions(epochs=0)`` raises a
    ConfigError naming the option and what is accepted."""

    epochs: int = field(default=10, metadata=_opt("passes over the training data", low=1))
    learning_rate: float = field(default=0.1, metadata=_opt(
        "η in w ← w − η ∂E/∂w (the mean gradient of a batch)", low=0, open_low=True))
    loss: str = field(default="squared_error", metadata=_opt(  # or a Loss
        "cost function: ½Σ(z−d)² (any output), cross-entropy (softmax), binary "
        "cross-entropy (sigmoid)", choices=LOSSES))
    mode: str = field(default="minibatch", metadata=_opt(
        "learning mode: mini-batches, one sample per update, or all samples per update",
        choices=MODES))
    batch_size: int | None = field(default=None, metadata=_opt(
        "samples per mini-batch (default 32)", low=1))
    n_batches: int | None = field(default=None, metadata=_opt(
        "split the data into this many mini-batches instead", low=1))
    optimizer: str = field(default="sgd", metadata=_opt(  # or an Optimizer
        "update rule", choices=OPTIMIZERS))
    momentum: float | None = field(default=None, metadata=_opt(
        "momentum μ (default 0.9 for momentum and nesterov)", low=0, high=1, open_high=True))
    nesterov: bool = field(default=False, metadata=_opt("Nesterov's momentum"))
    weight_decay: float = field(default=0.0, metadata=_opt("L2 penalty λ on the weights",
                                                           low=0))
    schedule: str = field(default="constant", metadata=_opt(  # or a Schedule, or its dict
        "learning-rate schedule", choices=SCHEDULES))
    shuffle: bool = field(default=True, metadata=_opt("reshuffle the samples every epoch"))
    early_stopping: bool = field(default=False, metadata=_opt(
        "stop when the validation (or training) loss stops improving, keep the best weights"))
    patience: int = field(default=10, metadata=_opt(
        "epochs without improvement before stopping", low=1))
    min_delta: float = field(default=0.0, metadata=_opt(
        "the least decrease of the loss that counts as an improvement", low=0))

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _check(f, getattr(self, f.name)))
        if self.mode == "sgd" and (self.batch_size not in (None, 1) or self.n_batches):
            raise ConfigError("mode='sgd' updates after every sample; leave batch_size and "
                              "n_batches unset (or use mode='minibatch')")
        if self.mode == "batch" and (self.batch_size is not None or
                                     self.n_batches not in (None, 1)):
            raise ConfigError("mode='batch' makes one update from all samples; leave "
                              "batch_size and n_batches unset (or use mode='minibatch')")
        if self.batch_size is not None and self.n_batches is not None:
            raise ConfigError("give either batch_size or n_batches for mode='minibatch', "
                              "not both")
        if self.nesterov and isinstance(self.optimizer, str) and self.optimizer == "adam":
            raise ConfigError("nesterov applies to optimizer='sgd' or 'momentum'; Adam has "
                              "no Nesterov variant here")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def spec(cls) -> list[dict]:
        """Each option as plain data: name, type, default, help, choices, range."""
        out = []
        for f in dataclasses.fields(cls):
            kind = {"int | None": int, "float | None": float}.get(f.type) or \
                {"int": int, "float": float, "str": str, "bool": bool}[f.type]
            out.append({"name": f.name, "type": kind, "default": f.default, **f.metadata})
        return out

    @classmethod
    def split(cls, values: dict) -> tuple["TrainingOptions", dict]:
        """(the options among ``values``, the rest)."""
        names = set(cls.names())
        return cls(**{k: v for k, v in values.items() if k in names}), \
            {k: v for k, v in values.items() if k not in names}

    def replace(self, **changes) -> "TrainingOptions":
        unknown = set(changes) - set(self.names())
        if unknown:
            name = sorted(unknown)[0]
            near = difflib.get_close_matches(name, self.names(), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"unknown training option {name!r}{hint}; options: "
                              f"{', '.join(self.names())}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _check(f, value):
    """``value`` for the option ``f``, of its type and within its range, or a ConfigError."""
    m, name = f.metadata, f.name
    optional = "None" in f.type
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} needs a value")
    if f.type == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    if f.type == "str":  # a name (checked, with its aliases, where it is resolved: get_loss,
        return value     # get_optimizer, get_schedule), or an instance or a dict of settings
    integral = f.type.startswith("int")
    low, high = m["low"], m["high"]
    if integral and low == 1 and high is None:
        accepted = "a positive integer"
    elif low == 0 and m["open_low"] and high is None:
        accepted = "a positive number"
    elif low is not None:
        lo = f"{'(' if m['open_low'] else '['}{low:g}"
        hi = "∞)" if high is None else f"{high:g}{')' if m['open_high'] else ']'}"
        accepted = f"in {lo}, {hi}"
    else:
        accepted = "an integer" if integral else "a finite number"
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        value = value.item()  # a NumPy scalar
    if not isinstance(value, (int, float)) or isinstance(value, bool) or \
            not math.isfinite(value) or (integral and value != int(value)):
        raise ConfigError(f"{name} must be {accepted}, got {value!r}")
    value = int(value) if integral else float(value)
    if (low is not None and (value < low or (m["open_low"] and value == low))) or \
            (high is not None and (value > high or (m["open_high"] and value == high))):
        raise ConfigError(f"{name} must be {accepted}, got {value!r}")
    return value
