"""``synapsenet devices``: the synaptic devices the chip can learn with, their update laws and
the figure hardware papers show (conductance against pulse number, step size against state)."""

from __future__ import annotations

from . import chip, ui


def add_parser(sub):
    d = sub.add_parser("devices", help="list device presets, or plot their pulse response",
                       description="Without PRESET: the device presets (NeuroSim V3's seven "
                       "devices, aihwkit's presets). With PRESET(s) (names or FILE.toml): "
                       "each law's parameters, and with --plot a figure of its pulse response "
                       "(LTP then LTD) and its step size against the state.")
    d.add_argument("presets", nargs="*", metavar="PRESET", help="device preset or law TOML")
    d.add_argument("--plot", metavar="FILE.png", help="write the pulse-response figure here")


def run(args) -> int:
    out = ui.console()
    if not args.presets:
        ui.table(chip.DEVICE_COLUMNS, chip.device_rows(), overflow="fold", out=out)
        out.print("Train on one: synapsenet hardware ideal > chip.toml, set [learning] "
                  "device = \"epiram\", then synapsenet train --hardware chip.toml")
        return 0
    laws = chip.device_laws(args.presets)
    for law in laws:
        print(law.to_toml(), end="\n")
    if args.plot:
        from ..plots import plot_pulse_response

        plot_pulse_response(laws, args.plot)
        out.print(f"pulse response of {', '.join(args.presets)} in {args.plot}")
    return 0
