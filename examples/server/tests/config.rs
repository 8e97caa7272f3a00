//! `server.toml`: parsed once, misspellings refused, the environment over the file, both data
//! modes (a spec, or parcels with a feature table computed beforehand) serve the same answers.

use landopp_server::config::ServerConfig;
use landopp_server::land::Land;

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

#[test]
fn toml_env_and_refusals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("server.toml");
    let spec = dir.path().join("spec.json");
    let area: serde_json::Value =
        serde_json::from_str(include_str!("../../node-search-service/sample-area.json")).expect("area");
    let mut s = area["spec"].clone();
    let f = fixtures().canonicalize().expect("fixtures");
    s["parcels"]["path"] = f.join("slovenia/lulc_polygons.gpkg").display().to_string().into();
    s["features"][1]["raster"] = f.join("slovenia/dem.tif").display().to_string().into();
    s["features"][2]["layer"] = f.join("slovenia/lulc_polygons.gpkg").display().to_string().into();
    std::fs::write(&spec, s.to_string()).expect("spec");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:9999\"\nstore = \"s.db\"\ncors_origins = [\"https://a.example\"]\n\
         [data]\nspec = \"spec.json\"\npresets = [\"agriculture_landcover\"]\n[limits]\nmax_page = 50\n",
    )
    .expect("toml");
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let c = ServerConfig::load(
        Some(&cfg),
        &env(&[
            ("LANDOPP_LISTEN", "127.0.0.1:7777"),
            ("LANDOPP_SERVER_LIMITS_TIMEOUT_MS", "1234"),
            ("LANDOPP_SERVER_AUTH_JWT_ISSUER", "county-gis"),
            ("LANDOPP_SERVER_CORS_ORIGINS", r#"["https://b.example", "https://c.example"]"#),
            ("LANDOPP_SHARED_DATA", "/elsewhere"),
            // a number-like value for a text setting is the text
            ("LANDOPP_SERVER_AUTH_JWT_AUDIENCE", "2026"),
        ]),
    )
    .expect("loads");
    assert_eq!(c.auth.jwt_audience, "2026");
    // the shared store's URL from the environment, never shown by a logged configuration
    let pg =
        ServerConfig::load(None, &env(&[("LANDOPP_DATABASE_URL", "postgres://u:s3cret@db/landopp")])).expect("loads");
    assert_eq!(pg.database_url.as_ref().map(|u| u.0.as_str()), Some("postgres://u:s3cret@db/landopp"));
    assert!(!format!("{pg:?}").contains("s3cret"));
    assert_eq!(c.listen.port(), 7777, "the environment wins over the file");
    assert_eq!(c.limits.timeout_ms, 1234, "every setting from the environment");
    assert_eq!(c.auth.jwt_issuer, "county-gis");
    assert_eq!(c.cors_origins, vec!["https://b.example", "https://c.example"]);
    assert_eq!(c.store, dir.path().join("s.db"), "paths relative to the file: store");
    assert_eq!(c.limits.max_page, 50);
    assert_eq!(c.data.as_ref().and_then(|d| d.spec.clone()), Some(spec.clone()));
    let land = Land::from_config(c.data.as_ref().expect("data")).expect("land from the spec");
    assert_eq!(land.profiles[0].name, "agriculture_landcover");

    // the same land from parcels + a feature table written beforehand
    let csv = dir.path().join("features.csv");
    land.index.features().write_csv(&csv).expect("csv");
    std::fs::write(
        &cfg,
        format!(
            "[data]\nparcels = \"{}\"\nid_field = \"index\"\nfeatures = \"features.csv\"\npresets = [\"agriculture_landcover\"]\n",
            f.join("slovenia/lulc_polygons.gpkg").display()
        ),
    )
    .expect("toml");
    let c = ServerConfig::load(Some(&cfg), &[]).expect("loads");
    let l2 = Land::from_config(c.data.as_ref().expect("data")).expect("land from parcels + csv");
    // equal scores, except where a land-use label is the empty string (a blank LULC_NAME): CSV
    // cannot tell an empty label from a missing value, so it reads back as missing
    let lu = land.index.features().column("landuse_dominant").expect("column");
    let (a, b) = (&land.profiles[0].scores.score, &l2.profiles[0].scores.score);
    let mut blank = 0;
    for i in 0..a.len() {
        if lu.label(i) == Some("") {
            blank += 1;
            continue;
        }
        assert_eq!(a[i].to_bits(), b[i].to_bits(), "row {i}");
    }
    assert!(blank < 5, "{blank}");

    // parcels that carry their features as attribute columns
    std::fs::write(
        &cfg,
        format!(
            "[data]\nparcels = \"{}\"\nid_field = \"index\"\nattributes = [\"AREA\", \"LULC_NAME\"]\n\
             profiles = [\"p.json\"]\n",
            f.join("slovenia/lulc_polygons.gpkg").display()
        ),
    )
    .expect("toml");
    std::fs::write(
        dir.path().join("p.json"),
        r#"{"version": 1, "method": {"type": "weighted_sum"}, "criteria": [
            {"column": "AREA", "transform": {"type": "linear_benefit", "min": 0, "max": 50000}, "weight": 1}]}"#,
    )
    .expect("profile");
    let c = ServerConfig::load(Some(&cfg), &[]).expect("loads");
    let l3 = Land::from_config(c.data.as_ref().expect("data")).expect("land from attributes");
    assert_eq!(l3.profiles[0].name, "p");
    let area = l3.index.features().column("AREA").expect("AREA");
    assert!(area.values.iter().all(|v| v.is_finite() && *v > 0.0));
    assert!(l3.index.features().column("LULC_NAME").expect("LULC_NAME").is_categorical());
    std::fs::write(&cfg, "[data]\nparcels = \"x.gpkg\"\nattributes = []\n").expect("toml");
    assert!(ServerConfig::load(Some(&cfg), &[]).is_err(), "parcels need features or attributes");

    for (bad, why) in [
        ("lisen = \"127.0.0.1:1\"\n", "unknown field"),
        ("[limits]\nrate_per_key = -1\n", "rate_per_key"),
        ("[limits]\nburst = 2\n", "unknown field"),
        ("cors_origins = [\"https://a.example/\"]\n", "without a path"),
        ("[auth]\njwt_algorithm = \"none\"\n", "HS256 or RS256"),
        ("[auth]\njwt_algorithm = \"RS256\"\n", "jwt_public_key_file"),
        ("[data]\nspec = \"a.json\"\nparcels = \"b.gpkg\"\n", "spec, or parcels with features"),
    ] {
        std::fs::write(&cfg, bad).expect("toml");
        let e = ServerConfig::load(Some(&cfg), &[]).expect_err(bad);
        assert!(e.contains(why), "{bad}: {e}");
    }
    let e = ServerConfig::load(None, &env(&[("LANDOPP_RATE_LIMIT", "fast")])).expect_err("bad env");
    assert!(e.contains("LANDOPP_RATE_LIMIT"), "{e}");
    let e = ServerConfig::load(None, &env(&[("LANDOPP_SERVER_LIMITS_MAX_PAGEE", "5")])).expect_err("typo");
    assert!(e.contains("max_pagee"), "{e}");
    let e = ServerConfig::load(None, &env(&[("LANDOPP_SERVER_LIMITS_MAX_PAGE", "many")])).expect_err("type");
    assert!(e.contains("max_page"), "{e}");
}

/// The Kubernetes ConfigMap's `server.toml` is one the server loads (so the manifests cannot
/// drift from the configuration's keys).
#[test]
fn the_deployment_configuration_loads() {
    let yaml = include_str!("../deploy/k8s/configmap.yaml");
    let start = yaml.find("server.toml: |").expect("the ConfigMap holds server.toml");
    let toml: String = yaml[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("server.toml");
    std::fs::write(&p, toml).expect("toml");
    let env = vec![("LANDOPP_DATABASE_URL".to_string(), "postgres://landopp:x@db/landopp".to_string())];
    let c = ServerConfig::load(Some(&p), &env).expect("the deployment's server.toml loads");
    assert_eq!(c.listen.port(), 8080);
    assert!(c.database_url.is_some());
    let d = c.data.expect("[data]");
    assert!(d.spec.is_none() && d.parcels.is_none(), "replicas read the land from the database");
    assert_eq!(c.auth.jwt_secret_file.as_deref(), Some(std::path::Path::new("/etc/landopp/secrets/jwt-secret")));
}
