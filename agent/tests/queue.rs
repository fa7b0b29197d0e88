//! The Redis stream against a real redis-server: bounded with the oldest
//! undelivered frames trimmed and counted exactly per camera, pending
//! entries never trimmed, a dead consumer's entries claimed by another.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
mod common;

use common::wait_for;
use seaframe_agent::frame::Frame;
use seaframe_agent::metrics::Metrics;
use seaframe_agent::queue::{Queue, STREAM_KEY};
use seaframe_agent::timestamp::Timestamp;
use seaframe_testkit::RedisServer;
use seaframe_wire::CameraId;

fn frame(camera: &str, seq: u64) -> Frame {
    Frame {
        camera: CameraId::parse(camera).unwrap(),
        seq,
        captured_at: Timestamp::from_unix_millis(1_764_000_000_000 + seq as i64),
        width: 4,
        height: 4,
        jpeg: Bytes::from(vec![seq as u8; 100 + seq as usize]),
        clock: seaframe_agent::clock::ClockSource::System,
        position: None,
    }
}

async fn setup(
    max_len: u64,
) -> (
    RedisServer,
    Queue,
    redis::aio::MultiplexedConnection,
    Arc<Metrics>,
) {
    let redis = RedisServer::start().unwrap();
    let metrics = Arc::new(Metrics::default());
    let queue = Queue::new(&redis.url(), max_len, Arc::clone(&metrics)).unwrap();
    let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
    assert!(
        queue.ensure_group(&mut conn).await.unwrap(),
        "a fresh Redis has no group"
    );
    assert!(
        !queue.ensure_group(&mut conn).await.unwrap(),
        "created once"
    );
    (redis, queue, conn, metrics)
}

fn count(m: &Metrics, cam: &str, f: fn(&seaframe_agent::metrics::CameraMetrics) -> u64) -> u64 {
    f(&m.camera(&CameraId::parse(cam).unwrap()))
}

#[tokio::test]
async fn frames_round_trip_with_their_bytes() {
    let (_redis, queue, mut conn, metrics) = setup(100).await;
    let frames: Vec<Frame> = (0..5).map(|i| frame("a", i)).collect();
    queue.add(&mut conn, &frames).await.unwrap();
    let got = queue.read_new(&mut conn, "w", 10, 100).await.unwrap();
    let got: Vec<Frame> = got.into_iter().map(|e| e.frame.unwrap()).collect();
    assert_eq!(got, frames);
    assert_eq!(
        count(&metrics, "a", |c| c.enqueued.load(Ordering::Relaxed)),
        5
    );
}

#[tokio::test]
async fn stalled_workers_the_stream_keeps_the_newest_and_counts_every_trim() {
    let (_redis, queue, mut conn, metrics) = setup(50).await;
    // 2 cameras, 130 frames each, interleaved; nobody reads.
    let mut all = Vec::new();
    for seq in 0..130 {
        all.push(frame("a", seq));
        all.push(frame("b", seq));
    }
    for chunk in all.chunks(7) {
        queue.add(&mut conn, chunk).await.unwrap();
    }
    assert_eq!(queue.len(&mut conn).await.unwrap(), 50);
    let kept = queue.read_new(&mut conn, "w", 1000, 100).await.unwrap();
    let kept: Vec<(String, u64)> = kept
        .iter()
        .map(|e| e.frame.as_ref().unwrap())
        .map(|f| (f.camera.to_string(), f.seq))
        .collect();
    let newest: Vec<(String, u64)> = all[all.len() - 50..]
        .iter()
        .map(|f| (f.camera.to_string(), f.seq))
        .collect();
    assert_eq!(kept, newest, "the newest 50 are kept, in order");
    let trimmed_a = count(&metrics, "a", |c| c.trimmed.load(Ordering::Relaxed));
    let trimmed_b = count(&metrics, "b", |c| c.trimmed.load(Ordering::Relaxed));
    assert_eq!((trimmed_a, trimmed_b), (105, 105));
    assert_eq!(trimmed_a + trimmed_b, 260 - 50);
}

#[tokio::test]
async fn entries_held_by_a_worker_are_never_trimmed() {
    let (_redis, queue, mut conn, metrics) = setup(10).await;
    let first: Vec<Frame> = (0..10).map(|i| frame("a", i)).collect();
    queue.add(&mut conn, &first).await.unwrap();
    let held = queue.read_new(&mut conn, "w1", 4, 100).await.unwrap();
    assert_eq!(held.len(), 4);
    // 20 more: only undelivered entries may go.
    let more: Vec<Frame> = (10..30).map(|i| frame("a", i)).collect();
    queue.add(&mut conn, &more).await.unwrap();
    assert_eq!(queue.len(&mut conn).await.unwrap(), 10);
    assert_eq!(
        count(&metrics, "a", |c| c.trimmed.load(Ordering::Relaxed)),
        20
    );
    // The held four are still there for their worker to ack.
    let pending = queue.read_own_pending(&mut conn, "w1", 10).await.unwrap();
    let seqs: Vec<u64> = pending
        .iter()
        .map(|e| e.frame.as_ref().unwrap().seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    let ids: Vec<String> = pending.into_iter().map(|e| e.id).collect();
    queue.ack(&mut conn, &ids).await.unwrap();
    assert_eq!(
        queue.len(&mut conn).await.unwrap(),
        6,
        "acked entries leave the stream"
    );
}

#[tokio::test]
async fn a_dead_consumers_entries_are_claimed_by_another() {
    let (_redis, queue, mut conn, metrics) = setup(100).await;
    let frames: Vec<Frame> = (0..6).map(|i| frame("a", i)).collect();
    queue.add(&mut conn, &frames).await.unwrap();
    let taken = queue.read_new(&mut conn, "dead", 6, 100).await.unwrap();
    assert_eq!(taken.len(), 6); // …and "dead" never acks.
    // Entries idle < min_idle stay with their consumer.
    assert!(
        queue
            .claim_stale(&mut conn, "alive", 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = wait_for(
        "entries idle 50 ms to be claimable",
        Duration::from_secs(5),
        || {
            let queue = queue.clone();
            let mut conn = conn.clone();
            async move {
                let c = queue.claim_stale(&mut conn, "alive", 50, 10).await.unwrap();
                (!c.is_empty()).then_some(c)
            }
        },
    )
    .await;
    let seqs: Vec<u64> = claimed
        .iter()
        .map(|e| e.frame.as_ref().unwrap().seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5]);
    assert_eq!(metrics.claimed.load(Ordering::Relaxed), 6);
    let ids: Vec<String> = claimed.into_iter().map(|e| e.id).collect();
    queue.ack(&mut conn, &ids).await.unwrap();
    let pending: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(STREAM_KEY)
        .arg("store")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        pending[0],
        redis::Value::Int(0),
        "nothing pending: {pending:?}"
    );
}
