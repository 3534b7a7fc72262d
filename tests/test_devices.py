"""Device update laws: each against its closed form pulse by pulse, the variation against its
σ, the presets against their sources, fitting, and bad input."""

import doctest
import math
from pathlib import Path

import numpy as np
import pytest

from synapsenet.errors import ConfigError, DataError
from synapsenet.hardware import devices as D
from synapsenet.hardware.devices import (ConstantStep, DeviceLaw, ExpStep, Ideal, LinearStep,
                                         NeuroSimNonlinear, PiecewiseStep, PowStep, SoftBounds)

ROOT = Path(__file__).resolve().parents[1]


def test_docstring_examples():
    result = doctest.testmod(D, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_hardware_doc_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the fitting example writes its CSV here
    result = doctest.testfile(str(ROOT / "docs" / "hardware.md"), module_relative=False)
    assert result.attempted > 0 and result.failed == 0


# -- each law against its formula, pulse by pulse ----------------------------------------------
def _iterate(f, w0, n_up, n_down, lo, hi):
    """The closed form applied pulse by pulse in plain Python: f(w, d) is the change."""
    w, out = w0, [w0]
    for k in range(n_up + n_down):
        w = min(max(w + f(w, 1 if k < n_up else -1), lo), hi)
        out.append(w)
    return np.array(out)


def test_ideal_is_linear_with_hard_bounds():
    law = Ideal(dw_min=0.1, w_min=-1, w_max=1)
    r = law.response(25, 30)
    np.testing.assert_allclose(r[:21], -1 + 0.1 * np.arange(21), atol=1e-12)
    assert np.all(r[20:26] == 1.0)  # held at the bound
    np.testing.assert_allclose(r[25:], np.maximum(1 - 0.1 * np.arange(31), -1), atol=1e-12)
    assert law.states == pytest.approx(20)


def test_ideal_continuous_takes_fractional_pulse_counts():
    law = Ideal(dw_min=0.01, continuous=True)
    assert law.states == math.inf
    devs = law.instantiate((3,), 0, dtype=np.float64)
    w = devs.pulses(np.zeros(3), np.array([0.5, -2.25, 10.0]))
    np.testing.assert_allclose(w, [0.005, -0.0225, 0.1])
    with pytest.raises(ConfigError, match="whole pulse counts"):
        ConstantStep(dw_min=0.1).instantiate(3, 0).pulses(np.zeros(3), np.array([0.5, 0, 0]))


@pytest.mark.parametrize("beta", [0.3, -0.3, 0.0])
def test_constant_step_asymmetry_follows_aihwkit(beta):
    law = ConstantStep(dw_min=0.05, up_down=beta, w_min=-1, w_max=1)
    up = 0.05 * (1 + min(beta, 0))  # aihwkit: the larger step keeps dw_min
    down = 0.05 * (1 - max(beta, 0))
    expect = _iterate(lambda w, d: up if d > 0 else -down, -1.0, 50, 60, -1, 1)
    np.testing.assert_allclose(law.response(50, 60), expect, atol=1e-12)


def test_linear_step_formula():
    law = LinearStep(dw_min=0.02, up_down=0.1, gamma_up=0.4, gamma_down=0.7, w_min=-0.8,
                     w_max=1.2)
    s_up, s_dn = 0.02, 0.02 * 0.9

    def f(w, d):  # aihwkit: w ± s (1 − γ w / b), b = w_max up and w_min down
        return s_up * (1 - 0.4 * w / 1.2) if d > 0 else -s_dn * (1 - 0.7 * w / -0.8)

    np.testing.assert_allclose(law.response(150, 150), _iterate(f, -0.8, 150, 150, -0.8, 1.2),
                               atol=1e-12)


def test_soft_bounds_is_geometric():
    law = SoftBounds(dw_min=0.01, w_min=-1, w_max=1.5)
    r = law.response(300, 0)
    k = np.arange(301)
    # w_max − w_k = (w_max − w_0)(1 − s/w_max)^k
    np.testing.assert_allclose(1.5 - r, 2.5 * (1 - 0.01 / 1.5) ** k, rtol=1e-10)
    d = law.step(0.5, -1) - 0.5
    assert d == pytest.approx(-0.01 * (1 - 0.5 / -1))


RERAM_ES = dict(dw_min=0.00135, up_down=0.259359, a=-0.5, b=-0.5, gamma_up=5.0, gamma_down=5.0,
                A_up=-1.18445, A_down=-0.081404)  # aihwkit's ReRamESPresetDevice


def test_exp_step_formula():
    law = ExpStep(**RERAM_ES)
    s_up, s_dn = law.dw_min, law.dw_min * (1 - law.up_down)

    def f(w, d):  # aihwkit update_once: z = 2a w/(b_max − b_min) + b, y = max(1 − A e^{dγz}, 0)
        z = 2 * law.a * w / 2.0 + law.b
        if d > 0:
            return s_up * max(1 - law.A_up * math.exp(law.gamma_up * z), 0)
        return -s_dn * max(1 - law.A_down * math.exp(-law.gamma_down * z), 0)

    np.testing.assert_allclose(law.response(800, 800), _iterate(f, -1.0, 800, 800, -1, 1),
                               atol=1e-12)


def test_pow_step_formula():
    law = PowStep(dw_min=0.02, pow_gamma=2.0, pow_up_down=0.25, w_min=-1, w_max=1)
    g_up, g_dn = 2.0, 2.0 * 0.75

    def f(w, d):  # ω = (b_max − w)/(b_max − b_min): up s ω^γ⁺, down s (1 − ω)^γ⁻
        om = (1 - w) / 2
        return 0.02 * om ** g_up if d > 0 else -0.02 * (1 - om) ** g_dn

    np.testing.assert_allclose(law.response(400, 400), _iterate(f, -1.0, 400, 400, -1, 1),
                               atol=1e-12)


def test_piecewise_step_formula():
    up, dn = [2.0, 1.0, 0.5, 0.1], [0.2, 0.6, 1.0, 1.5]
    law = PiecewiseStep(dw_min=0.01, piecewise_up=up, piecewise_down=dn, w_min=-1, w_max=1)

    def f(w, d):
        x = (w + 1) / 2 * 3  # three segments over the range
        i = min(int(math.floor(x)), 2)
        t = min(x - i, 1.0)
        v = up if d > 0 else dn
        return (1 if d > 0 else -1) * 0.01 * ((1 - t) * v[i] + t * v[i + 1])

    np.testing.assert_allclose(law.response(600, 600), _iterate(f, -1.0, 600, 600, -1, 1),
                               atol=1e-12)


# -- the device array --------------------------------------------------------------------------
AIHWKIT_LAWS = [
    Ideal(dw_min=0.05),
    ConstantStep(dw_min=0.05, up_down=0.2),
    LinearStep(dw_min=0.05, gamma_up=0.5, gamma_down=0.3),
    SoftBounds(dw_min=0.05, up_down=-0.1),
    ExpStep(dw_min=0.02),
    PowStep(dw_min=0.05, pow_gamma=1.7),
    PiecewiseStep(dw_min=0.05, piecewise_up=[1.5, 1.0, 0.2], piecewise_down=[0.3, 1.0, 1.2]),
]


def check_pulses_equal_repeated_pulse(law):
    """Without noise, n pulses at once (closed form or loop) = n single pulses."""
    rng = np.random.default_rng(0)
    spread = law.replace(w_max_dtod=0.1, w_min_dtod=0.1)
    devs = spread.instantiate((40, 50), 1, dtype=np.float64)
    w = devs.clip(rng.uniform(-1, 1, (40, 50)))
    n = rng.integers(-12, 13, (40, 50))
    n[rng.random(n.shape) < 0.7] = 0  # sparse, as a batch-1 update
    expect = w.copy()
    for k in range(12):
        d = (np.sign(n) * (np.abs(n) > k)).astype(np.int8)
        devs.pulse(expect, d, None, out=expect)
    np.testing.assert_allclose(devs.pulses(w, n), expect, atol=1e-12)
    np.testing.assert_allclose(devs._loop(w, n, None, None), expect, atol=1e-12)
    dense = rng.integers(-4, 5, (40, 50))
    a = devs.pulses(w, dense)
    b = w.copy()
    for k in range(4):
        devs.pulse(b, (np.sign(dense) * (np.abs(dense) > k)).astype(np.int8), None, out=b)
    np.testing.assert_allclose(a, b, atol=1e-12)


def check_pulse_moves_only_pulsed_devices(law):
    devs = law.replace(dw_min_dtod=0.2) if hasattr(law, "dw_min_dtod") else law
    devs = devs.instantiate((300, 20), np.random.default_rng(0))
    w = devs.clip(np.full((300, 20), 0.1, np.float32))
    d = np.random.default_rng(1).integers(-1, 2, w.shape).astype(np.int8)
    new = devs.pulse(w, d, np.random.default_rng(2))
    assert new.dtype == np.float32 and new.shape == w.shape
    assert np.all(new[d == 0] == w[d == 0])
    assert np.all(new[d > 0] >= w[d > 0]) and np.all(new[d < 0] <= w[d < 0])
    same = devs.pulse(w.copy(), 0, None)
    assert np.array_equal(same, w)
    inplace = w.copy()
    out = devs.pulse(inplace, d, np.random.default_rng(2), out=inplace)
    assert out is inplace and np.array_equal(inplace, new)
    with pytest.raises(ConfigError, match="shape"):
        devs.pulse(w[:10], d[:10], None)


@pytest.mark.parametrize("law", AIHWKIT_LAWS, ids=lambda l: l.kind)
def test_pulses_equal_repeated_pulse_without_noise(law):
    check_pulses_equal_repeated_pulse(law)


@pytest.mark.parametrize("law", AIHWKIT_LAWS, ids=lambda l: l.kind)
def test_pulse_moves_only_pulsed_devices_and_keeps_float32(law):
    check_pulse_moves_only_pulsed_devices(law)


def test_variation_free_devices_hold_no_arrays():
    devs = ConstantStep(dw_min=0.01).instantiate((784, 256), 0)
    assert devs.nbytes == 0 and not isinstance(devs.lo, np.ndarray)
    devs = ExpStep(**RERAM_ES, dw_min_dtod=0.2, w_max_dtod=0.3, w_min_dtod=0.3,
                   write_noise_std=75.0).instantiate((784, 256), 0)
    # bounds, two step sizes, the exponent's scale and the write-noise offsets
    assert devs.nbytes <= 6 * 784 * 256 * 4


# -- variation ---------------------------------------------------------------------------------
N = 200_000  # devices: the standard error of a relative σ is 1/√(2N) ≈ 0.16 %


def test_c2c_multiplicative_matches_sigma():
    devs = ConstantStep(dw_min=0.001, up_down=0.2, dw_min_std=0.3).instantiate((N,), 0)
    w = np.zeros(N, np.float32)
    up = devs.pulse(w, 1, np.random.default_rng(1))
    down = devs.pulse(w, -1, np.random.default_rng(2))
    assert up.mean() == pytest.approx(0.001, rel=0.01)
    assert up.std() == pytest.approx(0.3 * 0.001, rel=0.01)
    assert down.mean() == pytest.approx(-0.0008, rel=0.01)
    assert down.std() == pytest.approx(0.3 * 0.0008, rel=0.01)


def test_a_noisy_constant_step_train_is_its_pulses_in_distribution():
    """k pulses of s (1 + σξ) in one go (k s + s σ √k ξ, clipped once) against the same k
    applied one by one: the same mean and spread, in the range and against a bound."""
    law = ConstantStep(dw_min=0.001, up_down=0.3, dw_min_std=0.3, dw_min_dtod=0.2,
                       w_max=0.011, w_min=-1.0)
    devs = law.instantiate((N,), 3)
    assert devs.closed_form
    w0 = np.zeros(N, np.float32)
    n = np.where(np.arange(N) % 2, 12, -12)  # half up (many to the bound), half down
    train = devs.pulses(w0, n, np.random.default_rng(4))
    one = w0.copy()
    for _ in range(12):
        one = devs.pulse(one, np.sign(n).astype(np.int8), np.random.default_rng(_))
    for half in (slice(0, None, 2), slice(1, None, 2)):
        assert train[half].mean() == pytest.approx(one[half].mean(), rel=0.005)
        assert train[half].std() == pytest.approx(one[half].std(), rel=0.02)
    assert np.all(train <= devs.p["hi"]) and np.all(train >= devs.p["lo"])
    at_bound = [np.mean(v[1::2] == np.float32(0.011)) for v in (train, one)]
    assert 0.2 < at_bound[1] < 0.8 and at_bound[0] == pytest.approx(at_bound[1], abs=0.01)


@pytest.mark.parametrize("mult", [True, False])
def test_c2c_linear_step_multiplicative_or_additive(mult):
    law = LinearStep(dw_min=0.001, gamma_up=0.8, dw_min_std=0.5, mult_noise=mult)
    devs = law.instantiate((N,), 0)
    w = np.full(N, 0.5, np.float32)
    dw = devs.pulse(w, 1, np.random.default_rng(1)) - w
    nominal = 0.001 * (1 - 0.8 * 0.5)
    assert dw.mean() == pytest.approx(nominal, rel=0.01)
    assert dw.std() == pytest.approx(0.5 * (nominal if mult else 0.001), rel=0.01)


def test_c2c_exp_step_complex_noise():
    law = ExpStep(dw_min=0.001, dw_min_std=0.6, dw_min_std_add=0.0005, dw_min_std_slope=0.002)
    devs = law.instantiate((N,), 0)
    w = np.full(N, 0.2, np.float32)
    dw = devs.pulse(w, -1, np.random.default_rng(1)) - w
    nominal = law.step(0.2, -1) - 0.2
    assert dw.mean() == pytest.approx(nominal, rel=0.02)
    expect = 0.6 * (abs(nominal) + 0.0005 + 0.002 * 0.2)
    assert dw.std() == pytest.approx(expect, rel=0.01)


def test_write_noise_is_read_out_only_and_redrawn_on_pulses():
    law = ConstantStep(dw_min=0.001, write_noise_std=20.0)
    devs = law.instantiate((N,), 0)
    w = np.zeros(N, np.float32)
    d = np.zeros(N, np.int8)
    d[: N // 2] = 1
    w = devs.pulse(w, d, np.random.default_rng(1))
    np.testing.assert_allclose(w[: N // 2], 0.001)  # the stored state: the plain step
    seen = devs.apparent(w) - w
    assert seen[: N // 2].std() == pytest.approx(0.02, rel=0.01)
    assert np.all(seen[N // 2:] == 0)


def test_d2d_step_size_asymmetry_and_bounds():
    law = ConstantStep(dw_min=0.001, up_down_dtod=0.05, dw_min_dtod=0.3, w_max_dtod=0.2,
                       w_min_dtod=0.1, w_min=-0.6, w_max=0.8)
    devs = law.instantiate((N,), np.random.default_rng(4), dtype=np.float64)
    s_up, s_dn = devs.p["s_up"], devs.p["s_dn"]
    gain = (s_up + s_dn) / 2 / 0.001
    assert gain.std() == pytest.approx(0.3, rel=0.01)
    assert ((s_up - s_dn) / 0.001).std() == pytest.approx(2 * 0.05, rel=0.01)
    assert devs.hi.mean() == pytest.approx(0.8, rel=0.005)
    assert devs.hi.std() == pytest.approx(0.2 * 0.8, rel=0.01)
    assert devs.lo.std() == pytest.approx(0.1 * 0.6, rel=0.01)
    assert np.all(devs.lo <= 0) and np.all(devs.hi >= 0)  # aihwkit keeps 0 in range
    logn = law.replace(dw_min_dtod_log_normal=True, up_down_dtod=0.0).instantiate((N,), 4)
    assert np.log(logn.p["s_up"] / 0.001).std() == pytest.approx(0.3, rel=0.01)


def test_d2d_nonlinearity_of_linear_step():
    gam = LinearStep(dw_min=0.001, gamma_up=0.5, gamma_up_dtod=0.05).instantiate((N,), 6)
    slope = -gam.p["b_up"] / gam.p["a_up"]  # γ / w_max
    assert slope.std() == pytest.approx(0.05, rel=0.01)


def test_stuck_devices():
    law = ConstantStep(dw_min=0.01, stuck_at_min=0.02, stuck_at_max=0.03, stuck_random=0.05)
    devs = law.instantiate((N,), 7)
    assert devs.stuck.mean() == pytest.approx(0.10, abs=0.003)
    w = devs.clip(np.zeros(N, np.float32))
    stuck_state = w[devs.stuck].copy()
    assert np.mean(stuck_state == -1) == pytest.approx(0.2, abs=0.01)
    assert np.mean(stuck_state == 1) == pytest.approx(0.3, abs=0.01)
    rng = np.random.default_rng(8)
    for d in (1, -1, 1):
        w = devs.pulses(w, np.full(N, 7 * d), rng)
    assert np.array_equal(w[devs.stuck], stuck_state)
    assert not np.array_equal(w[~devs.stuck], np.zeros((~devs.stuck).sum()))


def test_reruns_with_a_seed_are_identical():
    law = ExpStep(**RERAM_ES, dw_min_dtod=0.2, up_down_dtod=0.05, w_max_dtod=0.3, dw_min_std=5.0,
                  write_noise_std=75.0, stuck_random=0.01)
    runs = []
    for _ in range(2):
        devs = law.instantiate((64, 32), np.random.default_rng(11))
        rng = np.random.default_rng(12)
        w = devs.clip(np.zeros((64, 32), np.float32))
        for _ in range(5):
            w = devs.pulse(w, rng.integers(-1, 2, w.shape).astype(np.int8), rng)
            w = devs.pulses(w, rng.integers(-3, 4, w.shape), rng)
        runs.append((w, devs.apparent(w)))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


def test_arrays_round_trip():
    law = LinearStep(dw_min=0.002, gamma_up=0.1, gamma_down=0.5, gamma_up_dtod=0.05,
                     dw_min_dtod=0.1, w_max_dtod=0.05, w_min=-0.8)
    devs = law.instantiate((10, 8), 3)
    back = D.DeviceArray.from_arrays(law, (10, 8), devs.arrays())
    w = devs.clip(np.zeros((10, 8), np.float32))
    d = np.ones((10, 8), np.int8)
    np.testing.assert_array_equal(devs.pulse(w, d, np.random.default_rng(1)),
                                  back.pulse(w, d, np.random.default_rng(1)))


@pytest.mark.parametrize("make, message", [
    (lambda: ConstantStep(dw_min=0.0), r"dw_min must be in \(0, .*\]"),
    (lambda: ConstantStep(dw_min=1.5), r"at least 2 states"),
    (lambda: ConstantStep(dw_min_std=-0.1), r"dw_min_std must be ≥ 0"),
    (lambda: ConstantStep(up_down=1.0), r"up_down must be in \(−1, 1\)"),
    (lambda: ConstantStep(w_max_dtod=-1), r"w_max_dtod must be ≥ 0"),
    (lambda: ConstantStep(stuck_at_min=0.7, stuck_at_max=0.7), r"summing to ≤ 1"),
    (lambda: ConstantStep(w_max=float("nan")), r"w_max must be a finite number"),
    (lambda: SoftBounds(w_min=0.0), r"w_min < 0 < w_max"),
    (lambda: PowStep(pow_gamma=0), r"pow_gamma must be > 0"),
    (lambda: PiecewiseStep(piecewise_up=[1, 2], piecewise_down=[1]), r"same number"),
    (lambda: PiecewiseStep(piecewise_up=[-1.0], piecewise_down=[1.0]), r"≥ 0"),
    (lambda: Ideal(pulse_width_up=0.0), r"pulse_width_up must be > 0"),
    (lambda: LinearStep(gamma_up=-0.1), r"gamma_up must be ≥ 0"),
])
def test_impossible_parameters_are_refused(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


# -- NeuroSim ----------------------------------------------------------------------------------
# label → A/P_max from NeuroSim's table (formula.cpp getParamA / Nonlinearity-NormA.htm)
NEUROSIM_TABLE = [(0.01, 126.268958), (0.5, 2.519877), (1.0, 1.251653), (1.51, 0.819477),
                  (2.4, 0.499181), (3.01, 0.38531), (4.88, 0.200303), (6.01, 0.135117),
                  (7.51, 0.070151), (9.0, 0.02281)]


@pytest.mark.parametrize("label, a", NEUROSIM_TABLE)
def test_label_to_a_reproduces_neurosims_table(label, a):
    assert float(D.normalized_a(label)) == pytest.approx(a, rel=5e-5)
    assert float(D.normalized_a(-label)) == pytest.approx(-a, rel=5e-5)
    assert float(D.nonlinearity_label(a)) == pytest.approx(label, rel=5e-5, abs=1e-6)


def test_label_is_the_largest_deviation_from_linear():
    for a in (0.05, 0.3, 1.0, 7.0):
        x = np.linspace(0, 1, 200001)
        y = (1 - np.exp(-x / a)) / (1 - np.exp(-1 / a))
        assert (y - x).max() == pytest.approx(float(D.max_deviation(a)), abs=1e-9)
        assert float(D.nonlinearity_label(a)) == pytest.approx((y - x).max() / (0.07 * 2**0.5),
                                                                 abs=1e-7)
    labels = np.linspace(-10, 10, 41)
    np.testing.assert_allclose(D.nonlinearity_label(D.normalized_a(labels)), labels, atol=1e-9)
    assert D.normalized_a(0.0) == math.inf
    with pytest.raises(ConfigError, match="nonlinearity label"):
        D.normalized_a(10.2)


def test_neurosim_pulse_recovers_P_then_applies_G_of_P_plus_minus_one():
    law = NeuroSimNonlinear(w_min=0.08, w_max=1.0, levels=97, levels_ltd=100, nl_ltp=2.4,
                            nl_ltd=-4.88)
    A_p, A_d = law.A_ltp, law.A_ltd
    assert A_p == pytest.approx(0.499181 * 97, rel=5e-5) and A_d < 0
    span = 0.92
    B_p, B_d = span / (1 - math.exp(-97 / A_p)), span / (1 - math.exp(-100 / A_d))

    def f(G, d):  # NeuroSim RealDevice::Write with one pulse
        A, B = (A_p, B_p) if d > 0 else (A_d, B_d)
        P = -A * math.log(1 - (G - 0.08) / B)  # InvNonlinearWeight
        return B * (1 - math.exp(-(P + d) / A)) + 0.08 - G  # NonlinearWeight(P ± 1)

    expect = _iterate(f, 0.08, 97, 100, 0.08, 1.0)
    r = law.response(97, 100)
    np.testing.assert_allclose(r, expect, atol=1e-12)
    assert r[97] == pytest.approx(1.0, abs=1e-12)  # P_max LTP pulses span the range
    assert r[-1] == pytest.approx(0.08, abs=1e-12)  # and P_max LTD pulses come back
    assert law.step(0.5, 1) == pytest.approx(float(law.conductance(law.pulse_number(0.5) + 1)))


def test_neurosim_mirror_symmetry_and_linear_limit():
    lin = NeuroSimNonlinear(levels=50, nl_ltp=0.0, nl_ltd=0.0)
    np.testing.assert_allclose(lin.response(50, 50)[:51], np.arange(51) / 50, atol=1e-12)
    a = NeuroSimNonlinear(levels=40, nl_ltp=3.0)
    b = NeuroSimNonlinear(levels=40, nl_ltp=-3.0)
    P = np.arange(41)
    # y_{−A}(x) = 1 − y_A(1 − x): NeuroSim's LTD equation is its LTP one with −A
    np.testing.assert_allclose(b.conductance(P), 1 - a.conductance(40 - P), atol=1e-12)


def test_neurosim_train_is_closed_form_with_sigma_sqrt_n():
    law = NeuroSimNonlinear(levels=100, nl_ltp=1.0, nl_ltd=-2.0)
    devs = law.instantiate((7,), 0, dtype=np.float64)
    assert devs.closed_form
    n = np.array([0, 1, 5, 37, -3, -60, 200])
    w0 = np.full(7, 0.4)
    got = devs.pulses(w0, n)
    expect = [law._response(0.4, k, 0)[-1] if k >= 0 else law._response(0.4, 0, -k)[-1]
              for k in n]
    np.testing.assert_allclose(got, expect, atol=1e-12)
    noisy = law.replace(nl_ltp=0.0, nl_ltd=0.0, sigma_c2c=0.02).instantiate((200_000,), 0)
    w = np.full(200_000, 0.5, np.float32)
    rng = np.random.default_rng(3)
    one = noisy.pulse(w, 1, rng) - 0.5
    nine = noisy.pulses(w, np.full(200_000, 9), rng) - 0.5
    assert one.mean() == pytest.approx(0.01, abs=2e-4)
    assert one.std() == pytest.approx(0.02, rel=0.01)
    assert nine.mean() == pytest.approx(0.09, abs=5e-4)
    assert nine.std() == pytest.approx(0.06, rel=0.01)  # σ √9
    w9 = w.copy()
    for _ in range(9):  # pulse by pulse: the same statistics for a linear device
        noisy.pulse(w9, 1, rng, out=w9)
    assert (w9 - 0.5).std() == pytest.approx(0.06, rel=0.01)


NEUROSIM_LAW = NeuroSimNonlinear(levels=30, nl_ltp=3.0, nl_ltd=-1.5, w_min=-1)


def test_neurosim_pulses_equal_repeated_pulse_without_noise():
    check_pulses_equal_repeated_pulse(NEUROSIM_LAW)


def test_neurosim_pulse_moves_only_pulsed_devices():
    check_pulse_moves_only_pulsed_devices(NEUROSIM_LAW)


def test_neurosim_d2d_nonlinearity():
    law = NeuroSimNonlinear(levels=64, nl_ltp=2.0, nl_ltd=-3.0, sigma_d2d=0.5)
    devs = law.instantiate((50_000,), np.random.default_rng(5), dtype=np.float64)
    r_up = -np.log1p(devs.p["b_up"])  # one LTP pulse multiplies w − w_min by e^{−1/A}
    r_dn = np.log1p(devs.p["b_dn"])
    lab_up = D.nonlinearity_label(1 / (r_up * 64))
    lab_dn = D.nonlinearity_label(1 / (r_dn * 64))
    assert lab_up.mean() == pytest.approx(2.0, abs=0.01) and lab_up.std() == pytest.approx(
        0.5, rel=0.02)
    assert lab_dn.mean() == pytest.approx(-3.0, abs=0.01) and lab_dn.std() == pytest.approx(
        0.5, rel=0.02)


@pytest.mark.parametrize("make, message", [
    (lambda: NeuroSimNonlinear(levels=1), r"levels .* integer ≥ 2"),
    (lambda: NeuroSimNonlinear(levels_ltd=0), r"levels_ltd .* integer ≥ 2"),
    (lambda: NeuroSimNonlinear(w_min=1.0, w_max=1.0), r"w_max > w_min"),
    (lambda: NeuroSimNonlinear(w_min=0.5, w_max=0.2), r"w_max > w_min"),
    (lambda: NeuroSimNonlinear(nl_ltp=11), r"nl_ltp must be in \(−10.10, 10.10\)"),
    (lambda: NeuroSimNonlinear(sigma_c2c=-0.01), r"sigma_c2c must be ≥ 0"),
])
def test_impossible_neurosim_parameters_are_refused(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


# -- configuration -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(D.DEVICE_PRESETS))
def test_presets_round_trip_and_cite_sources(name, tmp_path):
    law = D.load_device(name)
    assert law.name == name and len(law.source) > 20
    assert DeviceLaw.from_dict(law.to_dict()) == law
    path = tmp_path / "dev.toml"
    path.write_text(law.to_toml())
    assert D.load_device(str(path)) == law
    assert law.states >= 2 and len(law.response(5, 5)) == 11


def test_neurosim_presets_are_the_published_table():
    assert D.NEUROSIM_DEVICES == ("ag-si", "taox-hfox", "pcmo", "alox-hfo2", "gst-pcm",
                                  "epiram", "hzo-fefet")
    table = {"ag-si": (97, 2.4, -4.88, 12.5, 0.035), "taox-hfox": (128, 0.04, -0.63, 10, 0.037),
             "pcmo": (50, 3.68, -6.76, 6.84, 0.01), "alox-hfo2": (40, 1.94, -0.61, 4.43, 0.05),
             "gst-pcm": (100, 0.105, 2.4, 19.8, 0.015), "epiram": (64, 0.5, -0.5, 50.2, 0.02),
             "hzo-fefet": (32, 1.75, 1.46, 45, 0.005)}
    for name, (levels, nl_p, nl_d, onoff, c2c) in table.items():
        law = D.load_device(name)
        assert (law.levels, law.nl_ltp, law.nl_ltd, law.sigma_c2c) == (levels, nl_p, nl_d, c2c)
        assert law.w_max / law.w_min == pytest.approx(onoff)
        assert law.pulse_width_up > 0 and law.pulse_voltage_up is not None
    assert D.load_device("ag-si").p_ltd == 100 and D.load_device("gst-pcm").p_ltd == 120
    acc = D.NEUROSIM_ACCURACY
    assert min(acc[k] for k in ("gst-pcm", "epiram", "hzo-fefet")) >= 0.8
    assert max(acc[k] for k in ("pcmo", "alox-hfo2")) <= 0.55


def test_aihwkit_presets_carry_aihwkits_values():
    es = D.load_device("reram-es")
    assert (es.dw_min, es.up_down, es.A_up, es.A_down, es.gamma_up, es.a, es.b,
            es.dw_min_std, es.write_noise_std) == (0.00135, 0.259359, -1.18445, -0.081404, 5.0,
                                                   -0.5, -0.5, 5.0, 75.0)
    ec = D.load_device("ecram")
    assert (ec.w_max, ec.w_min, ec.gamma_up, ec.gamma_down) == (1.1724, -0.8276, 0.1153, 0.5085)
    assert D.load_device("idealized").states == pytest.approx(10_000)
    assert D.load_device("reram-sb").mult_noise is False


def test_load_device_forms(tmp_path):
    law = D.load_device({"preset": "ag-si", "sigma_c2c": 0.0})
    assert law.sigma_c2c == 0.0 and law.levels == 97
    path = tmp_path / "mine.toml"
    path.write_text('law = "soft_bounds"\ndw_min = 0.01\nw_min = -1.0\nw_max = 1.0\n')
    assert D.load_device(path) == SoftBounds(dw_min=0.01)
    path.write_text('preset = "epiram"\nlevels = 128\n')
    assert D.load_device(path).levels == 128
    with pytest.raises(ConfigError, match="unknown device 'nope'"):
        D.load_device("nope")
    with pytest.raises(ConfigError, match="unknown parameter"):
        D.load_device({"law": "constant_step", "dw_minn": 0.1})
    with pytest.raises(ConfigError, match="unknown law"):
        D.load_device({"law": "magic"})
    with pytest.raises(ConfigError, match="whole number"):
        D.load_device({"law": "neurosim", "levels": 9.5})


# -- fitting -----------------------------------------------------------------------------------
def _write_csv(path, pulse, g, header="pulse,conductance_nS"):
    rows = "\n".join(f"{p:g},{x:.9g}" for p, x in zip(pulse, g))
    path.write_text(f"{header}\n{rows}\n")


def test_fit_neurosim_recovers_a_known_law(tmp_path):
    truth = D.load_device("ag-si").replace(sigma_c2c=0.0)
    w = truth.response(97, 100)
    g = 38.462 * w  # nS, G_max as in NeuroSim's Cell.cpp
    pulse = np.arange(198.0)
    path = tmp_path / "agsi.csv"
    _write_csv(path, pulse, g)
    fit = D.fit_law(path, law="neurosim")
    law = fit.law
    assert (law.levels, law.levels_ltd) == (97, 100)
    assert law.nl_ltp == pytest.approx(2.4, abs=0.01) and law.nl_ltd == pytest.approx(-4.88,
                                                                                      abs=0.01)
    assert law.w_max / law.w_min == pytest.approx(12.5, rel=1e-3)
    assert fit.g_scale == pytest.approx(38.462, rel=1e-4)
    assert fit.r2 > 0.99999 and fit.rmse < 1e-3 * 38.462
    assert "R² = 1.0000" in fit.summary()
    # pulse numbers that start again at 0 for LTD mean the same data
    restart = np.concatenate([np.arange(98.0), np.arange(1, 101.0)])
    again = D.fit_law(restart, g, law="neurosim")
    assert again.law.nl_ltd == pytest.approx(-4.88, abs=0.01)


def test_fit_neurosim_on_noisy_data():
    truth = D.load_device("ag-si").replace(sigma_c2c=0.01)
    devs = truth.instantiate((1,), 0, dtype=np.float64)
    rng = np.random.default_rng(21)
    w = devs.clip(np.zeros(1))
    g = [w[0]]
    for k in range(197):
        w = devs.pulse(w, 1 if k < 97 else -1, rng)
        g.append(w[0])
    phase = np.r_[np.ones(98), -np.ones(100)]
    fit = D.fit_law(None, np.array(g) * 38.462, law="neurosim", phase=phase)
    assert fit.r2 > 0.97
    assert fit.law.nl_ltp == pytest.approx(2.4, abs=0.7)
    assert fit.law.nl_ltd == pytest.approx(-4.88, abs=0.7)
    assert fit.c2c == pytest.approx(0.01, rel=0.3)
    assert fit.law.sigma_c2c == pytest.approx(fit.c2c, rel=1e-6)


@pytest.mark.parametrize("family, truth", [
    ("soft_bounds", SoftBounds(dw_min=0.02, up_down=0.1, w_min=-1.2, w_max=0.9)),
    ("constant_step", ConstantStep(dw_min=0.025, up_down=-0.2)),
    ("linear_step", LinearStep(dw_min=0.02, gamma_up=0.6, gamma_down=0.3)),
])
def test_fit_aihwkit_families_recover_a_known_law(family, truth):
    w = truth.response(120, 120)
    g = 5.0 + 2.0 * w  # µS: any offset and scale
    fit = D.fit_law(None, g, law=family)
    assert fit.r2 > 0.9999
    back = (fit.law.response(120, 120) * fit.g_scale + fit.g_offset)
    np.testing.assert_allclose(back, g, atol=2e-3 * 2.0 * (truth.w_max - truth.w_min))
    # the same step per pulse at the same conductance, up and down
    G = 5.0 + 2.0 * np.linspace(truth.w_min + 0.1, truth.w_max - 0.1, 7)
    for d in (1, -1):
        wt, wf = (G - 5.0) / 2.0, (G - fit.g_offset) / fit.g_scale
        np.testing.assert_allclose(fit.g_scale * (fit.law.step(wf, d) - wf),
                                   2.0 * (truth.step(wt, d) - wt), rtol=0.02)


def test_fit_reports_how_well_a_wrong_family_fits():
    w = D.load_device("pcmo").replace(sigma_c2c=0.0).response(50, 50)
    linear = D.fit_law(None, w, law="constant_step")
    right = D.fit_law(None, w, law="neurosim")
    assert right.r2 > 0.9999 > linear.r2 and right.rmse < linear.rmse / 10


@pytest.mark.parametrize("g, phase, message", [
    (np.r_[np.linspace(1, 2, 10), np.linspace(2, 1, 10)] * [1] * 20, np.r_[[-1] * 10, [1] * 10],
     "LTP rows first"),
    (np.r_[np.linspace(2, 1, 10), np.linspace(1, 0.5, 10)], np.r_[[1] * 10, [-1] * 10],
     "LTP phase .* not monotone"),
    (np.r_[np.linspace(1, 2, 10), np.linspace(2, 3, 10)], np.r_[[1] * 10, [-1] * 10],
     "LTD phase .* not monotone"),
    (np.r_[np.linspace(1, 2, 10), np.nan, np.linspace(2, 1, 9)], None, "row 11 .* finite"),
    (np.r_[np.linspace(-1, 2, 10), np.linspace(2, 1, 10)], None, "must be ≥ 0"),
    (np.array([1.0, 2, 3, 2]), None, "at least 6"),
    (np.r_[np.linspace(1, 2, 18), 1.9, 1.8], None, "at least 3 rows in each phase"),
])
def test_bad_pulse_data_is_refused(g, phase, message):
    with pytest.raises(DataError, match=message):
        D.fit_law(None, g, phase=phase)


def test_bad_csv_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("pulse,conductance\n0,1.0\n1,x\n")
    with pytest.raises(DataError, match="line 3"):
        D.fit_law(path)
    path.write_text("pulse,conductance,phase\n" + "".join(
        f"{i},{1 + i},{'sideways'}\n" for i in range(8)))
    with pytest.raises(DataError, match="phase 'sideways'"):
        D.read_pulse_csv(path)
    with pytest.raises(DataError, match="cannot read"):
        D.fit_law(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="cannot fit law 'magic'"):
        D.fit_law(None, np.r_[np.linspace(1, 2, 10), np.linspace(2, 1, 10)], law="magic")


def test_csv_layouts(tmp_path):
    g = np.r_[np.linspace(1, 2, 11), np.linspace(1.9, 1, 10)]
    path = tmp_path / "one.csv"
    path.write_text("# conductance per pulse\n" + "".join(f"{x}\n" for x in g))
    pulse, got, phase = D.read_pulse_csv(path)
    assert pulse is None and phase is None and np.allclose(got, g)
    path.write_text("Pulse,G (uS),Phase\n" + "".join(
        f"{i},{x},{'LTP' if i < 11 else 'LTD'}\n" for i, x in enumerate(g)))
    pulse, got, phase = D.read_pulse_csv(path)
    assert np.allclose(got, g) and list(phase[:11]) == [1] * 11 and list(phase[11:]) == [-1] * 10
    assert D.fit_law(path, law="constant_step").r2 > 0.999


# -- figures -----------------------------------------------------------------------------------
def test_pulse_response_curves():
    c = D.pulse_response_curves(D.load_device("ag-si"))
    assert len(c["w"]) == len(c["pulse"]) == len(c["ltp"]) == 2 * round(1.2 * 97) + 1
    assert np.all(c["step_up"] >= 0) and np.all(c["step_down"] >= 0)
    assert c["step_up"][0] > c["step_up"][-20]  # saturating LTP: large steps first


def test_plot_pulse_response(tmp_path):
    pytest.importorskip("matplotlib")
    from synapsenet.plots import plot_pulse_response

    path = tmp_path / "devices.png"
    plot_pulse_response([D.load_device(n) for n in ("ag-si", "epiram", "reram-sb")], path)
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("law", AIHWKIT_LAWS[:4] + [NEUROSIM_LAW], ids=lambda l: l.kind)
def test_trains_of_one_sign_add_up(law):
    devs = law.instantiate((500,), 0, dtype=np.float64)
    rng = np.random.default_rng(9)
    w = devs.clip(rng.uniform(-1, 1, 500))
    a = rng.integers(0, 20, 500) * rng.choice([-1, 1], 500)
    b = np.abs(rng.integers(0, 20, 500)) * np.sign(a)
    np.testing.assert_allclose(devs.pulses(devs.pulses(w, a), b), devs.pulses(w, a + b),
                               atol=1e-12)


@pytest.mark.parametrize("name", ["gst-pcm", "ag-si", "pcmo"])
def test_a_train_too_long_for_floats_ends_at_the_bound_it_runs_to(name):
    """A law whose steps grow one way (b > 0) makes (1 + b)^k overflow in a long train; the
    train then ends where the law runs, at a bound, as a train of pulse after pulse would:
    never NaN."""
    law = D.load_device(name).replace(sigma_c2c=0.0)
    arr = law.instantiate((2, 3), np.random.default_rng(0))
    w = np.full((2, 3), (law.w_min + law.w_max) / 2, np.float32)
    for n in (1e4, 1e6, 2.0 ** 24):
        for sign in (1, -1):
            out = arr.pulses(w.copy(), np.full((2, 3), sign * n, np.float32))
            assert np.isfinite(out).all(), (n, sign)
            # long enough to reach where a run of single pulses ends up
            step = w.copy()
            for _ in range(4 * int(law.states) + 10):
                step = arr.pulses(step, np.full((2, 3), sign, np.float32))
            np.testing.assert_allclose(out, step, atol=1e-5)
