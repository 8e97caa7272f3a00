"""Random forest: same R² as scikit-learn's on the same folds (Ames sale prices), spatial folds,
explanations that sum to the prediction, typed errors."""

import numpy as np
import pandas as pd
import pytest

import landopp

sklearn = pytest.importorskip("sklearn")
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402


def ames(shared):
    df = pd.read_csv(shared / "ames_house_sales_ia/ames.csv")
    y = np.log(df["Sale_Price"].to_numpy(float))
    num = [c for c in df.columns if c != "Sale_Price" and pd.api.types.is_numeric_dtype(df[c])]
    X = df[num].to_numpy(float)
    X = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)
    return df, X, y


def test_forest_r2_equals_sklearn_on_the_same_folds(shared):
    df, X, y = ames(shared)
    ex, ny = landopp.transform("EPSG:4326", "EPSG:26915", df["Longitude"].to_numpy(float), df["Latitude"].to_numpy(float))
    for folds in (landopp.ml.kfold(len(y), 5, seed=1),
                  landopp.ml.spatial_folds(np.column_stack([ex, ny]), blocks=25, k=5, seed=1)):
        assert sorted(set(folds)) == [0, 1, 2, 3, 4]
        ours = landopp.ml.cross_val_predict(X, y, folds, n_estimators=40, max_features=1.0, seed=3)
        ref = np.empty_like(y)
        for f in range(5):
            m = RandomForestRegressor(n_estimators=40, max_features=1.0, random_state=3, n_jobs=2)
            ref[folds == f] = m.fit(X[folds != f], y[folds != f]).predict(X[folds == f])
        assert abs(r2_score(y, ours) - r2_score(y, ref)) < 0.02, (r2_score(y, ours), r2_score(y, ref))
        assert r2_score(y, ours) > 0.75


def test_explanations_sum_to_predictions_and_errors():
    rng = np.random.default_rng(0)
    X = rng.random((300, 3))
    y = 2 * (X[:, 0] > 0.5) + X[:, 1]
    pred, ex = landopp.ml.fit_explain(X, y, X[:5], n_estimators=20, seed=1)
    for p, e in zip(pred, ex):
        assert e["bias"][0] + sum(c[0] for c in e["contributions"]) == pytest.approx(p, abs=1e-9)
        assert abs(e["contributions"][0][0]) > abs(e["contributions"][2][0])
    a = landopp.ml.cross_val_predict(X, y, landopp.ml.kfold(300, 3), n_estimators=10, seed=5)
    b = landopp.ml.cross_val_predict(X, y, landopp.ml.kfold(300, 3), n_estimators=10, seed=5)
    np.testing.assert_array_equal(a, b)  # deterministic for a seed
    with pytest.raises(landopp.InvalidInputError, match="n_estimators"):
        landopp.ml.cross_val_predict(X, y, landopp.ml.kfold(300, 3), n_estimators=0)
    with pytest.raises(landopp.InvalidInputError, match="impute"):
        landopp.ml.cross_val_predict(np.where(X > 0.99, np.nan, X), y, landopp.ml.kfold(300, 3))
    with pytest.raises(landopp.InvalidInputError, match="unknown field"):
        landopp.ml.cross_val_predict(X, y, landopp.ml.kfold(300, 3), n_trees=5)


def test_holdout_split_random_and_spatial():
    h = landopp.ml.holdout(300, test_fraction=0.25, seed=2)
    assert h.shape == (300,) and int(h.sum()) == 75
    rng = np.random.default_rng(1)
    xy = np.column_stack([rng.random(400) * 1e4, rng.random(400) * 1e4])
    hs = landopp.ml.holdout(xy, test_fraction=0.3, blocks=10, seed=2)
    assert 0.3 * 400 <= hs.sum() < 400
    # a model fitted on the training side predicts the test side
    X = rng.random((400, 2))
    y = X[:, 0] * 3
    pred = landopp.ml.cross_val_predict(X, y, hs, model="linear")
    assert np.corrcoef(pred[hs == 1], y[hs == 1])[0, 1] > 0.99
    with pytest.raises(landopp.InvalidInputError, match="test_fraction"):
        landopp.ml.holdout(10, test_fraction=1.5)


def test_model_lifecycle_drift_and_ab(tmp_path):
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"slope": rng.random(200) * 20, "area": rng.random(200) * 50})
    y = pd.Series((X["slope"] < 8).astype(float), name="buildable")
    m = landopp.ml.Model.fit(X, y, task="classification", model_version="1.2.0", metrics={"auc": 0.9},
                             n_estimators=15, seed=4)
    card = m.card
    assert card["features"] == ["slope", "area"] and card["target"] == "buildable" and card["model_version"] == "1.2.0"
    assert len(card["training_data_sha256"]) == 64 and card["library_version"] == landopp.__version__
    prob = m.predict(X)
    assert prob.shape == (200, 2) and np.allclose(prob.sum(axis=1), 1)
    key = bytes(range(32))
    path = tmp_path / "m.json"
    m.save(path, hmac_key=b"a 16-byte secret", encryption_key=key)
    back = landopp.ml.Model.load(path, hmac_key=b"a 16-byte secret", encryption_key=key, expect_features=["slope", "area"])
    np.testing.assert_array_equal(back.predict(X), prob)
    with pytest.raises(landopp.IntegrityError):
        landopp.ml.Model.load(path, hmac_key=b"a 16-byte secret", encryption_key=bytes(32))
    with pytest.raises(landopp.IntegrityError):
        landopp.ml.Model.load(path, hmac_key=b"another 16-b key", encryption_key=key)
    with pytest.raises(landopp.InvalidInputError):
        landopp.ml.Model.load(path, hmac_key=b"a 16-byte secret", encryption_key=key, expect_features=["area", "slope"])
    (tmp_path / "x.json").write_text('{"type": "FeatureCollection"}')
    with pytest.raises(landopp.FormatError):
        landopp.ml.Model.load(tmp_path / "x.json")
    ex = back.explain(X.iloc[:3])
    for e, p in zip(ex, prob[:3]):
        assert e["bias"][1] + sum(c[1] for c in e["contributions"]) == pytest.approx(p[1], abs=1e-9)
    # drift: a shifted slope column drifts, area does not
    cur = X.assign(slope=X["slope"] + 6)
    rep = landopp.ml.drift_report(X, cur)
    assert rep["drifted"] == ["slope"]
    # A/B: deterministic, about the configured share
    ids = [f"p{i}" for i in range(4000)]
    a = landopp.ml.ab_assign(ids, salt="s1", share_b=0.25, model_a="1.2.0", model_b="1.3.0")
    assert a == landopp.ml.ab_assign(ids, salt="s1", share_b=0.25, model_a="1.2.0", model_b="1.3.0")
    assert 850 < a.count("1.3.0") < 1150


def test_boosting_and_linear_models_match_sklearn(shared):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df, X, y = ames(shared)
    ex, ny = landopp.transform("EPSG:4326", "EPSG:26915", df["Longitude"].to_numpy(float), df["Latitude"].to_numpy(float))
    folds = landopp.ml.spatial_folds(np.column_stack([ex, ny]), blocks=25, k=5, seed=0)
    ours = landopp.ml.cross_val_predict(X, y, folds, model="gradient_boosting")
    ref = np.empty_like(y)
    for f in range(5):
        tr, te = folds != f, folds == f
        ref[te] = HistGradientBoostingRegressor(random_state=0).fit(X[tr], y[tr]).predict(X[te])
    # same algorithm: same accuracy (the issue asks for at least HistGradientBoosting's)
    assert abs(r2_score(y, ours) - r2_score(y, ref)) < 0.01, (r2_score(y, ours), r2_score(y, ref))
    # ridge on standardised features: the same solution as scikit-learn's pipeline
    lin = landopp.ml.cross_val_predict(X, y, folds, model="linear", alpha=3.0)
    ref_l = np.empty_like(y)
    for f in range(5):
        tr, te = folds != f, folds == f
        ref_l[te] = make_pipeline(StandardScaler(), Ridge(alpha=3.0)).fit(X[tr], y[tr]).predict(X[te])
    np.testing.assert_allclose(lin, ref_l, rtol=0, atol=1e-8)
    # logistic regression (two classes): the same probabilities as scikit-learn's lbfgs solution
    yb = (y > np.median(y)).astype(float)
    m = landopp.ml.Model.fit(X[:2000], yb[:2000], task="classification", model="linear", C=0.5)
    ref_p = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=5000, tol=1e-10)).fit(X[:2000], yb[:2000])
    np.testing.assert_allclose(m.predict(X[2000:])[:, 1], ref_p.predict_proba(X[2000:])[:, 1], atol=1e-5)
    e = m.explain(X[2000:2001])[0]
    assert e["scale"] == "log_odds"
    assert 1 / (1 + np.exp(-(e["bias"][0] + sum(c[0] for c in e["contributions"])))) == pytest.approx(
        m.predict(X[2000:2001])[0, 1], abs=1e-12)


def test_every_family_explains_and_ranks_features():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"signal": rng.random(600), "weak": rng.random(600), "noise": rng.random(600)})
    y = 3 * (X["signal"] > 0.5) + X["weak"]
    for model in landopp.ml.MODELS:
        m = landopp.ml.Model.fit(X, y, model=model, seed=0) if model != "linear" else landopp.ml.Model.fit(X, y, model=model)
        assert m.card["hyper_parameters"]["model"] == model
        pred = m.predict(X.iloc[:4])
        for p, e in zip(pred, m.explain(X.iloc[:4])):
            assert e["bias"][0] + sum(c[0] for c in e["contributions"]) == pytest.approx(p, abs=1e-9)
        imp = m.permutation_importance(X, y, n_repeats=3)
        assert list(imp.index[:2]) == ["signal", "weak"], (model, imp)
    yc = (X["signal"] > 0.5).astype(float) + (X["weak"] > 0.5)
    for model in landopp.ml.MODELS:
        prob = landopp.ml.cross_val_predict(X, yc, landopp.ml.kfold(600, 3), task="classification", model=model)
        prob = prob.reshape(600, 3)
        np.testing.assert_allclose(prob.sum(axis=1), 1, atol=1e-9)
        assert (prob.argmax(axis=1) == yc).mean() > 0.8, model
    with pytest.raises(landopp.InvalidInputError, match="learning_rate"):
        landopp.ml.Model.fit(X, y, model="gradient_boosting", learning_rate=-1)
    with pytest.raises(landopp.InvalidInputError, match="unknown model"):
        landopp.ml.Model.fit(X, y, model="svm")
    with pytest.raises(landopp.NotFoundError):
        landopp.ml.Model.fit(X, y).permutation_importance(X, y, metric="gini")


def test_categorical_features_and_unseen_categories(tmp_path):
    rng = np.random.default_rng(7)
    n = 400
    zone = rng.choice(["R1", "C2", "I3"], n)
    X = pd.DataFrame({"slope": rng.random(n) * 20, "zone": pd.Categorical(zone)})
    y = pd.Series(np.where(zone == "C2", "commercial", "other"), name="use")
    m = landopp.ml.Model.fit(X, y, task="classification", model="gradient_boosting", min_samples_leaf=5)
    card = m.card
    assert card["categories"] == {"zone": ["C2", "I3", "R1"]} and card["classes"] == ["commercial", "other"]
    prob = m.predict(X)
    assert ((prob[:, 0] > 0.5) == (zone == "C2")).mean() > 0.97
    ex = m.explain(X.iloc[:3])
    assert len(ex[0]["contributions"]) == 2  # per feature: the one-hot parts of zone summed
    imp = m.permutation_importance(X, y)
    assert imp.index[0] == "zone"
    new = pd.DataFrame({"slope": [3.0], "zone": ["Z9"]})
    with pytest.raises(landopp.InvalidInputError, match='"Z9" was not seen in training'):
        m.predict(new)
    lenient = landopp.ml.Model.fit(X, y, task="classification", unseen_category="ignore", n_estimators=10)
    assert lenient.predict(new).shape == (1, 2)
    path = tmp_path / "m.json"
    lenient.save(path)
    assert landopp.ml.Model.load(path).card["unseen_category"] == "ignore"
    with pytest.raises(landopp.InvalidInputError, match="numeric here"):
        m.predict(pd.DataFrame({"slope": [1.0], "zone": [2.0]}))
    with pytest.raises(landopp.NotFoundError):
        m.predict(pd.DataFrame({"slope": [1.0]}))
    with pytest.raises(landopp.EmptyError):
        landopp.ml.Model.fit(X.iloc[:0], y.iloc[:0], task="classification")
    with pytest.raises(landopp.InvalidInputError, match="one class"):
        landopp.ml.Model.fit(X, pd.Series(["a"] * n, name="use"), task="classification")


def test_registry_feedback_and_retraining(tmp_path):
    rng = np.random.default_rng(11)
    n = 500
    X = pd.DataFrame({"slope": rng.random(n) * 20, "road_m": rng.random(n) * 900},
                     index=pd.Index([f"p{i}" for i in range(n)], name="parcel_id"))
    y = pd.Series(100 - 2 * X["slope"] + rng.normal(0, 1, n), index=X.index, name="price")
    champ = landopp.ml.Model.fit(X, y, model="linear", model_version="1.0.0")
    reg = landopp.ml.Registry(tmp_path / "reg")
    reg.add(champ)
    reg.promote("1.0.0")
    assert reg.production == "1.0.0" and [c["model_version"] for c in reg.list()] == ["1.0.0"]
    log = landopp.ml.FeedbackLog(tmp_path / "feedback.jsonl")
    born = champ.card["created_at_unix"]
    # outcomes now depend on the road distance too: the old model is wrong
    obs = 100 - 2 * X["slope"] - 0.05 * X["road_m"]
    for pid, o, p in zip(X.index, obs, champ.predict(X)):
        log.append(pid, model_version="1.0.0", predicted=p, observed=o, at_unix=born + 5)
    assert len(log.read()) == n
    # a corrupt line in the middle is skipped and reported, every intact record kept
    text = open(log.path, "rb").read().split(b"\n")
    open(log.path, "wb").write(b"\n".join(text[:3] + [b"{\"parcel_id\": garbage"] + text[3:]))
    with pytest.warns(UserWarning, match="line 4"):
        df = log.read()
    assert len(df) == n and df.attrs["skipped"][0]["line"] == 4
    rep = reg.retrain(X, log.path, candidate_version="1.1.0", min_new_records=200)
    assert rep["due"] and rep["promoted"], rep
    assert rep["candidate_score"] > 0.99 > rep["champion_score"]
    assert reg.production == "1.1.0"
    assert reg.load().card["metrics"]["r2_holdout"] == pytest.approx(rep["candidate_score"])
    assert reg.rollback() == "1.0.0"
    rep = reg.retrain(X, log.path, candidate_version="1.2.0", min_new_records=10_000)
    assert not rep["due"] and rep["candidate"] is None
    with pytest.raises(landopp.InvalidInputError):
        reg.add(champ)  # version taken


def test_boosting_stops_early_like_hist_gradient_boosting():
    """Above 10,000 rows both stop on the held-out loss (scikit-learn's early_stopping='auto'):
    same accuracy on new data; early_stopping=False runs every iteration and differs."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(3)
    n = 24_000
    X = pd.DataFrame({"a": rng.uniform(0, 10, n), "b": rng.uniform(0, 10, n), "c": rng.normal(size=n)},
                     index=pd.Index([f"p{i}" for i in range(n)], name="parcel_id"))
    y = pd.Series(np.sin(X["a"]) + 0.3 * X["b"] + rng.normal(0, 1.0, n), index=X.index, name="y")
    train, test = X.index[:20_000], X.index[20_000:]
    ours = landopp.ml.Model.fit(X.loc[train], y.loc[train], model="gradient_boosting").predict(X.loc[test])
    ref_model = HistGradientBoostingRegressor(random_state=0).fit(X.loc[train], y.loc[train])
    assert ref_model.n_iter_ < 100  # scikit-learn did stop early on this data
    ref = ref_model.predict(X.loc[test])
    r2_ours, r2_ref = r2_score(y.loc[test], ours), r2_score(y.loc[test], ref)
    assert abs(r2_ours - r2_ref) < 0.01, (r2_ours, r2_ref)
    full = landopp.ml.Model.fit(X.loc[train], y.loc[train], model="gradient_boosting", early_stopping=False)
    assert not np.allclose(full.predict(X.loc[test]), ours)
