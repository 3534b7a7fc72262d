"""The chip's Gaussian noise: the compiled Box–Muller pass (``_accel/noise.c``) against its
NumPy twin (``hardware.noise.numpy_standard_normal``), and both against the normal law.

From the same generator state the two take the same words and must give the same draws to
a few float32 ulp (their log, sin and cos are different approximations: relative 1e-6, and
near 0, where a cosine's rounding is large against the value, 1e-6 σ absolute), leave the
generator in the same state, and every instruction set's copy of the kernel must give the
same bits. With ``SYNAPSENET_KERNELS=portable`` (a CI step) the x86 copies are capped off and
the portable copy runs in every case.
"""

import os

import numpy as np
import pytest
from scipy import stats

from synapsenet import _engine
from synapsenet.hardware import kernels
from synapsenet.hardware.noise import box_muller, numpy_standard_normal, standard_normal

if os.environ.get("SYNAPSENET_REQUIRE_ENGINE") == "1":
    assert kernels.normal_unsupported() is None, kernels.normal_unsupported()
compiled = pytest.mark.skipif(kernels.normal_unsupported() is not None,
                              reason=f"{kernels.normal_unsupported()}: the NumPy twin runs")

SHAPES = [(1,), (2,), (3,), (4,), (5,), (7,), (1000,), (1001,), (65_537,), (7, 3), (1, 5),
          (5, 1), (64, 257), (3, 4, 5), (1_300_001,)]
SIGMAS = ["none", "per_row", "one"]


def isa_run(isa: str) -> str:
    """The copy the settings ``isa`` run here (capped by the CPU and the environment)."""
    with _engine.using(isa=isa):
        return _engine.isa_in_use()


def sigma_for(kind, shape, seed=0):
    if kind == "none":
        return None
    if kind == "one":
        return np.float32(0.37)
    return np.random.default_rng(seed).uniform(0.05, 3.0, shape[0]).astype(np.float32)


def twin_and_kernel(shape, sigma, isa, seed=7):
    """(twin's draws, kernel's draws, the copy that ran, the two generators after)."""
    r_twin, r_kernel = np.random.default_rng(seed), np.random.default_rng(seed)
    want = numpy_standard_normal(r_twin, np.empty(shape, np.float32), sigma=sigma)
    got = np.empty(shape, np.float32)
    with _engine.using(isa=isa):
        ran = kernels.normal(r_kernel.bit_generator, got, sigma)
    return want, got, ran, (r_twin, r_kernel)


def assert_close(got, want, sigma):
    scale = np.ones(want.shape[:1], np.float32) if sigma is None else \
        np.broadcast_to(np.asarray(sigma, np.float32).reshape(-1), want.shape[:1])
    scale = scale.reshape((-1,) + (1,) * (want.ndim - 1))
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(np.isfinite(got))
    assert np.all(err <= 1e-6 * np.abs(want) + 1e-6 * scale), float(err.max())


@compiled
@pytest.mark.parametrize("isa", _engine.ISAS)
@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_the_kernel_gives_the_twins_draws_and_leaves_the_generator_as_it(shape, sigma, isa):
    s = sigma_for(sigma, shape)
    want, got, ran, (r_twin, r_kernel) = twin_and_kernel(shape, s, isa)
    assert ran == isa_run(isa)
    assert_close(got, want, s)
    assert r_kernel.bit_generator.state == r_twin.bit_generator.state
    # and the next draws of both generators are the same
    assert r_kernel.integers(1 << 62) == r_twin.integers(1 << 62)


@compiled
@pytest.mark.parametrize("shape", [(1,), (3,), (1001,), (64, 257), (300_001,)],
                         ids=lambda s: "x".join(map(str, s)))
def test_every_instruction_sets_copy_gives_the_same_bits(shape):
    s = sigma_for("per_row", shape)
    outs = {}
    for isa in _engine.ISAS:
        out = np.empty(shape, np.float32)
        with _engine.using(isa=isa):
            outs[kernels.normal(np.random.default_rng(3).bit_generator, out, s)] = out
    assert "portable" in outs
    for out in outs.values():
        assert np.array_equal(out.view(np.uint32), outs["portable"].view(np.uint32))


def every_word():
    """Words that make every u₁ and every θ the transform can meet: word j (j < 2²³) has
    mantissa j for u₁, word 2²³ + j mantissa j for θ (the low 9 bits, unused, set)."""
    k = np.arange(1 << 23, dtype=np.uint32) << np.uint32(9) | np.uint32(0x1FF)
    return np.concatenate([k, k[::-1]])


def exact_box_muller(words):
    """The transform of ``words`` in float64 from the twin's float32 u₁ and θ."""
    f = (words >> np.uint32(9) | np.uint32(0x3F800000)).view(np.float32)
    h = len(words) // 2
    u1 = (np.float32(2) - f[:h]).astype(np.float64)
    theta = (f[h:] * np.float32(2 * np.pi)).astype(np.float64)
    r = np.sqrt(-2.0 * np.log(u1))
    return np.concatenate([r * np.cos(theta), r * np.sin(theta)]), r


@compiled
def test_over_every_input_the_draws_are_within_a_few_ulp_of_the_exact_transform_and_the_twin():
    words = every_word()
    out = np.empty(len(words), np.float32)
    assert kernels.normal_from_words(words, out) is not None
    exact, r = exact_box_muller(words)
    r2 = np.concatenate([r, r])
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    # a few ulp of the value, or of the radius times 2⁻²³ where a cosine or sine is near 0
    err = np.abs(out - exact)
    assert np.all(err <= 4 * np.maximum(ulp, r2 * 2.0 ** -24)), float((err / ulp).max())
    assert_close(out, box_muller(words, np.empty_like(out)), None)


@compiled
@pytest.mark.parametrize("isa", _engine.ISAS)
def test_the_extreme_words_give_finite_draws(isa):
    """u₁ = 1 (all mantissa bits 0: r = 0) and u₁ = 2⁻²³ (all 1: the largest r, √(46 ln 2)),
    θ at 2π and just below 4π, in every combination, in both."""
    lo, hi = 0, 0xFFFFFFFF
    words = np.array([lo, lo, hi, hi, lo, hi, lo, hi], np.uint32)
    out = np.empty(8, np.float32)
    with _engine.using(isa=isa):
        assert kernels.normal_from_words(words, out) == isa_run(isa)
    twin = box_muller(words, np.empty(8, np.float32))
    for z in (out, twin):
        assert np.all(np.isfinite(z))
        assert z[0] == z[1] == z[4] == z[5] == 0  # r = 0
        assert abs(z[2] - np.sqrt(46 * np.log(2))) < 2e-6  # cos θ ≈ 1 at the largest r
    assert_close(out, twin, None)
    assert_close(out, exact_box_muller(words)[0], None)


@pytest.mark.parametrize("sigma", [None, np.float32(2.5)])
def test_the_draws_are_standard_normal(sigma):
    """Kolmogorov–Smirnov and the moments, on fixed seeds (deterministic: no flakes); the
    draws the library makes here, compiled or not."""
    out = standard_normal(np.random.default_rng(11), np.empty(400_001, np.float32),
                          sigma=sigma)
    z = out / (1.0 if sigma is None else float(sigma))
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(stats.kurtosis(z)) < 0.05
    assert abs(np.mean(np.abs(z) > 1.96) - 0.05) < 0.002
    assert np.abs(z).max() < 5.65  # the tails stop at √(46 ln 2) ≈ 5.647


def test_sigma_scales_each_row():
    sigma = np.array([0.1, 1.0, 4.0], np.float32)
    out = standard_normal(np.random.default_rng(2), np.empty((3, 200_000), np.float32),
                          sigma=sigma)
    assert np.allclose(out.std(axis=1), sigma, rtol=0.01)


@pytest.mark.parametrize("case", ["float64", "strided", "engine_off"])
def test_the_twin_runs_where_the_kernel_does_not(monkeypatch, case):
    """float64 or non-contiguous outputs, and SYNAPSENET_ENGINE=numpy, take the NumPy lines:
    the same values as the twin's, bit for bit."""
    base = np.empty((40, 33), np.float64 if case == "float64" else np.float32)
    out = base[:, ::2] if case == "strided" else base
    if case == "engine_off":
        monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy")
        assert kernels.normal_unsupported() == "SYNAPSENET_ENGINE=numpy"
    sigma = np.linspace(0.5, 2, len(out))
    assert kernels.normal(np.random.default_rng(0).bit_generator, out, sigma) is None
    got = standard_normal(np.random.default_rng(5), out, sigma=sigma).copy()
    want = numpy_standard_normal(np.random.default_rng(5), np.empty_like(out), sigma=sigma)
    assert np.array_equal(got, want)


@compiled
def test_a_wrong_sigma_is_refused_as_numpy_refuses_it():
    out = np.full((4, 3), 7.0, np.float32)
    assert kernels.normal(np.random.default_rng(0).bit_generator, out, np.ones(3)) is None
    for draw in (standard_normal, numpy_standard_normal):
        rng = np.random.default_rng(0)
        before = rng.bit_generator.state
        with pytest.raises(ValueError, match="sigma has 3 values; out has 4 rows"):
            draw(rng, out, sigma=np.ones(3))
        assert rng.bit_generator.state == before and (out == 7).all()  # nothing drawn


def test_no_draws_into_an_empty_out_either_way():
    for draw in (standard_normal, numpy_standard_normal):
        assert draw(np.random.default_rng(0), np.empty((0, 3), np.float32),
                    sigma=np.zeros(0)).shape == (0, 3)

