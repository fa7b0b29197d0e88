//! Several shore instances, as a fleet runs them: two instances in one share
//! group on one broker (mosquitto), one PostgreSQL index, one S3 bucket
//! (moto). PostgreSQL only (SQLite is one machine's index): skipped, with a
//! notice, without `SEAFRAME_TEST_PG_URL`.
//!
//! - Thumbnails from simulated vessels are each indexed exactly once, split
//!   between the instances (sent = indexed = objects, each once); each
//!   instance serves every thumbnail, the other's too, byte for byte; a
//!   page (an SSE client) open on one instance sees live, within a bound,
//!   what the other ingested (the latency is printed).
//! - One instance, a `seaframe-shore serve` child process, SIGKILLed in the
//!   middle of a paced burst: the survivor finds the dead instance's lease
//!   free, drains its broker session under its client id (what mosquitto
//!   had routed to it, and what it had in flight) and unsubscribes the
//!   share there, so that every thumbnail is indexed with the dead
//!   instance still dead, and the broker routes the whole load to the
//!   survivor; the dead instance, restarted, shares the load again.
//!   Nothing lost, nothing doubled (a message committed but not acked
//!   before the kill comes back and is counted a duplicate).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::s3::{ACCESS_KEY_ID, BUCKET, PREFIX, SECRET, blobs_config, key_of, objects};
use common::sse::SseReader;
use common::*;
use futures_util::StreamExt;
use seaframe_shore::adapters::config::Config;
use seaframe_shore::app::Shore;
use seaframe_shore::base::auth::role::Role;
use seaframe_testkit::{Child, MosquittoServer, MotoServer, free_port};
use seaframe_wire::Thumb;

const VESSELS: [&str; 4] = ["aurora", "boreas", "carina", "draco"];
const CAMERAS: [&str; 2] = ["mast", "bow"];

/// Thumbnail `i` of the fleet: four vessels, two cameras, a second apart.
fn fleet_thumb(i: i64) -> Thumb {
    let vessel = VESSELS[(i % 4) as usize];
    let camera = CAMERAS[(i / 4 % 2) as usize];
    thumb(vessel, camera, T0_NS + i * 1_000_000_000)
}

fn key(vessel: &str, camera: &str, captured_at_ns: i64) -> (String, String, i64) {
    (vessel.to_owned(), camera.to_owned(), captured_at_ns)
}

fn thumb_key(t: &Thumb) -> (String, String, i64) {
    key(
        t.meta.vessel.as_str(),
        t.meta.camera.as_str(),
        t.meta.captured_at_ns,
    )
}

fn shore_config(
    broker: &MosquittoServer,
    moto: &MotoServer,
    dir: &std::path::Path,
    index_url: &str,
    client_id: &str,
) -> Config {
    let mut cfg = config(&broker.url(), dir, client_id, Some(index_url));
    cfg.blobs = blobs_config(moto);
    cfg.mqtt.take_over_dead_peers = true;
    assert_eq!(cfg.validate(), [], "the config is valid");
    cfg
}

/// Queues a publish at QoS 1 without waiting for its PUBACK (a burst).
async fn send(vessel: &Publisher, t: &Thumb) {
    vessel
        .client
        .publish(
            thumb_topic(t.meta.vessel.as_str(), t.meta.camera.as_str()),
            rumqttc::QoS::AtLeastOnce,
            false,
            t.encode().unwrap(),
        )
        .await
        .unwrap();
}

fn processed(shore: &Shore) -> u64 {
    shore.metrics.thumbs_indexed.load(Ordering::SeqCst)
        + shore.metrics.thumbs_duplicate.load(Ordering::SeqCst)
}

/// Every row, by its thumbnail's key.
async fn rows(shore: &Shore) -> BTreeMap<(String, String, i64), i64> {
    let page = all_thumbs(&*shore.index).await;
    let mut out = BTreeMap::new();
    for r in page.rows {
        let k = key(r.vessel.as_str(), r.camera.as_str(), r.captured_at_ns);
        assert!(out.insert(k, r.id).is_none(), "one row per thumbnail");
    }
    out
}

/// sent = indexed = objects, each once, and every instance in `serving`
/// serves every thumbnail byte for byte.
async fn all_there_once(index_of: &Shore, serving: &[&Shore], moto: &MotoServer, sent: &[Thumb]) {
    let rows = rows(index_of).await;
    let expected: BTreeSet<_> = sent.iter().map(thumb_key).collect();
    assert_eq!(
        rows.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "indexed = sent"
    );
    let stored = objects(moto, PREFIX).await;
    let keys: BTreeMap<String, usize> = sent.iter().map(|t| (key_of(moto, t), 1)).collect();
    assert_eq!(stored, keys, "one object per thumbnail, under its key");
    let http = reqwest::Client::new();
    let fetches = sent.iter().flat_map(|t| {
        let id = rows[&thumb_key(t)];
        serving.iter().map(move |shore| (t, id, shore.addr))
    });
    futures_util::stream::iter(fetches)
        .for_each_concurrent(8, |(t, id, addr)| {
            let http = http.clone();
            async move {
                let r = http
                    .get(format!("http://{addr}/api/v1/thumbs/{id}/image"))
                    .bearer_auth(token(addr))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert_eq!(r.bytes().await.unwrap(), t.jpeg, "served byte for byte");
            }
        })
        .await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_fleet_serve_each_other_and_stream_live() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let Some(db) = pg_only("two_shores").await else {
        return;
    };
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).unwrap();
    let broker = MosquittoServer::start().unwrap();
    let (da, dbd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(shore_config(&broker, &moto, da.path(), &db.url, "shore-a")).await;
    let b = start(shore_config(&broker, &moto, dbd.path(), &db.url, "shore-b")).await;
    let mut page = SseReader::open(&format!("http://{}/api/v1/events", a.addr)).await;
    page.until("ready", Duration::from_secs(5)).await;
    let vessel = Publisher::connect(broker.port(), "fleet", None).await;

    // One at a time: how long until the page on A shows a thumbnail, by
    // which instance ingested it.
    const ONE_BY_ONE: i64 = 24;
    let mut latency: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for i in 0..ONE_BY_ONE {
        let t = fleet_thumb(i);
        let (a0, b0) = (processed(&a), processed(&b));
        let sent_at = Instant::now();
        send(&vessel, &t).await;
        let ev = page.until("thumb", Duration::from_secs(10)).await;
        let took = sent_at.elapsed();
        assert_eq!(ev["vessel"], t.meta.vessel.as_str(), "{ev}");
        assert_eq!(ev["camera"], t.meta.camera.as_str(), "{ev}");
        assert!(seen.insert(ev["id"].as_i64().unwrap()), "{ev} twice");
        until(10, "the thumbnail counted by its instance", || async {
            processed(&a) + processed(&b) > a0 + b0
        })
        .await;
        let by = if processed(&b) > b0 { "B" } else { "A" };
        latency.entry(by).or_default().push(took);
    }
    for (by, l) in &mut latency {
        l.sort();
        eprintln!(
            "two shores: publish → event on A's page, ingested by {by}: n = {}, p50 {} ms, max {} ms",
            l.len(),
            percentile(l, 0.5).as_millis(),
            l.last().unwrap().as_millis()
        );
    }
    let across = latency
        .get("B")
        .expect("B ingested some of them (shared subscription)");
    assert!(latency.contains_key("A"), "A ingested some of them");
    let worst = *across.last().unwrap();
    assert!(
        worst < Duration::from_secs(2),
        "live across instances within 2 s: {worst:?}"
    );
    // Woken by B's commit (LISTEN/NOTIFY), not by A's 500 ms poll.
    let median = percentile(across, 0.5);
    assert!(
        median < seaframe_shore::services::feed::POLL / 2,
        "across instances, woken by the commit: p50 {median:?}"
    );

    // A burst: split between the two, each thumbnail once on A's page.
    const BURST: i64 = 200;
    let sent: Vec<Thumb> = (0..ONE_BY_ONE + BURST).map(fleet_thumb).collect();
    for t in &sent[ONE_BY_ONE as usize..] {
        send(&vessel, t).await;
    }
    let started = Instant::now();
    while seen.len() < sent.len() {
        let ev = page.until("thumb", Duration::from_secs(20)).await;
        assert!(seen.insert(ev["id"].as_i64().unwrap()), "{ev} twice");
    }
    eprintln!(
        "two shores: the burst of {BURST} on A's page within {} ms",
        started.elapsed().as_millis()
    );
    let total = sent.len() as u64;
    until(20, "every thumbnail processed", || async {
        processed(&a) + processed(&b) >= total
    })
    .await;
    let (na, nb) = (
        a.metrics.thumbs_indexed.load(Ordering::SeqCst),
        b.metrics.thumbs_indexed.load(Ordering::SeqCst),
    );
    assert_eq!(na + nb, total, "each indexed once: {na} + {nb}");
    assert!(na > 0 && nb > 0, "the load is split: {na} + {nb}");
    assert_eq!(a.index.count_thumbs().await.unwrap(), total);
    all_there_once(&a, &[&a, &b], &moto, &sent).await;
    eprintln!("two shores: {total} sent = indexed = objects ({na} by A, {nb} by B)");
    drop(vessel);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    drop(db);
}

/// A `seaframe-shore serve` child process on the test's services.
fn spawn_shore(cfg_dir: &std::path::Path, toml: &str) -> (Child, std::net::SocketAddr) {
    let port = free_port().unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let path = cfg_dir.join("shore.toml");
    std::fs::write(&path, format!("{toml}\n[api]\nlisten = \"{addr}\"\n")).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_seaframe-shore"));
    cmd.args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn");
    (Child::spawn(cmd, "seaframe-shore").unwrap(), addr)
}

/// The child's config: the same services as the in-process instances.
fn child_toml(
    broker: &MosquittoServer,
    moto: &MotoServer,
    dir: &std::path::Path,
    index_url: &str,
    client_id: &str,
) -> String {
    format!(
        "data_dir = \"{}\"\n\
         [mqtt]\nurl = \"{}\"\nclient_id = \"{client_id}\"\ntake_over_dead_peers = true\n\
         [index]\nurl = \"{index_url}\"\n\
         [blobs]\nurl = \"s3://{BUCKET}/{PREFIX}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"{ACCESS_KEY_ID}\"\nsecret_access_key = \"{SECRET}\"\nallow_http = true\n",
        dir.display(),
        broker.url(),
        moto.endpoint()
    )
}

/// What the child says it indexed, from its `/metrics`.
async fn child_indexed(addr: std::net::SocketAddr, token: &str) -> Option<u64> {
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    let text = r.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("seaframe_shore_thumbs_indexed_total "))
        .and_then(|n| n.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_burst_loses_nothing_and_doubles_nothing() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let Some(db) = pg_only("two_shores_kill").await else {
        return;
    };
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).unwrap();
    let broker = MosquittoServer::start().unwrap();
    let (da, dbd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // A: a child process, so that it can be SIGKILLed; B: in-process.
    let (mut child, a_addr) = spawn_shore(
        da.path(),
        &child_toml(&broker, &moto, da.path(), &db.url, "shore-a"),
    );
    let http = reqwest::Client::new();
    let ready_by = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http.get(format!("http://{a_addr}/healthz")).send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(child.exited().is_none(), "shore A exited: {}", child.said());
        assert!(
            Instant::now() < ready_by,
            "shore A not subscribed: {}",
            child.said()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = start(shore_config(&broker, &moto, dbd.path(), &db.url, "shore-b")).await;
    let viewer = account_token(&*b.index, "kill-watcher", Role::Viewer).await;

    // A paced burst (~250 thumbnails/s) from a task of its own, A killed
    // in its middle.
    const N: i64 = 400;
    let sent: Vec<Thumb> = (0..N).map(fleet_thumb).collect();
    let vessel = Arc::new(Publisher::connect(broker.port(), "fleet", None).await);
    let queued = Arc::new(AtomicU64::new(0));
    // The second half waits for the kill, however slow the machine is.
    let killed = Arc::new(tokio::sync::Notify::new());
    let burst = {
        let (vessel, queued, sent) = (vessel.clone(), queued.clone(), sent.clone());
        let killed = killed.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(4));
            for (i, t) in sent.iter().enumerate() {
                if i == sent.len() / 2 {
                    killed.notified().await;
                }
                tick.tick().await;
                send(&vessel, t).await;
                queued.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    // Kill A once it has indexed a part of its share, mid-burst.
    let a_took =
        seaframe_testkit::wait_for("A indexing its share", Duration::from_secs(20), || {
            let viewer = viewer.clone();
            async move { child_indexed(a_addr, &viewer).await.filter(|n| *n >= 30) }
        })
        .await;
    let queued_at_kill = queued.load(Ordering::SeqCst);
    child.kill();
    killed.notify_one();
    assert!(
        queued_at_kill < N as u64,
        "killed in the middle of the burst ({queued_at_kill} of {N} sent)"
    );
    let b_at_kill = processed(&b);
    burst.await.unwrap();
    let acked = vessel.acked.clone();
    until(20, "every thumbnail accepted by the broker", || async {
        acked.load(Ordering::SeqCst) >= N as u64
    })
    .await;

    // The survivor takes the dead instance's share over: it drains A's
    // session under A's client id (A's lease is free) and unsubscribes it
    // there, so every thumbnail is indexed with A still dead.
    let index = b.index.clone();
    until(30, "every thumbnail indexed by the survivor alone", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() >= N as u64 }
    })
    .await;
    until(10, "A's session drained", || async {
        b.metrics.peer_sessions_drained.load(Ordering::SeqCst) == 1
    })
    .await;
    all_there_once(&b, &[&b], &moto, &sent).await;
    eprintln!(
        "kill: A indexed ≥ {a_took} then SIGKILL at {queued_at_kill}/{N} sent; B took {} after \
         the kill, A's session drained by B ({} redeliveries of what A had committed but not acked)",
        processed(&b) - b_at_kill,
        b.metrics.thumbs_duplicate.load(Ordering::SeqCst)
    );

    // From now on the broker routes the whole load to the survivor.
    const MORE: i64 = 100;
    let more: Vec<Thumb> = (N..N + MORE).map(fleet_thumb).collect();
    let b_before = processed(&b);
    for t in &more {
        send(&vessel, t).await;
    }
    until(20, "the survivor takes the whole load", || async {
        processed(&b) >= b_before + MORE as u64
    })
    .await;
    assert_eq!(b.index.count_thumbs().await.unwrap(), (N + MORE) as u64);

    // A comes back under its client id: it takes its lease, subscribes
    // again and shares the load; every thumbnail is there once.
    let a = start(shore_config(&broker, &moto, da.path(), &db.url, "shore-a")).await;
    const LAST: i64 = 100;
    let last: Vec<Thumb> = (N + MORE..N + MORE + LAST).map(fleet_thumb).collect();
    for t in &last {
        send(&vessel, t).await;
    }
    let total = (N + MORE + LAST) as u64;
    until(20, "every thumbnail indexed", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() >= total }
    })
    .await;
    assert!(processed(&a) > 0, "the restarted A shares the load again");
    let everything: Vec<Thumb> = sent.into_iter().chain(more).chain(last).collect();
    all_there_once(&b, &[&a, &b], &moto, &everything).await;
    assert_eq!(
        b.metrics.peer_sessions_drained.load(Ordering::SeqCst),
        1,
        "a live peer is never taken over"
    );
    eprintln!(
        "kill: {total} sent = indexed = objects; after its restart A took {}",
        processed(&a)
    );
    drop(vessel);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    drop(db);
}
