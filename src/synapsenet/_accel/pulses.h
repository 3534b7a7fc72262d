/* The body of the stochastic pulse update (pulses.c), compiled once per instruction set:
 * NAME(f) names this copy's functions, TARGET its compiler target (the popcount and the
 * generator's lanes vectorise where the CPU has them). The generator and what a train does
 * to a device are devices.h's, included before this file in each copy. */

#ifndef BINOMIAL_BELOW
#define BINOMIAL_BELOW 0.1 /* expected fires a train below which the first way is cheaper */
#endif

/* The slots in which a train of probability p fires, of the n slots `allowed` (bits), each
 * on its own with probability p. Two exact ways, whichever costs less for this p:
 *
 * - very few fires expected (p n ≤ BINOMIAL_BELOW): the number of fires K ~ Binomial(n, p)
 *   by inversion of one uniform (most such trains end at K = 0, after (1 − p)^n), then K
 *   distinct slots drawn uniformly (a uniform K-subset given K is the independent slots'
 *   law);
 * - else byte by byte (byte_train): slot s fires where its uniform U_s < p, decided by
 *   U_s's top byte for all but 1 in 256 slots, 32 slots compared at once — four words a
 *   train of up to 32 slots and no branch to mispredict, which costs less than deciding
 *   bit by bit from the most significant one (about log2 n + 1 words a train, but a loop
 *   whose end the CPU cannot foresee): measured on the MNIST workload of
 *   docs/performance.md, the whole update took about 15 % less CPU time this way; the binomial way, once
 *   also taken up to 0.3 expected fires, now only below 0.1. */
TARGET static inline uint64_t NAME(binomial_train)(sn_rng *restrict g, double p,
                                                  uint64_t allowed) {
    const int n = __builtin_popcountll(allowed);
    const double q = 1.0 - p;
    double f = 1.0, base = q; /* (1 − p)^n by squaring */
    for (int e = n; e; e >>= 1, base *= base)
        if (e & 1) f *= base;
    const double u = (double)(NAME(next)(g) >> 11) * 0x1p-53;
    int K = 0;
    double pk = f, cdf = f;
    const double ratio = p / q;
    while (u >= cdf && K < n) { /* P(K = k + 1) = P(K = k) (n − k)/(k + 1) p/(1 − p) */
        pk *= binomial_step[n][K] * ratio;
        K++;
        cdf += pk;
    }
    if (K == 0) return 0;
    /* K distinct slots of the n allowed (or the n − K that do not fire, whichever are
     * fewer): the j-th allowed slot is bit j where they are the lowest n bits */
    const int pick = 2 * K <= n ? K : n - K;
    const int low = allowed == (n == 64 ? UINT64_MAX : (((uint64_t)1 << n) - 1));
    uint64_t chosen = 0;
    int have = 0;
    while (have < pick) {
        const uint64_t r = NAME(next)(g);
        for (int half = 0; half < 2 && have < pick; half++) {
            int j = (int)((((r >> (32 * half)) & 0xffffffffu) * (uint64_t)n) >> 32);
            uint64_t bit;
            if (low) {
                bit = (uint64_t)1 << j;
            } else { /* the j-th set bit of allowed */
                uint64_t x = allowed;
                while (j--) x &= x - 1;
                bit = x & (~x + 1);
            }
            have += !(chosen & bit);
            chosen |= bit;
        }
    }
    return pick == K ? chosen : allowed & ~chosen;
}

/* The bytewise way, branch-free for most trains: slot s fires where its uniform U_s < p,
 * decided by U_s's top byte against p's first (32 slots to four words of the generator,
 * compared side by side: below fires, above does not), and for the slots whose byte equals
 * p's (1 in 256 of them) by one more word each against p's bits below those 8; p is t / 2⁶⁴,
 * truncated to 64 bits. The slots of the train, of those allowed, out of the first BL. */
typedef unsigned char NAME(bytes) __attribute__((vector_size(32)));

TARGET static inline uint64_t NAME(byte_train)(sn_rng *restrict g, uint64_t t,
                                               uint64_t allowed, int BL) {
    const NAME(bytes) pb = (NAME(bytes)){0} + (unsigned char)(t >> 56); /* broadcast */
    uint64_t fire = 0, tie = 0;
    for (int base = 0; base < BL; base += 32) {
        if (g->at > RNG_BUFFER - 4) g->refill(g);
        NAME(bytes) u;
        memcpy(&u, g->buf + g->at, 32);
        g->at += 4;
        const NAME(bytes) lt = (NAME(bytes))(u < pb), eq = (NAME(bytes))(u == pb);
        fire |= (uint64_t)BYTES_MASK(lt) << base;
        tie |= (uint64_t)BYTES_MASK(eq) << base;
    }
    fire &= allowed;
    tie &= allowed;
    while (tie) { /* U's top byte is p's: the next 64 bits decide */
        const int s = __builtin_ctzll(tie);
        tie &= tie - 1;
        if (NAME(next)(g) < t << 8) fire |= (uint64_t)1 << s;
    }
    return fire;
}

/* The slots a vector v (n values, probabilities |v_i| c) fires in, of the `allowed` ones
 * only (the others cannot meet a pulse of the other side: left undrawn): drawn, or taken
 * from `given` (n masks), into `drawn` if not NULL; each firing value's index put in the
 * bucket of every slot it fires in (slot s's at bucket[s·n …], `fill[s]` of them), its sign
 * in positive[i] (1: v_i > 0). Returns the slots that fire at all. */
TARGET static uint64_t NAME(fire)(sn_rng *restrict g, const float *restrict v, int64_t n,
                                  double c, uint64_t allowed, const uint64_t *restrict given,
                                  uint64_t *restrict drawn, int32_t *restrict bucket,
                                  int64_t *restrict fill, unsigned char *restrict positive,
                                  int32_t *restrict which, uint64_t *restrict mask) {
    /* the values that can fire (a 0 never does, and given slots of a 0 carry no sign) */
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        positive[i] = v[i] > 0.f;
        which[m] = (int32_t)i;
        m += v[i] != 0.f;
    }
    const int n_allowed = __builtin_popcountll(allowed);
    if (given) {
        for (int64_t r = 0; r < m; r++) mask[r] = given[which[r]] & allowed;
    } else {
        /* the trains of p ≥ 1 fire in every slot; those of few expected fires one by one;
         * the others byte by byte */
        const int BL = 64 - __builtin_clzll(allowed); /* the slots up to the last allowed */
        for (int64_t r = 0; r < m; r++) {
            const double p = fabs((double)v[which[r]]) * c;
            if (p >= 1.0) {
                mask[r] = allowed;
            } else if (p * n_allowed <= BINOMIAL_BELOW) {
                mask[r] = NAME(binomial_train)(g, p, allowed);
            } else {
                mask[r] = NAME(byte_train)(g, (uint64_t)(p * 0x1p64), allowed, BL);
            }
        }
    }
    if (drawn) memset(drawn, 0, sizeof(uint64_t) * n);
    uint64_t fired = 0;
    for (int64_t r = 0; r < m; r++) {
        const int32_t i = which[r];
        uint64_t x = mask[r];
        if (drawn) drawn[i] = x;
        fired |= x;
        while (x) {
            const int t = __builtin_ctzll(x);
            bucket[t * n + fill[t]++] = i;
            x &= x - 1;
        }
    }
    return fired;
}

/* one side of a sample's trains (the inputs z, or the deltas d) as fire takes it */
typedef struct {
    const float *v;
    int64_t n;
    double c;
    const uint64_t *given;
    uint64_t *drawn;
    int32_t *bucket;
    int64_t *fill;
    unsigned char *positive;
} NAME(side);

TARGET static inline uint64_t NAME(fire_side)(sn_rng *restrict g, const NAME(side) *s,
                                              uint64_t allowed, sn_pulse_work *ws) {
    return NAME(fire)(g, s->v, s->n, s->c, allowed, s->given, s->drawn, s->bucket, s->fill,
                      s->positive, ws->which, ws->mask);
}

/* max |v_i| (0 for none): the magnitudes' bits compared as integers, which orders them as
 * the floats (finite ones), and vectorises */
TARGET static float NAME(abs_max)(const float *v, int64_t n) {
    uint32_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, v + i, 4);
        u &= 0x7fffffffu;
        m = u > m ? u : m;
    }
    float f;
    memcpy(&f, &m, 4);
    return f;
}

/* What a metered update tallies (DeviceSynapses._metered, sample by sample): the pulses by
 * direction, the states they met (the mean of the fractions of the range before and after,
 * k times), and the write steps of a row-by-row write — per input (a crossbar row) and batch
 * of `batch_rows` outputs the most pulses of one direction, and the inputs written. */
TARGET static void NAME(meter_hit)(sn_pulse_meter *m, sn_pulse_work *ws, int64_t j, int64_t i,
                                   int64_t k, int up, float before, float after) {
    const int d = up ? 0 : 1;
    const float fb = (before - m->lo) * m->inv_span, fa = (after - m->lo) * m->inv_span;
    m->pulses[d] += k;
    m->state[d] += 0.5 * (double)k * ((double)fb + (double)fa);
    const int64_t cell = (d * m->batches + j / m->batch_rows) * m->n_in + i;
    if (!ws->most[cell]) ws->cells[ws->n_cells++] = (int32_t)cell;
    if (k > ws->most[cell]) ws->most[cell] = (unsigned char)k;
    if (!ws->written[i]) ws->written_list[ws->n_written++] = (int32_t)i;
    ws->written[i] = 1;
}

TARGET static void NAME(meter_sample)(sn_pulse_meter *m, sn_pulse_work *ws) {
    for (int64_t c = 0; c < ws->n_cells; c++) {
        const int32_t cell = ws->cells[c];
        m->steps[cell >= m->batches * m->n_in] += ws->most[cell];
        ws->most[cell] = 0;
    }
    for (int64_t r = 0; r < ws->n_written; r++) ws->written[ws->written_list[r]] = 0;
    m->rows_written += ws->n_written;
    ws->n_cells = ws->n_written = 0;
}

#ifndef PREFETCH
#define PREFETCH 12 /* hits ahead */
#endif

TARGET static int64_t NAME(update)(const sn_devices *dev, const sn_mirror *mir,
                                   const float *Z, int64_t ldz, const float *D, int64_t ldd,
                                   int64_t B, int BL, double C, sn_rng *g,
                                   const uint64_t *XM, const uint64_t *DM, int given,
                                   sn_pulse_work *ws, sn_pulse_meter *meter,
                                   sn_pair *pair, int64_t *counts) {
    const int64_t n_in = dev->n_in, n_out = dev->n_out;
    const uint64_t slots = BL == 64 ? UINT64_MAX : (((uint64_t)1 << BL) - 1);
    for (int64_t s = 0; s < B; s++) {
        const float *z = Z + s * ldz, *d = D + s * ldd;
        const float zmax = NAME(abs_max)(z, n_in), dmax = NAME(abs_max)(d, n_out);
        if (zmax == 0.f || dmax == 0.f) continue;
        /* C_x C_d = C, shared in the ratio of the largest |δ| to the largest |z| */
        const double cx = sqrt(C * (double)dmax / (double)zmax);
        const double cd = sqrt(C * (double)zmax / (double)dmax);
        if ((double)zmax * cx > 1.0) /* some probability capped at 1 */
            for (int64_t i = 0; i < n_in; i++) counts[1] += fabs((double)z[i]) * cx > 1.0;
        if ((double)dmax * cd > 1.0)
            for (int64_t j = 0; j < n_out; j++) counts[1] += fabs((double)d[j]) * cd > 1.0;
        const uint64_t *gx = given ? XM + s * n_in : NULL, *gd = given ? DM + s * n_out : NULL;
        uint64_t *ox = !given && XM ? (uint64_t *)XM + s * n_in : NULL;
        uint64_t *od = !given && DM ? (uint64_t *)DM + s * n_out : NULL;
        int64_t xfill[64] = {0}, dfill[64] = {0};
        /* the side with fewer trains first; the other's only in the slots it fires in */
        int64_t nzx = 0, nzd = 0;
        for (int64_t i = 0; i < n_in; i++) nzx += z[i] != 0.f;
        for (int64_t j = 0; j < n_out; j++) nzd += d[j] != 0.f;
        NAME(side) xs = {z, n_in, cx, gx, ox, ws->xslot, xfill, ws->xpos};
        NAME(side) ds = {d, n_out, cd, gd, od, ws->dslot, dfill, ws->dpos};
        const NAME(side) *one = nzd <= nzx ? &ds : &xs, *second = one == &ds ? &xs : &ds;
        const uint64_t u = NAME(fire_side)(g, one, slots, ws);
        if (!u) {
            if (second->drawn) memset(second->drawn, 0, sizeof(uint64_t) * second->n);
            continue;
        }
        if (!NAME(fire_side)(g, second, u, ws)) continue;
        /* the coincidences slot by slot: each input and delta that both fire in a slot add
         * one pulse to their device (the work is the pulses, not the pairs that fire) */
        int64_t hit = 0;
        for (int t = 0; t < BL; t++) {
            const int32_t *cols = ws->xslot + t * n_in, *rows = ws->dslot + t * n_out;
            for (int64_t r = 0; r < dfill[t]; r++) {
                unsigned char *cnt = ws->count + (int64_t)rows[r] * n_in;
                int32_t *hits = ws->hits + hit;
                int64_t fresh = 0;
                for (int64_t c = 0; c < xfill[t]; c++) {
                    const int32_t i = cols[c];
                    hits[fresh] = (int32_t)(rows[r] * n_in + i);
                    fresh += cnt[i]++ == 0;
                }
                hit += fresh;
            }
        }
        /* each device hit: its count as one train, of sign −sign(δ_j z_i) */
        const sn_param *first = dev->lo.step ? &dev->lo : dev->a[0].step ? &dev->a[0] : NULL;
        const int table = dev->table_g != NULL; /* (a pair's two arrays share it) */
        for (int64_t h = 0; h < hit; h++) {
            if (h + PREFETCH < hit) { /* the devices a few hits on: their state, parameters */
                const int64_t ahead = ws->hits[h + PREFETCH];
                __builtin_prefetch(dev->w + ahead, 1);
                if (first) __builtin_prefetch(first->v + ahead * first->step);
                if (mir->W) __builtin_prefetch(mir->W + ahead, 1);
                if (pair) __builtin_prefetch(pair->minus->w + ahead, 1);
            }
            const int64_t at = ws->hits[h], j = at / n_in, i = at - j * n_in;
            const int64_t k = ws->count[at];
            const int up = ws->dpos[j] != ws->xpos[i];
            const int64_t pulses = dev->continuous ? 1 : k;
            ws->count[at] = 0;
            counts[0] += pulses;
            float v;
            if (!pair) { /* one bidirectional device against the reference: LTP up, LTD down */
                const float before = dev->w[at];
                const float x = NAME(train)(dev, g, at, before, (float)k, up, table);
                dev->w[at] = x;
                v = (x - mir->w_ref) * mir->gamma;
                if (meter) NAME(meter_hit)(meter, ws, j, i, pulses, up, before, x);
            } else { /* a pair: an update up potentiates w⁺, one down w⁻ */
                float *w1 = pair->minus->w + at;
                const float b0 = dev->w[at], b1 = *w1;
                float wp = b0, wm = b1;
                pair->refreshes += NAME(pair_train)(dev, pair, g, at, (float)k, up, table,
                                                    &wp, &wm);
                dev->w[at] = wp, *w1 = wm;
                v = (wp - wm) * pair->gamma;
                if (meter) NAME(meter_hit)(meter, ws, j, i, pulses, 1, up ? b0 : b1,
                                           up ? wp : wm);
            }
            if (mir->W) NAME(mirror)(mir, n_out, n_in, j, i, v);
        }
        counts[2] += hit;
        if (meter) NAME(meter_sample)(meter, ws);
    }
    return 0;
}
