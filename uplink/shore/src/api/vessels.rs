//! `GET /api/v1/vessels`: every vessel with its online state, last seen,
//! last position and the newest thumbnail of each camera (and its health
//! and alerts: [`super::fleet_health`]).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::ApiError;
use super::{ApiState, FleetHealthView, image_url};
use crate::index::VesselSummary;
use crate::when::{rfc3339_ms, rfc3339_ns};

pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let vessels = state.index.vessels().await.map_err(ApiError::index)?;
    let health = FleetHealthView::read(state.index.as_ref())
        .await
        .map_err(ApiError::index)?;
    let vessels: Vec<Value> = vessels
        .into_iter()
        .map(|v| {
            let mut json = vessel_json(v);
            health.attach(&mut json);
            json
        })
        .collect();
    Ok(Json(json!({ "vessels": vessels })))
}

/// A vessel as `GET /vessels` lists it (and the feed's `vessel` event).
pub(crate) fn vessel_json(v: VesselSummary) -> Value {
    json!({
        "name": v.name,
        "online": v.online,
        "last_seen": v.last_seen_ns.map(rfc3339_ns),
        "last_position": v.last_fix.map(|f| json!({
            "lat": f.lat,
            "lon": f.lon,
            "speed_kn": f.speed_kn,
            "course_deg": f.course_deg,
            "at": rfc3339_ms(f.at_ms),
        })),
        "cameras": v.cameras.into_iter().map(|c| json!({
            "id": c.camera,
            "latest_thumb": c.latest.map(|(id, ns)| json!({
                "id": id,
                "ts": rfc3339_ns(ns),
                "image_url": image_url(id),
            })),
        })).collect::<Vec<_>>(),
    })
}
