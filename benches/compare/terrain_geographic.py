"""Slope on geographic (EPSG:4326) DEMs: landopp (per-row WGS 84 cell size) and `gdaldem slope
-s 111120`, each against a geodesic reference, on the shared São Tomé (0.0-0.4°N) and Jacksboro
(36.6°N) DEMs.

    python benches/compare/terrain_geographic.py [../shared/data]

Reference: Horn's gradient with every cell spacing measured as a geodesic on WGS 84
(pyproj.Geod.inv between neighbouring cell centres): for row k, ew_k = distance between
adjacent centres on row k; ns = half the distance between the rows above and below.
dz/dx = [(c − a)/ew_{r−1} + 2(f − d)/ew_r + (i − g)/ew_{r+1}] / 8, dz/dy likewise with ns.
"""
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import rasterio
from pyproj import Geod

import landopp

shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[3] / "shared" / "data")
geod = Geod(ellps="WGS84")
print("| DEM | method | mean abs error (deg) | max abs error (deg) | mean bias (%) |")
print("|---|---|---|---|---|")
for rel in ["dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif", "dem_jacksboro_tn/jacksboro_fault_dem.tif"]:
    path = shared / rel
    with rasterio.open(path) as ds:
        z = ds.read(1).astype(np.float64)
        t = ds.transform
    h, w = z.shape
    lat = t.f + (np.arange(h) + 0.5) * t.e
    lon0 = t.c + 0.5 * t.a
    ew = np.array([geod.inv(lon0, la, lon0 + t.a, la)[2] for la in lat])
    ns_rows = np.array([geod.inv(lon0, lat[k - 1], lon0, lat[k + 1])[2] / 2 for k in range(1, h - 1)])
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, hh, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c - a) / (2 * ew[:-2, None]) * 1 + (f - d) / (2 * ew[1:-1, None]) * 2 + (i - g) / (2 * ew[2:, None])) / 4
    dzdy = ((a + 2 * b + c) - (g + 2 * hh + i)) / (8 * ns_rows[:, None])
    ref = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    ours = landopp.terrain(path, "slope").bands[0][1:-1, 1:-1].astype(np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "s.tif"
        subprocess.run(["gdaldem", "slope", "-q", "-s", "111120", str(path), str(out)], check=True)
        with rasterio.open(out) as ds:
            gd = ds.read(1)[1:-1, 1:-1].astype(np.float64)
    mask = ref > 0.5  # skip flat sea
    for name, v in [("landopp (per-row WGS 84 cell size)", ours), ("gdaldem -s 111120", gd)]:
        err = v[mask] - ref[mask]
        print(f"| {rel.split('/')[0]} | {name} | {np.abs(err).mean():.2e} | {np.abs(err).max():.2e} | {100 * (v[mask].mean() / ref[mask].mean() - 1):+.3f} |")
