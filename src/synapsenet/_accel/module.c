/* The library's exported odds and ends, and the (empty) Python module that lets setuptools
 * build and install it in place. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "sn.h"

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

/* the chip's DAC stage for a block of rows (see sn_loops.dac) */
void sn_dac(const float *Z, int64_t ldz, int64_t rows, int64_t n, float q, float *X,
            int64_t ldx, float *s, const sn_settings *S) {
    sn_loops_for(S)->dac(Z, ldz, rows, n, q, X, ldx, s);
}

/* whether all n values of x are finite: the training data's check */
int sn_all_finite(const float *x, int64_t n, const sn_settings *S) {
    return sn_loops_for(S)->all_finite(x, n);
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cengine",
                                    "Compiled kernels of synapsenet (used through ctypes).", -1,
                                    NULL, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__cengine(void) { return PyModule_Create(&module); }
