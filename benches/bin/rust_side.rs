//! The pure-Rust side of the binding-overhead and reference comparisons in `benches/compare/`:
//! times a core call on inputs the comparison script prepared, so Python, Node and Rust run the
//! same work in one session. Prints one JSON object.
//!
//! ```text
//! rust_side score  TABLE_DIR PROFILE.json RUNS [GAP_MS]   # GAP_MS idle before each timed call
//! rust_side search TABLE_DIR PROFILE.json PARCELS.gpkg ID_FIELD REPLICAS QUERIES.json
//! rust_side zonal  RASTER.tif PARCELS.gpkg STATS RUNS
//! rust_side replicate PARCELS.gpkg ID_FIELD REPLICAS OUT.gpkg [TABLE_DIR]   # the replicated parcels
//!                                        (with TABLE_DIR: its columns as attributes), for Node / the server
//! rust_side build  PARCELS.gpkg ID_FIELD TABLE_DIR PROFILE.json   # index build from a parcel file
//! ```
//! `TABLE_DIR` holds `ids.txt` (one id per line) and `<column>.f64` (raw little-endian f64).

use landopp::scoring::{score, Profile};
use landopp::search::{Query, SearchIndex};
use landopp::zonal::{zonal_stats, Stat, ZonalOptions};
use landopp::{FeatureTable, Parcels, Raster};
use std::path::Path;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn read_table(dir: &Path) -> landopp::Result<FeatureTable> {
    let io = |p: &Path, e| landopp::Error::io(p, e);
    let ids_path = dir.join("ids.txt");
    let ids: Vec<String> =
        std::fs::read_to_string(&ids_path).map_err(|e| io(&ids_path, e))?.lines().map(String::from).collect();
    let mut t = FeatureTable::new(ids);
    let order_path = dir.join("columns.txt");
    for name in std::fs::read_to_string(&order_path).map_err(|e| io(&order_path, e))?.lines() {
        let p = dir.join(format!("{name}.f64"));
        let bytes = std::fs::read(&p).map_err(|e| io(&p, e))?;
        let v = bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        t.add_column(name, v, Default::default())?;
    }
    Ok(t)
}

fn main() -> landopp::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let bad = || landopp::Error::InvalidInput("usage: see the crate docs of rust_side".into());
    let arg = |i: usize| a.get(i).cloned().ok_or_else(bad);
    let out = match arg(1)?.as_str() {
        "score" => {
            let t = read_table(Path::new(&arg(2)?))?;
            let p = Profile::parse(
                &std::fs::read_to_string(arg(3)?).map_err(|e| landopp::Error::io(arg(3).unwrap_or_default(), e))?,
            )?;
            let runs: usize = arg(4)?.parse().map_err(|_| bad())?;
            let _ = score(&t, &p)?;
            // optional idle gap before every timed call (untimed), to match a caller that does
            // other work between calls: the Node bench's forced collection (see node_compare.mjs)
            let gap = std::time::Duration::from_millis(
                std::env::args().nth(5).map_or(Ok(0), |g| g.parse()).map_err(|_| bad())?,
            );
            // the bare call, and the same call plus the result parts the bindings hand back
            // (reason sets, buildable acres, exclusion flags as u8) built as the bindings build
            // them, alongside the ranking (`score_and`); the two alternate, so neither runs warmer
            let (mut ts, mut parts) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
            for _ in 0..runs {
                std::thread::sleep(gap);
                let t0 = Instant::now();
                let r = score(&t, &p);
                ts.push(t0.elapsed().as_secs_f64() * 1e3);
                drop(r);
                std::thread::sleep(gap);
                let t0 = Instant::now();
                let r = landopp::scoring::score_and(&t, &p, |r| {
                    use rayon::prelude::*;
                    rayon::join(
                        || r.reason_sets_and_buildable_acres(),
                        || r.excluded.par_iter().with_min_len(1 << 16).map(|v| *v as u8).collect::<Vec<u8>>(),
                    )
                });
                parts.push(t0.elapsed().as_secs_f64() * 1e3);
                drop(r);
            }
            serde_json::json!({"op": "score", "rows": t.len(), "median_ms": median(ts.clone()), "times_ms": ts,
                "with_parts_median_ms": median(parts.clone()), "parts_times_ms": parts})
        }
        "search" => {
            let t = read_table(Path::new(&arg(2)?))?;
            let p = Profile::parse(
                &std::fs::read_to_string(arg(3)?).map_err(|e| landopp::Error::io(arg(3).unwrap_or_default(), e))?,
            )?;
            let k: usize = arg(6)?.parse().map_err(|_| bad())?;
            let parcels = landopp_benches::replicate_parcels(arg(4)?, Some(&arg(5)?), k)?;
            let t0 = Instant::now();
            let idx = SearchIndex::from_parcels(parcels, t, Some(&p))?;
            let build_s = t0.elapsed().as_secs_f64();
            let qs: Vec<Query> = serde_json::from_str(
                &std::fs::read_to_string(arg(7)?).map_err(|e| landopp::Error::io(arg(7).unwrap_or_default(), e))?,
            )
            .map_err(|e| landopp::Error::InvalidInput(e.to_string()))?;
            let mut lat = Vec::with_capacity(qs.len());
            let mut first = Vec::new();
            let t1 = Instant::now();
            for (i, q) in qs.iter().enumerate() {
                let t = Instant::now();
                let page = idx.query(q)?;
                // serialised like a binding would (explanations included)
                let json = serde_json::to_string(&page).map_err(|e| landopp::Error::InvalidInput(e.to_string()))?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                if i < 20 {
                    first.push(page.hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>());
                }
                std::hint::black_box(json);
            }
            let total_s = t1.elapsed().as_secs_f64();
            // the same queries as one parallel batch, hits as columns (`query_many`)
            let many: Vec<f64> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    idx.query_many(&qs).map(|h| {
                        std::hint::black_box(h);
                        t.elapsed().as_secs_f64() * 1e3
                    })
                })
                .collect::<landopp::Result<_>>()?;
            let mut s = lat.clone();
            s.sort_by(f64::total_cmp);
            serde_json::json!({"op": "search", "rows": idx.len(), "build_s": build_s, "queries": qs.len(),
                "total_s": total_s, "many_ms": median(many), "p50_ms": s[s.len() / 2], "p99_ms": s[(s.len() * 99) / 100], "first_hits": first})
        }
        "zonal" => {
            // the raster is read inside the timing, as the bindings' path-based calls do
            let parcels = Parcels::read(arg(3)?, None, None)?;
            let stats = arg(4)?.split(',').map(Stat::parse).collect::<landopp::Result<Vec<_>>>()?;
            let runs: usize = arg(5)?.parse().map_err(|_| bad())?;
            let opts = ZonalOptions { stats, ..Default::default() };
            let ts: Vec<f64> = (0..runs)
                .map(|_| {
                    let t0 = Instant::now();
                    let r = Raster::read(arg(2)?)?;
                    let z = zonal_stats(&r, &parcels.geometries, parcels.crs.as_ref(), &opts);
                    std::hint::black_box(z).map(|_| t0.elapsed().as_secs_f64() * 1e3)
                })
                .collect::<landopp::Result<_>>()?;
            // the whole job from files: raster and polygons read inside the timing
            let tr: Vec<f64> = (0..runs)
                .map(|_| {
                    let t0 = Instant::now();
                    let r = Raster::read(arg(2)?)?;
                    let l = landopp::vector::read_layer(arg(3)?, &Default::default())?;
                    let polys = landopp::vector::to_multipolygons(l.geometries)?;
                    let z = zonal_stats(&r, &polys, l.crs.as_ref(), &opts);
                    std::hint::black_box(z).map(|_| t0.elapsed().as_secs_f64() * 1e3)
                })
                .collect::<landopp::Result<_>>()?;
            serde_json::json!({"op": "zonal", "rows": parcels.len(), "median_ms": median(ts.clone()), "median_from_files_ms": median(tr.clone()),
                "times_ms": ts, "times_from_files_ms": tr})
        }
        "build" => {
            // the same index build as a binding given a parcel file: read + validate + index + score
            let t = read_table(Path::new(&arg(4)?))?;
            let p = Profile::parse(
                &std::fs::read_to_string(arg(5)?).map_err(|e| landopp::Error::io(arg(5).unwrap_or_default(), e))?,
            )?;
            let t0 = Instant::now();
            let parcels = Parcels::read_with(arg(2)?, None, Some(&arg(3)?), landopp::vector::DuplicateIds::Suffix)?;
            let idx = SearchIndex::from_parcels(parcels, t, Some(&p))?;
            let build_s = t0.elapsed().as_secs_f64();
            serde_json::json!({"op": "build", "rows": idx.len(), "build_s": build_s})
        }
        "read" => {
            // start-up's parcel read, in its phases: the layer (SQLite scan, WKB, attributes),
            // then the whole Parcels::read (ids, duplicate check, validity)
            let t0 = Instant::now();
            let l = landopp::vector::read_layer(arg(2)?, &Default::default())?;
            let layer_s = t0.elapsed().as_secs_f64();
            drop(l);
            let t0 = Instant::now();
            let p = Parcels::read(arg(2)?, None, Some(&arg(3)?))?;
            let parcels_s = t0.elapsed().as_secs_f64();
            serde_json::json!({"op": "read", "rows": p.len(), "layer_s": layer_s, "parcels_s": parcels_s})
        }
        "replicate" => {
            let k: usize = arg(4)?.parse().map_err(|_| bad())?;
            let p = landopp_benches::replicate_parcels(arg(2)?, Some(&arg(3)?), k)?;
            let n = p.len();
            let layer = landopp::VectorLayer {
                name: "parcels".into(),
                crs: p.crs.clone(),
                fids: (1..=n as i64).collect(),
                geometries: p.geometries.into_iter().map(|g| Some(landopp::geo::Geometry::MultiPolygon(g))).collect(),
                columns: {
                    let mut c = vec![landopp::Column {
                        name: "pid".into(),
                        data: landopp::ColumnData::Text(p.ids.into_iter().map(Some).collect()),
                    }];
                    // with a table directory (columns.txt + <name>.f64, as the comparison scripts
                    // write them): the features as attribute columns of the layer
                    if let Ok(dir) = arg(6) {
                        let t = read_table(Path::new(&dir))?;
                        if t.len() != n {
                            return Err(landopp::Error::InvalidInput(format!(
                                "{} table rows for {n} parcels",
                                t.len()
                            )));
                        }
                        for col in t.columns() {
                            c.push(landopp::Column {
                                name: col.name.clone(),
                                data: landopp::ColumnData::Float(
                                    col.values.iter().map(|x| (!x.is_nan()).then_some(*x)).collect(),
                                ),
                            });
                        }
                    }
                    c
                },
                geometry_type: "MULTIPOLYGON".into(),
            };
            landopp::vector::write_layer(arg(5)?, &layer)?;
            serde_json::json!({"op": "replicate", "rows": n})
        }
        _ => return Err(bad()),
    };
    println!("{out}");
    Ok(())
}
