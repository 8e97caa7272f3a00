import math

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from pyproj import Geod, Transformer

import landopp
from conftest import FIXTURES

FIXTURE_TIFS = sorted(p for p in FIXTURES.rglob("*.tif") if "unsupported" not in p.name)


@pytest.mark.parametrize("path", FIXTURE_TIFS, ids=lambda p: p.name)
def test_read_raster_equals_rasterio(path):
    r = landopp.read_raster(path)
    with rasterio.open(path) as ds:
        assert (r.width, r.height, len(r.bands)) == (ds.width, ds.height, ds.count)
        assert r.transform == pytest.approx(ds.transform.to_gdal(), rel=1e-12)
        assert r.affine == pytest.approx(tuple(ds.transform)[:6], rel=1e-12)
        assert r.crs == (f"EPSG:{ds.crs.to_epsg()}" if ds.crs else None)
        for i in range(ds.count):
            ref = ds.read(i + 1)
            assert r.bands[i].dtype == ref.dtype
            np.testing.assert_array_equal(r.bands[i], ref)
        if ds.nodata is None:
            assert r.nodata is None
        elif math.isnan(ds.nodata):
            assert math.isnan(r.nodata)
        else:
            assert r.nodata == ds.nodata


def test_shared_dems_equal_rasterio(shared):
    for rel in ["dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif", "dem_new_zealand_1km/nz_elev.tif",
                "bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif", "sentinel2_l2a_29RKH_2020-02-19/B04.tif",
                "slovenia_s2_eolearn/ndvi_timeseries.tif"]:
        r = landopp.read_raster(shared / rel)
        with rasterio.open(shared / rel) as ds:
            np.testing.assert_array_equal(np.stack(r.bands), ds.read(), err_msg=rel)
            assert r.transform == pytest.approx(ds.transform.to_gdal(), rel=1e-12)


def test_overviews_equal_rasterio_overview_levels(shared):
    # the real Sentinel-2 B04 (overviews 549² and 275²), the fuzz seed COG from the bundled DEM
    for path in [shared / "sentinel2_l2a_29RKH_2020-02-19/B04.tif", FIXTURES / "fuzz/geotiff/seed-cog-overviews.tif"]:
        meta = landopp._io.raster_meta(path)
        with rasterio.open(path) as full:
            factors = full.overviews(1)
            assert [tuple(o) for o in meta["overviews"]] == [
                (math.ceil(full.width / f), math.ceil(full.height / f)) for f in factors]
        for level in range(len(factors)):
            r = landopp.read_raster(path, overview=level)
            with rasterio.open(path, overview_level=level) as ds:
                np.testing.assert_array_equal(r.bands[0], ds.read(1), err_msg=f"{path.name} level {level}")
                assert r.transform == pytest.approx(ds.transform.to_gdal(), rel=1e-12)
                # a window is in the overview's cells
                w = landopp.read_raster(path, overview=level, window=(1, 2, 3, 4))
                np.testing.assert_array_equal(w.bands[0], ds.read(1, window=rasterio.windows.Window(2, 1, 4, 3)))
        # a coarser resolution picks the coarsest overview within it
        cell = abs(meta["transform"][1])
        assert landopp.read_raster(path, resolution=cell * factors[0] * 1.5).width == meta["overviews"][0][0]
        assert landopp.read_raster(path, resolution=cell / 2).width == meta["width"]
    with pytest.raises(landopp.NotFoundError, match="overview"):
        landopp.read_raster(FIXTURES / "jacksboro/jacksboro_fault_dem.tif", overview=0)


def test_window_and_band_read():
    path = FIXTURES / "olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif"
    w = landopp.read_raster(path, window=(10, 20, 30, 40), band=4)
    with rasterio.open(path) as ds:
        ref = ds.read(4, window=rasterio.windows.Window(20, 10, 40, 30))
        np.testing.assert_array_equal(w.bands[0], ref)
        assert w.transform[0] == pytest.approx(ds.transform.c + 20 * ds.transform.a)
    meta = landopp._io.raster_meta(path)
    assert sum(r * c for _, _, r, c in meta["blocks"]) == meta["width"] * meta["height"]


def test_write_raster_read_by_rasterio(tmp_path):
    src = landopp.read_raster(FIXTURES / "slovenia/dem.tif")
    out = tmp_path / "dem.tif"
    src.write(out, predictor=3)
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), src.bands[0])
        assert ds.transform.to_gdal() == pytest.approx(src.transform)
        assert ds.crs.to_epsg() == 32633
        assert ds.compression.name.lower() == "deflate"
        assert ds.block_shapes[0] == (256, 256)
    # from a numpy array + affine, as rasterio/rioxarray hold them
    with rasterio.open(FIXTURES / "jacksboro/jacksboro_fault_dem.tif") as ds:
        arr, aff, crs = ds.read(), ds.transform, ds.crs
    r = landopp.Raster.from_array(arr, aff, crs=crs, nodata=-32768)
    r.write(tmp_path / "j.tif")
    with rasterio.open(tmp_path / "j.tif") as ds:
        np.testing.assert_array_equal(ds.read(), arr)
        assert ds.nodata == -32768
        assert ds.crs.to_epsg() == 4326


@pytest.mark.parametrize("rel", ["slovenia/lulc_polygons.gpkg", "olinda/olinda_census_tracts.gpkg",
                                 "formats/olinda_tracts.shp", "formats/olinda_tracts.fgb", "formats/slovenia_lulc.geojson"])
def test_read_layer_equals_pyogrio(rel):
    path = FIXTURES / rel
    g = landopp.read_layer(path)
    ref = pyogrio.read_dataframe(path)
    assert len(g) == len(ref)
    assert list(g.columns.drop("geometry")) == list(ref.columns.drop("geometry"))
    assert g.crs == ref.crs
    if rel.endswith(".fgb"):
        return  # FlatGeobuf row order follows its spatial index: compared via areas below
    assert shapely.equals_exact(g.geometry.values, ref.geometry.values, tolerance=0).all()


def test_all_shared_geopackages_read(shared):
    for path in sorted(shared.rglob("*.gpkg")):
        for layer in landopp.list_layers(path):
            g = landopp.read_layer(path, layer=layer)
            info = pyogrio.read_info(path, layer=layer)
            assert len(g) == info["features"], path
            assert list(g.columns.drop("geometry")) == list(info["fields"]), path


def test_bangor_parcels_area_and_crs_against_pyproj(shared):
    """Bangor (EPSG:26847, US survey feet): geodesic area within 0.01 % of pyproj.Geod and
    reprojection of every vertex within 1 cm of pyproj — computed live, nothing stored."""
    path = shared / "bangor_me/parcels.gpkg"
    with pytest.raises(landopp.InvalidInputError, match="R57-001"):
        landopp.read_parcels(path, id_field="MAPLOTUNIT")  # ids repeat: refused by default
    p = landopp.read_parcels(path, id_field="MAPLOTUNIT", duplicate_ids="suffix")
    assert p.parcel_id.is_unique
    assert len(p) == 10643
    assert (p.geometry_status.str.startswith("invalid")).sum() >= 4
    area, perim = landopp.geodesic_area_perimeter(p)
    geod = Geod(ellps="WGS84")
    ll = p.to_crs(4326)
    ref = np.array([geod.geometry_area_perimeter(g) for g in ll.geometry])
    valid = (p.geometry_status == "valid").to_numpy()
    np.testing.assert_allclose(area[valid], np.abs(ref[valid, 0]), rtol=1e-4)
    np.testing.assert_allclose(perim[valid], ref[valid, 1], rtol=1e-4)
    xy = shapely.get_coordinates(p.geometry.values)
    for dst in (26919, 4326):
        x, y = landopp.transform("EPSG:26847", f"EPSG:{dst}", xy[:, 0], xy[:, 1])
        rx, ry = Transformer.from_crs(26847, dst, always_xy=True).transform(xy[:, 0], xy[:, 1])
        if dst == 4326:
            err = np.hypot((x - rx) * 111_320 * np.cos(np.radians(ry)), (y - ry) * 110_540)
        else:
            err = np.hypot(x - rx, y - ry)
        assert err.max() < 0.01, (dst, err.max())


def test_geojson_and_gpkg_writers_roundtrip(tmp_path):
    g = landopp.read_layer(FIXTURES / "olinda/olinda_census_tracts.gpkg")
    for ext in ("gpkg", "geojson"):
        out = tmp_path / f"o.{ext}"
        landopp.write_layer(out, g, name="tracts")
        back = pyogrio.read_dataframe(out)
        assert len(back) == len(g)
        assert back.crs.to_epsg() == 4674
        assert shapely.equals_exact(back.geometry.values, g.geometry.values, tolerance=1e-12).all()


def test_info():
    i = landopp.info(FIXTURES / "olinda/olinda_census_tracts.gpkg")
    assert i["kind"] == "vector" and i["layers"][0]["feature_count"] == 470
    r = landopp.info(FIXTURES / "jacksboro/jacksboro_fault_dem.tif")
    assert r["kind"] == "raster" and r["crs"] == "EPSG:4326" and r["dtype"] == "Int16"


def test_crs_parsing():
    assert landopp.Crs.from_user_input("EPSG:2193").epsg == 2193
    assert landopp.Crs.from_user_input(4326).is_geographic
    with pytest.raises(landopp.CrsError) as e:
        landopp.Crs.from_user_input("EPSG:99999")
    assert e.value.code == "CRS"


def test_geometries_small_as_wkb_large_packed():
    from landopp._convert import _geometries

    geoms = np.array([shapely.box(i, 0, i + 1, 1) if i % 97 else None for i in range(9001)], dtype=object)
    assert list(_geometries(geoms[:10])) == list(shapely.to_wkb(geoms[:10]))
    packed = _geometries(geoms)
    tag, coords, offsets, types, wkb = packed
    assert tag == "landopp-packed" and (wkb == None).all()  # noqa: E711  boxes: all packed
    missing = np.flatnonzero(np.diff(offsets) == 0)
    assert list(missing) == list(range(0, 9001, 97)) and (types[missing] == -1).all()
    status = landopp._landopp.parcel_status(packed)
    assert status == landopp._landopp.parcel_status(list(shapely.to_wkb(geoms)))
    assert status[0] != "valid" and status[1] == "valid"
    # offsets that run past the coordinates are an error, not a read out of bounds
    two = np.zeros(2, np.int32)
    with pytest.raises(landopp.InvalidInputError):
        landopp._landopp.ring_fallbacks(coords[:5], np.array([0, 10**6, 5]), two + 3, two + 1)


@pytest.mark.parametrize("ext", ["geojson", "gpkg", "fgb", "shp"])
def test_dates_and_datetimes_read_as_pyogrio(ext):
    """Date and date-time columns come back as pyogrio gives them (fixtures/expected/make_temporal.py):
    ``datetime64[ms]`` for dates and naive date-times, a fixed-offset time zone when every value
    of the column carries the same one."""
    import json

    import pandas as pd

    expected = json.loads((FIXTURES / "expected/temporal_pyogrio.json").read_text())[ext]
    g = landopp.read_layer(FIXTURES / f"formats/temporal.{ext}")
    assert list(g["name"]) == expected["name"]  # FlatGeobuf: spatial-index order in both readers
    for col, exp in expected["columns"].items():
        assert str(g[col].dtype) == exp["dtype"], (ext, col, g[col].dtype)
        want = pd.Series([pd.NaT if v is None else pd.Timestamp(v) for v in exp["values"]])
        got = g[col].reset_index(drop=True)
        assert [None if pd.isna(a) else a.isoformat() for a in got] == \
            [None if pd.isna(b) else b.isoformat() for b in want], (ext, col)
    # FlatGeobuf has no date type (ogr2ogr wrote a date-time): the others keep "date"
    assert g.attrs[landopp._convert.FIELD_TYPES]["sold"] == ("datetime" if ext == "fgb" else "date")


@pytest.mark.parametrize("ext", ["gpkg", "geojson"])
def test_dates_and_datetimes_write_back_typed(tmp_path, ext):
    """A layer read with dates and date-times writes them back as the same types: GeoPackage
    columns declared DATE / DATETIME (read by pyogrio as datetimes again), GeoJSON ISO text that
    GDAL reads as dates and date-times."""
    import sqlite3

    g = landopp.read_layer(FIXTURES / "formats/temporal.gpkg")
    out = tmp_path / f"t.{ext}"
    landopp.write_layer(out, g, name="t")
    back = pyogrio.read_dataframe(out)
    ref = pyogrio.read_dataframe(FIXTURES / "formats/temporal.gpkg")
    for col in ("sold", "updated", "naive"):
        assert str(back[col].dtype) == str(ref[col].dtype), (ext, col)
        assert back[col].equals(ref[col]), (ext, col)
    again = landopp.read_layer(out)
    for col in ("sold", "updated", "naive"):
        assert again[col].equals(g[col]), (ext, col)
    if ext == "gpkg":
        with sqlite3.connect(out) as db:
            decl = {r[1]: r[2] for r in db.execute('PRAGMA table_info("t")')}
        assert decl["sold"] == "DATE" and decl["updated"] == "DATETIME" and decl["naive"] == "DATETIME"


def test_numpy_datetimes_write_as_datetime_columns(tmp_path):
    """A plain ``datetime64`` column (no pandas time zone) is written as a date-time column."""
    import geopandas as gpd

    g = gpd.GeoDataFrame({"t": np.array(["2020-01-02T03:04:05", "NaT"], dtype="datetime64[s]")},
                         geometry=[shapely.Point(0, 0), shapely.Point(1, 1)], crs=4326)
    landopp.write_layer(tmp_path / "p.gpkg", g)
    back = pyogrio.read_dataframe(tmp_path / "p.gpkg")
    assert str(back["t"].dtype) == "datetime64[ms]"
    assert back["t"].iloc[0] == np.datetime64("2020-01-02T03:04:05") and back["t"].isna().iloc[1]
