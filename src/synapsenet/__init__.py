"""synapsenet: the textbook's neural network, as exact digital maths and on simulated
analog AI hardware.

>>> import synapsenet as sn
>>> net = sn.Network.from_sizes([2, 2, 1], hidden="sigmoid", output="sigmoid", init="uniform",
...                             seed=0)
>>> X, y = sn.datasets.load("xor")
>>> history = net.fit(X, y, epochs=3000, learning_rate=0.5, mode="sgd")
>>> net.classify(X).tolist()
[0, 1, 1, 0]

The network engine imports NumPy only; scikit-learn, rich and matplotlib are imported by the
datasets, the command line and the plots when they are used.
"""

from . import activations, losses, optimizers, substrate
from .activations import get_activation
from .errors import (ConfigError, DataError, DataWarning, DivergenceError, ModelFileError,
                     ShapeError, SynapseError)
from .gradcheck import gradient_check
from .layers import Dense
from .losses import get_loss
from .model_file import load, save
from .network import Network
from .optimizers import SGD, Adam
from .training import Callback, History, fit

__version__ = "0.1.0"

__all__ = [
    "Network", "Dense", "fit", "History", "Callback", "save", "load", "gradient_check", "SGD",
    "Adam", "get_activation", "get_loss", "activations", "losses", "optimizers", "substrate",
    "datasets",
    "SynapseError", "ConfigError", "ShapeError", "DataError", "ModelFileError",
    "DivergenceError", "DataWarning", "__version__",
]


def __getattr__(name):  # lazy subpackages: importing synapsenet stays NumPy-only
    if name in ("datasets", "hardware"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'synapsenet' has no attribute {name!r}")
