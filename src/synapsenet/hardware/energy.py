"""Energy per inference: the analog chip, a digital processor, and the brain.

Counted from the same operations the simulation performs:

analog, per layer and inference
    crossbar  Σ_i V_i² t Σ_j (G⁺_ij + G⁻_ij)   — every device conducts while its row is driven;
              V_i = x_i · V_read with amplitude-coded inputs (bit-serial: V_read for each
              set bit, counted as (bits/2) pulses per non-zero input)
    DAC       n_in conversions × bits × energy per bit
    ADC       n_out × row blocks (× bit planes) conversions × FoM · 2^bits (Walden)
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

import numpy as np

BRAIN_WATTS = 20.0


def energy_report(chip, n_inferences: int = 1, X=None) -> dict:
    cfg = chip.config
    e, io = cfg.energy, cfg.io
    dac_bits = io.dac_bits or 8  # an ideal converter is costed as 8 bits
    adc_bits = io.adc_bits or 8
    adc_conv = e.adc_fom * 2 ** adc_bits
    layers = []
    Z = None if X is None else chip.network._check_X(X)[0]
    for al in chip.layers:
        if Z is None:
            x2 = np.ones(al.n_in)  # full-scale inputs: an upper bound
            nz = np.ones(al.n_in)
        else:
            s = np.abs(Z).max(axis=1, keepdims=True)
            s[s == 0] = 1
            Xn = Z / s if io.input_scaling == "abs_max" else np.clip(Z / io.input_range, -1, 1)
            x2 = (Xn.astype(np.float64) ** 2).mean(axis=0)
            nz = (Xn != 0).mean(axis=0)
            Z = al.layer.forward(Z)
        G = al.G_sum_rows * 1e-6  # µS → S
        planes = 1
        if io.bit_serial:
            xbar = e.read_voltage ** 2 * e.read_time * float(nz @ G) * (dac_bits - 1) / 2
            planes = 2 * (dac_bits - 1)  # bit planes × signs, upper bound on ADC reads
        else:
            xbar = e.read_voltage ** 2 * e.read_time * float(x2 @ G)
        dac = al.n_in * dac_bits * e.dac_energy_per_bit
        adc = al.n_out * al.n_row_blocks * planes * adc_conv
        digital = al.n_out * ((al.n_row_blocks - 1 + 1) * e.digital_add + 2 * e.digital_mul)
        macs = al.n_in * al.n_out
        dig_ref = macs * (e.digital_mul + e.digital_add) + (macs + al.n_out) * 4 / 8 * \
            e.sram_read_64bit
        layers.append({"layer": repr(al.layer), "tiles": al.n_tiles, "crossbar_j": xbar,
                       "dac_j": dac, "adc_j": adc, "digital_periphery_j": digital,
                       "analog_j": xbar + dac + adc + digital, "digital_j": dig_ref})
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
        "inputs": "measured" if X is not None else "full-scale (upper bound)",
        "layers": layers,
    }
