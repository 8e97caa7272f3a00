use crate::common::*;
use landopp::raster::{write_geotiff, Compression, GeoTiffWriteOptions, Predictor};
use landopp::{GeoTiff, Raster, Window};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

/// Every fixture GeoTIFF and every shared (non-Bangor) GeoTIFF reads with the same size, type,
/// geotransform, CRS, nodata and per-band statistics as rasterio.
#[test]
fn geotiffs_match_rasterio() {
    let exp = expected("rasters_rasterio.json");
    let mut checked = 0;
    for (key, e) in exp.as_object().unwrap() {
        let Some(path) = resolve(key) else { continue };
        let t = GeoTiff::open(&path).unwrap_or_else(|err| panic!("{key}: {err}"));
        assert_eq!(t.width() as u64, e["width"].as_u64().unwrap(), "{key}");
        assert_eq!(t.height() as u64, e["height"].as_u64().unwrap(), "{key}");
        assert_eq!(t.band_count() as u64, e["count"].as_u64().unwrap(), "{key}");
        let dt = match t.dtype() {
            landopp::DataType::U8 => "uint8",
            landopp::DataType::I8 => "int8",
            landopp::DataType::I16 => "int16",
            landopp::DataType::U16 => "uint16",
            landopp::DataType::I32 => "int32",
            landopp::DataType::U32 => "uint32",
            landopp::DataType::F32 => "float32",
            landopp::DataType::F64 => "float64",
        };
        assert_eq!(dt, e["dtype"].as_str().unwrap(), "{key}");
        for (a, b) in t.transform().0.iter().zip(e["transform"].as_array().unwrap()) {
            assert!(close(*a, b.as_f64().unwrap(), 1e-12), "{key}: transform {:?}", t.transform());
        }
        assert_eq!(t.crs().and_then(|c| c.epsg()).map(u64::from), e["epsg"].as_u64(), "{key}");
        match (t.nodata(), e["nodata"].as_f64(), e["nodata_is_nan"].as_bool().unwrap()) {
            (Some(a), _, true) => assert!(a.is_nan(), "{key}"),
            (a, b, false) => assert_eq!(a, b, "{key}"),
            (None, _, true) => panic!("{key}: nodata NaN expected"),
        }
        let r = t.read().unwrap();
        for (i, eb) in e["bands"].as_array().unwrap().iter().enumerate() {
            let a = r.band(i).unwrap().to_f64();
            let valid: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan() && Some(*v) != r.nodata).collect();
            assert_eq!(valid.len() as u64, eb["count"].as_u64().unwrap(), "{key} band {i}");
            let sum: f64 = valid.iter().sum();
            assert!(close(sum, eb["sum"].as_f64().unwrap(), 1e-9), "{key} band {i}: sum {sum} vs {}", eb["sum"]);
            let last = a[[a.nrows() - 1, a.ncols() - 1]];
            match eb["last_value"].as_f64() {
                Some(el) => assert_eq!(last, el, "{key} band {i}"),
                None => assert!(last.is_nan(), "{key} band {i}: last {last} should be NaN"),
            }
        }
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} rasters checked");
}

/// Windows read through block access equal the same window of the full read, for stripped,
/// tiled, chunky and planar files.
#[test]
fn windows_equal_full_read() {
    for f in [
        "jacksboro/jacksboro_fault_dem.tif",
        "formats/jacksboro_strips_lzw_pred2.tif",
        "formats/jacksboro_tiled_none.tif",
        "formats/landsat_pixel_lzw.tif",
        "formats/landsat_planar_tiled.tif",
    ] {
        let t = GeoTiff::open(fixture(f)).unwrap();
        let full = t.read().unwrap();
        let w = Window::new(5, 7, t.height() - 11, t.width() - 20);
        assert_eq!(t.read_window_raster(w).unwrap(), full.window(w).unwrap(), "{f}");
        // block iteration covers every cell exactly once
        let cells: usize = t.blocks().iter().map(|b| b.rows * b.cols).sum();
        assert_eq!(cells, t.width() * t.height(), "{f}");
        for b in t.blocks().iter().take(3) {
            assert_eq!(t.read_window(0, *b).unwrap(), full.band(0).unwrap().slice(b.row, b.col, b.rows, b.cols));
        }
        // some bands, in the order asked, with their names and the window's geotransform
        let n = t.band_count();
        let pick: Vec<usize> = (0..n).rev().step_by(2).collect();
        let some = t.read_window_raster_bands(w, &pick).unwrap();
        let whole = full.window(w).unwrap();
        assert_eq!(some.transform, whole.transform, "{f}");
        assert_eq!(some.band_count(), pick.len(), "{f}");
        for (k, &b) in pick.iter().enumerate() {
            assert_eq!(some.band(k).unwrap(), whole.band(b).unwrap(), "{f} band {b}");
            assert_eq!(some.band_names[k], whole.band_names[b], "{f} band {b}");
        }
        let e = t.read_window_raster_bands(w, &[0, n]).unwrap_err();
        assert_eq!(e.code(), "NOT_FOUND", "{f}: {e}");
    }
}

/// Writing then reading back is lossless for every option combination, and GDAL (gdalinfo)
/// reads the same georeferencing and nodata when it is installed.
#[test]
fn geotiff_write_roundtrip_and_gdalinfo() {
    let dir = tempfile::tempdir().unwrap();
    let src = Raster::read(fixture("slovenia/dem.tif")).unwrap();
    let multi = Raster::read(fixture("olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif")).unwrap();
    let ints = Raster::read(fixture("formats/jacksboro_i32_pred2.tif")).unwrap();
    let cases = [
        (&src, Predictor::FloatingPoint, Compression::Deflate(6)),
        (&src, Predictor::None, Compression::None),
        (&multi, Predictor::Horizontal, Compression::Deflate(1)),
        (&ints, Predictor::Horizontal, Compression::Deflate(9)),
    ];
    for (i, (r, p, c)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("out{i}.tif"));
        write_geotiff(&path, r, &GeoTiffWriteOptions { tile_size: 64, compression: *c, predictor: *p }).unwrap();
        let back = Raster::read(&path).unwrap();
        assert_eq!(&back, *r, "case {i}");
        if let Ok(out) = std::process::Command::new("gdalinfo").arg("-json").arg(&path).output() {
            if out.status.success() {
                let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let gt: Vec<f64> = j["geoTransform"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                for (a, b) in gt.iter().zip(r.transform.0) {
                    assert!(close(*a, b, 1e-12), "case {i}: gdalinfo geotransform {gt:?} vs {:?}", r.transform.0);
                }
                let epsg = j["stac"]["proj:epsg"].as_u64();
                assert_eq!(epsg, r.crs.as_ref().and_then(|c| c.epsg()).map(u64::from), "case {i}: gdalinfo EPSG");
                let nd = j["bands"][0]["noDataValue"].as_f64();
                assert_eq!(nd, r.nodata.filter(|v| !v.is_nan()), "case {i}: gdalinfo nodata");
                assert_eq!(j["bands"].as_array().unwrap().len(), r.band_count());
            }
        } else {
            eprintln!("gdalinfo not installed: GDAL cross-check skipped");
        }
    }
}

/// `Raster::sample` takes points in any CRS: the centre of every 7th cell of the Slovenia DEM,
/// taken to WGS 84 and sampled back, gives that cell's value; outside points, NaN points and a
/// raster without CRS asked about points in a CRS are handled.
#[test]
fn sampling_points_reprojects_and_reads_the_containing_cell() {
    let dem = landopp::Raster::read(fixture("slovenia/dem.tif")).unwrap();
    let crs = dem.crs.clone().unwrap();
    let to_wgs = landopp::Transformer::new(&crs, &landopp::Crs::wgs84()).unwrap();
    let t = dem.transform.0;
    let cells: Vec<(usize, usize)> =
        (0..dem.height()).step_by(7).flat_map(|r| (0..dem.width()).step_by(7).map(move |c| (r, c))).collect();
    let pts: Vec<(f64, f64)> = cells
        .iter()
        .map(|&(r, c)| to_wgs.transform_point(t[0] + (c as f64 + 0.5) * t[1], t[3] + (r as f64 + 0.5) * t[5]).unwrap())
        .collect();
    let v = dem.sample(1, &pts, Some(&landopp::Crs::wgs84())).unwrap();
    for (k, &(r, c)) in cells.iter().enumerate() {
        assert_eq!(v[k], dem.band(0).unwrap().get_f64(r, c).unwrap(), "cell {r},{c}");
    }
    let odd = dem.sample(1, &[(f64::NAN, 1.0), (0.0, 0.0), (14.5, 95.0)], Some(&landopp::Crs::wgs84())).unwrap();
    assert!(odd.iter().all(|v| v.is_nan()));
    let mut bare = dem.clone();
    bare.crs = None;
    assert_eq!(bare.sample(1, &pts, Some(&crs)).unwrap_err().code(), "CRS");
    assert_eq!(dem.sample(3, &pts, None).unwrap_err().code(), "NOT_FOUND");
    // band numbers are 1-based (GDAL's numbering) wherever a band is named
    let zero = dem.sample(0, &pts, None).unwrap_err();
    assert_eq!((zero.code(), zero.to_string().contains("start at 1")), ("INVALID_INPUT", true));
}
