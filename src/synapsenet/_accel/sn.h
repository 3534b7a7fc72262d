/* synapsenet's compiled kernels: the one header of their enums, settings and signatures.
 *
 * The maths is the textbook's, stated once in NumPy (synapsenet/network.py, activations.py,
 * losses.py, optimizers.py) and tested against these kernels by tests/test_kernels.py:
 *
 *   forward    u = W z_prev + b,  z = f(u)                 every layer
 *   output     δ_k = z_k − d_k (matched loss) or (z_k − d_k) f'(u_k)
 *   hidden     δ_j = (Σ_k δ_k w_kj) f'(u_j)
 *   update     w_ji ← w_ji − η δ_j z_i   (or momentum, Nesterov, decay, Adam on ∂E/∂w_ji)
 *
 * The units, built as one library (setup.py) that synapsenet/_engine.py loads with ctypes:
 *
 *   loops.h (+ loops_portable.c, loops_avx2.c, loops_avx512.c)  the element-wise passes
 *        (bias and activation, derivatives, optimiser steps, clipping, the finite checks,
 *        the chip's DAC stage), compiled once per instruction set; sn_loops_for picks one
 *   gemm_avx512.c   our own forward product on AVX-512 (register tiles, bias and f inside)
 *   product.c       the CPU's instruction sets, which product runs (ours or BLAS's)
 *   output.c        the softmax, the output layer's loss and δ_out
 *   update.c        a block's weight update: the gradient product, the optimiser, the bound
 *   engine.c        the training step on T threads, each owning a share of every layer
 *   infer.c         inference, layer by layer on the calling thread
 *   devices.h (+ devices.c)  the devices' physics, once for the two units below: the
 *                   generator of the trains' noise, a train's closed form, noise and bounds,
 *                   a pair's refresh, the weights written where the chip reads them
 *   pulses.c (+ pulses.h)  the chip's stochastic pulse update of one layer, a batch a call
 *   chip.c          in-situ training on the simulated analog chip (hardware/engine.py): the
 *                   crossbar's read with its DAC and ADC, the digital backward pass, the
 *                   devices' pulse trains and the metered tally, a batch-1 step per sample
 *   noise.c (+ noise.h)  the chip's Gaussian noise: Box–Muller in one pass (hardware/noise.py)
 *   chipread.c      the chip's analog read of a layer (CrossbarArray.matvec) in one call
 *   module.c        the exported odds and ends (version, compiler, DAC, finite check) and
 *                   the (empty) Python module that lets setuptools build the library
 *
 * BLAS comes in as a function pointer (CBLAS sgemm's signature, 64-bit integers) from the
 * caller, who also makes it single-threaded while our threads run.
 */
#ifndef SYNAPSENET_SN_H
#define SYNAPSENET_SN_H

#include <stddef.h>
#include <stdint.h>

/* bumped whenever an exported function's arguments change: _engine.py refuses a stale build */
#define SN_ABI 16

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
/* instruction sets the element-wise loops are compiled for (and our product needs AVX-512) */
enum { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
/* max |z| of n values, 1 if all are 0: the magnitudes' bits compared as integers, which
 * orders them as the values (a NaN's above infinity's, so a NaN wins), and vectorises */
static inline float sn_row_scale(const float *restrict z, int64_t n) {
    uint32_t top = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        __builtin_memcpy(&u, z + i, sizeof u);
        u &= 0x7FFFFFFFu;
        top = u > top ? u : top;
    }
    float m;
    __builtin_memcpy(&m, &top, sizeof m);
    return top == 0 ? 1.f : m;
}

/* our product's tile height: rows a block (gemm_avx512.c), and the groups that callers give
 * it so that it blocks them as it would a whole batch */
#define SN_TILE_ROWS 12

/* the optional paths, as bits of what a call reports it took (for the tests' hooks) */
enum { PATH_OWN_GEMM = 1, PATH_OWN_SPARSE = 4, PATH_OWN_GRADIENT = 8 };
/* CBLAS's constants */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*gemm_fn)(int order, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc);

/* Which compiled path makes what, passed in by the caller (_engine.Settings, whose defaults
 * say why each is where it is) with every call that has a choice to make, so that a test can
 * force each path at any size. */
typedef struct {
    int isa;                   /* the most capable ISA_* to use (the CPU's, if less) */
    int64_t own_gemm_max;      /* the most weights (padded) our own product takes */
    int64_t sparse_share;      /* our product skips the inputs that are 0 in every row of a
                                * block where at most this many 1024ths of them are not
                                * (0: never) */
    int64_t fused_read;        /* the chip's read of a layer in one call (chipread.c): 1, or 0
                                * for CrossbarArray.matvec's NumPy lines */
    int64_t gathered_update;   /* the weight update's product skips, as the forward product
                                * does, inputs 0 in most samples (update.c): 1, or 0 for BLAS */
} sn_settings;

/* The constants of an optimiser step (see optimizers.py): Adam's folded step and ε' (or η for
 * momentum), β1, β2; momentum μ and Nesterov; L2 decay λ; the weight bound (0: none). */
typedef struct {
    int opt;
    float step, eps, beta1, beta2, momentum, decay, bound;
    int nesterov;
} sn_optim;

/* The element-wise passes, one table per instruction set (loops.h). Blocks are `rows` rows of
 * `count` (or columns [a, c)) values, rows `ld` apart. */
typedef struct {
    const char *name;
    /* z = f(u + b) in place */
    void (*bias_act)(float *U, int64_t B, int64_t ld, int64_t a, int64_t c, const float *b,
                     int act);
    /* g ← g f'(u), f' from z */
    void (*times_derivative)(float *g, const float *z, int64_t B, int64_t ld, int64_t a,
                             int64_t c, int act);
    /* the optimiser's step on parameters p from gradients g, state s1, s2 (or NULL) */
    void (*adam)(float *p, const float *g, float *m, float *v, int64_t rows, int64_t count,
                 int64_t ld, const sn_optim *k, float decay);
    void (*momentum)(float *p, const float *g, float *v, int64_t rows, int64_t count,
                     int64_t ld, const sn_optim *k, float decay);
    void (*clip)(float *p, int64_t rows, int64_t count, int64_t ld, float bound);
    /* db[a:c) = Σ_rows d[:, a:c) */
    void (*col_sums)(const float *d, int64_t B, int64_t ld, int64_t a, int64_t c, float *db);
    void (*add_into)(float *y, const float *x, int64_t n);
    /* dst = src and whether all were finite; whether all are finite */
    int (*copy_finite)(float *dst, const float *src, int64_t n);
    int (*all_finite)(const float *x, int64_t n);
    /* the chip's DAC stage: s = max |z| per row (1 for zeros), X = round(Z · q / s) */
    void (*dac)(const float *Z, int64_t ldz, int64_t rows, int64_t n, float q, float *X,
                int64_t ldx, float *s);
} sn_loops;

extern const sn_loops sn_loops_portable, sn_loops_avx2, sn_loops_avx512;

/* product.c */
int sn_cpu_isa(void);                                   /* the most capable ISA_* this CPU runs */
const sn_loops *sn_loops_for(const sn_settings *S);     /* the loops these settings pick */
int sn_own_product(const sn_settings *S, int64_t n, int64_t K);  /* ours for n × K weights? */
/* C (M × N) = α A B + β C by the forward product's paths (ours for N a multiple of 16 where
 * the settings take it, else BLAS), A(i, k) = A[i·ars + k·acs]; the PATH_* bits it took */
int sn_matmul(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t ars,
              int64_t acs, const float *B, int64_t brs, float beta, float *C, int64_t ldc,
              void *gemm, const sn_settings *S);
int sn_forward_product(const sn_settings *S, gemm_fn gemm, int64_t rows, int64_t n, int64_t K,
                       const float *A, int64_t lda, const float *WT, int64_t ldw, float *C,
                       int64_t ldc, const float *bias, int act, int *paths);

/* gemm_avx512.c: C = α A B + β C (N a multiple of 16, A(i, k) = A[i·ars + k·acs]), with bias
 * and f fused into the store where bias is given (f the identity or ReLU), the inputs that
 * are 0 in a whole block of rows skipped where at most `share` 1024ths are not (rows of A
 * contiguous); returns PATH_OWN_SPARSE if it skipped any; x86-64 only */
int sn_own_gemm(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t ars,
                int64_t acs, const float *B, int64_t brs, float beta, float *C, int64_t ldc,
                const float *bias, int64_t n, int act, int64_t share);

/* gemm_avx512.c: the rows of C = α A B + β C whose blocks of rows use at most `share` 1024ths
 * of the inputs, by gathered tiles; the others' runs (first row, count) into runs (room for
 * M / SN_TILE_ROWS + 1 pairs), their number returned (x86-64 only; elsewhere every row) */
int64_t sn_own_gathered(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                        int64_t ars, int64_t acs, const float *B, int64_t brs, float beta,
                        float *C, int64_t ldc, int64_t share, int64_t *runs);

/* output.c */
double sn_softmax_row(const float *u, float *z, int64_t n);
/* The output layer of B rows: U (B × n, Σ_t partials without b) += b, z = f(u) into U, the
 * loss (mean over B, in double) returned and δ_out · scale into Dl; targets D[row] with row
 * = rows[r] (or start + r); the correct count of labels (if not NULL) into *correct. */
double sn_output_layer(const sn_loops *K, int act, int loss, int64_t n, int64_t B, float *U,
                       float *Dl, const float *b, const float *D, int64_t ldd,
                       const int64_t *rows, int64_t start, const int64_t *labels, float scale,
                       int64_t *correct);

/* update.c: the step on a block of Wᵀ (rows × count from W, rows ld apart) from the layer's
 * inputs A (B × rows, lda) and its δ (B × count, ldd), G the gradient's block (unused for
 * OPT_SGD, whose step is made inside the product); m, v the optimiser state's blocks or NULL.
 * Returns PATH_OWN_GRADIENT where our gathered tiles made some of the gradient. */
int sn_update_weights(const sn_settings *S, const sn_loops *K, gemm_fn gemm, const sn_optim *k,
                       float *W, float *G, float *m, float *v, int64_t rows, int64_t count,
                       int64_t ld, const float *A, int64_t lda, const float *D, int64_t ldd,
                       int64_t B);
/* biases b[0..count) from δ (B rows of count, ldd apart): db = Σ_batch δ, then the step */
void sn_update_biases(const sn_loops *K, const sn_optim *k, float *b, float *db, float *m,
                      float *v, int64_t count, const float *D, int64_t ldd, int64_t B);

/* -- the chip's stochastic pulse update (pulses.c) -------------------------------------- */
/* one parameter of the devices: per device (step 1) or one value for all (step 0) */
typedef struct {
    const float *v;
    int64_t step;
} sn_param;

/* an array of devices (hardware/devices/base.py: DeviceArray) whose law has an affine train,
 * dw = a + b w per pulse, each coefficient as NumPy selects it per direction (0 up, 1 down) */
typedef struct {
    int64_t n_out, n_in;
    float *w;                 /* the states, n_out × n_in, C order */
    sn_param lo, hi;          /* the bounds */
    sn_param a[2], b[2];      /* the coefficients */
    sn_param sigma[2];        /* the train noise σ per pulse (v NULL: none) */
    const float *table_g, *table_c; /* shared curved coefficients: k pulses w g[mid ± k] + */
    int64_t table_mid;              /* c[mid ± k] (NULL: none) */
    int curved;               /* some b ≠ 0 (without a table): w (1 + b)^k + a s_k */
    int continuous;           /* a device hit counts as one pulse */
} sn_devices;

/* where the weights the devices hold are written after each train (W NULL: nowhere): W and
 * W2 (any strides) = γ (w − w_ref) or γ (w⁺ − w⁻); the crossbar's WnT (n_in × n_out) =
 * clip(W / weight_max, ±1), and its copy in ADC steps, scaled = WnT g (NULL: none) */
typedef struct {
    float *W, *W2, *WnT, *scaled;
    int64_t w2_row, w2_col;   /* W2's strides (elements) */
    float gamma, w_ref, inv_wmax, g;
} sn_mirror;

/* the longest train of pulses of the deterministic scheme, 2²⁴: beyond it a float32 count is
 * no longer a whole number (hardware/learning.py: MAX_TRAIN) */
#define SN_MAX_TRAIN 16777216.0f

/* the generator of the pulse trains and their noise (devices.h), in both units */
#define LANES 8
#define RNG_BUFFER 512
typedef struct sn_rng {
    uint64_t s[4][LANES];     /* xoshiro256++ lanes, word k of lane l at s[k][l] */
    uint64_t buf[RNG_BUFFER];
    int at;
    void (*refill)(struct sn_rng *g); /* buf from the lanes (the copy for the CPU) */
} sn_rng;

/* a lane's workspace: per slot the inputs and the deltas that fire in it; per device its
 * coincidences in this sample (all 0 between samples) and the devices hit */
typedef struct {
    int32_t *xslot, *dslot;     /* 64 × n_in, 64 × n_out */
    unsigned char *count;       /* n_out × n_in (shared by the lanes) */
    int32_t *hits;              /* the lane's devices */
    /* metered: per direction, batch of outputs and input the most pulses of one device this
     * sample (all 0 between samples), the cells set; the inputs written (likewise) */
    unsigned char *most, *written;
    int32_t *cells, *written_list;
    int64_t n_cells, n_written;
} sn_pulse_work;

/* one sample's trains as the update's first stage leaves them (pulses.h) */
typedef struct {
    int BL;           /* its slots (0: nothing fires) */
    int32_t nx, nd;   /* the inputs and the deltas that fire */
    int64_t capped;   /* its probabilities capped at 1 */
} sn_sample;

/* a lane of the update's second stage: the devices of a run of rows (or of columns) of the
 * array, their noise from its own generator, what it adds up */
typedef struct {
    sn_rng g;
    sn_pulse_work ws; /* its hits and slots; the coincidence counts shared (disjoint) */
    int64_t pulses, hits, refreshes;
} sn_lane;

#define PULSE_LANES 4  /* lanes at most */
#define PULSE_LANE 64  /* a lane's rows (or columns): a multiple of these, at least one */
#define PULSE_CHUNK 8  /* samples whose trains one generator draws */
#define PULSE_BATCH 256 /* samples whose trains are kept at a time (a multiple of the chunk) */
#define PULSE_THREADS 9

/* the tally of a metered update (hardware/learning.py: DeviceSynapses._metered), added to */
typedef struct {
    int64_t n_in, batches, batch_rows; /* outputs in batches of batch_rows (≤ 16 batches) */
    float lo, inv_span;                /* the law's w_min and 1 / (w_max − w_min) */
    int64_t pulses[2];                 /* up, down */
    double state[2];                   /* Σ k (fraction before + after) / 2 */
    int64_t steps[2];                  /* the write steps, up and down */
    int64_t rows_written;
} sn_pulse_meter;

/* the pair mapping (W = γ (w⁺ − w⁻), dev holding w⁺): the devices of w⁻, the state past
 * which a pair is refreshed, the nominal step up, the law's w_min, γ; refreshes added to */
typedef struct {
    const sn_devices *minus;
    float limit, step, w_min, gamma;
    int64_t refreshes;
} sn_pair;

enum { PATH_PULSES_AVX2 = 2 };

/* one call of the stochastic update as its stages and their tasks take it (pulses.c) */
typedef struct {
    const sn_devices *dev;
    const sn_mirror *mir;
    sn_pair *pair;
    sn_pulse_meter *meter;
    const float *Z, *D;
    int64_t ldz, ldd, B;
    int BL, adaptive, isa, stage;
    double C;
    uint64_t seed;
    const uint64_t *XM, *DM;
    int given;
    int64_t chunk0, capped;  /* the pass's first chunk of trains; probabilities capped */
    sn_sample *samples;      /* B (of a pass: at most PULSE_BATCH) */
    int32_t *xi, *di;        /* B × n_in, B × n_out: the ones that fire */
    uint64_t *xm, *dm;       /* their slots */
    int by_rows, lanes;      /* lanes of rows (else of columns), cut at cut[0 … lanes] */
    int64_t cut[PULSE_LANES + 1];
    sn_lane *lane[PULSE_LANES];
    sn_rng *scratch_rng[PULSE_THREADS]; /* each thread's, for stage 1 */
    int32_t *scratch_which[PULSE_THREADS];
} sn_pulse_call;

/* pool.c: fn(ctx, task, thread) for task = 0 … tasks − 1 on up to `threads` threads (this
 * one is thread 0), returning when all are done */
void sn_pool_run(int threads, int tasks, void (*fn)(void *ctx, int task, int thread),
                 void *ctx);

/* the seed of a call's k-th generator (its chunks of trains, its lanes) */
static inline uint64_t sn_stream_seed(uint64_t seed, uint64_t k) {
    uint64_t x = seed + 0x9E3779B97F4A7C15ull * (k + 1); /* SplitMix64 (Steele et al. 2014) */
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* One layer's stochastic update, a job of sn_pulse_updates: B samples' trains (Z: B × n_in,
 * D: B × n_out; C = C_x C_d; BL ≤ 64 slots, or with `adaptive` each sample's fewest that
 * its largest update needs, up to BL: aihwkit's update_bl_management, hardware/learning.py
 * adapt_pulse_length) on dev, from generators seeded by `seed`, or from the masks XM
 * (B × n_in), DM (B × n_out) when `given` (else the slots drawn written there if not NULL:
 * of the vector with more trains, only those in which the other fires are drawn); counts +=
 * pulses, capped, devices hit; the tally into `meter` if not NULL; `pair` (NULL: a reference
 * column) the pair mapping's; `work` (sn_pulse_work_size) and `trains`
 * (sn_pulse_trains_size) its workspace. The trains are drawn in chunks of PULSE_CHUNK
 * samples and the devices updated in lanes, each from a generator of its own: the same on
 * any number of threads. */
typedef struct {
    const sn_devices *dev;
    const sn_mirror *mir;
    const float *Z;
    int64_t ldz;
    const float *D;
    int64_t ldd, B;
    int BL, adaptive;
    double C;
    uint64_t seed;
    uint64_t *XM, *DM;
    int given;
    int64_t *counts;
    sn_pulse_meter *meter;
    sn_pair *pair;
    unsigned char *work, *trains;
} sn_pulse_args;

#define PULSE_JOBS 16
/* n jobs (at most PULSE_JOBS: the layers of a training step, each on devices of its own) on
 * up to `threads` threads; where none is metered and no batch is longer than PULSE_BATCH
 * their trains and then their lanes share the threads as one call's tasks, else one job
 * after the other. Returns the PATH_* bits taken, or −1 (a BL out of range, a meter of more
 * than 16 write batches, too many jobs): nothing done. */
int64_t sn_pulse_updates(const sn_pulse_args *jobs, int n, int threads, const sn_settings *S);
/* the bytes of `work` for n_out × n_in devices (given all 0, left so), and of `trains` for
 * a batch of B samples */
int64_t sn_pulse_work_size(int64_t n_out, int64_t n_in);
int64_t sn_pulse_trains_size(int64_t n_out, int64_t n_in, int64_t B);
/* chip.c: one layer of the analog chip as its training engine takes it (hardware/engine.py
 * fills it; its arrays are the chip's own, changed in place). A device parameter is an array
 * of n_out × n_in values (inc 1) or one value shared by all (inc 0). */
enum { CHIP_DAC_NONE = 0, CHIP_DAC_ONE_BIT = 1, CHIP_DAC_LEVELS = 2 };
/* the counters a layer adds to (substrate.LayerCounts, hardware/engine.py COUNTS) */
enum {
    CH_VECTORS, CH_MACS, CH_ARRAY_READS, CH_DAC, CH_ADC, CH_ENERGY, CH_DRIVE, CH_DRIVE_UNITS,
    CH_BACKWARD_MACS, CH_UPDATE_MACS, CH_WRITE_PULSES, CH_PULSES_UP, CH_PULSES_DOWN,
    CH_STATE_UP, CH_STATE_DOWN, CH_STEPS_UP, CH_STEPS_DOWN, CH_ROWS_WRITTEN, CH_REFRESHES,
    CH_COUNT
};
typedef struct {
    int64_t n_in, n_out;
    int act;
    float *b, *db;
    double *rowsum;           /* Σ_j |WnT[i, j]| per input (the read energy), or NULL */
    /* the devices, as the pulse update takes them: one against a reference (W = γ (w −
     * w_ref)), or a pair (W = γ (w⁺ − w⁻), LTP pulses only, dev[1] holding w⁻, refreshed
     * as pair says; pair.minus NULL: no pair) */
    sn_devices dev[2];
    sn_pair pair;
    /* where the weights are written: W (n_out × n_in, network units, read by the backward
     * pass) and scaled (n_in × n_out, the crossbar's normalised weights in ADC steps, read by
     * the forward); γ, w_ref, 1 / weight_max, ADC steps per code */
    sn_mirror mirror;
    int continuous;           /* pulse counts not rounded (an ideal, continuous device) */
    float s_up, s_dn, least;  /* one pulse up and down in network units; the least |ΔW| */
    int has_rate; float rate; /* this layer's factor on the learning rate */
    int bias_digital;
    /* the input stage, ADC and output scale (CrossbarArray.matvec, fixed input scaling) */
    int dac; float q, dac_gain, input_range, unit;
    int saturates, rounds; float bound, out_scale;
    int64_t rows;             /* inputs per row block of tiles */
    /* metering */
    int meter; float law_lo, law_inv_span; double g_min, g_span;
} sn_chip_layer;

/* -- the chip's Gaussian noise (noise.c) ------------------------------------------------ */
/* out[0..n) = N(0, σ²) draws by hardware/noise.py's Box–Muller transform of the 2⌈n/2⌉
 * 32-bit words `words` (random_raw's 64-bit words as NumPy views them), σ one per row of
 * n / rows values (sigma NULL: 1). Returns the ISA_* of the copy that ran. */
/* the pairs j0 … j1 − 1 of that transform alone (σ 1): out[j] and out[⌈n/2⌉ + j] of each */
void sn_normal_pairs(const uint32_t *words, float *out, int64_t n, int64_t j0, int64_t j1,
                     const sn_settings *S);
int sn_normal_from_words(const uint32_t *words, float *out, int64_t n, const float *sigma,
                         int64_t rows, const sn_settings *S);

/* -- the chip's analog read of a layer (chipread.c) ------------------------------------- */
/* CrossbarArray.matvec with per-vector input scaling: out (M × N, C order) from the inputs Z
 * (M × K, rows ldz apart); s (M) receives each row's input scale. */
typedef struct {
    int64_t M, K, N;
    const float *Z;
    int64_t ldz;
    float q;             /* DAC codes k ∈ [−q, q] (0: no DAC, x = z / s) */
    int64_t rows;        /* inputs per row block of tiles */
    const float *W;      /* K × N: the weights in ADC steps per input unit, rows ldw apart */
    int64_t ldw;
    const uint32_t *words; /* each block's noise words, M·N a block (NULL: noiseless) */
    float var0, var_per_x2; /* a read's σ² = var0 + var_per_x2 Σ x² over the block's inputs */
    int saturates, rounds;  /* the ADC: clip to ± bound, round to a step */
    float bound;
    const float *scale, *bias; /* per output: the step's weight units, the digital bias
                                * (NULL: none) */
    float *out, *ybuf, *s;  /* ybuf: (blocks − 1) × M × N of the later blocks' sums */
    int threads;            /* up to this many share the call (the same bits on any number) */
    gemm_fn gemm;           /* BLAS, for the products our product does not make (or NULL) */
} sn_chip_read_args;

/* 0; −1 where neither our product makes these products (N not a multiple of 16, the block
 * too large, no AVX-512) nor `gemm` does (given for a noisy read of weights with rows N
 * apart, no block of one input), −2 out of memory: nothing done */
int sn_chip_read(const sn_chip_read_args *a, const sn_settings *S);

/* -- the chip's mini-batch steps, stochastic update (chipsteps.c) ----------------------- */
/* a row-major CBLAS sgemv with 64-bit integers (NumPy's BLAS: what its matmul calls) */
typedef void (*sn_gemv_fn)(int order, int trans, int64_t m, int64_t n, float alpha,
                           const float *A, int64_t lda, const float *x, int64_t incx, float beta,
                           float *y, int64_t incy);
typedef float (*sn_dot_fn)(int64_t n, const float *x, int64_t incx, const float *y,
                           int64_t incy);
/* a NumPy ufunc's inner loop (numpy/ufuncobject.h: PyUFuncGenericFunction) */
typedef void (*sn_ufunc_loop)(char **args, const int64_t *n, const int64_t *steps, void *data);
/* one layer as the steps take it (hardware/minibatch.py fills it; arrays the chip's own) */
typedef struct {
    int64_t n_in, n_out;
    int act;                   /* ACT_*: the output layer's is its output activation's */
    float *b, *db;
    int bias_digital, has_rate;
    float rate;                /* this layer's factor on the learning rate */
    /* the forward read (its M, Z and words set each step; out U) and the backward one, of
     * the layers above the first (Z = Zt, W = Wt, out G) */
    sn_chip_read_args fwd, bwd;
    int64_t fwd_blocks, bwd_blocks;
    int fwd_noisy, bwd_noisy;
    const float *WnT, *w_scale; /* the crossbar's normalised weights; w_scale per output */
    float g_t;                  /* ADC steps of a transposed read's code */
    float *Wt, *Zt, *G;         /* n_out × n_in, B × n_out, B × n_in */
    sn_pulse_args pulse;        /* the update (its Z, D, B and seed set each step) */
    float *U, *Dk, *Dr;         /* B × n_out: u then z; δ; δ · rate */
    sn_ufunc_loop tanh_loop;    /* NumPy's float32 tanh (sigmoid and tanh layers) */
    void *tanh_data;
    /* the output layer: its z, loss and δ as NumPy makes them (numpy_out; a softmax by
     * NumPy's exp, the row sums by its BLAS's sgemv, or sdot for one row, as its matmul
     * takes them), else sn_output_layer's */
    int numpy_out;
    sn_ufunc_loop exp_loop;
    void *exp_data;
    sn_gemv_fn gemv;
    sn_dot_fn dot;
    float *ones, *sums;         /* n_out ones; B row sums */
} sn_batch_layer;

/* a NumPy bit generator as its ctypes interface gives it (numpy/random/bitgen.h: bitgen_t);
 * next_raw gives the words of its random_raw */
typedef struct {
    void *state;
    uint64_t (*next_uint64)(void *st);
    uint32_t (*next_uint32)(void *st);
    double (*next_double)(void *st);
    uint64_t (*next_raw)(void *st);
} sn_bitgen;

/* n consecutive steps of B[s] rows each, rows idx[off[s] …] of X and D (idx NULL: rows
 * off[s] …), η / B[s] in scale[s]; each step's words drawn as the layer-by-layer steps draw
 * them: its forward reads' noise from fgen (into fw), its backward reads' noise and its
 * layers' pulse seeds, top layer first, from cgen (into cw). E, correct: per step. Returns
 * the steps that ended well, *status 1 (all did), 2 (the next one's loss is not finite: not
 * made) or 5 (the next one was made and its δ is not finite); −1 (bad arguments), −2 (out of
 * memory), −3 (a read refused) with nothing more made. Xb: a batch's gathered rows. */
int64_t sn_batch_steps(sn_batch_layer *L, int nl, int loss, const float *X, int64_t ldx,
                       const float *D, int64_t ldd, const int64_t *labels, const int64_t *idx,
                       const int64_t *off, const int64_t *Bs, const float *scale, int64_t n,
                       sn_bitgen *fgen, sn_bitgen *cgen, uint64_t *fw, uint64_t *cw, float *Xb,
                       double *E, int64_t *correct, int *status, int threads,
                       const sn_settings *S);

#endif
