"""Analog AI hardware: a network on simulated crossbar arrays of synaptic devices — the
``Analog`` substrate — with its configuration, presets and energy.

>>> import synapsenet as sn
>>> from synapsenet import hardware
>>> net = sn.Network.from_sizes([4, 8, 3], hidden="relu", output="softmax", seed=0)
>>> chip = hardware.deploy(net, "ideal")      # = net.on(hardware.Analog("ideal"))
>>> X = sn.datasets.load("gaussians").X[:5].repeat(2, axis=1)
>>> bool(abs(chip.predict(X) - net.predict(X)).max() < 1e-5)
True
"""

from .config import (PRESETS, DeviceConfig, EnergyConfig, HardwareConfig, IOConfig, TileConfig,
                     load_config, load_hardware, parameter_names, to_toml)
from . import devices
from .crossbar import Analog, CrossbarArray, deploy
from .energy import energy_report
from .learning import DeviceSynapses, LearningConfig

__all__ = ["deploy", "Analog", "CrossbarArray", "LearningConfig", "DeviceSynapses", "devices",
           "HardwareConfig", "DeviceConfig", "IOConfig", "TileConfig", "EnergyConfig", "PRESETS",
           "load_config", "load_hardware", "to_toml", "parameter_names", "energy_report"]
