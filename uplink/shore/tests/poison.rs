//! A message bigger than any legal one, through a broker WITHOUT
//! `max_packet_size` (mosquitto's default takes up to 256 MB): the shore
//! reads it, acks it unread and counts it (`too_large`), keeps its one
//! connection, and indexes every normal thumbnail sent after it. Started
//! again on the same session, it is not handed the big one again.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::sync::atomic::Ordering;

use common::*;
use seaframe_testkit::{MosquittoOptions, MosquittoServer};

const NORMAL: i64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_message_is_counted_and_acked_and_ingest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    for (index_url, _db) in index_urls(dir.path(), "poison").await {
        poison(&index_url).await;
    }
}

async fn poison(index_url: &str) {
    let broker = MosquittoServer::start_with(MosquittoOptions::default()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let cfg = config(&broker.url(), data.path(), "shore-poison", Some(index_url));
    let shore = start(cfg.clone()).await;
    let m = shore.metrics.clone();

    // 10 MB (over the shore's old 8 MiB read limit, and 5 x the largest
    // legal message), published by mosquitto_pub at QoS 1.
    let big = data.path().join("big");
    std::fs::write(&big, vec![0x5au8; 10 * 1024 * 1024]).unwrap();
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port().to_string(),
            "-q",
            "1",
        ])
        .args(["-t", &thumb_topic("aurora", "mast"), "-f"])
        .arg(&big)
        .status()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)");
    assert!(status.success());

    let vessel = Publisher::connect(broker.port(), "aurora", None).await;
    for i in 0..NORMAL {
        let t = thumb("aurora", "mast", T0_NS + i * 1_000_000_000);
        vessel
            .publish(&thumb_topic("aurora", "mast"), t.encode().unwrap())
            .await;
    }
    until(30, "every normal thumbnail indexed", || {
        let m = m.clone();
        async move { m.thumbs_indexed.load(Ordering::SeqCst) >= NORMAL as u64 }
    })
    .await;
    assert_eq!(shore.index.count_thumbs().await.unwrap(), NORMAL as u64);
    assert_eq!(m.dropped("too_large"), 1);
    assert!(
        m.render()
            .contains("seaframe_shore_messages_dropped_total{reason=\"too_large\"} 1")
    );
    assert_eq!(m.mqtt_connects.load(Ordering::SeqCst), 1, "no reconnect");
    assert_eq!(m.mqtt_connection_errors.load(Ordering::SeqCst), 0);
    shore.stop().await.unwrap();

    // The same session again: the big one was acked, so it is not back.
    let shore = start(cfg).await;
    let t = thumb("aurora", "mast", T0_NS + NORMAL * 1_000_000_000);
    vessel
        .publish(&thumb_topic("aurora", "mast"), t.encode().unwrap())
        .await;
    let m = shore.metrics.clone();
    until(20, "the next thumbnail", || {
        let m = m.clone();
        async move { m.thumbs_indexed.load(Ordering::SeqCst) >= 1 }
    })
    .await;
    assert_eq!(m.mqtt_publishes_received.load(Ordering::SeqCst), 1);
    assert_eq!(m.dropped("too_large"), 0);
    assert_eq!(m.mqtt_connects.load(Ordering::SeqCst), 1);
    shore.stop().await.unwrap();
}
