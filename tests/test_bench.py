"""The benchmark's arithmetic and a quick run of its machinery (timings are not asserted)."""

import pytest

from synapsenet import bench


def test_flops_per_sample():
    # forward 2·(784·256 + 256·10); backward: dW for both layers, G for the second only
    macs = 784 * 256 + 256 * 10
    assert bench.flops_per_sample([784, 256, 10], train=False) == 2 * macs
    assert bench.flops_per_sample([784, 256, 10]) == 2 * (macs + 2 * macs - 784 * 256)


def test_quick_run_produces_every_column(monkeypatch):
    pytest.importorskip("torch", reason="PyTorch (test extra) is a benchmark peer")
    monkeypatch.setattr(bench, "_time", lambda fn, repeat=3, min_time=0.3: (fn(), 0.01)[1])
    res = bench.run(threads=1, n=512, quick=True)
    rows = res["training"]
    assert [r["batch"] for r in rows] == [64, 256]
    for r in rows:
        assert {"synapsenet", "pytorch", "sklearn", "roofline"} <= set(r)
    assert {"synapsenet", "pytorch"} <= set(res["inference_batch_10000"])
    assert res["machine"]["threads"] == 1
