"""Energy per inference of a network on the chip: the energy part of the cost model's
report (``synapsenet.cost.report``), in the shape this function has always returned.

Everything is counted from the operations the chip performed while it computed the given
inputs (its substrate's counters) and priced with the constants of ``synapsenet.cost``
(each with its value, unit, node and source; ``docs/cost.md``): the array read
supply-referred, the converters from published figures of merit at the rate the read time
implies, the digital periphery, buffers, wires and leakage. The digital figure is the
cost model's default baseline (int8 at 45 nm, the weights fetched from the memory that
holds them); the report has the others, and the brain.
"""

from __future__ import annotations

from ..errors import ConfigError

BRAIN_WATTS = 20.0


def energy_report(network, n_inferences: int = 1, X=None) -> dict:
    """Energy per inference of ``network`` on its analog substrate, counted from the
    operations the chip performs while it computes X (None: one all-ones input, every
    input at full scale — an upper bound), set beside a digital processor and the brain.
    The full ledger (latency, area, every baseline, the assumptions) is
    ``synapsenet.cost.report``."""
    from .. import cost
    from .crossbar import Analog

    chip = network.substrate
    if not isinstance(chip, Analog):
        raise ConfigError(f"energy_report needs a network on the analog substrate (see "
                          f"hardware.deploy), not on {chip!r}")
    r = cost.report(network, X)
    layers = []
    for entry in r["chip"]["layers"]:
        e = entry["energy_j"]
        layers.append({"layer": entry["layer"], "tiles": entry["tiles"],
                       "crossbar_j": e["array"] + e["lines"], "dac_j": e["dac"],
                       "adc_j": e["adc"], "digital_periphery_j": e["digital"],
                       "buffer_j": e["buffer"] + e["interconnect"],
                       "analog_j": sum(e.values()), "energy_j": e})
    analog, digital = r["analog_energy_j"], r["digital_energy_j"]
    return {
        "analog_j_per_inference": analog,
        "digital_j_per_inference": digital,
        "digital_baseline": r["digital_baseline"],
        "digital_over_analog": digital / analog if analog else float("inf"),
        "inferences": n_inferences,
        "analog_j_total": analog * n_inferences,
        "digital_j_total": digital * n_inferences,
        "leakage_j_per_inference": r["breakdown"]["leakage"],
        "brain_watts": BRAIN_WATTS,
        "analog_inferences_per_s_at_20w": BRAIN_WATTS / analog if analog else float("inf"),
        "digital_inferences_per_s_at_20w": BRAIN_WATTS / digital if digital else float("inf"),
        "inputs": r["inputs"],
        "samples": r["samples"],
        "layers": layers,
    }
