"""Check the delta rule against central finite differences, in float64."""

from __future__ import annotations

import numpy as np

from .losses import get_loss


def gradient_check(network, X, y, loss="squared_error", eps=1e-6) -> float:
    """Largest relative error between backpropagation's gradients and central differences
    ``(E(w + ε) − E(w − ε)) / 2ε`` over every weight and bias.

    The network is copied to float64 (and dropout switched off) first; the original is not
    touched. The relative error of each parameter array is ‖a − n‖ / (‖a‖ + ‖n‖); correct
    gradients give about 1e-8 or less.
    """
    loss = get_loss(loss)
    net = network.astype("float64")
    for layer in net.layers:
        layer.dropout = 0.0
    X, _ = net._check_X(X)
    D, _ = net.targets(y, len(X))
    analytic = net.gradient(X, y, loss)

    def E():
        Z, U = X, None
        for layer in net.layers:
            U = Z @ layer.W.T + layer.b
            Z = layer.activation.forward(U.copy())
        return loss.value(Z, D, U)

    worst = 0.0
    for p, a in zip(net.parameters(), analytic):
        numeric = np.empty(p.shape)
        for i in np.ndindex(p.shape):  # p may be a view (W of Wᵀ): index it in place
            old = p[i]
            p[i] = old + eps
            e_plus = E()
            p[i] = old - eps
            e_minus = E()
            p[i] = old
            numeric[i] = (e_plus - e_minus) / (2 * eps)
        denom = np.linalg.norm(a) + np.linalg.norm(numeric)
        if denom > 0:
            worst = max(worst, float(np.linalg.norm(a - numeric) / denom))
    return worst
