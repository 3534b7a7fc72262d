"""The compiled stochastic pulse update (``kernels.PulseKernel``, _accel/pulses.c) against its
NumPy twin (``DeviceSynapses._fire``, ``_coincide``, ``_apply_at``), in the manner of
tests/test_kernels.py.

The kernel splits in two. Given the slots each input and delta fires in, what follows is
deterministic — the coincidence counts and, on noiseless devices, the trains — and must equal
NumPy's computation from the same slots: integer counts exactly, device states and the
weights the chip reads bit for bit where the kernel repeats NumPy's float32 operations (every
law with constant steps or shared coefficients), to float32 rounding where it evaluates the
closed form itself (curved steps of a device's own). The generator — the kernel's own, seeded
from the chip's — is tested for what it must get right: firing frequencies equal to the
probabilities, trains whose mean is the gradient step, train noise of the law's σ√k, and a
whole training run as accurate as NumPy's. Every test runs on each instruction set the
machine has (``_engine.using(isa=…)``) and checks the path the kernel reports it took; with
``SYNAPSENET_KERNELS=portable`` (a CI step) only the portable copy runs.
"""

import os

import numpy as np
import pytest

import synapsenet as sn
from synapsenet import _engine, hardware
from synapsenet.hardware import kernels
from synapsenet.hardware import devices
from synapsenet.hardware.learning import WRITE_BATCHES, DeviceSynapses, LearningConfig
from test_chip_learning import assert_weight_copies_in_step

if os.environ.get("SYNAPSENET_REQUIRE_ENGINE") == "1":
    assert _engine._LIB is not None, "the compiled library was not built"
pytestmark = pytest.mark.skipif(kernels.pulses_unsupported() is not None,
                                reason=f"no compiled pulse update: "
                                       f"{kernels.pulses_unsupported()}")

ISAS = ["portable", "avx2"]  # the copies of the kernel (avx2 runs where the CPU has it)

# noiseless laws: constant steps shared or per device (with stuck devices), curved steps with
# shared coefficients (the table) or per device (the closed form)
LAWS = {
    "ideal-steps": (devices.Ideal(dw_min=0.01, continuous=False), True),
    "constant-asymmetric": (devices.ConstantStep(dw_min=0.01, up_down=0.2), True),
    "constant-spread": (devices.ConstantStep(
        dw_min=0.01, dw_min_dtod=0.3, up_down=0.1, up_down_dtod=0.05, w_max_dtod=0.3,
        w_min_dtod=0.3, stuck_at_max=0.05, stuck_random=0.05), True),
    "linear-shared": (devices.LinearStep(dw_min=0.02, gamma_up=0.5, gamma_down=0.3), True),
    "ag-si-shared": (devices.load_device("ag-si").replace(sigma_c2c=0.0), True),
    "linear-spread": (devices.LinearStep(dw_min=0.02, gamma_up=0.5, gamma_down=0.3,
                                         gamma_up_dtod=0.2, dw_min_dtod=0.2), False),
    "soft-bounds-spread": (devices.SoftBounds(dw_min=0.02, w_max_dtod=0.2, w_min_dtod=0.2),
                           False),
}


def law_file(tmp_path, law, name="law"):
    path = tmp_path / f"{name}.toml"
    path.write_text(law.to_toml())
    return str(path)


def synapses(tmp_path, law, n_in=13, n_out=7, pulse_length=31, seed=0, weight_max=1.0,
             synapse="reference", refresh_at=0.95, adaptive=False):
    cfg = LearningConfig(device=law_file(tmp_path, law), synapse=synapse, scheme="stochastic",
                         pulse_length=pulse_length, weight_max=weight_max,
                         refresh_at=refresh_at, adaptive_pulse_length=adaptive)
    rng = np.random.default_rng(seed)
    W = rng.uniform(-0.4, 0.4, (n_out, n_in)).astype(np.float32)
    layer = sn.Dense(n_in, n_out, "identity", W=W, b=np.zeros(n_out))
    return DeviceSynapses(layer, cfg, np.random.default_rng(seed)), layer


def batch(n_in, n_out, B, seed=0):
    """Inputs and deltas with zeros (rows of all-zero too), both signs and probabilities
    beyond 1 (capped) in some samples."""
    rng = np.random.default_rng(seed)
    Z = rng.uniform(-1, 1, (B, n_in)).astype(np.float32)
    Z[rng.random((B, n_in)) < 0.3] = 0
    D = (rng.standard_normal((B, n_out)) * 0.02).astype(np.float32)
    D[rng.random((B, n_out)) < 0.2] = 0
    D[1] = 0  # a sample without any delta: no trains
    D[2, 0] = 2.0  # one large delta: its probability capped
    return Z, D


def pack(bits):
    """(B, BL, n) booleans → (B, n) uint64 slot masks, slot s in bit s."""
    weights = np.uint64(1) << np.arange(bits.shape[1], dtype=np.uint64)
    return np.ascontiguousarray((bits.astype(np.uint64) * weights[:, None]).sum(axis=1,
                                                                                dtype=np.uint64))


def numpy_twin(syn, Z, D, Xs, Ds):
    """NumPy's update of the batch from the given slots (booleans (B, BL, n))."""
    for b in range(len(Z)):
        pq = syn._probabilities(Z[b], D[b])
        if pq is None:
            continue
        syn.capped += int((pq[0] > 1).sum() + (pq[1] > 1).sum())
        index, n = syn._coincide(Xs[b], Ds[b], Z[b], D[b])
        if len(index):
            syn._apply_at(index, n, None)


def expected_paths(isa):
    with _engine.using(isa=isa):
        return {"pulses_avx2"} if _engine.isa_in_use() != "portable" else set()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", list(LAWS))
@pytest.mark.parametrize("pulse_length,synapse", [(31, "reference"), (64, "reference"),
                                                  (5, "reference"), (31, "pair")])
def test_given_slots_give_numpys_update(tmp_path, name, isa, pulse_length, synapse):
    law, exact = LAWS[name]
    # a pair refreshed past a third of its range: many pairs are, in a few samples
    kw = dict(pulse_length=pulse_length, synapse=synapse, refresh_at=0.35)
    twin, layer = synapses(tmp_path, law, **kw)
    syn, _ = synapses(tmp_path, law, **kw)
    assert syn.kernel_unsupported() is None and syn.engine == "compiled"
    Z, D = batch(13, 7, 9)
    rng = np.random.default_rng(5)
    Xs = rng.random((9, pulse_length, 13)) < 0.3
    Ds = rng.random((9, pulse_length, 7)) < 0.4
    twin.meter = True  # and the tally of what the pulses cost, sample by sample
    numpy_twin(twin, Z, D, Xs, Ds)
    # the weights' copies the kernel writes: W, a strided view (the layer's, a view of its
    # Wᵀ), the crossbar's Wn_T and its copy in ADC steps
    W = syn.weights()
    WT2 = np.ascontiguousarray(W.T)
    WnT = np.ascontiguousarray(np.clip(W.T * np.float32(1.0), -1, 1))
    g = np.float32(3.7)
    scaled = np.ascontiguousarray(WnT * g)
    mirror = (W, WT2.T, WnT, scaled, np.float32(syn.gamma), np.float32(syn.w_ref),
              np.float32(1.0), g)
    C = 1.0 / (syn.gamma * syn.dw * pulse_length)
    before = syn.states[0].copy()
    with _engine.using(isa=isa):
        meter = (syn.law.w_min, syn.law.w_max, -(-7 // WRITE_BATCHES))
        pulses, capped, hits, paths, tally = syn.kernel()(
            Z, D, pulse_length, C, 1, mirror=mirror, masks=(pack(Xs), pack(Ds)), given=True,
            meter=meter)
    assert _engine.path_names(paths) == expected_paths(isa)
    assert pulses == twin.pulses > 0
    assert capped == twin.capped > 0
    for want, got in zip(twin.states, syn.states):
        if exact:
            np.testing.assert_array_equal(got, want)
        else:  # the closed form in C's expf/log1pf, NumPy's in its own: a few float32 ulps
            np.testing.assert_allclose(got, want, rtol=0, atol=4 * np.spacing(np.float32(1)))
    assert 0 < np.count_nonzero(syn.states[0] != before) <= hits + tally["refreshes"]
    if synapse == "pair":
        assert tally["refreshes"] == twin.refreshes > 0
    for name, v in tally.items():
        if name.startswith("pulse_state"):  # float32 sums in NumPy, double in the kernel
            assert v == pytest.approx(twin.tally[name], rel=1e-5), name
        else:
            assert v == twin.tally[name], name
    assert tally["pulses_up"] + tally["pulses_down"] == pulses
    assert tally["write_steps_up"] > 0  # (a pair's pulses all potentiate)
    assert (tally["write_steps_down"] > 0) == (synapse == "reference")
    Wt = syn.weights()
    np.testing.assert_array_equal(W, Wt)  # written device by device as NumPy reads them all
    np.testing.assert_array_equal(WT2, Wt.T)
    np.testing.assert_array_equal(WnT, np.clip(Wt.T * np.float32(1.0), -1, 1))
    np.testing.assert_array_equal(scaled, WnT * g)


@pytest.mark.parametrize("isa", ISAS)
def test_inputs_and_deltas_fire_at_their_probabilities(tmp_path, isa):
    syn, _ = synapses(tmp_path, LAWS["ideal-steps"][0], n_in=6, n_out=3)
    z = np.array([0.9, -0.5, 0.0, 0.05, 1.0, -0.2], np.float32)
    d = np.array([0.02, -0.004, 1.5], np.float32)  # the last one capped
    B = 3000
    Z, D = np.tile(z, (B, 1)), np.tile(d, (B, 1))
    XM, DM = np.zeros((B, 6), np.uint64), np.zeros((B, 3), np.uint64)
    C = 1.0 / (syn.gamma * syn.dw * 31)
    with _engine.using(isa=isa):
        _, capped, _, paths = syn.kernel()(Z, D, 31, C, 7, masks=(XM, DM))
    assert _engine.path_names(paths) == expected_paths(isa)
    p, q, _ = syn._probabilities(z, d)
    assert capped == B * int((p > 1).sum() + (q > 1).sum()) > 0
    for masks, probs in ((XM, p), (DM, q)):
        bits = (masks[:, :, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
        assert not bits[:, :, 31:].any()  # no slot beyond BL
        freq = bits[:, :, :31].mean(axis=(0, 2))
        want = np.minimum(probs, 1)
        sigma = np.sqrt(want * (1 - want) / (B * 31)) + 1e-12
        assert np.all(np.abs(freq - want) <= 5 * sigma + 1e-9), (freq, want)
        # slots independent of each other: the same frequency in every slot
        per_slot = bits[:, :, :31].mean(axis=0)
        assert np.abs(per_slot - want[:, None]).max() < 6 * np.sqrt(0.25 / B)


@pytest.mark.parametrize("isa", ISAS)
def test_a_slot_whose_top_byte_ties_with_p_is_decided_by_the_bits_below(tmp_path, isa):
    """A train is drawn byte by byte: a slot fires where its uniform's top byte is below p's,
    and where the two are equal (1 in 256) by the uniform's next bits. At p = 3/512 (top byte
    1, then one half) the slots fire 1/256 of the time by their byte and 1/512 by a tie:
    a tie never firing would give 2/512, always firing 4/512 — each 35 σ away here."""
    syn, _ = synapses(tmp_path, LAWS["ideal-steps"][0], n_in=6, n_out=3)
    p = 3 / 512
    B = 20000
    Z, D = np.ones((B, 6), np.float32), np.ones((B, 3), np.float32)
    XM, DM = np.zeros((B, 6), np.uint64), np.zeros((B, 3), np.uint64)
    with _engine.using(isa=isa):  # C = p²: p for every train (δ's fire first, in all slots)
        syn.kernel()(Z, D, 31, p * p, 11, masks=(XM, DM))
    bits = (DM[:, :, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    assert not bits[:, :, 31:].any()
    n = B * 3 * 31
    freq = bits.sum() / n
    assert abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n), (freq, p)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("scale", [1.0, 0.02])
def test_the_second_side_fires_only_where_the_first_does(tmp_path, isa, scale):
    """The vector with fewer trains (here δ) fires first; the other's trains are drawn only
    in the slots it fires in — at their own probability there, and nowhere else (where no
    pulse could meet them). Small probabilities take the binomial way over those slots."""
    syn, _ = synapses(tmp_path, LAWS["ideal-steps"][0], n_in=3, n_out=2)
    z = np.array([1.0, 0.5, -0.25], np.float32)
    d = np.array([0.03, -0.02], np.float32) * np.float32(scale)
    B = 40000
    XM, DM = np.zeros((B, 3), np.uint64), np.zeros((B, 2), np.uint64)
    C = 1.0 / (syn.gamma * syn.dw * 31)
    with _engine.using(isa=isa):
        syn.kernel()(np.tile(z, (B, 1)), np.tile(d, (B, 1)), 31, C, 5, masks=(XM, DM))
    p, q, _ = syn._probabilities(z, d)
    slots = np.arange(31, dtype=np.uint64)
    unpack = lambda M: ((M[:, :, None] >> slots) & np.uint64(1)).astype(bool)  # noqa: E731
    X, D = unpack(XM), unpack(DM)
    U = D.any(axis=1)  # (B, 31): the slots some delta fires in
    assert not (X & ~U[:, None, :]).any()
    freq_d = D.mean(axis=(0, 2))
    assert np.all(np.abs(freq_d - q) <= 5 * np.sqrt(q * (1 - q) / (B * 31))), (freq_d, q)
    n = U.sum()
    freq_x = (X & U[:, None, :]).sum(axis=(0, 2)) / n
    assert np.all(np.abs(freq_x - p) <= 5 * np.sqrt(p * (1 - p) / n)), (freq_x, p)


@pytest.mark.parametrize("isa", ISAS)
def test_the_kernels_trains_are_unbiased(tmp_path, isa):
    """E[pulses × step] = −δ zᵀ, as test_chip_learning checks of NumPy's trains (bounds far
    away, γ = 1: the states add up the trains unclipped)."""
    law = devices.Ideal(dw_min=0.01, continuous=False, w_min=-1e3, w_max=1e3)
    syn, _ = synapses(tmp_path, law, n_in=4, n_out=3, weight_max=1e3)
    assert syn.gamma == 1
    syn.states[0][...] = 0
    z = np.array([0.9, -0.4, 0.0, 0.2], np.float32)
    d = np.array([0.02, -0.05, 0.01], np.float32)
    trials = 4000
    C = 1.0 / (syn.gamma * syn.dw * 31)
    with _engine.using(isa=isa):
        syn.kernel()(np.tile(z, (trials, 1)), np.tile(d, (trials, 1)), 31, C, 11)
    mean_update = syn.states[0] / trials * syn.gamma
    want = -np.outer(d, z)
    np.testing.assert_allclose(mean_update, want, atol=0.1 * np.abs(want).max())
    assert np.all(mean_update[:, 2] == 0)  # a silent input fires no pulse


@pytest.mark.parametrize("isa", ISAS)
def test_the_train_noise_is_the_laws(tmp_path, isa):
    """k pulses of a noisy ConstantStep: k s + s σ √k ξ, ξ standard normal."""
    law = devices.ConstantStep(dw_min=0.001, dw_min_std=0.3, dw_min_dtod=0.2, w_min=-5,
                               w_max=5)
    syn, _ = synapses(tmp_path, law, n_in=100, n_out=100, pulse_length=16)
    before = syn.states[0].copy()
    ones = np.full((1, 100), 1.0, np.float32), np.full((1, 100), -1.0, np.float32)
    XM = np.full((1, 100), (1 << 16) - 1, np.uint64)  # every slot: k = 16 each, up
    DM = np.full((1, 100), (1 << 16) - 1, np.uint64)
    with _engine.using(isa=isa):
        pulses, _, hits, _ = syn.kernel()(*ones, 16, 1.0, 3, masks=(XM, DM), given=True)
    assert hits == 10000 and pulses == 16 * 10000
    s = syn.devices[0].p["s_up"]
    xi = (syn.states[0] - before - 16 * s) / (s * 0.3 * 4)
    assert abs(xi.mean()) < 5 / np.sqrt(xi.size)
    assert abs(xi.std() - 1) < 0.03
    # normal, not merely of unit variance: its mass within 1 and beyond 2 and 3 σ
    for t, mass in ((1, 0.6827), (2, 0.0455), (3, 0.0027)):
        share = (np.abs(xi) < 1).mean() if t == 1 else (np.abs(xi) > t).mean()
        assert abs(share - mass) < 5 * np.sqrt(mass * (1 - mass) / xi.size), (t, share)


@pytest.mark.parametrize("isa", ISAS)
def test_adaptive_trains_are_as_long_as_the_largest_update_needs(tmp_path, isa):
    """aihwkit's update_bl_management: a sample's train has ⌈max|z| max|δ| / (γ Δw)⌉ slots,
    1 at least and BL at most, and its inputs and deltas fire in them at the probabilities
    NumPy's twin gives (no probability past 1 below the cap)."""
    syn, _ = synapses(tmp_path, LAWS["ideal-steps"][0], n_in=5, n_out=3, adaptive=True)
    z = np.array([0.9, -0.5, 0.0, 0.3, 1.0], np.float32)
    B = 6000
    for scale, want_bl in ((1e-4, 1), (0.013, None), (0.2, None), (3.0, 31)):
        d = np.array([0.2, -0.1, 0.05], np.float32) * np.float32(scale)
        p, q, bl = syn._probabilities(z, d)
        most = 1.0 * np.abs(z).max() * np.abs(d).max() / (syn.gamma * syn.dw)
        assert bl == (want_bl or int(np.ceil(most))) and 1 <= bl <= 31
        if bl < 31:
            assert p.max() <= 1 and q.max() <= 1
        XM, DM = np.zeros((B, 5), np.uint64), np.zeros((B, 3), np.uint64)
        C = 1.0 / (syn.gamma * syn.dw * 31)
        with _engine.using(isa=isa):
            syn.kernel()(np.tile(z, (B, 1)), np.tile(d, (B, 1)), 31, C, 3, masks=(XM, DM),
                         adaptive=True)
        for M in (XM, DM):  # only the sample's first BL slots
            assert not (M >> np.uint64(bl)).any()
        slots = np.arange(bl, dtype=np.uint64)
        bits = ((DM[:, :, None] >> slots) & np.uint64(1)).astype(bool)
        freq = bits.mean(axis=(0, 2))  # the deltas drawn first: in every slot
        tol = 5 * np.sqrt(np.minimum(q, 1) * (1 - np.minimum(q, 1)) / (B * bl)) + 1e-9
        assert np.all(np.abs(freq - np.minimum(q, 1)) <= tol), (scale, freq, q)


@pytest.mark.parametrize("adaptive", [False, True])
def test_adaptive_or_not_the_trains_are_unbiased(tmp_path, adaptive):
    """E[pulses × step] = −δ zᵀ whatever the train's length (bounds far away, γ = 1)."""
    law = devices.Ideal(dw_min=0.01, continuous=False, w_min=-1e3, w_max=1e3)
    syn, _ = synapses(tmp_path, law, n_in=4, n_out=3, weight_max=1e3, adaptive=adaptive)
    syn.states[0][...] = 0
    z = np.array([0.9, -0.4, 0.0, 0.2], np.float32)
    d = np.array([0.02, -0.05, 0.01], np.float32)
    trials = 6000
    C = 1.0 / (syn.gamma * syn.dw * 31)
    syn.kernel()(np.tile(z, (trials, 1)), np.tile(d, (trials, 1)), 31, C, 11,
                 adaptive=adaptive, threads=2)
    mean_update = syn.states[0] / trials * syn.gamma
    want = -np.outer(d, z)
    np.testing.assert_allclose(mean_update, want, atol=0.1 * np.abs(want).max())


@pytest.mark.parametrize("shape,B", [((130, 20), 37), ((7, 200), 37), ((70, 9), 300)])
@pytest.mark.parametrize("synapse", ["reference", "pair"])
def test_the_same_devices_on_any_number_of_threads(tmp_path, shape, B, synapse):
    """The trains come in chunks of samples and the devices in lanes (of rows; of columns
    where there are fewer than 64), each from a generator of its own, 256 samples at a
    time: 1, 2 or 3 threads, metered or not, leave the same states and counts."""
    n_out, n_in = shape
    law = devices.ConstantStep(dw_min=0.01, dw_min_std=0.3, dw_min_dtod=0.2, w_min=-1,
                               w_max=1)
    Z, D = batch(n_in, n_out, B, seed=4)  # (not a whole number of chunks)
    out = {}
    for threads, meter in ((1, None), (2, None), (3, None), (2, (-1.0, 1.0, 16))):
        for adaptive in (False, True):
            syn, _ = synapses(tmp_path, law, n_in=n_in, n_out=n_out, synapse=synapse,
                              refresh_at=0.6, adaptive=adaptive)
            C = 1.0 / (syn.gamma * syn.dw * 31)
            counts = syn.kernel()(Z, D, 31, C, 9, adaptive=adaptive, threads=threads,
                                  meter=meter)
            out[threads, meter is None, adaptive] = [w.copy() for w in syn.states], counts[:3]
    for (threads, plain, adaptive), (states, counts) in out.items():
        first_states, first_counts = out[1, True, adaptive]
        assert counts == first_counts, (threads, plain, adaptive)
        assert all(np.array_equal(a, b) for a, b in zip(states, first_states))
    assert out[1, True, True][1][0] > 0 and out[1, True, False][1][0] > 0
    assert not np.array_equal(out[1, True, True][0][0], out[1, True, False][0][0])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_input_or_delta_fires_nothing(tmp_path, isa, bad):
    """As in the twin, whose probabilities are then NaN: no pulse, no device changed (the
    training loop stops on the loss before such an update is asked for)."""
    law = devices.ConstantStep(dw_min=0.01, dw_min_std=0.3)
    for side in ("z", "d"):
        syn, _ = synapses(tmp_path, law, n_in=5, n_out=3, adaptive=True)
        before = syn.states[0].copy()
        Z = np.tile(np.array([0.9, -0.5, 0.0, 0.3, 1.0], np.float32), (40, 1))
        D = np.tile(np.array([0.2, -0.1, 0.05], np.float32), (40, 1))
        (Z if side == "z" else D)[:, 1] = bad
        C = 1.0 / (syn.gamma * syn.dw * 31)
        with _engine.using(isa=isa):
            pulses, _, hits, _ = syn.kernel()(Z, D, 31, C, 3, adaptive=True, threads=2)
        assert pulses == hits == 0 and np.array_equal(syn.states[0], before), side
        with np.errstate(invalid="ignore"):  # (∞ · 0 in the twin's probabilities)
            for b in range(len(Z)):  # the twin's trains: none either
                assert len(syn._coincidences(Z[b], D[b], np.random.default_rng(b))[0]) == 0


def small_problem():
    rng = np.random.default_rng(0)
    X = rng.random((600, 10), dtype=np.float32)
    y = (X[:, :3].sum(axis=1) > X[:, 3:6].sum(axis=1)).astype(int)
    return X, y


def chip_run(X, y, seed, device="gokmen-vlasov", engine=None, monkeypatch=None, meter=False,
             **learning):
    if engine == "numpy":
        monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy")
    else:
        monkeypatch.delenv("SYNAPSENET_ENGINE", raising=False)
    cfg = hardware.load_config("ideal").replace(**{
        "learning.device": device, "learning.scheme": "stochastic",
        "learning.synapse": "reference", "learning.weight_max": 0.6,
        **{f"learning.{k}": v for k, v in learning.items()}})
    net = sn.Network.from_sizes([10, 16, 2], hidden="sigmoid", output="softmax", seed=seed)
    chip = hardware.deploy(net, cfg, seed=seed, meter=meter)
    chip.fit(X, y, epochs=6, learning_rate=0.5, loss="cross_entropy", batch_size=16, seed=seed)
    return chip


def test_a_training_run_is_as_accurate_as_numpys(monkeypatch):
    """The same training on gokmen-vlasov devices, compiled and NumPy, three seeds each: the
    two generators' mean accuracies agree to within 0.05 (measured: 0.83 and 0.84 over these
    seeds, which spread from 0.75 to 0.96; a constant guess scores about 0.5)."""
    X, y = small_problem()
    acc = {}
    for engine in ("compiled", "numpy"):
        acc[engine] = []
        for seed in range(3):
            chip = chip_run(X, y, seed, engine=engine, monkeypatch=monkeypatch)
            want = "compiled" if engine == "compiled" else "numpy (SYNAPSENET_ENGINE=numpy)"
            assert all(s.engine == want for s in chip.substrate.synapses)
            acc[engine].append(chip.evaluate(X, y)["accuracy"])
    assert min(acc["compiled"]) > 0.7 and min(acc["numpy"]) > 0.7, acc
    assert abs(np.mean(acc["compiled"]) - np.mean(acc["numpy"])) < 0.05, acc


@pytest.mark.parametrize("learning", [{}, {"synapse": "pair", "refresh_at": 0.5}])
def test_compiled_training_reruns_identically_and_leaves_the_chip_consistent(monkeypatch,
                                                                             learning):
    X, y = small_problem()
    a = chip_run(X[:200], y[:200], 1, monkeypatch=monkeypatch, **learning)
    b = chip_run(X[:200], y[:200], 1, monkeypatch=monkeypatch, **learning)
    metered = chip_run(X[:200], y[:200], 1, monkeypatch=monkeypatch, meter=True, **learning)
    for p, q, r in zip(a.parameters(), b.parameters(), metered.parameters()):
        assert np.array_equal(p, q) and np.array_equal(p, r)  # the tally draws nothing
    total = metered.substrate.counters.total()
    assert total.pulses_up + total.pulses_down == total.write_pulses == a.substrate.pulses
    assert total.write_steps_up > 0 and total.rows_written > 0
    sub = a.substrate
    if learning:  # pairs refreshed, counted alike metered or not
        assert total.refreshes == sub.describe()["refreshes"] > 0
    assert sub.pulses > 0
    assert sub.counters.total().write_pulses == sub.pulses
    assert all(syn.engine == "compiled" for syn in sub.synapses)
    assert_weight_copies_in_step(a)


@pytest.mark.parametrize("meter", [False, True])
def test_a_steps_layers_updated_together_leave_the_devices_of_one_after_the_other(
        monkeypatch, meter):
    """Analog.updates holds each layer's compiled update back and runs the step's layers in
    one call (their trains, then their lanes, sharing the cores): the same devices, pulses and
    counters as each layer's update at once, for each seed is drawn where it is asked for."""
    import contextlib

    from synapsenet.hardware.crossbar import Analog

    X, y = small_problem()
    runs, sizes = [], []
    real = kernels.run_jobs
    monkeypatch.setattr(kernels, "run_jobs", lambda jobs, threads=1: (
        sizes.append(len(jobs)), real(jobs, threads))[1])
    for together in (True, False):
        if not together:
            assert set(sizes) == {3}  # every step's three layers in one call
            monkeypatch.setattr(Analog, "updates", lambda self: contextlib.nullcontext())
        cfg = hardware.load_config("ideal").replace(**{
            "learning.device": "gokmen-vlasov", "learning.scheme": "stochastic",
            "learning.synapse": "reference", "learning.weight_max": 0.6})
        net = sn.Network.from_sizes([10, 80, 16, 2], hidden="sigmoid", output="softmax",
                                    seed=3)
        chip = hardware.deploy(net, cfg, seed=3, meter=meter)
        chip.fit(X[:300], y[:300], epochs=2, learning_rate=0.5, loss="cross_entropy",
                 batch_size=32, seed=3)
        runs.append(chip)
    a, b = runs
    assert set(sizes) == {3, 1}
    for p, q in zip(a.parameters(), b.parameters()):
        assert np.array_equal(p, q)
    assert a.substrate.pulses == b.substrate.pulses > 0
    assert a.substrate.counters.as_dict() == b.substrate.counters.as_dict()
    assert_weight_copies_in_step(a)


def test_a_copy_of_the_synapses_binds_a_kernel_of_its_own(tmp_path):
    import copy

    syn, _ = synapses(tmp_path, LAWS["ideal-steps"][0])
    assert syn.kernel() is not None
    twin = copy.deepcopy(syn)
    Z, D = batch(13, 7, 4)
    before = syn.states[0].copy()
    assert twin._compiled(Z, D, np.random.default_rng(0), None)
    assert np.array_equal(syn.states[0], before)  # the original's devices untouched
    assert twin.kernel().states is twin.states[0] and twin.pulses > syn.pulses


@pytest.mark.parametrize("learning,why", [
    ({"pulse_length": 100}, "numpy (pulse_length 100 is over the kernel's 64 slots)"),
    ({"device": "ecram"}, "numpy (the device law has no closed form for a train of pulses)"),
    ({"device": "idealized-wn"}, "numpy (the device law has write noise"),
    ({"env": True}, "numpy (SYNAPSENET_ENGINE=numpy)"),
])
def test_what_the_kernel_does_not_take_runs_in_numpy_and_says_why(tmp_path, monkeypatch,
                                                                  learning, why):
    X, y = small_problem()
    learning = dict(learning)
    meter, env = learning.pop("meter", False), learning.pop("env", False)
    if learning.get("device") == "idealized-wn":
        learning["device"] = law_file(tmp_path, devices.load_device("idealized").replace(
            write_noise_std=1.0))
    cfg = hardware.load_config("ideal").replace(**{
        "learning.scheme": "stochastic", "learning.synapse": "reference",
        "learning.device": "idealized", **{f"learning.{k}": v for k, v in learning.items()}})
    if env:
        monkeypatch.setenv("SYNAPSENET_ENGINE", "numpy")
    chip = hardware.deploy(sn.Network.from_sizes([10, 4, 2], seed=0), cfg, meter=meter)
    chip.fit(X[:64], y[:64], epochs=1, learning_rate=0.5, batch_size=16, seed=0)
    assert chip.substrate.pulses > 0
    for syn in chip.substrate.synapses:
        assert syn.engine.startswith(why), syn.engine
        assert syn.kernel() is None
