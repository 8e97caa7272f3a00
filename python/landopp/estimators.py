"""scikit-learn estimators on landopp's models, for ``Pipeline``, ``cross_val_score``,
``GridSearchCV`` and the rest of scikit-learn's model selection.

Each class fits a :class:`landopp.ml.Model` (kept as ``model_``: explain it, save it as a signed
model file, register it) with the same family and hyper-parameters the functional API takes, so
``est.predict(X)`` equals ``landopp.ml.fit_explain(X, y, X, model=..., **params)[0]``:

- :class:`RandomForestRegressor`, :class:`RandomForestClassifier` — ``model="random_forest"``
  (scikit-learn's forest definitions; ``random_state`` is the core's ``seed``).
- :class:`GradientBoostingRegressor`, :class:`GradientBoostingClassifier` —
  ``model="gradient_boosting"``: the algorithm and parameters of scikit-learn's
  ``HistGradientBoostingRegressor`` / ``Classifier`` (``max_iter``, not ``n_estimators``).
- :class:`Ridge`, :class:`LogisticRegression` — ``model="linear"``: the models are fitted on
  standardised features, i.e. scikit-learn's ``make_pipeline(StandardScaler(), Ridge(alpha))`` and
  ``make_pipeline(StandardScaler(), LogisticRegression(C=C))``.

Features are numeric and finite (impute and encode first, e.g. in the ``Pipeline``); no sample
weights, no sparse input, one target. Requires scikit-learn >= 1.6 (``pip install
landopp[sklearn]``); importing :mod:`landopp` does not import scikit-learn — ``landopp.ml.Ridge``
etc. load this module on first use.

>>> from sklearn.model_selection import GridSearchCV                               # doctest: +SKIP
>>> search = GridSearchCV(landopp.ml.RandomForestRegressor(), {"min_samples_leaf": [1, 5]})  # doctest: +SKIP
>>> search.fit(X, y).best_estimator_.model_.save("model.json")                   # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

_NEEDS = "landopp's scikit-learn estimators need scikit-learn >= 1.6: pip install landopp[sklearn]"

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # no scikit-learn, or one older than 1.6 (no validate_data); the cause stays chained
    raise ImportError(_NEEDS)  # noqa: B904

from .ml import Model

__all__ = [
    "RandomForestRegressor", "RandomForestClassifier", "GradientBoostingRegressor",
    "GradientBoostingClassifier", "Ridge", "LogisticRegression",
]


def _int(name: str, value: Any, low: int, *, none: bool = False) -> int | None:
    """``value`` as an int >= ``low`` (None when allowed), else ``ValueError`` naming it."""
    if value is None and none:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= low:
        return int(value)
    raise ValueError(f"{name} must be an int >= {low}{' or None' if none else ''}, got {value!r}")


def _float(name: str, value: Any, *, low: float, low_open: bool, high: float = math.inf,
           high_open: bool = True) -> float:
    """``value`` as a finite float in the range, else ``ValueError`` naming it."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        if math.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high):
            return v
    lo, hi = "(" if low_open else "[", ")" if high_open else "]"
    raise ValueError(f"{name} must be a float in {lo}{low}, {high}{hi}, got {value!r}")


def _seed(random_state: Any) -> int:
    """The core's seed: an int is the seed itself (as the functional API's ``seed``); None or a
    ``RandomState`` draws one."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= int(random_state) < 2**64:
            raise ValueError(f"random_state must be in [0, 2**64), got {random_state!r}")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _LandoppEstimator(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type stubs
    """Fit and predict through :class:`landopp.ml.Model`; subclasses give ``_model``,
    ``_task`` and ``_core_params``."""

    _model = ""
    _task = ""

    def _core_params(self, n_features: int) -> dict[str, Any]:
        raise NotImplementedError

    def _fit(self, X: Any, y: Any) -> np.ndarray:
        """Validate, encode the classes and fit ``model_``; returns the target given to it."""
        regression = self._task == "regression"
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=regression)
        if not regression:
            check_classification_targets(y)
            self.classes_, codes = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                                 f"the data contains only one class: {self.classes_[0]!r}")
            y = codes.astype(np.float64)
        params = self._core_params(X.shape[1])
        self.model_ = Model.fit(X, y, task=self._task, model=self._model, **params)
        target: np.ndarray = y
        return target

    def _raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.model_.predict(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = False
        tags.target_tags.single_output = True
        tags.non_deterministic = False
        return tags


class _Regressor(RegressorMixin, _LandoppEstimator):  # type: ignore[misc]
    _task = "regression"

    def fit(self, X: Any, y: Any) -> Any:
        """Fit on ``X`` (n × p, numeric) and ``y`` (n numbers); returns ``self``."""
        self._fit(X, y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values (n)."""
        return np.asarray(self._raw(X)).reshape(-1)


class _Classifier(ClassifierMixin, _LandoppEstimator):  # type: ignore[misc]
    _task = "classification"

    def fit(self, X: Any, y: Any) -> Any:
        """Fit on ``X`` (n × p, numeric) and ``y`` (n labels: numbers or strings; at least two
        classes); returns ``self``. ``classes_`` holds the sorted labels."""
        self._fit(X, y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n × n_classes, columns in the order of ``classes_``)."""
        out = np.asarray(self._raw(X))  # checks that it is fitted first
        return out.reshape(-1, len(self.classes_))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row (a label of ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]  # type: ignore[no-any-return]


def _max_features(value: Any, n_features: int, classification: bool) -> float | None:
    """scikit-learn's ``max_features`` as the core's fraction of the features (None: the core's
    default, √p for classification). A float passes through: the core rounds ``f·p`` where
    scikit-learn truncates it."""
    if isinstance(value, str):
        if value == "sqrt":
            if classification:
                return None
            return max(1, int(math.sqrt(n_features))) / n_features
        if value == "log2":
            return max(1, int(math.log2(n_features))) / n_features
        raise ValueError(f"max_features must be 'sqrt', 'log2', an int, a float in (0, 1] or None, got {value!r}")
    if value is None:
        return 1.0
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if not 1 <= int(value) <= n_features:
            raise ValueError(f"max_features {value} must be in [1, n_features={n_features}]")
        return int(value) / n_features
    return _float("max_features", value, low=0.0, low_open=True, high=1.0, high_open=False)


class _Forest(_LandoppEstimator):
    _model = "random_forest"

    def _core_params(self, n_features: int) -> dict[str, Any]:
        return {
            "n_estimators": _int("n_estimators", self.n_estimators, 1),
            "max_features": _max_features(self.max_features, n_features, self._task == "classification"),
            "min_samples_leaf": _int("min_samples_leaf", self.min_samples_leaf, 1),
            "max_depth": _int("max_depth", self.max_depth, 1, none=True),
            "bootstrap": bool(self.bootstrap),
            "seed": _seed(self.random_state),
        }


class RandomForestRegressor(_Regressor, _Forest):
    """Random forest regression (landopp's ``model="random_forest"``).

    ``max_features``: ``"sqrt"``, ``"log2"``, a count, a fraction (the core rounds ``f·p``), or
    None (all). ``random_state``: an int is the core's ``seed`` (deterministic, default 0).
    Fitted: ``model_`` (:class:`landopp.ml.Model`), ``n_features_in_``, ``feature_names_in_``
    (DataFrame input). No ``feature_importances_``: the core has no impurity importance (use
    ``model_.permutation_importance``)."""

    def __init__(self, n_estimators: int = 100, *, max_depth: int | None = None, min_samples_leaf: int = 1,
                 max_features: Any = 1.0, bootstrap: bool = True, random_state: Any = 0) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state


class RandomForestClassifier(_Classifier, _Forest):
    """Random forest classification (landopp's ``model="random_forest"``, Gini splits,
    probabilities = mean of the leaves' class shares). Parameters as
    :class:`RandomForestRegressor` (``max_features`` default ``"sqrt"``); also ``classes_``."""

    def __init__(self, n_estimators: int = 100, *, max_depth: int | None = None, min_samples_leaf: int = 1,
                 max_features: Any = "sqrt", bootstrap: bool = True, random_state: Any = 0) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state


class _Boosting(_LandoppEstimator):
    _model = "gradient_boosting"

    def _core_params(self, n_features: int) -> dict[str, Any]:
        es = self.early_stopping
        if not (es == "auto" or isinstance(es, (bool, np.bool_))):
            raise ValueError(f"early_stopping must be 'auto', True or False, got {es!r}")
        return {
            "learning_rate": _float("learning_rate", self.learning_rate, low=0.0, low_open=True),
            "max_iter": _int("max_iter", self.max_iter, 1),
            "max_leaf_nodes": _int("max_leaf_nodes", self.max_leaf_nodes, 2),
            "max_depth": _int("max_depth", self.max_depth, 1, none=True),
            "min_samples_leaf": _int("min_samples_leaf", self.min_samples_leaf, 1),
            "l2_regularization": _float("l2_regularization", self.l2_regularization, low=0.0, low_open=False),
            "max_bins": _int("max_bins", self.max_bins, 2),
            "early_stopping": es if es == "auto" else bool(es),
            "validation_fraction": _float("validation_fraction", self.validation_fraction, low=0.0, low_open=True,
                                          high=1.0, high_open=True),
            "n_iter_no_change": _int("n_iter_no_change", self.n_iter_no_change, 1),
            "tol": _float("tol", self.tol, low=0.0, low_open=False),
            "seed": _seed(self.random_state),
        }


class GradientBoostingRegressor(_Regressor, _Boosting):
    """Histogram gradient boosting regression (landopp's ``model="gradient_boosting"``: the
    algorithm, parameters and defaults of scikit-learn's ``HistGradientBoostingRegressor``,
    squared error). ``early_stopping="auto"`` is on above 10,000 rows; ``random_state`` (an int
    is the core's ``seed``) draws its validation split. Fitted: ``model_``, ``n_features_in_``."""

    def __init__(self, *, learning_rate: float = 0.1, max_iter: int = 100, max_leaf_nodes: int = 31,
                 max_depth: int | None = None, min_samples_leaf: int = 20, l2_regularization: float = 0.0,
                 max_bins: int = 255, early_stopping: Any = "auto", validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-7, random_state: Any = 0) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state


class GradientBoostingClassifier(_Classifier, _Boosting):
    """Histogram gradient boosting classification (log loss; one tree per class per iteration
    above two classes), as scikit-learn's ``HistGradientBoostingClassifier``. Parameters as
    :class:`GradientBoostingRegressor`; also ``classes_``."""

    def __init__(self, *, learning_rate: float = 0.1, max_iter: int = 100, max_leaf_nodes: int = 31,
                 max_depth: int | None = None, min_samples_leaf: int = 20, l2_regularization: float = 0.0,
                 max_bins: int = 255, early_stopping: Any = "auto", validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-7, random_state: Any = 0) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state


class Ridge(_Regressor):
    """Ridge regression on standardised features (landopp's ``model="linear"``), i.e.
    scikit-learn's ``make_pipeline(StandardScaler(), Ridge(alpha))``; solved exactly."""

    _model = "linear"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def _core_params(self, n_features: int) -> dict[str, Any]:
        return {"alpha": _float("alpha", self.alpha, low=0.0, low_open=False)}


class LogisticRegression(_Classifier):
    """L2-regularised logistic regression on standardised features (landopp's
    ``model="linear"``; multinomial above two classes), i.e. scikit-learn's
    ``make_pipeline(StandardScaler(), LogisticRegression(C=C))``; Newton's method, at most
    ``max_iter`` iterations."""

    _model = "linear"

    def __init__(self, C: float = 1.0, *, max_iter: int = 100) -> None:
        self.C = C
        self.max_iter = max_iter

    def _core_params(self, n_features: int) -> dict[str, Any]:
        return {"C": _float("C", self.C, low=0.0, low_open=True), "max_iter": _int("max_iter", self.max_iter, 1)}
