//! `landopp` — the command-line shell over the landopp core.

use clap::{Parser, Subcommand};
use landopp::{info, Error};
use std::path::PathBuf;
use std::process::ExitCode;

/// `println!` that stops quietly when standard output is closed (`landopp demo | head`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod demo;
mod fetch;
mod ml;

#[derive(Parser, Debug)]
#[command(
    name = "landopp",
    version,
    about = "Land opportunity search: parcels + geospatial layers -> ranked, explained opportunities"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Summarise a raster (.tif) or vector file (.gpkg, .geojson, .fgb, .shp), like gdalinfo/ogrinfo.
    Info {
        /// File to describe.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Terrain derivative of a DEM, identical to gdaldem: slope, slope_percent, aspect,
    /// hillshade, tri, tpi, roughness, with gdaldem's options. Writes a tiled Deflate GeoTIFF.
    Terrain(TerrainArgs),
    /// Colour a DEM through a colour table, identical to gdaldem color-relief: an RGB(A)
    /// GeoTIFF. Table lines: `value R G B [A]` or `value colourname`; values may be `nv`
    /// (nodata) or `P%` of the range; GMT .cpt tables too.
    ColorRelief(ColorReliefArgs),
    /// Exact zonal statistics (exactextract-like): one CSV row per polygon.
    Zonal(ZonalArgs),
    /// Compute per-parcel features from a feature spec (JSON or TOML) and write them as CSV.
    Features(FeaturesArgs),
    /// Score and rank parcels: a feature CSV (from `landopp features`) with a scoring profile
    /// (JSON/TOML). Writes CSV (`.csv`) or JSON (`.json`, with explanations).
    Score(ScoreArgs),
    /// Search scored parcels: area of interest, filters, top-k by score or any column.
    Search(SearchArgs),
    /// Train a random forest on a feature CSV, cross-validate it (spatial blocks or k-fold) and
    /// save it with its model card (optionally signed / encrypted: keys from environment variables).
    Train(ml::TrainArgs),
    /// Predict with a saved model: one row per parcel of a feature CSV (columns by name).
    Predict {
        /// Model file.
        model: PathBuf,
        /// Feature table CSV.
        features: PathBuf,
        /// Output CSV (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Environment variable holding the HMAC key the model was signed with.
        #[arg(long)]
        hmac_key_env: Option<String>,
        /// Environment variable holding the model's 64-hex-digit AES-256 key.
        #[arg(long)]
        key_env: Option<String>,
    },
    /// Drift of a new feature CSV against the training reference: PSI and KS per shared column (JSON).
    Drift {
        /// Reference (training) feature CSV.
        reference: PathBuf,
        /// New feature CSV.
        current: PathBuf,
        /// PSI threshold.
        #[arg(long, default_value_t = 0.2)]
        psi: f64,
        /// KS threshold.
        #[arg(long, default_value_t = 0.1)]
        ks: f64,
    },
    /// Fetch from live services: `landopp fetch stac URL ...` searches a STAC API for imagery
    /// (over a bbox or the parcels' extent) and, with --best-scene, picks each parcel's clearest
    /// scene; `landopp fetch arcgis|ogc URL OUT` pages a county parcel service into a file;
    /// `landopp fetch sda PARCELS DIR` gets the SSURGO soils under the parcels.
    #[command(subcommand)]
    Fetch(FetchCmd),
    /// Check a parcels table against a declarative schema (JSON/TOML: id_field, crs, geometry,
    /// columns with type, nullable, min, max, values, unique) and list every violation by row.
    /// Exit status 0 when valid, 1 when a rule is broken, 2 on an error.
    Validate {
        /// Vector file (.gpkg, .geojson, .fgb, .shp).
        path: PathBuf,
        /// Table schema (JSON or TOML file).
        schema: PathBuf,
        /// GeoPackage layer.
        #[arg(long)]
        layer: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the main job on the bundled sample data (fixtures/): read parcels and layers, compute
    /// per-parcel area and elevation summaries, and write the result.
    Demo {
        /// Folder holding the bundled sample data (default: ./fixtures, or the one next to the binary's source).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where to write the parcel table (CSV) and layer (GeoJSON).
        #[arg(long, default_value = "landopp-demo-out")]
        out: PathBuf,
    },
}

/// `landopp fetch` sources.
#[derive(Subcommand, Debug)]
enum FetchCmd {
    /// STAC item search (Sentinel-2 L2A, Landsat C2 L2, ...): imagery records as JSON or CSV.
    Stac(fetch::StacArgs),
    /// County parcels from an ArcGIS REST feature layer (FeatureServer / MapServer), every page,
    /// into a vector file with typed fields.
    Arcgis(fetch::ArcGisArgs),
    /// Features from an OGC API - Features collection, every page, into a vector file.
    Ogc(fetch::OgcArgs),
    /// SSURGO soils for parcels from USDA Soil Data Access: the map units under the parcels
    /// (mapunits.gpkg) and their component, mapunit and muaggatt tables (CSV), ready for the
    /// soils feature step.
    Sda(fetch::SdaArgs),
}

/// Arguments of `landopp terrain`.
#[derive(clap::Args, Debug)]
struct TerrainArgs {
    /// slope | slope_percent | aspect | hillshade | tri | tpi | roughness
    product: String,
    /// Input DEM (GeoTIFF).
    input: PathBuf,
    /// Output GeoTIFF.
    output: PathBuf,
    /// Leave the one-cell border and cells next to nodata as nodata (gdaldem without -compute_edges).
    #[arg(long)]
    no_edges: bool,
    /// Vertical/horizontal unit ratio (gdaldem -s); default: from the CRS (per-row metric size on geographic DEMs).
    #[arg(short, long)]
    scale: Option<f64>,
    /// Write without compression (faster for large outputs).
    #[arg(long)]
    uncompressed: bool,
    /// gdaldem -alg: Horn | ZevenbergenThorne (slope, aspect, hillshade), Riley | Wilson (tri).
    #[arg(long)]
    alg: Option<String>,
    /// Hillshade vertical exaggeration (gdaldem -z).
    #[arg(short = 'z', long, default_value_t = 1.0)]
    z_factor: f64,
    /// Hillshade light azimuth in degrees (gdaldem -az).
    #[arg(long = "az", default_value_t = 315.0)]
    azimuth: f64,
    /// Hillshade light altitude in degrees (gdaldem -alt).
    #[arg(long = "alt", default_value_t = 45.0)]
    altitude: f64,
    /// Hillshade combined with slope (gdaldem -combined).
    #[arg(long, conflicts_with_all = ["multidirectional", "igor"])]
    combined: bool,
    /// Hillshade from four light directions (gdaldem -multidirectional).
    #[arg(long, conflicts_with = "igor")]
    multidirectional: bool,
    /// Igor's hillshade (gdaldem -igor).
    #[arg(long)]
    igor: bool,
    /// Aspect: 0 for flat cells and no nodata value (gdaldem -zero_for_flat).
    #[arg(long)]
    zero_for_flat: bool,
    /// Aspect counter-clockwise from east (gdaldem -trigonometric).
    #[arg(long)]
    trigonometric: bool,
    /// 1-based band of the DEM (gdaldem -b).
    #[arg(short, long, default_value_t = 1)]
    band: usize,
}

/// Arguments of `landopp color-relief`.
#[derive(clap::Args, Debug)]
struct ColorReliefArgs {
    /// Input raster (GeoTIFF).
    input: PathBuf,
    /// Colour table (text).
    colors: PathBuf,
    /// Output GeoTIFF.
    output: PathBuf,
    /// Add an alpha band (gdaldem -alpha).
    #[arg(long)]
    alpha: bool,
    /// Only values equal to an entry are coloured, others transparent black (gdaldem -exact_color_entry).
    #[arg(long, conflicts_with = "nearest_color_entry")]
    exact_color_entry: bool,
    /// The colour of the nearest entry, no interpolation (gdaldem -nearest_color_entry).
    #[arg(long)]
    nearest_color_entry: bool,
    /// 1-based band of the input (gdaldem -b).
    #[arg(short, long, default_value_t = 1)]
    band: usize,
}

/// Arguments of `landopp zonal`.
#[derive(clap::Args, Debug)]
struct ZonalArgs {
    /// Polygon layer (.gpkg, .geojson, .fgb, .shp).
    polygons: PathBuf,
    /// Raster (GeoTIFF).
    raster: PathBuf,
    /// Statistics, comma-separated: count,sum,mean,min,max,stdev,variance,median,quantile(q=0.25),
    /// majority,minority,variety,frac,weighted_mean,weighted_sum,circular_mean
    #[arg(long, default_value = "count,mean")]
    stats: String,
    /// Id field of the polygons (default: feature id).
    #[arg(long)]
    id: Option<String>,
    /// Repeated ids: `refuse` (an error naming them) or `suffix` (`_2`, `_3`, … on the repeats).
    #[arg(long, default_value = "refuse")]
    duplicate_ids: String,
    /// Polygon attributes to copy into the output beside the statistics (exactextract's
    /// `--include-col`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    include_cols: Vec<String>,
    /// GeoPackage layer.
    #[arg(long)]
    layer: Option<String>,
    /// 1-based band.
    #[arg(long, default_value_t = 1)]
    band: usize,
    /// Ignore cells covered less than this fraction.
    #[arg(long, default_value_t = 0.0)]
    min_coverage_frac: f64,
    /// Weight raster on the same grid (for weighted_mean / weighted_sum).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Raster cells held in memory at once, in millions (exactextract's --max-cells): the
    /// raster is read in strips of whole rows, so memory stays bounded on any raster size.
    #[arg(long, default_value_t = 30.0)]
    max_cells: f64,
    /// Output CSV (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Arguments of `landopp features`.
#[derive(clap::Args, Debug)]
struct FeaturesArgs {
    /// Feature spec file.
    spec: PathBuf,
    /// Output CSV (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also write each column's provenance (source, unit, method) as JSON.
    #[arg(long)]
    provenance: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print each step's wall time to standard error.
    #[arg(long)]
    timings: bool,
}

/// Arguments of `landopp score`.
#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// Feature table CSV (first column: parcel id).
    features: PathBuf,
    /// Scoring profile.
    profile: PathBuf,
    /// Output file (.csv or .json; default: CSV on standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print the top N parcels with their explanations.
    #[arg(long, default_value_t = 0)]
    top: usize,
}

/// Arguments of `landopp search`.
#[derive(clap::Args, Debug)]
struct SearchArgs {
    /// Parcels (vector file).
    #[arg(long)]
    parcels: PathBuf,
    /// Parcel id field.
    #[arg(long)]
    id: Option<String>,
    /// Repeated ids: `refuse` (an error naming them) or `suffix` (`_2`, `_3`, … on the repeats).
    #[arg(long, default_value = "refuse")]
    duplicate_ids: String,
    /// Feature CSV for those parcels (from `landopp features`).
    #[arg(long)]
    features: PathBuf,
    /// Scoring profile.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Query as JSON (or a JSON/TOML file): {"aoi": {"bbox": [..]}, "crs": "EPSG:4326", "filters": [..], "limit": 10, ...}
    #[arg(long, default_value = "{}")]
    query: String,
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.cmd {
        Cmd::Info { path, json } => {
            let i = info::info(&path)?;
            if json {
                emit(&serde_json::to_string_pretty(&i).map_err(|e| Error::InvalidInput(e.to_string()))?);
            } else {
                emit(&i.to_string());
            }
            Ok(())
        }
        Cmd::Demo { data, out } => demo::run(data, &out),
        Cmd::Validate { path, schema, layer, json } => {
            use landopp::config::Config;
            let schema = landopp::vector::validate::TableSchema::from_file(&schema)?;
            let l = landopp::vector::read_layer(&path, &landopp::ReadOptions { layer })?;
            let r = landopp::vector::validate::validate(&l, &schema)?;
            if json {
                emit(&serde_json::to_string_pretty(&r).map_err(|e| Error::Internal(e.to_string()))?);
            } else {
                for v in &r.violations {
                    let at = v.row.map_or("table".to_string(), |r| format!("row {r}"));
                    let col = v.column.as_deref().map(|c| format!(" {c}:")).unwrap_or_default();
                    outln!("{at}{col} {} — {}", v.rule, v.message);
                }
                let more =
                    if r.not_listed > 0 { format!(" ({} more not listed)", r.not_listed) } else { String::new() };
                eprintln!("{} rows checked, {} violations{more}", r.rows, r.violations.len() + r.not_listed);
            }
            if !r.is_valid() {
                std::process::exit(1);
            }
            Ok(())
        }
        Cmd::Train(args) => ml::train(args),
        Cmd::Predict { model, features, output, hmac_key_env, key_env } => {
            check_outputs(&[output.as_deref()], &[model.clone(), features.clone()])?;
            ml::predict(
                &model,
                &features,
                output.as_deref(),
                ml::env_bytes(hmac_key_env.as_deref(), false)?,
                ml::env_bytes(key_env.as_deref(), true)?,
            )
        }
        Cmd::Drift { reference, current, psi, ks } => ml::drift(&reference, &current, psi, ks),
        Cmd::Features(a) => features(a),
        Cmd::Score(a) => score(a),
        Cmd::Search(a) => search(a),
        Cmd::Terrain(a) => terrain(a),
        Cmd::ColorRelief(a) => color_relief(a),
        Cmd::Zonal(a) => zonal(a),
        Cmd::Fetch(FetchCmd::Stac(a)) => fetch::stac(a),
        Cmd::Fetch(FetchCmd::Arcgis(a)) => fetch::arcgis(a),
        Cmd::Fetch(FetchCmd::Ogc(a)) => fetch::ogc(a),
        Cmd::Fetch(FetchCmd::Sda(a)) => fetch::sda(a),
    }
}

/// `landopp terrain`.
fn terrain(a: TerrainArgs) -> Result<(), Error> {
    let TerrainArgs {
        product,
        input,
        output,
        no_edges,
        scale,
        uncompressed,
        alg,
        z_factor,
        azimuth,
        altitude,
        combined,
        multidirectional,
        igor,
        zero_for_flat,
        trigonometric,
        band,
    } = a;
    use landopp::raster::{Compression, GeoTiffWriteOptions};
    use landopp::terrain::{terrain_file, HillshadeMode, TerrainOptions, TerrainProduct};
    let mut opts = TerrainOptions {
        compute_edges: !no_edges,
        scale,
        z_factor,
        azimuth,
        altitude,
        zero_for_flat,
        trigonometric,
        band,
        ..Default::default()
    };
    opts.hillshade = match (combined, multidirectional, igor) {
        (true, _, _) => HillshadeMode::Combined,
        (_, true, _) => HillshadeMode::Multidirectional,
        (_, _, true) => HillshadeMode::Igor,
        _ => HillshadeMode::Standard,
    };
    // gdaldem's -alg names both the gradient and the TRI variant
    if let Some(a) = &alg {
        opts.set_alg(a)?;
    }
    let compression = if uncompressed { Compression::None } else { Compression::Deflate(6) };
    // streamed: the DEM is read and the output written a strip at a time
    terrain_file(
        &input,
        &output,
        TerrainProduct::parse(&product)?,
        &opts,
        &GeoTiffWriteOptions { compression, ..Default::default() },
    )
}

/// `landopp color-relief`.
fn color_relief(a: ColorReliefArgs) -> Result<(), Error> {
    let ColorReliefArgs { input, colors, output, alpha, exact_color_entry, nearest_color_entry, band } = a;
    use landopp::color_relief::{color_relief, ColorMode, ColorReliefOptions, ColorTable};
    let mode = match (exact_color_entry, nearest_color_entry) {
        (true, _) => ColorMode::ExactEntry,
        (_, true) => ColorMode::NearestEntry,
        _ => ColorMode::Interpolate,
    };
    let table = ColorTable::read(&colors)?;
    let dem = landopp::Raster::read(&input)?;
    let rgb = color_relief(&dem, &table, &ColorReliefOptions { mode, alpha, band })?;
    landopp::output::ensure_distinct(&output, &[input.as_path(), colors.as_path()])?;
    landopp::raster::write_geotiff(&output, &rgb, &Default::default())
}

/// `landopp zonal`.
fn zonal(a: ZonalArgs) -> Result<(), Error> {
    let ZonalArgs {
        polygons,
        raster,
        stats,
        id,
        duplicate_ids,
        include_cols,
        layer,
        band,
        min_coverage_frac,
        weights,
        max_cells,
        output,
    } = a;
    use landopp::zonal::{zonal, Stat, ZonalOptions, ZonalPolygons, ZonalRaster};
    let stats = stats.split(',').filter(|s| !s.trim().is_empty()).map(Stat::parse).collect::<Result<Vec<_>, _>>()?;
    if !(max_cells.is_finite() && max_cells > 0.0) {
        return Err(Error::InvalidInput(format!("--max-cells must be a positive number of millions, got {max_cells}")));
    }
    let mut inputs = vec![polygons.clone(), raster.clone()];
    inputs.extend(weights.clone());
    check_outputs(&[output.as_deref()], &inputs)?;
    let w = weights.map(landopp::Raster::read).transpose()?;
    let dup = landopp::vector::DuplicateIds::parse(&duplicate_ids)?;
    let p = landopp::Parcels::read_with(&polygons, layer.as_deref(), id.as_deref(), dup)?;
    let opts = ZonalOptions { stats, band, min_coverage_frac, weights: w.as_ref() };
    let polys = ZonalPolygons::Memory { polygons: &p.geometries, crs: p.crs.as_ref() };
    let cells = ((max_cells * 1e6) as usize).max(1);
    let res = zonal(ZonalRaster::File(&raster), polys, &opts, Some(cells))?;
    // the id column keeps the id field's name, then the included attributes, as in exactextract
    let mut t = landopp::FeatureTable::new(p.ids.clone());
    if let Some(f) = &id {
        t.set_id_name(f.clone());
    }
    for c in &include_cols {
        t.add_attribute(p.column(c)?)?;
    }
    for (name, values) in res.columns {
        t.add_column(name, values, Default::default())?;
    }
    match output {
        Some(o) => t.write_csv(o),
        None => t.write_csv_to(std::io::stdout()).map_err(|e| Error::InvalidInput(e.to_string())),
    }
}

/// `landopp features`.
fn features(a: FeaturesArgs) -> Result<(), Error> {
    let FeaturesArgs { spec: spec_path, output, provenance, quiet, timings } = a;
    let spec = landopp::pipeline::FeatureSpec::read(&spec_path)?;
    let mut inputs = spec.input_paths();
    inputs.push(spec_path);
    check_outputs(&[output.as_deref(), provenance.as_deref()], &inputs)?;
    let bar = indicatif::ProgressBar::new((spec.features.len() + 1) as u64);
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    } else {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                .map_err(|e| Error::InvalidInput(e.to_string()))?
                .progress_chars("=> "),
        );
    }
    let start = std::time::Instant::now();
    let last = std::sync::Mutex::new((start, String::from("start")));
    let t = spec.run(&|p| {
        bar.set_position(p.done as u64);
        bar.set_message(p.message.to_string());
        if timings {
            if let Ok(mut l) = last.lock() {
                eprintln!("{:>8.3} s  {}", l.0.elapsed().as_secs_f64(), l.1);
                *l = (std::time::Instant::now(), p.message.to_string());
            }
        }
    })?;
    if timings {
        eprintln!("{:>8.3} s  total", start.elapsed().as_secs_f64());
    }
    bar.finish_and_clear();
    if let Some(pv) = provenance {
        let m: serde_json::Map<String, serde_json::Value> =
            t.columns().iter().map(|c| (c.name.clone(), serde_json::to_value(&c.meta).unwrap_or_default())).collect();
        landopp::output::write_atomic(&pv, serde_json::to_string_pretty(&m).unwrap_or_default().as_bytes())?;
    }
    match output {
        Some(o) => t.write_csv(o),
        None => t.write_csv_to(std::io::stdout()).map_err(|e| Error::InvalidInput(e.to_string())),
    }
}

/// `landopp score`.
fn score(a: ScoreArgs) -> Result<(), Error> {
    let ScoreArgs { features, profile, output, top } = a;
    check_outputs(&[output.as_deref()], &[features.clone(), profile.clone()])?;
    let t = landopp::FeatureTable::read_csv(&features)?;
    let p = landopp::scoring::Profile::read(&profile)?;
    let r = landopp::scoring::score(&t, &p)?;
    if top > 0 {
        demo::print_top(&r, top);
    }
    match output {
        Some(o) if o.extension().is_some_and(|e| e == "json") => {
            let s = serde_json::to_string_pretty(&r).map_err(|e| Error::InvalidInput(e.to_string()))?;
            landopp::output::write_atomic(&o, s.as_bytes())
        }
        o => {
            let mut out = landopp::FeatureTable::new(r.ids.to_vec());
            out.add_column("score", r.score.clone(), Default::default())?;
            out.add_column("rank", r.rank.clone(), Default::default())?;
            out.add_column("excluded", r.excluded.iter().map(|v| *v as u8 as f64).collect(), Default::default())?;
            out.add_categorical(
                "reasons",
                (0..r.ids.len()).map(|i| Some(r.reasons(i).join(";"))).collect(),
                Default::default(),
            )?;
            out.add_column("buildable_acres", r.buildable_acres(), Default::default())?;
            match o {
                Some(path) => out.write_csv(path),
                None => out.write_csv_to(std::io::stdout()).map_err(|e| Error::InvalidInput(e.to_string())),
            }
        }
    }
}

/// `landopp search`.
fn search(a: SearchArgs) -> Result<(), Error> {
    let SearchArgs { parcels, id, duplicate_ids, features, profile, query } = a;
    let dup = landopp::vector::DuplicateIds::parse(&duplicate_ids)?;
    let p = landopp::Parcels::read_with(&parcels, None, id.as_deref(), dup)?;
    let f = landopp::FeatureTable::read_csv(&features)?;
    let prof = profile.map(landopp::scoring::Profile::read).transpose()?;
    let idx = landopp::search::SearchIndex::from_parcels(p, f, prof.as_ref())?;
    let q = <landopp::search::Query as landopp::config::Config>::from_source(
        landopp::config::ConfigSource::text_or_file(query),
    )?;
    let page = idx.query(&q)?;
    emit(&serde_json::to_string_pretty(&page).map_err(|e| Error::InvalidInput(e.to_string()))?);
    Ok(())
}

/// Refuse any output path that is one of the inputs (it would be destroyed while read).
fn check_outputs(outputs: &[Option<&std::path::Path>], inputs: &[PathBuf]) -> Result<(), Error> {
    let inputs: Vec<&std::path::Path> = inputs.iter().map(PathBuf::as_path).collect();
    outputs.iter().flatten().try_for_each(|o| landopp::output::ensure_distinct(o, &inputs))
}

/// Print to standard output; a closed pipe (`| head`) ends the output quietly.
fn emit(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|_| if s.ends_with('\n') { Ok(()) } else { out.write_all(b"\n") });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error[{}]: {e}", e.code());
            ExitCode::from(2)
        }
    }
}
