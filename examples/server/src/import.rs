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

/// A point inside the parcel (WGS 84), when it has area: its centroid when that lies inside
/// (most parcels), else geo's interior point (several times dearer).
fn interior(mp: &landopp::geo::MultiPolygon<f64>) -> Option<landopp::geo::Point<f64>> {
    use landopp::geo::{Centroid, Contains, InteriorPoint};
    landopp::error::catch_panic(|| {
        Ok(match mp.centroid() {
            Some(c) if mp.contains(&c) => Some(c),
            _ => mp.interior_point(),
        })
    })
    .ok()
    .flatten()
}

/// A geometry as PostGIS takes it in a binary COPY: EWKB (little-endian WKB with the SRID).
#[derive(Debug)]
struct Ewkb<'a>(&'a [u8]);

impl postgres::types::ToSql for Ewkb<'_> {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0);
        Ok(postgres::types::IsNull::No)
    }
    fn accepts(ty: &postgres::types::Type) -> bool {
        ty.name() == "geometry"
    }
    postgres::types::to_sql_checked!();
}

/// JSON text as `jsonb`'s binary form (a version byte, then the text).
#[derive(Debug)]
struct Jsonb<'a>(&'a str);

impl postgres::types::ToSql for Jsonb<'_> {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(postgres::types::IsNull::No)
    }
    fn accepts(ty: &postgres::types::Type) -> bool {
        *ty == postgres::types::Type::JSONB
    }
    postgres::types::to_sql_checked!();
}

/// EWKB of a geometry with `srid` (0: plain WKB, no SRID).
fn ewkb(g: landopp::geo::Geometry<f64>, srid: i32, out: &mut Vec<u8>) {
    let start = out.len();
    landopp::vector::wkb::write(&g, out);
    if srid > 0 && out.len() >= start + 5 {
        // ISO WKB `01 tttttttt ...` → EWKB `01 (tttttttt | SRID flag) srid ...`
        let t = u32::from_le_bytes([out[start + 1], out[start + 2], out[start + 3], out[start + 4]]) | 0x2000_0000;
        out[start + 1..start + 5].copy_from_slice(&t.to_le_bytes());
        out.splice(start + 5..start + 5, (srid as u32).to_le_bytes());
    }
}

/// One parcel's row, encoded (in parallel, ahead of the COPY that sends it).
struct Row {
    native: Vec<u8>,
    wgs: Vec<u8>,
    point: Option<Vec<u8>>,
    features: String,
    values: Vec<f64>,
    labels: Vec<Option<String>>,
    status: String,
}

/// Rows encoded a chunk at a time: the next chunk is encoded while the database takes this one.
const CHUNK: usize = 16_384;

/// Import into the store (PostgreSQL only), with a progress bar on a terminal.
pub fn import(store: &Store, spec: &ImportSpec) -> Result<ImportReport, String> {
    use rayon::prelude::*;
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
    let src = parcels.crs.as_ref().ok_or("the parcels have no CRS: they cannot be placed in WGS 84")?;
    let wgs84 = landopp::Crs::wgs84();
    let t = landopp::Transformer::new(src, &wgs84).map_err(lib)?;
    let wgs: Vec<landopp::geo::MultiPolygon<f64>> = parcels
        .geometries
        .par_iter()
        .map(|mp| if t.is_noop() { Ok(mp.clone()) } else { t.transform_multipolygon(mp) })
        .collect::<landopp::Result<_>>()
        .map_err(|e| format!("parcels to WGS 84: {}", lib(e)))?;
    // geodesic area on the WGS 84 ellipsoid (the library's, as pyproj.Geod)
    let acres: Vec<Option<f64>> = landopp::geodesic::area_perimeter(&wgs, Some(&wgs84))
        .map_err(lib)?
        .into_iter()
        .map(|(a, _)| Some(a / landopp::geodesic::M2_PER_ACRE).filter(|x| x.is_finite()))
        .collect();
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
    let n = parcels.len();
    let bar = progress(n as u64 * (1 + scored.len() as u64));
    let encode = |range: std::ops::Range<usize>| -> Vec<Row> {
        range
            .into_par_iter()
            .map(|i| {
                let (mut native, mut w, mut js) = (Vec::new(), Vec::new(), String::new());
                ewkb(parcels.geometries[i].clone().into(), srid, &mut native);
                ewkb(wgs[i].clone().into(), 4326, &mut w);
                let point = interior(&wgs[i]).map(|p| {
                    let mut b = Vec::with_capacity(25);
                    ewkb(p.into(), 4326, &mut b);
                    b
                });
                features_json(&table, i, &mut js);
                let values = table.columns().iter().filter(|c| !c.is_categorical()).map(|c| c.values[i]).collect();
                let labels = table
                    .columns()
                    .iter()
                    .filter(|c| c.is_categorical())
                    .map(|c| c.label(i).map(str::to_string))
                    .collect();
                Row { native, wgs: w, point, features: js, values, labels, status: parcels.status[i].to_string() }
            })
            .collect()
    };
    let now = crate::store::now();
    let (version, deleted) = store
        .run_sync(|c| {
            let crate::store::Conn::Pg(c) = c else { unreachable!("checked: the store is PostgreSQL") };
            let mut tx = c.transaction()?;
            // one import at a time
            tx.execute("SELECT pg_advisory_xact_lock(7253012027)", &[])?;
            let version: i64 = tx
                .query_one(
                    "INSERT INTO landopp_datasets (created_at, parcels, srid, crs, columns, profiles, source)
                     VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7) RETURNING version",
                    &[
                        &now,
                        &(n as i64),
                        &srid,
                        &crs_text,
                        &serde_json::Value::from(columns.clone()).to_string(),
                        &serde_json::Value::Object(documents.clone()).to_string(),
                        &spec.parcels.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                    ],
                )?
                .get(0);
            // the first import loads straight into the tables and builds the spatial indexes
            // after (much faster than growing them row by row); later ones stage and upsert
            let empty: bool = tx.query_one("SELECT NOT EXISTS (SELECT 1 FROM land_parcels)", &[])?.get(0);
            let geometry = tx.prepare("SELECT $1::geometry")?.params()[0].clone();
            let into = if empty {
                tx.batch_execute(
                    "DROP INDEX IF EXISTS land_parcels_geom; DROP INDEX IF EXISTS land_parcels_coordinates;",
                )?;
                "land_parcels"
            } else {
                tx.batch_execute(
                    "CREATE TEMP TABLE landopp_stage (LIKE land_parcels INCLUDING DEFAULTS) ON COMMIT DROP;",
                )?;
                "landopp_stage"
            };
            {
                use postgres::types::Type;
                let sink = tx.copy_in(&format!(
                    "COPY {into} (parcel_id, coordinates, geom, geom_native, area_acres, features, feature_values,
                       feature_labels, geometry_status, data_version, updated_at)
                     FROM STDIN (FORMAT binary)"
                ))?;
                let types = [
                    Type::TEXT,
                    geometry.clone(),
                    geometry.clone(),
                    geometry,
                    Type::FLOAT8,
                    Type::JSONB,
                    Type::FLOAT8_ARRAY,
                    Type::TEXT_ARRAY,
                    Type::TEXT,
                    Type::INT8,
                    Type::INT8,
                ];
                let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                let mut cur = encode(0..n.min(CHUNK));
                let mut at = 0;
                loop {
                    let next_at = at + cur.len();
                    let (next, sent) = rayon::join(
                        || (next_at < n).then(|| encode(next_at..(next_at + CHUNK).min(n))),
                        || -> Result<(), postgres::Error> {
                            for (k, r) in cur.iter().enumerate() {
                                let i = at + k;
                                let point = r.point.as_deref().map(Ewkb);
                                w.write(&[
                                    &parcels.ids[i],
                                    &point,
                                    &Ewkb(&r.wgs),
                                    &Ewkb(&r.native),
                                    &acres[i],
                                    &Jsonb(&r.features),
                                    &r.values,
                                    &r.labels,
                                    &r.status,
                                    &version,
                                    &now,
                                ])?;
                            }
                            Ok(())
                        },
                    );
                    sent?;
                    bar.set_position(next_at as u64);
                    match next {
                        Some(rows) => {
                            at = next_at;
                            cur = rows;
                        }
                        None => break,
                    }
                }
                w.finish()?;
            }
            let scores_into = if empty {
                "parcel_scores"
            } else {
                tx.batch_execute("CREATE TEMP TABLE landopp_stage_scores (LIKE parcel_scores) ON COMMIT DROP;")?;
                "landopp_stage_scores"
            };
            {
                use postgres::types::Type;
                let sink = tx.copy_in(&format!(
                    "COPY {scores_into} (parcel_id, profile, score, rank, excluded, data_version) FROM STDIN (FORMAT binary)"
                ))?;
                let types = [Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::BOOL, Type::INT8];
                let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                for (k, (name, s)) in scored.iter().enumerate() {
                    for i in 0..n {
                        let v = Some(s.score[i]).filter(|x| x.is_finite());
                        let r = Some(s.rank[i]).filter(|x| x.is_finite());
                        w.write(&[&parcels.ids[i], name, &v, &r, &s.excluded[i], &version])?;
                        if i % 4096 == 0 {
                            bar.set_position(((k + 1) * n + i) as u64);
                        }
                    }
                }
                w.finish()?;
            }
            bar.set_message(if empty { "indexing" } else { "upserting" });
            if empty {
                tx.batch_execute(
                    "CREATE INDEX land_parcels_geom ON land_parcels USING GIST (geom);
                     CREATE INDEX land_parcels_coordinates ON land_parcels USING GIST (coordinates);",
                )?;
            } else {
                tx.execute(
                    "INSERT INTO land_parcels SELECT * FROM landopp_stage
                     ON CONFLICT (parcel_id) DO UPDATE SET coordinates = EXCLUDED.coordinates, geom = EXCLUDED.geom,
                        geom_native = EXCLUDED.geom_native, area_acres = EXCLUDED.area_acres,
                        features = EXCLUDED.features, feature_values = EXCLUDED.feature_values,
                        feature_labels = EXCLUDED.feature_labels, geometry_status = EXCLUDED.geometry_status,
                        data_version = EXCLUDED.data_version,
                        updated_at = EXCLUDED.updated_at",
                    &[],
                )?;
                tx.execute(
                    "INSERT INTO parcel_scores SELECT * FROM landopp_stage_scores
                     ON CONFLICT (parcel_id, profile) DO UPDATE SET score = EXCLUDED.score, rank = EXCLUDED.rank,
                        excluded = EXCLUDED.excluded, data_version = EXCLUDED.data_version",
                    &[],
                )?;
            }
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
