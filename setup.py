"""Builds the optional compiled training engine (src/synapsenet/_cengine.c).

Everything else is in pyproject.toml. Where no C compiler is available the build goes on
without it (optional=True) and synapsenet trains with its NumPy engine alone.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "synapsenet._cengine", ["src/synapsenet/_cengine.c"], optional=True,
    # -ffp-contract=off: no fused multiply-adds the NumPy engine does not make, so that both
    # engines round alike
    extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno"],
    extra_link_args=["-pthread"],
)])
