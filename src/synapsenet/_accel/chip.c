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
 * The normal draws ξ come from a ziggurat on xoshiro256** (below), seeded by the caller (one
 * draw of the chip's generator per fit). What the chip did is added to per-layer counters
 * (CH_* in sn.h), the metered pulse tally among them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sn.h"

/* The normal draws: Marsaglia & Tsang's ziggurat (J. Stat. Softw. 5(8), 2000) over 128 layers
 * of equal area under the density e^{−x²/2}, on 64-bit words of xoshiro256** (Blackman &
 * Vigna, ACM TOMS 47(4), 2021): the layer from 7 bits, the abscissa from 32 others. */
#define ZIG_N 128
#define ZIG_R 3.442619855899           /* where the base layer's tail starts */
#define ZIG_V 9.91256303526217e-3      /* the area of each layer */

typedef struct {
    uint64_t s[4];
    uint32_t k[ZIG_N];                 /* |j| < k[i]: inside layer i's rectangle, accept */
    double w[ZIG_N], f[ZIG_N];         /* abscissa per unit of j; the density at x_i */
} chip_rng;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next_u64(chip_rng *r) {  /* xoshiro256** */
    uint64_t *s = r->s;
    const uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

static inline double uniform(chip_rng *r) {  /* (0, 1) */
    return ((next_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

static void seed_rng(chip_rng *r, uint64_t seed) {
    for (int k = 0; k < 4; k++) {  /* the state from SplitMix64 */
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        r->s[k] = z ^ (z >> 31);
    }
    /* the layers: x_{i+1} from x_i by equal areas, V = x_i (f(x_{i+1}) − f(x_i)) */
    const double m = 2147483648.0;  /* 2^31: j is a signed 32-bit number */
    double x = ZIG_R, fx = exp(-0.5 * x * x);
    const double q = ZIG_V / fx;  /* the base layer: rectangle plus tail, width V / f(r) */
    r->k[0] = (uint32_t)(x / q * m);
    r->k[1] = 0;
    r->w[0] = q / m;
    r->w[ZIG_N - 1] = x / m;
    r->f[0] = 1.0;
    r->f[ZIG_N - 1] = fx;
    for (int i = ZIG_N - 2; i >= 1; i--) {
        const double next = sqrt(-2.0 * log(ZIG_V / x + fx));
        r->k[i + 1] = (uint32_t)(next / x * m);
        x = next;
        fx = exp(-0.5 * x * x);
        r->f[i] = fx;
        r->w[i] = x / m;
    }
}

static double normal(chip_rng *r) {
    for (;;) {
        const uint64_t u = next_u64(r);
        const int i = (int)(u & (ZIG_N - 1));
        const int32_t j = (int32_t)(uint32_t)(u >> 32);
        const uint32_t aj = j < 0 ? (uint32_t)(-(int64_t)j) : (uint32_t)j;
        const double x = j * r->w[i];
        if (aj < r->k[i]) return x;  /* inside the rectangle: most draws end here */
        if (i == 0) {  /* the tail beyond R (Marsaglia 1964) */
            double t, y;
            do {
                t = -log(uniform(r)) / ZIG_R;
                y = -log(uniform(r));
            } while (y + y < t * t);
            return j > 0 ? ZIG_R + t : -ZIG_R - t;
        }
        /* the wedge between the rectangle and the curve */
        if (r->f[i] + uniform(r) * (r->f[i - 1] - r->f[i]) < exp(-0.5 * x * x)) return x;
    }
}

typedef struct {
    int L;
    sn_chip_layer *lay;
    gemm_fn gemm;
    sn_settings S;
    const sn_loops *K;
    int loss;
    chip_rng rng;
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
    seed_rng(&e->rng, 0);
    return e;
}

void sn_chip_bind(chip_engine *e, const float *X, int64_t ldx, const float *D, int64_t ldd,
                  const int64_t *labels, uint64_t seed) {
    e->X = X; e->ldx = ldx; e->D = D; e->ldd = ldd; e->labels = labels;
    seed_rng(&e->rng, seed);
}

/* layer c's value of a parameter that is shared (inc 0) or per device (inc 1) at flat index */
#define PAR(d, name, at) ((d)->name[(at) * (d)->name##_inc])

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
        sn_matmul(1, no, k, 1.f, x + r0, k, 1, c->Wk + r0 * no, no, 0.f, out, no,
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

/* x inside device `at`'s bounds */
static inline float clip_to(const sn_chip_devices *d, int64_t at, float x) {
    const float lo = PAR(d, lo, at), hi = PAR(d, hi, at);
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}

/* one device's train of n pulses (n ≠ 0) from w, as DeviceArray._train / pulses_at: devices d
 * of layer c, flat index at; the law's table where `table` */
static inline float train(chip_engine *e, const sn_chip_layer *c, const sn_chip_devices *d,
                          int64_t at, float w, float n, int table) {
    const float k = fabsf(n);
    const int up = n > 0;
    float x;
    if (table) {  /* shared coefficients: the table */
        const int64_t t = (int64_t)n + c->tab_k;
        x = w * c->tab_g[t];
        x += c->tab_c[t];
    } else {
        const float a_up = PAR(d, a_up, at), a_dn = PAR(d, a_dn, at);
        const float b_up = PAR(d, b_up, at), b_dn = PAR(d, b_dn, at);
        if (b_up == 0.f && b_dn == 0.f) {
            if (c->same_steps) x = w + a_up * n;  /* the same step both ways */
            else x = w + (up ? a_dn + (a_up - a_dn) : a_dn) * k;  /* sel() of the twin */
        } else {  /* w (1 + b)^k + a ((1 + b)^k − 1) / b, in float32 as the twin */
            const float a = up ? a_up : a_dn, b = up ? b_up : b_dn;
            const float lg = log1pf(b);
            const float g = expf(k * lg), s = b == 0.f ? k : expm1f(k * lg) / b;
            x = w * g;
            x += a * s;
            if (!isfinite(g)) {  /* past float's range: away from −a/b, to ±∞ (the twin's) */
                const float away = w + a / b;
                x = away > 0.f ? INFINITY : away < 0.f ? -INFINITY : w;
            }
        }
    }
    const float sigma = up ? PAR(d, sig_up, at) : PAR(d, sig_dn, at);
    if (sigma != 0.f) {  /* cycle-to-cycle noise of the train: σ √|n| ξ */
        float xi = (float)normal(&e->rng);
        xi *= sqrtf(k);
        xi *= sigma;
        x += xi;
    }
    return clip_to(d, at, x);
}

/* a weight as the crossbar holds it, clip(v / weight_max, −1, 1) (load_weights_at) */
static inline float normalised(float v, float inv_wmax) {
    float x = v * inv_wmax;
    x = x > -1.f ? x : -1.f;
    return x < 1.f ? x : 1.f;
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
    for (int64_t j = 0; j < no && c->tab_g; j++) {
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
    const float covered = (float)c->tab_k;
    const int table_up = c->tab_g && most_up <= covered;
    const int table_down = c->tab_g && most_down <= covered;
    const int table = table_up && table_down;
    const sn_chip_devices *d0 = &c->dev[0], *d1 = &c->dev[1];
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
        float *restrict Wj = c->W + j * ni;
        float *restrict w0 = d0->state + j * ni, *restrict w1 = c->pair ? d1->state + j * ni : w0;
        float *restrict counts = e->nc;
        row_counts(nd, e->zc, m, c->s_up, c->s_dn, c->continuous, counts);
        for (int64_t t = 0; t < m; t++) {
            const float n = counts[t];
            if (n == 0.f) continue;
            const int64_t i = e->cols[t];
            const int64_t at = j * ni + i;
            float before, w, v;
            if (!c->pair) {  /* bidirectional: LTP for n > 0, LTD for n < 0 */
                before = w0[i];
                w = w0[i] = train(e, c, d0, at, before, n, table);
                v = w - c->w_ref;
            } else {  /* LTP pulses to w⁺ (n > 0) or w⁻ (n < 0): DeviceSynapses._pulse_at */
                const int on_plus = n > 0;
                const float k = fabsf(n);
                float wp = w0[i], wm = w1[i];
                before = on_plus ? wp : wm;
                if (wp + (on_plus ? k : 0.f) * c->pair_step >= c->limit ||
                    wm + (on_plus ? 0.f : k) * c->pair_step >= c->limit) {
                    /* refresh: the weight read, written into one device, the other at w_min */
                    float t = wp - wm;
                    t *= c->gamma;
                    t /= c->gamma;
                    wp = clip_to(d0, at, c->law_min + (t > 0.f ? t : 0.f));
                    wm = clip_to(d1, at, c->law_min + (-t > 0.f ? -t : 0.f));
                    refreshes += 1;
                }
                if (on_plus) wp = train(e, c, d0, at, wp, k, table_up);
                else wm = train(e, c, d1, at, wm, k, table_down);
                w = on_plus ? wp : wm;
                w0[i] = wp;
                w1[i] = wm;
                v = wp - wm;
            }
            /* the weight as the chip reads it (Analog.update, load_weights_at): into W and
             * the crossbar's copy in ADC steps, which the next read takes; the layer's Wᵀ and
             * the normalised copy are brought in step by the caller (ChipEngine.count) */
            v *= c->gamma;
            if (c->rowsum) c->rowsum[i] += fabs((double)normalised(v, c->inv_wmax)) -
                                           fabs((double)normalised(Wj[i], c->inv_wmax));
            Wj[i] = v;
            c->Wk[i * no + j] = normalised(v, c->inv_wmax) * c->g;
            const float k = c->continuous ? 1.f : fabsf(n);
            pulses += k;
            if (meter) {  /* the tally (DeviceSynapses._metered): a pair's pulses all LTP */
                const int dn = n < 0 && !c->pair;
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
                    c->W, c->n_in, 0.f, e->G, c->n_in);
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
    for (int64_t k = 0; k < n; k++) out[k] = normal(&e->rng);
}

void sn_chip_free(chip_engine *e) {
    if (!e) return;
    free(e->z0); free(e->G); free(e->Do); free(e->dd); free(e->peak); free(e->written);
    free(e->cols); free(e->zc); free(e->nc);
    for (int l = 0; l < MAX_LAYERS; l++) free(e->U[l]);
    free(e);
}
