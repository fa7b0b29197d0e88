//! The agent's observable numbers: per-camera counters and state, pipeline
//! gauges and the store-latency histogram. Stages update them with relaxed
//! atomics; the API renders them (`/api/v1/cameras`, `/metrics`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use seaframe_wire::CameraId;
use serde::Serialize;

use crate::base::store::health::StoreHealth;
use seaframe_wire::timestamp::Timestamp;

/// A camera's health as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CameraState {
    /// Not yet connected or no frame yet.
    Starting,
    /// Frames are arriving.
    Ok,
    /// The last attempt failed; the next one comes after a back-off.
    Retrying { error: String, retry_in_ms: u64 },
    /// The camera's task has ended (shutdown or removed).
    Stopped,
}

/// Counters of one camera. Every frame captured ends in exactly one of
/// stored / trimmed / dropped / failed (or is still in flight).
#[derive(Debug)]
pub struct CameraMetrics {
    pub id: CameraId,
    pub fps: f64,
    /// Frames the source delivered (valid JPEGs).
    pub captured: AtomicU64,
    /// Frames added to the Redis stream.
    pub enqueued: AtomicU64,
    /// Frames written to disk and indexed.
    pub stored: AtomicU64,
    /// Frames trimmed from the stream by `queue.max_len` before a worker took them.
    pub trimmed: AtomicU64,
    /// Frames dropped before the stream (hand-off full while Redis was away).
    pub dropped: AtomicU64,
    /// Frames a worker could not store (disk full, IO error).
    pub failed: AtomicU64,
    /// Frames lost with a Redis that died holding them (counted on recovery).
    pub lost: AtomicU64,
    /// Frames a worker holds right now (read from the stream, not yet acked).
    pub in_flight: AtomicU64,
    /// Failed capture attempts (connection refused, timeout, bad JPEG).
    pub capture_errors: AtomicU64,
    /// Capture time of the newest frame, Unix ns (0: none yet).
    pub last_frame_ns: AtomicI64,
    state: Mutex<CameraState>,
}

impl CameraMetrics {
    pub fn new(id: CameraId, fps: f64) -> Self {
        Self {
            id,
            fps,
            captured: AtomicU64::new(0),
            enqueued: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            trimmed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            capture_errors: AtomicU64::new(0),
            last_frame_ns: AtomicI64::new(0),
            state: Mutex::new(CameraState::Starting),
        }
    }

    pub fn state(&self) -> CameraState {
        self.state.lock().expect("state lock poisoned").clone()
    }

    pub fn set_state(&self, state: CameraState) {
        *self.state.lock().expect("state lock poisoned") = state;
    }

    pub fn last_frame(&self) -> Option<Timestamp> {
        match self.last_frame_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Timestamp::from_unix_nanos(ns)),
        }
    }
}

/// A histogram with fixed bucket bounds, Prometheus style.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, in seconds, ascending.
    pub bounds_s: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_ns: AtomicU64,
    count: AtomicU64,
}

/// Bucket bounds for capture→indexed latency, in seconds.
pub const LATENCY_BOUNDS_S: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Histogram {
    pub fn new(bounds_s: &'static [f64]) -> Self {
        Self {
            bounds_s,
            counts: bounds_s.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe_ns(&self, ns: u64) {
        let s = ns as f64 / 1e9;
        if let Some(i) = self.bounds_s.iter().position(|b| s <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative counts per bound, the sum in seconds and the total count.
    pub fn snapshot(&self) -> (Vec<u64>, f64, u64) {
        let mut acc = 0;
        let cumulative = self
            .counts
            .iter()
            .map(|c| {
                acc += c.load(Ordering::Relaxed);
                acc
            })
            .collect();
        (
            cumulative,
            self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            self.count.load(Ordering::Relaxed),
        )
    }
}

/// Everything the agent counts. Shared as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    cameras: RwLock<BTreeMap<CameraId, Arc<CameraMetrics>>>,
    /// Entries in the Redis stream, as last seen.
    pub queue_len: AtomicU64,
    /// Frames waiting in the hand-off to the stream.
    pub handoff_len: AtomicU64,
    /// Entries a worker claimed from a dead consumer (XAUTOCLAIM).
    pub claimed: AtomicU64,
    /// Times the Redis connection was lost and re-established.
    pub redis_reconnects: AtomicU64,
    /// Times the agent's own redis-server died and was started again.
    pub redis_restarts: Arc<AtomicU64>,
    /// Frames deleted by retention (age, size or free-space budget).
    pub retention_deleted: AtomicU64,
    /// Capture → row committed, per stored frame.
    pub store_latency: Histogram,
    /// Whether frames are being stored (disk full, index unwritable…).
    pub store_health: StoreHealth,
    pub uplink: UplinkMetrics,
    /// The disk watch (`fswatch/`).
    pub watch: crate::base::fswatch::counters::WatchMetrics,
}

/// What the uplink counts (all zero without `[uplink]`).
#[derive(Debug, Default)]
pub struct UplinkMetrics {
    /// Thumbnails made and put in the outbox.
    pub thumbs_made: AtomicU64,
    /// Frames whose thumbnail could not be made (file gone, bad JPEG).
    pub thumbs_failed: AtomicU64,
    /// Thumbnails the broker acknowledged (PUBACK), and their payload bytes.
    pub thumbs_sent: AtomicU64,
    pub thumb_bytes_sent: AtomicU64,
    /// Fixes of the track the broker acknowledged.
    pub fixes_sent: AtomicU64,
    /// Thumbnails the full outbox thinned away, or dropped whole.
    pub thumbs_thinned: AtomicU64,
    pub thumbs_dropped: AtomicU64,
    /// Thumbnails waiting in the outbox, and their bytes (gauges).
    pub outbox_backlog: AtomicU64,
    pub outbox_bytes: AtomicU64,
    /// 0 offline, 1 catch-up, 2 live.
    pub link_state: AtomicU64,
    /// Broker sessions established.
    pub mqtt_connects: AtomicU64,
    /// When the broker last answered (Unix ns; 0: never).
    pub last_contact_ns: AtomicI64,
    /// Configs pushed from shore and applied, rejected, or rolled back
    /// (a link change that did not reach the broker in time).
    pub configs_applied: AtomicU64,
    pub configs_rejected: AtomicU64,
    pub configs_rolled_back: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            cameras: RwLock::default(),
            queue_len: AtomicU64::new(0),
            handoff_len: AtomicU64::new(0),
            claimed: AtomicU64::new(0),
            redis_reconnects: AtomicU64::new(0),
            redis_restarts: Arc::default(),
            retention_deleted: AtomicU64::new(0),
            store_latency: Histogram::new(LATENCY_BOUNDS_S),
            store_health: StoreHealth::default(),
            uplink: UplinkMetrics::default(),
            watch: crate::base::fswatch::counters::WatchMetrics::default(),
        }
    }
}

impl Metrics {
    /// The counters of `id`, created on first use (a frame of a camera that
    /// was removed from the config may still be in the stream).
    pub fn camera(&self, id: &CameraId) -> Arc<CameraMetrics> {
        if let Some(m) = self.cameras.read().expect("metrics lock poisoned").get(id) {
            return Arc::clone(m);
        }
        let mut map = self.cameras.write().expect("metrics lock poisoned");
        Arc::clone(
            map.entry(id.clone())
                .or_insert_with(|| Arc::new(CameraMetrics::new(id.clone(), 0.0))),
        )
    }

    /// Registers a configured camera (its fps shows in `/cameras`).
    pub fn register_camera(&self, id: &CameraId, fps: f64) -> Arc<CameraMetrics> {
        let mut map = self.cameras.write().expect("metrics lock poisoned");
        let m = map
            .entry(id.clone())
            .or_insert_with(|| Arc::new(CameraMetrics::new(id.clone(), fps)));
        if m.fps != fps {
            let fresh = CameraMetrics::new(id.clone(), fps);
            for (dst, src) in [
                (&fresh.captured, &m.captured),
                (&fresh.enqueued, &m.enqueued),
                (&fresh.stored, &m.stored),
                (&fresh.trimmed, &m.trimmed),
                (&fresh.dropped, &m.dropped),
                (&fresh.failed, &m.failed),
                (&fresh.lost, &m.lost),
                (&fresh.capture_errors, &m.capture_errors),
            ] {
                dst.store(src.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            *m = Arc::new(fresh);
        }
        Arc::clone(m)
    }

    /// All cameras, ordered by id.
    pub fn cameras(&self) -> Vec<Arc<CameraMetrics>> {
        self.cameras
            .read()
            .expect("metrics lock poisoned")
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let h = Histogram::new(&[0.01, 0.1, 1.0]);
        h.observe_ns(5_000_000);
        h.observe_ns(50_000_000);
        h.observe_ns(5_000_000_000);
        let (cum, sum_s, n) = h.snapshot();
        assert_eq!(cum, [1, 2, 2]);
        assert_eq!(n, 3);
        assert!((sum_s - 5.055).abs() < 1e-9);
    }

    #[test]
    fn cameras_are_created_once_and_keep_counts() {
        let m = Metrics::default();
        let id = CameraId::parse("a").unwrap();
        m.camera(&id).stored.fetch_add(3, Ordering::Relaxed);
        let r = m.register_camera(&id, 5.0);
        assert_eq!(r.stored.load(Ordering::Relaxed), 3);
        assert_eq!(r.fps, 5.0);
        assert_eq!(m.cameras().len(), 1);
    }
}
