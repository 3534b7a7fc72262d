"""``synapsenet hardware``: list the hardware presets, or print one as TOML."""

from __future__ import annotations

from . import chip, ui


def add_parser(sub):
    h = sub.add_parser("hardware", help="list hardware presets or print one as TOML")
    h.add_argument("preset", nargs="?", help="preset name or file to print as TOML")


def run(args) -> int:
    if args.preset:
        print(chip.as_toml(args.preset), end="")
        return 0
    out = ui.console()
    ui.table(chip.PRESET_COLUMNS, chip.preset_rows(), overflow="fold", out=out)
    out.print("Print one as TOML to edit it: synapsenet hardware pcm > chip.toml; then "
              "synapsenet evaluate MODEL --hardware chip.toml")
    return 0
