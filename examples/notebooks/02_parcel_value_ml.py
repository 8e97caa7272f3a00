# %% [markdown]
# # Parcel value with machine learning: spatial cross-validation, contributions, drift
#
# For an analyst pricing land: learn sale prices from property attributes and location, measure
# accuracy honestly (spatial blocks, not random folds: neighbours share prices), explain each
# prediction feature by feature, and check whether newer sales still look like the training data.
#
# Data: 2,930 Ames, Iowa house sales 2006–2010 (De Cock 2011, in `modeldata::ames`, MIT), read
# from `../shared/data/ames_house_sales_ia` (the project's shared test data; not bundled).

# %%
import os
import pathlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import landopp

root = pathlib.Path.cwd()
while not (root / "fixtures").is_dir():
    root = root.parent
shared = pathlib.Path(os.environ.get("LANDOPP_SHARED_DATA", root.parent / "shared" / "data"))
sales = pd.read_csv(shared / "ames_house_sales_ia" / "ames.csv")
cols = ["Lot_Area", "Gr_Liv_Area", "Total_Bsmt_SF", "Year_Built", "Year_Remod_Add", "Garage_Area", "Full_Bath",
        "TotRms_AbvGrd", "Neighborhood", "MS_Zoning"]
X = sales[cols].fillna({"Total_Bsmt_SF": 0, "Garage_Area": 0})
y = np.log(sales["Sale_Price"])  # log price: errors in percent, not dollars
print(len(sales), "sales;", X.dtypes.value_counts().to_dict())

# %% [markdown]
# ## Honest accuracy: random folds vs spatial blocks
# Out-of-fold predictions from a random forest. Random folds put a house's neighbours in the
# training set; spatial blocks (25 blocks of the UTM 15N plane, 5 folds) do not, which is the
# situation of pricing land in a new area.

# %%
east, north = landopp.transform("EPSG:4326", "EPSG:26915", sales["Longitude"].to_numpy(float),
                                sales["Latitude"].to_numpy(float))
num = X.select_dtypes("number").to_numpy(float)
r2 = {}
for name, folds in {"random 5-fold": landopp.ml.kfold(len(y), 5, seed=1),
                    "spatial blocks": landopp.ml.spatial_folds(np.column_stack([east, north]), blocks=25, k=5, seed=1)}.items():
    pred = landopp.ml.cross_val_predict(num, y.to_numpy(), folds, n_estimators=100, max_features=0.5, seed=3)
    r2[name] = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    if name == "spatial blocks":
        oof = pred
pd.Series(r2, name="R² (log price)").round(3)

# %%
fig, ax = plt.subplots(figsize=(5, 5), dpi=90)
ax.scatter(np.exp(y) / 1e3, np.exp(oof) / 1e3, s=4, alpha=0.4)
ax.plot([30, 760], [30, 760], color="#d62728", linewidth=1)
ax.set(xscale="log", yscale="log", xlabel="sale price (k$)", ylabel="predicted out of block (k$)",
       title=f"Spatial CV: R² {r2['spatial blocks']:.3f} on log price")
plt.show()

# %% [markdown]
# ## A model with the categories, and why it prices a house as it does
# `Model.fit` one-hot encodes the text columns (neighbourhood, zoning); each prediction comes
# with every feature's contribution, and bias + Σ contributions is the prediction.

# %%
train = sales["Year_Sold"] <= 2008
model = landopp.ml.Model.fit(X[train], y[train], model="random_forest", n_estimators=100, max_features=0.5, seed=3,
                             model_version="ames-2008")
newer = X[~train]
pred = model.predict(newer)
print(f"trained on {train.sum()} sales to 2008; 2009–2010 R² {1 - ((y[~train] - pred) ** 2).sum() / ((y[~train] - y[~train].mean()) ** 2).sum():.3f}")
e = model.explain(newer.iloc[:1])[0]
# one contribution per input feature (a category's one-hot columns are summed)
parts = pd.Series([c[0] for c in e["contributions"]], index=model.card["features"]).sort_values(key=abs)
print(f"house 1: bias {e['bias'][0]:.3f} + Σ contributions {parts.sum():.3f} = {e['value'][0]:.3f} "
      f"(${np.exp(e['value'][0]):,.0f}; sold ${np.exp(y[~train].iloc[0]):,.0f})")
ax = parts.tail(8).plot.barh(figsize=(6, 3.5), color=["#2ca02c" if v > 0 else "#d62728" for v in parts.tail(8)])
ax.set(xlabel="contribution to log price", title="The largest contributions for one house")
plt.show()

# %% [markdown]
# ## Drift: do the newer sales look like the training data?
# Population stability index (10 quantile bins of the reference) and the Kolmogorov–Smirnov
# statistic per numeric feature, and of the predictions; over 0.2 PSI or 0.1 KS is drift.

# %%
ref = X[train].select_dtypes("number").assign(prediction=model.predict(X[train]))
cur = newer.select_dtypes("number").assign(prediction=pred)
report = landopp.ml.drift_report(ref, cur)
pd.DataFrame(report["columns"]).set_index("name")[["psi", "ks"]].round(3).assign(drifted=lambda d: d.index.isin(report["drifted"]))
