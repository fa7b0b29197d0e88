//! A vessel's config state as shown: the overlay, its version and acks,
//! secrets redacted.

use seaframe_http::redact_json;
use serde_json::{Value, json};

use crate::adapters::index::{ConfigState, ReceivedAck, ack_status_str};
use crate::base::when::rfc3339_ns;

/// A config state as `GET …/config` shows it (and the feed's `config`
/// event): `history` newest first, secrets redacted.
pub fn config_json(config: &ConfigState, history: &[ReceivedAck]) -> Value {
    let mut v = config_key(config);
    v["history"] = redact_json(&history.iter().map(ack_json).collect());
    v
}

/// A config state without its history: what tells the feed that it changed
/// (every ack stored changes the last ack and its time).
pub fn config_key(config: &ConfigState) -> Value {
    redact_json(&json!({
        "desired": config.desired,
        "version": config.version,
        "ack": config.ack.as_ref().map(ack_json),
    }))
}

fn ack_json(a: &ReceivedAck) -> Value {
    json!({
        "version": a.ack.version,
        "status": ack_status_str(a.ack.status),
        "error": a.ack.error,
        "received_at": a.received_at_ns.map(rfc3339_ns),
    })
}
