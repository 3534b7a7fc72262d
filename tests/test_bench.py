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
    real = bench.interleaved
    monkeypatch.setattr(bench, "interleaved",
                        lambda passes, rounds=5, min_time=0.25, settle=0.3:
                        real(passes, 1, 0.0, 0.0))
    res = bench.run(threads=1, n=512, quick=True)
    rows = res["training"]
    assert [r["batch"] for r in rows] == [64, 256]
    for r in rows:
        assert {"synapsenet", "pytorch", "sklearn", "roofline", "ratio_pytorch",
                "ratio_sklearn"} <= set(r)
        assert r["ratio_pytorch"] > 0 and r["synapsenet"] > 0 and r["of_large_sgemm"] > 0
    for key in ("inference_batch_10000", "inference_batch_10000_dense_inputs"):
        assert {"synapsenet", "pytorch", "ratio_pytorch"} <= set(res[key])
    assert res["machine"]["threads"] == 1 and res["large_sgemm_gflops"] > 0


def test_interleaved_times_every_peer_every_round():
    calls = []
    times = bench.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                              rounds=3, min_time=0.0, settle=0.0)
    assert [len(t) for t in times.values()] == [3, 3]
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-up, then alternating rounds
