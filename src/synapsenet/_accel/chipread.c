/* The chip's analog read of one layer (CrossbarArray.matvec: per-vector input scaling, the
 * DAC, every row block of tiles with its read noise, the ADC, the digital sum of the blocks'
 * partial sums, the output scale and the bias) in one call, a group of rows at a time.
 *
 * NumPy's lines in crossbar.py stay the definition; this makes the same float32 operations
 * in the same order, so the same bits (tests/test_chip_read.py holds the two together). What
 * it saves is passes over memory and calls: each group's codes stay in the first-level cache
 * from the DAC to the product (NumPy writes a batch's codes out and reads them back), and the
 * read of a whole batch is one call that holds no interpreter lock (NumPy's is some twenty
 * calls a row block, between which two threads' reads wait on each other). */
#include <math.h>
#include <stdlib.h>

#include "sn.h"

#if defined(__x86_64__) && defined(__GNUC__) /* GCC and clang; called with our product only */
/* compiled for AVX-512, as our product is: the ADC's rounding is one instruction there */
#define AVX512 __attribute__((target("avx512f")))

#define GROUP SN_TILE_ROWS /* rows a group: our product's tile height */

/* the group's s = max |z| per row (1 for a row of zeros) and x = z / s, the stage without a
 * DAC, as NumPy computes it: max |z| as sn_dac finds it (sn_row_scale), then one IEEE
 * division each */
AVX512 static void scale_only(const float *restrict Z, int64_t ldz, int64_t rows, int64_t n,
                              float *restrict X, int64_t ldx, float *restrict s) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict z = Z + r * ldz;
        const float m = sn_row_scale(z, n);
        s[r] = m;
        float *restrict x = X + r * ldx;
        for (int64_t i = 0; i < n; i++) x[i] = z[i] / m;
    }
}

/* the ADC in place: saturate at ± bound (NaN kept, as NumPy's clip), round to a step */
AVX512 static void adc(float *y, int64_t n, int saturates, float bound, int rounds) {
    const float lo = -bound, hi = bound;
    if (saturates)
        for (int64_t t = 0; t < n; t++) y[t] = y[t] < lo ? lo : y[t] > hi ? hi : y[t];
    if (rounds)
        for (int64_t t = 0; t < n; t++) y[t] = rintf(y[t]);
}

/* Σ x² of n integer codes: exact in float32 in any order below 2^24 (the caller's bound),
 * so summed in 16 lanes */
AVX512 static float sum_squares(const float *x, int64_t n) {
    float lane[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) lane[l] = lane[l] + x[i + l] * x[i + l];
    float sum = 0.f;
    for (; i < n; i++) sum = sum + x[i] * x[i];
    for (int l = 0; l < 16; l++) sum = sum + lane[l];
    return sum;
}

/* σ of each of `rows` rows' read of one block (codes X, K apart, inputs k0 … k0 + kb − 1),
 * onto its noise y (rows × N): σ² = var0 + c Σ x² (exact: integer codes) */
AVX512 static void noise_sigma(const sn_chip_read_args *a, const float *X, int64_t K,
                               int64_t k0, int64_t kb, int64_t rows, float *y) {
    for (int64_t r = 0; r < rows; r++) {
        float var = a->var0;
        if (a->var_per_x2 != 0.f) var = var + a->var_per_x2 * sum_squares(X + r * K + k0, kb);
        const float sigma = sqrtf(var);
        float *yr = y + r * a->N;
        for (int64_t j = 0; j < a->N; j++) yr[j] = yr[j] * sigma;
    }
}

/* `rows` rows of the output from row r0: undo the input scaling; weight units; bias */
AVX512 static void finish(const sn_chip_read_args *a, int64_t r0, int64_t rows) {
    const int64_t N = a->N;
    for (int64_t r = r0; r < r0 + rows; r++) {
        float *o = a->out + r * N;
        const float sr = a->s[r];
        for (int64_t j = 0; j < N; j++) o[j] = o[j] * sr;
        for (int64_t j = 0; j < N; j++) o[j] = o[j] * a->scale[j];
        if (a->bias)
            for (int64_t j = 0; j < N; j++) o[j] = o[j] + a->bias[j];
    }
}

/* the call as its tasks take it: first the noise (runs of the transform's pairs, each
 * block's), then the groups of rows */
typedef struct {
    const sn_chip_read_args *a;
    const sn_settings *S;
    const sn_loops *loops;
    int64_t nb, MN, pair_tasks;
    float *Xg; /* GROUP × K per thread */
} read_call;

#define NOISE_TASK 4096 /* pairs of the transform a task */

AVX512 static void noise_task(void *ctx, int task, int thread) {
    (void)thread;
    const read_call *c = ctx;
    const sn_chip_read_args *a = c->a;
    const int64_t per = c->pair_tasks, half = c->MN / 2;
    const int64_t b = task / per, j0 = task % per * NOISE_TASK;
    const int64_t j1 = j0 + NOISE_TASK < half ? j0 + NOISE_TASK : half;
    sn_normal_pairs(a->words + b * c->MN, b ? a->ybuf + (b - 1) * c->MN : a->out, c->MN, j0, j1,
                    c->S);
}

AVX512 static void group_task(void *ctx, int task, int thread) {
    const read_call *c = ctx;
    const sn_chip_read_args *a = c->a;
    const sn_settings *S = c->S;
    const int64_t M = a->M, K = a->K, N = a->N, R = a->rows, nb = c->nb, MN = c->MN;
    float *const out = a->out;
    float *Xg = c->Xg + (int64_t)thread * GROUP * K;
    const int64_t r0 = (int64_t)task * GROUP;
    const int64_t g = M - r0 < GROUP ? M - r0 : GROUP;
    float *s = a->s + r0;
    if (a->q > 0.f)
        c->loops->dac(a->Z + r0 * a->ldz, a->ldz, g, K, a->q, Xg, K, s);
    else
        scale_only(a->Z + r0 * a->ldz, a->ldz, g, K, Xg, K, s);
    for (int64_t b = 0; b < nb; b++) {
        const int64_t k0 = b * R, kb = K - k0 < R ? K - k0 : R;
        float *y = (b ? a->ybuf + (b - 1) * MN : out) + r0 * N;
        if (a->words) noise_sigma(a, Xg, K, k0, kb, g, y);
        /* the block's column currents in ADC steps, onto its noise */
        sn_own_gemm(g, N, kb, 1.f, Xg + k0, K, 1, a->W + k0 * a->ldw, a->ldw,
                    a->words ? 1.f : 0.f, y, N, NULL, N, 0, S->sparse_share);
        adc(y, g * N, a->saturates, a->bound, a->rounds);
        if (b) { /* the digital sum of the blocks' partial sums */
            float *o = out + r0 * N;
            for (int64_t t = 0; t < g * N; t++) o[t] = o[t] + y[t];
        }
    }
    finish(a, r0, g);
}

/* The read where our product does not make the blocks' products (an output layer of 10
 * columns, say): each block's product over every row in one call of BLAS's sgemm (`gemm`),
 * onto its noise, as the NumPy lines' add_product makes it — the same call, so the same
 * bits; the rest as above, a row at a time. Noisy reads only (the NumPy lines make a
 * noiseless one by NumPy's matmul). */
AVX512 static int read_with_blas(read_call *c) {
    const sn_chip_read_args *a = c->a;
    const int64_t M = a->M, K = a->K, N = a->N, R = a->rows, nb = c->nb, MN = c->MN;
    float *X = malloc((size_t)M * (size_t)K * sizeof(float));
    if (!X) return -2;
    if (a->q > 0.f)
        c->loops->dac(a->Z, a->ldz, M, K, a->q, X, K, a->s);
    else
        scale_only(a->Z, a->ldz, M, K, X, K, a->s);
    float *const out = a->out;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t k0 = b * R, kb = K - k0 < R ? K - k0 : R;
        float *y = b ? a->ybuf + (b - 1) * MN : out;
        noise_sigma(a, X, K, k0, kb, M, y);
        a->gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, kb, 1.f, X + k0, K, a->W + k0 * a->ldw,
                a->ldw, 1.f, y, N);
        adc(y, MN, a->saturates, a->bound, a->rounds);
        if (b)
            for (int64_t t = 0; t < MN; t++) out[t] = out[t] + y[t];
    }
    finish(a, 0, M);
    free(X);
    return 0;
}

AVX512 int sn_chip_read(const sn_chip_read_args *a, const sn_settings *S) {
    const int64_t M = a->M, K = a->K, N = a->N, R = a->rows;
    if (M <= 0) return 0;
    if (!S->fused_read || R <= 0 || (a->words && (M * N) % 2)) return -1; /* (pairs only) */
    const int own = N % 16 == 0 && sn_own_product(S, N, R < K ? R : K);
    /* (a block of one input: NumPy's add_product calls sger, which rounds once, not sgemm) */
    if (!own && !(a->gemm && a->words && a->ldw == N && K % R != 1)) return -1;
    const int groups = (int)((M + GROUP - 1) / GROUP);
    int threads = a->threads < 1 ? 1 : a->threads > PULSE_THREADS ? PULSE_THREADS : a->threads;
    threads = threads > groups ? groups : threads;
    read_call c = {a, S, sn_loops_for(S), (K + R - 1) / R, M * N, 0, NULL};
    /* every block's noise first, as NumPy draws it (block 0's into out), then the groups */
    if (a->words) {
        c.pair_tasks = (c.MN / 2 + NOISE_TASK - 1) / NOISE_TASK;
        sn_pool_run(threads, (int)(c.nb * c.pair_tasks), noise_task, &c);
    }
    if (!own) return read_with_blas(&c);
    c.Xg = malloc((size_t)threads * GROUP * (size_t)K * sizeof(float));
    if (!c.Xg) return -2;
    sn_pool_run(threads, groups, group_task, &c);
    free(c.Xg);
    return 0;
}

#else /* not x86-64: never called (our product is AVX-512's) */
int sn_chip_read(const sn_chip_read_args *a, const sn_settings *S) {
    (void)a;
    (void)S;
    return -1;
}
#endif
