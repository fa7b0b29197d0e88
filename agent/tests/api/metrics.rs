//! `/metrics` read line by line as Prometheus would, and `/cameras` and
//! `/status` showing what the metrics hold.

use super::*;

/// Prometheus text 0.0.4, parsed line by line: every sample belongs to a
/// family declared by `# TYPE`, and its value is a number.
fn parse_prometheus(text: &str) -> std::collections::HashMap<String, f64> {
    let mut families = std::collections::HashSet::new();
    let mut samples = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            families.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (sample, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let name = sample.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(*f)))
            .unwrap_or(name);
        assert!(families.contains(family), "no # TYPE for {line:?}");
        if let Some(labels) = sample.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line:?}"
            );
        }
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(
            samples.insert(sample.to_owned(), value).is_none(),
            "{line:?} twice"
        );
    }
    samples
}

#[tokio::test]
async fn metrics_parse_line_by_line_and_show_the_counters() {
    use std::sync::atomic::Ordering::Relaxed;
    let a = api(None).await;
    let bow = a
        .metrics
        .register_camera(&CameraId::parse("bow").unwrap(), 2.0);
    let mast = a
        .metrics
        .register_camera(&CameraId::parse("mast").unwrap(), 5.0);
    for (counter, n) in [
        (&bow.captured, 11),
        (&bow.stored, 7),
        (&bow.trimmed, 1),
        (&bow.dropped, 2),
        (&bow.failed, 1),
        (&bow.lost, 0),
        (&bow.capture_errors, 3),
        (&mast.captured, 40),
        (&mast.stored, 40),
        (&a.metrics.queue_len, 4),
        (&a.metrics.handoff_len, 2),
        (&a.metrics.claimed, 5),
        (&a.metrics.redis_reconnects, 1),
    ] {
        counter.store(n, Relaxed);
    }
    a.metrics.store_latency.observe_ns(3_000_000);
    a.metrics.store_latency.observe_ns(40_000_000);

    let resp = reqwest::get(format!("{}/metrics", a.base)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = resp.text().await.unwrap();
    let m = parse_prometheus(&text);
    let at = |sample: &str| {
        *m.get(sample)
            .unwrap_or_else(|| panic!("no {sample}\n{text}"))
    };
    for (sample, want) in [
        (r#"seaframe_frames_captured_total{camera="bow"}"#, 11.0),
        (r#"seaframe_frames_stored_total{camera="bow"}"#, 7.0),
        (r#"seaframe_frames_trimmed_total{camera="bow"}"#, 1.0),
        (r#"seaframe_frames_dropped_total{camera="bow"}"#, 2.0),
        (r#"seaframe_frames_failed_total{camera="bow"}"#, 1.0),
        (r#"seaframe_frames_lost_total{camera="bow"}"#, 0.0),
        (r#"seaframe_capture_errors_total{camera="bow"}"#, 3.0),
        (r#"seaframe_frames_captured_total{camera="mast"}"#, 40.0),
        (r#"seaframe_frames_stored_total{camera="mast"}"#, 40.0),
        ("seaframe_queue_length", 4.0),
        ("seaframe_handoff_length", 2.0),
        ("seaframe_frames_claimed_total", 5.0),
        ("seaframe_redis_reconnects_total", 1.0),
        ("seaframe_store_latency_seconds_count", 2.0),
        (r#"seaframe_store_latency_seconds_bucket{le="+Inf"}"#, 2.0),
    ] {
        assert_eq!(at(sample), want, "{sample}");
    }
    assert!((at("seaframe_store_latency_seconds_sum") - 0.043).abs() < 1e-9);
    // Buckets are cumulative: non-decreasing with `le`, ending at the count.
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k
                .strip_prefix("seaframe_store_latency_seconds_bucket{le=\"")?
                .strip_suffix("\"}")?;
            Some((le.parse().unwrap_or(f64::INFINITY), *v))
        })
        .collect();
    buckets.sort_by(|x, y| x.0.total_cmp(&y.0));
    assert!(buckets.len() > 2);
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert!(
        buckets.iter().any(|(le, n)| *le < 0.04 && *n == 1.0),
        "{buckets:?}"
    );
}

#[tokio::test]
async fn cameras_and_status_show_what_the_metrics_hold() {
    use seaframe_agent::base::metrics::CameraState;
    let a = api(None).await;
    let bow = a
        .metrics
        .register_camera(&CameraId::parse("bow").unwrap(), 2.0);
    bow.set_state(CameraState::Ok);
    bow.captured.store(9, std::sync::atomic::Ordering::Relaxed);
    bow.last_frame_ns.store(
        Timestamp::from_unix_millis(T0 + 1).unix_nanos(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let mast = a
        .metrics
        .register_camera(&CameraId::parse("mast").unwrap(), 0.5);
    mast.set_state(CameraState::Retrying {
        error: "connection refused".into(),
        retry_in_ms: 4000,
    });
    a.metrics
        .queue_len
        .store(3, std::sync::atomic::Ordering::Relaxed);

    let (status, body) = get_json(&format!("{}/api/v1/cameras", a.base)).await;
    assert_eq!(status, 200);
    let cameras = body["cameras"].as_array().unwrap();
    let by_id = |id: &str| cameras.iter().find(|c| c["id"] == id).unwrap().clone();
    let (bow, mast) = (by_id("bow"), by_id("mast"));
    assert_eq!(bow["state"], serde_json::json!({"state": "ok"}));
    assert_eq!(
        (bow["fps"].as_f64(), bow["captured"].as_u64()),
        (Some(2.0), Some(9))
    );
    assert_eq!(bow["last_frame"], "2025-11-24T16:00:00.001000000Z");
    assert_eq!(
        mast["state"],
        serde_json::json!({"state": "retrying", "error": "connection refused", "retry_in_ms": 4000})
    );
    assert!(mast["last_frame"].is_null());
    for key in [
        "enqueued",
        "stored",
        "trimmed",
        "dropped",
        "failed",
        "lost",
        "capture_errors",
    ] {
        assert_eq!(mast[key].as_u64(), Some(0), "{key}");
    }

    let (status, body) = get_json(&format!("{}/api/v1/status", a.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vessel"], "v");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_s"].as_u64().is_some(), "{body}");
    assert_eq!(body["queue_len"].as_u64(), Some(3));
    assert_eq!(body["cameras"].as_array().unwrap().len(), 2);
}
