//! A vessel's kept status and the alerts that hold, as shown.

use std::collections::HashMap;

use seaframe_wire::{CameraId, VesselName};
use serde::Serialize;

use crate::base::alerts::Alert;
use crate::base::alerts::kept::KeptStatus;
use crate::base::alerts::rules::camera_up;
use crate::base::when::{rfc3339_ms, rfc3339_ns};

/// A vessel's latest status as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub received_at: String,
    pub sent_at: String,
    pub version: String,
    pub uptime_s: u64,
    pub clock: String,
    pub clock_offset_ms: i64,
    pub disk_used_bytes: u64,
    pub disk_free_bytes: u64,
    pub disk_total_bytes: Option<u64>,
    pub outbox_backlog: u64,
    pub outbox_bytes: u64,
    pub config_version: u64,
    pub cameras: Vec<CameraStatusView>,
}

/// A camera in a vessel's status: its state and since when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraStatusView {
    pub id: CameraId,
    pub state: String,
    pub up: bool,
    pub since: Option<String>,
    pub fps: f64,
    pub last_frame: Option<String>,
}

impl From<&KeptStatus> for StatusView {
    fn from(k: &KeptStatus) -> Self {
        let h = &k.health;
        Self {
            received_at: rfc3339_ns(k.received_at_ns),
            sent_at: rfc3339_ms(h.sent_at_ms),
            version: h.version.clone(),
            uptime_s: h.uptime_s,
            clock: h.clock.clone(),
            clock_offset_ms: h.clock_offset_ms,
            disk_used_bytes: h.disk_used_bytes,
            disk_free_bytes: h.disk_free_bytes,
            disk_total_bytes: h.disk_total_bytes,
            outbox_backlog: h.outbox_backlog,
            outbox_bytes: h.outbox_bytes,
            config_version: h.config_version,
            cameras: h
                .cameras
                .iter()
                .map(|c| CameraStatusView {
                    id: c.id.clone(),
                    state: c.state.clone(),
                    up: camera_up(&c.state),
                    since: k
                        .camera_since_ns
                        .get(c.id.as_str())
                        .map(|ns| rfc3339_ns(*ns)),
                    fps: c.fps,
                    last_frame: c.last_frame_ms.map(rfc3339_ms),
                })
                .collect(),
        }
    }
}

/// An alert that holds, as the API and the feed show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub vessel: VesselName,
    pub camera: Option<CameraId>,
    pub kind: &'static str,
    pub since: String,
    pub detail: String,
}

impl From<&Alert> for AlertView {
    fn from(a: &Alert) -> Self {
        Self {
            vessel: a.vessel.clone(),
            camera: a.camera.clone(),
            kind: a.kind.as_str(),
            since: rfc3339_ns(a.since_ns),
            detail: a.detail.clone(),
        }
    }
}

/// Every vessel's kept status and alerts, by vessel name.
#[derive(Debug, Default)]
pub struct FleetHealthView {
    statuses: HashMap<String, KeptStatus>,
    alerts: HashMap<String, Vec<Alert>>,
}

impl FleetHealthView {
    pub async fn read(
        index: &dyn crate::adapters::index::Index,
    ) -> Result<Self, crate::adapters::index::IndexError> {
        let mut view = Self::default();
        for (v, k) in index.statuses().await? {
            view.statuses.insert(v.to_string(), k);
        }
        for a in index.alerts().await? {
            view.alerts.entry(a.vessel.to_string()).or_default().push(a);
        }
        Ok(view)
    }

    /// The alerts that hold for `vessel`.
    pub fn alerts_of(&self, vessel: &str) -> impl Iterator<Item = &Alert> {
        self.alerts.get(vessel).into_iter().flatten()
    }

    pub fn status(&self, vessel: &str) -> Option<&KeptStatus> {
        self.statuses.get(vessel)
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values().flatten()
    }
}
