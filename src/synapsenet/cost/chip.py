"""Energy, latency and area of the analog chip, from the counters of the substrate that did
the work (``substrate.LayerCounts``) and the constants of ``cost.constants`` only.

Per layer, over the reads it counted (forward and, in training, backward):

array        V_DD · V_read · t_read · Σ_reads Σ_i |v_i| Σ_j (G⁺ + G⁻)      (supply-referred:
             the drivers draw the column currents from V_DD; ``input_drive_units``)
lines        Σ_reads Σ_i |v_i| · C_row · V_read · V_DD  +  line phases · C_wl · V_DD²
             (each driven input line charged to |v_i| V_read, every word line of a 1T1R row
             to V_DD; C = length · 0.2 fF/µm, NeuroSim's wire)
dac          conversions · bits · E_bit  (a bit-serial plane: a 1-bit driver)
adc          conversions · FoM(f_s) · 2^ENOB,  ENOB = bits − loss,
             FoM(f_s) = FoM · (1 + f_s / f_corner),  f_s = columns per ADC / t_read
             (each ADC converts its columns while the next phase integrates)
digital      accumulations (conversions − outputs) · E_add,int32 + outputs · (2 E_mult,fp16
             (input and weight scales) + E_add,fp16 (bias) + activation ops · E_add,fp16)
buffer       vectors · (n_in · activation bits + n_out · output bits) / 64 · E_SRAM(8 kB)
interconnect vectors · n_out · bits · hop · C_wire · V_DD² · activity  (hop: one tile side)
leakage      P_static · time  (P_static = leakage density × periphery area)

training, over its pulses (NeuroSim V3's ``WriteEnergyCalculation`` for a 1T1R cell)
write        Σ_dir V_dir² t_dir Σ_pulses G + V_dir² C_col · pulses_dir
             + rows written · (2 C_wl V_DD² + C_row V_up²)
refresh      refreshes · (2 resets + iterations · (a pulse + a verify read))
update       deterministic scheme: the δᵀz of each update in digital, E_mult,int8 + E_add,int32
             per multiply-add (the stochastic scheme makes it in the array by coincidences)

Latency per layer at batch 1: t_DAC (one clock) + phases · t_read (integration; the
conversions of a phase overlap the next phase) + t_read (the last phase's conversions) +
digital (per ADC lane: its columns × ops per output, one op per clock) + moving the outputs
(a 64-bit bus). Pipelined, each layer works on its own tiles: one inference per slowest
stage. Training writes row by row, column batches in parallel (NeuroSim):
Σ_dir write steps · t_dir.
"""

from __future__ import annotations

import math

from ..errors import ConfigError

TERMS = ("array", "lines", "dac", "adc", "digital", "buffer", "interconnect", "leakage")
TRAINING_TERMS = ("write", "refresh", "update")


def encoding_of(cfg, encoding=None) -> str:
    """How inputs are applied: the chip's own (bit-serial if its config says so, else
    amplitude) unless ``encoding`` ("amplitude", "pwm") says otherwise; a bit-serial chip
    is bit-serial whatever is asked, since its counts are per bit plane."""
    if cfg.io.bit_serial:
        return "bit_serial"
    if encoding in (None, "amplitude", "pwm"):
        return encoding or "amplitude"
    raise ConfigError(f"encoding must be 'amplitude' or 'pwm' (bit-serial comes from the "
                      f"hardware's io.bit_serial), got {encoding!r}")


class Geometry:
    """What the chip's layout contributes: line capacitances, tile area, periphery."""

    def __init__(self, cfg, p, synapse="pair"):
        t = cfg.tile
        self.rows, self.cols = t.rows, t.cols
        F = p.feature
        side = math.sqrt(p.cell_f2) * F  # a square cell's side
        self.devices_per_row = 2 * t.cols if synapse == "pair" else t.cols + 1
        self.c_row = self.devices_per_row * side * p.wire_cap  # F, one input line of a tile
        self.c_wl = self.c_row  # the word line runs alongside (gate loads not modelled)
        self.c_col = t.rows * side * p.wire_cap  # F, one column (bit line) of a tile
        self.adcs = -(-t.cols // int(p.adc_columns))
        logic = (F / 45e-9) ** 2  # first-order scaling of the 45 nm logic areas
        self.area = {
            "array": t.rows * self.devices_per_row * p.cell_f2 * F * F,
            "adc": self.adcs * p.adc_area,
            "dac": t.rows * p.dac_area * logic,
            "digital": self.adcs * (p.area_add_int32 + p.area_add_fp16 + p.area_mult_fp16),
            # one input and one output vector, double-buffered
            "buffer": 2 * (t.rows * p.activation_bits + t.cols * p.output_bits) * p.sram_cell,
        }
        self.tile_area = sum(self.area.values())
        self.periphery_area = self.tile_area - self.area["array"]
        self.hop = math.sqrt(self.tile_area)  # m, from one tile to the next


def adc_conversion_energy(p, bits, read_time):
    """(J per conversion, sample rate, ENOB): the survey's FoM at the rate the read time
    implies, applied to the effective bits."""
    fs = p.adc_columns / read_time
    enob = max(1.0, bits - p.adc_enob_loss)
    fom = p.adc_fom * (1.0 + fs / p.adc_corner)
    return fom * 2.0 ** enob, fs, enob


def activation_ops(layer, p) -> float:
    name = layer.activation.name
    return 1.0 if name in ("relu", "identity", "leaky_relu") else p.activation_ops


def sram_level(p, n_bytes: float) -> tuple[str, float]:
    """The smallest SRAM of Horowitz's table that holds ``n_bytes`` (DRAM beyond), and its
    energy per 64-bit access."""
    from .constants import SRAM_LEVELS

    for size, name in SRAM_LEVELS:
        if n_bytes <= size:
            return name, p[name].value
    return "dram", p.dram


def layer_energy(layer, array, counts, p, cfg, geo, encoding, last=False) -> dict:
    """Energy (J) of each term for what ``counts`` (one layer's LayerCounts) say the layer
    did, and the quantities they were computed from. ``last``: the network's output layer
    (its outputs leave at the output precision)."""
    c = counts
    io = cfg.io
    vdd, v_read, t_read = p.vdd, p.read_voltage, p.read_time
    col_blocks = -(-array.n_out // cfg.tile.cols)
    dac_bits = 1 if encoding == "bit_serial" else (io.dac_bits or 8)
    adc_bits = io.adc_bits or 8  # an ideal converter is costed as 8 bits
    e_conv, fs, enob = adc_conversion_energy(p, adc_bits, t_read)
    outputs = c.vectors * array.n_out
    accumulate = max(0, c.adc_conversions - outputs)
    per_output = 2 * p.e_mult_fp16 + p.e_add_fp16 + activation_ops(layer, p) * p.e_add_fp16
    bits_out = p.output_bits if last else p.activation_bits
    buffer_name, e_buffer = sram_level(p, max(array.n_in, array.n_out) * p.output_bits / 8)
    wire_per_bit = geo.hop * p.wire_cap * vdd * vdd * p.wire_activity
    e = {
        "array": vdd * v_read * t_read * c.input_drive_units,
        "lines": col_blocks * (c.input_drive * geo.c_row * v_read * vdd
                               + c.dac_conversions * geo.c_wl * vdd * vdd),
        "dac": c.dac_conversions * dac_bits * p.dac_energy_per_bit,
        "adc": c.adc_conversions * e_conv,
        "digital": accumulate * p.e_add_int32 + outputs * per_output,
        "buffer": c.vectors * (array.n_in * p.activation_bits + array.n_out * bits_out) / 64
        * e_buffer,
        "interconnect": c.vectors * array.n_out * bits_out * wire_per_bit,
    }
    # what the devices themselves dissipate (the rest of the supply's energy is the drivers')
    device = v_read * v_read * t_read * (c.input_energy_units if encoding == "amplitude"
                                         else c.input_drive_units)
    return {"energy_j": e, "device_dissipation_j": device, "adc_sample_rate_hz": fs,
            "adc_enob": enob, "adc_j_per_conversion": e_conv, "buffer": buffer_name}


def layer_latency(layer, array, counts, p, cfg) -> dict:
    """Seconds of one vector through the layer at batch 1, and its pipeline stage time."""
    c = counts
    n = max(1, c.vectors)
    phases = c.array_reads / (n * array.n_row_blocks)
    clock = 1.0 / p.clock
    t = {
        "dac": clock,
        "integration": phases * p.read_time,
        "conversion": p.read_time if c.adc_conversions else 0.0,
        "digital": p.adc_columns * (array.n_row_blocks - 1 + 3 + activation_ops(layer, p))
        * clock,
        "transfer": math.ceil(array.n_out * p.activation_bits / p.bus_bits) * clock,
    }
    stage = max(t["dac"] + t["integration"], t["conversion"], t["digital"] + t["transfer"])
    return {"latency_s": t, "total_s": sum(t.values()), "stage_s": stage, "phases": phases}


def inference(network, counters, p, encoding=None) -> dict:
    """The chip's cost per inference from the counters of an inference run (one
    LayerCounts per layer, ``vectors`` inputs each): energy per term, latency at batch 1,
    pipelined throughput, area."""
    chip = network.substrate
    cfg = chip.config
    encoding = encoding_of(cfg, encoding)
    geo = Geometry(cfg, p)
    n = counters[0].vectors
    if n == 0:
        raise ConfigError("the counters hold no inference: run the network on the chip first")
    layers, energy, latency, stage = [], dict.fromkeys(TERMS, 0.0), 0.0, 0.0
    tiles = 0
    for k, (layer, array, c) in enumerate(zip(network.layers, chip.arrays, counters)):
        le = layer_energy(layer, array, c, p, cfg, geo, encoding,
                          last=k == len(network.layers) - 1)
        lt = layer_latency(layer, array, c, p, cfg)
        per = {term: v / n for term, v in le["energy_j"].items()}
        for term, v in per.items():
            energy[term] += v
        latency += lt["total_s"]
        stage = max(stage, lt["stage_s"])
        tiles += array.n_tiles
        layers.append({"layer": repr(layer), "tiles": array.n_tiles, "energy_j": per,
                       "total_j": sum(per.values()), "latency_s": lt["latency_s"],
                       "phases": lt["phases"], "macs": c.macs // max(1, c.vectors),
                       "adc_j_per_conversion": le["adc_j_per_conversion"],
                       "adc_sample_rate_hz": le["adc_sample_rate_hz"],
                       "adc_enob": le["adc_enob"], "buffer": le["buffer"],
                       "device_dissipation_j": le["device_dissipation_j"] / n})
    area = {k: v * tiles for k, v in geo.area.items()}
    p_static = p.leakage_density * geo.periphery_area * tiles
    energy["leakage"] = p_static * latency
    total = sum(energy.values())
    pipelined = total - energy["leakage"] + p_static * stage
    macs = sum(l["macs"] for l in layers)
    return {"energy_j": total, "breakdown": energy, "latency_s": latency,
            "throughput_per_s": 1.0 / stage if stage else math.inf,
            "pipelined_energy_j": pipelined,
            "area_m2": sum(area.values()), "area": area, "tiles": tiles,
            "static_power_w": p_static, "macs": macs,
            "ops_per_j": 2 * macs / total if total else math.inf,
            "encoding": encoding, "layers": layers,
            "precision": {"dac_bits": cfg.io.dac_bits or 8, "adc_bits": cfg.io.adc_bits or 8,
                          "adc_enob": layers[0]["adc_enob"]}}


def pulse_energy(p, voltage, width, g_siemens, c_col):
    """NeuroSim's energy of one write pulse on a 1T1R cell: V² G t + V² C_col."""
    return voltage * voltage * (g_siemens * width + c_col)


def pulse_parameters(cfg, p) -> dict:
    """(V, t) of the LTP and LTD pulses of the chip's device law, or the assumed pulse
    where the law gives none (the report says which)."""
    law = cfg.learning.law()
    out = {}
    for d in ("up", "down"):
        v = getattr(law, f"pulse_voltage_{d}", None)
        t = getattr(law, f"pulse_width_{d}", None)
        out[d] = (abs(v) if v is not None else p.write_voltage,
                  t if t is not None else p.write_width, v is not None and t is not None)
    return out


def training(network, counters, p, encoding=None, synapse=None) -> dict:
    """The chip's cost of a training run from its counters (all of it: reads forward and
    backward, pulses, refreshes): energy per term, latency (reads and writes), area."""
    chip = network.substrate
    cfg = chip.config
    encoding = encoding_of(cfg, encoding)
    synapse = synapse or cfg.learning.synapse
    geo = Geometry(cfg, p, synapse)
    d = cfg.device
    g_min, span = d.g_min * 1e-6, (d.g_max - d.g_min) * 1e-6  # S
    pulses = pulse_parameters(cfg, p)
    (v_up, t_up, _), (v_dn, t_dn, _) = pulses["up"], pulses["down"]
    e_conv = adc_conversion_energy(p, cfg.io.adc_bits or 8, p.read_time)[0]
    energy = dict.fromkeys(TERMS + TRAINING_TERMS, 0.0)
    read_time = write_time = 0.0
    unmetered = False
    tiles = 0
    layers = []
    for k, (layer, array, c) in enumerate(zip(network.layers, chip.arrays, counters)):
        le = layer_energy(layer, array, c, p, cfg, geo, encoding,
                          last=k == len(network.layers) - 1)["energy_j"]
        lt = layer_latency(layer, array, c, p, cfg)
        up, down, s_up, s_dn = c.pulses_up, c.pulses_down, c.pulse_state_up, c.pulse_state_down
        steps_up, steps_dn = c.write_steps_up, c.write_steps_down
        if c.write_pulses and not (up or down):  # counted without the meter: all LTP, at
            unmetered = True  # mid-range, one pulse slot each (an upper bound on time)
            up, s_up, steps_up = c.write_pulses, 0.5 * c.write_pulses, c.write_pulses
        write = (v_up * v_up * t_up * (up * g_min + s_up * span) + v_up * v_up * geo.c_col * up
                 + v_dn * v_dn * t_dn * (down * g_min + s_dn * span)
                 + v_dn * v_dn * geo.c_col * down
                 + c.rows_written * (2 * geo.c_wl * p.vdd * p.vdd + geo.c_row * v_up * v_up))
        reset = pulse_energy(p, v_dn, t_dn, g_min + span, geo.c_col)
        program = pulse_energy(p, v_up, t_up, g_min + 0.5 * span, geo.c_col) + e_conv
        refresh = c.refreshes * (2 * reset + p.program_iterations * program)
        update = (c.update_macs * (p.e_mult_int8 + p.e_add_int32)
                  if cfg.learning.scheme == "deterministic" else 0.0)
        le.update(write=write, refresh=refresh, update=update)
        for term, v in le.items():
            energy[term] += v
        t_reads = (lt["phases"] * max(1, c.vectors) * p.read_time
                   + c.vectors * (lt["total_s"] - lt["latency_s"]["integration"]))
        t_writes = (steps_up * t_up + steps_dn * t_dn
                    + c.refreshes * (2 * t_dn + p.program_iterations * (t_up + p.read_time)))
        read_time += t_reads
        write_time += t_writes
        tiles += array.n_tiles
        layers.append({"layer": repr(layer), "energy_j": le, "read_latency_s": t_reads,
                       "write_latency_s": t_writes, "pulses_up": up, "pulses_down": down,
                       "refreshes": c.refreshes, "samples": c.vectors})
    p_static = p.leakage_density * geo.periphery_area * tiles
    energy["leakage"] = p_static * (read_time + write_time)
    total = sum(energy.values())
    return {"energy_j": total, "breakdown": energy, "latency_s": read_time + write_time,
            "read_latency_s": read_time, "write_latency_s": write_time,
            "write_energy_j": energy["write"] + energy["refresh"],
            "area_m2": geo.tile_area * tiles, "tiles": tiles, "synapse": synapse,
            "pulses": {d: {"voltage_v": v, "width_s": t, "from_device": known}
                       for d, (v, t, known) in pulses.items()},
            "unmetered_pulses": unmetered, "samples": counters[0].vectors if counters else 0,
            "layers": layers}


def programming(network, p) -> dict:
    """One-time cost of writing the weights into the devices by program-and-verify:
    every device of every tile used, ``program_iterations`` pulse-and-verify rounds."""
    chip = network.substrate
    cfg = chip.config
    geo = Geometry(cfg, p)
    d = cfg.device
    up = pulse_parameters(cfg, p)["up"]
    e_conv = adc_conversion_energy(p, cfg.io.adc_bits or 8, p.read_time)[0]
    devices = sum(2 * a.n_in * a.n_out for a in chip.arrays)
    mid = (d.g_min + 0.5 * (d.g_max - d.g_min)) * 1e-6
    per_device = p.program_iterations * (pulse_energy(p, up[0], up[1], mid, geo.c_col) + e_conv)
    return {"energy_j": devices * per_device, "devices": devices,
            # rows one after another, a row's devices in parallel, each round a pulse and
            # a verify read
            "latency_s": sum(a.n_in for a in chip.arrays) * p.program_iterations
            * (up[1] + p.read_time)}
