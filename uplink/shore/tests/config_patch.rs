//! `PATCH /vessels/<v>/config` through a real broker, on every index
//! backend: a PATCH changes one key and keeps every other, in the desired
//! overlay and in the retained message; `null` resets a section; two
//! PATCHes at once both land (versions in a row, the retained message the
//! last with both changes); a bad body is a 400 naming the problem, with
//! nothing stored and nothing published.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use seaframe_shore::adapters::config::Secret;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::message::ConfigPush;
use serde_json::{Value, json};

const TOKEN: &str = "a-long-test-token";
const TOPIC: &str = "seaframe/v1/aurora/config";

async fn send(addr: SocketAddr, method: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new()
        .request(
            method,
            format!("http://{addr}/api/v1/vessels/aurora/config"),
        )
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = req.send().await.unwrap();
    let code = r.status().as_u16();
    (
        code,
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
    )
}

async fn patch(addr: SocketAddr, body: &str) -> (u16, Value) {
    send(addr, "PATCH", Some(TOKEN), body).await
}

/// The next config message the vessel receives.
async fn next_push(vessel: &mut Publisher) -> ConfigPush {
    let p = tokio::time::timeout(Duration::from_secs(10), vessel.received.recv())
        .await
        .expect("a config message in time")
        .unwrap();
    serde_json::from_slice(&p.payload).unwrap()
}

async fn subscribed_vessel(broker: &MosquittoServer, client_id: &str) -> Publisher {
    let vessel = Publisher::connect(broker.port(), client_id, None).await;
    vessel
        .client
        .subscribe(TOPIC, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    vessel
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_fold_into_the_overlay_and_the_retained_message() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "config-patch").await {
        story(&url).await;
    }
}

async fn story(index_url: &str) {
    let broker = MosquittoServer::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(&broker.url(), data.path(), "shore-p", Some(index_url));
    cfg.api.token = Some(Secret::new(TOKEN));
    let shore = start(cfg).await;
    let addr = shore.addr;
    let mut vessel = subscribed_vessel(&broker, "aurora").await;

    // v1: a whole overlay.
    let (code, v1) = send(
        addr,
        "PUT",
        Some(TOKEN),
        r#"{"retention": {"max_age_s": 60, "retain_bytes": 1000}, "gps": {"source": "none"},
            "cameras": [{"id": "bow", "source": "testpattern", "fps": 5.0}]}"#,
    )
    .await;
    assert_eq!((code, v1["version"].as_u64()), (200, Some(1)), "{v1}");

    // v2: one key changed, every other kept.
    let (code, v2) = patch(addr, r#"{"retention": {"max_age_s": 3600}}"#).await;
    assert_eq!(code, 200, "{v2}");
    let want = json!({
        "retention": {"max_age_s": 3600, "retain_bytes": 1000},
        "gps": {"source": "none"},
        "cameras": [{"id": "bow", "source": "testpattern", "fps": 5.0}],
    });
    assert_eq!(v2, json!({"version": 2, "desired": want}));
    assert_eq!(next_push(&mut vessel).await.version, 1);
    let push = next_push(&mut vessel).await;
    assert_eq!((push.version, &push.config), (2, &want));

    // v3: a camera by id, a section reset to the vessel's file.
    let (code, v3) = patch(addr, r#"{"cameras": {"bow": {"fps": 1.0}}, "gps": null}"#).await;
    assert_eq!(code, 200, "{v3}");
    let want = json!({
        "retention": {"max_age_s": 3600, "retain_bytes": 1000},
        "cameras": [{"id": "bow", "source": "testpattern", "fps": 1.0}],
    });
    assert_eq!(v3, json!({"version": 3, "desired": want}));
    let push = next_push(&mut vessel).await;
    assert_eq!((push.version, &push.config), (3, &want));

    // Bad bodies: 400 naming the problem (401 without the token); nothing
    // stored, nothing published.
    let pushes = shore.metrics.config_pushes.load(Ordering::SeqCst);
    for (body, names) in [
        (
            r#"{"api": {"listen": "0.0.0.0:80"}}"#,
            "unknown section(s) api",
        ),
        (r#"{"gps": "none"}"#, "gps: must be a table"),
        (
            r#"{"cameras": [{"fps": 1}]}"#,
            "cameras[0]: needs an \"id\"",
        ),
        (r#"{"cameras": {"bow": {"id": "aft"}}}"#, "cameras.bow.id"),
        ("{}", "holds none of"),
        ("[1, 2]", "must be a JSON object"),
        ("{\"retention\": ", "not JSON"),
    ] {
        let (code, e) = patch(addr, body).await;
        let error = e["error"].as_str().unwrap_or_default();
        assert_eq!(code, 400, "{body}: {e}");
        assert!(
            error.starts_with("body: ") && error.contains(names),
            "{body}: {e}"
        );
    }
    let huge = format!(r#"{{"gps": {{"source": "{}"}}}}"#, "x".repeat(300 * 1024));
    assert_eq!(patch(addr, &huge).await.0, 400);
    assert_eq!(send(addr, "PATCH", None, r#"{"gps": null}"#).await.0, 401);
    let (_, got) = get_json(addr, "/api/v1/vessels/aurora/config").await;
    assert_eq!((got["version"].as_u64(), &got["desired"]), (Some(3), &want));
    assert_eq!(shore.metrics.config_pushes.load(Ordering::SeqCst), pushes);

    // Two PATCHes at once: both land, versions 4 and 5.
    let (a, b) = tokio::join!(
        patch(addr, r#"{"uplink": {"thumbs_per_s": 0.5}}"#),
        patch(addr, r#"{"retention": {"retain_bytes": 2000}}"#),
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    let mut versions = [a.1["version"].as_u64(), b.1["version"].as_u64()];
    versions.sort_unstable();
    assert_eq!(versions, [Some(4), Some(5)]);
    let want = json!({
        "retention": {"max_age_s": 3600, "retain_bytes": 2000},
        "cameras": [{"id": "bow", "source": "testpattern", "fps": 1.0}],
        "uplink": {"thumbs_per_s": 0.5},
    });
    let (_, got) = get_json(addr, "/api/v1/vessels/aurora/config").await;
    assert_eq!((got["version"].as_u64(), &got["desired"]), (Some(5), &want));
    // Published in version order; the bad bodies published nothing.
    assert_eq!(next_push(&mut vessel).await.version, 4);
    let push = next_push(&mut vessel).await;
    assert_eq!((push.version, &push.config), (5, &want));

    // What a vessel coming online later gets: the whole overlay, retained.
    let mut late = subscribed_vessel(&broker, "aurora-late").await;
    let p = tokio::time::timeout(Duration::from_secs(10), late.received.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(p.retain);
    let push: ConfigPush = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!((push.version, &push.config), (5, &want));

    // Everything reset: an empty overlay (all from the file) is a push too.
    let (code, v6) = patch(
        addr,
        r#"{"retention": null, "cameras": null, "uplink": null}"#,
    )
    .await;
    assert_eq!((code, v6), (200, json!({"version": 6, "desired": {}})));
    let push = next_push(&mut vessel).await;
    assert_eq!((push.version, push.config), (6, json!({})));
    let (_, got) = get_json(addr, "/api/v1/vessels/aurora/config").await;
    assert_eq!(
        (got["version"].as_u64(), &got["desired"]),
        (Some(6), &json!({}))
    );
    shore.stop().await.unwrap();
}
