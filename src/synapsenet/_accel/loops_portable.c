/* The element-wise passes for any CPU (on x86-64: its baseline, SSE2). */
#define NAME(f) f##_portable
#define TARGET
#define TABLE sn_loops_portable
#define TABLE_NAME "portable"
#include "loops.h"
