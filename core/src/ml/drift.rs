//! Drift of new data against the training reference: population stability index (PSI, on the
//! reference's quantile bins) and the two-sample Kolmogorov–Smirnov statistic, per feature and for
//! the predictions, with thresholds; a report that serialises to JSON.

use crate::error::{Error, Result};
use serde::Serialize;

/// Drift of one column.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    /// Column (feature name, or `prediction`).
    pub name: String,
    /// Population stability index.
    pub psi: f64,
    /// Kolmogorov–Smirnov statistic (max CDF distance).
    pub ks: f64,
    /// PSI or KS above its threshold.
    pub drifted: bool,
}

/// A drift report.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// PSI threshold used (0.2: "significant shift" in credit-risk practice).
    pub psi_threshold: f64,
    /// KS threshold used.
    pub ks_threshold: f64,
    /// Per column.
    pub columns: Vec<ColumnDrift>,
    /// Names of the drifted columns.
    pub drifted: Vec<String>,
}

fn finite(v: &[f64]) -> Vec<f64> {
    let mut f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    f.sort_by(f64::total_cmp);
    f
}

/// PSI of `current` against `reference` over `bins` quantile bins of the reference
/// (shares floored at 1e-4 to keep empty bins finite). NaNs are ignored.
pub fn psi(reference: &[f64], current: &[f64], bins: usize) -> Result<f64> {
    let (r, c) = (finite(reference), finite(current));
    if r.is_empty() || c.is_empty() || bins < 2 {
        return Err(Error::Empty("drift needs finite values on both sides and >= 2 bins".into()));
    }
    let mut edges: Vec<f64> = (1..bins).map(|k| r[(k * r.len() / bins).min(r.len() - 1)]).collect();
    edges.dedup();
    let share = |v: &[f64]| {
        let mut counts = vec![0.0; edges.len() + 1];
        for x in v {
            counts[edges.partition_point(|e| e <= x)] += 1.0;
        }
        counts.iter().map(|n| (n / v.len() as f64).max(1e-4)).collect::<Vec<_>>()
    };
    let (a, b) = (share(&r), share(&c));
    Ok(a.iter().zip(&b).map(|(p, q)| (q - p) * (q / p).ln()).sum())
}

/// Two-sample Kolmogorov–Smirnov statistic (NaNs ignored).
pub fn ks(a: &[f64], b: &[f64]) -> Result<f64> {
    let (a, b) = (finite(a), finite(b));
    if a.is_empty() || b.is_empty() {
        return Err(Error::Empty("drift needs finite values on both sides".into()));
    }
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    Ok(d)
}

/// Drift of each named column (reference vs current) with thresholds (defaults 0.2 PSI, 0.1 KS).
pub fn report(
    columns: &[(&str, &[f64], &[f64])],
    psi_threshold: Option<f64>,
    ks_threshold: Option<f64>,
) -> Result<DriftReport> {
    let (pt, kt) = (psi_threshold.unwrap_or(0.2), ks_threshold.unwrap_or(0.1));
    let cols = columns
        .iter()
        .map(|(name, r, c)| {
            let (p, k) = (psi(r, c, 10)?, ks(r, c)?);
            Ok(ColumnDrift { name: name.to_string(), psi: p, ks: k, drifted: p > pt || k > kt })
        })
        .collect::<Result<Vec<_>>>()?;
    let drifted = cols.iter().filter(|c| c.drifted).map(|c| c.name.clone()).collect();
    Ok(DriftReport { psi_threshold: pt, ks_threshold: kt, columns: cols, drifted })
}

/// [`report`] over the numeric columns of `reference` that `current` also has (categorical
/// columns are skipped).
pub fn report_tables(
    reference: &crate::features::FeatureTable,
    current: &crate::features::FeatureTable,
    psi_threshold: Option<f64>,
    ks_threshold: Option<f64>,
) -> Result<DriftReport> {
    let cols: Vec<(&str, &[f64], &[f64])> = reference
        .columns()
        .iter()
        .filter(|col| !col.is_categorical())
        .filter_map(|col| current.column(&col.name).ok().map(|cc| (col.name.as_str(), &col.values[..], &cc.values[..])))
        .collect();
    report(&cols, psi_threshold, ks_threshold)
}

/// Deterministic A/B assignment: SHA-256 of `salt` + parcel id → B when its first 8 bytes, as a
/// fraction of 2⁶⁴, fall below `share_b`; the same parcel always gets the same model.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AbSplit {
    /// Salt (change it to reshuffle).
    pub salt: String,
    /// Share of parcels routed to model B (0..1).
    pub share_b: f64,
    /// Version of model A.
    pub model_a: String,
    /// Version of model B.
    pub model_b: String,
}

impl AbSplit {
    /// The model version serving `parcel_id`.
    pub fn assign(&self, parcel_id: &str) -> Result<&str> {
        use sha2::{Digest, Sha256};
        if !(0.0..=1.0).contains(&self.share_b) {
            return Err(Error::InvalidInput(format!("share_b {} outside 0..1", self.share_b)));
        }
        let h = Sha256::digest(format!("{}\u{1f}{}", self.salt, parcel_id).as_bytes());
        let u = u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) as f64 / 2f64.powi(64);
        Ok(if u < self.share_b { &self.model_b } else { &self.model_a })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_ks_and_ab() {
        let r: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert!(psi(&r, &r, 10).unwrap().abs() < 1e-12 && ks(&r, &r).unwrap() == 0.0);
        let shifted: Vec<f64> = r.iter().map(|x| x + 300.0).collect();
        let rep = report(&[("a", &r, &r), ("b", &r, &shifted)], None, None).unwrap();
        assert_eq!(rep.drifted, vec!["b"]);
        assert!((ks(&r, &shifted).unwrap() - 0.3).abs() < 1e-9);
        assert!(rep.columns[1].psi > 0.2);
        let ab = AbSplit { salt: "s".into(), share_b: 0.3, model_a: "1.0".into(), model_b: "1.1".into() };
        let n_b = (0..10_000).filter(|i| ab.assign(&i.to_string()).unwrap() == "1.1").count();
        assert!((2_800..3_200).contains(&n_b), "{n_b}");
        assert_eq!(ab.assign("R31-004").unwrap(), ab.assign("R31-004").unwrap());
        assert_eq!(psi(&[], &r, 10).unwrap_err().code(), "EMPTY");
    }
}
