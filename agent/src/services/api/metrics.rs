//! `/metrics`: the agent's counters in the Prometheus text format (0.0.4).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::base::metrics::{CameraMetrics, Metrics};
use crate::services::api::ApiState;

type Counter = fn(&CameraMetrics) -> &AtomicU64;

const PER_CAMERA: &[(&str, &str, Counter)] = &[
    (
        "seaframe_frames_captured_total",
        "Frames delivered by the camera.",
        |c| &c.captured,
    ),
    (
        "seaframe_frames_enqueued_total",
        "Frames added to the Redis stream.",
        |c| &c.enqueued,
    ),
    (
        "seaframe_frames_stored_total",
        "Frames written to disk and indexed.",
        |c| &c.stored,
    ),
    (
        "seaframe_frames_trimmed_total",
        "Frames trimmed from the stream by queue.max_len.",
        |c| &c.trimmed,
    ),
    (
        "seaframe_frames_dropped_total",
        "Frames dropped before the stream (Redis away).",
        |c| &c.dropped,
    ),
    (
        "seaframe_frames_failed_total",
        "Frames a worker could not store (disk full).",
        |c| &c.failed,
    ),
    (
        "seaframe_frames_lost_total",
        "Frames lost with a Redis that died holding them.",
        |c| &c.lost,
    ),
    (
        "seaframe_capture_errors_total",
        "Failed capture attempts.",
        |c| &c.capture_errors,
    ),
];

/// Renders every metric as Prometheus text.
pub fn render(m: &Metrics) -> String {
    let mut out = String::with_capacity(4096);
    let cameras = m.cameras();
    for (name, help, counter) in PER_CAMERA {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for c in &cameras {
            let _ = writeln!(
                out,
                "{name}{{camera=\"{}\"}} {}",
                c.id,
                counter(c).load(Ordering::Relaxed)
            );
        }
    }
    let u = &m.uplink;
    let gauges: [(&str, &str, &str, &AtomicU64); 20] = [
        (
            "seaframe_queue_length",
            "gauge",
            "Entries in the Redis stream.",
            &m.queue_len,
        ),
        (
            "seaframe_handoff_length",
            "gauge",
            "Frames waiting to enter the stream.",
            &m.handoff_len,
        ),
        (
            "seaframe_frames_claimed_total",
            "counter",
            "Entries claimed from dead consumers.",
            &m.claimed,
        ),
        (
            "seaframe_redis_reconnects_total",
            "counter",
            "Redis connections re-established.",
            &m.redis_reconnects,
        ),
        (
            "seaframe_redis_restarts_total",
            "counter",
            "Times the agent's own redis-server died and was started again.",
            &*m.redis_restarts,
        ),
        (
            "seaframe_retention_deleted_total",
            "counter",
            "Frames deleted by retention.",
            &m.retention_deleted,
        ),
        (
            "seaframe_uplink_thumbs_made_total",
            "counter",
            "Thumbnails made and put in the outbox.",
            &u.thumbs_made,
        ),
        (
            "seaframe_uplink_thumbs_failed_total",
            "counter",
            "Frames whose thumbnail could not be made.",
            &u.thumbs_failed,
        ),
        (
            "seaframe_uplink_thumbs_sent_total",
            "counter",
            "Thumbnails acknowledged by the broker.",
            &u.thumbs_sent,
        ),
        (
            "seaframe_uplink_fixes_sent_total",
            "counter",
            "Fixes of the track acknowledged by the broker.",
            &u.fixes_sent,
        ),
        (
            "seaframe_uplink_thumb_bytes_sent_total",
            "counter",
            "Payload bytes of the thumbnails acknowledged by the broker.",
            &u.thumb_bytes_sent,
        ),
        (
            "seaframe_uplink_thumbs_thinned_total",
            "counter",
            "Thumbnails thinned away by the full outbox.",
            &u.thumbs_thinned,
        ),
        (
            "seaframe_uplink_thumbs_dropped_total",
            "counter",
            "Thumbnails dropped whole by the full outbox.",
            &u.thumbs_dropped,
        ),
        (
            "seaframe_uplink_outbox_backlog",
            "gauge",
            "Thumbnails waiting in the outbox.",
            &u.outbox_backlog,
        ),
        (
            "seaframe_uplink_outbox_bytes",
            "gauge",
            "Bytes of the thumbnails waiting in the outbox.",
            &u.outbox_bytes,
        ),
        (
            "seaframe_uplink_link_state",
            "gauge",
            "Link to shore: 0 offline, 1 catch-up, 2 live.",
            &u.link_state,
        ),
        (
            "seaframe_uplink_mqtt_connects_total",
            "counter",
            "Broker sessions established.",
            &u.mqtt_connects,
        ),
        (
            "seaframe_uplink_configs_applied_total",
            "counter",
            "Configs pushed from shore and applied.",
            &u.configs_applied,
        ),
        (
            "seaframe_uplink_configs_rejected_total",
            "counter",
            "Configs pushed from shore and rejected.",
            &u.configs_rejected,
        ),
        (
            "seaframe_uplink_configs_rolled_back_total",
            "counter",
            "Pushed link changes that did not reach the broker in time and were rolled back.",
            &u.configs_rolled_back,
        ),
    ];
    let store_state = AtomicU64::new(m.store_health.state().gauge());
    let gauges = gauges.into_iter().chain([(
        "seaframe_store_state",
        "gauge",
        "Storing frames: 0 ok, 1 disk full, 2 disk unwritable, 3 index unwritable.",
        &store_state,
    )]);
    for (name, kind, help, v) in gauges.chain(m.watch.samples()) {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
            v.load(Ordering::Relaxed)
        );
    }
    let name = "seaframe_store_latency_seconds";
    let (cumulative, sum_s, count) = m.store_latency.snapshot();
    let _ = writeln!(
        out,
        "# HELP {name} Capture to row committed.\n# TYPE {name} histogram"
    );
    for (bound, n) in m.store_latency.bounds_s.iter().zip(cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum_s}\n{name}_count {count}"
    );
    out
}

pub async fn get(State(state): State<ApiState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&state.metrics),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use seaframe_wire::CameraId;

    #[test]
    fn renders_counters_per_camera_and_the_histogram() {
        let m = Metrics::default();
        m.camera(&CameraId::parse("bow").unwrap())
            .stored
            .store(7, Ordering::Relaxed);
        m.store_latency.observe_ns(20_000_000);
        let text = render(&m);
        assert!(
            text.contains("seaframe_frames_stored_total{camera=\"bow\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("seaframe_store_latency_seconds_bucket{le=\"0.025\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("seaframe_store_latency_seconds_count 1\n"),
            "{text}"
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit_once(' ').unwrap().1;
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
