"""Costs E(z, d): the value, and the output delta δ_k = ∂E/∂u_k that starts backpropagation.

Every loss is summed over a sample's outputs, exactly as the textbook writes it, and averaged
over the samples of a batch: ``value`` returns (1/N) Σ_n E_n. The deltas returned by
``output_delta`` are per sample (not divided by N); the network scales them once.

Why the output delta is often just ``z − d``: for squared error δ_k = (z_k − d_k) f'(u_k). For
cross-entropy with a softmax output, and binary cross-entropy with a sigmoid output, the f'(u)
of the output neuron cancels the 1/z of the log's derivative, and δ_k = z_k − d_k exactly. Those
matched pairs are therefore computed without the Jacobian, which is both faster and stabler.
"""

from __future__ import annotations

import math

import numpy as np

from .activations import Activation, row_max
from .errors import ConfigError, unknown_name


class Loss:
    name = "loss"
    #: output activations this loss accepts (None: any)
    requires: tuple[str, ...] | None = None

    def value(self, z, d, u=None, weights=None) -> float:
        """(1/N) Σ_n E_n, or the weighted mean Σ w_n E_n / Σ w_n."""
        e = self.per_sample(z, d, u)
        if weights is None:
            return float(e.sum(dtype=np.float64)) / len(z)
        total = float(np.sum(weights))
        return float(np.dot(weights, e)) / total if total > 0 else 0.0

    def quick_value(self, z, d) -> float | None:
        """(1/N) Σ_n E_n from the outputs alone where that is accurate, else None (the
        value then needs the output layer's u: a saturated output, or a loss whose log
        loses precision near 0 or 1)."""
        return None

    def per_sample(self, z, d, u=None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def output_delta(self, z, d, u, activation: Activation, out=None):  # pragma: no cover
        raise NotImplementedError

    def check_output(self, activation: Activation) -> None:
        if self.requires is not None and activation.name not in self.requires:
            raise ConfigError(
                f"loss {self.name!r} needs a {' or '.join(self.requires)} output layer, "
                f"but the network's output activation is {activation.name!r}; use "
                f"loss='squared_error' (any output) or change the output activation"
            )

    def __repr__(self):
        return self.name


class SquaredError(Loss):
    """E = ½ Σ_k (z_k − d_k)², summed over outputs, averaged over the batch.

    Output delta: δ_k = (z_k − d_k) f'(u_k). Any output activation may be used.
    """

    name = "squared_error"

    def quick_value(self, z, d):
        return self.value(z, d)  # exact from the outputs alone

    def value(self, z, d, u=None, weights=None):
        if weights is not None:
            return super().value(z, d, u, weights)
        r = z - d
        return 0.5 * float(np.einsum("ij,ij->", r, r, dtype=np.float64)) / len(z)

    def per_sample(self, z, d, u=None):
        r = z - d
        return 0.5 * np.einsum("ij,ij->i", r, r, dtype=np.float64)

    def output_delta(self, z, d, u, activation, out=None):
        g = np.subtract(z, d, out=out)  # ∂E/∂z_k = z_k − d_k
        return activation.backward(g, u, z, out=g)  # δ_k = (z_k − d_k) f'(u_k)


class CrossEntropy(Loss):
    """E = −Σ_k d_k ln z_k with a softmax output; averaged over the batch. δ_k = z_k − d_k."""

    name = "cross_entropy"
    requires = ("softmax",)

    def quick_value(self, z, d):
        # −Σ d ln z in one log and one dot product (far cheaper than the row-wise form
        # below). A z that underflowed to 0 makes the sum non-finite.
        with np.errstate(divide="ignore", invalid="ignore"):
            e = -float(np.vdot(d, np.log(z))) / len(z)
        return e if math.isfinite(e) else None

    def value(self, z, d, u=None, weights=None):
        e = self.quick_value(z, d) if weights is None else None
        return super().value(z, d, u, weights) if e is None else e

    def per_sample(self, z, d, u=None):
        if u is not None:
            # E = Σ_k d_k (lse − u_k) with lse = ln Σ_j e^(u_j), read off the softmax already
            # computed: z_max = e^(u_max − lse), and z_max ≥ 1/K never underflows
            lse = (row_max(u)[:, 0].astype(np.float64)
                   - np.log(row_max(z)[:, 0].astype(np.float64)))
            return lse * d.sum(axis=1) - np.einsum("ij,ij->i", d, u, dtype=np.float64)
        logz = np.log(np.maximum(z, np.finfo(z.dtype).tiny))
        return -np.einsum("ij,ij->i", d, logz, dtype=np.float64)

    def output_delta(self, z, d, u, activation, out=None):
        return np.subtract(z, d, out=out)  # δ_k = z_k − d_k (softmax' cancels)


class BinaryCrossEntropy(Loss):
    """E = −Σ_k [d_k ln z_k + (1 − d_k) ln(1 − z_k)] with sigmoid outputs. δ_k = z_k − d_k."""

    name = "binary_cross_entropy"
    requires = ("sigmoid",)

    def per_sample(self, z, d, u=None):
        if u is not None:  # ln σ(u) = −ln(1 + e^−u),  ln(1 − σ(u)) = −ln(1 + e^u)
            e = d * np.logaddexp(0, -u) + (1 - d) * np.logaddexp(0, u)
        else:
            tiny = np.finfo(z.dtype).tiny
            e = -(d * np.log(np.maximum(z, tiny)) + (1 - d) * np.log(np.maximum(1 - z, tiny)))
        return e.sum(axis=1, dtype=np.float64)

    def output_delta(self, z, d, u, activation, out=None):
        return np.subtract(z, d, out=out)  # δ_k = z_k − d_k (sigmoid' cancels)


LOSSES: dict[str, type[Loss]] = {
    c.name: c for c in (SquaredError, CrossEntropy, BinaryCrossEntropy)}
_ALIASES = {"mse": "squared_error", "log_loss": "cross_entropy", "bce": "binary_cross_entropy"}


def get_loss(spec) -> Loss:
    """A loss from its name or an instance."""
    if isinstance(spec, Loss):
        return spec
    key = _ALIASES.get(spec, spec) if isinstance(spec, str) else spec
    try:
        return LOSSES[key]()
    except (KeyError, TypeError):
        raise unknown_name("loss", spec, LOSSES) from None
