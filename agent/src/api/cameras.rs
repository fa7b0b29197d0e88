//! `/api/v1/cameras` and `/api/v1/status`: what each camera is doing and
//! what became of its frames.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use crate::metrics::CameraMetrics;
use crate::store::health::StoreState;
use crate::timestamp::Timestamp;

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

fn cameras_json(state: &ApiState) -> Vec<Value> {
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

pub async fn status(State(state): State<ApiState>) -> Json<Value> {
    let uptime_ns = Timestamp::now().unix_nanos() - state.started_at.unix_nanos();
    Json(json!({
        "vessel": state.vessel,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": uptime_ns / 1_000_000_000,
        "queue_len": state.metrics.queue_len.load(Ordering::Relaxed),
        "handoff_len": state.metrics.handoff_len.load(Ordering::Relaxed),
        "cameras": cameras_json(&state),
        "store": state.metrics.store_health.to_json(),
        "clock": {
            "source": state.clock.now().map_or("untrusted", |(_, source)| source.as_str()),
            "gps_offset_ms": state.clock.offset_ns().map(|ns| ns / 1_000_000),
        },
        "gps": state.clock.gps().status(),
        "config": state.in_effect.as_ref().map(|c| {
            let c = c.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            json!({
                "pushed_version": c.pushed.active.as_ref().map(|o| o.version),
                "on_trial": c.pushed.on_trial,
                "set_aside": c.notes,
            })
        }),
    }))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "ok": true }))
}
