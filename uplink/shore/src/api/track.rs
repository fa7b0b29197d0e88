//! `GET /api/v1/vessels/{v}/track?from=&to=`: the vessel's fixes as a
//! GeoJSON FeatureCollection — a LineString of the whole track, then one
//! Point per fix with its time and motion.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::params::{self, QueryParams, VesselPath};
use crate::when::rfc3339_ms;

pub async fn get(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (from_ns, to_ns) = params::range(&p)?;
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
    let fixes = state
        .index
        .track(&vessel, from_ns, to_ns)
        .await
        .map_err(ApiError::index)?;
    let mut features = Vec::with_capacity(fixes.len() + 1);
    if fixes.len() >= 2 {
        features.push(json!({
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": fixes.iter().map(|f| [f.lon, f.lat]).collect::<Vec<_>>(),
            },
            "properties": {"vessel": vessel},
        }));
    }
    features.extend(fixes.iter().map(|f| {
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
    }));
    Ok(Json(
        json!({"type": "FeatureCollection", "features": features}),
    ))
}
