"""Builds the optional compiled kernels (src/synapsenet/_accel/, one library).

Everything else is in pyproject.toml. Where no C compiler is available the build goes on
without it (optional=True) and synapsenet trains with its NumPy engine alone. GCC and clang
both build it.
"""

from glob import glob

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "synapsenet._cengine", sorted(glob("src/synapsenet/_accel/*.c")), optional=True,
    depends=sorted(glob("src/synapsenet/_accel/*.h")),
    # -ffp-contract=off: no fused multiply-adds the NumPy engine does not make, so that both
    # engines round alike (our AVX-512 product makes them on purpose, as BLAS does)
    extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno"],
    extra_link_args=["-pthread"],
)])
