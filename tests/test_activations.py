import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from synapsenet.activations import ACTIVATIONS, get_activation
from synapsenet.errors import ConfigError

REFERENCE = {
    "sigmoid": lambda u: 1 / (1 + np.exp(-u)),
    "tanh": np.tanh,
    "relu": lambda u: np.maximum(u, 0),
    "leaky_relu": lambda u: np.where(u > 0, u, 0.01 * u),
    "elu": lambda u: np.where(u > 0, u, np.exp(u) - 1),
    "softplus": lambda u: np.log1p(np.exp(u)),
    "identity": lambda u: u,
    "softmax": lambda u: np.exp(u) / np.exp(u).sum(axis=1, keepdims=True),
}


@pytest.fixture
def u():
    # away from 0 so that the kinks of relu-like functions do not meet finite differences
    u = np.random.default_rng(0).normal(0, 2, size=(6, 5))
    return np.where(np.abs(u) < 1e-3, 0.5, u)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_matches_definition(name, u):
    assert np.allclose(get_activation(name).forward(u.copy()), REFERENCE[name](u), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_is_the_chain_rule(name, u):
    """backward(g) = Jᵀ g, checked against central differences of f."""
    act = get_activation(name)
    z = act.forward(u.copy())
    g = np.random.default_rng(1).normal(size=u.shape)
    eps = 1e-6
    numeric = np.zeros_like(u)
    for idx in np.ndindex(u.shape):
        up, um = u.copy(), u.copy()
        up[idx] += eps
        um[idx] -= eps
        numeric[idx] = np.sum(g * (act.forward(up) - act.forward(um))) / (2 * eps)
    assert np.allclose(act.backward(g, u, z), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_in_place_equals_out_of_place(name, u):
    act = get_activation(name)
    z = act.forward(u.copy())
    g = np.random.default_rng(2).normal(size=u.shape)
    expected = act.backward(g, u, z)
    got = act.backward(g, u, z, out=g)
    assert got is g
    assert np.allclose(got, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_inputs(name, dtype):
    """No overflow warnings (they are errors in this suite) and finite results at |u| = 1e4."""
    act = get_activation(name)
    u = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype)
    z = act.forward(u.copy())
    assert z.dtype == dtype and np.isfinite(z).all()
    assert np.isfinite(act.backward(np.ones_like(u), u, z)).all()


def test_saturated_values():
    u = np.array([[-1e4, 1e4]])
    assert get_activation("sigmoid").forward(u.copy()).tolist() == [[0.0, 1.0]]
    assert get_activation("softmax").forward(u.copy()).tolist() == [[0.0, 1.0]]
    assert get_activation("softplus").forward(u.copy()).tolist() == [[0.0, 1e4]]


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
              elements=st.floats(-1e4, 1e4)))
def test_properties_for_any_shape(u):
    s = get_activation("sigmoid").forward(u.copy())
    assert ((s >= 0) & (s <= 1)).all()
    p = get_activation("softmax").forward(u.copy())
    assert np.allclose(p.sum(axis=1), 1.0)
    t = get_activation("tanh").forward(u.copy())
    assert ((t >= -1) & (t <= 1)).all()


def test_derivatives_come_from_stored_outputs():
    """sigmoid' = z(1 − z) and tanh' = 1 − z² read z only: a wrong u changes nothing."""
    u = np.array([[0.3, -1.2]])
    for name in ("sigmoid", "tanh"):
        act = get_activation(name)
        z = act.forward(u.copy())
        g = np.ones_like(u)
        assert np.array_equal(act.backward(g, u, z), act.backward(g, u * np.nan, z))


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown activation .sigmod.; valid activation "
                                          "names are: .*sigmoid.*tanh"):
        get_activation("sigmod")


def test_aliases_and_parameters():
    assert get_activation("logistic").name == "sigmoid"
    assert get_activation({"name": "leaky_relu", "alpha": 0.2}).alpha == 0.2


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 300), st.integers(1, 40)),
              elements=st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])))
def test_row_helpers_equal_numpy(a):
    """The narrow-row fast paths give exactly NumPy's answers (many rows take the loop)."""
    from synapsenet.activations import row_max, row_sum

    assert np.array_equal(row_max(a)[:, 0], a.max(axis=1))
    assert np.allclose(row_sum(a)[:, 0], a.sum(axis=1), atol=1e-5)
