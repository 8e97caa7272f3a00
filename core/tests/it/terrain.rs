//! Terrain products equal `gdaldem` (GDAL 3.6, Debian gdal-bin) cell by cell, run live on the
//! same DEM: `gdaldem <slope|aspect|hillshade|TRI|TPI|roughness> [-p] [-compute_edges] IN OUT`.

use crate::common::*;
use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
use landopp::Raster;
use std::path::Path;
use std::process::Command;

pub(crate) fn gdaldem_available() -> bool {
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
    compare_with(dem, product, &TerrainOptions { compute_edges: edges, ..Default::default() }, &[])
}

/// [`compare`] with options, `gdaldem_args` being the same options in gdaldem's words.
fn compare_with(
    dem: &Path,
    product: TerrainProduct,
    opts: &TerrainOptions,
    gdaldem_args: &[&str],
) -> (f64, usize, usize) {
    let edges = opts.compute_edges;
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
    let st = cmd.args(gdaldem_args).arg(dem).arg(&out).status().unwrap();
    assert!(st.success());
    let reference = Raster::read(&out).unwrap();
    let r = terrain(&Raster::read(dem).unwrap(), product, opts).unwrap();
    let a = r.band(0).unwrap().to_f64();
    let b = reference.band(0).unwrap().to_f64();
    let (nd_a, nd_b) = (r.nodata.unwrap_or(f64::NAN), reference.nodata.unwrap_or(f64::NAN));
    assert_eq!(r.nodata.is_some(), reference.nodata.is_some(), "output nodata");
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
                // hillshade: every byte equal (gdaldem's 1/sqrt estimate and formulations reproduced)
                let tol = if product == Hillshade { 0.0 } else { 1e-3 };
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

/// Hillshade equals gdaldem byte for byte with its options (`-z -az -alt`, `-s` on a geographic
/// DEM, both formulations: square and non-square cells), and every product equals gdaldem on
/// absurd elevations (±3.4e38, 1e30, ∞, NaN next to nodata) whose Horn sums overflow f32 —
/// gdaldem's square-cell hillshade takes differences first and its f32 1/sqrt estimate turns
/// a denominator beyond f32 range into a shade of 1 — and on 8/16-bit DEMs, whose windows
/// gdaldem sums as integers (TPI: the sum × 0.125 in f32, not an integer division).
#[test]
fn hillshade_absurd_elevations_and_integer_dems_equal_gdaldem() {
    if !gdaldem_available() {
        return;
    }
    use landopp::raster::{write_geotiff, BandData, GeoTiffWriteOptions, GeoTransform};
    use TerrainProduct::*;
    let dir = tempfile::tempdir().unwrap();
    // 12×12 DEM of 10 m square cells with one absurd 3×3 window per 4×4 block
    let mut z = ndarray::Array2::from_shape_fn((12, 12), |(r, c)| (r * 7 + c * 3) as f32);
    let absurd: [&[(usize, usize, f32)]; 9] = [
        &[(0, 1, 3.4e38)],
        &[(0, 1, 3.4e38), (2, 1, 3.4e38)],
        &[(1, 0, 3.4e38), (1, 2, 3.4e38), (0, 0, 3.4e38), (0, 2, 3.4e38)],
        &[(2, 2, 1e30)],
        &[(2, 2, 1e19)],
        &[(0, 1, -3.4e38)],
        &[(0, 1, 1.7e38), (0, 0, 1.7e38)],
        &[(1, 1, f32::INFINITY), (0, 0, -9999.0)],
        &[(0, 2, f32::NAN), (2, 0, 3.4e38)],
    ];
    for (k, cells) in absurd.iter().enumerate() {
        let (r0, c0) = ((k / 3) * 4, (k % 3) * 4);
        for &(dr, dc, v) in *cells {
            z[(r0 + dr, c0 + dc)] = v;
        }
    }
    let square = dir.path().join("absurd.tif");
    let g = GeoTransform::north_up(500_000.0, 4_000_000.0, 10.0, 10.0);
    let r = Raster::new(vec![BandData::F32(z.clone())], g, None, Some(-9999.0)).unwrap();
    write_geotiff(&square, &r, &GeoTiffWriteOptions::default()).unwrap();
    let oblong = dir.path().join("absurd_oblong.tif");
    let g = GeoTransform::north_up(500_000.0, 4_000_000.0, 10.0, 12.5);
    let r = Raster::new(vec![BandData::F32(z)], g, None, Some(-9999.0)).unwrap();
    write_geotiff(&oblong, &r, &GeoTiffWriteOptions::default()).unwrap();
    // int16 and uint8 DEMs with nodata, both cell shapes
    let mut ints = vec![];
    for (k, (name, g)) in [
        ("i16.tif", GeoTransform::north_up(0.0, 0.0, 30.0, 30.0)),
        ("u8.tif", GeoTransform::north_up(0.0, 0.0, 30.0, 20.0)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut x = 12_345u32;
        let mut next = move || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) % 251
        };
        let band = if k == 0 {
            let mut a = ndarray::Array2::from_shape_fn((16, 16), |(r, c)| (r * 97 + c * 13) as i16 + next() as i16 * 7);
            a[(5, 6)] = -32768;
            BandData::I16(a)
        } else {
            let mut a = ndarray::Array2::from_shape_fn((16, 16), |_| next() as u8);
            a[(9, 2)] = 255;
            BandData::U8(a)
        };
        let nd = if k == 0 { -32768.0 } else { 255.0 };
        let path = dir.path().join(name);
        write_geotiff(&path, &Raster::new(vec![band], g, None, Some(nd)).unwrap(), &GeoTiffWriteOptions::default())
            .unwrap();
        ints.push(path);
    }
    for dem in [&square, &oblong, &ints[0], &ints[1]] {
        for product in [SlopeDegrees, SlopePercent, Aspect, Hillshade, Tri, Tpi, Roughness] {
            for edges in [true, false] {
                let opts = TerrainOptions { compute_edges: edges, ..Default::default() };
                let (max, diff_valid, _) = compare_with(dem, product, &opts, &[]);
                assert_eq!(diff_valid, 0, "{} {product:?} edges={edges}", dem.display());
                assert!(max <= if product == Hillshade { 0.0 } else { 1e-3 }, "{} {product:?}: {max}", dem.display());
            }
        }
    }
    let mut cases: Vec<(std::path::PathBuf, TerrainOptions, Vec<&str>)> = vec![(
        fixture("slovenia/dem.tif"),
        TerrainOptions { z_factor: 3.0, azimuth: 200.0, altitude: 30.0, ..Default::default() },
        vec!["-z", "3", "-az", "200", "-alt", "30"],
    )];
    if let Some(s) = shared() {
        let bangor = s.join("bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif");
        cases.push((bangor.clone(), TerrainOptions::default(), vec![]));
        cases.push((
            bangor,
            TerrainOptions { z_factor: 3.0, azimuth: 200.0, altitude: 30.0, ..Default::default() },
            vec!["-z", "3", "-az", "200", "-alt", "30"],
        ));
        cases.push((
            s.join("dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif"),
            TerrainOptions { scale: Some(111_120.0), ..Default::default() },
            vec!["-s", "111120"],
        ));
    }
    for (dem, opts, args) in &cases {
        let (max, diff_valid, n) = compare_with(dem, Hillshade, opts, args);
        eprintln!("{} hillshade {args:?}: {n} cells, max diff {max}, validity mismatches {diff_valid}", dem.display());
        assert_eq!((max, diff_valid), (0.0, 0), "{} {args:?}", dem.display());
        assert!(n > 0);
    }
}

/// gdaldem's options — `-alg ZevenbergenThorne` (slope, aspect, hillshade), `-trigonometric`,
/// `-zero_for_flat`, `-combined`, `-multidirectional`, `-igor`, TRI `-alg Wilson | Riley` — equal
/// gdaldem on float and 16-bit DEMs, hillshades byte for byte, with and without edges.
#[test]
fn gdaldem_options_equal_gdaldem() {
    if !gdaldem_available() {
        return;
    }
    use landopp::terrain::{Gradient, HillshadeMode, TriAlgorithm};
    use TerrainProduct::*;
    let zt = Gradient::ZevenbergenThorne;
    let o = TerrainOptions::default();
    let cases: Vec<(TerrainProduct, TerrainOptions, Vec<&str>)> = vec![
        (SlopeDegrees, TerrainOptions { gradient: zt, ..o }, vec!["-alg", "ZevenbergenThorne"]),
        (SlopePercent, TerrainOptions { gradient: zt, ..o }, vec!["-alg", "ZevenbergenThorne"]),
        (Aspect, TerrainOptions { gradient: zt, ..o }, vec!["-alg", "ZevenbergenThorne"]),
        (Aspect, TerrainOptions { trigonometric: true, ..o }, vec!["-trigonometric"]),
        (Aspect, TerrainOptions { zero_for_flat: true, ..o }, vec!["-zero_for_flat"]),
        (
            Aspect,
            TerrainOptions { gradient: zt, trigonometric: true, zero_for_flat: true, ..o },
            vec!["-alg", "ZevenbergenThorne", "-trigonometric", "-zero_for_flat"],
        ),
        (Hillshade, TerrainOptions { gradient: zt, ..o }, vec!["-alg", "ZevenbergenThorne"]),
        (Hillshade, TerrainOptions { hillshade: HillshadeMode::Combined, ..o }, vec!["-combined"]),
        (Hillshade, TerrainOptions { hillshade: HillshadeMode::Multidirectional, ..o }, vec!["-multidirectional"]),
        (Hillshade, TerrainOptions { hillshade: HillshadeMode::Igor, ..o }, vec!["-igor"]),
        (
            Hillshade,
            TerrainOptions { hillshade: HillshadeMode::Combined, gradient: zt, z_factor: 2.0, ..o },
            vec!["-combined", "-alg", "ZevenbergenThorne", "-z", "2"],
        ),
        (
            Hillshade,
            TerrainOptions { hillshade: HillshadeMode::Multidirectional, z_factor: 3.0, altitude: 30.0, ..o },
            vec!["-multidirectional", "-z", "3", "-alt", "30"],
        ),
        (
            Hillshade,
            TerrainOptions { hillshade: HillshadeMode::Igor, gradient: zt, azimuth: 200.0, ..o },
            vec!["-igor", "-alg", "ZevenbergenThorne", "-az", "200"],
        ),
        (Tri, TerrainOptions { tri: TriAlgorithm::Wilson, ..o }, vec!["-alg", "Wilson"]),
        (Tri, TerrainOptions { tri: TriAlgorithm::Riley, ..o }, vec!["-alg", "Riley"]),
    ];
    // float32 (Slovenia) and int16 (SRTM, Olinda) DEMs
    let mut dems = vec![fixture("slovenia/dem.tif"), fixture("olinda/srtm_dem_utm25s.tif")];
    if let Some(s) = shared() {
        dems.push(s.join("bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"));
    }
    for dem in &dems {
        for (product, opts, args) in &cases {
            for edges in [true, false] {
                let opts = TerrainOptions { compute_edges: edges, ..*opts };
                let (max, diff_valid, n) = compare_with(dem, *product, &opts, args);
                eprintln!(
                    "{} {product:?} {args:?} edges={edges}: {n} cells, max diff {max:e}, validity {diff_valid}",
                    dem.display()
                );
                // every cell bit for bit (measured: 0 on 2.3 M cells of three DEMs)
                assert_eq!(diff_valid, 0, "{} {product:?} {args:?} edges={edges}", dem.display());
                assert!(max == 0.0, "{} {product:?} {args:?} edges={edges}: max diff {max}", dem.display());
                assert!(n > 0);
            }
        }
    }
    // an option for another product is refused, not ignored
    let dem = Raster::read(fixture("slovenia/dem.tif")).unwrap();
    for (product, opts) in [
        (Tri, TerrainOptions { gradient: zt, ..o }),
        (SlopeDegrees, TerrainOptions { zero_for_flat: true, ..o }),
        (Aspect, TerrainOptions { hillshade: HillshadeMode::Igor, ..o }),
        (Hillshade, TerrainOptions { tri: TriAlgorithm::Wilson, ..o }),
        (Hillshade, TerrainOptions { azimuth: f64::NAN, ..o }),
    ] {
        let e = terrain(&dem, product, &opts).unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT", "{product:?} {opts:?}");
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
        let mem = Raster::read(dem).unwrap();
        // every product, and the options that change the output's values or nodata
        let o = TerrainOptions::default();
        let with_options = [
            (Aspect, TerrainOptions { zero_for_flat: true, trigonometric: true, ..o }),
            (Hillshade, TerrainOptions { hillshade: landopp::terrain::HillshadeMode::Multidirectional, ..o }),
            (Tri, TerrainOptions { tri: landopp::terrain::TriAlgorithm::Wilson, ..o }),
        ];
        let all = [SlopeDegrees, SlopePercent, Aspect, Hillshade, Tri, Tpi, Roughness].map(|p| (p, o));
        for (product, base) in all.into_iter().chain(with_options) {
            for (edges, ts, compression) in [(true, 16, Compression::Deflate(1)), (false, 256, Compression::None)] {
                let opts = TerrainOptions { compute_edges: edges, ..base };
                let out = dir.path().join("t.tif");
                let wopts = GeoTiffWriteOptions { tile_size: ts, compression, ..Default::default() };
                terrain_file(dem, &out, product, &opts, &wopts).unwrap();
                let streamed = Raster::read(&out).unwrap();
                let expected = terrain(&mem, product, &opts).unwrap();
                assert_eq!(streamed, expected, "{} {product:?} {base:?} edges={edges} tile={ts}", dem.display());
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

/// `gdaldem color-relief` equals landopp's byte for byte: percentages of the valid range, `nv`,
/// named colours, alpha, repeated values, a GMT table; interpolated and nearest entries; float and
/// 16-bit DEMs. With `-exact_color_entry`, gdaldem 3.6 colours only the values equal to the
/// table's first entry (its lookup compares the value with the entry below only; later GDAL
/// fixed it): landopp colours every value equal to an entry, and elsewhere equals gdaldem 3.6.
#[test]
fn color_relief_equals_gdaldem() {
    if !gdaldem_available() {
        return;
    }
    use landopp::color_relief::{color_relief, ColorMode, ColorReliefOptions, ColorTable};
    let dir = tempfile::tempdir().unwrap();
    let tables = [
        "nv 0 0 0 0\n0% 0 96 0\n25% 120 180 60\n50% yellow\n75% 160 100 40 200\n100% white\n",
        "# absolute values, one repeated\n-100 0 0 255\n100 255 0 0\n100 0 255 0\n300,0,0,255,128\n800:brown:90\n",
        "# COLOR_MODEL = RGB\n0 0 0 0 150 255 255 0\n150 255 255 0 400 255 0 0\nB 0 0 0\nF 255 255 255\nN 1 2 3\n",
        "664 0 96 0\n700 10 20 30\n715 40 50 60\n801 white\n",
    ];
    let mut dems = vec![fixture("slovenia/dem.tif"), fixture("olinda/srtm_dem_utm25s.tif")];
    if let Some(s) = shared() {
        dems.push(s.join("bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"));
    }
    let (mut exact_fixed, mut cells) = (0usize, 0usize);
    for (d, original) in dems.iter().enumerate() {
        // gdaldem writes the statistics percentages need beside its input (.aux.xml): a copy
        let dem = &dir.path().join(format!("dem{d}.tif"));
        std::fs::copy(original, dem).unwrap();
        let raster = Raster::read(dem).unwrap();
        for (k, text) in tables.iter().enumerate() {
            let path = dir.path().join(format!("t{k}.txt"));
            std::fs::write(&path, text).unwrap();
            let table = ColorTable::read(&path).unwrap();
            for alpha in [false, true] {
                let gdaldem = |flag: Option<&str>| {
                    let out = dir.path().join("ref.tif");
                    let mut cmd = Command::new("gdaldem");
                    cmd.args(["color-relief", "-q"]).arg(dem).arg(&path).arg(&out);
                    cmd.args(flag).args(alpha.then_some("-alpha"));
                    assert!(cmd.status().unwrap().success());
                    Raster::read(&out).unwrap()
                };
                let bands = |r: &Raster| {
                    (0..r.band_count())
                        .map(|b| r.band(b).unwrap().to_f64().iter().copied().collect())
                        .collect::<Vec<Vec<f64>>>()
                };
                let nearest = bands(&gdaldem(Some("-nearest_color_entry")));
                for (mode, flag) in [
                    (ColorMode::Interpolate, None),
                    (ColorMode::NearestEntry, Some("-nearest_color_entry")),
                    (ColorMode::ExactEntry, Some("-exact_color_entry")),
                ] {
                    let reference = gdaldem(flag);
                    let ours = color_relief(&raster, &table, &ColorReliefOptions { mode, alpha, band: 1 }).unwrap();
                    assert_eq!((ours.band_count(), ours.nodata), (reference.band_count(), reference.nodata));
                    let (x, y) = (bands(&ours), bands(&reference));
                    let n = x[0].len();
                    cells += n;
                    for i in 0..n {
                        let (a, b): (Vec<f64>, Vec<f64>) = x.iter().zip(&y).map(|(p, q)| (p[i], q[i])).unzip();
                        if a == b {
                            continue;
                        }
                        let at_entry: Vec<f64> = nearest.iter().map(|p| p[i]).collect();
                        let fixed = mode == ColorMode::ExactEntry && b.iter().all(|v| *v == 0.0) && a == at_entry;
                        assert!(
                            fixed,
                            "{} table {k} {mode:?} alpha={alpha} cell {i}: ours {a:?}, gdaldem {b:?}",
                            original.display()
                        );
                        exact_fixed += 1;
                    }
                }
            }
        }
    }
    eprintln!("color-relief: {cells} cells compared, {exact_fixed} exact-entry cells gdaldem 3.6 leaves black");
    assert!(exact_fixed > 0);
}
