"""The declarative feature pipeline, cross-checked against geopandas/shapely, and its bad inputs."""

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

import landopp
from conftest import FIXTURES, ROOT


def slovenia_spec():
    return {
        "version": 1,
        "parcels": {"path": str(FIXTURES / "slovenia/lulc_polygons.gpkg"), "id_field": "index"},
        "features": [
            {"type": "shape"},
            {"type": "zonal", "raster": str(FIXTURES / "slovenia/dem.tif"), "stats": ["count", "mean"], "prefix": "elev"},
            {"type": "terrain", "raster": str(FIXTURES / "slovenia/dem.tif"), "product": "slope", "stats": ["mean"],
             "share_below": [5]},
            {"type": "overlay", "layer": str(FIXTURES / "slovenia/lulc_polygons.gpkg"), "field": "LULC_NAME", "prefix": "lu"},
            {"type": "proximity", "layer": str(FIXTURES / "slovenia/bbox.geojson"), "prefix": "patch", "radius_m": 100},
        ],
    }


def test_an_exception_in_the_progress_callback_is_raised():
    """Not swallowed: the first exception the callback raises comes out of features(), once."""
    calls = []

    def cb(done, total, message):
        calls.append(done)
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        landopp.features(slovenia_spec(), progress=cb)
    assert len(calls) == 1


def test_pipeline_on_fixture_matches_geopandas():
    calls = []
    df = landopp.features(slovenia_spec(), progress=lambda d, t, m: calls.append((d, t, m)))
    assert calls[-1][0] == calls[-1][1] and len(calls) == 7
    g = gpd.read_file(FIXTURES / "slovenia/lulc_polygons.gpkg")
    assert list(df.index) == list(g["index"].astype(str))
    # each parcel's own class covers it (land-use polygons do not overlap)
    def col(c):
        name = "".join(ch.lower() if ch.isalnum() else "_" for ch in (c or "")).strip("_") or "blank"
        return f"lu_{name}_share"

    own = np.array([df.loc[i, col(c)] for i, c in zip(g["index"], g["LULC_NAME"])])
    np.testing.assert_allclose(own, 1.0, atol=1e-9)
    named = g["LULC_NAME"].notna().to_numpy()
    assert (df["lu_dominant"].astype(str).to_numpy()[named] == g["LULC_NAME"].to_numpy()[named]).all()
    # distance to the patch outline = shapely distance in the same CRS
    bbox = gpd.read_file(FIXTURES / "slovenia/bbox.geojson").to_crs(g.crs).geometry.iloc[0]
    ref = np.array([0.0 if geom.intersects(bbox) else geom.distance(bbox) for geom in g.geometry])
    np.testing.assert_allclose(df["patch_distance_m"].to_numpy(), ref, atol=1e-6)
    # compactness and provenance
    pp = 4 * np.pi * g.area / g.length**2
    np.testing.assert_allclose(df["polsby_popper"].to_numpy(), pp.to_numpy(), rtol=1e-9)
    assert df.attrs["provenance"]["area_m2"]["unit"] == "m2"
    assert ((df["slope_share_le_5"].dropna() >= 0) & (df["slope_share_le_5"].dropna() <= 1)).all()


def test_bangor_overlay_and_proximity_against_shapely(shared):
    df = landopp.features(ROOT / "benches/compare/city_features.json")
    parcels = gpd.read_file(shared / "bangor_me/parcels.gpkg").to_crs(26919)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(parcels), 300, replace=False)
    zoning = gpd.read_file(shared / "bangor_me/zoning.gpkg").to_crs(26919)
    roads = gpd.read_file(shared / "bangor_me/roads.gpkg").to_crs(26919)
    zones = zoning.dissolve("ZONE")
    road_union = shapely.union_all(roads.geometry.values)
    ids = df.index.to_numpy()
    for i in sample:
        p = parcels.geometry.iloc[i]
        if not p.is_valid or p.area == 0:
            continue
        row = df.iloc[i]
        for zone, geom in zones.geometry.items():
            col = "zone_" + "".join(ch.lower() if ch.isalnum() else "_" for ch in zone).strip("_") + "_share"
            want = p.intersection(geom).area / p.area
            assert row[col] == pytest.approx(want, abs=1e-6), (ids[i], zone)
        assert row["road_distance_m"] == pytest.approx(p.distance(road_union), abs=1e-6)
    # SDA tables (hand-written fixture): dominant drainage exists where those map units occur
    assert df["soil_drainage_dominant"].notna().sum() > 0
    assert (df["value_per_acre"].dropna() >= 0).all()


def test_pipeline_bad_inputs(tmp_path):
    base = slovenia_spec()
    with pytest.raises(landopp.InvalidInputError, match="version"):
        landopp.features(base | {"version": 7})
    bad = json.loads(json.dumps(base))
    bad["features"] = [{"type": "zonal", "raster": str(FIXTURES / "slovenia/dem.tif"), "stats": ["nope"]}]
    with pytest.raises(landopp.InvalidInputError, match=r"features\[0\]"):
        landopp.features(bad)
    bad["features"] = [{"type": "soils", "layer": str(FIXTURES / "slovenia/lulc_polygons.gpkg"), "mukey_field": "LULC_ID",
                        "component_table": str(FIXTURES / "soils/sda_component_handwritten.csv")}]
    with pytest.raises(landopp.InvalidInputError, match="mapunit_table"):
        landopp.features(bad)
    bad["features"][0]["mapunit_table"] = str(tmp_path / "missing.csv")
    with pytest.raises(landopp.NotFoundError, match="missing.csv"):
        landopp.features(bad)
    bad["features"] = [{"type": "overlay", "layer": str(FIXTURES / "slovenia/lulc_polygons.gpkg"), "field": "NOPE", "prefix": "x"}]
    with pytest.raises(landopp.NotFoundError, match="NOPE"):
        landopp.features(bad)


def test_all_nodata_and_degenerate_parcels():
    dem = landopp.read_raster(FIXTURES / "slovenia/dem.tif")
    x0, y0 = dem.transform[0], dem.transform[3]
    polys = gpd.GeoSeries([shapely.box(x0 + 10, y0 - 30, x0 + 30, y0 - 10),
                           shapely.Polygon([(x0 + 5, y0 - 5), (x0 + 25, y0 - 5), (x0 + 45, y0 - 5)]),  # zero area
                           shapely.Polygon()], crs=dem.crs)
    nodata = landopp.Raster([np.full_like(dem.bands[0], -9999.0)], dem.transform, dem.crs, -9999.0)
    out = landopp.zonal_stats(nodata, polys, ["count", "mean", "max"])
    assert (out["count"] == 0).all() and out["mean"].isna().all() and out["max"].isna().all()
    out = landopp.zonal_stats(dem, polys, ["count", "mean"])
    assert out["count"].iloc[0] > 0 and out["count"].iloc[1] == 0 and out["count"].iloc[2] == 0


def test_landopp_called_from_a_progress_callback_does_not_deadlock():
    # a progress callback runs on landopp's worker; calling landopp from it used to wait forever
    # for a worker that was itself. Run in a child so a regression fails instead of hanging.
    import subprocess
    import sys

    code = f"""
import json, landopp
spec = json.loads({json.dumps(json.dumps(slovenia_spec()))})
seen = []
def cb(d, t, m):
    seen.append(len(landopp.read_parcels(spec["parcels"]["path"], id_field="index")))
df = landopp.features(spec, progress=cb)
assert len(df) > 0 and seen and all(n == len(df) for n in seen), seen
print("ok", len(seen))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("ok")


def test_spec_and_profile_paths_are_read_bounded(tmp_path):
    # a device or a huge file given as a spec / profile path: a typed error, not an endless read
    with pytest.raises(landopp.InvalidInputError, match="not a regular file"):
        landopp.features("/dev/zero")
    big = tmp_path / "profile.json"
    with open(big, "wb") as f:
        f.truncate(17 << 20)
    df = landopp.features(slovenia_spec())
    with pytest.raises(landopp.InvalidInputError, match="more than the"):
        landopp.score(df, big)
