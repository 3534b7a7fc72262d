"""Digital baselines: the same network on a digital processor, from the digital substrate's
counters (multiply-adds per vector) and the constants of ``cost.constants``.

A processor at a technology node (Horowitz 2014 at 45 nm, Jouppi et al. 2021 at 7 nm):

    E = MACs · (E_mult + E_add)                        arithmetic (int8: int32 accumulation)
      + weights · bytes / 8 / batch · E_mem(level)     the weights fetched once per batch from
                                                       the smallest SRAM that holds them, DRAM
                                                       beyond 1 MB
      + Σ_layers (n_in + n_out) · bytes / 8 · E_SRAM(8 kB)   activations read and written
      + outputs · (E_add + E_add)                       bias and activation

A datacentre GPU at its peak: E = 2 · MACs / (peak op/s) · P_TDP — the best case, far from a
batch-1 inference, whose latency kernel launches dominate.

Training, per epoch, from the counters of a digital training epoch: forward, backward and
update multiply-adds, and per update the weights read and written once.
"""

from __future__ import annotations

from .chip import sram_level

PRECISIONS = {"fp32": (4, "e_mult_fp32", "e_add_fp32"), "int8": (1, "e_mult_int8", "e_add_int32")}


def processor(name, counters, layers, p, precision="int8", batch=1) -> dict:
    """Energy per inference of the network on a digital processor with the constants ``p``
    (one node), weights fetched once per ``batch`` inferences."""
    nbytes, mult, add = PRECISIONS[precision]
    e_mac = p[mult].value + p[add].value
    n = counters[0].vectors
    macs = sum(c.macs for c in counters) / n
    weight_bytes = sum(l.n_in * l.n_out + l.n_out for l in layers) * nbytes
    level, e_mem = sram_level(p, weight_bytes)
    acts = sum(l.n_in + l.n_out for l in layers) * nbytes
    outputs = sum(l.n_out for l in layers)
    e = {"arithmetic": macs * e_mac,
         "weights": weight_bytes / 8 / batch * e_mem,
         "activations": acts / 8 * p.sram_8kb,
         "bias_activation": outputs * 2 * p[add].value}
    return {"name": name, "energy_j": sum(e.values()), "breakdown": e, "latency_s": None,
            "precision": precision, "batch": batch, "weights_from": level,
            "weight_bytes": weight_bytes, "macs": macs, "node": p.feature}


def processor_training(counters, layers, p, precision="fp32", updates=1) -> dict:
    """Energy of a digital training run from its counters (forward, backward and update
    multiply-adds) and its number of weight updates."""
    nbytes, mult, add = PRECISIONS[precision]
    e_mac = p[mult].value + p[add].value
    macs = sum(c.macs + c.backward_macs + c.update_macs for c in counters)
    weight_bytes = sum(l.n_in * l.n_out + l.n_out for l in layers) * nbytes
    level, e_mem = sram_level(p, weight_bytes)
    vectors = counters[0].vectors if counters else 0
    # per sample: activations written forward and read back for the backward pass and update
    acts = vectors * sum(l.n_in + l.n_out for l in layers) * nbytes * 3
    e = {"arithmetic": macs * e_mac, "weights": updates * 2 * weight_bytes / 8 * e_mem,
         "activations": acts / 8 * p.sram_8kb}
    return {"energy_j": sum(e.values()), "breakdown": e, "weights_from": level}


def gpu(counters, p, kind="int8") -> dict:
    """A datacentre GPU at its peak rate and full power: the best case."""
    n = counters[0].vectors
    ops = 2 * sum(c.macs for c in counters) / n
    rate = p.gpu_int8_ops if kind == "int8" else p.gpu_fp32_ops
    t = ops / rate
    return {"name": f"GPU at peak ({kind}, H100 SXM)", "energy_j": t * p.gpu_power,
            "latency_s": t, "precision": kind, "ops": ops,
            "note": "at peak throughput and full power; a batch-1 inference runs far below "
                    "peak (kernel launches alone take microseconds)"}


def measured_chips(macs, p) -> dict:
    """The energy the measured analog chips' efficiencies imply for ``macs`` multiply-adds
    (two operations each)."""
    ops = 2 * macs
    return {"hermes_j": (ops / p.hermes_high, ops / p.hermes_low),
            "ambrogio_j": ops / p.ambrogio,
            "range_j": (ops / p.ambrogio, ops / p.hermes_low),
            "best_ops_per_j": max(p.hermes_high, p.ambrogio)}
