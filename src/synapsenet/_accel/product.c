/* Which instruction set and which product: the CPU's abilities, found once at load, and the
 * caller's settings (sn.h) decide; the forward product is ours where that pays, else BLAS's. */
#include "sn.h"

static int cpu_isa = ISA_PORTABLE;

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((constructor)) static void detect_cpu(void) {
    __builtin_cpu_init();
    cpu_isa = __builtin_cpu_supports("avx512f") ? ISA_AVX512
              : __builtin_cpu_supports("avx2")  ? ISA_AVX2
                                                 : ISA_PORTABLE;
}
#endif

int sn_cpu_isa(void) { return cpu_isa; }

/* the instruction set these settings allow on this CPU */
static int isa_of(const sn_settings *S) { return S->isa < cpu_isa ? S->isa : cpu_isa; }

const sn_loops *sn_loops_for(const sn_settings *S) {
    switch (isa_of(S)) {
    case ISA_AVX512: return &sn_loops_avx512;
    case ISA_AVX2: return &sn_loops_avx2;
    default: return &sn_loops_portable;
    }
}

/* whether our product makes a forward product onto n neurons from K inputs */
int sn_own_product(const sn_settings *S, int64_t n, int64_t K) {
    return isa_of(S) >= ISA_AVX512 && (n + 15) / 16 * 16 * K <= S->own_gemm_max;
}

/* U (rows × n) = A (rows × K, lda) · Wᵀ (K × n, ldw) with C's and Wᵀ's rows padded to whole
 * cache lines past column n (their padding is written, or read, with zeros in Wᵀ's). With
 * `bias`, z = f(u + b) is stored instead where our kernel runs and f is the identity or
 * ReLU: returns 1 then, 0 when the caller still has to apply them. */
int sn_forward_product(const sn_settings *S, gemm_fn gemm, int64_t rows, int64_t n, int64_t K,
                       const float *A, int64_t lda, const float *WT, int64_t ldw, float *C,
                       int64_t ldc, const float *bias, int act, int *paths) {
    if (sn_own_product(S, n, K)) {
        const int fuse = bias && (act == ACT_IDENTITY || act == ACT_RELU);
        const int took = sn_own_gemm(rows, (n + 15) / 16 * 16, K, 1.f, A, lda, 1, WT, ldw, 0.f,
                                     C, ldc, fuse ? bias : NULL, n, act, S->sparse_share);
        if (paths) *paths |= PATH_OWN_GEMM | took;
        return fuse;
    }
    gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, n, K, 1.f, A, lda, WT, ldw, 0.f, C, ldc);
    return 0;
}

/* For the tests: C (M × N) = α A B + β C through the forward product's paths (N a multiple
 * of 16 for ours), A(i, k) = A[i·ars + k·acs]; returns the PATH_* bit it took (or 0). */
int sn_matmul(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t ars,
              int64_t acs, const float *B, int64_t brs, float beta, float *C, int64_t ldc,
              void *gemm, const sn_settings *S) {
    if (N % 16 == 0 && sn_own_product(S, N, K))
        return PATH_OWN_GEMM |
               sn_own_gemm(M, N, K, alpha, A, ars, acs, B, brs, beta, C, ldc, NULL, N, 0,
                           S->sparse_share);
    if (acs == 1)  /* rows of A (a single row's stride does not matter) */
        ((gemm_fn)gemm)(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, K, alpha, A, ars > K ? ars : K, B,
                        brs, beta, C, ldc);
    else  /* columns of A: Aᵀ is stored */
        ((gemm_fn)gemm)(ROW_MAJOR, TRANS, NO_TRANS, M, N, K, alpha, A, acs, B, brs, beta, C,
                        ldc);
    return 0;
}
