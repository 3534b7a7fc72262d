"""scikit-learn estimators backed by synapsenet networks.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``::

    from synapsenet.sklearn import NeuralNetworkClassifier as MLPClassifier

with what scikit-learn's MLP does not offer: per-layer activations, the textbook's
squared-error classifier (``loss="squared_error"``, sigmoid outputs), dropout, synaptic weight
bounds, learning modes (``mode="sgd"|"batch"|"minibatch"``), and evaluation on simulated
analog hardware (``score_on_hardware``).

Parameters follow scikit-learn's names where it has them (``hidden_layer_sizes``,
``activation``, ``solver``, ``alpha``, ``batch_size``, ``learning_rate_init``, ``max_iter``,
``tol``, ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``, ``momentum``,
``nesterovs_momentum``, ``beta_1``, ``beta_2``, ``random_state``). Fitted attributes end in
``_``; ``coefs_[i]`` has scikit-learn's shape (n_in, n_out), i.e. the transpose of the
textbook's ``W`` that ``network_.layers[i].W`` holds.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .network import Network
from .optimizers import SGD, Adam
from .options import TrainingOptions
from .substrate import Digital
from .training import History, fit as core_fit



#: scikit-learn's names of the training options (``synapsenet.options.TrainingOptions``);
#: the solver's own parameters (solver, alpha, momentum, beta_1, …) make the optimiser
SKLEARN_NAMES = {"max_iter": "epochs", "learning_rate_init": "learning_rate",
                 "learning_rate": "schedule", "n_iter_no_change": "patience",
                 "tol": "min_delta"}

class _BaseNeuralNetwork(BaseEstimator):
    _output: str
    _loss: str

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, output_activation=None,
                 loss=None, solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, mode="minibatch",
                 dropout=0.0, weight_bound=None, init=None, dtype="float32"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.mode = mode
        self.dropout = dropout
        self.weight_bound = weight_bound
        self.init = init
        self.dtype = dtype

    # -- construction -----------------------------------------------------------------------
    def _sizes(self, n_in, n_out):
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if np.isscalar(hidden) else list(hidden)
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive, got {self.hidden_layer_sizes}")
        return [n_in] + [int(h) for h in hidden] + [n_out]

    def _activations(self, n_layers):
        acts = self.activation
        if isinstance(acts, str):
            acts = [acts] * (n_layers - 1)
        acts = ["sigmoid" if a == "logistic" else a for a in acts]
        if len(acts) != n_layers - 1:
            raise ValueError(f"activation: {n_layers - 1} hidden layers need as many "
                             f"activations, got {len(acts)}")
        return acts + [self.output_activation or self._output]

    def _optimizer(self):
        if self.solver == "adam":
            return Adam(self.beta_1, self.beta_2, self.epsilon, weight_decay=self.alpha)
        if self.solver == "sgd":
            return SGD(momentum=self.momentum, nesterov=bool(self.nesterovs_momentum and
                                                             self.momentum > 0),
                       weight_decay=self.alpha)
        raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}")

    def _batch(self, n):
        if self.mode != "minibatch":
            return None
        if self.batch_size == "auto":
            return min(200, n)
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer or 'auto', got "
                             f"{self.batch_size!r}")
        return min(int(self.batch_size), n)

    def _targets(self, y):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train from scratch on (X, y) for up to ``max_iter`` epochs."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        first = not (incremental and hasattr(self, "network_"))
        X, y = validate_data(self, X, y, reset=first, multi_output=not self._is_classifier,
                             dtype=(np.float64, np.float32), y_numeric=not self._is_classifier)
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not self.learning_rate_init > 0:
            raise ValueError(f"learning_rate_init must be > 0, got {self.learning_rate_init!r}")
        targets = self._targets(y, first, classes)
        if first:
            seed = np.random.RandomState(self.random_state).randint(np.iinfo(np.int32).max) \
                if not isinstance(self.random_state, (int, np.integer)) else self.random_state
            self._rng = np.random.default_rng(seed)
            sizes = self._sizes(X.shape[1], self._n_out)
            self.network_ = Network.from_sizes(
                sizes, activations=self._activations(len(sizes) - 1), init=self.init,
                dropout=self.dropout, seed=self._rng, dtype=self.dtype,
            ).on(Digital(weight_bound=self.weight_bound))
            self._optimizer_ = self._optimizer()
            self.loss_curve_, self.n_iter_, self.t_ = [], 0, 0
            self.best_loss_ = np.inf
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
        sw = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
        epochs = 1 if incremental else self.max_iter
        X_train, t_train, val = X, targets, None
        if self.early_stopping and not incremental:
            from sklearn.model_selection import train_test_split

            strat = targets if self._is_classifier and len(np.unique(targets)) > 1 else None
            split = train_test_split(X, targets, *(() if sw is None else (sw,)),
                                     test_size=self.validation_fraction,
                                     random_state=int(self._rng.integers(2 ** 31)),
                                     stratify=strat)
            X_train, X_val, t_train, t_val = split[:4]
            if sw is not None:
                sw = split[4]
            val = (X_val, t_val)
        history = History()
        options = TrainingOptions(**{SKLEARN_NAMES.get(k, k): v for k, v in {
            "max_iter": epochs, "learning_rate_init": float(self.learning_rate_init),
            "learning_rate": self.learning_rate, "n_iter_no_change": self.n_iter_no_change,
            "tol": self.tol, "shuffle": self.shuffle, "mode": self.mode,
            "batch_size": self._batch(len(X_train)), "loss": self._loss_name,
            "optimizer": self._optimizer_, "early_stopping": not incremental}.items()})
        core_fit(self.network_, X_train, t_train, options, seed=self._rng, validation_data=val,
                 sample_weight=sw, history=history)
        self.n_iter_ += len(history)
        self.t_ += history.updates
        self.loss_curve_ += list(history.loss)
        self.loss_ = history.loss[-1]
        self.best_loss_ = min(self.best_loss_, min(history.loss))
        if self.early_stopping and not incremental:
            scores = [self._val_score(X_val, t_val)] if history.val_loss else []
            self.validation_scores_ += scores
            self.best_validation_score_ = max([self.best_validation_score_] + scores)
        self._export()
        return self

    def partial_fit(self, X, y, sample_weight=None, **kw):
        """One epoch over (X, y), continuing from the current weights and optimiser state."""
        return self._fit(X, y, sample_weight, incremental=True, **kw)

    def _export(self):
        net = self.network_
        self.coefs_ = [layer.W.T.copy() for layer in net.layers]
        self.intercepts_ = [layer.b.copy() for layer in net.layers]
        self.n_layers_ = len(net.layers) + 1
        self.n_outputs_ = net.n_outputs
        self.out_activation_ = net.output_activation.name

    def _forward(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.predict(X).astype(np.float64)

    def score_on_hardware(self, X, y, hardware="pcm", seed=0):
        """The estimator's score with its network deployed on a simulated analog chip."""
        from .hardware import deploy

        check_is_fitted(self, "network_")
        chip = deploy(self.network_, hardware, seed=seed)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        Z = chip.predict(X).astype(np.float64)
        return self._score_outputs(Z, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class NeuralNetworkClassifier(ClassifierMixin, _BaseNeuralNetwork):
    """A synapsenet multi-layer perceptron as a scikit-learn classifier.

    ``loss="cross_entropy"`` (default, softmax outputs) or ``loss="squared_error"`` (the
    textbook's classifier: sigmoid outputs trained on one-hot targets).

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NeuralNetworkClassifier((16,), max_iter=300, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _is_classifier = True

    @property
    def _output(self):
        return "softmax" if self._loss_name == "cross_entropy" else "sigmoid"

    @property
    def _loss_name(self):
        loss = self.loss or "cross_entropy"
        if loss not in ("cross_entropy", "squared_error"):
            raise ValueError(f"loss must be 'cross_entropy' or 'squared_error', got {loss!r}")
        return loss

    def _targets(self, y, first, classes=None):
        check_classification_targets(y)
        y = np.asarray(y)
        if y.ndim > 1 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError("NeuralNetworkClassifier takes 1-D class labels; multi-output "
                             "targets are not supported")
        if first:
            self._encoder = LabelEncoder()
            self._encoder.fit(classes if classes is not None else y)
            self.classes_ = self._encoder.classes_
            self._n_out = max(len(self.classes_), 2)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError("classes differ from those of the first partial_fit call")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if len(unseen):
            raise ValueError(f"y contains labels not seen before: {unseen.tolist()}")
        return self._encoder.transform(y)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be given to the first call of partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities (softmax outputs; squared-error outputs normalised)."""
        Z = self._forward(X)
        if self.out_activation_ != "softmax":
            Z = np.clip(Z, 1e-12, None)
            Z /= Z.sum(axis=1, keepdims=True)
        return Z[:, :len(self.classes_)] if len(self.classes_) > 1 else np.ones((len(Z), 1))

    def predict_log_proba(self, X):
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))

    def predict(self, X):
        Z = self._forward(X)
        return self.classes_[Z[:, :len(self.classes_)].argmax(axis=1)]

    def _val_score(self, X, t):
        return float(np.mean(self.network_.classify(X) == t))

    def _score_outputs(self, Z, y):
        return float(np.mean(self.classes_[Z[:, :len(self.classes_)].argmax(axis=1)] ==
                             np.asarray(y)))


class NeuralNetworkRegressor(RegressorMixin, _BaseNeuralNetwork):
    """A synapsenet multi-layer perceptron as a scikit-learn regressor (identity outputs,
    squared error ½Σ(z − d)²)."""

    _is_classifier = False
    _output = "identity"
    _loss_name = "squared_error"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y, first, classes=None):
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1 if first else self._y_1d
        Y = y.reshape(len(y), -1)
        if first:
            self._n_out = Y.shape[1]
        elif Y.shape[1] != self._n_out:
            raise ValueError(f"y has {Y.shape[1]} outputs, the model {self._n_out}")
        return Y

    def predict(self, X):
        Z = self._forward(X)
        return Z.ravel() if self._y_1d else Z

    def _val_score(self, X, t):
        from sklearn.metrics import r2_score

        return float(r2_score(t, self.network_.predict(X)))

    def _score_outputs(self, Z, y):
        from sklearn.metrics import r2_score

        return float(r2_score(y, Z.ravel() if self._y_1d else Z))


__all__ = ["NeuralNetworkClassifier", "NeuralNetworkRegressor"]
