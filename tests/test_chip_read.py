"""The chip's read of a layer in one compiled call (``_accel/chipread.c``) against its twin,
``CrossbarArray.matvec``'s NumPy lines (``_engine.using(fused_read=0)``).

Both make the same float32 operations in the same order, so they must give the same bits on
every configuration: DAC or none, ADC bits and ranges, read and output noise, tile heights
that split the inputs into one to thirteen blocks, batch sizes around the kernel's group of
12 rows, sparse, dense, negative and non-finite inputs — and leave the chip's generator in
the same state. Where the call does not apply (no AVX-512 product, fixed input scaling, bit-
serial or 1-bit inputs, read noise on continuous inputs, the meter) the twin runs and the
test says so. Under ``SYNAPSENET_KERNELS=portable`` (a CI step) the twin runs throughout.
"""

import numpy as np
import pytest

import synapsenet as sn
from synapsenet import _engine, hardware
from synapsenet.hardware import kernels
from synapsenet.errors import ConfigError
from synapsenet.hardware.crossbar import CrossbarArray

OWN = _engine.AVAILABLE and _engine.cpu_isa() == "avx512" and \
    _engine.isa_in_use() == "avx512" and not _engine.numpy_forced()
own = pytest.mark.skipif(not OWN, reason="no AVX-512 product here (or capped): the twin runs")


def inputs(kind, n, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, k), dtype=np.float32)
    if kind == "sparse":  # MNIST-like: most pixels 0
        X[X < 0.8] = 0
    elif kind == "signed":
        X = X * 2 - 1
    elif kind == "zero_rows":
        X[::3] = 0
    elif kind == "nonfinite":
        X[1, 5] = np.nan
        if n > 3:
            X[3, 0] = np.inf
            X[min(4, n - 1), 7] = -np.inf
    return X


class Spy:
    """Which read ran: ``ran``, the one call's answers; ``twin``, the NumPy lines' runs."""

    def __init__(self, monkeypatch):
        self.ran, self.twin = [], 0
        real, twin = kernels.read_args, CrossbarArray._read

        def spy(*a, **k):  # (a read made ready is run at once)
            made = real(*a, **k)
            self.ran.append(made is not None)
            return made

        def spy_twin(*a, **k):
            self.twin += 1
            return twin(*a, **k)
        monkeypatch.setattr(kernels, "read_args", spy)
        monkeypatch.setattr(CrossbarArray, "_read", spy_twin)


def reads(net, cfg, X, fused, **settings):
    """Two predictions from a fresh chip (the second from the generator the first left)."""
    chip = hardware.deploy(net, cfg, seed=7)
    with _engine.using(fused_read=fused, **settings):
        return chip.predict(X), chip.predict(X[::-1].copy())


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


CONFIGS = {
    "ideal": {},
    "pcm": "pcm",
    "rram": "rram",
    "dac4_adc6_noisy": {"io.dac_bits": 4, "io.adc_bits": 6, "io.adc_range": 3.0,
                        "io.out_noise": 0.05, "device.read_noise": 0.03},
    "dac8_no_adc": {"io.dac_bits": 8, "io.out_noise": 0.02},
    "no_dac_adc8_out_noise": {"io.adc_bits": 8, "io.out_noise": 0.02},
    "read_noise_only_tiles_64": {"io.dac_bits": 7, "device.read_noise": 0.05,
                                 "tile.rows": 64},
    "saturating_tiles_100": {"io.dac_bits": 5, "io.adc_bits": 5, "io.adc_range": 0.5,
                             "tile.rows": 100},
}


def config(spec):
    if spec == "tiles_199":  # 200 inputs: a last block of one row
        return hardware.load_config("pcm").replace(**{"tile.rows": 199})
    if isinstance(spec, str):
        return hardware.load_config(spec)
    return hardware.load_config("ideal").replace(**spec)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("kind", ["sparse", "dense", "signed", "zero_rows"])
@pytest.mark.parametrize("n", [1, 11, 12, 13, 130])
def test_the_one_call_read_gives_the_twins_bits(monkeypatch, name, kind, n):
    net = sn.Network.from_sizes([200, 64, 32], hidden="tanh", output="softmax", seed=1)
    cfg = config(CONFIGS[name])
    X = inputs(kind, n, 200, seed=n)
    spy = Spy(monkeypatch)
    fused = reads(net, cfg, X, 1)
    assert spy.ran and all(spy.ran) == OWN  # both layers, where our product runs
    assert spy.twin == (0 if OWN else 4)
    spy.ran.clear()
    twin = reads(net, cfg, X, 0)
    assert not any(spy.ran) and spy.twin == (4 if OWN else 8)
    for a, b in zip(fused, twin):
        same_bits(a, b)


@own
@pytest.mark.parametrize("share", [0, 1024])
@pytest.mark.parametrize("name", ["pcm", "dac4_adc6_noisy", "read_noise_only_tiles_64"])
def test_every_product_path_gives_the_same_bits(name, share):
    """Our product's gathered and full paths, forced, under the one-call read and the twin."""
    net = sn.Network.from_sizes([784, 48, 16], hidden="relu", output="softmax", seed=2)
    X = inputs("sparse", 37, 784)
    forced = {"own_gemm_max": 1 << 62, "sparse_share": share}
    for a, b in zip(reads(net, config(CONFIGS[name]), X, 1, **forced),
                    reads(net, config(CONFIGS[name]), X, 0, **forced)):
        same_bits(a, b)


@own
@pytest.mark.parametrize("name", ["pcm", "dac4_adc6_noisy", "saturating_tiles_100"])
def test_the_same_bits_on_any_number_of_threads(monkeypatch, name):
    """The call's noise in runs of the transform's pairs and its groups of rows shared out
    among threads: 1, 2 or 3 give the same bits, and leave the generator alike."""
    from synapsenet import _parallel

    net = sn.Network.from_sizes([784, 256, 16], hidden="relu", output="softmax", seed=2)
    X = inputs("sparse", 130, 784)
    seen = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(_parallel, "threads_here", lambda threads=threads: threads)
        array = hardware.deploy(net, config(CONFIGS[name]), seed=0).substrate.arrays[0]
        g = np.random.Generator(np.random.SFC64(5))
        seen.append((array.matvec(X, g).copy(), g.bit_generator.random_raw(4)))
    for out, left in seen[1:]:
        same_bits(out, seen[0][0])
        assert np.array_equal(left, seen[0][1])


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("shape", [(200, 64), (64, 10), (300, 100)])
@pytest.mark.parametrize("n", [1, 13, 64])
def test_the_backward_read_in_one_call_gives_its_twins_bits(monkeypatch, name, shape, n):
    """``matvec_t``, δ·W through the arrays transposed: the one call (where it applies)
    against ``_read_t``, its NumPy lines, from one generator: the same bits, and the
    generator left alike; blocks of ``tile.cols`` columns (one to several)."""
    n_in, n_out = shape
    cfg = config(CONFIGS[name])
    if name == "read_noise_only_tiles_64":
        cfg = cfg.replace(**{"tile.cols": 32})
    net = sn.Network.from_sizes([n_in, n_out], output="identity", seed=6)
    D = (np.random.default_rng(n).standard_normal((n, n_out)) * 0.1).astype(np.float32)
    D[0, : n_out // 2] = 0
    spy = Spy(monkeypatch)
    seen = []
    for fused in (1, 0):
        array = hardware.deploy(net, cfg, seed=0).substrate.arrays[0]
        g = np.random.Generator(np.random.SFC64(5))
        out = np.empty((n, n_in), np.float32)
        with _engine.using(fused_read=fused):
            array.matvec_t(D, g, out)
        seen.append((out, g.bit_generator.random_raw(4)))
    noisy = bool(cfg.io.out_noise or cfg.device.read_noise)
    assert spy.ran[0] == (OWN and (noisy or n_in % 16 == 0)) and not any(spy.ran[1:])
    same_bits(seen[0][0], seen[1][0])
    assert np.array_equal(seen[0][1], seen[1][1])


def array_reads(net, cfg, X):
    """The first array's read of X from one generator, by the one call and by the twin: per
    way, (outputs, the generator's next words)."""
    left = []
    for fused in (1, 0):
        array = hardware.deploy(net, cfg, seed=0).substrate.arrays[0]
        g = np.random.Generator(np.random.SFC64(5))
        with _engine.using(fused_read=fused), np.errstate(invalid="ignore"):  # ∞ / ∞
            out = array.matvec(X, g).copy()
        left.append((out, g.bit_generator.random_raw(4)))
    return left


@pytest.mark.parametrize("name", ["pcm", "ideal", "dac4_adc6_noisy"])
def test_non_finite_inputs_give_the_twins_values(name):
    """The array's read itself (a network refuses such data before it reaches the chip)."""
    net = sn.Network.from_sizes([50, 32, 16], hidden="relu", output="identity", seed=3)
    (fused, _), (twin, _) = array_reads(net, config(CONFIGS[name]), inputs("nonfinite", 9, 50))
    same_bits(fused, twin)
    assert np.isnan(fused[[1, 3, 4]]).all()  # a non-finite input spoils its vector


@pytest.mark.parametrize("change", [
    {"io.input_scaling": "fixed"}, {"io.bit_serial": True, "io.dac_bits": 4},
    {"io.dac_bits": 1}, {"device.read_noise": 0.02},  # read noise on continuous inputs
])
def test_where_the_call_does_not_apply_the_twin_runs(monkeypatch, change):
    net = sn.Network.from_sizes([40, 32, 16], hidden="relu", output="softmax", seed=4)
    spy = Spy(monkeypatch)
    reads(net, config(change), inputs("dense", 5, 40), 1)
    assert not any(spy.ran) and spy.twin == 4


def test_metered_reads_keep_the_twin(monkeypatch):
    """The meter counts the read's energy from the codes, which only the twin writes out."""
    net = sn.Network.from_sizes([40, 32, 16], hidden="relu", output="softmax", seed=4)
    spy = Spy(monkeypatch)
    chip = hardware.deploy(net, "pcm", seed=0, meter=True)
    chip.predict(inputs("dense", 5, 40))
    assert not spy.ran and spy.twin == 2  # decided before the call is tried
    assert chip.substrate.counters.as_dict()["layers"][0]["input_energy_units"] > 0


@pytest.mark.parametrize("name", ["pcm", "dac4_adc6_noisy", "saturating_tiles_100",
                                  "read_noise_only_tiles_64", "ideal", "tiles_199"])
@pytest.mark.parametrize("n", [1, 6, 64, 130])
def test_narrow_layers_read_by_blas_give_the_twins_bits(monkeypatch, name, n):
    """10 or 7 outputs are not whole vectors of 16, so not our product's: a noisy read makes
    each block's product by the sgemm call the twin's add_product makes, in the one call; a
    noiseless one (the twin's NumPy matmul) and an odd count of outputs in the batch (an odd
    number of noise words a block) stay with the twin."""
    net = sn.Network.from_sizes([200, 10, 7], hidden="tanh", output="softmax", seed=5)
    cfg = config(CONFIGS.get(name, name))
    noisy = bool(cfg.io.out_noise or cfg.device.read_noise)
    X = inputs("sparse", n, 200, seed=n)
    spy = Spy(monkeypatch)
    fused = reads(net, cfg, X, 1)
    even = n * 7 % 2 == 0
    one = 200 % cfg.tile.rows == 1  # a block of one input: the twin's sger, not sgemm
    assert spy.ran == [OWN and noisy and not one, OWN and noisy and even] * 2
    spy.ran.clear()
    twin = reads(net, cfg, X, 0)
    assert not any(spy.ran)
    for a, b in zip(fused, twin):
        same_bits(a, b)


def test_training_on_the_chip_gives_the_twins_devices(monkeypatch):
    """The read in the training step's forward pass too: the same weights after an epoch."""
    spy = Spy(monkeypatch)
    rng = np.random.default_rng(0)
    X = rng.random((96, 30), dtype=np.float32)
    y = (X[:, 0] > X[:, 1]).astype(int)
    weights = []
    for fused in (1, 0):
        cfg = hardware.load_config("pcm").replace(**{"learning.device": "ideal"})
        net = sn.Network.from_sizes([30, 16, 2], hidden="sigmoid", output="softmax", seed=0)
        chip = hardware.deploy(net, cfg, seed=0)
        with _engine.using(fused_read=fused):
            chip.fit(X, y, epochs=2, learning_rate=0.1, batch_size=8, seed=0)
        weights.append([w.copy() for w in chip.get_weights()])
        assert any(spy.ran) == (OWN and fused == 1)
        spy.ran.clear()
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["pcm", "rram", "dac4_adc6_noisy"])
def test_the_generator_is_left_where_the_twin_leaves_it(name):
    """The array's read from one generator: the same outputs and the same next words."""
    net = sn.Network.from_sizes([200, 64, 32], hidden="relu", output="softmax", seed=1)
    (fused, after), (twin, after_twin) = array_reads(net, config(CONFIGS[name]),
                                                     inputs("sparse", 29, 200))
    same_bits(fused, twin)
    np.testing.assert_array_equal(after, after_twin)


def test_a_float64_network_keeps_its_bias_precision(monkeypatch):
    """A float64 bias is added by NumPy in float64 (the twin's arithmetic): the twin runs."""
    net = sn.Network.from_sizes([200, 64, 32], hidden="relu", output="identity",
                                seed=1).astype(np.float64)
    for layer in net.layers:
        layer.b[...] = np.random.default_rng(2).standard_normal(layer.b.shape)
    spy = Spy(monkeypatch)
    fused, twin = (reads(net, config("pcm"), inputs("dense", 20, 200), f) for f in (1, 0))
    assert not any(spy.ran)
    for a, b in zip(fused, twin):
        np.testing.assert_array_equal(a, b)


def test_a_calibration_without_scales_keeps_the_programmed_ones():
    """An empty calibration (a model file without one) leaves the ADC's full scale as
    programming set it; one that takes it from an ADC is refused, the array unchanged."""
    net = sn.Network.from_sizes([40, 32, 16], hidden="relu", output="softmax", seed=4)
    chip = hardware.deploy(net, "pcm", seed=0)
    array = chip.substrate.arrays[0]
    before = array.calibration()
    array.set_calibration({})
    assert array.calibration() == before
    chip.predict(inputs("dense", 3, 40))  # reads as before
    with pytest.raises(ConfigError, match="8-bit ADC needs its full scale"):
        array.set_calibration({"adc_range": None})
    assert array.calibration() == before
