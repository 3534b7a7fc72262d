"""Studies: many runs over a grid of parameters, side by side on this machine or on a Ray
cluster, with the same rows on any backend and any number of workers.

* :func:`inference.sweep` — a trained network deployed on simulated chips over a grid of
  hardware parameters, presets, drift times and seeds (``synapsenet sweep``);
* :func:`training.study` — the same network trained over a grid of training options and chip
  presets (in-situ training), each cell a run folder (``synapsenet study``).

:mod:`.grid` names the cells and derives their seeds, :mod:`.backends` runs them, :mod:`.store`
keeps each finished cell so that a restarted study resumes, :mod:`.summary` writes the table
and the figure. ``docs/studies.md`` describes them.
"""

from __future__ import annotations

import json
import time

from .backends import BACKENDS, execute
from .grid import SEED, Axis, Grid, parse_values, parse_vary, replicates
from .store import Store
from .summary import points

__all__ = ["Axis", "BACKENDS", "Grid", "SEED", "parse_values", "parse_vary", "replicates",
           "run_grid"]


def run_grid(kind: str, grid: Grid, fn, shared: dict, task_of, fixed: dict, *, metric: str,
             out=None, name="study", title="", backend="local", workers=None, address=None,
             progress=None, info=None, force=False, means=()) -> dict:
    """Run every cell of ``grid`` not already in ``out``: ``fn(shared, task_of(cell))`` returns
    ``{"row": {...}, "files": {...}}``; the rows (in grid order), their summary (the metric's
    statistics and the mean of each column in ``means`` per point) and ``info`` make the
    result, written to ``out`` as NAME.csv, NAME.json, NAME.png."""
    cells = list(grid.cells())
    by_key = {c.key: c for c in cells}
    rows, seconds = {}, {}
    t0 = time.perf_counter()
    summary_files = [f"{name}.csv", f"{name}.json", f"{name}.png"]
    with Store(out, kind, {**fixed, "seed": grid.seed}, force=force,
               summary=summary_files) as store:
        todo = []
        for c in cells:
            row = store.done(c)
            if row is None:
                todo.append(c)
            else:
                rows[c.key] = row
        resumed = len(rows)
        if progress:
            progress(resumed, len(cells))

        def on_result(key, result, s):
            row = json.loads(json.dumps(result["row"]))  # as a resumed study reads it back
            store.write(by_key[key], row, s, result.get("files"))
            rows[key], seconds[key] = row, s

        execute(fn, shared, [(c.key, task_of(c)) for c in todo], on_result, backend=backend,
                workers=workers, address=address,
                progress=progress and (lambda d: progress(resumed + d, len(cells))))
        params = [n for n in grid.names if n != SEED]
        ordered = [rows[c.key] for c in cells]
        result = {"kind": kind, **(info or {}), "parameters": params,
                  "axes": {a.name: list(a.values) for a in grid.axes}, "seed": grid.seed,
                  "cells": len(cells), "metric": metric,
                  "summary": points(ordered, params, metric, means), "rows": ordered,
                  "timing": {"backend": backend, "workers": workers, "cells_run": len(todo),
                             "cells_resumed": resumed,
                             "task_seconds": sum(seconds.values()),
                             "wall_seconds": time.perf_counter() - t0}}
        if out is not None:
            from .summary import write

            result["files"] = write(out, name, result, title)
    return result
