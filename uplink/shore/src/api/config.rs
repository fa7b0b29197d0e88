//! A vessel's remote configuration: `PUT /api/v1/vessels/{v}/config` stores
//! the next version as desired and publishes it (retained, QoS 1) on
//! `seaframe/v1/<v>/config`; `GET` shows the desired config, its version
//! and the vessel's last ack. The body holds any of the remotely changeable
//! sections (`cameras`, `gps`, `retention`, `uplink`); the agent validates
//! their contents when it applies them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use rumqttc::QoS;
use seaframe_wire::Topic;
use seaframe_wire::message::ConfigPush;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::params::VesselPath;
use crate::index::{ConfigState, ack_status_str};
use crate::metrics::add;

/// The sections of the agent's config that shore may change.
pub const SECTIONS: [&str; 4] = ["cameras", "gps", "retention", "uplink"];
/// A config is a few KB; anything near this is a mistake.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The body, checked: a JSON object with only known sections, at least one.
fn desired(body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::bad(
            "body",
            format!("is over {MAX_BODY_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad("body", format!("not JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(ApiError::bad("body", "must be a JSON object"));
    };
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !SECTIONS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad(
            "body",
            format!(
                "unknown section(s) {}; only {} may be pushed",
                unknown.join(", "),
                SECTIONS.join(", ")
            ),
        ));
    }
    if map.is_empty() {
        return Err(ApiError::bad(
            "body",
            format!("holds none of {}", SECTIONS.join(", ")),
        ));
    }
    Ok(value)
}

pub async fn put(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let config = desired(&body)?;
    let version = state
        .index
        .put_config(&vessel, &config)
        .await
        .map_err(ApiError::index)?;
    let push = ConfigPush { version, config };
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
    Ok(Json(json!({ "version": version })))
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
    Ok(Json(config_json(&config)))
}

/// A config state as `GET …/config` shows it (and the feed's `config` event).
pub(crate) fn config_json(config: &ConfigState) -> Value {
    json!({
        "desired": config.desired,
        "version": config.version,
        "ack": config.ack.as_ref().map(|a| json!({
            "version": a.version,
            "status": ack_status_str(a.status),
            "error": a.error,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_sections_are_accepted() {
        assert!(desired(br#"{"uplink": {"thumbs_per_s": 0.5}}"#).is_ok());
        for bad in [
            &br#"{"vessel": "x"}"#[..],
            b"[]",
            b"{}",
            b"nope",
            br#"{"gps": {}, "api": {}}"#,
        ] {
            let e = desired(bad).unwrap_err().to_string();
            assert!(e.starts_with("body:"), "{e}");
        }
    }
}
