"""Random forests on feature tables with spatial cross-validation and explained predictions.

The forest follows scikit-learn's RandomForestRegressor/Classifier definitions, so scores compare
on the same folds (``benches/compare/ml_compare.py``). Status: the foundation of the ML work —
saving, signing and monitoring models are not built yet.

>>> folds = landopp.ml.spatial_folds(xy, blocks=25, k=5)              # doctest: +SKIP
>>> oof = landopp.ml.cross_val_predict(X, y, folds, n_estimators=100)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import _landopp


def kfold(n: int, k: int = 5, *, seed: int = 0) -> np.ndarray:
    """Fold of each of ``n`` rows for shuffled k-fold cross-validation."""
    return _landopp.ml_folds("kfold", n, k, seed)


def spatial_folds(xy: Any, *, blocks: int = 25, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold of each row for spatial block cross-validation: k-means ``blocks`` of the projected
    coordinates ``xy`` (n × 2, metres), dealt to ``k`` folds so neighbours share a fold."""
    a = np.ascontiguousarray(np.asarray(xy, dtype=np.float64))
    return _landopp.ml_folds("spatial", len(a), k, seed, a, blocks)


def _params(task: str, **params: Any) -> str:
    return json.dumps({"task": task, **params})


def cross_val_predict(X: Any, y: Any, folds: Any, *, task: str = "regression", **params: Any) -> np.ndarray:
    """Out-of-fold predictions of a random forest: for each fold, fit on the others, predict it.
    ``params``: ``n_estimators`` (100), ``max_features`` (fraction; 1.0 regression, √p
    classification), ``min_samples_leaf`` (1), ``max_depth``, ``bootstrap`` (True), ``seed`` (0).
    Classification returns ``n × n_classes`` probabilities (flattened row-major)."""
    x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    return _landopp.ml_cross_val_predict(x, np.ascontiguousarray(np.asarray(y, dtype=np.float64)),
                                         [int(f) for f in folds], _params(task, **params))


def fit_explain(X: Any, y: Any, X_new: Any, *, task: str = "regression",
                **params: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Fit on ``X, y``; return predictions for ``X_new`` and, per row, ``{value, bias,
    contributions}`` where ``bias + Σ contributions == value`` (exact path contributions)."""
    x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    xn = np.ascontiguousarray(np.asarray(X_new, dtype=np.float64))
    pred, ex = _landopp.ml_fit_explain(x, np.ascontiguousarray(np.asarray(y, dtype=np.float64)), xn,
                                       _params(task, **params))
    return pred, json.loads(ex)
