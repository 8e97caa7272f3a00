# %% [markdown]
# # What-if weights and rank sensitivity
#
# For a planner who must defend a ranking: change the criteria's weights and see what moves, then
# measure how stable each parcel's rank is when every weight is uncertain. Re-weighting rescores
# the index without recomputing any feature.
#
# Data: the Slovenian sample bundled in `fixtures/slovenia` (eo-learn, MIT) and the
# `agriculture_landcover` preset.

# %%
import json
import pathlib

import matplotlib.pyplot as plt
import pandas as pd

import landopp

root = pathlib.Path.cwd()
while not (root / "fixtures").is_dir():
    root = root.parent
data = root / "fixtures" / "slovenia"
parcels = landopp.read_parcels(data / "lulc_polygons.gpkg", id_field="index")
features = landopp.features({
    "version": 1,
    "parcels": {"path": str(data / "lulc_polygons.gpkg"), "id_field": "index"},
    "features": [
        {"type": "shape"},
        {"type": "terrain", "raster": str(data / "dem.tif"), "product": "slope", "stats": ["mean"], "share_below": [8]},
        {"type": "overlay", "layer": str(data / "lulc_polygons.gpkg"), "field": "LULC_NAME", "prefix": "landuse"},
    ],
})
profile = json.loads((root / "core/presets/agriculture_landcover.json").read_text())
index = landopp.SearchIndex(parcels, features, profile)
pd.DataFrame([(c["column"], c["weight"]) for c in profile["criteria"]], columns=["criterion", "weight"])

# %% [markdown]
# ## The ranking as the preset weighs it, and with size counting double

# %%
def ranking(idx, k=10):
    page = idx.query(limit=k)
    return pd.Series([h["score"] for h in page["hits"]], index=[h["id"] for h in page["hits"]], name="score")


before = ranking(index)
what_if = json.loads(json.dumps(profile))
for c in what_if["criteria"]:
    if c["column"] == "area_acres":
        c["weight"] *= 2
index.rescore(what_if)  # no feature is recomputed
after = ranking(index)
index.rescore(profile)
moves = pd.DataFrame({"rank before": range(1, len(before) + 1)}, index=before.index).join(
    pd.DataFrame({"rank after": range(1, len(after) + 1)}, index=after.index), how="outer")
moves.sort_values("rank after")

# %% [markdown]
# ## Rank sensitivity under uncertain weights
# 500 weight sets, each weight multiplied by a uniform factor in [0.8, 1.2] (seeded): each
# parcel's best and worst rank and its probability of staying in the top 5.

# %%
sens = index.sensitivity(method="monte_carlo", runs=500, spread=0.2, seed=7, top_k=5)
stable = sens.sort_values("rank").head(10)
fig, ax = plt.subplots(figsize=(7, 3.5), dpi=90)
y = range(len(stable))
ax.hlines(y, stable["best_rank"], stable["worst_rank"], color="#1f77b4", linewidth=4, alpha=0.6)
ax.plot(stable["rank"], y, "o", color="#d62728", label="rank with the preset's weights")
ax.set_yticks(list(y), [f"{i}  (p top-5 {p:.2f})" for i, p in zip(stable.index, stable["p_top_k"])])
ax.invert_yaxis()
ax.set(xlabel="rank (best to worst over 500 weight sets)", title="How far each of the top 10 can move")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
fig.tight_layout()
plt.show()
stable.round(3)
