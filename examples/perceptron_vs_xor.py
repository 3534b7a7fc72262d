"""A single perceptron learns AND and OR but not XOR; one hidden layer of two neurons does.

    python examples/perceptron_vs_xor.py
"""

import synapsenet as sn

for gate in ("and", "or", "xor"):
    X, y = sn.datasets.load(gate)
    perceptron = sn.Network.from_sizes([2, 1], output="sigmoid", seed=0)
    perceptron.fit(X, y, epochs=2000, learning_rate=2.0, mode="batch")
    right = int((perceptron.classify(X) == y).sum())
    print(f"perceptron  2-1   {gate:>3}: {right}/4 patterns right   outputs "
          f"{[round(float(z), 2) for z in perceptron.predict(X)[:, 0]]}")

X, y = sn.datasets.load("xor")
mlp = sn.Network.from_sizes([2, 2, 1], hidden="sigmoid", output="sigmoid", init="uniform", seed=0)
mlp.fit(X, y, epochs=3000, learning_rate=0.5, mode="sgd")
print(f"network     2-2-1 xor: {int((mlp.classify(X) == y).sum())}/4 patterns right   outputs "
      f"{[round(float(z), 2) for z in mlp.predict(X)[:, 0]]}")
