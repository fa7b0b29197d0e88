//! `GET /api/v1/vessels/{v}/track?from=&to=&max_points=`: the vessel's
//! track as GeoJSON for any range — the line (a `MultiLineString` when
//! gaps break it), then one point per fix kept — decimated to at most
//! `max_points` by [`seaframe_wire::track::decimate`].

use axum::Json;
use axum::extract::State;
use seaframe_wire::message::Fix;
use seaframe_wire::track::{self, TrackPoint};
use serde_json::{Value, json};

use crate::base::when::rfc3339_ms;
use crate::services::api::ApiState;
use crate::services::api::params::{self, QueryParams, VesselPath};
use seaframe_http::ApiError;

pub async fn get(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (from_ns, to_ns) = params::range(&p)?;
    let max_points = track::max_points_param(p.get("max_points").map(String::as_str))
        .map_err(|why| ApiError::bad("max_points", why))?;
    if !state
        .index
        .vessel_known(&vessel)
        .await
        .map_err(ApiError::index)?
    {
        return Err(ApiError::NotFound(format!(
            "vessel: no vessel named {vessel}"
        )));
    }
    let span = state
        .index
        .track_span(&vessel, from_ns, to_ns)
        .await
        .map_err(ApiError::index)?;
    let bucket_ms = track::read_bucket_ms(
        span.count,
        span.first_ms.unwrap_or(0),
        span.last_ms.unwrap_or(0),
    );
    let fixes = state
        .index
        .track(&vessel, from_ns, to_ns, bucket_ms)
        .await
        .map_err(ApiError::index)?;
    let points: Vec<TrackPoint> = fixes
        .iter()
        .map(|f| TrackPoint {
            at_ms: f.at_ms,
            lat: f.lat,
            lon: f.lon,
        })
        .collect();
    Ok(Json(track::feature_collection(
        &points,
        max_points,
        bucket_ms,
        json!({"vessel": vessel.as_str()}),
        |i| point_feature(&fixes[i]),
    )))
}

fn point_feature(f: &Fix) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
        "properties": {
            "time": rfc3339_ms(f.at_ms),
            "fix": f.fix,
            "speed_kn": f.speed_kn,
            "course_deg": f.course_deg,
            "heading_deg": f.heading_deg,
        },
    })
}
