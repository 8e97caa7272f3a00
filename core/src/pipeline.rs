//! One declarative feature pipeline: a [`FeatureSpec`] (JSON or TOML) → a [`FeatureTable`] for all
//! parcels, every column with its provenance. The same spec format is used by the CLI
//! (`landopp features SPEC`), Python and Node.
//!
//! ```json
//! {
//!   "version": 1,
//!   "parcels": {"path": "parcels.gpkg", "id_field": "MAPLOTUNIT"},
//!   "features": [
//!     {"type": "shape"},
//!     {"type": "value", "total_field": "VALUE_TOT", "land_field": "VALUE_LAND"},
//!     {"type": "zonal", "raster": "dem.tif", "stats": ["mean", "min", "max"], "prefix": "elev"},
//!     {"type": "terrain", "raster": "dem.tif", "product": "slope", "stats": ["mean", "max"],
//!      "share_below": [8, 15]},
//!     {"type": "overlay", "layer": "zoning.gpkg", "field": "ZONE", "prefix": "zone"},
//!     {"type": "proximity", "layer": "roads.gpkg", "prefix": "road", "radius_m": 500},
//!     {"type": "soils", "layer": "soils.gpkg", "mukey_field": "MUKEY"},
//!     {"type": "spectral", "bands": {"N": "B08.tif", "R": "B04.tif"}, "indices": ["NDVI"],
//!      "stac": "item.json", "scl": "SCL.tif", "stats": ["mean"]},
//!     {"type": "model", "path": "developed.model.json", "name": "p_developed"}
//!   ]
//! }
//! ```
//! Relative paths are resolved against the spec file's folder.

use crate::error::{Error, Result};
use crate::features::{ColumnMeta, FeatureTable};
use crate::overlay::{self, SoilTables, WorkFrame};
use crate::raster::GeoTiff;
use crate::spectral::{ImagerySettings, SceneMeta};
use crate::terrain::{TerrainOptions, TerrainProduct};
use crate::vector::{read_layer, Parcels, ReadOptions};
use crate::zonal::{zonal_stats, Stat, ZonalOptions};
use crate::{Crs, Raster, Window};
use geo_types::MultiPolygon;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Current spec schema version.
pub const SPEC_VERSION: u32 = 1;

/// Where the parcels come from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParcelSource {
    /// Vector file.
    pub path: PathBuf,
    /// GeoPackage layer.
    #[serde(default)]
    pub layer: Option<String>,
    /// Id field (default: feature id).
    #[serde(default)]
    pub id_field: Option<String>,
    /// Repeated ids: `refuse` (default) or `suffix`.
    #[serde(default)]
    pub duplicate_ids: crate::vector::DuplicateIds,
}

/// A layer reference with an optional GeoPackage layer name.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LayerRef {
    /// Just a path.
    Path(PathBuf),
    /// Path and layer.
    Layer {
        /// File.
        path: PathBuf,
        /// Layer name.
        layer: Option<String>,
    },
}

impl LayerRef {
    fn parts(&self) -> (&Path, Option<String>) {
        match self {
            LayerRef::Path(p) => (p, None),
            LayerRef::Layer { path, layer } => (path, layer.clone()),
        }
    }
}

/// One feature group of a spec.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeatureStep {
    /// Geodesic area/perimeter, compactness, rectangle ratios, vertex count.
    Shape,
    /// Value per acre and land-to-total ratio from attribute columns.
    Value {
        /// Total value field.
        total_field: String,
        /// Land value field.
        #[serde(default)]
        land_field: Option<String>,
    },
    /// Exact zonal statistics of a raster band.
    Zonal {
        /// Raster.
        raster: PathBuf,
        /// 1-based band.
        #[serde(default = "one")]
        band: usize,
        /// Statistics (exactextract names).
        stats: Vec<String>,
        /// Column prefix (default: raster file stem).
        #[serde(default)]
        prefix: Option<String>,
        /// exactextract `min_coverage_frac`.
        #[serde(default)]
        min_coverage_frac: f64,
    },
    /// A terrain product of a DEM, summarised per parcel.
    Terrain {
        /// DEM.
        raster: PathBuf,
        /// slope | slope_percent | aspect | hillshade | tri | tpi | roughness
        product: String,
        /// Statistics (aspect: `circular_mean` is the meaningful mean).
        stats: Vec<String>,
        /// Column prefix (default: the product).
        #[serde(default)]
        prefix: Option<String>,
        /// Thresholds: adds `<prefix>_share_le_<t>` = area share with value ≤ t (buildable share).
        #[serde(default)]
        share_below: Vec<f64>,
        /// Terrain options.
        #[serde(default)]
        options: TerrainOptions,
    },
    /// Class shares of a polygon layer.
    Overlay {
        /// Layer.
        layer: LayerRef,
        /// Class field (default: presence of the layer as a whole).
        #[serde(default)]
        field: Option<String>,
        /// Column prefix.
        prefix: String,
    },
    /// Distance to the nearest feature and count within a radius.
    Proximity {
        /// Layer.
        layer: LayerRef,
        /// Column prefix.
        prefix: String,
        /// Radius for the count, metres.
        #[serde(default)]
        radius_m: Option<f64>,
    },
    /// SSURGO map-unit shares and, with SDA tables, drainage / hydrologic group / farmland class.
    Soils {
        /// Map-unit polygons.
        layer: LayerRef,
        /// Map-unit key field.
        #[serde(default = "mukey")]
        mukey_field: String,
        /// SDA component table (CSV).
        #[serde(default)]
        component_table: Option<PathBuf>,
        /// SDA map-unit table (CSV).
        #[serde(default)]
        mapunit_table: Option<PathBuf>,
        /// SDA map-unit aggregates (`muaggatt` CSV: mukey and any columns), with the two tables
        /// above: `soil_<column>` per parcel.
        #[serde(default)]
        muaggatt_table: Option<PathBuf>,
    },
    /// SSURGO soils fetched for the parcels from USDA Soil Data Access (needs the `remote`
    /// feature): the `soils` step's map-unit shares and classes from the SDA tables, plus the
    /// `muaggatt` columns (`soil_<column>`).
    SoilDataAccess {
        /// The SDA REST endpoint (default: the public service).
        #[serde(default)]
        url: Option<String>,
        /// `muaggatt` columns (default: slopegradwta, brockdepmin, wtdepannmin, aws0150wta,
        /// hydclprs, flodfreqdcd).
        #[serde(default)]
        muaggatt: Option<Vec<String>>,
        /// Parcels per spatial request (default 200).
        #[serde(default)]
        parcels_per_request: Option<usize>,
        /// Seconds a request may take (default 120).
        #[serde(default)]
        timeout_s: Option<f64>,
    },
    /// Spectral indices summarised per parcel.
    Spectral {
        /// Band rasters by catalogue name (`N`, `R`, ...).
        bands: BTreeMap<String, PathBuf>,
        /// Index names.
        indices: Vec<String>,
        /// Statistics per index.
        #[serde(default = "mean_only")]
        stats: Vec<String>,
        /// STAC item: scene metadata for provenance and the sensor scaling.
        #[serde(default)]
        stac: Option<PathBuf>,
        /// SCL raster.
        #[serde(default)]
        scl: Option<PathBuf>,
        /// QA_PIXEL raster.
        #[serde(default)]
        qa_pixel: Option<PathBuf>,
        /// Sensor, masks, constants (the sensor defaults to the STAC item's).
        #[serde(default)]
        imagery: Option<ImagerySettings>,
    },
    /// A trained model's prediction from the columns computed by the steps before it, as a
    /// column a scoring profile can use like any other (rules and a model in one profile).
    /// Parcels with a missing (NaN) input get a missing prediction.
    Model {
        /// Model file ([`crate::ml::lifecycle::Model`]).
        path: PathBuf,
        /// Output column name.
        name: String,
        /// For a classifier: the class whose probability is output (a label of the card's
        /// classes, or a class code); default: class 1 of two.
        #[serde(default)]
        class: Option<String>,
        /// Environment variable holding the HMAC key of a signed model.
        #[serde(default)]
        hmac_key_env: Option<String>,
        /// Environment variable holding the AES-256 key (64 hex digits) of an encrypted model.
        #[serde(default)]
        encryption_key_env: Option<String>,
    },
}

fn one() -> usize {
    1
}
fn mukey() -> String {
    "MUKEY".into()
}
fn mean_only() -> Vec<String> {
    vec!["mean".into()]
}

/// A feature spec.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Schema version (1).
    pub version: u32,
    /// Parcels.
    pub parcels: ParcelSource,
    /// Projected working CRS for vector measurements (default: the parcels' CRS, or UTM).
    #[serde(default)]
    pub work_crs: Option<String>,
    /// Steps, in output order.
    pub features: Vec<FeatureStep>,
}

/// Progress of a pipeline run.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// Steps done.
    pub done: usize,
    /// Total steps.
    pub total: usize,
    /// What is running.
    pub message: &'a str,
}

impl FeatureSpec {
    /// Parse JSON or TOML text (TOML when it does not start with `{`).
    pub fn parse(text: &str) -> Result<Self> {
        <Self as crate::config::Config>::from_text(text)
    }

    /// Read a spec file; relative paths become relative to its folder.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        <Self as crate::config::Config>::from_file(path)
    }

    /// Check everything that can be checked before any work (names of statistics and products,
    /// spectral indices, version).
    pub fn validate(&self) -> Result<()> {
        if self.version != SPEC_VERSION {
            return Err(Error::InvalidInput(format!(
                "feature spec version {} (supported: {SPEC_VERSION})",
                self.version
            )));
        }
        if self.features.is_empty() {
            return Err(Error::InvalidInput("feature spec: \"features\" is empty".into()));
        }
        if let Some(c) = &self.work_crs {
            Crs::from_user_input(c)?;
        }
        for (i, f) in self.features.iter().enumerate() {
            let ctx = |e: Error| e.at(&format!("features[{i}]"));
            match f {
                FeatureStep::Zonal { stats, band, .. } => {
                    stats.iter().try_for_each(|s| Stat::parse(s).map(|_| ())).map_err(ctx)?;
                    if *band == 0 {
                        return Err(ctx(Error::InvalidInput("band is 1-based".into())));
                    }
                }
                FeatureStep::Terrain { stats, product, .. } => {
                    TerrainProduct::parse(product).map_err(ctx)?;
                    stats.iter().try_for_each(|s| Stat::parse(s).map(|_| ())).map_err(ctx)?;
                }
                FeatureStep::Proximity { radius_m, .. } => crate::overlay::check_radius(*radius_m).map_err(ctx)?,
                FeatureStep::Spectral { indices, stats, bands, .. } => {
                    stats.iter().try_for_each(|s| Stat::parse(s).map(|_| ())).map_err(ctx)?;
                    for n in indices {
                        let idx = crate::spectral::index(n).map_err(ctx)?;
                        for b in &idx.bands {
                            if crate::spectral::is_band(b) && !bands.contains_key(b) {
                                return Err(ctx(Error::InvalidInput(format!(
                                    "index {n} needs band {b:?}, not in \"bands\""
                                ))));
                            }
                        }
                    }
                }
                FeatureStep::SoilDataAccess { url, muaggatt, parcels_per_request, timeout_s } => {
                    sda_query(url, muaggatt, parcels_per_request, timeout_s).map_err(ctx)?;
                }
                FeatureStep::Soils { component_table, mapunit_table, muaggatt_table, .. }
                    if component_table.is_some() != mapunit_table.is_some()
                        || (muaggatt_table.is_some() && component_table.is_none()) =>
                {
                    return Err(ctx(Error::InvalidInput(
                        "soil classes need both component_table and mapunit_table (SDA CSV exports); \
                         muaggatt_table goes with them"
                            .into(),
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Make relative paths relative to `dir` (URLs stay as they are).
    pub fn resolve_paths(&mut self, dir: &Path) {
        self.for_each_path_mut(&mut |p| {
            if p.is_relative() && !crate::remote_path(p) {
                *p = dir.join(&*p);
            }
        });
    }

    /// Every file the spec reads (parcels, rasters, layers, tables, models), e.g. to check that an
    /// output path is none of them.
    pub fn input_paths(&self) -> Vec<PathBuf> {
        let mut all = Vec::new();
        self.clone().for_each_path_mut(&mut |p| all.push(p.clone()));
        all
    }

    fn for_each_path_mut(&mut self, fix: &mut dyn FnMut(&mut PathBuf)) {
        fix(&mut self.parcels.path);
        for f in &mut self.features {
            fn layer(l: &mut LayerRef) -> &mut PathBuf {
                match l {
                    LayerRef::Path(p) => p,
                    LayerRef::Layer { path, .. } => path,
                }
            }
            match f {
                FeatureStep::Zonal { raster, .. } | FeatureStep::Terrain { raster, .. } => fix(raster),
                FeatureStep::Overlay { layer: l, .. } | FeatureStep::Proximity { layer: l, .. } => fix(layer(l)),
                FeatureStep::Soils { layer: l, component_table, mapunit_table, muaggatt_table, .. } => {
                    fix(layer(l));
                    component_table.iter_mut().for_each(&mut *fix);
                    mapunit_table.iter_mut().for_each(&mut *fix);
                    muaggatt_table.iter_mut().for_each(&mut *fix);
                }
                FeatureStep::Spectral { bands, stac, scl, qa_pixel, .. } => {
                    bands.values_mut().for_each(&mut *fix);
                    stac.iter_mut().for_each(&mut *fix);
                    scl.iter_mut().for_each(&mut *fix);
                    qa_pixel.iter_mut().for_each(&mut *fix);
                }
                FeatureStep::Model { path, .. } => fix(path),
                _ => {}
            }
        }
    }

    /// Run the spec: read the parcels, compute every step, return the table.
    pub fn run(&self, progress: &dyn Fn(Progress<'_>)) -> Result<FeatureTable> {
        self.validate()?;
        let p = &self.parcels;
        let parcels = Parcels::read_with(&p.path, p.layer.as_deref(), p.id_field.as_deref(), p.duplicate_ids)?;
        run_steps(&parcels, self, progress)
    }
}

#[cfg(not(feature = "ml-files"))]
fn model_column(
    _t: &FeatureTable,
    _path: &Path,
    _class: Option<&str>,
    _hmac_key_env: &Option<String>,
    _encryption_key_env: &Option<String>,
) -> Result<(Vec<f64>, ColumnMeta)> {
    Err(Error::Unsupported("the `model` feature step reads model files: it needs the `ml-files` feature".into()))
}

/// A model's prediction over a feature table: one value per row (NaN where an input is missing).
#[cfg(feature = "ml-files")]
fn model_column(
    t: &FeatureTable,
    path: &Path,
    class: Option<&str>,
    hmac_key_env: &Option<String>,
    encryption_key_env: &Option<String>,
) -> Result<(Vec<f64>, ColumnMeta)> {
    use crate::ml::lifecycle::key_from_env;
    use crate::ml::lifecycle::{LoadOptions, Model};
    let hmac = key_from_env(hmac_key_env.as_deref(), false)?;
    let key = key_from_env(encryption_key_env.as_deref(), true)?
        .map(|k| <[u8; 32]>::try_from(k.as_slice()).expect("32 bytes"));
    let m = Model::load(
        path,
        &LoadOptions { hmac_key: hmac.as_deref(), encryption_key: key.as_ref(), expect_features: None },
    )?;
    let k = m.estimator.n_classes();
    let in_model = |e: Error| match e {
        Error::InvalidInput(msg) => Error::InvalidInput(format!("model {}: {msg}", path.display())),
        other => other,
    };
    let out = m.output_index(class).map_err(in_model)?;
    let v = m.predict_column(t, out)?;
    let what = m.output_name(out);
    let meta = ColumnMeta {
        source: path.display().to_string(),
        unit: if k == 0 { String::new() } else { "1".into() },
        method: format!(
            "{} {what}, model {} {} (training data sha256 {})",
            m.card.hyper_parameters.family(),
            m.card.target,
            m.card.model_version,
            &m.card.training_data_sha256[..12.min(m.card.training_data_sha256.len())]
        ),
    };
    Ok((v, meta))
}

fn add_zonal(t: &mut FeatureTable, res: crate::zonal::ZonalResult, prefix: &str, meta: &ColumnMeta) -> Result<()> {
    for (name, values) in res.columns {
        t.add_column(
            format!("{prefix}_{name}"),
            values,
            ColumnMeta { method: format!("{} {name}", meta.method), ..meta.clone() },
        )?;
    }
    Ok(())
}

/// Parcels reprojected to each raster CRS the steps meet, computed once per CRS (a spec with a
/// zonal, a terrain and a terrain share step on one DEM reprojects the parcels once, not thrice).
struct Projected<'a> {
    parcels: &'a Parcels,
    cache: Vec<(Crs, Vec<MultiPolygon<f64>>)>,
}

impl<'a> Projected<'a> {
    /// The parcels in `crs` (reprojected once per CRS), with the CRS they are in.
    fn in_crs(&mut self, crs: Option<&Crs>) -> Result<(&[MultiPolygon<f64>], Option<Crs>)> {
        let p = self.parcels;
        match (p.crs.as_ref(), crs) {
            (Some(a), Some(b)) if a != b => {
                let k = match self.cache.iter().position(|(c, _)| c == b) {
                    Some(k) => k,
                    None => {
                        let t = crate::crs::Transformer::new(a, b)?;
                        use rayon::prelude::*;
                        let polys =
                            p.geometries.par_iter().map(|g| t.transform_multipolygon(g)).collect::<Result<Vec<_>>>()?;
                        self.cache.push((b.clone(), polys));
                        self.cache.len() - 1
                    }
                };
                Ok((&self.cache[k].1, Some(b.clone())))
            }
            _ => Ok((&p.geometries, p.crs.clone())),
        }
    }

    /// Zonal statistics of the parcels over `r`.
    fn zonal(&mut self, r: &Raster, opts: &ZonalOptions<'_>) -> Result<crate::zonal::ZonalResult> {
        let (polys, crs) = self.in_crs(r.crs.as_ref())?;
        zonal_stats(r, polys, crs.as_ref(), opts)
    }

    /// Zonal statistics of the parcels over a GeoTIFF file or URL, read in strips of the
    /// columns the parcels cross (identical to [`Projected::zonal`] on the whole raster).
    fn zonal_file(&mut self, t: &GeoTiff, opts: &ZonalOptions<'_>) -> Result<crate::zonal::ZonalResult> {
        let (polys, crs) = self.in_crs(t.crs())?;
        crate::zonal::zonal_stats_file(t, polys, crs.as_ref(), opts, crate::zonal::DEFAULT_MAX_CELLS)
    }
}

/// Run the steps of `spec` on already loaded parcels.
// Long by design: one arm per kind of feature step, each a short call into its module; the shared
// state (working frame, reprojected parcels cache, progress) lives across the arms.
pub fn run_steps(parcels: &Parcels, spec: &FeatureSpec, progress: &dyn Fn(Progress<'_>)) -> Result<FeatureTable> {
    let total = spec.features.len() + 1;
    progress(Progress { done: 0, total, message: "preparing parcels" });
    let work_crs = spec.work_crs.as_deref().map(Crs::from_user_input).transpose()?;
    let frame = WorkFrame::new(parcels, work_crs.as_ref())?;
    let mut t = FeatureTable::new(parcels.ids.clone());
    let mut projected = Projected { parcels, cache: Vec::new() };
    let stats_of = |v: &[String]| v.iter().map(|s| Stat::parse(s)).collect::<Result<Vec<_>>>();
    for (i, step) in spec.features.iter().enumerate() {
        let msg = match step {
            FeatureStep::Shape => "shape".to_string(),
            FeatureStep::Value { .. } => "value".to_string(),
            FeatureStep::Zonal { raster, .. } => format!("zonal {}", crate::without_query(raster).display()),
            FeatureStep::Terrain { product, .. } => format!("terrain {product}"),
            FeatureStep::Overlay { prefix, .. } => format!("overlay {prefix}"),
            FeatureStep::Proximity { prefix, .. } => format!("proximity {prefix}"),
            FeatureStep::Soils { .. } => "soils".to_string(),
            FeatureStep::SoilDataAccess { .. } => "soils from Soil Data Access".to_string(),
            FeatureStep::Spectral { .. } => "spectral".to_string(),
            FeatureStep::Model { name, .. } => format!("model {name}"),
        };
        progress(Progress { done: i + 1, total, message: &msg });
        crate::interrupt::check(&msg)?;
        match step {
            FeatureStep::Shape => t.extend(overlay::shape_features(parcels, &frame)?)?,
            FeatureStep::Value { total_field, land_field } => {
                t.extend(overlay::value_features(parcels, total_field, land_field.as_deref())?)?
            }
            FeatureStep::Zonal { raster, band, stats, prefix, min_coverage_frac } => {
                // read strip by strip: bounded memory, and a URL fetches only the parcels' tiles
                let r = GeoTiff::open(raster)?;
                let opts = ZonalOptions {
                    stats: stats_of(stats)?,
                    band: *band,
                    min_coverage_frac: *min_coverage_frac,
                    weights: None,
                };
                let res = projected.zonal_file(&r, &opts)?;
                let prefix = prefix.clone().unwrap_or_else(|| crate::vector::stem(&crate::without_query(raster)));
                let meta = ColumnMeta {
                    source: crate::without_query(raster).display().to_string(),
                    unit: String::new(),
                    method: "exact zonal".into(),
                };
                add_zonal(&mut t, res, &prefix, &meta)?;
            }
            FeatureStep::Terrain { raster, product, stats, prefix, share_below, options } => {
                // the DEM under the parcels, with the neighbours of every cell they touch (one
                // more cell of margin): the same values as over the whole DEM, and a URL fetches
                // only the tiles under the parcels
                let file = GeoTiff::open(raster)?;
                let band = options.band.checked_sub(1).ok_or_else(|| {
                    Error::InvalidInput("terrain options: band is 1-based (1 = the first band)".into())
                })?;
                let boxes: Vec<[f64; 4]> = parcel_boxes(&file, &mut projected)?
                    .into_iter()
                    .map(|b| [b[0] - 1.0, b[1] - 1.0, b[2] + 1.0, b[3] + 1.0])
                    .collect();
                let dem = read_boxes(&file, band, &boxes, (1, 1))?;
                let prod = TerrainProduct::parse(product)?;
                let tr = crate::terrain::terrain(&dem, prod, &TerrainOptions { band: 1, ..*options })?;
                let prefix = prefix.clone().unwrap_or_else(|| product.clone());
                let unit = match prod {
                    TerrainProduct::SlopeDegrees | TerrainProduct::Aspect => "deg",
                    TerrainProduct::SlopePercent => "%",
                    TerrainProduct::Hillshade => "1",
                    _ => "m",
                };
                let meta = ColumnMeta {
                    source: crate::without_query(raster).display().to_string(),
                    unit: unit.into(),
                    method: format!("gdaldem-identical Horn {product}, exact zonal"),
                };
                let opts = ZonalOptions { stats: stats_of(stats)?, ..Default::default() };
                add_zonal(&mut t, projected.zonal(&tr, &opts)?, &prefix, &meta)?;
                for th in share_below {
                    let b = tr.band(0)?.to_f64();
                    let nd = tr.nodata;
                    let mask = b.mapv(|v| {
                        if v.is_nan() || Some(v) == nd {
                            f64::NAN
                        } else if v <= *th {
                            1.0
                        } else {
                            0.0
                        }
                    });
                    let mr = Raster::from_f64(mask, tr.transform, tr.crs.clone(), None)?;
                    let res = projected.zonal(&mr, &ZonalOptions { stats: vec![Stat::Mean], ..Default::default() })?;
                    let v = res.column("mean")?.to_vec();
                    t.add_column(
                        format!("{prefix}_share_le_{th}"),
                        v,
                        ColumnMeta {
                            unit: "1".into(),
                            method: format!("area share with {product} <= {th} (exact)"),
                            ..meta.clone()
                        },
                    )?;
                }
            }
            FeatureStep::Overlay { layer, field, prefix } => {
                let (path, lname) = layer.parts();
                let l = read_layer(path, &ReadOptions { layer: lname })?;
                let r = overlay::overlay_shares(&frame, &l, field.as_deref())?;
                overlay::add_overlay_columns(&mut t, &r, prefix, &path.display().to_string())?;
            }
            FeatureStep::Proximity { layer, prefix, radius_m } => {
                let (path, lname) = layer.parts();
                let l = read_layer(path, &ReadOptions { layer: lname })?;
                let (d, c) = overlay::proximity(&frame, &l, *radius_m)?;
                let src = path.display().to_string();
                t.add_column(
                    format!("{prefix}_distance_m"),
                    d,
                    ColumnMeta {
                        source: src.clone(),
                        unit: "m".into(),
                        method: format!("planar distance in {}", frame.crs.to_user_string()),
                    },
                )?;
                if let (Some(c), Some(r)) = (c, radius_m) {
                    t.add_column(
                        format!("{prefix}_count_{r}m"),
                        c,
                        ColumnMeta { source: src, unit: "1".into(), method: format!("features within {r} m") },
                    )?;
                }
            }
            FeatureStep::Soils { layer, mukey_field, component_table, mapunit_table, muaggatt_table } => {
                let (path, lname) = layer.parts();
                let l = read_layer(path, &ReadOptions { layer: lname })?;
                let tables = match (component_table, mapunit_table) {
                    (Some(c), Some(m)) => {
                        let mut t = SoilTables::read(c, m)?;
                        if let Some(a) = muaggatt_table {
                            t.read_aggregates(a)?;
                        }
                        Some(t)
                    }
                    _ => None,
                };
                overlay::soil_features(&frame, &l, mukey_field, tables.as_ref(), &mut t)?;
            }
            FeatureStep::SoilDataAccess { url, muaggatt, parcels_per_request, timeout_s } => {
                let q = sda_query(url, muaggatt, parcels_per_request, timeout_s)?;
                soils_from_sda(&frame, &q, &mut t)?;
            }
            FeatureStep::Spectral { bands, indices, stats, stac, scl, qa_pixel, imagery } => {
                let meta = stac.as_ref().map(SceneMeta::from_stac).transpose()?;
                let mut settings = imagery.clone().unwrap_or_default();
                if imagery.is_none() {
                    if let Some(m) = &meta {
                        settings.sensor = m.sensor();
                    }
                }
                // every band on one grid (checked on the files' own sizes), then only the cells
                // under the parcels: a scene URL sends the tiles the parcels touch, nothing more
                let tiffs: Vec<(&String, GeoTiff)> =
                    bands.iter().map(|(k, p)| Ok((k, GeoTiff::open(p)?))).collect::<Result<_>>()?;
                if let Some(((k0, t0), (k, t))) = tiffs.first().and_then(|f| {
                    tiffs
                        .iter()
                        .find(|(_, t)| {
                            (t.width(), t.height(), t.transform()) != (f.1.width(), f.1.height(), f.1.transform())
                        })
                        .map(|o| (f, o))
                }) {
                    return Err(Error::InvalidInput(format!(
                        "band {k} is on another grid ({}x{}) than band {k0} ({}x{}); resample the bands to one grid first",
                        t.width(),
                        t.height(),
                        t0.width(),
                        t0.height()
                    )));
                }
                let masks: Vec<Option<GeoTiff>> =
                    [scl, qa_pixel].iter().map(|m| m.as_ref().map(GeoTiff::open).transpose()).collect::<Result<_>>()?;
                let mut rasters = BTreeMap::new();
                let mut mask_rasters = Vec::new();
                if let Some((_, first)) = tiffs.first() {
                    let boxes = parcel_boxes(first, &mut projected)?;
                    // a coarser mask (its cells an integer number of the bands', same origin)
                    // is read over the same boxes on its own grid
                    let factors: Vec<Option<(usize, usize)>> =
                        masks.iter().map(|m| m.as_ref().and_then(|m| mask_factor(first, m))).collect();
                    for (k, t) in &tiffs {
                        rasters.insert((*k).clone(), read_boxes(t, 0, &boxes, (1, 1))?);
                    }
                    for (m, f) in masks.iter().zip(&factors) {
                        mask_rasters.push(match (m, f) {
                            (Some(m), Some(f)) => Some(read_boxes(m, 0, &boxes, *f)?),
                            // another grid: read whole, and the index step says what is wrong
                            (Some(m), None) => Some(m.read()?),
                            (None, _) => None,
                        });
                    }
                }
                let (scl_r, qa_r) = match mask_rasters.as_mut_slice() {
                    [a, b] => (a.take(), b.take()),
                    _ => (None, None),
                };
                let names: Vec<&str> = indices.iter().map(String::as_str).collect();
                let out = crate::spectral::index_rasters(
                    &rasters,
                    &names,
                    &settings.options(scl_r.as_ref().map(Into::into), qa_r.as_ref().map(Into::into)),
                )?;
                let provenance = match &meta {
                    Some(m) => format!(
                        "scene {} captured {} (cloud cover {}%, {} m)",
                        m.scene_id,
                        m.datetime,
                        m.cloud_cover.map_or("?".into(), |c| format!("{c:.2}")),
                        m.resolution_m.map_or("?".into(), |r| r.to_string())
                    ),
                    None => "bands as given".to_string(),
                };
                for (k, name) in names.iter().enumerate() {
                    let one = Raster::new(vec![out.band(k)?.clone()], out.transform, out.crs.clone(), Some(f64::NAN))?;
                    let opts = ZonalOptions { stats: stats_of(stats)?, ..Default::default() };
                    let res = projected.zonal(&one, &opts)?;
                    let m = ColumnMeta {
                        source: provenance.clone(),
                        unit: "1".into(),
                        method: format!("{name} (Awesome Spectral Indices), clouds masked, exact zonal"),
                    };
                    add_zonal(&mut t, res, &name.to_ascii_lowercase(), &m)?;
                }
            }
            FeatureStep::Model { path, name, class, hmac_key_env, encryption_key_env } => {
                let (v, meta) = model_column(&t, path, class.as_deref(), hmac_key_env, encryption_key_env)?;
                t.add_column(name.clone(), v, meta)?;
            }
        }
    }
    progress(Progress { done: total, total, message: "done" });
    Ok(t)
}

/// The parcels' bounding boxes in cell coordinates of `t` (any geotransform: the corners'
/// extremes), one cell of margin, those off the raster left out.
fn parcel_boxes(t: &GeoTiff, projected: &mut Projected<'_>) -> Result<Vec<[f64; 4]>> {
    use geo::BoundingRect;
    let (polys, _) = projected.in_crs(t.crs())?;
    let g = t.transform();
    let (w, h) = (t.width() as f64, t.height() as f64);
    Ok(polys
        .iter()
        .filter_map(|p| p.bounding_rect())
        .map(|r| {
            let corners =
                [(r.min().x, r.min().y), (r.min().x, r.max().y), (r.max().x, r.min().y), (r.max().x, r.max().y)];
            let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
            for (x, y) in corners {
                let (c, r) = g.invert(x, y);
                b = [b[0].min(c), b[1].min(r), b[2].max(c), b[3].max(r)];
            }
            [b[0] - 1.0, b[1] - 1.0, b[2] + 1.0, b[3] + 1.0]
        })
        .filter(|b| b.iter().all(|v| v.is_finite()) && b[2] > 0.0 && b[3] > 0.0 && b[0] < w && b[1] < h)
        .collect())
}

/// Band `band` (0-based) of `t` over `boxes` (in cells of a grid `k = (kx, ky)` times finer
/// than `t`'s, same origin): the window from the raster's origin to the boxes' far corner, with
/// only the chunks that meet a box fetched and decoded; the rest is nodata. The window starts at
/// the raster's origin so that cell coordinates, and so zonal statistics, are bit for bit those
/// of the whole raster whatever parcels are asked (a Dask partition equals the single run). No
/// box: one cell, so the grid and type are known.
fn read_boxes(t: &GeoTiff, band: usize, boxes: &[[f64; 4]], k: (usize, usize)) -> Result<Raster> {
    if boxes.is_empty() {
        return t.read_window_raster_where(band, Window::new(0, 0, 1, 1), &|_| true);
    }
    let (kx, ky) = (k.0 as f64, k.1 as f64);
    let far = boxes.iter().fold([f64::NEG_INFINITY, f64::NEG_INFINITY], |a, b| [a[0].max(b[2]), a[1].max(b[3])]);
    let (w, h) = (t.width(), t.height());
    let (c1, r1) = (((far[0] / kx).ceil().max(1.0) as usize).min(w), ((far[1] / ky).ceil().max(1.0) as usize).min(h));
    let keep = |cw: Window| {
        let (a0, b0) = ((cw.col * k.0) as f64, (cw.row * k.1) as f64);
        let (a1, b1) = (((cw.col + cw.cols) * k.0) as f64, ((cw.row + cw.rows) * k.1) as f64);
        boxes.iter().any(|b| b[0] < a1 && b[2] > a0 && b[1] < b1 && b[3] > b0)
    };
    t.read_window_raster_where(band, Window::new(0, 0, r1, c1), &keep)
}

/// How many cells of `band` a cell of `mask` spans across and down, when the mask's grid is an
/// integer multiple of the band's with the same origin (the grids the spectral step accepts);
/// else `None`.
fn mask_factor(band: &GeoTiff, mask: &GeoTiff) -> Option<(usize, usize)> {
    let (b, m) = (band.transform().0, mask.transform().0);
    let same_origin = (m[0] - b[0]).abs() < 1e-6 * b[1].abs() && (m[3] - b[3]).abs() < 1e-6 * b[5].abs();
    let factor = |f: f64| {
        let k = f.round();
        ((f - k).abs() < 1e-9 && (1.0..=65_536.0).contains(&k)).then_some(k as usize)
    };
    match (factor(m[1] / b[1]), factor(m[5] / b[5])) {
        (Some(kx), Some(ky)) if same_origin => Some((kx, ky)),
        _ => None,
    }
}

#[cfg(feature = "remote")]
type SdaQuery = crate::sources::sda::SdaQuery;
/// Without the `remote` feature: nothing to ask (the step is refused).
#[cfg(not(feature = "remote"))]
struct SdaQuery;

/// The `soil_data_access` step's request, checked.
fn sda_query(
    url: &Option<String>,
    muaggatt: &Option<Vec<String>>,
    parcels_per_request: &Option<usize>,
    timeout_s: &Option<f64>,
) -> Result<SdaQuery> {
    #[cfg(feature = "remote")]
    {
        let mut q = SdaQuery::default();
        if let Some(u) = url {
            q.url = u.clone();
        }
        if let Some(m) = muaggatt {
            q.muaggatt = m.clone();
        }
        if let Some(p) = parcels_per_request {
            q.parcels_per_request = *p;
        }
        if let Some(t) = timeout_s {
            q.timeout_s = *t;
        }
        q.validate()?;
        Ok(q)
    }
    #[cfg(not(feature = "remote"))]
    {
        let _ = (url, muaggatt, parcels_per_request, timeout_s);
        Err(Error::Unsupported("the soil_data_access step needs landopp built with the `remote` feature".into()))
    }
}

#[cfg(feature = "remote")]
fn soils_from_sda(frame: &WorkFrame, q: &SdaQuery, t: &mut FeatureTable) -> Result<()> {
    let data = crate::sources::sda::soil_data_access(&frame.parcels, Some(&frame.crs), q)?;
    if data.mapunits.is_empty() {
        return Err(Error::InvalidInput(
            "Soil Data Access has no SSURGO map unit under the parcels (outside the survey's coverage?)".into(),
        ));
    }
    let tables = data.tables()?;
    overlay::soil_features(frame, &data.mapunits, "mukey", Some(&tables), t)
}

#[cfg(not(feature = "remote"))]
fn soils_from_sda(_frame: &WorkFrame, _q: &SdaQuery, _t: &mut FeatureTable) -> Result<()> {
    Err(Error::Unsupported("the soil_data_access step needs landopp built with the `remote` feature".into()))
}
