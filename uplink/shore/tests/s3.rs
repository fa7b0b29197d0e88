//! The shore on S3-compatible object storage: a real moto server
//! (`scripts/install-moto`) on a free loopback port, a real mosquitto, and
//! the index on SQLite and on PostgreSQL (when `SEAFRAME_TEST_PG_URL` is
//! set). Thumbnails published as vessels do are indexed once, stored as
//! one object each under the key layout, and served back byte for byte;
//! with the store down for a while, ingest backs off, indexes nothing
//! without its object, acks nothing it did not store, and catches up once
//! the store is back (sent = indexed = objects, each once). A retention
//! pass deletes rows and their objects together.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::s3::{PREFIX, blobs_config, key_of, objects};
use common::*;
use seaframe_shore::adapters::config::Config;
use seaframe_shore::app::Shore;
use seaframe_shore::services::metrics::Metrics;
use seaframe_shore::services::retention::Retention;
use seaframe_testkit::{MosquittoServer, MotoServer};
use seaframe_wire::Thumb;

fn shore_config(
    broker: &MosquittoServer,
    moto: &MotoServer,
    dir: &std::path::Path,
    index_url: &str,
) -> Config {
    let mut cfg = config(&broker.url(), dir, "shore-s3", Some(index_url));
    cfg.blobs = blobs_config(moto);
    assert_eq!(cfg.validate(), [], "the S3 config is valid");
    cfg
}

/// Thumbnail `i` of a small fleet: two vessels, two cameras each, one
/// second apart on one day.
fn fleet_thumb(i: i64) -> Thumb {
    let vessel = ["aurora", "boreas"][(i % 2) as usize];
    let camera = ["mast", "bow"][(i / 2 % 2) as usize];
    thumb(vessel, camera, T0_NS + i * 1_000_000_000)
}

async fn publish(vessel: &Publisher, t: &Thumb) {
    vessel
        .publish(
            &thumb_topic(t.meta.vessel.as_str(), t.meta.camera.as_str()),
            t.encode().unwrap(),
        )
        .await;
}

/// sent = indexed = objects, each once, each served back byte for byte.
async fn all_there_once(shore: &Shore, moto: &MotoServer, sent: &[Thumb]) {
    assert_eq!(
        shore.index.count_thumbs().await.unwrap(),
        sent.len() as u64,
        "indexed"
    );
    let stored = objects(moto, PREFIX).await;
    let expected: BTreeMap<String, usize> = sent.iter().map(|t| (key_of(moto, t), 1)).collect();
    assert_eq!(stored, expected, "one object per thumbnail, under its key");

    let rows = all_thumbs(&*shore.index).await.rows;
    assert_eq!(rows.len(), sent.len());
    for row in rows {
        let t = sent
            .iter()
            .find(|t| {
                t.meta.vessel == row.vessel
                    && t.meta.camera == row.camera
                    && t.meta.captured_at_ns == row.captured_at_ns
            })
            .unwrap();
        let r = get(&format!(
            "http://{}/api/v1/thumbs/{}/image",
            shore.addr, row.id
        ))
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap(), t.jpeg, "served byte for byte");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_are_stored_once_in_s3_and_served_back() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let dir = tempfile::tempdir().unwrap();
    for (index_url, _db) in index_urls(dir.path(), "s3_once").await {
        let moto = MotoServer::start().unwrap();
        moto.create_bucket(s3::BUCKET).unwrap();
        let broker = MosquittoServer::start().unwrap();
        let data = tempfile::tempdir().unwrap();
        let shore = start(shore_config(&broker, &moto, data.path(), &index_url)).await;
        let vessel = Publisher::connect(broker.port(), "fleet", None).await;

        let sent: Vec<Thumb> = (0..48).map(fleet_thumb).collect();
        for t in &sent {
            publish(&vessel, t).await;
        }
        // A redelivery of a few: kept once, the object not replaced.
        for t in &sent[..6] {
            publish(&vessel, t).await;
        }
        let m = shore.metrics.clone();
        until(30, "54 thumbnails processed", || {
            let m = m.clone();
            async move {
                m.thumbs_indexed.load(Ordering::SeqCst) + m.thumbs_duplicate.load(Ordering::SeqCst)
                    >= 54
            }
        })
        .await;
        assert_eq!(m.thumbs_duplicate.load(Ordering::SeqCst), 6);
        all_there_once(&shore, &moto, &sent).await;

        // One camera's day is one prefix.
        let day = objects(&moto, &format!("{PREFIX}/aurora/mast/2025/11/30")).await;
        let aurora_mast = sent
            .iter()
            .filter(|t| t.meta.vessel.as_str() == "aurora" && t.meta.camera.as_str() == "mast")
            .count();
        assert_eq!(day.len(), aurora_mast);
        assert!(aurora_mast > 0);
        // Nothing went to the local disk.
        assert!(!data.path().join("thumbs").exists());

        // A retention pass a day after the 24th: the first 24 go, rows and
        // objects together.
        let retention = Retention {
            index: shore.index.clone(),
            blobs: blobs_config(&moto).open(data.path()).unwrap(),
            config: toml::from_str("max_age_days = 1\nthin = []").unwrap(),
            metrics: Arc::new(Metrics::default()),
            clock: Arc::new(|| T0_NS + 24 * 1_000_000_000 + 86_400_000_000_000),
        };
        let report = retention.pass().await.unwrap().unwrap();
        assert_eq!(report.files_removed, 24);
        assert!(shore.index.garbage(10).await.unwrap().is_empty());
        all_there_once(&shore, &moto, &sent[24..]).await;
        eprintln!(
            "s3: {} sent, indexed and stored once ({index_url})",
            sent.len()
        );
        shore.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_down_for_a_while_loses_nothing() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let dir = tempfile::tempdir().unwrap();
    for (index_url, _db) in index_urls(dir.path(), "s3_down").await {
        store_down(&index_url).await;
    }
}

async fn store_down(index_url: &str) {
    let mut moto = MotoServer::start().unwrap();
    moto.create_bucket(s3::BUCKET).unwrap();
    let broker = MosquittoServer::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let shore = start(shore_config(&broker, &moto, data.path(), index_url)).await;
    let vessel = Publisher::connect(broker.port(), "fleet", None).await;
    let index = shore.index.clone();
    let indexed = |n: u64| {
        let index = index.clone();
        move || {
            let index = index.clone();
            async move { index.count_thumbs().await.unwrap() >= n }
        }
    };

    let sent: Vec<Thumb> = (0..120).map(fleet_thumb).collect();
    for t in &sent[..40] {
        publish(&vessel, t).await;
    }
    until(30, "the first 40 indexed", indexed(40)).await;

    // The store goes away; the fleet keeps publishing (the broker acks).
    moto.stop();
    let errors_before = shore.metrics.index_errors.load(Ordering::SeqCst);
    for t in &sent[40..80] {
        publish(&vessel, t).await;
    }
    let m = shore.metrics.clone();
    until(60, "ingest failing and backing off", || {
        let m = m.clone();
        async move { m.index_errors.load(Ordering::SeqCst) >= errors_before + 2 }
    })
    .await;
    assert_eq!(
        shore.index.count_thumbs().await.unwrap(),
        40,
        "nothing indexed without its object"
    );

    // Back on the same port, holding what it held.
    moto.restart().unwrap();
    for t in &sent[80..] {
        publish(&vessel, t).await;
    }
    until(90, "all 120 indexed", indexed(120)).await;
    all_there_once(&shore, &moto, &sent).await;
    eprintln!(
        "s3 down: 120 sent, 120 indexed and stored once; {} failed tries while the store was down ({index_url})",
        shore.metrics.index_errors.load(Ordering::SeqCst) - errors_before
    );
    shore.stop().await.unwrap();
}
