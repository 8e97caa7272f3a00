//! The search index over parcels.

use crate::convert::{build_table, config, to_object, Lend};
use crate::run;
use landopp::Crs;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SearchIndex>()?;
    Ok(())
}

/// A parcel search index (R-tree + features + scores) kept in Rust between queries.
#[pyclass(module = "landopp._landopp")]
#[derive(Debug)]
pub struct SearchIndex {
    inner: landopp::search::SearchIndex,
}

#[pymethods]
impl SearchIndex {
    /// Build from a parcel file (or WKB + CRS + ids), a feature table and an optional profile.
    #[new]
    #[pyo3(signature = (parcels, ids, columns, profile=None, id_field=None, layer=None, wkb=None, crs=None,
                        duplicate_ids="refuse"))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn new(
        py: Python<'_>,
        parcels: Option<String>,
        ids: Vec<String>,
        columns: Vec<(String, numpy::PyReadonlyArray1<'_, f64>, Option<Vec<Option<String>>>)>,
        profile: Option<&Bound<'_, PyAny>>,
        id_field: Option<String>,
        layer: Option<String>,
        wkb: Option<crate::io::GeomItems<'_>>,
        crs: Option<String>,
        duplicate_ids: &str,
    ) -> PyResult<Self> {
        let wkb = wkb.as_ref().map(|w| w.refs());
        let dup = landopp::vector::DuplicateIds::parse(duplicate_ids).map_err(|e| crate::error::to_py(py, e))?;
        let prof: Option<landopp::scoring::Profile> = profile.map(config).transpose()?;
        let inner = build_table(py, ids.clone(), columns, Lend::Copy, move |t| {
            let p = match (parcels, wkb) {
                (Some(path), _) => landopp::Parcels::read_with(&path, layer.as_deref(), id_field.as_deref(), dup)?,
                (None, Some(w)) => {
                    // in-memory parcels for search: parsed and checked for finite coordinates,
                    // not validated ring by ring (the index does not need it; `read_parcels` does)
                    use landopp::geo::CoordsIter;
                    let geometries = landopp::vector::to_multipolygons(crate::io::parse_geometries(&w)?)?;
                    if geometries.len() != ids.len() {
                        return Err(landopp::Error::InvalidInput(format!(
                            "{} geometries for {} feature rows",
                            geometries.len(),
                            ids.len()
                        )));
                    }
                    if let Some(i) =
                        geometries.iter().position(|g| g.coords_iter().any(|c| !c.x.is_finite() || !c.y.is_finite()))
                    {
                        return Err(landopp::Error::InvalidGeometry(format!(
                            "parcel {} has a non-finite coordinate",
                            ids[i]
                        )));
                    }
                    landopp::Parcels {
                        ids: ids.clone(),
                        geometries,
                        crs: crs.map(|c| Crs::from_user_input(&c)).transpose()?,
                        columns: vec![],
                        status: vec![],
                        name: "parcels".into(),
                    }
                }
                (None, None) => {
                    return Err(landopp::Error::InvalidInput("give a parcel path or WKB geometries".into()))
                }
            };
            landopp::search::SearchIndex::from_parcels(p, t, prof.as_ref())
        })?;
        Ok(SearchIndex { inner })
    }

    /// Run a query (a dict) and return the page (a dict).
    fn query<'py>(&self, py: Python<'py>, query: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let q: landopp::search::Query = config(query)?;
        let idx = &self.inner;
        let page = py.detach(|| idx.query(&q)).map_err(|e| crate::error::to_py(py, e))?;
        to_object(py, &page)
    }

    /// Run many queries (a list of query dicts) in parallel; hits as columns:
    /// `(query, row, score, rank, excluded, sort_value, totals, criteria, contribution (hits × k))`.
    #[allow(clippy::type_complexity)]
    fn query_many<'py>(&self, py: Python<'py>, queries: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        use numpy::IntoPyArray;
        // the Python list of query dicts read directly (no JSON round trip)
        let qs: Vec<landopp::search::Query> = config(queries)?;
        let idx = &self.inner;
        let t = run(py, move || idx.query_many(&qs))?;
        let d = PyDict::new(py);
        let n = t.row.len();
        let k = t.criteria.len();
        d.set_item("query", t.query.into_pyarray(py))?;
        d.set_item("row", t.row.into_pyarray(py))?;
        d.set_item("score", t.score.into_pyarray(py))?;
        d.set_item("rank", t.rank.into_pyarray(py))?;
        d.set_item("excluded", t.excluded.into_pyarray(py))?;
        d.set_item("sort_value", t.sort_value.into_pyarray(py))?;
        d.set_item("totals", t.totals)?;
        d.set_item("criteria", t.criteria)?;
        let c = numpy::ndarray::Array2::from_shape_vec((if k == 0 { 0 } else { n }, k), t.contribution)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        d.set_item("contribution", c.into_pyarray(py))?;
        Ok(d)
    }

    /// Re-score with a new profile (a dict, JSON/TOML text or a file) without recomputing features.
    fn rescore(&mut self, py: Python<'_>, profile: &Bound<'_, PyAny>) -> PyResult<()> {
        let p: landopp::scoring::Profile = config(profile)?;
        let idx = &mut self.inner;
        py.detach(|| idx.rescore(&p)).map_err(|e| crate::error::to_py(py, e))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Sites of adjacent matching parcels (a query dict), as a list of dicts.
    fn assemble_sites<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'py, PyAny>,
        tolerance_m: f64,
        min_acres: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let q: landopp::search::Query = config(query)?;
        let idx = &self.inner;
        let sites =
            py.detach(|| idx.assemble_sites(&q, tolerance_m, min_acres)).map_err(|e| crate::error::to_py(py, e))?;
        to_object(py, &sites)
    }

    /// Rank stability under weight perturbation (an options dict), as a dict.
    fn sensitivity<'py>(&self, py: Python<'py>, options: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let o: landopp::search::SensitivityOptions = config(options)?;
        let idx = &self.inner;
        let s = py.detach(|| idx.sensitivity(&o)).map_err(|e| crate::error::to_py(py, e))?;
        to_object(py, &s)
    }
}
