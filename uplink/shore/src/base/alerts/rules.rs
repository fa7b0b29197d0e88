//! The alert rules, pure: what the index holds and an instant in, the
//! alerts that hold out ([`evaluate`]); then what to change in the stored
//! alerts so that each keeps its `since` while it holds ([`reconcile`]).
//! No IO and no clock: the caller passes `now_ns`.
//!
//! Details depend only on the data, not on `now`, so that an alert that
//! holds is not rewritten (nor sent again on the live feed) at every
//! evaluation.

use std::collections::{BTreeMap, HashMap};

use seaframe_wire::VesselName;

use crate::base::alerts::kept::KeptStatus;
use crate::base::alerts::{Alert, AlertKind, AlertsConfig};
use crate::base::when::rfc3339_ns;

const NS_PER_S: i64 = 1_000_000_000;

/// What one evaluation reads from the index (in one transaction).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetState {
    /// Every vessel and when it was last heard from, ns.
    pub vessels: Vec<(VesselName, Option<i64>)>,
    /// The latest status of every vessel that sent one.
    pub statuses: Vec<(VesselName, KeptStatus)>,
    /// Per vessel, the smallest outbox backlog of the samples within the
    /// backlog window (ending at its latest status, by its own clock).
    pub backlog_floor: HashMap<VesselName, u64>,
}

/// Whether a camera state reported by an agent means "delivering frames":
/// `ok` (the agent's word) or `running`.
pub fn camera_up(state: &str) -> bool {
    matches!(state, "ok" | "running")
}

fn secs_ns(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / NS_PER_S) * NS_PER_S
}

/// Vessels last heard from before this instant are stale (and offline).
pub fn stale_before_ns(cfg: &AlertsConfig, now_ns: i64) -> i64 {
    now_ns.saturating_sub(secs_ns(cfg.stale_after_s))
}

/// Every alert that holds at `now_ns`. A new alert's `since` is when its
/// condition began where the data says (the last message, a camera's
/// state change), else `now_ns`.
pub fn evaluate(state: &FleetState, cfg: &AlertsConfig, now_ns: i64) -> Vec<Alert> {
    let mut out = Vec::new();
    let stale_before = stale_before_ns(cfg, now_ns);
    for (vessel, seen) in &state.vessels {
        if let Some(seen) = *seen
            && seen < stale_before
        {
            out.push(Alert {
                vessel: vessel.clone(),
                camera: None,
                kind: AlertKind::Stale,
                since_ns: seen.saturating_add(secs_ns(cfg.stale_after_s)),
                detail: format!("last message {}", rfc3339_ns(seen)),
            });
        }
    }
    for (vessel, kept) in &state.statuses {
        let h = &kept.health;
        let alert = |kind, camera, since_ns, detail| Alert {
            vessel: vessel.clone(),
            camera,
            kind,
            since_ns,
            detail,
        };
        for c in &h.cameras {
            if camera_up(&c.state) {
                continue;
            }
            let since = kept
                .camera_since_ns
                .get(c.id.as_str())
                .copied()
                .unwrap_or(kept.received_at_ns);
            if now_ns.saturating_sub(since) >= secs_ns(cfg.camera_down_after_s) {
                out.push(alert(
                    AlertKind::CameraDown,
                    Some(c.id.clone()),
                    since,
                    format!("state {:?}", c.state),
                ));
            }
        }
        if let Some(detail) = disk_low(kept, cfg) {
            out.push(alert(AlertKind::DiskLow, None, now_ns, detail));
        }
        if let Some(detail) = clock_off(kept, cfg) {
            out.push(alert(AlertKind::ClockOff, None, now_ns, detail));
        }
        let floor = state
            .backlog_floor
            .get(vessel)
            .copied()
            .unwrap_or(h.outbox_backlog)
            .min(h.outbox_backlog);
        let growth = h.outbox_backlog - floor;
        if cfg.backlog_growth > 0 && growth >= cfg.backlog_growth {
            out.push(alert(
                AlertKind::BacklogGrowing,
                None,
                now_ns,
                format!(
                    "backlog {} thumbnails, up {growth} within {} s",
                    h.outbox_backlog, cfg.backlog_window_s
                ),
            ));
        }
    }
    out
}

fn disk_low(kept: &KeptStatus, cfg: &AlertsConfig) -> Option<String> {
    let h = &kept.health;
    let free = h.disk_free_bytes;
    let percent = h
        .disk_total_bytes
        .filter(|t| *t > 0)
        .map(|t| free as f64 * 100.0 / t as f64);
    let low_bytes = cfg.disk_low_free_bytes > 0 && free < cfg.disk_low_free_bytes;
    let low_share =
        cfg.disk_low_free_percent > 0.0 && percent.is_some_and(|p| p < cfg.disk_low_free_percent);
    (low_bytes || low_share).then(|| match (percent, h.disk_total_bytes) {
        (Some(p), Some(total)) => format!(
            "{} free of {} ({p:.1} %)",
            human_bytes(free),
            human_bytes(total)
        ),
        _ => format!("{} free", human_bytes(free)),
    })
}

fn clock_off(kept: &KeptStatus, cfg: &AlertsConfig) -> Option<String> {
    let h = &kept.health;
    if h.clock == "untrusted" {
        return Some("clock not synchronised".into());
    }
    let limit = i64::try_from(cfg.clock_off_ms).unwrap_or(i64::MAX);
    (h.clock_offset_ms.unsigned_abs() > limit.unsigned_abs()).then(|| {
        let s = h.clock_offset_ms as f64 / 1000.0;
        let side = if s > 0.0 { "ahead of" } else { "behind" };
        format!("{:.1} s {side} GPS", s.abs())
    })
}

/// `1.5 GB`, `300 MB`, `12 kB` (SI, as disks are sold).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// What to change in the stored alerts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Newly raised.
    pub insert: Vec<Alert>,
    /// Still holding, detail changed (their stored `since` kept).
    pub update: Vec<Alert>,
    /// Cleared.
    pub delete: Vec<Alert>,
}

/// Compares the stored alerts with those that hold now: a stored alert
/// still holding keeps its `since` (the earlier of the two).
pub fn reconcile(stored: &[Alert], holding: Vec<Alert>) -> Reconciled {
    let mut before: BTreeMap<_, &Alert> = stored.iter().map(|a| (a.key(), a)).collect();
    let mut out = Reconciled::default();
    for mut a in holding {
        match before.remove(&a.key()) {
            None => out.insert.push(a),
            Some(old) => {
                a.since_ns = a.since_ns.min(old.since_ns);
                if a != *old {
                    out.update.push(a);
                }
            }
        }
    }
    out.delete = before.into_values().cloned().collect();
    out
}

#[cfg(test)]
mod tests {
    use seaframe_wire::CameraId;
    use seaframe_wire::message::{CameraHealth, Health};

    use super::*;

    const NOW: i64 = 1_800_000_000 * NS_PER_S;

    fn v(name: &str) -> VesselName {
        VesselName::parse(name).unwrap()
    }

    fn health() -> Health {
        Health {
            version: "0.1.0".into(),
            uptime_s: 100,
            sent_at_ms: NOW / 1_000_000,
            cameras: vec![CameraHealth {
                id: CameraId::parse("bow").unwrap(),
                state: "ok".into(),
                fps: 1.0,
                last_frame_ms: None,
            }],
            fix: None,
            clock: "gps".into(),
            clock_offset_ms: 0,
            disk_used_bytes: 1_000,
            disk_free_bytes: 50_000_000_000,
            disk_total_bytes: Some(100_000_000_000),
            outbox_backlog: 0,
            outbox_bytes: 0,
            config_version: 0,
        }
    }

    fn state(h: Health, since: i64) -> FleetState {
        FleetState {
            vessels: vec![(v("aurora"), Some(NOW - NS_PER_S))],
            statuses: vec![(
                v("aurora"),
                KeptStatus {
                    received_at_ns: NOW - NS_PER_S,
                    health: h,
                    camera_since_ns: [("bow".to_owned(), since)].into(),
                },
            )],
            backlog_floor: HashMap::new(),
        }
    }

    fn kinds(alerts: &[Alert]) -> Vec<&'static str> {
        alerts.iter().map(|a| a.kind.as_str()).collect()
    }

    #[test]
    fn a_healthy_vessel_raises_nothing() {
        let cfg = AlertsConfig::default();
        assert_eq!(evaluate(&state(health(), 0), &cfg, NOW), []);
    }

    #[test]
    fn stale_after_the_threshold_since_it_was_crossed() {
        let cfg = AlertsConfig::default();
        let mut s = state(health(), 0);
        s.vessels[0].1 = Some(NOW - 60 * NS_PER_S);
        assert_eq!(evaluate(&s, &cfg, NOW), [], "exactly at the threshold");
        s.vessels[0].1 = Some(NOW - 61 * NS_PER_S);
        let a = evaluate(&s, &cfg, NOW);
        assert_eq!(kinds(&a), ["stale"]);
        assert_eq!(a[0].since_ns, NOW - NS_PER_S);
        assert_eq!(a[0].camera, None);
        // Never heard from: not stale (nothing to be stale against).
        s.vessels[0].1 = None;
        assert_eq!(evaluate(&s, &cfg, NOW), []);
    }

    #[test]
    fn a_camera_is_down_once_it_stayed_down_long_enough() {
        let cfg = AlertsConfig::default();
        let mut h = health();
        h.cameras[0].state = "retrying".into();
        let went_down = NOW - 10 * NS_PER_S;
        assert_eq!(evaluate(&state(h.clone(), went_down), &cfg, NOW), []);
        let a = evaluate(&state(h.clone(), went_down), &cfg, NOW + 20 * NS_PER_S);
        assert_eq!(kinds(&a), ["camera_down"]);
        assert_eq!(a[0].camera.as_ref().unwrap().as_str(), "bow");
        assert_eq!(a[0].since_ns, went_down);
        assert_eq!(a[0].detail, "state \"retrying\"");
        h.cameras[0].state = "running".into();
        assert_eq!(
            evaluate(&state(h, went_down), &cfg, NOW + 50 * NS_PER_S),
            []
        );
    }

    #[test]
    fn disk_low_by_bytes_or_by_share() {
        let cfg = AlertsConfig::default();
        let mut h = health();
        h.disk_free_bytes = 1_500_000_000;
        let a = evaluate(&state(h.clone(), 0), &cfg, NOW);
        assert_eq!(kinds(&a), ["disk_low"]);
        assert_eq!(a[0].detail, "1.5 GB free of 100.0 GB (1.5 %)");
        // 4 GB of 100 GB: above the bytes, below 5 %.
        h.disk_free_bytes = 4_000_000_000;
        assert_eq!(
            kinds(&evaluate(&state(h.clone(), 0), &cfg, NOW)),
            ["disk_low"]
        );
        // Without the size (an older agent), bytes only.
        h.disk_total_bytes = None;
        assert_eq!(evaluate(&state(h.clone(), 0), &cfg, NOW), []);
        let off = AlertsConfig {
            disk_low_free_bytes: 0,
            disk_low_free_percent: 0.0,
            ..cfg
        };
        h.disk_free_bytes = 0;
        assert_eq!(evaluate(&state(h, 0), &off, NOW), []);
    }

    #[test]
    fn clock_off_beyond_the_limit_or_unsynchronised() {
        let cfg = AlertsConfig::default();
        let mut h = health();
        h.clock_offset_ms = -2_000;
        assert_eq!(evaluate(&state(h.clone(), 0), &cfg, NOW), []);
        h.clock_offset_ms = -2_500;
        let a = evaluate(&state(h.clone(), 0), &cfg, NOW);
        assert_eq!(a[0].detail, "2.5 s behind GPS");
        h.clock_offset_ms = 0;
        h.clock = "untrusted".into();
        assert_eq!(kinds(&evaluate(&state(h, 0), &cfg, NOW)), ["clock_off"]);
    }

    #[test]
    fn backlog_growing_against_the_window_floor() {
        let cfg = AlertsConfig::default();
        let mut h = health();
        h.outbox_backlog = 400;
        let mut s = state(h, 0);
        s.backlog_floor.insert(v("aurora"), 100);
        let a = evaluate(&s, &cfg, NOW);
        assert_eq!(kinds(&a), ["backlog_growing"]);
        assert_eq!(a[0].detail, "backlog 400 thumbnails, up 300 within 600 s");
        s.backlog_floor.insert(v("aurora"), 101);
        assert_eq!(evaluate(&s, &cfg, NOW), []);
        // No samples: the current backlog is its own floor.
        s.backlog_floor.clear();
        assert_eq!(evaluate(&s, &cfg, NOW), []);
    }

    #[test]
    fn reconciling_keeps_since_and_names_what_changed() {
        let a = |kind, since_ns, detail: &str| Alert {
            vessel: v("aurora"),
            camera: None,
            kind,
            since_ns,
            detail: detail.into(),
        };
        let stored = [
            a(AlertKind::DiskLow, 5, "1 GB free"),
            a(AlertKind::ClockOff, 5, "x"),
        ];
        let r = reconcile(
            &stored,
            vec![
                a(AlertKind::DiskLow, 9, "0.9 GB free"),
                a(AlertKind::BacklogGrowing, 9, "y"),
            ],
        );
        assert_eq!(r.insert, [a(AlertKind::BacklogGrowing, 9, "y")]);
        assert_eq!(r.update, [a(AlertKind::DiskLow, 5, "0.9 GB free")]);
        assert_eq!(r.delete, [a(AlertKind::ClockOff, 5, "x")]);
        let same = reconcile(&stored[..1], vec![a(AlertKind::DiskLow, 9, "1 GB free")]);
        assert_eq!(same, Reconciled::default(), "unchanged: nothing to write");
    }
}
