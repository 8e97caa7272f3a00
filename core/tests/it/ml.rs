//! A trained model inside the feature pipeline and a scoring profile (rules and a model mixed).

use crate::common::fixture;
use landopp::ml::lifecycle::{FitOptions, Model, SaveOptions};
use landopp::ml::Params;
use landopp::pipeline::FeatureSpec;
use landopp::scoring::{score, Profile};

fn spec(extra: &str) -> FeatureSpec {
    let text = format!(
        r#"{{"version": 1, "parcels": {{"path": "{}", "id_field": "index"}},
            "features": [{{"type": "shape"}},
                         {{"type": "zonal", "raster": "{dem}", "stats": ["mean"], "prefix": "elev"}},
                         {{"type": "zonal", "raster": "{dem}", "stats": ["max"], "prefix": "core",
                           "min_coverage_frac": 0.999}}{extra}]}}"#,
        fixture("slovenia/lulc_polygons.gpkg").display(),
        dem = fixture("slovenia/dem.tif").display()
    );
    FeatureSpec::parse(&text).unwrap()
}

#[test]
fn model_prediction_is_a_feature_and_a_criterion() {
    let base = spec("").run(&|_| {}).unwrap();
    // a regression of the DEM mean on shape (functional, not a claim of skill): rows with a
    // missing input (no fully covered DEM cell: no core_max) are left out of training
    let feats: Vec<String> = ["area_m2", "perimeter_m", "polsby_popper", "core_max"].map(String::from).to_vec();
    let keep: Vec<usize> = (0..base.len())
        .filter(|&i| {
            feats.iter().chain(["elev_mean".to_string()].iter()).all(|c| base.column(c).unwrap().values[i].is_finite())
        })
        .collect();
    assert!(keep.len() > 20 && keep.len() < base.len(), "{} of {}", keep.len(), base.len());
    let mut train = landopp::FeatureTable::new(keep.iter().map(|&i| base.ids()[i].clone()).collect());
    for c in feats.iter().chain(["elev_mean".to_string()].iter()) {
        let v = &base.column(c).unwrap().values;
        train.add_column(c.clone(), keep.iter().map(|&i| v[i]).collect(), Default::default()).unwrap();
    }
    let params =
        Params::parse(r#"{"model": "gradient_boosting", "task": "regression", "min_samples_leaf": 3}"#).unwrap();
    let m = Model::fit_table(&train, &feats, "elev_mean", &params, &FitOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elev.model.json");
    m.save(&path, &SaveOptions::default()).unwrap();

    let t = spec(&format!(r#", {{"type": "model", "path": "{}", "name": "elev_model"}}"#, path.display()))
        .run(&|_| {})
        .unwrap();
    let col = t.column("elev_model").unwrap();
    assert!(col.meta.method.contains("gradient_boosting prediction"), "{}", col.meta.method);
    let want = m.predict_table(&train).unwrap();
    for (r, &i) in keep.iter().enumerate() {
        assert!((col.values[i] - want[r]).abs() < 1e-12);
    }
    // a parcel with a missing input has a missing prediction
    let off = (0..t.len()).find(|&i| t.column("core_max").unwrap().values[i].is_nan()).unwrap();
    assert!(col.values[off].is_nan());

    // rules and the model in one profile: the model's column explains like any criterion
    let profile = Profile::parse(
        r#"{"version": 1, "method": {"type": "weighted_sum"}, "criteria": [
            {"column": "elev_model", "name": "model: expected elevation", "weight": 1,
             "transform": {"type": "linear_cost", "min": 250, "max": 450}},
            {"column": "polsby_popper", "weight": 1, "transform": {"type": "linear_benefit", "min": 0, "max": 1}}]}"#,
    )
    .unwrap();
    let r = score(&t, &profile).unwrap();
    let ex = r.explanation(keep[0]);
    assert_eq!(ex[0].criterion, "model: expected elevation");
    assert_eq!(ex[0].raw, col.values[keep[0]]);
    assert!((ex.iter().map(|c| c.contribution).sum::<f64>() - r.score[keep[0]]).abs() < 1e-12);
    assert!(r.explanation(off)[0].missing);

    // a missing model file
    let err = spec(r#", {"type": "model", "path": "/nonexistent/m.json", "name": "x"}"#).run(&|_| {}).unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}
