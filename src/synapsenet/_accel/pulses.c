/* The chip's stochastic pulse update (aihwkit's StochasticCompressed; Gokmen & Vlasov, Front.
 * Neurosci. 10:333, 2016) of one layer for a whole batch, in one call: per sample in order,
 * the slots each input and each delta fires in, the coincidences of the two by popcount over
 * only those that fire, and each coincidence count as a train of pulses on its device (the
 * law's affine closed form, its train noise, its bounds: devices.h, as the chip's batch-1
 * engine has them), the weights that the devices now hold written where the chip reads them.
 * The maths is hardware/learning.py's
 * (DeviceSynapses._fire, _coincide, _apply_at) and devices/base.py's (DeviceArray.pulses_at);
 * tests/test_pulses.py holds the two against each other. */
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
#include "pulses.h"
#undef NAME
#undef TARGET
#undef BYTES_MASK
#define HAVE_AVX2_COPY 1
#endif

/* the bytes of the workspace sn_pulse_update needs for n_out × n_in devices */
int64_t sn_pulse_work_size(int64_t n_out, int64_t n_in) {
    const int64_t size = n_out * n_in;
    const int64_t n = (n_in > n_out ? n_in : n_out) + 4;
    return ALIGN + (int64_t)sizeof(sn_rng) + 4 * 64 * (n_in + n_out) + (n_in + n_out) +
           size + 4 * size + 12 * n + 2 * 16 * n_in * 5 + 5 * n_in + 10 * ALIGN;
}

static unsigned char *carve(unsigned char **at, int64_t bytes) {
    unsigned char *p = *at;
    *at += (bytes + ALIGN - 1) / ALIGN * ALIGN;
    return p;
}

int64_t sn_pulse_update(const sn_devices *dev, const sn_mirror *mir, const float *Z,
                        int64_t ldz, const float *D, int64_t ldd, int64_t B, int BL, double C,
                        uint64_t seed, uint64_t *XM, uint64_t *DM, int given, int64_t *counts,
                        sn_pulse_meter *meter, sn_pair *pair, unsigned char *work,
                        const sn_settings *S) {
    if (BL < 1 || BL > 64) return -1;
    const int64_t n_in = dev->n_in, n_out = dev->n_out, size = n_in * n_out;
    /* the workspace, carved from `work` (the caller's, its counts region all 0) */
    unsigned char *at = work + (ALIGN - (uintptr_t)work % ALIGN) % ALIGN;
    sn_rng *g = (sn_rng *)carve(&at, sizeof(sn_rng));
    sn_pulse_work ws;
    ws.count = carve(&at, size);
    ws.hits = (int32_t *)carve(&at, 4 * size);
    ws.xslot = (int32_t *)carve(&at, 4 * 64 * (n_in + n_out));
    ws.dslot = ws.xslot + 64 * n_in;
    ws.xpos = carve(&at, n_in + n_out);
    ws.dpos = ws.xpos + n_in;
    const int64_t n = (n_in > n_out ? n_in : n_out) + 4;
    ws.which = (int32_t *)carve(&at, 4 * n);
    ws.mask = (uint64_t *)carve(&at, 8 * n);
    const int64_t cells = meter ? 2 * meter->batches * n_in : 0;
    ws.most = carve(&at, cells);
    ws.cells = (int32_t *)carve(&at, 4 * cells);
    ws.written = carve(&at, n_in);
    ws.written_list = (int32_t *)carve(&at, 4 * n_in);
    ws.n_cells = ws.n_written = 0;
    if (meter && meter->batches > 16) return -1;
    sn_rng_seed(g, seed, S->isa); /* (the refill for the copy that runs) */
    int64_t paths = 0;
#ifdef HAVE_AVX2_COPY
    if (sn_cpu_isa() >= ISA_AVX2 && S->isa >= ISA_AVX2) {
        update_avx2(dev, mir, Z, ldz, D, ldd, B, BL, C, g, XM, DM, given, &ws, meter, pair,
                    counts);
        paths = PATH_PULSES_AVX2;
    } else
#endif
        update_portable(dev, mir, Z, ldz, D, ldd, B, BL, C, g, XM, DM, given, &ws, meter, pair,
                        counts);
    return paths;
}
