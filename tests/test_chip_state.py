"""A chip trained in situ, saved with its model: the devices come back as training left
them (Python: save/load; the command line: evaluate --hardware)."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file
from safetensors.numpy import save_file
from safetensors import safe_open
from test_cli import ok, run

import synapsenet as sn
from synapsenet import hardware


def trained_chip(X, y, device="reram-es", algorithm="sgd", seed=3, synapse="pair",
                 scheme="deterministic"):
    # pcm's converters and read noise, devices with device-to-device spread and C2C noise
    cfg = hardware.load_config("pcm").replace(**{
        "learning.device": device, "learning.algorithm": algorithm,
        "learning.synapse": synapse, "learning.scheme": scheme})
    net = sn.Network.from_sizes([5, 8, 2], hidden="tanh", output="softmax", seed=0)
    chip = hardware.deploy(net, cfg, seed=seed)
    chip.fit(X, y, epochs=4, learning_rate=0.3, loss="cross_entropy", batch_size=8, seed=0)
    return chip


@pytest.mark.parametrize("device,algorithm,synapse", [
    ("reram-es", "sgd", "pair"), ("reram-sb", "mixed_precision", "reference"),
    ("ecram", "tiki_taka", "pair")])
def test_a_saved_chip_comes_back_as_training_left_it(tmp_path, data, device, algorithm,
                                                     synapse):
    X, y = data
    chip = trained_chip(X, y, device, algorithm, synapse=synapse)
    path = tmp_path / "m.safetensors"
    sn.save(chip, path)
    back = sn.load(path)
    assert isinstance(back.substrate, hardware.Analog)
    assert back.substrate.describe() == chip.substrate.describe()
    # the devices themselves: states and each device's drawn parameters
    syn, syn2 = chip.substrate.synapses[0], back.substrate.synapses[0]
    part = (lambda s: s.slow) if algorithm == "tiki_taka" else (lambda s: s)
    for a, b in zip(part(syn).states, part(syn2).states):
        assert np.array_equal(a, b)
    p, p2 = part(syn).devices[0].p, part(syn2).devices[0].p
    assert p.keys() == p2.keys() and any(np.ndim(v) for v in p.values())
    for k in p:
        assert np.array_equal(p[k], p2[k])
    # read noise included, the reloaded chip predicts what the saved one would have
    predicted = back.predict(X)
    assert np.array_equal(predicted, chip.predict(X))
    # a fresh chip programmed from the same weights is another chip
    fresh = hardware.deploy(sn.load(path).on(sn.substrate.Digital()), chip.substrate.config,
                            seed=3)
    assert not np.array_equal(fresh.predict(X), predicted)
    # and training goes on from there, pulse for pulse (each predict drew the same noise)
    kw = dict(epochs=1, learning_rate=0.3, loss="cross_entropy", batch_size=8, seed=5)
    chip.fit(X, y, **kw)
    back.fit(X, y, **kw)
    for a, b in zip(chip.parameters(), back.parameters()):
        assert np.array_equal(a, b)
    assert back.substrate.pulses == chip.substrate.pulses


def test_the_same_seed_gives_the_same_saved_chip(tmp_path, data):
    X, y = data
    for name in ("a", "b"):
        sn.save(trained_chip(X, y, seed=4), tmp_path / f"{name}.safetensors")
    ta, tb = (load_file(tmp_path / f"{n}.safetensors") for n in "ab")
    assert ta.keys() == tb.keys() and any(k.startswith("substrate.") for k in ta)
    assert all(np.array_equal(ta[k], tb[k]) for k in ta)
    pa, pb = (sn.load(tmp_path / f"{n}.safetensors").predict(X) for n in "ab")
    assert np.array_equal(pa, pb)


def test_a_digitally_trained_model_is_saved_as_before(tmp_path, data):
    X, y = data
    net = sn.Network.from_sizes([5, 4, 2], seed=0)
    net.fit(X, y, epochs=2, seed=0)
    sn.save(net, tmp_path / "d.safetensors")
    assert not any(k.startswith("substrate.") for k in load_file(tmp_path / "d.safetensors"))
    back = sn.load(tmp_path / "d.safetensors")
    assert isinstance(back.substrate, sn.substrate.Digital)
    assert np.array_equal(back.predict(X), net.predict(X))
    # an inference chip (not trained on) has no state of its own either
    sn.save(hardware.deploy(net, "pcm"), tmp_path / "i.safetensors")
    assert isinstance(sn.load(tmp_path / "i.safetensors").substrate, sn.substrate.Digital)


def tamper(src, dst, change):
    with safe_open(str(src), framework="np") as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(tensors, header)
    save_file(tensors, str(dst), metadata=header)


@pytest.mark.parametrize("change,match", [
    (lambda t, h: t.__setitem__("substrate.0.state.0", t["substrate.0.state.0"][:, :3]),
     "device array 'state.0' has shape"),
    (lambda t, h: t.pop("substrate.1.state.1"), "no device array 'state.1'"),
    (lambda t, h: h.__setitem__("substrate", json.dumps(
        {**json.loads(h["substrate"]), "layers": [None]})), "devices for 1 layer"),
])
def test_device_arrays_that_do_not_fit_the_layers_are_refused(tmp_path, data, change, match):
    X, y = data
    sn.save(trained_chip(X, y), tmp_path / "m.safetensors")
    tamper(tmp_path / "m.safetensors", tmp_path / "bad.safetensors", change)
    with pytest.raises(sn.ModelFileError, match=match):
        sn.load(tmp_path / "bad.safetensors")


def test_evaluate_reads_the_devices_it_trained(tmp_path):
    (tmp_path / "chip.toml").write_text('preset = "pcm"\n[learning]\ndevice = "reram-es"\n')
    ok("train", "--hardware", "chip.toml", "--epochs", "2", "--out", "run", "-q",
       cwd=tmp_path)
    model = tmp_path / "run" / "model.safetensors"

    def evaluate(*args):
        return json.loads(ok("evaluate", model, "--json", *args, cwd=tmp_path).stdout)

    alone, same, other = evaluate("--hardware"), evaluate("--hardware", "chip.toml"), \
        evaluate("--hardware", "pcm")
    assert "the chip it trained on" in alone["chip"] and alone["hardware"] == "pcm"
    assert same["chip"] == alone["chip"] and same["accuracy"] == alone["accuracy"]
    assert "fresh chip 'pcm'" in other["chip"]
    # the trained devices, not the weights programmed afresh: another chip, other outputs
    assert other["loss"] != alone["loss"]
    digital = evaluate()
    assert "chip" not in digital and digital["accuracy"] == alone["digital_accuracy"]
    # info says the file holds the trained chip
    info = json.loads(ok("info", model, "--json", cwd=tmp_path).stdout)
    assert info["trained_chip"]["hardware"] == "pcm"
    assert info["trained_chip"]["device"] == "reram-es" and info["trained_chip"]["pulses"] > 0
    assert "holds the chip it trained on: 'pcm' with reram-es devices" in \
        ok("info", model, cwd=tmp_path).stdout
    text = ok("evaluate", model, "--hardware", cwd=tmp_path).stdout
    assert "the chip it trained on" in text
    # a model file whose device arrays do not fit its layers: one line, exit 2
    tamper(model, tmp_path / "bad.safetensors", lambda t, h: t.__setitem__(
        "substrate.0.state.0", t["substrate.0.state.0"][:3]))
    p = run("evaluate", tmp_path / "bad.safetensors", "--hardware", cwd=tmp_path)
    assert p.returncode == 2 and "has shape" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_evaluate_on_the_trained_chip_needs_one(tmp_path):
    ok("train", "--epochs", "1", "--out", "run", "-q", cwd=tmp_path)
    p = run("evaluate", tmp_path / "run" / "model.safetensors", "--hardware", cwd=tmp_path)
    assert p.returncode == 2 and "trained digitally" in p.stderr
    ok("evaluate", tmp_path / "run" / "model.safetensors", "--hardware", "pcm", cwd=tmp_path)


def test_a_checkpoint_of_a_chip_run_holds_its_devices(tmp_path, data):
    """What --resume continues on: the checkpoint's network comes back on its chip."""
    from synapsenet import runs
    from synapsenet.optimizers import get_optimizer
    from synapsenet.training import History

    X, y = data
    chip = trained_chip(X, y)
    with runs.RunFolder(tmp_path / "run") as folder:
        folder.save_checkpoint(chip, {}, get_optimizer("sgd"), np.random.default_rng(0),
                               History(), {"epochs": 4})
        net, _, _ = runs.load_checkpoint(tmp_path / "run")
    assert isinstance(net.substrate, hardware.Analog)
    assert net.substrate.pulses == chip.substrate.pulses > 0
    assert np.array_equal(net.predict(X), chip.predict(X))


@pytest.mark.parametrize("scheme,batch", [("deterministic", None), ("stochastic", 8)])
def test_a_chip_trained_on_the_compiled_paths_is_saved_as_it_trained(tmp_path, data, scheme,
                                                                     batch):
    """The batch-1 engine and the stochastic pulse kernel write the devices in place: what
    is saved is what they left, and training goes on from it as from the original."""
    from synapsenet.hardware import reproduce as rp

    X, y = data
    cfg = rp.hardware_config("gst-pcm").replace(**{"learning.scheme": scheme})
    net = sn.Network.from_sizes([5, 8, 2], hidden="sigmoid", output="softmax", seed=0)
    chip = hardware.deploy(net, cfg, seed=4)
    kw = dict(epochs=2, learning_rate=0.5, loss="cross_entropy", seed=0,
              mode="sgd" if batch is None else "minibatch", batch_size=batch)
    chip.fit(X, y, **kw)
    if scheme == "deterministic":
        assert chip.train_config["engine"].startswith("compiled")
    else:
        assert chip.substrate.synapses[0].engine == "compiled"
    assert chip.substrate.pulses > 0
    path = tmp_path / "m.safetensors"
    sn.save(chip, path)
    back = sn.load(path)
    assert np.array_equal(back.substrate.synapses[0].states[0],
                          chip.substrate.synapses[0].states[0])
    assert np.array_equal(back.predict(X), chip.predict(X))
    chip.fit(X, y, **{**kw, "epochs": 1, "seed": 7})
    back.fit(X, y, **{**kw, "epochs": 1, "seed": 7})
    for a, b in zip(chip.parameters(), back.parameters()):
        assert np.array_equal(a, b)


def test_a_loaded_chip_counts_what_it_does_from_then_on(tmp_path, data):
    """The tally saved with the devices is the training chip's cost: the chip loaded from the
    file (a resumed run's) counts the pulses of its own training only."""
    X, y = data
    cfg = hardware.load_config("pcm").replace(**{"learning.device": "reram-es"})
    net = sn.Network.from_sizes([5, 8, 2], hidden="tanh", output="softmax", seed=0)
    chip = hardware.deploy(net, cfg, seed=3, meter=True)
    kw = dict(epochs=1, learning_rate=0.3, loss="cross_entropy", batch_size=8, seed=0)
    chip.fit(X, y, **kw)
    sn.save(chip, tmp_path / "m.safetensors")
    back = sn.load(tmp_path / "m.safetensors")
    assert back.substrate.synapses[0].tally["pulses_up"] > 0  # the devices' own record
    assert back.substrate.counters.total().pulses_up == 0
    before = chip.substrate.counters.as_dict()
    chip.fit(X, y, **{**kw, "seed": 5})
    back.fit(X, y, **{**kw, "seed": 5})
    after, counted = chip.substrate.counters.as_dict(), back.substrate.counters.as_dict()
    for k, layer in enumerate(counted["layers"]):  # the same epoch, counted once
        assert layer["pulses_up"] > 0
        assert layer == pytest.approx({c: v - before["layers"][k][c]
                                       for c, v in after["layers"][k].items()}, rel=1e-12)


@pytest.mark.parametrize("device,algorithm,synapse", [
    ("reram-es", "sgd", "pair"), ("reram-sb", "mixed_precision", "reference")])
def test_a_chip_run_stopped_by_ctrl_c_mid_epoch_resumes_to_the_uninterrupted_chip(
        tmp_path, monkeypatch, device, algorithm, synapse):
    """Ctrl-C in the middle of epoch 2 (the signal sent at its 40th of 90 batches): the
    checkpoint holds the chip at the end of epoch 1, and --resume ends at the devices, weights
    and history of a run never stopped."""
    import os
    import signal

    from synapsenet import model_file, runs
    from synapsenet.cli import main, ui

    (tmp_path / "chip.toml").write_text(
        f'preset = "pcm"\n[learning]\ndevice = "{device}"\nalgorithm = "{algorithm}"\n'
        f'synapse = "{synapse}"\n')
    train = ["train", "--dataset", "digits", "--layers", "16", "--epochs", "3", "--hardware",
             str(tmp_path / "chip.toml"), "--no-plots", "-q", "--checkpoint-every", "0"]
    assert main([*train, "--out", str(tmp_path / "ref")]) == 0

    live = ui.progress_callback

    def interrupted(progress, n, stop):  # the command's own callback, Ctrl-C at one batch
        cb = live(progress, n, stop)
        begin, end, at = cb.on_epoch_begin, cb.on_batch_end, {}

        def on_epoch_begin(epoch, n_batches):
            at.update(epoch=epoch, batch=0)
            begin(epoch, n_batches)

        def on_batch_end(batch, n, loss):
            at["batch"] += 1
            if (at["epoch"], at["batch"]) == (1, 40):
                os.kill(os.getpid(), signal.SIGINT)
            end(batch, n, loss)

        cb.on_epoch_begin, cb.on_batch_end = on_epoch_begin, on_batch_end
        return cb

    monkeypatch.setattr(ui, "progress_callback", interrupted)
    folder = tmp_path / "run"
    assert main([*train, "--out", str(folder)]) == 130
    monkeypatch.setattr(ui, "progress_callback", live)
    _, _, state = runs.load_checkpoint(folder)
    assert state["epochs_done"] == 1 and state["updates"] == 90
    assert main(["train", "--resume", str(folder), "--no-plots", "-q"]) == 0

    ref, got = (model_file.load(p / "model.safetensors") for p in (tmp_path / "ref", folder))
    for a, b in zip(ref.get_weights(), got.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert got.substrate.pulses == ref.substrate.pulses > 0
    for sa, sb in zip(ref.substrate.synapses, got.substrate.synapses, strict=True):
        for a, b in zip(sa.states, sb.states, strict=True):
            assert np.array_equal(a, b)
        assert sa.tally == sb.tally
    ref_rows, rows = ([r.rsplit(",", 1)[0] for r in (p / "history.csv").read_text().splitlines()]
                      for p in (tmp_path / "ref", folder))  # the last column: the epoch's seconds
    assert rows == ref_rows and len(rows) == 4


@pytest.mark.parametrize("fails", ["at once", "mixed precision at once", "later"])
def test_a_diverging_chip_run_keeps_the_devices_of_its_last_good_epoch(data, monkeypatch,
                                                                       fails):
    X, y = data
    chip = trained_chip(X, y, algorithm="mixed_precision" if "mixed" in fails else "sgd")
    kept, kept_tensors = chip.substrate.saved_state()
    kept_tensors = {k: v.copy() for k, v in kept_tensors.items()}
    weights = [w.copy() for w in chip.get_weights()]
    lr = 0.3
    if fails.endswith("at once"):  # pulse counts past any train: the first update stops
        lr = 1e38  # (mixed precision's accumulator, changed first, is put back too)
    else:  # the input layer's update fails in batch 4, after 3 whole steps and the output
        # layer's part of the fourth pulsed devices: all of it undone
        counts = hardware.learning.DeviceSynapses._pulse_counts
        calls = []

        def failing(self, Z, delta):
            calls.append(self)
            if len(calls) == 8:
                raise sn.errors.UpdateRefused("a device asked for too many pulses")
            return counts(self, Z, delta)

        monkeypatch.setattr(hardware.learning.DeviceSynapses, "_pulse_counts", failing)
    with pytest.raises(sn.DivergenceError, match="pulses.*start of that epoch") as e:
        chip.fit(X, y, epochs=1, learning_rate=lr, loss="cross_entropy", batch_size=8,
                 seed=1)
    assert e.value.batch == (1 if fails.endswith("at once") else 4)
    meta, tensors = chip.substrate.saved_state()
    assert meta["layers"] == kept["layers"] and tensors.keys() == kept_tensors.keys()
    for name, v in kept_tensors.items():  # every device as the epoch before left it
        assert np.array_equal(tensors[name], v), name
    for a, b in zip(chip.get_weights(), weights, strict=True):
        assert np.array_equal(a, b)


def test_early_stopping_on_a_chip_keeps_the_devices_and_the_weights_they_hold(data):
    """The best epoch's weights are not put back on a chip (that would be programming its
    devices anew): the network's weights stay those its devices hold."""
    X, y = data
    for seed in range(8):
        cfg = hardware.load_config("pcm").replace(**{"learning.device": "reram-es"})
        chip = hardware.deploy(sn.Network.from_sizes([5, 8, 2], hidden="tanh",
                                                     output="softmax", seed=seed), cfg, seed=seed)
        h = chip.fit(X[:64], y[:64], epochs=8, learning_rate=2.0, loss="cross_entropy",
                     batch_size=8, seed=seed, validation_data=(X[64:], y[64:]),
                     early_stopping=True, patience=1)
        if h.best_epoch != len(h):
            break
    assert h.best_epoch < len(h), "no seed stopped after a worse epoch"
    for layer, syn in zip(chip.layers, chip.substrate.synapses):
        np.testing.assert_array_equal(layer.W, syn.weights())
