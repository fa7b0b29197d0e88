//! A vessel's remote configuration. The shore keeps a *desired overlay*
//! per vessel ([`crate::base::desired`]): `PATCH /api/v1/vessels/{v}/config`
//! folds a merge patch into it, `PUT` replaces it whole; either stores it
//! as the next version and publishes it whole `{version, config}`
//! (retained, QoS 1) on `seaframe/v1/<v>/config`, since a vessel offline
//! only ever sees the last message. `GET` shows the overlay, its version,
//! the vessel's last ack and its recent acks. The agent validates the
//! contents when it applies them.
//!
//! Secrets never leave: every answer (and the feed's `config` event, built
//! here) shows the overlay and the acks' errors redacted
//! ([`seaframe_http::redact_json`]); the vessel gets them whole over MQTT.
//! A body that sends back a value exactly as it was shown redacted keeps
//! the stored secret ([`seaframe_http::restore_redacted`]), so a page that
//! edits what it was shown never pushes `***` in place of a password.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use rumqttc::QoS;
use seaframe_http::{redact_json, restore_redacted};
use seaframe_wire::message::ConfigPush;
use seaframe_wire::{Topic, VesselName};
use serde_json::{Value, json};

use crate::adapters::index::{ConfigChange, IndexError};
use crate::base::desired::{check_patch, check_whole};
use crate::services::api::ApiState;
use crate::services::api::params::VesselPath;
use crate::services::metrics::add;
use crate::services::views::config_json;
use seaframe_http::ApiError;

/// `PATCH`: the body is a merge patch of the overlay.
pub async fn patch(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let patch = check_patch(&body).map_err(|e| ApiError::bad("body", e))?;
    let _order = state.push_order.lock().await;
    let patch = restore_redacted(&patch, &stored_overlay(&state, &vessel).await?);
    let change = state
        .index
        .patch_config(&vessel, &patch)
        .await
        .map_err(|e| match e {
            IndexError::Refused(e) => ApiError::bad("body", e),
            e => ApiError::index(e),
        })?;
    publish(&state, &vessel, change).await
}

/// `PUT`: the body is the whole overlay.
pub async fn put(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let desired = check_whole(&body).map_err(|e| ApiError::bad("body", e))?;
    let _order = state.push_order.lock().await;
    let desired = restore_redacted(&desired, &stored_overlay(&state, &vessel).await?);
    let version = state
        .index
        .put_config(&vessel, &desired)
        .await
        .map_err(ApiError::index)?;
    publish(&state, &vessel, ConfigChange { version, desired }).await
}

/// The overlay stored now (`{}` when none), what a body's redacted values
/// are restored from. Read outside the push's transaction: a push from
/// elsewhere in between makes a value sent back redacted stay `***`
/// rather than take a secret it was not shown.
async fn stored_overlay(state: &ApiState, vessel: &VesselName) -> Result<Value, ApiError> {
    Ok(state
        .index
        .config(vessel)
        .await
        .map_err(ApiError::index)?
        .map_or_else(|| json!({}), |c| c.desired))
}

/// Publishes a stored change (the caller holds `push_order`, so that the
/// retained message is the highest version) and answers with it.
async fn publish(
    state: &ApiState,
    vessel: &VesselName,
    change: ConfigChange,
) -> Result<Json<Value>, ApiError> {
    let ConfigChange { version, desired } = change;
    let push = ConfigPush {
        version,
        config: desired,
    };
    let payload = serde_json::to_vec(&push).expect("a JSON value serialises");
    state
        .mqtt
        .publish(
            Topic::Config {
                vessel: vessel.clone(),
            }
            .to_string(),
            QoS::AtLeastOnce,
            true,
            payload,
        )
        .await
        .map_err(|e| ApiError::Unavailable {
            what: "the broker",
            cause: e.to_string(),
        })?;
    add(&state.metrics.config_pushes, 1);
    tracing::info!(%vessel, version, "config pushed");
    Ok(Json(
        json!({ "version": version, "desired": redact_json(&push.config) }),
    ))
}

pub async fn get(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
) -> Result<Json<Value>, ApiError> {
    let config = state
        .index
        .config(&vessel)
        .await
        .map_err(ApiError::index)?
        .ok_or_else(|| ApiError::NotFound(format!("vessel: no config for {vessel}")))?;
    let history = state
        .index
        .ack_history(&vessel)
        .await
        .map_err(ApiError::index)?;
    Ok(Json(config_json(&config, &history)))
}
