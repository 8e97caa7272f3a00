//! Live data sources (cargo feature `remote`): clients of the public services parcels and
//! imagery come from, feeding the feature steps.
//!
//! - [`stac`]: item search against any STAC API (Landsat Collection 2 Level-2, Sentinel-2 L2A,
//!   ...), items as imagery records, and the best scene per parcel judged by the clouds over the
//!   parcel itself.
//! - [`features`]: county parcel services — ArcGIS REST feature layers and OGC API – Features
//!   collections — paged into one layer with typed attributes.
//! - [`sda`]: USDA Soil Data Access — SSURGO map units selected by the parcels' shapes, their
//!   components and map-unit aggregates, for the soils step.
//!
//! Every request has connect and overall deadlines and is retried on connection failures, 408,
//! 429 and 5xx, with exponential backoff and jitter, waiting what a `Retry-After` header asks
//! for (at most 60 s); at most 8 requests are in flight to one host, and a host failing 5
//! exchanges in a row is left alone for 30 s (circuit breaker). A failure is an error with the
//! code `REMOTE` naming the URL (without its query string) and the HTTP status; a server's body
//! is never quoted.

pub mod features;
pub mod sda;
pub mod stac;

/// `[west, south, east, north]` in degrees: finite, longitudes within ±180, latitudes within ±90,
/// south ≤ north (west > east crosses the antimeridian).
fn is_wgs84_bbox(b: [f64; 4]) -> bool {
    b.iter().all(|v| v.is_finite())
        && (-180.0..=180.0).contains(&b[0])
        && (-180.0..=180.0).contains(&b[2])
        && (-90.0..=90.0).contains(&b[1])
        && (-90.0..=90.0).contains(&b[3])
        && b[1] <= b[3]
}
