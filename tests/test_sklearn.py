import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from synapsenet.sklearn import NeuralNetworkClassifier, NeuralNetworkRegressor

# Checks expected to fail, each with the reason (none are skipped silently). pandas is a test
# dependency so that the pandas-input checks run; the array-API checks skip unless
# SCIPY_ARRAY_API=1 is set (scikit-learn's own condition).
EXPECTED_FAILURES = {}


@parametrize_with_checks(
    # float64: the checks compare results to rtol 1e-7, below float32's resolution
    [NeuralNetworkClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0,
                             dtype="float64"),
     NeuralNetworkRegressor(hidden_layer_sizes=(16,), max_iter=200, random_state=0,
                            learning_rate_init=0.01, dtype="float64")],
    expected_failed_checks=lambda est: EXPECTED_FAILURES)
# some checks fit unscaled data on purpose (normal around 100): the fit warns, as it should
@pytest.mark.filterwarnings("ignore::synapsenet.DataWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def test_fitted_attributes(digits):
    Xtr, Xte, ytr, yte = digits
    clf = NeuralNetworkClassifier((32, 16), max_iter=20, random_state=0).fit(Xtr, ytr)
    assert [c.shape for c in clf.coefs_] == [(64, 32), (32, 16), (16, 10)]
    assert [b.shape for b in clf.intercepts_] == [(32,), (16,), (10,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 10 and clf.out_activation_ == "softmax"
    assert clf.classes_.tolist() == list(range(10)) and clf.n_features_in_ == 64
    assert len(clf.loss_curve_) == clf.n_iter_ <= 20
    assert np.allclose(clf.predict_proba(Xte).sum(axis=1), 1, atol=1e-5)


def test_string_labels_non_contiguous_input_and_sample_weight():
    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.normal(size=(120, 4)))[:, ::2]  # non-contiguous view
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    clf = NeuralNetworkClassifier((8,), max_iter=200, random_state=0).fit(X, y)
    assert set(clf.predict(X)) <= {"yes", "no"} and clf.score(X, y) > 0.9
    w = np.where(y == "yes", 10.0, 0.1)
    weighted = NeuralNetworkClassifier((8,), max_iter=200, random_state=0).fit(X, y, w)
    assert (weighted.predict(X) == "yes").mean() >= (clf.predict(X) == "yes").mean()


def test_partial_fit_continues_training(digits):
    Xtr, Xte, ytr, yte = digits
    clf = NeuralNetworkClassifier((32,), random_state=0, learning_rate_init=0.01)
    clf.partial_fit(Xtr, ytr, classes=np.arange(10))
    first = clf.score(Xte, yte)
    for _ in range(10):
        clf.partial_fit(Xtr, ytr)
    assert clf.n_iter_ == 11 and clf.score(Xte, yte) > first
    with pytest.raises(ValueError, match="classes must be given"):
        NeuralNetworkClassifier().partial_fit(Xtr, ytr)


def test_textbook_squared_error_classifier(digits):
    Xtr, Xte, ytr, yte = digits
    clf = NeuralNetworkClassifier((64,), activation="logistic", loss="squared_error",
                                  solver="sgd", momentum=0.0, learning_rate_init=0.5,
                                  batch_size=16, max_iter=60, random_state=0)
    clf.fit(Xtr / 16, ytr)
    assert clf.out_activation_ == "sigmoid" and clf.score(Xte / 16, yte) > 0.95


def test_per_layer_activations_dropout_bounds(digits):
    Xtr, Xte, ytr, yte = digits
    clf = NeuralNetworkClassifier((32, 32), activation=["tanh", "relu"], dropout=0.1,
                                  weight_bound=1.0, max_iter=40, random_state=0)
    clf.fit(Xtr / 16, ytr)
    assert [l.activation.name for l in clf.network_.layers] == ["tanh", "relu", "softmax"]
    assert max(np.abs(c).max() for c in clf.coefs_) <= 1.0
    assert clf.score(Xte / 16, yte) > 0.9


def test_pipeline_and_grid_search(digits):
    Xtr, Xte, ytr, yte = digits
    pipe = make_pipeline(StandardScaler(), NeuralNetworkClassifier(max_iter=100, random_state=0))
    grid = GridSearchCV(pipe, {"neuralnetworkclassifier__hidden_layer_sizes": [(16,), (64,)],
                               "neuralnetworkclassifier__alpha": [1e-4, 1e-2]}, cv=3)
    grid.fit(Xtr, ytr)
    assert grid.best_params_["neuralnetworkclassifier__hidden_layer_sizes"] in [(16,), (64,)]
    assert grid.score(Xte, yte) > 0.95


def test_regressor_fits_a_curve():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 1))
    y = np.sin(X[:, 0])
    reg = NeuralNetworkRegressor((32,), activation="tanh", learning_rate_init=0.01,
                                 max_iter=300, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (400,) and reg.score(X, y) > 0.95
    Y2 = np.c_[y, -y]
    reg2 = NeuralNetworkRegressor((32,), activation="tanh", learning_rate_init=0.01,
                                  max_iter=100, random_state=0).fit(X, Y2)
    assert reg2.predict(X).shape == (400, 2)


def test_early_stopping_records_validation_scores(digits):
    Xtr, _, ytr, _ = digits
    clf = NeuralNetworkClassifier((32,), early_stopping=True, max_iter=200,
                                  random_state=0).fit(Xtr, ytr)
    assert clf.n_iter_ < 200 and clf.best_validation_score_ > 0.9


def test_accuracy_matches_sklearn_mlp_on_digits(digits):
    """Equivalent settings, same data: accuracies within noise of each other."""
    Xtr, Xte, ytr, yte = digits
    ours, theirs = [], []
    for seed in range(3):
        kw = dict(hidden_layer_sizes=(64,), max_iter=60, random_state=seed,
                  learning_rate_init=0.001, batch_size=32)
        ours.append(NeuralNetworkClassifier(**kw).fit(Xtr / 16, ytr).score(Xte / 16, yte))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
            theirs.append(MLPClassifier(**kw).fit(Xtr / 16, ytr).score(Xte / 16, yte))
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.015
    assert min(ours) > 0.95


def test_score_on_hardware(digits):
    Xtr, Xte, ytr, yte = digits
    clf = NeuralNetworkClassifier((32,), max_iter=50, random_state=0).fit(Xtr / 16, ytr)
    assert clf.score_on_hardware(Xte / 16, yte, "ideal") == pytest.approx(clf.score(Xte / 16, yte))
    assert clf.score_on_hardware(Xte / 16, yte, "pcm") > 0.8


def test_engine_never_imports_sklearn():
    import subprocess
    import sys

    code = ("import sys, numpy as np, synapsenet as sn;"
            "n = sn.Network.from_sizes([2, 3, 1]);"
            "n.fit(np.eye(2), [0, 1], epochs=2, learning_rate=0.1);"
            "sn.hardware.deploy(n, 'pcm').predict(np.eye(2));"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('sklearn', 'matplotlib', 'rich', 'torch', 'scipy')];"
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
