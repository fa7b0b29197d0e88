//! `/api/v1/cameras` (and the cameras of `/api/v1/status`): what each
//! camera is doing and what became of its frames.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::base::metrics::CameraMetrics;
use crate::base::store::health::StoreState;
use crate::services::api::ApiState;
use seaframe_wire::timestamp::Timestamp;

fn camera_json(c: &CameraMetrics, storing: StoreState) -> Value {
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    json!({
        "id": c.id,
        "state": c.state(),
        "storing": storing.as_str(),
        "fps": c.fps,
        "captured": n(&c.captured),
        "enqueued": n(&c.enqueued),
        "stored": n(&c.stored),
        "trimmed": n(&c.trimmed),
        "dropped": n(&c.dropped),
        "failed": n(&c.failed),
        "lost": n(&c.lost),
        "capture_errors": n(&c.capture_errors),
        "last_frame": c.last_frame().map(Timestamp::to_rfc3339),
    })
}

pub(super) fn cameras_json(state: &ApiState) -> Vec<Value> {
    state
        .metrics
        .cameras()
        .iter()
        .map(|c| camera_json(c, state.metrics.store_health.state()))
        .collect()
}

pub async fn list(State(state): State<ApiState>) -> Json<Value> {
    Json(json!({ "cameras": cameras_json(&state) }))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "ok": true }))
}
