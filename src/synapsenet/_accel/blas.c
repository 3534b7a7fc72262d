/* BLAS's sgemm for the engine, through the Fortran interface that SciPy exports as a supported
 * route (scipy.linalg.cython_blas): the engine's products are row-major CBLAS calls, and a
 * row-major C = op(A) op(B) is the column-major Cᵀ = op(B)ᵀ op(A)ᵀ — the same call with A and
 * B swapped. Fortran BLAS takes 32-bit integers: every size here is far below 2³¹. */
#include "sn.h"

typedef void (*fortran_sgemm)(const char *ta, const char *tb, const int *m, const int *n,
                              const int *k, const float *alpha, const float *A, const int *lda,
                              const float *B, const int *ldb, const float *beta, float *C,
                              const int *ldc);

static fortran_sgemm sgemm_f;

static void gemm_via_fortran(int order, int ta, int tb, int64_t m, int64_t n, int64_t k,
                             float alpha, const float *A, int64_t lda, const float *B,
                             int64_t ldb, float beta, float *C, int64_t ldc) {
    (void)order;  /* always ROW_MAJOR here */
    const char tA = ta == TRANS ? 'T' : 'N', tB = tb == TRANS ? 'T' : 'N';
    const int M = (int)n, N = (int)m, K = (int)k, la = (int)lda, lb = (int)ldb, lc = (int)ldc;
    sgemm_f(&tB, &tA, &M, &N, &K, &alpha, B, &lb, A, &la, &beta, C, &lc);
}

/* the engine's gemm_fn calling the Fortran sgemm at `sgemm` (from SciPy's capsule) */
void *sn_gemm_from_fortran(void *sgemm) {
    sgemm_f = (fortran_sgemm)sgemm;
    return sgemm ? (void *)gemm_via_fortran : NULL;
}
