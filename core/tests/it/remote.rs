//! Rasters over HTTP (feature `remote`): a loopback server answering byte ranges the way object
//! stores do, and misbehaving the ways real servers do.
#![cfg(feature = "remote")]

use crate::common::fixture;
use landopp::raster::{write_geotiff, GeoTiff, GeoTiffWriteOptions, GeoTransform, Raster, Window};
use landopp::remote::HttpFile;
use landopp::zonal::{zonal, Stat, ZonalOptions, ZonalPolygons, ZonalRaster};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How the server behaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Ranges answered, with an ETag.
    Ranges,
    /// Ranges ignored: 200 and the whole file.
    NoRanges,
    /// Every other request fails with 503 (retried by the client).
    Flaky,
    /// The ETag changes after the first request.
    Changing,
    /// Content-Range names another range than asked.
    Lying,
    /// Content-Range claims the file is a terabyte.
    Huge,
}

struct Server {
    base: String,
    requests: Arc<AtomicUsize>,
    bytes: Arc<AtomicUsize>,
}

fn serve(files: HashMap<String, PathBuf>, mode: Mode) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    let (requests, bytes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (rq, by) = (requests.clone(), bytes.clone());
    let files = Arc::new(files);
    let calls = Arc::new(Mutex::new(0usize));
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (files, rq, by, calls) = (files.clone(), rq.clone(), by.clone(), calls.clone());
            std::thread::spawn(move || {
                let _ = conn(s, &files, mode, &rq, &by, &calls);
            });
        }
    });
    Server { base, requests, bytes }
}

fn conn(
    s: TcpStream,
    files: &HashMap<String, PathBuf>,
    mode: Mode,
    rq: &AtomicUsize,
    by: &AtomicUsize,
    calls: &Mutex<usize>,
) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_string();
        let mut range = None;
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            if h.trim().is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                let (a, b) = v.trim().split_once('-').expect("range");
                range = Some((a.parse::<u64>().expect("start"), b.parse::<u64>().expect("end")));
            }
        }
        rq.fetch_add(1, Ordering::SeqCst);
        let n = {
            let mut c = calls.lock().expect("lock");
            *c += 1;
            *c
        };
        let Some(file) = files.get(&path) else {
            w.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found")?;
            continue;
        };
        if mode == Mode::Flaky && n % 2 == 1 {
            w.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")?;
            continue;
        }
        let data = std::fs::read(file)?;
        let etag = if mode == Mode::Changing && n > 1 { "\"v2\"" } else { "\"v1\"" };
        match (mode, range) {
            (Mode::NoRanges, _) | (_, None) => {
                write!(w, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\netag: {etag}\r\n\r\n", data.len())?;
                w.write_all(&data)?;
                by.fetch_add(data.len(), Ordering::SeqCst);
            }
            (_, Some((a, _))) if a as usize >= data.len() => {
                w.write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\ncontent-length: 0\r\n\r\n")?;
            }
            (_, Some((a, b))) => {
                let b = b.min(data.len() as u64 - 1);
                let body = &data[a as usize..=b as usize];
                let (ra, rb) = if mode == Mode::Lying && a > 0 { (a + 1, b + 1) } else { (a, b) };
                let total = if mode == Mode::Huge { 1u64 << 40 } else { data.len() as u64 };
                write!(
                    w,
                    "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {ra}-{rb}/{total}\r\netag: {etag}\r\n\r\n",
                    body.len(),
                )?;
                w.write_all(body)?;
                by.fetch_add(body.len(), Ordering::SeqCst);
            }
        }
    }
}

/// A 2,048 × 2,048 float raster written as a tiled (256²), Deflate GeoTIFF: a COG's layout.
fn tiled(dir: &Path) -> PathBuf {
    let data = ndarray::Array2::from_shape_fn((2048, 2048), |(r, c)| ((r * 7 + c * 3) % 1000) as f64 + 0.5);
    let r = Raster::from_f64(
        data,
        GeoTransform::north_up(500_000.0, 5_100_000.0, 10.0, 10.0),
        Some(landopp::Crs::from_epsg(32633).expect("crs")),
        Some(-9999.0),
    )
    .expect("raster");
    let p = dir.join("big.tif");
    write_geotiff(&p, &r, &GeoTiffWriteOptions::default()).expect("write");
    p
}

#[test]
fn a_remote_geotiff_reads_as_the_file_does_fetching_only_the_tiles_a_window_needs() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = tiled(dir.path());
    let files = HashMap::from([
        ("/big.tif".to_string(), big.clone()),
        ("/dem.tif".to_string(), fixture("slovenia/dem.tif")),
        ("/s2.tif".to_string(), fixture("slovenia/s2_l1c_13band_2015-08-30.tif")),
    ]);
    let srv = serve(files, Mode::Ranges);
    // whole rasters: equal to the files, stripped and multi-band included
    for (name, local) in [
        ("dem.tif", fixture("slovenia/dem.tif")),
        ("s2.tif", fixture("slovenia/s2_l1c_13band_2015-08-30.tif")),
        ("big.tif", big.clone()),
    ] {
        let url = format!("{}/{name}?token=secret", srv.base);
        assert_eq!(Raster::read(&url).expect("remote"), Raster::read(&local).expect("file"), "{name}");
        let shown = format!("{:?}", GeoTiff::open(&url).expect("open"));
        assert!(!shown.contains("secret") && shown.len() < 4000, "Debug names the URL without its query, no bytes");
    }
    // a window of one tile reads the header and that tile only
    let file_len = std::fs::metadata(&big).expect("meta").len();
    let (r0, b0) = (srv.requests.load(Ordering::SeqCst), srv.bytes.load(Ordering::SeqCst));
    let url = format!("{}/big.tif", srv.base);
    let t = GeoTiff::open(&url).expect("open");
    let w = Window { row: 600, col: 600, rows: 100, cols: 100 };
    assert_eq!(t.read_window(0, w).expect("window"), GeoTiff::open(&big).expect("file").read_window(0, w).expect("w"));
    let (requests, bytes) = (srv.requests.load(Ordering::SeqCst) - r0, srv.bytes.load(Ordering::SeqCst) - b0);
    assert!(requests <= 3, "{requests} requests for the header and one tile");
    assert!((bytes as u64) < file_len / 8, "{bytes} of {file_len} bytes fetched for one tile");
    // a window over 4 × 4 tiles (tile rows 3..=6): the 4 adjacent tiles of each tile row in one
    // request (the file stores tiles row by row)
    let r1 = srv.requests.load(Ordering::SeqCst);
    let w = Window { row: 1000, col: 1000, rows: 600, cols: 600 };
    assert_eq!(t.read_window(0, w).expect("window"), GeoTiff::open(&big).expect("file").read_window(0, w).expect("w"));
    let n = srv.requests.load(Ordering::SeqCst) - r1;
    assert!(n <= 4, "16 tiles in {n} requests");
    // zonal statistics straight from the URL equal the file's
    let parcels = fixture("slovenia/lulc_polygons.gpkg");
    let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean, Stat::Max], ..Default::default() };
    let dem_url = format!("{}/dem.tif", srv.base);
    let polys = || ZonalPolygons::File { path: &parcels, layer: None };
    assert_eq!(
        zonal(ZonalRaster::File(Path::new(&dem_url)), polys(), &opts, None).expect("remote zonal"),
        zonal(ZonalRaster::File(&fixture("slovenia/dem.tif")), polys(), &opts, None).expect("zonal")
    );
}

#[test]
fn servers_without_ranges_flaky_servers_and_a_disk_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    let dem = fixture("slovenia/dem.tif");
    let files = HashMap::from([("/dem.tif".to_string(), dem.clone())]);
    // no ranges: a small file is read whole
    let srv = serve(files.clone(), Mode::NoRanges);
    assert_eq!(Raster::read(format!("{}/dem.tif", srv.base)).expect("whole"), Raster::read(&dem).expect("file"));
    // 503 every other request: retried
    let srv = serve(files.clone(), Mode::Flaky);
    assert_eq!(Raster::read(format!("{}/dem.tif", srv.base)).expect("retried"), Raster::read(&dem).expect("file"));
    // the disk cache: a second reader of the same URL and ETag fetches only the first bytes
    let srv = serve(files, Mode::Ranges);
    let cache = dir.path().join("cache");
    let url = format!("{}/dem.tif", srv.base);
    let a = HttpFile::open_with(&url, Some(cache.clone())).expect("open");
    let mut buf = vec![0u8; a.len() as usize];
    a.read_at(&mut buf, 0).expect("read");
    assert_eq!(buf, std::fs::read(&dem).expect("file"));
    let before = srv.requests.load(Ordering::SeqCst);
    let b = HttpFile::open_with(&url, Some(cache)).expect("open");
    let mut again = vec![0u8; b.len() as usize];
    b.read_at(&mut again, 0).expect("read");
    assert_eq!(again, buf);
    assert_eq!(srv.requests.load(Ordering::SeqCst) - before, 1, "only the first request: the rest from disk");
}

#[test]
fn missing_changing_and_lying_files_get_typed_errors_without_the_query_string() {
    let big_dir = tempfile::tempdir().expect("tmp");
    let big = tiled(big_dir.path());
    let files = HashMap::from([("/big.tif".to_string(), big)]);
    let srv = serve(files.clone(), Mode::Ranges);
    let e = Raster::read(format!("{}/nope.tif?sig=hush", srv.base)).unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND", "{e}");
    assert!(!e.to_string().contains("hush"), "{e}");
    // the ETag moves after the header: refused, not mixed
    let srv = serve(files.clone(), Mode::Changing);
    let e = Raster::read(format!("{}/big.tif", srv.base)).unwrap_err();
    assert_eq!(e.code(), "REMOTE");
    assert!(e.to_string().contains("changed on the server"), "{e}");
    // a Content-Range that is not the range asked for
    let srv = serve(files, Mode::Lying);
    let e = Raster::read(format!("{}/big.tif", srv.base)).unwrap_err();
    assert_eq!(e.code(), "REMOTE");
    assert!(e.to_string().contains("not the byte range asked for"), "{e}");
    // a server claiming a terabyte, with a header whose tag claims 320 MB: the claim sizes
    // nothing (FORMAT before any allocation or request past the bytes it has)
    let dir = tempfile::tempdir().expect("tmp");
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(1u16.to_le_bytes());
    tiff.extend(273u16.to_le_bytes()); // StripOffsets
    tiff.extend(4u16.to_le_bytes()); // LONG
    tiff.extend(80_000_000u32.to_le_bytes());
    tiff.extend(100u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    tiff.resize(200, 0);
    let hostile = dir.path().join("hostile.tif");
    std::fs::write(&hostile, &tiff).expect("write");
    let srv = serve(HashMap::from([("/h.tif".to_string(), hostile)]), Mode::Huge);
    let e = Raster::read(format!("{}/h.tif", srv.base)).unwrap_err();
    assert_eq!(e.code(), "FORMAT", "{e}");
    assert!(e.to_string().contains("a tag may hold"), "{e}");
    assert_eq!(srv.requests.load(Ordering::SeqCst), 1, "the header request only");
    // a valid one-tile header whose tile claims 300 MB: refused at open, before any fetch of it
    let entries: [(u16, u16, u32); 10] = [
        (256, 3, 256),         // ImageWidth
        (257, 3, 256),         // ImageLength
        (258, 3, 8),           // BitsPerSample
        (259, 3, 1),           // Compression: none
        (277, 3, 1),           // SamplesPerPixel
        (322, 3, 256),         // TileWidth
        (323, 3, 256),         // TileLength
        (324, 4, 1000),        // TileOffsets
        (325, 4, 300_000_000), // TileByteCounts
        (339, 3, 1),           // SampleFormat: unsigned
    ];
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend((entries.len() as u16).to_le_bytes());
    for (tag, typ, v) in entries {
        tiff.extend(tag.to_le_bytes());
        tiff.extend(typ.to_le_bytes());
        tiff.extend(1u32.to_le_bytes());
        tiff.extend(if typ == 3 { u32::from(v as u16) } else { v }.to_le_bytes());
    }
    tiff.extend(0u32.to_le_bytes());
    tiff.resize(1200, 0);
    let big_tile = dir.path().join("big_tile.tif");
    std::fs::write(&big_tile, &tiff).expect("write");
    assert_eq!(Raster::read(&big_tile).unwrap_err().code(), "FORMAT", "the local file is truncated");
    let srv = serve(HashMap::from([("/t.tif".to_string(), big_tile)]), Mode::Huge);
    let e = Raster::read(format!("{}/t.tif", srv.base)).unwrap_err();
    assert_eq!(e.code(), "FORMAT", "{e}");
    assert!(e.to_string().contains("more than a remote chunk may hold"), "{e}");
    assert_eq!(srv.requests.load(Ordering::SeqCst), 1, "the header request only");
    // nobody listening
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/x.tif", l.local_addr().expect("addr"));
    drop(l);
    assert_eq!(Raster::read(dead).unwrap_err().code(), "REMOTE");
}

/// The spectral feature step straight from a scene over HTTP: only the tiles under the parcels
/// travel, and the features equal the same step on the files and the whole-raster computation.
/// The real Sentinel-2 L2A bands B04 / B08 and SCL of tile 29RKH (`../shared/data`), rewritten
/// with 256² tiles (5 × 5 tiles a band), and 24 parcels in two clusters.
#[test]
fn spectral_features_from_a_scene_url_fetch_only_the_parcels_tiles() {
    use landopp::pipeline::{run_steps, FeatureSpec};
    use landopp::spectral::{index_rasters, ImagerySettings};
    use landopp::zonal::zonal_stats;
    let Some(shared) = crate::common::shared() else { return };
    let scene = shared.join("sentinel2_l2a_29RKH_2020-02-19");
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = HashMap::new();
    let mut whole = std::collections::BTreeMap::new();
    let mut file_bytes = 0;
    for (key, name) in [("R", "B04"), ("N", "B08"), ("scl", "SCL")] {
        let r = Raster::read(scene.join(format!("{name}.tif"))).expect("band");
        let p = dir.path().join(format!("{name}.tif"));
        write_geotiff(&p, &r, &GeoTiffWriteOptions::default()).expect("write");
        file_bytes += std::fs::metadata(&p).expect("meta").len();
        files.insert(format!("/{name}.tif"), p);
        whole.insert(key.to_string(), r);
    }
    // 300 m squares: 16 near the tile's north-west corner, 8 in its middle (UTM 29N)
    let mut feats = Vec::new();
    for (i, (x0, y0)) in (0..16)
        .map(|i| (202_000.0 + (i % 4) as f64 * 700.0, 2_797_000.0 - (i / 4) as f64 * 700.0))
        .chain((0..8).map(|i| (254_000.0 + (i % 4) as f64 * 900.0, 2_745_000.0 - (i / 4) as f64 * 900.0)))
        .enumerate()
    {
        let ring = [[x0, y0], [x0 + 300.0, y0], [x0 + 300.0, y0 + 300.0], [x0 + 17.0, y0 + 300.0], [x0, y0]];
        feats.push(serde_json::json!({"type": "Feature", "properties": {"pid": format!("p{i}")},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}));
    }
    let parcels_path = dir.path().join("parcels.geojson");
    std::fs::write(
        &parcels_path,
        serde_json::json!({"type": "FeatureCollection", "features": feats,
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32629"}}})
        .to_string(),
    )
    .expect("write");
    let parcels = landopp::Parcels::read(&parcels_path, None, Some("pid")).expect("parcels");
    let srv = serve(files, Mode::Ranges);
    let spec = |r: String, n: String, scl: String| {
        let s = serde_json::json!({"version": 1, "parcels": {"path": parcels_path, "id_field": "pid"},
            "features": [{"type": "spectral", "bands": {"R": r, "N": n}, "scl": scl, "indices": ["NDVI"],
                          "stats": ["count", "mean", "min", "max"],
                          "imagery": {"sensor": {"sensor": "sentinel2_l2a", "offset": 0}}}]});
        FeatureSpec::parse(&s.to_string()).expect("spec")
    };
    let at = |n: &str| format!("{}/{n}.tif", srv.base);
    let local = |n: &str| dir.path().join(format!("{n}.tif")).display().to_string();
    let from_files = run_steps(&parcels, &spec(local("B04"), local("B08"), local("SCL")), &|_| {}).expect("files");
    let before = srv.bytes.load(Ordering::SeqCst);
    let from_urls = run_steps(&parcels, &spec(at("B04"), at("B08"), at("SCL")), &|_| {}).expect("urls");
    let fetched = (srv.bytes.load(Ordering::SeqCst) - before) as u64;
    assert_eq!(from_files.columns(), from_urls.columns());
    // the whole-raster computation: every band read whole, the index over the whole tile
    let settings: ImagerySettings =
        serde_json::from_value(serde_json::json!({"sensor": {"sensor": "sentinel2_l2a", "offset": 0}}))
            .expect("settings");
    let scl = whole.remove("scl").expect("scl");
    let ndvi = index_rasters(&whole, &["NDVI"], &settings.options(Some((&scl).into()), None)).expect("ndvi");
    let ndvi = Raster::new(vec![ndvi.band(0).expect("band").clone()], ndvi.transform, ndvi.crs.clone(), Some(f64::NAN))
        .expect("raster");
    let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean, Stat::Min, Stat::Max], ..Default::default() };
    let reference = zonal_stats(&ndvi, &parcels.geometries, parcels.crs.as_ref(), &opts).expect("zonal");
    for (name, values) in &reference.columns {
        let col = from_urls.columns().iter().find(|c| c.name == format!("ndvi_{name}")).expect("column");
        for (i, (a, b)) in col.values.iter().zip(values).enumerate() {
            assert!(a == b || (a.is_nan() && b.is_nan()), "ndvi_{name} of parcel {i}: {a} vs {b}");
        }
    }
    let count = from_urls.columns().iter().find(|c| c.name == "ndvi_count").expect("count");
    assert!(count.values.iter().all(|c| *c > 5.0), "every parcel has clear cells");
    // the parcels sit on 2 of the 25 tiles of each band (and of the 9 of the SCL)
    assert!(fetched * 5 < file_bytes, "{fetched} of {file_bytes} bytes fetched");
}

/// The terrain feature step from a DEM URL: the window under the parcels with the neighbours
/// of their cells, only its tiles fetched; the slopes equal the whole DEM's, bit for bit. The real Copernicus
/// GLO-30 DEM of São Tomé (`../shared/data`, geographic, 256² tiles) and 12 parcels.
#[test]
fn terrain_features_from_a_dem_url_equal_the_whole_dem() {
    use landopp::pipeline::{run_steps, FeatureSpec};
    use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
    use landopp::zonal::zonal_stats;
    let Some(shared) = crate::common::shared() else { return };
    let dem_path = shared.join("dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif");
    let srv = serve(HashMap::from([("/dem.tif".to_string(), dem_path.clone())]), Mode::Ranges);
    let dir = tempfile::tempdir().expect("tmp");
    let feats: Vec<serde_json::Value> = (0..12)
        .map(|i| {
            let (x, y) = (6.60 + (i % 4) as f64 * 0.004, 0.30 - (i / 4) as f64 * 0.004);
            serde_json::json!({"type": "Feature", "properties": {"pid": i},
                "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.003, y], [x + 0.0025, y + 0.003], [x, y + 0.003], [x, y]]]}})
        })
        .collect();
    let parcels_path = dir.path().join("parcels.geojson");
    std::fs::write(&parcels_path, serde_json::json!({"type": "FeatureCollection", "features": feats}).to_string())
        .expect("write");
    let parcels = landopp::Parcels::read(&parcels_path, None, Some("pid")).expect("parcels");
    let spec = |raster: String| {
        let s = serde_json::json!({"version": 1, "parcels": {"path": parcels_path, "id_field": "pid"},
            "features": [{"type": "terrain", "raster": raster, "product": "slope", "stats": ["count", "mean", "max"],
                          "share_below": [10]}]});
        FeatureSpec::parse(&s.to_string()).expect("spec")
    };
    let from_file = run_steps(&parcels, &spec(dem_path.display().to_string()), &|_| {}).expect("file");
    let before = srv.bytes.load(Ordering::SeqCst);
    let from_url = run_steps(&parcels, &spec(format!("{}/dem.tif", srv.base)), &|_| {}).expect("url");
    let fetched = (srv.bytes.load(Ordering::SeqCst) - before) as u64;
    let values = |t: &landopp::FeatureTable| -> Vec<(String, Vec<f64>)> {
        t.columns().iter().map(|c| (c.name.clone(), c.values.to_vec())).collect()
    };
    assert_eq!(values(&from_file), values(&from_url));
    let dem = Raster::read(&dem_path).expect("dem");
    let slope = terrain(&dem, TerrainProduct::SlopeDegrees, &TerrainOptions::default()).expect("slope");
    let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean, Stat::Max], ..Default::default() };
    let reference = zonal_stats(&slope, &parcels.geometries, parcels.crs.as_ref(), &opts).expect("zonal");
    // the window starts at the DEM's origin: bit for bit
    for (name, values) in &reference.columns {
        let col = from_url.columns().iter().find(|c| c.name == format!("slope_{name}")).expect("column");
        assert_eq!(&col.values[..], &values[..], "slope_{name}");
    }
    let mean = from_url.columns().iter().find(|c| c.name == "slope_mean").expect("mean");
    assert!(mean.values.iter().all(|v| v.is_finite() && *v > 0.0), "{:?}", &mean.values[..]);
    let size = std::fs::metadata(&dem_path).expect("meta").len();
    assert!(fetched * 3 < size, "{fetched} of {size} bytes fetched");
}

/// Overviews: a COG's reduced-resolution images are listed, georeferenced with larger cells,
/// picked by resolution, and read from a URL by their own tiles only. The real Sentinel-2 B04
/// of tile 29RKH (`../shared/data`: 1098² with overviews of 549² and 275²).
#[test]
fn overviews_are_listed_picked_by_resolution_and_read_alone() {
    use landopp::raster::ReadOptions;
    let Some(shared) = crate::common::shared() else { return };
    let b04 = shared.join("sentinel2_l2a_29RKH_2020-02-19/B04.tif");
    let srv = serve(HashMap::from([("/b04.tif".to_string(), b04.clone())]), Mode::Ranges);
    let url = format!("{}/b04.tif", srv.base);
    let t = GeoTiff::open(&b04).expect("open");
    assert_eq!(t.overviews(), vec![(549, 549), (275, 275)]);
    let o = t.overview(0).expect("overview 0");
    assert_eq!((o.width(), o.height()), (549, 549));
    assert_eq!(o.transform().0, [199_980.0, 200.0, 0.0, 2_800_020.0, 0.0, -200.0]);
    assert_eq!(o.crs(), t.crs());
    let o1 = t.overview(1).expect("overview 1");
    assert!((o1.transform().xres() - 109_800.0 / 275.0).abs() < 1e-9);
    assert_eq!(t.overview(2).expect_err("no third").code(), "NOT_FOUND");
    // the coarsest image within the resolution asked
    for (res, width) in [(50.0, 1098), (100.0, 1098), (200.0, 549), (399.0, 549), (400.0, 275), (5000.0, 275)] {
        assert_eq!(t.at_resolution(res).expect("pick").width(), width, "resolution {res}");
    }
    assert_eq!(t.at_resolution(f64::NAN).expect_err("nan").code(), "INVALID_INPUT");
    // an overview from the URL: the same cells as from the file, fewer bytes than the full image
    let local = Raster::read_with(&b04, &ReadOptions { overview: Some(0), ..Default::default() }).expect("file");
    let before = srv.bytes.load(Ordering::SeqCst);
    let remote = Raster::read_with(&url, &ReadOptions { resolution: Some(250.0), ..Default::default() }).expect("url");
    let fetched = (srv.bytes.load(Ordering::SeqCst) - before) as u64;
    assert_eq!(local, remote);
    let size = std::fs::metadata(&b04).expect("meta").len();
    assert!(fetched * 3 < size, "{fetched} of {size} bytes for the 549² overview");
    let both = ReadOptions { overview: Some(0), resolution: Some(200.0), ..Default::default() };
    assert_eq!(Raster::read_with(&b04, &both).expect_err("both").code(), "INVALID_INPUT");
    // gdalinfo lists them too
    let info = landopp::info::info(&b04).expect("info").to_string();
    assert!(info.contains("Overviews: 549x549, 275x275"), "{info}");
}

/// Rate politeness: past a burst of 16, requests to a host given 10 a second start at least
/// 0.1 s apart; other hosts are not slowed; rates outside 0.001..=10⁶ a second are refused.
#[test]
fn requests_to_a_host_keep_to_its_rate() {
    let dir = tempfile::tempdir().expect("tmp");
    // 8 MiB that do not compress: ranges 256 KiB apart are requests of their own
    let big = dir.path().join("big.bin");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&big, bytes).expect("write");
    let slow = serve(HashMap::from([("/big.tif".to_string(), big.clone())]), Mode::Ranges);
    let fast = serve(HashMap::from([("/big.tif".to_string(), big)]), Mode::Ranges);
    landopp::remote::set_host_rate(&slow.base, Some(10.0)).expect("rate");
    for bad in [0.0, 1e-20, f64::INFINITY, f64::NAN] {
        assert_eq!(landopp::remote::set_host_rate(&slow.base, Some(bad)).expect_err("bad").code(), "INVALID_INPUT");
    }
    let reads = |base: &str| {
        let f = HttpFile::open_with(&format!("{base}/big.tif"), None).expect("open");
        // 30 ranges 256 KiB apart: one request each, up to 8 at once
        let ranges: Vec<(u64, u64)> = (1..=30u64).map(|k| (k << 18, 16)).collect();
        let t = std::time::Instant::now();
        f.prefetch(&ranges).expect("prefetch");
        let (requests, _) = f.stats();
        assert!(requests >= 30, "{requests} requests");
        t.elapsed()
    };
    landopp::remote::set_host_rate(&fast.base, Some(1e6)).expect("rate");
    let (s, f) = (reads(&slow.base), reads(&fast.base));
    landopp::remote::set_host_rate(&slow.base, None).expect("reset");
    landopp::remote::set_host_rate(&fast.base, None).expect("reset");
    // 30 requests: 16 at once, then 14 more 0.1 s apart
    assert!(s >= std::time::Duration::from_millis(1200), "30 requests at 10 a second took {s:?}");
    assert!(s > f + std::time::Duration::from_millis(500), "10 a second: {s:?}, no limit: {f:?}");
}
