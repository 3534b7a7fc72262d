"""The analog chip as a substrate: a network's layers on simulated crossbar arrays.

Each synapse is a differential pair of devices, ``w = (G⁺ − G⁻) / g_scale``: the excitatory
device carries positive weights and the inhibitory one negative weights, the other sitting at
``g_min``. Inputs arrive as voltages through a DAC; each column's current ``Σ_i V_i (G⁺ − G⁻)``
is the multiply-and-add, read out by an ADC. Layers larger than a tile are split into row
blocks whose partial sums are converted separately and added digitally. Biases and
activations are digital.

How the simulation stays fast: the per-read noise of every device, ``n_ij ~ N(0, σ²)``, enters
a column output as ``Σ_i x_i n_ij``, which for independent devices is distributed exactly as
``σ ‖x‖₂ · N(0, 1)``. So one normal draw per output and tile replaces one per device, and a
noisy analog inference costs about one digital matrix product plus element-wise work.
"""

from __future__ import annotations

import contextlib
import copy
import threading

import numpy as np

from .. import _parallel
from .._blas import add_product
from .._engine import product
from ..errors import ConfigError
from ..layers import aligned_zeros
from ..substrate import Substrate
from .devices.base import clip
from .config import HardwareConfig, load_config
from .noise import standard_normal
from . import kernels


class CrossbarArray:
    """One ``Dense`` layer's synapses programmed into crossbar tiles: its devices' state
    (conductances, faults, drift) and the analog matrix-vector product."""

    def __init__(self, layer, cfg: HardwareConfig, rng: np.random.Generator):
        self.layer = layer
        self.cfg = cfg
        self.n_in, self.n_out = layer.n_in, layer.n_out
        d = cfg.device
        shape = (2, self.n_out, self.n_in)  # [G⁺, G⁻]
        # weight → conductance scale: the largest |w| (per output column, or per layer)
        # fixed properties of this chip's devices, drawn once
        self.g_max_dev = d.g_min + (d.g_max - d.g_min) * (
            1.0 + d.d2d_spread * rng.standard_normal(shape)) if d.d2d_spread else None
        u = rng.random(shape) if (d.stuck_at_min or d.stuck_at_max) else None
        self.stuck_min = None if u is None else u < d.stuck_at_min
        self.stuck_max = None if u is None else (u >= d.stuck_at_min) & (
            u < d.stuck_at_min + d.stuck_at_max)
        self.t = d.drift_t0
        self._G0 = self._G_sum_rows = None
        self._out_scale = None  # the output stage's per-column factor, for (alpha, step)
        self._transposed = None  # the transposed read's ADC full scale, once calibrated
        self._local = threading.local()  # workspaces, one set per simulating thread
        # inputs known to be ≥ 0 (the layer below ends in relu, sigmoid, …, or the data is)
        self.nonnegative_input = False
        self.program(rng)

    # -- device state -----------------------------------------------------------------------
    def target_conductances(self) -> np.ndarray:
        """G⁺ and G⁻ that represent the weights exactly, quantised to the device levels."""
        d = self.cfg.device
        span = d.g_max - d.g_min
        G = np.stack([np.maximum(self.target, 0), np.maximum(-self.target, 0)])  # in [0, 1]
        if d.levels:
            G = np.round(G * (d.levels - 1)) / (d.levels - 1)
        return d.g_min + G * span

    def program(self, rng: np.random.Generator) -> None:
        """Write the layer's weights as they are now: scale them to the conductance range,
        quantise, add programming noise, apply the fixed device faults, and draw each
        device's drift exponent."""
        W = self.layer.W.astype(np.float64)
        if self.cfg.io.mapping == "column":
            w_max = np.abs(W).max(axis=1, keepdims=True)
        else:
            w_max = np.full((self.n_out, 1), np.abs(W).max())
        self.w_scale = np.where(w_max > 0, w_max, 1.0)  # (n_out, 1)
        self.target = np.clip(W / self.w_scale, -1.0, 1.0)  # normalised weights in [−1, 1]
        d = self.cfg.device
        span = d.g_max - d.g_min
        G = self.target_conductances()
        if d.prog_noise:
            G = G + d.prog_noise * span * rng.standard_normal(G.shape)
        hi = d.g_max if self.g_max_dev is None else self.g_max_dev
        if self.g_max_dev is not None:  # each device reaches its own share of the range
            G = d.g_min + (G - d.g_min) * (self.g_max_dev - d.g_min) / span
        G = np.clip(G, d.g_min, hi)
        if self.stuck_min is not None:
            G = np.where(self.stuck_min, d.g_min, G)
            G = np.where(self.stuck_max, hi, G)
        self.G0 = G
        self._transposed = None
        self.nu = (np.maximum(d.drift_nu + d.drift_nu_std * rng.standard_normal(G.shape), 0)
                   if d.drift_nu or d.drift_nu_std else None)
        self._refresh()

    def drift(self, t: float) -> None:
        """Let the conductances drift to ``t`` seconds after programming:
        G(t) = G0 (t / t0)^−ν."""
        if t < self.cfg.device.drift_t0:
            raise ConfigError(f"drift time must be ≥ t0 = {self.cfg.device.drift_t0} s, got {t}")
        self.t = float(t)
        self._refresh()

    @property
    def G(self) -> np.ndarray:
        """Conductances now (µS), shape (2, n_out, n_in): [G⁺, G⁻]."""
        if self.nu is None or self.t == self.cfg.device.drift_t0:
            return self.G0
        return self.G0 * (self.t / self.cfg.device.drift_t0) ** (-self.nu)

    def _refresh(self):
        d = self.cfg.device
        G = self.G
        Wn = (G[0] - G[1]) / (d.g_max - d.g_min)  # normalised effective weights
        self.alpha = 1.0
        if self.cfg.io.drift_compensation and self.nu is not None and self.t > d.drift_t0:
            # global drift compensation: compare the summed response to all-ones inputs now
            # with the one right after programming (Joshi et al. 2020), once per layer
            W0 = (self.G0[0] - self.G0[1]) / (d.g_max - d.g_min)
            now = np.abs(Wn.sum(axis=1)).sum()
            self.alpha = float(np.abs(W0.sum(axis=1)).sum() / now) if now > 0 else 1.0
        self.Wn_T = np.ascontiguousarray(Wn.T, dtype=np.float32)  # (n_in, n_out)
        self._scaled = self._out_scale = None
        io = self.cfg.io
        self.adc_range = io.adc_range
        if self.adc_range is None and io.adc_bits:
            # no full scale given: the rows of a block at full input and full weight
            # (adc_full_scale "rows", NeuroSim's partial-sum range), or calibrated to the
            # weights' worst case, the largest column output any input in [−1, 1] can give
            # in one row block (Σ_i |w_ij| over the block), so that no output saturates
            self.adc_range = float(min(self.cfg.tile.rows, self.n_in)) \
                if io.adc_full_scale == "rows" else \
                _worst_case(Wn, self.cfg.tile.rows) * self.alpha or 1.0
        self.G_sum_rows = G.sum(axis=(0, 1))  # Σ_j (G⁺ + G⁻) per input row, for energy

    def load_weights(self, W, weight_max: float) -> None:
        """The weights W (network units) as devices trained in place hold them, a fully set
        pair being ``weight_max``: no programming step, noise or drift of its own (the
        devices' law has those). The converters keep the full scales they were calibrated
        to when the chip was programmed. Cheap enough for every training step."""
        self.w_scale = np.full((self.n_out, 1), float(weight_max))
        self.alpha, self.nu, self.t = 1.0, None, self.cfg.device.drift_t0
        if self.Wn_T.dtype != np.float32 or self.Wn_T.shape != (self.n_in, self.n_out):
            self.Wn_T = np.empty((self.n_in, self.n_out), np.float32)
        np.multiply(np.asarray(W, np.float32).T, np.float32(1.0 / weight_max), out=self.Wn_T)
        np.clip(self.Wn_T, -1.0, 1.0, out=self.Wn_T)
        self._scaled = self._out_scale = None
        self.weights_changed()

    def weights_changed(self) -> None:
        """Wn_T was written (here, or in place by a compiled update): what is derived from it
        for the read energy (conductances, row sums) is computed afresh when next asked for."""
        self._G0 = self._G_sum_rows = None

    def load_weights_at(self, index, values, weight_max: float) -> None:
        """``load_weights`` for the synapses at the flat ``index`` (C order of W) alone, whose
        weights are now ``values``: what an update that pulsed few devices changed. The
        array must hold a full ``load_weights`` with the same ``weight_max``."""
        j, i = np.divmod(index, self.n_in)
        at = i * self.n_out + j  # the same synapses in Wn_T, (n_in, n_out)
        v = np.multiply(np.asarray(values, np.float32), np.float32(1.0 / weight_max))
        clip(v, -1.0, 1.0, v)
        if self._G_sum_rows is not None:  # the read energy's row sums, kept in step
            d = self.cfg.device
            change = np.abs(v, dtype=np.float64) - np.abs(self.Wn_T.take(at), dtype=np.float64)
            self._G_sum_rows += np.bincount(i, change, self.n_in) * (d.g_max - d.g_min)
        self.Wn_T.put(at, v)
        if self._scaled is not None:  # the cached weights in ADC steps, kept in step
            g, scaled = self._scaled
            scaled.put(at, v * np.float32(g))
        self._G0 = None

    def mirror(self, weight_max: float) -> dict:
        """Where an update that writes the weights itself as it changes them (the compiled
        stochastic update: ``DeviceSynapses.update``'s ``mirror``) keeps this array in step:
        ``Wn_T`` and its cached copy in ADC steps, with the arithmetic of
        ``load_weights_at``. The array must hold a full ``load_weights`` with the same
        ``weight_max``; what is derived from the weights is recomputed when next asked for."""
        self.weights_changed()
        g, scaled = self._scaled if self._scaled is not None else (0.0, None)
        if scaled is not None and not scaled.flags.c_contiguous:
            self._scaled = scaled = None
        return {"WnT": self.Wn_T, "scaled": scaled, "g": np.float32(g),
                "inv_wmax": np.float32(1.0 / weight_max)}

    @property
    def G_sum_rows(self) -> np.ndarray:
        """Σ_j (G⁺ + G⁻) per input row (µS), for the read energy."""
        if self._G_sum_rows is None:  # devices trained in place: one device of each pair
            d = self.cfg.device  # at g_min, the other above it
            self._G_sum_rows = 2 * self.n_out * d.g_min + (d.g_max - d.g_min) * \
                np.abs(self.Wn_T).sum(axis=1, dtype=np.float64)
        return self._G_sum_rows

    @G_sum_rows.setter
    def G_sum_rows(self, value):
        self._G_sum_rows = value

    @property
    def G0(self) -> np.ndarray:
        """Conductances right after programming (µS), [G⁺, G⁻]."""
        if self._G0 is None:  # devices trained in place: from the weights they hold
            d = self.cfg.device
            Wn = self.Wn_T.T.astype(np.float64)
            self._G0 = d.g_min + (d.g_max - d.g_min) * np.stack([np.maximum(Wn, 0),
                                                                 np.maximum(-Wn, 0)])
        return self._G0

    @G0.setter
    def G0(self, value):
        self._G0 = value

    def calibration(self) -> dict:
        """The converters' full scales as calibrated when the chip was programmed (kept by
        devices trained in place): for a model file."""
        return {"adc_range": self.adc_range, "transposed": self._transposed}

    def set_calibration(self, values: dict) -> None:
        """Put back the full scales ``calibration`` gave (a scale not among ``values`` stays
        as programming set it; None, where given, is no scale)."""
        for key in ("adc_range", "transposed"):
            v = values.get(key)
            if v is not None and not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                raise ConfigError(f"a converter's full scale must be a positive number, got "
                                  f"{key} = {v!r}")
        adc_range = values.get("adc_range", self.adc_range)
        if self.cfg.io.adc_bits and adc_range is None:
            raise ConfigError(f"a {self.cfg.io.adc_bits}-bit ADC needs its full scale: the "
                              "calibration gives adc_range = None")
        self.adc_range = adc_range
        self._transposed = values.get("transposed", self._transposed)
        self._scaled = self._out_scale = None

    def snapshot(self) -> dict:
        """Copies of the array's state as programming and drift left it (conductances, drift
        exponents, scales, the converters' full scales), for :meth:`restore_snapshot`; what
        is drawn once for the chip's life (faults, spread) is not copied, and the caches of
        the weights in ADC steps are dropped."""
        return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(self).items()
                if k not in _FIXED}

    def restore_snapshot(self, kept: dict) -> None:
        for k, v in kept.items():
            setattr(self, k, v.copy() if isinstance(v, np.ndarray) else v)
        self._scaled = self._out_scale = None

    def matvec_t(self, D, rng, out, counts=None):
        """The backward read ``G = δ·W`` through the same arrays, transposed: each δ_j drives
        column j, each row i's current is read out. The DAC (per-vector scaling), ADC and
        noise are those of the forward read, in its order of operations, blocks of
        ``tile.cols`` columns in place of row blocks; the full scale of the transposed ADC,
        when none is given, is calibrated to the weights' worst case like the forward one.
        ``out``: (B, n_in), float32 in C order. One compiled call where it applies
        (``kernels.chip_read``, as the forward read), else :meth:`_read_t`, its twin."""
        ws = self._workspace_t(len(D))
        w_scale = np.asarray(self.w_scale, np.float32).reshape(-1)
        Z = np.multiply(D, w_scale, out=ws["Z"])  # δ_j w_scale_j: to inputs
        q, step, bound, noisy = self._read_setting(transposed=True)
        unit = 1.0 / q if q else 1.0
        g = unit / step
        Wt = np.multiply(self.Wn_T.T, np.float32(g), out=ws["Wt"])  # codes → ADC steps
        meter = counts is not None and counts.get("meter")
        if meter or not self._one_call(Z, q, self.cfg.tile.cols, lambda g: Wt, step, bound,
                                       np.full(self.n_in, step, np.float32), None, out, ws,
                                       rng, noisy):
            self._read_t(Z, q, Wt, step, bound, out, ws, rng, noisy)
        if counts is not None:
            B, blocks = len(D), self.n_col_blocks
            counts.update(array_reads=B * blocks, dac_conversions=B * self.n_out,
                          adc_conversions=B * self.n_in * blocks)
            if meter:  # columns driven at |x_j| V_read, Σ_i (G⁺ + G⁻) each
                d = self.cfg.device
                G_cols = 1e-6 * (2 * self.n_in * d.g_min + (d.g_max - d.g_min) *
                                 np.abs(self.Wn_T).sum(axis=0, dtype=np.float64))
                v = np.abs(ws["X"]).sum(axis=0, dtype=np.float64) * unit
                counts.update(input_drive=float(v.sum()), input_drive_units=float(v @ G_cols))
        return out

    def _read_t(self, Z, q, Wt, step, bound, out, ws, rng, noisy) -> None:
        """The transposed read of :meth:`matvec_t` in NumPy's lines, into ``out``: the forward
        read's operations (``_read``, ``_planes``) on the inputs Z = δ w_scale and the
        transposed weights in ADC steps Wt (n_out × n_in)."""
        io = self.cfg.io
        s, X = ws["s"], ws["X"]
        if not (q and kernels.dac(Z, q, X, s)):  # the forward read's DAC, or its lines
            np.max(np.abs(Z), axis=1, keepdims=True, out=s)
            s[s == 0] = 1.0
            if q:  # integer codes k ∈ [−q, q]
                np.multiply(Z, q / s, out=X)
                np.round(X, out=X)
            elif io.dac_bits == 1:  # one bit: on at half the full scale and above
                np.divide(Z, s, out=X)
                np.greater_equal(X, 0.5, out=X)
            else:
                np.divide(Z, s, out=X)
        g = (1.0 / q if q else 1.0) / step
        cols, first = self.cfg.tile.cols, True
        for c0 in range(0, self.n_out, cols):
            y = out if first else ws["y"]
            self._block_read(X[:, c0:c0 + cols], Wt[c0:c0 + cols], y, step, g, bound, rng,
                             ws["work"], noisy)
            if not first:
                out += y
            first = False
        out *= s  # undo the input scaling
        out *= np.float32(step)  # → input units

    @property
    def n_col_blocks(self) -> int:
        """Blocks of ``tile.cols`` columns: the transposed read's partial sums."""
        return -(-self.n_out // self.cfg.tile.cols)

    def _transposed_range(self):
        """The transposed read's ADC full scale (None: no saturation), calibrated once."""
        io = self.cfg.io
        if self._transposed is None:
            if io.adc_range is not None or not io.adc_bits:
                rng_t = io.adc_range
            elif io.adc_full_scale == "rows":
                rng_t = float(min(self.cfg.tile.cols, self.n_out))
            else:
                rng_t = _worst_case(self.Wn_T, self.cfg.tile.cols) or 1.0
            self._transposed = rng_t
        return self._transposed

    def _workspace_t(self, n):
        """This thread's buffers for the transposed read of n rows."""
        ws = getattr(self._local, "ws_t", None)
        if ws is None or ws["n"] != n:
            h = (n * self.n_in + 1) // 2
            ws = self._local.ws_t = {
                "n": n, "Z": np.empty((n, self.n_out), np.float32),
                "X": np.empty((n, self.n_out), np.float32), "s": np.empty((n, 1), np.float32),
                "y": np.empty((n, self.n_in), np.float32), "work": np.empty(2 * h, np.uint32),
                "Wt": np.empty((self.n_out, self.n_in), np.float32)}
        return ws

    def _workspace(self, n):
        """This thread's buffers for a batch of n rows, reused from call to call."""
        ws = getattr(self._local, "ws", None)
        if ws is None or ws["n"] != n:
            h = (n * self.n_out + 1) // 2
            ws = self._local.ws = {"n": n, "X": np.empty((n, self.n_in), np.float32),
                        **{k: np.empty((n, 1), np.float32) for k in ("s", "m")},
                        **{k: np.empty((n, self.n_out), np.float32) for k in ("out", "y")},
                        "work": np.empty(2 * h, np.uint32)}
        return ws

    def _weights_in_steps(self, g: float) -> np.ndarray:
        """Normalised weights times g (cached for the last g: one per layer setting)."""
        if self._scaled is None or self._scaled[0] != g:
            # rows on cache lines for the compiled kernel (whole lines: no padding), else
            # C-contiguous for BLAS
            scaled = aligned_zeros(self.Wn_T.shape, np.float32) if self.n_out % 16 == 0 else \
                np.empty(self.Wn_T.shape, np.float32)
            self._scaled = (g, np.multiply(self.Wn_T, np.float32(g), out=scaled))
        return self._scaled[1]

    def effective_weights(self) -> np.ndarray:
        """The weights the array computes with now (no read noise), in network units."""
        return self.Wn_T.T.astype(np.float64) * self.w_scale * self.alpha

    # -- the analog matrix-vector product ---------------------------------------------------
    def matvec(self, Z, rng, out=None, counts=None):
        """u = W·z + b on the chip, for a batch of rows Z (B, n_in), into ``out`` (float32,
        (B, n_out); None: a buffer of this thread's). ``counts``: a dict that receives what
        the chip did (reads, conversions; see ``substrate.LayerCounts``)."""
        Z = np.asarray(Z, np.float32)
        ws = self._workspace(len(Z))
        # outputs are accumulated in ADC units (steps), converted once at the end
        q, step, bound, noisy = self._read_setting()
        out = ws["out"] if out is None else out
        meter = counts is not None and counts.get("meter")
        if not meter and self._read_at_once(Z, q, step, bound, out, ws, rng, noisy):
            energy = drive = drive_units = 0.0
            n_planes = 1
        else:
            energy, n_planes, drive, drive_units = self._read(Z, q, step, bound, out, ws, rng,
                                                              meter, noisy)
        if counts is not None:
            B, blocks_n = len(Z), self.n_row_blocks
            counts.update(vectors=B, macs=B * self.n_in * self.n_out,
                          array_reads=B * blocks_n * n_planes,
                          dac_conversions=B * self.n_in * n_planes,
                          adc_conversions=B * self.n_out * blocks_n * n_planes,
                          input_energy_units=energy, input_drive=drive,
                          input_drive_units=drive_units)
        return out

    def _read_at_once(self, Z, q, step, bound, out, ws, rng, noisy) -> bool:
        """:meth:`_read` of per-vector input scaling in one compiled call, where it applies;
        False, with nothing done, elsewhere."""
        io = self.cfg.io
        if io.input_scaling != "abs_max" or io.bit_serial:
            return False
        return self._one_call(Z, q, self.cfg.tile.rows, self._weights_in_steps, step, bound,
                              self._output_scale(step), self.layer.b, out, ws, rng, noisy)

    def _one_call(self, Z, q, rows, weights, step, bound, scale, bias, out, ws, rng,
                  noisy) -> bool:
        """A read with per-vector input scaling, the forward one or the transposed, in one
        compiled call (``kernels.chip_read``: the same bits as its NumPy lines), blocks of
        ``rows`` inputs, ``weights(g)`` the inputs × outputs weights in ADC steps of an
        input code (g: one code's ADC steps); where it applies (:meth:`_one_call_args`).
        False, with nothing done, elsewhere."""
        made = self._one_call_args(Z, q, rows, weights, step, bound, scale, bias, out, ws,
                                   noisy)
        return made is not None and kernels.run_read(made, rng.bit_generator if noisy else None)

    def _one_call_args(self, Z, q, rows, weights, step, bound, scale, bias, out, ws, noisy):
        """:meth:`_one_call`'s read made ready (``kernels.read_args``: the struct, the words
        its noise takes, the arrays it points into), or None where it does not apply: codes
        ±q or no DAC, and read noise only on codes whose squares float32 sums exactly."""
        io, dev = self.cfg.io, self.cfg.device
        if not (q or io.dac_bits is None):
            return None
        g = (1.0 / q if q else 1.0) / step
        var_per_x2 = 0.0
        if noisy and dev.read_noise:
            # σ² takes Σ x² of a block's codes, which float32 sums exactly in any order below
            # 2^24; of continuous inputs the order would matter
            if not q or rows * q * q >= 2 ** 24:
                return None
            var_per_x2 = 2.0 * (dev.read_noise * g) ** 2
        W = weights(g)
        size = (-(-W.shape[0] // rows) - 1) * len(Z) * W.shape[1]
        if ws.get("later") is None or ws["later"].size < size:
            ws["later"] = np.empty(size, np.float32)
        return kernels.read_args(Z, q or 0, rows, W, noisy, (io.out_noise / step) ** 2,
                                 var_per_x2, bound, bool(io.adc_bits), scale, bias, out,
                                 ws["later"], ws["s"], _parallel.threads_here())

    def read_plan(self, Z, out, ws):
        """The forward read of :meth:`matvec` (unmetered) of the inputs Z into ``out``, made
        ready as one compiled call without the digital bias (which the caller adds, as the
        read would, last): ``kernels.read_args``'s (struct, words, arrays), or None where the
        read is not one call. ``ws``: the caller's buffers (a dict holding ``s``, one float32
        per row of Z)."""
        io = self.cfg.io
        if io.input_scaling != "abs_max" or io.bit_serial:
            return None
        q, step, bound, noisy = self._read_setting()
        return self._one_call_args(Z, q, self.cfg.tile.rows, self._weights_in_steps, step,
                                   bound, self._output_scale(step), None, out, ws, noisy)

    def read_plan_t(self, Z, out, ws, Wt):
        """The backward read of :meth:`matvec_t` (unmetered) made ready as one compiled call
        on its inputs ``Z`` = δ w_scale and the transposed weights in ADC steps ``Wt`` (n_out
        × n_in), both the caller's to fill before each read: (``kernels.read_args``'s
        (struct, words, arrays), w_scale (float32, per output), the ADC steps of a weight
        unit, g), or None where the read is not one call."""
        q, step, bound, noisy = self._read_setting(transposed=True)
        g = (1.0 / q if q else 1.0) / step
        made = self._one_call_args(Z, q, self.cfg.tile.cols, lambda g: Wt, step, bound,
                                   np.full(self.n_in, step, np.float32), None, out, ws, noisy)
        if made is None:
            return None
        return made, np.asarray(self.w_scale, np.float32).reshape(-1), np.float32(g)

    def _read_setting(self, transposed=False):
        """(q: the DAC's largest code or None, the ADC's step, its bound in steps or None,
        whether the read is noisy) of the forward read or the transposed one."""
        io, dev = self.cfg.io, self.cfg.device
        q = 2 ** (io.dac_bits - 1) - 1 if io.dac_bits else None
        adc_range = self._transposed_range() if transposed else self.adc_range
        # signed mid-tread ADC: codes −m…m with m = 2^(bits−1) − 1, so 0 and ±adc_range are
        # both exact levels; the DAC uses the same kind of code
        step = adc_range / (2 ** (io.adc_bits - 1) - 1) if io.adc_bits else 1.0
        bound = adc_range / step if adc_range is not None else None
        return q, step, bound, bool(dev.read_noise or io.out_noise)

    def _read(self, Z, q, step, bound, out, ws, rng, meter, noisy):
        """The read of :meth:`matvec` in NumPy's lines, into ``out``: (input energy units,
        planes, drive, drive units)."""
        io = self.cfg.io
        s, X = ws["s"], ws["X"]
        fixed = io.input_scaling == "fixed" and not io.bit_serial
        if fixed:  # one scale for every input: the stage below in whole-batch operations
            s = self._fixed_input_stage(Z, q, X)
        # the input stage row block by row block, so that each block's scale, codes and
        # rounding stay in the core's cache
        for r0 in range(0, 0 if fixed else len(Z), 256):
            Zr, sr, Xr = Z[r0:r0 + 256], s[r0:r0 + 256], X[r0:r0 + 256]
            if io.input_scaling == "abs_max" and q and not io.bit_serial and \
                    kernels.dac(Zr, q, Xr, sr):
                continue  # the same scale and codes as below, compiled (_cengine.c: sn_dac)
            if io.input_scaling == "abs_max":  # each input vector scaled to max |x| = 1
                np.max(Zr, axis=1, keepdims=True, out=sr)  # max |z| = max(max z, −min z)
                # the rows' minima too, unless the block has no negative input (one quick
                # reduction, from the cache, tells; a NaN in it: they are taken)
                if not self.nonnegative_input and not Zr.min() >= 0:
                    m = np.min(Zr, axis=1, keepdims=True, out=ws["m"][:len(Zr)])
                    np.maximum(sr, np.negative(m, out=m), out=sr)
                sr[sr == 0] = 1.0
            else:
                sr[...] = io.input_range
            if io.bit_serial:
                continue
            if q:  # DAC: integer codes k ∈ [−q, q], x = k / q
                np.multiply(Zr, q / sr, out=Xr)
                if io.input_scaling == "fixed":
                    np.clip(Xr, -q, q, out=Xr)
                np.round(Xr, out=Xr)
            elif io.dac_bits == 1:  # one bit: an input at half the full scale or above is on
                np.divide(Zr, sr, out=Xr)
                np.greater_equal(Xr, 0.5, out=Xr)
            else:
                np.divide(Zr, sr, out=Xr)
                if io.input_scaling == "fixed":
                    np.clip(Xr, -1.0, 1.0, out=Xr)
        if io.bit_serial:
            planes = self._bit_planes(np.clip(Z / s, -1.0, 1.0))
        else:
            planes = [(1.0 / q if q else 1.0, X)]
        if not (noisy or io.bit_serial) and self.n_in <= self.cfg.tile.rows:
            # one plane through one block of tiles, no noise: the loop below in its fewest
            # operations (a batch-1 training step is mostly their count, not their size)
            Wk = self._weights_in_steps(planes[0][0] / step)
            if not product(X, Wk, out):
                np.matmul(X, Wk, out=out)
            if bound is not None:  # the ADC: saturate at ± adc_range, round to a step
                clip(out, -bound, bound, out)
            if io.adc_bits:
                np.round(out, out=out)
            n_planes = 1
            energy = drive = drive_units = 0.0
            if meter:
                energy, drive, drive_units = self._metered_read(
                    planes[0][0], planes[0][1], self.G_sum_rows)
        else:
            energy, n_planes, drive, drive_units = self._planes(planes, step, bound, rng, out,
                                                                ws, meter, noisy)
        if not (fixed and s == 1):  # (× 1 is exact: skipped)
            out *= s  # undo the input scaling (digital)
        out *= self._output_scale(step)  # → weight units
        out += self.layer.b  # digital bias
        return energy, n_planes, drive, drive_units

    def _fixed_input_stage(self, Z, q, X):
        """The DAC of fixed input scaling, into X, with the arithmetic of the general stage
        in ``matvec``; returns the scale (float32)."""
        io = self.cfg.io
        r = np.float32(io.input_range)
        if q:  # integer codes k ∈ [−q, q]
            np.multiply(Z, np.float32(q) / r, out=X)
            np.clip(X, -q, q, out=X)
            np.round(X, out=X)
        elif io.dac_bits == 1:  # on at half the full scale and above
            np.greater_equal(Z if r == 1 else np.divide(Z, r, out=X), 0.5, out=X)
        else:
            clip(Z if r == 1 else np.divide(Z, r, out=X), -1.0, 1.0, X)
        return r

    def _planes(self, planes, step, bound, rng, out, ws, meter, noisy):
        """The column currents of every input plane through every row block of tiles, in
        ADC steps, converted and summed into ``out``: (input energy units, planes)."""
        rows = self.cfg.tile.rows
        n_planes = 0
        G_rows = self.G_sum_rows if meter else None  # µS, per input row
        energy = drive = drive_units = 0.0
        blocks = range(0, self.n_in, rows)  # one block of tiles per `rows` inputs
        first = True
        for unit, Xp in planes:  # unit: input value of one DAC code (× sign and bit weight)
            g = unit / step  # one input code → ADC steps
            n_planes += 1
            if meter:
                e, d, du = self._metered_read(unit, Xp, G_rows)
                energy, drive, drive_units = energy + e, drive + d, drive_units + du
            for r0 in blocks:
                xs = Xp[:, r0:r0 + rows]
                # column currents Σ_i x_i (G⁺ − G⁻), directly in ADC steps; the first block
                # writes the output, later ones a partial sum added digitally
                y = out if first else ws["y"]
                self._block_read(xs, self._weights_in_steps(g)[r0:r0 + rows], y, step, g,
                                 bound, rng, ws["work"], noisy)
                if not first:
                    out += y
                first = False
        return energy, n_planes, drive, drive_units

    def _block_read(self, xs, Wk, y, step, g, bound, rng, work, noisy) -> None:
        """One block of tiles' column currents into y, in ADC steps, converted: the read
        noise of both devices per synapse and the output noise drawn into y, the product
        ``xs · Wk`` added to it (β = 1, one pass less; our kernel, or BLAS), then the ADC:
        saturate at ± bound (None: not), round to a step. The forward read's and the
        transposed read's, as ``sn_chip_read`` makes each block."""
        io, dev = self.cfg.io, self.cfg.device
        if noisy:
            var = np.full(len(y), (io.out_noise / step) ** 2, np.float32)
            if dev.read_noise:
                var += (2.0 * (dev.read_noise * g) ** 2) * np.vecdot(xs, xs)
            standard_normal(rng, y, work, sigma=np.sqrt(var))
            if not product(xs, Wk, y, 1.0, 1.0):
                add_product(xs, Wk, y, 1.0)
        elif not product(xs, Wk, y):
            np.matmul(xs, Wk, out=y)
        if bound is not None:
            np.clip(y, -bound, bound, out=y)
        if io.adc_bits:
            np.round(y, out=y)

    def _metered_read(self, unit, Xp, G_rows):
        """What one input plane's read costs, for the meter: (Σ_i x_i² Σ_j (G⁺ + G⁻), what
        the devices dissipate; Σ_i |v_i|; Σ_i |v_i| Σ_j (G⁺ + G⁻)) over the batch, in S, v_i
        the drive of line i as a fraction of V_read: a bit plane's set bits drive at V_read
        whatever their significance, amplitude codes at |x| V_read. ``G_rows``: Σ_j (G⁺ +
        G⁻) per row, µS."""
        io = self.cfg.io
        a = np.abs(Xp[0]) if len(Xp) == 1 else np.abs(Xp).sum(axis=0, dtype=np.float64)
        units = float(a @ G_rows) * 1e-6
        if io.bit_serial or io.dac_bits == 1:  # codes 0 and ±1: x² = |x|
            energy = units * unit * unit
        else:
            energy = float(np.square(Xp, dtype=np.float64).sum(axis=0) @ G_rows) * 1e-6 * \
                unit * unit
        scale = 1.0 if io.bit_serial else abs(unit)
        return energy, float(a.sum()) * scale, units * scale

    def _output_scale(self, step: float) -> np.ndarray:
        """w_scale · alpha · step per column, float32 (cached: it changes with programming)."""
        key = (self.alpha, step)
        if self._out_scale is None or self._out_scale[0] != key:
            self._out_scale = (key, (self.w_scale.T * (self.alpha * step)).astype(np.float32))
        return self._out_scale[1]

    def _bit_planes(self, X):
        """Inputs applied bit by bit: x = Σ_b 2^b bit_b / q, for each sign."""
        bits = self.cfg.io.dac_bits - 1  # magnitude bits
        q = 2 ** bits - 1
        mag = np.round(np.abs(X) * q).astype(np.int64)
        sign = np.sign(X).astype(np.float32)
        for b in range(bits):
            plane = ((mag >> b) & 1).astype(np.float32)
            for sgn in (1.0, -1.0):
                P = plane * (sign == sgn)
                if P.any():
                    yield sgn * 2 ** b / q, np.ascontiguousarray(P)

    # -- bookkeeping --------------------------------------------------------------------------
    @property
    def n_tiles(self) -> int:
        t = self.cfg.tile
        return -(-self.n_in // t.rows) * -(-self.n_out // t.cols)

    @property
    def n_row_blocks(self) -> int:
        return -(-self.n_in // self.cfg.tile.rows)


# what a CrossbarArray holds for the chip's life (its layer, configuration, drawn faults and
# spread, threads' workspaces) and its caches: not in its snapshot
_FIXED = frozenset(("layer", "cfg", "n_in", "n_out", "g_max_dev", "stuck_min", "stuck_max",
                    "nonnegative_input", "_local", "_scaled", "_out_scale"))


def _worst_case(Wn, block: int) -> float:
    """The largest |output| any inputs in [−1, 1] can give in one block of ``block`` inputs
    (rows of ``Wn``ᵀ, i.e. columns of Wn): max over outputs of Σ_block |w|."""
    Wn = np.asarray(Wn)
    return max((float(np.abs(Wn[:, r0:r0 + block]).sum(axis=1).max(initial=0.0))
                for r0 in range(0, Wn.shape[1], block)), default=0.0)


class Analog(Substrate):
    """A simulated analog chip described by ``config`` (a preset name, a TOML file or a
    :class:`HardwareConfig`): each layer's synapses on crossbar tiles (:class:`CrossbarArray`),
    its devices drawn from ``seed`` when placed under a network, which programs them.

    Inference runs chunks of ``batch_size`` rows on up to ``threads`` threads (None: as
    many as BLAS may use, one per core and 8 at most), each on one core with BLAS
    single-threaded meanwhile: the simulation is mostly element-wise work, which NumPy does
    on one core, so chunks side by side use the machine better than one chunk with a
    multi-threaded product. The read noise of the chunk starting at row s comes from a
    generator seeded by (one draw of the chip's generator, s): a seed gives the same outputs
    on any number of threads. ``meter=True`` also counts the energy-weighted input of
    every read (``LayerCounts.input_energy_units``; one more pass over the inputs).

    Training on the chip (``fit`` of a network on this substrate) runs the forward and the
    backward read through the arrays, with their converters and noise, and makes each update
    by device pulses (``hardware.learning``: the device law, the pulse scheme and the
    synapse mapping of ``config.learning``). Each layer's weights go onto its devices at the
    first training step; from then on the network's weights are what the devices hold.
    """

    name = "analog"

    def __init__(self, config="ideal", seed=0, threads=None, batch_size=1024, meter=False):
        super().__init__()
        self.config = load_config(config)
        self.seed, self.threads, self.batch_size = seed, threads, int(batch_size)
        self.meter = bool(meter)
        # SFC64: the fastest of NumPy's bit generators here, and noise is most of the work
        self.rng = np.random.Generator(np.random.SFC64(seed))
        self.arrays: list[CrossbarArray] = []
        self.synapses: list = []  # per layer, its DeviceSynapses once the chip trains
        self._tallied: dict[int, dict] = {}  # per layer, the synapses' tally in the counters
        self._W: dict[int, np.ndarray] = {}
        self._stale: set[int] = set()  # layers whose _W the layer's W is ahead of
        self._jobs: list | None = None  # inside updates(): the layers' updates held back

    def place(self, network):
        if self.arrays:
            raise ConfigError("this Analog substrate is already under a network: make one "
                              "chip per network")
        self.arrays = [CrossbarArray(layer, self.config, self.rng) for layer in network.layers]
        self.synapses = [None] * len(self.arrays)
        for below, above in zip(network.layers, self.arrays[1:]):
            above.nonnegative_input = below.activation.nonnegative

    # -- the devices ------------------------------------------------------------------------
    def program(self) -> "Analog":
        """Re-write every weight from the layers: a fresh draw of programming noise (the
        devices' faults stay)."""
        for array in self.arrays:
            array.program(self.rng)
        return self

    def drift(self, t: float) -> "Analog":
        """Advance every device to ``t`` seconds after programming."""
        for array in self.arrays:
            array.drift(t)
        return self

    # -- the substrate's operations -----------------------------------------------------------
    def forward(self, k, layer, Z, out, rng=None, train=False):
        array = self.arrays[k]
        if train and self.synapses[k] is None:
            self._learn(k, layer)
        counts = {"meter": self.meter}
        direct = out.dtype == np.float32 and out.flags.c_contiguous
        U = array.matvec(Z, self.rng if train and rng is None else rng,
                         out if direct else None, counts)
        if not direct:
            out[...] = U
        del counts["meter"]
        self._counters.add(k, **counts)
        if k == 0 and not train and self.config.io.input_scaling == "fixed" and \
                not np.isfinite(Z.sum()):
            # clipped inputs hide an infinite input: show it in u, as the digital substrate's
            # product does (with per-vector scaling it shows in the scale, and so in u;
            # training checks its data beforehand)
            out[~np.isfinite(Z).all(axis=1)] = np.nan
        return out

    def backward(self, k, layer, delta, out):
        syn = self.synapses[k] if self.synapses else None
        if syn is not None and syn.cfg.backward == "digital":
            # δ·W from the weights the devices hold, exactly (NeuroSim V3.0 reads its
            # weights out and backpropagates in digital logic)
            np.matmul(delta, self._W32(k, layer), out=out)
            self._counters.add(k, backward_macs=len(delta) * layer.n_in * layer.n_out)
            return out
        counts = {"meter": self.meter}
        self.arrays[k].matvec_t(delta.astype(np.float32, copy=False), self.rng, out, counts)
        del counts["meter"]
        self._counters.add(k, **counts)
        return out

    def update(self, k, layer, Z_prev, delta, step):
        if not step:
            raise ConfigError("on the chip the update is the devices' pulses: train with "
                              "optimizer='sgd' (plain gradient descent, no momentum)")
        syn = self.synapses[k]
        rates = syn.cfg.layer_rates
        if rates:  # this layer's own learning rate: η · layer_rates[k]
            delta = delta * np.float32(rates[k])
        np.add.reduce(delta, axis=0, out=layer.db)  # ∂E/∂b_j = δ_j: the biases are digital
        if syn.cfg.bias == "digital":
            layer.b -= layer.db
        pulses = syn.pulses
        mirror = self._mirror(k, layer)
        Z_prev, delta = np.asarray(Z_prev, np.float32), np.asarray(delta, np.float32)
        if self._jobs is not None:  # inside updates(): the compiled kernel's job waits
            later = getattr(syn, "update_later", None)  # (Tiki-Taka's two arrays: none)
            job = later(Z_prev, delta, self.rng, mirror) if later else None
            if job is not None:
                self._jobs.append((k, layer, syn, pulses, len(delta), job))
                return
        changed = syn.update(Z_prev, delta, self.rng, mirror)
        if changed is None:  # the network's weights are what the devices hold
            self._stale.discard(k)
            W = self._W32(k, layer)
            syn.weights(out=W)
            layer.W[...] = W
            self.arrays[k].load_weights(W, syn.cfg.weight_max)
        elif len(changed):  # only the synapses that were pulsed are read again
            values = syn.weights_at(changed)
            self._W32(k, layer).put(changed, values)
            layer.W.put(changed, values)
            self.arrays[k].load_weights_at(changed, values, syn.cfg.weight_max)
        elif mirror is not None:  # the update wrote the layer's and the crossbar's copies
            self._stale.add(k)
        self._counters.add(k, write_pulses=syn.pulses - pulses,
                           update_macs=len(delta) * layer.n_in * layer.n_out)

    def _mirror(self, k, layer):
        """Where a compiled stochastic update of layer k writes the weights as it goes (see
        ``DeviceSynapses.update``), or None: the layer's (a view of its Wᵀ) and the
        crossbar's; our float32 copy is brought in step when next read."""
        syn = self.synapses[k]
        if syn.cfg.scheme != "stochastic" or layer.W.dtype != np.float32 or \
                layer.W.strides[1] <= 0:
            return None
        return {"W": None, "W2": layer.W, **self.arrays[k].mirror(syn.cfg.weight_max)}

    @contextlib.contextmanager
    def updates(self):
        """The step's compiled stochastic updates held back and run together when it ends
        (``kernels.run_jobs``: every layer's trains, then every layer's lanes of devices,
        share the cores; the same devices as one after the other, for each layer's seed is
        drawn where its update is asked for). Dropped if the step raises."""
        if self._jobs is not None:  # (within another: that one runs them)
            yield
            return
        self._jobs = []
        try:
            yield
            jobs = self._jobs
        finally:
            self._jobs = None
        from . import kernels

        for at in range(0, len(jobs), kernels.PULSE_JOBS):
            part = jobs[at:at + kernels.PULSE_JOBS]
            kernels.run_jobs([j[-1] for j in part], _parallel.threads_here())
            for k, layer, syn, pulses, B, job in part:
                syn.took(job)
                self._stale.add(k)  # the kernel wrote the layer's and the crossbar's copies
                self._counters.add(k, write_pulses=syn.pulses - pulses,
                                   update_macs=B * layer.n_in * layer.n_out)

    @property
    def counters(self):
        """What the chip did (``substrate.Counters``), the synapses' metered tallies of
        pulses included: those are summed in bulk, and brought in when the counters are
        read."""
        for k, syn in enumerate(self.synapses):
            if syn is not None:
                now = syn.tally
                done = self._tallied.setdefault(k, dict.fromkeys(now, 0))
                if now != done:
                    self._counters.add(k, **{c: v - done[c] for c, v in now.items()})
                    self._tallied[k] = dict(now)
        return self._counters

    @counters.setter
    def counters(self, value):
        self._counters = value

    def _learn(self, k, layer):
        """Layer k's weights onto programmable devices, from its weights now, learning by
        the configured algorithm (``hardware.algorithms``)."""
        from .algorithms import synapses

        rates = self.config.learning.layer_rates
        if rates and len(rates) != len(self.arrays):
            raise ConfigError(f"learning.layer_rates has {len(rates)} factor(s) but the "
                              f"network has {len(self.arrays)} layers: give one per layer")
        syn = self.synapses[k] = synapses(layer, self.config.learning, self.rng)
        self._hold(k, layer, syn)

    def _hold(self, k, layer, syn):
        """Layer k's weights from here on are what ``syn``'s devices hold."""
        syn.meter = self.meter
        layer.W[...] = syn.weights(out=self._W32(k, layer))
        self.arrays[k].load_weights(self._W32(k, layer), syn.cfg.weight_max)

    # -- what training changes, kept and put back ----------------------------------------------
    def snapshot(self):
        """Copies of the chip as training has left it so far, for :meth:`restore_snapshot`:
        each layer's devices (``DeviceSynapses.snapshot``: states, write-noise offsets,
        accumulators, counts) with the weights they give and the converters' calibration (a
        layer not trained yet: its array as programmed), the chip's generator, and its
        counters with the synapses' tallies. A few arrays the size of W per layer."""
        counters = copy.deepcopy(self.counters)  # (reading them brings the tallies in)
        layers = []
        for k, (array, syn) in enumerate(zip(self.arrays, self.synapses)):
            if syn is None:
                layers.append((None, array.snapshot()))
            else:
                layers.append((syn, syn.snapshot(), self._W32(k, array.layer).copy(),
                               array.calibration()))
        return {"layers": layers, "rng": copy.deepcopy(self.rng.bit_generator.state),
                "counters": counters, "tallied": copy.deepcopy(self._tallied)}

    def restore_snapshot(self, snapshot) -> None:
        """The chip as :meth:`snapshot` copied it: its devices, weights, generator and
        counters (the layers' weights too, which are what the devices hold)."""
        for k, (array, (syn, *kept)) in enumerate(zip(self.arrays, snapshot["layers"])):
            self.synapses[k] = syn
            if syn is None:
                array.restore_snapshot(kept[0])
                continue
            devices, W, calibration = kept
            syn.restore_snapshot(devices)
            np.copyto(self._W32(k, array.layer), W)
            array.layer.W[...] = W
            array.load_weights(W, syn.cfg.weight_max)
            array.set_calibration(calibration)
        self.rng.bit_generator.state = copy.deepcopy(snapshot["rng"])
        self._counters = copy.deepcopy(snapshot["counters"])
        self._tallied = copy.deepcopy(snapshot["tallied"])

    # -- the trained chip in a model file -----------------------------------------------------
    def saved_state(self):
        """The chip as training left it, for a model file: its configuration, seed and
        generator, each layer's devices (``hardware.algorithms.state``: states, drawn
        parameters, stuck masks, accumulators) and converter calibration. None for a chip
        that has not trained (its layers' weights program it again)."""
        if not any(s is not None for s in self.synapses):
            return None
        from .algorithms import state

        meta = {"kind": self.name, "config": self.config.to_dict(), "seed": self.seed,
                "meter": self.meter, "batch_size": self.batch_size, "threads": self.threads,
                "rng": _rng_state(self.rng), "layers": []}
        tensors = {}
        for k, (array, syn) in enumerate(zip(self.arrays, self.synapses)):
            if syn is None:
                meta["layers"].append(None)
                continue
            m, t = state(syn)
            m["calibration"] = array.calibration()
            meta["layers"].append(m)
            tensors.update({f"{k}.{name}": v for name, v in t.items()})
        return meta, tensors

    @classmethod
    def restore(cls, network, meta: dict, tensors: dict, where: str = "model file"):
        """``network`` on the chip ``saved_state`` described, its devices as they were
        saved: the same predictions, and training goes on from there."""
        from ..errors import ModelFileError
        from .algorithms import restore

        try:
            cfg = HardwareConfig.from_dict(meta["config"], where=f"{where}: the chip")
            chip = cls(cfg, seed=meta.get("seed", 0), threads=meta.get("threads"),
                       batch_size=meta.get("batch_size", 1024), meter=meta.get("meter", False))
        except (KeyError, TypeError) as e:
            raise ModelFileError(f"{where}: the chip's description is damaged ({e!r})") from None
        except ConfigError as e:
            raise ModelFileError(str(e)) from None
        layers = meta.get("layers")
        if not isinstance(layers, list) or len(layers) != len(network.layers):
            raise ModelFileError(f"{where}: the chip has devices for "
                                 f"{len(layers) if isinstance(layers, list) else 'no'} "
                                 f"layer(s), the network {len(network.layers)}")
        net = network.on(chip)
        for k, m in enumerate(layers):
            if m is None:
                continue
            prefix = f"{k}."
            own = {n[len(prefix):]: v for n, v in tensors.items() if n.startswith(prefix)}
            syn = chip.synapses[k] = restore(net.layers[k], cfg.learning, m, own,
                                             f"{where}: layer {k}")
            chip._hold(k, net.layers[k], syn)
            # the pulses of the saved tally were the counters of the chip that trained then:
            # this one counts what it does from here on
            chip._tallied[k] = dict(syn.tally)
            try:
                chip.arrays[k].set_calibration(m.get("calibration") or {})
            except ConfigError as e:
                raise ModelFileError(f"{where}: layer {k}: {e}") from None
        try:
            chip.rng.bit_generator.state = _rng_from_json(meta["rng"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{where}: the chip's generator state is damaged "
                                 f"({e!r})") from None
        return net

    def _W32(self, k, layer):
        """Layer k's weights as float32 in C order (what its devices hold, once trained);
        where the compiled stochastic update wrote only the layer's own copy, taken from
        it."""
        W = self._W.get(k)
        if W is None:
            W = self._W[k] = np.empty((layer.n_out, layer.n_in), np.float32)
        if k in self._stale:
            self._stale.discard(k)
            np.copyto(W, layer.W)
        return W

    def trainer(self, network, loss, optimizer, batch, inputs=None):
        """A compiled in-situ engine where one covers this training (``hardware.engine``:
        the deterministic scheme at batch 1; ``hardware.minibatch``: the stochastic scheme),
        else ``(None, why not)``: the layer-by-layer steps then."""
        from . import engine, minibatch

        if self.config.learning.scheme == "stochastic":
            return minibatch.make(self, network, loss, optimizer, batch)
        return engine.make(self, network, loss, optimizer, batch)

    def _engine_wrote(self) -> None:
        """The compiled engine changed weights in place: the crossbar's caches derived from
        them (conductances, row sums for the read energy) are computed afresh when next
        needed."""
        for array in self.arrays:
            array.weights_changed()

    @property
    def pulses(self) -> int:
        """Device pulses applied by training, all layers."""
        return sum(s.pulses for s in self.synapses if s is not None)

    def inference_plan(self, network, n_rows, threads):
        return self.batch_size, self.threads if threads is None else threads

    def noise(self, n_rows):
        seed = int(self.rng.bit_generator.random_raw())  # fresh noise on every call
        return lambda s: np.random.Generator(np.random.SFC64([seed, s]))

    def describe(self):
        out = {"name": self.name, "hardware": self.config.name, "seed": self.seed}
        if any(s is not None for s in self.synapses):
            lc = self.config.learning
            out.update(device=lc.device, scheme=lc.scheme, synapse=lc.synapse,
                       algorithm=lc.algorithm, pulses=self.pulses,
                       refreshes=sum(s.refreshes for s in self.synapses if s is not None))
            if lc.algorithm != "sgd":
                out["transfers"] = sum(s.transfers for s in self.synapses if s is not None)
        return out

    def __repr__(self):
        tiles = sum(a.n_tiles for a in self.arrays)
        t = self.config.tile
        return f"Analog({self.config.name!r}, {tiles} tiles of {t.rows}×{t.cols})"


def _rng_state(rng) -> dict:
    """A generator's state as JSON values (its arrays as lists of integers)."""
    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, np.ndarray):
            return {"uint64": [int(x) for x in v.reshape(-1)]}
        return int(v) if isinstance(v, np.integer) else v
    return plain(rng.bit_generator.state)


def _rng_from_json(state) -> dict:
    def back(v):
        if isinstance(v, dict):
            if set(v) == {"uint64"}:
                return np.array(v["uint64"], np.uint64)
            return {k: back(x) for k, x in v.items()}
        return v
    return back(state)


def deploy(network, config="ideal", seed=0, threads=None, batch_size=1024, meter=False):
    """``network`` on a simulated chip: ``network.on(Analog(config, seed, …))``. The result
    is a Network sharing the layers, its products made by the chip; the chip itself is its
    ``.substrate`` (``program()``, ``drift(t)``, ``arrays``, ``counters``)."""
    return network.on(Analog(config, seed=seed, threads=threads, batch_size=batch_size,
                             meter=meter))
