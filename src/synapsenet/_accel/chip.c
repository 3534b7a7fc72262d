/* In-situ training on the simulated analog chip: the whole batch-1 step in one call.
 *
 * The NumPy twin is hardware/crossbar.py (CrossbarArray.matvec, Analog.forward, backward and
 * update) with hardware/learning.py (DeviceSynapses: the deterministic scheme's pulse counts,
 * either mapping, the pairs' refresh, the metering tally) and hardware/devices/base.py
 * (DeviceArray's closed-form trains). Per sample and layer, in the twin's order and float32
 * arithmetic:
 *
 *   forward    DAC codes of z (fixed input range: q-bit rint(clip(z q / r)), one bit z ≥ r/2,
 *              or none: clip(z / r)); per block of `rows` inputs the column sums in ADC steps
 *              Σ_i x_i W_ij g (the same product call as the twin's), clipped at ± bound and
 *              rounded; × r, × the output scale, + b, then f (or the loss's output stage)
 *   backward   δ·W from the weights the devices hold (digital, as NeuroSim V3.0)
 *   update     d = δ · rate; db = d (b −= d if the bias is digital); per synapse with
 *              z_i ≠ 0 and |d_j| max|z| ≥ least: n = rint(−d_j z_i / Δ) pulses (Δ the step up
 *              or down), the device's train w·g(n) + c(n) (a table for shared coefficients,
 *              else the affine closed form) + σ √|n| ξ, clipped to its bounds (a pair: |n| LTP
 *              pulses to w⁺ or w⁻, the pair refreshed first where a device would pass
 *              refresh_at); then the weight γ (w − w_ref) or γ (w⁺ − w⁻) is written back into
 *              W and the crossbar's copy in ADC steps (the layer's Wᵀ and the normalised copy
 *              are brought in step by the caller)
 *
 * A train, a pair's refresh and the write-back are devices.h's, as the stochastic pulse
 * update (pulses.c) has them; so is the generator of the normal draws ξ, seeded by the caller
 * (one draw of the chip's generator per epoch). What the chip did is added to per-layer
 * counters (CH_* in sn.h), the metered pulse tally among them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sn.h"

/* devices.h's one copy here: this unit is compiled once, for any x86-64 (or other) CPU */
#define NAME(f) f##_chip
#define TARGET
#include "devices.h"

typedef struct {
    int L;
    sn_chip_layer *lay;
    gemm_fn gemm;
    sn_settings S;
    const sn_loops *K;
    int loss;
    sn_rng rng;
    const float *X; int64_t ldx;
    const float *D; int64_t ldd;
    const int64_t *labels;
    double *counts;                /* L × CH_COUNT, added to */
    float *z0, *U[MAX_LAYERS], *G, *Do, *dd;
    unsigned char *written;        /* per input of an update: its row was written */
    int64_t *cols;                 /* the inputs of an update that are not 0 */
    float *zc, *nc;                /* their values, and one row's pulse counts */
    float *peak;                   /* the write steps' largest counts, 2 × widest input */
    int64_t widest;
} chip_engine;

static void *zalloc(size_t nfloats) {
    return calloc(nfloats ? nfloats : 1, sizeof(float));
}

void sn_chip_free(chip_engine *e);

chip_engine *sn_chip_create(int L, sn_chip_layer *layers, int loss, double *counts, void *gemm,
                            const sn_settings *S) {
    if (L < 1 || L > MAX_LAYERS || !gemm || !S) return NULL;
    chip_engine *e = calloc(1, sizeof(chip_engine));
    if (!e) return NULL;
    e->L = L; e->lay = layers; e->loss = loss; e->counts = counts;
    e->gemm = (gemm_fn)gemm; e->S = *S; e->K = sn_loops_for(S);
    int64_t widest = layers[0].n_in;
    for (int l = 0; l < L; l++) {
        if (layers[l].n_in > widest) widest = layers[l].n_in;
        if (layers[l].n_out > widest) widest = layers[l].n_out;
    }
    e->widest = widest;
    int ok = (e->z0 = zalloc((size_t)widest)) && (e->G = zalloc((size_t)widest)) &&
             (e->Do = zalloc((size_t)widest)) && (e->dd = zalloc((size_t)widest)) &&
             (e->peak = zalloc((size_t)(2 * widest))) &&
             (e->written = calloc((size_t)widest, 1)) &&
             (e->cols = calloc((size_t)widest, sizeof(int64_t))) &&
             (e->zc = zalloc((size_t)widest)) && (e->nc = zalloc((size_t)widest));
    for (int l = 0; l < L && ok; l++) ok = (e->U[l] = zalloc((size_t)widest)) != NULL;
    if (!ok) { sn_chip_free(e); return NULL; }
    sn_rng_seed(&e->rng, 0, e->S.isa);
    return e;
}

void sn_chip_bind(chip_engine *e, const float *X, int64_t ldx, const float *D, int64_t ldd,
                  const int64_t *labels, uint64_t seed) {
    e->X = X; e->ldx = ldx; e->D = D; e->ldd = ldd; e->labels = labels;
    sn_rng_seed(&e->rng, seed, e->S.isa);
}

/* The read of layer l: u (before the bias) of the input z into u. */
static void chip_forward(chip_engine *e, const sn_chip_layer *c, const float *z, float *u,
                         double *cnt) {
    const int64_t ni = c->n_in, no = c->n_out;
    float *x = e->G;  /* the DAC codes (G is free during the forward pass) */
    const float r = c->input_range;
    for (int64_t i = 0; i < ni; i++) {  /* the DAC: as CrossbarArray._fixed_input_stage */
        float v;
        if (c->dac == CHIP_DAC_LEVELS) {
            v = z[i] * c->dac_gain;  /* z · (q / r), q / r rounded to float32 first */
            v = v < -c->q ? -c->q : (v > c->q ? c->q : v);
            v = rintf(v);
        } else if (c->dac == CHIP_DAC_ONE_BIT) {
            v = (float)((r == 1.f ? z[i] : z[i] / r) >= 0.5f);
        } else {
            v = r == 1.f ? z[i] : z[i] / r;
            v = v < -1.f ? -1.f : (v > 1.f ? 1.f : v);
        }
        x[i] = v;
    }
    int64_t blocks = 0;
    float *y = e->dd;
    for (int64_t r0 = 0; r0 < ni; r0 += c->rows, blocks++) {
        const int64_t k = ni - r0 < c->rows ? ni - r0 : c->rows;
        float *out = blocks ? y : u;
        /* the twin's product: our kernel where _engine.product takes it, else BLAS */
        sn_matmul(1, no, k, 1.f, x + r0, k, 1, c->mirror.scaled + r0 * no, no, 0.f, out, no,
                  (void *)e->gemm, &e->S);
        for (int64_t j = 0; j < no; j++) {  /* the ADC: saturate, round to a step */
            float v = out[j];
            if (c->saturates) {
                v = v > -c->bound ? v : -c->bound;
                v = v < c->bound ? v : c->bound;
            }
            if (c->rounds) v = rintf(v);
            if (blocks) u[j] += v; else u[j] = v;
        }
    }
    for (int64_t j = 0; j < no; j++) {
        float v = u[j];
        if (r != 1.f) v *= r;  /* undo the input scaling */
        u[j] = v * c->out_scale;  /* → weight units */
    }
    cnt[CH_VECTORS] += 1; cnt[CH_MACS] += (double)(ni * no);
    cnt[CH_ARRAY_READS] += (double)blocks; cnt[CH_DAC] += (double)ni;
    cnt[CH_ADC] += (double)(no * blocks);
    if (c->rowsum) {  /* the read's energy terms (CrossbarArray._planes, metered) */
        double energy = 0, drive = 0, units = 0;
        const double base = 2.0 * (double)no * c->g_min;
        for (int64_t i = 0; i < ni; i++) {
            const double G = 1e-6 * (base + c->g_span * c->rowsum[i]), a = fabs((double)x[i]);
            energy += a * a * G; drive += a; units += a * G;
        }
        const double unit = c->unit;
        cnt[CH_ENERGY] += energy * unit * unit;
        cnt[CH_DRIVE] += drive * fabs(unit);
        cnt[CH_DRIVE_UNITS] += units * fabs(unit);
    }
}

/* the write steps of one column batch: the largest count per input and direction (peak[t]
 * up and peak[m + t] down for the m inputs of the update), summed */
static void flush_peaks(float *restrict peak, int64_t m, double *cnt) {
    double up = 0, down = 0;  /* whole counts: exact */
    for (int64_t t = 0; t < m; t++) {
        up += peak[t];
        down += peak[m + t];
        peak[t] = peak[m + t] = 0.f;
    }
    cnt[CH_STEPS_UP] += up;
    cnt[CH_STEPS_DOWN] += down;
}

/* One row's pulse counts n_t = rint(ΔW_t / Δ), ΔW_t = nd z_t, Δ the step up or down by the
 * sign of ΔW (not rounded for a continuous device), over the m inputs z that are not 0, in
 * loops the compiler vectorises: rint by the float32 rounding of x + 1.5·2²³ (exact for
 * |x| < 2²², the C library's beyond). */
static void row_counts(float nd, const float *restrict z, int64_t m, float s_up, float s_dn,
                       int continuous, float *restrict n) {
    for (int64_t t = 0; t < m; t++) {
        const float dW = nd * z[t];  /* ΔW = −η δ_j z_i */
        n[t] = dW / (dW > 0.f ? s_up : s_dn);
    }
    if (continuous) return;
    int big = 0;
    for (int64_t t = 0; t < m; t++) {
        const float x = n[t];
        big |= !(fabsf(x) < 0x1p22f);
        n[t] = (x + 0x1.8p23f) - 0x1.8p23f;
    }
    if (big)
        for (int64_t t = 0; t < m; t++) {
            const float dW = nd * z[t];
            n[t] = rintf(dW / (dW > 0.f ? s_up : s_dn));
        }
}

/* layer c's update from its input z and δ (DeviceSynapses.update, deterministic, reference);
 * 0 (nothing of this layer changed) where it asks for a train past SN_MAX_TRAIN, else 1 */
static int chip_update(chip_engine *e, const sn_chip_layer *layer, const float *z,
                        const float *delta, double *cnt) {
    /* a copy that no store through the arrays can alias: its fields stay in registers */
    const sn_chip_layer copy = *layer, *c = &copy;
    const int64_t ni = c->n_in, no = c->n_out;
    double pulses = 0, up_n = 0, down_n = 0, up_state = 0, down_state = 0, refreshes = 0;
    float *d = e->dd;
    float zmax = 0.f;
    for (int64_t j = 0; j < no; j++) d[j] = c->has_rate ? delta[j] * c->rate : delta[j];
    int64_t m = 0;  /* the inputs that are not 0: only their synapses can change */
    float zpos = 0.f, zneg = 0.f;
    float *restrict zc = e->zc;
    int64_t *restrict cols = e->cols;
    for (int64_t i = 0; i < ni; i++) {  /* without branches: the zeros are data, unpredictable */
        const float v = z[i];
        zpos = v > zpos ? v : zpos;
        zneg = -v > zneg ? -v : zneg;
        zc[m] = v;
        cols[m] = i;
        m += v != 0.f;
    }
    zmax = zpos > zneg ? zpos : zneg;
    /* the longest trains this update asks for, up (ΔW = −δ_j z_i > 0) and down, each over
     * its own step: past SN_MAX_TRAIN (or not a number) the update is refused before it
     * changes anything, as DeviceSynapses's check refuses it */
    float dpos = 0.f, dneg = 0.f;  /* the largest −δ_j and δ_j */
    int nan = 0;
    for (int64_t j = 0; j < no; j++) {
        dpos = -d[j] > dpos ? -d[j] : dpos;
        dneg = d[j] > dneg ? d[j] : dneg;
        nan |= d[j] != d[j];
    }
    const float up = (dpos * zpos > dneg * zneg ? dpos * zpos : dneg * zneg) / c->s_up;
    const float down = (dneg * zpos > dpos * zneg ? dneg * zpos : dpos * zneg) / c->s_dn;
    if (nan || !((c->continuous ? up : rintf(up)) <= SN_MAX_TRAIN) ||
        !((c->continuous ? down : rintf(down)) <= SN_MAX_TRAIN))
        return 0;
    for (int64_t j = 0; j < no; j++) {  /* ∂E/∂b_j = δ_j: the biases are digital */
        c->db[j] = d[j];
        if (c->bias_digital) c->b[j] -= d[j];
    }
    /* the twin takes the table for an update whose counts all are within it, else the closed
     * form for all: the largest count of a row is at its largest input of either sign */
    float most_up = 0.f, most_down = 0.f;  /* the update's largest counts each way */
    const sn_devices *d0 = &c->dev[0];
    for (int64_t j = 0; j < no && d0->table_g; j++) {
        const float ad = fabsf(d[j]);
        if (!(ad * zmax >= c->least)) continue;
        for (int sgn = 0; sgn < 2; sgn++) {
            const float dW = -d[j] * (sgn ? -zneg : zpos);
            const float n = rintf(dW / (dW > 0 ? c->s_up : c->s_dn));
            if (n > most_up) most_up = n;
            if (-n > most_down) most_down = -n;
        }
    }
    /* a pair's devices each take their own call (LTP to w⁺ for n > 0, to w⁻ for n < 0) */
    const float covered = (float)d0->table_mid;
    const int table_up = d0->table_g && most_up <= covered;
    const int table_down = d0->table_g && most_down <= covered;
    const int table = table_up && table_down;
    const sn_pair *pair = c->pair.minus ? &c->pair : NULL;
    const sn_mirror *mir = &c->mirror;
    cnt[CH_UPDATE_MACS] += (double)(ni * no);
    const int meter = c->meter;
    const int64_t size = (no + 15) / 16;  /* outputs per column batch of the row-by-row write */
    int64_t batch = -1;
    const float lo_law = c->law_lo, inv_span = c->law_inv_span;
    for (int64_t j = 0; j < no; j++) {
        const float ad = fabsf(d[j]);
        if (!(c->continuous ? ad > 0.f : ad * zmax >= c->least)) continue;
        if (meter && j / size != batch) {
            if (batch >= 0) flush_peaks(e->peak, m, cnt);
            batch = j / size;
        }
        const float nd = -d[j];
        float *restrict w0 = d0->w + j * ni, *restrict w1 = pair ? pair->minus->w + j * ni : w0;
        float *restrict counts = e->nc;
        row_counts(nd, e->zc, m, c->s_up, c->s_dn, c->continuous, counts);
        for (int64_t t = 0; t < m; t++) {
            const float n = counts[t];
            if (n == 0.f) continue;
            const int64_t i = e->cols[t];
            const int64_t at = j * ni + i;
            const int up = n > 0;
            const float kn = fabsf(n);
            float before, w, v;
            if (!pair) {  /* bidirectional: LTP for n > 0, LTD for n < 0 */
                before = w0[i];
                w = w0[i] = NAME(train)(d0, &e->rng, at, before, kn, up, table);
                v = (w - mir->w_ref) * mir->gamma;
            } else {  /* LTP pulses to w⁺ (n > 0) or w⁻ (n < 0): DeviceSynapses._pulse_at */
                float wp = w0[i], wm = w1[i];
                before = up ? wp : wm;
                refreshes += NAME(pair_train)(d0, pair, &e->rng, at, kn, up,
                                              up ? table_up : table_down, &wp, &wm);
                w = up ? wp : wm;
                w0[i] = wp;
                w1[i] = wm;
                v = (wp - wm) * pair->gamma;
            }
            /* the weight as the chip reads it (Analog.update, load_weights_at): into W and
             * the crossbar's copy in ADC steps, which the next read takes; the layer's Wᵀ and
             * the normalised copy are brought in step by the caller (ChipEngine.count) */
            if (c->rowsum) c->rowsum[i] += fabs((double)NAME(normalised)(mir, v)) -
                                           fabs((double)NAME(normalised)(mir, mir->W[at]));
            NAME(mirror)(mir, no, ni, j, i, v);
            const float k = c->continuous ? 1.f : kn;
            pulses += k;
            if (meter) {  /* the tally (DeviceSynapses._metered): a pair's pulses all LTP */
                const int dn = !up && !pair;
                const double met = 0.5 * ((double)((before - lo_law) * inv_span) +
                                          (double)((w - lo_law) * inv_span));
                if (dn) { down_n += k; down_state += k * met; }
                else { up_n += k; up_state += k * met; }
                float *p = e->peak + (dn ? m : 0) + t;  /* by place among the inputs */
                if (k > *p) *p = k;
                e->written[t] = 1;
            }
        }
    }
    cnt[CH_WRITE_PULSES] += pulses;
    cnt[CH_REFRESHES] += refreshes;  /* counted whether metered or not, as the twin does */
    if (meter) {
        cnt[CH_PULSES_UP] += up_n; cnt[CH_PULSES_DOWN] += down_n;
        cnt[CH_STATE_UP] += up_state; cnt[CH_STATE_DOWN] += down_state;
        if (batch >= 0) flush_peaks(e->peak, m, cnt);
        for (int64_t t = 0; t < m; t++) {
            cnt[CH_ROWS_WRITTEN] += e->written[t];
            e->written[t] = 0;
        }
    }
    return 1;
}

/* One step on the bound data's row `row`; status as sn_step's: 1 made, 0 a non-finite loss
 * (nothing changed), 2 made but the first layer's δ not finite, 3 a non-finite input, 4 begun
 * (the layers above made their update) but an update past the longest train refused. */
static int chip_step(chip_engine *e, int64_t row, const int64_t *rows, int64_t start,
                     float scale, double *E, int64_t *correct) {
    const sn_loops *K = e->K;
    const int L = e->L;
    if (!K->copy_finite(e->z0, e->X + row * e->ldx, e->lay[0].n_in)) return 3;
    const float *z = e->z0;
    for (int l = 0; l < L; l++) {
        sn_chip_layer *c = &e->lay[l];
        chip_forward(e, c, z, e->U[l], e->counts + l * CH_COUNT);
        if (l < L - 1) K->bias_act(e->U[l], 1, c->n_out, 0, c->n_out, c->b, c->act);
        z = e->U[l];
    }
    sn_chip_layer *top = &e->lay[L - 1];
    int64_t right = 0;
    *E = sn_output_layer(K, top->act, e->loss, top->n_out, 1, e->U[L - 1], e->Do, top->b,
                         e->D, e->ldd, rows, start, e->labels, scale, &right);
    *correct = right;
    if (!isfinite(*E)) return 0;
    float *delta = e->Do;
    for (int l = L - 1; l >= 0; l--) {
        sn_chip_layer *c = &e->lay[l];
        double *cnt = e->counts + l * CH_COUNT;
        const float *zin = l ? e->U[l - 1] : e->z0;
        if (l > 0) {  /* ∂E/∂z_prev = δ·W, with the weights before this layer's step */
            e->gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, 1, c->n_in, c->n_out, 1.f, delta, c->n_out,
                    c->mirror.W, c->n_in, 0.f, e->G, c->n_in);
            cnt[CH_BACKWARD_MACS] += (double)(c->n_in * c->n_out);
        }
        if (!chip_update(e, c, zin, delta, cnt)) return 4;
        if (l > 0) {  /* hidden δ_j = (Σ_k δ_k w_kj) f'(u_j) */
            K->times_derivative(e->G, zin, 1, c->n_in, 0, c->n_in, e->lay[l - 1].act);
            memcpy(e->Do, e->G, (size_t)c->n_in * sizeof(float));
            delta = e->Do;
        }
    }
    float acc = 0.f;
    for (int64_t j = 0; j < e->lay[0].n_out; j++) acc += e->lay[0].db[j];
    return isfinite(acc) ? 1 : 2;
}

/* n batch-1 steps: step s on row idx[off[s]] (or off[s] when idx is NULL), δ_out scaled by
 * scale[s]; its loss and correct count into E[s], correct[s]. Stops after the first step whose
 * status is not 1 (see chip_step), returning its index with that status in *status. */
int64_t sn_chip_steps(chip_engine *e, const int64_t *idx, const int64_t *off,
                      const float *scale, int64_t n, double *E, int64_t *correct, int *status) {
    for (int64_t s = 0; s < n; s++) {
        const int64_t *rows = idx ? idx + off[s] : NULL;
        const int st = chip_step(e, rows ? rows[0] : off[s], rows, off[s], scale[s], E + s,
                                 correct + s);
        if (st != 1) { *status = st; return s; }
    }
    *status = 1;
    return n;
}

/* for the tests: n standard normal draws of the engine's generator */
void sn_chip_normals(chip_engine *e, double *out, int64_t n) {
    for (int64_t k = 0; k < n; k++) out[k] = NAME(normal)(&e->rng);
}

void sn_chip_free(chip_engine *e) {
    if (!e) return;
    free(e->z0); free(e->G); free(e->Do); free(e->dd); free(e->peak); free(e->written);
    free(e->cols); free(e->zc); free(e->nc);
    for (int l = 0; l < MAX_LAYERS; l++) free(e->U[l]);
    free(e);
}
