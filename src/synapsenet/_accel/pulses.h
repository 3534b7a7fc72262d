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
 * truncated to 64 bits. The slots of the train, of those allowed, out of the first BL (a word
 * for each 8 of them). */
typedef unsigned char NAME(bytes) __attribute__((vector_size(32)));

static const NAME(bytes) NAME(byte_index) = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                              11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                              22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

TARGET static inline uint64_t NAME(byte_train)(sn_rng *restrict g, uint64_t t,
                                               uint64_t allowed, int BL) {
    const NAME(bytes) pb = (NAME(bytes)){0} + (unsigned char)(t >> 56); /* broadcast */
    uint64_t fire = 0, tie = 0;
    for (int base = 0; base < BL; base += 32) {
        /* a word of the generator per 8 slots of the chunk (the bytes past them never fire) */
        const int words = BL - base >= 32 ? 4 : (BL - base + 7) / 8;
        if (g->at > RNG_BUFFER - 4) g->refill(g);
        NAME(bytes) u;
        memcpy(&u, g->buf + g->at, 32); /* (the buffer holds 4 more words) */
        u |= (NAME(bytes))(NAME(byte_index) >= (unsigned char)(8 * words));
        g->at += words;
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

/* The values of a vector v (n of them, probabilities |v_i| c) that fire, of the `allowed`
 * slots only (the others cannot meet a pulse of the other side: left undrawn): drawn, or
 * taken from `given` (n masks), of the m that can (`which`: the indices of v's values that
 * are not 0, ascending); their indices into idx and their slots into msk (*count of them),
 * and every value's slots into `drawn` if not NULL. Returns the slots that fire at all. */
TARGET static uint64_t NAME(fire)(sn_rng *restrict g, const float *restrict v, int64_t n,
                                  double c, uint64_t allowed, const uint64_t *restrict given,
                                  uint64_t *restrict drawn, int32_t *restrict idx,
                                  uint64_t *restrict msk, int32_t *restrict count,
                                  const int32_t *restrict which, int64_t m) {
    const int n_allowed = __builtin_popcountll(allowed);
    if (given) {
        for (int64_t r = 0; r < m; r++) msk[r] = given[which[r]] & allowed;
    } else if (allowed == 1) {
        /* a train of one slot: it fires where a word of the generator, as a fraction of
         * 2⁶⁴, is below p (p ≥ 1: always, no word drawn) */
        for (int64_t r = 0; r < m; r++) {
            const double p = fabs((double)v[which[r]]) * c;
            /* (p · 2⁶³ fits a signed word, which converts in one instruction) */
            const uint64_t t = p >= 1.0 ? 0 : (uint64_t)(int64_t)(p * 0x1p63) << 1;
            msk[r] = p >= 1.0 ? 1 : NAME(next)(g) < t;
        }
    } else {
        /* the trains of p ≥ 1 fire in every slot; those of few expected fires one by one;
         * the others byte by byte */
        const int BL = 64 - __builtin_clzll(allowed); /* the slots up to the last allowed */
        for (int64_t r = 0; r < m; r++) {
            const double p = fabs((double)v[which[r]]) * c;
            if (p >= 1.0) {
                msk[r] = allowed;
            } else if (p * n_allowed <= BINOMIAL_BELOW) {
                msk[r] = NAME(binomial_train)(g, p, allowed);
            } else {
                msk[r] = NAME(byte_train)(g, (uint64_t)(p * 0x1p64), allowed, BL);
            }
        }
    }
    if (drawn) {
        memset(drawn, 0, sizeof(uint64_t) * n);
        for (int64_t r = 0; r < m; r++) drawn[which[r]] = msk[r];
    }
    /* the ones that fire, kept in place (k ≤ r) without a branch: whether a train fires
     * is a coin the CPU cannot foresee */
    uint64_t fired = 0;
    int32_t k = 0;
    for (int64_t r = 0; r < m; r++) {
        const uint64_t x = msk[r];
        fired |= x;
        idx[k] = which[r];
        msk[k] = x;
        k += x != 0;
    }
    *count = k;
    return fired;
}

/* max |v_i| (0 for none) and the indices of v's values that are not 0, ascending, into
 * which (*m of them): the magnitudes' bits compared as integers, which orders them as the
 * floats (finite ones; a NaN above all) */
TARGET static float NAME(nonzero)(const float *restrict v, int64_t n, int32_t *restrict which,
                                  int64_t *m) {
    uint32_t top = 0;
    int64_t k = 0, i = 0;
#ifdef PULSES_AVX2
    /* 8 values at a time: their nonzero lanes' indices packed by a permutation from the
     * table (the 8 stored land within the first i + 8 of which, as k ≤ i) */
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
    __m256i tops = _mm256_setzero_si256();
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(v + i);
        tops = _mm256_max_epu32(tops, _mm256_and_si256(_mm256_castps_si256(x), magnitude));
        const int mask = _mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NEQ_UQ));
        const __m256i at = _mm256_add_epi32(
            _mm256_set1_epi32((int)i), _mm256_loadu_si256((const __m256i *)nonzero_lanes[mask]));
        _mm256_storeu_si256((__m256i *)(which + k), at);
        k += __builtin_popcount((unsigned)mask);
    }
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, tops);
    for (int l = 0; l < 8; l++) top = lanes[l] > top ? lanes[l] : top;
#endif
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, v + i, 4);
        u &= 0x7fffffffu;
        top = u > top ? u : top;
        which[k] = (int32_t)i;
        k += v[i] != 0.f;
    }
    *m = k;
    float f;
    memcpy(&f, &top, 4);
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

/* one side of a sample's trains (the inputs z, or the deltas d) as fire takes it */
typedef struct {
    const float *v;
    int64_t n;
    double c;
    const uint64_t *given;
    uint64_t *drawn;
    int32_t *idx;
    uint64_t *msk;
    int32_t *count;
    const int32_t *which;
    int64_t m;
} NAME(side);

TARGET static inline uint64_t NAME(fire_side)(sn_rng *restrict g, const NAME(side) *s,
                                              uint64_t allowed) {
    return NAME(fire)(g, s->v, s->n, s->c, allowed, s->given, s->drawn, s->idx, s->msk,
                      s->count, s->which, s->m);
}

/* Stage 1, the trains of samples [s0, s1), from generator g: per sample its train length
 * and C (adaptive or not), the probabilities capped, and the inputs and deltas that fire
 * with their slots — the side with fewer trains first, the other's only in the slots where
 * it fires. */
TARGET static void NAME(trains)(const sn_pulse_call *u, int64_t s0, int64_t s1, sn_rng *g,
                                int32_t *which) {
    const int64_t n_in = u->dev->n_in, n_out = u->dev->n_out;
    int32_t *wx = which, *wd = which + n_in;
    for (int64_t s = s0; s < s1; s++) {
        const float *z = u->Z + s * u->ldz, *d = u->D + s * u->ldd;
        sn_sample *S = u->samples + s;
        int32_t *xi = u->xi + s * n_in, *di = u->di + s * n_out;
        uint64_t *xm = u->xm + s * n_in, *dm = u->dm + s * n_out;
        const uint64_t *gx = u->given ? u->XM + s * n_in : NULL;
        const uint64_t *gd = u->given ? u->DM + s * n_out : NULL;
        uint64_t *ox = !u->given && u->XM ? (uint64_t *)u->XM + s * n_in : NULL;
        uint64_t *od = !u->given && u->DM ? (uint64_t *)u->DM + s * n_out : NULL;
        S->BL = 0, S->nx = S->nd = 0, S->capped = 0;
        /* the values that can fire (a 0 never does, and given slots of a 0 carry no sign),
         * and each side's largest magnitude */
        int64_t nzx, nzd;
        const float zmax = NAME(nonzero)(z, n_in, wx, &nzx);
        const float dmax = NAME(nonzero)(d, n_out, wd, &nzd);
        /* nothing fires where all z or all δ are 0, or where one is not finite (the twin's
         * probabilities are then NaN, which no uniform is below) */
        if (zmax == 0.f || dmax == 0.f || !(zmax <= FLT_MAX && dmax <= FLT_MAX)) {
            if (ox) memset(ox, 0, sizeof(uint64_t) * n_in);
            if (od) memset(od, 0, sizeof(uint64_t) * n_out);
            continue;
        }
        int BL = u->BL;
        double C = u->C;
        if (u->adaptive) { /* the largest update's expected pulses, in whole slots, 1…BL */
            const double cb = u->C * (double)u->BL;
            const double most = (double)zmax * (double)dmax * cb;
            BL = !(most < u->BL) ? u->BL : most <= 1.0 ? 1 : (int)ceil(most);
            C = cb / (double)BL;
        }
        const uint64_t slots = BL == 64 ? UINT64_MAX : (((uint64_t)1 << BL) - 1);
        /* C_x C_d = C, shared in the ratio of the largest |δ| to the largest |z| */
        const double cx = sqrt(C * (double)dmax / (double)zmax);
        const double cd = sqrt(C * (double)zmax / (double)dmax);
        if ((double)zmax * cx > 1.0) /* some probability capped at 1 */
            for (int64_t i = 0; i < n_in; i++) S->capped += fabs((double)z[i]) * cx > 1.0;
        if ((double)dmax * cd > 1.0)
            for (int64_t j = 0; j < n_out; j++) S->capped += fabs((double)d[j]) * cd > 1.0;
        S->BL = BL;
        const NAME(side) sides[2] = {{z, n_in, cx, gx, ox, xi, xm, &S->nx, wx, nzx},
                                     {d, n_out, cd, gd, od, di, dm, &S->nd, wd, nzd}};
        const NAME(side) *one = &sides[nzd <= nzx], *two = &sides[nzd > nzx];
        const uint64_t f = NAME(fire_side)(g, one, slots);
        if (f) NAME(fire_side)(g, two, f);
        else if (two->drawn) memset(two->drawn, 0, sizeof(uint64_t) * two->n);
    }
}

/* the first k of v's n ascending indices that are below `bound` */
static inline int32_t NAME(below)(const int32_t *v, int32_t n, int64_t bound) {
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        const int32_t mid = (lo + hi) / 2;
        if (v[mid] < bound) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Stage 2, sample s's coincidences on lane L's devices (its rows, or its columns, of the
 * array): each input and delta that both fire in a slot add one pulse to their device (the
 * work is the pulses, not the pairs that fire), and each device hit takes its count as one
 * train, of sign −sign(δ_j z_i), noise from the lane's generator; the weight it then holds
 * written where the chip reads it. */
TARGET static void NAME(lane_sample)(const sn_pulse_call *u, sn_lane *ln, int L, int64_t s,
                                     sn_pulse_work *metered) {
    const sn_sample *S = u->samples + s;
    if (!S->nx || !S->nd) return;
    const sn_devices *dev = u->dev;
    const sn_mirror *mir = u->mir;
    sn_pair *pair = u->pair;
    const int64_t n_in = dev->n_in, n_out = dev->n_out;
    const float *z = u->Z + s * u->ldz, *d = u->D + s * u->ldd;
    const int32_t *xi = u->xi + s * n_in, *di = u->di + s * n_out;
    const uint64_t *xm = u->xm + s * n_in, *dm = u->dm + s * n_out;
    /* the firing inputs and deltas of this lane: a run of each ascending list */
    int32_t xa = 0, xb = S->nx, da = 0, db = S->nd;
    if (u->by_rows) {
        da = NAME(below)(di, S->nd, u->cut[L]);
        db = NAME(below)(di, S->nd, u->cut[L + 1]);
    } else {
        xa = NAME(below)(xi, S->nx, u->cut[L]);
        xb = NAME(below)(xi, S->nx, u->cut[L + 1]);
    }
    if (xa == xb || da == db) return;
    sn_pulse_work *ws = &ln->ws;
    int64_t hit = 0;
    unsigned char *count = NULL; /* one slot: every device hit once */
    if (S->BL == 1) {
        for (int32_t r = da; r < db; r++) {
            const int32_t base = di[r] * (int32_t)n_in;
            int32_t *hits = ws->hits + hit;
            for (int32_t c = xa; c < xb; c++) hits[c - xa] = base + xi[c];
            hit += xb - xa;
        }
    } else {
        count = ws->count;
        int64_t xfill[64] = {0}, dfill[64] = {0};
        for (int32_t c = xa; c < xb; c++)
            for (uint64_t x = xm[c]; x; x &= x - 1) {
                const int t = __builtin_ctzll(x);
                ws->xslot[t * n_in + xfill[t]++] = xi[c];
            }
        for (int32_t r = da; r < db; r++)
            for (uint64_t x = dm[r]; x; x &= x - 1) {
                const int t = __builtin_ctzll(x);
                ws->dslot[t * n_out + dfill[t]++] = di[r];
            }
        for (int t = 0; t < S->BL; t++) {
            const int32_t *cols = ws->xslot + t * n_in, *rows = ws->dslot + t * n_out;
            for (int64_t r = 0; r < dfill[t]; r++) {
                unsigned char *cnt = count + (int64_t)rows[r] * n_in;
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
    }
    sn_pulse_meter *meter = u->meter;
    const sn_param *first = dev->lo.step ? &dev->lo : dev->a[0].step ? &dev->a[0] : NULL;
    const int table = dev->table_g != NULL; /* (a pair's two arrays share it) */
    sn_rng *g = &ln->g;
    const int mirrored = mir->W || mir->W2 || mir->WnT || mir->scaled;
    for (int64_t h = 0; h < hit; h++) {
        if (h + PREFETCH < hit) { /* the devices a few hits on: their state, parameters */
            const int64_t ahead = ws->hits[h + PREFETCH];
            __builtin_prefetch(dev->w + ahead, 1);
            if (first) __builtin_prefetch(first->v + ahead * first->step);
            if (mir->W) __builtin_prefetch(mir->W + ahead, 1);
            if (pair) __builtin_prefetch(pair->minus->w + ahead, 1);
            if (mir->WnT || mir->W2 || mir->scaled) { /* the transposed copies */
                const int64_t ja = (int64_t)((uint32_t)ahead / (uint32_t)n_in);
                const int64_t ia = ahead - ja * n_in, ta = ia * n_out + ja;
                if (mir->W2) __builtin_prefetch(mir->W2 + ja * mir->w2_row + ia * mir->w2_col, 1);
                if (mir->WnT) __builtin_prefetch(mir->WnT + ta, 1);
                if (mir->scaled) __builtin_prefetch(mir->scaled + ta, 1);
            }
        }
        const int64_t at = ws->hits[h];
        const int64_t j = (int64_t)((uint32_t)at / (uint32_t)n_in), i = at - j * n_in;
        int64_t k = 1;
        if (count) {
            k = count[at];
            count[at] = 0;
        }
        const int up = (d[j] > 0.f) != (z[i] > 0.f);
        const int64_t pulses = dev->continuous ? 1 : k;
        ln->pulses += pulses;
        float v;
        if (!pair) { /* one bidirectional device against the reference: LTP up, LTD down */
            const float before = dev->w[at];
            const float x = NAME(train)(dev, g, at, before, (float)k, up, table);
            dev->w[at] = x;
            v = (x - mir->w_ref) * mir->gamma;
            if (meter) NAME(meter_hit)(meter, metered, j, i, pulses, up, before, x);
        } else { /* a pair: an update up potentiates w⁺, one down w⁻ */
            float *w1 = pair->minus->w + at;
            const float b0 = dev->w[at], b1 = *w1;
            float wp = b0, wm = b1;
            ln->refreshes += NAME(pair_train)(dev, pair, g, at, (float)k, up, table, &wp, &wm);
            dev->w[at] = wp, *w1 = wm;
            v = (wp - wm) * pair->gamma;
            if (meter) NAME(meter_hit)(meter, metered, j, i, pulses, 1, up ? b0 : b1,
                                       up ? wp : wm);
        }
        if (mirrored) NAME(mirror)(mir, n_out, n_in, j, i, v);
    }
    ln->hits += hit;
}

/* a task of the call: stage 1's chunk of samples, or stage 2's lane (over all samples) */
TARGET static void NAME(task)(void *ctx, int task, int thread) {
    const sn_pulse_call *u = ctx;
    if (u->stage == 1) {
        sn_rng *g = u->scratch_rng[thread];
        sn_rng_seed(g, sn_stream_seed(u->seed, 2 * (uint64_t)(u->chunk0 + task)), u->isa);
        const int64_t s0 = (int64_t)task * PULSE_CHUNK;
        NAME(trains)(u, s0, s0 + PULSE_CHUNK < u->B ? s0 + PULSE_CHUNK : u->B, g,
                     u->scratch_which[thread]);
    } else {
        for (int64_t s = 0; s < u->B; s++) NAME(lane_sample)(u, u->lane[task], task, s, NULL);
    }
}

/* several calls' stages as one call's tasks: all their chunks of trains, then all their
 * lanes (their passes set, their lanes' generators seeded) */
typedef struct {
    sn_pulse_call **u;
    int n;
    int first[PULSE_JOBS + 1]; /* call j's tasks: first[j] … first[j + 1] − 1 */
} NAME(many);

TARGET static void NAME(many_task)(void *ctx, int task, int thread) {
    const NAME(many) *m = ctx;
    int j = 0;
    while (task >= m->first[j + 1]) j++;
    NAME(task)(m->u[j], task - m->first[j], thread);
}

/* stage 1 of the calls' passes on up to `threads` threads, their capped counts, then (`lanes`)
 * stage 2 */
TARGET static void NAME(stages)(sn_pulse_call **u, int n, int threads, int lanes) {
    NAME(many) m = {u, n, {0}};
    for (int j = 0; j < n; j++) {
        u[j]->stage = 1;
        m.first[j + 1] = m.first[j] + (int)((u[j]->B + PULSE_CHUNK - 1) / PULSE_CHUNK);
    }
    sn_pool_run(threads, m.first[n], NAME(many_task), &m);
    for (int j = 0; j < n; j++) {
        for (int64_t s = 0; s < u[j]->B; s++) u[j]->capped += u[j]->samples[s].capped;
        u[j]->stage = 2;
        m.first[j + 1] = m.first[j] + u[j]->lanes;
    }
    if (lanes) sn_pool_run(threads, m.first[n], NAME(many_task), &m);
}

TARGET static void NAME(seed_lanes)(sn_pulse_call *u) {
    for (int L = 0; L < u->lanes; L++)
        sn_rng_seed(&u->lane[L]->g, sn_stream_seed(u->seed, 2 * (uint64_t)L + 1), u->isa);
}

/* the update of the call's batch, PULSE_BATCH samples at a time: their trains in chunks of
 * samples, then the lanes of devices over them, on up to `threads` threads (or, metered,
 * sample by sample on this one: the tally of a sample counts all its lanes); the same
 * devices on any number of threads */
TARGET static void NAME(update)(sn_pulse_call *u, int threads) {
    NAME(seed_lanes)(u);
    const int64_t total = u->B, n_in = u->dev->n_in, n_out = u->dev->n_out;
    const float *Z = u->Z, *D = u->D;
    const uint64_t *XM = u->XM, *DM = u->DM;
    for (int64_t p0 = 0; p0 < total; p0 += PULSE_BATCH) {
        u->B = total - p0 < PULSE_BATCH ? total - p0 : PULSE_BATCH;
        u->Z = Z + p0 * u->ldz, u->D = D + p0 * u->ldd;
        u->XM = XM ? XM + p0 * n_in : NULL, u->DM = DM ? DM + p0 * n_out : NULL;
        u->chunk0 = p0 / PULSE_CHUNK;
        NAME(stages)(&u, 1, threads, !u->meter);
        if (u->meter)
            for (int64_t s = 0; s < u->B; s++) {
                for (int L = 0; L < u->lanes; L++)
                    NAME(lane_sample)(u, u->lane[L], L, s, &u->lane[0]->ws);
                NAME(meter_sample)(u->meter, &u->lane[0]->ws);
            }
    }
}

/* several calls' updates as one call's (each batch at most PULSE_BATCH samples, none
 * metered) */
TARGET static void NAME(update_many)(sn_pulse_call **u, int n, int threads) {
    for (int j = 0; j < n; j++) {
        NAME(seed_lanes)(u[j]);
        u[j]->chunk0 = 0;
    }
    NAME(stages)(u, n, threads, 1);
}
