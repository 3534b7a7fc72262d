"""The run helpers the commands share: a saved model's training split, the options to train it
again on a chip, and the files of NeuroSim's benchmark."""

import json

import numpy as np
import pytest

from synapsenet import Network, datasets, runs
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
