//! What the index keeps of the fleet's health: each vessel's latest status
//! (not a history) with, per camera, since when it has been in its state;
//! a thinned series of outbox backlogs (what `backlog_growing` compares);
//! and the alerts that hold, each with its `since`. [`FleetHealth`] is the
//! part of the [`super::Index`] trait for them; both back ends implement it
//! in a child module (`sqlite/health.rs`, `postgres/health.rs`).
//!
//! Invariants both keep:
//! - a status older (by the shore's receipt time) than the one kept is
//!   ignored, so a redelivery or another instance's late commit never
//!   puts an old status back;
//! - a backlog sample is kept at most every [`BACKLOG_SAMPLE_EVERY_MS`]
//!   (by the vessel's clock) and for [`BACKLOG_KEEP_MS`]; samples "from
//!   the future" (the vessel's clock went back) are dropped;
//! - [`FleetHealth::refresh_alerts`] reads, evaluates and writes in one
//!   transaction under a lock, so that instances evaluating at once
//!   queue and every alert keeps the `since` it was raised with.

use seaframe_wire::VesselName;
use seaframe_wire::message::Health;

use crate::adapters::index::{Fut, IndexError};
use crate::base::alerts::kept::KeptStatus;
use crate::base::alerts::thresholds::MAX_BACKLOG_WINDOW_S;
use crate::base::alerts::{Alert, AlertKind, AlertsConfig};

/// Backlog samples are kept at most this often, ms (vessel clock).
pub const BACKLOG_SAMPLE_EVERY_MS: i64 = 30_000;
/// … and this long, ms: the longest window `[alerts]` accepts.
pub const BACKLOG_KEEP_MS: i64 = MAX_BACKLOG_WINDOW_S as i64 * 1000;

/// A status as the index stores it (JSON).
pub(crate) fn status_to_json(k: &KeptStatus) -> String {
    serde_json::to_string(k).expect("a status serialises")
}

/// A stored status read back.
pub(crate) fn status_from_json(vessel: &str, json: &str) -> Result<KeptStatus, IndexError> {
    serde_json::from_str(json).map_err(|e| IndexError::Corrupt(format!("status of {vessel}: {e}")))
}

/// What one [`FleetHealth::refresh_alerts`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertsChange {
    pub raised: Vec<Alert>,
    pub cleared: Vec<Alert>,
    /// Vessels marked offline because they went quiet.
    pub marked_offline: u64,
}

/// The fleet-health part of the index.
pub trait FleetHealth {
    /// Keeps `health` as the vessel's latest status (unless a later one is
    /// kept) and samples its backlog, in one transaction. Idempotent.
    fn store_status<'a>(
        &'a self,
        vessel: &'a VesselName,
        health: &'a Health,
        received_at_ns: i64,
    ) -> Fut<'a, ()>;
    /// Every vessel's latest status, by vessel.
    fn statuses(&self) -> Fut<'_, Vec<(VesselName, KeptStatus)>>;
    fn status<'a>(&'a self, vessel: &'a VesselName) -> Fut<'a, Option<KeptStatus>>;
    /// The alerts that hold, by vessel, camera and kind.
    fn alerts(&self) -> Fut<'_, Vec<Alert>>;
    /// Evaluates the alerts at `now_ns` ([`crate::base::alerts::rules`]) and
    /// stores what changed; marks vessels quiet for longer than
    /// `stale_after_s` offline. One transaction, under a lock.
    fn refresh_alerts<'a>(&'a self, now_ns: i64, cfg: &'a AlertsConfig) -> Fut<'a, AlertsChange>;
}

/// An alert row read back (`camera` is `''` for a vessel's own alerts).
pub(crate) fn alert_row(
    vessel: &str,
    camera: &str,
    kind: &str,
    since_ns: i64,
    detail: String,
) -> Result<Alert, IndexError> {
    Ok(Alert {
        vessel: super::vessel(vessel)?,
        camera: (!camera.is_empty())
            .then(|| super::camera(camera))
            .transpose()?,
        kind: AlertKind::parse(kind)
            .ok_or_else(|| IndexError::Corrupt(format!("alert kind {kind:?}")))?,
        since_ns,
        detail,
    })
}

/// An alert's `camera` column.
pub(crate) fn camera_column(a: &Alert) -> String {
    a.camera
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// A backlog as both databases store it.
pub(crate) fn backlog_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use seaframe_wire::CameraId;
    use seaframe_wire::message::CameraHealth;

    use super::*;

    fn health(states: &[(&str, &str)]) -> Health {
        Health {
            version: "0.1.0".into(),
            uptime_s: 1,
            sent_at_ms: 0,
            cameras: states
                .iter()
                .map(|(id, state)| CameraHealth {
                    id: CameraId::parse(id).unwrap(),
                    state: (*state).into(),
                    fps: 1.0,
                    last_frame_ms: None,
                })
                .collect(),
            fix: None,
            clock: "gps".into(),
            clock_offset_ms: 0,
            disk_used_bytes: 0,
            disk_free_bytes: 0,
            disk_total_bytes: None,
            outbox_backlog: 0,
            outbox_bytes: 0,
            config_version: 0,
        }
    }

    #[test]
    fn a_camera_keeps_its_since_until_its_state_changes() {
        let a = KeptStatus::next(None, health(&[("bow", "ok"), ("mast", "ok")]), 10);
        assert_eq!(a.camera_since_ns["bow"], 10);
        let b = KeptStatus::next(Some(&a), health(&[("bow", "ok"), ("mast", "retrying")]), 20);
        assert_eq!(b.camera_since_ns["bow"], 10);
        assert_eq!(b.camera_since_ns["mast"], 20);
        let c = KeptStatus::next(Some(&b), health(&[("bow", "ok"), ("mast", "retrying")]), 30);
        assert_eq!(c.camera_since_ns["mast"], 20);
        let d = KeptStatus::next(Some(&c), health(&[("mast", "ok")]), 40);
        assert_eq!(d.camera_since_ns.len(), 1, "a camera gone is forgotten");
        assert_eq!(d.camera_since_ns["mast"], 40);
        let back = status_from_json("v", &status_to_json(&d)).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn alert_rows_read_back() {
        let a = alert_row("aurora", "", "stale", 5, "x".into()).unwrap();
        assert_eq!((a.camera, a.kind), (None, AlertKind::Stale));
        let b = alert_row("aurora", "bow", "camera_down", 5, "x".into()).unwrap();
        assert_eq!(camera_column(&b), "bow");
        assert!(alert_row("aurora", "", "fire", 5, "x".into()).is_err());
    }
}
