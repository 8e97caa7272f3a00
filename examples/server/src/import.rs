//! `landopp-server import`: parcels, their features and every profile's scores into the
//! PostgreSQL + PostGIS store, in one transaction (a failed import leaves the previous data as it
//! was), by binary COPY into a staging table and one upsert by parcel id (importing the same
//! files twice changes nothing but the data version). Replicas listening on `landopp_data`
//! reload when it commits.
//!
//! The library reads and validates the parcels and features and scores the profiles; this module
//! only moves the results into tables.

use crate::store::{Store, StoreError};
use landopp::scoring::{score, Profile};
use landopp::{FeatureTable, Parcels};
use std::path::{Path, PathBuf};

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportSpec {
    /// The parcel layer (any format the library reads).
    pub parcels: PathBuf,
    /// Its layer, when the file holds several.
    pub layer: Option<String>,
    /// The parcel id field (default: the feature id).
    pub id_field: Option<String>,
    /// A feature table (CSV, `landopp features`), matched to the parcels by id.
    pub features: Option<PathBuf>,
    /// Attribute columns of the parcel layer to import as features.
    pub attributes: Vec<String>,
    /// Profiles to score and store (`parcel_scores`), by file.
    pub profiles: Vec<PathBuf>,
    /// Delete the parcels this import does not contain.
    pub replace: bool,
    /// Repeated parcel ids: refused (default) or suffixed `_2`, `_3`, ...
    pub duplicate_ids: landopp::vector::DuplicateIds,
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// The new data version.
    pub data_version: i64,
    /// Parcels written.
    pub parcels: usize,
    /// Feature columns.
    pub features: usize,
    /// Profiles scored.
    pub profiles: usize,
    /// Parcels deleted (`replace`).
    pub deleted: u64,
    /// Seconds reading and computing, and writing.
    pub read_s: f64,
    /// Seconds in the database.
    pub write_s: f64,
}

fn lib(e: landopp::Error) -> String {
    format!("[{}] {e}", e.code())
}

/// The parcels and their features, aligned by id (the library's readers and checks).
pub fn read(spec: &ImportSpec) -> Result<(Parcels, FeatureTable), String> {
    let parcels =
        Parcels::read_with(&spec.parcels, spec.layer.as_deref(), spec.id_field.as_deref(), spec.duplicate_ids)
            .map_err(lib)?;
    let mut table = match &spec.features {
        None => FeatureTable::new(parcels.ids.clone()),
        Some(f) => {
            let t = FeatureTable::read_csv(f).map_err(lib)?;
            let at: std::collections::HashMap<&str, usize> =
                t.ids().iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
            let mut rows = Vec::with_capacity(parcels.len());
            let mut missing = Vec::new();
            for id in &parcels.ids {
                match at.get(id.as_str()) {
                    Some(&r) => rows.push(r),
                    None => missing.push(id.as_str()),
                }
            }
            if !missing.is_empty() {
                return Err(format!(
                    "{} has no row for {} parcels (first: {:?})",
                    f.display(),
                    missing.len(),
                    &missing[..missing.len().min(3)]
                ));
            }
            t.select_rows(&rows).map_err(lib)?
        }
    };
    for name in &spec.attributes {
        let col = parcels.column(name).map_err(lib)?;
        table.add_attribute(col).map_err(lib)?;
    }
    Ok((parcels, table))
}

/// A parcel's features as a JSON object: numbers, labels, `null` for missing.
fn features_json(t: &FeatureTable, row: usize, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    out.push('{');
    for (k, c) in t.columns().iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:", serde_json::Value::from(c.name.as_str()));
        if c.is_categorical() {
            match c.label(row) {
                Some(l) => out.push_str(&serde_json::Value::from(l).to_string()),
                None => out.push_str("null"),
            }
        } else {
            let v = c.values[row];
            if v.is_finite() {
                let _ = write!(out, "{v}");
            } else {
                out.push_str("null");
            }
        }
    }
    out.push('}');
}

/// A point inside the parcel (WGS 84), when it has area.
fn interior(mp: &landopp::geo::MultiPolygon<f64>) -> Option<landopp::geo::Point<f64>> {
    use landopp::geo::InteriorPoint;
    landopp::error::catch_panic(|| Ok(mp.interior_point())).ok().flatten()
}

/// Import into the store (PostgreSQL only), with a progress bar on a terminal.
pub fn import(store: &Store, spec: &ImportSpec) -> Result<ImportReport, String> {
    if !store.is_shared() {
        return Err("import writes to PostgreSQL: give --database-url or LANDOPP_DATABASE_URL".into());
    }
    let t0 = std::time::Instant::now();
    let (parcels, table) = read(spec)?;
    let mut scored = Vec::new();
    // the profiles as documents too: replicas serve them from the database
    let mut documents = serde_json::Map::new();
    for f in &spec.profiles {
        let name = f.file_stem().map_or_else(|| "profile".into(), |s| s.to_string_lossy().into_owned());
        let p = Profile::read(f).map_err(lib)?;
        let doc = serde_json::to_value(&p).map_err(|e| format!("profile {}: {e}", f.display()))?;
        documents.insert(name.clone(), doc);
        scored.push((name, score(&table, &p).map_err(lib)?));
    }
    let srid = parcels.crs.as_ref().and_then(|c| c.epsg()).unwrap_or(0) as i32;
    let crs_text = parcels.crs.as_ref().and_then(|c| c.to_wkt());
    let wgs = parcels
        .to_crs(&landopp::Crs::from_epsg(4326).map_err(lib)?)
        .map_err(|e| format!("parcels to WGS 84: {}", lib(e)))?;
    let columns: Vec<serde_json::Value> = table
        .columns()
        .iter()
        .map(|c| {
            serde_json::json!({"name": c.name, "categorical": c.is_categorical(), "unit": c.meta.unit,
                "source": c.meta.source, "method": c.meta.method})
        })
        .collect();
    let read_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let bar = progress(parcels.len() as u64 * (1 + scored.len() as u64));
    let n = parcels.len();
    let (version, deleted) = store
        .run_sync(|c| {
            let crate::store::Conn::Pg(c) = c else { unreachable!("checked: the store is PostgreSQL") };
            let mut tx = c.transaction()?;
            tx.batch_execute(
                "CREATE TEMP TABLE landopp_stage (parcel_id TEXT, native BYTEA, wgs BYTEA, point BYTEA, features TEXT)
                   ON COMMIT DROP;
                 CREATE TEMP TABLE landopp_stage_scores (parcel_id TEXT, profile TEXT, score DOUBLE PRECISION,
                   rank DOUBLE PRECISION, excluded BOOLEAN) ON COMMIT DROP;",
            )?;
            {
                use postgres::types::Type;
                let sink = tx.copy_in("COPY landopp_stage FROM STDIN (FORMAT binary)")?;
                let types = [Type::TEXT, Type::BYTEA, Type::BYTEA, Type::BYTEA, Type::TEXT];
                let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                let (mut native, mut wgs_b, mut pt, mut js) = (Vec::new(), Vec::new(), Vec::new(), String::new());
                for i in 0..n {
                    native.clear();
                    wgs_b.clear();
                    pt.clear();
                    landopp::vector::wkb::write(&parcels.geometries[i].clone().into(), &mut native);
                    landopp::vector::wkb::write(&wgs.geometries[i].clone().into(), &mut wgs_b);
                    let point = interior(&wgs.geometries[i]);
                    if let Some(p) = point {
                        landopp::vector::wkb::write(&p.into(), &mut pt);
                    }
                    features_json(&table, i, &mut js);
                    let pt_ref: Option<&[u8]> = point.map(|_| pt.as_slice());
                    w.write(&[&parcels.ids[i], &native.as_slice(), &wgs_b.as_slice(), &pt_ref, &js.as_str()])?;
                    if i % 4096 == 0 {
                        bar.set_position(i as u64);
                    }
                }
                w.finish()?;
            }
            {
                use postgres::types::Type;
                let sink = tx.copy_in("COPY landopp_stage_scores FROM STDIN (FORMAT binary)")?;
                let types = [Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::BOOL];
                let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                for (k, (name, s)) in scored.iter().enumerate() {
                    for i in 0..n {
                        let v = Some(s.score[i]).filter(|x| x.is_finite());
                        let r = Some(s.rank[i]).filter(|x| x.is_finite());
                        w.write(&[&parcels.ids[i], name, &v, &r, &s.excluded[i]])?;
                        if i % 4096 == 0 {
                            bar.set_position(((k + 1) * n + i) as u64);
                        }
                    }
                }
                w.finish()?;
            }
            bar.set_message("upserting");
            let version: i64 = tx
                .query_one(
                    "INSERT INTO landopp_datasets (created_at, parcels, srid, crs, columns, profiles, source)
                     VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7) RETURNING version",
                    &[
                        &crate::store::now(),
                        &(n as i64),
                        &srid,
                        &crs_text,
                        &serde_json::Value::from(columns.clone()).to_string(),
                        &serde_json::Value::Object(documents.clone()).to_string(),
                        &spec.parcels.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                    ],
                )?
                .get(0);
            tx.execute(
                "INSERT INTO land_parcels (parcel_id, coordinates, geom, geom_native, area_acres, features, data_version, updated_at)
                 SELECT parcel_id, ST_GeomFromWKB(point, 4326), g, ST_GeomFromWKB(native, $1),
                        ST_Area(g::geography) / 4046.8564224, features::jsonb, $2, $3
                 FROM (SELECT *, ST_Multi(ST_GeomFromWKB(wgs, 4326)) AS g FROM landopp_stage) s
                 ON CONFLICT (parcel_id) DO UPDATE SET coordinates = EXCLUDED.coordinates, geom = EXCLUDED.geom,
                    geom_native = EXCLUDED.geom_native, area_acres = EXCLUDED.area_acres,
                    features = EXCLUDED.features, data_version = EXCLUDED.data_version,
                    updated_at = EXCLUDED.updated_at",
                &[&srid, &version, &crate::store::now()],
            )?;
            tx.execute(
                "INSERT INTO parcel_scores (parcel_id, profile, score, rank, excluded, data_version)
                 SELECT parcel_id, profile, score, rank, excluded, $1 FROM landopp_stage_scores
                 ON CONFLICT (parcel_id, profile) DO UPDATE SET score = EXCLUDED.score, rank = EXCLUDED.rank,
                    excluded = EXCLUDED.excluded, data_version = EXCLUDED.data_version",
                &[&version],
            )?;
            let deleted = if spec.replace {
                tx.execute("DELETE FROM land_parcels WHERE data_version <> $1", &[&version])?
                    + tx.execute("DELETE FROM parcel_scores WHERE data_version <> $1", &[&version])?
            } else {
                0
            };
            // replicas reload when this commits
            tx.execute("SELECT pg_notify('landopp_data', $1)", &[&version.to_string()])?;
            tx.commit()?;
            Ok::<_, StoreError>((version, deleted))
        })
        .map_err(|e| format!("import: {e}"))?;
    bar.finish_and_clear();
    Ok(ImportReport {
        data_version: version,
        parcels: n,
        features: table.columns().len(),
        profiles: scored.len(),
        deleted,
        read_s,
        write_s: t1.elapsed().as_secs_f64(),
    })
}

/// A progress bar on stderr when it is a terminal (hidden otherwise).
fn progress(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:10} [{bar:40}] {pos}/{len} rows ({eta})") {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message("copying");
    b
}

/// The latest data version, or `None` before the first import.
pub fn data_version(store: &Store) -> Result<Option<i64>, StoreError> {
    store.run_sync(|c| match c {
        crate::store::Conn::Pg(c) => Ok(c.query_one("SELECT MAX(version) FROM landopp_datasets", &[])?.get(0)),
        crate::store::Conn::Lite(_) => Ok(None),
    })
}

/// Check an import spec's paths exist before anything is read.
pub fn check(spec: &ImportSpec) -> Result<(), String> {
    let all: Vec<&Path> = std::iter::once(spec.parcels.as_path())
        .chain(spec.features.as_deref())
        .chain(spec.profiles.iter().map(PathBuf::as_path))
        .collect();
    for p in all {
        if !p.exists() {
            return Err(format!("{} does not exist", p.display()));
        }
    }
    Ok(())
}
