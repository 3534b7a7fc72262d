/* The output layer: its activation, the loss E and δ_out (see losses.py: each loss's value and
 * output delta, and why the matched pairs' δ is z − d). */
#include <math.h>
#include <string.h>

#include "sn.h"

/* z_k = e^(u_k − max) / Σ_j e^(u_j − max) over one row of n values (z may be u); returns
 * ln Σ_j e^u_j, the log-sum-exp the cross-entropy needs. The one softmax of this library. */
double sn_softmax_row(const float *u, float *z, int64_t n) {
    float mx = u[0];
    for (int64_t k = 1; k < n; k++) mx = u[k] > mx ? u[k] : mx;
    float s = 0.f;
    for (int64_t k = 0; k < n; k++) s += z[k] = expf(u[k] - mx);  /* e^(u − max) */
    for (int64_t k = 0; k < n; k++) z[k] /= s;
    return mx + log((double)s);
}

double sn_output_layer(const sn_loops *K, int act, int loss, int64_t n, int64_t B, float *U,
                       float *Dl, const float *b, const float *D, int64_t ldd,
                       const int64_t *rows, int64_t start, const int64_t *labels, float scale,
                       int64_t *correct) {
    /* the losses that need u itself take b row by row; the others see only z = f(u + b) */
    const int keeps_u = act == ACT_SOFTMAX || loss == LOSS_BINARY_CROSS_ENTROPY;
    if (!keeps_u) K->bias_act(U, B, n, 0, n, b, act);
    double E = 0.0;
    int64_t right = 0;
    for (int64_t r = 0; r < B; r++) {
        float *restrict u = U + r * n, *restrict dl = Dl + r * n;
        const int64_t row = rows ? rows[r] : start + r;
        const float *restrict d = D + row * ldd;
        double Er = 0.0;
        if (act == ACT_SOFTMAX) {
            for (int64_t k = 0; k < n; k++) u[k] += b[k];
            const double lse = sn_softmax_row(u, dl, n);  /* z into dl: the loss needs u */
            if (loss == LOSS_CROSS_ENTROPY)  /* −Σ d ln z = Σ d (lse − u): no underflow */
                for (int64_t k = 0; k < n; k++)
                    if (d[k] != 0.f) Er += (double)d[k] * (lse - u[k]);
            memcpy(u, dl, (size_t)n * sizeof(float));
        } else if (loss == LOSS_BINARY_CROSS_ENTROPY) {  /* sigmoid output */
            for (int64_t k = 0; k < n; k++) {
                u[k] += b[k];
                const double x = u[k];  /* −[d ln σ(u) + (1 − d) ln(1 − σ(u))] */
                const double sp_neg = x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
                Er += d[k] * sp_neg + (1.0 - d[k]) * (sp_neg + x);
            }
            for (int64_t k = 0; k < n; k++) u[k] = 0.5f * tanhf(0.5f * u[k]) + 0.5f;  /* σ */
        }
        if (loss == LOSS_SQUARED) {
            double gz = 0.0;
            for (int64_t k = 0; k < n; k++) {
                const float g = u[k] - d[k];
                Er += 0.5 * (double)g * g;  /* ½ Σ (z − d)² */
                dl[k] = g;
                gz += (double)g * u[k];
            }
            if (act == ACT_SOFTMAX)  /* δ = J_softmaxᵀ (z − d) = z ⊙ (g − Σ g z) */
                for (int64_t k = 0; k < n; k++) dl[k] = u[k] * (dl[k] - (float)gz);
            else  /* δ = (z − d) f'(u) */
                K->times_derivative(dl, u, 1, n, 0, n, act);
        } else {
            for (int64_t k = 0; k < n; k++) dl[k] = u[k] - d[k];  /* f' cancels: δ = z − d */
        }
        for (int64_t k = 0; k < n; k++) dl[k] *= scale;
        E += Er;
        if (labels) {
            int64_t cls;
            if (n == 1) {
                const float mid = act == ACT_TANH ? 0.f : 0.5f;
                cls = u[0] >= mid;
            } else {
                cls = 0;
                for (int64_t k = 1; k < n; k++) if (u[k] > u[cls]) cls = k;
            }
            right += cls == labels[row];
        }
    }
    *correct = right;
    return E / (double)B;
}
