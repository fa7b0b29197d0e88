//! End to end through a real mosquitto and a real SQLite index: envelopes
//! published as a vessel would → indexed once → served by the HTTP API.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seaframe_testkit::{MosquittoOptions, MosquittoServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_are_indexed_once_and_served() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shore = start(config(&broker.url(), dir.path(), "shore-a", None)).await;
    let vessel = Publisher::connect(broker.port(), "aurora", None).await;

    let thumbs: Vec<_> = (0..5)
        .map(|i| thumb("aurora", "mast", T0_NS + i * 1_000_000_000))
        .collect();
    for t in &thumbs {
        vessel
            .publish(&thumb_topic("aurora", "mast"), t.encode().unwrap())
            .await;
    }
    // The first one twice more: a redelivery.
    for _ in 0..2 {
        vessel
            .publish(&thumb_topic("aurora", "mast"), thumbs[0].encode().unwrap())
            .await;
    }
    let m = shore.metrics.clone();
    until(20, "7 thumbnails processed", || {
        let m = m.clone();
        async move {
            m.thumbs_indexed.load(std::sync::atomic::Ordering::SeqCst)
                + m.thumbs_duplicate.load(std::sync::atomic::Ordering::SeqCst)
                >= 7
        }
    })
    .await;
    assert_eq!(shore.index.count_thumbs().await.unwrap(), 5);
    assert_eq!(
        m.thumbs_duplicate.load(std::sync::atomic::Ordering::SeqCst),
        2
    );

    // Status and position make the vessel online with a last position.
    let status = serde_json::json!({
        "state": "online", "version": "0.1.0", "uptime_s": 5, "sent_at_ms": 1_764_460_800_000i64,
        "cameras": [{"id": "mast", "state": "running", "fps": 1.0, "last_frame_ms": null},
                    {"id": "bridge", "state": "retrying", "fps": 1.0, "last_frame_ms": null}],
        "fix": null, "clock": "gps", "clock_offset_ms": 0, "disk_used_bytes": 1, "disk_free_bytes": 2,
        "outbox_backlog": 0, "outbox_bytes": 0, "config_version": 0
    });
    vessel
        .publish("seaframe/v1/aurora/status", status.to_string().into_bytes())
        .await;
    let fixes = serde_json::json!({"fixes": [
        {"at_ms": 1_764_460_800_000i64, "lat": 59.5, "lon": 10.25, "fix": "3d", "speed_kn": 12.5, "course_deg": 270.0, "heading_deg": null},
        {"at_ms": 1_764_460_801_000i64, "lat": 59.501, "lon": 10.25, "fix": "3d", "speed_kn": 12.5, "course_deg": 270.0, "heading_deg": null}
    ]});
    vessel
        .publish(
            "seaframe/v1/aurora/position",
            fixes.to_string().into_bytes(),
        )
        .await;
    until(20, "status and fixes applied", || {
        let m = m.clone();
        async move { m.position_fixes.load(std::sync::atomic::Ordering::SeqCst) >= 2 }
    })
    .await;

    let (code, body) = get_json(shore.addr, "/api/v1/vessels").await;
    assert_eq!(code, 200, "{body}");
    let v = &body["vessels"][0];
    assert_eq!(v["name"], "aurora");
    assert_eq!(v["online"], true);
    assert!(v["last_seen"].is_string());
    assert_eq!(v["last_position"]["lat"], 59.501);
    assert_eq!(v["last_position"]["at"], "2025-11-30T00:00:01.000000000Z");
    let cams = v["cameras"].as_array().unwrap();
    assert_eq!(cams.len(), 2, "{body}");
    assert_eq!(cams[0]["id"], "bridge");
    assert!(cams[0]["latest_thumb"].is_null());
    assert_eq!(
        cams[1]["latest_thumb"]["ts"],
        "2025-11-30T00:00:04.000000000Z"
    );

    // Pages of 2, oldest first, with a stable cursor; then the images.
    let mut seen = Vec::new();
    let mut path = "/api/v1/vessels/aurora/thumbs?camera=mast&limit=2".to_owned();
    loop {
        let (code, page) = get_json(shore.addr, &path).await;
        assert_eq!(code, 200, "{page}");
        for t in page["thumbs"].as_array().unwrap() {
            seen.push(t.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                path = format!("/api/v1/vessels/aurora/thumbs?camera=mast&limit=2&cursor={c}")
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    for (t, sent) in seen.iter().zip(&thumbs) {
        assert_eq!(t["vessel"], "aurora");
        assert_eq!(t["lat"], 59.5);
        assert_eq!(t["bytes"], sent.jpeg.len());
        let url = format!("http://{}{}", shore.addr, t["image_url"].as_str().unwrap());
        let r = get(&url).await;
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(r.bytes().await.unwrap().as_ref(), sent.jpeg.as_slice());
    }

    // Fleet-wide by place and time.
    let (_, near) = get_json(
        shore.addr,
        "/api/v1/thumbs?lat=59.5&lon=10.25&radius_m=100&from=2025-11-30T00:00:01Z",
    )
    .await;
    assert_eq!(near["thumbs"].as_array().unwrap().len(), 4, "{near}");
    let (_, far) = get_json(shore.addr, "/api/v1/thumbs?bbox=0,0,1,1").await;
    assert!(far["thumbs"].as_array().unwrap().is_empty());
    let (_, track) = get_json(
        shore.addr,
        "/api/v1/vessels/aurora/track?from=2025/11/30 00:00:00",
    )
    .await;
    assert_eq!(track["type"], "FeatureCollection");
    assert_eq!(track["features"].as_array().unwrap().len(), 3);

    // Mistakes are 400/404 naming what was wrong.
    for (path, code, word) in [
        ("/api/v1/vessels/aurora/thumbs?from=soon", 400, "from:"),
        ("/api/v1/vessels/aurora/thumbs?limit=0", 400, "limit:"),
        ("/api/v1/vessels/Not_A_Name/thumbs", 400, "vessel:"),
        ("/api/v1/vessels/nobody/thumbs", 404, "vessel:"),
        ("/api/v1/thumbs/999999/image", 404, "id:"),
        ("/api/v1/thumbs/x/image", 400, "id:"),
        ("/api/v1/thumbs?lat=1", 400, "radius_m:"),
    ] {
        let (got, body) = get_json(shore.addr, path).await;
        assert_eq!(got, code, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(word),
            "{path}: {body}"
        );
    }
    shore.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_counted_and_ingest_goes_on() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shore = start(config(&broker.url(), dir.path(), "shore-m", None)).await;
    let vessel = Publisher::connect(broker.port(), "aurora", None).await;
    let topic = thumb_topic("aurora", "mast");
    let good = thumb("aurora", "mast", T0_NS).encode().unwrap();

    vessel.publish(&topic, good[..20].to_vec()).await;
    let mut wrong_version = good.clone();
    wrong_version[0] = 9;
    vessel.publish(&topic, wrong_version).await;
    let mut huge = good.clone();
    huge.resize(2 * 1024 * 1024 + 1, 0);
    vessel.publish(&topic, huge).await;
    vessel
        .publish(&thumb_topic("other", "mast"), good.clone())
        .await;
    vessel
        .publish("seaframe/v1/aurora/status", b"{not json".to_vec())
        .await;
    vessel.publish(&topic, good).await;

    let m = shore.metrics.clone();
    until(20, "the good thumbnail", || {
        let m = m.clone();
        async move { m.thumbs_indexed.load(std::sync::atomic::Ordering::SeqCst) == 1 }
    })
    .await;
    let text = get(&format!("http://{}/metrics", shore.addr))
        .await
        .text()
        .await
        .unwrap();
    for reason in [
        "truncated",
        "unsupported_version",
        "too_large",
        "topic_mismatch",
        "bad_json",
    ] {
        assert!(
            text.contains(&format!(
                "seaframe_shore_messages_dropped_total{{reason=\"{reason}\"}} 1"
            )),
            "{reason}:\n{text}"
        );
    }
    shore.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shores_in_one_group_split_the_load_and_index_each_once() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "two-shores").await {
        two_shores(&url).await;
    }
}

/// Two shores sharing one index (one SQLite file, or one PostgreSQL database).
async fn two_shores(index_url: &str) {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = start(config(
        &broker.url(),
        dir.path(),
        "shore-1",
        Some(index_url),
    ))
    .await;
    let b = start(config(
        &broker.url(),
        dir.path(),
        "shore-2",
        Some(index_url),
    ))
    .await;
    let vessel = Publisher::connect(broker.port(), "aurora", None).await;
    const N: i64 = 200;
    for i in 0..N {
        let t = thumb("aurora", "mast", T0_NS + i);
        vessel
            .client
            .publish(
                thumb_topic("aurora", "mast"),
                rumqttc::QoS::AtLeastOnce,
                false,
                t.encode().unwrap(),
            )
            .await
            .unwrap();
    }
    let (ma, mb) = (a.metrics.clone(), b.metrics.clone());
    until(30, "all thumbnails indexed", || {
        let (ma, mb) = (ma.clone(), mb.clone());
        async move {
            ma.thumbs_indexed.load(std::sync::atomic::Ordering::SeqCst)
                + mb.thumbs_indexed.load(std::sync::atomic::Ordering::SeqCst)
                >= N as u64
        }
    })
    .await;
    let (na, nb) = (
        ma.thumbs_indexed.load(std::sync::atomic::Ordering::SeqCst),
        mb.thumbs_indexed.load(std::sync::atomic::Ordering::SeqCst),
    );
    assert!(na > 0 && nb > 0, "the load is split: {na} + {nb}");
    assert_eq!(na + nb, N as u64);
    assert_eq!(a.index.count_thumbs().await.unwrap(), N as u64);
    assert_eq!(
        ma.thumbs_duplicate
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(
        mb.thumbs_duplicate
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_published_while_the_shore_is_down_arrives_after_restart() {
    let broker = MosquittoServer::start_with(MosquittoOptions {
        persistence: true,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&broker.url(), dir.path(), "shore-p", None);
    let shore = start(cfg.clone()).await;
    shore.stop().await.unwrap();

    let vessel = Publisher::connect(broker.port(), "aurora", None).await;
    for i in 0..50 {
        vessel
            .publish(
                &thumb_topic("aurora", "mast"),
                thumb("aurora", "mast", T0_NS + i).encode().unwrap(),
            )
            .await;
    }
    let shore = start(cfg).await;
    let index = shore.index.clone();
    until(30, "the 50 queued thumbnails", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() == 50 }
    })
    .await;
    shore.stop().await.unwrap();
}

/// A backlog the broker pours out at once (mosquitto 2.0 sends a resumed
/// session's queue far past `max_inflight_messages`): the shore acks as it
/// commits, so what the broker waits to see acked never exceeds what
/// ingest holds (its channel, the batch being indexed, the next one being
/// stored and the message in hand: `HELD_MAX`),
/// and everything is indexed once, on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_poured_out_at_once_keeps_the_unacked_window_within_what_ingest_holds() {
    use seaframe_shore::services::ingest::HELD_MAX;
    use std::sync::atomic::Ordering;
    const N: u64 = 8000;
    let broker = MosquittoServer::start_with(MosquittoOptions {
        persistence: false,
        extra_config:
            "allow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000".into(),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&broker.url(), dir.path(), "shore-s", None);
    // The session exists (subscribed), then the shore is away.
    start(cfg.clone()).await.stop().await.unwrap();

    let vessel = Publisher::connect(broker.port(), "aurora", None).await;
    let topic = thumb_topic("aurora", "mast");
    for i in 0..N as i64 {
        let payload = thumb("aurora", "mast", T0_NS + i).encode().unwrap();
        vessel
            .client
            .publish(&topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    let acked = vessel.acked.clone();
    until(60, "the broker to take the backlog", || {
        let acked = acked.clone();
        async move { acked.load(Ordering::SeqCst) >= N }
    })
    .await;

    let shore = start(cfg).await;
    let index = shore.index.clone();
    until(120, "the backlog indexed", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() == N }
    })
    .await;
    let m = &shore.metrics;
    let peak = m.mqtt_unacked_peak.load(Ordering::SeqCst);
    println!("{N} indexed; at most {peak} unacked at the broker");
    assert!(peak <= HELD_MAX as u64, "{peak} unacked at the broker");
    assert!(peak > 0, "the window was measured");
    assert_eq!(m.mqtt_connects.load(Ordering::SeqCst), 1, "one connection");
    assert_eq!(
        m.thumbs_duplicate.load(Ordering::SeqCst),
        0,
        "no redelivery"
    );
    shore.stop().await.unwrap();
}
