//! `/healthz` (200 while ingest is subscribed, 503 otherwise) and
//! `/metrics` (Prometheus text).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::ApiState;

pub async fn healthz(State(state): State<ApiState>) -> impl IntoResponse {
    let subscribed = *state.subscribed.borrow();
    let status = if subscribed {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "subscribed": subscribed })))
}

pub async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
