//! GeoPackage (OGC 12-128r18) reading and writing through SQLite.

use super::{wkb, Column, ColumnBuilder, ColumnData, OwnedValue, TypeHint, VectorLayer};
use crate::crs::Crs;
use crate::error::{Error, Result};
use rusqlite::{types::ValueRef, Connection, OpenFlags};
use std::path::Path;

const FMT: &str = "GeoPackage";

fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| Error::format(FMT, path, e.to_string()))?;
    // Fails early on a file that is not SQLite.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        .map_err(|e| Error::format(FMT, path, format!("not a readable SQLite database: {e}")))?;
    Ok(conn)
}

fn sql_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::format(FMT, path, e.to_string())
}

/// Feature layers (`gpkg_contents.data_type = 'features'`), in table order.
pub fn list_layers(path: &Path) -> Result<Vec<String>> {
    let conn = open(path)?;
    layers(&conn, path)
}

fn layers(conn: &Connection, path: &Path) -> Result<Vec<String>> {
    let mut st = conn
        .prepare("SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY rowid")
        .map_err(|e| Error::format(FMT, path, format!("no gpkg_contents table ({e}): not a GeoPackage")))?;
    let names = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| sql_err(path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| sql_err(path, e))?;
    Ok(names)
}

fn srs(conn: &Connection, path: &Path, srs_id: i64) -> Result<Option<Crs>> {
    if srs_id <= 0 {
        // -1 undefined cartesian, 0 undefined geographic
        return Ok(None);
    }
    let row = conn.query_row(
        "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
        [srs_id],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)),
    );
    let (org, code, def) = match row {
        Ok(v) => v,
        Err(rusqlite::Error::QueryReturnedNoRows) => {
            return Err(Error::format(FMT, path, format!("srs_id {srs_id} is not in gpkg_spatial_ref_sys")))
        }
        Err(e) => return Err(sql_err(path, e)),
    };
    if org.eq_ignore_ascii_case("EPSG") {
        if let Ok(c) = Crs::from_epsg(code as u32) {
            return Ok(Some(c));
        }
    }
    let root = def.trim_start().to_ascii_uppercase();
    if root.starts_with("LOCAL_CS")
        || root.starts_with("ENGCRS")
        || root.starts_with("ENGINEERING")
        || def.trim() == "undefined"
    {
        // An engineering (local) CRS: coordinates are not georeferenced.
        return Ok(None);
    }
    Crs::from_wkt(&def).map(Some)
}

fn hint(decl: &str) -> TypeHint {
    let d = decl.to_ascii_uppercase();
    if d.starts_with("BOOL") {
        TypeHint::Bool
    } else if d.contains("INT") {
        TypeHint::Int
    } else if d.starts_with("REAL") || d.starts_with("DOUBLE") || d.starts_with("FLOAT") || d.starts_with("NUMERIC") {
        TypeHint::Float
    } else if d.starts_with("DATETIME") {
        TypeHint::DateTime
    } else if d.starts_with("DATE") {
        TypeHint::Date
    } else if d.starts_with("TEXT") || d.starts_with("VARCHAR") {
        TypeHint::Text
    } else {
        TypeHint::None
    }
}

/// Parse a GeoPackage geometry blob (GP header + WKB).
pub fn parse_blob(b: &[u8]) -> Result<Option<geo_types::Geometry<f64>>> {
    if b.len() < 8 || &b[..2] != b"GP" {
        return Err(Error::InvalidGeometry("GeoPackage geometry blob without the 'GP' magic".into()));
    }
    let flags = b[3];
    let env = match (flags >> 1) & 7 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        e => return Err(Error::InvalidGeometry(format!("GeoPackage envelope code {e}"))),
    };
    let empty = flags & 0x10 != 0;
    let start = 8 + env;
    if b.len() < start {
        return Err(Error::InvalidGeometry("truncated GeoPackage geometry header".into()));
    }
    if empty && b.len() == start {
        return Ok(None);
    }
    wkb::read(&b[start..]).map(Some)
}

/// Read one feature layer (default: the first).
pub fn read(path: &Path, layer: Option<&str>) -> Result<VectorLayer> {
    let conn = open(path)?;
    let all = layers(&conn, path)?;
    let name = match layer {
        Some(l) => {
            all.iter().find(|n| n.as_str() == l).cloned().ok_or_else(|| Error::not_found("layer", l, all.clone()))?
        }
        None => all.first().cloned().ok_or_else(|| Error::Empty(format!("{} has no feature layer", path.display())))?,
    };
    let (geom_col, geom_type, srs_id) = conn
        .query_row(
            "SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?1",
            [&name],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)),
        )
        .map_err(|e| Error::format(FMT, path, format!("layer {name:?} has no gpkg_geometry_columns row: {e}")))?;
    let crs = srs(&conn, path, srs_id)?;
    // columns: (name, declared type, is primary key)
    let mut cols: Vec<(String, String, bool)> = Vec::new();
    {
        let q = format!("PRAGMA table_info(\"{}\")", name.replace('"', "\"\""));
        let mut st = conn.prepare(&q).map_err(|e| sql_err(path, e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(5)? > 0)))
            .map_err(|e| sql_err(path, e))?;
        for r in rows {
            cols.push(r.map_err(|e| sql_err(path, e))?);
        }
    }
    let pk = cols.iter().find(|c| c.2).map(|c| c.0.clone());
    let attrs: Vec<&(String, String, bool)> = cols.iter().filter(|c| !c.2 && c.0 != geom_col).collect();
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut select = vec![pk.as_deref().map_or("rowid".to_string(), q), q(&geom_col)];
    select.extend(attrs.iter().map(|c| q(&c.0)));
    let sql = format!("SELECT {} FROM {}", select.join(", "), q(&name));
    let mut st = conn.prepare(&sql).map_err(|e| sql_err(path, e))?;
    let mut builders: Vec<ColumnBuilder> = attrs.iter().map(|c| ColumnBuilder::new(c.0.clone(), hint(&c.1))).collect();
    let mut fids = Vec::new();
    let mut geoms = Vec::new();
    let mut rows = st.query([]).map_err(|e| sql_err(path, e))?;
    while let Some(row) = rows.next().map_err(|e| sql_err(path, e))? {
        fids.push(row.get::<_, i64>(0).unwrap_or(fids.len() as i64));
        let g = match row.get_ref(1).map_err(|e| sql_err(path, e))? {
            ValueRef::Null => None,
            ValueRef::Blob(b) => parse_blob(b).map_err(|e| {
                Error::format(FMT, path, format!("layer {name:?} feature {}: {e}", fids.last().copied().unwrap_or(0)))
            })?,
            _ => {
                return Err(Error::format(FMT, path, format!("layer {name:?}: geometry column holds a non-blob value")))
            }
        };
        geoms.push(g);
        for (k, b) in builders.iter_mut().enumerate() {
            let v = match row.get_ref(k + 2).map_err(|e| sql_err(path, e))? {
                ValueRef::Null => OwnedValue::Null,
                ValueRef::Integer(i) => OwnedValue::Int(i),
                ValueRef::Real(f) => OwnedValue::Float(f),
                ValueRef::Text(t) => OwnedValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(bl) => OwnedValue::Binary(bl.to_vec()),
            };
            b.push(v);
        }
    }
    Ok(VectorLayer {
        name,
        crs,
        fids,
        geometries: geoms,
        columns: builders.into_iter().map(ColumnBuilder::finish).collect(),
        geometry_type: geom_type.to_ascii_uppercase(),
    })
}

/// Write a layer as a new GeoPackage (replacing the file).
// Long by design: the GeoPackage tables (spatial reference, contents, geometry columns, features,
// R-tree) created in one transaction, in the order the specification lists them.
pub fn write(path: &Path, layer: &VectorLayer) -> Result<()> {
    // written to a temporary file renamed over `path` at the end: a failure leaves `path` as it was
    let mut atomic = crate::output::AtomicFile::create(path)?;
    drop(atomic.take_file());
    let mut conn =
        Connection::open(atomic.tmp_path()).map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    let e = |x: rusqlite::Error| Error::io(path, std::io::Error::other(x.to_string()));
    let (srs_id, org, code, def) = match &layer.crs {
        None => (-1i64, "NONE".to_string(), -1i64, "undefined".to_string()),
        Some(c) => match c.epsg() {
            Some(code) => (code as i64, "EPSG".into(), code as i64, c.to_wkt().unwrap_or_else(|| "undefined".into())),
            None => return Err(Error::Unsupported(format!("writing a GeoPackage in a CRS without EPSG code ({c})"))),
        },
    };
    let tx = conn.transaction().map_err(e)?;
    tx.execute_batch(
        "PRAGMA application_id = 1196444487; PRAGMA user_version = 10400;
         CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
           organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
         CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
           description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
           min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
         CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
           geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
           CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
         INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL);
         INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL);",
    )
    .map_err(e)?;
    if srs_id > 0 {
        tx.execute(
            "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            rusqlite::params![
                layer.crs.as_ref().map(|c| c.name().to_string()).unwrap_or_default(),
                srs_id,
                org,
                code,
                def
            ],
        )
        .map_err(e)?;
    }
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let decl = |c: &Column| match c.data {
        ColumnData::Int(_) => "INTEGER",
        ColumnData::Float(_) => "REAL",
        ColumnData::Text(_) => "TEXT",
        ColumnData::Bool(_) => "BOOLEAN",
        ColumnData::Binary(_) => "BLOB",
        ColumnData::Date(_) => "DATE",
        ColumnData::DateTime(_) => "DATETIME",
    };
    let mut ddl = format!("CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom GEOMETRY", q(&layer.name));
    for c in &layer.columns {
        ddl.push_str(&format!(", {} {}", q(&c.name), decl(c)));
    }
    ddl.push(')');
    tx.execute(&ddl, []).map_err(e)?;
    let b = layer.bounds().unwrap_or([0.0; 4]);
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, min_x, min_y, max_x, max_y, srs_id) VALUES (?1, 'features', ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![layer.name, b[0], b[1], b[2], b[3], srs_id],
    )
    .map_err(e)?;
    tx.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, 0, 0)",
        rusqlite::params![layer.name, layer.geometry_type, srs_id],
    )
    .map_err(e)?;
    {
        let ph: Vec<String> = (0..layer.columns.len() + 2).map(|i| format!("?{}", i + 1)).collect();
        let mut names = vec!["fid".to_string(), "geom".to_string()];
        names.extend(layer.columns.iter().map(|c| q(&c.name)));
        let sql = format!("INSERT INTO {} ({}) VALUES ({})", q(&layer.name), names.join(", "), ph.join(", "));
        let mut st = tx.prepare(&sql).map_err(e)?;
        for i in 0..layer.len() {
            let blob = layer.geometries[i].as_ref().map(|g| {
                let mut v = Vec::with_capacity(64);
                v.extend_from_slice(b"GP");
                v.push(0);
                v.push(1); // little endian, no envelope
                v.extend_from_slice(&(srs_id as i32).to_le_bytes());
                wkb::write(g, &mut v);
                v
            });
            let mut vals: Vec<rusqlite::types::Value> = vec![
                rusqlite::types::Value::Integer(i as i64 + 1),
                blob.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Blob),
            ];
            for c in &layer.columns {
                use rusqlite::types::Value as V;
                vals.push(match c.data.get(i) {
                    super::Value::Null => V::Null,
                    super::Value::Int(v) => V::Integer(v),
                    super::Value::Float(v) => V::Real(v),
                    super::Value::Text(v) => V::Text(v.to_string()),
                    super::Value::Bool(v) => V::Integer(v as i64),
                    super::Value::Binary(v) => V::Blob(v.to_vec()),
                    // ISO 8601 text, as the GeoPackage standard stores DATE and DATETIME
                    d @ (super::Value::Date(_) | super::Value::DateTime(_)) => V::Text(d.to_string()),
                });
            }
            st.execute(rusqlite::params_from_iter(vals)).map_err(e)?;
        }
    }
    tx.commit().map_err(e)?;
    conn.close().map_err(|(_, x)| e(x))?;
    atomic.commit()
}
