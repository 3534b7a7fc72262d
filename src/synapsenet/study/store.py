"""The study folder: what the study is, one file per finished cell, and the summary.

::

    grid.json         the study: its kind and the settings it holds fixed
    cells/KEY.json    a finished cell: its coordinates, seed and row (KEY: the coordinates' hash)
    cells/KEY/        a training cell's run folder (model, metrics.json, config.toml, …)
    NAME.csv, NAME.json, NAME.png    the summary, once every cell is done

Each cell's files are written atomically by the driver as its result comes back (a training
cell's run folder first, then its row, last): a study killed at any moment leaves whole
cells only, and the same command run again skips them. The folder is locked while a study
writes it; a folder that holds another study (other fixed settings) is refused.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
from pathlib import Path

from .. import files
from ..errors import ConfigError, InUseError, SynapseError

STUDY = "grid.json"
CELLS = "cells"


class Store:
    """``with Store(folder, kind, fixed) as store``: ``store.done(cell)`` is a finished cell's
    row (or None), ``store.write(cell, row, files)`` records one. ``folder`` None: nothing
    is kept (and nothing resumed). With ``force``, a folder holding another study (or an
    earlier summary) starts afresh: its cells and summary files go, nothing else."""

    def __init__(self, folder, kind: str, fixed: dict, force=False, summary=()):
        self.folder = None if folder is None else Path(folder)
        self.force, self.summary = force, tuple(summary)
        self.kind, self.fixed = kind, json.loads(json.dumps(fixed, default=files.jsonable))
        self._lock = self._made = None
        self._new = []  # grid.json and cells/, where this study made them
        self.written = 0  # cells finished and on disk (earlier runs' included)

    @property
    def cells(self) -> Path:
        return self.folder / CELLS

    def __enter__(self):
        if self.folder is None:
            return self
        blocked = next((p for p in (self.folder, *self.folder.parents)
                        if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise FileExistsError(errno.EEXIST, "File exists", str(blocked))
        missing = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        self.folder.mkdir(parents=True, exist_ok=True)
        self._made = missing[-1] if missing else None
        try:
            self._lock = files.lock_folder(self.folder, "study folder")
        except InUseError:
            raise InUseError(f"study folder {str(self.folder)!r} is in use by another "
                             "study; wait until it ends, or choose another --out") from None
        try:
            self._claim()
        except BaseException as e:
            self._release(remove=True)
            raise self._explained(e) from None
        return self

    def _claim(self):
        path = self.folder / STUDY
        files.remove_temporaries(self.folder, (STUDY, *self.summary))
        if self.force:  # afresh: this kind of folder's own files only
            for name in (STUDY, *self.summary):
                (self.folder / name).unlink(missing_ok=True)
            shutil.rmtree(self.cells, ignore_errors=True)
        if path.exists():
            try:
                theirs = json.loads(path.read_text())
            except (OSError, ValueError):
                theirs = None
            if not isinstance(theirs, dict) or theirs.get("kind") != self.kind:
                raise ConfigError(f"{str(self.folder)!r} holds something other than a "
                                  f"{self.kind}; choose another --out, or pass --force")
            other = theirs.get("fixed", {})
            for k in sorted(set(other) | set(self.fixed)):
                if other.get(k) != self.fixed.get(k):
                    raise ConfigError(
                        f"{str(self.folder)!r} holds a {self.kind} with {k} "
                        f"{other.get(k)!r}, not {self.fixed.get(k)!r}; choose another --out, "
                        "give the same settings to resume it, or pass --force to start afresh")
        elif any(self.folder.iterdir()) and not self.force:
            raise ConfigError(f"{str(self.folder)!r} exists and holds no {self.kind}; choose "
                              "another --out, or pass --force")
        else:
            files.atomic_write_text(path, json.dumps(
                {"kind": self.kind, "fixed": self.fixed}, indent=2) + "\n")
            self._new.append(path)
        if not self.cells.is_dir():
            self.cells.mkdir()
            self._new.append(self.cells)
        files.remove_temporaries(self.cells, ())  # a killed study's half-written cells

    def done(self, cell):
        """The row of ``cell`` if an earlier run finished it (its coordinates match)."""
        if self.folder is None:
            return None
        try:
            record = json.loads((self.cells / f"{cell.key}.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("coords") != _plain(cell.coords) or \
                record.get("seed") != cell.seed:
            return None
        self.written += 1
        return record["row"]

    def write(self, cell, row: dict, seconds: float, run_files: dict | None = None) -> None:
        if self.folder is None:
            return
        if run_files:
            folder = self.cells / cell.key
            if folder.exists():  # a run folder whose row was never written: replaced
                shutil.rmtree(folder)
            folder.mkdir()
            with files.Staged(folder) as staged:
                for name, data in run_files.items():
                    staged.write_bytes(name, data)
                staged.commit(last="model.safetensors" if "model.safetensors" in run_files
                              else None)
        files.atomic_write_text(self.cells / f"{cell.key}.json", json.dumps(
            {"coords": _plain(cell.coords), "seed": cell.seed, "row": row,
             "seconds": seconds}, indent=2) + "\n")
        self.written += 1

    def __exit__(self, etype, exc, tb):
        if self.folder is None:
            return
        self._release(remove=exc is not None and not self.written)
        if exc is not None and self._explained(exc) is not exc:
            raise self._explained(exc) from None

    def _explained(self, exc):
        """A failed write in the folder as one line saying what is kept; else ``exc``."""
        if not (isinstance(exc, OSError) and exc.errno is not None and
                files.error_inside(exc, self.folder)):
            return exc
        where = exc.filename2 if exc.filename2 is not None else exc.filename
        n = self.written
        fix = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
            "once it can be written"
        then = (f"{n} finished cell{'s' * (n != 1)} {'are' if n != 1 else 'is'} kept: {fix}, "
                "then run the same command to resume" if n else
                "nothing of this study was left behind")
        return SynapseError(f"cannot write {str(where)!r}: {exc.strerror}; {then}")

    def _release(self, remove=False):
        if remove and self._made is not None:  # what this study made, as nothing is kept
            with contextlib.suppress(OSError):
                shutil.rmtree(self._made)
        elif remove:
            for p in reversed(self._new):
                with contextlib.suppress(OSError):
                    p.rmdir() if p.is_dir() else p.unlink()
        files.unlock_folder(self._lock)
        self._lock = self._made = None
        self._new = []


def _plain(coords: dict) -> dict:
    return json.loads(json.dumps(coords))


