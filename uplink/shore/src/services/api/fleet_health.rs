//! Fleet health in the API: `GET /api/v1/vessels/{v}/health` (a vessel's
//! latest status as kept, and its alerts), `GET /api/v1/alerts` (every
//! alert that holds), and the `health` and `alerts` of each vessel in
//! `GET /vessels` and the feed's `vessel` events (`views::VesselView`).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::base::when::rfc3339_ns;
use crate::services::api::ApiState;
use crate::services::api::params::VesselPath;
use crate::services::views::{AlertView, StatusView};
use seaframe_http::ApiError;

/// `GET /api/v1/vessels/{v}/health`
pub async fn vessel(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
) -> Result<Json<Value>, ApiError> {
    let summary = state
        .index
        .vessels()
        .await
        .map_err(ApiError::index)?
        .into_iter()
        .find(|s| s.name == vessel)
        .ok_or_else(|| ApiError::NotFound(format!("vessel: no vessel named {vessel}")))?;
    let status = state.index.status(&vessel).await.map_err(ApiError::index)?;
    let alerts: Vec<AlertView> = state
        .index
        .alerts()
        .await
        .map_err(ApiError::index)?
        .iter()
        .filter(|a| a.vessel == vessel)
        .map(AlertView::from)
        .collect();
    Ok(Json(json!({
        "vessel": vessel,
        "online": summary.online,
        "last_seen": summary.last_seen_ns.map(rfc3339_ns),
        "status": status.as_ref().map(StatusView::from),
        "alerts": alerts,
    })))
}

/// `GET /api/v1/alerts`
pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let alerts = state.index.alerts().await.map_err(ApiError::index)?;
    Ok(Json(
        json!({ "alerts": alerts.iter().map(AlertView::from).collect::<Vec<_>>() }),
    ))
}
