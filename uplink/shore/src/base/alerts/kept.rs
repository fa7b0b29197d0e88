//! A vessel's latest status as the shore keeps it, with since when each
//! camera has been in its state: what the alert rules and the fleet page
//! read.

use std::collections::BTreeMap;

use seaframe_wire::message::Health;
use serde::{Deserialize, Serialize};

/// A vessel's latest status as the shore keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptStatus {
    /// When the shore received it, ns (the shore's clock).
    pub received_at_ns: i64,
    pub health: Health,
    /// Per camera id: since when (receipt of the first status that said
    /// so) the camera has been in the state it is in, ns.
    pub camera_since_ns: BTreeMap<String, i64>,
}

impl KeptStatus {
    /// The status to keep when `health` arrives at `received_at_ns` and
    /// `prev` was kept: a camera whose state did not change keeps its
    /// `since`.
    pub fn next(prev: Option<&Self>, health: Health, received_at_ns: i64) -> Self {
        let camera_since_ns = health
            .cameras
            .iter()
            .map(|c| {
                let id = c.id.to_string();
                let kept = prev.and_then(|p| {
                    let same = p
                        .health
                        .cameras
                        .iter()
                        .any(|o| o.id == c.id && o.state == c.state);
                    same.then(|| p.camera_since_ns.get(&id).copied()).flatten()
                });
                (id, kept.unwrap_or(received_at_ns))
            })
            .collect();
        Self {
            received_at_ns,
            health,
            camera_since_ns,
        }
    }
}
