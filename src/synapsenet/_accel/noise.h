/* The Box–Muller transform of hardware/noise.py, written once and compiled once per
 * instruction set: noise.c defines NAME(f) (the suffix of a copy) and TARGET (a function
 * attribute, or nothing), then includes this file. Plain C that GCC and clang vectorise:
 * log, sin and cos are polynomials after an exact range reduction, without tables, branches
 * or fused multiply-adds (the build has -ffp-contract=off), so that every copy gives the
 * same bits. */

/* One pair of draws from two 32-bit words (NumPy's steps, in its order and roundings):
 * u₁ = 2 − f(wa), θ = 2π·f(wb), f(w) = the float of mantissa w >> 9 in [1, 2);
 * *za = √(−2 ln u₁) cos θ, *zb = √(−2 ln u₁) sin θ. */
TARGET static inline void NAME(box_muller)(uint32_t wa, uint32_t wb, float *za, float *zb) {
    const float u1 = 2.0f - from_bits((wa >> 9) | 0x3F800000u); /* (0, 1]: exact */
    /* ln u₁ = e ln 2 + ln m, m = u₁ / 2^e ∈ [√½, √2), its bits u₁'s mantissa */
    const uint32_t k = to_bits(u1) - SQRT_HALF_BITS;
    const float e = (float)((int32_t)k >> 23);
    const float x = from_bits((k & 0x007FFFFFu) + SQRT_HALF_BITS) - 1.0f; /* exact */
    const float t = x * x;
    float p = LOG_C[7];
    p = p * x + LOG_C[6];
    p = p * x + LOG_C[5];
    p = p * x + LOG_C[4];
    p = p * x + LOG_C[3];
    p = p * x + LOG_C[2];
    p = p * x + LOG_C[1];
    p = p * x + LOG_C[0];
    float y = x * t * p;
    y = y - 0.5f * t;
    y = y + e * LN2_LO;
    float lg = x + y;
    lg = lg + e * LN2_HI;
    lg = lg * -2.0f;
    const float r = sqrtf(lg);
    /* θ ∈ [2π, 4π): θ = q π/2 + z, |z| ≤ π/4 (Cody & Waite: π/2 in three parts, q·P1 and
     * q·P2 exact for q ≤ 8, θ − q·P1 exact by Sterbenz's lemma) */
    const float theta = from_bits((wb >> 9) | 0x3F800000u) * TWO_PI;
    const int32_t q = (int32_t)(theta * TWO_OVER_PI + 0.5f);
    const float qf = (float)q;
    float z = theta - qf * PIO2_1;
    z = z - qf * PIO2_2;
    z = z - qf * PIO2_3;
    const float s = z * z;
    float ps = SIN_C[2];
    ps = ps * s + SIN_C[1];
    ps = ps * s + SIN_C[0];
    const float sz = z + z * s * ps;
    float pc = COS_C[2];
    pc = pc * s + COS_C[1];
    pc = pc * s + COS_C[0];
    const float cz = (1.0f - 0.5f * s) + s * s * pc;
    /* the quadrant q mod 4: cos θ = cz, −sz, −cz, sz and sin θ = sz, cz, −sz, −cz */
    const int swap = q & 1;
    const uint32_t cneg = (uint32_t)((q + 1) & 2) << 30, sneg = (uint32_t)(q & 2) << 30;
    const float c = from_bits(to_bits(swap ? sz : cz) ^ cneg);
    const float sn = from_bits(to_bits(swap ? cz : sz) ^ sneg);
    *za = r * c;
    *zb = r * sn;
}

/* pairs j < m: za[j], zb[j] from words wa[j], wb[j] */
TARGET static void NAME(pairs)(const uint32_t *restrict wa, const uint32_t *restrict wb,
                               float *restrict za, float *restrict zb, int64_t m) {
    for (int64_t j = 0; j < m; j++) {
        float a, b;
        NAME(box_muller)(wa[j], wb[j], &a, &b);
        za[j] = a;
        zb[j] = b;
    }
}

/* out[i] for i in [a, b) times σ of its row (of `cols` values) */
TARGET static void NAME(scale_rows)(float *restrict out, int64_t a, int64_t b,
                                    const float *restrict sigma, int64_t cols) {
    int64_t row = a / cols, end = (row + 1) * cols;
    for (int64_t i = a; i < b; row++, end += cols) {
        const int64_t stop = end < b ? end : b;
        const float s = sigma[row];
        for (int64_t k = i; k < stop; k++) out[k] = out[k] * s;
        i = stop;
    }
}

/* out[0..n) from the 2h words (h = ⌈n/2⌉): out[j] and out[h + j] from words j and h + j,
 * then times σ per row of `cols` values (sigma NULL: none), a block of pairs at a time
 * while it is in the first-level cache */
TARGET static void NAME(transform)(const uint32_t *words, float *out, int64_t n,
                                   const float *sigma, int64_t cols) {
    const int64_t h = (n + 1) / 2, m = n - h; /* m pairs, and a lone cosine if n is odd */
    for (int64_t j0 = 0; j0 < m; j0 += NOISE_BLOCK) {
        const int64_t j1 = j0 + NOISE_BLOCK < m ? j0 + NOISE_BLOCK : m;
        NAME(pairs)(words + j0, words + h + j0, out + j0, out + h + j0, j1 - j0);
        if (sigma) {
            NAME(scale_rows)(out, j0, j1, sigma, cols);
            NAME(scale_rows)(out, h + j0, h + j1, sigma, cols);
        }
    }
    if (m < h) { /* n odd: out[h − 1] = r cos θ alone, θ from the last word */
        float a, b;
        NAME(box_muller)(words[h - 1], words[2 * h - 1], &a, &b);
        out[h - 1] = sigma ? a * sigma[(h - 1) / cols] : a;
    }
}
