//! The attack suite: the broker configured as shipped, a shore on TLS with
//! its own certificate, two vessels enrolled by `seaframe-shore enroll`.
//! With aurora's own certificate: read boreas's topics, subscribe `#` and
//! the shore's `$share` group, publish under boreas's prefix (a thumbnail
//! and a config), take boreas's and the shore's client ids, send an
//! oversized message; without a certificate, or with one from another CA,
//! connect at all. Each is refused, and boreas's thumbnails, sent before,
//! between and after the attacks, are indexed each once, like aurora's own:
//! sent = indexed, nothing dropped, the shore never disconnected.
#![allow(clippy::unwrap_used)]

mod common;
mod shipped;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use rumqttc::SubscribeReasonCode as Code;
use seaframe_shore::adapters::index::ThumbQuery;
use seaframe_wire::VesselName;
use shipped::{ShippedBroker, TlsClient};

/// Boreas's thumbnails in each of its three rounds.
const ROUND: i64 = 10;

async fn boreas_round(boreas: &TlsClient, round: i64) {
    for i in 0..ROUND {
        let at = T0_NS + (round * ROUND + i) * 1_000_000_000;
        let t = thumb("boreas", "mast", at).encode().unwrap();
        boreas.publish(&thumb_topic("boreas", "mast"), t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vessels_own_credentials_cannot_harm_another_vessel_or_the_shore() {
    let dir = tempfile::tempdir().unwrap();
    for (index_url, _db) in index_urls(dir.path(), "broker_attacks").await {
        attacks(&index_url).await;
    }
}

async fn attacks(index_url: &str) {
    let fleet = ShippedBroker::start();
    let printed = fleet.enroll("aurora");
    assert!(printed.contains("client_cert_file"), "{printed}");
    fleet.enroll("boreas");
    let data = tempfile::tempdir().unwrap();
    let cfg = fleet.shore_config(config(
        "mqtt://unused",
        data.path(),
        "seaframe-shore-shore",
        Some(index_url),
    ));
    let shore = start(cfg).await;
    let m = shore.metrics.clone();

    let mut boreas = fleet.vessel_client("boreas", "seaframe-boreas").await;
    assert_eq!(
        boreas.subscribe("seaframe/v1/boreas/config").await,
        Code::Success(rumqttc::QoS::AtLeastOnce)
    );
    boreas_round(&boreas, 0).await;

    // Reading: every filter but its own config is refused outright.
    let mut aurora = fleet.vessel_client("aurora", "seaframe-aurora").await;
    for filter in [
        "seaframe/v1/boreas/thumb/+",
        "seaframe/v1/boreas/config",
        "seaframe/v1/+/thumb/+",
        "#",
        "$share/shore/seaframe/v1/#",
        "$share/shore/seaframe/v1/+/thumb/+",
        "$share/other/seaframe/v1/#",
        "$SYS/#",
    ] {
        assert_eq!(aurora.subscribe(filter).await, Code::Failure, "{filter}");
    }
    assert_eq!(
        aurora.subscribe("seaframe/v1/aurora/config").await,
        Code::Success(rumqttc::QoS::AtLeastOnce),
        "its own config (the refusals above are the ACL's, not the test's)"
    );

    // Writing under boreas's prefix: a well-formed thumbnail and a config.
    let forged_at = T0_NS + 999 * 1_000_000_000;
    let forged = thumb("boreas", "mast", forged_at).encode().unwrap();
    aurora.publish(&thumb_topic("boreas", "mast"), forged).await;
    aurora
        .publish(
            "seaframe/v1/boreas/config",
            br#"{"version":99,"config":{"uplink":{"mqtt_url":"mqtt://evil"}}}"#.to_vec(),
        )
        .await;
    let own = thumb("aurora", "bow", T0_NS).encode().unwrap();
    aurora.publish(&thumb_topic("aurora", "bow"), own).await;
    boreas_round(&boreas, 1).await;

    // Client ids: the broker takes the certificate's name instead, so asking
    // for boreas's or the shore's id takes over neither.
    for id in [
        "seaframe-boreas",
        "boreas",
        "seaframe_shore",
        "seaframe-shore-shore",
    ] {
        let thief = fleet.vessel_client("aurora", id).await;
        drop(thief);
    }

    // Connecting without a certificate, or with one of another CA named
    // like boreas: no connection at all.
    let rogue = tempfile::tempdir().unwrap();
    let rogue_pki =
        seaframe_shore::adapters::pki::Pki::init(rogue.path(), &["127.0.0.1".into()]).unwrap();
    let fake = rogue_pki.issue("boreas").unwrap();
    std::fs::write(rogue.path().join("boreas.pem"), fake.cert_pem).unwrap();
    std::fs::write(rogue.path().join("boreas.key"), fake.key_pem).unwrap();
    let ca = fleet.pki.join("ca.pem");
    let strangers = [
        TlsClient::start(fleet.broker.port(), "seaframe-boreas", &ca, None),
        TlsClient::start(
            fleet.broker.port(),
            "seaframe-boreas",
            &ca,
            Some((
                &rogue.path().join("boreas.pem"),
                &rogue.path().join("boreas.key"),
            )),
        ),
    ];
    for s in &strangers {
        let errors = s.errors.clone();
        until(10, "a refused connection", || {
            let errors = errors.clone();
            async move { errors.load(Ordering::SeqCst) >= 2 }
        })
        .await;
        assert_eq!(s.connects.load(Ordering::SeqCst), 0, "a stranger connected");
    }

    // An oversized message: the broker disconnects aurora, nothing reaches
    // the shore.
    let big = vec![0u8; 3 * 1024 * 1024];
    aurora
        .client
        .publish(
            thumb_topic("aurora", "bow"),
            rumqttc::QoS::AtLeastOnce,
            false,
            big,
        )
        .await
        .unwrap();
    let errors = aurora.errors.clone();
    until(10, "aurora disconnected for its oversized message", || {
        let errors = errors.clone();
        async move { errors.load(Ordering::SeqCst) >= 1 }
    })
    .await;

    boreas_round(&boreas, 2).await;

    // The shore's view: boreas's 30 and aurora's own, each once.
    let expected = 3 * ROUND as u64 + 1;
    until(30, "every legitimate thumbnail indexed", || {
        let m = m.clone();
        async move { m.thumbs_indexed.load(Ordering::SeqCst) >= expected }
    })
    .await;
    assert_eq!(shore.index.count_thumbs().await.unwrap(), expected);
    let page = shore
        .index
        .thumbs(&ThumbQuery {
            vessel: Some(VesselName::parse("boreas").unwrap()),
            camera: None,
            from_ns: i64::MIN,
            to_ns: i64::MAX,
            place: None,
            after: None,
            limit: 100,
        })
        .await
        .unwrap();
    let got: Vec<i64> = page.rows.iter().map(|r| r.captured_at_ns).collect();
    let want: Vec<i64> = (0..3 * ROUND).map(|i| T0_NS + i * 1_000_000_000).collect();
    assert_eq!(got, want, "boreas's thumbnails, each once, none forged");
    assert_eq!(m.thumbs_duplicate.load(Ordering::SeqCst), 0);
    assert!(
        !m.render()
            .contains("seaframe_shore_messages_dropped_total{"),
        "nothing dropped: {}",
        m.render()
    );
    assert_eq!(
        m.mqtt_connects.load(Ordering::SeqCst),
        1,
        "the shore never lost its session"
    );
    assert_eq!(m.mqtt_connection_errors.load(Ordering::SeqCst), 0);
    assert_eq!(
        boreas.connects.load(Ordering::SeqCst),
        1,
        "boreas never taken over"
    );
    assert_eq!(boreas.errors.load(Ordering::SeqCst), 0);

    // The forged config never reached boreas: the first config it gets is
    // the shore's own push.
    let (status, body) = put_config(shore.addr, "boreas").await;
    assert_eq!(status, 200, "{body}");
    let first = tokio::time::timeout(Duration::from_secs(10), boreas.received.recv())
        .await
        .unwrap()
        .unwrap();
    let pushed: serde_json::Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(pushed["version"], 1, "boreas got {pushed}");
    assert!(aurora.received.try_recv().is_err(), "aurora read nothing");
    shore.stop().await.unwrap();
}

async fn put_config(addr: std::net::SocketAddr, vessel: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .put(format!("http://{addr}/api/v1/vessels/{vessel}/config"))
        .bearer_auth(token(addr))
        .header("content-type", "application/json")
        .body(r#"{"retention": {"max_age_s": 86400}}"#)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}
