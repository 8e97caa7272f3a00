"""Side-by-side read speed: landopp vs rasterio (GeoTIFF) and pyogrio (GeoPackage) on the same
shared files, in one run. Prints a Markdown table of medians and ratios.

    python benches/compare/io_compare.py [../shared/data] [--repeat 15]

landopp must be a release build (`maturin develop --release`): the script refuses a debug build.
Both sides produce the same result: every band as a numpy array (GeoTIFF); geometries + all
attribute columns (GeoPackage: landopp as WKB + columns, pyogrio as WKB + a pandas frame via
read_dataframe's Arrow path disabled, i.e. `pyogrio.raw.read`).
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import time

import numpy as np
import pyogrio.raw
import rasterio

import landopp
from landopp import _landopp

ap = argparse.ArgumentParser()
ap.add_argument("shared", nargs="?", default=str(pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"))
ap.add_argument("--repeat", type=int, default=15)
args = ap.parse_args()
if _landopp.BUILD_PROFILE != "release":
    raise SystemExit("landopp is a debug build: run `maturin develop --release` in python/ first")
shared = pathlib.Path(args.shared)


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up (page cache, lazy init)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def rio_read(path):
    with rasterio.open(path) as ds:
        return ds.read()


def lo_read(path):
    return landopp.read_raster(path).bands


rows = []
for rel in ["dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif", "dem_new_zealand_1km/nz_elev.tif",
            "dem_jacksboro_tn/jacksboro_fault_dem.tif", "bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif",
            "sentinel2_l2a_29RKH_2020-02-19/B04.tif", "olinda_br/landsat7_etm_b1_b2_b3_b4_b5_b7.tif"]:
    p = shared / rel
    a, b = rio_read(p), np.stack(lo_read(p))
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), rel
    t_ref = median_time(lambda: rio_read(p), args.repeat)
    t_lo = median_time(lambda: lo_read(p), args.repeat)
    rows.append((f"GeoTIFF {rel.split('/')[-1]} ({a.size / 1e6:.2f} Mcells)", "rasterio", t_ref, t_lo))

for rel in ["bangor_me/parcels.gpkg", "bangor_me/soils_ssurgo_mapunits.gpkg", "bangor_me/roads.gpkg",
            "ames_house_sales_ia/ames_sales_points.gpkg", "helsinki_osm/helsinki_osm_layers.gpkg"]:
    p = str(shared / rel)
    n_ref = len(pyogrio.raw.read(p)[2])
    n_lo = len(_landopp.read_layer(p)["wkb"])
    assert n_ref == n_lo, rel
    t_ref = median_time(lambda: pyogrio.raw.read(p), args.repeat)
    t_lo = median_time(lambda: _landopp.read_layer(p), args.repeat)
    rows.append((f"GeoPackage {rel.split('/')[-1]} ({n_lo} features)", "pyogrio", t_ref, t_lo))

print(f"| input | reference | reference median | landopp median | speed-up (ref / landopp) |")
print("|---|---|---|---|---|")
for name, ref, t_ref, t_lo in rows:
    print(f"| {name} | {ref} | {t_ref * 1e3:.2f} ms | {t_lo * 1e3:.2f} ms | {t_ref / t_lo:.2f}x |")

# ---- CRS and geodesic area on the Bangor parcels (191 k vertices, EPSG:26847 US feet) ----
import geopandas as gpd  # noqa: E402
import shapely  # noqa: E402
from pyproj import Geod, Transformer  # noqa: E402

parcels = gpd.read_file(shared / "bangor_me/parcels.gpkg")
xy = shapely.get_coordinates(parcels.geometry.values)
x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
crs_rows = []
for dst in (26919, 4326):
    tr = Transformer.from_crs(26847, dst, always_xy=True)
    t_ref = median_time(lambda: tr.transform(x, y), args.repeat)
    t_lo = median_time(lambda: landopp.transform("EPSG:26847", f"EPSG:{dst}", x, y), args.repeat)
    crs_rows.append((f"transform {len(x)} Bangor vertices 26847 → {dst}", "pyproj Transformer", t_ref, t_lo))
geod = Geod(ellps="WGS84")
ll = parcels.to_crs(4326)
t_ref = median_time(lambda: [geod.geometry_area_perimeter(g) for g in ll.geometry], 5)
wkb = list(shapely.to_wkb(ll.geometry.values))
t_lo = median_time(lambda: landopp.geodesic_area_perimeter(wkb, "EPSG:4326"), 5)
crs_rows.append((f"geodesic area+perimeter of {len(ll)} Bangor parcels", "pyproj Geod (loop)", t_ref, t_lo))
for name, ref, t_ref, t_lo in crs_rows:
    print(f"| {name} | {ref} | {t_ref * 1e3:.2f} ms | {t_lo * 1e3:.2f} ms | {t_ref / t_lo:.2f}x |")
