"""Fast Gaussian noise for the chip: read noise in the arrays, write noise of the devices."""

from __future__ import annotations

import numpy as np

from . import kernels


def standard_normal(rng: np.random.Generator, out: np.ndarray, work=None,
                    sigma=None) -> np.ndarray:
    """Fill ``out`` (float32) with N(0, σ²) draws by the Box–Muller transform (Box & Muller,
    Ann. Math. Statist. 29(2), 1958); ``sigma`` is one standard deviation per row of ``out``
    (None: 1).

    Built for speed, since noise is most of a noisy simulation's work: 64 raw random bits make
    two uniforms at once (23-bit mantissas set directly, floats in [1, 2)), and log, sqrt,
    cos and sin run vectorised over contiguous halves of ``out`` — faster than NumPy's
    float32 ziggurat. The tails are cut at √(2·23·ln 2) ≈ 5.6 σ, which no
    noise level simulated here can tell apart.

    The compiled library makes the same draws from the same bits in one pass (``_accel/
    noise.c``, its own log, sin and cos within a few float32 ulp of NumPy's) where it is built
    and ``out`` is float32 in C order; :func:`numpy_standard_normal` is its twin, and runs
    otherwise (or under ``SYNAPSENET_ENGINE=numpy``).
    """
    _check_sigma(out, sigma)  # before anything is drawn or written
    if kernels.normal(rng.bit_generator, out, sigma) is not None:
        return out
    return numpy_standard_normal(rng, out, work, sigma)


def _check_sigma(out, sigma) -> None:
    """A ValueError where ``sigma`` is neither one value nor one per row of ``out``."""
    if sigma is None:
        return
    rows = out.shape[0] if out.ndim else 1
    size = np.size(sigma)
    if size not in (1, rows):
        raise ValueError(f"sigma has {size} values; out has {rows} rows (one per row, or one "
                         "for all)")


def numpy_standard_normal(rng: np.random.Generator, out: np.ndarray, work=None,
                          sigma=None) -> np.ndarray:
    """:func:`standard_normal` in NumPy, the definition of its draws: :func:`box_muller` of
    the generator's next ⌈n/2⌉ 64-bit words (``work``: a uint32 buffer of at least 2⌈n/2⌉
    values to reuse, or None)."""
    _check_sigma(out, sigma)
    words = rng.bit_generator.random_raw((out.size + 1) // 2).view(np.uint32)
    return box_muller(words, out, work, sigma)


def box_muller(words: np.ndarray, out: np.ndarray, work=None, sigma=None) -> np.ndarray:
    """The transform of 2⌈n/2⌉ uint32 ``words`` into the n draws of ``out``: word j gives u₁
    and word ⌈n/2⌉ + j gives θ of out[j] = r cos θ and of out[⌈n/2⌉ + j] = r sin θ."""
    if not out.flags.c_contiguous:  # the halves below are views of a contiguous ``out``
        out[...] = box_muller(words, np.empty(out.shape, out.dtype), work, sigma)
        return out
    flat = out.reshape(-1)
    n = flat.size
    h = (n + 1) // 2
    if work is None or work.size < 2 * h:
        work = np.empty(2 * h, np.uint32)
    bits = work[: 2 * h]
    np.right_shift(words, 9, out=bits)
    np.bitwise_or(bits, np.uint32(0x3F800000), out=bits)  # exponent of 1: floats in [1, 2)
    f = bits.view(np.float32)
    r, theta = f[:h], f[h:]
    np.subtract(np.float32(2.0), r, out=r)  # u₁ ∈ (0, 1]: log is finite
    np.log(r, out=r)
    r *= np.float32(-2.0)
    np.sqrt(r, out=r)  # radius √(−2 ln u₁)
    theta *= np.float32(2 * np.pi)  # 2π·[1, 2): the same angles as 2π·[0, 1)
    a, b = flat[:h], flat[h:]
    np.cos(theta, out=a)
    a *= r
    np.sin(theta[: n - h], out=b)
    b *= r[: n - h]
    if sigma is not None and out.size:
        rows = out.shape[0] if out.ndim else 1
        out.reshape(rows, -1)[...] *= np.asarray(sigma, np.float32).reshape(-1, 1)
    return out
