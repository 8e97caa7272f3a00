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
