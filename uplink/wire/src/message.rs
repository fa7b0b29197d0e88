//! The JSON messages of the link (everything but thumbnails): `status`,
//! `position`, `config` and `config/ack`. Shapes only; both ends serialise
//! them with serde_json. Times are Unix milliseconds (UTC).

use serde::{Deserialize, Serialize};

use crate::name::CameraId;

/// `seaframe/v1/<vessel>/status`, retained. The broker publishes
/// [`Status::offline`] as the agent's last will.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: LinkState,
    /// The rest is absent in the last will (the agent is gone).
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Online,
    Offline,
}

impl Status {
    /// The last will: what the broker says when the agent vanishes.
    pub fn offline() -> Self {
        Self {
            state: LinkState::Offline,
            health: None,
        }
    }
}

/// An agent's health as it reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// The agent's version (`CARGO_PKG_VERSION`).
    pub version: String,
    pub uptime_s: u64,
    pub sent_at_ms: i64,
    pub cameras: Vec<CameraHealth>,
    pub fix: Option<Fix>,
    /// `system` or `gps`.
    pub clock: String,
    /// System clock minus GPS time, ms (0 when unknown).
    pub clock_offset_ms: i64,
    pub disk_used_bytes: u64,
    pub disk_free_bytes: u64,
    /// The size of the filesystem holding the data directory, so that the
    /// shore can judge free space as a share. Optional: agents before it
    /// did not send it (and the shore then judges by bytes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_total_bytes: Option<u64>,
    /// Thumbnails waiting in the outbox, and their bytes.
    pub outbox_backlog: u64,
    pub outbox_bytes: u64,
    /// The config version last applied from shore (0: none).
    pub config_version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraHealth {
    pub id: CameraId,
    /// `running`, `retrying`, `starting`, … (the agent's camera states).
    pub state: String,
    pub fps: f64,
    pub last_frame_ms: Option<i64>,
}

/// A position fix: in `status` and in `position`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub at_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub fix: String,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub heading_deg: Option<f64>,
}

/// `seaframe/v1/<vessel>/position`: the fixes since the last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionReport {
    pub fixes: Vec<Fix>,
}

/// `seaframe/v1/<vessel>/config`, retained: the desired configuration.
/// `config` is the shore's whole overlay for the vessel (every PATCH so
/// far folded in by [`crate::overlay::merge`]): the keys of the remotely
/// changeable sections (`cameras`, `gps`, `retention`, `uplink`) that
/// differ from the operator's file, named as in the TOML. A key it does
/// not name keeps the file's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigPush {
    pub version: u64,
    pub config: serde_json::Value,
}

/// `seaframe/v1/<vessel>/config/ack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigAck {
    pub version: u64,
    pub status: AckStatus,
    /// Why it was rejected (every problem, one per line) or rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckStatus {
    /// In effect (a push that changed the link: and the broker reached
    /// with it).
    Applied,
    /// Refused before anything changed.
    Rejected,
    /// Applied, but the link did not come back within the confirm window:
    /// the vessel went back to its last config that worked.
    #[serde(rename = "rolled_back")]
    RolledBack,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_will_is_just_offline() {
        let json = serde_json::to_string(&Status::offline()).unwrap();
        assert_eq!(json, r#"{"state":"offline"}"#);
        let back: Status = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Status::offline());
    }

    #[test]
    fn a_status_without_the_disk_size_still_reads() {
        // As agents before `disk_total_bytes` sent it.
        let old = r#"{"state":"online","version":"0.1.0","uptime_s":5,"sent_at_ms":1,
            "cameras":[{"id":"bow","state":"ok","fps":1.0,"last_frame_ms":null}],
            "fix":null,"clock":"gps","clock_offset_ms":0,"disk_used_bytes":1,
            "disk_free_bytes":2,"outbox_backlog":3,"outbox_bytes":4,"config_version":0}"#;
        let s: Status = serde_json::from_str(old).unwrap();
        let mut h = s.health.unwrap();
        assert_eq!(h.disk_total_bytes, None);
        assert!(
            !serde_json::to_string(&h)
                .unwrap()
                .contains("disk_total_bytes")
        );
        h.disk_total_bytes = Some(10);
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["disk_total_bytes"], 10);
    }

    #[test]
    fn ack_shapes() {
        let ack = ConfigAck {
            version: 3,
            status: AckStatus::Rejected,
            error: Some("cameras[0].fps: must be > 0".into()),
        };
        let json = serde_json::to_value(&ack).unwrap();
        assert_eq!(json["status"], "rejected");
        assert_eq!(serde_json::from_value::<ConfigAck>(json).unwrap(), ack);
        assert_eq!(
            serde_json::to_value(AckStatus::RolledBack).unwrap(),
            "rolled_back"
        );
    }
}
