//! Fuzz targets for every parser of landopp: each takes arbitrary bytes, runs the reader and what
//! a caller does next with its result (validation, reprojection, decoding, prediction), and
//! returns the reader's [`landopp::Result`]. A target may return any error; it must never panic,
//! abort, hang or allocate without bound.
//!
//! The same functions serve three drivers: AFL++ (`cargo afl build --features afl`, see
//! `core/fuzz/README.md`), the replay binary (`landopp-fuzz TARGET FILE...`) and the mutation
//! test (`tests/mutate.rs`) that runs in `cargo test` with a memory cap.

use landopp::ml::lifecycle::{LoadOptions, Model};
use landopp::{Crs, FeatureTable, GeoTiff, Parcels, Transformer, Window};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A parser under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// GeoTIFF: header, IFD, geokeys, every compression and predictor, window reads.
    GeoTiff,
    /// Well-Known Binary and GeoPackage geometry blobs.
    Wkb,
    /// GeoJSON text.
    GeoJson,
    /// FlatGeobuf files.
    FlatGeobuf,
    /// Shapefiles: `.shp`, `.shx`, `.dbf` and `.prj` packed by [`pack_shapefile`].
    Shapefile,
    /// GeoPackage (SQLite) files.
    GeoPackage,
    /// CRS text: EPSG codes, WKT, PROJ strings.
    Crs,
    /// Model files (JSON envelope, trees, boosting, linear models).
    Model,
    /// Configs: first byte picks profile / feature spec / model parameters / search query.
    Config,
    /// Relief: first byte picks a colour table (applied to a small DEM with nodata and NaN),
    /// terrain options (run on that DEM) or colour relief options.
    Relief,
    /// Well-known text polygons (the map units Soil Data Access answers with).
    Wkt,
}

impl Target {
    /// Every target, in a stable order.
    pub const ALL: [Target; 11] = [
        Target::GeoTiff,
        Target::Wkb,
        Target::GeoJson,
        Target::FlatGeobuf,
        Target::Shapefile,
        Target::GeoPackage,
        Target::Crs,
        Target::Model,
        Target::Config,
        Target::Relief,
        Target::Wkt,
    ];

    /// The name used on the command line and for the corpus folder `fixtures/fuzz/<name>/`.
    pub fn name(self) -> &'static str {
        match self {
            Target::GeoTiff => "geotiff",
            Target::Wkb => "wkb",
            Target::GeoJson => "geojson",
            Target::FlatGeobuf => "flatgeobuf",
            Target::Shapefile => "shapefile",
            Target::GeoPackage => "geopackage",
            Target::Crs => "crs",
            Target::Model => "model",
            Target::Config => "config",
            Target::Relief => "relief",
            Target::Wkt => "wkt",
        }
    }

    /// The target of a name.
    pub fn from_name(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Run the target on `data`.
    pub fn run(self, data: &[u8]) -> landopp::Result<()> {
        match self {
            Target::GeoTiff => geotiff(data),
            Target::Wkb => wkb(data),
            Target::GeoJson => geojson(data),
            Target::FlatGeobuf => vector_file(data, "fgb"),
            Target::Shapefile => shapefile(data),
            Target::GeoPackage => vector_file(data, "gpkg"),
            Target::Crs => crs(data),
            Target::Model => model(data),
            Target::Config => config(data),
            Target::Relief => relief(data),
            Target::Wkt => wkt(data),
        }
    }
}

/// A private scratch folder for staging inputs as files (path-based readers).
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let d = base.join(format!("landopp-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch folder");
        d
    })
}

fn stage(name: &str, data: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(scratch());
    let p = scratch().join(name);
    std::fs::write(&p, data).expect("write to the scratch folder");
    p
}

/// Remove the scratch folder (the replay binary and tests call it at the end).
pub fn cleanup() {
    let _ = std::fs::remove_dir_all(scratch());
}

fn geotiff(data: &[u8]) -> landopp::Result<()> {
    let p = stage("in.tif", data);
    let t = GeoTiff::open(&p)?;
    let _ = landopp::info::info(&p)?;
    // every band of the first block, then the whole raster (the reader bounds both)
    if let Some(w) = t.blocks().first() {
        t.read_bands_window(*w)?;
    }
    let r = t.read()?;
    let last = Window::new(t.height() - 1, t.width() - 1, 1, 1);
    t.read_window(t.band_count() - 1, last)?;
    drop(r);
    // the overviews a file lists: each opened and read like the full image
    for k in 0..t.overviews().len().min(3) {
        t.overview(k)?.read()?;
    }
    let _ = t.at_resolution(t.transform().xres().abs() * 4.0);
    Ok(())
}

/// Read, write back and read again: the same polygons.
fn wkt(data: &[u8]) -> landopp::Result<()> {
    let text = String::from_utf8_lossy(data);
    let mp = landopp::vector::wkt::parse_polygonal(&text)?;
    let mut back = String::new();
    landopp::vector::wkt::write_multipolygon(&mp, None, &mut back);
    assert_eq!(landopp::vector::wkt::parse_polygonal(&back).ok().as_ref(), Some(&mp), "WKT round trip");
    let _ = Parcels::from_layer(
        landopp::VectorLayer {
            name: "wkt".into(),
            crs: Some(Crs::wgs84()),
            fids: vec![0],
            geometries: vec![Some(landopp::geo_types::Geometry::MultiPolygon(mp))],
            columns: vec![],
            geometry_type: "MULTIPOLYGON".into(),
        },
        None,
    )
    .map(|p| p.geodesic_area_perimeter());
    Ok(())
}

fn parcels_after_read(layer: landopp::VectorLayer) -> landopp::Result<()> {
    let p = Parcels::from_layer(layer, None)?;
    let _ = p.geodesic_area_perimeter();
    if p.crs.is_some() {
        let _ = p.to_crs(&Crs::wgs84());
    }
    Ok(())
}

/// WKB, or a GeoPackage geometry blob (GP header + WKB) when the input starts with `GP`.
fn wkb(data: &[u8]) -> landopp::Result<()> {
    let g = if data.starts_with(b"GP") {
        match landopp::vector::gpkg::parse_blob(data)? {
            Some(g) => g,
            None => return Ok(()),
        }
    } else {
        landopp::vector::wkb::read(data)?
    };
    let layer = landopp::VectorLayer {
        name: "wkb".into(),
        crs: Some(Crs::wgs84()),
        fids: vec![0],
        geometries: vec![Some(g)],
        columns: vec![],
        geometry_type: "GEOMETRY".into(),
    };
    parcels_after_read(layer)
}

fn geojson(data: &[u8]) -> landopp::Result<()> {
    let text = String::from_utf8_lossy(data);
    let layer = landopp::vector::geojson::parse(&text, "fuzz", Path::new("fuzz.geojson"))?;
    parcels_after_read(layer)
}

fn vector_file(data: &[u8], ext: &str) -> landopp::Result<()> {
    let p = stage(&format!("in.{ext}"), data);
    let layer = landopp::read_layer(&p, &Default::default())?;
    parcels_after_read(layer)
}

/// Pack a shapefile's parts into one fuzz input: three little-endian u32 lengths (`.shp`,
/// `.shx`, `.dbf`), the three files, then the `.prj` text.
pub fn pack_shapefile(shp: &[u8], shx: &[u8], dbf: &[u8], prj: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for part in [shp, shx, dbf] {
        v.extend_from_slice(&(part.len() as u32).to_le_bytes());
    }
    for part in [shp, shx, dbf, prj] {
        v.extend_from_slice(part);
    }
    v
}

fn shapefile(data: &[u8]) -> landopp::Result<()> {
    let len =
        |i: usize| data.get(4 * i..4 * i + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let mut rest = data.get(12..).unwrap_or_default();
    let mut part = |n: usize| {
        let (a, b) = rest.split_at(n.min(rest.len()));
        rest = b;
        a
    };
    let (shp, shx, dbf) = (part(len(0)), part(len(1)), part(len(2)));
    let p = stage("in.shp", shp);
    stage("in.shx", shx);
    stage("in.dbf", dbf);
    let prj = scratch().join("in.prj");
    if rest.is_empty() {
        let _ = std::fs::remove_file(&prj);
    } else {
        stage("in.prj", rest);
    }
    let layer = landopp::read_layer(&p, &Default::default())?;
    parcels_after_read(layer)
}

fn crs(data: &[u8]) -> landopp::Result<()> {
    let text = String::from_utf8_lossy(data);
    let c = Crs::from_user_input(&text)?;
    let t = Transformer::new(&c, &Crs::wgs84())?;
    let _ = t.transform_point(500_000.0, 4_500_000.0);
    let _ = t.transform_point(10.0, 45.0);
    Ok(())
}

/// The model target's input: a selector byte, then a model file (0) or a model payload (1), which
/// is wrapped in an envelope with a valid checksum so that mutations reach the model's structure.
fn model(data: &[u8]) -> landopp::Result<()> {
    let Some((&which, rest)) = data.split_first() else { return Ok(()) };
    let file = if which % 2 == 0 {
        rest.to_vec()
    } else {
        let payload = String::from_utf8_lossy(rest).into_owned();
        let card = serde_json::from_str::<serde_json::Value>(&payload).ok().and_then(|v| v.get("card").cloned());
        let sha: String = sha2::Sha256::digest(payload.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        serde_json::json!({"format": "landopp-model", "format_version": 2, "encryption": null, "nonce": null,
                           "payload": payload, "sha256": sha, "hmac_sha256": null, "card": card})
        .to_string()
        .into_bytes()
    };
    let p = stage("model.json", &file);
    let m = Model::load(&p, &LoadOptions::default())?;
    // a few rows of the model's own schema: 0, 1 and a large value in every feature
    let ids: Vec<String> = (0..3).map(|i| i.to_string()).collect();
    let mut t = FeatureTable::new(ids);
    for f in &m.card.features {
        if let Some(cats) = m.card.categories.get(f) {
            let v = (0..3).map(|i| cats.get(i).cloned()).collect();
            t.add_categorical(f.clone(), v, Default::default())?;
        } else {
            t.add_column(f.clone(), vec![0.0, 1.0, 1e12], Default::default())?;
        }
    }
    m.predict_table(&t)?;
    m.explain_table(&t)?;
    Ok(())
}

fn config(data: &[u8]) -> landopp::Result<()> {
    let Some((&which, rest)) = data.split_first() else { return Ok(()) };
    let text = String::from_utf8_lossy(rest);
    match which % 4 {
        0 => landopp::scoring::Profile::parse(&text).map(drop),
        1 => landopp::pipeline::FeatureSpec::parse(&text).map(drop),
        2 => landopp::ml::Params::parse(&text).and_then(|p| p.validate()),
        _ => serde_json::from_str::<landopp::search::Query>(&text)
            .map(drop)
            .map_err(|e| landopp::Error::InvalidInput(e.to_string())),
    }
}

/// A 6×5 DEM with nodata, a NaN and a flat patch, for the relief target.
fn small_dem() -> &'static landopp::Raster {
    static DEM: OnceLock<landopp::Raster> = OnceLock::new();
    DEM.get_or_init(|| {
        let mut z = ndarray::Array2::from_shape_fn((5, 6), |(r, c)| (r * 7 + c * 3) as f32);
        z[(1, 1)] = -9999.0;
        z[(2, 4)] = f32::NAN;
        z[(4, 0)] = 4.0;
        let g = landopp::raster::GeoTransform::north_up(500_000.0, 4_000_000.0, 10.0, 10.0);
        landopp::Raster::new(vec![landopp::BandData::F32(z)], g, None, Some(-9999.0)).expect("small DEM")
    })
}

fn relief(data: &[u8]) -> landopp::Result<()> {
    use landopp::color_relief::{color_relief, ColorReliefOptions, ColorTable};
    use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
    let Some((&which, rest)) = data.split_first() else { return Ok(()) };
    let text = String::from_utf8_lossy(rest);
    match which % 3 {
        0 => {
            let table = ColorTable::parse(&text)?;
            for mode in [
                Default::default(),
                landopp::color_relief::ColorMode::NearestEntry,
                landopp::color_relief::ColorMode::ExactEntry,
            ] {
                color_relief(small_dem(), &table, &ColorReliefOptions { mode, alpha: true, band: 1 })?;
            }
            Ok(())
        }
        1 => {
            let opts = TerrainOptions::parse(&text)?;
            let products =
                [TerrainProduct::SlopeDegrees, TerrainProduct::Aspect, TerrainProduct::Hillshade, TerrainProduct::Tri];
            for p in products {
                // options for another product are errors; every other error is the reader's
                let _ = terrain(small_dem(), p, &opts);
            }
            Ok(())
        }
        _ => ColorReliefOptions::parse(&text).map(drop),
    }
}
