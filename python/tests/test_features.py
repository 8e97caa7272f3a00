"""Terrain and exact zonal statistics cross-checked live against gdaldem and exactextract on
the real data (bundled fixtures always; ../shared/data when present)."""

import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from exactextract import exact_extract

import landopp
from conftest import FIXTURES

OPS = ["count", "sum", "mean", "min", "max", "stdev", "median", "quantile(q=0.25)", "quantile(q=0.75)",
       "minority", "majority", "variety", "coefficient_of_variation", "min_center_x", "min_center_y",
       "max_center_x", "max_center_y"]


def assert_matches_exactextract(polys, raster_path, band=1, ops=OPS, skip_majority=False, exclude=None):
    with rasterio.open(raster_path) as ds:
        crs = ds.crs
    ref = exact_extract(str(raster_path), polys.to_crs(crs), list(ops), output="pandas")
    if any(c.startswith("band_") for c in ref.columns):  # multiband rasters: band_<n>_<op>
        ref = ref[[c for c in ref.columns if c.startswith(f"band_{band}_")]]
        ref.columns = [c[len(f"band_{band}_"):] for c in ref.columns]
    ours = landopp.zonal_stats(raster_path, polys, ops, band=band)  # reprojected automatically
    keep = np.ones(len(polys), bool) if exclude is None else ~exclude
    for c in ref.columns:
        if skip_majority and c in ("majority", "minority"):
            continue
        a = ours[c].to_numpy(float)[keep]
        b = ref[c].to_numpy(float)[keep]
        assert (np.isnan(a) == np.isnan(b)).all(), c
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-6, atol=0, err_msg=f"{raster_path} {c}")
    return ours, ref


def test_zonal_slovenia_dem_and_landuse_classes():
    polys = gpd.read_file(FIXTURES / "slovenia/lulc_polygons.gpkg")
    assert_matches_exactextract(polys, FIXTURES / "slovenia/dem.tif", skip_majority=True)
    # categorical raster: majority/minority/frac equal exactextract
    ours, ref = assert_matches_exactextract(polys, FIXTURES / "slovenia/lulc_raster.tif")
    fr = exact_extract(str(FIXTURES / "slovenia/lulc_raster.tif"), polys, ["unique", "frac"], output="pandas")
    got = landopp.zonal_stats(FIXTURES / "slovenia/lulc_raster.tif", polys, ["frac"])
    for i, (u, f) in enumerate(zip(fr["unique"], fr["frac"])):
        for val, share in zip(u, f):
            assert got[f"frac_{float(val):g}"].iloc[i] == pytest.approx(share, rel=1e-6)


def test_zonal_of_parcels_read_without_geopandas():
    # what read_parcels returns when geopandas is missing (a dict of WKB and columns) is accepted
    # as it is, with its CRS, and gives what the GeoDataFrame gives
    p = landopp.read_parcels(FIXTURES / "slovenia/lulc_polygons.gpkg", id_field="index", geodataframe=False)
    assert isinstance(p, dict)
    gdf = landopp.read_parcels(FIXTURES / "slovenia/lulc_polygons.gpkg", id_field="index")
    a = landopp.zonal_stats(FIXTURES / "slovenia/dem.tif", p, ["mean", "max"])
    b = landopp.zonal_stats(FIXTURES / "slovenia/dem.tif", gdf, ["mean", "max"])
    np.testing.assert_array_equal(np.asarray(a["mean"]), b["mean"].to_numpy())
    np.testing.assert_array_equal(np.asarray(a["max"]), b["max"].to_numpy())


def test_zonal_olinda_tracts_landsat_bands():
    polys = gpd.read_file(FIXTURES / "olinda/olinda_census_tracts.gpkg")  # EPSG:4674 -> 31985
    for band in (1, 4, 6):
        assert_matches_exactextract(polys, FIXTURES / "olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif", band=band,
                                    ops=["count", "sum", "mean", "min", "max", "stdev", "median", "variety"])


def test_zonal_slovenia_ndvi(shared):
    polys = gpd.read_file(FIXTURES / "slovenia/lulc_polygons.gpkg")
    assert_matches_exactextract(polys, shared / "slovenia_s2_eolearn/ndvi_timeseries.tif", band=3,
                                ops=["count", "sum", "mean", "min", "max", "stdev", "median"])


def test_zonal_bangor_parcels_dem(shared):
    """10,643 parcels (EPSG:26847 ftUS) x 10 m DEM (EPSG:26919): equal to exactextract within 1e-6
    relative on every valid parcel; the 4 self-intersecting parcels are compared on count/mean."""
    polys = gpd.read_file(shared / "bangor_me/parcels.gpkg")
    invalid = ~polys.geometry.is_valid.to_numpy()
    ops = ["count", "sum", "mean", "min", "max", "stdev", "median", "quantile(q=0.25)"]
    ours, ref = assert_matches_exactextract(polys, shared / "bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif",
                                            ops=ops, exclude=invalid)
    np.testing.assert_allclose(ours["count"][invalid], ref["count"][invalid], rtol=1e-4)


def test_zonal_edge_cases():
    dem = landopp.read_raster(FIXTURES / "slovenia/dem.tif")
    x0, y0 = dem.transform[0], dem.transform[3]
    import shapely

    polys = gpd.GeoSeries([
        shapely.box(x0 + 3, y0 - 7, x0 + 6, y0 - 4),                 # smaller than a cell
        shapely.box(x0 - 500, y0 - 500, x0 + 15, y0 + 500),          # partly outside
        shapely.box(x0 - 900, y0 - 900, x0 - 800, y0 - 800),         # wholly outside -> count 0, NaN mean
        shapely.box(x0, y0 - 200, x0 + 200, y0).difference(shapely.box(x0 + 50, y0 - 150, x0 + 150, y0 - 50)),  # hole
        shapely.MultiPolygon([shapely.box(x0, y0 - 20, x0 + 20, y0), shapely.box(x0 + 100, y0 - 120, x0 + 120, y0 - 100)]),
    ], crs=dem.crs)
    out = landopp.zonal_stats(dem, polys, ["count", "mean", "sum"])
    ref = exact_extract(str(FIXTURES / "slovenia/dem.tif"), gpd.GeoDataFrame(geometry=polys), ["count", "mean", "sum"],
                        output="pandas")
    assert out["count"].iloc[2] == 0 and np.isnan(out["mean"].iloc[2]) and out["sum"].iloc[2] == 0
    np.testing.assert_allclose(out["count"], ref["count"], rtol=1e-6)
    np.testing.assert_allclose(out["mean"].dropna(), ref["mean"].dropna(), rtol=1e-6)


def test_categorical_ties_and_quantile_arguments_as_exactextract(tmp_path):
    # equally covered values: majority takes the largest and minority the smallest (exactextract)
    import shapely
    from rasterio.transform import from_origin

    path = tmp_path / "classes.tif"
    classes = np.array([[3, 7, 7, 3], [1, 1, 5, 5], [9, 2, 2, 9], [4, 4, 4, 8]], dtype=np.int16)
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="int16", crs="EPSG:32633",
                       transform=from_origin(0, 4, 1, 1)) as ds:
        ds.write(classes, 1)
    polys = gpd.GeoDataFrame(geometry=[
        shapely.box(0, 3, 2, 4),          # 3 and 7, one cell each
        shapely.box(0, 2, 4, 3),          # 1, 1, 5, 5
        shapely.box(0, 1, 4, 2),          # 9, 2, 2, 9
        shapely.box(0.5, 3, 1.5, 4),      # half a 3, half a 7
        shapely.box(0.5, 0, 4, 1),        # 4 covered 2.5 cells, 8 one: no tie
        shapely.box(2.5, 0, 4, 1),        # half a 4, a whole 8
    ], crs="EPSG:32633")
    ops = ["majority", "minority", "mode", "variety"]
    ref = exact_extract(str(path), polys, ops, output="pandas")
    ours = landopp.zonal_stats(path, polys, ["majority", "minority", "variety"])
    assert ref["majority"].tolist() == [7, 5, 9, 7, 4, 8] and ref["minority"].tolist() == [3, 1, 2, 3, 8, 4]
    for c in ["majority", "minority", "variety"]:
        np.testing.assert_array_equal(ours[c].to_numpy(float), ref[c].to_numpy(float), err_msg=c)
    np.testing.assert_array_equal(ref["mode"], ref["majority"])
    # quantile arguments outside [0, 1] are refused by both, naming the argument
    for q in ["1.1", "-0.2"]:
        with pytest.raises(Exception):
            exact_extract(str(path), polys, [f"quantile(q={q})"], output="pandas")
        with pytest.raises(landopp.InvalidInputError, match="quantile q .* outside \\[0, 1\\]"):
            landopp.zonal_stats(path, polys, [f"quantile(q={q})"])


def test_geodataframes_are_packed_as_rings_with_wkb_for_the_rest(tmp_path):
    # From 256 rows a GeoSeries goes to the extension as one coordinate array for the single-ring
    # rows and WKB for the others: same results as plain WKB, geometry types kept.
    import shapely
    from landopp._convert import _geometries

    dem = landopp.read_raster(FIXTURES / "slovenia/dem.tif")
    x0, y0 = dem.transform[0], dem.transform[3]
    box = shapely.box(x0 + 10, y0 - 90, x0 + 90, y0 - 10)
    kinds = [
        box,                                                               # packed (Polygon)
        shapely.MultiPolygon([shapely.box(x0 + 5, y0 - 45, x0 + 33, y0 - 7)]),  # packed (1-part MultiPolygon)
        shapely.Polygon(list(box.exterior.coords)[::-1]),                  # packed, clockwise
        box.difference(shapely.box(x0 + 30, y0 - 70, x0 + 70, y0 - 30)),   # hole -> WKB
        shapely.MultiPolygon([shapely.box(x0, y0 - 20, x0 + 20, y0), shapely.box(x0 + 100, y0 - 120, x0 + 120, y0 - 100)]),
        None,                                                              # missing
        shapely.Polygon(),                                                 # empty -> WKB
        # ring touching its start vertex midway (two triangles sharing it) -> WKB
        shapely.Polygon([(x0, y0), (x0 + 40, y0 - 10), (x0 + 40, y0 - 40), (x0, y0), (x0 - 30, y0 - 40), (x0 - 30, y0 - 10), (x0, y0)]),
        shapely.box(x0 + 3, y0 - 7, x0 + 6, y0 - 4),                        # smaller than a cell
    ]
    geoms = gpd.GeoSeries(kinds * 40, crs=dem.crs)
    packed = _geometries(geoms)
    assert packed[0] == "landopp-packed"
    wkb_rows = np.flatnonzero(packed[4] != None)  # noqa: E711
    assert sorted(set(wkb_rows % len(kinds))) == [3, 4, 6, 7]
    plain = list(shapely.to_wkb(np.asarray(geoms.values, dtype=object)))
    ops = ["count", "sum", "mean", "min", "max"]
    a = landopp.zonal_stats(dem, geoms, ops)
    b = landopp.zonal_stats(dem, plain, ops, crs=dem.crs)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert a["count"].iloc[0] > 0 and a["count"].iloc[5] == 0
    area_a, per_a = landopp.geodesic_area_perimeter(geoms)
    area_b, per_b = landopp.geodesic_area_perimeter(plain, crs=dem.crs)
    np.testing.assert_array_equal(area_a, area_b)
    np.testing.assert_array_equal(per_a, per_b)
    landopp.write_layer(tmp_path / "k.gpkg", gpd.GeoDataFrame({"k": np.arange(len(geoms))}, geometry=geoms))
    back = gpd.read_file(tmp_path / "k.gpkg")
    assert list(back.geometry.geom_type[:5]) == [g.geom_type for g in kinds[:5]]
    # the packed form is checked: an open ring is an error, not garbage
    coords = packed[1].copy()
    coords[packed[2][1] - 1] += 1.0
    with pytest.raises(landopp.InvalidInputError, match="closed ring"):
        landopp._landopp.geodesic_area_perimeter((packed[0], coords, *packed[2:]), "EPSG:32633")


def test_zonal_weighted_and_circular():
    dem = FIXTURES / "slovenia/dem.tif"
    polys = gpd.read_file(FIXTURES / "slovenia/lulc_polygons.gpkg")
    w = landopp.terrain(dem, "slope")
    w.bands[0][w.bands[0] < 0] = np.nan
    w.nodata = None
    ops = ["weighted_mean", "weighted_variance", "weighted_stdev"]
    ours = landopp.zonal_stats(dem, polys, ops, weights=w)
    import tempfile, os
    with tempfile.TemporaryDirectory() as d:
        wp = os.path.join(d, "w.tif")
        w.write(wp)
        ref = exact_extract(str(dem), polys, ops, weights=wp, output="pandas")
    for op in ops:
        np.testing.assert_allclose(ours[op], ref[op], rtol=1e-6, err_msg=op)
    aspect = landopp.terrain(dem, "aspect")
    cm = landopp.zonal_stats(aspect, polys, ["circular_mean", "mean"])
    assert ((cm["circular_mean"].dropna() >= 0) & (cm["circular_mean"].dropna() < 360)).all()


def test_terrain_equals_gdaldem(tmp_path):
    if shutil.which("gdaldem") is None:
        pytest.skip("gdaldem not installed")
    dem = FIXTURES / "olinda/srtm_dem_utm25s.tif"
    for product, args in [("slope", ["slope"]), ("aspect", ["aspect"]), ("tri", ["TRI"]), ("tpi", ["TPI"]),
                          ("roughness", ["roughness"]), ("slope_percent", ["slope", "-p"]), ("hillshade", ["hillshade"])]:
        out = tmp_path / f"{product}.tif"
        subprocess.run(["gdaldem", *args, "-q", "-compute_edges", str(dem), str(out)], check=True)
        with rasterio.open(out) as ds:
            ref = ds.read(1)
        np.testing.assert_array_equal(landopp.terrain(dem, product).bands[0], ref, err_msg=product)
    # gdaldem's options by their names, the file route too
    for product, args, kw in [
        ("slope", ["slope", "-alg", "ZevenbergenThorne"], {"alg": "ZevenbergenThorne"}),
        ("aspect", ["aspect", "-zero_for_flat", "-trigonometric"], {"zero_for_flat": True, "trigonometric": True}),
        ("hillshade", ["hillshade", "-multidirectional", "-z", "2"], {"hillshade": "multidirectional", "z_factor": 2}),
        ("hillshade", ["hillshade", "-combined", "-alg", "ZevenbergenThorne"], {"hillshade": "combined", "alg": "ZevenbergenThorne"}),
        ("hillshade", ["hillshade", "-igor", "-az", "200"], {"hillshade": "igor", "azimuth": 200}),
        ("tri", ["TRI", "-alg", "Wilson"], {"alg": "Wilson"}),
    ]:
        out = tmp_path / "ref.tif"
        subprocess.run(["gdaldem", *args, "-q", "-compute_edges", str(dem), str(out)], check=True)
        with rasterio.open(out) as ds:
            ref, ref_nodata = ds.read(1), ds.nodata
        r = landopp.terrain(dem, product, **kw)
        np.testing.assert_array_equal(r.bands[0], ref, err_msg=str(args))
        assert r.nodata == ref_nodata, args
        landopp.terrain_to_file(dem, tmp_path / "ours.tif", product, **kw)
        with rasterio.open(tmp_path / "ours.tif") as ds:
            np.testing.assert_array_equal(ds.read(1), ref, err_msg=str(args))
    with pytest.raises(landopp.InvalidInputError, match="applies to hillshade"):
        landopp.terrain(dem, "slope", hillshade="igor")
    with pytest.raises(landopp.InvalidInputError, match="unknown terrain alg"):
        landopp.terrain(dem, "slope", alg="Sobel")
    with pytest.raises(landopp.InvalidInputError):
        landopp.terrain(dem, "hillshade", hillshade="flat")


def test_color_relief_equals_gdaldem(tmp_path):
    if shutil.which("gdaldem") is None:
        pytest.skip("gdaldem not installed")
    dem = tmp_path / "dem.tif"  # a copy: gdaldem writes statistics beside its input for percentages
    shutil.copy(FIXTURES / "olinda/srtm_dem_utm25s.tif", dem)
    entries = [("0%", 0, 96, 0), ("30%", 120, 180, 60, 200), ("60%", "yellow"), ("100%", "white")]
    table = tmp_path / "colors.txt"
    table.write_text("".join(" ".join(map(str, e)) + "\n" for e in entries))
    for mode, flags in [("interpolate", []), ("nearest_entry", ["-nearest_color_entry"])]:
        out = tmp_path / f"{mode}.tif"
        subprocess.run(["gdaldem", "color-relief", "-q", *flags, "-alpha", str(dem), str(table), str(out)], check=True)
        with rasterio.open(out) as ds:
            ref = ds.read()
        lines = [" ".join(map(str, e)) for e in entries]
        for colors in (table, entries, lines, "\n".join(lines)):
            rgba = landopp.color_relief(dem, colors, mode=mode, alpha=True)
            assert rgba.nodata is None and len(rgba.bands) == 4
            np.testing.assert_array_equal(np.stack(rgba.bands), ref, err_msg=mode)
    with pytest.raises(landopp.InvalidInputError, match="line 2: unknown colour name"):
        landopp.color_relief(dem, [("0", 0, 0, 0), ("10", "no-such-colour")])
    with pytest.raises(landopp.InvalidInputError, match="color relief options"):
        landopp.color_relief(dem, entries, mode="closest")


def test_zonal_from_a_path_equals_the_geodataframe_route():
    polys = gpd.read_file(FIXTURES / "olinda/olinda_census_tracts.gpkg")  # EPSG:4674, raster in UTM 25S
    a = landopp.zonal_stats(FIXTURES / "olinda/srtm_dem_utm25s.tif", polys, ["count", "mean", "max"])
    b = landopp.zonal_stats(FIXTURES / "olinda/srtm_dem_utm25s.tif", FIXTURES / "olinda/olinda_census_tracts.gpkg",
                            ["count", "mean", "max"])
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_terrain_to_file_streams_the_in_memory_cells(tmp_path):
    dem = FIXTURES / "olinda/srtm_dem_utm25s.tif"
    for product in ["slope", "hillshade", "aspect"]:
        out = tmp_path / f"{product}.tif"
        landopp.terrain_to_file(dem, out, product, compress="none")
        with rasterio.open(out) as ds, rasterio.open(dem) as src:
            got = ds.read(1)
            assert ds.crs == src.crs and ds.transform == src.transform
        np.testing.assert_array_equal(got, landopp.terrain(dem, product).bands[0], err_msg=product)
    if shutil.which("gdaldem"):
        subprocess.run(["gdaldem", "slope", "-q", "-compute_edges", str(dem), str(tmp_path / "gd.tif")], check=True)
        with rasterio.open(tmp_path / "gd.tif") as a, rasterio.open(tmp_path / "slope.tif") as b:
            np.testing.assert_array_equal(a.read(1), b.read(1))
    with pytest.raises(landopp.InvalidInputError):
        landopp.terrain_to_file(dem, tmp_path / "x.tif", "slope", compress="zstd")
    with pytest.raises(FileNotFoundError):
        landopp.terrain_to_file(tmp_path / "missing.tif", tmp_path / "y.tif")


def test_zonal_max_cells_reads_strips_with_identical_results():
    dem = FIXTURES / "slovenia/dem.tif"
    polys = FIXTURES / "slovenia/lulc_polygons.gpkg"
    stats = ["count", "mean", "median", "majority", "stdev"]
    whole = landopp.zonal_stats(dem, polys, stats)
    strips = landopp.zonal_stats(dem, polys, stats, max_cells=500)
    np.testing.assert_array_equal(whole.to_numpy(), strips.to_numpy())
