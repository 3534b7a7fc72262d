/* The training step of a multi-layer perceptron on every core, each core with its own synapses.
 *
 * Why: on a machine with few cores the NumPy loop spends a large part of a step moving
 * synaptic weights between the cores' caches, because BLAS splits the forward product by
 * neurons and the weight update by inputs, and every element-wise pass runs on the Python
 * thread. Here each of T threads owns a fixed set of neurons for the whole step — their
 * weights, biases, optimiser state and activations stay in that core's cache — and only
 * activations cross between cores:
 *
 *   hidden layer l     thread t owns neurons [a_t, b_t): U[:, own] = Z_prev W[own, :]ᵀ, its
 *                      bias, f, δ, the update of W[own, :], and its share of the δ W product
 *                      handed down (partial sums, added by the thread that owns the column);
 *   output layer       thread t owns *inputs* [a_t, b_t) (the neurons it owns below): partial
 *                      products Z_prev[:, own] W[:, own]ᵀ are added by every thread, which then
 *                      computes the (small) output layer, loss and δ_out redundantly.
 *
 * Products are BLAS calls (single-threaded, passed in by the caller) or our own forward
 * product (sn_forward_product decides); the element-wise passes are the loops the settings
 * pick (sn_loops_for). No Python API is used: _engine.py calls these functions with ctypes,
 * which releases the GIL.
 */
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, posix_memalign */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sn.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

typedef struct { _Atomic long v; char pad[ALIGN - sizeof(long)]; } padded_counter;

typedef struct {
    /* what to do: set by sn_bind and sn_step before the threads start */
    const float *X; int64_t ldx;          /* all samples, rows ldx apart */
    const int64_t *idx; int64_t start;    /* this batch's rows: idx[r], or start + r */
    int64_t B;                            /* batch size */
    const float *D; int64_t ldd;          /* targets, one row per sample */
    const int64_t *labels;                /* class of each sample (for the accuracy), or NULL */
    float scale;                          /* δ_out multiplier: η/B (OPT_SGD), else 1/B */
    sn_optim k;                            /* the optimiser's constants */
    float rate[MAX_LAYERS];               /* a factor on each layer's update (plain SGD) */
    int fixed_bias;                       /* the biases' gradients computed, not applied */
    /* results */
    double E; int64_t correct; int finite, bad_input;
} job_t;

typedef struct sn_engine {
    int L, T, loss;
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
    const sn_loops *K;
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

/* δ's columns [a, c) of B rows (ld apart) times layer l's factor on its update, in place:
 * after δ's product for the layer below, before the update (Software.update's order) */
static void scale_delta(engine *e, int l, float *D, int64_t ld, int64_t a, int64_t c) {
    const float r = e->job.rate[l];
    if (r == 1.f) return;
    for (int64_t i = 0; i < e->job.B; i++)
        for (int64_t j = a; j < c; j++) D[i * ld + j] *= r;
}

/* p + offset, or NULL for a state array that is not there */
static float *at(float *p, int64_t offset) { return p ? p + offset : NULL; }

/* the step on rows × count values of layer l's Wᵀ from offset `off` (see sn_update_weights) */
static void update_weights(engine *e, int l, int64_t off, int64_t rows, int64_t count,
                           const float *A, int64_t lda, const float *D, int64_t ldd) {
    const int took = sn_update_weights(&e->S, e->K, e->gemm, &e->job.k, e->WT[l] + off,
                                       at(e->dWT[l], off), at(e->mW[l], off),
                                       at(e->vW[l], off), rows, count, e->ldw[l], A, lda, D,
                                       ldd, e->job.B);
    if (took) atomic_fetch_or_explicit(&e->paths, took, memory_order_relaxed);
}

/* The biases [a, c) of layer l from δ's columns [a, c); the first layer's bias gradient must
 * be finite, or the caller undoes the epoch. */
static void update_biases(engine *e, int t, int l, const float *D, int64_t ldd, int64_t a,
                          int64_t c) {
    if (e->job.fixed_bias)  /* ∂E/∂b = Σ_batch δ, the biases left as they are */
        e->K->col_sums(D + a, e->job.B, ldd, 0, c - a, e->db[l] + a);
    else
        sn_update_biases(e->K, &e->job.k, e->b[l] + a, e->db[l] + a, at(e->mb[l], a),
                         at(e->vb[l], a), c - a, D + a, ldd, e->job.B);
    if (l == 0) {
        float acc = 0.f;
        for (int64_t i = a; i < c; i++) acc += e->db[0][i];
        if (!isfinite(acc)) e->bad[t].v = 1;
    }
}

static void work(engine *e, int t) {
    job_t *j = &e->job;
    const sn_loops *K = e->K;
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
        clean &= K->copy_finite(Xt + r * n0, j->X + row * j->ldx, n0);
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
            /* u = W z_prev, and z = f(u + b) where the product did not store it already */
            if (!sn_forward_product(&e->S, e->gemm, B, c - a, ni, Zp, ldp, e->WT[l] + a, lw,
                                    e->Z[l + 1] + a, lz, e->b[l] + a, act, &paths))
                K->bias_act(e->Z[l + 1], B, lz, a, c, e->b[l], act);
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
    for (int s = 1; s < T; s++) K->add_into(U, e->P[s], B * no);
    int64_t correct = 0;
    const double E = sn_output_layer(K, e->act[lo], e->loss, no, B, U, Do, e->bo[t], j->D,
                                     j->ldd, j->idx, j->start, t == 0 ? j->labels : NULL,
                                     j->scale, &correct);
    if (t == 0) { j->E = E; j->correct = correct; }
    if (!isfinite(E)) {  /* every thread computed the same E: all stop before any update */
        if (t == 0) j->finite = 0;
        return;
    }
    /* output layer backward: hand δ W down for this thread's inputs (old weights), update */
    if (lo > 0 && c > a) {
        e->gemm(ROW_MAJOR, NO_TRANS, TRANS, B, c - a, no, 1.f, Do, no, e->WT[lo] + a * lw,
                lw, 0.f, e->Dl[lo] + a, ldp);  /* ∂E/∂z_i = Σ_k δ_k w_ki */
        K->times_derivative(e->Dl[lo], e->Z[lo], B, ldp, a, c, e->act[lo - 1]);  /* δ_j */
    }
    scale_delta(e, lo, Do, no, 0, no);  /* each thread its own copy of δ_out */
    if (c > a) update_weights(e, lo, a * lw, c - a, no, Zp + a, ldp, Do, no);
    if (t == 0) update_biases(e, t, lo, Do, no, 0, no);
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
            scale_delta(e, l, Dh, lzo, ha, hc);  /* this thread's columns of δ */
            update_weights(e, l, ha, hi, hc - ha, Zin, lzi, Dh + ha, lzo);
            update_biases(e, t, l, Dh, lzo, ha, hc);
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
                    K->add_into(Dn + r * lzi + ga, e->Q[l & 1][q] + r * lzi + ga, gc - ga);
            }
            K->times_derivative(Dn, e->Z[l], B, lzi, ga, gc, e->act[l - 1]);
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
 * (Adam: m', v'; momentum: velocity in mW, mb), or NULL; T threads; batches of up to
 * max_batch rows; BLAS's sgemm; the settings (copied). */
engine *sn_create(int L, const int64_t *sizes, const int64_t *ldw, float **WT, float **b,
                  float **db, const int *act, int loss, int opt, float **mW, float **vW,
                  float **mb, float **vb, int T, int64_t max_batch, void *gemm,
                  const sn_settings *S) {
    if (L < 1 || L > MAX_LAYERS || T < 1 || T > MAX_THREADS || max_batch < 1 || !gemm || !S)
        return NULL;
    engine *e = calloc(1, sizeof(engine));
    if (!e) return NULL;
    e->L = L; e->T = T; e->loss = loss; e->job.k.opt = opt; e->max_batch = max_batch;
    e->gemm = (gemm_fn)gemm;
    e->S = *S;
    e->K = sn_loops_for(S);
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

/* the name of the loops this engine runs ("avx512", "avx2", "portable") */
const char *sn_loops_name(engine *e) { return e->K->name; }

/* The training data and fixed settings of this fit: samples X (rows ldx apart), targets D
 * (rows ldd apart), class labels or NULL; Adam's β1, β2; momentum μ and Nesterov; L2 decay λ;
 * weight bound (0: none); a factor per layer on its update (plain SGD; NULL: 1) and whether
 * the biases stay as they are. */
void sn_bind(engine *e, const float *X, int64_t ldx, const float *D, int64_t ldd,
             const int64_t *labels, float beta1, float beta2, float momentum, int nesterov,
             float decay, float bound, const float *rates, int fixed_bias) {
    job_t *j = &e->job;
    for (int l = 0; l < e->L; l++) j->rate[l] = rates ? rates[l] : 1.f;
    j->fixed_bias = fixed_bias;
    j->X = X; j->ldx = ldx; j->D = D; j->ldd = ldd; j->labels = labels;
    j->k.beta1 = beta1; j->k.beta2 = beta2; j->k.momentum = momentum; j->k.nesterov = nesterov;
    j->k.decay = decay; j->k.bound = bound;
}

/* One step on rows idx[0..B) of the bound data (or start…start+B when idx is NULL), with δ_out
 * scaled by `scale` (η/B for plain gradient descent, else 1/B), and the optimiser's `step`
 * (Adam's folded step size, or η for momentum) and Adam's folded ε.
 * Returns 1 after an update; 0 if the loss was not finite (nothing changed); 2 if the update
 * was made but the first layer's δ was not finite; 3 if an input of the batch was NaN or
 * infinite (nothing changed); -1 for a batch larger than the buffers. */
int sn_step(engine *e, const int64_t *idx, int64_t start, int64_t B, float scale, float step,
            float eps, double *E, int64_t *correct) {
    if (B < 1 || B > e->max_batch) return -1;
    job_t *j = &e->job;
    j->idx = idx; j->start = start; j->B = B; j->scale = scale;
    j->k.step = step; j->k.eps = eps;
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
