//! Retention while capture runs: with a small `retain_bytes`, usage stays
//! within the budget (give or take one pass), the oldest frames go first,
//! and the index and the disk agree afterwards, with no empty folders left.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{camera, jpeg_files, wait_for};
use seaframe_agent::adapters::store::FrameQuery;
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::Config;
use seaframe_testkit::RedisServer;
use seaframe_wire::timestamp::Timestamp;

/// Frames and index together (the index file is a good part of it).
const RETAIN_BYTES: u64 = 300_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_budget_keeps_the_newest_frames_within_it() {
    let redis = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n[queue]\nredis_url = \"{}\"\n\
         [retention]\nretain_bytes = {RETAIN_BYTES}\nmin_free_bytes = 0\n{}",
        dir.path().display(),
        redis.url(),
        camera("bow", "testpattern", 20.0, 320, 240)
    );
    let agent = Agent::start(Config::from_toml(&text, "test").unwrap())
        .await
        .unwrap();
    let m = agent.metrics().clone();
    let store = agent.store().clone();

    // Run until retention has had to delete a good many frames, checking the
    // budget as we go: never more than a few seconds of frames over it (a
    // pass runs every second; on a loaded machine it may come late).
    let mut worst_over = 0i64;
    wait_for(
        "retention to delete 60 frames",
        Duration::from_secs(60),
        || {
            let bytes = store.frames_bytes().unwrap();
            worst_over = worst_over.max(bytes as i64 - RETAIN_BYTES as i64);
            let deleted = m.retention_deleted.load(Ordering::Relaxed);
            async move { (deleted >= 60).then_some(()) }
        },
    )
    .await;
    let frame_bytes = {
        let rows = store.query(&all()).unwrap().frames;
        rows.iter().map(|r| r.bytes).sum::<u64>() / rows.len().max(1) as u64
    };
    assert!(
        worst_over <= (frame_bytes * 20 * 3) as i64,
        "{worst_over} bytes over budget, more than 3 s of frames ({frame_bytes} B each)"
    );

    agent.stop_capture();
    // Every frame captured is stored (or accounted for), then retention
    // has made its last pass.
    let cam = m.cameras()[0].clone();
    wait_for(
        "the last frames stored",
        Duration::from_secs(20),
        || async {
            let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            let settled = n(&cam.captured)
                == n(&cam.stored)
                    + n(&cam.trimmed)
                    + n(&cam.dropped)
                    + n(&cam.failed)
                    + n(&cam.lost)
                && n(&cam.in_flight) == 0;
            settled.then_some(())
        },
    )
    .await;
    wait_for("a last retention pass", Duration::from_secs(10), || async {
        (store.frames_bytes().unwrap() + store.index_disk_bytes() <= RETAIN_BYTES).then_some(())
    })
    .await;
    let rows = store.query(&all()).unwrap().frames;
    // The oldest went first: what is left is the newest, without holes.
    let captured = m.cameras()[0].captured.load(Ordering::Relaxed);
    let seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "holes in {seqs:?}"
    );
    assert!(
        *seqs.last().unwrap() + 25 >= captured,
        "the newest frames are kept"
    );
    assert!(seqs[0] > 0, "the oldest were deleted");
    // Index and disk agree; no empty folders are left behind.
    assert_eq!(jpeg_files(&dir.path().join("frames")).len(), rows.len());
    assert_no_empty_dirs(&dir.path().join("frames/bow"));
    agent.shutdown().await.unwrap();
}

fn all() -> FrameQuery {
    FrameQuery {
        camera: None,
        from: Timestamp::from_unix_nanos(i64::MIN),
        to: Timestamp::from_unix_nanos(i64::MAX),
        limit: 100_000,
        after: None,
    }
}

fn assert_no_empty_dirs(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            assert!(
                std::fs::read_dir(e.path()).unwrap().next().is_some(),
                "{} is empty",
                e.path().display()
            );
            assert_no_empty_dirs(&e.path());
        }
    }
}
