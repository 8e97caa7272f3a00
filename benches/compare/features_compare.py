"""Side-by-side feature-extraction speed, one run, same real inputs (generated at bench time into a
temp dir by tiling the shared data; nothing is committed):

  * slope on a 64 Mcell mirror-tiled São Tomé DEM: `landopp terrain` vs `gdaldem slope
    -compute_edges` (whole process, uncompressed GeoTIFF in and out), and landopp.terrain vs
    xarray-spatial's slope (in memory); peak RSS of the landopp process;
  * exact zonal statistics: Bangor 10,643 parcels × 10 m DEM, landopp vs exactextract;
  * NDVI + NDWI + NDBI + SAVI + EVI with SCL masking on a ≥100 Mcell Sentinel-2 L2A mosaic
    (29RKH bands tiled 10×10): landopp vs numpy (chunked single pass), plus a copy/triad memory
    bandwidth test in the same run;
  * the full Bangor feature pipeline (benches/compare/city_pipeline.json) wall time.

    python benches/compare/features_compare.py [../shared/data]
"""
from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile

import numpy as np
import rasterio

import landopp
from _bench import med
from landopp import _landopp

root = pathlib.Path(__file__).resolve().parents[2]
shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data")
if _landopp.BUILD_PROFILE != "release":
    raise SystemExit("build landopp in release mode first (maturin develop --release)")
cli = root / "target" / "release" / "landopp"
if not cli.exists():
    raise SystemExit("cargo build --release -p landopp-cli first")
rows: list[tuple[str, str, float, float, str]] = []


tmp = pathlib.Path(tempfile.mkdtemp(prefix="landopp-bench-"))

# ---------------- slope on 64 Mcells ----------------
src = shared / "dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif"
with rasterio.open(src) as ds:
    a = ds.read(1)
    prof = ds.profile
row = np.concatenate([a, a[:, ::-1]] * 3, axis=1)
big = np.ascontiguousarray(np.concatenate([row, row[::-1]] * 3, axis=0))
from rasterio.transform import from_origin  # noqa: E402

prof.update(width=big.shape[1], height=big.shape[0], transform=from_origin(500000, 5000000, 30, 30), crs="EPSG:32632",
            compress=None, tiled=True, blockxsize=256, blockysize=256, predictor=1)
prof.pop("nodata", None)
dem = tmp / "dem64.tif"
with rasterio.open(dem, "w", **prof) as ds:
    ds.write(big, 1)
cells = big.size
t_gd = med(lambda: subprocess.run(["gdaldem", "slope", "-q", "-compute_edges", str(dem), str(tmp / "gd.tif")], check=True), 3)
t_lo = med(lambda: subprocess.run([str(cli), "terrain", "slope", str(dem), str(tmp / "lo.tif"), "--uncompressed"], check=True), 3)
r = subprocess.run(["/usr/bin/time", "-f", "%M", str(cli), "terrain", "slope", str(dem), str(tmp / "lo.tif"), "--uncompressed"],
                   capture_output=True, text=True, check=True)
peak_mb = int(r.stderr.strip().splitlines()[-1]) / 1024
io_mb = cells * 8 / 2**20
rows.append((f"slope, {cells / 1e6:.1f} Mcells, whole process (read+compute+write)", "gdaldem slope -compute_edges", t_gd, t_lo,
             f"{cells / t_gd / 1e6:.0f} vs {cells / t_lo / 1e6:.0f} Mcells/s; landopp peak RSS {peak_mb:.0f} MB = {peak_mb / io_mb:.2f}x input+output"))
import xarray as xr  # noqa: E402
import xrspatial  # noqa: E402

da = xr.DataArray(big, dims=("y", "x"), coords={"y": 5000000 - 30 * (np.arange(big.shape[0]) + 0.5), "x": 500000 + 30 * (np.arange(big.shape[1]) + 0.5)})
t_xs = med(lambda: xrspatial.slope(da), 3)
ras = landopp.Raster([big], (500000.0, 30.0, 0.0, 5000000.0, 0.0, -30.0), "EPSG:32632", None)
t_li = med(lambda: landopp.terrain(ras, "slope"), 3)
rows.append((f"slope, {cells / 1e6:.1f} Mcells, in memory", "xarray-spatial slope (numba)", t_xs, t_li,
             f"{cells / t_xs / 1e6:.0f} vs {cells / t_li / 1e6:.0f} Mcells/s"))
del big, row, da, ras

# ---------------- zonal: Bangor parcels x DEM ----------------
import geopandas as gpd  # noqa: E402
from exactextract import exact_extract  # noqa: E402

bdem = shared / "bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"
parcels = gpd.read_file(shared / "bangor_me/parcels.gpkg").to_crs(26919)
ops = ["count", "mean", "min", "max", "stdev"]
t_ee = med(lambda: exact_extract(str(bdem), parcels[["geometry"]], ops, output="pandas", strategy="raster-sequential"), 3)
t_ze = med(lambda: landopp.zonal_stats(bdem, parcels, ops), 3)
rows.append(("zonal stats, Bangor 10,643 parcels x 10 m DEM (count,mean,min,max,stdev)", "exactextract 0.3 (raster-sequential)",
             t_ee, t_ze, f"{len(parcels) / t_ee:.0f} vs {len(parcels) / t_ze:.0f} polygons/s"))

# ---------------- zonal: 1,064,300 replicated parcels x 127 Mcell tiled DEM, memory-bounded ----------------
# The Bangor DEM tiled 10 x 10 (same grid continued) and the parcels copied into every tile; both tools
# read the files raster-sequentially with at most 30 M cells in memory (exactextract's default).
import shapely  # noqa: E402

RT = 10
with rasterio.open(bdem) as ds:
    a = ds.read(1)
    bprof = ds.profile
    bt = ds.transform
bigdem = np.tile(a, (RT, RT))
bprof.update(width=bigdem.shape[1], height=bigdem.shape[0], compress=None, tiled=True, blockxsize=256, blockysize=256)
dem127 = tmp / "dem127.tif"
with rasterio.open(dem127, "w", **bprof) as ds:
    ds.write(bigdem, 1)
cells127 = bigdem.size
del bigdem
W_m, H_m = a.shape[1] * bt.a, a.shape[0] * -bt.e
base = parcels.geometry.values
tiles = [shapely.transform(base, lambda c, i=i, j=j: c + np.array([i * W_m, -j * H_m])) for j in range(RT) for i in range(RT)]
big_polys = gpd.GeoDataFrame({"pid": np.arange(len(base) * RT * RT)}, geometry=np.concatenate(tiles), crs=parcels.crs)
polys_fgb = tmp / "parcels_1m.fgb"
big_polys.to_file(polys_fgb, driver="FlatGeobuf", engine="pyogrio")
npoly = len(big_polys)
del big_polys, tiles
import time as _time  # noqa: E402

ee_polys = gpd.read_file(polys_fgb)[["geometry"]]  # exactextract 0.3's Python API takes a GeoDataFrame
t0 = _time.perf_counter()
ee_big = exact_extract(str(dem127), ee_polys, ops, output="pandas", strategy="raster-sequential",
                       max_cells_in_memory=30_000_000)
t_ee_big = _time.perf_counter() - t0  # one run: ~2.5 minutes
t_lo_big = med(lambda: landopp.zonal_stats(dem127, polys_fgb, ops, max_cells=30_000_000), 3)
lo_big = landopp.zonal_stats(dem127, polys_fgb, ops, max_cells=30_000_000)
# valid polygons only (the 4 self-intersecting Bangor parcels, x100, differ by design; see the zonal tests).
# Rows are in file order on both sides (FlatGeobuf reorders features by its spatial index).
valid = ee_polys.geometry.is_valid.to_numpy()
rel = max(float(np.nanmax((np.abs(lo_big[o].to_numpy() - ee_big[o].to_numpy()) / np.maximum(np.abs(ee_big[o].to_numpy()), 1e-300))[valid]))
          for o in ops)


def cli_rss(max_cells: str) -> tuple[float, float]:
    r = subprocess.run(["/usr/bin/time", "-f", "%M %e", str(cli), "zonal", str(polys_fgb), str(dem127), "--stats", ",".join(ops),
                        "--max-cells", max_cells, "-o", str(tmp / "z.csv")], capture_output=True, text=True, check=True)
    return int(r.stderr.split()[-2]) / 1024, float(r.stderr.split()[-1])


cli_mb, cli_s = cli_rss("30")
whole_mb, _ = cli_rss("1000")
rows.append((f"zonal stats, {npoly:,} replicated Bangor parcels x {cells127 / 1e6:.0f} Mcell tiled DEM, max 30 M cells in memory",
             "exactextract 0.3 (raster-sequential, 1 run)", t_ee_big, t_lo_big,
             f"{npoly / t_ee_big:.0f} vs {npoly / t_lo_big:.0f} polygons/s; max rel. diff {rel:.1e} on valid polygons; CLI whole "
             f"process {cli_s:.1f} s, peak RSS {cli_mb:.0f} MB with --max-cells 30 vs {whole_mb:.0f} MB with the whole "
             f"{cells127 * 4 / 2**20:.0f} MB raster in memory"))

# ---------------- spectral indices on >= 100 Mcells ----------------
from spectral_compare import spectral_rows  # noqa: E402

rows += spectral_rows(shared)

# ---------------- full Bangor pipeline ----------------
spec = root / "benches/compare/city_pipeline.json"
t_pipe = med(lambda: subprocess.run([str(cli), "features", str(spec), "-o", str(tmp / "f.csv"), "-q"], check=True), 3)
rows.append(("full Bangor pipeline (shape, DEM, slope, zoning, soils, wetlands, flood, roads, streams)", "(target: 2 s)", 2.0, t_pipe,
             "landopp features, release, whole process"))

print("| input | reference | reference median | landopp median | speed-up (ref / landopp) | notes |")
print("|---|---|---|---|---|---|")
for name, ref, tr, tl, note in rows:
    print(f"| {name} | {ref} | {tr:.3f} s | {tl:.3f} s | {tr / tl:.2f}x | {note} |")
