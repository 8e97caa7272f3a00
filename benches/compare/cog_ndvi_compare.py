"""Per-parcel NDVI from a scene over HTTP, side by side: landopp's spectral feature step reading
the bands' URLs against exactextract on a GDAL VRT (`norm_diff` pixel function) whose sources
are the same URLs through `/vsicurl/` — the same Cloud-Optimized GeoTIFFs from the same
loopback server, in one run.

Inputs (made here, never committed): the real Sentinel-2 L2A bands B04 (red) and B08 (NIR) of
tile 29RKH (`../shared/data/sentinel2_l2a_29RKH_2020-02-19/`), each mosaicked 4 × 4 into a
4392 × 4392 COG (`gdalbuildvrt` + `gdal_translate -of COG -co BLOCKSIZE=256 -co
COMPRESS=DEFLATE`: 18 × 18 tiles a band), and 300 parcels (3–30 ha quadrilaterals) in 6
subdivision-like clusters spread over the mosaic (seeded, EPSG:32629).

Work, each run opening the URLs afresh (landopp `LANDOPP_HTTP_CACHE=off`; GDAL `VSI_CACHE=FALSE`,
`CPL_VSIL_CURL_NON_CACHED=/vsicurl/`, `GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`): NDVI count,
mean, min and max for every parcel, cells weighted by the parcel's coverage on both sides
(landopp `features` with a `spectral` step; `exactextract.exact_extract` on the VRT). The
values are checked equal first (NDVI is scale-free, so the L2A scaling cancels). Runs are
interleaved, median of RUNS; the server counts requests and bytes, and the bytes of the tiles
under the parcels are summed from the COGs' tile byte counts.

Usage: .venv/bin/python benches/compare/cog_ndvi_compare.py [RUNS=5]
"""
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import http.server
from pathlib import Path

os.environ["LANDOPP_HTTP_CACHE"] = "off"
os.environ["LANDOPP_HTTP_RATE"] = "off"  # the engines compared, not the politeness (GDAL has none)
os.environ.update({"VSI_CACHE": "FALSE", "CPL_VSIL_CURL_NON_CACHED": "/vsicurl/",
                   "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"})

import exactextract  # noqa: E402
import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402

import landopp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from remote_compare import COUNT, Ranges, mosaic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LANDOPP_SHARED_DATA", ROOT.parent / "shared" / "data"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
STATS = ["count", "mean", "min", "max"]


def parcels(bounds, n_clusters=6, per=50, seed=11):
    """Quadrilaterals of 150–550 m sides with jittered corners, in rows around cluster centres."""
    rnd = random.Random(seed)
    x0, y0, x1, y1 = bounds
    geoms = []
    for _ in range(n_clusters):
        cx, cy = rnd.uniform(x0 + 20_000, x1 - 20_000), rnd.uniform(y0 + 20_000, y1 - 20_000)
        x, y, row_h = cx, cy, 0.0
        for i in range(per):
            wdt, hgt = rnd.uniform(150, 550), rnd.uniform(150, 550)
            if i % 10 == 0 and i:
                x, y, row_h = cx, y - row_h - 30, 0.0
            j = lambda: rnd.uniform(-25, 25)  # noqa: E731
            geoms.append(shapely.Polygon([(x + j(), y + j()), (x + wdt + j(), y + j()),
                                          (x + wdt + j(), y - hgt + j()), (x + j(), y - hgt + j())]))
            x += wdt + 30
            row_h = max(row_h, hgt)
    return gpd.GeoDataFrame({"pid": [f"p{i}" for i in range(len(geoms))]}, geometry=geoms, crs="EPSG:32629")


def tile_bytes(path: Path, gdf) -> tuple[int, int]:
    """Bytes of the tiles that meet a parcel, and the tiles' count."""
    total, n = 0, 0
    with rasterio.open(path) as d:
        bh, bw = d.block_shapes[0]
        tree = shapely.STRtree(gdf.geometry.values)
        for r in range(-(-d.height // bh)):
            for c in range(-(-d.width // bw)):
                x0, y0 = d.transform * (c * bw, (r + 1) * bh)
                x1, y1 = d.transform * ((c + 1) * bw, r * bh)
                if len(tree.query(shapely.box(x0, y0, x1, y1), predicate="intersects")):
                    total += int(d.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=1))
                    n += 1
    return total, n


def main():
    scene = SHARED / "sentinel2_l2a_29RKH_2020-02-19"
    if not (scene / "B04.tif").exists():
        sys.exit(f"SKIPPED: {scene} not found")
    tmp = Path(tempfile.mkdtemp(prefix="landopp-cog-ndvi-"))
    for b in ("B04", "B08"):
        mosaic(scene / f"{b}.tif", tmp / f"{b}.tif", tmp)
    with rasterio.open(tmp / "B04.tif") as d:
        width, height, transform, bounds = d.width, d.height, d.transform, d.bounds
    gdf = parcels(bounds)
    gpkg = tmp / "parcels.gpkg"
    gdf.to_file(gpkg)
    Ranges.root = tmp
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ranges)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    vrt = tmp / "ndvi.vrt"
    vrt.write_text(f"""<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <SRS>EPSG:32629</SRS>
  <GeoTransform>{transform.c}, {transform.a}, 0, {transform.f}, 0, {transform.e}</GeoTransform>
  <VRTRasterBand dataType="Float32" band="1" subClass="VRTDerivedRasterBand">
    <PixelFunctionType>norm_diff</PixelFunctionType>
    <NoDataValue>nan</NoDataValue>
    <SimpleSource><SourceFilename>/vsicurl/{base}/B08.tif</SourceFilename><SourceBand>1</SourceBand></SimpleSource>
    <SimpleSource><SourceFilename>/vsicurl/{base}/B04.tif</SourceFilename><SourceBand>1</SourceBand></SimpleSource>
  </VRTRasterBand>
</VRTDataset>""")
    spec = {"version": 1, "parcels": {"path": str(gpkg), "id_field": "pid"},
            "features": [{"type": "spectral", "bands": {"R": f"{base}/B04.tif", "N": f"{base}/B08.tif"},
                          "indices": ["NDVI"], "stats": STATS,
                          "imagery": {"sensor": {"sensor": "sentinel2_l2a", "offset": 0}}}]}

    def lo():
        return landopp.features(spec)

    def ee():
        return exactextract.exact_extract(str(vrt), gdf, STATS, include_cols=["pid"], output="pandas")

    a, b = lo(), ee()
    for s in STATS:
        np.testing.assert_allclose(a[f"ndvi_{s}"].to_numpy(), b[s].to_numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=s)
    under = [tile_bytes(tmp / f"{x}.tif", gdf) for x in ("B04", "B08")]
    tiles_b, tiles_n = sum(u[0] for u in under), sum(u[1] for u in under)
    times = {"landopp": [], "exactextract": []}
    traffic = {}
    for _ in range(RUNS):
        for side, f in (("landopp", lo), ("exactextract", ee)):
            r0, b0 = COUNT["requests"], COUNT["bytes"]
            t0 = time.perf_counter()
            f()
            times[side].append(time.perf_counter() - t0)
            traffic[side] = (COUNT["requests"] - r0, COUNT["bytes"] - b0)
    srv.shutdown()
    m = {k: statistics.median(v) for k, v in times.items()}
    size = sum((tmp / f"{x}.tif").stat().st_size for x in ("B04", "B08"))
    print(f"\n{len(gdf)} parcels; the two COGs: {size / 1e6:.1f} MB; the {tiles_n} tiles under the parcels: "
          f"{tiles_b / 1e6:.2f} MB ({time.strftime('%Y-%m-%d')}, {RUNS} interleaved runs, medians)")
    print("| side | time | ratio | requests | MB | bytes / tiles' bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for side in ("landopp", "exactextract"):
        req, by = traffic[side]
        print(f"| {side} | {m[side] * 1e3:.0f} ms | {m['exactextract'] / m[side]:.2f}× | {req} | {by / 1e6:.2f} | "
              f"{by / tiles_b:.2f} |")


if __name__ == "__main__":
    main()
