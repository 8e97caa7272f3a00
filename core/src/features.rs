//! [`FeatureTable`]: parcel ids × named f64 columns, each with provenance metadata.

use crate::error::{Error, Result};
#[cfg(feature = "csv")]
use std::path::Path;

/// Where a feature column came from and what it means.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnMeta {
    /// Source layer (file path or name).
    pub source: String,
    /// Unit (`m`, `m2`, `acre`, `deg`, `%`, `1` for ratios, ...).
    pub unit: String,
    /// Method (`exact zonal mean`, `geodesic area (WGS 84)`, ...).
    pub method: String,
}

/// Storage behind a feature column: an owned `Vec<f64>`, or memory borrowed from elsewhere
/// (a numpy array, a JS `Float64Array`) and kept alive by the store. Implement it to hand a
/// column to the core without copying.
pub trait ColumnStore: Send + Sync + std::fmt::Debug {
    /// The values, one per parcel.
    fn as_slice(&self) -> &[f64];
}

impl ColumnStore for Vec<f64> {
    fn as_slice(&self) -> &[f64] {
        self
    }
}

/// The values of a feature column: shared, cheap to clone, derefs to `[f64]`.
///
/// ```
/// use landopp::features::Values;
/// let v: Values = vec![1.0, 2.0].into();
/// let w = v.clone(); // shares the storage
/// assert_eq!(&w[..], &[1.0, 2.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Values(std::sync::Arc<dyn ColumnStore>);

impl Values {
    /// Values over any storage (no copy).
    pub fn from_store(store: impl ColumnStore + 'static) -> Self {
        Values(std::sync::Arc::new(store))
    }
}

impl From<Vec<f64>> for Values {
    fn from(v: Vec<f64>) -> Self {
        Values::from_store(v)
    }
}

impl std::ops::Deref for Values {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        self.0.as_slice()
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// A feature column: numeric, or categorical (values are codes into `categories`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureColumn {
    /// Column name.
    pub name: String,
    /// One value per parcel (NaN = missing). For categorical columns: the category code.
    /// Shared, so scores and indexes refer to it without copying; may borrow foreign memory
    /// ([`ColumnStore`]).
    pub values: Values,
    /// Provenance.
    pub meta: ColumnMeta,
    /// Category labels of a categorical column (`None` for numeric columns).
    pub categories: Option<Vec<String>>,
}

impl FeatureColumn {
    /// The label of row `i` of a categorical column (`None` if numeric or missing).
    pub fn label(&self, i: usize) -> Option<&str> {
        let c = self.categories.as_ref()?;
        let v = *self.values.get(i)?;
        if v.is_nan() {
            None
        } else {
            c.get(v as usize).map(String::as_str)
        }
    }
    /// True for categorical columns.
    pub fn is_categorical(&self) -> bool {
        self.categories.is_some()
    }
}

/// `n` empty ids, for tables whose real ids stay with the caller (the bindings keep them on the
/// Python / JS side and only need row order). Making a million `String`s costs ~10 ms, more
/// than scoring them, so the last such vector is kept and handed out again for the same `n`
/// (at most one is kept: 24 bytes a row).
///
/// ```
/// let (a, b) = (landopp::features::blank_ids(3), landopp::features::blank_ids(3));
/// assert!(std::sync::Arc::ptr_eq(&a, &b) && a.iter().all(String::is_empty));
/// let t = landopp::FeatureTable::from_shared_ids(a);
/// assert_eq!((t.len(), landopp::features::blank_ids(2).len()), (3, 2));
/// ```
pub fn blank_ids(n: usize) -> std::sync::Arc<Vec<String>> {
    static LAST: std::sync::Mutex<Option<std::sync::Arc<Vec<String>>>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    match &*last {
        Some(v) if v.len() == n => v.clone(),
        _ => {
            let v = std::sync::Arc::new(vec![String::new(); n]);
            *last = Some(v.clone());
            v
        }
    }
}

/// Parcel ids × named f64 columns.
///
/// ```
/// use landopp::{FeatureTable, ColumnMeta};
/// let mut t = FeatureTable::new(vec!["a".into(), "b".into()]);
/// t.add_column("area_m2", vec![10.0, 20.0], ColumnMeta { unit: "m2".into(), ..Default::default() })?;
/// assert_eq!(t.column("area_m2")?.values[1], 20.0);
/// assert_eq!(t.add_column("x", vec![1.0], Default::default()).unwrap_err().code(), "INVALID_INPUT");
/// # Ok::<(), landopp::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureTable {
    ids: std::sync::Arc<Vec<String>>,
    /// Name of the id column in CSV (`id` unless set; a read CSV keeps its header's).
    id_name: Option<String>,
    columns: Vec<FeatureColumn>,
}

impl FeatureTable {
    /// An empty table over these parcel ids.
    pub fn new(ids: Vec<String>) -> Self {
        FeatureTable { ids: std::sync::Arc::new(ids), id_name: None, columns: Vec::new() }
    }
    /// An empty table over parcel ids shared with other tables or results (no copy).
    pub fn from_shared_ids(ids: std::sync::Arc<Vec<String>>) -> Self {
        FeatureTable { ids, id_name: None, columns: Vec::new() }
    }
    /// Name the id column (`id` by default), e.g. after the parcels' id field, as exactextract
    /// keeps it.
    pub fn set_id_name(&mut self, name: impl Into<String>) {
        self.id_name = Some(name.into());
    }
    /// The id column's name.
    pub fn id_name(&self) -> &str {
        self.id_name.as_deref().unwrap_or("id")
    }
    /// Add a source attribute column as a feature column: numbers (and booleans, as 0/1) as a
    /// numeric column, text as a categorical one (`include_cols` of exactextract).
    pub fn add_attribute(&mut self, col: &crate::vector::Column) -> Result<()> {
        use crate::vector::ColumnData;
        let meta = ColumnMeta { method: "source attribute".into(), ..Default::default() };
        match &col.data {
            ColumnData::Text(v) => self.add_categorical(col.name.clone(), v.clone(), meta),
            // dates as categories of their ISO text, as before they had a type
            ColumnData::Date(_) | ColumnData::DateTime(_) => {
                let v = (0..col.data.len())
                    .map(|i| match col.data.get(i) {
                        crate::vector::Value::Null => None,
                        d => Some(d.to_string()),
                    })
                    .collect();
                self.add_categorical(col.name.clone(), v, meta)
            }
            ColumnData::Binary(_) => {
                Err(Error::InvalidInput(format!("column {:?} holds binary values, not numbers or text", col.name)))
            }
            other => self.add_column(col.name.clone(), other.to_f64(), meta),
        }
    }
    /// Parcel ids.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }
    /// Parcel ids, shared (no copy).
    pub fn ids_shared(&self) -> std::sync::Arc<Vec<String>> {
        self.ids.clone()
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// Columns in insertion order.
    pub fn columns(&self) -> &[FeatureColumn] {
        &self.columns
    }
    /// Add (or replace) a column; its length must equal the number of parcels.
    pub fn add_column(&mut self, name: impl Into<String>, values: Vec<f64>, meta: ColumnMeta) -> Result<()> {
        self.add_values(name, values.into(), meta)
    }
    /// Add (or replace) a numeric column over shared or borrowed storage, without copying.
    pub fn add_values(&mut self, name: impl Into<String>, values: Values, meta: ColumnMeta) -> Result<()> {
        let name = name.into();
        if values.len() != self.ids.len() {
            return Err(Error::InvalidInput(format!(
                "column {name:?} has {} values for {} parcels",
                values.len(),
                self.ids.len()
            )));
        }
        self.columns.retain(|c| c.name != name);
        self.columns.push(FeatureColumn { name, values, meta, categories: None });
        Ok(())
    }
    /// Add (or replace) a categorical column from labels (`None` = missing).
    pub fn add_categorical(
        &mut self,
        name: impl Into<String>,
        labels: Vec<Option<String>>,
        meta: ColumnMeta,
    ) -> Result<()> {
        let name = name.into();
        if labels.len() != self.ids.len() {
            return Err(Error::InvalidInput(format!(
                "column {name:?} has {} values for {} parcels",
                labels.len(),
                self.ids.len()
            )));
        }
        let mut cats: Vec<String> = labels.iter().flatten().cloned().collect();
        cats.sort();
        cats.dedup();
        let values: Vec<f64> = labels
            .iter()
            .map(|l| l.as_ref().and_then(|l| cats.binary_search(l).ok()).map_or(f64::NAN, |k| k as f64))
            .collect();
        self.columns.retain(|c| c.name != name);
        self.columns.push(FeatureColumn { name, values: Values::from(values), meta, categories: Some(cats) });
        Ok(())
    }
    /// Add (or replace) a categorical column from codes into `categories` (NaN = missing), as a
    /// caller holding a coded column sends it. A code that is not a whole number in
    /// `0..categories.len()` is `INVALID_INPUT` naming the column and the first such code (it
    /// was truncated to a neighbouring category, or read as missing).
    ///
    /// ```
    /// use landopp::FeatureTable;
    /// let mut t = FeatureTable::new(vec!["a".into(), "b".into(), "c".into()]);
    /// let cats = vec!["farm".to_string(), "forest".to_string()];
    /// t.add_coded("landuse", &[1.0, f64::NAN, 0.0], cats.clone(), Default::default())?;
    /// assert_eq!(t.columns()[0].label(0), Some("forest"));
    /// assert_eq!(t.columns()[0].label(1), None);
    /// for bad in [-1.0, 1.9, 2.0, f64::INFINITY] {
    ///     let e = t.add_coded("x", &[0.0, bad, 0.0], cats.clone(), Default::default()).unwrap_err();
    ///     assert_eq!(e.code(), "INVALID_INPUT");
    /// }
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn add_coded(
        &mut self,
        name: impl Into<String>,
        codes: &[f64],
        categories: Vec<String>,
        meta: ColumnMeta,
    ) -> Result<()> {
        let name = name.into();
        let bad = codes
            .iter()
            .enumerate()
            .find(|(_, c)| !(c.is_nan() || (c.fract() == 0.0 && **c >= 0.0 && **c < categories.len() as f64)));
        if let Some((row, code)) = bad {
            return Err(Error::InvalidInput(format!(
                "column {name:?} row {row}: code {code} is not an index into its {} categories",
                categories.len()
            )));
        }
        let labels = codes.iter().map(|c| (!c.is_nan()).then(|| categories[*c as usize].clone())).collect();
        self.add_categorical(name, labels, meta)
    }
    /// Append every column of `other` (same ids, same order).
    pub fn extend(&mut self, other: FeatureTable) -> Result<()> {
        if other.ids != self.ids {
            return Err(Error::InvalidInput("feature tables have different parcel ids".into()));
        }
        for c in other.columns {
            self.columns.retain(|x| x.name != c.name);
            self.columns.push(c);
        }
        Ok(())
    }
    /// A table of the given rows (in that order), every column kept (categories too).
    pub fn select_rows(&self, rows: &[usize]) -> Result<FeatureTable> {
        if let Some(r) = rows.iter().find(|&&r| r >= self.len()) {
            return Err(Error::InvalidInput(format!("row {r} out of range ({} rows)", self.len())));
        }
        Ok(FeatureTable {
            ids: std::sync::Arc::new(rows.iter().map(|&r| self.ids[r].clone()).collect()),
            id_name: self.id_name.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| FeatureColumn {
                    name: c.name.clone(),
                    values: rows.iter().map(|&r| c.values[r]).collect::<Vec<f64>>().into(),
                    meta: c.meta.clone(),
                    categories: c.categories.clone(),
                })
                .collect(),
        })
    }
    /// Column by name.
    pub fn column(&self, name: &str) -> Result<&FeatureColumn> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            Error::not_found("feature column", name, self.columns.iter().map(|c| c.name.clone()).collect())
        })
    }
    #[cfg(feature = "csv")]
    /// Write as CSV: `id,<columns...>` (NaN written as an empty field).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut f = crate::output::AtomicFile::create(path)?;
        let w = std::io::BufWriter::new(f.file()?);
        self.write_csv_to(w).map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
        f.commit()
    }
    #[cfg(feature = "csv")]
    /// Write CSV to any writer.
    pub fn write_csv_to<W: std::io::Write>(&self, w: W) -> std::result::Result<(), csv::Error> {
        let mut wr = csv::Writer::from_writer(w);
        let mut head = vec![self.id_name().to_string()];
        head.extend(self.columns.iter().map(|c| c.name.clone()));
        wr.write_record(&head)?;
        for (i, id) in self.ids.iter().enumerate() {
            let mut rec = vec![id.clone()];
            rec.extend(self.columns.iter().map(|c| {
                if c.is_categorical() {
                    return c.label(i).unwrap_or_default().to_string();
                }
                let v = c.values[i];
                if v.is_nan() {
                    String::new()
                } else {
                    format!("{v}")
                }
            }));
            wr.write_record(&rec)?;
        }
        wr.flush()?;
        Ok(())
    }
    #[cfg(feature = "csv")]
    /// Read a CSV written by [`write_csv`](Self::write_csv) (first column = id; empty = NaN;
    /// a column with any non-numeric value is categorical).
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut rd = csv::Reader::from_path(path).map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io(path, io),
            k => Error::format("CSV", path, format!("{k:?}")),
        })?;
        let head: Vec<String> =
            rd.headers().map_err(|e| Error::format("CSV", path, e.to_string()))?.iter().map(str::to_string).collect();
        if head.is_empty() {
            return Err(Error::Empty(format!("{} has no header", path.display())));
        }
        let mut ids = Vec::new();
        let mut raw: Vec<Vec<String>> = vec![Vec::new(); head.len() - 1];
        for rec in rd.records() {
            let rec = rec.map_err(|e| Error::format("CSV", path, e.to_string()))?;
            ids.push(rec.get(0).unwrap_or_default().to_string());
            for (k, col) in raw.iter_mut().enumerate() {
                col.push(rec.get(k + 1).unwrap_or("").trim().to_string());
            }
        }
        crate::vector::check_unique_ids(&ids, &format!("ids of {}", path.display()))?;
        let mut t = FeatureTable::new(ids);
        if head[0] != "id" {
            t.set_id_name(head[0].clone());
        }
        for (name, values) in head.into_iter().skip(1).zip(raw) {
            let meta = ColumnMeta { source: path.display().to_string(), ..Default::default() };
            let nums: Option<Vec<f64>> =
                values.iter().map(|s| if s.is_empty() { Some(f64::NAN) } else { s.parse().ok() }).collect();
            match nums {
                Some(v) => t.add_column(name, v, meta)?,
                // a column that is not numeric is categorical (empty = missing)
                None => {
                    t.add_categorical(name, values.into_iter().map(|s| (!s.is_empty()).then_some(s)).collect(), meta)?
                }
            }
        }
        Ok(t)
    }
}
