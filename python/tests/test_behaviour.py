"""Process behaviour: safe under multiprocessing fork after the worker threads were used, Ctrl-C
interrupts long work (and the next call still works)."""

import multiprocessing as mp
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import landopp
from conftest import FIXTURES

DEM = str(FIXTURES / "slovenia/dem.tif")


def _zonal_sum(_: int) -> float:
    polys = landopp.read_parcels(FIXTURES / "slovenia/lulc_polygons.gpkg", id_field="index")
    return float(landopp.zonal_stats(DEM, polys, ["mean"])["mean"].sum())


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_fork_after_threads_were_used():
    ref = _zonal_sum(0)  # the parent's worker threads exist now; a forked child has none of them
    with mp.get_context("fork").Pool(2) as pool:
        jobs = [pool.apply_async(_zonal_sum, (i,)) for i in range(4)]
        assert [j.get(timeout=120) for j in jobs] == [ref] * 4


def test_ctrl_c_interrupts_long_work():
    shapely = pytest.importorskip("shapely")
    r = landopp.read_raster(DEM)
    x0, y0, x1, y1 = r.bounds
    rng = np.random.default_rng(1)
    n = 300_000
    xs, ys = rng.uniform(x0, x1 - 50, n), rng.uniform(y0, y1 - 50, n)
    wkb = shapely.to_wkb(shapely.box(xs, ys, xs + 45, ys + 45)).tolist()
    t = time.perf_counter()
    landopp.zonal_stats(DEM, wkb, ["median", "mean"], crs=r.crs)
    full = time.perf_counter() - t
    assert full > 0.3, "the workload must outlast the 0.1 s signal delay"
    timer = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t = time.perf_counter()
    returned = False
    with pytest.raises(KeyboardInterrupt):
        landopp.zonal_stats(DEM, wkb, ["median", "mean"], crs=r.crs)
        returned = True  # the signal must arrive during the call, not after it
        time.sleep(5)
    stopped = time.perf_counter() - t
    timer.join()
    assert not returned
    assert stopped < max(0.6 * full, 0.5), (stopped, full)
    # the stop request is cleared: the next call completes
    out = landopp.zonal_stats(DEM, wkb[:100], ["mean"], crs=r.crs)
    assert len(out) == 100
