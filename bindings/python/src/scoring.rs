//! Scoring a table of lent numpy columns; results handed over as arrays.

use crate::convert::{build_table, config, to_object, Lend, PyColumns};
use crate::run;
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(profile_depends_on_candidates, m)?)?;
    m.add_class::<Scores>()?;
    Ok(())
}

/// Score a feature table `(ids, [(name, values, categories)])` with a profile (a dict, JSON/TOML
/// text or a file).
#[pyfunction]
#[pyo3(signature = (ids, columns, profile))]
pub(crate) fn score(
    py: Python<'_>,
    ids: Option<Vec<String>>,
    columns: PyColumns<'_>,
    profile: &Bound<'_, PyAny>,
) -> PyResult<Scores> {
    let p: landopp::scoring::Profile = config(profile)?;
    // ids stay on the Python side (the DataFrame index) unless given
    let n = columns.first().map_or(0, |c| c.1.len().unwrap_or(0));
    let ids = ids.map_or_else(|| landopp::features::blank_ids(n), std::sync::Arc::new);
    let (inner, parts) = build_table(py, ids, columns, Lend::Borrow, move |t| {
        // the arrays `take_arrays` hands over are built while the ranks are sorted
        landopp::scoring::score_and(&t, &p, score_parts)
    })?;
    Ok(Scores { inner, parts: Some(parts) })
}

/// Whether a profile's scores depend on the other parcels scored with them (the core's
/// `Method::depends_on_candidates`: TOPSIS); the profile is checked.
#[pyfunction]
pub(crate) fn profile_depends_on_candidates(profile: &Bound<'_, PyAny>) -> PyResult<bool> {
    let p: landopp::scoring::Profile = config(profile)?;
    Ok(p.method.depends_on_candidates())
}

/// Reason codes and reason sets, buildable acres.
pub(crate) type ScoreParts = ((ReasonCodes, Vec<String>), Vec<f64>);

pub(crate) fn score_parts(r: &landopp::scoring::ScoreResult) -> ScoreParts {
    let ((codes, sets), acres) = r.reason_sets_and_buildable_acres();
    ((ReasonCodes::narrow(codes, sets.len()), sets), acres)
}

/// Reason codes in the integer type pandas keeps for that many categories (int8 below 128, int16
/// below 32,768, else int32), so `pd.Categorical.from_codes` takes them without converting.
#[derive(Debug)]
pub(crate) enum ReasonCodes {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
}

impl ReasonCodes {
    fn narrow(codes: Vec<u32>, categories: usize) -> Self {
        use rayon::prelude::*;
        let m = 1 << 16;
        if categories < 1 << 7 {
            ReasonCodes::I8(codes.par_iter().with_min_len(m).map(|&c| c as i8).collect())
        } else if categories < 1 << 15 {
            ReasonCodes::I16(codes.par_iter().with_min_len(m).map(|&c| c as i16).collect())
        } else {
            // same size and alignment: collected in place, no allocation
            ReasonCodes::I32(codes.into_iter().map(|c| c as i32).collect())
        }
    }

    fn into_py(self, py: Python<'_>) -> Bound<'_, PyAny> {
        use numpy::IntoPyArray;
        match self {
            ReasonCodes::I8(v) => v.into_pyarray(py).into_any(),
            ReasonCodes::I16(v) => v.into_pyarray(py).into_any(),
            ReasonCodes::I32(v) => v.into_pyarray(py).into_any(),
        }
    }
}

/// Scores of every parcel, kept in Rust: arrays are handed to numpy without copying,
/// explanations are built on request.
#[pyclass(module = "landopp._landopp")]
#[derive(Debug)]
pub struct Scores {
    inner: landopp::scoring::ScoreResult,
    /// Built with the scores, until `take_arrays` takes them.
    parts: Option<ScoreParts>,
}

#[pymethods]
impl Scores {
    /// `(score, rank, excluded, reason codes, reason sets, buildable acres)` as numpy arrays
    /// (moved out: callable once): rank as float64 (as pandas' `rank` gives it: `average` ties
    /// are halves) and reason codes in the smallest integer type for the number of sets, built
    /// with the GIL released.
    #[allow(clippy::type_complexity)]
    fn take_arrays<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(
        Bound<'py, numpy::PyArray1<f64>>,
        Bound<'py, numpy::PyArray1<f64>>,
        Bound<'py, numpy::PyArray1<bool>>,
        Bound<'py, PyAny>,
        Vec<String>,
        Bound<'py, numpy::PyArray1<f64>>,
    )> {
        use numpy::IntoPyArray;
        let r = &mut self.inner;
        let parts = self.parts.take();
        let (score, rank, excluded, codes, sets, acres) = run(py, move || {
            let rank = std::mem::take(&mut r.rank);
            let (score, excluded) = (std::mem::take(&mut r.score), std::mem::take(&mut r.excluded));
            let ((codes, sets), acres) = parts.unwrap_or_else(|| score_parts(r));
            Ok((score, rank, excluded, codes, sets, acres))
        })?;
        Ok((
            score.into_pyarray(py),
            rank.into_pyarray(py),
            excluded.into_pyarray(py),
            codes.into_py(py),
            sets,
            acres.into_pyarray(py),
        ))
    }

    /// Ids, shared with the table.
    fn ids(&self) -> Vec<String> {
        self.inner.ids.to_vec()
    }

    /// Buildable acres of every parcel.
    fn buildable_acres<'py>(&self, py: Python<'py>) -> Bound<'py, numpy::PyArray1<f64>> {
        use numpy::IntoPyArray;
        let r = &self.inner;
        py.detach(|| r.buildable_acres()).into_pyarray(py)
    }

    /// Reasons as `(codes, categories)`: per parcel an index into the distinct ";"-joined sets.
    fn reasons<'py>(&self, py: Python<'py>) -> (Bound<'py, numpy::PyArray1<u32>>, Vec<String>) {
        use numpy::IntoPyArray;
        let r = &self.inner;
        let (codes, cats) = py.detach(|| r.reason_sets());
        (codes.into_pyarray(py), cats)
    }

    /// Explanations of the given rows (all when `None`): per row, a list of per-criterion dicts.
    #[pyo3(signature = (rows=None))]
    fn explanations<'py>(&self, py: Python<'py>, rows: Option<Vec<usize>>) -> PyResult<Bound<'py, PyAny>> {
        let r = &self.inner;
        let n = r.ids.len();
        let ex = run(py, move || {
            let rows = rows.unwrap_or_else(|| (0..n).collect());
            if let Some(bad) = rows.iter().find(|&&i| i >= n) {
                return Err(landopp::Error::InvalidInput(format!("row {bad} out of range ({n} parcels)")));
            }
            Ok(rows.iter().map(|&i| r.explanation(i)).collect::<Vec<Vec<landopp::scoring::Contribution>>>())
        })?;
        to_object(py, &ex)
    }

    /// The aggregation method.
    #[getter]
    fn method(&self) -> String {
        self.inner.method.clone()
    }

    fn __len__(&self) -> usize {
        self.inner.ids.len()
    }
}
