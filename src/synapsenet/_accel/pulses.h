/* The body of the stochastic pulse update (pulses.c), compiled once per instruction set:
 * NAME(f) names this copy's functions, TARGET its compiler target (the popcount and the
 * generator's lanes vectorise where the CPU has them). */

/* the generator: LANES xoshiro256++ streams side by side (Blackman & Vigna, "Scrambled
 * linear pseudorandom number generators", ACM TOMS 47:36, 2021), their words interleaved in
 * a buffer that refills in one pass (each lane's four words in a row: vectorises) */
typedef uint64_t NAME(quad) __attribute__((vector_size(32)));
typedef uint64_t NAME(quad_u) __attribute__((vector_size(32), aligned(8)));

/* one step of four lanes: their next words into out */
#define XOSHIRO_STEP(s0, s1, s2, s3, out)                      \
    do {                                                       \
        const NAME(quad) sum_ = s0 + s3;                       \
        *(NAME(quad_u) *)(out) = ((sum_ << 23) | (sum_ >> 41)) + s0; \
        const NAME(quad) u_ = s1 << 17;                        \
        s2 ^= s0;                                              \
        s3 ^= s1;                                              \
        s1 ^= s2;                                              \
        s0 ^= s3;                                              \
        s2 ^= u_;                                              \
        s3 = (s3 << 45) | (s3 >> 19);                          \
    } while (0)

TARGET static void NAME(refill)(sn_pulse_rng *g) {
    /* the lanes as two vectors of four (GCC's and clang's vector extension: AVX2 registers
     * where this copy is compiled for them, SSE2's or plain words elsewhere), in registers
     * for the whole buffer */
    NAME(quad) a0, a1, a2, a3, b0, b1, b2, b3;
    memcpy(&a0, g->s[0], 32), memcpy(&a1, g->s[1], 32);
    memcpy(&a2, g->s[2], 32), memcpy(&a3, g->s[3], 32);
    memcpy(&b0, g->s[0] + 4, 32), memcpy(&b1, g->s[1] + 4, 32);
    memcpy(&b2, g->s[2] + 4, 32), memcpy(&b3, g->s[3] + 4, 32);
    for (int t = 0; t < RNG_BUFFER; t += 8) {
        XOSHIRO_STEP(a0, a1, a2, a3, g->buf + t);
        XOSHIRO_STEP(b0, b1, b2, b3, g->buf + t + 4);
    }
    memcpy(g->s[0], &a0, 32), memcpy(g->s[1], &a1, 32);
    memcpy(g->s[2], &a2, 32), memcpy(g->s[3], &a3, 32);
    memcpy(g->s[0] + 4, &b0, 32), memcpy(g->s[1] + 4, &b1, 32);
    memcpy(g->s[2] + 4, &b2, 32), memcpy(g->s[3] + 4, &b3, 32);
    g->at = 0;
}
#undef XOSHIRO_STEP

TARGET static inline uint64_t NAME(next)(sn_pulse_rng *g) {
    if (g->at == RNG_BUFFER) NAME(refill)(g);
    return g->buf[g->at++];
}

/* a standard normal draw: Marsaglia's polar method (SIAM Review 6:260, 1964), the second of
 * each pair kept for the next call */
TARGET static float NAME(normal)(sn_pulse_rng *g) {
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    for (;;) {
        const uint64_t r = NAME(next)(g);
        /* two uniforms in (−1, 1) from the word's halves, 24 bits each */
        const float x = (float)(int32_t)(uint32_t)(r >> 32) * 0x1p-31f;
        const float y = (float)(int32_t)(uint32_t)r * 0x1p-31f;
        const float s = x * x + y * y;
        if (s < 1.f && s > 0.f) {
            const float f = sqrtf(-2.f * logf(s) / s);
            g->spare = y * f;
            g->has_spare = 1;
            return x * f;
        }
    }
}

/* The BL slots (bits 0…BL−1) in which trains of probabilities p[0…TRAINS) fire: each bit
 * is U < p for its own uniform U, decided bit by bit from the most significant — a slot's
 * comparison ends at the first bit where U and p differ, so one 64-bit word serves every
 * slot still undecided at that bit (about log2 BL + 1.3 words a train, whatever p is), and
 * TRAINS trains go side by side, one word each per step (a vector of them). */
#define TRAINS 4
typedef uint64_t NAME(trains) __attribute__((vector_size(8 * TRAINS)));
TARGET static inline void NAME(train)(sn_pulse_rng *g, const double *p, uint64_t slots,
                                      uint64_t *out) {
    NAME(trains) t, undecided, fire = {0};
    for (int l = 0; l < TRAINS; l++) {
        t[l] = p[l] >= 1.0 ? UINT64_MAX : (uint64_t)(p[l] * 0x1p64);
        undecided[l] = p[l] >= 1.0 ? 0 : slots; /* p ≥ 1: every slot fires */
    }
    for (int bit = 63; bit >= 0; bit--) {
        uint64_t any = 0;
        for (int l = 0; l < TRAINS; l++) any |= undecided[l];
        if (!any) break;
        if (g->at > RNG_BUFFER - TRAINS) NAME(refill)(g);
        NAME(trains) r;
        memcpy(&r, g->buf + g->at, sizeof r);
        g->at += TRAINS;
        const NAME(trains) pb = (NAME(trains)){0} - ((t >> bit) & 1); /* ones where p's is 1 */
        const NAME(trains) differ = undecided & (r ^ pb);
        fire |= differ & pb; /* U's bit is 0 where p's is 1: U < p */
        undecided &= ~differ;
    }
    for (int l = 0; l < TRAINS; l++) out[l] = p[l] >= 1.0 ? slots : fire[l];
}

TARGET static inline float NAME(par)(const sn_param *q, int64_t at) { return q->v[at * q->step]; }

/* k pulses (up: potentiation) to the device at flat index `at`: the law's closed form, its
 * train noise σ √k ξ, its bounds; then the weight mirrors */
TARGET static void NAME(apply)(const sn_devices *dev, const sn_mirror *mir, sn_pulse_rng *g,
                               int64_t j, int64_t i, int64_t k, int up) {
    const int64_t at = j * dev->n_in + i;
    const int d = up ? 0 : 1;
    const float kf = (float)k;
    float x = dev->w[at];
    if (dev->table_g) { /* shared curved coefficients: NumPy's table of trains */
        const int64_t t = dev->table_mid + (up ? k : -k);
        x = x * dev->table_g[t];
        x = x + dev->table_c[t];
    } else if (!dev->curved) { /* constant steps: w + a k */
        x = x + NAME(par)(&dev->a[d], at) * kf;
    } else { /* w (1 + b)^k + a ((1 + b)^k − 1) / b */
        const float a = NAME(par)(&dev->a[d], at), b = NAME(par)(&dev->b[d], at);
        const float l = log1pf(b);
        const float gk = expf(kf * l);
        const float s = b == 0.f ? kf : expm1f(kf * l) / b;
        x = x * gk;
        x = x + a * s;
    }
    if (dev->sigma[d].v) {
        float xi = NAME(normal)(g);
        xi = xi * sqrtf(kf);
        xi = xi * NAME(par)(&dev->sigma[d], at);
        x = x + xi;
    }
    const float lo = NAME(par)(&dev->lo, at), hi = NAME(par)(&dev->hi, at);
    x = x < lo ? lo : x; /* NumPy's maximum, then minimum */
    x = x > hi ? hi : x;
    dev->w[at] = x;
    if (mir->W) { /* the weight γ (w − w_ref), and what the crossbar reads, W / weight_max */
        const float v = (x - mir->w_ref) * mir->gamma;
        mir->W[at] = v;
        if (mir->W2) mir->W2[j * mir->w2_row + i * mir->w2_col] = v;
        if (mir->WnT) {
            float u = v * mir->inv_wmax;
            u = u < -1.f ? -1.f : u;
            u = u > 1.f ? 1.f : u;
            const int64_t tt = i * dev->n_out + j;
            mir->WnT[tt] = u;
            if (mir->scaled) mir->scaled[tt] = u * mir->g;
        }
    }
}

/* the slots a vector v (n values, probabilities |v_i| c) fires in: drawn, or taken from
 * `given` (n masks), into `drawn` if not NULL; each firing value's index put in the bucket of
 * every slot it fires in (slot s's at bucket[s·n …], `fill[s]` of them), its sign in
 * positive[i] (1: v_i > 0). Returns how many slots fire in all. */
TARGET static int64_t NAME(fire)(sn_pulse_rng *g, const float *v, int64_t n, double c,
                                 uint64_t slots, const uint64_t *given, uint64_t *drawn,
                                 int32_t *bucket, int64_t *fill, unsigned char *positive,
                                 int32_t *which, uint64_t *mask) {
    /* the values that can fire (a 0 never does, and given slots of a 0 carry no sign) */
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        positive[i] = v[i] > 0.f;
        which[m] = (int32_t)i;
        m += v[i] != 0.f;
    }
    if (given) {
        for (int64_t r = 0; r < m; r++) mask[r] = given[which[r]] & slots;
    } else {
        for (int64_t r = 0; r < m; r += TRAINS) {
            double p[TRAINS];
            for (int l = 0; l < TRAINS; l++)
                p[l] = r + l < m ? fabs((double)v[which[r + l]]) * c : 0.0;
            NAME(train)(g, p, slots, mask + r); /* mask has room for TRAINS − 1 more */
        }
    }
    if (drawn) memset(drawn, 0, sizeof(uint64_t) * n);
    int64_t fired = 0;
    for (int64_t r = 0; r < m; r++) {
        const int32_t i = which[r];
        uint64_t x = mask[r];
        if (drawn) drawn[i] = x;
        while (x) {
            const int t = __builtin_ctzll(x);
            bucket[t * n + fill[t]++] = i;
            x &= x - 1;
            fired++;
        }
    }
    return fired;
}

#ifndef PREFETCH
#define PREFETCH 12 /* hits ahead */
#endif

TARGET static int64_t NAME(update)(const sn_devices *dev, const sn_mirror *mir,
                                   const float *Z, int64_t ldz, const float *D, int64_t ldd,
                                   int64_t B, int BL, double C, sn_pulse_rng *g,
                                   const uint64_t *XM, const uint64_t *DM, int given,
                                   sn_pulse_work *ws, int64_t *counts) {
    const int64_t n_in = dev->n_in, n_out = dev->n_out;
    const uint64_t slots = BL == 64 ? UINT64_MAX : (((uint64_t)1 << BL) - 1);
    for (int64_t s = 0; s < B; s++) {
        const float *z = Z + s * ldz, *d = D + s * ldd;
        float zmax = 0.f, dmax = 0.f;
        for (int64_t i = 0; i < n_in; i++) zmax = fabsf(z[i]) > zmax ? fabsf(z[i]) : zmax;
        for (int64_t j = 0; j < n_out; j++) dmax = fabsf(d[j]) > dmax ? fabsf(d[j]) : dmax;
        if (zmax == 0.f || dmax == 0.f) continue;
        /* C_x C_d = C, shared in the ratio of the largest |δ| to the largest |z| */
        const double cx = sqrt(C * (double)dmax / (double)zmax);
        const double cd = sqrt(C * (double)zmax / (double)dmax);
        for (int64_t i = 0; i < n_in; i++) counts[1] += fabs((double)z[i]) * cx > 1.0;
        for (int64_t j = 0; j < n_out; j++) counts[1] += fabs((double)d[j]) * cd > 1.0;
        const uint64_t *gx = given ? XM + s * n_in : NULL, *gd = given ? DM + s * n_out : NULL;
        uint64_t *ox = !given && XM ? (uint64_t *)XM + s * n_in : NULL;
        uint64_t *od = !given && DM ? (uint64_t *)DM + s * n_out : NULL;
        int64_t xfill[64] = {0}, dfill[64] = {0};
        if (!NAME(fire)(g, z, n_in, cx, slots, gx, ox, ws->xslot, xfill, ws->xpos, ws->which,
                        ws->mask))
            continue;
        if (!NAME(fire)(g, d, n_out, cd, slots, gd, od, ws->dslot, dfill, ws->dpos, ws->which,
                        ws->mask))
            continue;
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
        for (int64_t h = 0; h < hit; h++) {
            if (h + PREFETCH < hit) { /* the devices a few hits on: their state, parameters */
                const int64_t ahead = ws->hits[h + PREFETCH];
                __builtin_prefetch(dev->w + ahead, 1);
                if (first) __builtin_prefetch(first->v + ahead * first->step);
                if (mir->W) __builtin_prefetch(mir->W + ahead, 1);
            }
            const int64_t at = ws->hits[h], j = at / n_in, i = at - j * n_in;
            const int64_t k = ws->count[at];
            ws->count[at] = 0;
            NAME(apply)(dev, mir, g, j, i, k, ws->dpos[j] != ws->xpos[i]);
            counts[0] += dev->continuous ? 1 : k;
        }
        counts[2] += hit;
    }
    return 0;
}
