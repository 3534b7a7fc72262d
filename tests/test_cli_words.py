"""The command line's words (synapsenet.cli.words), case by case."""

import pytest

from synapsenet.cli import words

NAMES = ["learning_rate", "epochs", "batch_size", "n_batches", "momentum", "layers",
         "weight_noise"]


@pytest.mark.parametrize("library,cli", [
    ("learning_rate must be a positive number, got -1.0",
     "--learning-rate must be a positive number, got -1.0"),
    ("epochs must be a positive integer, got 0", "--epochs must be a positive integer, got 0"),
    ("give either batch_size or n_batches for mode='minibatch', not both",
     "give either --batch-size or --n-batches for --mode minibatch, not both"),
    ("weight_noise must be in [0, 10), got 20.0", "--weight-noise must be in [0, 10), got 20.0"),
    ("nesterov=True needs a momentum > 0", "--optimizer nesterov needs a momentum > 0"),
    # already in the command line's words, or not about an option: unchanged
    ("--layers must be comma-separated positive integers", None),
    ("the run already has 3 epochs; pass a larger --epochs", None),
    ("config 'a.toml', option 'learning_rate': expected float, got 'x'", None),
    ("Dense: n_in must be a positive integer, got 0", None),
])
def test_library_names_become_flags(library, cli):
    assert words.as_flags(library, NAMES) == (cli or library)


@pytest.mark.parametrize("word,known,guess", [
    ("--lr", ["--layers", "--loss", "--learning-rate", "--label-column"], "--learning-rate"),
    ("--bs", ["--batch-size", "--n-batches"], "--batch-size"),
    ("--learning_rate", ["--learning-rate", "--loss"], "--learning-rate"),
    ("--verison", ["-h", "--help", "--version"], "--version"),
    ("--lr", ["-h", "--help", "--version"], None),  # '--help' is not what was meant
    ("--nb", ["--n-batches", "--no-batches"], None),  # two options with those initials
    ("sigmoidd", ["sigmoid", "softmax"], "sigmoid"),
])
def test_nearest(word, known, guess):
    assert words.nearest(word, known) == guess


def test_invalid_choice_gets_the_nearest():
    msg = "argument --mode: invalid choice: 'minibach' (choose from 'minibatch', 'sgd', 'batch')"
    assert words.with_nearest_choice(msg) == msg + "; did you mean 'minibatch'?"
    assert words.with_nearest_choice("argument --x: expected one argument") == (
        "argument --x: expected one argument")
