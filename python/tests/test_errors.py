"""The bad inputs of fixtures/expected/errors.json raise the exception class of their code."""

import json

import numpy as np
import pytest

import landopp
from conftest import FIXTURES

CLASSES = {
    "NOT_FOUND": landopp.NotFoundError,
    "FORMAT": landopp.FormatError,
    "UNSUPPORTED": landopp.UnsupportedError,
    "CRS": landopp.CrsError,
    "EMPTY": landopp.EmptyError,
    "INVALID_GEOMETRY": landopp.InvalidGeometryError,
    "INVALID_INPUT": landopp.InvalidInputError,
}


def make_case(name, tmp):
    if name == "missing_file":
        return lambda: landopp.read_raster("/nonexistent/dem.tif")
    if name == "missing_vector":
        return lambda: landopp.read_layer("/nonexistent/parcels.gpkg")
    if name == "truncated_tiff":
        b = (FIXTURES / "jacksboro/jacksboro_fault_dem.tif").read_bytes()
        (tmp / "t.tif").write_bytes(b[: len(b) // 2])
        return lambda: landopp.read_raster(tmp / "t.tif")
    if name == "not_a_tiff":
        (tmp / "n.tif").write_text("hello world, not a tiff")
        return lambda: landopp.read_raster(tmp / "n.tif")
    if name == "corrupt_gpkg":
        b = bytearray((FIXTURES / "slovenia/lulc_polygons.gpkg").read_bytes())
        b[100:4100] = b"\xa5" * 4000
        (tmp / "c.gpkg").write_bytes(bytes(b))
        return lambda: landopp.read_layer(tmp / "c.gpkg")
    if name == "unsupported_compression":
        return lambda: landopp.read_raster(FIXTURES / "formats/unsupported_jpeg.tif")
    if name == "unknown_layer":
        return lambda: landopp.read_layer(FIXTURES / "slovenia/lulc_polygons.gpkg", layer="nope")
    if name == "unknown_epsg":
        return lambda: landopp.Crs.from_user_input("EPSG:99999")
    if name == "empty_layer":
        (tmp / "e.geojson").write_text('{"type":"FeatureCollection","features":[]}')
        return lambda: landopp.read_parcels(tmp / "e.geojson")
    if name == "nan_coordinates":
        import struct

        wkb = struct.pack("<bII", 1, 3, 1) + struct.pack("<I", 4) + struct.pack("<8d", 0, 0, float("nan"), 1, 1, 1, 0, 0)
        return lambda: landopp._landopp.parcel_status([wkb])
    if name == "unknown_id_field":
        return lambda: landopp.read_parcels(FIXTURES / "slovenia/lulc_polygons.gpkg", id_field="NOPE")
    if name == "lines_as_parcels":
        import struct

        wkb = struct.pack("<bII", 1, 2, 2) + struct.pack("<4d", 0, 0, 1, 1)
        return lambda: landopp._landopp.parcel_status([wkb])
    if name == "unsupported_vector_format":
        return lambda: landopp.read_layer(FIXTURES / "slovenia/dem.tif")
    raise AssertionError(f"no Python case for {name}")


CASES = json.loads((FIXTURES / "expected/errors.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_error_code(case, tmp_path):
    fn = make_case(case["case"], tmp_path)
    with pytest.raises(landopp.LandoppError) as e:
        fn()
    assert e.value.code == case["code"]
    assert isinstance(e.value, CLASSES[case["code"]])
    assert str(e.value)


def test_builtin_bases():
    with pytest.raises(FileNotFoundError):
        landopp.read_raster("/nonexistent.tif")
    with pytest.raises(ValueError):
        landopp.Crs.from_user_input("EPSG:99999")


def test_zonal_from_a_geodataframe_reports_raster_errors():
    gpd = pytest.importorskip("geopandas")
    parcels = gpd.read_file(FIXTURES / "formats/slovenia_lulc.geojson")
    with pytest.raises(FileNotFoundError):
        landopp.zonal_stats("/nonexistent.tif", parcels, ["mean"])
    ok = landopp.zonal_stats(FIXTURES / "slovenia/dem.tif", parcels, ["count"])
    assert len(ok) == len(parcels) and (ok["count"] > 0).any()


def test_background_raster_read_equals_read_raster_and_is_taken_once():
    from landopp import _landopp

    dem = FIXTURES / "slovenia/dem.tif"
    pending = _landopp.read_raster_start(str(dem), 1)
    got = pending.result()
    want = landopp.read_raster(dem, band=1)
    assert np.array_equal(got["bands"][0], want.bands[0]) and tuple(got["transform"]) == want.transform
    with pytest.raises(landopp.InvalidInputError):
        pending.result()
    with pytest.raises(FileNotFoundError):
        _landopp.read_raster_start("/nonexistent.tif").result()


def test_a_bug_is_an_internal_error_that_except_exception_catches():
    # a panic used to surface as pyo3's PanicException (a BaseException): `except Exception`
    # missed it and a notebook cell died; it is now landopp.InternalError, code INTERNAL
    from landopp import _landopp

    with pytest.raises(landopp.InternalError) as e:
        _landopp._panic_for_tests()
    assert e.value.code == "INTERNAL" and isinstance(e.value, Exception)
    try:
        _landopp._panic_for_tests()
    except Exception:
        pass
    # the interpreter and the extension keep working
    assert landopp.read_raster(FIXTURES / "slovenia" / "dem.tif").bands[0].size > 0


def test_configurations_cross_as_dicts_numpy_scalars_paths_and_nan_is_refused_with_its_path(tmp_path):
    """A profile crosses as the dict it is (read straight into the Rust type): numpy scalars are
    numbers, a str or Path names a file, NaN anywhere is refused naming where, and containers of
    any kind nested 100,000 deep are refused instead of overflowing the stack."""
    import collections
    import json

    import pandas as pd

    df = pd.DataFrame({"slope": [1.0, 5.0, 9.0]}, index=pd.Index(["a", "b", "c"], name="parcel_id"))
    prof = {"version": 1, "method": {"type": "weighted_sum"},
            "criteria": [{"column": "slope", "weight": np.float32(1),
                          "transform": {"type": "linear_cost", "min": np.int64(0), "max": 10}}]}
    assert landopp.score(df, prof)["rank"].tolist() == [1.0, 2.0, 3.0]
    bad = json.loads(json.dumps(prof, default=float))
    bad["criteria"][0]["transform"]["max"] = float("nan")
    with pytest.raises(landopp.InvalidInputError, match=r"criteria\[0\]\.transform\.max is not a finite number"):
        landopp.score(df, bad)
    bad["criteria"][0]["transform"]["max"] = "s3cret"
    with pytest.raises(landopp.InvalidInputError, match=r"profile: criteria\[0\]\.transform") as e:
        landopp.score(df, bad)
    assert "s3cret" not in str(e.value)
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(prof, default=float))
    assert landopp.score(df, path)["rank"].tolist() == [1.0, 2.0, 3.0]
    assert landopp.score(df, str(path))["rank"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(landopp.NotFoundError):
        landopp.score(df, str(tmp_path / "missing.json"))
    deep = cur = collections.UserList()
    for _ in range(100_000):
        nxt = collections.UserList()
        cur.append(nxt)
        cur = nxt
    with pytest.raises(landopp.InvalidInputError, match="nested deeper than 64 levels"):
        landopp.score(df, {"version": 1, "criteria": deep})
