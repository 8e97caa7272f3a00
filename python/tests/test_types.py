"""landopp.types (generated from the Rust types) describes what the library really returns and
takes: every result key is declared, every required key is present; band numbers are 1-based."""

import json
import typing

import numpy as np
import pytest

import landopp
from landopp import types
from conftest import FIXTURES, ROOT


def keys_match(value, td, where):
    """`value`'s keys are `td`'s: none undeclared, none required missing (nested TypedDicts too;
    for a union of TypedDicts, one of them)."""
    hints = typing.get_type_hints(td)
    assert set(value) <= set(hints), f"{where}: undeclared {set(value) - set(hints)}"
    assert td.__required_keys__ <= set(value), f"{where}: missing {td.__required_keys__ - set(value)}"
    for k, v in value.items():
        item = v[0] if isinstance(v, list) and v and isinstance(v[0], dict) else v
        if not isinstance(item, dict):
            continue
        arms = [hints[k], *typing.get_args(hints[k])]
        arms += [a for arm in arms for a in typing.get_args(arm)]  # list[X] | None
        tds = [a for a in arms if typing.is_typeddict(a)]
        if not tds:
            continue
        errors = []
        for t in tds:
            try:
                keys_match(item, t, f"{where}.{k}")
                break
            except AssertionError as e:
                errors.append(str(e))
        else:
            raise AssertionError("; ".join(errors))


@pytest.fixture(scope="module")
def sample():
    d = FIXTURES / "slovenia"
    spec: types.FeatureSpec = {
        "version": 1, "parcels": {"path": str(d / "lulc_polygons.gpkg"), "id_field": "index"},
        "features": [{"type": "shape"},
                     {"type": "terrain", "raster": str(d / "dem.tif"), "product": "slope", "stats": ["mean"],
                      "share_below": [8]},
                     {"type": "overlay", "layer": str(d / "lulc_polygons.gpkg"), "field": "LULC_NAME",
                      "prefix": "landuse"}],
    }
    df = landopp.features(spec)
    profile: types.Profile = json.loads((ROOT / "core/presets/agriculture_landcover.json").read_text())
    return d, df, profile


def test_results_have_the_declared_keys(sample):
    d, df, profile = sample
    idx = landopp.SearchIndex(d / "lulc_polygons.gpkg", df, profile, id_field="index")
    page = idx.query(limit=3)
    keys_match(page, types.Page, "page")
    keys_match(page["hits"][0], types.Hit, "hit")
    keys_match(page["hits"][0]["explanation"][0], types.Contribution, "contribution")
    sites = idx.assemble_sites(limit=100, tolerance_m=1.0)
    assert sites
    keys_match(sites[0], types.Site, "site")
    info = landopp.info(d / "dem.tif")
    assert info["kind"] == "raster"
    keys_match(info, typing.get_args(types.Info)[0], "info")
    X = np.column_stack([df["area_acres"], df["slope_mean"]])
    m = landopp.ml.Model.fit(X, (df["area_acres"] > 1).astype(float).to_numpy(), task="classification")
    keys_match(m.card, types.ModelCard, "card")
    keys_match(m.explain(X[:1])[0], types.Explained, "explained")
    import pandas as pd

    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7})
    keys_match(landopp.ml.drift_report(frame, frame), types.DriftReport, "drift")


def test_band_numbers_are_one_based():
    path = FIXTURES / "olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif"
    r = landopp.read_raster(path)
    assert np.array_equal(r.masked(1).data, r.bands[0]) and np.array_equal(r.masked(6).data, r.bands[5])
    with pytest.raises(landopp.NotFoundError):
        r.masked(0)
    with pytest.raises(landopp.InvalidInputError, match="start at 1"):
        landopp.read_raster(path, band=0)
    with pytest.raises(landopp.NotFoundError):
        landopp.read_raster(path, band=7)
    assert len(landopp.zonal_stats(path, [], ["count"], band=6)) == 0
    with pytest.raises(landopp.InvalidInputError, match="start at 1"):
        landopp.zonal_stats(path, [], ["count"], band=0)
