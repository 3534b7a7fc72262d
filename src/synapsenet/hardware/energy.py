"""Energy per inference: the analog chip, a digital processor, and the brain.

Counted from the operations the chip performed (its substrate's counters, collected while it
computes the given inputs), never re-derived:

analog, per layer and inference
    crossbar  Σ_i V_i² t Σ_j (G⁺_ij + G⁻_ij)   — every device conducts while its row is driven;
              V_i = x_i · V_read with amplitude-coded inputs (bit-serial: V_read for each
              set bit of each bit plane applied)
    DAC       n_in conversions × bits × energy per bit
    ADC       n_out × row blocks × input phases conversions × FoM · 2^bits (Walden)
    digital   partial-sum additions, input/weight rescaling, bias: fp32 adds and multiplies

digital, per inference (batch 1, fp32, weights from on-chip SRAM)
    MACs × (multiply + add) + parameters × 4 B / 8 B × 64-bit SRAM read

Default per-operation energies: Horowitz, "Computing's energy problem (and what we can do
about it)", ISSCC 2014 (45 nm: fp32 multiply 3.7 pJ, add 0.9 pJ, 64-bit read from an 8 kB
SRAM 10 pJ); the ADC figure of merit (50 fJ per conversion step) and DAC energy are
assumptions in the range of published converters, configurable in ``EnergyConfig``.
The brain: about 20 W for everything it does.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ConfigError

BRAIN_WATTS = 20.0


def energy_report(network, n_inferences: int = 1, X=None) -> dict:
    """Energy per inference of ``network`` on its analog substrate, counted from the
    operations the chip performs while it computes X (None: one all-ones input, every
    input at full scale), set beside a digital fp32 processor and the brain."""
    from .crossbar import Analog

    chip = network.substrate
    if not isinstance(chip, Analog):
        raise ConfigError(f"energy_report needs a network on the analog substrate (see "
                          f"hardware.deploy), not on {chip!r}")
    cfg = chip.config
    e, io = cfg.energy, cfg.io
    dac_bits = io.dac_bits or 8  # an ideal converter is costed as 8 bits
    adc_bits = io.adc_bits or 8
    adc_conv = e.adc_fom * 2 ** adc_bits
    Z = np.ones((1, network.n_inputs), network.dtype) if X is None else X
    saved, chip.meter = chip.meter, True
    chip.counters.reset()
    try:
        network.predict(Z)
    finally:
        chip.meter = saved
    counted = chip.counters.layers
    n = counted[0].vectors
    layers = []
    for layer, c in zip(network.layers, counted):
        array = chip.arrays[len(layers)]
        xbar = e.read_voltage ** 2 * e.read_time * c.input_energy_units / n
        dac = c.dac_conversions / n * dac_bits * e.dac_energy_per_bit
        adc = c.adc_conversions / n * adc_conv
        # digital periphery: the partial sums of the row blocks added, the scale and bias
        digital = layer.n_out * (array.n_row_blocks * e.digital_add + 2 * e.digital_mul)
        macs = c.macs // n
        dig_ref = macs * (e.digital_mul + e.digital_add) + (macs + layer.n_out) * 4 / 8 * \
            e.sram_read_64bit
        layers.append({"layer": repr(layer), "tiles": array.n_tiles, "crossbar_j": xbar,
                       "dac_j": dac, "adc_j": adc, "digital_periphery_j": digital,
                       "analog_j": xbar + dac + adc + digital, "digital_j": dig_ref,
                       "counts": dataclasses.asdict(c)})
    analog = sum(l["analog_j"] for l in layers)
    digital = sum(l["digital_j"] for l in layers)
    return {
        "analog_j_per_inference": analog,
        "digital_j_per_inference": digital,
        "digital_over_analog": digital / analog if analog else float("inf"),
        "inferences": n_inferences,
        "analog_j_total": analog * n_inferences,
        "digital_j_total": digital * n_inferences,
        "brain_watts": BRAIN_WATTS,
        "analog_inferences_per_s_at_20w": BRAIN_WATTS / analog if analog else float("inf"),
        "digital_inferences_per_s_at_20w": BRAIN_WATTS / digital if digital else float("inf"),
        "inputs": "measured" if X is not None else "one full-scale input",
        "layers": layers,
    }
