/* The training step of a multi-layer perceptron on every core, each core with its own synapses.
 *
 * The maths is the textbook's, as in layers.py and network.py (float32):
 *
 *   forward    u = W z_prev + b,  z = f(u)                 every layer
 *   output     δ_k = z_k − d_k (matched loss) or (z_k − d_k) f'(u_k)
 *   hidden     δ_j = (Σ_k δ_k w_kj) f'(u_j)
 *   update     w_ji ← w_ji − η δ_j z_i   (or momentum, Nesterov, decay, Adam on ∂E/∂w_ji)
 *
 * Why C: on a machine with few cores the NumPy loop spends up to a third of a step moving
 * synaptic weights between the cores' caches, because BLAS splits the forward product by neurons
 * and the weight update by inputs, and every element-wise pass runs on the Python thread. Here
 * each of T threads owns a fixed set of neurons for the whole step — their weights, biases,
 * optimiser state and activations stay in that core's cache — and only activations cross
 * between cores:
 *
 *   hidden layer l     thread t owns neurons [a_t, b_t): U[:, own] = Z_prev W[own, :]ᵀ, its
 *                      bias, f, δ, the update of W[own, :], and its share of the δ W product
 *                      handed down (partial sums, added by the thread that owns the column);
 *   output layer       thread t owns *inputs* [a_t, b_t) (the neurons it owns below): partial
 *                      products Z_prev[:, own] W[:, own]ᵀ are added by every thread, which then
 *                      computes the (small) output layer, loss and δ_out redundantly.
 *
 * Paths tried and removed, each under 15 % faster than the simpler one in a same-run A/B
 * (docs/performance.md): a narrow output layer's own loops, the batch's gather inside the
 * first product, the output layer's rows shared out between threads, softmax rows in vectors.
 *
 * On CPUs with AVX-512 the forward products whose weights fit in a core's L2 are our own kernel
 * (own_gemm: 12 × 32 register tiles, the bias and f inside it); the rest are BLAS calls (NumPy's
 * own OpenBLAS, set to one thread by the caller, passed in as a function pointer). This file
 * also does the bookkeeping and the element-wise passes, fused.
 * No Python API is used: synapsenet/_engine.py loads it with ctypes, which releases the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* element-wise loops: compiled for AVX-512, AVX2 and plain x86-64, picked at load time (GCC,
 * and clang from version 14, know target_clones) */
#if defined(__has_attribute)
#if defined(__x86_64__) && __has_attribute(target_clones)
#define VECTOR __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef VECTOR
#define VECTOR
#endif


/* bumped whenever an exported function's arguments change: _engine.py refuses a stale build */
#define SN_ABI 7
int sn_abi(void) { return SN_ABI; }

/* the compiler that built this library (the tests check that CI's clang build is clang's) */
const char *sn_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

#define MAX_LAYERS 16
#define MAX_THREADS 16
#define ALIGN 64

/* activations (hidden or output) */
enum { ACT_IDENTITY = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_TANH = 3, ACT_SOFTMAX = 4 };
/* losses */
enum { LOSS_SQUARED = 0, LOSS_CROSS_ENTROPY = 1, LOSS_BINARY_CROSS_ENTROPY = 2 };
/* optimisers: plain gradient descent (η folded into δ_out, the step made inside the product),
 * Adam, and gradient descent with momentum, Nesterov momentum and/or L2 decay */
enum { OPT_SGD = 0, OPT_ADAM = 1, OPT_MOMENTUM = 2 };

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

/* Which compiled path makes what, passed in by the caller (_engine.Settings, whose defaults
 * say why each threshold is where it is) with every call that has a choice to make, so that
 * a test can force each path at any size: */
typedef struct {
    int avx512;                /* the AVX-512 kernels, where the CPU has them (0: never) */
    int64_t own_gemm_max;      /* the most weights (padded) our own product takes */
} sn_settings;

/* the optional paths, as bits of what a call reports it took (for the tests' hooks) */
enum { PATH_OWN_GEMM = 1 };
typedef void (*gemm_fn)(int order, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc);

typedef struct { _Atomic long v; char pad[ALIGN - sizeof(long)]; } padded_counter;

typedef struct {
    /* what to do: set by sn_step before the threads start */
    const float *X; int64_t ldx;          /* all samples, rows ldx apart */
    const int64_t *idx; int64_t start;    /* this batch's rows: idx[r], or start + r */
    int64_t B;                            /* batch size */
    const float *D; int64_t ldd;          /* targets, one row per sample */
    const int64_t *labels;                /* class of each sample (for the accuracy), or NULL */
    float scale;                          /* δ_out multiplier: η/B (OPT_SGD), else 1/B */
    float step, eps;                      /* Adam's folded step and ε', or η (OPT_MOMENTUM) */
    float beta1, beta2, momentum, decay, bound;
    int nesterov;
    /* results */
    double E; int64_t correct; int finite, bad_input;
} job_t;

typedef struct {
    int L, T, loss, opt;
    int64_t n[MAX_LAYERS + 1];            /* layer sizes n[0] (inputs) … n[L] (outputs) */
    int64_t ldw[MAX_LAYERS];              /* row stride of Wᵀ (and its gradient and state) */
    int64_t lz[MAX_LAYERS + 1];           /* row stride of hidden z and δ: whole cache lines */
    int act[MAX_LAYERS];
    float *WT[MAX_LAYERS], *b[MAX_LAYERS], *db[MAX_LAYERS];   /* Wᵀ (n_in × n_out), caller's */
    /* optimiser state for W and b: Adam's m', v'; momentum's velocity in m (or none) */
    float *mW[MAX_LAYERS], *vW[MAX_LAYERS], *mb[MAX_LAYERS], *vb[MAX_LAYERS];
    float *dWT[MAX_LAYERS];               /* ∂E/∂Wᵀ unless OPT_SGD (own block of each thread) */
    int64_t part[MAX_LAYERS + 1][MAX_THREADS + 1];  /* neurons of layer l owned by thread t */
    int64_t max_batch;
    gemm_fn gemm;
    sn_settings S;
    /* workspaces */
    float *Xt[MAX_THREADS];               /* each thread's copy of the batch */
    float *Z[MAX_LAYERS];                 /* hidden outputs z, B × n[l] (shared, by column) */
    float *Dl[MAX_LAYERS];                /* hidden δ, B × n[l] (shared, by column) */
    float *Q[2][MAX_THREADS];             /* partial δ W products, B × max n (per thread) */
    float *P[MAX_THREADS];                /* partial output u, B × n[L] (per thread) */
    float *Uo[MAX_THREADS], *Do[MAX_THREADS];  /* output u/z and δ (each thread its own) */
    float *bo[MAX_THREADS];               /* output biases before the step (each its own copy) */
    /* threads */
    job_t job;
    pthread_t threads[MAX_THREADS];
    int started;
    _Atomic long gen;
    _Atomic int sleeping, quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    padded_counter done[MAX_THREADS];
    padded_counter arrive[MAX_THREADS];
    padded_counter bad[MAX_THREADS];      /* a non-finite δ in the first layer, per thread */
    _Atomic int paths;                    /* PATH_* bits of every step since creation */
} engine;

/* the data set's row of the batch's r-th sample */
static inline int64_t row_of(const job_t *j, int64_t r) {
    return j->idx ? j->idx[r] : j->start + r;
}

static void *alloc(size_t nfloats) {
    void *p = NULL;
    size_t bytes = ((nfloats * sizeof(float) + ALIGN - 1) / ALIGN) * ALIGN;
    if (posix_memalign(&p, ALIGN, bytes ? bytes : ALIGN)) return NULL;
    memset(p, 0, bytes ? bytes : ALIGN);
    return p;
}

/* Waiting for another thread: spin (it is microseconds away), but yield the core now and then
 * in case that thread is not running — more threads than free cores must not stall. */
static void wait_until_at_least(_Atomic long *counter, long value) {
    for (unsigned spins = 1; atomic_load_explicit(counter, memory_order_acquire) < value; spins++) {
        cpu_relax();
        if (spins % 4096 == 0) sched_yield();
    }
}

/* all threads wait here until every one has arrived (counters only grow) */
static void barrier(engine *e, int t) {
    if (e->T == 1) return;
    long mine = atomic_fetch_add_explicit(&e->arrive[t].v, 1, memory_order_acq_rel) + 1;
    for (int s = 0; s < e->T; s++)
        if (s != t) wait_until_at_least(&e->arrive[s].v, mine);
}

/* z = f(u + b) over columns [a, c) of a B × ld block, in place */
VECTOR static void bias_act(float *restrict U, int64_t B, int64_t ld, int64_t a, int64_t c,
                            const float *restrict b, int act) {
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
VECTOR static void times_derivative(float *restrict g, const float *restrict z, int64_t B,
                                    int64_t ld, int64_t a, int64_t c, int act) {
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

/* Adam on n values p (rows of `count` values, `ld` apart), with the caller's folded constants:
 * m' ← β1 m' + g,  v' ← β2 v' + g²,  p ← p − step · m' / (√v' + ε')  (see optimizers.Adam) */
VECTOR static void adam(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, int64_t rows, int64_t count, int64_t ld,
                        const job_t *j, float decay) {
    const float b1 = j->beta1, b2 = j->beta2, step = j->step, eps = j->eps;
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

/* Gradient descent with momentum μ on the block (see optimizers.SGD): g ← g + λ w; then
 * v ← μ v + g and w ← w − η v, or with Nesterov w ← w − η (g + μ v); μ = 0 (v NULL) is
 * w ← w − η g with the decay. Same operations, in the same order, as the NumPy engine. */
VECTOR static void momentum(float *restrict p, const float *restrict g, float *restrict v,
                            int64_t rows, int64_t count, int64_t ld, const job_t *j,
                            float decay) {
    const float mu = j->momentum, lr = j->step;
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
            if (j->nesterov)
                pr[i] += (gi + mu * vi) * -lr;
            else
                pr[i] -= lr * vi;
        }
    }
}

/* p + offset, or NULL for a state array that is not there */
static float *at(float *p, int64_t offset) { return p ? p + offset : NULL; }

/* One optimiser step on a block of parameters p and their gradient g (state arrays laid out
 * like p): Adam or momentum; `decay` is λ for weights, 0 for biases. */
static void optimise(const engine *e, const job_t *j, float *p, const float *g, float *s1,
                     float *s2, int64_t rows, int64_t count, int64_t ld, float decay) {
    if (e->opt == OPT_ADAM)
        adam(p, g, s1, s2, rows, count, ld, j, decay);
    else
        momentum(p, g, s1, rows, count, ld, j, decay);
}

VECTOR static void clip(float *restrict p, int64_t rows, int64_t count, int64_t ld, float bound) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < count; i++) {
            float x = p[r * ld + i];
            p[r * ld + i] = x > bound ? bound : (x < -bound ? -bound : x);
        }
}

/* dst = src (n values), and whether they are all finite (x − x is 0 for those, NaN for ±inf
 * and NaN): the training data is checked as the step gathers it, not in a pass of its own
 * before training (a pass over all of X, 2.5 ms of a 77 ms one-epoch fit on MNIST). */
VECTOR static int copy_finite(float *restrict dst, const float *restrict src, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float x = src[i];
        dst[i] = x;
        bad |= (x - x) != 0.f;
    }
    return !bad;
}

/* Our own products, on AVX-512: C = α A B + β C, for C whose columns come in whole vectors of
 * 16 (rows padded to cache lines). A(i, k) = A[i·ars + k·acs]: the forward product reads the
 * layer's inputs where they lie, without packing (the tests also run a transposed A); rows of
 * B are brs apart. Each tile is MR rows × 32 columns, held in 24 of the 32 vector registers
 * for the whole sum over k: per k two rows-of-16 of B are loaded and every A(i, k) broadcast
 * once, 24 fused multiply-adds for 14 loads. The weight update stays with BLAS: no
 * orientation of it tried here was faster in the step (docs/performance.md). */
#if defined(__x86_64__) && defined(__GNUC__)  /* GCC and clang */
#define OWN_GEMM 1
#define MR 12
/* every function of this block is compiled for AVX-512 and only called where the CPU has it */
#define AVX512 __attribute__((target("avx512f")))
AVX512 static inline __attribute__((always_inline)) void tile(const int mr, const int nv, int64_t K,
                                                       const float *restrict A, int64_t ars,
                                                       int64_t acs, const float *restrict B,
                                                       int64_t brs, float *restrict C,
                                                       int64_t ldc, float alpha, float beta,
                                                       const float *const *pf,
                                                       const float *bias, int64_t nb, int act) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t k0 = 0; k0 < K; k0 += 16) {
        if (pf)  /* a cache line of each of the next MR rows of A into L2 */
            for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(pf[i] + k0), _MM_HINT_T1);
        const int64_t kn = K - k0 < 16 ? K : k0 + 16;
        for (int64_t k = k0; k < kn; k++) {
            const float *b = B + k * brs, *a = A + k * acs;
            const __m512 b0 = _mm512_loadu_ps(b), b1 = nv > 1 ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 12
            for (int i = 0; i < mr; i++) {
                const __m512 ai = _mm512_set1_ps(a[i * ars]);
                c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
                if (nv > 1) c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
            }
        }
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (bias) {  /* z = f(u + b) in the same store, for f identity or ReLU (nb columns have b) */
        const __mmask16 m0 = nb >= 16 ? 0xFFFF : (__mmask16)((1u << nb) - 1);
        const __mmask16 m1 = nb >= 32 ? 0xFFFF : nb > 16 ? (__mmask16)((1u << (nb - 16)) - 1) : 0;
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
        const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 x0 = _mm512_add_ps(c0[i], b0), x1 = _mm512_add_ps(c1[i], b1);
            if (act == ACT_RELU) {  /* x < 0 ? 0 : x, NaN kept (as bias_act) */
                x0 = _mm512_mask_mov_ps(x0, _mm512_cmp_ps_mask(x0, zero, _CMP_LT_OQ), zero);
                x1 = _mm512_mask_mov_ps(x1, _mm512_cmp_ps_mask(x1, zero, _CMP_LT_OQ), zero);
            }
            _mm512_storeu_ps(C + i * ldc, x0);
            if (nv > 1) _mm512_storeu_ps(C + i * ldc + 16, x1);
        }
        return;
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        if (beta == 0.f) {  /* C is not read: it may hold anything */
            _mm512_storeu_ps(c, _mm512_mul_ps(va, c0[i]));
            if (nv > 1) _mm512_storeu_ps(c + 16, _mm512_mul_ps(va, c1[i]));
        } else {
            _mm512_storeu_ps(c, _mm512_fmadd_ps(va, c0[i], _mm512_mul_ps(vb, _mm512_loadu_ps(c))));
            if (nv > 1)
                _mm512_storeu_ps(c + 16, _mm512_fmadd_ps(va, c1[i],
                                                         _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16))));
        }
    }
}

#define TILE(m)                                                        \
    case m: {                                                          \
        if (nv == 2) tile(m, 2, K, A, ars, acs, B, brs, C, ldc, alpha, beta, pf, bias, nb, act); \
        else tile(m, 1, K, A, ars, acs, B, brs, C, ldc, alpha, beta, pf, bias, nb, act);         \
    } break;

AVX512 static void tile_rows(int mr, int nv, int64_t K, const float *A, int64_t ars, int64_t acs,
                      const float *B, int64_t brs, float *C, int64_t ldc, float alpha,
                      float beta, const float *const *pf, const float *bias, int64_t nb,
                      int act) {
    switch (mr) {
        TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6)
        TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12)
        default: break;
    }
}
#undef TILE

/* C (M × N, N a multiple of 16) = α A (M × K) B (K × N) + β C, for B of at most OWN_GEMM_MAX
 * values: B stays in the second-level cache (2 MiB a core here) while tiles of MR rows sweep
 * it, each tile's rows of A staying in the first-level cache as it moves along the columns,
 * so that A is read from memory once (settings' own_gemm_max). Measured on one core
 * against OpenBLAS (GFLOP/s):
 * 1,024 × 784 by 128 neurons 183 vs 149; 2,500 × 784 by 256 neurons 175 vs 152. For a larger B
 * (784 × 512 and up) sweeping slabs of it was no faster than OpenBLAS (150–160 vs 153–161),
 * and without slabs half as fast: there OpenBLAS runs. */
AVX512 static void own_gemm(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t ars,
                     int64_t acs, const float *B, int64_t brs, float beta, float *C,
                     int64_t ldc, const float *bias, int64_t n, int act) {
    for (int64_t i = 0; i < M; i += MR) {
        const int mr = M - i < MR ? (int)(M - i) : MR;
        /* while the first tile of these rows runs, the next rows of A come into L2 (from
         * memory in inference: 2,500 × 784 inputs, 10 % faster) */
        const float *next[MR];
        const int ahead = acs == 1 && i + 2 * MR <= M;
        for (int q = 0; ahead && q < MR; q++) next[q] = A + (i + MR + q) * ars;
        for (int64_t j = 0; j < N; j += 32)
            tile_rows(mr, N - j >= 32 ? 2 : 1, K, A + i * ars, ars, acs, B + j, brs,
                      C + i * ldc + j, ldc, alpha, beta, j || !ahead ? NULL : next,
                      bias ? bias + j : NULL, n - j, act);
    }
}


#endif

/* 1 on a CPU with AVX-512 (and a build that has the kernels for it), else 0 */
static int cpu_avx512 = 0;

#ifdef OWN_GEMM
__attribute__((constructor)) static void detect_cpu(void) {
    cpu_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
}
#endif

int sn_cpu_avx512(void) { return cpu_avx512; }

/* whether the AVX-512 kernels run under these settings */
static int avx512_on(const sn_settings *S) { return cpu_avx512 && S->avx512; }

/* whether own_gemm makes a forward product onto n neurons from K inputs */
static int own_product(const sn_settings *S, int64_t n, int64_t K) {
    return avx512_on(S) && (n + 15) / 16 * 16 * K <= S->own_gemm_max;
}

/* U (rows × n) = A (rows × K, lda) · Wᵀ (K × n, ldw) with C's and Wᵀ's rows padded to whole
 * cache lines past column n (their padding is written, or read, with zeros in Wᵀ's). With
 * `bias`, z = f(u + b) is stored instead where the own kernel runs and f is the identity or
 * ReLU: returns 1 then, 0 when the caller still has to apply them. */
static int forward_product(const sn_settings *S, gemm_fn gemm, int64_t rows, int64_t n, int64_t K, const float *A,
                           int64_t lda, const float *WT, int64_t ldw, float *C, int64_t ldc,
                           const float *bias, int act) {
#ifdef OWN_GEMM
    if (own_product(S, n, K)) {
        const int fuse = bias && (act == ACT_IDENTITY || act == ACT_RELU);
        own_gemm(rows, (n + 15) / 16 * 16, K, 1.f, A, lda, 1, WT, ldw, 0.f, C, ldc,
                 fuse ? bias : NULL, n, act);
        return fuse;
    }
#else
    (void)S; (void)bias; (void)act;
#endif
    gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, n, K, 1.f, A, lda, WT, ldw, 0.f, C, ldc);
    return 0;
}

/* For the tests: C (M × N) = α A B + β C through forward_product's paths (N a multiple of
 * 16 for own_gemm), A(i, k) = A[i·ars + k·acs]; returns the PATH_* bit it took (or 0). */
int sn_matmul(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t ars,
               int64_t acs, const float *B, int64_t brs, float beta, float *C, int64_t ldc,
               void *gemm, const sn_settings *S) {
#ifdef OWN_GEMM
    if (N % 16 == 0 && own_product(S, N, K)) {
        own_gemm(M, N, K, alpha, A, ars, acs, B, brs, beta, C, ldc, NULL, N, 0);
        return PATH_OWN_GEMM;
    }
#endif
    if (acs == 1)  /* rows of A (a single row's stride does not matter) */
        ((gemm_fn)gemm)(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, K, alpha, A, ars > K ? ars : K, B,
                        brs, beta, C, ldc);
    else  /* columns of A: Aᵀ is stored */
        ((gemm_fn)gemm)(ROW_MAJOR, TRANS, NO_TRANS, M, N, K, alpha, A, acs, B, brs, beta, C,
                        ldc);
    return 0;
}



/* whether every value is finite (x − x is 0 for those, NaN for ±inf and NaN) */
VECTOR static int all_finite(const float *restrict x, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= (x[i] - x[i]) != 0.f;
    return !bad;
}

/* whether all n values of x are finite: the training data's check, on the caller's thread */
int sn_all_finite(const float *x, int64_t n) { return all_finite(x, n); }

/* The simulated chip's input stage for a block of rows (hardware/crossbar.py): each row's
 * scale s = max |z| (1 for a row of zeros; NaN if the row has a NaN), then the DAC's codes
 * x = round(z · (q / s)), round half to even — NumPy's four passes (maximum, scale factor,
 * multiply, round) in two over each row while it is in cache, with the same float32
 * operations, so the same codes. */
VECTOR static void dac(const float *restrict Z, int64_t ldz, int64_t rows, int64_t n, float q,
                       float *restrict X, int64_t ldx, float *restrict s) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict z = Z + r * ldz;
        /* |z| as integers: for non-negative floats the bits order as the values, and a NaN's
         * lie above infinity's, so the largest is NaN if there is one */
        uint32_t top = 0;
        for (int64_t i = 0; i < n; i++) {
            uint32_t b;
            memcpy(&b, z + i, sizeof b);
            b &= 0x7FFFFFFFu;
            top = b > top ? b : top;
        }
        float m;
        memcpy(&m, &top, sizeof m);
        if (top == 0) m = 1.f;
        s[r] = m;
        const float f = q / m;
        float *restrict x = X + r * ldx;
        for (int64_t i = 0; i < n; i++) x[i] = rintf(z[i] * f);
    }
}

/* exported without target_clones: clang names a cloned function's dispatcher otherwise */
void sn_dac(const float *Z, int64_t ldz, int64_t rows, int64_t n, float q, float *X,
            int64_t ldx, float *s) {
    dac(Z, ldz, rows, n, q, X, ldx, s);
}

VECTOR static void add_into(float *restrict y, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

/* the first layer's bias gradient must be finite, or the caller undoes the epoch */
static void flag_if_not_finite(engine *e, int t, const float *db, int64_t a, int64_t c) {
    float acc = 0.f;
    for (int64_t k = a; k < c; k++) acc += db[k];
    if (!isfinite(acc)) e->bad[t].v = 1;
}

/* column sums of δ[:, a:c) → db[a:c) */
VECTOR static void col_sums(const float *restrict d, int64_t B, int64_t ld, int64_t a,
                            int64_t c, float *restrict db) {
    for (int64_t j = a; j < c; j++) db[j] = 0.f;
    for (int64_t r = 0; r < B; r++)
        for (int64_t j = a; j < c; j++) db[j] += d[r * ld + j];
}

/* z_k = e^(u_k − max) / Σ_j e^(u_j − max) over one row of n values (z may be u); returns
 * ln Σ_j e^u_j, the log-sum-exp the cross-entropy needs. The one softmax of this library. */
static double softmax_row(const float *u, float *z, int64_t n) {
    float mx = u[0];
    for (int64_t k = 1; k < n; k++) mx = u[k] > mx ? u[k] : mx;
    float s = 0.f;
    for (int64_t k = 0; k < n; k++) s += z[k] = expf(u[k] - mx);  /* e^(u − max) */
    for (int64_t k = 0; k < n; k++) z[k] /= s;
    return mx + log((double)s);
}

/* The output layer, its loss and δ_out, computed by every thread on its own copy.
 * U holds Σ_t partials (without b); on return U holds z and Dl holds δ_out (scaled). */
static double output_layer(engine *e, job_t *j, float *restrict U, float *restrict Dl,
                           const float *restrict b, int64_t *correct, int count) {
    const int64_t n = e->n[e->L], B = j->B;
    const int act = e->act[e->L - 1];
    double E = 0.0;
    int64_t right = 0;
    for (int64_t r = 0; r < B; r++) {
        float *restrict u = U + r * n, *restrict dl = Dl + r * n;
        const int64_t row = row_of(j, r);
        const float *restrict d = j->D + row * j->ldd;
        double Er = 0.0;
        for (int64_t k = 0; k < n; k++) u[k] += b[k];
        if (act == ACT_SOFTMAX) {
            const double lse = softmax_row(u, dl, n);  /* z into dl: the loss needs u */
            if (e->loss == LOSS_CROSS_ENTROPY)  /* −Σ d ln z = Σ d (lse − u): no underflow */
                for (int64_t k = 0; k < n; k++)
                    if (d[k] != 0.f) Er += (double)d[k] * (lse - u[k]);
            memcpy(u, dl, (size_t)n * sizeof(float));
        } else if (e->loss == LOSS_BINARY_CROSS_ENTROPY) {  /* sigmoid output */
            for (int64_t k = 0; k < n; k++) {
                const double x = u[k];  /* −[d ln σ(u) + (1 − d) ln(1 − σ(u))] */
                const double sp_neg = x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
                Er += d[k] * sp_neg + (1.0 - d[k]) * (sp_neg + x);
            }
            for (int64_t k = 0; k < n; k++) u[k] = 0.5f * tanhf(0.5f * u[k]) + 0.5f;
        } else {
            for (int64_t k = 0; k < n; k++) {
                float x = u[k];
                switch (act) {
                case ACT_RELU: x = x < 0.f ? 0.f : x; break;
                case ACT_SIGMOID: x = 0.5f * tanhf(0.5f * x) + 0.5f; break;
                case ACT_TANH: x = tanhf(x); break;
                default: break;
                }
                u[k] = x;
            }
        }
        if (e->loss == LOSS_SQUARED) {
            double gz = 0.0;
            for (int64_t k = 0; k < n; k++) {
                const float g = u[k] - d[k];
                Er += 0.5 * (double)g * g;  /* ½ Σ (z − d)² */
                dl[k] = g;
                gz += (double)g * u[k];
            }
            for (int64_t k = 0; k < n; k++) {  /* δ = (z − d) f'(u) */
                const float z = u[k];
                switch (act) {
                case ACT_RELU: dl[k] *= (float)(z > 0.f); break;
                case ACT_SIGMOID: dl[k] *= z * (1.f - z); break;
                case ACT_TANH: dl[k] *= 1.f - z * z; break;
                case ACT_SOFTMAX: dl[k] = z * (dl[k] - (float)gz); break;
                default: break;
                }
            }
        } else {
            for (int64_t k = 0; k < n; k++) dl[k] = u[k] - d[k];  /* f' cancels: δ = z − d */
        }
        for (int64_t k = 0; k < n; k++) dl[k] *= j->scale;
        E += Er;
        if (count && j->labels) {
            int64_t cls;
            if (n == 1) {
                const float mid = act == ACT_TANH ? 0.f : 0.5f;
                cls = u[0] >= mid;
            } else {
                cls = 0;
                for (int64_t k = 1; k < n; k++) if (u[k] > u[cls]) cls = k;
            }
            right += cls == j->labels[row];
        }
    }
    *correct = right;
    return E / (double)B;
}

/* The step on a block of layer l's Wᵀ (rows × count values from offset `off`, rows ldw[l]
 * apart), from the layer's inputs A (B × rows, lda) and its δ (B × count, ldd): inside the
 * product for plain gradient descent (η is already in δ), else the gradient and then the
 * optimiser; then the synaptic bound. */
static void update_weights(engine *e, const job_t *j, int l, int64_t off, int64_t rows,
                           int64_t count, const float *A, int64_t lda, const float *D,
                           int64_t ldd) {
    const int64_t lw = e->ldw[l];
    float *W = e->WT[l] + off;
    float *G = e->opt == OPT_SGD ? W : e->dWT[l] + off;  /* the step inside, or ∂E/∂w first */
    const float alpha = e->opt == OPT_SGD ? -1.f : 1.f, beta = e->opt == OPT_SGD ? 1.f : 0.f;
    /* w_ji ← w_ji − η δ_j z_i, or ∂E/∂w_ji = δ_j z_i, summed over the batch */
    e->gemm(ROW_MAJOR, TRANS, NO_TRANS, rows, count, j->B, alpha, A, lda, D, ldd, beta, G, lw);
    if (e->opt != OPT_SGD)
        optimise(e, j, W, G, at(e->mW[l], off), at(e->vW[l], off), rows, count, lw, j->decay);
    if (j->bound > 0) clip(W, rows, count, lw, j->bound);
}

/* The biases [a, c) of layer l: ∂E/∂b_j = Σ_batch δ_j (kept in db), then the step. */
static void update_biases(engine *e, const job_t *j, int t, int l, const float *D, int64_t ldd,
                          int64_t a, int64_t c) {
    float *b = e->b[l] + a, *db = e->db[l] + a;
    col_sums(D, j->B, ldd, a, c, e->db[l]);
    if (l == 0) flag_if_not_finite(e, t, e->db[0], a, c);
    if (e->opt == OPT_SGD)
        for (int64_t k = 0; k < c - a; k++) b[k] -= db[k];
    else
        optimise(e, j, b, db, at(e->mb[l], a), at(e->vb[l], a), 1, c - a, c - a, 0.f);
    if (j->bound > 0) clip(b, 1, c - a, c - a, j->bound);
}

static void work(engine *e, int t) {
    job_t *j = &e->job;
    const int L = e->L, T = e->T;
    const int64_t B = j->B;
    /* each thread gathers the whole batch into its own cache, checking it on the way */
    float *Xt = e->Xt[t];
    const int64_t n0 = e->n[0];
    int paths = 0;
    int clean = 1;  /* every input finite: all threads gather the same rows, so all agree */
    for (int64_t r = 0; r < B; r++) {
        const int64_t row = row_of(j, r);
        if (j->idx && r + 2 < B) __builtin_prefetch(j->X + j->idx[r + 2] * j->ldx);
        __builtin_prefetch(j->D + row * j->ldd);  /* its targets, read in the output layer */
        clean &= copy_finite(Xt + r * n0, j->X + row * j->ldx, n0);
    }
    if (!clean) {  /* before any barrier and any update */
        if (t == 0) j->bad_input = 1;
        return;
    }
    /* forward through the hidden layers: this thread's neurons only. Rows of Wᵀ are ldw[l]
     * apart, rows of hidden z and δ lz[l] apart: both whole cache lines */
    const float *Zp = Xt;
    int64_t ldp = n0;
    for (int l = 0; l < L - 1; l++) {
        const int64_t ni = e->n[l], lw = e->ldw[l], lz = e->lz[l + 1];
        const int64_t a = e->part[l + 1][t], c = e->part[l + 1][t + 1];
        if (l > 0) barrier(e, t);  /* all of z_prev written */
        if (c > a) {
            const int act = e->act[l];
            if (own_product(&e->S, c - a, ni)) paths |= PATH_OWN_GEMM;
            /* u = W z_prev, and z = f(u + b) where the product did not store it already */
            if (!forward_product(&e->S, e->gemm, B, c - a, ni, Zp, ldp, e->WT[l] + a, lw,
                                 e->Z[l + 1] + a, lz, e->b[l] + a, act))
                bias_act(e->Z[l + 1], B, lz, a, c, e->b[l], act);
        }
        Zp = e->Z[l + 1];
        ldp = lz;
    }
    atomic_fetch_or_explicit(&e->paths, paths, memory_order_relaxed);
    /* output layer: partial products over this thread's inputs, then added by all */
    const int lo = L - 1;
    const int64_t no = e->n[L], lw = e->ldw[lo];
    const int64_t a = e->part[lo][t], c = e->part[lo][t + 1];
    float *P = e->P[t];
    if (c > a)
        e->gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, B, no, c - a, 1.f, Zp + a, ldp,
                e->WT[lo] + a * lw, lw, 0.f, P, no);
    else
        memset(P, 0, (size_t)(B * no) * sizeof(float));
    /* the output biases as they are now: thread 0 updates them while others may still read */
    memcpy(e->bo[t], e->b[lo], (size_t)no * sizeof(float));
    barrier(e, t);
    /* every thread all rows of the (small) output layer: no barrier more */
    float *U = e->Uo[t], *Do = e->Do[t];
    memcpy(U, e->P[0], (size_t)(B * no) * sizeof(float));
    for (int s = 1; s < T; s++) add_into(U, e->P[s], B * no);
    int64_t correct = 0;
    const double E = output_layer(e, j, U, Do, e->bo[t], &correct, t == 0);
    if (t == 0) { j->E = E; j->correct = correct; }
    if (!isfinite(E)) {  /* every thread computed the same E: all stop before any update */
        if (t == 0) j->finite = 0;
        return;
    }
    /* output layer backward: hand δ W down for this thread's inputs (old weights), update */
    if (lo > 0 && c > a) {
        e->gemm(ROW_MAJOR, NO_TRANS, TRANS, B, c - a, no, 1.f, Do, no, e->WT[lo] + a * lw,
                lw, 0.f, e->Dl[lo] + a, ldp);  /* ∂E/∂z_i = Σ_k δ_k w_ki */
        times_derivative(e->Dl[lo], e->Z[lo], B, ldp, a, c, e->act[lo - 1]);  /* δ_j */
    }
    if (c > a) update_weights(e, j, lo, a * lw, c - a, no, Zp + a, ldp, Do, no);
    if (t == 0) update_biases(e, j, t, lo, Do, no, 0, no);
    /* hidden layers, top down: this thread's neurons */
    for (int l = lo - 1; l >= 0; l--) {
        const int64_t hi = e->n[l], lw = e->ldw[l], lzo = e->lz[l + 1];
        const int64_t ha = e->part[l + 1][t], hc = e->part[l + 1][t + 1];
        const float *Zin = l == 0 ? Xt : e->Z[l];
        const int64_t lzi = l == 0 ? n0 : e->lz[l];
        float *Dh = e->Dl[l + 1];
        float *Qt = e->Q[l & 1][t];
        if (hc > ha) {
            if (l > 0)
                e->gemm(ROW_MAJOR, NO_TRANS, TRANS, B, hi, hc - ha, 1.f, Dh + ha, lzo,
                        e->WT[l] + ha, lw, 0.f, Qt, lzi);  /* partial Σ_j δ_j w_ji */
            update_weights(e, j, l, ha, hi, hc - ha, Zin, lzi, Dh + ha, lzo);
            update_biases(e, j, t, l, Dh, lzo, ha, hc);
        } else if (l > 0) {
            memset(Qt, 0, (size_t)(B * lzi) * sizeof(float));
        }
        if (l > 0) {
            /* δ of layer l's inputs = Σ_t partials, for the neurons this thread owns there */
            const int64_t ga = e->part[l][t], gc = e->part[l][t + 1];
            barrier(e, t);
            float *Dn = e->Dl[l];
            for (int64_t r = 0; r < B; r++) {
                memcpy(Dn + r * lzi + ga, e->Q[l & 1][0] + r * lzi + ga,
                       (size_t)(gc - ga) * sizeof(float));
                for (int q = 1; q < T; q++)
                    add_into(Dn + r * lzi + ga, e->Q[l & 1][q] + r * lzi + ga, gc - ga);
            }
            times_derivative(Dn, e->Z[l], B, lzi, ga, gc, e->act[l - 1]);
        }
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef struct { engine *e; int t; } thread_arg;

static void *helper(void *arg) {
    thread_arg *ta = arg;
    engine *e = ta->e;
    const int t = ta->t;
    free(ta);
    long seen = 0;
    for (;;) {
        /* spin briefly (the next step comes within microseconds), then sleep */
        double t0 = now_s();
        int spins = 0;
        while (atomic_load(&e->gen) == seen && !atomic_load(&e->quit)) {
            cpu_relax();
            if (++spins == 256) { spins = 0; if (now_s() - t0 > 2e-4) break; }
        }
        if (atomic_load(&e->gen) == seen) {
            pthread_mutex_lock(&e->mu);
            atomic_fetch_add(&e->sleeping, 1);
            while (atomic_load(&e->gen) == seen && !atomic_load(&e->quit))
                pthread_cond_wait(&e->cv, &e->mu);
            atomic_fetch_sub(&e->sleeping, 1);
            pthread_mutex_unlock(&e->mu);
        }
        if (atomic_load(&e->quit)) break;
        seen = atomic_load(&e->gen);
        work(e, t);
        atomic_store(&e->done[t].v, seen);
    }
    return NULL;
}

void sn_free(engine *e);

/* sizes[0..L]; per layer: WT, b, db (caller's arrays), act; optimiser state mW, vW, mb, vb
 * (Adam: m', v'; momentum: velocity in mW, mb), or NULL */
engine *sn_create(int L, const int64_t *sizes, const int64_t *ldw, float **WT, float **b,
                  float **db,
                  const int *act, int loss, int opt, float **mW, float **vW, float **mb,
                  float **vb, int T, int64_t max_batch, void *gemm, const sn_settings *S) {
    if (L < 1 || L > MAX_LAYERS || T < 1 || T > MAX_THREADS || max_batch < 1 || !gemm || !S)
        return NULL;
    engine *e = calloc(1, sizeof(engine));
    if (!e) return NULL;
    e->L = L; e->T = T; e->loss = loss; e->opt = opt; e->max_batch = max_batch;
    e->gemm = (gemm_fn)gemm;
    e->S = *S;
    int64_t widest = 0;
    const int64_t line = ALIGN / sizeof(float);
    for (int l = 0; l <= L; l++) {
        e->n[l] = sizes[l];
        e->lz[l] = (sizes[l] + line - 1) / line * line;
        if (e->lz[l] > widest) widest = e->lz[l];
    }
    int ok = 1;
    for (int l = 0; l < L; l++) {
        e->WT[l] = WT[l]; e->b[l] = b[l]; e->db[l] = db[l]; e->act[l] = act[l];
        e->ldw[l] = ldw[l];
        if (ldw[l] < sizes[l + 1]) ok = 0;
        if (opt != OPT_SGD) {  /* state arrays: Adam's m', v'; momentum's v (or none) */
            e->mW[l] = mW ? mW[l] : NULL; e->vW[l] = vW ? vW[l] : NULL;
            e->mb[l] = mb ? mb[l] : NULL; e->vb[l] = vb ? vb[l] : NULL;
            ok &= (e->dWT[l] = alloc((size_t)(sizes[l] * ldw[l]))) != NULL;
        }
    }
    /* thread t owns neurons [part[l][t], part[l][t+1]) of layer l, in whole cache lines */
    for (int l = 0; l <= L; l++) {
        const int64_t n = e->n[l];
        for (int t = 0; t <= T; t++) {
            int64_t p = (n * t / T + line / 2) / line * line;
            e->part[l][t] = t == T ? n : (p > n ? n : p);
        }
    }
    for (int t = 0; t < T; t++) {
        ok &= (e->Xt[t] = alloc((size_t)(max_batch * sizes[0]))) != NULL;
        ok &= (e->P[t] = alloc((size_t)(max_batch * sizes[L]))) != NULL;
        ok &= (e->Uo[t] = alloc((size_t)(max_batch * sizes[L]))) != NULL;
        ok &= (e->Do[t] = alloc((size_t)(max_batch * sizes[L]))) != NULL;
        ok &= (e->bo[t] = alloc((size_t)sizes[L])) != NULL;
        for (int q = 0; q < 2; q++)
            ok &= (e->Q[q][t] = alloc((size_t)(max_batch * widest))) != NULL;
    }
    for (int l = 1; l < L; l++) {
        ok &= (e->Z[l] = alloc((size_t)(max_batch * e->lz[l]))) != NULL;
        ok &= (e->Dl[l] = alloc((size_t)(max_batch * e->lz[l]))) != NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (ok) {
        for (int t = 1; t < T; t++) {
            thread_arg *ta = malloc(sizeof(thread_arg));
            if (!ta) { ok = 0; break; }
            ta->e = e; ta->t = t;
            if (pthread_create(&e->threads[t], NULL, helper, ta)) { free(ta); ok = 0; break; }
            e->started = t;
        }
    }
    if (!ok) { sn_free(e); return NULL; }
    return e;
}

/* the PATH_* bits of every step this engine made */
int sn_paths(engine *e) { return atomic_load(&e->paths); }

/* The training data and fixed settings of this fit: samples X (rows ldx apart), targets D
 * (rows ldd apart), class labels or NULL; Adam's β1, β2; momentum μ and Nesterov; L2 decay λ;
 * weight bound (0: none). */
void sn_bind(engine *e, const float *X, int64_t ldx, const float *D, int64_t ldd,
             const int64_t *labels, float beta1, float beta2, float momentum, int nesterov,
             float decay, float bound) {
    job_t *j = &e->job;
    j->X = X; j->ldx = ldx; j->D = D; j->ldd = ldd; j->labels = labels;
    j->beta1 = beta1; j->beta2 = beta2; j->momentum = momentum; j->nesterov = nesterov;
    j->decay = decay; j->bound = bound;
}

/* One step on rows idx[0..B) of the bound data (or start…start+B when idx is NULL), with δ_out
 * scaled by `scale` (η/B for plain gradient descent, else 1/B), and the optimiser's `step`
 * (Adam's folded step size, or η for momentum) and Adam's folded ε.
 * Returns 1 after an update; 0 if the loss was not finite (nothing changed); 2 if the update
 * was made but the first layer's δ was not finite; 3 if an input of the batch was NaN or
 * infinite (nothing changed); -1 for a batch larger than the buffers. */
int sn_step(engine *e, const int64_t *idx, int64_t start, int64_t B, float scale,
            float step, float eps, double *E, int64_t *correct) {
    if (B < 1 || B > e->max_batch) return -1;
    job_t *j = &e->job;
    j->idx = idx; j->start = start; j->B = B; j->scale = scale;
    j->step = step; j->eps = eps;
    j->finite = 1; j->bad_input = 0; j->E = 0; j->correct = 0;
    for (int t = 0; t < e->T; t++) e->bad[t].v = 0;
    const long g = atomic_load(&e->gen) + 1;
    atomic_store(&e->gen, g);
    if (atomic_load(&e->sleeping)) {
        pthread_mutex_lock(&e->mu);
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
    }
    work(e, 0);
    for (int t = 1; t < e->T; t++)
        wait_until_at_least(&e->done[t].v, g);
    *E = j->E;
    *correct = j->correct;
    if (j->bad_input) return 3;
    if (!j->finite) return 0;
    for (int t = 0; t < e->T; t++)
        if (e->bad[t].v) return 2;
    return 1;
}

/* n steps in a row, without returning to Python between them: step s on rows
 * idx[off[s]] … idx[off[s] + B[s] − 1] (or off[s] … when idx is NULL) with its own scale,
 * step and ε (sn_step); its loss and correct count into E[s], correct[s]. Stops after the
 * first step whose status is not 1, returning its index with that status in *status; n and 1
 * when all were made. */
int64_t sn_steps(engine *e, const int64_t *idx, const int64_t *off, const int64_t *B,
                 const float *scale, const float *step, const float *eps, int64_t n, double *E,
                 int64_t *correct, int *status) {
    for (int64_t s = 0; s < n; s++) {
        const int st = sn_step(e, idx ? idx + off[s] : NULL, off[s], B[s], scale[s], step[s],
                               eps[s], E + s, correct + s);
        if (st != 1) {
            *status = st;
            return s;
        }
    }
    *status = 1;
    return n;
}

/* Inference of `rows` samples on the calling thread (BLAS single-threaded by the caller):
 * z = f(W z_prev + b) layer by layer, the bias and f fused into one pass after each product,
 * hidden outputs in buf0/buf1 (rows × the widest hidden layer rounded up to 16 each, rows of
 * whole cache lines), the last layer's z in out.
 * Returns 0 if the first layer's u was not finite anywhere (a NaN or infinite input, or an
 * overflow: the caller then looks at the inputs), else 1; the PATH_* bits it took in *paths.
 */
int sn_forward(int L, const int64_t *sizes, const int64_t *ldw, float **WT, float **b,
               const int *act, const float *X, int64_t ldx, int64_t rows, float *out,
               float *buf0, float *buf1, void *gemm_ptr, const sn_settings *S, int *paths) {
    const gemm_fn gemm = (gemm_fn)gemm_ptr;
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
            if (own_product(S, no, ni)) *paths |= PATH_OWN_GEMM;
            forward_product(S, gemm, rows, no, ni, A, lda, WT[l], ldw[l], C, ldc, NULL, 0);
        } else {
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, no, ni, 1.f, A, lda, WT[l], ldw[l], 0.f, C,
                 ldc);
        }
        for (int64_t r = 0; l == 0 && ok && r < rows; r++) ok = all_finite(C + r * ldc, no);
        if (act[l] == ACT_SOFTMAX) {
            for (int64_t r = 0; r < rows; r++) {
                float *u = C + r * no;
                for (int64_t k = 0; k < no; k++) u[k] += b[l][k];
                softmax_row(u, u, no);  /* z_k = e^u_k / Σ_j e^u_j */
            }
        } else {
            bias_act(C, rows, ldc, 0, no, b[l], act[l]);  /* z = f(u + b) */
        }
        A = C;
        lda = ldc;
    }
    return ok;
}

void sn_free(engine *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    atomic_store(&e->quit, 1);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    for (int t = 1; t <= e->started; t++) pthread_join(e->threads[t], NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    for (int t = 0; t < MAX_THREADS; t++) {
        free(e->Xt[t]); free(e->P[t]); free(e->Uo[t]); free(e->Do[t]); free(e->bo[t]);
        free(e->Q[0][t]); free(e->Q[1][t]);
    }
    for (int l = 0; l < MAX_LAYERS; l++) { free(e->Z[l]); free(e->Dl[l]); free(e->dWT[l]); }
    free(e);
}

/* An importable (empty) module, so that setuptools builds and installs the library in place. */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cengine",
                                    "Multi-core training steps (used through ctypes).", -1,
                                    NULL, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__cengine(void) { return PyModule_Create(&module); }
