//! `gdalinfo`/`ogrinfo`-like summaries of raster and vector files.

use crate::error::Result;
use crate::raster::GeoTiff;
use crate::vector::{self, ReadOptions, VectorFormat};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One band of a raster summary.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct BandInfo {
    /// 1-based band number.
    pub band: usize,
    /// Description, if any.
    pub description: Option<String>,
    /// Minimum valid value.
    pub min: f64,
    /// Maximum valid value.
    pub max: f64,
    /// Mean of valid values.
    pub mean: f64,
    /// Count of valid (non-nodata, non-NaN) cells.
    pub valid_count: usize,
}

/// A raster summary.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct RasterInfo {
    /// Path.
    pub path: String,
    /// Driver name.
    pub driver: &'static str,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Data type (GDAL name).
    pub dtype: &'static str,
    /// CRS as `EPSG:code` or PROJ string.
    pub crs: Option<String>,
    /// CRS name.
    pub crs_name: Option<String>,
    /// Geotransform.
    pub geotransform: [f64; 6],
    /// `(xmin, ymin, xmax, ymax)`.
    pub bounds: [f64; 4],
    /// Nodata.
    pub nodata: Option<f64>,
    /// `(rows, cols)` of the native blocks.
    pub block: (usize, usize),
    /// Compression.
    pub compression: &'static str,
    /// Overview sizes `(width, height)`, finest first.
    pub overviews: Vec<(usize, usize)>,
    /// Bands.
    pub bands: Vec<BandInfo>,
}

/// One field of a vector layer summary.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct FieldInfo {
    /// Name.
    pub name: String,
    /// Type (`int`, `float`, `text`, `bool`, `binary`).
    #[serde(rename = "type")]
    pub dtype: &'static str,
}

/// A vector layer summary.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    /// Layer name.
    pub name: String,
    /// Declared geometry type.
    pub geometry_type: String,
    /// Number of features.
    pub feature_count: usize,
    /// CRS as `EPSG:code` or PROJ string.
    pub crs: Option<String>,
    /// CRS name.
    pub crs_name: Option<String>,
    /// `(xmin, ymin, xmax, ymax)`.
    pub bounds: Option<[f64; 4]>,
    /// Fields.
    pub fields: Vec<FieldInfo>,
}

/// A file summary.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Info {
    /// A raster file.
    Raster(Box<RasterInfo>),
    /// A vector file with its layers.
    Vector {
        /// Path.
        path: String,
        /// Driver name.
        driver: &'static str,
        /// Every feature layer.
        layers: Vec<LayerInfo>,
    },
}

/// Summarise a raster (`.tif`/`.tiff`, also an `http(s)://` URL with the `remote` feature) or
/// vector file.
pub fn info(path: impl AsRef<Path>) -> Result<Info> {
    let path = path.as_ref();
    let ext = crate::without_query(path).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "tif" || ext == "tiff" {
        let t = GeoTiff::open(path)?;
        let r = t.read()?;
        let bands = r
            .bands()
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let (min, max, mean, valid_count) = b.stats(r.nodata);
                BandInfo { band: i + 1, description: r.band_names[i].clone(), min, max, mean, valid_count }
            })
            .collect();
        return Ok(Info::Raster(Box::new(RasterInfo {
            path: crate::without_query(path).display().to_string(),
            driver: "GTiff",
            width: t.width(),
            height: t.height(),
            dtype: t.dtype().gdal_name(),
            crs: t.crs().map(|c| c.to_user_string()),
            crs_name: t.crs().map(|c| c.name().to_string()),
            geotransform: t.transform().0,
            bounds: t.transform().bounds(t.width(), t.height()),
            nodata: t.nodata(),
            block: t.block_size(),
            compression: t.compression_name(),
            overviews: t.overviews(),
            bands,
        })));
    }
    let driver = match VectorFormat::from_path(path)? {
        VectorFormat::GeoPackage => "GPKG",
        VectorFormat::GeoJson => "GeoJSON",
        VectorFormat::FlatGeobuf => "FlatGeobuf",
        VectorFormat::Shapefile => "ESRI Shapefile",
    };
    let mut layers = Vec::new();
    for name in vector::list_layers(path)? {
        let l = vector::read_layer(path, &ReadOptions { layer: Some(name) })?;
        layers.push(LayerInfo {
            bounds: l.bounds(),
            geometry_type: l.geometry_type.clone(),
            feature_count: l.len(),
            crs: l.crs.as_ref().map(|c| c.to_user_string()),
            crs_name: l.crs.as_ref().map(|c| c.name().to_string()),
            fields: l.columns.iter().map(|c| FieldInfo { name: c.name.clone(), dtype: c.data.type_name() }).collect(),
            name: l.name,
        });
    }
    Ok(Info::Vector { path: path.display().to_string(), driver, layers })
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        match self {
            Info::Raster(r) => {
                let _ = writeln!(s, "Driver: {}", r.driver);
                let _ = writeln!(s, "Files: {}", r.path);
                let _ = writeln!(s, "Size is {}, {}", r.width, r.height);
                let _ = writeln!(s, "Coordinate System: {}", r.crs.as_deref().unwrap_or("(none)"));
                if let Some(n) = r.crs_name.as_deref().filter(|n| !n.is_empty()) {
                    let _ = writeln!(s, "  Name: {n}");
                }
                let g = r.geotransform;
                let _ = writeln!(s, "Origin = ({}, {})", g[0], g[3]);
                let _ = writeln!(s, "Pixel Size = ({}, {})", g[1], g[5]);
                let b = r.bounds;
                let _ = writeln!(s, "Bounds: xmin {} ymin {} xmax {} ymax {}", b[0], b[1], b[2], b[3]);
                let _ =
                    writeln!(s, "Block = {}x{} (cols x rows), Compression = {}", r.block.1, r.block.0, r.compression);
                for band in &r.bands {
                    let _ = writeln!(
                        s,
                        "Band {} Type={}{}",
                        band.band,
                        r.dtype,
                        band.description.as_deref().map(|d| format!(" Description={d}")).unwrap_or_default()
                    );
                    if let Some(nd) = r.nodata {
                        let _ = writeln!(s, "  NoData Value={nd}");
                    }
                    if !r.overviews.is_empty() {
                        let o: Vec<String> = r.overviews.iter().map(|(w, h)| format!("{w}x{h}")).collect();
                        let _ = writeln!(s, "  Overviews: {}", o.join(", "));
                    }
                    let _ = writeln!(
                        s,
                        "  Min={} Max={} Mean={} Valid={}",
                        band.min, band.max, band.mean, band.valid_count
                    );
                }
            }
            Info::Vector { path, driver, layers } => {
                let _ = writeln!(s, "INFO: Open of `{path}' using driver `{driver}' successful.");
                for (i, l) in layers.iter().enumerate() {
                    let _ = writeln!(s, "\nLayer {}: {} ({})", i + 1, l.name, l.geometry_type);
                    let _ = writeln!(s, "Feature Count: {}", l.feature_count);
                    if let Some(b) = l.bounds {
                        let _ = writeln!(s, "Extent: ({}, {}) - ({}, {})", b[0], b[1], b[2], b[3]);
                    }
                    let _ = writeln!(
                        s,
                        "Coordinate System: {}{}",
                        l.crs.as_deref().unwrap_or("(none)"),
                        l.crs_name.as_deref().filter(|n| !n.is_empty()).map(|n| format!(" ({n})")).unwrap_or_default()
                    );
                    for fl in &l.fields {
                        let _ = writeln!(s, "{}: {}", fl.name, fl.dtype);
                    }
                }
            }
        }
        f.write_str(&s)
    }
}
