//! `GET /api/v1/vessels`: every vessel with its online state, last seen,
//! last position and the newest thumbnail of each camera (and its health
//! and alerts: [`super::fleet_health`]).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::services::api::ApiState;
use crate::services::views::{FleetHealthView, VesselView};
use seaframe_http::ApiError;

pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let vessels = state.index.vessels().await.map_err(ApiError::index)?;
    let health = FleetHealthView::read(state.index.as_ref())
        .await
        .map_err(ApiError::index)?;
    let vessels: Vec<VesselView> = vessels
        .into_iter()
        .map(|v| VesselView::new(v, &health))
        .collect();
    Ok(Json(json!({ "vessels": vessels })))
}
