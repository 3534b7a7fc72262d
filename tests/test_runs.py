"""The run helpers the commands share: a saved model's training split, the options to train it
again on a chip, the files of NeuroSim's benchmark, a new run's folder, and the training of a
run with its checkpoints."""

import json
from pathlib import Path

import numpy as np
import pytest

from synapsenet import Network, datasets, runs
from synapsenet.errors import ConfigError
from synapsenet.training import Callback
from synapsenet.cli import main


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--dataset", "digits", "--layers", "8", "--epochs", "1",
                 "--out", str(out), "--no-plots", "--quiet"]) == 0
    return out / "model.safetensors"


def test_the_training_split_is_the_rest_of_the_held_out_data(digits_model):
    held = runs.load_held_out(digits_model)
    X, y = runs.training_split(held)
    ds = datasets.load("digits")
    assert len(X) + len(held.X) == len(ds.X) and X.shape[1] == held.X.shape[1]
    assert abs(len(held.X) - 0.2 * len(ds.X)) < 10  # the run's test split (by class)
    # together the two splits hold every sample once: the labels add up
    assert np.array_equal(np.sort(np.concatenate([y, held.y])), np.sort(ds.y))
    # scaled as the network was trained: the same scaler as the held-out inputs
    assert X.dtype == held.X.dtype == held.network.dtype
    assert 0 <= X.min() and X.max() <= 1 < ds.X.max()


def test_the_chip_is_trained_again_by_plain_descent_with_the_models_options():
    net = Network.from_sizes([4, 3, 2], seed=0)
    net.train_config = {"learning_rate": 0.05, "loss": "cross_entropy", "optimizer": "adam",
                        "mode": "minibatch", "batch_size": 16}
    assert runs.chip_fit_options(net) == {"learning_rate": 0.05, "loss": "cross_entropy",
                                          "optimizer": "sgd", "mode": "minibatch",
                                          "batch_size": 16}
    net.train_config = {"mode": "online", "learning_rate": 0.2}
    opts = runs.chip_fit_options(net)
    assert opts["mode"] == "online" and "batch_size" not in opts
    assert opts["learning_rate"] == 0.2 and opts["loss"] == "squared_error"


def test_the_benchmarks_files(tmp_path):
    result = {"devices": {"a": {"accuracy": [0.1, 0.25], "published": 0.9},
                          "b": {"accuracy": [0.5], "published": None}}}
    runs.write_reproduction(tmp_path, result, tmp_path / "copy.json")
    assert (tmp_path / "neurosim.csv").read_text() == "epoch,a,b\n1,0.1000,0.5000\n2,0.2500,\n"
    assert json.loads((tmp_path / "neurosim.json").read_text()) == result
    assert json.loads((tmp_path / "copy.json").read_text()) == result
    assert (tmp_path / "neurosim.png").stat().st_size > 1000


def test_a_resumed_network_goes_on_the_runs_substrate_unless_its_chip_trained_it():
    from synapsenet.hardware import Analog
    from synapsenet.substrate import NoisyDigital

    net = Network.from_sizes([4, 3, 2], seed=0)
    cfg = {**runs.defaults(), "weight_noise": 0.05, "seed": 0}
    resumed = runs.resumed_network(net, cfg)
    assert isinstance(resumed.substrate, NoisyDigital)
    assert np.array_equal(resumed.layers[0].W, net.layers[0].W)
    on_chip = net.on(Analog("pcm", seed=0))
    assert runs.resumed_network(on_chip, cfg) is on_chip  # its devices as the run left them


def test_a_new_run_folder_is_checked_at_once_and_a_default_name_taken_picks_the_next(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = runs.new_run_folder(None, "csv:a/b.csv"), runs.new_run_folder(None, "xor")
    assert first.path.parent == Path("runs") and first.path.name.startswith("csv-a-b-csv-")
    same = runs.new_run_folder(None, "xor")
    assert same.path == second.path  # nothing is made before the run starts
    with second, same:
        assert same.path == Path(f"{second.path}-1") and same.path.is_dir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="--force"):
        runs.new_run_folder(str(tmp_path / "full"), "xor")
    assert runs.new_run_folder(str(tmp_path / "full"), "xor", force=True).force


class _StopInEpoch(Callback):
    """A fit callback that asks the loop to stop in the middle of epoch ``epoch`` (from 0),
    as a Ctrl-C passed on by the command line does."""

    def __init__(self, epoch):
        self.epoch, self.net, self.now = epoch, None, -1

    def on_train_begin(self, network, info):
        self.net = network

    def on_epoch_begin(self, epoch, n_batches):
        self.now = epoch

    def on_batch_end(self, batch, n, loss):
        if self.now == self.epoch and batch == 3:
            self.net.stop_training = True


def _run(cfg, path, *, resume=False, **kw):
    """fit_run of the run ``cfg`` in the folder ``path`` (or of the run to resume there)."""
    if resume:
        cfg, (net, *checkpoint) = runs.resolve_options({"epochs": cfg["epochs"]}, resume=path)
        net = runs.resumed_network(net, cfg)
    prep = runs.prepare(cfg)
    if not resume:
        net, checkpoint = runs.build_network(cfg, prep.dataset.n_features, 10), None
    with runs.RunFolder(path, resume=resume) as folder:
        state = runs.training_state(cfg, checkpoint)
        return net, runs.fit_run(folder, net, prep, cfg, state, **kw)


def test_a_run_stopped_on_request_saves_its_last_whole_epoch_and_resumes_to_the_same_weights(
        tmp_path):
    cfg = {**runs.defaults(), "layers": "8", "epochs": 4, "batch_size": 64}
    ref, done = _run(cfg, tmp_path / "ref")
    assert not done.stopped and done.epochs == len(done.history) == 4 and done.seconds > 0
    assert done.meta == runs.model_metadata(cfg, runs.prepare(cfg))
    assert not (tmp_path / "ref" / runs.CHECKPOINT).exists()  # every=None: no checkpoints

    # stopped by a callback but not on request (a divergence, say): no checkpoint either
    _, done = _run(cfg, tmp_path / "mine", callbacks=[_StopInEpoch(2)])
    assert done.history.interrupted and not done.stopped and len(done.history) == 2
    assert not (tmp_path / "mine" / runs.CHECKPOINT).exists()

    _, done = _run(cfg, tmp_path / "run", callbacks=[_StopInEpoch(2)],
                   stop_requested=lambda: True)
    assert done.stopped and done.epochs == 2
    _, _, state = runs.load_checkpoint(tmp_path / "run")
    assert state["epochs_done"] == 2
    net, done = _run(cfg, tmp_path / "run", resume=True)
    assert not done.stopped and done.epochs == 2 and len(done.history) == 4
    for a, b in zip(net.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # as if never stopped


def test_a_run_saves_a_checkpoint_at_the_epochs_ends_it_is_told_to(tmp_path):
    cfg = {**runs.defaults(), "layers": "8", "epochs": 3, "batch_size": 64}
    _run(cfg, tmp_path / "run", every=0)  # every epoch but the last, which results follow
    _, _, state = runs.load_checkpoint(tmp_path / "run")
    assert state["epochs_done"] == 2


# -- the state a Ctrl-C goes back to: the end of the last whole epoch ---------------------------
class StopAt:
    """Stops the fit after ``batch`` batches of epoch ``epoch`` (0-based), as a Ctrl-C does."""

    def __init__(self, epoch, batch):
        self.at, self.net, self.epoch, self.batches = (epoch, batch), None, None, 0

    def on_train_begin(self, network, info):
        self.net = network

    def on_epoch_begin(self, epoch, n_batches):
        self.epoch, self.batches = epoch, 0

    def on_batch_end(self, batch, n, loss):
        self.batches += 1
        if (self.epoch, self.batches) == self.at:
            self.net.stop_training = True

    def on_epoch_end(self, epoch, logs): ...
    def on_train_end(self, history): ...


class AtEpochEnd:
    """What the chip holds at the end of each epoch, through the model file's description
    (not the keeper's copy): its devices, generator, calibration and counts, and its
    counters."""

    batch_by_batch = False

    def __init__(self):
        self.net, self.seen = None, []

    def on_train_begin(self, network, info):
        self.net = network

    def on_epoch_end(self, epoch, logs):
        sub = self.net.substrate
        meta, tensors = sub.saved_state()
        self.seen.append((json.dumps(meta), {k: v.copy() for k, v in tensors.items()},
                          sub.counters.as_dict(), [w.copy() for w in self.net.get_weights()]))

    def on_epoch_begin(self, epoch, n_batches): ...
    def on_batch_end(self, batch, n, loss): ...
    def on_train_end(self, history): ...


def chip_net(device, algorithm, synapse):
    from synapsenet import hardware

    # pcm's converters and read noise; devices with device-to-device spread, cycle-to-cycle
    # noise and (reram-es) write noise redrawn at every pulse
    cfg = hardware.load_config("pcm").replace(**{
        "learning.device": device, "learning.algorithm": algorithm, "learning.synapse": synapse})
    net = Network.from_sizes([5, 8, 2], hidden="tanh", output="softmax", seed=0)
    return hardware.deploy(net, cfg, seed=3, meter=True)


FIT = dict(learning_rate=0.3, loss="cross_entropy", batch_size=8)


def keeper_fit(net, X, y, stop, epochs=3):
    """Fit with an EpochKeeper, stopped as ``StopAt(*stop)`` says; (keeper, AtEpochEnd)."""
    from synapsenet.optimizers import get_optimizer
    from synapsenet.training import History

    optimizer, rng, history = get_optimizer("sgd"), np.random.default_rng(0), History()
    keeper, seen = runs.EpochKeeper(optimizer, rng, history), AtEpochEnd()
    h = net.fit(X, y, epochs=epochs, optimizer=optimizer, seed=rng, history=history,
                callbacks=[keeper, seen, StopAt(*stop)], **FIT)
    assert h.interrupted and len(h) == stop[0]
    return keeper, seen


def assert_same_chip(a, b):
    """Two AtEpochEnd records: the same devices, generator, counters and weights."""
    assert a[0] == b[0]  # pulse counts, tallies, calibration, generator, shared parameters
    assert a[1].keys() == b[1].keys()
    for name, v in a[1].items():  # states, drawn parameters, offsets, accumulators, arrays
        assert np.array_equal(b[1][name], v), name
    assert a[2] == b[2]  # the counters: what the chip did, its cost
    for wa, wb in zip(a[3], b[3], strict=True):
        assert np.array_equal(wa, wb)


@pytest.mark.parametrize("device,algorithm,synapse", [
    ("reram-es", "sgd", "pair"), ("reram-sb", "mixed_precision", "reference"),
    ("ecram", "tiki_taka", "pair")])
def test_the_keeper_puts_the_chip_back_as_it_was_at_the_last_epochs_end(data, device,
                                                                        algorithm, synapse):
    X, y = data
    net = chip_net(device, algorithm, synapse)
    keeper, seen = keeper_fit(net, X, y, stop=(1, 5))  # 5 of the 12 batches of epoch 2
    now = AtEpochEnd()
    now.net = net
    now.on_epoch_end(1, {})
    stopped = now.seen[0]
    # the stopped epoch moved the devices, the generator and the counters: there is
    # something to put back
    assert stopped[0] != seen.seen[0][0] and stopped[2] != seen.seen[0][2]
    keeper.restore()
    now.seen.clear()
    now.on_epoch_end(1, {})
    assert_same_chip(now.seen[0], seen.seen[0])
    # and the repeated epoch is the one an uninterrupted run made, pulse for pulse and in
    # what it counted (the stopped epoch's reads and pulses are not counted twice)
    ref = chip_net(device, algorithm, synapse)
    _, ref_seen = keeper_fit(ref, X, y, stop=(2, 1))
    again = AtEpochEnd()
    net.fit(X, y, epochs=2, initial_epoch=1, optimizer=keeper.optimizer, seed=keeper.rng,
            history=keeper.history, callbacks=[again], **FIT)
    assert_same_chip(again.seen[0], ref_seen.seen[1])


def test_stopped_in_its_first_epoch_the_chip_goes_back_to_its_untrained_devices(data):
    X, y = data
    net = chip_net("reram-es", "sgd", "pair")
    fresh = chip_net("reram-es", "sgd", "pair")
    keeper, seen = keeper_fit(net, X, y, stop=(0, 5))
    assert not seen.seen and net.substrate.saved_state() is not None
    keeper.restore()
    sub = net.substrate
    assert sub.saved_state() is None and all(s is None for s in sub.synapses)  # as programmed
    assert sub.counters.as_dict() == fresh.substrate.counters.as_dict()
    # the same arrays and generator as the chip never trained: the same noisy outputs
    assert np.array_equal(net.predict(X), fresh.predict(X))
    for a, b in zip(net.get_weights(), fresh.get_weights(), strict=True):
        assert np.array_equal(a, b)



def test_cost_loads_the_data_set_once_for_the_held_out_and_the_training_split(
        digits_model, monkeypatch, capsys):
    loads, real = [], datasets.load
    monkeypatch.setattr(datasets, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    assert main(["cost", str(digits_model), "--samples", "20", "--train-epoch",
                 "--train-samples", "40", "--json", "-"]) == 0
    assert loads == [("digits",)]
    r = json.loads(capsys.readouterr().out)
    monkeypatch.undo()
    held = runs.load_held_out(digits_model)
    X, _ = runs.training_split(held)
    # priced per epoch of the training split, counted on its first 40 samples
    assert r["training"]["epoch_samples"] == len(X) and r["training"]["samples_trained"] == 40
    assert r["samples"] == 20 and len(held.X) > 20
