//! Data validation: a declarative schema for an incoming parcels table (required columns and
//! their types, id uniqueness, CRS, geometry presence, type and validity, value ranges, allowed
//! values) and a report of every violation by row — for fetched layers and files alike
//! (`landopp validate`).
//!
//! ```
//! use landopp::vector::validate::{validate, TableSchema};
//! # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
//! let layer = landopp::read_layer(f.join("lulc_polygons.gpkg"), &Default::default())?;
//! let schema: TableSchema = serde_json::from_str(r#"{
//!     "id_field": "index", "crs": "EPSG:32633",
//!     "geometry": {"types": ["Polygon", "MultiPolygon"], "valid": true},
//!     "columns": [{"name": "AREA", "type": "number", "min": 0},
//!                 {"name": "LULC_NAME", "type": "text", "nullable": false}]
//! }"#).unwrap();
//! let report = validate(&layer, &schema)?;
//! assert_eq!(report.rows, layer.len());
//! # Ok::<(), landopp::Error>(())
//! ```

use geo_types::{Geometry, MultiPolygon};
use serde::{Deserialize, Serialize};

use super::{geometry_name, validity, ColumnData, GeometryStatus, Value, VectorLayer};
use crate::{Crs, Error, Result};

/// A column's expected type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ColumnType {
    /// Whole numbers.
    Integer,
    /// Any number (integers too).
    Number,
    /// Text.
    Text,
    /// Booleans.
    Boolean,
    /// Dates.
    Date,
    /// Date-times.
    Datetime,
}

/// What one column must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ColumnRule {
    /// Column name.
    pub name: String,
    /// Expected type (any, when absent).
    #[serde(default, rename = "type")]
    pub column_type: Option<ColumnType>,
    /// The column must exist (default true).
    #[serde(default = "yes")]
    pub required: bool,
    /// Nulls allowed (default true).
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Smallest allowed value (numbers).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest allowed value (numbers).
    #[serde(default)]
    pub max: Option<f64>,
    /// The only allowed values (text columns).
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// No value repeats (nulls aside).
    #[serde(default)]
    pub unique: bool,
}

fn yes() -> bool {
    true
}

/// What the geometries must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GeometryRule {
    /// No null or empty geometry (default true).
    #[serde(default = "yes")]
    pub required: bool,
    /// Allowed geometry types (`Polygon`, `MultiPolygon`, `Point`, ...; any when empty).
    #[serde(default)]
    pub types: Vec<String>,
    /// Polygons must be OGC-valid (default true).
    #[serde(default = "yes")]
    pub valid: bool,
}

impl Default for GeometryRule {
    fn default() -> Self {
        GeometryRule { required: true, types: Vec::new(), valid: true }
    }
}

/// A declarative schema of a parcels table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TableSchema {
    /// The id column: must exist, with no null and no repeat.
    #[serde(default)]
    pub id_field: Option<String>,
    /// The CRS the layer must be in (`EPSG:4326`, a WKT or PROJ string).
    #[serde(default)]
    pub crs: Option<String>,
    /// Geometry rules (default: present and OGC-valid).
    #[serde(default)]
    pub geometry: GeometryRule,
    /// Column rules.
    #[serde(default)]
    pub columns: Vec<ColumnRule>,
}

impl TableSchema {
    /// Check the schema itself (`INVALID_INPUT` naming the field).
    pub fn check(&self) -> Result<()> {
        for (i, c) in self.columns.iter().enumerate() {
            let at = format!("table schema: columns[{i}] ({:?})", c.name);
            if c.min.is_some_and(f64::is_nan) || c.max.is_some_and(f64::is_nan) {
                return Err(Error::InvalidInput(format!("{at}: min and max must be numbers")));
            }
            if let (Some(a), Some(b)) = (c.min, c.max) {
                if a > b {
                    return Err(Error::InvalidInput(format!("{at}: min {a} is above max {b}")));
                }
            }
            if (c.min.is_some() || c.max.is_some())
                && matches!(c.column_type, Some(ColumnType::Text | ColumnType::Boolean))
            {
                return Err(Error::InvalidInput(format!("{at}: min / max apply to numbers")));
            }
        }
        if let Some(c) = &self.crs {
            Crs::from_user_input(c).map_err(|e| Error::InvalidInput(format!("table schema: crs: {e}")))?;
        }
        for t in &self.geometry.types {
            if !GEOMETRY_TYPES.contains(&t.as_str()) {
                return Err(Error::InvalidInput(format!(
                    "table schema: geometry.types: {t:?} is not one of {}",
                    GEOMETRY_TYPES.join(", ")
                )));
            }
        }
        Ok(())
    }
}

const GEOMETRY_TYPES: [&str; 7] =
    ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"];

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Violation {
    /// 0-based row, `None` for a rule about the whole table (a missing column, the CRS).
    pub row: Option<usize>,
    /// The row's feature id in the source.
    pub fid: Option<i64>,
    /// The column, when the rule is about one.
    pub column: Option<String>,
    /// The rule: `missing_column`, `type`, `null`, `min`, `max`, `not_allowed`, `duplicate`,
    /// `crs`, `geometry_missing`, `geometry_type`, `geometry_invalid`.
    pub rule: String,
    /// What is wrong (numbers and reasons; text values are not repeated).
    pub message: String,
}

/// Every violation of a schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ValidationReport {
    /// Rows checked.
    pub rows: usize,
    /// The violations, table-wide first, then by row.
    pub violations: Vec<Violation>,
    /// Violations past [`MAX_VIOLATIONS`] counted but not listed.
    pub not_listed: usize,
}

impl ValidationReport {
    /// True when no rule is broken.
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Violations listed at most (the rest are counted).
pub const MAX_VIOLATIONS: usize = 1_000_000;

struct Out {
    v: Vec<Violation>,
    not_listed: usize,
}

impl Out {
    fn push(&mut self, row: Option<usize>, fid: Option<i64>, column: Option<&str>, rule: &str, message: String) {
        if self.v.len() < MAX_VIOLATIONS {
            self.v.push(Violation { row, fid, column: column.map(str::to_string), rule: rule.into(), message });
        } else {
            self.not_listed += 1;
        }
    }
}

/// Check `layer` against `schema`: every violation, by row.
pub fn validate(layer: &VectorLayer, schema: &TableSchema) -> Result<ValidationReport> {
    schema.check()?;
    let mut out = Out { v: Vec::new(), not_listed: 0 };
    let n = layer.len();
    let fid = |i: usize| layer.fids.get(i).copied();
    // table-wide rules
    if let Some(want) = &schema.crs {
        let want = Crs::from_user_input(want)?;
        match &layer.crs {
            Some(c) if *c == want => {}
            Some(c) => out.push(
                None,
                None,
                None,
                "crs",
                format!("the layer is in {}, not {}", c.to_user_string(), want.to_user_string()),
            ),
            None => out.push(
                None,
                None,
                None,
                "crs",
                format!("the layer declares no CRS (expected {})", want.to_user_string()),
            ),
        }
    }
    let mut rules: Vec<ColumnRule> = schema.columns.clone();
    if let Some(id) = &schema.id_field {
        match rules.iter_mut().find(|r| r.name == *id) {
            Some(r) => {
                r.required = true;
                r.nullable = false;
                r.unique = true;
            }
            None => rules.push(ColumnRule {
                name: id.clone(),
                column_type: None,
                required: true,
                nullable: false,
                min: None,
                max: None,
                values: None,
                unique: true,
            }),
        }
    }
    let columns: Vec<Option<&ColumnData>> =
        rules.iter().map(|r| layer.columns.iter().find(|c| c.name == r.name).map(|c| &c.data)).collect();
    for (r, c) in rules.iter().zip(&columns) {
        match (c, r.column_type) {
            (None, _) if r.required => {
                out.push(None, None, Some(&r.name), "missing_column", format!("no column {:?}", r.name));
            }
            (Some(d), Some(t)) if !type_fits(d, t) => out.push(
                None,
                None,
                Some(&r.name),
                "type",
                format!("column {:?} holds {} values, not {}", r.name, d.type_name(), type_word(t)),
            ),
            _ => {}
        }
    }
    // row rules, row by row
    let mut seen: Vec<std::collections::HashMap<String, usize>> = rules.iter().map(|_| Default::default()).collect();
    let allowed: Vec<Option<std::collections::HashSet<&str>>> =
        rules.iter().map(|r| r.values.as_ref().map(|v| v.iter().map(String::as_str).collect())).collect();
    use rayon::prelude::*;
    let geometry: Vec<Option<(&'static str, String)>> =
        layer.geometries.par_iter().map(|g| geometry_problem(g.as_ref(), &schema.geometry)).collect();
    for (i, problem) in geometry.iter().enumerate() {
        if let Some((rule, msg)) = problem {
            out.push(Some(i), fid(i), None, rule, msg.clone());
        }
        for (k, (r, c)) in rules.iter().zip(&columns).enumerate() {
            let Some(d) = c else { continue };
            let v = d.get(i);
            if matches!(v, Value::Null) {
                if !r.nullable {
                    out.push(Some(i), fid(i), Some(&r.name), "null", "null where a value is required".into());
                }
                continue;
            }
            if let Some(x) = number(&v) {
                if let Some(m) = r.min.filter(|m| x < *m) {
                    out.push(Some(i), fid(i), Some(&r.name), "min", format!("{x} is below the minimum {m}"));
                }
                if let Some(m) = r.max.filter(|m| x > *m) {
                    out.push(Some(i), fid(i), Some(&r.name), "max", format!("{x} is above the maximum {m}"));
                }
            }
            if let (Some(set), Value::Text(t)) = (&allowed[k], &v) {
                if !set.contains(*t) {
                    out.push(
                        Some(i),
                        fid(i),
                        Some(&r.name),
                        "not_allowed",
                        "a value not among the allowed values".into(),
                    );
                }
            }
            if r.unique {
                let key = key_of(&v);
                match seen[k].get(&key) {
                    Some(first) => {
                        let m = format!("repeats the value of row {first}");
                        out.push(Some(i), fid(i), Some(&r.name), "duplicate", m);
                    }
                    None => {
                        seen[k].insert(key, i);
                    }
                }
            }
        }
    }
    // table-wide first, then by row (a stable sort keeps the rules' order within a row)
    out.v.sort_by_key(|v| v.row.map_or(0, |r| r + 1));
    Ok(ValidationReport { rows: n, violations: out.v, not_listed: out.not_listed })
}

fn type_fits(d: &ColumnData, t: ColumnType) -> bool {
    matches!(
        (d, t),
        (ColumnData::Int(_), ColumnType::Integer | ColumnType::Number)
            | (ColumnData::Float(_), ColumnType::Number)
            | (ColumnData::Text(_), ColumnType::Text)
            | (ColumnData::Bool(_), ColumnType::Boolean)
            | (ColumnData::Date(_), ColumnType::Date)
            | (ColumnData::DateTime(_), ColumnType::Datetime)
    ) || (matches!(d, ColumnData::Float(v) if v.iter().flatten().all(|x| x.fract() == 0.0)) && t == ColumnType::Integer)
}

fn type_word(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Integer => "integer",
        ColumnType::Number => "number",
        ColumnType::Text => "text",
        ColumnType::Boolean => "boolean",
        ColumnType::Date => "date",
        ColumnType::Datetime => "datetime",
    }
}

fn number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn key_of(v: &Value<'_>) -> String {
    match v {
        Value::Int(i) => format!("i{i}"),
        // 1 and 1.0 are the same id
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("i{}", *f as i64),
        other => format!("{other:?}"),
    }
}

/// The first geometry rule a feature breaks.
fn geometry_problem(g: Option<&Geometry<f64>>, rule: &GeometryRule) -> Option<(&'static str, String)> {
    let empty = match g {
        None => true,
        Some(Geometry::Polygon(p)) => p.exterior().0.is_empty(),
        Some(Geometry::MultiPolygon(m)) => m.0.is_empty(),
        Some(_) => false,
    };
    if empty {
        return rule.required.then(|| ("geometry_missing", "no geometry".to_string()));
    }
    let g = g?;
    let name = geometry_name(g);
    if !rule.types.is_empty() && !rule.types.iter().any(|t| t.eq_ignore_ascii_case(name)) {
        return Some(("geometry_type", format!("a {name}, not {}", rule.types.join(" or "))));
    }
    if !rule.valid {
        return None;
    }
    let mp = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(m) => m.clone(),
        _ => return None,
    };
    use geo::CoordsIter;
    if mp.coords_iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
        return Some(("geometry_invalid", "a coordinate is not finite".into()));
    }
    if validity::surely_valid(&mp) {
        return None;
    }
    match validity::ogc_status(&mp) {
        GeometryStatus::Invalid(r) => Some(("geometry_invalid", r)),
        _ => None,
    }
}
