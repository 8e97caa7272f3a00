//! Readers, writers, CRS and geodesic functions.

use crate::convert::{band_from_py, raster_to_py};
use crate::run;
use landopp::geo_types::Geometry;
use landopp::vector::{self, wkb, ColumnData, ReadOptions};
use landopp::{Crs, Error, GeoTransform, Raster, Transformer, VectorLayer, Window};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

/// Two float arrays (x/y, area/perimeter).
type ArrayPair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);
/// `(epsg, name, proj, is_geographic, linear_unit_m)`.
type CrsTuple = (Option<u32>, String, String, bool, Option<f64>);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_raster, m)?)?;
    m.add_function(wrap_pyfunction!(read_raster_start, m)?)?;
    m.add_class::<PendingRaster>()?;
    m.add_function(wrap_pyfunction!(raster_meta, m)?)?;
    m.add_function(wrap_pyfunction!(write_raster, m)?)?;
    m.add_function(wrap_pyfunction!(read_layer, m)?)?;
    m.add_function(wrap_pyfunction!(list_layers, m)?)?;
    m.add_function(wrap_pyfunction!(write_layer, m)?)?;
    m.add_function(wrap_pyfunction!(validate_layer, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(crs_info, m)?)?;
    m.add_function(wrap_pyfunction!(transform_xy, m)?)?;
    m.add_function(wrap_pyfunction!(geodesic_area_perimeter, m)?)?;
    m.add_function(wrap_pyfunction!(parcel_status, m)?)?;
    m.add_function(wrap_pyfunction!(ring_fallbacks, m)?)?;
    Ok(())
}

/// Read a GeoTIFF (whole, or a window `(row, col, rows, cols)`, optionally one band; the full
/// image, an overview, or the coarsest image within a resolution).
#[pyfunction]
#[pyo3(signature = (path, window=None, band=None, overview=None, resolution=None))]
fn read_raster(
    py: Python<'_>,
    path: String,
    window: Option<(usize, usize, usize, usize)>,
    band: Option<usize>,
    overview: Option<usize>,
    resolution: Option<f64>,
) -> PyResult<Bound<'_, PyDict>> {
    let r = run(py, move || read_geotiff(&path, window, band, overview, resolution))?;
    raster_to_py(py, r)
}

/// A GeoTIFF, whole or a window, optionally one band, from the full image or an overview.
fn read_geotiff(
    path: &str,
    window: Option<(usize, usize, usize, usize)>,
    band: Option<usize>,
    overview: Option<usize>,
    resolution: Option<f64>,
) -> landopp::Result<Raster> {
    let window = window.map(|(r, c, h, w)| Window::new(r, c, h, w));
    Raster::read_with(path, &landopp::raster::ReadOptions { window, band, overview, resolution })
}

/// A GeoTIFF being read on landopp's threads while Python does other work (the zonal wrapper
/// encodes a GeoDataFrame's geometries meanwhile); `result()` waits for it.
#[pyclass(module = "landopp._landopp")]
struct PendingRaster {
    rx: std::sync::Mutex<Option<std::sync::mpsc::Receiver<landopp::Result<Raster>>>>,
}

/// Start reading a GeoTIFF (optionally one band) in the background.
#[pyfunction]
#[pyo3(signature = (path, band=None))]
fn read_raster_start(py: Python<'_>, path: String, band: Option<usize>) -> PyResult<PendingRaster> {
    let pool = crate::pool().map_err(|e| crate::error::to_py(py, e))?;
    let (tx, rx) = std::sync::mpsc::channel();
    pool.spawn(move || {
        let _ = tx.send(landopp::error::catch_panic(|| read_geotiff(&path, None, band, None, None)));
    });
    Ok(PendingRaster { rx: std::sync::Mutex::new(Some(rx)) })
}

#[pymethods]
impl PendingRaster {
    /// The raster (as `read_raster` returns it), waiting with the GIL released.
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rx = self.rx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let rx = rx.ok_or_else(|| {
            crate::error::to_py(py, Error::InvalidInput("the pending raster's result was already taken".into()))
        })?;
        let (out, signal) = py.detach(move || crate::recv_polling(&rx));
        raster_to_py(py, crate::finish(py, out, signal)?)
    }
}

/// GeoTIFF metadata without reading cells.
#[pyfunction]
fn raster_meta(py: Python<'_>, path: String) -> PyResult<Bound<'_, PyDict>> {
    let t = run(py, move || landopp::GeoTiff::open(&path))?;
    let d = PyDict::new(py);
    d.set_item("width", t.width())?;
    d.set_item("height", t.height())?;
    d.set_item("count", t.band_count())?;
    d.set_item("dtype", t.dtype().gdal_name())?;
    d.set_item("transform", t.transform().0.to_vec())?;
    d.set_item("crs", t.crs().map(|c| c.to_user_string()))?;
    d.set_item("nodata", t.nodata())?;
    d.set_item("block_size", t.block_size())?;
    d.set_item("blocks", t.blocks().iter().map(|w| (w.row, w.col, w.rows, w.cols)).collect::<Vec<_>>())?;
    d.set_item("overviews", t.overviews())?;
    Ok(d)
}

/// Write bands (2-D numpy arrays of one dtype) as a tiled Deflate GeoTIFF.
#[pyfunction]
#[pyo3(signature = (path, bands, transform, crs=None, nodata=None, tile_size=256, compress="deflate", predictor=None))]
#[allow(clippy::too_many_arguments)]
fn write_raster(
    py: Python<'_>,
    path: String,
    bands: Vec<Bound<'_, PyAny>>,
    transform: [f64; 6],
    crs: Option<String>,
    nodata: Option<f64>,
    tile_size: usize,
    compress: &str,
    predictor: Option<u8>,
) -> PyResult<()> {
    use landopp::raster::{write_geotiff, Compression, GeoTiffWriteOptions, Predictor};
    let data = bands.iter().map(band_from_py).collect::<PyResult<Vec<_>>>()?;
    let compression = Compression::parse(compress).map_err(|e| crate::error::to_py(py, e))?;
    let predictor = match predictor {
        None | Some(1) => Predictor::None,
        Some(2) => Predictor::Horizontal,
        Some(3) => Predictor::FloatingPoint,
        Some(p) => return Err(crate::error::to_py(py, Error::InvalidInput(format!("predictor={p} (use 1, 2 or 3)")))),
    };
    run(py, move || {
        let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
        let r = Raster::new(data, GeoTransform(transform), crs, nodata)?;
        write_geotiff(&path, &r, &GeoTiffWriteOptions { tile_size, compression, predictor })
    })
}

fn column_to_py<'py>(py: Python<'py>, c: &ColumnData) -> PyResult<Bound<'py, PyAny>> {
    Ok(match c {
        ColumnData::Int(v) if v.iter().all(Option::is_some) => {
            v.iter().map(|x| x.unwrap_or_default()).collect::<Vec<i64>>().into_pyarray(py).into_any()
        }
        ColumnData::Float(v) => {
            v.iter().map(|x| x.unwrap_or(f64::NAN)).collect::<Vec<f64>>().into_pyarray(py).into_any()
        }
        ColumnData::Int(v) => PyList::new(py, v)?.into_any(),
        ColumnData::Text(v) => PyList::new(py, v)?.into_any(),
        ColumnData::Bool(v) => PyList::new(py, v)?.into_any(),
        ColumnData::Binary(v) => PyList::new(py, v.iter().map(|b| b.as_ref().map(|b| PyBytes::new(py, b))))?.into_any(),
        // int64 counts that Python views as datetime64[D] / [ms] (i64::MIN is NaT)
        ColumnData::Date(v) => {
            v.iter().map(|d| d.map_or(i64::MIN, i64::from)).collect::<Vec<i64>>().into_pyarray(py).into_any()
        }
        ColumnData::DateTime(v) => {
            let utc = utc_offset(v).is_some();
            v.iter()
                .map(|t| match t {
                    None => i64::MIN,
                    // one zone for the column: UTC instants; no zone (or a mix): wall clock
                    Some(t) if utc => t.ms,
                    Some(t) => t.ms + i64::from(t.offset_min.unwrap_or(0)) * 60_000,
                })
                .collect::<Vec<i64>>()
                .into_pyarray(py)
                .into_any()
        }
    })
}

/// The zone of a date-time column as pandas gets it: the one UTC offset every value carries
/// (minutes), or `None` when values have no zone or different ones (then naive wall-clock
/// times, as pyogrio gives mixed zones).
fn utc_offset(v: &[Option<landopp::vector::Timestamp>]) -> Option<i16> {
    let mut zones = v.iter().flatten().map(|t| t.offset_min);
    let first = zones.next()??;
    zones.all(|z| z == Some(first)).then_some(first)
}

pub(crate) fn layer_to_py(
    py: Python<'_>,
    l: VectorLayer,
    status: Option<Vec<String>>,
    ids: Option<Vec<String>>,
) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &l.name)?;
    d.set_item("crs", l.crs.as_ref().map(|c| c.to_user_string()))?;
    d.set_item("geometry_type", &l.geometry_type)?;
    d.set_item("fids", l.fids.clone().into_pyarray(py))?;
    let wkbs: Vec<Option<Bound<'_, PyBytes>>> = l
        .geometries
        .iter()
        .map(|g| {
            g.as_ref().map(|g| {
                let mut v = Vec::with_capacity(64);
                wkb::write(g, &mut v);
                PyBytes::new(py, &v)
            })
        })
        .collect();
    d.set_item("wkb", wkbs)?;
    let cols = PyDict::new(py);
    for c in &l.columns {
        cols.set_item(&c.name, column_to_py(py, &c.data)?)?;
    }
    d.set_item("columns", cols)?;
    d.set_item("types", l.columns.iter().map(|c| (c.name.clone(), c.data.type_name())).collect::<Vec<_>>())?;
    let zones = PyDict::new(py);
    for c in &l.columns {
        if let ColumnData::DateTime(v) = &c.data {
            zones.set_item(&c.name, utc_offset(v))?;
        }
    }
    d.set_item("utc_offsets", zones)?;
    if let Some(s) = status {
        d.set_item("status", s)?;
    }
    if let Some(ids) = ids {
        d.set_item("ids", ids)?;
    }
    Ok(d)
}

/// Read a vector layer. With `parcels=True` the layer is validated as parcels (polygons only,
/// finite coordinates, invalid rings flagged) and ids come from `id_field` (repeats: refused, or
/// suffixed with `duplicate_ids="suffix"`).
#[pyfunction]
#[pyo3(signature = (path, layer=None, parcels=false, id_field=None, duplicate_ids="refuse"))]
fn read_layer<'py>(
    py: Python<'py>,
    path: String,
    layer: Option<String>,
    parcels: bool,
    id_field: Option<String>,
    duplicate_ids: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let dup = landopp::vector::DuplicateIds::parse(duplicate_ids).map_err(|e| crate::error::to_py(py, e))?;
    let (l, status, ids) = run(py, move || {
        let l = vector::read_layer(&path, &ReadOptions { layer })?;
        if parcels {
            let p = landopp::Parcels::from_layer_with(l, id_field.as_deref(), dup)?;
            let status = p.status.iter().map(ToString::to_string).collect();
            let ids = p.ids.clone();
            Ok((p.to_layer(), Some(status), Some(ids)))
        } else {
            Ok((l, None, None))
        }
    })?;
    layer_to_py(py, l, status, ids)
}

/// Feature layers of a vector file.
#[pyfunction]
fn list_layers(py: Python<'_>, path: String) -> PyResult<Vec<String>> {
    run(py, move || vector::list_layers(&path))
}

/// The geometries of one call, in row order, parsed in parallel on the core's threads (called off
/// the GIL); the first error in row order.
pub(crate) fn parse_geometries(items: &GeomRefs<'_>) -> landopp::Result<Vec<Option<Geometry<f64>>>> {
    use rayon::prelude::*;
    let parsed: Vec<landopp::Result<Option<Geometry<f64>>>> =
        (0..items.wkb.len()).into_par_iter().map(|i| items.get(i)).collect();
    parsed.into_iter().collect()
}

/// Marker of the packed geometry form (first item of the tuple built by
/// `landopp._io._geometries`).
const PACKED: &str = "landopp-packed";

/// Geometries lent by Python, read in place (no copy) while the call holds references to them:
/// * WKB: `bytes` objects (`None` for a missing geometry) in a list or a numpy object array;
///   Python `bytes` are immutable, so reading them off the GIL is sound;
/// * packed: `("landopp-packed", coords, offsets, types, wkb)`: single-ring polygons as rows
///   `offsets[i]..offsets[i + 1]` of one C-contiguous `(n, 2)` float64 array (shapely's
///   `get_coordinates`; type id 3 a Polygon, 6 a MultiPolygon of that one polygon), every other
///   row as WKB in `wkb` (`None` there and an empty range: a missing geometry). Skips shapely's
///   WKB encoding for the rows that need none of it (see [`ring_fallbacks`]).
pub(crate) struct GeomItems<'py> {
    wkb: Vec<Option<WkbItem<'py>>>,
    rings: Option<Rings<'py>>,
}

/// The coordinate part of the packed form.
struct Rings<'py> {
    coords: PyReadonlyArray2<'py, f64>,
    offsets: PyReadonlyArray1<'py, i64>,
    types: PyReadonlyArray1<'py, i32>,
}

/// One lent WKB value: `bytes` (read in place) or another buffer (`bytearray`, ...) copied.
enum WkbItem<'py> {
    Bytes(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

fn wkb_items<'py>(ob: &Bound<'py, PyAny>) -> PyResult<Vec<Option<WkbItem<'py>>>> {
    let mut items = Vec::with_capacity(ob.len().unwrap_or(0));
    for item in ob.try_iter()? {
        let item = item?;
        items.push(if item.is_none() {
            None
        } else {
            match item.cast_into::<PyBytes>() {
                Ok(b) => Some(WkbItem::Bytes(b)),
                Err(e) => Some(WkbItem::Owned(e.into_inner().extract::<Vec<u8>>()?)),
            }
        });
    }
    Ok(items)
}

impl<'py> FromPyObject<'_, 'py> for GeomItems<'py> {
    type Error = PyErr;
    fn extract(ob: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(t) = ob.cast::<PyTuple>() {
            if t.len() == 5 && t.get_item(0)?.extract::<&str>().is_ok_and(|m| m == PACKED) {
                return packed(&t);
            }
        }
        Ok(GeomItems { wkb: wkb_items(&ob)?, rings: None })
    }
}

fn packed<'py>(t: &Bound<'py, PyTuple>) -> PyResult<GeomItems<'py>> {
    let bad = |m: &str| crate::error::to_py(t.py(), Error::InvalidInput(format!("packed geometries: {m}")));
    let coords: PyReadonlyArray2<'py, f64> = t.get_item(1)?.extract()?;
    let offsets: PyReadonlyArray1<'py, i64> = t.get_item(2)?.extract()?;
    let types: PyReadonlyArray1<'py, i32> = t.get_item(3)?.extract()?;
    let wkb = wkb_items(&t.get_item(4)?)?;
    let (o, c) = (offsets.as_slice().map_err(|_| bad("offsets not contiguous"))?, coords.as_slice());
    if coords.shape()[1] != 2 || c.is_err() {
        return Err(bad("coordinates must be a C-contiguous (n, 2) array"));
    }
    if o.len() != wkb.len() + 1 || types.len() != wkb.len() {
        return Err(bad("offsets, types and wkb lengths disagree"));
    }
    if !offsets_fit(o, coords.shape()[0]) {
        return Err(bad("offsets must rise from 0 within the coordinates"));
    }
    Ok(GeomItems { wkb, rings: Some(Rings { coords, offsets, types }) })
}

/// Whether `offsets` start at 0 and never fall, ending within `n` coordinates.
fn offsets_fit(offsets: &[i64], n: usize) -> bool {
    offsets.first() == Some(&0) && offsets.windows(2).all(|w| w[1] >= w[0]) && offsets[offsets.len() - 1] as usize <= n
}

/// Borrowed geometries of one call (taken while holding the GIL; sendable to the core's threads).
pub(crate) struct GeomRefs<'a> {
    wkb: Vec<Option<&'a [u8]>>,
    /// Packed rings: `(x0, y0, x1, ...)`, offsets in coordinates, shapely type ids.
    rings: Option<(&'a [f64], &'a [i64], &'a [i32])>,
}

impl GeomItems<'_> {
    /// The geometries, in order, borrowed for a call.
    pub(crate) fn refs(&self) -> GeomRefs<'_> {
        let wkb = self
            .wkb
            .iter()
            .map(|g| {
                g.as_ref().map(|g| match g {
                    WkbItem::Bytes(b) => b.as_bytes(),
                    WkbItem::Owned(v) => v.as_slice(),
                })
            })
            .collect();
        // contiguity was checked on extraction
        let rings = self
            .rings
            .as_ref()
            .and_then(|r| Some((r.coords.as_slice().ok()?, r.offsets.as_slice().ok()?, r.types.as_slice().ok()?)));
        GeomRefs { wkb, rings }
    }
}

impl GeomRefs<'_> {
    /// Row `i`: its WKB when given, else its packed ring, else missing.
    fn get(&self, i: usize) -> landopp::Result<Option<Geometry<f64>>> {
        use landopp::geo_types::{Coord, LineString, MultiPolygon, Polygon};
        if let Some(b) = self.wkb[i] {
            return wkb::read(b).map(Some);
        }
        let Some((c, o, t)) = self.rings else { return Ok(None) };
        let (s, e) = (o[i] as usize, o[i + 1] as usize);
        if s == e {
            return Ok(None);
        }
        let ring = &c[2 * s..2 * e];
        if e - s < 4 || ring[..2] != ring[ring.len() - 2..] {
            return Err(Error::InvalidInput(format!(
                "packed geometry {i}: not a closed ring of 4 or more coordinates"
            )));
        }
        let ring: Vec<Coord<f64>> = ring.chunks_exact(2).map(|p| Coord { x: p[0], y: p[1] }).collect();
        let poly = Polygon::new(LineString(ring), vec![]);
        Ok(Some(match t[i] {
            3 => Geometry::Polygon(poly),
            6 => Geometry::MultiPolygon(MultiPolygon(vec![poly])),
            k => return Err(Error::InvalidInput(format!("packed geometry {i}: type id {k} is not a polygon"))),
        }))
    }
}

/// Rows of a packed geometry column that need WKB: all but the (Multi)Polygons of exactly one
/// polygon whose coordinates are one closed ring (`types` 3/6, `parts` 1, at least 4 coordinates,
/// the first coordinate recurring only as the last), and the missing ones (type id -1). A ring
/// that touches its start vertex midway is sent as WKB too: the rule only ever errs towards WKB.
#[pyfunction]
fn ring_fallbacks<'py>(
    py: Python<'py>,
    coords: PyReadonlyArray2<'py, f64>,
    offsets: PyReadonlyArray1<'py, i64>,
    types: PyReadonlyArray1<'py, i32>,
    parts: PyReadonlyArray1<'py, i32>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (c, o, t, p) = (coords.as_slice()?, offsets.as_slice()?, types.as_slice()?, parts.as_slice()?);
    if coords.shape()[1] != 2 || o.len() != t.len() + 1 || p.len() != t.len() || !offsets_fit(o, coords.shape()[0]) {
        return Err(crate::error::to_py(py, Error::InvalidInput("ring_fallbacks: array shapes disagree".into())));
    }
    let one_ring = |i: usize| {
        let (s, e) = (o[i] as usize, o[i + 1] as usize);
        let pt = |k: usize| (c[2 * k], c[2 * k + 1]);
        (t[i] == 3 || t[i] == 6)
            && p[i] == 1
            && e >= s + 4
            && pt(e - 1) == pt(s)
            && (s + 1..e - 1).all(|k| pt(k) != pt(s))
    };
    let v: Vec<i64> = (0..t.len()).filter(|&i| t[i] != -1 && !one_ring(i)).map(|i| i as i64).collect();
    Ok(v.into_pyarray(py))
}

/// Columns given as Python sequences (`(kind, values, zone)` for dates and date-times), typed.
fn columns_from_py(py: Python<'_>, columns: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<Vec<landopp::vector::Column>> {
    use landopp::vector::Column;
    let mut cols = Vec::new();
    for (n, v) in columns {
        let data = if let Ok((kind, a, zone)) = v.extract::<(String, Vec<Option<i64>>, Option<i16>)>() {
            match kind.as_str() {
                "date" => ColumnData::Date(
                    a.into_iter().map(|d| d.map(i32::try_from).transpose()).collect::<Result<_, _>>().map_err(
                        |_| crate::error::to_py(py, Error::InvalidInput(format!("column {n:?}: date out of range"))),
                    )?,
                ),
                "datetime" => ColumnData::DateTime(
                    a.into_iter().map(|ms| ms.map(|ms| landopp::vector::Timestamp { ms, offset_min: zone })).collect(),
                ),
                k => {
                    return Err(crate::error::to_py(
                        py,
                        Error::InvalidInput(format!("column {n:?}: unknown temporal kind {k:?}")),
                    ))
                }
            }
        } else if let Ok(a) = v.extract::<Vec<Option<i64>>>() {
            ColumnData::Int(a)
        } else if let Ok(a) = v.extract::<Vec<Option<f64>>>() {
            ColumnData::Float(a.into_iter().map(|x| x.filter(|f| !f.is_nan())).collect())
        } else if let Ok(a) = v.extract::<Vec<Option<bool>>>() {
            ColumnData::Bool(a)
        } else {
            ColumnData::Text(v.extract::<Vec<Option<String>>>()?)
        };
        cols.push(Column { name: n, data });
    }
    Ok(cols)
}

/// A layer of parsed geometries and columns (called off the GIL).
fn build_layer(
    wkb: &GeomRefs<'_>,
    cols: Vec<landopp::vector::Column>,
    crs: Option<String>,
    name: String,
) -> landopp::Result<VectorLayer> {
    let geometries = parse_geometries(wkb)?;
    let n = geometries.len();
    if let Some(c) = cols.iter().find(|c| c.data.len() != n) {
        return Err(Error::InvalidInput(format!("column {:?} has {} values for {n} geometries", c.name, c.data.len())));
    }
    Ok(VectorLayer {
        name,
        crs: crs.map(|c| Crs::from_user_input(&c)).transpose()?,
        fids: (0..n as i64).collect(),
        geometries,
        columns: cols,
        geometry_type: "GEOMETRY".into(),
    })
}

/// Write features (WKB + columns of floats/ints/strings) as GeoJSON or GeoPackage.
#[pyfunction]
#[pyo3(signature = (path, wkb, columns, crs=None, name="layer".to_string()))]
fn write_layer(
    py: Python<'_>,
    path: String,
    wkb: GeomItems<'_>,
    columns: Vec<(String, Bound<'_, PyAny>)>,
    crs: Option<String>,
    name: String,
) -> PyResult<()> {
    let cols = columns_from_py(py, columns)?;
    let wkb = wkb.refs();
    run(py, move || vector::write_layer(&path, &build_layer(&wkb, cols, crs, name)?))
}

/// Check a layer — a file (`path`, `layer`) or features (`wkb`, `columns`, `crs`) — against a
/// table schema; the report as a dict.
#[pyfunction]
#[pyo3(signature = (schema, path=None, layer=None, wkb=None, columns=None, crs=None))]
fn validate_layer<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyAny>,
    path: Option<String>,
    layer: Option<String>,
    wkb: Option<GeomItems<'py>>,
    columns: Option<Vec<(String, Bound<'py, PyAny>)>>,
    crs: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let schema: landopp::vector::validate::TableSchema = crate::convert::config(schema)?;
    let cols = columns.map(|c| columns_from_py(py, c)).transpose()?.unwrap_or_default();
    let wkb = wkb.as_ref().map(|w| w.refs());
    let report = run(py, move || {
        let l = match (&path, &wkb) {
            (Some(p), _) => vector::read_layer(p, &ReadOptions { layer })?,
            (None, Some(w)) => build_layer(w, cols, crs, "layer".into())?,
            (None, None) => return Err(Error::InvalidInput("validate: give a path or features".into())),
        };
        landopp::vector::validate::validate(&l, &schema)
    })?;
    crate::convert::to_object(py, &report)
}

/// `landopp info` (a dict).
#[pyfunction]
fn info(py: Python<'_>, path: String) -> PyResult<Bound<'_, PyAny>> {
    let i = run(py, move || landopp::info::info(&path))?;
    crate::convert::to_object(py, &i)
}

/// `(epsg or None, name, proj string, is_geographic, linear unit in metres or None)`.
#[pyfunction]
fn crs_info(py: Python<'_>, crs: String) -> PyResult<CrsTuple> {
    run(py, move || {
        let c = Crs::from_user_input(&crs)?;
        Ok((c.epsg(), c.name().to_string(), c.proj_string().to_string(), c.is_geographic(), c.linear_unit_m()))
    })
}

/// Transform coordinate arrays (x/lon, y/lat order).
#[pyfunction]
fn transform_xy<'py>(
    py: Python<'py>,
    src: String,
    dst: String,
    x: PyReadonlyArray1<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
) -> PyResult<ArrayPair<'py>> {
    let xs = x.as_slice()?.to_vec();
    let ys = y.as_slice()?.to_vec();
    let (ox, oy) = run(py, move || {
        if xs.len() != ys.len() {
            return Err(Error::InvalidInput(format!("x has {} values, y has {}", xs.len(), ys.len())));
        }
        let t = Transformer::new(&Crs::from_user_input(&src)?, &Crs::from_user_input(&dst)?)?;
        let mut c: Vec<landopp::geo_types::Coord<f64>> =
            xs.iter().zip(&ys).map(|(x, y)| landopp::geo_types::Coord { x: *x, y: *y }).collect();
        t.transform_coords(&mut c)?;
        Ok((c.iter().map(|c| c.x).collect::<Vec<_>>(), c.iter().map(|c| c.y).collect::<Vec<_>>()))
    })?;
    Ok((ox.into_pyarray(py), oy.into_pyarray(py)))
}

/// Geodesic area (m²) and perimeter (m) of WKB polygons in `crs`.
#[pyfunction]
fn geodesic_area_perimeter<'py>(py: Python<'py>, wkb: GeomItems<'_>, crs: String) -> PyResult<ArrayPair<'py>> {
    let wkb = wkb.refs();
    let (a, p) = run(py, move || {
        let mp = vector::to_multipolygons(parse_geometries(&wkb)?)?;
        let crs = Crs::from_user_input(&crs)?;
        let v = landopp::geodesic::area_perimeter(&mp, Some(&crs))?;
        Ok((v.iter().map(|x| x.0).collect::<Vec<_>>(), v.iter().map(|x| x.1).collect::<Vec<_>>()))
    })?;
    Ok((a.into_pyarray(py), p.into_pyarray(py)))
}

/// Validity of WKB polygons as parcels ("valid", "empty", "invalid: reason").
#[pyfunction]
fn parcel_status(py: Python<'_>, wkb: GeomItems<'_>) -> PyResult<Vec<String>> {
    let wkb = wkb.refs();
    run(py, move || {
        let geometries = parse_geometries(&wkb)?;
        let n = geometries.len();
        let layer = VectorLayer {
            name: "parcels".into(),
            crs: None,
            fids: (0..n as i64).collect(),
            geometries,
            columns: vec![],
            geometry_type: "POLYGON".into(),
        };
        let p = landopp::Parcels::from_layer(layer, None)?;
        Ok(p.status.iter().map(ToString::to_string).collect())
    })
}
