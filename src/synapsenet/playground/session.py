"""One training session per connection: its data, its network, and the worker thread that
trains it on synapsenet's own engine and turns its state into frames for the page.

The worker runs :meth:`Network.fit` in runs of at most ``EPOCHS_PER_FIT`` epochs with a
:class:`Callback` that paces the epochs (``speed`` per second at most), sends a frame when
one is due (``FPS`` per second at most), and stops the run as soon as the page asks for
something (pause, a new setting, the tab closing). Everything a session holds is bounded by
the caps of :mod:`.config`: ≤ 2,000 points, ≤ 6 × 16 hidden neurons, one pending frame (a
newer frame replaces one the page has not been sent yet) and at most ``MAX_QUEUED`` other
messages.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import math
import threading
import time

import numpy as np

from ..errors import DivergenceError, SynapseError
from ..hardware import Analog
from ..network import Network
from ..training import Callback
from . import config as settings
from . import data

FPS = 30  # frames per second at most while training
HIDDEN_FPS = 1  # while the tab is in the background: the curves go on, the heat map waits
GRID = 60  # heat-map pixels per side
THUMB = 3  # a neuron's picture: every THUMB-th pixel of the heat map (20 × 20)
EPOCHS_PER_FIT = 500  # one fit call's epochs: its History stays small
MAX_QUEUED = 64  # messages other than frames waiting for the page
CHIP_SEED = 7  # the chip's devices and noise: the same chip from frame to frame


class Outbox:
    """Messages from a worker thread to the connection's sender task: the latest frame
    (one slot) and, in order, the other messages (at most ``MAX_QUEUED``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._ready = asyncio.Event()
        self._lock = threading.Lock()
        self._messages: collections.deque = collections.deque(maxlen=MAX_QUEUED)
        self._frame: str | None = None

    def put(self, message: dict, frame: bool = False) -> None:
        text = json.dumps(message, separators=(",", ":"), allow_nan=False)
        with self._lock:
            if frame:
                self._frame = text
            else:
                self._messages.append(text)
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the loop has closed: no one is listening any more
            pass

    async def take(self) -> list[str]:
        """Every message waiting, the frame last; waits for one."""
        await self._ready.wait()
        self._ready.clear()
        with self._lock:
            out = list(self._messages)
            self._messages.clear()
            if self._frame is not None:
                out.append(self._frame)
                self._frame = None
        return out


class Session:
    """A network the page trains: one per connection, with its own worker thread."""

    def __init__(self, outbox: Outbox, config: dict | None = None):
        self.outbox = outbox
        self._cond = threading.Condition()
        self._pending: dict | None = None  # the newest configuration not yet applied
        self._commands: collections.deque = collections.deque(maxlen=16)
        self._closed = False
        self.config: dict = settings.check(config or {})
        self.playing = False
        self.hidden = False  # the tab is in the background: frames at HIDDEN_FPS
        self.epoch = 0
        self.generation = 0  # counts resets: the page starts its loss curves afresh
        self.net: Network | None = None
        self._next_frame = 0.0
        self._dirty = True
        self._thread = threading.Thread(target=self._run, name="playground-session",
                                        daemon=True)
        self._thread.start()

    # -- from the connection (the event loop's thread) ----------------------------------
    def configure(self, config: dict) -> None:
        with self._cond:
            self._pending = config
            self._cond.notify()

    def command(self, name: str) -> None:
        with self._cond:
            self._commands.append(name)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the worker ---------------------------------------------------------------------
    def _interrupted(self) -> bool:
        """Something asked of the session (or its closing) that a training run must stop
        for."""
        return self._closed or self._pending is not None or bool(self._commands)

    def _run(self) -> None:
        try:
            self._safely(self._rebuild, data_too=True)
            while True:
                with self._cond:
                    while not (self._interrupted() or self.playing or self._dirty):
                        self._cond.wait()
                    if self._closed:
                        return
                    pending, self._pending = self._pending, None
                    commands = list(self._commands)
                    self._commands.clear()
                if pending is not None:
                    self._safely(self._apply, pending)
                for name in commands:
                    self._safely(self._do, name)
                if self.playing:
                    self._safely(self._train)
                if self._dirty:
                    self._safely(self._send_frame)
        finally:
            self.net = None  # the session's memory goes with its thread

    def _safely(self, f, *args, **kwargs) -> None:
        """Run one step of the worker; a failure pauses training and is told to the page,
        and the session carries on."""
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore",
                             under="ignore"):
                f(*args, **kwargs)
        except (DivergenceError, SynapseError, ValueError) as e:
            self._stop_with(str(e), redraw=f != self._send_frame)
        except Exception as e:  # a bug: said on the page; the connection survives
            self._stop_with(f"internal error: {type(e).__name__}: {e}",
                            redraw=f != self._send_frame)

    def _stop_with(self, message: str, redraw: bool) -> None:
        """Pause, say why, and (unless drawing failed) show the paused state."""
        self.playing = False
        self._dirty = redraw
        self.outbox.put({"type": "error", "message": message})

    def _do(self, name: str) -> None:
        if name == "play":
            self.playing = True
        elif name == "pause":
            self.playing = False
        elif name == "reset":
            self._rebuild()
        elif name == "step":
            self.playing = False
            self._train(epochs=1)
        elif name in ("hidden", "visible"):
            self.hidden = name == "hidden"
            self._next_frame = 0.0  # back in view: a frame at once
        self._dirty = True

    def _apply(self, new: dict) -> None:
        old, self.config = self.config, new
        changed = {k for k in new if new[k] != old.get(k)}
        if changed & settings.DATA_FIELDS:
            self._rebuild(data_too=True)
        elif changed & settings.NETWORK_FIELDS or (
                new["train_on"] == "chip" and changed & {"substrate"}):
            self._rebuild()
        elif new["train_on"] == "chip" and changed & settings.CHIP_FIELDS:
            # the sliders of a chip that learns: the weights move onto a fresh chip
            self.net = self.net.on(Analog(settings.hardware_config(new), seed=CHIP_SEED,
                                          meter=True))
        self._dirty = True

    def _rebuild(self, data_too: bool = False) -> None:
        """A fresh network (and, with ``data_too``, fresh points): epoch 0."""
        c = self.config
        if data_too or not hasattr(self, "P_train"):
            P, y = data.make(c["dataset"], c["points"], c["noise"], c["seed"])
            self.P_train, self.y_train, self.P_test, self.y_test = data.split(
                P, y, c["ratio"], c["seed"])
            self.outbox.put({"type": "data", "generation": self.generation + 1,
                             "extent": data.EXTENT,
                             "train": _points(self.P_train, self.y_train),
                             "test": _points(self.P_test, self.y_test)})
        f = c["features"]
        self.X_train = data.features(self.P_train, f)
        self.X_test = data.features(self.P_test, f)
        self.X_grid = data.features(data.grid(GRID), f)
        net = Network.from_sizes([len(f), *c["layers"], 1], hidden=c["activation"],
                                 output="sigmoid", seed=c["seed"])
        if c["train_on"] == "chip":
            net = net.on(Analog(settings.hardware_config(c), seed=CHIP_SEED, meter=True))
        self.net = net
        self.epoch = 0
        self.generation += 1
        self._dirty = True

    def _train(self, epochs: int | None = None) -> None:
        """Train until the page asks for something (or ``epochs`` epochs)."""
        c = self.config
        options = {"learning_rate": c["learning_rate"], "loss": settings.LOSSES[c["loss"]],
                   "mode": c["mode"], "weight_decay": c["l2"]}
        if c["mode"] == "minibatch":
            options["batch_size"] = c["batch_size"]
        pacer = _Pacer(self, None if epochs is not None else c["speed"])
        while not pacer.stopped:
            n = EPOCHS_PER_FIT if epochs is None else epochs
            self.net.fit(self.X_train, self.y_train, epochs=self.epoch + n,
                         initial_epoch=self.epoch, callbacks=[pacer], **options)
            if epochs is not None:
                break
        self._dirty = True

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, woken early by the page; True if woken."""
        with self._cond:
            if not self._interrupted():
                self._cond.wait(seconds)
            return self._interrupted()

    # -- frames -------------------------------------------------------------------------
    def _display(self) -> Network:
        """The network the page sees: the trained one, or it deployed on the chip."""
        c, net = self.config, self.net
        if c["substrate"] == "digital" or c["train_on"] == "chip":
            return net
        chip = net.on(Analog(settings.hardware_config(c), seed=CHIP_SEED))
        if c["chip_drift"] is not None and c["chip_drift"] > settings.DRIFT_T0:
            chip.substrate.drift(c["chip_drift"])
        return chip

    def _send_frame(self) -> None:
        self._dirty = False
        # frames on a steady beat (epochs end at their own pace; the beat is not theirs)
        now, fps = time.perf_counter(), HIDDEN_FPS if self.hidden else FPS
        self._next_frame = max(self._next_frame + 1.0 / fps, now + 0.5 / fps)
        self.outbox.put(self.frame(), frame=True)

    def frame(self) -> dict:
        """What the page draws: the losses, the heat map of the output, each neuron's own
        output over the plane, and every weight."""
        c, net = self.config, self.net
        shown = self._display()
        loss = settings.LOSSES[c["loss"]]
        train = shown.evaluate(self.X_train, self.y_train, loss=loss)
        test = shown.evaluate(self.X_test, self.y_test, loss=loss)
        outputs = _layer_outputs(shown, self.X_grid)
        z = outputs[-1][:, 0]
        heat = np.clip(np.nan_to_num(z, nan=0.5) * 255 + 0.5, 0, 255).astype(np.uint8)
        thumbs = [_thumb(Z[_PICK], layer.activation) for Z, layer in zip(outputs, net.layers)]
        frame = {
            "type": "frame", "generation": self.generation, "epoch": self.epoch,
            "playing": self.playing, "train_loss": _finite(train["loss"]),
            "test_loss": _finite(test["loss"]), "train_accuracy": train.get("accuracy"),
            "test_accuracy": test.get("accuracy"), "grid": GRID,
            "heat": base64.b64encode(heat.tobytes()).decode("ascii"),
            "thumb": GRID // THUMB,
            "neurons": base64.b64encode(np.concatenate(thumbs, axis=1).T.tobytes())
            .decode("ascii"),
            "sizes": net.sizes,
            "weights": [_rounded(W) for W in _weights(shown)],
            "biases": [_rounded(layer.b) for layer in shown.layers],
            "substrate": c["substrate"], "train_on": c["train_on"],
        }
        if c["train_on"] == "chip":
            sub = net.substrate
            frame["pulses"] = sub.pulses
            frame["refreshes"] = sum(s.refreshes for s in sub.synapses if s is not None)
            frame["energy_j"] = _training_energy(net)
        return frame


def _training_energy(net):
    """Energy the chip has spent training so far (J): the cost model's ledger of its metered
    counters (reads, conversions, write pulses); None before the first update."""
    from .. import cost

    counters = net.substrate.counters.layers
    if not counters or not any(c.write_pulses or c.vectors for c in counters):
        return None
    try:
        return float(cost.training_report(net, counters)["chip"]["energy_j"])
    except Exception:  # a ledger that cannot price this chip shows nothing, never stops it
        return None


class _Pacer(Callback):
    """Paces a training run (``speed`` epochs per second; None: as fast as it goes), sends
    the frames as they fall due, and stops the run when the page asks for something."""

    batch_by_batch = False  # the compiled engine may run many batches per call

    def __init__(self, session: Session, speed: float | None):
        self.s, self.speed = session, speed
        self.stopped = False
        self.t0 = time.perf_counter()
        self.k = 0

    def _stop(self):
        self.stopped = True
        self.s.net.stop_training = True

    def on_batch_end(self, batch, n_samples, loss):
        s = self.s
        if s._interrupted():
            self._stop()
        elif time.perf_counter() >= s._next_frame:  # a slow epoch: frames within it
            s._send_frame()

    def on_epoch_end(self, epoch, logs):
        s = self.s
        s.epoch = epoch + 1
        s._dirty = True
        if time.perf_counter() >= s._next_frame:
            s._send_frame()
        if self.speed is None:
            return
        self.k += 1
        due = self.t0 + self.k / self.speed
        late = time.perf_counter() - due
        if late > 0.25:  # far behind (a slow machine): do not rush to catch up
            self.t0, self.k = time.perf_counter(), 0
        if (late < 0 and s._wait(-late)) or s._interrupted():
            self._stop()


_PICK = np.arange(GRID * GRID).reshape(GRID, GRID)[::THUMB, ::THUMB].ravel()


def feature_pictures() -> str:
    """Every input feature over the plane, as the neurons' pictures are (base64)."""
    X = data.features(data.grid(GRID)[_PICK], list(data.FEATURES))
    return base64.b64encode(_thumb(X, None).T.tobytes()).decode("ascii")


def _weights(net: Network) -> list:
    """Each layer's W as its substrate holds it: on a chip, what the devices compute with
    (quantised, noisy, faulty, drifted), in network units."""
    arrays = getattr(net.substrate, "arrays", None)
    if arrays:
        return [a.effective_weights() for a in arrays]
    return [layer.W for layer in net.layers]


def _layer_outputs(net: Network, X: np.ndarray) -> list[np.ndarray]:
    """Each layer's output z for the rows of X, every product made by the network's
    substrate (the chip's noise included)."""
    sub = net.substrate
    noise = sub.noise(len(X))
    rng = None if noise is None else noise(0)
    out, Z = [], X
    for k, layer in enumerate(net.layers):
        U = sub.forward(k, layer, Z, np.empty((len(Z), layer.n_out), np.float32), rng)
        Z = layer.activation.forward(U, out=U)  # z = f(u)
        out.append(Z)
    return out


def _thumb(Z: np.ndarray, activation) -> np.ndarray:
    """Neuron outputs as bytes, 128 the middle: bounded activations on their own range,
    others on the largest |z| over the plane (at least 1)."""
    Z = np.nan_to_num(np.asarray(Z, np.float64))
    name = getattr(activation, "name", None)
    if name == "sigmoid":
        v = 2 * Z - 1
    elif name == "tanh" or activation is None:  # the inputs lie in [−1, 1]
        v = Z
    else:
        v = Z / np.maximum(np.abs(Z).max(axis=0, keepdims=True), 1.0)
    return np.clip(v * 127.5 + 128, 0, 255).astype(np.uint8)


def _points(P, y) -> list:
    return [[round(float(a), 3), round(float(b), 3), int(c)] for (a, b), c in zip(P, y)]


def _rounded(a) -> list:
    return np.round(np.nan_to_num(np.asarray(a, np.float64)), 4).tolist()


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None
