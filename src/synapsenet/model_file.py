"""The model file: weights as safetensors, the architecture and training settings as JSON in
the safetensors header. No pickle anywhere; the write is atomic (:mod:`synapsenet.files`), so a
crash never leaves a half-written model.

A network whose substrate holds state of its own (a chip trained in situ: its devices'
states, their drawn parameters, stuck masks, converter calibration; the substrate's
``saved_state``) keeps it in the same file, as tensors ``substrate.*`` and the header's
``substrate`` entry; ``load`` puts the network back on that substrate.

This module knows the network; the network does not know it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ModelFileError, SynapseError
from .files import atomic_write_bytes, jsonable
from .layers import Dense
from .network import Network

FORMAT = "synapsenet"
VERSION = 1


def save(network: Network, path, metadata: dict | None = None, *,
         extra_tensors: dict | None = None) -> None:
    """Write ``network`` to ``path``. ``metadata`` (JSON-serialisable) and ``extra_tensors``
    (e.g. optimiser state for a checkpoint) are stored alongside."""
    from safetensors.numpy import save as st_save

    tensors = {}
    for i, layer in enumerate(network.layers):
        tensors[f"layers.{i}.W"] = np.ascontiguousarray(layer.W)
        tensors[f"layers.{i}.b"] = np.ascontiguousarray(layer.b)
    for k, v in (extra_tensors or {}).items():
        tensors[f"extra.{k}"] = np.ascontiguousarray(v)
    held = network.substrate.saved_state()
    if held is not None:
        for k, v in held[1].items():
            tensors[f"substrate.{k}"] = np.ascontiguousarray(v)
    header = {
        "format": FORMAT,
        "version": str(VERSION),
        "network": json.dumps(network.config()),
        "training": json.dumps(network.train_config, default=jsonable),
        "user": json.dumps(metadata or {}, default=jsonable),
    }
    if held is not None:
        header["substrate"] = json.dumps(held[0], default=jsonable)
    atomic_write_bytes(path, st_save(tensors, metadata=header))


def load(path, *, with_extras: bool = False):
    """Load a network saved by :func:`save`.

    Raises :class:`~synapsenet.errors.ModelFileError` for a missing, corrupt or foreign file,
    and for weights that are not finite floating-point numbers (float16 is upcast).
    With ``with_extras=True`` returns ``(network, user_metadata, extra_tensors)``.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="np") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors reports corrupt files with several exception types
        raise ModelFileError(f"{str(path)!r} is not a readable safetensors file ({e})") from None
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is a safetensors file but not a synapsenet model "
                             "(its header has no 'format: synapsenet')")
    if header.get("version") != str(VERSION):
        raise ModelFileError(f"{str(path)!r} has synapsenet format version "
                             f"{header.get('version')!r}; this version reads {VERSION}")
    try:
        config = json.loads(header["network"])
        train_config = json.loads(header.get("training", "{}"))
        user = json.loads(header.get("user", "{}"))
        layers = []
        for i, lc in enumerate(config["layers"]):
            W, b = (_weights(tensors, f"layers.{i}.{n}", path) for n in ("W", "b"))
            layers.append(Dense(lc["n_in"], lc["n_out"], lc["activation"], init=lc.get("init"),
                                dropout=lc.get("dropout", 0.0), dtype=config["dtype"],
                                W=W, b=b))
        net = Network(layers, seed=config.get("seed"))
        if "substrate" in header:
            net = _substrate(net, json.loads(header["substrate"]), tensors, path)
    except ModelFileError:
        raise
    except SynapseError as e:
        raise ModelFileError(f"{str(path)!r} describes an invalid network: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{str(path)!r} has a damaged synapsenet header ({e!r})") from None
    net.train_config = train_config
    if with_extras:
        extras = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
        return net, user, extras
    return net


def _substrate(net: Network, meta: dict, tensors: dict, path: Path) -> Network:
    """``net`` on the substrate the file saved (a chip trained in situ)."""
    if not isinstance(meta, dict) or meta.get("kind") != "analog":
        raise ModelFileError(f"{str(path)!r}: its substrate entry names no substrate this "
                             "version can rebuild (expected kind 'analog')")
    from .hardware.crossbar import Analog

    own = {k[len("substrate."):]: v for k, v in tensors.items() if k.startswith("substrate.")}
    return Analog.restore(net, meta, own, where=repr(str(path)))


def _weights(tensors: dict, name: str, path: Path) -> np.ndarray:
    """The tensor ``name``: floating point (integers would be cast without a word), finite."""
    if name not in tensors:
        raise ModelFileError(f"{str(path)!r} has no tensor {name!r} for the layer its header "
                             "describes")
    t = tensors[name]
    if not np.issubdtype(t.dtype, np.floating):
        raise ModelFileError(f"{str(path)!r}: tensor {name!r} is {t.dtype}; weights must be "
                             "floating point (float16, float32 or float64)")
    if not np.isfinite(t).all():
        raise ModelFileError(f"{str(path)!r}: tensor {name!r} holds non-finite values "
                             "(NaN or infinity)")
    return t
