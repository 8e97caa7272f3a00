"""Spectral indices equal spyndex 0.12 (Awesome Spectral Indices) on real Sentinel-2 data."""

import json

import numpy as np
import pytest
import rasterio
import spyndex

import landopp
from conftest import FIXTURES

S2_ORDER = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
S2_MAP = {"A": "B01", "B": "B02", "G": "B03", "R": "B04", "RE1": "B05", "RE2": "B06", "RE3": "B07", "N": "B08",
          "N2": "B8A", "WV": "B09", "S1": "B11", "S2": "B12"}


def spyndex_params(idx, arrays):
    params = {}
    for b in spyndex.indices[idx].bands:
        if b in arrays:
            params[b] = arrays[b]
        elif b in spyndex.constants and spyndex.constants[b].default is not None:
            params[b] = spyndex.constants[b].default
        else:
            return None
    return params


def test_whole_catalogue_on_slovenia_l1c_scene():
    """Every catalogue index computable from Sentinel-2 bands (with default constants) equals spyndex
    on a real 13-band L1C scene (reflectance 0-1, float32)."""
    path = FIXTURES / "slovenia/s2_l1c_13band_2015-08-30.tif"
    with rasterio.open(path) as ds:
        # the reference in float64: landopp evaluates every index in f64 and rounds once to f32
        # (spyndex on float32 arrays loses digits under cancellation, e.g. VARI700 near 0)
        data = ds.read().astype(np.float64)
    arrays = {k: data[S2_ORDER.index(v)] for k, v in S2_MAP.items()}
    raster = landopp.read_raster(path)
    bands = {k: landopp.Raster([raster.bands[S2_ORDER.index(v)]], raster.transform, raster.crs) for k, v in S2_MAP.items()}
    names = [n for n in spyndex.indices if spyndex_params(n, arrays) is not None]
    assert len(names) > 150
    ours = landopp.spectral_indices(bands, names)
    checked = 0
    with np.errstate(all="ignore"):
        for i, n in enumerate(names):
            ref = np.asarray(spyndex.computeIndex(n, spyndex_params(n, arrays)), dtype=np.float64)
            got = ours.bands[i].astype(np.float64)
            ok = np.isfinite(ref) & np.isfinite(got)
            # NaN where numpy gives inf/NaN (zero denominators, negative bases of fractional powers)
            assert (np.isfinite(ref) == np.isfinite(got)).mean() > 0.999, n
            np.testing.assert_allclose(got[ok], ref[ok], rtol=2e-5, atol=2e-6, err_msg=n)
            checked += 1
    assert checked == len(names)


def test_l2a_tile_with_scl_mask_and_stac(shared):
    d = shared / "sentinel2_l2a_29RKH_2020-02-19"
    meta = landopp.scene_meta(d / "S2A_29RKH_20200219_0_L2A.stac.json")
    assert meta["scene_id"] == "S2A_29RKH_20200219_0_L2A" and meta["cloud_cover"] == pytest.approx(4.051854)
    assert meta["processing_baseline"] == "02.14" and meta["resolution_m"] == 10
    bands = {"B": d / "B02.tif", "G": d / "B03.tif", "R": d / "B04.tif", "N": d / "B08.tif"}
    out = landopp.spectral_indices(bands, ["NDVI", "NDWI", "EVI", "SAVI", "GNDVI"], sensor="sentinel2_l2a",
                                   baseline=meta["processing_baseline"], scl=d / "SCL.tif")
    arr = {}
    for k, p in bands.items():
        with rasterio.open(p) as ds:
            arr[k] = ds.read(1).astype(np.float32) / np.float32(10000)
            valid = ds.read(1) != 0
    with rasterio.open(d / "SCL.tif") as ds:
        scl = np.repeat(np.repeat(ds.read(1), 2, axis=0), 2, axis=1)  # 200 m -> 100 m, aligned
    valid &= ~np.isin(scl, [0, 1, 3, 8, 9, 10, 11])
    assert 0.9 < valid.mean() < 1.0  # real clouds are masked
    for i, n in enumerate(["NDVI", "NDWI", "EVI", "SAVI", "GNDVI"]):
        ref = np.asarray(spyndex.computeIndex(n, spyndex_params(n, arr)), dtype=np.float64)
        got = out.bands[i].astype(np.float64)
        assert np.isnan(got[~valid]).all(), n
        np.testing.assert_allclose(got[valid], ref[valid], rtol=2e-5, atol=2e-6, err_msg=n)


def test_mismatched_grid_and_missing_constant_errors(shared):
    d = shared / "sentinel2_l2a_29RKH_2020-02-19"
    with pytest.raises(landopp.InvalidInputError, match="grid"):
        landopp.spectral_indices({"G": d / "B03.tif", "S1": d / "B11.tif"}, ["MNDWI"])
    r = landopp.read_raster(d / "B04.tif")
    with pytest.raises(landopp.InvalidInputError, match="lambdaN"):
        landopp.spectral_indices({"N": r, "R": r, "G": r}, ["NIRvH2"] if "NIRvH2" in spyndex.indices else ["SEVI"])
    with pytest.raises(landopp.NotFoundError):
        landopp.spectral_indices({"N": r}, ["NOT_AN_INDEX"])


def test_formula_variables_equal_the_catalogue_declarations():
    # every catalogue index: the parser finds exactly the bands and constants spyndex declares
    for name, idx in spyndex.indices.items():
        assert set(landopp.formula_variables(idx.formula)) == set(idx.bands), name
    assert landopp.formula_variables("g*(N-R)/(N+C1*R-C2*B+L)") == ["g", "N", "R", "C1", "C2", "B", "L"]
    for bad in ["(N-R", "N-", "N R", "N $ R", ""]:
        with pytest.raises(landopp.InvalidInputError):
            landopp.formula_variables(bad)


def test_sensor_and_baseline_are_checked_in_one_place():
    # the baseline's offset rule and the sensor names live in Rust: bad values are typed errors
    gt = (0.0, 10.0, 0.0, 0.0, 0.0, -10.0)
    red = landopp.Raster(bands=[np.full((3, 4), 1500, np.uint16)], transform=gt)
    nir = landopp.Raster(bands=[np.full((3, 4), 3000, np.uint16)], transform=gt)
    band = red
    for baseline, ndvi in [("04.00", (0.2 - 0.05) / 0.25), ("02.14", (0.3 - 0.15) / 0.45)]:
        r = landopp.spectral_indices({"R": red, "N": nir}, ["NDVI"], sensor="sentinel2_l2a", baseline=baseline)
        np.testing.assert_allclose(r.bands[0], ndvi, rtol=1e-6, err_msg=baseline)
    for kw, msg in [({"sensor": "sentinel2_l2a", "baseline": "latest"}, "processing baseline"),
                    ({"sensor": "landsat89", "baseline": "04.00"}, "baseline"),
                    # a value is not echoed (configurations come from strangers): the valid ones are listed
                    ({"sensor": "sentinel3"}, "unknown variant, expected one of `sentinel2_l1c`")]:
        with pytest.raises(landopp.InvalidInputError, match=msg):
            landopp.spectral_indices({"R": band, "N": band}, ["NDVI"], **kw)


def test_out_arrays_are_written_in_place():
    """``out=`` (numpy convention) writes into the caller's arrays: same values as a fresh result,
    the same array objects returned, and clear errors for arrays that cannot be written."""
    path = FIXTURES / "slovenia/s2_l1c_13band_2015-08-30.tif"
    raster = landopp.read_raster(path)
    bands = {k: landopp.Raster([raster.bands[S2_ORDER.index(v)]], raster.transform, raster.crs)
             for k, v in {"B": "B02", "G": "B03", "R": "B04", "N": "B08", "S1": "B11"}.items()}
    names = ["NDVI", "NDWI", "NDBI", "SAVI", "EVI"]
    fresh = landopp.spectral_indices(bands, names)
    shape = fresh.bands[0].shape
    out = {k: np.full(shape, 7.0, np.float32) for k in names}
    res = landopp.spectral_indices(bands, names, out=out)
    for i, k in enumerate(names):
        assert res.bands[i] is out[k]
        np.testing.assert_array_equal(out[k], fresh.bands[i])  # NaN where NaN
    assert res.transform == fresh.transform and res.crs == fresh.crs and res.band_names == names
    # Fortran-ordered input bands are read in their logical order (copied, not lent)
    fort = {k: landopp.Raster([np.asfortranarray(b.bands[0])], b.transform, b.crs) for k, b in bands.items()}
    for i, b in enumerate(landopp.spectral_indices(fort, names).bands):
        np.testing.assert_array_equal(b, fresh.bands[i])
    # an SCL band given as a numpy array (lent in place) or Fortran-ordered (copied) masks the same cells
    scl = (np.arange(shape[0] * shape[1]) % 12).astype(np.uint8).reshape(shape)
    masked = np.isin(scl, [0, 1, 3, 8, 9, 10, 11])
    for arr in (scl, np.asfortranarray(scl), scl.astype(np.uint16)):
        m = landopp.spectral_indices(bands, names, scl=landopp.Raster([arr], raster.transform, raster.crs), out=out)
        for i, k in enumerate(names):
            assert np.isnan(m.bands[i][masked]).all()
            np.testing.assert_array_equal(m.bands[i][~masked], fresh.bands[i][~masked])
    with pytest.raises(landopp.InvalidInputError, match="no array for EVI"):
        landopp.spectral_indices(bands, names, out={k: out[k] for k in names[:4]})
    with pytest.raises(landopp.InvalidInputError, match="float32"):
        landopp.spectral_indices(bands, ["NDVI"], out={"NDVI": np.zeros(shape)})
    with pytest.raises(landopp.InvalidInputError, match="shape"):
        landopp.spectral_indices(bands, ["NDVI"], out={"NDVI": np.zeros(shape[::-1], np.float32)})
    with pytest.raises(landopp.InvalidInputError, match="contiguous"):
        landopp.spectral_indices(bands, ["NDVI"], out={"NDVI": np.zeros(shape, np.float32, order="F")})
    ro = np.zeros(shape, np.float32)
    ro.flags.writeable = False
    with pytest.raises(landopp.InvalidInputError, match="writeable"):
        landopp.spectral_indices(bands, ["NDVI"], out={"NDVI": ro})
