use crate::common::*;
use landopp::vector::{list_layers, read_layer, write_layer, ReadOptions};
use landopp::{GeometryStatus, Parcels};

/// Every fixture vector file and every shared (non-Bangor) GeoPackage layer reads with pyogrio's
/// feature count, field names, bounds and CRS.
#[test]
fn vectors_match_pyogrio() {
    let exp = expected("vectors_pyogrio.json");
    let mut checked = 0;
    for (key, layers) in exp.as_object().unwrap() {
        let Some(path) = resolve(key) else { continue };
        let names = list_layers(&path).unwrap();
        assert_eq!(names.len(), layers.as_object().unwrap().len(), "{key}");
        for (name, e) in layers.as_object().unwrap() {
            let l = read_layer(&path, &ReadOptions { layer: Some(name.clone()) })
                .or_else(|_| read_layer(&path, &ReadOptions::default()))
                .unwrap_or_else(|err| panic!("{key}:{name}: {err}"));
            assert_eq!(l.len() as u64, e["features"].as_u64().unwrap(), "{key}:{name}");
            let fields: Vec<&str> = e["fields"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            let got: Vec<&str> = l.columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(got, fields, "{key}:{name}");
            if let Some(b) = e["bounds"].as_array() {
                let lb = l.bounds().unwrap();
                for (a, x) in lb.iter().zip(b) {
                    assert!((a - x.as_f64().unwrap()).abs() < 1e-6, "{key}:{name} bounds {lb:?} vs {b:?}");
                }
            }
            assert_eq!(l.crs.as_ref().and_then(|c| c.epsg()).map(u64::from), e["epsg"].as_u64(), "{key}:{name}");
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} layers checked");
}

/// Every Bangor layer reads with the feature counts of its PROVENANCE.md (values are not copied
/// into the repository), and the 4 invalid parcel polygons are kept and flagged.
#[test]
fn bangor_layers_read() {
    let Some(s) = shared() else { return };
    let b = s.join("bangor_me");
    for (f, n) in [
        ("parcels", 10_643),
        ("zoning", 1_297),
        ("soils_ssurgo_mapunits", 1_787),
        ("wetlands_nwi", 452),
        ("ponds", 173),
        ("streams", 108),
        ("rivers", 4),
        ("roads", 2_099),
        ("flood_zones_fema", 81),
        ("spot_elevations", 11_609),
        ("surficial_geology", 15),
        ("city_boundary", 1),
        ("parks", 60),
        ("neighborhoods", 140),
    ] {
        let l = read_layer(b.join(format!("{f}.gpkg")), &ReadOptions::default()).unwrap();
        assert_eq!(l.len(), n, "{f}");
        assert!(l.crs.is_some(), "{f}");
    }
    // MAPLOTUNIT repeats (condo units stacked on one footprint): refused unless suffixed
    let e = Parcels::read(b.join("parcels.gpkg"), None, Some("MAPLOTUNIT")).unwrap_err();
    assert_eq!(e.code(), "INVALID_INPUT");
    assert!(e.to_string().contains("\"R57-001\""), "{e}");
    let p = Parcels::read_with(b.join("parcels.gpkg"), None, Some("MAPLOTUNIT"), landopp::vector::DuplicateIds::Suffix)
        .unwrap();
    assert_eq!(p.len(), 10_643);
    let unique: std::collections::HashSet<&String> = p.ids.iter().collect();
    assert_eq!(unique.len(), p.len());
    assert!(p.ids.contains(&"R57-001_2".to_string()));
    assert_eq!(p.crs.as_ref().unwrap().epsg(), Some(26847));
    let invalid = p.invalid_indices();
    assert!(invalid.len() >= 4, "expected the 4 self-intersecting parcels, got {}", invalid.len());
    assert!(matches!(p.status[invalid[0]], GeometryStatus::Invalid(_)));
    // every source attribute column is kept with its type
    assert_eq!(p.column("VALUE_TOT").unwrap().data.type_name(), "float");
    assert_eq!(p.column("LAND_USE").unwrap().data.type_name(), "text");
    let ap = p.geodesic_area_perimeter().unwrap();
    let total_acres: f64 = ap.iter().map(|v| v.0).sum::<f64>() / landopp::geodesic::M2_PER_ACRE;
    assert!(total_acres > 15_000.0 && total_acres < 30_000.0, "{total_acres}");
}

/// GeoJSON and GeoPackage written by landopp read back identically (geometry, every typed
/// column, CRS).
#[test]
fn write_read_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let l = read_layer(fixture("olinda/olinda_census_tracts.gpkg"), &ReadOptions::default()).unwrap();
    for ext in ["gpkg", "geojson"] {
        let p = dir.path().join(format!("out.{ext}"));
        write_layer(&p, &l).unwrap();
        let back = read_layer(&p, &ReadOptions::default()).unwrap();
        assert_eq!(back.len(), l.len(), "{ext}");
        assert_eq!(back.geometries, l.geometries, "{ext}");
        assert_eq!(back.crs, l.crs, "{ext}");
        for (a, b) in back.columns.iter().zip(&l.columns) {
            assert_eq!(a, b, "{ext}");
        }
    }
    if let Ok(out) =
        std::process::Command::new("ogrinfo").args(["-so", "-al"]).arg(dir.path().join("out.gpkg")).output()
    {
        if out.status.success() {
            let s = String::from_utf8_lossy(&out.stdout);
            assert!(s.contains("Feature Count: 470"), "{s}");
            assert!(s.contains("SIRGAS 2000"), "{s}");
        }
    }
}

/// The same layer from GeoPackage, Shapefile, FlatGeobuf and GeoJSON has the same geometries.
#[test]
fn formats_agree() {
    let g = read_layer(fixture("olinda/olinda_census_tracts.gpkg"), &ReadOptions::default()).unwrap();
    let s = read_layer(fixture("formats/olinda_tracts.shp"), &ReadOptions::default()).unwrap();
    let f = read_layer(fixture("formats/olinda_tracts.fgb"), &ReadOptions::default()).unwrap();
    assert_eq!(g.len(), s.len());
    assert_eq!(g.len(), f.len());
    use landopp::geo::Area;
    // FlatGeobuf files written with a spatial index are in Hilbert order: match by the ID field.
    let fid = f.column("ID").unwrap().data.to_f64();
    let gid = g.column("ID").unwrap().data.to_f64();
    for i in 0..g.len() {
        let a = g.geometries[i].as_ref().unwrap().unsigned_area();
        let k = fid.iter().position(|v| *v == gid[i]).unwrap();
        let (sa, fa) =
            (s.geometries[i].as_ref().unwrap().unsigned_area(), f.geometries[k].as_ref().unwrap().unsigned_area());
        assert!((a - sa).abs() <= 1e-9 * a, "shp {i}: {a} vs {sa}");
        assert!((a - fa).abs() <= 1e-9 * a, "fgb {i}: {a} vs {fa}");
    }
    assert_eq!(s.crs, g.crs);
    assert_eq!(f.crs, g.crs);
    // attributes too: the Shapefile's Latin-1 text (language driver 87) decodes to the
    // GeoPackage's UTF-8, numbers keep their values (N(24,15) ID as float, N(18,0) as int)
    for c in &g.columns {
        let (sc, fc) = (s.column(&c.name).unwrap(), f.column(&c.name).unwrap());
        for i in 0..g.len() {
            let k = fid.iter().position(|v| *v == gid[i]).unwrap();
            assert_eq!(sc.data.get(i).to_string(), c.data.get(i).to_string(), "shp {} row {i}", c.name);
            assert_eq!(fc.data.get(k).to_string(), c.data.get(i).to_string(), "fgb {} row {i}", c.name);
        }
    }
    let names = s.column("NM_BAIR").unwrap();
    assert!((0..s.len()).any(|i| names.data.get(i).to_string().contains("Nação")));
    let j = read_layer(fixture("formats/slovenia_lulc.geojson"), &ReadOptions::default()).unwrap();
    assert_eq!(j.crs.as_ref().unwrap().epsg(), Some(32633));
}

/// The fast validity path never calls a polygon valid that geo's full OGC check rejects, on every
/// polygon of every polygon layer in the shared data and the fixtures; and it takes most of them.
#[test]
fn fast_validity_agrees_with_geo_on_real_polygons() {
    use geo::Validation;
    use landopp::geo::Geometry;
    let mut files: Vec<std::path::PathBuf> =
        vec![fixture("slovenia/lulc_polygons.gpkg"), fixture("olinda/olinda_census_tracts.gpkg")];
    if let Some(s) = shared() {
        for d in std::fs::read_dir(&s).unwrap().flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                if f.path().extension().is_some_and(|e| e == "gpkg") {
                    files.push(f.path());
                }
            }
        }
    }
    use rayon::prelude::*;
    let mut shapes: Vec<(String, landopp::geo::MultiPolygon<f64>)> = Vec::new();
    for f in files {
        for layer in list_layers(&f).unwrap() {
            let Ok(l) = read_layer(&f, &ReadOptions { layer: Some(layer.clone()) }) else { continue };
            for g in l.geometries.into_iter().flatten() {
                let mp = match g {
                    Geometry::Polygon(p) => landopp::geo::MultiPolygon(vec![p]),
                    Geometry::MultiPolygon(m) => m,
                    _ => continue,
                };
                shapes.push((format!("{} {layer}", f.display()), mp));
            }
        }
    }
    let total = shapes.len();
    let fast = shapes
        .par_iter()
        .filter(|(name, mp)| {
            let ok = landopp::vector::validity::surely_valid(mp);
            assert!(!ok || mp.is_valid(), "{name}: fast path accepted an invalid polygon");
            ok
        })
        .count();
    eprintln!("fast validity path: {fast} of {total} polygons");
    assert!(fast * 2 > total, "{fast} of {total}");
}

/// Parcels snapped to zone boundaries (an edge lying exactly along the zone's, touching and
/// duplicated vertices, a vertex midway along the shared edge; parcels inside, outside and
/// across) get shapely's intersection shares (`fixtures/expected/edge_cases.json`).
#[test]
fn overlay_shares_of_snapped_parcels_equal_shapely() {
    use landopp::geo_types::{Geometry, MultiPolygon, Polygon};
    use landopp::overlay::{overlay_shares, WorkFrame};
    let exp = expected("edge_cases.json");
    let crs = landopp::Crs::from_user_input(exp["overlay_snapped"]["crs"].as_str().unwrap()).unwrap();
    let ring = |v: &serde_json::Value| -> Polygon<f64> {
        let pts: Vec<(f64, f64)> =
            v.as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect();
        Polygon::new(pts.into(), vec![])
    };
    let layer = |gs: Vec<Geometry<f64>>| landopp::VectorLayer {
        name: "l".into(),
        crs: Some(crs.clone()),
        fids: (0..gs.len() as i64).collect(),
        geometries: gs.into_iter().map(Some).collect(),
        columns: vec![],
        geometry_type: "POLYGON".into(),
    };
    let mut checked = 0;
    for case in exp["overlay_snapped"]["cases"].as_array().unwrap() {
        let zone = layer(vec![Geometry::Polygon(ring(&case["zone"]))]);
        let ps = case["parcels"].as_array().unwrap();
        if ps.is_empty() {
            continue;
        }
        let parcels = Parcels::from_layer(
            layer(ps.iter().map(|p| Geometry::MultiPolygon(MultiPolygon(vec![ring(&p["ring"])]))).collect()),
            None,
        )
        .unwrap();
        let frame = WorkFrame::new(&parcels, None).unwrap();
        let r = overlay_shares(&frame, &zone, None).unwrap();
        for (i, p) in ps.iter().enumerate() {
            let want = p["share"].as_f64().unwrap();
            let got = r.shares[i].first().copied().unwrap_or(0.0);
            assert!((got - want).abs() < 1e-6, "{} parcel {i}: share {got}, shapely {want}", p["kind"]);
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

/// Dates and date-times keep their type and value (and their UTC offset) through every reader,
/// as pyogrio reads them (`fixtures/expected/temporal_pyogrio.json`), and through the writers.
#[test]
fn dates_and_datetimes_read_as_pyogrio_and_write_back_typed() {
    use landopp::vector::{temporal, ColumnData, Timestamp};
    let exp = expected("temporal_pyogrio.json");
    // the source type of each column per format (pyogrio gives datetime64 for both)
    let kinds = [
        ("geojson", ["date", "datetime", "datetime"]),
        ("gpkg", ["date", "datetime", "datetime"]),
        ("fgb", ["datetime", "datetime", "datetime"]),
        ("shp", ["date", "date", "date"]),
    ];
    let as_instants = |c: &ColumnData| -> Vec<Option<Timestamp>> {
        match c {
            ColumnData::Date(v) => {
                v.iter().map(|d| d.map(|d| Timestamp { ms: i64::from(d) * 86_400_000, offset_min: None })).collect()
            }
            ColumnData::DateTime(v) => v.clone(),
            other => panic!("not temporal: {other:?}"),
        }
    };
    let dir = tempfile::tempdir().unwrap();
    for (ext, types) in kinds {
        let l = read_layer(fixture(&format!("formats/temporal.{ext}")), &ReadOptions::default()).unwrap();
        let e = &exp[ext];
        let names: Vec<String> = match &l.column("name").unwrap().data {
            ColumnData::Text(v) => v.iter().map(|s| s.clone().unwrap()).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(serde_json::json!(names), e["name"], "{ext}: row order");
        for (col, kind) in ["sold", "updated", "naive"].into_iter().zip(types) {
            let c = &l.column(col).unwrap().data;
            assert_eq!(c.type_name(), kind, "{ext}.{col}");
            let want: Vec<Option<Timestamp>> = e["columns"][col]["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().map(|s| temporal::parse_date_or_datetime(s).unwrap()))
                .collect();
            assert_eq!(as_instants(c), want, "{ext}.{col}");
            // written and read back: the same type and values
            for out in ["geojson", "gpkg"] {
                let p = dir.path().join(format!("{ext}_{col}.{out}"));
                write_layer(&p, &l).unwrap();
                let back = read_layer(&p, &ReadOptions::default()).unwrap();
                assert_eq!(&back.column(col).unwrap().data, c, "{ext}.{col} through {out}");
            }
        }
    }
    // a text column whose values are not all ISO dates stays text
    let text = landopp::vector::geojson::parse(
        r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","geometry":null,"properties":{"d":"2021-01-01"}},
            {"type":"Feature","geometry":null,"properties":{"d":"soon"}}]}"#,
        "t",
        std::path::Path::new("t.geojson"),
    )
    .unwrap();
    assert_eq!(text.column("d").unwrap().data.type_name(), "text");
}
