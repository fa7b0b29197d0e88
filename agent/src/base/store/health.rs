//! Whether frames are being stored, as the workers find out batch by
//! batch: `ok`, `disk_full` (no room for the file), `disk_unwritable` (the
//! file could not be written for another reason) or `index_unwritable`
//! (the file is on disk, its row could not be committed: locked, read-only,
//! broken). Shown in `/api/v1/status`, on every camera, and as the
//! `seaframe_store_state` gauge; logged when it changes and then at most
//! once a minute with how many frames it cost — never a line per frame.
//!
//! While the index is unwritable, frames still reach the disk and leave
//! the stream (Redis stays bounded); when a later batch commits again, the
//! worker indexes the files written meanwhile (a reconcile from when the
//! trouble began), so no file stays without its row.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use seaframe_wire::timestamp::Timestamp;

/// How often a lasting failure is logged again.
const LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreState {
    Ok,
    DiskFull,
    DiskUnwritable,
    IndexUnwritable,
}

impl StoreState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::DiskFull => "disk_full",
            Self::DiskUnwritable => "disk_unwritable",
            Self::IndexUnwritable => "index_unwritable",
        }
    }

    /// The `seaframe_store_state` gauge's value.
    pub fn gauge(self) -> u64 {
        match self {
            Self::Ok => 0,
            Self::DiskFull => 1,
            Self::DiskUnwritable => 2,
            Self::IndexUnwritable => 3,
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: StoreState,
    since: Option<Timestamp>,
    error: Option<String>,
    /// Frames not stored (or not indexed) since the last log line.
    unlogged: u64,
    logged_at: Option<Instant>,
    /// The index has missed rows since then (set while index_unwritable,
    /// taken by the catch-up).
    unindexed_since: Option<Timestamp>,
    /// What start-up had to do (a corrupt index moved aside).
    notes: Vec<String>,
}

#[derive(Debug)]
pub struct StoreHealth {
    inner: Mutex<Inner>,
}

impl Default for StoreHealth {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: StoreState::Ok,
                since: None,
                error: None,
                unlogged: 0,
                logged_at: None,
                unindexed_since: None,
                notes: Vec::new(),
            }),
        }
    }
}

impl StoreHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn state(&self) -> StoreState {
        self.lock().state
    }

    /// `frames` of a batch were not stored (or not indexed) because of
    /// `state`; logs on a change of state and then once a minute.
    pub fn failed(&self, state: StoreState, error: &str, frames: u64) {
        let mut h = self.lock();
        let changed = h.state != state;
        if changed {
            h.state = state;
            h.since = Some(Timestamp::now());
            h.logged_at = None;
            h.unlogged = 0;
        }
        h.error = Some(error.to_owned());
        h.unlogged += frames;
        if state == StoreState::IndexUnwritable && h.unindexed_since.is_none() {
            h.unindexed_since = Some(Timestamp::now());
        }
        if h.logged_at.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            tracing::error!(
                state = state.as_str(),
                frames = h.unlogged,
                "frames not stored: {error}{}",
                if changed {
                    ""
                } else {
                    " (still, over the last minute)"
                }
            );
            h.logged_at = Some(Instant::now());
            h.unlogged = 0;
        }
    }

    /// A batch was stored. Returns since when the index has rows to catch
    /// up with, if it was unwritable (the caller reconciles from there).
    pub fn stored(&self) -> Option<Timestamp> {
        let mut h = self.lock();
        if h.state != StoreState::Ok {
            tracing::info!(
                was = h.state.as_str(),
                "storing again (frames not stored since the last line: {})",
                h.unlogged
            );
            h.state = StoreState::Ok;
            h.since = None;
            h.error = None;
            h.unlogged = 0;
            h.logged_at = None;
        }
        h.unindexed_since.take()
    }

    /// The catch-up failed: try again after the next stored batch.
    pub fn still_unindexed(&self, since: Timestamp) {
        let mut h = self.lock();
        h.unindexed_since = Some(h.unindexed_since.map_or(since, |s| s.min(since)));
    }

    /// Something start-up did that people should know about.
    pub fn note(&self, note: String) {
        tracing::warn!("{note}");
        self.lock().notes.push(note);
    }

    /// The `store` object of `/api/v1/status`.
    pub fn to_json(&self) -> Value {
        let h = self.lock();
        json!({
            "state": h.state.as_str(),
            "since": h.since.map(Timestamp::to_rfc3339),
            "error": h.error,
            "notes": h.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_a_state_until_a_batch_is_stored_and_asks_for_a_catch_up() {
        let h = StoreHealth::default();
        assert_eq!(h.stored(), None);
        h.failed(StoreState::DiskFull, "disk full writing x", 3);
        assert_eq!(h.state(), StoreState::DiskFull);
        assert_eq!(h.to_json()["state"], "disk_full");
        assert_eq!(h.stored(), None, "a full disk leaves no file behind");
        h.failed(StoreState::IndexUnwritable, "database is locked", 16);
        h.failed(StoreState::IndexUnwritable, "database is locked", 16);
        assert_eq!(h.to_json()["error"], "database is locked");
        let since = h.stored().expect("rows to catch up with");
        assert_eq!(h.state(), StoreState::Ok);
        assert_eq!(h.stored(), None, "taken once");
        h.still_unindexed(since);
        assert_eq!(h.stored(), Some(since));
    }
}
