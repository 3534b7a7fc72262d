/* The chip's mini-batch training steps with the stochastic pulse update, several in one call
 * (hardware/minibatch.py binds them). A step is what Network.train_step makes on the Analog
 * substrate, in its order: each layer's forward read (sn_chip_read, the bias and f after it),
 * the output layer's loss and δ, then from the top layer down its backward
 * read (δ w_scale through the transposed weights in ADC steps, sn_chip_read again), its
 * digital bias step and the hidden δ = G f'(u); then every layer's pulse update in one call
 * (sn_pulse_updates). The noise words and the pulse seeds come from the generators the
 * layer-by-layer steps draw them from, in their order (through the bit generators' own
 * next_raw); the reads and the updates are the very kernels those steps call. What is C here
 * is only the glue the interpreter made before: gathering a batch, the activations, the
 * output layer's δ, the bias steps. */
#include <math.h>
#include <string.h>

#include "sn.h"

/* hidden δ = g f'(u) from z in NumPy's order of operations (activations.py: sigmoid g·z
 * then ·(1 − z); tanh g·(1 − z²); relu g·[z > 0]) */
static void hidden_delta(float *d, const float *g, const float *restrict z, int64_t n,
                         int act) { /* (d may be g) */
    switch (act) {
    case ACT_SIGMOID:
        for (int64_t t = 0; t < n; t++) { const float x = g[t] * z[t]; d[t] = x * (1.f - z[t]); }
        break;
    case ACT_TANH:
        for (int64_t t = 0; t < n; t++) d[t] = g[t] * (1.f - z[t] * z[t]);
        break;
    case ACT_RELU:
        for (int64_t t = 0; t < n; t++) d[t] = g[t] * (float)(z[t] > 0.f);
        break;
    default:
        if (d != g) memcpy(d, g, (size_t)n * sizeof(float));
    }
}

/* u += b, rows of n: the bias as the read would add it, last */
static void add_bias(const sn_batch_layer *c, float *U, int64_t M, int64_t n) {
    for (int64_t r = 0; r < M; r++) {
        float *u = U + r * n;
        for (int64_t j = 0; j < n; j++) u[j] = u[j] + c->b[j];
    }
}

/* z = f(u) in place in NumPy's operations (activations.py; sigmoid: tanh(u · ½) · ½ + ½)
 * with NumPy's own tanh loop */
static void activate(const sn_batch_layer *c, float *U, int64_t size) {
    if (c->act == ACT_SIGMOID)
        for (int64_t t = 0; t < size; t++) U[t] = U[t] * 0.5f;
    if (c->act == ACT_SIGMOID || c->act == ACT_TANH) {
        char *args[2] = {(char *)U, (char *)U};
        const int64_t steps[2] = {4, 4};
        c->tanh_loop(args, &size, steps, c->tanh_data);
    }
    if (c->act == ACT_SIGMOID)
        for (int64_t t = 0; t < size; t++) U[t] = U[t] * 0.5f + 0.5f;
    if (c->act == ACT_RELU) /* max(u, 0), a NaN kept */
        for (int64_t t = 0; t < size; t++) U[t] = U[t] < 0.f ? 0.f : U[t];
}

/* the layer's bias step: db = Σ_batch d row after row (NumPy's add.reduce over axis 0 of
 * rows of two values or more: one value a row it sums pairwise, but a layer of one output
 * never reaches here, its read not one call), b ← b − db when the bias is digital */
static void bias_step(const sn_batch_layer *c, const float *d, int64_t M) {
    const int64_t n = c->n_out;
    memcpy(c->db, d, (size_t)n * sizeof(float));
    for (int64_t r = 1; r < M; r++)
        for (int64_t j = 0; j < n; j++) c->db[j] = c->db[j] + d[r * n + j];
    if (c->bias_digital)
        for (int64_t j = 0; j < n; j++) c->b[j] = c->b[j] - c->db[j];
}

/* the output layer's z, loss and δ_out · scale with NumPy's operations, so the same bits:
 * z = f(u + b) (activations.py; a softmax e^(u − max) / Σ by NumPy's exp and the BLAS call
 * of its matmul for the sums); δ = z − d for the matched pairs (softmax and cross-entropy,
 * sigmoid and binary cross-entropy), else (z − d) f'(u) (losses.py). The loss (mean over M,
 * in double, its stable forms from u) and the correct labels into *right. */
static double output_layer(const sn_batch_layer *c, int loss, int64_t M, const float *D,
                           int64_t ldd, const int64_t *rows, int64_t start,
                           const int64_t *labels, float scale, int64_t *right) {
    const int64_t n = c->n_out, size = M * n;
    float *U = c->U, *dl = c->Dk;
    add_bias(c, U, M, n);
    double E = 0.0;
    if (c->act == ACT_SOFTMAX) {
        for (int64_t r = 0; r < M; r++) {
            float *u = U + r * n, mx = u[0];
            for (int64_t k = 1; k < n; k++)
                if (u[k] > mx || u[k] != u[k]) mx = u[k]; /* (a NaN kept, as NumPy's max) */
            for (int64_t k = 0; k < n; k++) u[k] = u[k] - mx;
        }
        char *args[2] = {(char *)U, (char *)dl};
        const int64_t steps[2] = {4, 4};
        c->exp_loop(args, &size, steps, c->exp_data); /* e^(u − max) into dl */
        if (M == 1) /* (NumPy's matmul of one row is a dot product) */
            c->sums[0] = c->dot(n, dl, 1, c->ones, 1);
        else
            c->gemv(ROW_MAJOR, NO_TRANS, M, n, 1.f, dl, n, c->ones, 1, 0.f, c->sums, 1);
        for (int64_t r = 0; r < M; r++) { /* −Σ d ln z = Σ d (ln Σ − (u − max)) */
            const float *d = D + (rows ? rows[r] : start + r) * ldd, *u = U + r * n;
            const double lse = log((double)c->sums[r]);
            float *z = dl + r * n;
            for (int64_t k = 0; k < n; k++) {
                z[k] = z[k] / c->sums[r];
                if (d[k] != 0.f) E += (double)d[k] * (lse - (double)u[k]);
            }
        }
        memcpy(U, dl, (size_t)size * sizeof(float));
    } else {
        if (loss == LOSS_BINARY_CROSS_ENTROPY) /* −[d ln σ(u) + (1 − d) ln(1 − σ(u))] */
            for (int64_t r = 0; r < M; r++) {
                const float *d = D + (rows ? rows[r] : start + r) * ldd, *u = U + r * n;
                for (int64_t k = 0; k < n; k++) {
                    const double x = u[k];
                    const double sp = x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
                    E += d[k] * sp + (1.0 - d[k]) * (sp + x);
                }
            }
        activate(c, U, size);
    }
    int64_t good = 0;
    for (int64_t r = 0; r < M; r++) {
        const int64_t row = rows ? rows[r] : start + r;
        const float *d = D + row * ldd, *z = U + r * n;
        float *dr = dl + r * n;
        for (int64_t k = 0; k < n; k++) dr[k] = z[k] - d[k];
        if (loss == LOSS_SQUARED) {
            for (int64_t k = 0; k < n; k++) E += 0.5 * (double)dr[k] * dr[k];
            hidden_delta(dr, dr, z, n, c->act); /* (z − d) f'(u) */
        }
        for (int64_t k = 0; k < n; k++) dr[k] = dr[k] * scale;
        int64_t cls = 0;
        if (n == 1)
            cls = z[0] >= (c->act == ACT_TANH ? 0.f : 0.5f); /* (low + high) / 2 */
        else
            for (int64_t k = 1; k < n; k++) cls = z[k] > z[cls] ? k : cls;
        if (labels) good += cls == labels[row];
    }
    *right = good;
    return E / (double)M;
}

/* the 64-bit noise words of a read of M rows (its blocks of M · N values, two to a word;
 * M · N is even: hardware/minibatch.py sees to it) */
static int64_t read_words(const sn_chip_read_args *a, int noisy, int64_t blocks, int64_t M) {
    return noisy ? blocks * (M * a->N / 2) : 0;
}

/* n words of a generator, as its random_raw(n) gives them */
static void draw(sn_bitgen *g, uint64_t *out, int64_t n) {
    for (int64_t t = 0; t < n; t++) out[t] = g->next_raw(g->state);
}

int64_t sn_batch_steps(sn_batch_layer *L, int nl, int loss, const float *X, int64_t ldx,
                       const float *D, int64_t ldd, const int64_t *labels, const int64_t *idx,
                       const int64_t *off, const int64_t *Bs, const float *scale, int64_t n,
                       sn_bitgen *fgen, sn_bitgen *cgen, uint64_t *fw_buf, uint64_t *cw_buf,
                       float *Xb, double *E, int64_t *correct, int *status, int threads,
                       const sn_settings *S) {
    const sn_loops *K = sn_loops_for(S);
    const int last = nl - 1;
    if (nl < 1 || nl > PULSE_JOBS) return -1;
    for (int64_t s = 0; s < n; s++) {
        const int64_t M = Bs[s];
        /* the step's words: its forward reads' from the fit's generator; its backward
         * reads' and pulse seeds', top layer first, from the chip's (each read draws its
         * blocks' at once, each update its seed where it is asked for) */
        int64_t nf = 0, nc = nl;
        for (int k = 0; k < nl; k++) {
            nf += read_words(&L[k].fwd, L[k].fwd_noisy, L[k].fwd_blocks, M);
            if (k) nc += read_words(&L[k].bwd, L[k].bwd_noisy, L[k].bwd_blocks, M);
        }
        draw(fgen, fw_buf, nf);
        const uint64_t *fw = fw_buf, *cw = cw_buf;
        const int64_t *rows = idx ? idx + off[s] : NULL;
        const int64_t start = idx ? 0 : off[s];
        /* the batch: rows of X gathered (np.take's copy) or read in place */
        const float *Z = X + start * ldx;
        int64_t ldz = ldx;
        if (rows) {
            for (int64_t r = 0; r < M; r++)
                memcpy(Xb + r * ldx, X + rows[r] * ldx, (size_t)ldx * sizeof(float));
            Z = Xb;
        }
        for (int k = 0; k < nl; k++) {
            sn_batch_layer *c = &L[k];
            sn_chip_read_args a = c->fwd;
            a.M = M;
            a.Z = k ? L[k - 1].U : Z;
            a.ldz = k ? L[k - 1].n_out : ldz;
            a.words = c->fwd_noisy ? (const uint32_t *)fw : NULL;
            fw += read_words(&a, c->fwd_noisy, c->fwd_blocks, M);
            a.threads = threads;
            int rc = sn_chip_read(&a, S);
            if (rc) return rc == -2 ? -2 : -3;
            if (k < last) {
                add_bias(c, c->U, M, c->n_out);
                activate(c, c->U, M * c->n_out);
            }
        }
        sn_batch_layer *top = &L[last];
        int64_t right = 0;
        /* z = f(u + b), E and δ_out · η / B (both add the bias themselves) */
        if (top->numpy_out)
            E[s] = output_layer(top, loss, M, D, ldd, rows, start, labels, scale[s], &right);
        else
            E[s] = sn_output_layer(K, top->act, loss, top->n_out, M, top->U, top->Dk, top->b,
                                   D, ldd, rows, start, labels, scale[s], &right);
        correct[s] = right;
        if (!isfinite(E[s])) { *status = 2; return s; } /* (before the chip's draws) */
        draw(cgen, cw_buf, nc);
        sn_pulse_args jobs[PULSE_JOBS];
        for (int k = last; k >= 0; k--) {
            sn_batch_layer *c = &L[k];
            const float *d = c->Dk;
            if (k > 0) { /* the backward read, from the weights before this step's pulses */
                sn_chip_read_args a = c->bwd;
                const int64_t no = c->n_out, ni = c->n_in;
                for (int64_t r = 0; r < M; r++) /* δ_j w_scale_j: its inputs */
                    for (int64_t j = 0; j < no; j++)
                        c->Zt[r * no + j] = d[r * no + j] * c->w_scale[j];
                for (int64_t j = 0; j < no; j++) /* Wnᵀ as the update left it, in ADC steps */
                    for (int64_t i = 0; i < ni; i++)
                        c->Wt[j * ni + i] = c->WnT[i * no + j] * c->g_t;
                a.M = M;
                a.words = c->bwd_noisy ? (const uint32_t *)cw : NULL;
                cw += read_words(&a, c->bwd_noisy, c->bwd_blocks, M);
                a.threads = threads;
                int rc = sn_chip_read(&a, S);
                if (rc) return rc == -2 ? -2 : -3;
            }
            if (c->has_rate) { /* this layer's own rate: δ · rate for its update alone */
                for (int64_t t = 0; t < M * c->n_out; t++) c->Dr[t] = d[t] * c->rate;
                d = c->Dr;
            }
            bias_step(c, d, M);
            sn_pulse_args *j = &jobs[last - k];
            *j = c->pulse;
            j->Z = k ? L[k - 1].U : Z;
            j->ldz = k ? L[k - 1].n_out : ldz;
            j->D = d;
            j->B = M;
            j->seed = *cw++;
            if (k > 0) hidden_delta(L[k - 1].Dk, c->G, L[k - 1].U, M * c->n_in, L[k - 1].act);
        }
        if (sn_pulse_updates(jobs, nl, threads, S) < 0) return -1;
        /* a non-finite δ reaches the first layer's bias gradient: the layer-by-layer loop
         * stops there, after the step (its test: Σ db finite in float32) */
        double sum = 0.0;
        for (int64_t j = 0; j < L[0].n_out; j++) sum += L[0].db[j];
        if (!isfinite((float)sum)) { *status = 5; return s; }
    }
    *status = 1;
    return n;
}
