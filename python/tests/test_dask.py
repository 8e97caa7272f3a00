"""landopp.dask on a real distributed.LocalCluster (2 worker processes over loopback): features,
scores, predictions and the global top k equal the single-process run exactly, parcels on
partition edges included; a worker killed with SIGKILL mid-run loses nothing."""

import json
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

import landopp
from conftest import FIXTURES, ROOT

distributed = pytest.importorskip("distributed", reason="dask/distributed are not installed (the test command installs them)")
pytest.importorskip("dask_geopandas")
import landopp.dask as ld  # noqa: E402

SPEC = {
    "version": 1,
    "parcels": {"path": str(FIXTURES / "slovenia/lulc_polygons.gpkg"), "id_field": "index"},
    "features": [
        {"type": "shape"},
        {"type": "terrain", "raster": str(FIXTURES / "slovenia/dem.tif"), "product": "slope", "stats": ["mean", "max"],
         "share_below": [8]},
        {"type": "zonal", "raster": str(FIXTURES / "slovenia/dem.tif"), "stats": ["count", "mean", "min", "max"],
         "prefix": "elev"},
        {"type": "overlay", "layer": str(FIXTURES / "slovenia/lulc_polygons.gpkg"), "field": "LULC_NAME", "prefix": "landuse"},
    ],
}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal tables: the same parcels once each, every number bit for bit, labels as text."""
    assert not a.index.duplicated().any()
    assert sorted(a.index) == sorted(b.index)
    a = a.loc[b.index]
    for c in b.columns:
        if isinstance(b[c].dtype, pd.CategoricalDtype) or b[c].dtype == object:
            assert [None if pd.isna(x) else str(x) for x in a[c]] == [None if pd.isna(x) else str(x) for x in b[c]], c
        else:
            np.testing.assert_array_equal(a[c].to_numpy(float), b[c].to_numpy(float), err_msg=c)


def test_features_scores_predictions_and_top_k_equal_one_process(client):
    single = landopp.features(SPEC)
    parcels = ld.partition(SPEC, npartitions=4)
    assert parcels.npartitions == 4
    ddf = ld.features(SPEC, parcels=parcels)
    got = ddf.compute()
    same(got.drop(columns="geometry"), single)
    # parcels that straddle partitions (their outline crosses another partition's hull) are
    # counted once and equal too
    parcels.calculate_spatial_partitions()
    hulls = parcels.spatial_partitions
    parts = parcels.map_partitions(lambda p: pd.Series(p.index, index=p.index)).compute()
    straddle = [pid for pid, g in got.geometry.items()
                if sum(h.intersects(g) for h in hulls) > 1]
    assert straddle, "the sample has parcels on partition edges"
    assert parts.index.is_unique and set(parts.index) == set(single.index)

    # scores (a per-parcel method) equal landopp.score's; the global top k equals its ranking
    profile = json.loads((ROOT / "core/presets/agriculture_landcover.json").read_text())
    scored = ld.score(ddf, profile)
    want = landopp.score(single, profile, explain=False)
    s = scored.compute().loc[want.index]
    np.testing.assert_array_equal(s["score"].to_numpy(), want["score"].to_numpy())
    np.testing.assert_array_equal(s["excluded"].to_numpy(), want["excluded"].to_numpy())
    top = ld.top_k(scored, 7)
    best = want[~want["excluded"]].assign(i=lambda d: d.index.astype(str)).sort_values(["score", "i"], ascending=[False, True])
    assert list(top.index) == list(best.index[:7])
    assert list(top["rank"]) == list(range(1, 8))
    # TOPSIS scores a parcel against the whole set: refused, not silently wrong
    with pytest.raises(landopp.InvalidInputError, match="TOPSIS"):
        ld.score(ddf, dict(profile, method={"type": "topsis"}))

    # a model's predictions, per partition, equal the model's on the whole table
    cols = ["slope_mean", "area_acres", "elev_mean"]
    model = landopp.ml.Model.fit(single[cols], single["landuse_dominant"].astype(str), task="classification",
                                 n_estimators=10, seed=2)
    pred = ld.predict(ddf, model).compute().loc[single.index]
    np.testing.assert_array_equal(pred.to_numpy(), np.asarray(model.predict(single[cols])).argmax(axis=1))


def test_a_worker_killed_mid_run_loses_nothing(client, shared):
    import threading

    spec = ROOT / "benches/compare/city_features.json"
    single = landopp.features(spec)
    killed: dict[str, str] = {}

    def kill_a_busy_worker() -> None:
        # as soon as a worker is running a partition's features, SIGKILL it (its nanny restarts
        # it; the scheduler runs the lost partitions again)
        deadline = time.time() + 120
        while time.time() < deadline:
            for w, keys in client.processing().items():
                if any("_partition_features" in str(k) for k in keys):
                    os.kill(client.run(os.getpid)[w], signal.SIGKILL)
                    killed["worker"] = w
                    return
            time.sleep(0.02)

    t = threading.Thread(target=kill_a_busy_worker)
    t.start()
    got = ld.features(spec, npartitions=12).compute()
    t.join()
    assert killed, "no worker was running a partition: nothing was killed"
    same(got.drop(columns="geometry"), single)


def test_write_geoparquet_and_geopackage(client, tmp_path):
    ddf = ld.features(SPEC, npartitions=3)
    ld.write(ddf, tmp_path / "f.parquet")
    import geopandas as gpd

    back = gpd.read_parquet(tmp_path / "f.parquet")
    assert len(back) == 88 and back.crs == ddf.crs
    ld.write(ddf, tmp_path / "f.gpkg")
    assert len(landopp.read_parcels(tmp_path / "f.gpkg", id_field="parcel_id")) == 88
