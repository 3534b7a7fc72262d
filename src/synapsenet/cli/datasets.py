"""``synapsenet datasets``: the datasets there are, and where each is read from."""

from __future__ import annotations

from pathlib import Path

from . import ui


def add_parser(sub):
    d = sub.add_parser("datasets", help="list the datasets and where they are read from")
    d.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST IDX files")


def run(args) -> int:
    from ..datasets import BUILTIN, DESCRIPTIONS, FILE_FORMATS, IDX_SETS
    from ..datasets.mnist import cache_dir, find

    rows = [(n, DESCRIPTIONS[n], "built in" if n != "digits" else "built in (scikit-learn)")
            for n in BUILTIN]
    for n in IDX_SETS:
        found = find(n, args.data_dir)
        where = (f"found: {Path(next(iter(found.values()))).parent}" if found else
                 f"not found; would download to {cache_dir() / n}")
        rows.append((n, DESCRIPTIONS[n], where))
    rows += [(form, what, "your files" if form.startswith("idx:") else "your file")
             for form, what in FILE_FORMATS.items()]
    out = ui.console()
    ui.table(("name", "what", "source"), rows, out=out)
    out.print("MNIST files are looked for in --data-dir, $SYNAPSENET_DATA, then the cache "
              f"({cache_dir()}), each directly or in a sub-folder named after the set. Your own "
              "IDX files with MNIST's names (raw or .gz): --dataset idx:DIR. mnist and "
              "fashion-mnist are the published files, checked against their checksums.")
    return 0
