"""landopp's models against scikit-learn on the same folds, one run: Ames sale prices (log price;
numeric attributes + location), random 5-fold and spatial 5-fold (25 k-means blocks of the UTM 15N
coordinates, made by landopp and handed to both). Same hyper-parameters on both sides: random
forest (100 trees, all features per split, min_samples_leaf 1, bootstrap) vs
RandomForestRegressor; gradient boosting (defaults) vs HistGradientBoostingRegressor; ridge
(alpha 1, standardised) vs StandardScaler + Ridge. Prints markdown tables.

    python benches/compare/ml_compare.py [../shared/data]
"""
from __future__ import annotations

import pathlib
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import landopp
from _bench import med

root = pathlib.Path(__file__).resolve().parents[2]
shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data")
df = pd.read_csv(shared / "ames_house_sales_ia/ames.csv")
y = np.log(df["Sale_Price"].to_numpy(float))
num = [c for c in df.columns if c != "Sale_Price" and pd.api.types.is_numeric_dtype(df[c])]
X = df[num].to_numpy(float)
X = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)
ex, ny = landopp.transform("EPSG:4326", "EPSG:26915", df["Longitude"].to_numpy(float), df["Latitude"].to_numpy(float))
xy = np.column_stack([ex, ny])
schemes = {"random 5-fold": landopp.ml.kfold(len(y), 5, seed=0),
           "spatial 5-fold (25 k-means blocks)": landopp.ml.spatial_folds(xy, blocks=25, k=5, seed=0)}
rows = []
for name, folds in schemes.items():
    t = time.perf_counter()
    ours = landopp.ml.cross_val_predict(X, y, folds, n_estimators=100, max_features=1.0, seed=0)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    ours_gb = landopp.ml.cross_val_predict(X, y, folds, model="gradient_boosting")
    t_ours_gb = time.perf_counter() - t
    ours_lin = landopp.ml.cross_val_predict(X, y, folds, model="linear", alpha=1.0)
    ref = np.empty_like(y)
    ref_h = np.empty_like(y)
    ref_l = np.empty_like(y)
    t_ref = t_h = 0.0
    for f in np.unique(folds):
        tr, te = folds != f, folds == f
        t = time.perf_counter()
        m = RandomForestRegressor(n_estimators=100, max_features=1.0, min_samples_leaf=1, bootstrap=True,
                                  random_state=0, n_jobs=2).fit(X[tr], y[tr])
        ref[te] = m.predict(X[te])
        t_ref += time.perf_counter() - t
        t = time.perf_counter()
        h = HistGradientBoostingRegressor(random_state=0).fit(X[tr], y[tr])
        ref_h[te] = h.predict(X[te])
        t_h += time.perf_counter() - t
        ref_l[te] = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[tr], y[tr]).predict(X[te])
    rows.append((name, r2_score(y, ours), r2_score(y, ref), r2_score(y, ours_gb), r2_score(y, ref_h),
                 r2_score(y, ours_lin), r2_score(y, ref_l), t_ours, t_ref, t_ours_gb, t_h))

print(f"\nAmes {X.shape[0]:,} sales × {X.shape[1]} numeric features, log sale price; R² of out-of-fold predictions\n")
print("| scheme | landopp RF | sklearn RF | Δ | landopp gradient boosting | sklearn HistGradientBoosting | Δ "
      "| landopp ridge | sklearn ridge | RF CV time landopp / sklearn | GB CV time landopp / sklearn |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, a, b, g, h, la, lb, ta, tb, tg, th in rows:
    print(f"| {name} | {a:.3f} | {b:.3f} | {a - b:+.3f} | {g:.3f} | {h:.3f} | {g - h:+.3f} | {la:.3f} | {lb:.3f} "
          f"| {ta:.2f} / {tb:.2f} s | {tg:.2f} / {th:.2f} s |")

# --- speed: training, batch prediction, single-row predict + explain (same model size) ------------
import statistics  # noqa: E402

big = np.tile(X, (35, 1))[:100_000]
big_y = np.tile(y, 35)[:100_000]
print("\n| speed (Ames, 100 trees, 2 threads) | landopp | sklearn RandomForestRegressor | ratio |")
print("|---|---:|---:|---:|")
for label, xs, ys in [("fit, Ames 2,930 rows", X, y), ("fit, 100 k rows (Ames replicated)", big, big_y)]:
    t_ours = med(lambda: landopp.ml.Model.fit(xs, ys, n_estimators=100, max_features=1.0, seed=0), 3)
    t_ref = med(lambda: RandomForestRegressor(n_estimators=100, max_features=1.0, random_state=0, n_jobs=2).fit(xs, ys), 3)
    print(f"| {label} | {t_ours:.2f} s | {t_ref:.2f} s | {t_ours / t_ref:.2f}× the time |")
m_ours = landopp.ml.Model.fit(X, y, n_estimators=100, max_features=1.0, seed=0)
m_ref = RandomForestRegressor(n_estimators=100, max_features=1.0, random_state=0, n_jobs=2).fit(X, y)
p_ours = med(lambda: m_ours.predict(big))
p_ref = med(lambda: m_ref.predict(big))
print(f"| batch predict, 100 k rows | {len(big) / p_ours / 1e3:.0f} k rows/s | {len(big) / p_ref / 1e3:.0f} k rows/s | {p_ref / p_ours:.2f}× the throughput |")
one = X[:1]
lat_ours = []
for i in range(200):
    t = time.perf_counter()
    m_ours.predict(X[i:i + 1])
    m_ours.explain(X[i:i + 1])
    lat_ours.append(time.perf_counter() - t)
m_ref1 = RandomForestRegressor(n_estimators=100, max_features=1.0, random_state=0, n_jobs=1).fit(X, y)
lat_ref = []
for i in range(50):
    t = time.perf_counter()
    m_ref1.predict(X[i:i + 1])
    lat_ref.append(time.perf_counter() - t)
print(f"| one parcel: predict + explanation (p50) | {statistics.median(lat_ours) * 1e3:.2f} ms | "
      f"{statistics.median(lat_ref) * 1e3:.2f} ms (predict only, n_jobs=1) | target ≤ 1 ms |")

# --- Bangor parcels: developed or not, from landopp's own features (no value columns) ----------------
import geopandas as gpd  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.metrics import balanced_accuracy_score, roc_auc_score, accuracy_score  # noqa: E402

feats = landopp.features(root / "benches/compare/city_features.json")
parcels = gpd.read_file(shared / "bangor_me/parcels.gpkg")
feats = feats.reset_index(drop=True)
keep = [c for c in feats.columns if not c.startswith(("value", "land_value", "total_value")) and c != "parcel_id"]
Xb = feats[keep].apply(pd.to_numeric, errors="coerce").to_numpy(float)
Xb = np.where(np.isnan(Xb), np.nanmedian(Xb, axis=0), Xb)
Xb = np.where(np.isnan(Xb), 0.0, Xb)
yb = (parcels["VALUE_BLDG"].fillna(0).to_numpy() > 0).astype(float)
sheets = parcels["MAP"].astype(str).to_numpy()
uniq = sorted(set(sheets))
sheet_fold = {s: i % 5 for i, s in enumerate(uniq)}
bfolds = {"random 5-fold": landopp.ml.kfold(len(yb), 5, seed=0),
          "spatial 5-fold (assessor map sheets)": np.array([sheet_fold[s] for s in sheets])}
print(f"\nBangor {len(yb):,} parcels × {Xb.shape[1]} landopp features (terrain, overlays, soils, proximity, shape; "
      f"no value columns) → developed (building value > 0); RandomForestClassifier defaults (100 trees, √p features)\n")
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

print("| model | scheme | landopp accuracy / balanced / AUC | sklearn accuracy / balanced / AUC | Δ balanced | Δ AUC |")
print("|---|---|---|---|---:|---:|")
families = [
    ("random forest vs RandomForestClassifier", dict(n_estimators=100, seed=0),
     lambda: RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2)),
    ("gradient boosting vs HistGradientBoostingClassifier", dict(model="gradient_boosting"),
     lambda: HistGradientBoostingClassifier(random_state=0)),
    ("logistic (C 1, standardised) vs LogisticRegression", dict(model="linear", C=1.0),
     lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))),
]
for label, kw, make in families:
    for name, folds in bfolds.items():
        prob = landopp.ml.cross_val_predict(Xb, yb, folds, task="classification", **kw).reshape(-1, 2)[:, 1]
        ref = np.empty_like(yb)
        for f in np.unique(folds):
            m = make().fit(Xb[folds != f], yb[folds != f])
            ref[folds == f] = m.predict_proba(Xb[folds == f])[:, 1]
        ours = (accuracy_score(yb, prob > 0.5), balanced_accuracy_score(yb, prob > 0.5), roc_auc_score(yb, prob))
        theirs = (accuracy_score(yb, ref > 0.5), balanced_accuracy_score(yb, ref > 0.5), roc_auc_score(yb, ref))
        print(f"| {label} | {name} | {ours[0]:.3f} / {ours[1]:.3f} / {ours[2]:.3f} | {theirs[0]:.3f} / {theirs[1]:.3f} / {theirs[2]:.3f} "
              f"| {ours[1] - theirs[1]:+.3f} | {ours[2] - theirs[2]:+.3f} |")

# --- Bangor parcels: LAND_USE (8 classes, very imbalanced), same features ------------------------------
lu = parcels["LAND_USE"].fillna("(none)").astype(str).to_numpy()
classes = sorted(set(lu))
yl = np.array([classes.index(v) for v in lu], dtype=float)
print(f"\nBangor LAND_USE ({len(classes)} classes: {', '.join(classes)}); RandomForestClassifier defaults\n")
print("| model | scheme | landopp accuracy / balanced | sklearn accuracy / balanced | Δ balanced |")
print("|---|---|---|---|---:|")
for label, kw, make in families[:2]:
    for name, folds in bfolds.items():
        prob = landopp.ml.cross_val_predict(Xb, yl, folds, task="classification", **kw).reshape(len(yl), -1)
        ref = np.empty(len(yl))
        for f in np.unique(folds):
            m = make().fit(Xb[folds != f], yl[folds != f])
            ref[folds == f] = m.predict(Xb[folds == f])
        ours = prob.argmax(axis=1)
        a = (accuracy_score(yl, ours), balanced_accuracy_score(yl, ours))
        b = (accuracy_score(yl, ref), balanced_accuracy_score(yl, ref))
        print(f"| {label} | {name} | {a[0]:.3f} / {a[1]:.3f} | {b[0]:.3f} / {b[1]:.3f} | {a[1] - b[1]:+.3f} |")
