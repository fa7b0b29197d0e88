//! The live feed (`GET /api/v1/events`, Server-Sent Events) and the fleet
//! page's asset routes: a thumbnail ingested through a real broker reaches
//! an open stream (on every index backend); the shore's shutdown ends the
//! streams instead of hanging on them; a client that falls behind is told
//! to resync; the page's files come with their type, an ETag and a 304.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::sse::SseReader;
use common::{Publisher, T0_NS, config, index_urls, start, thumb, thumb_topic};
use seaframe_shore::adapters::blobs::{Blobs, DiskBlobs};
use seaframe_shore::adapters::config::{AuthConfig, IndexUrl};
use seaframe_shore::adapters::index;
use seaframe_shore::base::auth::role::Role;
use seaframe_shore::services::api::{self, ApiState};
use seaframe_shore::services::auth::Auth;
use seaframe_shore::services::feed::FeedEvent;
use seaframe_shore::services::metrics::Metrics;
use seaframe_testkit::MosquittoServer;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thumbnail_ingested_reaches_open_event_streams_at_once() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "events").await {
        let data = tempfile::tempdir().unwrap();
        let shore = start(config(&broker.url(), data.path(), "shore-ev", Some(&url))).await;
        let events = format!("http://{}/api/v1/events", shore.addr);
        let mut a = SseReader::open(&events).await;
        let mut b = SseReader::open(&events).await;
        a.until("ready", Duration::from_secs(5)).await;
        b.until("ready", Duration::from_secs(5)).await;

        let vessel = Publisher::connect(broker.port(), "aurora", None).await;
        let sent = Instant::now();
        vessel
            .publish(
                &thumb_topic("aurora", "mast"),
                thumb("aurora", "mast", T0_NS).encode().unwrap(),
            )
            .await;
        for reader in [&mut a, &mut b] {
            let t = reader.until("thumb", Duration::from_secs(10)).await;
            assert_eq!(t["vessel"], "aurora", "{t}");
            assert_eq!(t["camera"], "mast", "{t}");
            assert_eq!(t["lat"], 59.5, "{t}");
            let id = t["id"].as_i64().unwrap();
            assert_eq!(t["image_url"], format!("/api/v1/thumbs/{id}/image"));
            // The same shape as the listing's.
            let (status, listed) =
                common::get_json(shore.addr, "/api/v1/vessels/aurora/thumbs").await;
            assert_eq!(status, 200);
            assert_eq!(listed["thumbs"][0], t);
            // The new vessel shows too.
            let v = reader.until("vessel", Duration::from_secs(5)).await;
            assert_eq!(v["name"], "aurora", "{v}");
        }
        // Woken by the writer's commit, not by the 500 ms poll.
        let took = sent.elapsed();
        eprintln!("publish → event on two streams: {} ms", took.as_millis());
        assert!(took < Duration::from_secs(2), "{took:?}");

        // A config pushed shows as a `config` event.
        let r = reqwest::Client::new()
            .put(format!(
                "http://{}/api/v1/vessels/aurora/config",
                shore.addr
            ))
            .bearer_auth(common::token(shore.addr))
            .body(r#"{"retention": {"max_age_s": 60}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let c = a.until("config", Duration::from_secs(5)).await;
        assert_eq!(
            (c["vessel"].as_str(), c["version"].as_u64()),
            (Some("aurora"), Some(1)),
            "{c}"
        );
        assert_eq!(c["desired"]["retention"]["max_age_s"], 60);

        // Stopping the shore ends the streams (and does not wait on them).
        let stopping = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), shore.stop())
            .await
            .expect("the shore stops with streams open")
            .unwrap();
        assert!(stopping.elapsed() < Duration::from_secs(10));
        for reader in [&mut a, &mut b] {
            loop {
                match reader.next(Duration::from_secs(5)).await {
                    None => break,
                    Some(ev) => assert_ne!(ev.event, "ready", "a new stream after stop?"),
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_streams_the_whole_fleet_once() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "events-two").await {
        let broker = MosquittoServer::start().unwrap();
        let data = tempfile::tempdir().unwrap();
        // Two instances in one share group, one index: each ingests a share.
        let a = start(config(&broker.url(), data.path(), "shore-1", Some(&url))).await;
        let b = start(config(&broker.url(), data.path(), "shore-2", Some(&url))).await;
        let mut readers = Vec::new();
        for shore in [&a, &b] {
            let mut r = SseReader::open(&format!("http://{}/api/v1/events", shore.addr)).await;
            r.until("ready", Duration::from_secs(5)).await;
            readers.push(r);
        }
        let vessel = Publisher::connect(broker.port(), "aurora", None).await;
        const N: i64 = 120;
        for i in 0..N {
            let camera = if i % 2 == 0 { "mast" } else { "bow" };
            vessel
                .client
                .publish(
                    thumb_topic("aurora", camera),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    thumb("aurora", camera, T0_NS + i).encode().unwrap(),
                )
                .await
                .unwrap();
        }
        for (name, r) in ["shore-1", "shore-2"].iter().zip(&mut readers) {
            let mut ids = std::collections::BTreeSet::new();
            while ids.len() < N as usize {
                let t = r.until("thumb", Duration::from_secs(20)).await;
                assert!(ids.insert(t["id"].as_i64().unwrap()), "{name}: {t} twice");
            }
        }
        let (na, nb) = (
            a.metrics
                .thumbs_indexed
                .load(std::sync::atomic::Ordering::SeqCst),
            b.metrics
                .thumbs_indexed
                .load(std::sync::atomic::Ordering::SeqCst),
        );
        assert!(na > 0 && nb > 0, "the load is split: {na} + {nb}");
        // Nothing more comes (no thumbnail twice), at least not within a poll or two.
        for r in &mut readers {
            let quiet = tokio::time::timeout(Duration::from_millis(1200), async {
                loop {
                    match r.next(Duration::from_secs(5)).await {
                        Some(ev) if ev.event == "thumb" => return ev,
                        Some(_) => {}
                        None => panic!("the stream ended"),
                    }
                }
            })
            .await;
            assert!(quiet.is_err(), "a thumbnail twice: {quiet:?}");
        }
        a.stop().await.unwrap();
        b.stop().await.unwrap();
    }
}

/// An API on port 0 whose feed channel the test holds (no broker needed).
async fn bare_api(
    capacity: usize,
) -> (
    std::net::SocketAddr,
    broadcast::Sender<FeedEvent>,
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("index.db").display());
    let index = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
    let (mqtt, _eventloop) =
        rumqttc::AsyncClient::new(rumqttc::MqttOptions::new("unused", "127.0.0.1", 9), 10);
    let (events, _) = broadcast::channel(capacity);
    let shutdown = CancellationToken::new();
    let (_, subscribed) = tokio::sync::watch::channel(true);
    let state = ApiState {
        index,
        blobs: Blobs::Disk(DiskBlobs::new(dir.path())),
        metrics: Arc::new(Metrics::default()),
        mqtt,
        push_order: Arc::default(),
        subscribed,
        events: events.clone(),
        shutdown: shutdown.clone(),
        auth: Auth::new(AuthConfig::default(), None),
    };
    let token = common::account_token(&*state.index, "bare", Role::Viewer).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    common::remember_token(addr, token);
    let task = tokio::spawn(api::serve(listener, state, shutdown.clone()));
    (addr, events, shutdown, task, dir)
}

// One thread: the sends below all happen before the stream's task runs,
// so the client's receiver really falls behind.
#[tokio::test(flavor = "current_thread")]
async fn a_client_that_falls_behind_is_told_to_resync() {
    let (addr, events, shutdown, task, _dir) = bare_api(4).await;
    let mut r = SseReader::open(&format!("http://{addr}/api/v1/events")).await;
    r.until("ready", Duration::from_secs(5)).await;
    // Subscribed once the handler ran: `ready` proves it.
    assert_eq!(events.receiver_count(), 1);
    for i in 0..20 {
        events
            .send(FeedEvent {
                name: "thumb",
                data: format!("{{\"id\": {i}}}").into(),
            })
            .unwrap();
    }
    let first = r.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.event, "resync", "{first:?}");
    let missed: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(missed["missed"], 16);
    // Then the newest ones, and the stream goes on.
    for i in 16..20 {
        let ev = r.next(Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            (ev.event.as_str(), ev.data),
            ("thumb", format!("{{\"id\": {i}}}"))
        );
    }
    events
        .send(FeedEvent {
            name: "vessel",
            data: "{}".into(),
        })
        .unwrap();
    assert_eq!(
        r.next(Duration::from_secs(5)).await.unwrap().event,
        "vessel"
    );
    shutdown.cancel();
    assert!(r.next(Duration::from_secs(5)).await.is_none());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_with_types_and_etags() {
    let (addr, _events, shutdown, task, _dir) = bare_api(4).await;
    let http = reqwest::Client::new();
    for (path, ty, needle) in [
        ("/", "text/html; charset=utf-8", "<main"),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "/api/v1/",
        ),
        (
            "/assets/events.js",
            "text/javascript; charset=utf-8",
            "/api/v1/events",
        ),
        ("/assets/style.css", "text/css; charset=utf-8", "grid"),
        ("/assets/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let r = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ty, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'"),
            "{path}"
        );
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.len() == 18, "{path}: {etag}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path}");
        // Revalidation: the same ETag → 304 without a body; another → 200.
        let r = http
            .get(format!("http://{addr}{path}"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{path}");
        assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
        assert!(r.bytes().await.unwrap().is_empty());
        let r = http
            .get(format!("http://{addr}{path}"))
            .header("if-none-match", "\"0000000000000000\"")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // No other file, and nothing from the request reaches a path.
    for path in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2Fsrc%2Fweb.rs",
        "/assets/",
    ] {
        let r = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // Every module the page imports is served.
    let app = http
        .get(format!("http://{addr}/assets/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for import in app.lines().filter_map(|l| l.split("from './").nth(1)) {
        let file = import.split('\'').next().unwrap();
        let r = http
            .get(format!("http://{addr}/assets/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{file}");
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
