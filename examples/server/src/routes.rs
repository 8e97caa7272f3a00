//! The handlers: each translates HTTP to one core call (or one store call) and back. The route
//! table [`ROUTES`] is the single list the router and the OpenAPI document are built from.

use crate::api::*;
use crate::app::{Ctx, Route, St};
use crate::auth::{Principal, Role};
use crate::openapi::schema;
use crate::problem::{ApiResult, Problem};
use crate::store::{self, Feedback};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json};
use landopp::search::{Aoi, Filter, Page, Query, Site};
use std::collections::HashMap;

mod tiles;

/// The query parameters of the scored tile routes (vector and raster).
const TILE_PARAMS: &[(&str, &str)] = &[
    ("profile", "a served profile (default: the first)"),
    ("weights", "what-if weights as a URL-encoded JSON object, criterion → weight (analyst)"),
    ("without_constraints", "what-if: constraint codes to leave out, comma-separated (analyst)"),
];

/// Every route.
pub static ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/",
        role: None,
        id: "dashboard",
        summary: "The web dashboard (HTML; it logs in and calls this API); 404 when it is not built",
        body: None,
        params: &[],
        ok: (200, None),
        handler: || get(dashboard),
    },
    Route {
        method: "GET",
        path: "/assets/{file}",
        role: None,
        id: "dashboardAsset",
        summary: "The dashboard's scripts and styles",
        body: None,
        params: &[],
        ok: (200, None),
        handler: || get(dashboard_asset),
    },
    Route {
        method: "GET",
        path: "/healthz",
        role: None,
        id: "healthz",
        summary: "Liveness: the process answers",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Health>)),
        handler: || get(healthz),
    },
    Route {
        method: "GET",
        path: "/readyz",
        role: None,
        id: "readyz",
        summary: "Readiness: the index is loaded and the store writable (503 otherwise)",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Health>)),
        handler: || get(readyz),
    },
    Route {
        method: "GET",
        path: "/metrics",
        role: None,
        id: "metrics",
        summary: "Prometheus metrics (text exposition format)",
        body: None,
        params: &[],
        ok: (200, None),
        handler: || get(metrics_text),
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        role: None,
        id: "openapi",
        summary: "This document",
        body: None,
        params: &[],
        ok: (200, None),
        handler: || get(openapi_json),
    },
    Route {
        method: "POST",
        path: "/v1/auth/login",
        role: None,
        id: "login",
        summary: "Exchange a user name and password for a JWT",
        body: Some(schema::<Login>),
        params: &[],
        ok: (200, Some(schema::<Token>)),
        handler: || post(login),
    },
    Route {
        method: "GET",
        path: "/v1/parcels/search",
        role: Some(Role::Viewer),
        id: "searchGet",
        summary: "Ranked parcels in a box or around a point, with filters and explanations",
        body: None,
        params: &[
            ("bbox", "minx,miny,maxx,maxy in `crs`"),
            ("point", "x,y in `crs` (with radius_m)"),
            ("radius_m", "radius around `point`, metres"),
            ("crs", "CRS of bbox / point (default: the index's), e.g. EPSG:4326"),
            ("limit", "page size (top-k), 1..limits.max_page; default 100"),
            ("cursor", "the previous page's next_cursor"),
            ("profile", "a served profile (default: the first)"),
            ("min_score", "smallest score"),
            ("max_score", "largest score"),
            ("filter", "column:min:max (either bound may be empty) or column:in:a|b; repeatable"),
            ("sort_by", "column to sort by (default: score)"),
            ("ascending", "true for ascending order"),
            ("include_excluded", "true to include parcels a hard constraint excludes"),
            ("explain", "false to leave out the per-criterion explanations"),
        ],
        ok: (200, Some(schema::<Page>)),
        handler: || get(search_get),
    },
    Route {
        method: "POST",
        path: "/v1/parcels/search",
        role: Some(Role::Viewer),
        id: "searchPost",
        summary: "Search with a JSON body: polygon or point + radius in any CRS, filters, top-k, cursor, profile or weights (weights: analyst)",
        body: Some(schema::<SearchRequest>),
        params: &[],
        ok: (200, Some(schema::<Page>)),
        handler: || post(search_post),
    },
    Route {
        method: "POST",
        path: "/v1/parcels/geojson",
        role: Some(Role::Viewer),
        id: "parcelsGeojson",
        summary: "Parcels' whole outlines as GeoJSON (WGS 84) with their scores: the export of a result",
        body: Some(schema::<GeoJsonRequest>),
        params: &[],
        ok: (200, Some(schema::<ParcelCollection>)),
        handler: || post(parcels_geojson),
    },
    Route {
        method: "GET",
        path: "/v1/parcels/{id}",
        role: Some(Role::Viewer),
        id: "parcel",
        summary: "One parcel: features with provenance, score, rank, explanation",
        body: None,
        params: &[("profile", "a served profile (default: the first)")],
        ok: (200, Some(schema::<ParcelDetail>)),
        handler: || get(parcel),
    },
    Route {
        method: "GET",
        path: "/v1/parcels/{id}/stability",
        role: Some(Role::Viewer),
        id: "parcelStability",
        summary: "Rank sensitivity of a parcel: its best and worst rank when each weight moves by ±20 % in turn, and how often it stays in the top 10",
        body: None,
        params: &[("profile", "a served profile (default: the first)")],
        ok: (200, Some(schema::<landopp::scoring::Stability>)),
        handler: || get(parcel_stability),
    },
    Route {
        method: "POST",
        path: "/v1/rescore",
        role: Some(Role::Analyst),
        id: "rescore",
        summary: "Rank with a posted profile (this request only; features are not recomputed)",
        body: Some(schema::<RescoreRequest>),
        params: &[],
        ok: (200, Some(schema::<Page>)),
        handler: || post(rescore),
    },
    Route {
        method: "POST",
        path: "/v1/sites",
        role: Some(Role::Viewer),
        id: "sites",
        summary: "Site assembly: adjacent matching parcels grouped, largest first",
        body: Some(schema::<SitesRequest>),
        params: &[],
        ok: (200, Some(schema::<Vec<Site>>)),
        handler: || post(sites),
    },
    Route {
        method: "GET",
        path: "/v1/profiles",
        role: Some(Role::Viewer),
        id: "profiles",
        summary: "The served scoring profiles, their criteria and weights",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Vec<ProfileSummary>>)),
        handler: || get(profiles),
    },
    Route {
        method: "GET",
        path: "/v1/me",
        role: Some(Role::Viewer),
        id: "me",
        summary: "Who the credentials are (`key:<id>` or `user:<name>`) and their role",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Me>)),
        handler: || get(me),
    },
    Route {
        method: "GET",
        path: "/v1/land",
        role: Some(Role::Viewer),
        id: "land",
        summary: "What is served: parcel count, their extent in WGS 84, feature columns, profiles, data version",
        body: None,
        params: &[],
        ok: (200, Some(schema::<LandInfo>)),
        handler: || get(land_info),
    },
    Route {
        method: "GET",
        path: "/v1/tiles/parcels/{z}/{x}/{y}",
        role: Some(Role::Viewer),
        id: "tileParcels",
        summary: "Parcels under an XYZ tile as a Mapbox Vector Tile (`{y}` as `123.mvt`): layer `parcels`, feature id = row, properties id, score, rank, excluded and the profile's criteria",
        body: None,
        params: TILE_PARAMS,
        ok: (200, None),
        handler: || get(tiles::parcels),
    },
    Route {
        method: "GET",
        path: "/v1/tiles/scores/{z}/{x}/{y}",
        role: Some(Role::Viewer),
        id: "tileScores",
        summary: "Scores under an XYZ tile as a 256 × 256 RGBA PNG (`{y}` as `123.png`): every parcel painted in its score's colour (the dashboard's viridis ramp, excluded grey, the best score where parcels share a pixel, a parcel under a pixel paints its pixel) — the overview below `detail_zoom` of `/v1/land`",
        body: None,
        params: TILE_PARAMS,
        ok: (200, None),
        handler: || get(tiles::scores),
    },
    Route {
        method: "GET",
        path: "/v1/tiles/hillshade/{z}/{x}/{y}",
        role: Some(Role::Viewer),
        id: "tileHillshade",
        summary: "Hillshade basemap tile (`{y}` as `123.png`, 256 × 256 grey PNG): gdaldem hillshade of the configured DEM warped to the tile (404 without a DEM)",
        body: None,
        params: &[],
        ok: (200, None),
        handler: || get(tiles::hillshade),
    },
    Route {
        method: "POST",
        path: "/v1/feedback",
        role: Some(Role::Analyst),
        id: "feedback",
        summary: "Record an observed outcome for a parcel (for retraining); on disk when answered",
        body: Some(schema::<Feedback>),
        params: &[],
        ok: (201, Some(schema::<Created>)),
        handler: || post(feedback),
    },
    Route {
        method: "GET",
        path: "/v1/analytics/searches",
        role: Some(Role::Analyst),
        id: "analyticsSearches",
        summary: "Searches per hour over the last `days` (default 7)",
        body: None,
        params: &[("days", "how far back, 1..366")],
        ok: (200, Some(schema::<Vec<SearchesInHour>>)),
        handler: || get(analytics_searches),
    },
    Route {
        method: "GET",
        path: "/v1/analytics/areas",
        role: Some(Role::Analyst),
        id: "analyticsAreas",
        summary: "Popular areas: searches by H3 cell of their centre (WGS 84 searches), most searched first",
        body: None,
        params: &[("days", "how far back, 1..366 (default 7)"), ("resolution", "H3 resolution 0..15 (default 7)")],
        ok: (200, Some(schema::<Vec<AreaCount>>)),
        handler: || get(analytics_areas),
    },
    Route {
        method: "GET",
        path: "/v1/analytics/scores",
        role: Some(Role::Analyst),
        id: "analyticsScores",
        summary: "Score distribution of a served profile: a histogram over [0, 1] of the parcels not excluded",
        body: None,
        params: &[("profile", "a served profile (default: the first)"), ("bins", "1..100 (default 10)")],
        ok: (200, Some(schema::<ScoreHistogram>)),
        handler: || get(analytics_scores),
    },
    Route {
        method: "GET",
        path: "/v1/analytics/models",
        role: Some(Role::Analyst),
        id: "analyticsModels",
        summary: "Model usage by version: prediction requests and parcels predicted",
        body: None,
        params: &[("days", "how far back, 1..366 (default 7)")],
        ok: (200, Some(schema::<Vec<ModelUsage>>)),
        handler: || get(analytics_models),
    },
    Route {
        method: "GET",
        path: "/v1/analytics/accuracy",
        role: Some(Role::Analyst),
        id: "analyticsAccuracy",
        summary: "Prediction accuracy against feedback: the model's predictions for parcels with recorded outcomes",
        body: None,
        params: &[("model_version", "a loaded version (default: production)")],
        ok: (200, Some(schema::<crate::models::Accuracy>)),
        handler: || get(analytics_accuracy),
    },
    Route {
        method: "GET",
        path: "/v1/models",
        role: Some(Role::Viewer),
        id: "models",
        summary: "Registered models: cards (features, metrics, hyper-parameters), production, loaded",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Vec<crate::models::ModelInfo>>)),
        handler: || get(models_list),
    },
    Route {
        method: "POST",
        path: "/v1/models/predict",
        role: Some(Role::Viewer),
        id: "predict",
        summary: "Batch prediction for parcels by id (A/B routed by parcel unless a version is named), with explanations",
        body: Some(schema::<PredictRequest>),
        params: &[],
        ok: (200, Some(schema::<Vec<crate::models::Prediction>>)),
        handler: || post(predict),
    },
    Route {
        method: "GET",
        path: "/v1/models/drift",
        role: Some(Role::Analyst),
        id: "drift",
        summary: "Drift of the served features against the training data (PSI on reference quantile bins, KS), per feature",
        body: None,
        params: &[],
        ok: (200, Some(schema::<landopp::ml::drift::DriftReport>)),
        handler: || get(drift),
    },
    Route {
        method: "POST",
        path: "/v1/models",
        role: Some(Role::Admin),
        id: "modelUpload",
        summary: "Upload a saved model file (`landopp train`, `Model.save`): verified, checked against the served features, registered (not promoted) and loaded",
        body: Some(schema::<serde_json::Value>),
        params: &[],
        ok: (201, Some(schema::<crate::models::ModelInfo>)),
        handler: || post(model_upload),
    },
    Route {
        method: "POST",
        path: "/v1/models/retrain",
        role: Some(Role::Admin),
        id: "retrain",
        summary: "Retrain the production model on the feedback outcomes; the candidate is promoted only if it beats the champion on held-out parcels",
        body: Some(schema::<RetrainRequest>),
        params: &[],
        ok: (200, Some(schema::<landopp::ml::registry::RetrainReport>)),
        handler: || post(retrain),
    },
    Route {
        method: "POST",
        path: "/v1/models/{version}/promote",
        role: Some(Role::Admin),
        id: "promote",
        summary: "Make a registered version production: loaded and warmed, then swapped in without dropping requests",
        body: None,
        params: &[],
        ok: (204, None),
        handler: || post(promote),
    },
    Route {
        method: "POST",
        path: "/v1/jobs/features",
        role: Some(Role::Analyst),
        id: "jobFeatures",
        summary: "Build a feature table from a posted spec in the background: 202 and a job id",
        body: Some(schema::<FeatureJob>),
        params: &[],
        ok: (202, Some(schema::<JobStarted>)),
        handler: || post(job_start),
    },
    Route {
        method: "GET",
        path: "/v1/jobs",
        role: Some(Role::Analyst),
        id: "jobs",
        summary: "The latest 100 jobs",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Vec<store::JobRecord>>)),
        handler: || get(jobs_list),
    },
    Route {
        method: "GET",
        path: "/v1/jobs/{id}",
        role: Some(Role::Analyst),
        id: "job",
        summary: "A job: state, progress (steps done of total, what runs), error, result shape",
        body: None,
        params: &[],
        ok: (200, Some(schema::<store::JobRecord>)),
        handler: || get(job_get),
    },
    Route {
        method: "DELETE",
        path: "/v1/jobs/{id}",
        role: Some(Role::Analyst),
        id: "jobCancel",
        summary: "Ask a queued or running job to stop (its starter or an admin); its state tells whether it stopped or had finished",
        body: None,
        params: &[],
        ok: (202, None),
        handler: || delete(job_cancel),
    },
    Route {
        method: "GET",
        path: "/v1/jobs/{id}/result",
        role: Some(Role::Analyst),
        id: "jobResult",
        summary: "A finished job's feature table (CSV: id, then one column per feature; its starter or an admin)",
        body: None,
        params: &[],
        ok: (200, None),
        handler: || get(job_result),
    },
    Route {
        method: "GET",
        path: "/v1/keys",
        role: Some(Role::Admin),
        id: "keys",
        summary: "API keys (without their secrets)",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Vec<store::KeyRecord>>)),
        handler: || get(keys_list),
    },
    Route {
        method: "POST",
        path: "/v1/keys",
        role: Some(Role::Admin),
        id: "keyCreate",
        summary: "Create an API key; its secret is shown once",
        body: Some(schema::<NewKey>),
        params: &[],
        ok: (201, Some(schema::<CreatedKey>)),
        handler: || post(keys_create),
    },
    Route {
        method: "DELETE",
        path: "/v1/keys/{id}",
        role: Some(Role::Admin),
        id: "keyRevoke",
        summary: "Revoke an API key",
        body: None,
        params: &[],
        ok: (204, None),
        handler: || delete(keys_revoke),
    },
    Route {
        method: "POST",
        path: "/v1/keys/{id}/rotate",
        role: Some(Role::Admin),
        id: "keyRotate",
        summary: "Replace an API key by a new one with the same role and label (the old one is revoked)",
        body: None,
        params: &[],
        ok: (201, Some(schema::<CreatedKey>)),
        handler: || post(keys_rotate),
    },
    Route {
        method: "GET",
        path: "/v1/users",
        role: Some(Role::Admin),
        id: "users",
        summary: "Users",
        body: None,
        params: &[],
        ok: (200, Some(schema::<Vec<store::UserRecord>>)),
        handler: || get(users_list),
    },
    Route {
        method: "POST",
        path: "/v1/users",
        role: Some(Role::Admin),
        id: "userCreate",
        summary: "Create a user (argon2id password hash)",
        body: Some(schema::<NewUser>),
        params: &[],
        ok: (201, Some(schema::<store::UserRecord>)),
        handler: || post(users_create),
    },
    Route {
        method: "DELETE",
        path: "/v1/users/{name}",
        role: Some(Role::Admin),
        id: "userDelete",
        summary: "Delete a user",
        body: None,
        params: &[],
        ok: (204, None),
        handler: || delete(users_delete),
    },
    Route {
        method: "GET",
        path: "/v1/audit",
        role: Some(Role::Admin),
        id: "audit",
        summary: "The audit log, newest first",
        body: None,
        params: &[("limit", "entries, 1..1000 (default 100)")],
        ok: (200, Some(schema::<Vec<store::AuditEntry>>)),
        handler: || get(audit),
    },
];

fn joined(e: tokio::task::JoinError) -> Problem {
    Problem::internal(&format!("worker: {e}"))
}

/// Core work runs on the blocking pool, at most [`CPU_SLOTS`] calls at once (the others wait,
/// under the request timeout): a flood of heavy requests queues instead of taking every thread
/// the store also needs.
const CPU_SLOTS: usize = 4;

static CPU: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CPU_SLOTS);

/// Password hashing (argon2id, 19 MiB each) two at a time.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Cancels its token when dropped before [`Cancel::done`]: a request abandoned mid-call (its
/// timeout, a client gone) asks the core to stop where it checks (`interrupt::check`: model
/// fitting, zonal statistics, pipeline steps) instead of finishing work nobody will read.
struct Cancel(Option<landopp::interrupt::Token>);

impl Cancel {
    fn done(mut self) {
        self.0 = None;
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.cancel();
        }
    }
}

/// Run core work on the blocking pool (stopped when the request is abandoned: [`Cancel`]).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> landopp::Result<T> + Send + 'static) -> ApiResult<T> {
    let _slot = CPU.acquire().await.map_err(|_| Problem::internal("cpu slots closed"))?;
    let span = crate::telemetry::work_span("core");
    let token = landopp::interrupt::Token::new();
    let cancel = Cancel(Some(token.clone()));
    let out = tokio::task::spawn_blocking(move || span.in_scope(|| landopp::interrupt::with_token(&token, f))).await;
    cancel.done();
    Ok(out.map_err(joined)??)
}

fn web_file(st: &St, name: &str) -> ApiResult<Response> {
    let web = st.web.as_ref().ok_or_else(|| {
        Problem::not_found("the web dashboard is not built: cd examples/server/web && npm install && npm run build")
    })?;
    web.serve(name).ok_or_else(|| Problem::not_found("no such file"))
}

async fn dashboard(State(st): State<St>) -> ApiResult<Response> {
    web_file(&st, "index.html")
}

async fn dashboard_asset(State(st): State<St>, Path(file): Path<String>) -> ApiResult<Response> {
    web_file(&st, &file)
}

async fn me(Extension(p): Extension<Principal>) -> Json<Me> {
    Json(Me { subject: p.subject, role: p.role })
}

async fn land_info(State(st): State<St>) -> ApiResult<Json<LandInfo>> {
    let land = st.land();
    let bounds = land.index.bounds_wgs84()?;
    let columns = land
        .index
        .features()
        .columns()
        .iter()
        .map(|c| ColumnInfo { name: c.name.clone(), unit: c.meta.unit.clone(), categorical: c.categories.is_some() })
        .collect();
    Ok(Json(LandInfo {
        parcels: land.index.len(),
        bounds,
        columns,
        profiles: land.profiles.iter().map(|p| p.name.clone()).collect(),
        data_version: st.data_version.load(std::sync::atomic::Ordering::SeqCst),
        hillshade: st.dem.is_some(),
        detail_zoom: match land.detail_zoom_known() {
            Some(z) => z,
            None => {
                let land = land.clone();
                blocking(move || land.detail_zoom()).await?
            }
        },
    }))
}

async fn healthz(State(st): State<St>) -> Json<Health> {
    let land = st.land();
    Json(Health {
        status: "ok".into(),
        parcels: land.index.len(),
        profiles: land.profiles.len(),
        data_version: st.data_version.load(std::sync::atomic::Ordering::SeqCst),
    })
}

async fn readyz(State(st): State<St>) -> Response {
    let writable = match st.store_ready.load(std::sync::atomic::Ordering::SeqCst) {
        true => st.store.run(|c| c.writable()).await,
        false => Err(store::StoreError::Unavailable("start-up has not reached the database yet".into())),
    };
    let h = Health {
        status: match &writable {
            Ok(()) => "ok".into(),
            Err(e) => format!("store not writable: {e}"),
        },
        parcels: st.land().index.len(),
        profiles: st.land().profiles.len(),
        data_version: st.data_version.load(std::sync::atomic::Ordering::SeqCst),
    };
    let code = if writable.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(h)).into_response()
}

async fn metrics_text() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics_render()).into_response()
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

async fn login(State(st): State<St>, Extension(ctx): Extension<Ctx>, Body(l): Body<Login>) -> ApiResult<Json<Token>> {
    let name = l.username.clone();
    let found = st.store.run(move |c| store::users::get(c, &name)).await?;
    // the hash is checked even for an unknown user, so timing does not tell which names exist
    const DUMMY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1CaB1PTEKe4ZrH2GNzUeJy9tyF5sbwVGB1Ak4ndYmrg";
    let (user, hash) = match &found {
        Some((u, h)) => (Some(u.clone()), h.clone()),
        None => (None, DUMMY.to_string()),
    };
    let pw = l.password;
    let ok = {
        let _slot = HASHING.acquire().await.map_err(|_| Problem::internal("hashing slots closed"))?;
        tokio::task::spawn_blocking(move || crate::auth::verify_password(&pw, &hash)).await.map_err(joined)?
    };
    match (user, ok) {
        (Some(u), true) => {
            let role = Role::parse(&u.role).ok_or_else(|| Problem::internal("stored role"))?;
            let (token, ttl) = st.jwt.issue(&u.name, role)?;
            st.audit(&ctx, &format!("user:{}", u.name), "login", "", "ok").await;
            Ok(Json(Token { access_token: token, token_type: "Bearer".into(), expires_in: ttl }))
        }
        _ => {
            st.audit(&ctx, "anonymous", "login", &l.username.chars().take(64).collect::<String>(), "failed").await;
            Err(Problem::unauthenticated("wrong user name or password"))
        }
    }
}

fn parse_bool(k: &str, v: &str) -> ApiResult<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Problem::bad_request(format!("{k} must be true or false"))),
    }
}

fn parse_f64(k: &str, v: &str) -> ApiResult<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Problem::bad_request(format!("{k} must be a finite number")))
}

fn parse_numbers<const N: usize>(k: &str, v: &str) -> ApiResult<[f64; N]> {
    let xs: Vec<f64> = v.split(',').map(|s| parse_f64(k, s)).collect::<ApiResult<_>>()?;
    xs.try_into().map_err(|_| Problem::bad_request(format!("{k} needs {N} comma-separated numbers")))
}

/// `column:min:max` or `column:in:a|b`.
fn parse_filter(v: &str) -> ApiResult<Filter> {
    let bad = || Problem::bad_request(format!("filter {v:?}: column:min:max or column:in:a|b"));
    let (column, rest) = v.split_once(':').ok_or_else(bad)?;
    if column.is_empty() {
        return Err(bad());
    }
    let mut f = Filter { column: column.into(), min: None, max: None, any_of: None };
    if let Some(labels) = rest.strip_prefix("in:") {
        f.any_of = Some(labels.split('|').map(str::to_string).collect());
        return Ok(f);
    }
    let (lo, hi) = rest.split_once(':').ok_or_else(bad)?;
    f.min = (!lo.is_empty()).then(|| parse_f64("filter min", lo)).transpose()?;
    f.max = (!hi.is_empty()).then(|| parse_f64("filter max", hi)).transpose()?;
    Ok(f)
}

/// The GET query string as a core query and a profile name.
fn parse_search(pairs: &[(String, String)]) -> ApiResult<(Query, Option<String>)> {
    let mut q = Query::default();
    let mut profile = None;
    let (mut point, mut radius) = (None, None);
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        if k != "filter" && !seen.insert(k.as_str()) {
            return Err(Problem::bad_request(format!("parameter {k} given twice")));
        }
        match k.as_str() {
            "bbox" => q.aoi = Some(Aoi::Bbox(parse_numbers::<4>(k, v)?)),
            "point" => point = Some(parse_numbers::<2>(k, v)?),
            "radius_m" => radius = Some(parse_f64(k, v)?),
            "crs" => q.crs = Some(v.clone()),
            "limit" => q.limit = v.parse().map_err(|_| Problem::bad_request("limit must be a whole number"))?,
            "cursor" => q.cursor = Some(v.clone()),
            "profile" => profile = Some(v.clone()),
            "min_score" | "max_score" => {
                let x = parse_f64(k, v)?;
                let (min, max) = if k == "min_score" { (Some(x), None) } else { (None, Some(x)) };
                q.filters.push(Filter { column: "score".into(), min, max, any_of: None });
            }
            "filter" => q.filters.push(parse_filter(v)?),
            "sort_by" => q.sort_by = Some(v.clone()),
            "ascending" => q.ascending = parse_bool(k, v)?,
            "include_excluded" => q.include_excluded = parse_bool(k, v)?,
            "explain" => q.explain = parse_bool(k, v)?,
            other => return Err(Problem::bad_request(format!("unknown parameter {other:?}"))),
        }
    }
    match (point, radius) {
        (Some(xy), Some(radius_m)) if q.aoi.is_none() => q.aoi = Some(Aoi::Point { xy, radius_m }),
        (None, None) => {}
        _ => return Err(Problem::bad_request("give point with radius_m, and not with bbox")),
    }
    Ok((q, profile))
}

/// Positions in a GeoJSON geometry (arrays of numbers), counted without recursion limits issues:
/// serde_json already bounds nesting at 128.
fn positions(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) if a.first().is_some_and(|x| x.is_number()) => 1,
        serde_json::Value::Array(a) => a.iter().map(positions).sum(),
        serde_json::Value::Object(o) => o.get("coordinates").map_or(0, positions),
        _ => 0,
    }
}

/// The server's limits on a query (page size, vertices).
fn check_query(st: &St, q: &Query) -> ApiResult<()> {
    let l = &st.config.limits;
    if q.limit > l.max_page {
        return Err(Problem::bad_request(format!("limit {} is above the largest page, {}", q.limit, l.max_page)));
    }
    if let Some(Aoi::Polygon(g)) = &q.aoi {
        let n = positions(g);
        if n > l.max_vertices {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "TOO_MANY_VERTICES",
                format!("the area has {n} vertices; at most {}", l.max_vertices),
            ));
        }
    }
    Ok(())
}

/// The centre of a WGS 84 area (for the popular-areas analytics).
fn centre(q: &Query) -> Option<(f64, f64)> {
    let wgs84 = q.crs.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("EPSG:4326"));
    match (&q.aoi, wgs84) {
        (Some(Aoi::Bbox(b)), true) => Some(((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)),
        (Some(Aoi::Point { xy, .. }), true) => Some((xy[0], xy[1])),
        _ => None,
    }
}

/// The search-page cache's key: the data served and the normalised request (the query, the
/// profile and any what-if weights, as canonical JSON: keys sorted), hashed.
fn page_key(st: &St, q: &Query, profile: &Option<String>, change: &crate::land::WhatIf) -> String {
    use sha2::Digest;
    let canonical = serde_json::json!({"q": q, "profile": profile, "what_if": change}).to_string();
    let h = sha2::Sha256::digest(canonical.as_bytes());
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("landopp:page:{}:{hex}", st.cache_scope())
}

fn json_bytes(body: Vec<u8>, cache: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    h.insert("x-cache", axum::http::HeaderValue::from_static(cache));
    r
}

async fn run_search(
    st: St,
    who: &Principal,
    q: Query,
    profile: Option<String>,
    change: crate::land::WhatIf,
) -> ApiResult<Response> {
    check_query(&st, &q)?;
    if change.weights.is_some() || !change.without_constraints.is_empty() {
        who.require(Role::Analyst)?;
    }
    let t0 = std::time::Instant::now();
    let c = centre(&q);
    // replicas share computed pages through Redis, keyed by the data version
    let key = st.redis.as_ref().map(|_| page_key(&st, &q, &profile, &change));
    if let (Some(r), Some(k)) = (&st.redis, &key) {
        if let Some(body) = r.get(k).await {
            metrics::counter!("landopp_search_cache_total", "result" => "hit").increment(1);
            let total =
                serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|v| v["total"].as_u64()).unwrap_or(0)
                    as usize;
            let rec = store::SearchRecord {
                at: store::now(),
                actor: who.subject.clone(),
                centre: c,
                total,
                micros: t0.elapsed().as_micros() as u64,
            };
            st.record(store::Event::Search(rec));
            return Ok(json_bytes(body, "hit"));
        }
        metrics::counter!("landopp_search_cache_total", "result" => "miss").increment(1);
    }
    let land = st.land();
    let page = blocking(move || {
        let s = land.profile(profile.as_deref())?;
        match land.what_if(profile.as_deref(), &change)? {
            Some(scores) => land.index.query_with(&q, Some(&scores)),
            None => land.index.query_with(&q, Some(&s.scores)),
        }
    })
    .await?;
    let rec = store::SearchRecord {
        at: store::now(),
        actor: who.subject.clone(),
        centre: c,
        total: page.total,
        micros: t0.elapsed().as_micros() as u64,
    };
    st.record(store::Event::Search(rec));
    let body = serde_json::to_vec(&page).map_err(|e| Problem::internal(&e.to_string()))?;
    if let (Some(r), Some(k)) = (&st.redis, key) {
        r.put(k, body.clone(), crate::shared::PAGE_TTL_S);
    }
    Ok(json_bytes(body, if st.redis.is_some() { "miss" } else { "off" }))
}

async fn search_get(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Pairs(pairs): Pairs,
) -> ApiResult<Response> {
    let (q, profile) = parse_search(&pairs)?;
    run_search(st, &p, q, profile, Default::default()).await
}

async fn search_post(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Body(r): Body<SearchRequest>,
) -> ApiResult<Response> {
    let change = crate::land::WhatIf { weights: r.weights, without_constraints: r.without_constraints };
    run_search(st, &p, r.query, r.profile, change).await
}

async fn parcel_stability(
    State(st): State<St>,
    Path(id): Path<String>,
    Pairs(pairs): Pairs,
) -> ApiResult<Json<landopp::scoring::Stability>> {
    let mut profile = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "profile" => profile = Some(v.clone()),
            other => return Err(Problem::bad_request(format!("unknown parameter {other:?}"))),
        }
    }
    let land = st.land();
    let row = land.row(&id).ok_or_else(|| Problem::not_found("no parcel has that id"))?;
    let s = blocking(move || land.stability(profile.as_deref())).await?;
    let one = s.parcels.get(row).filter(|p| p.id == id).cloned();
    Ok(Json(one.ok_or_else(|| Problem::internal("stability rows are not the parcels' rows"))?))
}

async fn parcel(State(st): State<St>, Path(id): Path<String>, Pairs(pairs): Pairs) -> ApiResult<Json<ParcelDetail>> {
    let mut profile = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "profile" => profile = Some(v.clone()),
            other => return Err(Problem::bad_request(format!("unknown parameter {other:?}"))),
        }
    }
    let land = st.land();
    let row = land.row(&id).ok_or_else(|| Problem::not_found("no parcel has that id"))?;
    let s = land.profile(profile.as_deref())?;
    let num = |x: f64| (!x.is_nan()).then_some(x);
    let features = land
        .index
        .features()
        .columns()
        .iter()
        .map(|c| FeatureValue {
            name: c.name.clone(),
            value: num(c.values[row]),
            label: c.label(row).map(str::to_string),
            unit: c.meta.unit.clone(),
            // the file name only: the server's own paths are not the client's business
            source: std::path::Path::new(&c.meta.source)
                .file_name()
                .map_or_else(|| c.meta.source.clone(), |f| f.to_string_lossy().into_owned()),
            method: c.meta.method.clone(),
        })
        .collect();
    Ok(Json(ParcelDetail {
        id,
        profile: s.name.clone(),
        score: num(s.scores.score[row]),
        rank: num(s.scores.rank[row]),
        excluded: s.scores.excluded[row],
        reasons: s.scores.reasons(row).iter().map(|r| r.to_string()).collect(),
        explanation: s.scores.explanation(row),
        features,
    }))
}

/// Ids at most in one `POST /v1/parcels/geojson`.
const MAX_GEOJSON_IDS: usize = 1000;

async fn parcels_geojson(State(st): State<St>, Body(r): Body<GeoJsonRequest>) -> ApiResult<Response> {
    if r.ids.is_empty() || r.ids.len() > MAX_GEOJSON_IDS {
        return Err(Problem::bad_request(format!("ids: 1 to {MAX_GEOJSON_IDS} parcel ids")));
    }
    let land = st.land();
    let rows = r
        .ids
        .iter()
        .map(|id| {
            land.row(id).ok_or_else(|| {
                Problem::not_found(format!("no parcel has the id {:?}", id.chars().take(64).collect::<String>()))
            })
        })
        .collect::<ApiResult<Vec<usize>>>()?;
    let out = blocking(move || {
        let s = land.profile(r.profile.as_deref())?;
        let wgs84 = landopp::Crs::from_epsg(4326)?;
        let geoms = land.index.geometries_in(&rows, &wgs84)?;
        let num = |x: f64| (!x.is_nan()).then_some(x);
        let features = r
            .ids
            .into_iter()
            .zip(rows)
            .zip(geoms)
            .map(|((id, row), g)| ParcelFeature {
                kind: "Feature",
                geometry: landopp::vector::geojson::geometry_to_json(&landopp::geo_types::Geometry::MultiPolygon(g)),
                properties: ParcelProperties {
                    id: id.clone(),
                    score: num(s.scores.score[row]),
                    rank: num(s.scores.rank[row]),
                    excluded: s.scores.excluded[row],
                    reasons: s.scores.reasons(row).iter().map(|r| r.to_string()).collect(),
                },
                id,
            })
            .collect();
        Ok(ParcelCollection { kind: "FeatureCollection", features })
    })
    .await?;
    let mut resp = Json(out).into_response();
    resp.headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/geo+json"));
    Ok(resp)
}

async fn rescore(State(st): State<St>, Body(r): Body<RescoreRequest>) -> ApiResult<Json<Page>> {
    check_query(&st, &r.query)?;
    let land = st.land();
    let page = blocking(move || {
        r.profile.validate()?;
        let scores = landopp::scoring::score(land.index.features(), &r.profile)?;
        land.index.query_with(&r.query, Some(&scores))
    })
    .await?;
    Ok(Json(page))
}

async fn sites(State(st): State<St>, Body(r): Body<SitesRequest>) -> ApiResult<Json<Vec<Site>>> {
    check_query(&st, &Query { limit: 1, ..r.query.clone() })?;
    let l = &st.config.limits;
    if r.tolerance_m > l.max_site_tolerance_m {
        return Err(Problem::bad_request(format!("tolerance_m is at most {} m", l.max_site_tolerance_m)));
    }
    let (land, most) = (st.land(), l.max_site_parcels);
    let sites = blocking(move || {
        let s = land.profile(r.profile.as_deref())?;
        // how many parcels would be grouped, before grouping them
        let n = land.index.query_with(&Query { limit: 1, explain: false, ..r.query.clone() }, Some(&s.scores))?.total;
        if n > most {
            return Err(landopp::Error::InvalidInput(format!(
                "{n} parcels match: a site assembly groups at most {most} (narrow the area or the filters)"
            )));
        }
        land.index.assemble_sites_with(&r.query, Some(&s.scores), r.tolerance_m, r.min_acres)
    })
    .await?;
    Ok(Json(sites))
}

async fn profiles(State(st): State<St>) -> ApiResult<Json<Vec<ProfileSummary>>> {
    let land = st.land();
    let out = land
        .profiles
        .iter()
        .map(|s| {
            let w = s.profile.weights()?;
            Ok(ProfileSummary {
                name: s.name.clone(),
                title: s.profile.name.clone(),
                method: s.scores.method.clone(),
                criteria: s
                    .profile
                    .criteria
                    .iter()
                    .zip(w)
                    .map(|(c, weight)| CriterionWeight {
                        name: c.name.clone().unwrap_or_else(|| c.column.clone()),
                        column: c.column.clone(),
                        weight,
                    })
                    .collect(),
                constraints: s.profile.constraints.len(),
                constraint_codes: s.profile.constraints.iter().map(|c| c.code.clone()).collect(),
                excluded: s.scores.excluded.iter().filter(|e| **e).count(),
            })
        })
        .collect::<landopp::Result<_>>()?;
    Ok(Json(out))
}

async fn feedback(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Body(f): Body<Feedback>,
) -> ApiResult<Response> {
    if st.land().row(&f.parcel_id).is_none() {
        return Err(Problem::not_found("no parcel has that id"));
    }
    if f.label.is_some_and(|l| !l.is_finite()) {
        return Err(Problem::bad_request("label must be a finite number"));
    }
    if f.outcome.as_ref().is_some_and(|o| o.chars().count() > 64)
        || f.note.as_ref().is_some_and(|n| n.chars().count() > 2000)
    {
        return Err(Problem::bad_request("outcome is at most 64 characters, note at most 2,000"));
    }
    let (actor, rid, parcel) = (p.subject.clone(), ctx.id.clone(), f.parcel_id.clone());
    let id = st.store.run(move |c| store::feedback::insert(c, &actor, &f, &rid)).await?;
    st.audit(&ctx, &p.subject, "feedback.create", &parcel.chars().take(64).collect::<String>(), "ok").await;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

async fn analytics_searches(State(st): State<St>, Pairs(pairs): Pairs) -> ApiResult<Json<Vec<SearchesInHour>>> {
    let mut days = 7i64;
    for (k, v) in &pairs {
        match k.as_str() {
            "days" => {
                days = v
                    .parse()
                    .ok()
                    .filter(|d| (1..=366).contains(d))
                    .ok_or_else(|| Problem::bad_request("days must be 1..366"))?
            }
            other => return Err(Problem::bad_request(format!("unknown parameter {other:?}"))),
        }
    }
    let since = store::now() - days * 86_400;
    let rows = st.store.run(move |c| store::searches::per_hour(c, since)).await?;
    Ok(Json(rows.into_iter().map(|(hour, count, us)| SearchesInHour { hour, count, mean_ms: us / 1e3 }).collect()))
}

fn models(st: &St) -> ApiResult<std::sync::Arc<crate::models::Models>> {
    st.models.clone().ok_or_else(|| Problem::not_found("this server serves no models"))
}

async fn models_list(State(st): State<St>) -> ApiResult<Json<Vec<crate::models::ModelInfo>>> {
    let m = models(&st)?;
    Ok(Json(blocking(move || m.list()).await?))
}

async fn predict(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Body(r): Body<PredictRequest>,
) -> ApiResult<Json<Vec<crate::models::Prediction>>> {
    let m = models(&st)?;
    if r.parcel_ids.is_empty() || r.parcel_ids.len() > 10_000 {
        return Err(Problem::bad_request("parcel_ids: 1 to 10,000 ids"));
    }
    let rows = r
        .parcel_ids
        .into_iter()
        .map(|id| match st.land().row(&id) {
            Some(row) => Ok((id, row)),
            None => {
                Err(Problem::not_found(format!("no parcel has the id {:?}", id.chars().take(64).collect::<String>())))
            }
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let land = st.land();
    let out = blocking(move || m.predict(land.index.features(), &rows, r.model_version.as_deref(), r.explain)).await?;
    let mut by_version: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in &out {
        *by_version.entry(p.model_version.as_str()).or_default() += 1;
    }
    for (v, n) in by_version {
        st.record(store::Event::Predictions(store::PredictionRecord {
            at: store::now(),
            actor: p.subject.clone(),
            model_version: v.to_string(),
            n,
        }));
    }
    Ok(Json(out))
}

async fn drift(State(st): State<St>) -> ApiResult<Json<landopp::ml::drift::DriftReport>> {
    let m = models(&st)?;
    Ok(Json(m.drift().ok_or_else(|| Problem::not_found("no drift reference is configured"))?.clone()))
}

async fn promote(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Path(version): Path<String>,
) -> ApiResult<StatusCode> {
    let (m, land, v, actor) = (models(&st)?, st.land(), version.clone(), p.subject.clone());
    blocking(move || Ok(m.promote(&v, land.index.features(), &actor))).await??;
    st.audit(&ctx, &p.subject, "model.promote", &version, "ok").await;
    Ok(StatusCode::NO_CONTENT)
}

async fn model_upload(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    req: axum::extract::Request,
) -> ApiResult<Response> {
    let m = models(&st)?;
    let limit = st.config.limits.model_bytes;
    let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the model file is larger than limits.model_bytes ({limit} bytes)"),
        )
    })?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| Problem::bad_request("a model file is UTF-8 JSON"))?;
    let land = st.land();
    let actor = p.subject.clone();
    match blocking(move || Ok(m.upload(&text, land.index.features(), &actor))).await?? {
        // a corrupt, tampered or unusable file is the client's problem, not the server's
        crate::models::Uploaded::Refused(e) => {
            st.audit(&ctx, &p.subject, "model.upload", "-", "failed").await;
            Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))
        }
        crate::models::Uploaded::Exists(v) => {
            st.audit(&ctx, &p.subject, "model.upload", &v, "failed").await;
            Err(Problem::new(StatusCode::CONFLICT, "CONFLICT", format!("model version {v} is registered already")))
        }
        crate::models::Uploaded::Added(info) => {
            st.audit(&ctx, &p.subject, "model.upload", &info.card.model_version, "ok").await;
            let mut r = (StatusCode::CREATED, Json(&*info)).into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!("/v1/models/{}", info.card.model_version)) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            Ok(r)
        }
    }
}

async fn retrain(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Body(r): Body<RetrainRequest>,
) -> ApiResult<Json<landopp::ml::registry::RetrainReport>> {
    let m = models(&st)?;
    let feedback = st.store.run(store::feedback::timed).await?;
    let (land, actor) = (st.land(), p.subject.clone());
    let report = blocking(move || {
        let version = match r.candidate_version {
            Some(v) => v,
            None => format!("{}-r{}", m.production_version().unwrap_or_default(), store::now()),
        };
        Ok(m.retrain(land.index.features(), &feedback, &r.policy, &version, &actor))
    })
    .await??;
    let target = report.candidate.clone().unwrap_or_else(|| report.champion.clone());
    let outcome = if report.promoted { "promoted" } else { "ok" };
    st.audit(&ctx, &p.subject, "model.retrain", &target, outcome).await;
    Ok(Json(report))
}

fn jobs(st: &St) -> ApiResult<&std::sync::Arc<crate::jobs::Jobs>> {
    st.jobs.as_ref().ok_or_else(|| Problem::not_found("this server runs no feature jobs"))
}

async fn job_start(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Body(j): Body<FeatureJob>,
) -> ApiResult<Response> {
    let jobs = jobs(&st)?;
    let mut spec = j.spec;
    jobs.sandbox(&mut spec)?;
    let id = jobs.start(&st.store, &p.subject, spec).await?;
    st.audit(&ctx, &p.subject, "job.start", &id, "ok").await;
    let mut r = (StatusCode::ACCEPTED, Json(JobStarted { id: id.clone(), state: "queued".into() })).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("/v1/jobs/{id}")) {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(r)
}

async fn jobs_list(State(st): State<St>) -> ApiResult<Json<Vec<store::JobRecord>>> {
    jobs(&st)?;
    Ok(Json(st.store.run(|c| store::jobs::latest(c, 100)).await?))
}

async fn job_record(st: &St, id: &str) -> ApiResult<store::JobRecord> {
    let i = id.to_string();
    st.store.run(move |c| store::jobs::get(c, &i)).await?.ok_or_else(|| Problem::not_found("no job has that id"))
}

async fn job_get(State(st): State<St>, Path(id): Path<String>) -> ApiResult<Json<store::JobRecord>> {
    jobs(&st)?;
    Ok(Json(job_record(&st, &id).await?))
}

async fn job_cancel(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let jobs = jobs(&st)?;
    let rec = job_record(&st, &id).await?;
    if rec.actor != p.subject && p.role < Role::Admin {
        return Err(Problem::forbidden("only the job's starter or an admin cancels it"));
    }
    if !jobs.cancel(&id) {
        return Err(Problem::new(StatusCode::CONFLICT, "CONFLICT", format!("the job is {}", rec.state)));
    }
    st.audit(&ctx, &p.subject, "job.cancel", &id, "ok").await;
    Ok(StatusCode::ACCEPTED)
}

async fn job_result(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let jobs = jobs(&st)?;
    let rec = job_record(&st, &id).await?;
    if rec.actor != p.subject && p.role < Role::Admin {
        return Err(Problem::forbidden("only the job's starter or an admin reads its result"));
    }
    if rec.state != "succeeded" {
        return Err(Problem::new(StatusCode::CONFLICT, "CONFLICT", format!("the job is {}", rec.state)));
    }
    let path = jobs.result_path(&id).ok_or_else(|| Problem::not_found("no job has that id"))?;
    let body = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(joined)?
        .map_err(|e| Problem::internal(&format!("job result: {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

/// The value of `days` (1..=366, default 7) and the other allowed parameters.
fn params<'a>(pairs: &'a [(String, String)], allowed: &[&str]) -> ApiResult<HashMap<&'a str, &'a str>> {
    let mut m = HashMap::new();
    for (k, v) in pairs {
        if !allowed.contains(&k.as_str()) {
            return Err(Problem::bad_request(format!("unknown parameter {k:?}")));
        }
        if m.insert(k.as_str(), v.as_str()).is_some() {
            return Err(Problem::bad_request(format!("parameter {k} given twice")));
        }
    }
    Ok(m)
}

fn int_param(m: &HashMap<&str, &str>, k: &str, range: std::ops::RangeInclusive<i64>, default: i64) -> ApiResult<i64> {
    match m.get(k) {
        None => Ok(default),
        Some(v) => v.parse::<i64>().ok().filter(|x| range.contains(x)).ok_or_else(|| {
            Problem::bad_request(format!("{k} must be a whole number in {}..{}", range.start(), range.end()))
        }),
    }
}

async fn analytics_areas(State(st): State<St>, Pairs(pairs): Pairs) -> ApiResult<Json<Vec<AreaCount>>> {
    let m = params(&pairs, &["days", "resolution"])?;
    let since = store::now() - int_param(&m, "days", 1..=366, 7)? * 86_400;
    let res = h3o::Resolution::try_from(int_param(&m, "resolution", 0..=15, 7)? as u8)
        .map_err(|_| Problem::bad_request("resolution must be 0..15"))?;
    let centres = st.store.run(move |c| store::searches::centres(c, since)).await?;
    let mut counts: HashMap<h3o::CellIndex, i64> = HashMap::new();
    for (x, y) in centres {
        if let Ok(ll) = h3o::LatLng::new(y, x) {
            *counts.entry(ll.to_cell(res)).or_default() += 1;
        }
    }
    let mut out: Vec<AreaCount> = counts
        .into_iter()
        .map(|(cell, count)| {
            let c = h3o::LatLng::from(cell);
            AreaCount { cell: cell.to_string(), count, lat: c.lat(), lng: c.lng() }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cell.cmp(&b.cell)));
    out.truncate(100);
    Ok(Json(out))
}

async fn analytics_scores(State(st): State<St>, Pairs(pairs): Pairs) -> ApiResult<Json<ScoreHistogram>> {
    let m = params(&pairs, &["profile", "bins"])?;
    let bins = int_param(&m, "bins", 1..=100, 10)? as usize;
    let land = st.land();
    let s = land.profile(m.get("profile").copied())?;
    Ok(Json(ScoreHistogram { profile: s.name.clone(), histogram: s.scores.histogram(bins)? }))
}

async fn analytics_models(State(st): State<St>, Pairs(pairs): Pairs) -> ApiResult<Json<Vec<ModelUsage>>> {
    let m = params(&pairs, &["days"])?;
    let since = store::now() - int_param(&m, "days", 1..=366, 7)? * 86_400;
    let rows = st.store.run(move |c| store::searches::model_usage(c, since)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(model_version, requests, parcels)| ModelUsage { model_version, requests, parcels })
            .collect(),
    ))
}

async fn analytics_accuracy(State(st): State<St>, Pairs(pairs): Pairs) -> ApiResult<Json<crate::models::Accuracy>> {
    let models = models(&st)?;
    let m = params(&pairs, &["model_version"])?;
    let version = m.get("model_version").map(|v| v.to_string());
    let feedback = st.store.run(store::feedback::all).await?;
    let land = st.land();
    Ok(Json(
        blocking(move || models.accuracy(land.index.features(), &|id| land.row(id), &feedback, version.as_deref()))
            .await?,
    ))
}

async fn keys_list(State(st): State<St>) -> ApiResult<Json<Vec<store::KeyRecord>>> {
    Ok(Json(st.store.run(store::keys::list).await?))
}

async fn create_key(
    st: &St,
    ctx: &Ctx,
    who: &Principal,
    role: Role,
    label: String,
    expires_at: Option<i64>,
) -> ApiResult<Response> {
    let (key, rec) = crate::auth::new_key(role, &label, expires_at);
    // the row and the in-memory key change in one blocking task: a request dropped halfway
    // (timeout, client gone) cannot leave them apart
    let (r, s2) = (rec.clone(), st.clone());
    st.store
        .run(move |c| {
            store::keys::insert(c, &r)?;
            s2.keys.put(r);
            Ok(())
        })
        .await?;
    st.audit(ctx, &who.subject, "key.create", &rec.id, "ok").await;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, record: rec })).into_response())
}

async fn keys_create(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Body(k): Body<NewKey>,
) -> ApiResult<Response> {
    if k.label.chars().count() > 100 {
        return Err(Problem::bad_request("label is at most 100 characters"));
    }
    let exp = k.expires_in_days.map(|d| store::now() + i64::from(d) * 86_400);
    create_key(&st, &ctx, &p, k.role, k.label, exp).await
}

async fn revoke(st: &St, ctx: &Ctx, who: &Principal, id: &str) -> ApiResult<()> {
    let at = store::now();
    let (k, s2) = (id.to_string(), st.clone());
    // refused in memory first, then on disk, in one blocking task (see create_key)
    let done = st
        .store
        .run(move |c| {
            let active = s2.keys.is_active(&k, at);
            if active {
                s2.keys.revoke(&k, at);
            }
            Ok(store::keys::revoke(c, &k, at)? || active)
        })
        .await?;
    if !done {
        return Err(Problem::not_found("no active key has that id"));
    }
    st.audit(ctx, &who.subject, "key.revoke", id, "ok").await;
    Ok(())
}

async fn keys_revoke(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    revoke(&st, &ctx, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn keys_rotate(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let k = id.clone();
    let old = st
        .store
        .run(move |c| Ok(store::keys::list(c)?.into_iter().find(|r| r.id == k && r.revoked_at.is_none())))
        .await?
        .ok_or_else(|| Problem::not_found("no active key has that id"))?;
    let role = Role::parse(&old.role).ok_or_else(|| Problem::internal("stored role"))?;
    let res = create_key(&st, &ctx, &p, role, old.label.clone(), old.expires_at).await?;
    revoke(&st, &ctx, &p, &id).await?;
    Ok(res)
}

async fn users_list(State(st): State<St>) -> ApiResult<Json<Vec<store::UserRecord>>> {
    Ok(Json(st.store.run(store::users::list).await?))
}

async fn users_create(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Body(u): Body<NewUser>,
) -> ApiResult<Response> {
    let name_ok = (1..=64).contains(&u.username.len())
        && u.username.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if !name_ok {
        return Err(Problem::bad_request("username: 1-64 of letters, digits, '.', '_', '-', '@'"));
    }
    let n = u.password.chars().count();
    if !(12..=1024).contains(&n) {
        return Err(Problem::bad_request("password: 12 to 1,024 characters"));
    }
    let pw = u.password;
    let hash = {
        let _slot = HASHING.acquire().await.map_err(|_| Problem::internal("hashing slots closed"))?;
        tokio::task::spawn_blocking(move || crate::auth::hash_password(&pw)).await.map_err(joined)??
    };
    let (name, role, s2) = (u.username.clone(), u.role, st.clone());
    let res = st
        .store
        .run(move |c| {
            store::users::insert(c, &name, role.as_str(), &hash)?;
            s2.users.put(&name, role, store::now());
            Ok(())
        })
        .await;
    if let Err(store::StoreError::Conflict(_)) = res {
        return Err(Problem::new(StatusCode::CONFLICT, "CONFLICT", "a user has that name"));
    }
    res?;
    st.audit(&ctx, &p.subject, "user.create", &u.username, "ok").await;
    let rec = store::UserRecord { name: u.username, role: role.as_str().into(), created_at: store::now() };
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}

async fn users_delete(
    State(st): State<St>,
    Extension(p): Extension<Principal>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let (n, s2) = (name.clone(), st.clone());
    let deleted = st
        .store
        .run(move |c| {
            s2.users.remove(&n);
            store::users::delete(c, &n)
        })
        .await?;
    if !deleted {
        return Err(Problem::not_found("no user has that name"));
    }
    st.audit(&ctx, &p.subject, "user.delete", &name, "ok").await;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(State(st): State<St>, Pairs(pairs): Pairs) -> ApiResult<Json<Vec<store::AuditEntry>>> {
    let mut limit = 100usize;
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|l| (1..=1000).contains(l))
                    .ok_or_else(|| Problem::bad_request("limit must be 1..1000"))?
            }
            other => return Err(Problem::bad_request(format!("unknown parameter {other:?}"))),
        }
    }
    Ok(Json(st.store.run(move |c| store::audit::latest(c, limit)).await?))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_request_stops_its_core_work() {
        let stopped = Arc::new(AtomicBool::new(false));
        let seen = stopped.clone();
        // work that checks for interruption, as the core's long loops do, for up to 30 s
        let call = super::blocking(move || {
            let t0 = std::time::Instant::now();
            while t0.elapsed().as_secs() < 30 {
                if let Err(e) = landopp::interrupt::check("test work") {
                    seen.store(true, Ordering::SeqCst);
                    return Err(e);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(())
        });
        // the request timeout drops the handler's future
        assert!(tokio::time::timeout(std::time::Duration::from_millis(100), call).await.is_err());
        for _ in 0..200 {
            if stopped.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(stopped.load(Ordering::SeqCst), "the core work saw the cancellation");
        // and a call that completes is not cancelled afterwards
        assert!(super::blocking(|| landopp::interrupt::check("after")).await.is_ok());
    }
}
