"""Update rules, in order of increasing complexity, and learning-rate schedules.

Plain gradient descent is the textbook's ``w ← w − η ∂E/∂w``. Momentum and Nesterov keep a
velocity; Adam keeps running moments. Each optimiser updates the parameter arrays in place and
owns its state, so it can be saved with a checkpoint and training resumed exactly.

L2 weight decay adds ``λ w`` to the gradient of every weight matrix (not the biases), i.e. it
minimises ``E + (λ/2) Σ w²``.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError, unknown_name


class Optimizer:
    name = "optimizer"

    def __init__(self, weight_decay=0.0):
        if weight_decay < 0:
            raise ConfigError(f"weight_decay must be ≥ 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.t = 0  # number of updates made
        self.state: dict[str, list[np.ndarray]] = {}

    #: the names of the per-parameter state this optimiser keeps in ``state`` (its slots)
    slots: tuple[str, ...] = ()

    def _buffers(self, name, params):
        """Per-parameter state arrays, created (zeroed) on first use."""
        bufs = self.state.get(name)
        if bufs is None:
            bufs = self.state[name] = [np.zeros_like(p) for p in params]
        return bufs

    def state_arrays(self, params, layout=None) -> dict[str, list[np.ndarray]]:
        """The per-parameter state of every slot (one array per parameter, in ``params``'
        order), created zeroed on first use. ``layout(array, param)``, when given, puts each
        array in the layout a caller needs: it returns the array itself or a copy of it,
        which then replaces it here, so that the caller (the compiled engine, which updates
        the state in place) and this optimiser go on with the same arrays."""
        out = {}
        for name in self.slots:
            bufs = self._buffers(name, params)
            if layout is not None:
                bufs[:] = [layout(s, p) for s, p in zip(bufs, params)]
            out[name] = bufs
        return out

    def _decay(self, params, grads, decays):
        if self.weight_decay:
            tmp = self._buffers("_tmp", params)
            for p, g, d, t in zip(params, grads, decays, tmp):
                if d:
                    np.multiply(p, self.weight_decay, out=t)
                    g += t  # ∂/∂w (λ/2) w² = λ w

    #: True when the update is exactly w ← w − η g: the learning rate can then be folded
    #: into the gradient computation and the step made inside backpropagation
    #: (``Network.train_step(update=True)``), saving passes over the weights
    folds_learning_rate = False

    def step(self, params, grads, lr, decays=None):
        """Update ``params`` in place from ``grads`` (which may be overwritten) with rate lr."""
        raise NotImplementedError  # pragma: no cover

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {f"{k}.{i}": a for k, arrs in self.state.items() if not k.startswith("_")
               for i, a in enumerate(arrs)}
        out["t"] = np.array(self.t, np.int64)
        return out

    def load_state_dict(self, sd: dict[str, np.ndarray]) -> None:
        self.t = int(np.asarray(sd.get("t", 0)).reshape(-1)[0])
        state: dict[str, list] = {}
        for key in sorted((k for k in sd if k != "t"), key=lambda k: (k.rsplit(".", 1)[0],
                                                                       int(k.rsplit(".", 1)[1]))):
            name = key.rsplit(".", 1)[0]
            state.setdefault(name, []).append(np.array(sd[key]))
        self.state = state

    def config(self) -> dict:
        return {"name": self.name, "weight_decay": self.weight_decay}


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum.

    With momentum μ the velocity is ``v ← μ v + g`` and the step ``w ← w − η v``
    (Nesterov: ``w ← w − η (g + μ v)``). μ = 0 is the textbook's rule ``w ← w − η g``.
    """

    name = "sgd"

    def __init__(self, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(weight_decay)
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ConfigError("nesterov=True needs a momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.folds_learning_rate = not self.momentum and not self.weight_decay
        self.slots = ("velocity",) if self.momentum else ()

    def step(self, params, grads, lr, decays=None):
        self._decay(params, grads, decays or [True] * len(params))
        self.t += 1
        if not self.momentum:
            for p, g in zip(params, grads):
                g *= -lr
                p += g  # w ← w − η ∂E/∂w
            return
        vs = self._buffers("velocity", params)
        mu = self.momentum
        for p, g, v in zip(params, grads, vs):
            v *= mu
            v += g  # v ← μ v + g
            if self.nesterov:
                g += mu * v  # look ahead: g + μ v
                g *= -lr
                p += g
            else:
                p -= lr * v

    def config(self):
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): m ← β1 m + (1−β1) g,  v ← β2 v + (1−β2) g²,
    w ← w − η m̂ / (√v̂ + ε) with bias-corrected m̂, v̂.

    Stored as m' = m / (1−β1) and v' = v / (1−β2), whose updates m' ← β1 m' + g and
    v' ← β2 v' + g² take one pass fewer each; the constants move into the step size and ε.
    """

    name = "adam"
    slots = ("m", "v")

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(weight_decay)
        for n, v in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= v < 1.0:
                raise ConfigError(f"{n} must be in [0, 1), got {v!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def step(self, params, grads, lr, decays=None):
        self._decay(params, grads, decays or [True] * len(params))
        self.t += 1
        ms, vs = self._buffers("m", params), self._buffers("v", params)
        tmp = self._buffers("_tmp", params)
        b1, b2 = self.beta1, self.beta2
        # m̂/(√v̂ + ε) = c · m'/(√v' + ε') with the bias corrections and scalings folded in
        root = math.sqrt((1 - b2 ** self.t) / (1 - b2))
        step = lr * (1 - b1) / (1 - b1 ** self.t) * root
        eps = self.eps * root
        for p, g, m, v, t in zip(params, grads, ms, vs, tmp):
            m *= b1
            m += g  # m' ← β1 m' + g
            v *= b2
            np.multiply(g, g, out=t)
            v += t  # v' ← β2 v' + g²
            np.sqrt(v, out=t)
            t += eps
            np.divide(m, t, out=t)
            t *= -step
            p += t  # w ← w − η m̂ / (√v̂ + ε)

    def config(self):
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS = {"sgd": SGD, "momentum": SGD, "nesterov": SGD, "adam": Adam}


def get_optimizer(spec, *, momentum=None, nesterov=None, weight_decay=0.0) -> Optimizer:
    """An optimiser from a name (``sgd``, ``momentum``, ``nesterov``, ``adam``) or instance."""
    if isinstance(spec, Optimizer):
        return spec
    if spec not in OPTIMIZERS:
        raise unknown_name("optimizer", spec, OPTIMIZERS)
    if spec == "adam":
        return Adam(weight_decay=weight_decay)
    if spec in ("momentum", "nesterov") and momentum is None:
        momentum = 0.9
    return SGD(momentum=momentum or 0.0, nesterov=bool(nesterov) or spec == "nesterov",
               weight_decay=weight_decay)


# -- learning-rate schedules ------------------------------------------------------------
class Schedule:
    """η(epoch) for epoch = 0, 1, …, epochs − 1."""

    name = "constant"

    def __call__(self, base_lr: float, epoch: int, epochs: int) -> float:
        return base_lr

    def config(self):
        return {"name": self.name}


class StepSchedule(Schedule):
    """η · γ^⌊epoch / step_size⌋."""

    name = "step"

    def __init__(self, step_size=10, gamma=0.1):
        if int(step_size) < 1 or not 0 < gamma <= 1:
            raise ConfigError(f"step schedule needs step_size ≥ 1 and 0 < gamma ≤ 1, "
                              f"got {step_size!r}, {gamma!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def __call__(self, base_lr, epoch, epochs):
        return base_lr * self.gamma ** (epoch // self.step_size)

    def config(self):
        return {"name": self.name, "step_size": self.step_size, "gamma": self.gamma}


class CosineSchedule(Schedule):
    """η_min + (η − η_min)(1 + cos(π epoch / epochs)) / 2."""

    name = "cosine"

    def __init__(self, min_lr=0.0):
        self.min_lr = float(min_lr)

    def __call__(self, base_lr, epoch, epochs):
        cos = math.cos(math.pi * epoch / epochs)
        return self.min_lr + (base_lr - self.min_lr) * 0.5 * (1 + cos)

    def config(self):
        return {"name": self.name, "min_lr": self.min_lr}


SCHEDULES = {"constant": Schedule, "step": StepSchedule, "cosine": CosineSchedule}


def get_schedule(spec) -> Schedule:
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name not in SCHEDULES:
            raise unknown_name("schedule", name, SCHEDULES)
        return SCHEDULES[name](**spec)
    if spec not in SCHEDULES:
        raise unknown_name("schedule", spec, SCHEDULES)
    return SCHEDULES[spec]()
