"""What the command line shows: the rich console, progress bars, tables, and Ctrl-C.

rich is imported here, when a command first prints, so that ``synapsenet --help`` stays quick.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time


class Interrupted(Exception):
    """A command stopped by Ctrl-C after saving what it could; the message says what."""


def console(stderr=False):
    """A rich console whose closed pipe (``synapsenet datasets | head -1``) raises
    BrokenPipeError for ``main`` to handle, instead of rich's own exit with status 1."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self):
            self.quiet = True  # nothing more to write there
            raise BrokenPipeError

    return _Console(stderr=stderr, highlight=False)


def table(columns, rows, *, title=None, justify="left", overflow="ellipsis", out=None):
    """Print ``rows`` (sequences of strings) under ``columns`` as one rich table."""
    from rich.table import Table

    t = Table(title=title, show_edge=False)
    for c in columns:
        t.add_column(c, justify=justify, overflow=overflow)
    for r in rows:
        t.add_row(*r)
    (out or console()).print(t)


def warn(message: str | None) -> None:
    """A warning (None: nothing) as one line on stderr; the command goes on and its exit
    status is unchanged."""
    if message:
        print(f"synapsenet: warning: {' '.join(str(message).split())}", file=sys.stderr)


def percent(a) -> str:
    return "" if a is None else f"{100 * a:.2f}%"


def write_json(target: str, text: str) -> str:
    """JSON ``text`` to standard output (``target`` '-': returns "stdout") or atomically to
    the file ``target`` (returns "file")."""
    if target == "-":
        sys.stdout.write(text)
        return "stdout"
    from ..files import atomic_write_text

    atomic_write_text(target, text)
    return "file"


# -- Ctrl-C -------------------------------------------------------------------------------
class StopRequests:
    """While active, the first Ctrl-C asks training to stop after the current batch (the
    command then saves a checkpoint); a second one stops at once (KeyboardInterrupt)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        self.requested = False
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._previous)

    def _on_sigint(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


# -- progress -----------------------------------------------------------------------------
class EpochProgress:
    """A rich progress bar per epoch: samples/s, loss, accuracy, time left."""

    def __init__(self, out, epochs):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[rate]:>9} samples/s"),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[acc]}"),
            TimeRemainingColumn(), console=out, transient=False)
        self.epochs = epochs
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


def progress_callback(progress: EpochProgress | None, n_samples: int, stop: StopRequests):
    """The fit callback that drives ``progress`` (None: show nothing) and passes a Ctrl-C
    from ``stop`` on to the loop."""
    from ..training import Callback

    class Live(Callback):
        batch_by_batch = False  # it reports: batches may come in chunks (training.Callback)

        def __init__(self):
            self.net = None
            self.t0 = time.perf_counter()
            self.samples = self.loss_sum = 0.0
            self.every = 1

        def on_train_begin(self, network, info):
            self.net = network

        def on_epoch_begin(self, epoch, n_batches):
            self.t0, self.samples, self.loss_sum = time.perf_counter(), 0, 0.0
            self.every = max(1, n_batches // 100)
            self.batches = 0
            if progress:
                if progress.task is not None:
                    progress.progress.update(progress.task, visible=False)
                progress.task = progress.progress.add_task(
                    "", total=n_samples, epoch=epoch + 1, epochs=progress.epochs, rate="",
                    loss="…", acc="")

        def on_batch_end(self, batch, n, loss):
            self.samples += n
            self.loss_sum += loss * n
            self.batches += 1
            if stop.requested:
                self.net.stop_training = True
            if progress and self.batches % self.every == 0:
                rate = self.samples / max(time.perf_counter() - self.t0, 1e-9)
                progress.progress.update(progress.task, completed=self.samples,
                                         rate=f"{rate:,.0f}",
                                         loss=f"{self.loss_sum / self.samples:.4f}")

        def on_epoch_end(self, epoch, logs):
            if progress:
                acc = "" if logs["accuracy"] is None else f"acc {percent(logs['accuracy'])}"
                if logs.get("val_accuracy") is not None:
                    acc += f"  val {percent(logs['val_accuracy'])}"
                rate = self.samples / max(logs["seconds"], 1e-9)
                progress.progress.update(progress.task, completed=n_samples, rate=f"{rate:,.0f}",
                                         loss=f"{logs['loss']:.4f}", acc=acc)
                if epoch + 1 < progress.epochs:
                    progress.progress.update(progress.task, visible=(epoch + 1) % max(
                        1, progress.epochs // 10) == 0)

    return Live()


@contextlib.contextmanager
def watching_training(out, epochs: int, n_samples: int, quiet=False):
    """While ``train`` fits: Ctrl-C asks it to stop (:class:`StopRequests`) and, unless
    ``quiet``, a bar per epoch shows its progress. Yields (the fit callback that does both,
    a function telling whether a stop was asked for)."""
    with StopRequests() as stop, (
            contextlib.nullcontext() if quiet else EpochProgress(out, epochs)) as bar:
        yield progress_callback(bar, n_samples, stop), lambda: stop.requested


def train_interrupted(epochs: int, run_dir) -> Interrupted:
    """Ctrl-C during ``train``: the checkpoint is saved, and how to go on."""
    return Interrupted(f"interrupted after {epochs} complete epoch(s); checkpoint saved. "
                       f"Resume with: synapsenet train --resume {run_dir}")


class TaskProgress:
    """A rich bar over a study's cells (done of total, time left), driven by ``update(done,
    total)``; shown on a terminal only, and not with ``quiet``."""

    def __init__(self, out, what="tasks", quiet=False):
        self.out, self.what, self.quiet = out, what, quiet or not out.is_terminal
        self.bar = self.task = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.bar = Progress(TextColumn(f"[bold]{self.what}"), BarColumn(bar_width=30),
                                MofNCompleteColumn(), TextColumn("elapsed"),
                                TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                console=self.out)
            self.bar.__enter__()
        return self

    def update(self, done, total):
        if self.bar is None:
            return
        if self.task is None:  # from the cells a resumed study already has
            self.task = self.bar.add_task("", total=total, completed=done)
        else:
            self.bar.update(self.task, completed=done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def download_progress(out):
    """A rich download bar per file (bytes, speed, time left), for ``datasets.load``."""
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=out)
    tasks = {}

    def progress(fname, done, total):
        if fname not in tasks:
            if not tasks:
                bars.start()
            tasks[fname] = bars.add_task(f"{fname}.gz", total=total or None)
        bars.update(tasks[fname], completed=done)
        if total and done >= total and len(tasks) == 4:
            bars.stop()

    return progress


def history_table(out, history):
    """The training summary: the first and last epochs of ``history``."""
    rows = list(history.rows())
    show = rows if len(rows) <= 8 else rows[:3] + [None] + rows[-4:]
    cells = [("…", "", "", "", "", "") if r is None else
             (str(r["epoch"]), f"{r['loss']:.5f}", percent(r["accuracy"]),
              "" if r["val_loss"] is None else f"{r['val_loss']:.5f}",
              percent(r["val_accuracy"]), f"{r['seconds']:.3f}") for r in show]
    table(("epoch", "loss", "accuracy", "val loss", "val accuracy", "seconds"), cells,
          title="training summary", justify="right", out=out)


def si(v, unit) -> str:
    """A quantity with its SI prefix: ``si(4.6e-3, "J")`` is "4.6 mJ" (— for None)."""
    if v is None:
        return "—"
    if v == 0:
        return f"0 {unit}"
    for prefix, f in (("", 1), ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(v) >= f:
            return f"{v / f:.3g} {prefix}{unit}"
    return f"{v / 1e-15:.3g} f{unit}"


def say_run_start(say, net, dataset: str, prep, run_dir) -> None:
    """What ``train`` says as a run starts: the version and network, the data's splits and
    scaling, and the run folder."""
    from .. import __version__

    say(f"[bold]synapsenet[/bold] {__version__}: {net!r}")
    say(f"data: {dataset}  train {len(prep.X_train)}"
        + (f"  validation {len(prep.X_val)}" if prep.X_val is not None else "")
        + f"  test {len(prep.X_test)}  ({prep.scaler.kind} scaling)   run folder: {run_dir}")


def run_summary(out, metrics, test, history, run_dir, training_cost, *, as_json=False,
                quiet=False) -> int:
    """The end of ``train``: the metrics as JSON, or the epochs' table (unless quiet), the
    test result and where the run is, and what training on a chip cost."""
    if as_json:
        print(json.dumps(metrics, indent=2))
        return 0
    if not quiet:
        history_table(out, history)
    acc = metrics["test_accuracy"]
    line = (f"test accuracy {100 * acc:.2f}% ({test['n']} samples)" if acc is not None
            else f"test loss {test['loss']:.5g}")
    print(f"{line}; model and plots in {run_dir}")
    if training_cost:
        print(f"on the chip: {si(training_cost['energy_j_per_epoch'], 'J')} and "
              f"{si(training_cost['latency_s_per_epoch'], 's')} per epoch, of which "
              f"{si(training_cost['write_energy_j_per_epoch'], 'J')} in write pulses "
              "(synapsenet cost MODEL: the terms)")
    return 0


# -- a grid of runs ----------------------------------------------------------------------
def grid_interrupted(out) -> Interrupted:
    """Ctrl-C during a study or a sweep: what is kept, and how to go on."""
    if out:
        return Interrupted(f"interrupted; the finished cells are kept in {out}: run the "
                           "same command again to resume")
    return Interrupted("interrupted (with --out DIR a study keeps its finished cells)")


def say_grid_written(out, result) -> None:
    """The files a study or sweep wrote into ``out``, and its cells."""
    if out and result.get("files"):
        t = result["timing"]
        resumed = f"; {t['cells_resumed']} cells were already there" if t["cells_resumed"] else ""
        print(f"wrote {out}/{result['files'][0]}, {', '.join(result['files'][1:])} and "
              f"{result['cells']} cells in {out}/cells{resumed}")


# -- progress of side-by-side configurations -----------------------------------------------
class ConfigurationProgress:
    """One bar per configuration (epochs done, the last accuracy); where the output is not a
    terminal, a line per configuration every fifth of the run instead."""

    def __init__(self, con, names, epochs):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.con, self.epochs, self.t0 = con, epochs, time.perf_counter()
        self.every = max(1, epochs // 5)
        self.progress = None
        if con.is_terminal:
            self.progress = Progress(TextColumn("{task.description:>10}"),
                                     BarColumn(bar_width=30), MofNCompleteColumn(),
                                     TextColumn("{task.fields[acc]}"), console=con)
            self.tasks = {n: self.progress.add_task(n, total=epochs, acc="") for n in names}

    def __enter__(self):
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc) if self.progress is not None else None

    def update(self, name, epoch, accuracy):
        if self.progress is not None:
            self.progress.update(self.tasks[name], completed=epoch, acc=percent(accuracy))
        elif epoch % self.every == 0 or epoch == self.epochs:
            minutes, seconds = divmod(round(time.perf_counter() - self.t0), 60)
            self.con.print(f"{name}: epoch {epoch}/{self.epochs}, {percent(accuracy)} "
                           f"({minutes}:{seconds:02d})")
