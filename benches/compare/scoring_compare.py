"""Side-by-side scoring and search speed on 1,064,300 parcels, one run, same real inputs
(the Bangor feature table replicated ×100 on a 15 km grid, generated at bench time into a temp dir;
nothing is committed):

  * score + rank, 10 criteria: landopp pure Rust (`rust_side score`), landopp from Python
    (`landopp.score(..., explain=False)`), pymcdm 1.4 WSM and TOPSIS (validation off) on the same
    matrix — the scores are checked equal (1e-9) before anything is timed;
  * 1,000 searches (2 km bbox + slope/area filters + top 100): landopp pure Rust, landopp
    `SearchIndex.query` from Python, and geopandas (STRtree `sindex.query(..., "intersects")` +
    pandas filter + `nlargest`) — top-100 scores checked equal;
  * exact zonal statistics on the 10,643 Bangor parcels × 10 m DEM: pure Rust vs Python.

    python benches/compare/scoring_compare.py [../shared/data]

Needs `cargo build --release -p landopp-benches --bin rust_side` and a release build of the
Python extension. Prints a markdown table (BENCHMARKS.md).
"""
from __future__ import annotations

import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import landopp
from _bench import med
from landopp import _landopp

root = pathlib.Path(__file__).resolve().parents[2]
shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data")
if _landopp.BUILD_PROFILE != "release":
    raise SystemExit("build landopp in release mode first (maturin develop --release)")
rust_side = root / "target" / "release" / "rust_side"
if not rust_side.exists():
    raise SystemExit("cargo build --release -p landopp-benches --bin rust_side first")

# the criteria of benches/benches/scoring.rs (benefit = 1, cost = 0)
COLS = [("slope_mean", 0), ("area_acres", 1), ("road_distance_m", 0), ("stream_distance_m", 0),
        ("polsby_popper", 1), ("mrr_fill", 1), ("elev_mean", 1), ("wetland_any_share", 0),
        ("sfha_in_share", 0), ("slope_share_le_15", 1)]
WEIGHTS = [3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.5]
REPLICAS = 100


rows: list[tuple[str, str, float, str, float, str]] = []


def rust(*args: str) -> dict:
    out = subprocess.run([str(rust_side), *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


# --- zonal (first, while the process is small) ------------------------------------------------------
import geopandas as gpd  # noqa: E402

dem = shared / "bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"
pgpkg = shared / "bangor_me/parcels.gpkg"
praw = gpd.read_file(pgpkg)  # GeoDataFrame in, reprojected in Rust like the pure-Rust call
ZSTATS = ["count", "mean", "min", "max", "stdev"]
landopp.zonal_stats(dem, praw, ZSTATS)
# Rust and Python runs interleaved (4 rounds of 3 runs each), medians over all 12 runs of a side
rzs: list[float] = []
rzfs: list[float] = []
pzs: list[float] = []
pzfs: list[float] = []
for _ in range(4):
    zr = rust("zonal", str(dem), str(pgpkg), ",".join(ZSTATS), "3")
    rzs += zr["times_ms"]
    rzfs += zr["times_from_files_ms"]
    for _ in range(3):
        t0 = time.perf_counter()
        landopp.zonal_stats(dem, praw, ZSTATS)
        pzs.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        landopp.zonal_stats(dem, pgpkg, ZSTATS)
        pzfs.append((time.perf_counter() - t0) * 1e3)
rz, rzf, pz, pzf = (statistics.median(v) / 1e3 for v in (rzs, rzfs, pzs, pzfs))
rows.append(("Python overhead: zonal, Bangor parcels × DEM, from files", "landopp.zonal_stats(path, path)", pzf,
             "same job in pure Rust (both files read)", rzf, f"{(pzf / rzf - 1) * 100:+.0f} %"))
rows.append(("Python overhead: zonal, Bangor parcels × DEM, from a GeoDataFrame", "landopp.zonal_stats (GeoDataFrame)",
             pz, "pure Rust, polygons already in memory", rz, f"{(pz / rz - 1) * 100:+.0f} %"))


# --- the replicated real feature table ------------------------------------------------------------
spec = json.loads((root / "benches/compare/city_features.json").read_text())
base_dir = root / "benches/compare"
t0 = time.perf_counter()
base = landopp.features(base_dir / "city_features.json")
print(f"Bangor features: {len(base)} parcels in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
names = [c for c, _ in COLS]
base = base[names]
base = base.fillna(base.min())  # pymcdm takes no NaN; both sides get the same matrix
n0 = len(base)
x = np.tile(base.to_numpy(float), (REPLICAS, 1))
ids = [f"{k}:{i}" for k in range(REPLICAS) for i in base.index]
df = pd.DataFrame(x, columns=names, index=pd.Index(ids, name="parcel_id"))
n = len(df)
lo, hi = x.min(axis=0), x.max(axis=0)
profile = {"version": 1, "method": {"type": "weighted_sum"}, "criteria": [
    {"column": c, "weight": w, "transform": {"type": "linear_benefit" if b else "linear_cost",
                                             "min": float(lo[j]), "max": float(hi[j])}}
    for j, ((c, b), w) in enumerate(zip(COLS, WEIGHTS))]}
topsis_profile = profile | {"method": {"type": "topsis"}}

with tempfile.TemporaryDirectory() as td:
    tdir = pathlib.Path(td)
    (tdir / "ids.txt").write_text("\n".join(ids) + "\n")
    (tdir / "columns.txt").write_text("\n".join(names) + "\n")
    for j, c in enumerate(names):
        np.ascontiguousarray(x[:, j]).astype("<f8").tofile(tdir / f"{c}.f64")
    (tdir / "wsm.json").write_text(json.dumps(profile))
    (tdir / "topsis.json").write_text(json.dumps(topsis_profile))

    # --- correctness first: equal to pymcdm --------------------------------------------------------
    from pymcdm import methods, normalizations

    types = np.array([1 if b else -1 for _, b in COLS])
    w = np.array(WEIGHTS) / sum(WEIGHTS)
    mm = normalizations.minmax_normalization
    wsm = methods.WSM(normalization_function=mm)
    # TOPSIS on the transformed matrix as its normalised matrix (landopp's default: no second normalisation)
    top = methods.TOPSIS(normalization_function=lambda col, cost: col)
    ours = landopp.score(df, profile, explain=False)
    ref = wsm(x, w, types, validation=False)
    assert np.abs(ours["score"].to_numpy() - ref).max() < 1e-9, "WSM differs from pymcdm"
    tmat = np.column_stack([mm(x[:, j], types[j] < 0) for j in range(len(COLS))])
    ours_t = landopp.score(df, topsis_profile, explain=False)
    ref_t = top(tmat, w, np.ones(len(COLS)), validation=False)
    assert np.abs(ours_t["score"].to_numpy() - ref_t).max() < 1e-9, "TOPSIS differs from pymcdm"

    # --- scoring ----------------------------------------------------------------------------------
    # Rust and Python runs interleaved (10 rounds of 5 runs each side), so both sides see the same
    # machine load; the medians are over all 50 runs of a side (25 left the median swinging by
    # ±10 % from one run of this script to the next on this VM)
    def interleaved(prof_path: pathlib.Path, prof: dict) -> tuple[float, float, float]:
        r_ts: list[float] = []
        r_parts: list[float] = []
        p_ts: list[float] = []
        landopp.score(df, prof, explain=False)
        for _ in range(10):
            rr = rust("score", td, str(prof_path), "5")
            r_ts += rr["times_ms"]
            r_parts += rr["parts_times_ms"]
            for _ in range(5):
                t0 = time.perf_counter()
                landopp.score(df, prof, explain=False)
                p_ts.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(r_ts) / 1e3, statistics.median(p_ts) / 1e3, statistics.median(r_parts) / 1e3

    r_wsm, p_wsm, rp_wsm = interleaved(tdir / "wsm.json", profile)
    r_top, p_top, rp_top = interleaved(tdir / "topsis.json", topsis_profile)
    m_wsm = med(lambda: (wsm(x, w, types, validation=False), np.argsort(-wsm(x, w, types, validation=False), kind="stable")), 3)
    m_top = med(lambda: np.argsort(-top(np.column_stack([mm(x[:, j], types[j] < 0) for j in range(len(COLS))]), w,
                                        np.ones(len(COLS)), validation=False), kind="stable"), 3)
    m_wsm_only = med(lambda: wsm(x, w, types, validation=False), 3)
    rows += [
        ("score + rank, WSM, 1 M × 10", "landopp (Rust)", r_wsm, "pymcdm WSM (score only)", m_wsm_only,
         f"{m_wsm_only / r_wsm:.1f}× faster"),
        ("score + rank, WSM, 1 M × 10", "landopp (Rust)", r_wsm, "pymcdm WSM + argsort", m_wsm, f"{m_wsm / r_wsm:.1f}× faster"),
        ("score + rank, TOPSIS, 1 M × 10", "landopp (Rust)", r_top, "pymcdm TOPSIS + argsort", m_top,
         f"{m_top / r_top:.1f}× faster"),
        ("Python overhead: score WSM", "landopp.score (Python)", p_wsm, "same call in pure Rust", r_wsm,
         f"{(p_wsm / r_wsm - 1) * 100:+.0f} %"),
        ("Python overhead: score TOPSIS", "landopp.score (Python)", p_top, "same call in pure Rust", r_top,
         f"{(p_top / r_top - 1) * 100:+.0f} %"),
        ("Python overhead: score WSM, against the call + result arrays built in Rust", "landopp.score (Python)", p_wsm,
         "score + result parts in pure Rust", rp_wsm, f"{(p_wsm / rp_wsm - 1) * 100:+.0f} %"),
    ]

    # --- search ------------------------------------------------------------------------------------
    import geopandas as gpd
    import shapely

    parcels = gpd.read_file(shared / "bangor_me/parcels.gpkg").to_crs(26919)
    assert len(parcels) == n0
    geoms = parcels.geometry.to_numpy()
    reps = []
    for k in range(REPLICAS):
        dx, dy = (k % 10) * 15_000.0, (k // 10) * 15_000.0
        reps.append(shapely.transform(geoms, lambda c, dx=dx, dy=dy: c + np.array([dx, dy])))
    gdf = gpd.GeoDataFrame({"score": ours["score"].to_numpy(), "slope_mean": x[:, 0], "area_acres": x[:, 1]},
                           geometry=np.concatenate(reps), crs=26919)
    def make_queries(size):
      s = 42
      queries = []
      for _ in range(1000):
        s = (s * 6364136223846793005 + 1442695040888963407) % 2**64
        fx = (s >> 11) / 2**53
        s = (s * 6364136223846793005 + 1442695040888963407) % 2**64
        fy = (s >> 11) / 2**53
        x0, y0 = 505_000.0 + fx * 150_000.0, 4_955_000.0 + fy * 150_000.0
        queries.append({"aoi": {"bbox": [x0, y0, x0 + size, y0 + size]},
                        "filters": [{"column": "slope_mean", "max": 10.0}, {"column": "area_acres", "min": 0.25}],
                        "limit": 100})
      return queries

    queries = make_queries(2000.0)
    queries10 = make_queries(10_000.0)
    (tdir / "queries10.json").write_text(json.dumps(queries10))
    rs10 = rust("search", td, str(tdir / "wsm.json"), str(shared / "bangor_me/parcels.gpkg"), "MAPLOTUNIT",
                str(REPLICAS), str(tdir / "queries10.json"))
    (tdir / "queries.json").write_text(json.dumps(queries))
    (tdir / "queries_noexplain.json").write_text(json.dumps([q | {"explain": False} for q in queries]))
    rs_nx = rust("search", td, str(tdir / "wsm.json"), str(shared / "bangor_me/parcels.gpkg"), "MAPLOTUNIT",
                 str(REPLICAS), str(tdir / "queries_noexplain.json"))

    t0 = time.perf_counter()
    idx = landopp.SearchIndex(gdf[["geometry"]].set_axis(ids), df, profile)
    py_build = time.perf_counter() - t0

    # batch search: Rust and Python interleaved (3 rounds; each Rust round is a median of 5
    # query_many calls, each Python round 5 calls)
    rs_runs = []
    qm_ts: list[float] = []
    idx.query_many(queries)
    for _ in range(3):
        rs_runs.append(rust("search", td, str(tdir / "wsm.json"), str(shared / "bangor_me/parcels.gpkg"),
                            "MAPLOTUNIT", str(REPLICAS), str(tdir / "queries.json")))
        for _ in range(5):
            t0 = time.perf_counter()
            idx.query_many(queries)
            qm_ts.append(time.perf_counter() - t0)
    rs = rs_runs[-1]
    r_many = statistics.median(r["many_ms"] for r in rs_runs) / 1e3
    qm = statistics.median(qm_ts)

    def run_py(explain=True):
        lat = []
        got = []
        for q in queries:
            q = q | {"explain": explain}
            t = time.perf_counter()
            page = idx.query(**q)
            lat.append(time.perf_counter() - t)
            got.append(page)
        return lat, got

    run_py()
    t0 = time.perf_counter()
    py_lat, py_pages = run_py()
    py_total = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_py(False)
    py_total_nx = time.perf_counter() - t0

    tree = gdf.sindex
    sc, sl, ar = gdf["score"].to_numpy(), gdf["slope_mean"].to_numpy(), gdf["area_acres"].to_numpy()

    def run_gpd(queries=queries):
        lat = []
        got = []
        for q in queries:
            b = q["aoi"]["bbox"]
            t = time.perf_counter()
            cand = tree.query(shapely.box(*b), predicate="intersects")
            sub = pd.DataFrame({"score": sc[cand], "slope_mean": sl[cand], "area_acres": ar[cand]}, index=cand)
            sub = sub[(sub["slope_mean"] <= 10.0) & (sub["area_acres"] >= 0.25)]
            top100 = sub.nlargest(100, "score")
            lat.append(time.perf_counter() - t)
            got.append(top100)
        return lat, got

    run_gpd()
    t0 = time.perf_counter()
    g_lat, g_pages = run_gpd()
    g_total = time.perf_counter() - t0
    g10_lat, _ = run_gpd(queries10)
    for pg, gp in zip(py_pages, g_pages):
        assert pg["total"] == len(gp) or pg["total"] >= 100, "result counts differ"
        assert np.allclose([h["score"] for h in pg["hits"]], gp["score"].to_numpy()[: len(pg["hits"])], atol=1e-12)
    for k, first in enumerate(rs["first_hits"]):
        assert first == [h["id"] for h in py_pages[k]["hits"]], "Rust and Python hits differ"

    def pct(v, p):
        return float(np.percentile(np.array(v) * 1e3, p))

    rows += [
        ("search p50, 2 km + 2 filters + top 100, 1 M", "landopp (Rust)", rs["p50_ms"] / 1e3, "geopandas sindex + pandas",
         pct(g_lat, 50) / 1e3, f"{pct(g_lat, 50) / rs['p50_ms']:.1f}× faster"),
        ("search p99, same", "landopp (Rust)", rs["p99_ms"] / 1e3, "geopandas sindex + pandas", pct(g_lat, 99) / 1e3,
         f"{pct(g_lat, 99) / rs['p99_ms']:.1f}× faster"),
        ("search p50, 10 km + 2 filters + top 100, 1 M", "landopp (Rust)", rs10["p50_ms"] / 1e3,
         "geopandas sindex + pandas", pct(g10_lat, 50) / 1e3, f"{pct(g10_lat, 50) / rs10['p50_ms']:.1f}× faster"),
        ("search p99, same", "landopp (Rust)", rs10["p99_ms"] / 1e3, "geopandas sindex + pandas", pct(g10_lat, 99) / 1e3,
         f"{pct(g10_lat, 99) / rs10['p99_ms']:.1f}× faster"),
        ("Python overhead: 1,000 searches with explanations (total)", "SearchIndex.query (Python)", py_total,
         "same queries in pure Rust (+ JSON)", rs["total_s"], f"{(py_total / rs['total_s'] - 1) * 100:+.0f} %"),
        ("Python overhead: 1,000 searches, explain=False (total)", "SearchIndex.query (Python)", py_total_nx,
         "same queries in pure Rust (+ JSON)", rs_nx["total_s"], f"{(py_total_nx / rs_nx['total_s'] - 1) * 100:+.0f} %"),
        ("Python overhead: 1,000 searches as one batch (query_many → DataFrame with contributions)",
         "SearchIndex.query_many (Python)", qm, "query_many in pure Rust", r_many, f"{(qm / r_many - 1) * 100:+.0f} %"),
        ("search index build, 1 M", "landopp from Python (WKB)", py_build, "pure Rust (native geometries)", rs["build_s"],
         f"{py_build / rs['build_s']:.1f}×"),
    ]

print(f"\n{n:,} parcels; medians; landopp {landopp.__version__}\n")
print("| case | landopp | time | reference | time | ratio |")
print("|---|---|---:|---|---:|---:|")
for case, a, ta, b, tb, ratio in rows:
    print(f"| {case} | {a} | {ta * 1e3:.2f} ms | {b} | {tb * 1e3:.2f} ms | {ratio} |")
