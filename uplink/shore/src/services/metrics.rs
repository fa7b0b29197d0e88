//! Counters of the shore, exported on `/metrics` in the Prometheus text
//! format. Every message that is dropped is counted here with its reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use seaframe_wire::message::AckStatus;

use crate::adapters::index::ack_status_str;

/// The shore's counters. Shared as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Thumbnails newly indexed.
    pub thumbs_indexed: AtomicU64,
    /// Thumbnails that were already indexed (redeliveries, duplicates).
    pub thumbs_duplicate: AtomicU64,
    pub thumb_bytes_indexed: AtomicU64,
    pub status_messages: AtomicU64,
    pub position_fixes: AtomicU64,
    /// Config acks stored, by status: applied, rejected, rolled back.
    config_acks: [AtomicU64; 3],
    pub config_pushes: AtomicU64,
    /// Index commits that failed (the batch is retried, not acked).
    pub index_errors: AtomicU64,
    pub mqtt_connection_errors: AtomicU64,
    pub mqtt_connects: AtomicU64,
    /// Dead peers' sessions drained under their client ids ([`crate::services::peers`]).
    pub peer_sessions_drained: AtomicU64,
    /// PUBLISHes received from the broker (before decoding).
    pub mqtt_publishes_received: AtomicU64,
    /// The most messages the broker had sent on one connection and not
    /// yet seen acked, since start (bounded by what ingest holds).
    pub mqtt_unacked_peak: AtomicU64,
    /// Live events the feed sent (once each, whatever the number of clients).
    pub feed_events: AtomicU64,
    /// Times an `/events` client fell behind and was told to resync.
    pub event_resyncs: AtomicU64,
    /// Messages dropped, by reason (`truncated`, `topic_mismatch`, …).
    dropped: Mutex<BTreeMap<&'static str, u64>>,
    /// Alert evaluations done, failed, and alerts raised and cleared by
    /// this instance ([`crate::services::alerts`]).
    pub alert_evaluations: AtomicU64,
    pub alert_evaluation_errors: AtomicU64,
    pub alerts_raised: AtomicU64,
    pub alerts_cleared: AtomicU64,
    /// What retention deleted (its own block of counters).
    pub retention: crate::base::retention::metrics::RetentionMetrics,
    /// Sign-ins by outcome, in the order of [`SignIn::ALL`].
    sign_ins: [AtomicU64; 3],
    /// Requests the auth guard refused: 401 (no or bad credentials), 403
    /// (a role too low, or a cookie without its CSRF token).
    auth_refused: [AtomicU64; 2],
}

/// How a sign-in (`POST /api/v1/session`) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Ok,
    /// A wrong name or password.
    Failed,
    /// Refused unchecked: too many failures (429).
    Throttled,
}

impl SignIn {
    pub const ALL: [SignIn; 3] = [SignIn::Ok, SignIn::Failed, SignIn::Throttled];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Throttled => "throttled",
        }
    }
}

/// Every ack status, in the order of [`Metrics::config_acks`].
const ACK_STATUSES: [AckStatus; 3] = [
    AckStatus::Applied,
    AckStatus::Rejected,
    AckStatus::RolledBack,
];

fn ack_slot(status: AckStatus) -> usize {
    match status {
        AckStatus::Applied => 0,
        AckStatus::Rejected => 1,
        AckStatus::RolledBack => 2,
    }
}

impl Metrics {
    /// Counts an ack stored.
    pub fn count_ack(&self, status: AckStatus) {
        add(&self.config_acks[ack_slot(status)], 1);
    }

    /// How many acks with `status` were stored.
    pub fn acks(&self, status: AckStatus) -> u64 {
        self.config_acks[ack_slot(status)].load(Ordering::Relaxed)
    }

    pub fn drop_message(&self, reason: &'static str) {
        let mut map = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(reason).or_default() += 1;
    }

    /// How many messages were dropped for `reason`.
    pub fn dropped(&self, reason: &str) -> u64 {
        let map = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        map.get(reason).copied().unwrap_or(0)
    }

    pub fn count_sign_in(&self, outcome: SignIn) {
        add(&self.sign_ins[outcome as usize], 1);
    }

    pub fn sign_ins(&self, outcome: SignIn) -> u64 {
        self.sign_ins[outcome as usize].load(Ordering::Relaxed)
    }

    /// Counts a request the guard refused (`forbidden`: 403, else 401).
    pub fn count_refused(&self, forbidden: bool) {
        add(&self.auth_refused[usize::from(forbidden)], 1);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 13] = [
            (
                "seaframe_shore_mqtt_publishes_received_total",
                "PUBLISHes received from the broker.",
                &self.mqtt_publishes_received,
            ),
            (
                "seaframe_shore_thumbs_indexed_total",
                "Thumbnails newly indexed.",
                &self.thumbs_indexed,
            ),
            (
                "seaframe_shore_thumbs_duplicate_total",
                "Thumbnails received again and not re-indexed.",
                &self.thumbs_duplicate,
            ),
            (
                "seaframe_shore_thumb_bytes_indexed_total",
                "JPEG bytes of the thumbnails indexed.",
                &self.thumb_bytes_indexed,
            ),
            (
                "seaframe_shore_status_messages_total",
                "Status messages applied.",
                &self.status_messages,
            ),
            (
                "seaframe_shore_position_fixes_total",
                "Position fixes received.",
                &self.position_fixes,
            ),
            (
                "seaframe_shore_config_pushes_total",
                "Configs pushed to vessels.",
                &self.config_pushes,
            ),
            (
                "seaframe_shore_index_errors_total",
                "Index commits that failed and were retried.",
                &self.index_errors,
            ),
            (
                "seaframe_shore_mqtt_connection_errors_total",
                "MQTT connection errors.",
                &self.mqtt_connection_errors,
            ),
            (
                "seaframe_shore_mqtt_connects_total",
                "MQTT connections established.",
                &self.mqtt_connects,
            ),
            (
                "seaframe_shore_peer_sessions_drained_total",
                "Dead peer instances' broker sessions drained under their client ids.",
                &self.peer_sessions_drained,
            ),
            (
                "seaframe_shore_feed_events_total",
                "Live events sent to the /events streams (each once, whatever the number of clients).",
                &self.feed_events,
            ),
            (
                "seaframe_shore_event_resyncs_total",
                "Times an /events client fell behind and was told to resync.",
                &self.event_resyncs,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let name = "seaframe_shore_mqtt_unacked_peak";
        let _ = writeln!(
            out,
            "# HELP {name} The most messages the broker had sent on one connection and not yet seen acked.\n# TYPE {name} gauge\n{name} {}",
            self.mqtt_unacked_peak.load(Ordering::Relaxed)
        );
        let name = "seaframe_shore_config_acks_total";
        let _ = writeln!(
            out,
            "# HELP {name} Config acks received, by status.\n# TYPE {name} counter"
        );
        for status in ACK_STATUSES {
            let _ = writeln!(
                out,
                "{name}{{status=\"{}\"}} {}",
                ack_status_str(status),
                self.acks(status)
            );
        }
        let name = "seaframe_shore_messages_dropped_total";
        let _ = writeln!(
            out,
            "# HELP {name} Messages dropped, by reason.\n# TYPE {name} counter"
        );
        let map = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        for (reason, n) in map.iter() {
            let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {n}");
        }
        drop(map);
        self.render_alert_counters(&mut out);
        self.retention.render(&mut out);
        self.render_auth(&mut out);
        out
    }

    fn render_alert_counters(&self, out: &mut String) {
        let counters: [(&str, &str, &AtomicU64); 4] = [
            (
                "seaframe_shore_alert_evaluations_total",
                "Alert evaluations this instance ran.",
                &self.alert_evaluations,
            ),
            (
                "seaframe_shore_alert_evaluation_errors_total",
                "Alert evaluations that failed (retried at the next tick).",
                &self.alert_evaluation_errors,
            ),
            (
                "seaframe_shore_alerts_raised_total",
                "Alerts this instance raised.",
                &self.alerts_raised,
            ),
            (
                "seaframe_shore_alerts_cleared_total",
                "Alerts this instance cleared.",
                &self.alerts_cleared,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
    }

    /// Sign-ins by outcome and refusals by status.
    fn render_auth(&self, out: &mut String) {
        let name = "seaframe_shore_sign_ins_total";
        let _ = writeln!(
            out,
            "# HELP {name} Sign-ins on the fleet page, by outcome.\n# TYPE {name} counter"
        );
        for outcome in SignIn::ALL {
            let _ = writeln!(
                out,
                "{name}{{outcome=\"{}\"}} {}",
                outcome.label(),
                self.sign_ins(outcome)
            );
        }
        let name = "seaframe_shore_auth_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests refused for want of credentials (401) or rights (403).\n# TYPE {name} counter"
        );
        for (status, n) in [
            ("401", &self.auth_refused[0]),
            ("403", &self.auth_refused[1]),
        ] {
            let _ = writeln!(
                out,
                "{name}{{status=\"{status}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_drops_by_reason() {
        let m = Metrics::default();
        m.drop_message("truncated");
        m.drop_message("truncated");
        add(&m.thumbs_indexed, 3);
        m.count_ack(AckStatus::RolledBack);
        let text = m.render();
        assert!(text.contains("seaframe_shore_config_acks_total{status=\"rolled_back\"} 1"));
        assert!(text.contains("seaframe_shore_config_acks_total{status=\"applied\"} 0"));
        assert!(text.contains("seaframe_shore_messages_dropped_total{reason=\"truncated\"} 2"));
        assert!(text.contains("seaframe_shore_thumbs_indexed_total 3"));
        assert_eq!(m.dropped("truncated"), 2);
    }
}
