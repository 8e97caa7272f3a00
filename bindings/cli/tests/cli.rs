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

#[test]
fn terrain_streams_and_zonal_bounds_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_landopp");
    let dem = fixture("slovenia/dem.tif");
    let out = dir.path().join("slope.tif");
    let o = Command::new(bin).args(["terrain", "slope"]).arg(&dem).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let streamed = landopp::Raster::open(&out).unwrap();
    let opts = landopp::terrain::TerrainOptions::default();
    let mem = landopp::terrain::terrain(
        &landopp::Raster::open(&dem).unwrap(),
        landopp::terrain::TerrainProduct::SlopeDegrees,
        &opts,
    )
    .unwrap();
    assert_eq!(streamed, mem);
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
