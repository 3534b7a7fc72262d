/* The element-wise passes, written once and compiled once per instruction set: a unit defines
 * NAME(f) (the suffix of its copies), TARGET (a function attribute, or nothing) and TABLE (the
 * name of its sn_loops), then includes this file. Plain C that the compiler vectorises: the
 * same operations in the same order for every instruction set (no fused multiply-adds: the
 * build has -ffp-contract=off), so every copy gives the NumPy engine's numbers. */
#include <math.h>

#include "sn.h"

/* z = f(u + b) over columns [a, c) of a B × ld block, in place */
TARGET static void NAME(bias_act)(float *restrict U, int64_t B, int64_t ld, int64_t a,
                                  int64_t c, const float *restrict b, int act) {
    for (int64_t r = 0; r < B; r++) {
        float *restrict u = U + r * ld;
        switch (act) {
        case ACT_RELU:  /* max(u, 0), NaN kept as NumPy's maximum keeps it */
            for (int64_t j = a; j < c; j++) { float x = u[j] + b[j]; u[j] = x < 0.f ? 0.f : x; }
            break;
        case ACT_SIGMOID:  /* (1 + tanh(u/2)) / 2: never overflows */
            for (int64_t j = a; j < c; j++) u[j] = 0.5f * tanhf(0.5f * (u[j] + b[j])) + 0.5f;
            break;
        case ACT_TANH:
            for (int64_t j = a; j < c; j++) u[j] = tanhf(u[j] + b[j]);
            break;
        default:
            for (int64_t j = a; j < c; j++) u[j] += b[j];
        }
    }
}

/* δ = g f'(u) from z, over columns [a, c): relu' = [z > 0], sigmoid' = z(1 − z), tanh' = 1 − z² */
TARGET static void NAME(times_derivative)(float *restrict g, const float *restrict z,
                                          int64_t B, int64_t ld, int64_t a, int64_t c,
                                          int act) {
    for (int64_t r = 0; r < B; r++) {
        float *restrict gr = g + r * ld;
        const float *restrict zr = z + r * ld;
        switch (act) {
        case ACT_RELU:  /* a product, as NumPy's: an infinite g gives NaN, not 0 */
            for (int64_t j = a; j < c; j++) gr[j] *= (float)(zr[j] > 0.f);
            break;
        case ACT_SIGMOID:
            for (int64_t j = a; j < c; j++) gr[j] *= zr[j] * (1.f - zr[j]);
            break;
        case ACT_TANH:
            for (int64_t j = a; j < c; j++) gr[j] *= 1.f - zr[j] * zr[j];
            break;
        default:
            break;
        }
    }
}

/* Adam with the caller's folded constants (see optimizers.Adam):
 * m' ← β1 m' + g,  v' ← β2 v' + g²,  p ← p − step · m' / (√v' + ε') */
TARGET static void NAME(adam)(float *restrict p, const float *restrict g, float *restrict m,
                              float *restrict v, int64_t rows, int64_t count, int64_t ld,
                              const sn_optim *k, float decay) {
    const float b1 = k->beta1, b2 = k->beta2, step = k->step, eps = k->eps;
    for (int64_t r = 0; r < rows; r++) {
        float *restrict pr = p + r * ld;
        const float *restrict gr = g + r * ld;
        float *restrict mr = m + r * ld, *restrict vr = v + r * ld;
        for (int64_t i = 0; i < count; i++) {
            float gi = gr[i];
            if (decay != 0.f) gi += pr[i] * decay;  /* ∂/∂w (λ/2) w² = λ w */
            float mi = mr[i] * b1 + gi, vi = vr[i] * b2 + gi * gi;
            mr[i] = mi; vr[i] = vi;
            pr[i] += -step * (mi / (sqrtf(vi) + eps));
        }
    }
}

/* Gradient descent with momentum μ (see optimizers.SGD): g ← g + λ w; then v ← μ v + g and
 * w ← w − η v, or with Nesterov w ← w − η (g + μ v); μ = 0 (v NULL) is w ← w − η g with the
 * decay. Same operations, in the same order, as the NumPy engine. */
TARGET static void NAME(momentum)(float *restrict p, const float *restrict g,
                                  float *restrict v, int64_t rows, int64_t count, int64_t ld,
                                  const sn_optim *k, float decay) {
    const float mu = k->momentum, lr = k->step;
    const int nesterov = k->nesterov;
    for (int64_t r = 0; r < rows; r++) {
        float *restrict pr = p + r * ld;
        const float *restrict gr = g + r * ld;
        for (int64_t i = 0; i < count; i++) {
            float gi = gr[i];
            if (decay != 0.f) gi += pr[i] * decay;
            if (!v) {
                pr[i] += gi * -lr;
                continue;
            }
            const float vi = v[r * ld + i] * mu + gi;
            v[r * ld + i] = vi;
            if (nesterov)
                pr[i] += (gi + mu * vi) * -lr;
            else
                pr[i] -= lr * vi;
        }
    }
}

/* every value kept in [−bound, bound] */
TARGET static void NAME(clip)(float *restrict p, int64_t rows, int64_t count, int64_t ld,
                              float bound) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < count; i++) {
            float x = p[r * ld + i];
            p[r * ld + i] = x > bound ? bound : (x < -bound ? -bound : x);
        }
}

/* column sums of δ[:, a:c) → db[a:c), rows in order (as NumPy's 1ᵀ·δ adds them) */
TARGET static void NAME(col_sums)(const float *restrict d, int64_t B, int64_t ld, int64_t a,
                                  int64_t c, float *restrict db) {
    for (int64_t j = a; j < c; j++) db[j] = 0.f;
    for (int64_t r = 0; r < B; r++)
        for (int64_t j = a; j < c; j++) db[j] += d[r * ld + j];
}

TARGET static void NAME(add_into)(float *restrict y, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

/* dst = src (n values), and whether they are all finite (x − x is 0 for those, NaN for ±inf
 * and NaN): the training data is checked as the step gathers it, not in a pass of its own */
TARGET static int NAME(copy_finite)(float *restrict dst, const float *restrict src, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float x = src[i];
        dst[i] = x;
        bad |= (x - x) != 0.f;
    }
    return !bad;
}

/* whether every value is finite */
TARGET static int NAME(all_finite)(const float *restrict x, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= (x[i] - x[i]) != 0.f;
    return !bad;
}

/* The simulated chip's input stage for a block of rows (hardware/crossbar.py): each row's
 * scale s = max |z| (1 for a row of zeros; NaN if the row has a NaN), then the DAC's codes
 * x = round(z · (q / s)), round half to even — NumPy's four passes (maximum, scale factor,
 * multiply, round) in two over each row while it is in cache, with the same float32
 * operations, so the same codes. */
TARGET static void NAME(dac)(const float *restrict Z, int64_t ldz, int64_t rows, int64_t n,
                             float q, float *restrict X, int64_t ldx, float *restrict s) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict z = Z + r * ldz;
        const float m = sn_row_scale(z, n);
        s[r] = m;
        const float f = q / m;
        float *restrict x = X + r * ldx;
        for (int64_t i = 0; i < n; i++) x[i] = rintf(z[i] * f);
    }
}

const sn_loops TABLE = {
    TABLE_NAME, NAME(bias_act), NAME(times_derivative), NAME(adam), NAME(momentum), NAME(clip),
    NAME(col_sums), NAME(add_into), NAME(copy_finite), NAME(all_finite), NAME(dac),
};
