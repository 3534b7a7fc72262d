"""The training options, declared once (synapsenet.options): validated where they are made,
and the source of the command line's training flags and the estimators' mapping."""

import numpy as np
import pytest

import synapsenet as sn
from synapsenet import runs
from synapsenet.options import TrainingOptions
from synapsenet.sklearn import SKLEARN_NAMES


@pytest.mark.parametrize("values,match", [
    ({"epochs": 0}, "epochs must be a positive integer, got 0"),
    ({"epochs": 2.5}, "epochs must be a positive integer"),
    ({"epochs": True}, "epochs must be a positive integer"),
    ({"learning_rate": 0}, "learning_rate must be a positive number"),
    ({"learning_rate": float("inf")}, "learning_rate must be a positive number"),
    ({"batch_size": -3}, "batch_size must be a positive integer"),
    ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
    ({"weight_decay": -1e-3}, r"weight_decay must be in \[0, ∞\)"),
    ({"patience": 0}, "patience must be a positive integer"),
    ({"shuffle": "yes"}, "shuffle must be true or false"),
    ({"mode": "sgd", "batch_size": 8}, "mode='sgd' updates after every sample"),
    ({"mode": "batch", "n_batches": 3}, "mode='batch' makes one update"),
    ({"batch_size": 8, "n_batches": 2}, "either batch_size or n_batches"),
])
def test_bad_options_are_refused_where_they_are_made(values, match):
    with pytest.raises(sn.ConfigError, match=match):
        TrainingOptions(**values)
    net = sn.Network.from_sizes([2, 2])
    with pytest.raises(sn.ConfigError, match=match):  # and so by fit, before any work
        net.fit(np.zeros((4, 2)), [0, 1, 0, 1], **values)


def test_an_unknown_option_names_the_nearest():
    with pytest.raises(sn.ConfigError, match="unknown training option 'epoch' "
                                             r"\(did you mean 'epochs'\?\)"):
        TrainingOptions().replace(epoch=3)


def test_fit_takes_options_and_keywords_that_change_them():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([0, 1, 1, 0])
    base = TrainingOptions(epochs=7, learning_rate=0.5, mode="batch")
    net = sn.Network.from_sizes([2, 2, 1], seed=0)
    h = net.fit(X, y, base, epochs=3)
    assert len(h) == 3 and h.updates == 3 and net.train_config["learning_rate"] == 0.5


def test_the_command_line_trains_with_every_option_it_shows():
    """Each training flag of 'synapsenet train' is a TrainingOptions option (or one of the
    run's own: the substrate and the data), and fit_options hands fit only those."""
    run_own = {"weight_bound", "weight_noise", "hardware", "augment", "seed"}
    training = {o.name for o in runs.OPTIONS if o.group == "training"}
    assert training - run_own <= set(TrainingOptions.names())
    opts = runs.fit_options(runs.defaults())
    TrainingOptions(**opts)  # valid as they are
    assert set(opts) <= set(TrainingOptions.names())
    assert runs.defaults()["epochs"] == 40  # the command's own defaults


def test_the_estimators_names_map_onto_the_options():
    assert set(SKLEARN_NAMES.values()) <= set(TrainingOptions.names())


def test_an_old_config_file_with_train_noise_still_reads(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text("train_noise = 0.05\nepochs = 3\n")
    assert runs.read_config(path) == {"weight_noise": 0.05, "epochs": 3}
