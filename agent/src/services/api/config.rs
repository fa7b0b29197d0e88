//! `GET /api/v1/config`: the config the agent runs on — every key with its
//! value (secrets redacted) and where it came from (`file`, `push N`,
//! `default`) — what is kept of pushes from shore, their last outcomes,
//! and anything set aside at start.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::services::api::{ApiError, ApiState};

pub async fn get(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let in_effect = state
        .in_effect
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("config: not kept by this server".into()))?;
    let json = in_effect
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .to_json();
    Ok(Json(json))
}
