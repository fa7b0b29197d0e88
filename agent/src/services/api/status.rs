//! `/api/v1/status`: the agent at a glance — cameras, queue, store and its
//! disk budget, clock and GPS, uplink backlog and last contact, config pushes.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::services::api::ApiState;
use crate::services::api::cameras::cameras_json;
use crate::services::api::store_call::blocking;
use seaframe_http::ApiError;
use seaframe_wire::timestamp::Timestamp;

/// What the disk holds against its budget; `{"error"}` when the store
/// cannot say (the status must still answer then).
async fn disk_json(state: &ApiState) -> Value {
    let held = blocking(&state.store, |s| {
        Ok((s.frames_bytes()?, s.index_disk_bytes(), s.oldest(1)?))
    })
    .await;
    let (frames_bytes, index_bytes, oldest) = match held {
        Ok(held) => held,
        Err(e) => {
            if let ApiError::Unavailable { cause, .. } = &e {
                tracing::warn!(cause = %cause, "status: the store cannot say what it holds");
            }
            return json!({ "error": e.to_string() });
        }
    };
    let retention = state.in_effect.as_ref().map(|c| {
        c.read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .config
            .retention
            .clone()
    });
    json!({
        "frames_bytes": frames_bytes,
        "index_bytes": index_bytes,
        "retain_bytes": retention.as_ref().map(|r| r.retain_bytes),
        "max_age_s": retention.as_ref().map(|r| r.max_age_s),
        "oldest_frame": oldest.first().map(|c| c.captured_at.to_rfc3339()),
        "retention_deleted": state.metrics.retention_deleted.load(Ordering::Relaxed),
    })
}

/// The uplink's backlog and the broker's last answer (`null` without
/// `[uplink]`).
fn uplink_json(state: &ApiState) -> Value {
    let configured = state.in_effect.as_ref().is_some_and(|c| {
        c.read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .config
            .uplink
            .is_some()
    });
    if !configured {
        return Value::Null;
    }
    let u = &state.metrics.uplink;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    json!({
        "link": match n(&u.link_state) { 2 => "live", 1 => "catch_up", _ => "offline" },
        "outbox_backlog": n(&u.outbox_backlog),
        "outbox_bytes": n(&u.outbox_bytes),
        "thumbs_sent": n(&u.thumbs_sent),
        "thumbs_dropped": n(&u.thumbs_dropped),
        "last_contact": match u.last_contact_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Timestamp::from_unix_nanos(ns).to_rfc3339()),
        },
    })
}

/// `GET /api/v1/status`.
pub async fn get(State(state): State<ApiState>) -> Json<Value> {
    let uptime_ns = Timestamp::now().unix_nanos() - state.started_at.unix_nanos();
    Json(json!({
        "vessel": state.vessel,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": uptime_ns / 1_000_000_000,
        "queue_len": state.metrics.queue_len.load(Ordering::Relaxed),
        "handoff_len": state.metrics.handoff_len.load(Ordering::Relaxed),
        "cameras": cameras_json(&state),
        "store": state.metrics.store_health.to_json(),
        "disk": disk_json(&state).await,
        "uplink": uplink_json(&state),
        "clock": {
            "source": state.clock.now().map_or("untrusted", |(_, source)| source.as_str()),
            "gps_offset_ms": state.clock.offset_ns().map(|ns| ns / 1_000_000),
        },
        "gps": state.clock.gps().status(),
        "map_tiles": state.map_tiles.as_deref(),
        "config": state.in_effect.as_ref().map(|c| {
            let c = c.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            json!({
                "pushed_version": c.pushed.active.as_ref().map(|o| o.version),
                "on_trial": c.pushed.on_trial,
                "set_aside": c.notes,
                "last_push": c.pushed.history.last(),
            })
        }),
    }))
}
