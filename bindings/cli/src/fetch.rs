//! `landopp fetch`: data from live services.

use landopp::sources::stac::{bbox_wgs84, best_scenes, SceneChoiceOptions, SearchMethod, StacSearch};
use landopp::Error;
use std::path::PathBuf;

/// Arguments of `landopp fetch stac`.
#[derive(clap::Args, Debug)]
pub(crate) struct StacArgs {
    /// The STAC API's root or its /search endpoint.
    url: String,
    /// Collection ids, comma-separated (sentinel-2-l2a, landsat-c2-l2, ...).
    #[arg(long, value_delimiter = ',')]
    collections: Vec<String>,
    /// west,south,east,north in WGS 84 degrees (default: the parcels' extent).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    bbox: Option<Vec<f64>>,
    /// Parcels (any vector file): search over their extent; with --best-scene, choose per parcel.
    #[arg(long)]
    parcels: Option<PathBuf>,
    /// The parcels' id field.
    #[arg(long)]
    id: Option<String>,
    /// RFC 3339 date-time or interval: 2020-01-01/2020-03-31, 2020-01-01/..
    #[arg(long)]
    datetime: Option<String>,
    /// Leave out items whose scene-wide eo:cloud_cover is above this percentage.
    #[arg(long)]
    max_cloud: Option<f64>,
    /// Sort fields, comma-separated, '-' for descending: eo:cloud_cover,-datetime
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    sortby: Vec<String>,
    /// Items per page.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Stop after this many items.
    #[arg(long, default_value_t = 10_000)]
    max_items: usize,
    /// Search with GET query parameters instead of a POST body.
    #[arg(long)]
    get: bool,
    /// Seconds a request may take.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Keep the pages in this file as they arrive: a fetch that fails leaves it, and the same
    /// command run again goes on after the last page it holds (removed on success).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Per parcel, the scene that sees it clearest (its SCL / QA_PIXEL mask over the parcel):
    /// writes a CSV of id, scene_id, datetime, clear instead of the records.
    #[arg(long, requires = "parcels")]
    best_scene: bool,
    /// Output: .json (the records), .csv (the records' table, or the best scenes); default: JSON
    /// on standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// `landopp fetch stac`.
pub(crate) fn stac(a: StacArgs) -> Result<(), Error> {
    let parcels = match &a.parcels {
        Some(p) => Some(landopp::Parcels::read(p, None, a.id.as_deref())?),
        None => None,
    };
    let bbox = match (&a.bbox, &parcels) {
        (Some(b), _) => match b[..] {
            [w, s, e, n] => Some([w, s, e, n]),
            _ => {
                return Err(Error::InvalidInput(format!(
                    "--bbox needs 4 numbers (west,south,east,north), got {}",
                    b.len()
                )))
            }
        },
        (None, Some(p)) => bbox_wgs84(&p.geometries, p.crs.as_ref())?,
        (None, None) => None,
    };
    let q = StacSearch {
        collections: a.collections,
        bbox,
        datetime: a.datetime,
        max_cloud_cover: a.max_cloud,
        sortby: a.sortby,
        limit: a.limit,
        max_items: a.max_items,
        method: if a.get { SearchMethod::Get } else { SearchMethod::Post },
        timeout_s: a.timeout,
        resume_file: a.resume,
        ..StacSearch::new(a.url)
    };
    let bar = page_bar("items");
    let found = landopp::sources::stac::search_with(&q, &|p| tell(&bar, p));
    bar.finish_and_clear();
    let found = found?;
    eprintln!(
        "{} items in {} pages{}",
        found.items.len(),
        found.pages,
        found.matched.map(|m| format!(" ({m} matched)")).unwrap_or_default()
    );
    let csv = a.output.as_ref().is_some_and(|o| o.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")));
    if let (true, Some(p)) = (a.best_scene, &parcels) {
        let c = best_scenes(&found.items, &p.geometries, p.crs.as_ref(), &SceneChoiceOptions::default())?;
        let mut t = landopp::FeatureTable::new(p.ids.clone());
        if let Some(f) = &a.id {
            t.set_id_name(f.clone());
        }
        let pick = |f: &dyn Fn(usize) -> String| c.best.iter().map(|b| b.map(f)).collect::<Vec<_>>();
        t.add_categorical("scene_id", pick(&|i| found.items[i].scene_id.clone()), Default::default())?;
        t.add_categorical("datetime", pick(&|i| found.items[i].datetime.clone()), Default::default())?;
        let clear = c.best.iter().enumerate().map(|(k, b)| b.map_or(0.0, |i| c.clear[i][k])).collect();
        t.add_column("clear", clear, Default::default())?;
        return match a.output {
            Some(o) => t.write_csv(o),
            None => t.write_csv_to(std::io::stdout()).map_err(|e| Error::InvalidInput(e.to_string())),
        };
    }
    if csv {
        let ids: Vec<String> = found.items.iter().map(|r| r.scene_id.clone()).collect();
        let mut t = landopp::FeatureTable::new(ids);
        t.set_id_name("scene_id");
        let text = |f: &dyn Fn(&landopp::sources::stac::ImageryRecord) -> Option<String>| {
            found.items.iter().map(f).collect::<Vec<_>>()
        };
        t.add_categorical("datetime", text(&|r| Some(r.datetime.clone())), Default::default())?;
        let num = |f: &dyn Fn(&landopp::sources::stac::ImageryRecord) -> Option<f64>| {
            found.items.iter().map(|r| f(r).unwrap_or(f64::NAN)).collect::<Vec<_>>()
        };
        t.add_column("cloud_cover", num(&|r| r.cloud_cover), Default::default())?;
        t.add_column("resolution_m", num(&|r| r.resolution_m), Default::default())?;
        t.add_categorical("platform", text(&|r| Some(r.platform.clone())), Default::default())?;
        t.add_categorical("collection", text(&|r| r.collection.clone()), Default::default())?;
        t.add_categorical("item_url", text(&|r| r.item_url.clone()), Default::default())?;
        return match a.output {
            Some(o) => t.write_csv(o),
            None => Ok(()),
        };
    }
    let json = serde_json::to_string_pretty(&found.items).map_err(|e| Error::Internal(e.to_string()))?;
    match a.output {
        Some(o) => landopp::output::write_atomic(&o, json.as_bytes()),
        None => {
            crate::emit(&json);
            Ok(())
        }
    }
}

/// Arguments of `landopp fetch arcgis`.
#[derive(clap::Args, Debug)]
pub(crate) struct ArcGisArgs {
    /// The layer's URL: https://host/arcgis/rest/services/Parcels/FeatureServer/0
    url: String,
    /// Output layer (.gpkg, .geojson, .fgb, .shp), written only when every page arrived.
    output: PathBuf,
    /// SQL where clause.
    #[arg(long = "where", default_value = "1=1")]
    where_clause: String,
    /// Fields to fetch, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// west,south,east,north in WGS 84 degrees.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    bbox: Option<Vec<f64>>,
    /// Features per page (default: the layer's maxRecordCount, at most 2,000).
    #[arg(long)]
    page_size: Option<usize>,
    /// Fail past this many features.
    #[arg(long, default_value_t = 1_000_000)]
    max_features: usize,
    /// Seconds a request may take.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Keep the pages in this file as they arrive: a fetch that fails leaves it, and the same
    /// command run again goes on after the last page it holds (removed on success).
    #[arg(long)]
    resume: Option<PathBuf>,
}

/// Arguments of `landopp fetch ogc`.
#[derive(clap::Args, Debug)]
pub(crate) struct OgcArgs {
    /// The collection's items URL, or the API's root with --collection.
    url: String,
    /// Output layer (.gpkg, .geojson, .fgb, .shp), written only when every page arrived.
    output: PathBuf,
    /// Collection id (when the URL is the API's root).
    #[arg(long)]
    collection: Option<String>,
    /// west,south,east,north in WGS 84 degrees (CRS84).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    bbox: Option<Vec<f64>>,
    /// Items per page.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Fail past this many features.
    #[arg(long, default_value_t = 1_000_000)]
    max_features: usize,
    /// Seconds a request may take.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Keep the pages in this file as they arrive: a fetch that fails leaves it, and the same
    /// command run again goes on after the last page it holds (removed on success).
    #[arg(long)]
    resume: Option<PathBuf>,
}

fn bbox4(b: Option<Vec<f64>>) -> Result<Option<[f64; 4]>, Error> {
    match b.as_deref() {
        None => Ok(None),
        Some(&[w, s, e, n]) => Ok(Some([w, s, e, n])),
        Some(b) => Err(Error::InvalidInput(format!("--bbox needs 4 numbers (west,south,east,north), got {}", b.len()))),
    }
}

/// `landopp fetch arcgis`.
pub(crate) fn arcgis(a: ArcGisArgs) -> Result<(), Error> {
    use landopp::sources::features::ArcGisQuery;
    let q = ArcGisQuery {
        where_clause: a.where_clause,
        out_fields: a.fields,
        bbox: bbox4(a.bbox)?,
        page_size: a.page_size,
        max_features: a.max_features,
        timeout_s: a.timeout,
        resume_file: a.resume,
        ..ArcGisQuery::new(a.url)
    };
    writable_layer(&a.output)?;
    let bar = page_bar("features");
    let layer = landopp::sources::features::arcgis_with(&q, &|p| tell(&bar, p));
    bar.finish_and_clear();
    let layer = layer?;
    landopp::vector::write_layer(&a.output, &layer)?;
    eprintln!("{} features written to {}", layer.len(), a.output.display());
    Ok(())
}

/// `landopp fetch ogc`.
pub(crate) fn ogc(a: OgcArgs) -> Result<(), Error> {
    use landopp::sources::features::OgcQuery;
    let q = OgcQuery {
        collection: a.collection,
        bbox: bbox4(a.bbox)?,
        limit: a.limit,
        max_features: a.max_features,
        timeout_s: a.timeout,
        resume_file: a.resume,
        ..OgcQuery::new(a.url)
    };
    writable_layer(&a.output)?;
    let bar = page_bar("features");
    let layer = landopp::sources::features::ogc_features_with(&q, &|p| tell(&bar, p));
    bar.finish_and_clear();
    let layer = layer?;
    landopp::vector::write_layer(&a.output, &layer)?;
    eprintln!("{} features written to {}", layer.len(), a.output.display());
    Ok(())
}

/// Arguments of `landopp fetch sda`.
#[derive(clap::Args, Debug)]
pub(crate) struct SdaArgs {
    /// Parcels (any vector file): the map units under them are fetched.
    parcels: PathBuf,
    /// Output folder: mapunits.gpkg, component.csv, mapunit.csv, muaggatt.csv (written only
    /// when every request succeeded).
    output: PathBuf,
    /// GeoPackage layer of the parcels.
    #[arg(long)]
    layer: Option<String>,
    /// The SDA REST endpoint.
    #[arg(long, default_value = landopp::sources::sda::SDA_URL)]
    url: String,
    /// muaggatt columns, comma-separated (default: slopegradwta, brockdepmin, wtdepannmin,
    /// aws0150wta, hydclprs, flodfreqdcd; "" for none).
    #[arg(long, value_delimiter = ',')]
    muaggatt: Option<Vec<String>>,
    /// Parcels per spatial request (a request SDA refuses is split).
    #[arg(long, default_value_t = 200)]
    per_request: usize,
    /// Seconds a request may take.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
}

/// `landopp fetch sda`.
pub(crate) fn sda(a: SdaArgs) -> Result<(), Error> {
    use landopp::sources::sda::{soil_data_access, SdaQuery, SdaTable};
    let mut q =
        SdaQuery { url: a.url, parcels_per_request: a.per_request, timeout_s: a.timeout, ..SdaQuery::default() };
    if let Some(m) = a.muaggatt {
        q.muaggatt = m.into_iter().filter(|c| !c.trim().is_empty()).collect();
    }
    q.validate()?;
    let parcels = landopp::Parcels::read(&a.parcels, a.layer.as_deref(), None)?;
    let data = soil_data_access(&parcels.geometries, parcels.crs.as_ref(), &q)?;
    if data.mapunits.is_empty() {
        return Err(Error::InvalidInput(
            "Soil Data Access has no SSURGO map unit under the parcels (outside the survey's coverage?)".into(),
        ));
    }
    std::fs::create_dir_all(&a.output).map_err(|e| Error::io(&a.output, e))?;
    landopp::vector::write_layer(a.output.join("mapunits.gpkg"), &data.mapunits)?;
    let write = |name: &str, t: &SdaTable| -> Result<(), Error> {
        let path = a.output.join(name);
        let mut s = String::new();
        let field = |v: &str| {
            if v.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        };
        s.push_str(&t.columns.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        s.push('\n');
        for r in &t.rows {
            s.push_str(&r.iter().map(|v| field(v.as_deref().unwrap_or(""))).collect::<Vec<_>>().join(","));
            s.push('\n');
        }
        std::fs::write(&path, s).map_err(|e| Error::io(&path, e))
    };
    write("component.csv", &data.component)?;
    write("mapunit.csv", &data.mapunit)?;
    if q.muaggatt.is_empty() {
        // no aggregates asked: none from an earlier run left beside the new tables
        let stale = a.output.join("muaggatt.csv");
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
        }
    } else {
        write("muaggatt.csv", &data.muaggatt)?;
    }
    eprintln!(
        "{} map-unit polygons ({} map units, {} components) in {} requests written to {}",
        data.mapunits.len(),
        data.mapunit.rows.len(),
        data.component.rows.len(),
        data.requests,
        a.output.display()
    );
    Ok(())
}

/// A progress line for a paged fetch on standard error (hidden when it is not a terminal).
fn page_bar(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template(&format!("{{elapsed_precise}} {{spinner}} {{msg}} {what}"))
    {
        bar.set_style(style);
    }
    bar
}

fn tell(bar: &indicatif::ProgressBar, p: landopp::sources::PageProgress) {
    let of = p.matched.map(|m| format!(" of {m}")).unwrap_or_default();
    bar.set_message(format!("page {}: {}{of}", p.pages, p.features));
    bar.tick();
}

/// Before a fetch: the output layer's format is one landopp writes and its folder exists, so a
/// completed fetch (whose resume file is then gone) is not lost to a path that cannot be written.
fn writable_layer(output: &std::path::Path) -> Result<(), Error> {
    landopp::vector::VectorFormat::from_path(output)?;
    let dir = output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if !dir.is_dir() {
        return Err(Error::FileNotFound { path: dir.to_path_buf() });
    }
    Ok(())
}
