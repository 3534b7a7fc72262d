/* What devices.h's copies share: the generator's refill, compiled once per instruction set,
 * its seeding, and the ziggurat's tables, made once at load. */
#include <math.h>

#include "devices.h"

/* -- the generator: LANES xoshiro256++ streams side by side (Blackman & Vigna, "Scrambled
 * linear pseudorandom number generators", ACM TOMS 47:36, 2021), their words interleaved in
 * a buffer that refills in one pass: each lane's four words in a row, the lanes as two
 * vectors of four (GCC's and clang's vector extension: AVX2 registers in the copy compiled
 * for them, SSE2's or plain words in the other), in registers for the whole buffer. Both
 * copies make the same words. */
typedef uint64_t quad __attribute__((vector_size(32)));
typedef uint64_t quad_u __attribute__((vector_size(32), aligned(8)));

/* one step of four lanes: their next words into out */
#define XOSHIRO_STEP(s0, s1, s2, s3, out)                      \
    do {                                                       \
        const quad sum_ = s0 + s3;                             \
        *(quad_u *)(out) = ((sum_ << 23) | (sum_ >> 41)) + s0; \
        const quad u_ = s1 << 17;                              \
        s2 ^= s0;                                              \
        s3 ^= s1;                                              \
        s1 ^= s2;                                              \
        s0 ^= s3;                                              \
        s2 ^= u_;                                              \
        s3 = (s3 << 45) | (s3 >> 19);                          \
    } while (0)

#define REFILL_BODY(g)                                                         \
    do {                                                                       \
        quad a0, a1, a2, a3, b0, b1, b2, b3;                                   \
        memcpy(&a0, g->s[0], 32), memcpy(&a1, g->s[1], 32);                   \
        memcpy(&a2, g->s[2], 32), memcpy(&a3, g->s[3], 32);                   \
        memcpy(&b0, g->s[0] + 4, 32), memcpy(&b1, g->s[1] + 4, 32);           \
        memcpy(&b2, g->s[2] + 4, 32), memcpy(&b3, g->s[3] + 4, 32);           \
        for (int t = 0; t < RNG_BUFFER; t += 8) {                              \
            XOSHIRO_STEP(a0, a1, a2, a3, g->buf + t);                          \
            XOSHIRO_STEP(b0, b1, b2, b3, g->buf + t + 4);                      \
        }                                                                      \
        memcpy(g->s[0], &a0, 32), memcpy(g->s[1], &a1, 32);                   \
        memcpy(g->s[2], &a2, 32), memcpy(g->s[3], &a3, 32);                   \
        memcpy(g->s[0] + 4, &b0, 32), memcpy(g->s[1] + 4, &b1, 32);           \
        memcpy(g->s[2] + 4, &b2, 32), memcpy(g->s[3] + 4, &b3, 32);           \
        g->at = 0;                                                             \
    } while (0)

static void refill_portable(sn_rng *g) { REFILL_BODY(g); }

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void refill_avx2(sn_rng *g) { REFILL_BODY(g); }
#define HAVE_AVX2_REFILL 1
#endif

/* the lanes' states from one seed (xoshiro's authors' advice: SplitMix64's successive words,
 * sn_stream_seed's) */
void sn_rng_seed(sn_rng *g, uint64_t seed, int isa) {
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < LANES; l++) g->s[k][l] = sn_stream_seed(seed, (uint64_t)(k * LANES + l));
    g->at = RNG_BUFFER;
    g->refill = refill_portable;
#ifdef HAVE_AVX2_REFILL
    if (isa >= ISA_AVX2 && sn_cpu_isa() >= ISA_AVX2) g->refill = refill_avx2;
#else
    (void)isa;
#endif
}

/* -- the ziggurat's layers: x_{i+1} from x_i by equal areas V = x_i (f(x_{i+1}) − f(x_i)),
 * the base layer a box and the tail */
uint32_t sn_zig_k[ZIG];
float sn_zig_w[ZIG], sn_zig_f[ZIG];

__attribute__((constructor)) static void zig_tables(void) {
    const double v = 9.91256303526217e-3; /* the area of each layer */
    const double m = 0x1p31;              /* the value bits are a signed 32-bit number */
    double dn = ZIG_R, tn = dn;
    const double q = v / exp(-0.5 * dn * dn); /* the base layer's width, V / f(r) */
    sn_zig_k[0] = (uint32_t)((dn / q) * m);
    sn_zig_k[1] = 0;
    sn_zig_w[0] = (float)(q / m);
    sn_zig_w[ZIG - 1] = (float)(dn / m);
    sn_zig_f[0] = 1.f;
    sn_zig_f[ZIG - 1] = (float)exp(-0.5 * dn * dn);
    for (int i = ZIG - 2; i >= 1; i--) {
        dn = sqrt(-2.0 * log(v / dn + exp(-0.5 * dn * dn)));
        sn_zig_k[i + 1] = (uint32_t)((dn / tn) * m);
        tn = dn;
        sn_zig_f[i] = (float)exp(-0.5 * dn * dn);
        sn_zig_w[i] = (float)(dn / m);
    }
}
