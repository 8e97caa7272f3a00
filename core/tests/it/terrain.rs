//! Terrain products equal `gdaldem` (GDAL 3.6, Debian gdal-bin) cell by cell, run live on the
//! same DEM: `gdaldem <slope|aspect|hillshade|TRI|TPI|roughness> [-p] [-compute_edges] IN OUT`.

use crate::common::*;
use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
use landopp::Raster;
use std::path::Path;
use std::process::Command;

fn gdaldem_available() -> bool {
    let ok = Command::new("gdaldem").arg("--help").output().is_ok();
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but gdaldem (apt gdal-bin) is not installed");
    }
    if !ok {
        eprintln!("SKIPPED: gdaldem not installed");
    }
    ok
}

/// Max |landopp − gdaldem| over cells valid in both, and the count of cells whose validity differs.
fn compare(dem: &Path, product: TerrainProduct, edges: bool) -> (f64, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.tif");
    let (mode, extra): (&str, &[&str]) = match product {
        TerrainProduct::SlopeDegrees => ("slope", &[]),
        TerrainProduct::SlopePercent => ("slope", &["-p"]),
        TerrainProduct::Aspect => ("aspect", &[]),
        TerrainProduct::Hillshade => ("hillshade", &[]),
        TerrainProduct::Tri => ("TRI", &[]),
        TerrainProduct::Tpi => ("TPI", &[]),
        TerrainProduct::Roughness => ("roughness", &[]),
    };
    let mut cmd = Command::new("gdaldem");
    cmd.arg(mode).args(extra).arg("-q");
    if edges {
        cmd.arg("-compute_edges");
    }
    let st = cmd.arg(dem).arg(&out).status().unwrap();
    assert!(st.success());
    let reference = Raster::open(&out).unwrap();
    let r =
        terrain(&Raster::open(dem).unwrap(), product, &TerrainOptions { compute_edges: edges, ..Default::default() })
            .unwrap();
    let a = r.band(0).unwrap().to_f64();
    let b = reference.band(0).unwrap().to_f64();
    let (nd_a, nd_b) = (r.nodata.unwrap(), reference.nodata.unwrap_or(f64::NAN));
    let (mut max, mut diff_valid, mut n) = (0.0f64, 0usize, 0usize);
    for (x, y) in a.iter().zip(b.iter()) {
        let (va, vb) = (*x != nd_a && !x.is_nan(), *y != nd_b && !y.is_nan());
        if va != vb {
            diff_valid += 1;
        } else if va {
            n += 1;
            max = max.max((x - y).abs());
        }
    }
    (max, diff_valid, n)
}

#[test]
fn terrain_equals_gdaldem_on_projected_dems() {
    if !gdaldem_available() {
        return;
    }
    let mut dems = vec![fixture("slovenia/dem.tif"), fixture("olinda/srtm_dem_utm25s.tif")];
    if let Some(s) = shared() {
        dems.push(s.join("bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"));
        dems.push(s.join("dem_new_zealand_1km/nz_elev.tif"));
    }
    use TerrainProduct::*;
    for dem in &dems {
        for product in [SlopeDegrees, SlopePercent, Aspect, Hillshade, Tri, Tpi, Roughness] {
            for edges in [true, false] {
                let (max, diff_valid, n) = compare(dem, product, edges);
                let tol = match product {
                    Hillshade => 1.0, // gdaldem uses an approximate 1/sqrt, then rounds to a byte
                    SlopePercent => 1e-3,
                    _ => 1e-3,
                };
                eprintln!(
                    "{} {product:?} edges={edges}: {n} cells, max diff {max:e}, validity mismatches {diff_valid}",
                    dem.display()
                );
                assert_eq!(diff_valid, 0, "{} {product:?} edges={edges}", dem.display());
                assert!(max <= tol, "{} {product:?} edges={edges}: max diff {max}", dem.display());
                assert!(n > 0);
            }
        }
    }
}

/// Streaming file-to-file terrain equals the in-memory result for every product, on DEMs with
/// strips (100×20, 111×18 blocks) and tiles, nodata (−9999, NaN), and output strips that do not
/// line up with the input blocks (16-row output tiles).
#[test]
fn terrain_file_streams_the_same_cells() {
    use landopp::raster::{Compression, GeoTiffWriteOptions};
    use landopp::terrain::terrain_file;
    let mut dems = vec![fixture("slovenia/dem.tif"), fixture("olinda/srtm_dem_utm25s.tif")];
    if let Some(s) = shared() {
        dems.push(s.join("bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"));
        dems.push(s.join("dem_new_zealand_1km/nz_elev.tif"));
    }
    let dir = tempfile::tempdir().unwrap();
    use TerrainProduct::*;
    for dem in &dems {
        let mem = Raster::open(dem).unwrap();
        for product in [SlopeDegrees, SlopePercent, Aspect, Hillshade, Tri, Tpi, Roughness] {
            for (edges, ts, compression) in [(true, 16, Compression::Deflate(1)), (false, 256, Compression::None)] {
                let opts = TerrainOptions { compute_edges: edges, ..Default::default() };
                let out = dir.path().join("t.tif");
                let wopts = GeoTiffWriteOptions { tile_size: ts, compression, ..Default::default() };
                terrain_file(dem, &out, product, &opts, &wopts).unwrap();
                let streamed = Raster::open(&out).unwrap();
                let expected = terrain(&mem, product, &opts).unwrap();
                assert_eq!(streamed, expected, "{} {product:?} edges={edges} tile={ts}", dem.display());
            }
        }
    }
    // errors: missing band, corrupt input
    let err = terrain_file(
        fixture("slovenia/dem.tif"),
        dir.path().join("x.tif"),
        SlopeDegrees,
        &TerrainOptions { band: 3, ..Default::default() },
        &GeoTiffWriteOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
    let bad = dir.path().join("bad.tif");
    std::fs::write(&bad, b"II*\0garbage").unwrap();
    let err = terrain_file(
        &bad,
        dir.path().join("y.tif"),
        SlopeDegrees,
        &TerrainOptions::default(),
        &GeoTiffWriteOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "FORMAT");
    assert!(!dir.path().join("y.tif").exists(), "no output is created for an unreadable DEM");
}
