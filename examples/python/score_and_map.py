# %% [markdown]
# # Score the bundled sample parcels and map them
#
# A notebook-style script (run it as is, or open it in Jupyter/VS Code as cells): real layers in,
# exact features, a scoring preset, a search, and a map of scores with the top parcels outlined.
#
#     python examples/python/score_and_map.py [OUTPUT.png]
#
# Data: the Slovenian sample in `fixtures/slovenia` (eo-learn, MIT): 88 land-use polygons, a
# 10 m DEM. Preset: `core/presets/agriculture_landcover.json`.

# %%
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")  # files, not windows (remove in a notebook)
import matplotlib.pyplot as plt

import landopp

root = pathlib.Path(__file__).resolve().parents[2]
data = root / "fixtures" / "slovenia"
out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "docs" / "images" / "score_map.png"

# %% Real layers in: parcels as a GeoDataFrame, the DEM as numpy bands
parcels = landopp.read_parcels(data / "lulc_polygons.gpkg", id_field="index")
dem = landopp.read_raster(data / "dem.tif")
print(len(parcels), "parcels,", parcels.crs, "| DEM", dem.bands[0].shape, dem.crs)

# %% Exact per-parcel features from one declarative spec (same JSON as the CLI, Rust and Node)
spec: landopp.types.FeatureSpec = {
    "version": 1,
    "parcels": {"path": str(data / "lulc_polygons.gpkg"), "id_field": "index"},
    "features": [
        {"type": "shape"},
        {"type": "terrain", "raster": str(data / "dem.tif"), "product": "slope", "stats": ["mean"], "share_below": [8]},
        {"type": "overlay", "layer": str(data / "lulc_polygons.gpkg"), "field": "LULC_NAME", "prefix": "landuse"},
    ],
}
features = landopp.features(spec, progress=lambda done, total, msg: None)  # or progress=tqdm-like
print(features[["area_acres", "slope_mean", "slope_share_le_8", "landuse_dominant"]].head())

# %% Score with a preset: per-parcel score, rank and an explanation that sums to the score
profile = json.loads((root / "core/presets/agriculture_landcover.json").read_text())
scores = landopp.score(features, profile)
best = scores.sort_values("rank").head(5)
for pid, row in best.iterrows():
    parts = ", ".join(f"{c['criterion']} {c['contribution']:.2f}" for c in row["explanation"])
    print(f"#{row['rank']:g} parcel {pid}: score {row['score']:.3f} = {parts}")

# %% Search: parcels in an area (WGS 84 box) with gentle slopes, best first
index = landopp.SearchIndex(parcels, features, profile)
page = index.query(aoi={"bbox": [14.55, 45.86, 14.575, 45.88]}, crs="EPSG:4326",
                   filters=[{"column": "slope_mean", "max": 12}], limit=5)
print(page["total"], "parcels match; top:", [(h["id"], round(h["score"], 3)) for h in page["hits"]])

# %% Map: scores, the top 5 outlined and labelled by rank
gdf = parcels.set_index("parcel_id").join(scores[["score", "rank"]])
fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
gdf.plot(column="score", cmap="YlGn", vmin=0, vmax=1, edgecolor="#555555", linewidth=0.3, ax=ax,
         legend=True, legend_kwds={"label": "score (agriculture, land cover)", "shrink": 0.7})
top = gdf.nsmallest(5, "rank")
top.boundary.plot(ax=ax, color="#d62728", linewidth=2)
for pid, row in top.iterrows():
    p = row.geometry.representative_point()
    ax.annotate(f"#{int(row['rank'])}", (p.x, p.y), ha="center", va="center", fontsize=10, weight="bold",
                color="#d62728", bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
ax.set_title("landopp: agriculture suitability of 88 parcels (central Slovenia, 10 m DEM)")
ax.set_xlabel("easting (m, UTM 33N)")
ax.set_ylabel("northing (m)")
ax.ticklabel_format(style="plain")
fig.tight_layout()
out.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(out)
print("map written to", out)
