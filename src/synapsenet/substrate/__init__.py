"""Substrates: where a network's synapses live and how ``W·z``, ``δ·W`` and the update happen.

``Digital`` (exact floating point, the reference), ``NoisyDigital`` (hardware-aware
training) and, in :mod:`synapsenet.hardware`, ``Analog`` (a simulated crossbar chip). Put a
network on one with ``network.on(substrate)``; see :mod:`synapsenet.substrate.base`.
"""

from .base import Counters, LayerCounts, Substrate
from .digital import Digital, NoisyDigital

__all__ = ["Substrate", "Counters", "LayerCounts", "Digital", "NoisyDigital"]
