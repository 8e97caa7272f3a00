//! `landopp demo`: the README's main job on the bundled sample data.

use landopp::geodesic::M2_PER_ACRE;
use landopp::vector::{self, Column, ColumnData};
use landopp::{ColumnMeta, Error, FeatureTable, Parcels, Raster};
use std::path::{Path, PathBuf};

/// The demo's profile: the `agriculture_landcover` preset (agriculture where a land-cover layer
/// stands in for soil surveys, as in the Slovenian sample).
const DEMO_PROFILE: &str = include_str!("../../../core/presets/agriculture_landcover.json");

fn find_data(data: Option<PathBuf>) -> Result<PathBuf, Error> {
    let candidates: Vec<PathBuf> = match data {
        Some(d) => vec![d],
        None => vec![PathBuf::from("fixtures"), Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")],
    };
    candidates
        .iter()
        .find(|d| d.join("slovenia/lulc_polygons.gpkg").exists())
        .cloned()
        .ok_or_else(|| Error::FileNotFound { path: candidates[0].join("slovenia/lulc_polygons.gpkg") })
}

/// Run the demo; returns the feature table (also written to `out`).
// Long by design: a script: the README's demo, step by step, printing as it goes.
pub fn run(data: Option<PathBuf>, out: &Path) -> Result<(), Error> {
    let dir = find_data(data)?;
    let parcels_path = dir.join("slovenia/lulc_polygons.gpkg");
    let dem_path = dir.join("slovenia/dem.tif");
    outln!(
        "landopp {} demo — land-use parcels of a 1 km² patch in central Slovenia (eo-learn sample, MIT)",
        landopp::VERSION
    );
    let parcels = Parcels::read(&parcels_path, None, Some("index"))?;
    let dem = Raster::read(&dem_path)?;
    outln!(
        "parcels: {} from {} ({}), {} invalid geometries kept and flagged",
        parcels.len(),
        parcels_path.display(),
        parcels.crs.as_ref().map_or("no CRS".into(), |c| c.to_string()),
        parcels.invalid_indices().len()
    );
    outln!(
        "DEM: {}x{} cells, {} ({})",
        dem.width(),
        dem.height(),
        dem_path.display(),
        dem.crs.as_ref().map_or("no CRS".into(), |c| c.to_string())
    );

    let ap = parcels.geodesic_area_perimeter()?;
    let mut ft = FeatureTable::new(parcels.ids.clone());
    let meta = |unit: &str, method: &str| ColumnMeta {
        source: parcels_path.display().to_string(),
        unit: unit.into(),
        method: method.into(),
    };
    ft.add_column("area_m2", ap.iter().map(|v| v.0).collect(), meta("m2", "geodesic area on WGS 84"))?;
    ft.add_column(
        "area_acres",
        ap.iter().map(|v| v.0 / M2_PER_ACRE).collect(),
        meta("acre", "geodesic area on WGS 84"),
    )?;
    ft.add_column("perimeter_m", ap.iter().map(|v| v.1).collect(), meta("m", "geodesic perimeter on WGS 84"))?;

    // Elevation at each parcel's interior point (the DEM covers only part of the parcels).
    let points: Vec<(f64, f64)> = parcels
        .geometries
        .iter()
        .map(|g| {
            use landopp::geo::InteriorPoint;
            g.interior_point().map_or((f64::NAN, f64::NAN), |p| (p.x(), p.y()))
        })
        .collect();
    let elev = dem.sample(1, &points, parcels.crs.as_ref())?;
    ft.add_column(
        "elevation_m",
        elev,
        ColumnMeta {
            source: dem_path.display().to_string(),
            unit: "m".into(),
            method: "DEM cell at the parcel's interior point".into(),
        },
    )?;

    let class = parcels.column("LULC_NAME").ok();
    let mut order: Vec<usize> = (0..parcels.len()).collect();
    order.sort_by(|&a, &b| ap[b].0.total_cmp(&ap[a].0));
    outln!("\nlargest parcels:");
    outln!("{:>6}  {:<22} {:>10} {:>8} {:>10}", "id", "land use", "area m²", "acres", "elev m");
    for &i in order.iter().take(10) {
        let lu = class.map(|c| c.data.get(i).to_string()).unwrap_or_default();
        let e = ft.column("elevation_m")?.values[i];
        outln!(
            "{:>6}  {:<22} {:>10.0} {:>8.2} {:>10}",
            parcels.ids[i],
            lu,
            ap[i].0,
            ap[i].0 / M2_PER_ACRE,
            if e.is_nan() { "-".to_string() } else { format!("{e:.1}") }
        );
    }

    // Rank the parcels for agriculture: features from a spec, scored with a transparent profile.
    use landopp::pipeline::{FeatureSpec, FeatureStep, LayerRef, ParcelSource};
    let spec = FeatureSpec {
        version: 1,
        parcels: ParcelSource {
            path: parcels_path.clone(),
            layer: None,
            id_field: Some("index".into()),
            duplicate_ids: Default::default(),
        },
        work_crs: None,
        features: vec![
            FeatureStep::Shape,
            FeatureStep::Terrain {
                raster: dem_path.clone(),
                product: "slope".into(),
                stats: vec!["mean".into()],
                prefix: None,
                share_below: vec![8.0],
                options: Default::default(),
            },
            FeatureStep::Overlay {
                layer: LayerRef::Path(parcels_path.clone()),
                field: Some("LULC_NAME".into()),
                prefix: "landuse".into(),
            },
        ],
    };
    spec.validate()?;
    let features = spec.run(&|_| {})?;
    let profile = landopp::scoring::Profile::parse(DEMO_PROFILE)?;
    let scored = landopp::scoring::score(&features, &profile)?;
    outln!("\ntop 10 parcels for agriculture ({} criteria, {}):", profile.criteria.len(), scored.method);
    print_top(&scored, 10);

    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let csv = out.join("parcels_features.csv");
    ft.write_csv(&csv)?;
    let mut layer = parcels.to_layer();
    for c in ft.columns() {
        layer.columns.push(Column {
            name: c.name.clone(),
            data: ColumnData::Float(c.values.iter().map(|v| (!v.is_nan()).then_some(*v)).collect()),
        });
    }
    let gj = out.join("parcels_features.geojson");
    vector::write_layer(&gj, &layer.to_crs(&landopp::Crs::wgs84())?)?;
    outln!("\nwrote {} and {}", csv.display(), gj.display());
    Ok(())
}

/// Print the top `n` parcels of a scoring result with their explanations.
pub fn print_top(r: &landopp::scoring::ScoreResult, n: usize) {
    // what the hard constraints screened out, by reason code
    let mut screened: std::collections::BTreeMap<String, usize> = Default::default();
    for i in 0..r.ids.len() {
        for code in r.reasons(i) {
            *screened.entry(code.to_string()).or_default() += 1;
        }
    }
    if !screened.is_empty() {
        let list: Vec<String> = screened.iter().map(|(c, k)| format!("{k} {c}")).collect();
        outln!(
            "screened out by the profile's constraints: {} of {} parcels ({})",
            r.excluded.iter().filter(|e| **e).count(),
            r.ids.len(),
            list.join(", ")
        );
    }
    let method = r.aggregation();
    outln!("({})", method.explained_by());
    let mut order: Vec<usize> = (0..r.ids.len()).collect();
    order.sort_by(|&a, &b| r.rank[a].total_cmp(&r.rank[b]));
    for &i in order.iter().take(n) {
        let reasons = r.reasons(i);
        let flags = if reasons.is_empty() { String::new() } else { format!("  [{}]", reasons.join(", ")) };
        outln!("#{:<3} parcel {:<10} score {:.3}{}", r.rank[i], r.ids[i], r.score[i], flags);
        for c in &r.explanation(i) {
            let raw = match (&c.label, c.raw.is_nan()) {
                (Some(l), _) => l.clone(),
                (None, true) => "missing".into(),
                (None, false) => format!("{:.3}", c.raw),
            };
            let terms = match (c.factor, c.weighted_value, c.gap_to_ideal, c.gap_to_anti_ideal) {
                (Some(f), ..) => format!("{:.3} ^ w {:.3} = factor {:.3}", c.transformed, c.weight, f),
                (None, Some(v), Some(gp), Some(gm)) => format!(
                    "{:.3}, weighted {:.4}, gap² to ideal {:.2e}, to anti-ideal {:.2e}",
                    c.transformed, v, gp, gm
                ),
                _ => format!("{:.3} x w {:.3} = {:.3}", c.transformed, c.weight, c.contribution),
            };
            outln!("       {:<22} raw {:>12}  -> {terms}", c.criterion, raw);
        }
    }
}
