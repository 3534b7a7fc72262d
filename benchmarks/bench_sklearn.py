"""scikit-learn's MLPClassifier against synapsenet's NeuralNetworkClassifier, same settings.

Digits (8×8, 1,347 train / 450 test) and MNIST (60,000 / 10,000), two settings, both
identical for the two estimators: scikit-learn's defaults (one hidden layer of 100 ReLU units,
Adam η = 0.001, batch min(200, n), L2 α = 1e-4), and the same with 128 units and batch 128.
A fixed number of epochs (no early stop), float32 input for both (scikit-learn keeps float32
in float32). Accuracy and training time, 3 seeds.

    python benchmarks/bench_sklearn.py [--data-dir ../shared/data] [--threads 2]
"""

import json
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from _common import mnist, parse_args
from synapsenet.sklearn import NeuralNetworkClassifier


def run(name, Xtr, ytr, Xte, yte, epochs, seeds=3, hidden=100, batch="auto"):
    rows = []
    name = f"{name} ({hidden} hidden, batch {batch})"
    for seed in range(seeds):
        kw = dict(hidden_layer_sizes=(hidden,), activation="relu", solver="adam",
                  learning_rate_init=0.001, batch_size=batch, alpha=1e-4, max_iter=epochs,
                  random_state=seed, tol=0.0, n_iter_no_change=epochs + 1)
        for label, cls in (("sklearn", MLPClassifier), ("synapsenet", NeuralNetworkClassifier)):
            clf = cls(**kw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                clf.fit(Xtr, ytr)
                sec = time.perf_counter() - t
            rows.append({"data": name, "estimator": label, "seed": seed, "seconds": sec,
                         "accuracy": clf.score(Xte, yte), "epochs": clf.n_iter_})
    for label in ("sklearn", "synapsenet"):
        r = [x for x in rows if x["estimator"] == label]
        print(f"{name} {label:>10}: accuracy {100 * np.mean([x['accuracy'] for x in r]):.2f}% "
              f"± {100 * np.std([x['accuracy'] for x in r]):.2f}, "
              f"{np.mean([x['seconds'] for x in r]):.2f} s per fit")
    sk = np.mean([x["seconds"] for x in rows if x["estimator"] == "sklearn"])
    ours = np.mean([x["seconds"] for x in rows if x["estimator"] == "synapsenet"])
    print(f"{name} speed-up ×{sk / ours:.2f}")
    return rows


def main():
    a = parse_args(__doc__)
    rows = []
    with threadpool_limits(a.threads):
        X, y = load_digits(return_X_y=True)
        X = (X / 16).astype(np.float32)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
        data = mnist(a.data_dir)
        for hidden, batch in ((100, "auto"), (128, 128)):
            rows += run("digits", Xtr, ytr, Xte, yte, epochs=100, hidden=hidden, batch=batch)
            rows += run("mnist", *data, epochs=10, hidden=hidden, batch=batch)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
