//! A storage worker: one consumer of the group. It takes back its own
//! pending entries after a restart, claims those of dead consumers, reads
//! new ones, stores each batch (files, then rows) on the blocking pool, and
//! only then acks (docs/design.md "Invariant").

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use seaframe_wire::CameraId;
use tokio_util::sync::CancellationToken;

use crate::adapters::queue::{Entry, Queue, QueueError, RawConn};
use crate::adapters::store::{Store, StoreError, Stored};
use crate::base::backoff::{Backoff, pause};
use crate::base::gps::state::Gps;
use crate::base::metrics::Metrics;
use crate::base::store::health::StoreState;
use crate::services::sharpness::Scorer;
use seaframe_wire::timestamp::Timestamp;

/// How long a blocking read waits, so that shutdown is noticed promptly.
const BLOCK_MS: u64 = 500;

#[derive(Debug)]
pub struct Worker {
    /// The consumer name; stable across restarts (`worker-0`, …) so that a
    /// restarted agent takes back its own pending entries at once.
    pub name: String,
    pub queue: Queue,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// Entries per read.
    pub batch_size: usize,
    /// Entries idle this long belong to a dead consumer and are claimed.
    pub claim_idle_ms: u64,
    /// Where frames are tagged with the ship's position.
    pub gps: Arc<Gps>,
    /// Measures the sharpness of (a sample of) the frames stored.
    pub sharpness: Option<Arc<Scorer>>,
}

impl Worker {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut conn: Option<RawConn> = None;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        // After a (re)connect, first take back our own pending entries.
        let mut own_pending = true;
        let mut last_claim = tokio::time::Instant::now();
        while !shutdown.is_cancelled() {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match self.connect().await {
                    Ok(c) => {
                        own_pending = true;
                        conn.insert(c)
                    }
                    Err(e) => {
                        tracing::debug!("worker cannot reach Redis: {e}");
                        if !pause(backoff.next_delay(), &shutdown).await {
                            break;
                        }
                        continue;
                    }
                },
            };
            let read = if own_pending {
                self.queue
                    .read_own_pending(c, &self.name, self.batch_size)
                    .await
            } else if last_claim.elapsed() >= Duration::from_millis(self.claim_idle_ms / 2) {
                last_claim = tokio::time::Instant::now();
                self.queue
                    .claim_stale(c, &self.name, self.claim_idle_ms, self.batch_size)
                    .await
            } else {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break,
                    read = self.queue.read_new(c, &self.name, self.batch_size, BLOCK_MS) => read,
                }
            };
            match read {
                Ok(entries) => {
                    backoff.reset();
                    if own_pending && entries.is_empty() {
                        own_pending = false;
                    }
                    if !entries.is_empty()
                        && let Err(e) = self.process(c, entries).await
                    {
                        tracing::warn!("worker lost Redis while acking: {e}");
                        conn = None;
                    }
                }
                Err(QueueError::NoGroup) => {
                    if let Err(e) = self.queue.recover_group(c).await {
                        tracing::debug!("cannot recreate the group: {e}");
                        conn = None;
                    }
                }
                Err(e) => {
                    tracing::debug!("worker read failed: {e}");
                    conn = None;
                    if !pause(backoff.next_delay(), &shutdown).await {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    async fn connect(&self) -> Result<RawConn, QueueError> {
        let mut c = self
            .queue
            .connect(Duration::from_millis(BLOCK_MS) + Duration::from_secs(5))
            .await?;
        self.queue.recover_group(&mut c).await?;
        Ok(c)
    }

    /// Indexes the files written while the index took no writes (from a
    /// minute before `since`, for batches already in hand then).
    async fn catch_up(&self, since: Timestamp) {
        let store = Arc::clone(&self.store);
        let from = Timestamp::from_unix_nanos(since.unix_nanos() - 60_000_000_000);
        match tokio::task::spawn_blocking(move || store.reconcile(Some(from))).await {
            Ok(Ok(report)) => tracing::info!(
                files_indexed = report.files_indexed,
                "the index takes writes again: indexed the frames written meanwhile"
            ),
            Ok(Err(e)) => {
                tracing::warn!("catching the index up: {e}");
                self.metrics.store_health.still_unindexed(since);
            }
            Err(e) => {
                tracing::warn!("catching the index up: {e}");
                self.metrics.store_health.still_unindexed(since);
            }
        }
    }

    /// Stores a batch and acks every entry of it: stored, or counted
    /// `failed` with the store's state (docs/design.md "When storing
    /// fails").
    async fn process(&self, conn: &mut RawConn, entries: Vec<Entry>) -> Result<(), QueueError> {
        let mut ack_ids = Vec::with_capacity(entries.len());
        let mut batch_ids = Vec::with_capacity(entries.len());
        let mut frames = Vec::with_capacity(entries.len());
        for e in entries {
            match e.frame {
                Some(f) => {
                    // Held by this worker from now on: a Redis that restarts
                    // empty meanwhile must not count these as lost.
                    self.metrics
                        .camera(&f.camera)
                        .in_flight
                        .fetch_add(1, Ordering::Relaxed);
                    batch_ids.push(e.id);
                    frames.push(f);
                }
                None => {
                    // Unreadable: nothing to store; counted on its camera
                    // when known, and acked away.
                    if let Some(camera) = &e.camera {
                        self.metrics
                            .camera(camera)
                            .failed
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    ack_ids.push(e.id);
                }
            }
        }
        // Positions: wait briefly for the fix after the newest frame (so
        // that it can be interpolated), then tag every frame.
        if let Some(newest) = frames.iter().map(|f| f.captured_at).max() {
            self.gps.wait_for_fix_after(newest).await;
        }
        for f in &mut frames {
            if f.position.is_none() {
                f.position = self.gps.position_at(f.captured_at);
            }
        }
        let held: Vec<CameraId> = frames.iter().map(|f| f.camera.clone()).collect();
        let store = Arc::clone(&self.store);
        let (frames, outcomes) = match tokio::task::spawn_blocking(move || {
            let outcomes = store.put_batch(&frames);
            (frames, outcomes)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => {
                // The blocking task panicked: its entries stay pending and
                // are retried (claimed after the idle time).
                tracing::error!("store task failed: {e}");
                for camera in &held {
                    self.metrics
                        .camera(camera)
                        .in_flight
                        .fetch_sub(1, Ordering::Relaxed);
                }
                return self.queue.ack(conn, &ack_ids).await;
            }
        };
        let now = Timestamp::now();
        let mut stored_any = false;
        let mut failures: Vec<(StoreState, String)> = Vec::new();
        for ((id, frame), outcome) in batch_ids.into_iter().zip(&frames).zip(outcomes) {
            let cam = self.metrics.camera(&frame.camera);
            cam.in_flight.fetch_sub(1, Ordering::Relaxed);
            // Every outcome is acked: a frame that cannot be stored now is
            // counted and let go, never left to grow the stream.
            ack_ids.push(id);
            match outcome {
                Ok(Stored::New) => {
                    stored_any = true;
                    cam.stored.fetch_add(1, Ordering::Relaxed);
                    if let Some(scorer) = &self.sharpness {
                        scorer.offer(frame);
                    }
                    let latency_ns = now
                        .unix_nanos()
                        .saturating_sub(frame.captured_at.unix_nanos());
                    self.metrics
                        .store_latency
                        .observe_ns(u64::try_from(latency_ns).unwrap_or(0));
                }
                Ok(Stored::Already) => stored_any = true,
                Err(e) => {
                    cam.failed.fetch_add(1, Ordering::Relaxed);
                    let state = match &e {
                        StoreError::DiskFull { .. } => StoreState::DiskFull,
                        StoreError::Io { .. } => StoreState::DiskUnwritable,
                        // The file is durably on disk; its row comes with
                        // the catch-up once the index takes writes again.
                        StoreError::Index(_) | StoreError::IndexWrite { .. } => {
                            StoreState::IndexUnwritable
                        }
                    };
                    failures.push((state, e.to_string()));
                }
            }
        }
        let health = &self.metrics.store_health;
        if let Some((state, error)) = failures.first() {
            health.failed(*state, error, failures.len() as u64);
        } else if stored_any && let Some(since) = health.stored() {
            self.catch_up(since).await;
        }
        let acked = self.queue.ack(conn, &ack_ids).await;
        if acked.is_ok() && !ack_ids.is_empty() {
            crate::base::faults::crash_point("store:acked");
        }
        acked
    }
}
