"""Every number the cost model uses, with its value, unit, technology node and source.

One table per kind of number, each entry a :class:`Constant`. Nothing else in
``synapsenet.cost`` holds a physical constant: the model's formulas read these (through
:func:`parameters`, which also applies a hardware file's ``[cost]`` overrides), and the
report lists every one it used as an assumption.

Where a number is an assumption rather than a published figure, its source says so and why
that value. Figures computed from a published data set (Murmann's ADC survey) say how.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Constant:
    """A number of the model: ``value`` in ``unit`` (SI, or a named unit such as "bit"),
    at technology ``node`` ("45nm", "7nm", or "any" where the node does not matter), and
    where it comes from."""

    value: float
    unit: str
    node: str
    source: str

    def __post_init__(self):
        if not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ConfigError(f"a constant's value must be a finite number, got {self.value!r}")
        if not self.unit or not self.source:
            raise ConfigError("every constant needs a unit and a source")


HOROWITZ = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", ISSCC "
            "2014, pp. 10-14 (45 nm, 0.9 V)")
JOUPPI = ("N. P. Jouppi et al., \"Ten lessons from three generations shaped Google's TPUv4i\", "
          "ISCA 2021, Table 2 (energy per operation, 45 nm vs 7 nm)")
NEUROSIM = "MLP+NeuroSim V3.0 (P.-Y. Chen, X. Peng, S. Yu), github.com/neurosim/MLP_NeuroSim_V3.0"
MURMANN = ("B. Murmann, \"ADC Performance Survey 1997-2025\", github.com/bmurmann/ADC-survey, "
           "revision 20250609")
_SURVEY_SET = ("Nyquist SAR designs with ENOB 6-9 at 10 MS/s-10 GS/s, ISSCC and VLSI 2010-2025 "
               "(n = 37)")

# -- technology nodes: digital operations, memories, wires, supply ---------------------------
_COMMON_NODE = {
    "wire_cap": Constant(0.2e-9, "F/m", "any", f"{NEUROSIM}: wire capacitance 0.2 fF/µm "
                         "(wireCapRow/Col = length · 0.2e-15/1e-6, Array.h, all nodes)"),
    "wire_activity": Constant(0.5, "1", "any", "assumption: half the bits of a moved word "
                              "toggle (random data)"),
    "clock": Constant(1e9, "Hz", "any", "assumption: a 1 GHz periphery clock (NeuroSim V3 "
                      "uses 2 GHz at 32 nm, Param.cpp)"),
    "leakage_density": Constant(1e3, "W/m^2", "any",
                                "assumption: 1 mW/mm² of periphery logic and converters "
                                "(low-power CMOS, ~1 nA of off-current per µm of transistor "
                                "width, ~1 µm of width per µm² of layout, × V_DD); the "
                                "non-volatile arrays themselves do not leak"),
}

NODES: dict[str, dict[str, Constant]] = {
    "45nm": {
        "feature": Constant(45e-9, "m", "45nm", "the technology node's feature size F"),
        "vdd": Constant(0.9, "V", "45nm", f"{HOROWITZ}: the figures are at 0.9 V"),
        "e_add_int8": Constant(0.03e-12, "J", "45nm", f"{HOROWITZ}: 8-bit add"),
        "e_add_int32": Constant(0.1e-12, "J", "45nm", f"{HOROWITZ}: 32-bit add"),
        "e_mult_int8": Constant(0.2e-12, "J", "45nm", f"{HOROWITZ}: 8-bit multiply"),
        "e_add_fp16": Constant(0.4e-12, "J", "45nm", f"{HOROWITZ}: 16-bit float add"),
        "e_mult_fp16": Constant(1.1e-12, "J", "45nm", f"{HOROWITZ}: 16-bit float multiply"),
        "e_add_fp32": Constant(0.9e-12, "J", "45nm", f"{HOROWITZ}: 32-bit float add"),
        "e_mult_fp32": Constant(3.7e-12, "J", "45nm", f"{HOROWITZ}: 32-bit float multiply"),
        "sram_8kb": Constant(10e-12, "J", "45nm", f"{HOROWITZ}: 64-bit read, 8 kB SRAM"),
        "sram_32kb": Constant(20e-12, "J", "45nm", f"{HOROWITZ}: 64-bit read, 32 kB SRAM"),
        "sram_1mb": Constant(100e-12, "J", "45nm", f"{HOROWITZ}: 64-bit read, 1 MB SRAM"),
        "dram": Constant(1.95e-9, "J", "45nm", f"{HOROWITZ}: 64-bit DRAM access, 1.3-2.6 nJ "
                         "(the midpoint)"),
        "area_add_int32": Constant(137e-12, "m^2", "45nm", f"{HOROWITZ}: 32-bit adder, 137 µm²"),
        "area_add_fp16": Constant(1360e-12, "m^2", "45nm", f"{HOROWITZ}: 16-bit float adder, "
                                  "1360 µm²"),
        "area_mult_fp16": Constant(1640e-12, "m^2", "45nm", f"{HOROWITZ}: 16-bit float "
                                   "multiplier, 1640 µm²"),
        "sram_cell": Constant(0.346e-12, "m^2", "45nm", "K. Mistry et al., \"A 45nm logic "
                              "technology with high-k + metal gate transistors…\", IEDM 2007 "
                              "(Intel 45 nm 6T SRAM cell, 0.346 µm²)"),
    },
    "7nm": {
        "feature": Constant(7e-9, "m", "7nm", "the node's name (its real pitches are larger: "
                            "cell areas in F² at 7 nm are optimistic)"),
        "vdd": Constant(0.75, "V", "7nm", "assumption: a 7 nm FinFET core supply of 0.75 V"),
        "e_add_int8": Constant(0.007e-12, "J", "7nm", f"{JOUPPI}: 8-bit add"),
        "e_add_int32": Constant(0.03e-12, "J", "7nm", f"{JOUPPI}: 32-bit add"),
        "e_mult_int8": Constant(0.07e-12, "J", "7nm", f"{JOUPPI}: 8-bit multiply"),
        "e_add_fp16": Constant(0.16e-12, "J", "7nm", f"{JOUPPI}: 16-bit float add"),
        "e_mult_fp16": Constant(0.34e-12, "J", "7nm", f"{JOUPPI}: 16-bit float multiply"),
        "e_add_fp32": Constant(0.38e-12, "J", "7nm", f"{JOUPPI}: 32-bit float add"),
        "e_mult_fp32": Constant(1.31e-12, "J", "7nm", f"{JOUPPI}: 32-bit float multiply"),
        # memories scaled far less than logic (the same paper's first lesson): kept at 45 nm
        **{k: Constant(v.value, v.unit, "7nm", f"assumption: the 45 nm figure kept ({JOUPPI}, "
                       f"lesson 1: memory energy scaled far less than logic); {v.source}")
           for k, v in (("sram_8kb", Constant(10e-12, "J", "45nm", f"{HOROWITZ}: 8 kB")),
                        ("sram_32kb", Constant(20e-12, "J", "45nm", f"{HOROWITZ}: 32 kB")),
                        ("sram_1mb", Constant(100e-12, "J", "45nm", f"{HOROWITZ}: 1 MB")),
                        ("dram", Constant(1.95e-9, "J", "45nm", f"{HOROWITZ}: DRAM")))},
        **{k: Constant(v * (7 / 45) ** 2, "m^2", "7nm", f"assumption: {HOROWITZ}'s 45 nm area "
                       f"× (7/45)² (first-order scaling)")
           for k, v in (("area_add_int32", 137e-12), ("area_add_fp16", 1360e-12),
                        ("area_mult_fp16", 1640e-12))},
        "sram_cell": Constant(0.027e-12, "m^2", "7nm", "J. Chang et al., \"A 7nm 256Mb SRAM in "
                              "high-k metal-gate FinFET technology…\", ISSCC 2017 (TSMC 7 nm "
                              "high-density 6T cell, 0.027 µm²)"),
    },
}
for _table in NODES.values():
    _table.update(_COMMON_NODE)

# SRAM levels, by the capacity they serve (bytes): the memory a digital processor fetches the
# weights from is the smallest that holds them; beyond the largest, DRAM
SRAM_LEVELS = ((8 * 1024, "sram_8kb"), (32 * 1024, "sram_32kb"), (1024 * 1024, "sram_1mb"))

# -- the analog chip: arrays, converters, periphery ---------------------------------------
CHIP: dict[str, Constant] = {
    "read_time": Constant(10e-9, "s", "any", "synapsenet EnergyConfig.read_time default "
                          "(integration time per input phase)"),
    "read_voltage": Constant(0.2, "V", "any", "synapsenet EnergyConfig.read_voltage default "
                             "(full-scale read pulse)"),
    "dac_energy_per_bit": Constant(0.05e-12, "J", "any",
                                   "synapsenet EnergyConfig.dac_energy_per_bit default "
                                   "(assumption: ~2^b unit capacitors of ~1 fF switched at "
                                   "V_DD, in the range of published converters)"),
    "adc_fom": Constant(33.8e-15, "J", "any", f"{MURMANN}: median Walden FoM "
                        f"P/(f_s·2^ENOB) of {_SURVEY_SET}; 10th percentile 18.6 fJ, 90th "
                        "221 fJ (computed from the survey's data)"),
    "adc_fom_envelope": Constant(0.67e-15, "J", "any", f"{MURMANN}: the survey's envelope "
                                 "(mean of the 5 best FoM_W of all designs, its own method); "
                                 "for reference, not used"),
    "adc_corner": Constant(1.22e9, "Hz", "any", f"{MURMANN}: where the envelope turns up "
                           "(mean of the 5 best FoM_W/f_s); above it energy per conversion "
                           "grows as f_s (its 10 dB/decade line)"),
    "adc_enob_loss": Constant(1.4, "bit", "any", f"{MURMANN}: the 51 Nyquist designs titled "
                              "8-bit reach a median ENOB of 6.63"),
    "adc_columns": Constant(16, "1", "any", f"{NEUROSIM}: numColMuxed = 16 columns share one "
                            "read circuit (Param.cpp)"),
    "adc_area": Constant(0.0032e-6, "m^2", "any", f"{MURMANN}: 10th percentile core area of "
                         f"{_SURVEY_SET} (median 0.028 mm²); the compact end, as a chip that "
                         "fits 256 ADCs per core needs (IBM HERMES, Le Gallo et al. 2023)"),
    "cell_f2": Constant(16, "F^2", "any", f"{NEUROSIM}: a 1T1R cell is 4F × 4F "
                        "(heightInFeatureSize = widthInFeatureSize = 4, Cell.cpp)"),
    "dac_area": Constant(100e-12, "m^2", "45nm", "assumption: a row's DAC and driver ≈ three "
                         "8-bit adders of Horowitz 2014 (36 µm² each) at 45 nm, scaled by F²"),
    "activation_bits": Constant(8, "bit", "any", "assumption: activations move and are "
                                "buffered at the next layer's input precision (the DAC's)"),
    "output_bits": Constant(16, "bit", "any", "assumption: the periphery computes and the "
                            "last layer outputs 16-bit floats (as the digital units of IBM "
                            "HERMES, Le Gallo et al. 2023)"),
    "activation_ops": Constant(4, "op", "any", "assumption: a sigmoid, tanh or softmax "
                               "element by table look-up and interpolation, ~4 fp16 ops (a "
                               "ReLU or identity: 1)"),
    "bus_bits": Constant(64, "bit", "any", "assumption: a 64-bit bus between tiles"),
    "write_voltage": Constant(1.0, "V", "any", "assumption, for a device law that gives no "
                              "pulse voltage (the ideal device)"),
    "write_width": Constant(50e-9, "s", "any", "assumption, for a device law that gives no "
                            "pulse width: 50 ns, the programming pulse of the PCM of "
                            "Nandakumar et al., Front. Neurosci. 14:406 (2020)"),
    "program_iterations": Constant(10, "1", "any", "assumption: iterative program-and-verify "
                                   "converges in ~10 pulse-and-read iterations per device"),
}

# per hardware preset: what its own source implies and the generic table does not
PRESET: dict[str, dict[str, Constant]] = {
    "pcm": {
        "read_time": Constant(250e-9, "s", "any", "aihwkit PCMLikeNoiseModel, t_read = 250 ns: "
                              "the read duration its statistical PCM model (Nandakumar et al., "
                              "ICECS 2019; Joshi et al., Nat. Commun. 11:2473, 2020), the "
                              "preset's source, assumes for its 1/f read noise"),
    },
}

# -- digital baselines beyond the node tables ------------------------------------------------
GPU: dict[str, Constant] = {
    "gpu_int8_ops": Constant(1979e12, "op/s", "4nm", "NVIDIA H100 Tensor Core GPU datasheet "
                             "(SXM5): 1,979 TOPS INT8 dense (3,958 with sparsity)"),
    "gpu_fp32_ops": Constant(67e12, "op/s", "4nm", "NVIDIA H100 datasheet (SXM5): 67 TFLOPS "
                             "FP32 (non-tensor)"),
    "gpu_power": Constant(700.0, "W", "4nm", "NVIDIA H100 datasheet (SXM5): max thermal "
                          "design power 700 W"),
}

# -- measured analog chips, for the sanity check ---------------------------------------------
MEASURED: dict[str, Constant] = {
    "hermes_low": Constant(2.48e12, "op/J", "14nm", "M. Le Gallo et al., \"A 64-core mixed-"
                           "signal in-memory compute chip based on phase-change memory for deep "
                           "neural network inference\", Nat. Electron. 6:680 (2023): 2.48 TOPS/W"),
    "hermes_high": Constant(9.76e12, "op/J", "14nm", "Le Gallo et al., Nat. Electron. 6:680 "
                            "(2023): up to 9.76 TOPS/W"),
    "ambrogio": Constant(12.4e12, "op/J", "14nm", "S. Ambrogio et al., \"An analog-AI chip for "
                         "energy-efficient speech recognition and transcription\", Nature "
                         "620:768 (2023): 12.4 TOPS/W"),
    "warn_factor": Constant(3.0, "1", "any", "synapsenet issue 14: warn when a modelled chip "
                            "is more than 3× more efficient than the best measured one"),
}

# -- the brain ---------------------------------------------------------------------------
BRAIN: dict[str, Constant] = {
    "power": Constant(20.0, "W", "brain", "D. Attwell, S. B. Laughlin, J. Cereb. Blood Flow "
                      "Metab. 21:1133 (2001); M. E. Raichle, D. A. Gusnard, PNAS 99:10237 "
                      "(2002): ~20 % of the body's resting metabolism, ~20 W (±25 %)"),
    "neurons": Constant(8.6e10, "1", "brain", "F. A. C. Azevedo et al., J. Comp. Neurol. "
                        "513:532 (2009): 86.1 ± 8.1 billion neurons"),
    "synapses_low": Constant(1e14, "1", "brain", "B. Pakkenberg et al., Exp. Gerontol. 38:95 "
                             "(2003): 1.5 × 10¹⁴ in the neocortex alone"),
    "synapses_high": Constant(1e15, "1", "brain", "D. A. Drachman, Neurology 64:2004 (2005): "
                              "10¹⁴-10¹⁵ synapses (an order of magnitude uncertain)"),
    "rate_low": Constant(0.1, "Hz", "brain", "P. Lennie, Curr. Biol. 13:493 (2003): the "
                         "energy budget allows an average cortical rate below 1 Hz (~0.16 Hz)"),
    "rate_high": Constant(1.0, "Hz", "brain", "Lennie 2003 (an upper bound on the average rate; "
                          "Attwell & Laughlin 2001 assumed 4 Hz in rodent cortex)"),
    "synaptic_share_low": Constant(0.3, "1", "brain", "Attwell & Laughlin 2001; C. Howarth "
                                   "et al., J. Cereb. Blood Flow Metab. 32:1222 (2012): "
                                   "synaptic transmission takes ~30-60 % of the energy"),
    "synaptic_share_high": Constant(0.6, "1", "brain", "Attwell & Laughlin 2001; Howarth "
                                    "et al. 2012: the upper end of the synaptic share"),
    "atp_per_vesicle": Constant(1.64e5, "1", "brain", "Attwell & Laughlin 2001: 1.64 × 10⁵ ATP "
                                "per glutamate vesicle released (postsynaptic ion pumping, "
                                "transmitter recycling, vesicle cycling)"),
    "atp_energy_low": Constant(8.3e-20, "J", "brain", "ΔG of ATP hydrolysis in cells, −50 to "
                               "−60 kJ/mol (biochemistry textbooks, e.g. Berg et al., "
                               "Biochemistry), per molecule"),
    "atp_energy_high": Constant(1.0e-19, "J", "brain", "ΔG of ATP hydrolysis in cells, "
                                "−60 kJ/mol (the upper end), per molecule"),
    "categorisation_time": Constant(0.15, "s", "brain", "S. Thorpe, D. Fize, C. Marlot, "
                                    "Nature 381:520 (1996): ~150 ms to categorise a scene"),
    "bits_per_synapse": Constant(4.7, "bit", "brain", "T. M. Bartol et al., eLife 4:e10778 "
                                 "(2015): 26 distinguishable synaptic strengths, log2 26 = 4.7 "
                                 "bits (in rat hippocampus)"),
}

TABLES = {"chip": CHIP, "gpu": GPU, "measured": MEASURED, "brain": BRAIN}


def all_constants() -> dict[str, Constant]:
    """Every constant of every table, keyed ``table.name`` (nodes as ``node.NAME``,
    presets as ``preset.NAME``)."""
    out = {}
    for node, table in NODES.items():
        out.update({f"{node}.{k}": c for k, c in table.items()})
    for preset, table in PRESET.items():
        out.update({f"{preset}.{k}": c for k, c in table.items()})
    for name, table in TABLES.items():
        out.update({f"{name}.{k}": c for k, c in table.items()})
    return out


class Parameters(dict):
    """The constants one cost computation uses, name → :class:`Constant`; ``p.NAME`` is the
    value."""

    def __getattr__(self, name):
        try:
            return self[name].value
        except KeyError:
            raise AttributeError(name) from None

    def assumptions(self) -> list[dict]:
        return [{"name": k, "value": c.value, "unit": c.unit, "node": c.node,
                 "source": c.source} for k, c in sorted(self.items())]


def parameters(node="45nm", preset=None, overrides=None, where="cost") -> Parameters:
    """The constants of a chip at ``node`` made from the hardware preset ``preset`` (its own
    table where it has one), with ``overrides`` (name → value, a hardware file's ``[cost]``
    table) on top. An unknown node, an unknown name or a negative value is refused with a
    ConfigError naming it."""
    if node not in NODES:
        raise ConfigError(f"{where}: unknown technology node {node!r}; known nodes: "
                          f"{', '.join(NODES)}")
    p = Parameters({**NODES[node], **CHIP, **GPU, **MEASURED})
    p.update(PRESET.get(preset, {}))
    for name, value in (overrides or {}).items():
        if name not in p:
            raise ConfigError(f"{where}: unknown cost constant {name!r}; valid: "
                              f"{', '.join(sorted(p))}, node")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: cost constant {name!r} must be a number, got "
                              f"{value!r}") from None
        if not math.isfinite(v) or v < 0:
            raise ConfigError(f"{where}: cost constant {name!r} must be a finite number ≥ 0, "
                              f"got {value!r}")
        old = p[name]
        p[name] = Constant(v, old.unit, node, f"{where} (was {old.value:g} {old.unit}: "
                           f"{old.source})")
    return p
