"""Spectral indices on >= 100 Mcells, side by side with numpy (also part of features_compare.py):
NDVI + NDWI + NDBI + SAVI + EVI with SCL masking on the 29RKH Sentinel-2 L2A bands tiled 10x10
(121 Mcells, generated in memory, nothing written), median of 5 interleaved rounds:

  * landopp with fresh outputs, and into caller-provided outputs (``out=``);
  * numpy in float64 rounded to float32 once — the same arithmetic and the same result as landopp
    (like for like; checked cell for cell) — and numpy in float32, the script users often write
    (its values differ from the float64 formula under cancellation, DOMAIN.md);
  * a copy / triad memory-bandwidth test in the same run.

    python benches/compare/spectral_compare.py [../shared/data]
"""
from __future__ import annotations

import os
import pathlib
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import rasterio

import landopp
from _bench import interleaved, med


def spectral_rows(shared: pathlib.Path, rounds: int = 5) -> list[tuple[str, str, float, float, str]]:
    d = shared / "sentinel2_l2a_29RKH_2020-02-19"

    def rd(name: str) -> np.ndarray:
        with rasterio.open(d / f"{name}.tif") as ds:
            return ds.read(1)

    b = {k: rd(v) for k, v in {"B": "B02", "G": "B03", "R": "B04", "N": "B08"}.items()}
    b["S1"] = np.repeat(np.repeat(rd("B11"), 2, 0), 2, 1)
    scl = np.repeat(np.repeat(rd("SCL"), 2, 0), 2, 1)
    T = int(os.environ.get("LANDOPP_SPECTRAL_TILES", "10"))  # 1 for a quick check
    B = {k: np.ascontiguousarray(np.tile(v, (T, T))) for k, v in b.items()}
    SCL = np.ascontiguousarray(np.tile(scl, (T, T)))
    n = SCL.size
    g = (0.0, 10.0, 0.0, 0.0, 0.0, -10.0)
    rb = {k: landopp.Raster([v], g, None, 0.0) for k, v in B.items()}
    rs = landopp.Raster([SCL], g, None, None)
    names = ["NDVI", "NDWI", "NDBI", "SAVI", "EVI"]
    bad = np.zeros(256, bool)
    bad[[0, 1, 3, 8, 9, 10, 11]] = True
    flat = {k: v.reshape(-1) for k, v in B.items()}
    s = SCL.reshape(-1)

    def numpy_chunked(dtype: type) -> dict[str, np.ndarray]:
        out = {k: np.empty(n, np.float32) for k in names}
        step = 1 << 20
        for i in range(0, n, step):
            sl = slice(i, i + step)
            Bl, G, R, N, S1 = (flat[k][sl].astype(dtype) / dtype(10000) for k in ["B", "G", "R", "N", "S1"])
            m = bad[s[sl]] | (flat["R"][sl] == 0)
            with np.errstate(all="ignore"):
                res = {"NDVI": (N - R) / (N + R), "NDWI": (G - N) / (G + N), "NDBI": (S1 - N) / (S1 + N),
                       "SAVI": (1 + 1.0) * (N - R) / (N + R + 1.0),
                       "EVI": 2.5 * (N - R) / (N + 6 * R - 7.5 * Bl + 1)}
            for k, v in res.items():
                v = v.astype(np.float32)
                v[m | ~np.isfinite(v)] = np.nan
                out[k][sl] = v
        return out

    outs = {k: np.zeros(SCL.shape, np.float32) for k in names}

    def lo() -> object:
        return landopp.spectral_indices(rb, names, sensor="sentinel2_l2a", baseline="02.14", scl=rs)

    def lo_out() -> object:
        return landopp.spectral_indices(rb, names, sensor="sentinel2_l2a", baseline="02.14", scl=rs, out=outs)

    t = interleaved({"lo": lo, "lo_out": lo_out, "np64": lambda: numpy_chunked(np.float64),
                     "np32": lambda: numpy_chunked(np.float32)}, rounds)
    # like for like: numpy's float64 formula rounded once equals landopp cell for cell (all but the
    # cells where float64 numpy and the catalogue formula associate differently: counted)
    ref = numpy_chunked(np.float64)
    lo_out()
    differ = {k: int((~((outs[k].reshape(-1) == ref[k]) | (np.isnan(outs[k].reshape(-1)) & np.isnan(ref[k])))).sum())
              for k in names}
    del ref
    # memory bandwidth in the same run: copy (1 and 2 threads) and a 2-thread triad on 1 GiB arrays
    x = np.ones(1 << 27)
    y = np.empty_like(x)
    z = np.ones_like(x)
    t_copy = med(lambda: np.copyto(y, x), 3)
    half = x.size // 2
    with ThreadPoolExecutor(2) as ex:
        def par(f):  # type: ignore[no-untyped-def]
            list(ex.map(f, [slice(0, half), slice(half, None)]))
        t_copy2 = med(lambda: par(lambda sl: np.copyto(y[sl], x[sl])), 3)
        t_triad2 = med(lambda: par(lambda sl: np.add(x[sl], z[sl], out=y[sl])), 3)
    bw_copy, bw_copy2, bw_triad2 = 2 * x.nbytes / t_copy / 1e9, 2 * x.nbytes / t_copy2 / 1e9, 3 * x.nbytes / t_triad2 / 1e9
    bpc = 5 * 2 + 1 + 5 * 4
    gb = lambda sec: n * bpc / sec / 1e9  # noqa: E731
    diff_note = ", ".join(f"{k} {v}" for k, v in differ.items() if v) or "none"
    return [
        (f"5 indices + SCL mask, {n / 1e6:.0f} Mcells (u16 bands), float64 arithmetic rounded once",
         "numpy chunked single pass, float64 rounded to float32 (like for like)", t["np64"], t["lo"],
         f"{n / t['np64'] / 1e6:.0f} vs {n / t['lo'] / 1e6:.0f} Mcells/s with fresh outputs; cells differing from "
         f"landopp: {diff_note} (of {n:,} per index)"),
        (f"same, against the float32 script users often write, {n / 1e6:.0f} Mcells",
         "numpy chunked single pass in float32 (not the same values)", t["np32"], t["lo"],
         f"{n / t['np32'] / 1e6:.0f} vs {n / t['lo'] / 1e6:.0f} Mcells/s"),
        (f"same, into caller-provided outputs (out=), {n / 1e6:.0f} Mcells", "memory copy at the copy bandwidth",
         n * bpc / (max(bw_copy, bw_copy2) * 1e9), t["lo_out"],
         f"landopp {gb(t['lo_out']):.1f} GB/s of input+output ({bpc} B/cell) vs copy {bw_copy:.1f} GB/s (1 thread) / "
         f"{bw_copy2:.1f} GB/s (2 threads), triad {bw_triad2:.1f} GB/s (2 threads) in this run"),
    ]


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[2]
    shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data")
    print("| input | reference | reference median | landopp median | speed-up (ref / landopp) | notes |")
    print("|---|---|---|---|---|---|")
    for name, ref, tr, tl, note in spectral_rows(shared):
        print(f"| {name} | {ref} | {tr:.3f} s | {tl:.3f} s | {tr / tl:.2f}x | {note} |")
