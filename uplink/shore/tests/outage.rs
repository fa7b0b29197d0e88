//! A shore outage through the broker as shipped: three vessels publish a
//! thumbnail every 15 ms each (at most 200/s together, 3 vessels x 5
//! cameras; each waits for its PUBACK, ~130/s measured) while
//! the shore is stopped for 12 s (about 1,500 messages queued for its
//! session, measured and printed: more than mosquitto's default
//! `max_queued_messages` of 1000, which would lose some), then started
//! again: every thumbnail sent is indexed, each once.
#![allow(clippy::unwrap_used)]

mod common;
mod shipped;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use shipped::ShippedBroker;

const OUTAGE: Duration = Duration::from_secs(12);
/// One vessel's pace: a thumbnail every 15 ms, its 5 cameras in turn.
const EVERY: Duration = Duration::from_millis(15);
const CAMERAS: i64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_while_the_shore_is_down() {
    let dir = tempfile::tempdir().unwrap();
    for (index_url, _db) in index_urls(dir.path(), "outage").await {
        outage(&index_url).await;
    }
}

async fn outage(index_url: &str) {
    let fleet = ShippedBroker::start();
    let vessels = ["aurora", "boreas", "carina"];
    for v in vessels {
        fleet.enroll(v);
    }
    let data = tempfile::tempdir().unwrap();
    let cfg = fleet.shore_config(config(
        "mqtt://unused",
        data.path(),
        "seaframe-shore-shore",
        Some(index_url),
    ));
    let shore = start(cfg.clone()).await;

    let running = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for v in vessels {
        let client = fleet.vessel_client(v, &format!("seaframe-{v}")).await;
        let (running, sent) = (running.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            let mut n = 0i64;
            while running.load(Ordering::SeqCst) {
                tick.tick().await;
                let camera = format!("cam{}", n % CAMERAS);
                let t = thumb(v, &camera, T0_NS + n * 1_000_000);
                client
                    .publish(&thumb_topic(v, &camera), t.encode().unwrap())
                    .await;
                sent.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
        }));
    }

    let index = shore.index.clone();
    until(20, "the fleet's first thumbnails indexed", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() >= 100 }
    })
    .await;
    shore.stop().await.unwrap();
    let down_at = sent.load(Ordering::SeqCst);
    let started = Instant::now();
    // The stated outage: the test's own clock, not a wait for readiness.
    tokio::time::sleep(OUTAGE).await;
    let during = sent.load(Ordering::SeqCst) - down_at;
    eprintln!(
        "outage: {during} thumbnails sent in {:.1} s while the shore was down ({:.0}/s)",
        started.elapsed().as_secs_f64(),
        during as f64 / started.elapsed().as_secs_f64()
    );
    assert!(
        during > 1000,
        "the outage must outgrow mosquitto's default queue: {during}"
    );
    let shore = start(cfg).await;
    // The fleet goes on publishing while the shore drains the queue.
    let resumed_at = sent.load(Ordering::SeqCst);
    let index = shore.index.clone();
    until(60, "the queue drained while the fleet publishes", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() >= resumed_at }
    })
    .await;
    running.store(false, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }

    let total = sent.load(Ordering::SeqCst);
    let index = shore.index.clone();
    until(30, "every thumbnail sent indexed", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() >= total }
    })
    .await;
    assert_eq!(
        shore.index.count_thumbs().await.unwrap(),
        total,
        "sent = indexed"
    );
    assert!(
        !shore
            .metrics
            .render()
            .contains("seaframe_shore_messages_dropped_total{"),
        "nothing dropped"
    );
    eprintln!("outage: {total} sent, {total} indexed ({index_url})");
    shore.stop().await.unwrap();
}
