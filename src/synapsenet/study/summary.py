"""A study's summary: the rows in grid order, their mean ± std over seeds per point of the
grid, and the files: NAME.csv (a row per cell), NAME.json (everything), NAME.png (a line
for one parameter, a heat map for two or more)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from .grid import SEED


def points(rows: list[dict], parameters: list[str], metric: str, means=()) -> list[dict]:
    """Per point of the grid (the parameters' values, over the seeds): the metric's mean,
    std, min and max, and the mean of each column in ``means`` (None where no cell of the
    point has one), in the order the points first appear."""
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(tuple(json.dumps(r[p]) for p in parameters), []).append(r)
    out = []
    for members in groups.values():
        a = [m[metric] for m in members if m.get(metric) is not None]
        stats = {"mean": float(np.mean(a)), "std": float(np.std(a)), "min": float(np.min(a)),
                 "max": float(np.max(a))} if a else {"mean": None, "std": None, "min": None,
                                                     "max": None}
        extra = {}
        for name in means:
            v = [m[name] for m in members if m.get(name) is not None]
            extra[name] = float(np.mean(v)) if v else None
        out.append({**{p: members[0][p] for p in parameters}, **stats, **extra,
                    "n": len(members)})
    return out


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    w = csv.DictWriter(buf, columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else "" if v is None else v)
                    for k, v in r.items()})
    return buf.getvalue()


def write(folder, name: str, result: dict, title: str) -> list[str]:
    """NAME.csv, NAME.json and NAME.png into ``folder``, put in place together."""
    from ..files import Staged
    from ..plots import plot_grid

    folder = Path(folder)
    names = [f"{name}.csv", f"{name}.json", f"{name}.png"]
    with Staged(folder) as staged:
        staged.write_text(names[0], csv_text(result["rows"]))
        staged.write_text(names[1], json.dumps(result, indent=2) + "\n")
        with staged.file(names[2]) as path:
            params = result["parameters"] or [SEED]
            pts = result["summary"] if result["parameters"] else \
                points(result["rows"], [SEED], result["metric"])
            plot_grid(pts, params, path, metric=result["metric"],
                      reference=result.get("digital_accuracy"), title=title)
        staged.commit()
    return names
