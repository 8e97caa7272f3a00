//! Vector layers and parcel tables: columnar, typed attributes, (multi)polygon geometries.
//!
//! * [`VectorLayer`]: any layer (points, lines, polygons) with every attribute column of the
//!   source kept with its type ([`ColumnData`]).
//! * [`Parcels`]: a polygon layer turned into parcels: ids, `MultiPolygon`s, CRS, attributes and
//!   a validity flag per parcel (invalid rings are kept and flagged, never fixed silently).
//!
//! Readers: GeoPackage (feature `gpkg`), GeoJSON, FlatGeobuf, Shapefile — see [`read_layer`].
//! Writers: GeoJSON, GeoPackage, CSV.

#[cfg(feature = "fgb")]
mod fgb;
pub mod geojson;
#[cfg(feature = "gpkg")]
pub mod gpkg;
mod shp;
pub mod temporal;
pub mod validate;
pub mod validity;
pub mod wkb;
pub mod wkt;

use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use geo_types::{Geometry, MultiPolygon};
use std::path::Path;
pub use temporal::Timestamp;

/// A typed attribute column. Nulls are `None`.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum ColumnData {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    Binary(Vec<Option<Vec<u8>>>),
    /// Days since 1970-01-01 (GeoPackage `DATE`, Shapefile `D`, ISO dates in GeoJSON).
    Date(Vec<Option<i32>>),
    /// Date-times with their source zone (GeoPackage `DATETIME`, FlatGeobuf `DateTime`, ISO
    /// date-times in GeoJSON).
    DateTime(Vec<Option<Timestamp>>),
}

impl ColumnData {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Int(v) => v.len(),
            ColumnData::Float(v) => v.len(),
            ColumnData::Text(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Binary(v) => v.len(),
            ColumnData::Date(v) => v.len(),
            ColumnData::DateTime(v) => v.len(),
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Type name: `int`, `float`, `text`, `bool`, `binary`, `date`, `datetime`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ColumnData::Int(_) => "int",
            ColumnData::Float(_) => "float",
            ColumnData::Text(_) => "text",
            ColumnData::Bool(_) => "bool",
            ColumnData::Binary(_) => "binary",
            ColumnData::Date(_) => "date",
            ColumnData::DateTime(_) => "datetime",
        }
    }
    /// Value at row `i`.
    pub fn get(&self, i: usize) -> Value<'_> {
        match self {
            ColumnData::Int(v) => v.get(i).copied().flatten().map_or(Value::Null, Value::Int),
            ColumnData::Float(v) => v.get(i).copied().flatten().map_or(Value::Null, Value::Float),
            ColumnData::Text(v) => v.get(i).and_then(|s| s.as_deref()).map_or(Value::Null, Value::Text),
            ColumnData::Bool(v) => v.get(i).copied().flatten().map_or(Value::Null, Value::Bool),
            ColumnData::Binary(v) => v.get(i).and_then(|s| s.as_deref()).map_or(Value::Null, Value::Binary),
            ColumnData::Date(v) => v.get(i).copied().flatten().map_or(Value::Null, Value::Date),
            ColumnData::DateTime(v) => v.get(i).copied().flatten().map_or(Value::Null, Value::DateTime),
        }
    }
    /// Numeric view (ints and bools converted, text parsed where it is a number, else NaN; dates
    /// and date-times are NaN).
    pub fn to_f64(&self) -> Vec<f64> {
        (0..self.len())
            .map(|i| match self.get(i) {
                Value::Int(v) => v as f64,
                Value::Float(v) => v,
                Value::Bool(b) => b as u8 as f64,
                Value::Text(s) => s.trim().parse().unwrap_or(f64::NAN),
                _ => f64::NAN,
            })
            .collect()
    }
    fn take(&self, idx: &[usize]) -> ColumnData {
        match self {
            ColumnData::Int(v) => ColumnData::Int(idx.iter().map(|&i| v[i]).collect()),
            ColumnData::Float(v) => ColumnData::Float(idx.iter().map(|&i| v[i]).collect()),
            ColumnData::Text(v) => ColumnData::Text(idx.iter().map(|&i| v[i].clone()).collect()),
            ColumnData::Bool(v) => ColumnData::Bool(idx.iter().map(|&i| v[i]).collect()),
            ColumnData::Binary(v) => ColumnData::Binary(idx.iter().map(|&i| v[i].clone()).collect()),
            ColumnData::Date(v) => ColumnData::Date(idx.iter().map(|&i| v[i]).collect()),
            ColumnData::DateTime(v) => ColumnData::DateTime(idx.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// One attribute value.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a str),
    Bool(bool),
    Binary(&'a [u8]),
    /// Days since 1970-01-01.
    Date(i32),
    DateTime(Timestamp),
}

impl std::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => f.write_str(v),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Binary(v) => write!(f, "<{} bytes>", v.len()),
            Value::Date(d) => f.write_str(&temporal::format_date(*d)),
            Value::DateTime(t) => f.write_str(&temporal::format_datetime(*t)),
        }
    }
}

/// A named attribute column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Field name as in the source.
    pub name: String,
    /// Values.
    pub data: ColumnData,
}

/// An owned value used while building columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OwnedValue {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    #[cfg_attr(not(feature = "fgb"), allow(dead_code))] // FlatGeobuf binary attributes
    Binary(Vec<u8>),
}

/// Declared type of a source field, when the format has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeHint {
    None,
    Int,
    Float,
    Text,
    Bool,
    /// Dates as text (ISO, or Shapefile `YYYYMMDD` already turned into ISO).
    Date,
    /// Date-times (or dates) as ISO text.
    DateTime,
}

/// Builds a typed column from values whose type is only known at the end.
#[derive(Debug)]
pub(crate) struct ColumnBuilder {
    pub name: String,
    pub hint: TypeHint,
    values: Vec<OwnedValue>,
}

impl ColumnBuilder {
    pub fn new(name: impl Into<String>, hint: TypeHint) -> Self {
        ColumnBuilder { name: name.into(), hint, values: Vec::new() }
    }
    pub fn push(&mut self, v: OwnedValue) {
        self.values.push(v);
    }
    pub fn pad_to(&mut self, n: usize) {
        while self.values.len() < n {
            self.values.push(OwnedValue::Null);
        }
    }
    pub fn finish(self) -> Column {
        let vals = self.values;
        let all = |f: fn(&OwnedValue) -> bool| vals.iter().all(|v| matches!(v, OwnedValue::Null) || f(v));
        if let Some(data) = temporal_column(self.hint, &vals) {
            return Column { name: self.name, data };
        }
        let data = if self.hint == TypeHint::Bool && all(|v| matches!(v, OwnedValue::Int(0 | 1) | OwnedValue::Bool(_)))
        {
            ColumnData::Bool(
                vals.iter()
                    .map(|v| match v {
                        OwnedValue::Int(i) => Some(*i != 0),
                        OwnedValue::Bool(b) => Some(*b),
                        _ => None,
                    })
                    .collect(),
            )
        } else if self.hint != TypeHint::Text
            && all(|v| matches!(v, OwnedValue::Bool(_)))
            && self.hint != TypeHint::Float
        {
            ColumnData::Bool(vals.iter().map(|v| if let OwnedValue::Bool(b) = v { Some(*b) } else { None }).collect())
        } else if matches!(self.hint, TypeHint::Int | TypeHint::None) && all(|v| matches!(v, OwnedValue::Int(_))) {
            ColumnData::Int(vals.iter().map(|v| if let OwnedValue::Int(i) = v { Some(*i) } else { None }).collect())
        } else if self.hint != TypeHint::Text && all(|v| matches!(v, OwnedValue::Int(_) | OwnedValue::Float(_))) {
            ColumnData::Float(
                vals.iter()
                    .map(|v| match v {
                        OwnedValue::Int(i) => Some(*i as f64),
                        OwnedValue::Float(f) => Some(*f),
                        _ => None,
                    })
                    .collect(),
            )
        } else if all(|v| matches!(v, OwnedValue::Binary(_))) && vals.iter().any(|v| matches!(v, OwnedValue::Binary(_)))
        {
            ColumnData::Binary(
                vals.into_iter().map(|v| if let OwnedValue::Binary(b) = v { Some(b) } else { None }).collect(),
            )
        } else {
            ColumnData::Text(
                vals.into_iter()
                    .map(|v| match v {
                        OwnedValue::Null => None,
                        OwnedValue::Int(i) => Some(i.to_string()),
                        OwnedValue::Float(f) => Some(f.to_string()),
                        OwnedValue::Text(s) => Some(s),
                        OwnedValue::Bool(b) => Some(b.to_string()),
                        OwnedValue::Binary(b) => Some(format!("<{} bytes>", b.len())),
                    })
                    .collect(),
            )
        };
        Column { name: self.name, data }
    }
}

/// A temporal column from text values: when the format declares dates / date-times and every
/// value parses (else the text is kept, as GDAL does), or, for formats without a schema
/// (GeoJSON), when every non-null value is text in one ISO form (GDAL's detection).
fn temporal_column(hint: TypeHint, vals: &[OwnedValue]) -> Option<ColumnData> {
    fn text(v: &OwnedValue) -> Option<&str> {
        if let OwnedValue::Text(t) = v {
            Some(t.as_str())
        } else {
            None
        }
    }
    let texts = || vals.iter().filter_map(|v| if let OwnedValue::Text(t) = v { Some(t.as_str()) } else { None });
    let only_text = vals.iter().all(|v| matches!(v, OwnedValue::Null | OwnedValue::Text(_)));
    if !only_text || texts().next().is_none() && hint == TypeHint::None {
        return None;
    }
    match hint {
        TypeHint::Date if texts().all(|t| temporal::parse_date(t).is_some()) => {
            Some(ColumnData::Date(vals.iter().map(|v| text(v).and_then(temporal::parse_date)).collect()))
        }
        TypeHint::DateTime if texts().all(|t| temporal::parse_date_or_datetime(t).is_some()) => Some(
            ColumnData::DateTime(vals.iter().map(|v| text(v).and_then(temporal::parse_date_or_datetime)).collect()),
        ),
        TypeHint::None if texts().all(|t| temporal::parse_date(t).is_some()) => {
            Some(ColumnData::Date(vals.iter().map(|v| text(v).and_then(temporal::parse_date)).collect()))
        }
        TypeHint::None if texts().all(|t| temporal::parse_datetime(t).is_some()) => {
            Some(ColumnData::DateTime(vals.iter().map(|v| text(v).and_then(temporal::parse_datetime)).collect()))
        }
        _ => None,
    }
}

/// A vector layer: features with an optional geometry each and typed attribute columns.
#[derive(Debug, Clone)]
pub struct VectorLayer {
    /// Layer name (GeoPackage table, file stem, ...).
    pub name: String,
    /// CRS of the geometries.
    pub crs: Option<Crs>,
    /// Source feature ids (GeoPackage `fid`, or 0-based order).
    pub fids: Vec<i64>,
    /// Geometries in source order (`None` for null geometries).
    pub geometries: Vec<Option<Geometry<f64>>>,
    /// Attribute columns, in source order.
    pub columns: Vec<Column>,
    /// Declared geometry type (`POLYGON`, `MULTIPOLYGON`, `LINESTRING`, ... or `GEOMETRY`).
    pub geometry_type: String,
}

impl VectorLayer {
    /// Number of features.
    pub fn len(&self) -> usize {
        self.geometries.len()
    }
    /// True when the layer holds no feature.
    pub fn is_empty(&self) -> bool {
        self.geometries.is_empty()
    }
    /// Column by name.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::not_found("column", name, self.columns.iter().map(|c| c.name.clone()).collect()))
    }
    /// `(xmin, ymin, xmax, ymax)` of all geometries, `None` if there are none.
    pub fn bounds(&self) -> Option<[f64; 4]> {
        use geo::BoundingRect;
        let mut b: Option<[f64; 4]> = None;
        for r in self.geometries.iter().flatten().filter_map(|g| g.bounding_rect()) {
            let e = b.get_or_insert([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY]);
            e[0] = e[0].min(r.min().x);
            e[1] = e[1].min(r.min().y);
            e[2] = e[2].max(r.max().x);
            e[3] = e[3].max(r.max().y);
        }
        b
    }
    /// Reproject every geometry to `dst` (the layer must have a CRS).
    pub fn to_crs(&self, dst: &Crs) -> Result<VectorLayer> {
        let src = self
            .crs
            .as_ref()
            .ok_or_else(|| Error::Crs(format!("layer {:?} has no CRS; set one before reprojecting", self.name)))?;
        let t = Transformer::new(src, dst)?;
        let mut out = self.clone();
        for g in out.geometries.iter_mut().flatten() {
            t.transform_geometry(g)?;
        }
        out.crs = Some(dst.clone());
        Ok(out)
    }
    /// Keep only the rows at `idx` (in that order).
    pub fn take(&self, idx: &[usize]) -> VectorLayer {
        VectorLayer {
            name: self.name.clone(),
            crs: self.crs.clone(),
            fids: idx.iter().map(|&i| self.fids[i]).collect(),
            geometries: idx.iter().map(|&i| self.geometries[i].clone()).collect(),
            columns: self.columns.iter().map(|c| Column { name: c.name.clone(), data: c.data.take(idx) }).collect(),
            geometry_type: self.geometry_type.clone(),
        }
    }
}

/// Options for [`read_layer`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Layer name (GeoPackage); default: the only / first feature layer.
    pub layer: Option<String>,
}

/// Which vector format a path is, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorFormat {
    /// `.gpkg`
    GeoPackage,
    /// `.geojson` / `.json`
    GeoJson,
    /// `.fgb`
    FlatGeobuf,
    /// `.shp`
    Shapefile,
}

impl VectorFormat {
    /// Guess from the extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "gpkg" => Ok(VectorFormat::GeoPackage),
            "geojson" | "json" => Ok(VectorFormat::GeoJson),
            "fgb" => Ok(VectorFormat::FlatGeobuf),
            "shp" => Ok(VectorFormat::Shapefile),
            _ => Err(Error::Unsupported(format!(
                "vector format of {} (supported: .gpkg, .geojson, .json, .fgb, .shp)",
                path.display()
            ))),
        }
    }
}

/// List the feature layers of a file (one for single-layer formats).
pub fn list_layers(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(Error::FileNotFound { path: path.to_path_buf() });
    }
    match VectorFormat::from_path(path)? {
        #[cfg(feature = "gpkg")]
        VectorFormat::GeoPackage => gpkg::list_layers(path),
        #[cfg(not(feature = "gpkg"))]
        VectorFormat::GeoPackage => Err(Error::Unsupported("GeoPackage support needs the `gpkg` feature".into())),
        _ => Ok(vec![stem(path)]),
    }
}

pub(crate) fn stem(path: &Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("layer").to_string()
}

/// Read a vector layer from GeoPackage, GeoJSON, FlatGeobuf or Shapefile.
///
/// ```no_run
/// let layer = landopp::vector::read_layer("zoning.gpkg", &Default::default())?;
/// println!("{} features, CRS {:?}", layer.len(), layer.crs);
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn read_layer(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<VectorLayer> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(Error::FileNotFound { path: path.to_path_buf() });
    }
    crate::error::regular_file(path, "vector file")?;
    let fmt = VectorFormat::from_path(path)?;
    if fmt != VectorFormat::GeoPackage {
        if let Some(l) = &opts.layer {
            if *l != stem(path) {
                return Err(Error::not_found("layer", l.clone(), vec![stem(path)]));
            }
        }
    }
    match fmt {
        #[cfg(feature = "gpkg")]
        VectorFormat::GeoPackage => gpkg::read(path, opts.layer.as_deref()),
        #[cfg(not(feature = "gpkg"))]
        VectorFormat::GeoPackage => Err(Error::Unsupported("GeoPackage support needs the `gpkg` feature".into())),
        VectorFormat::GeoJson => geojson::read(path),
        #[cfg(feature = "fgb")]
        VectorFormat::FlatGeobuf => fgb::read(path),
        #[cfg(not(feature = "fgb"))]
        VectorFormat::FlatGeobuf => Err(Error::Unsupported("FlatGeobuf support needs the `fgb` feature".into())),
        VectorFormat::Shapefile => shp::read(path),
    }
}

/// What reading parcels does with ids that repeat (condo units stacked on one footprint, parcels
/// split into several polygons that kept one id).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateIds {
    /// Refuse the layer: `INVALID_INPUT` naming the first repeated ids (features, scores, search
    /// results and joins would otherwise mix parcels).
    #[default]
    Refuse,
    /// Keep the first occurrence's id; later ones get `_2`, `_3`, … in file order (never an id
    /// that already exists).
    Suffix,
}

impl DuplicateIds {
    /// `"refuse"` or `"suffix"` (the names in specs, the CLI and the bindings).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "refuse" => Ok(DuplicateIds::Refuse),
            "suffix" => Ok(DuplicateIds::Suffix),
            o => Err(Error::InvalidInput(format!("duplicate_ids {o:?}: \"refuse\" or \"suffix\""))),
        }
    }

    /// The policy a caller named, or the default ([`Refuse`](Self::Refuse)) when it named none.
    pub fn parse_or_default(s: Option<&str>) -> Result<Self> {
        s.map_or(Ok(Self::default()), Self::parse)
    }

    /// Apply the policy to `ids` in place.
    ///
    /// ```
    /// use landopp::vector::DuplicateIds;
    /// let mut ids: Vec<String> = ["a", "b", "a", "a_2", "a"].iter().map(|s| s.to_string()).collect();
    /// assert_eq!(DuplicateIds::Refuse.apply(&mut ids.clone(), "parcels").unwrap_err().code(), "INVALID_INPUT");
    /// DuplicateIds::Suffix.apply(&mut ids, "parcels")?;
    /// assert_eq!(ids, ["a", "b", "a_3", "a_2", "a_4"]);
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn apply(self, ids: &mut [String], what: &str) -> Result<()> {
        use std::collections::{HashMap, HashSet};
        let repeated = repeated_ids(ids);
        if repeated.is_empty() {
            return Ok(());
        }
        if self == DuplicateIds::Refuse {
            return Err(repeated_error(ids, &repeated, what));
        }
        let mut taken: HashSet<String> = ids.iter().cloned().collect();
        let mut next: HashMap<String, usize> = HashMap::new();
        for i in repeated {
            let base = ids[i].clone();
            let k = next.entry(base.clone()).or_insert(2);
            let id = loop {
                let candidate = format!("{base}_{k}");
                *k += 1;
                if taken.insert(candidate.clone()) {
                    break candidate;
                }
            };
            ids[i] = id;
        }
        Ok(())
    }
}

/// Positions of the ids that repeat an earlier one.
fn repeated_ids(ids: &[String]) -> Vec<usize> {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::with_capacity(ids.len());
    ids.iter().enumerate().filter(|(_, id)| !seen.insert(id.as_str())).map(|(i, _)| i).collect()
}

fn repeated_error(ids: &[String], repeated: &[usize], what: &str) -> Error {
    let mut names: Vec<&str> = repeated.iter().map(|&i| ids[i].as_str()).collect();
    names.dedup();
    let shown: Vec<String> = names.iter().take(5).map(|s| format!("{s:?}")).collect();
    Error::InvalidInput(format!(
        "{what}: {} ids repeat (first: {}); pick a unique id field, or let landopp suffix the repeats \
         (duplicate_ids = \"suffix\")",
        repeated.len(),
        shown.join(", ")
    ))
}

/// `INVALID_INPUT` naming the first repeated ids, if any (tables joined by id must not mix rows).
pub fn check_unique_ids(ids: &[String], what: &str) -> Result<()> {
    let repeated = repeated_ids(ids);
    if repeated.is_empty() {
        Ok(())
    } else {
        Err(repeated_error(ids, &repeated, what))
    }
}

/// Validity of one parcel geometry.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum GeometryStatus {
    /// OGC-valid.
    Valid,
    /// Kept as read, but not OGC-valid (self-intersection, unclosed ring, ...).
    Invalid(String),
    /// Null or empty geometry.
    Empty,
}

impl std::fmt::Display for GeometryStatus {
    /// `valid`, `empty` or `invalid: <reason>` (the form the bindings report).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GeometryStatus::Valid => f.write_str("valid"),
            GeometryStatus::Empty => f.write_str("empty"),
            GeometryStatus::Invalid(r) => write!(f, "invalid: {r}"),
        }
    }
}

/// Parcels: ids, (multi)polygons, CRS, every source attribute, and a validity flag per parcel.
#[derive(Debug, Clone)]
pub struct Parcels {
    /// Parcel ids (from the id field, else the source feature id).
    pub ids: Vec<String>,
    /// Geometries as multipolygons, in `crs` coordinates.
    pub geometries: Vec<MultiPolygon<f64>>,
    /// CRS of the geometries.
    pub crs: Option<Crs>,
    /// Source attribute columns, unchanged.
    pub columns: Vec<Column>,
    /// Validity of each geometry.
    pub status: Vec<GeometryStatus>,
    /// Layer name.
    pub name: String,
}

impl Parcels {
    /// Read parcels from a polygon layer. `id_field` names the id column (default: feature id).
    pub fn read(path: impl AsRef<Path>, layer: Option<&str>, id_field: Option<&str>) -> Result<Self> {
        Self::read_with(path, layer, id_field, DuplicateIds::Refuse)
    }

    /// [`Parcels::read`] with a policy for repeated ids.
    pub fn read_with(
        path: impl AsRef<Path>,
        layer: Option<&str>,
        id_field: Option<&str>,
        duplicate_ids: DuplicateIds,
    ) -> Result<Self> {
        let l = read_layer(path, &ReadOptions { layer: layer.map(str::to_string) })?;
        Self::from_layer_with(l, id_field, duplicate_ids)
    }

    /// Turn a polygon layer into parcels. Errors: a non-polygon geometry
    /// (`INVALID_GEOMETRY`), a non-finite coordinate (`INVALID_GEOMETRY`), an empty layer
    /// (`EMPTY`), an unknown id field (`NOT_FOUND`), repeated ids (`INVALID_INPUT`; see
    /// [`Parcels::from_layer_with`]). Invalid rings are kept and flagged.
    pub fn from_layer(layer: VectorLayer, id_field: Option<&str>) -> Result<Self> {
        Self::from_layer_with(layer, id_field, DuplicateIds::Refuse)
    }

    /// [`Parcels::from_layer`] with a policy for repeated ids.
    pub fn from_layer_with(layer: VectorLayer, id_field: Option<&str>, duplicate_ids: DuplicateIds) -> Result<Self> {
        use geo::CoordsIter;
        if layer.is_empty() {
            return Err(Error::Empty(format!("layer {:?} has no features", layer.name)));
        }
        let mut ids: Vec<String> = match id_field {
            Some(f) => {
                let c = layer.column(f)?;
                (0..layer.len()).map(|i| c.data.get(i).to_string()).collect()
            }
            None => layer.fids.iter().map(|f| f.to_string()).collect(),
        };
        let what = format!("parcel ids of layer {:?} ({})", layer.name, id_field.unwrap_or("feature id"));
        duplicate_ids.apply(&mut ids, &what)?;
        let mut geometries = Vec::with_capacity(layer.len());
        for (i, g) in layer.geometries.into_iter().enumerate() {
            let mp = match g {
                None => None,
                Some(Geometry::Polygon(p)) => Some(MultiPolygon(vec![p])),
                Some(Geometry::MultiPolygon(mp)) => Some(mp),
                Some(other) => {
                    return Err(Error::InvalidGeometry(format!(
                        "feature {} of layer {:?} is a {}; parcels must be polygons",
                        ids[i],
                        layer.name,
                        geometry_name(&other)
                    )))
                }
            };
            let mp = mp.unwrap_or_else(|| MultiPolygon(vec![]));
            if let Some(c) = mp.coords_iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
                return Err(Error::InvalidGeometry(format!(
                    "parcel {} of layer {:?} has a non-finite coordinate ({}, {})",
                    ids[i], layer.name, c.x, c.y
                )));
            }
            geometries.push(mp);
        }
        use rayon::prelude::*;
        let status = geometries
            .par_iter()
            .map(|mp| {
                if mp.0.is_empty() {
                    GeometryStatus::Empty
                } else if validity::surely_valid(mp) {
                    GeometryStatus::Valid
                } else {
                    validity::ogc_status(mp)
                }
            })
            .collect();
        Ok(Parcels { ids, geometries, crs: layer.crs, columns: layer.columns, status, name: layer.name })
    }

    /// Number of parcels.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// True when there is no parcel.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// Column by name.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::not_found("column", name, self.columns.iter().map(|c| c.name.clone()).collect()))
    }
    /// Indices of parcels whose geometry is kept but invalid.
    pub fn invalid_indices(&self) -> Vec<usize> {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, GeometryStatus::Invalid(_)))
            .map(|(i, _)| i)
            .collect()
    }
    /// Reproject to `dst`.
    pub fn to_crs(&self, dst: &Crs) -> Result<Parcels> {
        let src = self.crs.as_ref().ok_or_else(|| Error::Crs(format!("parcels {:?} have no CRS", self.name)))?;
        let t = Transformer::new(src, dst)?;
        let mut out = self.clone();
        for mp in out.geometries.iter_mut() {
            let mut g = Geometry::MultiPolygon(std::mem::replace(mp, MultiPolygon(vec![])));
            t.transform_geometry(&mut g)?;
            if let Geometry::MultiPolygon(m) = g {
                *mp = m;
            }
        }
        out.crs = Some(dst.clone());
        Ok(out)
    }
    /// Geodesic area (m²) and perimeter (m) of each parcel on the WGS 84 ellipsoid.
    pub fn geodesic_area_perimeter(&self) -> Result<Vec<(f64, f64)>> {
        crate::geodesic::area_perimeter(&self.geometries, self.crs.as_ref())
    }
    /// As a generic layer (for writers).
    pub fn to_layer(&self) -> VectorLayer {
        VectorLayer {
            name: self.name.clone(),
            crs: self.crs.clone(),
            fids: (0..self.len() as i64).collect(),
            geometries: self.geometries.iter().map(|g| Some(Geometry::MultiPolygon(g.clone()))).collect(),
            columns: self.columns.clone(),
            geometry_type: "MULTIPOLYGON".into(),
        }
    }
}

/// `INVALID_GEOMETRY` naming the first polygon with a NaN or infinite coordinate (such a vertex
/// would turn every statistic of its polygon into NaN).
pub fn check_finite(polygons: &[MultiPolygon<f64>]) -> Result<()> {
    use geo::CoordsIter;
    use rayon::prelude::*;
    match polygons.par_iter().position_first(|mp| mp.coords_iter().any(|c| !(c.x.is_finite() && c.y.is_finite()))) {
        Some(i) => Err(Error::InvalidGeometry(format!("polygon {i} has a non-finite (NaN or infinite) coordinate"))),
        None => Ok(()),
    }
}

/// Polygons and multipolygons as multipolygons (a missing geometry → an empty one); any other
/// geometry type is `INVALID_GEOMETRY` naming its position.
pub fn to_multipolygons(geoms: Vec<Option<Geometry<f64>>>) -> Result<Vec<MultiPolygon<f64>>> {
    geoms
        .into_iter()
        .enumerate()
        .map(|(i, g)| match g {
            None => Ok(MultiPolygon(vec![])),
            Some(Geometry::Polygon(p)) => Ok(MultiPolygon(vec![p])),
            Some(Geometry::MultiPolygon(m)) => Ok(m),
            Some(other) => {
                Err(Error::InvalidGeometry(format!("geometry {i} is a {}, expected a polygon", geometry_name(&other))))
            }
        })
        .collect()
}

/// WKT-style name of a geometry's type.
pub fn geometry_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

/// Write a layer, format by extension (`.geojson`/`.json` or `.gpkg`).
pub fn write_layer(path: impl AsRef<Path>, layer: &VectorLayer) -> Result<()> {
    let path = path.as_ref();
    match VectorFormat::from_path(path)? {
        VectorFormat::GeoJson => geojson::write(path, layer),
        #[cfg(feature = "gpkg")]
        VectorFormat::GeoPackage => gpkg::write(path, layer),
        _ => Err(Error::Unsupported(format!("writing {} (writers: GeoJSON, GeoPackage)", path.display()))),
    }
}
