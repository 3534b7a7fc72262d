"""The tables of ``synapsenet cost``, ``reproduce`` and ``study``: their rows built from the
reports the library computes, and printed with :mod:`.ui`."""

from __future__ import annotations

from . import ui


def _j(v) -> str:
    return ui.si(v, "J")


def _s(v) -> str:
    return ui.si(v, "s")


def show_cost(r) -> None:
    """The ledger of ``synapsenet cost``: the model beside the brain, digital processors,
    this machine and the chip, the chip's energy by term, and what it implies."""
    out = ui.console()
    c, b, acc = r["chip"], r["brain"], r["accuracy"]
    tr = r.get("training")
    learn = {}
    if tr:
        learn["chip"] = f"{_j(tr['per_epoch']['energy_j'])}, {_s(tr['per_epoch']['latency_s'])}"
        for base in tr["baselines"]:
            learn[base["name"]] = _j(base["energy_j"])
        if tr.get("machine"):
            m = tr["machine"]
            learn["machine"] = (f"{_j(m['energy_j'])}, " if m["energy_j"] is not None else "") + \
                _s(m["seconds"])
    digital = ui.percent(acc["digital"])
    rows = [("brain", "parallel, spikes", f"{_j(b['energy_j'])} (20 W × 150 ms); "
             f"{_j(b['event_j'][0])}–{_j(b['event_j'][1])} per synaptic event",
             _s(b["latency_s"]), f"~{b['bits_per_synapse']} bits/synapse", "graceful", "—",
             "—")]
    for base in r["baselines"]:
        name = base["name"]
        if name.startswith("this machine"):
            energy = _j(base["energy_j"]) if base["energy_j"] is not None else "(--watts)"
            rows.append((f"this machine, {base['cores']} cores", "serial + SIMD", energy,
                         _s(base["latency_s"]), "fp32", digital, learn.get("machine", "—"),
                         "—"))
            continue
        key = next((k for k in learn if name.startswith(k)), None)
        org = "parallel" if name.startswith("GPU") else \
            f"serial, weights in {base.get('weights_from', '?').replace('sram_', '')}"
        rows.append((name, org, _j(base["energy_j"]), _s(base.get("latency_s")),
                     base["precision"], digital, learn.get(key, "—") if key else "—", "—"))
    bits = c["precision"]
    rows.append((f"the chip: {r['hardware']}, {r['node']}", "parallel, in memory",
                 _j(c["energy_j"]), _s(c["latency_s"]),
                 f"DAC {bits['dac_bits']} b, ADC {bits['adc_bits']} b "
                 f"({bits['adc_enob']:.1f} eff.)", ui.percent(acc["chip"]),
                 learn.get("chip", "—"), f"{c['area_m2'] * 1e6:.3g} mm²"))
    ui.table(("", "organisation", "energy / inference", "latency", "precision", "accuracy",
              "learning / epoch", "area"), rows,
             title=f"{r['model']}: what it costs ({r['samples']} {r['dataset']} inputs, "
             f"{r['inputs']})", overflow="fold", out=out)
    total = c["energy_j"]
    ui.table(("term", "J / inference", "share"),
             [(k, f"{v:.3g}", f"{100 * v / total:.1f}%" if total else "—")
              for k, v in r["breakdown"].items()],
             title="the chip's energy, by term", out=out)
    lo, hi = r["digital_over_analog"]
    m = r["measured_chips"]
    out.print(f"digital / chip: ×{lo:.3g}–×{hi:.3g} over the baselines; pipelined "
              f"{c['throughput_per_s']:.3g} inferences/s at {_j(c['pipelined_energy_j'])} "
              f"each; {c['ops_per_j'] / 1e12:.3g} TOPS/W")
    out.print(f"measured analog chips imply {m['range_j'][0]:.3g}–{m['range_j'][1]:.3g} J "
              f"for these {c['macs']:,} multiply-adds (Ambrogio et al. 2023, 12.4 TOPS/W; "
              "IBM HERMES 2.48–9.76 TOPS/W)")
    prog = c["programming"]
    out.print(f"programming the {prog['devices']:,} devices once (program-and-verify): "
              f"{_j(prog['energy_j'])} in {_s(prog['latency_s'])}")
    if tr:
        pe = tr["per_epoch"]
        out.print(f"training on the chip ({tr['device']} devices), per epoch of "
                  f"{tr['epoch_samples']} samples (counted on {tr['samples_trained']}): "
                  f"{_j(pe['energy_j'])}, writes {_j(pe['write_energy_j'])} in "
                  f"{_s(pe['write_latency_s'])}, reads {_s(pe['read_latency_s'])}")
    out.print(f"{len(r['assumptions'])} constants, each with its unit and source: "
              "--json FILE lists them, docs/cost.md explains them")


def neurosim_rows(result) -> list[tuple]:
    """The table's rows: configuration, our accuracy (the mean of the last epochs, and after
    the last), NeuroSim's, the difference, the tier and whether it is met."""
    out = []
    for name, rec in result["devices"].items():
        ours, theirs = rec["final"], rec["published"]
        tier = result["tiers"].get(name)
        out.append((name, ui.percent(ours), ui.percent(rec["accuracy"][-1]),
                    f"~{100 * theirs:.0f}%", f"{100 * (ours - theirs):+.1f}",
                    tier["tier"] if tier else "",
                    ("yes" if tier["ok"] else "no") if tier else ""))
    return out


def show_neurosim(con, result):
    """The accuracy table of NeuroSim's benchmark, its cost table, and the summary line."""
    p = result["protocol"]
    k = min(result["plateau_epochs"], p["epochs"])
    ui.table(("", "ours", "last epoch", "NeuroSim", "Δ points", "tier", "in tier"),
             neurosim_rows(result), out=con, justify="right",
             title=f"MNIST test accuracy, {p['network']}, {p['epochs']} epoch(s) of "
             f"{p['images_per_epoch']:,} images"
             + (f" (ours: the mean of the last {k})" if k > 1 else ""))
    placed = [t["ok"] for t in result["tiers"].values()]
    line = f"{sum(placed)}/{len(placed)} devices in NeuroSim's tiers" if placed else ""
    if "spearman" in result:
        line += f"; Spearman's rank correlation with the published accuracies " \
                f"{result['spearman']:.2f}"
    _show_neurosim_cost(con, result)
    minutes, seconds = divmod(round(result["seconds"]), 60)
    con.print(f"{line}{'; ' if line else ''}{minutes}:{seconds:02d} on {result['jobs']} "
              "process(es)")


def neurosim_cost_rows(result) -> list[tuple]:
    """The cost table's rows: per metered device, ours for the run (energy, latency, the
    writes' share of it), the full protocol's (scaled where the run was shorter) beside
    Table II's, and the ratios ours/theirs."""
    si, out = ui.si, []
    for name, c in result["cost"]["devices"].items():
        r = result["devices"][name]
        pair = lambda ours, theirs, unit: f"{si(ours, unit)} / {si(theirs, unit)}"  # noqa: E731
        out.append((name, si(r["energy_j"], "J"), si(r["latency_s"], "s"),
                    f"{r['write_latency_s'] / r['latency_s']:.0%}" if r["latency_s"] else "",
                    pair(r["full_neurosim_terms_energy_j"], c["published_energy_j"], "J"),
                    f"×{c['energy_ratio']:.2g}",
                    pair(r["full_latency_s"], c["published_latency_s"], "s"),
                    f"×{c['latency_ratio']:.2g}",
                    f"{r['area_m2'] * 1e12:,.0f} / {c['published_area_m2'] * 1e12:,.0f}",
                    f"×{c['area_ratio']:.2g}", "yes" if c["within"] else "no"))
    return out


def _show_neurosim_cost(con, result):
    c = result["cost"]
    if not c["devices"]:
        return
    scale = result["devices"][next(iter(c["devices"]))]["full_run_scale"]
    ui.table(("", "energy", "latency", "writes", "energy†: ours / Table II", "",
              "latency: ours / Table II", "", "area µm²: ours / Table II", "",
              f"within ×{c['factor']:g}"), neurosim_cost_rows(result), out=con,
             justify="right",
             title="What training cost on the chip, for the run (read + write, 45 nm "
             "periphery)" + (f"; beside Table II, the full protocol: ×{scale:,.4g} this run"
                             if scale != 1 else ""))
    con.print(f"† the terms NeuroSim models too (arrays, lines, drivers, ADCs, adders, write "
              f"pulses). {c['within']}/{len(c['devices'])} devices within ×{c['factor']:g} of "
              "Table II on both energy and latency; docs/hardware.md says what differs")


def show_study(result, dataset: str) -> None:
    """The test accuracy at every point of a study's grid, over its seeds; beside it, where
    some cell trained on a chip, the mean energy and latency its training took there."""
    names = result["parameters"]  # none: the seeds alone vary
    pts = result["summary"]
    chip = any("chip_train_energy_j" in s for s in pts)
    cost = ("chip energy", "chip latency") if chip else ()  # of the training
    ui.table((*names, "runs", "test accuracy", "± std", "min", "max", *cost),
             [(*(str(s[n]) for n in names), str(s["n"]), ui.percent(s["mean"]),
               "" if s["std"] is None else f"{100 * s['std']:.2f}", ui.percent(s["min"]),
               ui.percent(s["max"]),
               *((_j(s.get("chip_train_energy_j")), _s(s.get("chip_train_latency_s")))
                 if chip else ())) for s in pts],
             justify="right", title=f"{dataset}: test accuracy over "
             f"{' × '.join(names or ['seed'])}")
