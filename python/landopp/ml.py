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


class Model:
    """A random forest with its model card (version, feature schema, training-data hash, metrics,
    hyper-parameters, library version), kept in Rust; saved with a SHA-256 checksum, optionally
    signed (HMAC-SHA256) and encrypted at rest (AES-256-GCM, 32-byte key).

    >>> m = landopp.ml.Model.fit(df[cols], df["developed"], task="classification", model_version="1.0.0")  # doctest: +SKIP
    >>> m.save("model.json", hmac_key=b"...", encryption_key=key32)                                     # doctest: +SKIP
    >>> m = landopp.ml.Model.load("model.json", hmac_key=b"...", encryption_key=key32, expect_features=cols)  # doctest: +SKIP
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @classmethod
    def fit(cls, X: Any, y: Any, *, task: str = "regression", features: list[str] | None = None,
            target: str = "target", model_version: str = "0.1.0", metrics: dict[str, float] | None = None,
            **params: Any) -> "Model":
        """Fit on a DataFrame/array ``X`` (its columns name the features) and ``y``."""
        names = features or [str(c) for c in getattr(X, "columns", range(np.asarray(X).shape[1]))]
        x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        yy = np.ascontiguousarray(np.asarray(y, dtype=np.float64))
        return cls(_landopp.Model.fit(x, yy, names, str(getattr(y, "name", None) or target),
                                      _params(task, **params), model_version, metrics))

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (regression) or class probabilities (``n × n_classes``)."""
        x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        out = self._inner.predict(x)
        k = len(out) // max(len(x), 1)
        return out.reshape(len(x), k) if k > 1 else out

    def explain(self, X: Any) -> list[dict[str, Any]]:
        """Per row ``{value, bias, contributions}``; ``bias + Σ contributions == value``."""
        return json.loads(self._inner.explain(np.ascontiguousarray(np.asarray(X, dtype=np.float64))))

    @property
    def card(self) -> dict[str, Any]:
        """The model card."""
        return json.loads(self._inner.card())

    def save(self, path: Any, *, hmac_key: bytes | None = None, encryption_key: bytes | None = None) -> None:
        """Write the model (write-then-rename)."""
        self._inner.save(str(path), hmac_key, encryption_key)

    @classmethod
    def load(cls, path: Any, *, hmac_key: bytes | None = None, encryption_key: bytes | None = None,
             expect_features: list[str] | None = None) -> "Model":
        """Read and verify: tampered or wrongly keyed → ``IntegrityError``; not a model →
        ``FormatError``; other features than ``expect_features`` → ``InvalidInputError``."""
        return cls(_landopp.Model.load(str(path), hmac_key, encryption_key, expect_features))


def drift_report(reference: Any, current: Any, *, psi_threshold: float = 0.2,
                 ks_threshold: float = 0.1) -> dict[str, Any]:
    """PSI (10 quantile bins of the reference) and Kolmogorov–Smirnov statistic of every shared
    column of two DataFrames (training reference, new data); ``drifted`` lists the columns over a
    threshold. Pass predictions as a column to check prediction drift."""
    cols = [(str(c), np.asarray(reference[c], dtype=np.float64).tolist(), np.asarray(current[c], dtype=np.float64).tolist())
            for c in reference.columns if c in current.columns]
    return json.loads(_landopp.ml_drift(cols, psi_threshold, ks_threshold))  # type: ignore[no-any-return]


def ab_assign(parcel_ids: Any, *, salt: str, share_b: float, model_a: str, model_b: str) -> list[str]:
    """The model version serving each parcel: SHA-256 of salt + id, deterministic."""
    split = json.dumps({"salt": salt, "share_b": share_b, "model_a": model_a, "model_b": model_b})
    return _landopp.ml_ab_assign(split, [str(i) for i in parcel_ids])  # type: ignore[no-any-return]
