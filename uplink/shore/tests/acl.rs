//! The broker ACL of `mosquitto/acl.example`, on a real mosquitto with a
//! password file: a vessel cannot publish under another vessel's prefix
//! (the shore never sees it), nor read another vessel's config.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use seaframe_shore::config::Secret;
use seaframe_testkit::{MosquittoOptions, MosquittoServer};

fn add_user(file: &std::path::Path, user: &str, pass: &str, create: bool) {
    let mut cmd = Command::new("mosquitto_passwd");
    cmd.arg("-b");
    if create {
        cmd.arg("-c");
    }
    let status = cmd
        .arg(file)
        .arg(user)
        .arg(pass)
        .status()
        .expect("mosquitto_passwd (apt-get install mosquitto)");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vessel_cannot_publish_under_another_vessels_prefix() {
    let files = tempfile::tempdir().unwrap();
    let passwd = files.path().join("passwd");
    add_user(&passwd, "shore", "shore-pass", true);
    add_user(&passwd, "aurora", "aurora-pass", false);
    add_user(&passwd, "boreas", "boreas-pass", false);
    let acl = files.path().join("acl");
    std::fs::write(&acl, include_str!("../mosquitto/acl.example")).unwrap();
    let broker = MosquittoServer::start_with(MosquittoOptions {
        persistence: false,
        extra_config: format!(
            "allow_anonymous false\npassword_file {}\nacl_file {}\n",
            passwd.display(),
            acl.display()
        ),
    })
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&broker.url(), dir.path(), "shore-acl", None);
    cfg.mqtt.username = Some("shore".into());
    cfg.mqtt.password = Some(Secret::new("shore-pass"));
    let shore = start(cfg).await;

    let aurora = Publisher::connect(broker.port(), "aurora", Some(("aurora", "aurora-pass"))).await;
    let boreas = Publisher::connect(broker.port(), "boreas", Some(("boreas", "boreas-pass"))).await;
    // boreas pretends to be aurora (a well-formed envelope, so only the ACL
    // can stop it), then aurora publishes its own.
    let forged = thumb("aurora", "mast", T0_NS).encode().unwrap();
    boreas.publish(&thumb_topic("aurora", "mast"), forged).await;
    let own = thumb("aurora", "mast", T0_NS + 1).encode().unwrap();
    aurora.publish(&thumb_topic("aurora", "mast"), own).await;

    let m = shore.metrics.clone();
    until(20, "aurora's own thumbnail", || {
        let m = m.clone();
        async move { m.thumbs_indexed.load(Ordering::SeqCst) >= 1 }
    })
    .await;
    assert_eq!(shore.index.count_thumbs().await.unwrap(), 1);
    let page = shore
        .index
        .thumbs(&seaframe_shore::index::ThumbQuery {
            vessel: None,
            camera: None,
            from_ns: i64::MIN,
            to_ns: i64::MAX,
            place: None,
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.rows[0].captured_at_ns, T0_NS + 1, "only aurora's own");

    // Configs: boreas cannot read aurora's, aurora can.
    let aurora_cfg = "seaframe/v1/aurora/config".to_owned();
    let boreas_cfg = "seaframe/v1/boreas/config".to_owned();
    let pusher =
        Publisher::connect(broker.port(), "shore-pusher", Some(("shore", "shore-pass"))).await;
    pusher
        .publish_retained(&aurora_cfg, br#"{"version":1,"config":{}}"#.to_vec(), true)
        .await;
    pusher
        .publish_retained(&boreas_cfg, br#"{"version":7,"config":{}}"#.to_vec(), true)
        .await;
    let mut boreas = boreas;
    boreas
        .client
        .subscribe(&aurora_cfg, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    boreas
        .client
        .subscribe(&boreas_cfg, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), boreas.received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.topic, boreas_cfg,
        "boreas gets its own config first and only"
    );
    let mut aurora = aurora;
    aurora
        .client
        .subscribe(&aurora_cfg, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), aurora.received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.topic, aurora_cfg);
    shore.stop().await.unwrap();
}
