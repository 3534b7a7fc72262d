/* Inference of `rows` samples on the calling thread (the caller runs chunks side by side on
 * its own threads, BLAS single-threaded meanwhile): z = f(W z_prev + b) layer by layer, the
 * bias and f in one pass after each product. */
#include "sn.h"

/* Hidden outputs go in buf0/buf1 (rows × the widest hidden layer rounded up to 16 each, rows
 * of whole cache lines), the last layer's z in out.
 * Returns 0 if the first layer's u was not finite anywhere (a NaN or infinite input, or an
 * overflow: the caller then looks at the inputs), else 1; the PATH_* bits it took in *paths.
 */
int sn_forward(int L, const int64_t *sizes, const int64_t *ldw, float **WT, float **b,
               const int *act, const float *X, int64_t ldx, int64_t rows, float *out,
               float *buf0, float *buf1, void *gemm_ptr, const sn_settings *S, int *paths) {
    const gemm_fn gemm = (gemm_fn)gemm_ptr;
    const sn_loops *K = sn_loops_for(S);
    const float *A = X;
    int64_t lda = ldx;
    int ok = 1;
    *paths = 0;
    for (int l = 0; l < L; l++) {
        const int64_t ni = sizes[l], no = sizes[l + 1];
        float *C = l == L - 1 ? out : (l % 2 ? buf1 : buf0);
        /* hidden outputs in rows of whole cache lines (the products fill the padding) */
        const int64_t ldc = l == L - 1 ? no : (no + 15) / 16 * 16;
        if (ldc % 16 == 0) {
            sn_forward_product(S, gemm, rows, no, ni, A, lda, WT[l], ldw[l], C, ldc, NULL, 0,
                               paths);
        } else {
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, no, ni, 1.f, A, lda, WT[l], ldw[l], 0.f, C,
                 ldc);
        }
        for (int64_t r = 0; l == 0 && ok && r < rows; r++) ok = K->all_finite(C + r * ldc, no);
        if (act[l] == ACT_SOFTMAX) {
            for (int64_t r = 0; r < rows; r++) {
                float *u = C + r * no;
                for (int64_t k = 0; k < no; k++) u[k] += b[l][k];
                sn_softmax_row(u, u, no);  /* z_k = e^u_k / Σ_j e^u_j */
            }
        } else {
            K->bias_act(C, rows, ldc, 0, no, b[l], act[l]);  /* z = f(u + b) */
        }
        A = C;
        lda = ldc;
    }
    return ok;
}
