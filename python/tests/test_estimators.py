"""scikit-learn estimators (landopp.estimators): scikit-learn's own estimator checks, the same
predictions as the functional API, and use in Pipeline / cross_val_score / GridSearchCV."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

import landopp

sklearn = pytest.importorskip("sklearn", minversion="1.6")
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from landopp.estimators import (  # noqa: E402
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    LogisticRegression,
    RandomForestClassifier,
    RandomForestRegressor,
    Ridge,
)

ESTIMATORS = [RandomForestRegressor(n_estimators=10), RandomForestClassifier(n_estimators=10),
              GradientBoostingRegressor(max_iter=20), GradientBoostingClassifier(max_iter=20),
              Ridge(), LogisticRegression()]

# Every scikit-learn check that does not pass, with the reason. (check_array_api_input is skipped
# by scikit-learn itself unless SCIPY_ARRAY_API=1: the estimators do not claim array API support.)
_N_ITER = ("the core does not report how many iterations ran (boosting's early stopping, logistic "
           "regression's Newton iterations), so there is no n_iter_")
EXPECTED_FAILED: dict[str, dict[str, str]] = {
    "GradientBoostingRegressor": {"check_non_transformer_estimators_n_iter": _N_ITER},
    "GradientBoostingClassifier": {"check_non_transformer_estimators_n_iter": _N_ITER},
    "LogisticRegression": {"check_non_transformer_estimators_n_iter": _N_ITER},
}


def expected_failed_checks(est):
    return EXPECTED_FAILED.get(type(est).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def data(task, n=150, p=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    z = X[:, 0] * 2 + np.sin(X[:, 1]) - X[:, 2] * X[:, 3] + rng.normal(scale=0.1, size=n)
    if task == "regression":
        return X, z
    return X, np.digitize(z, np.quantile(z, np.linspace(0, 1, classes + 1)[1:-1]))


CASES = [
    (RandomForestRegressor(n_estimators=30, min_samples_leaf=2, random_state=7), "regression", "random_forest",
     {"n_estimators": 30, "min_samples_leaf": 2, "max_features": 1.0, "seed": 7}),
    (RandomForestRegressor(n_estimators=20, max_features=3, max_depth=4, bootstrap=False), "regression",
     "random_forest", {"n_estimators": 20, "max_features": 0.6, "max_depth": 4, "bootstrap": False}),
    (RandomForestClassifier(n_estimators=30, random_state=3), "classification", "random_forest",
     {"n_estimators": 30, "seed": 3}),
    (GradientBoostingRegressor(max_iter=40, learning_rate=0.2, min_samples_leaf=5), "regression",
     "gradient_boosting", {"max_iter": 40, "learning_rate": 0.2, "min_samples_leaf": 5}),
    (GradientBoostingClassifier(max_iter=30, max_leaf_nodes=8, l2_regularization=0.5), "classification",
     "gradient_boosting", {"max_iter": 30, "max_leaf_nodes": 8, "l2_regularization": 0.5}),
    (Ridge(alpha=3.0), "regression", "linear", {"alpha": 3.0}),
    (LogisticRegression(C=0.5, max_iter=50), "classification", "linear", {"C": 0.5, "max_iter": 50}),
]


@pytest.mark.parametrize("est,task,model,params", CASES, ids=lambda c: type(c).__name__ if hasattr(c, "fit") else "")
def test_predictions_equal_the_functional_api(est, task, model, params):
    X, y = data(task)
    Xn = data(task, n=40, seed=1)[0]
    ref, _ = landopp.ml.fit_explain(X, y, Xn, task=task, model=model, **params)
    est.fit(X, y)
    assert est.n_features_in_ == 5
    if task == "regression":
        np.testing.assert_array_equal(est.predict(Xn), ref)
        assert est.score(X, y) > 0.5
    else:
        proba = est.predict_proba(Xn)
        np.testing.assert_array_equal(proba, ref.reshape(len(Xn), 3))
        np.testing.assert_array_equal(est.classes_, [0, 1, 2])
        np.testing.assert_array_equal(est.predict(Xn), np.argmax(proba, axis=1))
    # the fitted model is landopp's: same card, and it pickles through its model file
    assert est.model_.card["hyper_parameters"]["model"] == model
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(Xn), est.predict(Xn))


def test_string_labels_are_the_classes():
    X, y = data("classification")
    labels = np.array(["low", "mid", "high"])[y]
    est = RandomForestClassifier(n_estimators=20).fit(X, labels)
    assert est.classes_.tolist() == ["high", "low", "mid"]
    assert set(est.predict(X)) <= {"high", "low", "mid"}
    assert (est.predict(X) == labels).mean() > 0.9


def test_grid_search_pipeline_and_cross_val_score():
    X, y = data("regression", n=200)
    pipe = make_pipeline(StandardScaler(), GradientBoostingRegressor(max_iter=30))
    search = GridSearchCV(pipe, {"gradientboostingregressor__learning_rate": [0.01, 0.3],
                                 "gradientboostingregressor__min_samples_leaf": [5, 20]},
                          cv=KFold(3, shuffle=True, random_state=0), n_jobs=2)
    search.fit(X, y)
    assert search.best_params_["gradientboostingregressor__learning_rate"] == 0.3
    assert search.best_score_ > 0.7
    assert isinstance(search.best_estimator_[-1].model_, landopp.ml.Model)

    Xc, yc = data("classification", n=200)
    scores = cross_val_score(RandomForestClassifier(n_estimators=30), Xc, yc, cv=4)
    assert len(scores) == 4 and scores.mean() > 0.6
    grid = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0, 100.0]}, cv=3, scoring="neg_log_loss").fit(Xc, yc)
    assert grid.best_estimator_.C in (0.01, 1.0, 100.0)
    assert grid.predict_proba(Xc).shape == (200, 3)


def test_parameters_are_validated_in_fit():
    X, y = data("regression", n=30)
    est = RandomForestRegressor(n_estimators=0)  # stored verbatim, not checked
    assert est.get_params()["n_estimators"] == 0
    with pytest.raises(ValueError, match="n_estimators"):
        est.fit(X, y)
    with pytest.raises(ValueError, match="max_features"):
        RandomForestRegressor(max_features=9).fit(X, y)
    with pytest.raises(ValueError, match="max_leaf_nodes"):
        GradientBoostingRegressor(max_leaf_nodes=None).fit(X, y)
    with pytest.raises(ValueError, match="C"):
        LogisticRegression(C=0).fit(X, y > 0)
    assert Ridge().set_params(alpha=2.0).alpha == 2.0


def test_lazy_import_from_landopp_ml():
    assert landopp.ml.Ridge is Ridge
    assert "RandomForestClassifier" in dir(landopp.ml)
    with pytest.raises(AttributeError):
        landopp.ml.NoSuchEstimator  # noqa: B018
    # importing landopp does not import scikit-learn; without it the estimators say how to get it
    code = ("import sys; import landopp; assert 'sklearn' not in sys.modules\n"
            "sys.modules['sklearn'] = None\n"
            "try:\n    landopp.ml.Ridge\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install landopp[sklearn]" in out
