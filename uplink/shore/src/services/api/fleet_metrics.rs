//! The fleet's health on `/metrics`: gauges read from the index at each
//! scrape (so every instance exports the whole fleet, the same values),
//! labelled by `vessel` and `camera` — names the index holds, validated
//! `[a-z0-9-]` — plus the agent's `version` (escaped, at most 64
//! characters): one series per known vessel and camera, no more.

use std::fmt::Write as _;

use crate::adapters::index::VesselSummary;
use crate::base::alerts::AlertKind;
use crate::base::alerts::kept::KeptStatus;
use crate::base::alerts::rules::camera_up;

use crate::services::views::FleetHealthView;

/// A per-vessel gauge: name, help, and its value in a status (if any).
type Gauge = (&'static str, &'static str, fn(&KeptStatus) -> Option<f64>);

/// The longest `version` label kept.
const MAX_VERSION_CHARS: usize = 64;

fn label(value: &str) -> String {
    value
        .chars()
        .take(MAX_VERSION_CHARS)
        .fold(String::new(), |mut s, c| {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
            s
        })
}

fn head(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// Appends the fleet gauges to `out`.
pub(crate) fn render(out: &mut String, vessels: &[VesselSummary], view: &FleetHealthView) {
    head(
        out,
        "seaframe_shore_vessel_online",
        "1 while the vessel is online (its last will not received, heard from within alerts.stale_after_s).",
    );
    for v in vessels {
        let _ = writeln!(
            out,
            "seaframe_shore_vessel_online{{vessel=\"{}\"}} {}",
            v.name,
            u8::from(v.online)
        );
    }
    head(
        out,
        "seaframe_shore_vessel_last_seen_timestamp_seconds",
        "When the vessel's last status was received, Unix seconds.",
    );
    for v in vessels {
        if let Some(ns) = v.last_seen_ns {
            let _ = writeln!(
                out,
                "seaframe_shore_vessel_last_seen_timestamp_seconds{{vessel=\"{}\"}} {:.3}",
                v.name,
                ns as f64 / 1e9
            );
        }
    }
    let statuses: Vec<_> = vessels
        .iter()
        .filter_map(|v| view.status(v.name.as_str()).map(|k| (v.name.as_str(), k)))
        .collect();
    head(
        out,
        "seaframe_shore_camera_up",
        "1 while the camera's state (latest status) is ok/running.",
    );
    for (v, k) in &statuses {
        for c in &k.health.cameras {
            let _ = writeln!(
                out,
                "seaframe_shore_camera_up{{vessel=\"{v}\",camera=\"{}\"}} {}",
                c.id,
                u8::from(camera_up(&c.state))
            );
        }
    }
    let gauges: [Gauge; 7] = [
        (
            "seaframe_shore_vessel_disk_free_bytes",
            "Free bytes on the vessel's data filesystem.",
            |k| Some(k.health.disk_free_bytes as f64),
        ),
        (
            "seaframe_shore_vessel_disk_used_bytes",
            "Bytes the agent's frames and outbox take.",
            |k| Some(k.health.disk_used_bytes as f64),
        ),
        (
            "seaframe_shore_vessel_disk_total_bytes",
            "Size of the vessel's data filesystem (agents that report it).",
            |k| k.health.disk_total_bytes.map(|b| b as f64),
        ),
        (
            "seaframe_shore_vessel_backlog",
            "Thumbnails waiting in the vessel's outbox.",
            |k| Some(k.health.outbox_backlog as f64),
        ),
        (
            "seaframe_shore_vessel_backlog_bytes",
            "Bytes waiting in the vessel's outbox.",
            |k| Some(k.health.outbox_bytes as f64),
        ),
        (
            "seaframe_shore_vessel_clock_offset_seconds",
            "The vessel's system clock minus GPS time (0 when unknown).",
            |k| Some(k.health.clock_offset_ms as f64 / 1000.0),
        ),
        (
            "seaframe_shore_vessel_uptime_seconds",
            "The agent's uptime.",
            |k| Some(k.health.uptime_s as f64),
        ),
    ];
    for (name, help, value) in gauges {
        head(out, name, help);
        for (v, k) in &statuses {
            if let Some(x) = value(k) {
                let _ = writeln!(out, "{name}{{vessel=\"{v}\"}} {x}");
            }
        }
    }
    head(
        out,
        "seaframe_shore_vessel_info",
        "The agent's version (always 1).",
    );
    for (v, k) in &statuses {
        let _ = writeln!(
            out,
            "seaframe_shore_vessel_info{{vessel=\"{v}\",version=\"{}\"}} 1",
            label(&k.health.version)
        );
    }
    head(
        out,
        "seaframe_shore_alert",
        "1 for each alert that holds (camera=\"\" for a vessel's own).",
    );
    let mut alerts: Vec<_> = view.alerts().collect();
    alerts.sort_by_key(|a| a.key());
    for a in &alerts {
        let camera = a.camera.as_ref().map_or("", |c| c.as_str());
        let _ = writeln!(
            out,
            "seaframe_shore_alert{{vessel=\"{}\",camera=\"{camera}\",kind=\"{}\"}} 1",
            a.vessel,
            a.kind.as_str()
        );
    }
    head(
        out,
        "seaframe_shore_alerts_active",
        "Alerts that hold, by kind.",
    );
    for kind in AlertKind::ALL {
        let n = alerts.iter().filter(|a| a.kind == kind).count();
        let _ = writeln!(
            out,
            "seaframe_shore_alerts_active{{kind=\"{}\"}} {n}",
            kind.as_str()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bounded() {
        assert_eq!(label("1.2.3"), "1.2.3");
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label(&"x".repeat(500)).len(), MAX_VERSION_CHARS);
    }
}
