"""Models on feature tables: random forests, histogram gradient boosting and linear models
(ridge, logistic), with spatial cross-validation, explained predictions, permutation importance,
signed/encrypted model files, drift reports and A/B routing.

Every function takes ``model=`` — ``"random_forest"`` (scikit-learn's RandomForest definitions),
``"gradient_boosting"`` (HistGradientBoosting's algorithm) or ``"linear"`` (standardised ridge /
logistic regression) — and that family's hyper-parameters by scikit-learn's names, so scores
compare on the same folds (``benches/compare/ml_compare.py``). The same models as scikit-learn
estimators (``RandomForestRegressor``, ..., ``LogisticRegression``: :mod:`landopp.estimators`) are
importable from here; they load scikit-learn on first use.

>>> folds = landopp.ml.spatial_folds(xy, blocks=25, k=5)                          # doctest: +SKIP
>>> oof = landopp.ml.cross_val_predict(X, y, folds, model="gradient_boosting")     # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _landopp
from ._convert import _columns_of

if TYPE_CHECKING:
    from .types import DriftReport, Explained, ModelCard


def kfold(n: int, k: int | None = None, *, seed: int | None = None) -> np.ndarray:
    """Fold of each of ``n`` rows for shuffled k-fold cross-validation (default ``k`` 5, ``seed`` 0)."""
    return _landopp.ml_folds("kfold", n, k, seed)


def spatial_folds(xy: Any, *, blocks: int | None = None, k: int | None = None, seed: int | None = None) -> np.ndarray:
    """Fold of each row for spatial block cross-validation: k-means ``blocks`` (default 25) of the
    projected coordinates ``xy`` (n × 2, metres), dealt to ``k`` folds (default 5) so neighbours
    share a fold."""
    a = np.ascontiguousarray(np.asarray(xy, dtype=np.float64))
    return _landopp.ml_folds("spatial", len(a), k, seed, a, blocks)


def holdout(n_or_xy: Any, *, test_fraction: float | None = None, blocks: int | None = None,
            seed: int | None = None) -> np.ndarray:
    """Hold-out split as fold labels (0 = training, 1 = test), usable wherever folds are. Given
    projected coordinates (n × 2, metres) the split is spatial — whole k-means ``blocks`` go to
    the test side until it holds ``test_fraction`` of the rows, so test parcels are not
    neighbours of training ones; given a row count, a shuffled share of the rows. Defaults:
    ``test_fraction`` 0.2, ``blocks`` 25, ``seed`` 0 (the core's, as in every language).

    >>> folds = holdout(xy, test_fraction=0.2)                     # doctest: +SKIP
    >>> pred = cross_val_predict(X, y, folds)[folds == 1]          # doctest: +SKIP
    """
    if np.ndim(n_or_xy) == 0:
        return _landopp.ml_folds("holdout", int(n_or_xy), None, seed, None, blocks, test_fraction)
    a = np.ascontiguousarray(np.asarray(n_or_xy, dtype=np.float64))
    return _landopp.ml_folds("holdout", len(a), None, seed, a, blocks, test_fraction)


MODELS = ("random_forest", "gradient_boosting", "linear")


def _params(task: str, model: str = "random_forest", **params: Any) -> dict[str, Any]:
    return {"model": model, "task": task, **params}


def cross_val_predict(X: Any, y: Any, folds: Any, *, task: str = "regression", model: str = "random_forest",
                      **params: Any) -> np.ndarray:
    """Out-of-fold predictions: for each fold, fit on the others, predict it.

    ``params`` by family — random_forest: ``n_estimators`` (100), ``max_features`` (fraction; 1.0
    regression, √p classification), ``min_samples_leaf`` (1), ``max_depth``, ``bootstrap`` (True),
    ``seed`` (0); gradient_boosting: ``learning_rate`` (0.1), ``max_iter`` (100),
    ``max_leaf_nodes`` (31), ``max_depth``, ``min_samples_leaf`` (20), ``l2_regularization`` (0),
    ``max_bins`` (255), ``seed``; linear: ``alpha`` (ridge, 1.0), ``C`` (logistic, 1.0),
    ``max_iter`` (100). Classification returns ``n × n_classes`` probabilities (flattened
    row-major)."""
    x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    return _landopp.ml_cross_val_predict(x, np.ascontiguousarray(np.asarray(y, dtype=np.float64)),
                                         [int(f) for f in folds], _params(task, model, **params))


def fit_explain(X: Any, y: Any, X_new: Any, *, task: str = "regression", model: str = "random_forest",
                **params: Any) -> tuple[np.ndarray, list[Explained]]:
    """Fit on ``X, y``; return predictions for ``X_new`` and, per row, ``{value, bias,
    contributions, scale}`` where ``bias + Σ contributions == value`` (exact path contributions
    for trees, coefficient × standardised value for linear models; ``scale`` says whether value
    is a value, probabilities or log-odds)."""
    x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    xn = np.ascontiguousarray(np.asarray(X_new, dtype=np.float64))
    pred, ex = _landopp.ml_fit_explain(x, np.ascontiguousarray(np.asarray(y, dtype=np.float64)), xn,
                                       _params(task, model, **params))
    return pred, ex


class Model:
    """A fitted model (``model=`` random_forest, gradient_boosting or linear) with its model card (version, feature schema, training-data hash, metrics,
    hyper-parameters, library version), kept in Rust; saved with a SHA-256 checksum, optionally
    signed (HMAC-SHA256) and encrypted at rest (AES-256-GCM, 32-byte key).

    >>> m = landopp.ml.Model.fit(df[cols], df["developed"], task="classification", model_version="1.0.0")  # doctest: +SKIP
    >>> m.save("model.json", hmac_key=b"...", encryption_key=key32)                                     # doctest: +SKIP
    >>> m = landopp.ml.Model.load("model.json", hmac_key=b"...", encryption_key=key32, expect_features=cols)  # doctest: +SKIP
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        """Pickle (and deep-copy) as the bytes of the model file (checksummed, verified on
        unpickling), e.g. for scikit-learn's ``n_jobs`` and ``joblib.dump``."""
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.json")
            self.save(path)
            with open(path, "rb") as f:
                return (_model_from_bytes, (f.read(),))

    def __dask_tokenize__(self) -> tuple[str, str]:
        """Dask's key for the model: the SHA-256 of its file (equal models, equal keys)."""
        import hashlib

        return ("landopp.ml.Model", hashlib.sha256(self.__reduce__()[1][0]).hexdigest())

    @classmethod
    def fit(cls, X: Any, y: Any, *, task: str = "regression", model: str = "random_forest",
            features: list[str] | None = None, target: str = "target", model_version: str = "0.1.0",
            metrics: dict[str, float] | None = None, unseen_category: str = "error", **params: Any) -> "Model":
        """Fit on ``X`` and ``y``. A DataFrame ``X`` names the features by its columns; text or
        categorical columns are one-hot encoded with the categories seen here, and at prediction a
        category never seen fails with ``InvalidInputError`` (``unseen_category="error"``) or
        counts as no category (``"ignore"``). A text/categorical ``y`` (classification) makes its
        labels the classes (``card["classes"]``). NaN features are refused: impute first."""
        tname = str(getattr(y, "name", None) or target)
        if hasattr(X, "columns"):
            names = [str(c) for c in X.columns]
            frame = X.copy(deep=False)
            frame.columns = names
            frame[tname] = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
            ids, cols = _columns_of(frame)
            return cls(_landopp.Model.fit_columns(ids, cols, names, tname, _params(task, model, **params),
                                                  model_version, metrics, unseen_category))
        if unseen_category != "error":
            raise ValueError("unseen_category applies to categorical DataFrame columns; X is an array")
        names = features or [f"x{i}" for i in range(np.asarray(X).shape[1])]
        x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        yy = np.ascontiguousarray(np.asarray(y, dtype=np.float64))
        return cls(_landopp.Model.fit(x, yy, names, tname, _params(task, model, **params), model_version, metrics))

    def _frame(self, X: Any) -> Any:
        ids, cols = _columns_of(X[[c for c in X.columns if str(c) in set(self.card["features"])]])
        return ids, cols

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (regression) or class probabilities (``n × n_classes``, columns in the
        order of ``card["classes"]`` when the target had labels)."""
        if hasattr(X, "columns"):
            out = self._inner.predict_columns(*self._frame(X))
            n = len(X)
        else:
            x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
            out = self._inner.predict(x)
            n = len(x)
        k = len(out) // max(n, 1)
        res: np.ndarray = out.reshape(n, k) if k > 1 else out
        return res

    def explain(self, X: Any) -> list[Explained]:
        """Per row ``{value, bias, contributions, scale}``; ``bias + Σ contributions == value``;
        ``contributions`` follow ``card["features"]`` (a categorical feature's one-hot parts
        summed)."""
        if hasattr(X, "columns"):
            return self._inner.explain_columns(*self._frame(X))  # type: ignore[no-any-return]
        return self._inner.explain(np.ascontiguousarray(np.asarray(X, dtype=np.float64)))  # type: ignore[no-any-return]

    def permutation_importance(self, X: Any, y: Any, *, metric: str | None = None, n_repeats: int = 5,
                               seed: int = 0) -> Any:
        """Permutation importance on held-out ``X, y`` (as scikit-learn's): per feature, the drop
        of ``metric`` (default ``r2`` for regression, ``balanced_accuracy`` for classes; any name
        of :func:`landopp.ml.metric`) when its column is shuffled (a categorical feature's one-hot
        columns together); a DataFrame ``importance_mean``, ``importance_std`` by feature, most
        important first."""
        import pandas as pd

        card = self.card
        if hasattr(X, "columns"):
            frame = X[[c for c in X.columns if str(c) in set(card["features"])]].copy(deep=False)
            frame[card["target"]] = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
            imp = self._inner.permutation_importance_columns(*_columns_of(frame), metric, n_repeats, seed)
        else:
            x = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
            yy = np.ascontiguousarray(np.asarray(y, dtype=np.float64))
            imp = self._inner.permutation_importance(x, yy, metric, n_repeats, seed)
        out = pd.DataFrame(imp, columns=["importance_mean", "importance_std"],
                           index=pd.Index(card["features"], name="feature"))
        return out.sort_values("importance_mean", ascending=False)

    @property
    def card(self) -> ModelCard:
        """The model card."""
        card: ModelCard = self._inner.card()
        return card

    def save(self, path: Any, *, hmac_key: bytes | None = None, encryption_key: bytes | None = None) -> None:
        """Write the model (write-then-rename)."""
        self._inner.save(str(path), hmac_key, encryption_key)

    @classmethod
    def load(cls, path: Any, *, hmac_key: bytes | None = None, encryption_key: bytes | None = None,
             expect_features: list[str] | None = None) -> "Model":
        """Read and verify: tampered or wrongly keyed → ``IntegrityError``; not a model →
        ``FormatError``; other features than ``expect_features`` → ``InvalidInputError``."""
        return cls(_landopp.Model.load(str(path), hmac_key, encryption_key, expect_features))


def _model_from_bytes(data: bytes) -> Model:
    """A :class:`Model` from the bytes of its file (unpickling)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.json")
        with open(path, "wb") as f:
            f.write(data)
        return Model.load(path)


class Registry:
    """A model registry on a directory: ``models/<version>.json`` plus the production pointer.

    >>> reg = landopp.ml.Registry("models/")                              # doctest: +SKIP
    >>> reg.add(model); reg.promote("1.0.0")                              # doctest: +SKIP
    >>> reg.retrain(features_df, "feedback.jsonl", candidate_version="1.1.0", min_new_records=200)  # doctest: +SKIP
    """

    def __init__(self, path: Any) -> None:
        self._inner = _landopp.Registry(str(path))

    def add(self, model: Model, *, hmac_key: bytes | None = None, encryption_key: bytes | None = None) -> str:
        """Register ``model`` under its card's version (refused if taken); returns its file."""
        return self._inner.add(model._inner, hmac_key, encryption_key)

    def list(self) -> list[dict[str, Any]]:
        """Every model card, by version (read without keys)."""
        return self._inner.list()

    @property
    def production(self) -> str | None:
        """The production version."""
        return self._inner.production()

    def load(self, version: str | None = None, *, hmac_key: bytes | None = None,
             encryption_key: bytes | None = None) -> Model:
        """A registered version (default: production), verified."""
        v = version or self.production
        if v is None:
            raise ValueError("no production model: give a version")
        return Model.load(self._inner.model_path(v), hmac_key=hmac_key, encryption_key=encryption_key)

    def promote(self, version: str) -> None:
        """Make ``version`` the production model."""
        self._inner.promote(version)

    def rollback(self) -> str:
        """Return to the previous production model; returns its version."""
        return self._inner.rollback()

    def retrain(self, features_df: Any, feedback: Any, *, candidate_version: str, min_new_records: int = 100,
                max_psi: float | None = None, holdout_fraction: float = 0.2, metric: str | None = None,
                salt: str = "", hmac_key: bytes | None = None, encryption_key: bytes | None = None) -> dict[str, Any]:
        """Retrain when ``min_new_records`` outcomes arrived after the production model was made,
        or a feature's PSI (parcels observed before vs after) exceeds ``max_psi``: a candidate with
        the production model's hyper-parameters is fitted on the observed outcomes (each parcel's
        latest record of the ``feedback`` log file), both are scored on the same held-out parcels,
        and the candidate is registered — and promoted only if it is better. Returns the report
        (``due``, ``reason``, ``champion_score``, ``candidate_score``, ``promoted``, ...)."""
        policy = {"min_new_records": min_new_records, "max_psi": max_psi, "holdout_fraction": holdout_fraction,
                  "metric": metric, "salt": salt}
        ids, cols = _columns_of(features_df)
        return self._inner.retrain(ids, cols, str(feedback), policy, candidate_version,
                                   hmac_key, encryption_key)


class FeedbackLog:
    """Observed outcomes, appended durably: each :meth:`append` returns once the record is on disk
    (fsync); a torn last line from a crash is cut on reopening.

    >>> log = landopp.ml.FeedbackLog("feedback.jsonl")                               # doctest: +SKIP
    >>> log.append("0101-001", model_version="1.0.0", predicted=0.82, observed=1.0)   # doctest: +SKIP
    """

    def __init__(self, path: Any) -> None:
        self.path = str(path)
        self._inner = _landopp.FeedbackLog(self.path)

    def append(self, parcel_id: str, *, model_version: str, predicted: float, observed: float,
               at_unix: int | None = None) -> None:
        """Append one outcome (``at_unix`` defaults to now)."""
        import time

        self._inner.append(str(parcel_id), model_version, float(predicted), float(observed),
                           int(time.time()) if at_unix is None else int(at_unix))

    def read(self) -> Any:
        """Every intact record as a DataFrame. Lines that are not records (corrupted, or torn by
        a crash) are skipped with a warning; ``df.attrs["skipped"]`` lists them as
        ``{line, offset, reason}``."""
        import warnings

        import pandas as pd

        r = _landopp.FeedbackLog.read(self.path)
        df = pd.DataFrame(r["records"], columns=["parcel_id", "model_version", "predicted", "observed", "at_unix"])
        df.attrs["skipped"] = r["skipped"]
        if r["skipped"]:
            where = ", ".join(f"line {s['line']} (byte {s['offset']})" for s in r["skipped"][:5])
            warnings.warn(f"{self.path}: {len(r['skipped'])} line(s) skipped, not feedback records: {where}",
                          stacklevel=2)
        return df


def drift_report(reference: Any, current: Any, *, psi_threshold: float = 0.2,
                 ks_threshold: float = 0.1) -> DriftReport:
    """PSI (10 quantile bins of the reference) and Kolmogorov–Smirnov statistic of every shared
    column of two DataFrames (training reference, new data); ``drifted`` lists the columns over a
    threshold. Pass predictions as a column to check prediction drift."""
    cols = [(str(c), np.asarray(reference[c], dtype=np.float64).tolist(), np.asarray(current[c], dtype=np.float64).tolist())
            for c in reference.columns if c in current.columns]
    return _landopp.ml_drift(cols, psi_threshold, ks_threshold)


def ab_assign(parcel_ids: Any, *, salt: str, share_b: float, model_a: str, model_b: str) -> list[str]:
    """The model version serving each parcel: SHA-256 of salt + id, deterministic."""
    split = {"salt": salt, "share_b": share_b, "model_a": model_a, "model_b": model_b}
    return _landopp.ml_ab_assign(split, [str(i) for i in parcel_ids])


_ESTIMATORS = ("RandomForestRegressor", "RandomForestClassifier", "GradientBoostingRegressor",
               "GradientBoostingClassifier", "Ridge", "LogisticRegression")


def __getattr__(name: str) -> Any:
    """scikit-learn estimators (:mod:`landopp.estimators`), imported on first use so that
    ``import landopp`` does not import scikit-learn."""
    if name in _ESTIMATORS:
        from . import estimators  # ImportError naming `pip install landopp[sklearn]` without scikit-learn

        return getattr(estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_ESTIMATORS])
