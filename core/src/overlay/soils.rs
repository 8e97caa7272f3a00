//! SSURGO soils: component-weighted class shares, dominant classes and map-unit aggregates per parcel.

use super::*;

/// One SSURGO component: `(comppct_r, majcompflag, drainagecl, hydgrp)`.
pub type Component = (f64, bool, Option<String>, Option<String>);

/// Per parcel, the label of the column with the largest positive value (None when all are 0).
pub(super) fn dominant(labels: &[String], cols: &[Vec<f64>], n: usize) -> Vec<Option<String>> {
    (0..n)
        .map(|i| {
            cols.iter()
                .enumerate()
                .filter(|c| c.1[i] > 0.0)
                .max_by(|a, b| a.1[i].total_cmp(&b.1[i]))
                .map(|(k, _)| labels[k].clone())
        })
        .collect()
}

/// SSURGO component and map-unit tables, as exported by Soil Data Access (CSV).
#[derive(Debug, Clone, Default)]
pub struct SoilTables {
    /// mukey → [(comppct_r, majcompflag, drainagecl, hydgrp)].
    pub components: HashMap<String, Vec<Component>>,
    /// mukey → farmlndcl.
    pub farmland: HashMap<String, Option<String>>,
    /// Map-unit aggregate attributes (SDA `muaggatt`): column → mukey → value. Numeric columns
    /// become area-weighted means per parcel (`soil_<column>`), the others the value with the
    /// largest area share.
    pub aggregates: BTreeMap<String, HashMap<String, String>>,
}

impl SoilTables {
    /// Read the component table (`mukey, cokey, comppct_r, majcompflag, drainagecl, hydgrp`) and
    /// the map-unit table (`mukey, farmlndcl`). A missing file or column is an error naming it.
    pub fn read(component_csv: &std::path::Path, mapunit_csv: &std::path::Path) -> Result<Self> {
        let comp =
            read_csv_table(component_csv, &["mukey", "cokey", "comppct_r", "majcompflag", "drainagecl", "hydgrp"])?;
        let mu = read_csv_table(mapunit_csv, &["mukey", "farmlndcl"])?;
        let mut t = SoilTables::default();
        for (i, row) in comp.into_iter().enumerate() {
            let pct: f64 = row[2].trim().parse().map_err(|_| {
                Error::format("CSV", component_csv, format!("comppct_r of data row {} is not a number", i + 1))
            })?;
            let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
            t.components.entry(row[0].trim().to_string()).or_default().push((
                pct,
                row[3].trim().eq_ignore_ascii_case("yes"),
                opt(&row[4]),
                opt(&row[5]),
            ));
        }
        for row in mu {
            t.farmland
                .insert(row[0].trim().to_string(), (!row[1].trim().is_empty()).then(|| row[1].trim().to_string()));
        }
        Ok(t)
    }

    /// Add the map-unit aggregates of an SDA `muaggatt` CSV export (`mukey` and any columns;
    /// empty cells are missing values).
    pub fn read_aggregates(&mut self, muaggatt_csv: &std::path::Path) -> Result<()> {
        let (head, rows) = read_csv_all(muaggatt_csv)?;
        let Some(k) = head.iter().position(|h| h == "mukey") else {
            return Err(Error::not_found("column", format!("mukey (in {})", muaggatt_csv.display()), vec![]));
        };
        for (j, name) in head.iter().enumerate() {
            if j == k {
                continue;
            }
            let m = self.aggregates.entry(name.clone()).or_default();
            for r in &rows {
                let (key, v) = (r[k].trim(), r[j].trim());
                if !key.is_empty() && !v.is_empty() {
                    m.insert(key.to_string(), v.to_string());
                }
            }
        }
        Ok(())
    }

    /// Component-percent-weighted class shares of a map unit for `attr` (0 = drainagecl, 1 = hydgrp).
    fn class_weights(&self, mukey: &str, attr: usize) -> Vec<(String, f64)> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        if let Some(cs) = self.components.get(mukey) {
            for (pct, _, dr, hg) in cs {
                let v = if attr == 0 { dr } else { hg };
                if let Some(v) = v {
                    *m.entry(v.clone()).or_default() += pct / 100.0;
                }
            }
        }
        m.into_iter().collect()
    }
}

/// A CSV file opened, with its header's names trimmed and lower-cased.
#[cfg(feature = "csv")]
fn open_csv(path: &std::path::Path) -> Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    if !path.exists() {
        return Err(Error::FileNotFound { path: path.to_path_buf() });
    }
    let mut rd = csv::Reader::from_path(path).map_err(|e| Error::format("CSV", path, e.to_string()))?;
    let head: Vec<String> = rd
        .headers()
        .map_err(|e| Error::format("CSV", path, e.to_string()))?
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    Ok((rd, head))
}

/// The rows of an open CSV file, columns `idx` of each (missing cells empty).
#[cfg(feature = "csv")]
fn csv_rows(rd: &mut csv::Reader<std::fs::File>, path: &std::path::Path, idx: &[usize]) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| Error::format("CSV", path, e.to_string()))?;
        rows.push(idx.iter().map(|&i| rec.get(i).unwrap_or("").to_string()).collect());
    }
    Ok(rows)
}

/// Every column of a CSV file: lower-case header names and rows.
#[cfg(feature = "csv")]
fn read_csv_all(path: &std::path::Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let (mut rd, head) = open_csv(path)?;
    let idx: Vec<usize> = (0..head.len()).collect();
    let rows = csv_rows(&mut rd, path, &idx)?;
    Ok((head, rows))
}

#[cfg(not(feature = "csv"))]
fn read_csv_all(path: &std::path::Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    Err(Error::Unsupported(format!("{}: SSURGO's CSV tables need the `csv` feature", path.display())))
}

#[cfg(not(feature = "csv"))]
pub(super) fn read_csv_table(path: &std::path::Path, _cols: &[&str]) -> Result<Vec<Vec<String>>> {
    Err(Error::Unsupported(format!("{}: SSURGO's CSV tables need the `csv` feature", path.display())))
}

#[cfg(feature = "csv")]
pub(super) fn read_csv_table(path: &std::path::Path, cols: &[&str]) -> Result<Vec<Vec<String>>> {
    let (mut rd, head) = open_csv(path)?;
    // the header is listed back only when it looks like column names: a path pointing at some
    // other file (`/etc/passwd`) must not print that file's first line
    let names = |head: &[String]| -> Vec<String> {
        let looks_like_names =
            head.iter().all(|h| h.len() <= 64 && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' '));
        if looks_like_names {
            head.iter().take(50).cloned().collect()
        } else {
            vec![]
        }
    };
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| {
            head.iter()
                .position(|h| h == c)
                .ok_or_else(|| Error::not_found("column", format!("{c} (in {})", path.display()), names(&head)))
        })
        .collect::<Result<_>>()?;
    csv_rows(&mut rd, path, &idx)
}

/// Soil features: map-unit shares (`soil_mukey_<key>_share`, `soil_mukey_dominant`) and, given
/// SDA tables, per parcel shares of each drainage class / hydrologic group (area share × component
/// percent) and farmland class (area share), with their dominant classes.
pub fn soil_features(
    frame: &WorkFrame,
    layer: &VectorLayer,
    mukey_field: &str,
    tables: Option<&SoilTables>,
    t: &mut FeatureTable,
) -> Result<()> {
    // as OGR does, a field name matches whatever its case (SSURGO files say MUKEY, SDA mukey)
    let mukey_field = match layer.columns.iter().find(|c| c.name == mukey_field) {
        Some(c) => c.name.as_str(),
        None => layer
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(mukey_field))
            .map_or(mukey_field, |c| c.name.as_str()),
    };
    let r = overlay_shares(frame, layer, Some(mukey_field))?;
    let src = layer.name.clone();
    add_overlay_columns(t, &r, "soil_mukey", &src)?;
    let Some(tables) = tables else { return Ok(()) };
    let unknown: Vec<&String> = r.classes.iter().filter(|k| !tables.components.contains_key(*k)).collect();
    if unknown.len() == r.classes.len() {
        return Err(Error::InvalidInput(format!(
            "none of the {} map units ({}) is in the component table",
            r.classes.len(),
            r.classes.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    for (attr, name) in [(0usize, "drainage"), (1, "hydgrp")] {
        let mut cls: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (pi, shares) in r.shares.iter().enumerate() {
            for (k, mk) in r.classes.iter().enumerate() {
                if shares[k] <= 0.0 {
                    continue;
                }
                for (c, w) in tables.class_weights(mk, attr) {
                    cls.entry(c).or_insert_with(|| vec![0.0; r.shares.len()])[pi] += shares[k] * w;
                }
            }
        }
        let labels: Vec<String> = cls.keys().cloned().collect();
        let cols: Vec<Vec<f64>> = cls.into_values().collect();
        let method = "Σ map-unit area share × component percent (SSURGO component table)";
        for (l, v) in labels.iter().zip(&cols) {
            t.add_column(
                format!("soil_{name}_{}_share", sanitize(l)),
                v.clone(),
                ColumnMeta { source: src.clone(), unit: "1".into(), method: method.into() },
            )?;
        }
        let dom = dominant(&labels, &cols, r.shares.len());
        t.add_categorical(
            format!("soil_{name}_dominant"),
            dom,
            ColumnMeta { source: src.clone(), unit: String::new(), method: format!("dominant condition: {method}") },
        )?;
    }
    let mut farm: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (pi, shares) in r.shares.iter().enumerate() {
        for (k, mk) in r.classes.iter().enumerate() {
            if let Some(Some(f)) = tables.farmland.get(mk) {
                if shares[k] > 0.0 {
                    farm.entry(f.clone()).or_insert_with(|| vec![0.0; r.shares.len()])[pi] += shares[k];
                }
            }
        }
    }
    let labels: Vec<String> = farm.keys().cloned().collect();
    let cols: Vec<Vec<f64>> = farm.into_values().collect();
    for (l, v) in labels.iter().zip(&cols) {
        t.add_column(
            format!("soil_farmland_{}_share", sanitize(l)),
            v.clone(),
            ColumnMeta {
                source: src.clone(),
                unit: "1".into(),
                method: "map-unit area share (SSURGO mapunit.farmlndcl)".into(),
            },
        )?;
    }
    let dom = dominant(&labels, &cols, r.shares.len());
    t.add_categorical(
        "soil_farmland_dominant",
        dom,
        ColumnMeta {
            source: src.clone(),
            unit: String::new(),
            method: "farmland class with the largest area share".into(),
        },
    )?;
    for (name, values) in &tables.aggregates {
        let per_class: Vec<Option<&String>> = r.classes.iter().map(|k| values.get(k)).collect();
        let numbers: Option<Vec<Option<f64>>> = per_class
            .iter()
            .map(|v| match v {
                None => Some(None),
                Some(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()).map(Some),
            })
            .collect();
        match numbers {
            Some(nums) => {
                let col: Vec<f64> = r
                    .shares
                    .iter()
                    .map(|shares| {
                        let (mut sum, mut w) = (0.0, 0.0);
                        for (k, v) in nums.iter().enumerate() {
                            if let (Some(v), true) = (v, shares[k] > 0.0) {
                                sum += shares[k] * v;
                                w += shares[k];
                            }
                        }
                        if w > 0.0 {
                            sum / w
                        } else {
                            f64::NAN
                        }
                    })
                    .collect();
                t.add_column(
                    format!("soil_{}", sanitize(name)),
                    col,
                    ColumnMeta {
                        source: src.clone(),
                        unit: String::new(),
                        method: format!("area-weighted mean over the map units with a value (SSURGO muaggatt.{name})"),
                    },
                )?;
            }
            None => {
                let mut by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
                for (pi, shares) in r.shares.iter().enumerate() {
                    for (k, v) in per_class.iter().enumerate() {
                        if let (Some(v), true) = (v, shares[k] > 0.0) {
                            by.entry(v.as_str()).or_insert_with(|| vec![0.0; r.shares.len()])[pi] += shares[k];
                        }
                    }
                }
                let labels: Vec<String> = by.keys().map(|s| s.to_string()).collect();
                let cols: Vec<Vec<f64>> = by.into_values().collect();
                t.add_categorical(
                    format!("soil_{}", sanitize(name)),
                    dominant(&labels, &cols, r.shares.len()),
                    ColumnMeta {
                        source: src.clone(),
                        unit: String::new(),
                        method: format!("value with the largest area share (SSURGO muaggatt.{name})"),
                    },
                )?;
            }
        }
    }
    Ok(())
}
