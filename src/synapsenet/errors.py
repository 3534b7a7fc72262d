"""One small exception family: every error synapsenet raises on purpose is a ``SynapseError``.

Messages say what was wrong, where, and what is accepted, so the command line can print them as
one line and exit with status 2.
"""

from __future__ import annotations


class SynapseError(Exception):
    """Base class of every error synapsenet raises for bad input or a failed run."""


class ConfigError(SynapseError, ValueError):
    """An option has a value that is not accepted (unknown name, out of range, wrong type)."""


class ShapeError(SynapseError, ValueError):
    """Arrays do not fit the network or each other."""


class DataError(SynapseError, ValueError):
    """Data is empty, non-finite, malformed or otherwise unusable."""


class ModelFileError(SynapseError, OSError):
    """A model file is missing, corrupt, or not a synapsenet model."""


class InUseError(SynapseError):
    """A file or folder is being written by another process."""


class DivergenceError(SynapseError, ArithmeticError):
    """Training produced a non-finite loss or gradient; the network keeps its last finite
    weights."""

    def __init__(self, message: str, *, epoch: int, batch: int, step_begun: bool = False):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.step_begun = step_begun  # the diverging step changed some weights: undone


class UpdateRefused(FloatingPointError):
    """A substrate refused an update before making it (a chip's device asked for more pulses
    than a train can have); training reports it as a DivergenceError."""


class DataWarning(UserWarning):
    """Data that is accepted but probably not what was meant (e.g. inputs far larger than a
    network wants); training goes on."""


class InputScaleWarning(DataWarning):
    """Training inputs far above order one: unscaled pixels, say. ``rms`` is their root mean
    square."""

    def __init__(self, message: str, rms: float):
        super().__init__(message)
        self.rms = rms


def unknown_name(kind: str, name: object, valid) -> ConfigError:
    """The error for a name that is not in a registry, listing what is accepted."""
    names = ", ".join(sorted(valid))
    return ConfigError(f"unknown {kind} {name!r}; valid {kind} names are: {names}")
