import numpy as np
import pytest

from synapsenet.activations import get_activation
from synapsenet.errors import ConfigError
from synapsenet.losses import LOSSES, get_loss


def test_squared_error_is_half_sum_over_outputs_mean_over_batch():
    z = np.array([[0.2, 0.9], [0.5, 0.5]])
    d = np.array([[0.0, 1.0], [1.0, 0.0]])
    per_sample = 0.5 * ((z - d) ** 2).sum(axis=1)
    assert get_loss("squared_error").value(z, d) == pytest.approx(per_sample.mean())


def test_cross_entropy_value_from_u_matches_log_of_z():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(4, 3))
    z = get_activation("softmax").forward(u.copy())
    d = np.eye(3)[[0, 2, 1, 1]]
    ref = -(d * np.log(z)).sum(axis=1).mean()
    ce = get_loss("cross_entropy")
    assert ce.value(z, d, u) == pytest.approx(ref)
    assert ce.value(z, d) == pytest.approx(ref)


def test_binary_cross_entropy_value():
    u = np.array([[0.3], [-2.0]])
    z = 1 / (1 + np.exp(-u))
    d = np.array([[1.0], [0.0]])
    ref = -(d * np.log(z) + (1 - d) * np.log(1 - z)).sum(axis=1).mean()
    bce = get_loss("binary_cross_entropy")
    assert bce.value(z, d, u) == pytest.approx(ref)
    assert bce.value(z, d) == pytest.approx(ref)


def test_extreme_logits_give_finite_loss():
    u = np.array([[1e4, -1e4]])
    z = get_activation("softmax").forward(u.copy())
    d = np.array([[0.0, 1.0]])
    assert get_loss("cross_entropy").value(z, d, u) == pytest.approx(2e4)
    # an underflowed z where d = 0 (0 · ln 0) must not poison the batch's mean either
    u = np.array([[1e4, -1e4], [0.5, 0.1]])
    z = get_activation("softmax").forward(u.copy())
    d = np.array([[1.0, 0.0], [1.0, 0.0]])
    want = (0.0 + np.log1p(np.exp(-0.4))) / 2
    assert get_loss("cross_entropy").value(z, d, u) == pytest.approx(want)


@pytest.mark.parametrize("loss,act", [("cross_entropy", "softmax"),
                                      ("binary_cross_entropy", "sigmoid")])
def test_matched_pairs_have_delta_z_minus_d(loss, act):
    u = np.random.default_rng(3).normal(size=(5, 3))
    a = get_activation(act)
    z = a.forward(u.copy())
    d = np.eye(3)[[0, 1, 2, 0, 1]]
    assert np.allclose(get_loss(loss).output_delta(z, d, u, a), z - d)


def test_squared_error_delta_multiplies_f_prime():
    u = np.array([[0.5, -0.3]])
    a = get_activation("sigmoid")
    z = a.forward(u.copy())
    d = np.array([[1.0, 0.0]])
    assert np.allclose(get_loss("squared_error").output_delta(z, d, u, a), (z - d) * z * (1 - z))


def test_mismatched_output_is_rejected():
    with pytest.raises(ConfigError, match="needs a softmax output"):
        get_loss("cross_entropy").check_output(get_activation("sigmoid"))


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown loss .hinge.; valid loss names are: "
                                          "binary_cross_entropy, cross_entropy"):
        get_loss("hinge")
    assert set(LOSSES) == {"squared_error", "cross_entropy", "binary_cross_entropy"}
