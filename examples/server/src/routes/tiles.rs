//! Map tiles for web maps: parcels as Mapbox Vector Tiles, their scores as PNG for the overview
//! zooms, a hillshade basemap as PNG — each one core call
//! ([`landopp::search::SearchIndex::parcel_tile`], [`landopp::search::SearchIndex::score_png`],
//! [`landopp::tiles::hillshade_tile`]).

use super::blocking;
use crate::api::Pairs;
use crate::app::St;
use crate::auth::{Principal, Role};
use crate::land::{Land, Scored};
use crate::problem::{ApiResult, Problem};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use landopp::scoring::ScoreResult;
use landopp::tiles::{ParcelTileOptions, ScoreTileOptions, TileId};

/// `z`, `x` and `y` of a tile path whose last segment ends with `.ext` (or has no suffix).
fn tile_id(z: &str, x: &str, y: &str, ext: &str) -> ApiResult<TileId> {
    let y = y.strip_suffix(ext).unwrap_or(y);
    let num = |s: &str, what: &str| {
        s.parse::<u32>().map_err(|_| Problem::bad_request(format!("tile {what} must be a whole number ≥ 0")))
    };
    Ok(TileId::new(num(z, "z")?, num(x, "x")?, num(y, "y")?)?)
}

/// The profile and what-if change a tile request names (`profile`, `weights`,
/// `without_constraints`; a change needs the analyst role).
fn scoring_params(who: &Principal, pairs: &[(String, String)]) -> ApiResult<(Option<String>, crate::land::WhatIf)> {
    let mut profile = None;
    let mut change = crate::land::WhatIf::default();
    for (k, v) in pairs {
        match k.as_str() {
            "profile" => profile = Some(v.clone()),
            "weights" => {
                change.weights = Some(serde_json::from_str(v).map_err(|_| {
                    Problem::bad_request("weights must be a JSON object of criterion → number, URL-encoded")
                })?)
            }
            "without_constraints" => {
                change.without_constraints = v.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect()
            }
            other => return Err(Problem::bad_request(format!("unknown parameter {other:?}"))),
        }
    }
    if !change.is_none() {
        who.require(Role::Analyst)?;
    }
    Ok((profile, change))
}

/// A tile of the profile's scores or a what-if's: the request's tile, profile and change
/// checked, then `make` on the blocking pool with the land, the tile, the served profile and the
/// scores to draw.
async fn scored_tile(
    st: St,
    who: Principal,
    (z, x, y): (String, String, String),
    pairs: Vec<(String, String)>,
    (ext, content_type): (&'static str, &'static str),
    make: impl FnOnce(&Land, TileId, &Scored, &ScoreResult) -> landopp::Result<Vec<u8>> + Send + 'static,
) -> ApiResult<Response> {
    let tile = tile_id(&z, &x, &y, ext)?;
    let (profile, change) = scoring_params(&who, &pairs)?;
    let land = st.land();
    land.profile(profile.as_deref())?;
    let body = blocking(move || {
        let s = land.profile(profile.as_deref())?;
        let what_if = land.what_if(profile.as_deref(), &change)?;
        make(&land, tile, s, what_if.as_deref().unwrap_or(&s.scores))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `GET /v1/tiles/parcels/{z}/{x}/{y}.mvt`: the parcels under a tile with the profile's score,
/// rank, exclusion and criteria — or a what-if's (`weights`, `without_constraints`: analyst).
pub(super) async fn parcels(
    State(st): State<St>,
    Extension(who): Extension<Principal>,
    Path(zxy): Path<(String, String, String)>,
    Pairs(pairs): Pairs,
) -> ApiResult<Response> {
    scored_tile(st, who, zxy, pairs, (".mvt", "application/vnd.mapbox-vector-tile"), |land, tile, s, scores| {
        let mut columns: Vec<String> = Vec::new();
        for c in &s.profile.criteria {
            if !columns.contains(&c.column) {
                columns.push(c.column.clone());
            }
        }
        let opts = ParcelTileOptions { columns, ..Default::default() };
        land.index.parcel_tile(tile, Some(scores), &opts)
    })
    .await
}

/// `GET /v1/tiles/scores/{z}/{x}/{y}.png`: every parcel under a tile painted in its score's
/// colour (the dashboard's ramp; excluded grey; best score where parcels share a pixel) — the
/// overview below `detail_zoom` — for the profile or a what-if, as the vector tiles.
pub(super) async fn scores(
    State(st): State<St>,
    Extension(who): Extension<Principal>,
    Path(zxy): Path<(String, String, String)>,
    Pairs(pairs): Pairs,
) -> ApiResult<Response> {
    scored_tile(st, who, zxy, pairs, (".png", "image/png"), |land, tile, _, scores| {
        // the coverage is kept per tile: a what-if only repaints it
        land.tile_coverage(tile)?.paint_png(scores, &ScoreTileOptions::default())
    })
    .await
}

/// `GET /v1/tiles/hillshade/{z}/{x}/{y}.png`: the hillshade of the configured DEM on the tile's
/// grid (transparent where the DEM has no data).
pub(super) async fn hillshade(
    State(st): State<St>,
    Path((z, x, y)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let tile = tile_id(&z, &x, &y, ".png")?;
    let Some(dem) = st.dem.clone() else {
        return Err(Problem::not_found("no DEM is configured for the hillshade basemap ([data] dem)"));
    };
    let body =
        blocking(move || landopp::tiles::hillshade_png(&dem, tile, &landopp::terrain::TerrainOptions::default()))
            .await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], body).into_response())
}
