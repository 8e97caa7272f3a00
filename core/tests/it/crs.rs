use crate::common::*;
use landopp::{Crs, Parcels, Transformer};

/// Geodesic distance in metres between two lon/lat points (small-distance approximation is
/// enough at the centimetre scale).
fn ground_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dy = (a.1 - b.1).to_radians() * 6_371_000.0;
    let dx = (a.0 - b.0).to_radians() * 6_371_000.0 * a.1.to_radians().cos();
    dx.hypot(dy)
}

/// Forward and inverse transformations agree with pyproj within 1 cm for every CRS of the
/// shared data (EPSG:4326, 4267, 4674, 26847, 26919, 32629, 32633, 2193, 28992, 31985).
#[test]
fn within_1cm_of_pyproj() {
    let wgs = Crs::wgs84();
    let mut worst: Vec<(u64, f64)> = Vec::new();
    for case in expected("crs_pyproj.json").as_array().unwrap() {
        let code = case["epsg"].as_u64().unwrap();
        let crs = Crs::from_epsg(code as u32).unwrap();
        let unit = crs.linear_unit_m().unwrap_or(1.0);
        let fwd = Transformer::new(&wgs, &crs).unwrap();
        let inv = Transformer::new(&crs, &wgs).unwrap();
        let mut max_err: f64 = 0.0;
        let pts = |k: &str| -> Vec<(f64, f64)> {
            case[k].as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect()
        };
        for ((ll, pr), back) in pts("lonlat").into_iter().zip(pts("projected")).zip(pts("back_lonlat")) {
            let (x, y) = fwd.transform_point(ll.0, ll.1).unwrap_or_else(|e| panic!("EPSG:{code} fwd {ll:?}: {e}"));
            let err = if crs.is_geographic() { ground_m((x, y), pr) } else { (x - pr.0).hypot(y - pr.1) * unit };
            max_err = max_err.max(err);
            let (lon, lat) = inv.transform_point(pr.0, pr.1).unwrap_or_else(|e| panic!("EPSG:{code} inv {pr:?}: {e}"));
            max_err = max_err.max(ground_m((lon, lat), back));
        }
        worst.push((code, max_err));
        assert!(max_err < 0.01, "EPSG:{code}: max error {max_err} m vs pyproj");
    }
    eprintln!("max error vs pyproj (m): {worst:?}");
    assert_eq!(worst.len(), 10);
}

/// Geodesic area and perimeter of the bundled parcels within 0.01 % of pyproj.Geod.
#[test]
fn geodesic_area_within_0_01_percent_of_pyproj() {
    let exp = expected("geodesic_area_pyproj.json");
    for (rel, id) in
        [("fixtures/slovenia/lulc_polygons.gpkg", "index"), ("fixtures/olinda/olinda_census_tracts.gpkg", "ID")]
    {
        let p = Parcels::read(root().join(rel), None, Some(id)).unwrap();
        let ap = p.geodesic_area_perimeter().unwrap();
        let e = exp[rel].as_object().unwrap();
        let mut worst: f64 = 0.0;
        for (i, pid) in p.ids.iter().enumerate() {
            let r = e.get(pid).or_else(|| e.get(&format!("{pid}.0"))).unwrap_or_else(|| panic!("{rel}: id {pid}"));
            let (ea, ep) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
            worst = worst.max((ap[i].0 - ea).abs() / ea).max((ap[i].1 - ep).abs() / ep);
        }
        eprintln!("{rel}: max relative area/perimeter error vs pyproj.Geod = {worst:e}");
        assert!(worst < 1e-4, "{rel}: {worst}");
    }
}

#[test]
fn crs_inputs() {
    assert_eq!(Crs::from_epsg(99999).unwrap_err().code(), "CRS");
    let gpkg_wkt = Crs::from_epsg(26847).unwrap().to_wkt().unwrap();
    assert_eq!(Crs::from_wkt(&gpkg_wkt).unwrap().epsg(), Some(26847));
    let prj = std::fs::read_to_string(fixture("formats/olinda_tracts.prj")).unwrap();
    assert_eq!(Crs::from_wkt(&prj).unwrap().epsg(), Some(4674));
}
