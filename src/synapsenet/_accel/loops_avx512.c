/* The element-wise passes compiled for AVX-512 (picked at run time where the CPU has it). */
#include "sn.h"
#if defined(__x86_64__) && defined(__GNUC__)
#define NAME(f) f##_avx512
#define TARGET __attribute__((target("avx512f")))
#define TABLE sn_loops_avx512
#define TABLE_NAME "avx512"
#include "loops.h"
#else  /* another architecture: the portable loops stand in (sn_cpu_isa never picks these) */
#define NAME(f) f##_avx512
#define TARGET
#define TABLE sn_loops_avx512
#define TABLE_NAME "portable"
#include "loops.h"
#endif
