//! The request and response documents of the API (beside the core's own: `Query`, `Page`,
//! `Site`, `Profile`), and extractors that turn unreadable requests into problem+json.

use crate::problem::Problem;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;

/// A JSON body; unreadable JSON is a 400 (a 413 above the size limit, a 415 without
/// `application/json`) in problem+json.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.split(';').next().is_some_and(|m| m.trim() == "application/json"));
        if !json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "the request body is too large")
            }
            _ => Problem::bad_request(r.body_text()),
        })?;
        // an object, not serde's array form of a struct
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Problem::bad_request("the body must be a JSON object"));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| Problem::bad_request(format!("body: {e}")))
    }
}

/// Query-string pairs in order (repeated keys kept); a malformed string is a 400.
#[derive(Debug)]
pub struct Pairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Pairs {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|q| Pairs(q.0))
            .map_err(|r| Problem::bad_request(r.body_text()))
    }
}

/// `POST /v1/parcels/search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The search: area of interest (bbox, GeoJSON polygon, point + radius) in `crs`, filters,
    /// sort, `limit` (top-k), `cursor`, `explain`.
    #[serde(default)]
    pub query: landopp::search::Query,
    /// A served profile by name (default: the first).
    #[serde(default)]
    pub profile: Option<String>,
    /// New weights for some criteria of the profile, by name or column: a what-if rescoring of
    /// this request only (analyst or admin).
    #[serde(default)]
    pub weights: Option<BTreeMap<String, f64>>,
    /// Constraint codes of the profile to leave out: a what-if of this request only (analyst or
    /// admin).
    #[serde(default)]
    pub without_constraints: Vec<String>,
}

/// `POST /v1/rescore`: rank with a posted profile (this request only).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RescoreRequest {
    /// The profile (validated as `landopp score` validates it).
    pub profile: landopp::scoring::Profile,
    /// The search to rank.
    #[serde(default)]
    pub query: landopp::search::Query,
}

/// `POST /v1/sites`: adjacent parcels grouped into sites.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SitesRequest {
    /// Which parcels may join a site (area, filters; paging ignored).
    #[serde(default)]
    pub query: landopp::search::Query,
    /// A served profile by name (default: the first).
    #[serde(default)]
    pub profile: Option<String>,
    /// Parcels closer than this join (metres; 0 = sharing a boundary).
    #[serde(default)]
    pub tolerance_m: f64,
    /// Smallest site kept, acres.
    #[serde(default)]
    pub min_acres: f64,
}

/// `POST /v1/parcels/geojson`: parcels' outlines to export.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoJsonRequest {
    /// Parcel ids (1 to 1,000), in the order wanted.
    pub ids: Vec<String>,
    /// A served profile by name for the score properties (default: the first).
    #[serde(default)]
    pub profile: Option<String>,
}

/// Parcels as a GeoJSON FeatureCollection (RFC 7946: WGS 84 longitude, latitude).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ParcelCollection {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// One feature per id asked, in that order.
    pub features: Vec<ParcelFeature>,
}

/// One parcel as a GeoJSON feature: its whole outline (not a tile's clipped, quantised copy).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ParcelFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Parcel id.
    pub id: String,
    /// A GeoJSON MultiPolygon in WGS 84.
    pub geometry: serde_json::Value,
    /// The served profile's score, rank and exclusion.
    pub properties: ParcelProperties,
}

/// A parcel's score under the served profile.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ParcelProperties {
    /// Parcel id.
    pub id: String,
    /// Score (null when unscored).
    pub score: Option<f64>,
    /// Rank.
    pub rank: Option<f64>,
    /// Excluded by a constraint.
    pub excluded: bool,
    /// Constraint codes that excluded it.
    pub reasons: Vec<String>,
}

/// One feature of a parcel with its provenance.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FeatureValue {
    /// Column name.
    pub name: String,
    /// Value (null when missing; the category code of a categorical column).
    pub value: Option<f64>,
    /// Category label of a categorical column.
    pub label: Option<String>,
    /// Unit.
    pub unit: String,
    /// Source layer (its file name).
    pub source: String,
    /// How it was computed.
    pub method: String,
}

/// `GET /v1/parcels/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ParcelDetail {
    /// Parcel id.
    pub id: String,
    /// Profile the score is under.
    pub profile: String,
    /// Score (null when it cannot be computed).
    pub score: Option<f64>,
    /// Rank among all parcels (the profile's tie rule).
    pub rank: Option<f64>,
    /// Excluded by a hard constraint.
    pub excluded: bool,
    /// Constraint codes that fired.
    pub reasons: Vec<String>,
    /// Per-criterion explanation.
    pub explanation: Vec<landopp::scoring::Contribution>,
    /// Every feature with its provenance.
    pub features: Vec<FeatureValue>,
}

/// `GET /v1/profiles`: one served profile.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProfileSummary {
    /// Name (`profile=`).
    pub name: String,
    /// The profile's own title.
    pub title: String,
    /// Aggregation method.
    pub method: String,
    /// Criteria and their normalised weights.
    pub criteria: Vec<CriterionWeight>,
    /// Hard constraints.
    pub constraints: usize,
    /// Their codes (what-if requests leave some out by code).
    pub constraint_codes: Vec<String>,
    /// Parcels excluded by them.
    pub excluded: usize,
}

/// A criterion and its weight.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CriterionWeight {
    /// Display name.
    pub name: String,
    /// Feature column.
    pub column: String,
    /// Normalised weight.
    pub weight: f64,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A token.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Token {
    /// The JWT, for `Authorization: Bearer`.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// `POST /v1/keys`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Role the key grants.
    pub role: crate::auth::Role,
    /// Label (who or what uses it), at most 100 characters.
    #[serde(default)]
    pub label: String,
    /// Days until it expires (none: never).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A created key: the secret is shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedKey {
    /// The key, for `X-API-Key` (store it now: it is not shown again).
    pub key: String,
    /// Its record.
    pub record: crate::store::KeyRecord,
}

/// `POST /v1/users`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: 1–64 of letters, digits, `.`, `_`, `-`, `@`.
    pub username: String,
    /// Password, 12–1,024 characters.
    pub password: String,
    /// Role.
    pub role: crate::auth::Role,
}

/// A created record's id.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    /// Id.
    pub id: i64,
}

/// Searches in one hour.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchesInHour {
    /// Hour start, Unix seconds.
    pub hour: i64,
    /// Searches.
    pub count: i64,
    /// Mean time to answer, milliseconds.
    pub mean_ms: f64,
}

/// `POST /v1/models/predict`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Parcels to predict (1..=10,000).
    pub parcel_ids: Vec<String>,
    /// A loaded model version (default: the A/B split's by parcel, else production).
    #[serde(default)]
    pub model_version: Option<String>,
    /// Add each feature's contribution.
    #[serde(default)]
    pub explain: bool,
}

/// `POST /v1/models/retrain`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrainRequest {
    /// When a retraining is due and how the candidate is judged (defaults: 100 new outcomes,
    /// 20 % held out, `r2` or `balanced_accuracy`).
    #[serde(default)]
    pub policy: landopp::ml::registry::RetrainPolicy,
    /// The candidate's version (default: the champion's with `-r<unix seconds>` appended).
    #[serde(default)]
    pub candidate_version: Option<String>,
}

/// `POST /v1/jobs/features`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureJob {
    /// The feature spec; its paths are relative to the server's data folder.
    pub spec: landopp::pipeline::FeatureSpec,
}

/// A started job.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobStarted {
    /// Job id (`GET /v1/jobs/{id}`).
    pub id: String,
    /// `queued`.
    pub state: String,
}

/// Searches in one H3 cell.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AreaCount {
    /// H3 cell index (hex).
    pub cell: String,
    /// Searches centred in it.
    pub count: i64,
    /// Cell centre latitude.
    pub lat: f64,
    /// Cell centre longitude.
    pub lng: f64,
}

/// A served profile's score distribution.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScoreHistogram {
    /// Profile.
    pub profile: String,
    /// The library's histogram.
    #[serde(flatten)]
    pub histogram: landopp::scoring::ScoreHistogram,
}

/// Use of one model version.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModelUsage {
    /// Version.
    pub model_version: String,
    /// Prediction requests answered by it.
    pub requests: i64,
    /// Parcels it predicted.
    pub parcels: i64,
}

/// `/healthz`, `/readyz`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// `ok` or what is wrong.
    pub status: String,
    /// Parcels in the index.
    pub parcels: usize,
    /// Served profiles.
    pub profiles: usize,
    /// The data version served (a shared store's latest import this replica has loaded; 0 when
    /// the data comes from files).
    pub data_version: i64,
}

/// `GET /v1/land`: what is served.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LandInfo {
    /// Parcels.
    pub parcels: usize,
    /// Their extent in WGS 84, `[west, south, east, north]` (none without parcels).
    pub bounds: Option<[f64; 4]>,
    /// Feature columns.
    pub columns: Vec<ColumnInfo>,
    /// Served profiles (the first is the default).
    pub profiles: Vec<String>,
    /// The data version (PostgreSQL imports; 0 for files).
    pub data_version: i64,
    /// A hillshade basemap is served (`/v1/tiles/hillshade/...`).
    pub hillshade: bool,
    /// The first zoom at which no vector tile holds more than 2,000 parcels: a map shows score
    /// raster tiles (`/v1/tiles/scores/...`) below it and vector tiles of every parcel
    /// (`/v1/tiles/parcels/...`) from it.
    pub detail_zoom: u32,
}

/// A feature column.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ColumnInfo {
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Category labels rather than numbers.
    pub categorical: bool,
}

/// `GET /v1/me`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Me {
    /// `key:<id>` or `user:<name>`.
    pub subject: String,
    /// Role.
    pub role: crate::auth::Role,
}
