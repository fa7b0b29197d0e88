//! Config push: `PUT /vessels/<v>/config` (bearer token) → a retained
//! `ConfigPush` on the vessel's config topic with version 1, then 2; a
//! vessel's ack shows in `GET /vessels/<v>/config`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use seaframe_shore::adapters::config::Secret;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::message::ConfigPush;

async fn put(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .put(format!("http://{addr}/api/v1/vessels/aurora/config"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_configs_are_versioned_retained_and_acked() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&broker.url(), dir.path(), "shore-c", None);
    cfg.api.token = Some(Secret::new("a-long-test-token"));
    let shore = start(cfg).await;
    let mut vessel = Publisher::connect(broker.port(), "aurora", None).await;
    vessel
        .client
        .subscribe("seaframe/v1/aurora/config", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();

    let body = r#"{"uplink": {"thumbs_per_s": 0.5}}"#;
    assert_eq!(put(shore.addr, None, body).await.0, 401);
    assert_eq!(put(shore.addr, Some("wrong-token-xx"), body).await.0, 401);
    let (code, e) = put(shore.addr, Some("a-long-test-token"), r#"{"vessel": "x"}"#).await;
    assert_eq!(code, 400);
    assert!(e["error"].as_str().unwrap().starts_with("body:"), "{e}");

    let (code, v1) = put(shore.addr, Some("a-long-test-token"), body).await;
    assert_eq!((code, v1["version"].as_u64()), (200, Some(1)), "{v1}");
    let (_, v2) = put(
        shore.addr,
        Some("a-long-test-token"),
        r#"{"gps": {"source": "gpsd"}}"#,
    )
    .await;
    assert_eq!(v2["version"], 2);

    for want in [1, 2] {
        let p = tokio::time::timeout(Duration::from_secs(10), vessel.received.recv())
            .await
            .unwrap()
            .unwrap();
        let push: ConfigPush = serde_json::from_slice(&p.payload).unwrap();
        assert_eq!(push.version, want);
    }
    // Retained: a vessel that subscribes later gets the latest.
    let mut late = Publisher::connect(broker.port(), "aurora-late", None).await;
    late.client
        .subscribe("seaframe/v1/aurora/config", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let p = tokio::time::timeout(Duration::from_secs(10), late.received.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(p.retain);
    let push: ConfigPush = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(
        (push.version, &push.config["gps"]["source"]),
        (2, &serde_json::json!("gpsd"))
    );

    let (_, got) = get_json(shore.addr, "/api/v1/vessels/aurora/config").await;
    assert_eq!(got["version"], 2);
    assert!(got["ack"].is_null());
    vessel
        .publish(
            "seaframe/v1/aurora/config/ack",
            br#"{"version": 2, "status": "rejected", "error": "gps.source: unknown"}"#.to_vec(),
        )
        .await;
    let addr = shore.addr;
    until(20, "the ack in GET config", || async move {
        get_json(addr, "/api/v1/vessels/aurora/config").await.1["ack"]["status"] == "rejected"
    })
    .await;
    let (_, got) = get_json(shore.addr, "/api/v1/vessels/aurora/config").await;
    assert_eq!(got["ack"]["version"], 2);
    assert_eq!(got["ack"]["error"], "gps.source: unknown");
    assert_eq!(got["desired"]["gps"]["source"], "gpsd");
    assert_eq!(
        get_json(shore.addr, "/api/v1/vessels/nobody/config")
            .await
            .0,
        404
    );
    shore.stop().await.unwrap();
}
