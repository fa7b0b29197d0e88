//! `/healthz` (200 while ingest is subscribed, 503 otherwise) and
//! `/metrics` (Prometheus text: the counters, then the fleet's health).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::services::api::ApiState;
use crate::services::views::FleetHealthView;

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
    let mut text = state.metrics.render();
    fleet(&state, &mut text).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// The fleet's health gauges ([`super::fleet_metrics`]); when the index
/// fails the counters above still go out.
async fn fleet(state: &ApiState, text: &mut String) {
    let read = async {
        let vessels = state.index.vessels().await?;
        let view = FleetHealthView::read(state.index.as_ref()).await?;
        Ok::<_, crate::adapters::index::IndexError>((vessels, view))
    };
    match read.await {
        Ok((vessels, view)) => super::fleet_metrics::render(text, &vessels, &view),
        Err(e) => tracing::warn!(error = %e, "/metrics: the fleet's health is unavailable"),
    }
}
