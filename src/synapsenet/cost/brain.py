"""The brain's row: its power, its size, and the energy of one synaptic event as a range,
derived two ways from the constants of ``cost.constants.BRAIN``.

top-down    E = P · share / (N_synapses · rate)
            the power the synapses take (a share of ~20 W) over the events it pays for: every
            synapse receiving the average firing rate of its neuron
bottom-up   E = ATP per vesicle · ΔG_ATP
            the ATP one released vesicle of glutamate costs (Attwell & Laughlin 2001), at the
            free energy of ATP hydrolysis in cells

The two agree where they overlap (~10⁻¹⁴ J); the top-down range is wide because the
number of synapses and the average rate are each uncertain by an order of magnitude.
"""

from __future__ import annotations

from .constants import BRAIN


def brain(macs=None) -> dict:
    """The brain's figures, with ``macs`` (multiply-adds of one inference of a network) put
    into synaptic events, for scale."""
    b = {k: c.value for k, c in BRAIN.items()}
    top = (b["power"] * b["synaptic_share_low"] / (b["synapses_high"] * b["rate_high"]),
           b["power"] * b["synaptic_share_high"] / (b["synapses_low"] * b["rate_low"]))
    bottom = (b["atp_per_vesicle"] * b["atp_energy_low"],
              b["atp_per_vesicle"] * b["atp_energy_high"])
    event = (min(top[0], bottom[0]), max(top[1], bottom[1]))
    out = {
        "power_w": b["power"], "neurons": b["neurons"],
        "synapses": (b["synapses_low"], b["synapses_high"]),
        "event_j_top_down": top, "event_j_bottom_up": bottom, "event_j": event,
        "latency_s": b["categorisation_time"],
        # the whole brain for the time it takes to categorise a scene
        "energy_j": b["power"] * b["categorisation_time"],
        "bits_per_synapse": b["bits_per_synapse"],
        "uncertainty": "power ±25 %; synapses and average rate each within an order of "
                       "magnitude; the energy per event spans two orders",
    }
    if macs is not None:
        out["network_as_events_j"] = (macs * event[0], macs * event[1])
    return out
