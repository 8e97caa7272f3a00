"""Scoring equals pymcdm (WSM, WPM, TOPSIS, SPOTIS) within 1e-9 on a real Bangor feature matrix;
AHP equals the principal eigenvector; rank reversal and bad inputs."""

import numpy as np
import pytest

import landopp
from conftest import FIXTURES, ROOT

pymcdm = pytest.importorskip("pymcdm")
from pymcdm import methods, normalizations  # noqa: E402


def bangor_matrix(shared):
    spec = {
        "version": 1,
        "parcels": {"path": str(shared / "bangor_me/parcels.gpkg"), "id_field": "MAPLOTUNIT", "duplicate_ids": "suffix"},
        "work_crs": "EPSG:26919",
        "features": [
            {"type": "shape"},
            {"type": "terrain", "raster": str(shared / "bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"),
             "product": "slope", "stats": ["mean"]},
            {"type": "proximity", "layer": str(shared / "bangor_me/roads.gpkg"), "prefix": "road"},
            {"type": "overlay", "layer": str(shared / "bangor_me/flood_zones_fema.gpkg"), "field": "SFHA", "prefix": "sfha"},
        ],
    }
    df = landopp.features(spec)
    cols = ["area_acres", "slope_mean", "road_distance_m", "polsby_popper"]
    df = df.dropna(subset=cols)
    df = df[~df.index.duplicated()]
    return df, cols


def profile_for(df, cols, types, weights, method):
    crit = []
    for c, t, w in zip(cols, types, weights):
        lo, hi = float(df[c].min()), float(df[c].max())
        crit.append({"column": c, "weight": w,
                     "transform": {"type": "linear_benefit" if t > 0 else "linear_cost", "min": lo, "max": hi}})
    return {"version": 1, "criteria": crit, "method": method}


def test_methods_equal_pymcdm(shared):
    df, cols = bangor_matrix(shared)
    x = df[cols].to_numpy(float)
    types = np.array([1, -1, -1, 1])
    w = np.array([0.4, 0.3, 0.2, 0.1])
    mm = normalizations.minmax_normalization
    # WSM and WPM with min-max normalisation = linear transforms between the column min and max
    for name, method, ref in [
        ("weighted_sum", {"type": "weighted_sum"}, methods.WSM(normalization_function=mm)),
        ("weighted_product", {"type": "weighted_product"}, methods.WPM(normalization_function=mm)),
    ]:
        ours = landopp.score(df, profile_for(df, cols, types, w, method))["score"].to_numpy()
        np.testing.assert_allclose(ours, ref(x, w, types, validation=False), rtol=0, atol=1e-9, err_msg=name)
    # TOPSIS on the transformed matrix t (min-max transforms): by default t is TOPSIS's normalised
    # matrix (pymcdm's TOPSIS with an identity normalisation); a second normalisation on request
    t = np.column_stack([mm(x[:, j], types[j] < 0) for j in range(4)])
    for norm, ref_norm in [
        (None, lambda col, cost: col),
        ("vector", normalizations.vector_normalization),
        ("min_max", normalizations.minmax_normalization),
    ]:
        method = {"type": "topsis"} | ({"normalization": norm} if norm else {})
        ours = landopp.score(df, profile_for(df, cols, types, w, method))["score"].to_numpy()
        ref = methods.TOPSIS(normalization_function=ref_norm)(t, w, np.ones(4), validation=False)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9, err_msg=str(norm))
    # min-max transforms of a min-max normalised matrix change nothing: pymcdm's default TOPSIS
    ours = landopp.score(df, profile_for(df, cols, types, w, {"type": "topsis", "normalization": "min_max"}))
    np.testing.assert_allclose(ours["score"].to_numpy(), methods.TOPSIS()(x, w, types, validation=False), atol=1e-9)
    # SPOTIS on the transformed matrix with bounds [0, 1] (lower distance is better)
    ours = landopp.score(df, profile_for(df, cols, types, w, {"type": "spotis"}))["score"].to_numpy()
    ref = methods.SPOTIS(np.array([[0.0, 1.0]] * 4))(t, w, np.ones(4), validation=False)
    np.testing.assert_allclose(ours, 1 - ref, atol=1e-9)


def test_tied_scores_share_ranks_like_pandas_and_pymcdm():
    # scores with ties (two parcels on identical features, a constant column) and one excluded parcel
    import pandas as pd

    df = pd.DataFrame({"slope": [2.0, 5.0, 2.0, 9.0, 5.0, 30.0], "area_acres": [3.0] * 6},
                      index=pd.Index(list("abcdef"), name="parcel_id"))
    prof = {"version": 1, "method": {"type": "weighted_sum"},
            "criteria": [{"column": "slope", "weight": 1, "transform": {"type": "linear_cost", "min": 0, "max": 10}}],
            "constraints": [{"code": "STEEP", "column": "slope", "op": ">", "value": 20}]}
    scored = df.index[df["slope"] <= 20]
    default = landopp.score(df, prof)
    assert default["rank"].tolist() == [1, 3, 1, 5, 3, 6]  # `min` unless the profile says otherwise
    for ties in ["average", "min", "max", "dense", "first"]:
        r = landopp.score(df, prof | {"ties": ties})
        want = r.loc[scored, "score"].rank(ascending=False, method=ties)
        np.testing.assert_array_equal(r.loc[scored, "rank"], want, err_msg=ties)
        assert r.loc["f", "rank"] == (want.max() + 1 if ties in ("dense",) else len(scored) + 1)
    # pymcdm's rankdata (average ranks, larger is better) reproduced exactly
    from pymcdm.helpers import rrankdata

    r = landopp.score(df, prof | {"ties": "average"})
    np.testing.assert_array_equal(r.loc[scored, "rank"], rrankdata(r.loc[scored, "score"].to_numpy()))
    with pytest.raises(landopp.InvalidInputError):
        landopp.score(df, prof | {"ties": "random"})


def test_explanation_sums_and_rank_reversal(shared):
    df, cols = bangor_matrix(shared)
    prof = profile_for(df, cols, [1, -1, -1, 1], [4, 3, 2, 1], {"type": "weighted_sum"})  # weights normalised
    prof["constraints"] = [{"code": "SLOPE_GT_15", "column": "slope_mean", "op": ">", "value": 15},
                           {"code": "IN_SFHA", "reduce_area_column": "sfha_in_share"}]
    r = landopp.score(df, prof)
    for s, ex, excl in zip(r["score"][:500], r["explanation"][:500], r["excluded"][:500]):
        if not excl:
            assert sum(c["contribution"] for c in ex) == pytest.approx(s, abs=1e-12)
            assert sum(c["weight"] for c in ex) == pytest.approx(1.0)
    assert (r.loc[r["excluded"], "score"] == 0).all()
    assert all("SLOPE_GT_15" in x for x in r.loc[r["excluded"], "reasons"])
    assert (r["buildable_acres"] <= df["area_acres"] + 1e-12).all()
    # fixed bounds: removing half of the candidates does not reorder the rest
    sub = df.iloc[::2]
    r2 = landopp.score(sub, prof)
    order_full = r.loc[sub.index].sort_values("rank").index
    order_sub = r2.sort_values("rank").index
    assert list(order_full) == list(order_sub)


def test_ahp_equals_eigenvector_and_refuses_inconsistency():
    m = np.array([[1, 3, 5, 7], [1 / 3, 1, 3, 5], [1 / 5, 1 / 3, 1, 3], [1 / 7, 1 / 5, 1 / 3, 1]])
    vals, vecs = np.linalg.eig(m)
    k = np.argmax(vals.real)
    ev = np.abs(vecs[:, k].real)
    ev /= ev.sum()
    ci = (vals.real[k] - 4) / 3
    cr = ci / 0.90
    import pandas as pd
    df = pd.DataFrame({"a": [0.1, 0.5], "b": [1.0, 2.0], "c": [3.0, 1.0], "d": [0.0, 1.0]}, index=["p1", "p2"])
    crit = [{"column": c, "transform": {"type": "linear_benefit", "min": 0, "max": 10}} for c in "abcd"]
    r = landopp.score(df, {"version": 1, "criteria": crit, "ahp": {"matrix": m.tolist()}, "method": {"type": "weighted_sum"}})
    np.testing.assert_allclose([c["weight"] for c in r["explanation"].iloc[0]], ev, atol=1e-9)
    assert cr < 0.1
    bad = m.copy()
    bad[0, 3], bad[3, 0] = 1 / 9, 9
    with pytest.raises(landopp.InvalidInputError, match="consistency ratio"):
        landopp.score(df, {"version": 1, "criteria": crit, "ahp": {"matrix": bad.tolist()}, "method": {"type": "weighted_sum"}})


def test_scoring_bad_inputs():
    import pandas as pd
    df = pd.DataFrame({"a": [1.0, np.nan]}, index=["p1", "p2"])
    ok = {"version": 1, "criteria": [{"column": "a", "weight": 1, "transform": {"type": "linear_benefit", "min": 0, "max": 2}}],
          "method": {"type": "weighted_sum"}}
    r = landopp.score(df, ok)
    assert r.loc["p2", "score"] == 0 and r.loc["p2", "explanation"][0]["missing"]
    with pytest.raises(landopp.NotFoundError, match="nope"):
        landopp.score(df, ok | {"criteria": [ok["criteria"][0] | {"column": "nope"}]})
    with pytest.raises(landopp.InvalidInputError, match=r"criteria\[0\].transform.max"):
        landopp.score(df, ok | {"criteria": [ok["criteria"][0] | {"transform": {"type": "linear_benefit", "min": 3, "max": 2}}]})
    with pytest.raises(landopp.InvalidInputError, match="weight"):
        landopp.score(df, ok | {"criteria": [{"column": "a", "transform": ok["criteria"][0]["transform"]}]})
    with pytest.raises(landopp.NotFoundError, match="missing_col"):
        landopp.score(df, ok | {"constraints": [{"code": "X", "column": "missing_col", "op": ">", "value": 1}]})
    with pytest.raises(landopp.EmptyError):
        landopp.score(df.iloc[:0], ok)
