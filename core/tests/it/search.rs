//! `SearchIndex::from_parcels` (takes the parcels, reprojects in place) against `build` (copies).
use crate::common;
use landopp::search::{Aoi, Query, SearchIndex};
use landopp::{Crs, Error, FeatureTable, Parcels, Transformer};

fn table(p: &Parcels) -> FeatureTable {
    let mut t = FeatureTable::new(p.ids.clone());
    let v = (0..p.len()).map(|i| ((i * 37) % 101) as f64).collect();
    t.add_column("x", v, Default::default()).unwrap();
    t
}

fn profile() -> landopp::scoring::Profile {
    landopp::scoring::Profile::parse(
        r#"{"version": 1, "method": {"type": "weighted_sum"},
            "criteria": [{"column": "x", "weight": 1, "transform": {"type": "linear_benefit", "min": 0, "max": 100}}]}"#,
    )
    .unwrap()
}

fn pages(idx: &SearchIndex, bbox: [f64; 4]) -> Vec<(String, f64)> {
    let q = Query { aoi: Some(Aoi::Bbox(bbox)), limit: 1000, ..Default::default() };
    idx.query(&q).unwrap().hits.into_iter().map(|h| (h.id, h.score)).collect()
}

#[test]
fn from_parcels_equals_build_projected_and_geographic() {
    let projected = Parcels::read(common::fixture("slovenia/lulc_polygons.gpkg"), None, Some("index")).unwrap();
    // the same parcels in longitude/latitude: both paths then reproject to the UTM zone
    let mut geographic = projected.clone();
    let t = Transformer::new(projected.crs.as_ref().unwrap(), &Crs::wgs84()).unwrap();
    for g in &mut geographic.geometries {
        *g = t.transform_multipolygon(g).unwrap();
    }
    geographic.crs = Some(Crs::wgs84());
    for p in [projected, geographic] {
        let by_ref = SearchIndex::build(&p, table(&p), Some(&profile())).unwrap();
        let owned = SearchIndex::from_parcels(p.clone(), table(&p), Some(&profile())).unwrap();
        assert_eq!(by_ref.crs().epsg(), owned.crs().epsg());
        assert_eq!(owned.crs().epsg(), Some(32633));
        assert_eq!(by_ref.len(), owned.len());
        // a bbox in the index CRS around the fixture's parcels
        let bbox = [465_500.0, 5_079_300.0, 466_700.0, 5_080_400.0];
        let a = pages(&by_ref, bbox);
        assert!(!a.is_empty() && a.len() < p.len(), "the bbox selects some parcels: {}", a.len());
        assert_eq!(a, pages(&owned, bbox));
    }
}

#[test]
fn from_parcels_rejects_ids_out_of_order() {
    let p = Parcels::read(common::fixture("slovenia/lulc_polygons.gpkg"), None, Some("index")).unwrap();
    let mut ids = p.ids.clone();
    ids.reverse();
    let e = SearchIndex::from_parcels(p, FeatureTable::new(ids), None).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e}");
}

/// A near-global box or polygon in EPSG:4326 finds every parcel of a UTM index: only its part over
/// the parcels' extent is reprojected (projecting its far corners into UTM 33N folded it over, and
/// the box found no parcel).
#[test]
fn near_global_areas_of_interest_find_every_parcel() {
    let p = Parcels::read(common::fixture("slovenia/lulc_polygons.gpkg"), None, Some("index")).unwrap();
    let n = p.len();
    let idx = SearchIndex::from_parcels(p.clone(), table(&p), Some(&profile())).unwrap();
    let q = |aoi: Aoi| {
        let q = Query { aoi: Some(aoi), crs: Some("EPSG:4326".into()), limit: 1000, ..Default::default() };
        idx.query(&q).unwrap().total
    };
    assert_eq!(q(Aoi::Bbox([-170.0, -60.0, 170.0, 80.0])), n);
    assert_eq!(q(Aoi::Bbox([-180.0, -90.0, 180.0, 90.0])), n);
    let ring = serde_json::json!({"type": "Polygon", "coordinates": [[[-170, -60], [170, -60], [170, 80], [-170, 80], [-170, -60]]]});
    assert_eq!(q(Aoi::Polygon(ring)), n);
    // boxes beside the data find nothing, boxes over part of it find part of it
    assert_eq!(q(Aoi::Bbox([-170.0, -60.0, -100.0, 80.0])), 0);
    let part = q(Aoi::Bbox([14.0, 45.0, 14.56, 46.0]));
    assert!(part > 0 && part < n, "{part} of {n}");
}

/// An area of interest whose parts overlap (a part drawn twice, two overlapping sketches) finds
/// what their union finds: the parts are unioned (the boolean clip's fill rule cancelled a part
/// drawn twice, and such an area found nothing). A ring that crosses itself is refused.
#[test]
fn overlapping_aoi_parts_find_their_union() {
    let p = Parcels::read(common::fixture("slovenia/lulc_polygons.gpkg"), None, Some("index")).unwrap();
    let n = p.len();
    let idx = SearchIndex::from_parcels(p.clone(), table(&p), Some(&profile())).unwrap();
    let q = |aoi: serde_json::Value, crs: &str| {
        let q = Query { aoi: Some(Aoi::Polygon(aoi)), crs: Some(crs.into()), limit: 1000, ..Default::default() };
        idx.query(&q).map(|p| p.total)
    };
    let a = [[14.50, 45.80], [14.60, 45.80], [14.60, 45.90], [14.50, 45.90], [14.50, 45.80]];
    let b = [[14.55, 45.85], [14.70, 45.85], [14.70, 45.95], [14.55, 45.95], [14.55, 45.85]];
    let one = q(serde_json::json!({"type": "Polygon", "coordinates": [a]}), "EPSG:4326").unwrap();
    assert!(one > 0);
    let twice = serde_json::json!({"type": "MultiPolygon", "coordinates": [[a], [a]]});
    assert_eq!(q(twice, "EPSG:4326").unwrap(), one);
    let both = serde_json::json!({"type": "MultiPolygon", "coordinates": [[a], [b]]});
    assert!(q(both, "EPSG:4326").unwrap() >= one);
    // in the index CRS too (no clip), the answer is the same
    let utm = [
        [465_500.0, 5_079_300.0],
        [466_700.0, 5_079_300.0],
        [466_700.0, 5_080_400.0],
        [465_500.0, 5_080_400.0],
        [465_500.0, 5_079_300.0],
    ];
    let single = q(serde_json::json!({"type": "Polygon", "coordinates": [utm]}), "EPSG:32633").unwrap();
    assert!(single > 0 && single <= n);
    assert_eq!(
        q(serde_json::json!({"type": "MultiPolygon", "coordinates": [[utm], [utm]]}), "EPSG:32633").unwrap(),
        single
    );
    let bowtie = serde_json::json!({"type": "Polygon", "coordinates": [[[14.5, 45.8], [14.6, 45.9], [14.6, 45.8], [14.5, 45.9], [14.5, 45.8]]]});
    let e = q(bowtie, "EPSG:4326").unwrap_err();
    assert_eq!(e.code(), "INVALID_GEOMETRY", "{e}");
}

/// A WGS 84 box over parcels in UTM takes a fast path (parcels inside the reprojected box's
/// inner rectangle skip the exact test) and pages put only the page's rows in order: the same
/// parcels as the exact test of the same densified box as a polygon, the same order as a full
/// sort, page after page.
#[test]
fn geographic_boxes_and_pages_equal_the_exact_answers() {
    let p = Parcels::read(common::fixture("slovenia/lulc_polygons.gpkg"), None, Some("index")).unwrap();
    let idx = SearchIndex::build(&p, table(&p), Some(&profile())).unwrap();
    let b = idx.bounds_wgs84().unwrap().unwrap();
    let mut s = 5u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let all = |aoi: Aoi| {
        let q = Query {
            aoi: Some(aoi),
            crs: Some("EPSG:4326".into()),
            limit: 100_000,
            include_excluded: true,
            ..Default::default()
        };
        let mut ids: Vec<String> = idx.query(&q).unwrap().hits.into_iter().map(|h| h.id).collect();
        ids.sort();
        ids
    };
    let mut nonempty = 0;
    for _ in 0..40 {
        let (w, h) = ((b[2] - b[0]) * (0.05 + next() * 0.9), (b[3] - b[1]) * (0.05 + next() * 0.9));
        let (x0, y0) = (b[0] + next() * (b[2] - b[0] - w), b[1] + next() * (b[3] - b[1] - h));
        let bx = [x0, y0, x0 + w, y0 + h];
        // the densified box (8 points a side), as the box path builds it, tested exactly
        let c = [(bx[0], bx[1]), (bx[2], bx[1]), (bx[2], bx[3]), (bx[0], bx[3])];
        let mut ring = Vec::new();
        for k in 0..4 {
            let (a, e) = (c[k], c[(k + 1) % 4]);
            for j in 0..8 {
                let f = j as f64 / 8.0;
                ring.push(serde_json::json!([a.0 + f * (e.0 - a.0), a.1 + f * (e.1 - a.1)]));
            }
        }
        ring.push(ring[0].clone());
        let poly = serde_json::json!({"type": "Polygon", "coordinates": [ring]});
        let fast = all(Aoi::Bbox(bx));
        assert_eq!(fast, all(Aoi::Polygon(poly)), "box {bx:?}");
        nonempty += usize::from(!fast.is_empty());
    }
    assert!(nonempty > 30);
    // pages of 7 in a row equal the full order
    let full = Query { limit: 100_000, ..Default::default() };
    let order: Vec<String> = idx.query(&full).unwrap().hits.into_iter().map(|h| h.id).collect();
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let q = Query { limit: 7, cursor: cursor.clone(), ..Default::default() };
        let page = idx.query(&q).unwrap();
        paged.extend(page.hits.into_iter().map(|h| h.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, order);
}
