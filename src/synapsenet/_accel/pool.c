/* A few helper threads that stay between calls, for kernels that split one call into tasks
 * (the stochastic pulse update's trains and its lanes of devices: pulses.c; the chip's
 * one-call read: chipread.c). A call hands out its tasks to itself and up to threads − 1
 * helpers, which take them in any order; it returns when all are done. Which thread runs a
 * task must not change what it computes: the callers make tasks whose results do not
 * depend on it (each with its own generator).
 *
 * A helper spins briefly for the next call (a training step's next kernel is microseconds
 * away) and then sleeps; a call never waits for a sleeping helper to wake (it does the
 * tasks no helper takes), only for the tasks to be done. A helper counts itself `active`
 * while it reads a call and runs its tasks, and the next call is written only once none
 * is (the two announce themselves with sequentially consistent atomics, so that one of
 * them always sees the other). A forked child starts with no helpers. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "sn.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_MAX 8 /* helpers */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;                 /* helpers running */
    _Atomic uint64_t generation; /* one more per call */
    _Atomic int sleeping;        /* helpers waiting on cv */
    _Atomic int active;          /* helpers reading the call or running its tasks */
    _Atomic int writing;         /* a call being written: helpers keep off */
    /* the call in progress (written while no helper is active, read after generation) */
    void (*fn)(void *ctx, int task, int thread);
    void *ctx;
    int tasks, helpers; /* helpers that take part: ids 1 … helpers */
    _Atomic int next;   /* the next task to take */
    _Atomic int done;   /* the tasks done */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void take_tasks(int thread) {
    for (int t; (t = atomic_fetch_add(&pool.next, 1)) < pool.tasks;) {
        pool.fn(pool.ctx, t, thread);
        atomic_fetch_add(&pool.done, 1);
    }
}

typedef struct {
    int id;
    uint64_t start; /* the generation before the call that starts it (it may run after that
                     * call was handed out) */
} helper_arg;

static void *helper(void *arg) {
    const helper_arg a = *(helper_arg *)arg;
    free(arg);
    const int id = a.id;
    uint64_t seen = a.start;
    for (;;) {
        /* the next call: spin for a fifth of a millisecond, then sleep */
        const double t0 = now_s();
        int spins = 0, asleep = 0;
        while (atomic_load(&pool.generation) == seen) {
            cpu_relax();
            if (++spins == 256) {
                spins = 0;
                if (now_s() - t0 > 2e-4) {
                    asleep = 1;
                    break;
                }
            }
        }
        if (asleep) {
            pthread_mutex_lock(&pool.mu);
            atomic_fetch_add(&pool.sleeping, 1);
            while (atomic_load(&pool.generation) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
            atomic_fetch_sub(&pool.sleeping, 1);
            pthread_mutex_unlock(&pool.mu);
        }
        atomic_fetch_add(&pool.active, 1);
        if (atomic_load(&pool.writing)) { /* the next call is being written: look again */
            atomic_fetch_sub(&pool.active, 1);
            while (atomic_load(&pool.writing)) cpu_relax();
            continue;
        }
        seen = atomic_load(&pool.generation);
        if (id <= pool.helpers) take_tasks(id);
        atomic_fetch_sub(&pool.active, 1);
    }
    return NULL;
}

static pthread_mutex_t calls = PTHREAD_MUTEX_INITIALIZER; /* one call at a time */

static void forked_child(void) { /* the helpers, and any call in flight, stayed behind */
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER, one = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    pool.mu = mu;
    pool.cv = cv;
    calls = one;
    pool.started = 0;
    atomic_store(&pool.sleeping, 0);
    atomic_store(&pool.active, 0);
    atomic_store(&pool.writing, 0);
}

void sn_pool_run(int threads, int tasks, void (*fn)(void *ctx, int task, int thread),
                 void *ctx) {
    int helpers = threads - 1 < tasks - 1 ? threads - 1 : tasks - 1;
    helpers = helpers < 0 ? 0 : helpers > POOL_MAX ? POOL_MAX : helpers;
    if (helpers == 0 || pthread_mutex_trylock(&calls) != 0) { /* (busy: this thread alone) */
        for (int t = 0; t < tasks; t++) fn(ctx, t, 0);
        return;
    }
    static int atfork = 0;
    if (!atfork) atfork = !pthread_atfork(NULL, NULL, forked_child);
    atomic_store(&pool.writing, 1);
    for (unsigned spins = 1; atomic_load(&pool.active); spins++) { /* no helper reads the */
        cpu_relax();                                                /* last call now */
        if (spins % 4096 == 0) sched_yield();
    }
    while (pool.started < helpers) {
        helper_arg *arg = malloc(sizeof *arg);
        if (!arg) break;
        arg->id = pool.started + 1;
        arg->start = atomic_load(&pool.generation);
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int ok = !pthread_create(&th, &attr, helper, arg);
        pthread_attr_destroy(&attr);
        if (!ok) {
            free(arg);
            break;
        }
        pool.started++;
    }
    if (helpers > pool.started) helpers = pool.started;
    pool.fn = fn, pool.ctx = ctx, pool.tasks = tasks, pool.helpers = helpers;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.done, 0);
    atomic_fetch_add(&pool.generation, 1);
    atomic_store(&pool.writing, 0);
    if (atomic_load(&pool.sleeping)) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    take_tasks(0);
    for (unsigned spins = 1; atomic_load(&pool.done) < tasks; spins++) {
        cpu_relax();
        if (spins % 4096 == 0) sched_yield();
    }
    pthread_mutex_unlock(&calls);
}
