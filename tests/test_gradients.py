"""The delta rule against finite differences and against PyTorch autograd."""

import numpy as np
import pytest

import synapsenet as sn

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "identity"]
PAIRS = [(out, "squared_error") for out in HIDDEN + ["softmax"]] + [
    ("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")]


def _data(n_in, n_out, n=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    return X, rng.integers(0, n_out, n)


@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_activation_and_loss_pair(hidden, output, loss):
    # uniform(−1, 1) init: non-zero biases keep relu-like kinks away from the probes
    net = sn.Network.from_sizes([4, 5, 3], hidden=hidden, output=output, init="uniform",
                                seed=1, dtype="float64")
    X, y = _data(4, 3)
    assert sn.gradient_check(net, X, y, loss) < 1e-6


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
def test_networks_of_one_to_four_layers(depth, hidden):
    sizes = [3] + [4] * (depth - 1) + [2]
    net = sn.Network.from_sizes(sizes, hidden=hidden, output="sigmoid", init="uniform", seed=2,
                                dtype="float64")
    X, y = _data(3, 2, seed=depth)
    assert sn.gradient_check(net, X, y) < 1e-6


def test_regression_targets_and_float32_network():
    net = sn.Network.from_sizes([3, 4, 2], hidden="tanh", output="identity", seed=3)
    rng = np.random.default_rng(0)
    X, D = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    # the check copies the network to float64, so a float32 network is checked exactly too
    assert sn.gradient_check(net, X, D) < 1e-6


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    """The check can fail: break sigmoid' and it reports a large error."""
    from synapsenet import activations

    monkeypatch.setattr(activations.Sigmoid, "backward",
                        lambda self, g, u, z, out=None: np.multiply(g, z, out=out))
    net = sn.Network.from_sizes([3, 4, 2], seed=0, dtype="float64")
    X, y = _data(3, 2)
    assert sn.gradient_check(net, X, y) > 1e-2


# -- PyTorch as the referee --------------------------------------------------------------
torch = pytest.importorskip("torch", reason="PyTorch (test extra) is needed for the comparison")

TORCH_ACT = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
             "identity": torch.nn.Identity}


def _torch_twin(net):
    mods = []
    for layer in net.layers:
        lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.W.astype(np.float64)))
            lin.bias.copy_(torch.from_numpy(layer.b.astype(np.float64)))
        mods.append(lin)
        if layer.activation.name != "softmax":
            mods.append(TORCH_ACT[layer.activation.name]())
    return torch.nn.Sequential(*mods)


def _torch_loss(model, X, y, loss, n_out):
    out = model(torch.from_numpy(X))
    if loss == "cross_entropy":
        return torch.nn.functional.cross_entropy(out, torch.from_numpy(y))
    d = torch.nn.functional.one_hot(torch.from_numpy(y), n_out).double()
    return 0.5 * ((out - d) ** 2).sum(dim=1).mean()  # ½Σ_k(z−d)², mean over the batch


@pytest.mark.parametrize("hidden,output,loss", [
    ("sigmoid", "sigmoid", "squared_error"), ("tanh", "identity", "squared_error"),
    ("relu", "softmax", "cross_entropy"), ("sigmoid", "softmax", "cross_entropy")])
def test_gradients_match_pytorch_autograd(hidden, output, loss):
    net = sn.Network.from_sizes([6, 8, 5, 4], hidden=hidden, output=output, seed=4,
                                dtype="float64")
    X, y = _data(6, 4, n=10, seed=5)
    model = _torch_twin(net)
    _torch_loss(model, X, y, loss, 4).backward()
    ours = net.gradient(X, y, loss)
    theirs = [p.grad.numpy() for p in model.parameters()]
    for a, b in zip(ours, theirs):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer,kwargs,torch_opt", [
    ("sgd", {}, lambda p: torch.optim.SGD(p, lr=0.5)),
    ("momentum", {"momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9)),
    ("nesterov", {"momentum": 0.9},
     lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9, nesterov=True)),
    ("adam", {}, lambda p: torch.optim.Adam(p, lr=0.5)),
])
def test_weights_match_pytorch_after_several_sgd_steps(optimizer, kwargs, torch_opt):
    net = sn.Network.from_sizes([5, 7, 3], hidden="tanh", output="softmax", seed=6,
                                dtype="float64")
    X, y = _data(5, 3, n=12, seed=7)
    model = _torch_twin(net)
    opt = torch_opt(model.parameters())
    for _ in range(3):  # 3 epochs of 4 mini-batches, no shuffling
        for s in range(0, 12, 3):
            opt.zero_grad()
            _torch_loss(model, X[s:s + 3], y[s:s + 3], "cross_entropy", 3).backward()
            opt.step()
    net.fit(X, y, epochs=3, learning_rate=0.5, loss="cross_entropy", batch_size=3,
            shuffle=False, optimizer=optimizer, **kwargs)
    for a, b in zip(net.parameters(), model.parameters()):
        assert np.allclose(a, b.detach().numpy(), rtol=1e-9, atol=1e-10)


def test_weight_decay_matches_pytorch():
    net = sn.Network.from_sizes([4, 3], output="sigmoid", seed=8, dtype="float64")
    X, y = _data(4, 3, n=8, seed=9)
    model = _torch_twin(net)
    # PyTorch's weight_decay also decays biases; ours decays weights only, so decay
    # the bias gradient out by hand: apply L2 to the weight alone via a param group
    opt = torch.optim.SGD([{"params": [model[0].weight], "weight_decay": 0.1},
                           {"params": [model[0].bias], "weight_decay": 0.0}], lr=0.3)
    for _ in range(5):
        opt.zero_grad()
        _torch_loss(model, X, y, "squared_error", 3).backward()
        opt.step()
    net.fit(X, y, epochs=5, learning_rate=0.3, mode="batch", weight_decay=0.1, shuffle=False)
    for a, b in zip(net.parameters(), model.parameters()):
        assert np.allclose(a, b.detach().numpy(), rtol=1e-10)
