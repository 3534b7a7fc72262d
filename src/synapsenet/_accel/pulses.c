/* The chip's stochastic pulse update (aihwkit's StochasticCompressed; Gokmen & Vlasov, Front.
 * Neurosci. 10:333, 2016) of one layer for a whole batch, in one call: per sample in order,
 * the slots each input and each delta fires in, the coincidences of the two by popcount over
 * only those that fire, and each coincidence count as a train of pulses on its device (the
 * law's affine closed form, its train noise, its bounds: devices.h, as the chip's batch-1
 * engine has them), the weights that the devices now hold written where the chip reads them.
 * The maths is hardware/learning.py's
 * (DeviceSynapses._fire, _coincide, _apply_at) and devices/base.py's (DeviceArray.pulses_at);
 * tests/test_pulses.py holds the two against each other. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sn.h"

/* binomial_step[n][k] = (n − k) / (k + 1): P(K = k + 1) / P(K = k) of Binomial(n, p), over
 * the odds p / (1 − p) */
static double binomial_step[65][65];

__attribute__((constructor)) static void binomial_tables(void) {
    for (int n = 0; n <= 64; n++)
        for (int k = 0; k <= 64; k++) binomial_step[n][k] = (double)(n - k) / (double)(k + 1);
}

/* nonzero_lanes[m]: the lanes (0 … 7) whose bit is set in m, ascending, then 0s */
static int32_t nonzero_lanes[256][8];

__attribute__((constructor)) static void lane_tables(void) {
    for (int m = 0; m < 256; m++)
        for (int l = 0, k = 0; l < 8; l++)
            if (m >> l & 1) nonzero_lanes[m][k++] = l;
}

/* the bits of a vector of 32 comparisons (0 or all ones a byte): one bit a byte */
static inline uint32_t bytes_mask_portable(const unsigned char *b) {
    uint32_t m = 0;
    for (int k = 0; k < 32; k++) m |= (uint32_t)(b[k] >> 7) << k;
    return m;
}

#define NAME(f) f##_portable
#define TARGET
#include "devices.h"
#define BYTES_MASK(v) bytes_mask_portable((const unsigned char *)&(v))
#include "pulses.h"
#undef NAME
#undef TARGET
#undef BYTES_MASK

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NAME(f) f##_avx2
#define TARGET __attribute__((target("avx2,popcnt")))
#include "devices.h"
#define BYTES_MASK(v) ((uint32_t)_mm256_movemask_epi8((__m256i)(v)))
#define PULSES_AVX2 1
#include "pulses.h"
#undef PULSES_AVX2
#undef NAME
#undef TARGET
#undef BYTES_MASK
#define HAVE_AVX2_COPY 1
#endif

/* The lanes of n_out × n_in devices: runs of PULSE_LANE rows, or of columns where the
 * array has fewer rows than that, at most PULSE_LANES of them; returns how many, the cuts
 * into cut[0 … lanes] and the most devices one holds into *most. */
static int lanes_of(int64_t n_out, int64_t n_in, int *by_rows, int64_t *cut, int64_t *most) {
    *by_rows = n_out >= PULSE_LANE;
    const int64_t n = *by_rows ? n_out : n_in;
    int64_t lanes = n / PULSE_LANE;
    lanes = lanes < 1 ? 1 : lanes > PULSE_LANES ? PULSE_LANES : lanes;
    const int64_t per = ((n + lanes - 1) / lanes + PULSE_LANE - 1) / PULSE_LANE * PULSE_LANE;
    lanes = (n + per - 1) / per;
    for (int64_t L = 0; L <= lanes; L++) cut[L] = L * per < n ? L * per : n;
    *most = per * (*by_rows ? n_in : n_out);
    return (int)lanes;
}

static unsigned char *carve(unsigned char **at, int64_t bytes) {
    unsigned char *p = *at;
    *at += (bytes + ALIGN - 1) / ALIGN * ALIGN;
    return p;
}

static int64_t aligned(int64_t bytes) { return (bytes + ALIGN - 1) / ALIGN * ALIGN; }

/* the bytes of the workspace a job of sn_pulse_updates needs for n_out × n_in devices */
int64_t sn_pulse_work_size(int64_t n_out, int64_t n_in) {
    int by_rows;
    int64_t cut[PULSE_LANES + 1], most;
    const int lanes = lanes_of(n_out, n_in, &by_rows, cut, &most);
    const int64_t cells = 2 * 16 * n_in; /* the meter's, at most 16 write batches */
    return ALIGN + aligned(n_out * n_in) +
           lanes * (aligned(sizeof(sn_lane)) + aligned(4 * most) +
                    aligned(4 * 64 * (n_in + n_out))) +
           PULSE_THREADS * (aligned(sizeof(sn_rng)) + aligned(4 * (n_in + n_out))) +
           aligned(cells) +
           aligned(4 * cells) + aligned(n_in) + aligned(4 * n_in);
}

/* the bytes of the trains of a batch of B samples */
int64_t sn_pulse_trains_size(int64_t n_out, int64_t n_in, int64_t B) {
    B = B < PULSE_BATCH ? B : PULSE_BATCH; /* (a pass's) */
    return ALIGN + aligned(B * (int64_t)sizeof(sn_sample)) + 2 * aligned(4 * B * (n_in + n_out)) +
           2 * aligned(8 * B * (n_in + n_out));
}

/* a job's call: its workspace carved from the job's `work` and `trains` */
static void prepare(sn_pulse_call *u, const sn_pulse_args *a, const sn_settings *S) {
    const sn_devices *dev = a->dev;
    const int64_t n_in = dev->n_in, n_out = dev->n_out, B = a->B;
    *u = (sn_pulse_call){dev, a->mir, a->pair, a->meter, a->Z, a->D, a->ldz, a->ldd, B,
                         a->BL, a->adaptive, S->isa, 0, a->C, a->seed, a->XM, a->DM, a->given};
    int64_t most;
    u->lanes = lanes_of(n_out, n_in, &u->by_rows, u->cut, &most);
    /* the workspace, carved from `work` (the caller's, its counts region all 0) */
    unsigned char *at = a->work + (ALIGN - (uintptr_t)a->work % ALIGN) % ALIGN;
    unsigned char *count = carve(&at, n_out * n_in);
    for (int L = 0; L < u->lanes; L++) {
        sn_lane *ln = u->lane[L] = (sn_lane *)carve(&at, sizeof(sn_lane));
        ln->ws.count = count;
        ln->ws.hits = (int32_t *)carve(&at, 4 * most);
        ln->ws.xslot = (int32_t *)carve(&at, 4 * 64 * (n_in + n_out));
        ln->ws.dslot = ln->ws.xslot + 64 * n_in;
        ln->ws.most = ln->ws.written = NULL;
        ln->ws.cells = ln->ws.written_list = NULL;
        ln->ws.n_cells = ln->ws.n_written = 0;
        ln->pulses = ln->hits = ln->refreshes = 0;
    }
    for (int t = 0; t < PULSE_THREADS; t++) {
        u->scratch_rng[t] = (sn_rng *)carve(&at, sizeof(sn_rng));
        u->scratch_which[t] = (int32_t *)carve(&at, 4 * (n_in + n_out));
    }
    if (a->meter) { /* lane 0's workspace keeps the meter's sample by sample */
        sn_pulse_work *ws = &u->lane[0]->ws;
        const int64_t cells = 2 * a->meter->batches * n_in;
        ws->most = carve(&at, cells);
        ws->cells = (int32_t *)carve(&at, 4 * cells);
        ws->written = carve(&at, n_in);
        ws->written_list = (int32_t *)carve(&at, 4 * n_in);
    }
    unsigned char *tr = a->trains + (ALIGN - (uintptr_t)a->trains % ALIGN) % ALIGN;
    const int64_t kept = B < PULSE_BATCH ? B : PULSE_BATCH;
    u->samples = (sn_sample *)carve(&tr, kept * (int64_t)sizeof(sn_sample));
    u->xi = (int32_t *)carve(&tr, 4 * kept * (n_in + n_out));
    u->di = u->xi + kept * n_in;
    u->xm = (uint64_t *)carve(&tr, 8 * kept * (n_in + n_out));
    u->dm = u->xm + kept * n_in;
}

/* what a job's call adds to its counts (pulses, capped, devices hit) and its pair's */
static void finish(const sn_pulse_call *u, const sn_pulse_args *a) {
    a->counts[1] += u->capped;
    for (int L = 0; L < u->lanes; L++) {
        a->counts[0] += u->lane[L]->pulses;
        a->counts[2] += u->lane[L]->hits;
        if (a->pair) a->pair->refreshes += u->lane[L]->refreshes;
    }
}

int64_t sn_pulse_updates(const sn_pulse_args *jobs, int n, int threads, const sn_settings *S) {
    if (n < 0 || n > PULSE_JOBS) return -1;
    int together = n > 1;
    for (int j = 0; j < n; j++) {
        if (jobs[j].BL < 1 || jobs[j].BL > 64) return -1;
        if (jobs[j].meter && jobs[j].meter->batches > 16) return -1;
        together &= !jobs[j].meter && jobs[j].B <= PULSE_BATCH;
    }
    sn_pulse_call calls[PULSE_JOBS], *u[PULSE_JOBS];
    for (int j = 0; j < n; j++) prepare(u[j] = &calls[j], &jobs[j], S);
    threads = threads < 1 ? 1 : threads > PULSE_THREADS ? PULSE_THREADS : threads;
    int64_t paths = 0;
#ifdef HAVE_AVX2_COPY
    if (sn_cpu_isa() >= ISA_AVX2 && S->isa >= ISA_AVX2) {
        if (together) update_many_avx2(u, n, threads);
        else for (int j = 0; j < n; j++) update_avx2(u[j], threads);
        paths = PATH_PULSES_AVX2;
    } else
#endif
    {
        if (together) update_many_portable(u, n, threads);
        else for (int j = 0; j < n; j++) update_portable(u[j], threads);
    }
    for (int j = 0; j < n; j++) finish(u[j], &jobs[j]);
    return paths;
}
