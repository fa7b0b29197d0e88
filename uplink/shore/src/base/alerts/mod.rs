//! Fleet alerts, computed ashore from what the index holds: a vessel gone
//! quiet (`stale`), a camera not delivering (`camera_down`), little disk
//! left (`disk_low`), a clock astray (`clock_off`), an outbox that fills
//! faster than the link drains it (`backlog_growing`).
//!
//! [`thresholds`] is the `[alerts]` config, [`rules`] the pure evaluation
//! (the index's contents and an instant in, the alerts that hold out),
//! [`task`] the stage that runs it every few seconds. The evaluation reads
//! and writes the index in one locked transaction, so that several shore
//! instances on one PostgreSQL database agree: the alerts are rows, their
//! `since` survives restarts and is the same whichever instance answers.
//! The instant is injected ([`Clock`]) so that tests drive time.

pub mod kept;
pub mod rules;
pub mod thresholds;

use std::sync::Arc;

use seaframe_wire::{CameraId, VesselName};

pub use thresholds::AlertsConfig;

/// What the alert evaluation takes as "now", ns since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(crate::base::when::now_ns)
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// No message from the vessel for longer than `stale_after_s`.
    Stale,
    /// A camera not up for at least `camera_down_after_s`.
    CameraDown,
    /// Free disk below `disk_low_free_bytes` or `disk_low_free_percent`.
    DiskLow,
    /// The vessel's clock off GPS by more than `clock_off_ms`, or not
    /// synchronised at all.
    ClockOff,
    /// The outbox grew by `backlog_growth` thumbnails within `backlog_window_s`.
    BacklogGrowing,
}

impl AlertKind {
    pub const ALL: [Self; 5] = [
        Self::Stale,
        Self::CameraDown,
        Self::DiskLow,
        Self::ClockOff,
        Self::BacklogGrowing,
    ];

    /// The name in the API, the index and the metrics' `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stale => "stale",
            Self::CameraDown => "camera_down",
            Self::DiskLow => "disk_low",
            Self::ClockOff => "clock_off",
            Self::BacklogGrowing => "backlog_growing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One alert that holds: about a vessel, or one of its cameras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub vessel: VesselName,
    /// `Some` for `camera_down` only.
    pub camera: Option<CameraId>,
    pub kind: AlertKind,
    /// Since when the condition holds (kept while it does), ns.
    pub since_ns: i64,
    /// What was seen, for people ("12.0 s off GPS").
    pub detail: String,
}

impl Alert {
    /// What identifies an alert across evaluations.
    pub fn key(&self) -> (String, String, AlertKind) {
        (
            self.vessel.to_string(),
            self.camera
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            self.kind,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AlertKind::parse("fire"), None);
    }
}
