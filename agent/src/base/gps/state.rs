//! What the agent knows of position and time, shared between the GPS
//! reader (which writes) and capture, workers and the API (which read):
//! the timeline of fixes, the offset of GPS time from the system clock,
//! and counts of what was read and skipped.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::base::gps::fix::Fix;
use crate::base::gps::timeline::{Position, Timeline};
use seaframe_wire::timestamp::Timestamp;

#[derive(Debug)]
pub struct Gps {
    timeline: Mutex<Timeline>,
    /// GPS time minus system time when the latest fix arrived, ns.
    offset_ns: AtomicI64,
    offset_known: AtomicBool,
    pub sentences: AtomicU64,
    pub fixes: AtomicU64,
    skipped: Mutex<BTreeMap<String, u64>>,
    state: Mutex<String>,
    /// Added to the system clock when fixes arrive: tests fake a board's
    /// bad clock, or one that steps while the agent runs.
    skew_ns: AtomicI64,
    new_fix: tokio::sync::Notify,
}

/// The longest a frame waits for the fix after it, so that its position
/// can be interpolated rather than taken from the fix before.
pub const MAX_WAIT_FOR_NEXT_FIX: Duration = Duration::from_millis(1500);

impl Gps {
    pub fn new(max_fix_age_s: u64) -> Self {
        Self::with_clock_skew(max_fix_age_s, 0)
    }

    /// A GPS state on a board whose system clock is `skew_ns` off (tests).
    pub fn with_clock_skew(max_fix_age_s: u64, skew_ns: i64) -> Self {
        Self {
            skew_ns: AtomicI64::new(skew_ns),
            new_fix: tokio::sync::Notify::new(),
            timeline: Mutex::new(Timeline::new(max_fix_age_s)),
            offset_ns: AtomicI64::new(0),
            offset_known: AtomicBool::new(false),
            sentences: AtomicU64::new(0),
            fixes: AtomicU64::new(0),
            skipped: Mutex::default(),
            state: Mutex::new("starting".into()),
        }
    }

    /// The skew of the board's system clock (0 but in tests).
    pub fn skew_ns(&self) -> i64 {
        self.skew_ns.load(Ordering::Relaxed)
    }

    /// Tests: the board's system clock steps (NTP correcting it) by
    /// `delta_ns` from now on.
    pub fn step_clock(&self, delta_ns: i64) {
        self.skew_ns.fetch_add(delta_ns, Ordering::Relaxed);
    }

    /// A fix, and the system time (`Timestamp::now()`) its sentence arrived.
    pub fn record(&self, fix: Fix, arrived: Timestamp) {
        let system = arrived.unix_nanos().saturating_add(self.skew_ns());
        self.offset_ns
            .store(fix.time.unix_nanos() - system, Ordering::Relaxed);
        self.offset_known.store(true, Ordering::Relaxed);
        self.fixes.fetch_add(1, Ordering::Relaxed);
        self.timeline
            .lock()
            .expect("timeline lock poisoned")
            .push(fix);
        self.new_fix.notify_waiters();
    }

    /// Waits (at most [`MAX_WAIT_FOR_NEXT_FIX`]) until a fix at or after
    /// `t` is known — when fixes are flowing and the next one is due —
    /// so that a frame at `t` gets an interpolated position.
    pub async fn wait_for_fix_after(&self, t: Timestamp) {
        let deadline = tokio::time::Instant::now() + MAX_WAIT_FOR_NEXT_FIX;
        loop {
            let notified = self.new_fix.notified();
            let (latest, interval_ns) = {
                let timeline = self.timeline.lock().expect("timeline lock poisoned");
                (timeline.latest().map(|f| f.time), timeline.interval_ns())
            };
            let Some(latest) = latest else { return };
            let behind_ns = t.unix_nanos() - latest.unix_nanos();
            // Caught up, or the fixes have stopped coming: tag with what there is.
            if behind_ns <= 0 || behind_ns > interval_ns.saturating_mul(2) + 500_000_000 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// GPS time minus system time, once a fix with a date has been seen.
    pub fn offset_ns(&self) -> Option<i64> {
        self.offset_known
            .load(Ordering::Relaxed)
            .then(|| self.offset_ns.load(Ordering::Relaxed))
    }

    pub fn position_at(&self, t: Timestamp) -> Option<Position> {
        self.timeline
            .lock()
            .expect("timeline lock poisoned")
            .position_at(t)
    }

    pub fn latest(&self) -> Option<Fix> {
        self.timeline
            .lock()
            .expect("timeline lock poisoned")
            .latest()
            .cloned()
    }

    /// The fixes from `from` on, in time order (for the track recorder).
    pub fn fixes_from(&self, from: Timestamp) -> Vec<Fix> {
        let timeline = self.timeline.lock().expect("timeline lock poisoned");
        timeline
            .between(from, Timestamp::from_unix_nanos(i64::MAX))
            .cloned()
            .collect()
    }

    pub fn count_skipped(&self, kind: &str) {
        *self
            .skipped
            .lock()
            .expect("skipped lock poisoned")
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    pub fn set_state(&self, state: impl Into<String>) {
        *self.state.lock().expect("state lock poisoned") = state.into();
    }

    /// The fix state for `/api/v1/status`.
    pub fn status(&self) -> Value {
        let latest = self.latest();
        json!({
            "state": *self.state.lock().expect("state lock poisoned"),
            "sentences": self.sentences.load(Ordering::Relaxed),
            "fixes": self.fixes.load(Ordering::Relaxed),
            "skipped": *self.skipped.lock().expect("skipped lock poisoned"),
            "latest": latest.map(|f| json!({
                "time": f.time.to_rfc3339(),
                "lat": f.lat,
                "lon": f.lon,
                "fix": f.quality_name(),
                "satellites": f.satellites,
                "hdop": f.hdop,
                "speed_kn": f.speed_kn,
                "course_deg": f.course_deg,
                "heading_deg": f.heading_deg,
            })),
        })
    }
}
