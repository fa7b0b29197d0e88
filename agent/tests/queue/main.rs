//! The Redis stream against a real redis-server: bounded with the oldest
//! undelivered frames trimmed and counted exactly per camera, pending
//! entries never trimmed, a dead consumer's entries claimed by another; the
//! producer riding out a Redis restart (losses counted); the agent's own
//! redis-server supervised, adopted, and saved at a clean stop; workers
//! storing into the real store and acking every entry away.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

#[path = "../common/mod.rs"]
mod common;
mod own_redis;
mod workers;

use common::wait_for;
use seaframe_agent::adapters::capture::testpattern::TestPattern;
use seaframe_agent::adapters::queue::{Queue, RawConn, STREAM_KEY};
use seaframe_agent::adapters::redis_server::OwnRedis;
use seaframe_agent::adapters::store::Store;
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::gps::state::Gps;
use seaframe_agent::base::handoff::Handoff;
use seaframe_agent::base::metrics::Metrics;
use seaframe_agent::services::producer::Producer;
use seaframe_agent::services::worker::Worker;
use seaframe_testkit::RedisServer;
use seaframe_wire::CameraId;
use seaframe_wire::timestamp::Timestamp;
use tokio_util::sync::CancellationToken;

fn frame(camera: &str, seq: u64) -> Frame {
    Frame {
        camera: CameraId::parse(camera).unwrap(),
        seq,
        captured_at: Timestamp::from_unix_millis(1_764_000_000_000 + seq as i64),
        width: 4,
        height: 4,
        jpeg: Bytes::from(vec![seq as u8; 100 + seq as usize]),
        clock: seaframe_agent::base::clock::ClockSource::System,
        position: None,
        sharpness: None,
    }
}

async fn setup(max_len: u64) -> (RedisServer, Queue, RawConn, Arc<Metrics>) {
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

/// Adds `frames` through a producer connection of their own.
async fn add(queue: &Queue, frames: &[Frame]) {
    queue
        .add(&mut queue.connect_producer().await.unwrap(), frames)
        .await
        .unwrap();
}

/// A redis-rs connection for commands the queue does not have.
async fn admin(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn count(
    m: &Metrics,
    cam: &str,
    f: fn(&seaframe_agent::base::metrics::CameraMetrics) -> u64,
) -> u64 {
    f(&m.camera(&CameraId::parse(cam).unwrap()))
}

#[tokio::test]
async fn frames_round_trip_with_their_bytes() {
    let (_redis, queue, mut conn, metrics) = setup(100).await;
    let frames: Vec<Frame> = (0..5).map(|i| frame("a", i)).collect();
    add(&queue, &frames).await;
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
        queue
            .add(&mut queue.connect_producer().await.unwrap(), chunk)
            .await
            .unwrap();
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
    add(&queue, &first).await;
    let held = queue.read_new(&mut conn, "w1", 4, 100).await.unwrap();
    assert_eq!(held.len(), 4);
    // 20 more: only undelivered entries may go.
    let more: Vec<Frame> = (10..30).map(|i| frame("a", i)).collect();
    add(&queue, &more).await;
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
async fn with_every_entry_held_the_newest_frame_still_goes_in() {
    let (_redis, queue, mut conn, metrics) = setup(10).await;
    let first: Vec<Frame> = (0..10).map(|i| frame("a", i)).collect();
    add(&queue, &first).await;
    let held = queue.read_new(&mut conn, "w1", 10, 100).await.unwrap();
    assert_eq!(held.len(), 10);
    // Nothing undelivered to trim: of a batch, only its newest stays.
    let more: Vec<Frame> = (10..15).map(|i| frame("a", i)).collect();
    add(&queue, &more).await;
    assert_eq!(queue.len(&mut conn).await.unwrap(), 11);
    assert_eq!(
        count(&metrics, "a", |c| c.trimmed.load(Ordering::Relaxed)),
        4
    );
    let fresh = queue.read_new(&mut conn, "w2", 10, 100).await.unwrap();
    assert_eq!(seqs_of(&fresh), [14]);
}

#[tokio::test]
async fn frames_added_while_the_group_is_missing_go_in_once() {
    let (server, queue, mut conn, metrics) = setup(100).await;
    queue
        .add(
            &mut queue.connect_producer().await.unwrap(),
            &[frame("a", 0)],
        )
        .await
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(STREAM_KEY)
        .arg("store")
        .query_async(&mut admin(&server.url()).await)
        .await
        .unwrap();
    // The stream is there, its group is not: the frames go in, the group
    // is recreated at 0, and nothing is added twice.
    let frames: Vec<Frame> = (1..4).map(|i| frame("a", i)).collect();
    add(&queue, &frames).await;
    let got = queue.read_new(&mut conn, "w", 100, 100).await.unwrap();
    assert_eq!(seqs_of(&got), [0, 1, 2, 3]);
    assert_eq!(
        count(&metrics, "a", |c| c.enqueued.load(Ordering::Relaxed)),
        4
    );
}

#[tokio::test]
async fn an_empty_redis_takes_nothing_until_the_group_is_back() {
    let (server, queue, mut conn, metrics) = setup(100).await;
    let _: () = redis::cmd("DEL")
        .arg(STREAM_KEY)
        .query_async(&mut admin(&server.url()).await)
        .await
        .unwrap();
    let err = queue
        .add(
            &mut queue.connect_producer().await.unwrap(),
            &[frame("a", 0)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, seaframe_agent::adapters::queue::QueueError::NoGroup),
        "{err}"
    );
    assert_eq!(queue.len(&mut conn).await.unwrap(), 0, "no stream made");
    assert_eq!(
        count(&metrics, "a", |c| c.enqueued.load(Ordering::Relaxed)),
        0
    );
}

#[tokio::test]
async fn a_dead_consumers_entries_are_claimed_by_another() {
    let (server, queue, mut conn, metrics) = setup(100).await;
    let frames: Vec<Frame> = (0..6).map(|i| frame("a", i)).collect();
    add(&queue, &frames).await;
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
            async move {
                let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
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
        .query_async(&mut admin(&server.url()).await)
        .await
        .unwrap();
    assert_eq!(
        pending[0],
        redis::Value::Int(0),
        "nothing pending: {pending:?}"
    );
}

fn seqs_of(entries: &[seaframe_agent::adapters::queue::Entry]) -> Vec<u64> {
    entries
        .iter()
        .map(|e| e.frame.as_ref().unwrap().seq)
        .collect()
}

async fn pending_count(conn: &mut redis::aio::MultiplexedConnection) -> i64 {
    let summary: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(STREAM_KEY)
        .arg("store")
        .query_async(conn)
        .await
        .unwrap();
    match summary[0] {
        redis::Value::Int(n) => n,
        ref other => panic!("XPENDING: {other:?}"),
    }
}

#[tokio::test]
async fn the_producer_keeps_frames_while_redis_is_away_and_counts_what_redis_lost() {
    let (mut redis, queue, _conn, metrics) = setup(100).await;
    let handoff = Handoff::new(128, Arc::clone(&metrics));
    let shutdown = CancellationToken::new();
    let producer = tokio::spawn(
        Producer {
            queue: queue.clone(),
            handoff: handoff.clone(),
        }
        .run(shutdown.clone()),
    );
    let enqueued = |m: &Metrics| count(m, "a", |c| c.enqueued.load(Ordering::Relaxed));
    for seq in 0..10 {
        handoff.push(frame("a", seq));
    }
    wait_for("10 frames in the stream", Duration::from_secs(5), || {
        let n = enqueued(&metrics);
        async move { (n == 10).then_some(()) }
    })
    .await;

    // Redis dies with those 10; 10 more frames arrive meanwhile.
    redis.kill();
    for seq in 10..20 {
        handoff.push(frame("a", seq));
    }
    redis.restart().unwrap();
    wait_for(
        "the frames held back to reach the new Redis",
        Duration::from_secs(15),
        || {
            let n = enqueued(&metrics);
            async move { (n == 20).then_some(()) }
        },
    )
    .await;

    let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
    let kept = queue.read_new(&mut conn, "w", 100, 100).await.unwrap();
    assert_eq!(
        seqs_of(&kept),
        (10..20).collect::<Vec<_>>(),
        "nothing held back was lost"
    );
    let lost = count(&metrics, "a", |c| c.lost.load(Ordering::Relaxed));
    let dropped = count(&metrics, "a", |c| c.dropped.load(Ordering::Relaxed));
    assert_eq!((lost, dropped), (10, 0), "only what Redis held is lost");
    assert!(metrics.redis_reconnects.load(Ordering::Relaxed) >= 1);
    // enqueued = stored + trimmed + failed + lost + in the stream
    assert_eq!(enqueued(&metrics), lost + kept.len() as u64);

    shutdown.cancel();
    producer.await.unwrap().unwrap();
}
