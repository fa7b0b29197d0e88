//! A vessel's kept status and the alerts that hold, as shown.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::base::alerts::Alert;
use crate::base::alerts::kept::KeptStatus;
use crate::base::alerts::rules::camera_up;
use crate::base::when::{rfc3339_ms, rfc3339_ns};

/// A vessel's latest status as the API shows it.
pub fn status_json(k: &KeptStatus) -> Value {
    let h = &k.health;
    json!({
        "received_at": rfc3339_ns(k.received_at_ns),
        "sent_at": rfc3339_ms(h.sent_at_ms),
        "version": h.version,
        "uptime_s": h.uptime_s,
        "clock": h.clock,
        "clock_offset_ms": h.clock_offset_ms,
        "disk_used_bytes": h.disk_used_bytes,
        "disk_free_bytes": h.disk_free_bytes,
        "disk_total_bytes": h.disk_total_bytes,
        "outbox_backlog": h.outbox_backlog,
        "outbox_bytes": h.outbox_bytes,
        "config_version": h.config_version,
        "cameras": h.cameras.iter().map(|c| json!({
            "id": c.id,
            "state": c.state,
            "up": camera_up(&c.state),
            "since": k.camera_since_ns.get(c.id.as_str()).map(|ns| rfc3339_ns(*ns)),
            "fps": c.fps,
            "last_frame": c.last_frame_ms.map(rfc3339_ms),
        })).collect::<Vec<_>>(),
    })
}

pub fn alert_json(a: &Alert) -> Value {
    json!({
        "vessel": a.vessel,
        "camera": a.camera,
        "kind": a.kind.as_str(),
        "since": rfc3339_ns(a.since_ns),
        "detail": a.detail,
    })
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

    /// Adds `health` (the latest status, or `null`) and `alerts` to a
    /// vessel as `GET /vessels` lists it.
    pub fn attach(&self, vessel: &mut Value) {
        let Some(name) = vessel
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        if let Some(obj) = vessel.as_object_mut() {
            obj.insert(
                "health".into(),
                self.statuses.get(&name).map_or(Value::Null, status_json),
            );
            obj.insert(
                "alerts".into(),
                self.alerts
                    .get(&name)
                    .map(|a| a.iter().map(alert_json).collect())
                    .unwrap_or_else(|| Value::Array(Vec::new())),
            );
        }
    }

    pub fn status(&self, vessel: &str) -> Option<&KeptStatus> {
        self.statuses.get(vessel)
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values().flatten()
    }
}
