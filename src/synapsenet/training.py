"""The fit loop: stochastic, batch and mini-batch gradient descent over epochs.

In every mode an update uses the *mean* gradient of the samples it covers, so a learning rate
means the same thing in all three:

* ``mode="sgd"``       one sample per update (N updates per epoch);
* ``mode="batch"``     the whole training set per update (1 update per epoch);
* ``mode="minibatch"`` the data split into parts of ``batch_size`` samples, or into
  ``n_batches`` parts of (nearly) equal size.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _blas, _engine
from .errors import (ConfigError, DataError, DivergenceError, InputScaleWarning, ShapeError,
                     UpdateRefused,
                     unknown_name)
from .losses import get_loss
from .optimizers import Optimizer, get_optimizer, get_schedule
from .options import TrainingOptions

MODES = ("minibatch", "sgd", "batch")


@dataclass
class History:
    """Per-epoch record of training. ``loss``/``accuracy`` are means over the epoch's batches
    (measured before each update); ``val_*`` are measured on the validation set after the
    epoch. Accuracy is ``None`` when the targets are not class labels."""

    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    learning_rate: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    updates: int = 0
    stopped_early: bool = False
    interrupted: bool = False
    best_epoch: int | None = None
    # early stopping: the weights after best_epoch (restored at the end; a checkpoint keeps
    # them, so that a resumed run restores the same ones)
    best_weights: list | None = field(default=None, repr=False, compare=False)

    COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")

    def rows(self):
        for i in range(len(self.epoch)):
            yield {c: getattr(self, c)[i] for c in self.COLUMNS}

    def last(self) -> dict:
        return {c: getattr(self, c)[-1] for c in self.COLUMNS} if self.epoch else {}

    def __len__(self):
        return len(self.epoch)


def _best_so_far(history, column, min_delta):
    """((least loss of ``column``, its epoch, None), epochs since then) over ``history``, by
    the rule ``fit`` applies epoch by epoch."""
    best, waited = (math.inf, None, None), 0
    for i, v in enumerate(getattr(history, column)):
        if v is not None and v < best[0] - min_delta:
            best, waited = (v, i + 1, None), 0
        else:
            waited += 1
    return best, waited


class Callback:
    """Hooks into the fit loop. Set ``network.stop_training = True`` to stop after the
    current batch.

    ``batch_by_batch``: True (the default) when ``on_batch_end`` must run as each batch ends.
    A callback that only reports (a progress bar) may set it False: the compiled engine then
    runs batches in chunks of ~8,192 samples without returning to Python, and its
    ``on_batch_end`` calls come, in order, after each chunk — a stop it asks for then takes
    effect at the end of that chunk."""

    batch_by_batch = True

    def on_train_begin(self, network, info: dict): ...
    def on_epoch_begin(self, epoch: int, n_batches: int): ...
    def on_batch_end(self, batch: int, n_samples: int, loss: float): ...
    def on_epoch_end(self, epoch: int, logs: dict): ...
    def on_train_end(self, history: History): ...


def batch_slices(n: int, mode: str, batch_size=None, n_batches=None) -> list[slice]:
    """Index ranges of the updates of one epoch, in order."""
    if mode not in MODES:
        raise unknown_name("mode", mode, MODES)
    if mode == "sgd":
        if batch_size not in (None, 1) or n_batches not in (None, n):
            raise ConfigError("mode='sgd' updates after every sample; leave batch_size and "
                              "n_batches unset (or use mode='minibatch')")
        return [slice(i, i + 1) for i in range(n)]
    if mode == "batch":
        if batch_size not in (None, n) or n_batches not in (None, 1):
            raise ConfigError("mode='batch' makes one update from all samples; leave "
                              "batch_size and n_batches unset (or use mode='minibatch')")
        return [slice(0, n)]
    if batch_size is not None and n_batches is not None:
        raise ConfigError("give either batch_size or n_batches for mode='minibatch', not both")
    if n_batches is not None:
        if not isinstance(n_batches, (int, np.integer)) or not 1 <= n_batches <= n:
            raise ConfigError(f"n_batches must be an integer in 1…{n} (the number of "
                              f"samples), got {n_batches!r}")
        edges = np.linspace(0, n, int(n_batches) + 1).round().astype(int)
        return [slice(int(a), int(b)) for a, b in zip(edges, edges[1:])]
    bs = 32 if batch_size is None else batch_size
    if not isinstance(bs, (int, np.integer)) or isinstance(bs, bool) or bs < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    return [slice(i, min(i + int(bs), n)) for i in range(0, n, int(bs))]


def fit(network, X, y, options: TrainingOptions | None = None, *, seed=None,
        validation_data=None, sample_weight=None, augment=None, callbacks=(), initial_epoch=0,
        history=None, **option_values):
    """Train ``network`` on (X, y) by gradient descent and backpropagation, on the substrate
    the network is on (``network.substrate``): every product of the training step is the
    substrate's, and so are the synapses' limits (a weight bound is ``Digital(weight_bound=…)``,
    hardware-aware weight noise is ``NoisyDigital(weight_noise=…)``; put the network on one
    with ``network.on(…)``).

    The training options (epochs, learning rate, loss, mode, batch size, optimiser, schedule,
    early stopping, …) are a :class:`synapsenet.options.TrainingOptions`, given as
    ``options`` and/or as keywords (keywords change ``options``); they are validated there
    and recorded in ``network.train_config``.

    Parameters
    ----------
    X : array (N, n_inputs)
    y : array (N,) of class labels, or (N, n_outputs) target matrix d
    epochs : int              passes over the data
    learning_rate : float     η in w ← w − η ∂E/∂w (the mean gradient of a batch)
    loss : str                "squared_error" (½Σ(z−d)², any output), "cross_entropy"
                              (softmax output), "binary_cross_entropy" (sigmoid output)
    mode : str                "minibatch", "sgd" (1 sample per update), "batch" (all samples)
    batch_size, n_batches     size, or number, of the mini-batches (default batch_size=32)
    optimizer : str | Optimizer   "sgd", "momentum", "nesterov", "adam"
    momentum, nesterov        momentum coefficient μ for "sgd" (default 0; 0.9 for
                              "momentum"/"nesterov")
    weight_decay : float      L2 penalty λ on the weights
    schedule : str | Schedule "constant", "step", "cosine"
    shuffle : bool            reshuffle the samples every epoch
    seed : int | Generator    randomness of shuffling and dropout; None uses the network's own
                              generator (seeded when the network was built)
    validation_data : (X_val, y_val)
    early_stopping : bool     stop when the validation loss (or the training loss without
                              validation data) has not improved by ``min_delta`` for
                              ``patience`` epochs, and restore the best weights
    sample_weight : array (N,) non-negative weights: each update uses the weighted mean
                              gradient of its samples
    augment : callable        ``augment(X_batch, rng)`` returns a transformed copy of each
                              training batch (e.g. ``datasets.augment.RandomShift()``)
    callbacks : list of Callback
    initial_epoch : int       to resume: the number of epochs already done

    Returns
    -------
    History
    """
    o = (options or TrainingOptions()).replace(**option_values)
    epochs, learning_rate, mode, shuffle = o.epochs, o.learning_rate, o.mode, o.shuffle
    early_stopping, patience, min_delta = o.early_stopping, o.patience, o.min_delta
    loss_fn = get_loss(o.loss)
    loss_fn.check_output(network.output_activation)
    if not network.substrate.trainable:
        raise ConfigError(f"the network is on the {network.substrate.name} substrate, which "
                          "cannot train; train it digitally (network.on(Digital())) and "
                          "place the trained network there")
    X, _ = network._check_X(X, finite=False)  # NaN and ±inf: see below
    # inputs of typical size in the tens or more (0–255 pixels) saturate sigmoid and tanh
    # neurons from the first step, and training reaches one class in ten without an error.
    # Typical: the root mean square, not the largest value, which standardised data with a
    # rare outlier also reach; the 0–16 digits are below the bound and learn as scaled ones.
    flat = X.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        squares = float(np.dot(flat, flat)) if flat.size else 0.0
    if math.isinf(squares) and np.isfinite(flat).all():  # finite inputs past 1.8e19: scaled
        top = float(np.abs(flat).max())
        squares = float(np.dot(flat / top, flat / top)) * top * top
    rms = math.sqrt(squares / flat.size) if flat.size else 0.0
    if math.isfinite(rms) and rms > 10:  # NaN and ±inf are refused below
        warnings.warn(InputScaleWarning(
            f"the training inputs are {rms:.3g} in magnitude (root mean square; largest "
            f"{max(float(X.max()), -float(X.min())):g}); a network wants inputs of order one "
            "(larger ones saturate its neurons and training learns little): scale them "
            "first, e.g. with Dataset.scaled() or Scaler('255').fit_transform(X) for 0–255 "
            "pixels", rms), stacklevel=3)
    D, labels = network.targets(y, len(X))
    sw = None
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.shape != (len(X),):
            raise ShapeError(f"sample_weight must have shape ({len(X)},), got {sw.shape}")
        if not np.isfinite(sw).all() or (sw < 0).any() or sw.sum() <= 0:
            raise DataError("sample_weight must be finite, non-negative and not all zero")
    val = None
    if validation_data is not None:
        try:
            Xv, yv = validation_data
        except (TypeError, ValueError):
            raise ConfigError("validation_data must be a pair (X_val, y_val)") from None
        try:
            Xv, _ = network._check_X(Xv)
            network.targets(yv, len(Xv))
        except (ShapeError, DataError) as e:
            raise type(e)(f"validation data: {e}") from None
        val = (Xv, yv)
    opt: Optimizer = get_optimizer(o.optimizer, momentum=o.momentum, nesterov=o.nesterov,
                                   weight_decay=o.weight_decay)
    sched = get_schedule(o.schedule)
    # what a fit stopped by bad data puts back (the compiled engine finds it mid-epoch)
    before = (network.get_weights(), network.history, network.train_config,
              copy.deepcopy((opt.state, opt.t)) if opt.state else None,
              network.substrate.snapshot())  # (a chip's devices: None on the digital ones)
    rng = network.rng if seed is None else (
        seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed))

    slices = batch_slices(len(X), mode, o.batch_size, o.n_batches)
    history = history if history is not None else History()
    network.history = history
    network.train_config = {
        "loss": loss_fn.name, "mode": mode, "batch_size": slices[0].stop - slices[0].start,
        "n_batches": len(slices), "optimizer": opt.config(), "schedule": sched.config(),
        "learning_rate": float(learning_rate), "epochs": int(epochs), "shuffle": bool(shuffle),
        "early_stopping": bool(early_stopping), "substrate": network.substrate.describe(),
    }
    network.stop_training = False
    loop = _Loop(network, X, D, labels, sw, val, loss_fn, opt, sched, float(learning_rate), rng,
                 slices, shuffle, augment, callbacks, history)
    for cb in callbacks:
        cb.on_train_begin(network, {"n_samples": len(X), "n_batches": len(slices),
                                    "epochs": epochs, "initial_epoch": initial_epoch})
    # (monitored loss, epoch, weights) and the epochs since it: a resumed run's from its
    # history, so that patience and the weights restored are those of one uninterrupted run
    best, waited = _best_so_far(history, "val_loss" if val is not None else "loss", min_delta)
    if early_stopping and best[1] is not None:
        best = (*best[:2], network.get_weights() if best[1] == len(history)
                else history.best_weights)
    try:
        # NaN and ±inf inputs: the compiled engine checks every sample as it gathers it (each
        # is gathered in the first epoch) and stops before the step that would use one; the
        # NumPy engine needs the data checked first
        if loop.engine is None and not _engine.maybe_finite(X):
            network._raise_if_not_finite(X)
        for epoch in range(initial_epoch, epochs):
            logs = loop.epoch(epoch, epochs)
            if logs is None:  # interrupted mid-epoch: the epoch is not recorded as done
                history.interrupted = True
                break
            monitored = logs["val_loss"] if val is not None else logs["loss"]
            if monitored < best[0] - min_delta:
                best = (monitored, epoch + 1, network.get_weights() if early_stopping else None)
                history.best_weights = best[2]
                waited = 0
            else:
                waited += 1
            history.best_epoch = best[1]
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if early_stopping and waited >= patience:
                history.stopped_early = True
                break
            if network.stop_training:  # a callback asked to stop, or an interrupt came late
                history.interrupted = True
                break
        if early_stopping and best[2] is not None and before[4] is None:
            # the best epoch's weights back; a chip's devices keep the states the last epoch
            # left (putting the best ones back would be programming them anew)
            network.set_weights(best[2])
    except DataError:  # bad inputs met mid-epoch: the network as it was before this fit
        weights, network.history, network.train_config, opt_state, devices = before
        network.set_weights(weights)
        network.substrate.restore_snapshot(devices)
        if opt_state is not None:
            opt.state, opt.t = opt_state
        else:
            opt.state.clear()
            opt.t = 0
        raise
    finally:
        loop.close()
    network.train_config["substrate"] = network.substrate.describe()  # with what it did
    for cb in callbacks:
        cb.on_train_end(history)
    network.optimizer = opt
    return history


# samples per call into the compiled engine when no callback needs each batch: small enough
# that Ctrl-C and stop_training act within a fraction of a second, large enough that
# Python's own cost per call vanishes
_CHUNK_SAMPLES = 8192


class _Loop:
    """The epochs and batches of one ``fit`` call, with its buffers (allocated once)."""

    def __init__(self, network, X, D, labels, sw, val, loss, opt, sched, base_lr, rng, slices,
                 shuffle, augment, callbacks, history):
        self.network, self.X, self.D, self.labels, self.sw, self.val = network, X, D, labels, \
            sw, val
        self.loss, self.opt, self.sched, self.base_lr, self.rng = loss, opt, sched, base_lr, rng
        self.slices, self.shuffle = slices, shuffle
        self.substrate = network.substrate
        self.augment, self.callbacks, self.history = augment, callbacks, history
        self.bmax = bmax = max(s.stop - s.start for s in slices)
        self.params, self.grads = network.parameters(), network.gradients()
        self.decays = [p.ndim == 2 for p in self.params]  # weight decay on W, not on b
        # plain gradient descent folds η into the output delta, and backpropagation then
        # makes the step w ← w − η ∂E/∂w inside each weight-gradient product
        self.fold = opt.folds_learning_rate
        self.Xb_buf = self.Db_buf = None  # the NumPy engine's batch buffers, made when needed
        self.ws = None  # the per-layer workspace of the NumPy steps, made when needed
        # the substrate's compiled training step, where it covers the configuration
        self.engine = None
        why_not = "augmentation and sample weights run on the NumPy engine" \
            if augment is not None or sw is not None else None
        if why_not is None:
            self.engine, why_not = self.substrate.trainer(network, loss, opt, bmax, X)
        if self.engine is not None:
            self.engine.bind(X, D, labels, rng)
            network.train_config["engine"] = f"compiled, {self.engine.threads} thread(s)"
        else:
            network.train_config["engine"] = f"numpy ({why_not})"

    def close(self):
        if self.engine is not None:
            self.engine.release()  # kept for the next fit of this network
            self.engine = None

    def epoch(self, epoch, epochs):
        """One pass over the data; the epoch's logs, or None if it was interrupted."""
        t0 = time.perf_counter()
        net, slices = self.network, self.slices
        lr = self.sched(self.base_lr, epoch, epochs)
        order = self.rng.permutation(len(self.X)) if self.shuffle else None
        snapshot = net.get_weights()  # the last weights known to be finite,
        devices = net.substrate.snapshot()  # and a chip's devices that hold them
        if self.engine is not None:
            self.engine.begin_epoch()
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, len(slices))
        sum_loss, n_correct, seen = 0.0, 0, 0
        # overflow is caught as divergence, naming the epoch and batch, not as a warning;
        # the compiled engine runs its own threads, one per core, and BLAS on one each
        threads = _blas.single_threaded() if self.engine else contextlib.nullcontext()
        with np.errstate(over="ignore", invalid="ignore"), threads:
            try:
                if self.engine is not None and \
                        not any(cb.batch_by_batch for cb in self.callbacks):
                    # no one to tell as each batch ends: the steps in few calls into the library
                    stats = self.run_steps(epoch, order, lr)
                else:
                    stats = self.run_batches(epoch, order, lr)
            except DivergenceError as e:
                if e.step_begun or not all(np.isfinite(p).all() for p in self.params):
                    net.set_weights(snapshot)  # a step made inside backpropagation
                    net.substrate.restore_snapshot(devices)
                raise
            if stats is None:  # stop_training was set mid-epoch
                return None
            sum_loss, n_correct, seen = stats
            if not all(np.isfinite(p).all() for p in self.params):
                net.set_weights(snapshot)
                net.substrate.restore_snapshot(devices)
                raise DivergenceError(
                    f"training diverged in epoch {epoch + 1}: weights overflowed; the network "
                    "keeps the weights it had at the start of that epoch. Try a smaller "
                    "learning rate.", epoch=epoch + 1, batch=len(slices))
            logs = {"epoch": epoch + 1, "loss": sum_loss / seen,
                    "accuracy": n_correct / seen if self.labels is not None else None,
                    "val_loss": None, "val_accuracy": None, "learning_rate": lr}
            if self.val is not None:
                v = net.evaluate(*self.val, loss=self.loss)
                logs["val_loss"], logs["val_accuracy"] = v["loss"], v.get("accuracy")
        logs["seconds"] = time.perf_counter() - t0
        for c in History.COLUMNS:
            getattr(self.history, c).append(logs[c])
        return logs

    def run_batches(self, epoch, order, lr):
        """The epoch's batches one at a time, the callbacks' ``on_batch_end`` after each:
        (summed loss, correct, samples), or None if ``stop_training`` was set."""
        net, slices = self.network, self.slices
        sum_loss, n_correct, seen = 0.0, 0, 0
        for bi, sl in enumerate(slices):
            E, correct, m = self.batch(epoch, bi, sl, order, lr)
            sum_loss += E * m
            n_correct += correct
            seen += m
            for cb in self.callbacks:
                cb.on_batch_end(bi, m, E)
            if net.stop_training and bi < len(slices) - 1:
                return None
        return sum_loss, n_correct, seen

    def run_steps(self, epoch, order, lr):
        """The epoch's batches on the compiled engine, a chunk of them (~8,192 samples) per
        call, the callbacks' ``on_batch_end`` after each chunk: as :meth:`run_batches`."""
        net, slices = self.network, self.slices
        chunk = max(1, _CHUNK_SAMPLES // self.bmax)
        sum_loss, n_correct, seen = 0.0, 0, 0
        for first in range(0, len(slices), chunk):
            part = slices[first:first + chunk]
            E, correct, made, status = self.engine.steps(order, part, lr)
            for k, (E_k, sl) in enumerate(zip(E[:made].tolist(), part)):  # in order, as
                sum_loss += E_k * (sl.stop - sl.start)  # batch() adds them
                seen += sl.stop - sl.start
                for cb in self.callbacks:
                    cb.on_batch_end(first + k, sl.stop - sl.start, E_k)
            n_correct += int(correct[:made].sum())
            self.history.updates += made
            self.engine.count(self.substrate.counters,
                              sum(sl.stop - sl.start for sl in part[:made]))
            if status != 1:  # step `made` of the chunk did not end well
                self.check_engine(status, epoch, first + made, E[made], lr)
            if net.stop_training and first + made < len(slices):
                return None
        return sum_loss, n_correct, seen

    def check_engine(self, status, epoch, bi, E, lr):
        """Raise for a compiled step (batch ``bi``) that did not end with status 1."""
        if status == 3:  # a NaN or infinite input in that batch (no step made)
            self.network._raise_if_not_finite(self.X)
        if status == 4:  # a chip's update past the longest train, the layers above stepped
            from .hardware.learning import train_too_long

            raise _diverged(epoch, bi, E, lr, train_too_long(), step_begun=True)
        if status != 1:  # a non-finite loss (no step made) or δ (the step undone by epoch())
            raise _diverged(epoch, bi, E, lr)

    def batch(self, epoch, bi, sl, order, lr):
        """One update; returns (loss, correct predictions, samples)."""
        net, labels, sw = self.network, self.labels, self.sw
        m = sl.stop - sl.start
        if self.engine is not None:
            E, correct, status = self.engine.step(None if order is None else order[sl],
                                                  sl.start, m, lr)
            self.check_engine(status, epoch, bi, E, lr)
            self.history.updates += 1
            self.engine.count(self.substrate.counters, m)
            return E, correct, m
        if order is None:
            Xb, Db = self.X[sl], self.D[sl]
            lb = None if labels is None else labels[sl]
            wb = None if sw is None else sw[sl]
            if self.augment is not None:
                Xb = self.augment(Xb.copy(), self.rng)  # never alter the caller's data
        else:
            idx = order[sl]
            # mode="clip" lets take write straight into the buffer (indices are in range)
            if self.Xb_buf is None:
                self.Xb_buf = np.empty((self.bmax, self.X.shape[1]), self.X.dtype)
                self.Db_buf = np.empty((self.bmax, self.D.shape[1]), self.D.dtype)
            Xb = np.take(self.X, idx, axis=0, out=self.Xb_buf[:m], mode="clip")
            Db = np.take(self.D, idx, axis=0, out=self.Db_buf[:m], mode="clip")
            lb = None if labels is None else labels[idx]
            wb = None if sw is None else sw[idx]
            if self.augment is not None:
                Xb = self.augment(Xb, self.rng)
        if self.ws is None:
            self.ws = net.workspace(self.bmax)
        try:
            E, Z = net.train_step(Xb, Db, self.loss, self.rng, wb, lr if self.fold else 1.0,
                                  update=self.fold, ws=self.ws)
        except UpdateRefused as e:  # an update a substrate cannot make (a chip's endless
            # pulse train), the layers above this one already stepped: epoch() undoes them
            raise _diverged(epoch, bi, None, lr, str(e), step_begun=True) from None
        # a non-finite loss or gradient stops the training (a non-finite δ anywhere reaches
        # the first layer's bias gradient); a non-finite loss before any weight changed, a
        # non-finite δ after a step inside backpropagation, which epoch() then undoes
        if not (math.isfinite(E) and math.isfinite(net.layers[0].db.sum())):
            raise _diverged(epoch, bi, E, lr)
        if self.fold:
            self.opt.t += 1  # the step w ← w − η ∂E/∂w was made in backpropagation
        else:
            self.opt.step(self.params, self.grads, lr, self.decays)  # momentum, Adam, decay
        for layer in net.layers:
            self.substrate.constrain(layer)  # the synapses' limits, after the step
        self.history.updates += 1
        correct = 0 if lb is None else int(np.count_nonzero(net.outputs_to_classes(Z) == lb))
        return E, correct, m


def _diverged(epoch, bi, E, lr, why=None, step_begun=False) -> DivergenceError:
    keeps = "the weights it had at the start of that epoch" if step_begun else \
        "its last finite weights"
    return DivergenceError(
        f"training diverged at epoch {epoch + 1}, batch {bi + 1}: "
        f"{why or f'the loss is {E}'} (learning rate {lr:g}); the network keeps {keeps}. "
        "Try a smaller learning rate.", epoch=epoch + 1, batch=bi + 1, step_begun=step_begun)
