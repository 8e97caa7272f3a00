//! The CLI as users run it: the README's main job and the error exit.

use std::process::Command;

#[test]
fn demo_ranks_the_bundled_parcels() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_landopp")).args(["demo", "--out"]).arg(out.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("top 10 parcels for agriculture"), "{text}");
    assert!(text.contains("#10 "), "{text}");
    // the preset screens out slivers and parcels under an acre: every parcel of the top 10 is
    // one a farmer would look at (it was 0.03-0.18-acre strips before)
    assert!(text.contains("TOO_SMALL") && text.contains("SLIVER"), "{text}");
    let sizes: Vec<f64> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("size (acres)"))
        .map(|l| l.split_whitespace().nth(3).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sizes.len(), 10, "{text}");
    assert!(sizes.iter().all(|a| *a >= 1.0), "{sizes:?}");
    assert!(out.path().join("parcels_features.csv").exists());
    assert!(out.path().join("parcels_features.geojson").exists());
}

#[test]
fn errors_exit_2_with_the_code() {
    let o = Command::new(env!("CARGO_BIN_EXE_landopp")).args(["info", "/nonexistent.tif"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error[NOT_FOUND]"));
}

#[test]
fn train_predict_drift_with_a_signed_encrypted_model() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("f.csv");
    let mut text = String::from("id,slope,area,x,y,developed\n");
    let mut s: u64 = 5;
    for i in 0..400 {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let slope = (s >> 40) as f64 / (1u64 << 24) as f64 * 20.0;
        let area = (s & 0xffff) as f64 / 65536.0 * 10.0;
        let dev = if slope < 8.0 { 1 } else { 0 };
        text += &format!("p{i},{slope},{area},{},{},{dev}\n", (i % 20) as f64 * 100.0, (i / 20) as f64 * 100.0);
    }
    std::fs::write(&csv, &text).unwrap();
    let model = dir.path().join("m.json");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_landopp"))
            .args(args)
            .env("LANDOPP_SIGN", "a 16-byte s3cret")
            .env("LANDOPP_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .env("LANDOPP_BAD_KEY", "ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .output()
            .unwrap()
    };
    let (c, m) = (csv.to_str().unwrap(), model.to_str().unwrap());
    // train a classifier with spatial validation; prints the metric `accuracy_<scheme>`
    let train = |extra: &[&str], scheme: &str| -> f64 {
        let base =
            ["train", c, "--target", "developed", "--task", "classification", "--xy", "x,y", "--n-estimators", "20"];
        let o = run(&[&base[..], extra].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        let key = format!("accuracy_{scheme}: ");
        out.lines().find_map(|l| l.strip_prefix(key.as_str())).unwrap_or_else(|| panic!("{out}")).parse().unwrap()
    };
    let signed = ["--version", "1.0.0", "-o", m, "--hmac-key-env", "LANDOPP_SIGN", "--key-env", "LANDOPP_KEY"];
    assert!(train(&signed, "spatial_5fold") > 0.9);
    // a spatial hold-out split instead of folds
    let m2 = m.replace(".json", "_holdout.json");
    assert!(train(&["--holdout", "0.25", "-o", &m2], "spatial_holdout") > 0.85);
    // the table's x,y columns make spatial validation the default; --random-folds opts out
    let auto = ["train", c, "--target", "developed", "--task", "classification", "--n-estimators", "10", "-o", &m2];
    let out = String::from_utf8_lossy(&run(&auto).stdout).to_string();
    assert!(out.contains("spatial validation on columns x,y") && out.contains("accuracy_spatial_5fold: "), "{out}");
    let out = String::from_utf8_lossy(&run(&[&auto[..], &["--random-folds"]].concat()).stdout).to_string();
    assert!(out.contains("accuracy_kfold_5fold: "), "{out}");
    let o = run(&["predict", m, c, "--hmac-key-env", "LANDOPP_SIGN", "--key-env", "LANDOPP_KEY"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pred = String::from_utf8_lossy(&o.stdout);
    assert!(pred.starts_with("id,p_class_0,p_class_1,model_version") && pred.lines().count() == 401, "{pred}");
    let o = run(&["predict", m, c, "--hmac-key-env", "LANDOPP_SIGN", "--key-env", "LANDOPP_BAD_KEY"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error[INTEGRITY]"));
    let o = run(&["drift", c, c]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"drifted\": []"));
}

fn fixture(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(rel)
}

/// `../shared/data`, or `None` with a visible message; under `CI=true` a missing folder fails.
fn shared() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("LANDOPP_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if p.join("README.md").exists() {
        return Some(p);
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI=true but the shared test data is missing at {}",
        p.display()
    );
    eprintln!("SKIPPED: shared test data not found at {} (set LANDOPP_SHARED_DATA)", p.display());
    None
}

#[test]
fn terrain_streams_and_zonal_bounds_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_landopp");
    let dem = fixture("slovenia/dem.tif");
    let out = dir.path().join("slope.tif");
    let o = Command::new(bin).args(["terrain", "slope"]).arg(&dem).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let streamed = landopp::Raster::read(&out).unwrap();
    let opts = landopp::terrain::TerrainOptions::default();
    let mem = landopp::terrain::terrain(
        &landopp::Raster::read(&dem).unwrap(),
        landopp::terrain::TerrainProduct::SlopeDegrees,
        &opts,
    )
    .unwrap();
    assert_eq!(streamed, mem);
    // gdaldem's options map onto the core's (each equal to gdaldem in core/tests/it/terrain.rs)
    use landopp::terrain::{Gradient, HillshadeMode, TerrainOptions, TerrainProduct, TriAlgorithm};
    let o = TerrainOptions::default();
    for (product, args, opts) in [
        (
            TerrainProduct::Aspect,
            &["--alg", "ZevenbergenThorne", "--zero-for-flat", "--trigonometric"][..],
            TerrainOptions { gradient: Gradient::ZevenbergenThorne, zero_for_flat: true, trigonometric: true, ..o },
        ),
        (
            TerrainProduct::Hillshade,
            &["--igor", "-z", "2", "--az", "200", "--alt", "30"][..],
            TerrainOptions { hillshade: HillshadeMode::Igor, z_factor: 2.0, azimuth: 200.0, altitude: 30.0, ..o },
        ),
        (TerrainProduct::Tri, &["--alg", "wilson"][..], TerrainOptions { tri: TriAlgorithm::Wilson, ..o }),
    ] {
        let name = format!("{product:?}").to_ascii_lowercase();
        let st = Command::new(bin).args(["terrain", &name]).arg(&dem).arg(&out).args(args).status().unwrap();
        assert!(st.success(), "{args:?}");
        let mem = landopp::terrain::terrain(&landopp::Raster::read(&dem).unwrap(), product, &opts).unwrap();
        assert_eq!(landopp::Raster::read(&out).unwrap(), mem, "{args:?}");
    }
    // color-relief: the core's colours through gdaldem's flags; a bad table line is named, not quoted
    let table = dir.path().join("colors.txt");
    std::fs::write(&table, "0% 0 96 0\n50% yellow\n100% white\n").unwrap();
    let rgb = dir.path().join("rgb.tif");
    let st = Command::new(bin)
        .arg("color-relief")
        .arg(&dem)
        .arg(&table)
        .arg(&rgb)
        .args(["--alpha", "--nearest-color-entry"])
        .status()
        .unwrap();
    assert!(st.success());
    use landopp::color_relief::{color_relief, ColorMode, ColorReliefOptions, ColorTable};
    let want = color_relief(
        &landopp::Raster::read(&dem).unwrap(),
        &ColorTable::read(&table).unwrap(),
        &ColorReliefOptions { mode: ColorMode::NearestEntry, alpha: true, band: 1 },
    )
    .unwrap();
    assert_eq!(landopp::Raster::read(&rgb).unwrap(), want);
    std::fs::write(&table, "0 0 96 0\n10 secret-colour\n").unwrap();
    let o = Command::new(bin).arg("color-relief").arg(&dem).arg(&table).arg(&rgb).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("line 2: unknown colour name") && !err.contains("secret"), "{err}");
    let o = Command::new(bin).args(["terrain", "slope"]).arg(&dem).arg(&out).args(["--igor"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("applies to hillshade"));
    // gdaldem's -b: band numbers from 1 (a single-band DEM has no band 2, and no band 0)
    let o = Command::new(bin).args(["terrain", "slope"]).arg(&dem).arg(&out).args(["-b", "1"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (b, code) in [("2", "NOT_FOUND"), ("0", "INVALID_INPUT")] {
        let o = Command::new(bin).args(["terrain", "slope"]).arg(&dem).arg(&out).args(["--band", b]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(code), "band {b}: {err}");
    }
    // zonal with a tiny memory budget (one 20-row strip at a time) equals the default
    let polys = fixture("slovenia/lulc_polygons.gpkg");
    let run = |extra: &[&str]| {
        let o = Command::new(bin)
            .arg("zonal")
            .arg(&polys)
            .arg(&dem)
            .args(["--stats", "count,mean,median,majority"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let small = run(&["--max-cells", "0.0001"]);
    assert_eq!(small, run(&[]));
    assert!(small.lines().count() > 10, "{small}");
    let o = Command::new(bin).arg("zonal").arg(&polys).arg(&dem).args(["--max-cells=0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error[INVALID_INPUT]"));
}

fn landopp(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_landopp")).args(args).output().expect("run landopp")
}

/// `landopp terrain slope d.tif d.tif` used to delete the input DEM: an output that is the
/// input (also through a link) is refused and the input is untouched; a failed write leaves no
/// partial file and an existing output as it was.
#[test]
fn outputs_never_destroy_inputs_or_leave_partial_files() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/slovenia/dem.tif");
    std::fs::copy(&fixture, &dem).unwrap();
    let original = std::fs::read(&dem).unwrap();
    let link = dir.path().join("link.tif");
    std::os::unix::fs::symlink(&dem, &link).unwrap();
    for out in [&dem, &link] {
        let o = landopp(&["terrain".as_ref(), "slope".as_ref(), dem.as_os_str(), out.as_os_str()]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("error[INVALID_INPUT]"), "{o:?}");
        assert_eq!(std::fs::read(&dem).unwrap(), original, "the input is untouched");
    }
    // a real output works, and leaves nothing else behind
    let slope = dir.path().join("slope.tif");
    let o = landopp(&["terrain".as_ref(), "slope".as_ref(), dem.as_os_str(), slope.as_os_str()]);
    assert!(o.status.success(), "{o:?}");
    // a failing run (the input is not a DEM) leaves the previous output as it was, no temporary
    let before = std::fs::read(&slope).unwrap();
    let bad = dir.path().join("bad.tif");
    std::fs::write(&bad, b"not a tiff").unwrap();
    let o = landopp(&["terrain".as_ref(), "slope".as_ref(), bad.as_os_str(), slope.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&slope).unwrap(), before);
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.contains("landopp-tmp")), "{names:?}");
    // zonal / score outputs that name an input are refused too
    let o = landopp(&["zonal".as_ref(), fixture.as_os_str(), dem.as_os_str(), "-o".as_ref(), dem.as_os_str()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("error[INVALID_INPUT]"), "{o:?}");
    assert_eq!(std::fs::read(&dem).unwrap(), original);
}

/// A profile, spec or table path pointing at a file that is not one (`/etc/passwd`,
/// `/proc/self/environ`) is an error naming the path and position, never printing the content.
#[test]
fn parse_errors_never_print_file_content() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "TOKEN_4f3a9c_do_not_print";
    let env_like = dir.path().join("environ");
    std::fs::write(&env_like, format!("SHELL=/bin/bash\0API_TOKEN={secret}\0HOME=/root\0")).unwrap();
    let passwd_like = dir.path().join("passwd");
    std::fs::write(&passwd_like, format!("root:x:0:0:{secret}:/root:/bin/bash\n")).unwrap();
    let csv = dir.path().join("f.csv");
    std::fs::write(&csv, "id,a\n1,2\n").unwrap();
    for f in [&env_like, &passwd_like] {
        for args in [
            vec!["score".as_ref(), csv.as_os_str(), f.as_os_str()],
            vec!["features".as_ref(), f.as_os_str()],
            vec!["predict".as_ref(), f.as_os_str(), csv.as_os_str()],
            vec!["info".as_ref(), f.as_os_str()],
        ] {
            let o = landopp(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert!(!err.contains(secret) && !err.contains("/bin/bash"), "{args:?} printed the file: {err}");
        }
    }
}

/// `landopp zonal --id FIELD` keeps the field's name for the id column (it was `id`), and
/// `--include-cols` copies polygon attributes beside the statistics, as exactextract does.
#[test]
fn zonal_keeps_the_id_field_name_and_included_columns() {
    let f = |p: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(p);
    let (polys, dem) = (f("olinda/olinda_census_tracts.gpkg"), f("olinda/srtm_dem_utm25s.tif"));
    let o = landopp(&[
        "zonal".as_ref(),
        polys.as_os_str(),
        dem.as_os_str(),
        "--id".as_ref(),
        "CD_GEOCODI".as_ref(),
        "--include-cols".as_ref(),
        "NM_BAIR,V014".as_ref(),
        "--stats".as_ref(),
        "count,mean".as_ref(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().next(), Some("CD_GEOCODI,NM_BAIR,V014,count,mean"));
    assert_eq!(text.lines().count(), 471);
    // an id field whose values repeat: refused, or suffixed on request
    let dup = landopp(&["zonal".as_ref(), polys.as_os_str(), dem.as_os_str(), "--id".as_ref(), "NM_BAIR".as_ref()]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("error[INVALID_INPUT]"), "{dup:?}");
    let ok = landopp(&[
        "zonal".as_ref(),
        polys.as_os_str(),
        dem.as_os_str(),
        "--id".as_ref(),
        "NM_BAIR".as_ref(),
        "--duplicate-ids".as_ref(),
        "suffix".as_ref(),
    ]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Ouro Preto_2,"));
}

/// A loopback server answering byte ranges of one file (HTTP/1.1, one connection at a time, each
/// request on its own connection).
fn range_server(file: std::path::PathBuf) -> String {
    file_server(vec![(String::new(), file)])
}

/// A loopback server of files by path (`""` matches every path): byte ranges answered with 206,
/// whole files with 200 (`.json` as JSON); request bodies read and ignored.
fn file_server(files: Vec<(String, std::path::PathBuf)>) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("test server");
    let base = format!("http://{}", l.local_addr().expect("test server"));
    let files = std::sync::Arc::new(files);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let files = files.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut r = BufReader::new(s.try_clone()?);
                let mut w = s;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    let path =
                        line.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_string();
                    let (mut range, mut len) = (None, 0usize);
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h)?;
                        if h.trim().is_empty() {
                            break;
                        }
                        let h = h.to_ascii_lowercase();
                        if let Some(v) = h.strip_prefix("range: bytes=") {
                            let (a, b) = v.trim().split_once('-').expect("test server");
                            range = Some((
                                a.parse::<usize>().expect("test server"),
                                b.parse::<usize>().expect("test server"),
                            ));
                        }
                        if let Some(v) = h.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    r.read_exact(&mut vec![0; len])?;
                    let Some((_, file)) = files.iter().find(|(p, _)| p.is_empty() || *p == path) else {
                        write!(w, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?;
                        continue;
                    };
                    let data = std::fs::read(file)?;
                    let Some((a, b)) = range else {
                        let ctype = if path.ends_with(".json") || path.ends_with("/search") || path.ends_with("/items")
                        {
                            "application/json"
                        } else {
                            "image/tiff"
                        };
                        write!(
                            w,
                            "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n\r\n",
                            data.len()
                        )?;
                        w.write_all(&data)?;
                        continue;
                    };
                    let b = b.min(data.len() - 1);
                    write!(
                        w,
                        "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {a}-{b}/{}\r\netag: \"1\"\r\n\r\n",
                        b + 1 - a,
                        data.len()
                    )?;
                    w.write_all(&data[a..=b])?;
                }
            });
        }
    });
    base
}

/// `landopp fetch stac` lists the items of a STAC search and picks each parcel's clearest scene
/// from the items' SCL masks (the real Sentinel-2 tile 29RKH's, served by byte ranges);
/// `landopp fetch ogc` pages a collection into a GeoPackage.
#[test]
fn fetch_lists_stac_items_picks_best_scenes_and_pages_a_parcel_service() {
    let Some(shared) = shared() else { return };
    let scl = shared.join("sentinel2_l2a_29RKH_2020-02-19/SCL.tif");
    let dir = tempfile::tempdir().expect("tmp");
    let item: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("stac/S2A_29RKH_20200219_0_L2A.stac.json")).expect("item"),
    )
    .expect("json");
    let mut items = vec![];
    for (i, day) in [(0, "19"), (1, "24")] {
        let mut it = item.clone();
        it["id"] = serde_json::json!(format!("S2A_29RKH_202002{day}_0_L2A"));
        it["properties"]["datetime"] = serde_json::json!(format!("2020-02-{day}T11:34:25Z"));
        it["properties"]["eo:cloud_cover"] = serde_json::json!(4.0 + f64::from(i));
        it["links"] = serde_json::json!([]);
        it["assets"]["scl"]["href"] = serde_json::json!("/SCL.tif");
        items.push(it);
    }
    let page = dir.path().join("page.json");
    std::fs::write(&page, serde_json::json!({"type": "FeatureCollection", "features": items, "links": []}).to_string())
        .expect("write");
    let base = file_server(vec![("/search".into(), page), ("/SCL.tif".into(), scl)]);
    let parcels = dir.path().join("parcels.geojson");
    std::fs::write(
        &parcels,
        r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"pid":"a"},"geometry":{"type":"Polygon","coordinates":[[[-11.5,24.5],[-11.45,24.5],[-11.45,24.55],[-11.5,24.55],[-11.5,24.5]]]}},
        {"type":"Feature","properties":{"pid":"b"},"geometry":{"type":"Polygon","coordinates":[[[-13.5,24.5],[-13.45,24.5],[-13.45,24.55],[-13.5,24.55],[-13.5,24.5]]]}}]}"#,
    )
    .expect("write");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_landopp"))
            .args(args)
            .env("LANDOPP_HTTP_CACHE", "off")
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (String::from_utf8(o.stdout).expect("utf-8"), String::from_utf8(o.stderr).expect("utf-8"))
    };
    let (json, err) =
        run(&["fetch", "stac", &base, "--collections", "sentinel-2-l2a", "--bbox", "-11.9,24.3,-10.9,25.3"]);
    assert!(err.contains("2 items in 1 pages"), "{err}");
    let records: serde_json::Value = serde_json::from_str(&json).expect("records");
    assert_eq!(records[1]["scene_id"], "S2A_29RKH_20200224_0_L2A");
    assert_eq!(records[0]["assets"]["scl"]["href"], format!("{base}/SCL.tif"));
    let out = dir.path().join("best.csv");
    let p = parcels.to_str().expect("utf-8");
    run(&["fetch", "stac", &base, "--parcels", p, "--id", "pid", "--best-scene", "-o", out.to_str().expect("utf-8")]);
    let csv = std::fs::read_to_string(&out).expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "pid,scene_id,datetime,clear");
    // the same mask twice: the later capture; the parcel off the tile: none
    assert!(lines[1].starts_with("a,S2A_29RKH_20200224_0_L2A,2020-02-24T11:34:25Z,"), "{csv}");
    let clear: f64 = lines[1].rsplit(',').next().expect("clear").parse().expect("number");
    assert!(clear > 0.9 && clear <= 1.0, "{csv}");
    assert_eq!(lines[2], "b,,,0", "{csv}");
    // a county layer from an OGC API collection into a GeoPackage, all of it
    let base = file_server(vec![("/ogc/collections/lulc/items".into(), fixture("formats/slovenia_lulc.geojson"))]);
    let gpkg = dir.path().join("lulc.gpkg");
    let resume = dir.path().join("lulc.resume");
    let (_, err) = run(&[
        "fetch",
        "ogc",
        &format!("{base}/ogc"),
        gpkg.to_str().expect("utf-8"),
        "--collection",
        "lulc",
        "--resume",
        resume.to_str().expect("utf-8"),
    ]);
    assert!(err.contains("88 features written"), "{err}");
    assert!(!resume.exists(), "the resume file goes when the fetch completes");
    let (info, _) = run(&["info", gpkg.to_str().expect("utf-8"), "--json"]);
    assert!(info.contains("\"feature_count\": 88") && info.contains("EPSG:32633"), "{info}");
    // the fetched layer against a table schema: exit 0 when valid, 1 listing every violation
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"id_field": "index", "crs": "EPSG:32633", "columns": [{"name": "AREA", "type": "number", "min": 0}]}"#,
    )
    .expect("write");
    let (_, err) = run(&["validate", gpkg.to_str().expect("utf-8"), schema.to_str().expect("utf-8")]);
    assert!(err.contains("88 rows checked, 0 violations"), "{err}");
    std::fs::write(&schema, r#"{"columns": [{"name": "AREA", "min": 1000}, {"name": "OWNER"}]}"#).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_landopp"))
        .args(["validate", gpkg.to_str().expect("utf-8"), schema.to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("table OWNER: missing_column"), "{text}");
    assert!(text.contains("row 5 AREA: min — 252.744 is below the minimum 1000"), "{text}");
    // a service that fails: REMOTE, exit 2
    let o = Command::new(env!("CARGO_BIN_EXE_landopp"))
        .args(["fetch", "stac", &format!("{base}/nope/search")])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error[REMOTE]"), "{o:?}");
}

/// `landopp info URL` and `landopp zonal PARCELS URL` read the raster by byte ranges and print
/// what they print for the file.
#[test]
fn info_and_zonal_take_a_url() {
    let dem = fixture("slovenia/dem.tif");
    let url = format!("{}/dem.tif?sig=secret", range_server(dem.clone()));
    let cache = tempfile::tempdir().expect("test server");
    let run = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(env!("CARGO_BIN_EXE_landopp"))
            .args(args)
            .env("LANDOPP_HTTP_CACHE", cache.path())
            .output()
            .expect("run landopp");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("test server")
    };
    let remote = run(&["info".as_ref(), url.as_ref()]);
    let local = run(&["info".as_ref(), dem.as_os_str()]);
    assert!(!remote.contains("secret"), "{remote}");
    // the same summary, but for the name
    let name = |s: &str| s.lines().filter(|l| !l.contains("dem.tif")).collect::<Vec<_>>().join("\n");
    assert_eq!(name(&remote), name(&local));
    let polys = fixture("slovenia/lulc_polygons.gpkg");
    let z =
        |r: &std::ffi::OsStr| run(&["zonal".as_ref(), polys.as_os_str(), r, "--stats".as_ref(), "count,mean".as_ref()]);
    assert_eq!(z(url.as_ref()), z(dem.as_os_str()));
}

/// A loopback Soil Data Access endpoint: one map unit (mukey 101) over the square
/// -11.6..-11.3, 24.4..24.7 and, for the SQL naming component / mapunit / muaggatt, its rows.
/// With `fail`, every request gets 503.
fn sda_server(fail: bool) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("test server");
    let url = format!("http://{}/tabular/post.rest", l.local_addr().expect("test server"));
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut r = BufReader::new(s.try_clone()?);
                let mut w = s;
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h)?;
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body)?;
                let sql = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default()["query"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let table = if sql.contains("FROM mupolygon") {
                    serde_json::json!([
                        ["mukey", "mupolygonkey", "wkt"],
                        ["101", "9001", "POLYGON ((-11.6 24.4, -11.3 24.4, -11.3 24.7, -11.6 24.7, -11.6 24.4))"]
                    ])
                } else if sql.contains("FROM component") {
                    serde_json::json!([
                        ["mukey", "cokey", "comppct_r", "majcompflag", "drainagecl", "hydgrp"],
                        ["101", "1", "70", "Yes", "Well drained", "B"],
                        ["101", "2", "30", "No", "Poorly drained", "D"]
                    ])
                } else if sql.contains("FROM mapunit") {
                    serde_json::json!([["mukey", "farmlndcl"], ["101", "Prime farmland, if drained"]])
                } else {
                    serde_json::json!([["mukey", "slopegradwta", "flodfreqdcd"], ["101", "4.5", "Rare"]])
                };
                let (status, body) = if fail {
                    ("503 Busy", String::new())
                } else {
                    ("200 OK", serde_json::json!({ "Table": table }).to_string())
                };
                write!(
                    w,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            });
        }
    });
    url
}

/// `landopp fetch sda` writes the map units under the parcels and their tables; the soils step
/// on those files equals the soil_data_access step asking the service itself.
#[test]
fn fetch_sda_writes_soil_tables_the_soils_step_reads() {
    let dir = tempfile::tempdir().expect("tmp");
    let parcels = dir.path().join("parcels.geojson");
    std::fs::write(
        &parcels,
        r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"pid":"in"},"geometry":{"type":"Polygon","coordinates":[[[-11.5,24.5],[-11.45,24.5],[-11.45,24.55],[-11.5,24.55],[-11.5,24.5]]]}},
        {"type":"Feature","properties":{"pid":"half"},"geometry":{"type":"Polygon","coordinates":[[[-11.35,24.5],[-11.25,24.5],[-11.25,24.55],[-11.35,24.55],[-11.35,24.5]]]}}]}"#,
    )
    .expect("write");
    let url = sda_server(false);
    let out = dir.path().join("soils");
    let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_landopp"))
        .args(["fetch", "sda", &s(&parcels), &s(&out), "--url", &url, "--muaggatt", "slopegradwta,flodfreqdcd"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("1 map-unit polygons (1 map units, 2 components) in 4 requests"), "{err}");
    let comp = std::fs::read_to_string(out.join("component.csv")).expect("component.csv");
    assert_eq!(comp.lines().next(), Some("mukey,cokey,comppct_r,majcompflag,drainagecl,hydgrp"));
    assert!(std::fs::read_to_string(out.join("mapunit.csv"))
        .expect("mapunit")
        .contains("\"Prime farmland, if drained\""));

    let features = |step: serde_json::Value| {
        let spec = dir.path().join("spec.json");
        let doc =
            serde_json::json!({"version": 1, "parcels": {"path": parcels, "id_field": "pid"}, "features": [step]});
        std::fs::write(&spec, doc.to_string()).expect("write");
        let o = Command::new(env!("CARGO_BIN_EXE_landopp")).args(["features", &s(&spec)]).output().expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("utf-8")
    };
    let files = features(serde_json::json!({"type": "soils", "layer": out.join("mapunits.gpkg"),
        "component_table": out.join("component.csv"), "mapunit_table": out.join("mapunit.csv"),
        "muaggatt_table": out.join("muaggatt.csv")}));
    let service = features(serde_json::json!({"type": "soil_data_access", "url": url,
        "muaggatt": ["slopegradwta", "flodfreqdcd"]}));
    assert_eq!(files, service);
    // CSV fields, quotes taken off (the farmland class holds a comma)
    let split = |l: &str| {
        let (mut out, mut cur, mut quoted) = (vec![], String::new(), false);
        for ch in l.chars() {
            match ch {
                '"' => quoted = !quoted,
                ',' if !quoted => out.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        out.push(cur);
        out
    };
    let rows: Vec<Vec<String>> = files.lines().map(split).collect();
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap_or_else(|| panic!("{name} in {files}"));
    let (share, well, slope) =
        (col("soil_mukey_101_share"), col("soil_drainage_well_drained_share"), col("soil_slopegradwta"));
    let num = |r: usize, c: usize| rows[r][c].parse::<f64>().unwrap_or_else(|_| panic!("{files}"));
    assert!((num(1, share) - 1.0).abs() < 1e-9 && (num(1, well) - 0.7).abs() < 1e-9, "{files}");
    // the second parcel is half on the map unit (in area, to within the projection's distortion)
    assert!((num(2, share) - 0.5).abs() < 0.01 && (num(2, well) - 0.35).abs() < 0.01, "{files}");
    assert_eq!(num(1, slope), 4.5);
    assert_eq!(rows[1][col("soil_flodfreqdcd")], "Rare");

    // a service that fails: REMOTE, exit 2, nothing written
    let gone = dir.path().join("gone");
    let o = Command::new(env!("CARGO_BIN_EXE_landopp"))
        .args(["fetch", "sda", &s(&parcels), &s(&gone), "--url", &sda_server(true), "--timeout", "5"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("error[REMOTE]") && err.contains("503"), "{err}");
    assert!(!gone.exists());
}
