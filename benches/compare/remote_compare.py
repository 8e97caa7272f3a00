"""Rasters over HTTP, side by side: landopp's range reader against GDAL's /vsicurl/ (rasterio),
the same Cloud-Optimized GeoTIFF from the same loopback server in one run.

Inputs (made here, never committed): the real Sentinel-2 L2A band B04 of tile 29RKH
(`../shared/data/sentinel2_l2a_29RKH_2020-02-19/B04.tif`) written as a COG by `gdal_translate
-of COG -co BLOCKSIZE=256 -co COMPRESS=DEFLATE` (GDAL 3.6, gdal-bin), and the same band mosaicked
4 × 4 into a larger COG (`gdalbuildvrt` + `gdal_translate`), so a window touches a small part of
the file.

Work, each call opening the URL afresh on both sides (landopp: `LANDOPP_HTTP_CACHE=off`, one
`read_raster` per call; GDAL: `VSI_CACHE=FALSE`, `CPL_VSIL_CURL_NON_CACHED=/vsicurl/`,
`GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`, one `rasterio.open` per call):
  - the whole band of the small COG;
  - 20 windows of 256 × 256 cells at random places of the large COG;
  - the whole large COG.
Runs are interleaved (landopp, then GDAL), median of RUNS; the server counts requests and bytes.

Usage: .venv/bin/python benches/compare/remote_compare.py [RUNS=5]
"""
import http.server
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["LANDOPP_HTTP_CACHE"] = "off"
os.environ["LANDOPP_HTTP_RATE"] = "off"  # the engines compared, not the politeness (GDAL has none)
os.environ.update({"VSI_CACHE": "FALSE", "CPL_VSIL_CURL_NON_CACHED": "/vsicurl/",
                   "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"})

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
from rasterio.windows import Window  # noqa: E402

import landopp  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LANDOPP_SHARED_DATA", ROOT.parent / "shared" / "data"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
COUNT = {"requests": 0, "bytes": 0}


class Ranges(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = Path(".")

    def do_HEAD(self):  # noqa: N802
        self._answer(head=True)

    def do_GET(self):  # noqa: N802
        self._answer(head=False)

    def _answer(self, head):
        p = self.root / self.path.split("?")[0].lstrip("/")
        if not p.is_file():
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        size = p.stat().st_size
        rng = self.headers.get("Range")
        COUNT["requests"] += 1
        if rng and "," not in rng:
            a, b = (int(v) if v else None for v in rng.removeprefix("bytes=").split("-"))
            b = size - 1 if b is None else min(b, size - 1)
            self.send_response(206)
            self.send_header("content-range", f"bytes {a}-{b}/{size}")
        else:
            a, b = 0, size - 1
            self.send_response(200)
        self.send_header("content-length", str(b - a + 1))
        self.send_header("accept-ranges", "bytes")
        self.send_header("etag", f'"{int(p.stat().st_mtime)}"')
        self.end_headers()
        if not head:
            with open(p, "rb") as f:
                f.seek(a)
                self.wfile.write(f.read(b - a + 1))
            COUNT["bytes"] += b - a + 1

    def log_message(self, *args):
        pass


def mosaic(src: Path, out: Path, tmp: Path) -> None:
    """`src` shifted to a 4 × 4 mosaic (same cells, other places), written as a 256² Deflate COG."""
    with rasterio.open(src) as d:
        w, h, t = d.width, d.height, d.transform
    parts = []
    for k in range(16):
        dx, dy = (k % 4) * w * t.a, -(k // 4) * h * t.a
        p = tmp / f"{src.stem}_part{k}.tif"
        ul = (t.c + dx, t.f + dy)
        subprocess.run(["gdal_translate", "-q", "-a_ullr", str(ul[0]), str(ul[1]), str(ul[0] + w * t.a),
                        str(ul[1] - h * t.a), str(src), str(p)], check=True)
        parts.append(str(p))
    vrt = tmp / f"{src.stem}_mosaic.vrt"
    subprocess.run(["gdalbuildvrt", "-q", str(vrt), *parts], check=True)
    subprocess.run(["gdal_translate", "-q", "-of", "COG", "-co", "BLOCKSIZE=256", "-co", "COMPRESS=DEFLATE",
                    str(vrt), str(out)], check=True)


def main():
    src = SHARED / "sentinel2_l2a_29RKH_2020-02-19" / "B04.tif"
    if not src.exists():
        sys.exit(f"SKIPPED: {src} not found")
    tmp = Path(tempfile.mkdtemp(prefix="landopp-remote-bench-"))
    cog = ["-of", "COG", "-co", "BLOCKSIZE=256", "-co", "COMPRESS=DEFLATE", "-q"]
    subprocess.run(["gdal_translate", *cog, str(src), str(tmp / "small.tif")], check=True)
    with rasterio.open(src) as d:
        w, h = d.width, d.height
    mosaic(src, tmp / "big.tif", tmp)
    Ranges.root = tmp
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ranges)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    big_w, big_h = 4 * w, 4 * h
    rnd = random.Random(7)
    windows = [(rnd.randrange(0, big_w - 256), rnd.randrange(0, big_h - 256)) for _ in range(20)]

    def lo_small():
        return landopp.read_raster(f"{base}/small.tif").bands[0]

    def gd_small():
        with rasterio.open(f"{base}/small.tif") as d:
            return d.read(1)

    def lo_windows():
        return [landopp.read_raster(f"{base}/big.tif", window=(r, c, 256, 256)).bands[0] for c, r in windows]

    def gd_windows():
        out = []
        for c, r in windows:
            with rasterio.open(f"{base}/big.tif") as d:
                out.append(d.read(1, window=Window(c, r, 256, 256)))
        return out

    def lo_big():
        return landopp.read_raster(f"{base}/big.tif").bands[0]

    def gd_big():
        with rasterio.open(f"{base}/big.tif") as d:
            return d.read(1)

    # the same cells on both sides
    np.testing.assert_array_equal(lo_small(), gd_small())
    for a, b in zip(lo_windows(), gd_windows()):
        np.testing.assert_array_equal(a, b)
    size = {"small": (tmp / "small.tif").stat().st_size, "big": (tmp / "big.tif").stat().st_size}
    rows = []
    for label, lo, gd in [(f"whole band, {w} × {h} cells ({size['small'] / 1e6:.1f} MB COG)", lo_small, gd_small),
                          (f"20 windows of 256² in a {big_w} × {big_h} COG ({size['big'] / 1e6:.1f} MB)", lo_windows, gd_windows),
                          (f"whole {big_w} × {big_h} COG", lo_big, gd_big)]:
        times = {"landopp": [], "gdal": []}
        traffic = {}
        for _ in range(RUNS):
            for side, f in (("landopp", lo), ("gdal", gd)):
                r0, b0 = COUNT["requests"], COUNT["bytes"]
                t0 = time.perf_counter()
                f()
                times[side].append(time.perf_counter() - t0)
                traffic[side] = (COUNT["requests"] - r0, COUNT["bytes"] - b0)
        m = {k: statistics.median(v) for k, v in times.items()}
        rows.append((label, m["landopp"], m["gdal"], traffic["landopp"], traffic["gdal"]))
    srv.shutdown()
    print(f"\n| {RUNS} interleaved runs ({time.strftime('%Y-%m-%d')}) | landopp | GDAL /vsicurl/ (rasterio) | ratio | requests / MB landopp | requests / MB GDAL |")
    print("|---|---|---|---|---|---|")
    for label, a, b, ta, tb in rows:
        print(f"| {label} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.2f}× | {ta[0]} / {ta[1] / 1e6:.2f} | {tb[0]} / {tb[1] / 1e6:.2f} |")


if __name__ == "__main__":
    main()
