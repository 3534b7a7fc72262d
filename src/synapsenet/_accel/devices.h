/* The devices' physics, stated once for the compiled engine: the generator the trains' noise
 * comes from, a train of k pulses (the law's closed form, its noise σ √k ξ, the bounds), a
 * pair's refresh, and the weight the devices hold written where the chip reads it. Both the
 * stochastic pulse update (pulses.c, once per instruction set) and the chip's batch-1
 * training (chip.c, once) include this file: NAME(f) names a copy's functions, TARGET its
 * compiler target. Without NAME it declares only what the copies share, which devices.c
 * makes: the generator's refill (once per instruction set) and the ziggurat's tables.
 *
 * The definition is NumPy's: hardware/devices/base.py (DeviceArray._train, _closed, clip) and
 * hardware/learning.py (DeviceSynapses._pulse_at with its refresh, and the weights written
 * back as Analog.update writes them); tests/test_pulses.py and tests/test_chip_engine.py
 * hold the two engines to it. */

#ifndef SYNAPSENET_DEVICES_ONCE
#define SYNAPSENET_DEVICES_ONCE
#include <math.h>
#include <string.h>

#include "sn.h"

/* The ziggurat of the standard normal's density (Marsaglia & Tsang, J. Stat. Softw. 5(8),
 * 2000): ZIG layers of equal area, computed once at load (devices.c); a draw takes its layer
 * from a word's low bits and its value from the high ones (separate bits: no correlation
 * between the two, Doornik 2005). */
#define ZIG 128
#define ZIG_R 3.442619855899 /* where the base layer's tail starts */
extern uint32_t sn_zig_k[ZIG]; /* |value bits| below which a draw is inside its layer's box */
extern float sn_zig_w[ZIG];    /* the abscissa per unit of the value bits */
extern float sn_zig_f[ZIG];    /* the density at each layer's edge */

/* the generator's LANES streams from one seed, its buffer empty, refilled by the copy for
 * instruction set `isa` (ISA_*; at most the CPU's) */
void sn_rng_seed(sn_rng *g, uint64_t seed, int isa);
#endif

#ifdef NAME

/* -- the generator (devices.c): LANES xoshiro256++ streams, their words in a buffer that
 * g->refill fills in one pass, the copy for the CPU's instruction set (the same words) */
TARGET static inline uint64_t NAME(next)(sn_rng *restrict g) {
    if (g->at == RNG_BUFFER) g->refill(g);
    return g->buf[g->at++];
}

/* a uniform in (0, 1) from a word's high 24 bits */
TARGET static inline float NAME(uniform)(uint64_t r) {
    return ((float)(r >> 40) + 0.5f) * 0x1p-24f;
}

/* a standard normal draw: the ziggurat, most draws one word, a multiply and a compare (made
 * inline), the others (about 1 in 80) by normal_edge from the word r that did not land in
 * its layer's box */
TARGET static float NAME(normal_edge)(sn_rng *g, uint64_t r) {
    for (;;) {
        const int i = (int)(r & (ZIG - 1));
        const int32_t h = (int32_t)(uint32_t)(r >> 32);
        const uint32_t a = h < 0 ? (uint32_t)0 - (uint32_t)h : (uint32_t)h;
        const float x = (float)h * sn_zig_w[i];
        if (a < sn_zig_k[i]) return x; /* inside the layer's box */
        if (i == 0) { /* the tail beyond r (Marsaglia's method for it) */
            float t, y;
            do {
                t = -logf(NAME(uniform)(NAME(next)(g))) / (float)ZIG_R;
                y = -logf(NAME(uniform)(NAME(next)(g)));
            } while (y + y < t * t);
            return h > 0 ? (float)ZIG_R + t : -(float)ZIG_R - t;
        }
        /* the wedge: under the density, or draw again */
        const float u = NAME(uniform)(NAME(next)(g));
        if (sn_zig_f[i] + u * (sn_zig_f[i - 1] - sn_zig_f[i]) < expf(-0.5f * x * x)) return x;
        r = NAME(next)(g);
    }
}

TARGET static inline float NAME(normal)(sn_rng *g) {
    const uint64_t r = NAME(next)(g);
    const int i = (int)(r & (ZIG - 1));
    const int32_t h = (int32_t)(uint32_t)(r >> 32);
    const uint32_t a = h < 0 ? (uint32_t)0 - (uint32_t)h : (uint32_t)h;
    if (__builtin_expect(a < sn_zig_k[i], 1)) return (float)h * sn_zig_w[i];
    return NAME(normal_edge)(g, r);
}

/* -- the devices ------------------------------------------------------------------------ */
TARGET static inline float NAME(par)(const sn_param *q, int64_t at) { return q->v[at * q->step]; }

/* x inside [lo, hi]: NumPy's maximum, then minimum (a NaN stays one) */
TARGET static inline float NAME(clip)(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

/* k pulses (up: potentiation; k a whole count, or any ≥ 0 for a continuous device) from
 * state x of the device at flat index `at` (DeviceArray._train): the law's train (its table
 * where `table`: shared curved coefficients, a count within it; else the closed form, the
 * coefficients as NumPy's sel() makes them per direction), its noise σ √k ξ, its bounds;
 * returns the new state */
TARGET static inline float NAME(train)(const sn_devices *dev, sn_rng *g, int64_t at, float x,
                                       float k, int up, int table) {
    const int d = up ? 0 : 1;
    if (table) { /* NumPy's table of trains: w g[mid ± k] + c[mid ± k] */
        const int64_t t = dev->table_mid + (up ? (int64_t)k : -(int64_t)k);
        x = x * dev->table_g[t];
        x = x + dev->table_c[t];
    } else if (!dev->curved) { /* constant steps: w + a k */
        x = x + NAME(par)(&dev->a[d], at) * k;
    } else { /* w (1 + b)^k + a ((1 + b)^k − 1) / b */
        const float a = NAME(par)(&dev->a[d], at), b = NAME(par)(&dev->b[d], at);
        const float l = log1pf(b);
        const float gk = expf(k * l);
        const float s = b == 0.f ? k : expm1f(k * l) / b;
        const float x0 = x;
        x = x * gk;
        x = x + a * s;
        if (!isfinite(gk)) { /* past float's range: away from −a/b, to ±∞ (the twin's) */
            const float away = x0 + a / b;
            x = away > 0.f ? INFINITY : away < 0.f ? -INFINITY : x0;
        }
    }
    if (dev->sigma[d].v) { /* cycle-to-cycle noise of the train (none drawn where σ = 0) */
        const float sigma = NAME(par)(&dev->sigma[d], at);
        if (sigma != 0.f) {
            float xi = NAME(normal)(g);
            xi = xi * sqrtf(k);
            xi = xi * sigma;
            x = x + xi;
        }
    }
    return NAME(clip)(x, NAME(par)(&dev->lo, at), NAME(par)(&dev->hi, at));
}

/* k LTP pulses to a pair's w⁺ (up) or w⁻ (DeviceSynapses._pulse_at), their states *wp, *wm
 * in and out (`plus` holding w⁺, pair->minus w⁻, at flat index `at`); a pair that this train
 * would take past pair->limit is refreshed first: its weight read, both devices reset to
 * w_min and the difference written into one of them, within each device's bounds. `table`
 * as train's, for the device pulsed. Returns 1 where it refreshed, else 0. */
TARGET static inline int NAME(pair_train)(const sn_devices *plus, const sn_pair *pair,
                                          sn_rng *g, int64_t at, float k, int up, int table,
                                          float *wp, float *wm) {
    const sn_devices *minus = pair->minus;
    float p = *wp, m = *wm;
    int refreshed = 0;
    if (p + (up ? k : 0.f) * pair->step >= pair->limit ||
        m + (up ? 0.f : k) * pair->step >= pair->limit) {
        const float W = (p - m) * pair->gamma;
        const float target = W / pair->gamma;
        p = NAME(clip)(pair->w_min + (target > 0.f ? target : 0.f), NAME(par)(&plus->lo, at),
                       NAME(par)(&plus->hi, at));
        m = NAME(clip)(pair->w_min + (-target > 0.f ? -target : 0.f),
                       NAME(par)(&minus->lo, at), NAME(par)(&minus->hi, at));
        refreshed = 1;
    }
    if (up) p = NAME(train)(plus, g, at, p, k, 1, table);
    else m = NAME(train)(minus, g, at, m, k, 1, table);
    *wp = p, *wm = m;
    return refreshed;
}

/* a weight as the crossbar holds it, clip(v / weight_max, −1, 1) (load_weights_at) */
TARGET static inline float NAME(normalised)(const sn_mirror *mir, float v) {
    return NAME(clip)(v * mir->inv_wmax, -1.f, 1.f);
}

/* the weight v of synapse (j, i) written where it is read (Analog.update): W, W2, and what
 * the crossbar reads, its normalised copy WnT and that copy in ADC steps (scaled) */
TARGET static inline void NAME(mirror)(const sn_mirror *mir, int64_t n_out, int64_t n_in,
                                       int64_t j, int64_t i, float v) {
    if (mir->W) mir->W[j * n_in + i] = v;
    if (mir->W2) mir->W2[j * mir->w2_row + i * mir->w2_col] = v;
    if (mir->WnT || mir->scaled) {
        const float u = NAME(normalised)(mir, v);
        const int64_t t = i * n_out + j;
        if (mir->WnT) mir->WnT[t] = u;
        if (mir->scaled) mir->scaled[t] = u * mir->g;
    }
}
#endif
