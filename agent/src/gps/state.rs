//! What the agent knows of position and time, shared between the GPS
//! reader (which writes) and capture, workers and the API (which read):
//! the timeline of fixes, the offset of GPS time from the system clock,
//! and counts of what was read and skipped.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use serde_json::{Value, json};

use super::fix::Fix;
use super::timeline::{Position, Timeline};
use crate::timestamp::Timestamp;

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
}

impl Gps {
    pub fn new(max_fix_age_s: u64) -> Self {
        Self {
            timeline: Mutex::new(Timeline::new(max_fix_age_s)),
            offset_ns: AtomicI64::new(0),
            offset_known: AtomicBool::new(false),
            sentences: AtomicU64::new(0),
            fixes: AtomicU64::new(0),
            skipped: Mutex::default(),
            state: Mutex::new("starting".into()),
        }
    }

    /// A fix, and the system time at which its sentence arrived.
    pub fn record(&self, fix: Fix, arrived: Timestamp) {
        self.offset_ns.store(
            fix.time.unix_nanos() - arrived.unix_nanos(),
            Ordering::Relaxed,
        );
        self.offset_known.store(true, Ordering::Relaxed);
        self.fixes.fetch_add(1, Ordering::Relaxed);
        self.timeline
            .lock()
            .expect("timeline lock poisoned")
            .push(fix);
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

    /// Fixes in `[from, to)`, at most one per `every_ms` (0: all).
    pub fn track(&self, from: Timestamp, to: Timestamp, every_ms: i64) -> Vec<Fix> {
        let timeline = self.timeline.lock().expect("timeline lock poisoned");
        let mut out: Vec<Fix> = Vec::new();
        for f in timeline.between(from, to) {
            let due = out
                .last()
                .is_none_or(|l| f.time.unix_millis() - l.time.unix_millis() >= every_ms);
            if due {
                out.push(f.clone());
            }
        }
        out
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
