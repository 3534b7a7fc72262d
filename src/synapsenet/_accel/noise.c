/* The chip's Gaussian noise (hardware/noise.py: standard_normal) in one pass: the Box–Muller
 * transform (Box & Muller, Ann. Math. Statist. 29(2):610–611, 1958) of the same 64-bit words
 * of the generator, mapped to u₁ and θ as NumPy maps them, each output written once.
 * NumPy's lines stay the definition; tests/test_noise.py holds the two together.
 *
 * log, sin and cos are our own polynomials: near-minimax fits (Lawson's reweighted least
 * squares) in relative error, rounded to float32 and checked over every input the transform
 * can meet (2²³ of each): ln within 0.92 ulp, sin and cos within 1.51 ulp of the exact values
 * of their float32 arguments. */
#include <math.h>
#include <string.h>

#include "sn.h"

static inline float from_bits(uint32_t w) {
    float f;
    memcpy(&f, &w, 4);
    return f;
}

static inline uint32_t to_bits(float f) {
    uint32_t w;
    memcpy(&w, &f, 4);
    return w;
}

#define SQRT_HALF_BITS 0x3F3504F3u /* √½ rounded: ln's mantissa m lies in [√½, √2) */
/* ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 bits (e · LN2_HI exact for |e| < 2^15) */
#define LN2_HI 0x1.63p-1f
#define LN2_LO -0x1.bd0106p-13f
/* ln(1 + x) = x − x²/2 + x³ P(x) on [√½ − 1, √2 − 1], P of degree 7 */
static const float LOG_C[8] = {0x1.555554p-2f,  -0x1.00022cp-2f, 0x1.99a026p-3f,
                               -0x1.54712ap-3f, 0x1.22d65cp-3f,  -0x1.0d8cd4p-3f,
                               0x1.057b9p-3f,   -0x1.38deep-4f};
#define TWO_PI 0x1.921fb6p+2f      /* 2π as NumPy's np.float32(2 * np.pi) */
#define TWO_OVER_PI 0x1.45f306p-1f /* 2/π */
/* π/2 = PIO2_1 + PIO2_2 + PIO2_3 to 50 bits, the first two of 20 bits each */
#define PIO2_1 0x1.921fcp+0f
#define PIO2_2 -0x1.5777ap-21f
#define PIO2_3 -0x1.74p-43f
/* on |z| ≤ π/4 (and a little beyond): sin z = z + z³ S(z²), cos z = 1 − z²/2 + z⁴ C(z²) */
static const float SIN_C[3] = {-0x1.555544p-3f, 0x1.11066ap-7f, -0x1.98fd46p-13f};
static const float COS_C[3] = {0x1.555548p-5f, -0x1.6c0b52p-10f, 0x1.99ab0ap-16f};

#define NOISE_BLOCK 1024 /* pairs: 8 KiB of draws, then their scaling */

#define NAME(f) f##_portable
#define TARGET
#include "noise.h"
#undef NAME
#undef TARGET

#if defined(__x86_64__) && defined(__GNUC__)
#define NAME(f) f##_avx2
#define TARGET __attribute__((target("avx2")))
#include "noise.h"
#undef NAME
#undef TARGET
#define NAME(f) f##_avx512
#define TARGET __attribute__((target("avx512f")))
#include "noise.h"
#undef NAME
#undef TARGET
#define HAVE_X86_COPIES 1
#endif

int sn_normal_from_words(const uint32_t *words, float *out, int64_t n, const float *sigma,
                         int64_t rows, const sn_settings *S) {
    const int isa = S->isa < sn_cpu_isa() ? S->isa : sn_cpu_isa();
    if (n <= 0) return isa;
    if (sigma && (rows <= 0 || n % rows)) return -1;  /* σ one per row: rows divide n */
    const int64_t cols = sigma ? n / rows : n;
#ifdef HAVE_X86_COPIES
    if (isa == ISA_AVX512) {
        transform_avx512(words, out, n, sigma, cols);
        return ISA_AVX512;
    }
    if (isa == ISA_AVX2) {
        transform_avx2(words, out, n, sigma, cols);
        return ISA_AVX2;
    }
#endif
    (void)isa;
    transform_portable(words, out, n, sigma, cols);
    return ISA_PORTABLE;
}

void sn_normal_pairs(const uint32_t *words, float *out, int64_t n, int64_t j0, int64_t j1,
                     const sn_settings *S) {
    const int isa = S->isa < sn_cpu_isa() ? S->isa : sn_cpu_isa();
    const int64_t h = (n + 1) / 2;
#ifdef HAVE_X86_COPIES
    if (isa == ISA_AVX512) {
        pairs_avx512(words + j0, words + h + j0, out + j0, out + h + j0, j1 - j0);
        return;
    }
    if (isa == ISA_AVX2) {
        pairs_avx2(words + j0, words + h + j0, out + j0, out + h + j0, j1 - j0);
        return;
    }
#endif
    (void)isa;
    pairs_portable(words + j0, words + h + j0, out + j0, out + h + j0, j1 - j0);
}
