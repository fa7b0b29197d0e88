//! `/api/v1/track`: the ship's recent fixes as GeoJSON — every fix, or one
//! per `every_s` seconds. The agent keeps the last hour of fixes in memory.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::params::{self, QueryParams};

pub async fn get(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = params::range(&p)?;
    let every_ms = match p.get("every_s") {
        None => 0,
        Some(s) => match s.parse::<f64>() {
            Ok(v) if (0.0..=86_400.0).contains(&v) => (v * 1000.0) as i64,
            _ => {
                return Err(ApiError::bad(
                    "every_s",
                    format!("{s:?} is not a number of seconds from 0 to 86400"),
                ));
            }
        },
    };
    let features: Vec<Value> = state
        .clock
        .gps()
        .track(from, to, every_ms)
        .iter()
        .map(|f| {
            json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
                "properties": {
                    "time": f.time.to_rfc3339(),
                    "fix": f.quality_name(),
                    "speed_kn": f.speed_kn,
                    "course_deg": f.course_deg,
                    "heading_deg": f.heading_deg,
                    "satellites": f.satellites,
                    "hdop": f.hdop,
                },
            })
        })
        .collect();
    Ok(Json(
        json!({"type": "FeatureCollection", "features": features}),
    ))
}
