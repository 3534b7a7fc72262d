/* A block's update (see optimizers.py and Digital.update): the gradient product (with plain
 * gradient descent the step itself, inside it: η is already in δ), by our gathered tiles for
 * the blocks of inputs most samples leave 0 and BLAS for the rest, then the optimiser's step,
 * then the synapse's bound. */
#include <stdlib.h>

#include "sn.h"

static void optimise(const sn_loops *K, const sn_optim *k, float *p, const float *g, float *s1,
                     float *s2, int64_t rows, int64_t count, int64_t ld, float decay) {
    if (k->opt == OPT_ADAM)
        K->adam(p, g, s1, s2, rows, count, ld, k, decay);
    else
        K->momentum(p, g, s1, rows, count, ld, k, decay);
}

/* C (rows × count, ld) = α Aᵀ D + β C: where our product runs, its gathered tiles for the
 * blocks of inputs that are 0 in most of the batch's samples (an input that is 0 adds
 * nothing to its row's gradient: MNIST's pixels are mostly 0), BLAS for the rest */
static int gradient_product(const sn_settings *S, gemm_fn gemm, int64_t rows, int64_t count,
                             int64_t B, float alpha, const float *A, int64_t lda,
                             const float *D, int64_t ldd, float beta, float *C, int64_t ld) {
    /* runs of rows on the stack up to 2,048 rows (our product's own limit on its inputs) */
    int64_t small[2 * (2048 / SN_TILE_ROWS + 2)], *runs = small, n = 1;
    small[0] = 0, small[1] = rows;
    int took = 0;
    if (S->gathered_update && count % 16 == 0 && S->sparse_share > 0 &&
        sn_own_product(S, count, B)) {
        if (rows / SN_TILE_ROWS + 1 > 2048 / SN_TILE_ROWS + 2)
            runs = malloc(2 * ((size_t)rows / SN_TILE_ROWS + 1) * sizeof(int64_t));
        if (runs) {
            n = sn_own_gathered(rows, count, B, alpha, A, 1, lda, D, ldd, beta, C, ld,
                                S->sparse_share, runs);
            took = n == 1 && runs[1] == rows ? 0 : PATH_OWN_GRADIENT;
        } else {
            runs = small;
        }
    }
    for (int64_t r = 0; r < n; r++)
        gemm(ROW_MAJOR, TRANS, NO_TRANS, runs[2 * r + 1], count, B, alpha, A + runs[2 * r],
             lda, D, ldd, beta, C + runs[2 * r] * ld, ld);
    if (runs != small) free(runs);
    return took;
}

int sn_update_weights(const sn_settings *S, const sn_loops *K, gemm_fn gemm, const sn_optim *k,
                       float *W, float *G, float *m, float *v, int64_t rows, int64_t count,
                       int64_t ld, const float *A, int64_t lda, const float *D, int64_t ldd,
                       int64_t B) {
    const int sgd = k->opt == OPT_SGD;
    /* w_ji ← w_ji − η δ_j z_i, or ∂E/∂w_ji = δ_j z_i, summed over the batch */
    const int took = gradient_product(S, gemm, rows, count, B, sgd ? -1.f : 1.f, A, lda, D,
                                      ldd, sgd ? 1.f : 0.f, sgd ? W : G, ld);
    if (!sgd) optimise(K, k, W, G, m, v, rows, count, ld, k->decay);
    if (k->bound > 0) K->clip(W, rows, count, ld, k->bound);
    return took;
}

void sn_update_biases(const sn_loops *K, const sn_optim *k, float *b, float *db, float *m,
                      float *v, int64_t count, const float *D, int64_t ldd, int64_t B) {
    K->col_sums(D, B, ldd, 0, count, db);  /* ∂E/∂b_j = Σ_batch δ_j */
    if (k->opt == OPT_SGD)
        for (int64_t i = 0; i < count; i++) b[i] -= db[i];
    else
        optimise(K, k, b, db, m, v, 1, count, count, 0.f);  /* no decay on biases */
    if (k->bound > 0) K->clip(b, 1, count, count, k->bound);
}
