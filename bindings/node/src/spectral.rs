//! Spectral indices from band rasters with cloud masks; formula variables.

use crate::convert::{raster_js, view, whole, RasterBand, RasterInput, RasterResult, RasterSource};
use crate::error::{guard, reject_with_code};
use landopp::Crs;
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

/// The band and constant names a spectral index expression uses, in order of first use, as
/// landopp's formula parser reads it (`+ - * / **`, parentheses, numbers, names); an expression it
/// refuses throws an error with code `INVALID_INPUT`.
#[napi]
pub fn formula_variables(env: Env, expr: String) -> napi::Result<Vec<String>> {
    guard(&env, || landopp::spectral::formula_variables(&expr))
}

/// Options of `spectralIndices`.
#[napi(object)]
#[derive(Default)]
pub struct SpectralOptions {
    /// `reflectance` (default: no scaling), `sentinel2_l2a`, `sentinel2_l1c`, `landsat89`,
    /// `landsat457` (Collection 2 Level-2 scaling).
    pub sensor: Option<String>,
    /// Sentinel-2 processing baseline (`"04.00"` and later apply the −1000 offset).
    pub baseline: Option<String>,
    /// Sentinel-2 scene classification band (file or raster), masked to NaN by class.
    pub scl: Option<Either<String, RasterInput>>,
    /// SCL classes to mask (default 0, 1, 3, 8, 9, 10, 11).
    pub scl_masked: Option<Vec<f64>>,
    /// Landsat QA_PIXEL band (file or raster), masked to NaN by bit.
    pub qa_pixel: Option<Either<String, RasterInput>>,
    /// QA_PIXEL bits to mask (default 0–5: fill, dilated cloud, cirrus, cloud, shadow, snow).
    pub qa_bits: Option<Vec<f64>>,
    /// Constant overrides (`L`, `g`, `C1`...).
    pub constants: Option<std::collections::HashMap<String, f64>>,
    /// Caller-provided outputs, like numpy's `out=`: one `Float32Array` of `width × height` cells
    /// per index, by index name, written in place and resolved as the result's bands (re-using
    /// them across scenes or tiles skips allocating fresh memory every call). Do not touch them
    /// until the Promise settles.
    pub out: Option<std::collections::HashMap<String, Float32Array>>,
}

pub struct SpectralTask {
    bands: Vec<(String, RasterSource)>,
    indices: Vec<String>,
    settings: landopp::Result<landopp::spectral::ImagerySettings>,
    scl: Option<RasterSource>,
    qa: Option<RasterSource>,
    out: Option<std::collections::HashMap<String, Float32Array>>,
    /// The caller's outputs in index order, once written.
    written: Vec<Float32Array>,
}

/// What a spectral call resolves to: fresh bands, or the grid of the caller's outputs.
pub enum SpectralOut {
    Fresh(landopp::Raster),
    Into(landopp::spectral::BandGrid),
}

/// `(grid, band)` of a lent in-memory raster's first band.
pub(crate) fn lent_band<'r>(
    k: &str,
    r: &'r RasterInput,
) -> landopp::Result<(landopp::spectral::BandGrid, landopp::BandView<'r>)> {
    let grid = r.grid().map_err(|e| match e {
        landopp::Error::InvalidInput(m) => landopp::Error::InvalidInput(format!("band {k}: {m}")),
        e => e,
    })?;
    let band =
        r.bands.first().ok_or_else(|| landopp::Error::InvalidInput(format!("band {k}: the raster has no band")))?;
    Ok((grid, view(band)))
}

impl RasterInput {
    /// Size, geotransform and CRS, checked.
    pub(super) fn grid(&self) -> landopp::Result<landopp::spectral::BandGrid> {
        let t: [f64; 6] = self.transform.as_slice().try_into().map_err(|_| {
            landopp::Error::InvalidInput(format!("transform needs 6 numbers, got {}", self.transform.len()))
        })?;
        Ok(landopp::spectral::BandGrid {
            width: whole(self.width, "width")?,
            height: whole(self.height, "height")?,
            transform: landopp::GeoTransform(t),
            crs: self.crs.as_deref().map(Crs::from_user_input).transpose()?,
        })
    }
}

/// A mask band (SCL, QA_PIXEL) of a spectral call: read from a file, or lent typed arrays.
pub(crate) enum MaskSource {
    File(landopp::Raster),
    Lent(RasterInput),
}

impl MaskSource {
    fn of(s: RasterSource) -> landopp::Result<Self> {
        Ok(match s {
            RasterSource::Js(r) => MaskSource::Lent(r),
            other => MaskSource::File(other.load()?),
        })
    }

    fn mask(&self, what: &str) -> landopp::Result<landopp::spectral::Mask<'_>> {
        Ok(match self {
            MaskSource::File(r) => r.into(),
            MaskSource::Lent(r) => {
                // the core checks the cell count against the mask's own grid
                let (g, cells) = lent_band(what, r)?;
                landopp::spectral::Mask::Cells { cells, width: g.width, height: g.height, transform: g.transform }
            }
        })
    }
}

impl Task for SpectralTask {
    type Output = landopp::Result<SpectralOut>;
    type JsValue = RasterResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let bands = std::mem::take(&mut self.bands);
        let scl = self.scl.take();
        let qa = self.qa.take();
        let out = self.out.take();
        let settings = std::mem::replace(&mut self.settings, Err(landopp::Error::InvalidInput("taken".into())));
        let written = &mut self.written;
        let indices = &self.indices;
        Ok(landopp::error::catch_panic(|| {
            let settings = settings?;
            // bands given as typed arrays are read in place; files are read here
            let mut files = Vec::new();
            let mut lent = Vec::new();
            for (k, b) in bands {
                match b {
                    RasterSource::Js(r) => lent.push((k, r)),
                    other => files.push((k, other.load()?)),
                }
            }
            let mut views = std::collections::BTreeMap::new();
            let mut grids = Vec::new();
            for (k, r) in &files {
                let v = r
                    .band(0)?
                    .view()
                    .ok_or_else(|| landopp::Error::InvalidInput(format!("band {k} is not contiguous in memory")))?;
                let grid = landopp::spectral::BandGrid::of(r);
                views.insert(k.clone(), (v, r.nodata));
                grids.push((k.as_str(), grid));
            }
            for (k, r) in &lent {
                let (grid, v) = lent_band(k, r)?;
                views.insert(k.clone(), (v, r.nodata));
                grids.push((k.as_str(), grid));
            }
            let grid = landopp::spectral::BandGrid::common(&grids)?;
            // masks given as typed arrays are read in place too
            let (scl, qa) = (scl.map(MaskSource::of).transpose()?, qa.map(MaskSource::of).transpose()?);
            let (scl, qa) =
                (scl.as_ref().map(|m| m.mask("scl")).transpose()?, qa.as_ref().map(|m| m.mask("qaPixel")).transpose()?);
            let opts = settings.options(scl, qa);
            let names: Vec<&str> = indices.iter().map(String::as_str).collect();
            match out {
                None => landopp::spectral::index_views(&views, grid, &names, &opts).map(SpectralOut::Fresh),
                Some(mut out) => {
                    let mut arrays = Vec::with_capacity(names.len());
                    for k in &names {
                        arrays.push(
                            out.remove(*k).ok_or_else(|| {
                                landopp::Error::InvalidInput(format!("out has no Float32Array for {k}"))
                            })?,
                        );
                    }
                    {
                        // SAFETY: the caller lent these arrays for the duration of the call (the
                        // documented contract of `out`, like the lent columns of `score`); they
                        // are distinct JS objects checked below not to share memory.
                        #[allow(unsafe_code)]
                        let mut slices: Vec<&mut [f32]> = arrays.iter_mut().map(|a| unsafe { a.as_mut() }).collect();
                        let spans: Vec<(usize, usize)> =
                            slices.iter().map(|s| (s.as_ptr() as usize, s.as_ptr() as usize + 4 * s.len())).collect();
                        if spans.iter().enumerate().any(|(i, a)| spans[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1))
                        {
                            return Err(landopp::Error::InvalidInput(
                                "out: two indices were given the same (or overlapping) array".into(),
                            ));
                        }
                        landopp::spectral::index_views_into(&views, grid, &names, &opts, &mut slices)?;
                    }
                    *written = arrays;
                    Ok(SpectralOut::Into(grid.clone()))
                }
            }
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        match output.map_err(|e| reject_with_code(&env, e))? {
            SpectralOut::Fresh(r) => Ok(raster_js(r)),
            SpectralOut::Into(g) => Ok(RasterResult {
                width: g.width as u32,
                height: g.height as u32,
                transform: g.transform.0.to_vec(),
                crs: g.crs.as_ref().map(|c| c.to_user_string()),
                nodata: Some(f64::NAN),
                bands: std::mem::take(&mut self.written)
                    .into_iter()
                    .zip(&self.indices)
                    .map(|(a, k)| RasterBand {
                        dtype: "Float32".into(),
                        data: Either8::B(a),
                        description: Some(k.clone()),
                    })
                    .collect(),
            }),
        }
    }
}

/// Spectral indices of the Awesome Spectral Indices catalogue (`NDVI`, `EVI`, `SAVI`, ...) from
/// band rasters (file paths or typed arrays) keyed by catalogue band name (`N`, `R`, `G`, `B`,
/// `S1`, ...), scaled per sensor and masked by SCL / QA_PIXEL; resolves to one Float32 band per
/// index (nodata NaN), as Python's `landopp.spectral_indices`.
#[napi(ts_return_type = "Promise<RasterResult>")]
pub fn spectral_indices(
    bands: std::collections::HashMap<String, Either<String, RasterInput>>,
    indices: Vec<String>,
    options: Option<SpectralOptions>,
) -> napi::Result<AsyncTask<SpectralTask>> {
    let o = options.unwrap_or_default();
    let mut sorted: Vec<(String, Either<String, RasterInput>)> = bands.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let bands =
        sorted.into_iter().map(|(k, v)| RasterSource::from_js(v).map(|r| (k, r))).collect::<napi::Result<Vec<_>>>()?;
    let sensor = o.sensor.unwrap_or_else(|| "reflectance".into());
    let settings = (|| {
        let sens = landopp::spectral::Sensor::from_name(&sensor, o.baseline.as_deref())?;
        let to_u8 = |v: Option<Vec<f64>>, what: &str| -> landopp::Result<Option<Vec<u8>>> {
            v.map(|v| {
                v.into_iter()
                    .map(|x| {
                        u8::try_from(whole(x, what)?)
                            .map_err(|_| landopp::Error::InvalidInput(format!("{what} value {x} > 255")))
                    })
                    .collect()
            })
            .transpose()
        };
        let json = serde_json::json!({
            "sensor": sens,
            "scl_masked": to_u8(o.scl_masked, "sclMasked")?,
            "qa_bits": to_u8(o.qa_bits, "qaBits")?,
            "constants": o.constants.unwrap_or_default(),
        });
        <landopp::spectral::ImagerySettings as landopp::config::Config>::from_value(json)
    })();
    Ok(AsyncTask::new(SpectralTask {
        bands,
        indices,
        settings,
        scl: o.scl.map(RasterSource::from_js).transpose()?,
        qa: o.qa_pixel.map(RasterSource::from_js).transpose()?,
        out: o.out,
        written: Vec::new(),
    }))
}
