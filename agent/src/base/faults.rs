//! Crash points for tests: when `SEAFRAME_CRASH_AT` names a point
//! (`store:renamed`, or `store:renamed@7` for its 7th pass), the process
//! aborts there (no destructors, no flushing — like a power cut or
//! SIGKILL), so that tests can prove a restart repairs every step of storing
//! and deleting. Without the variable this is one cached lookup.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The points, in the order a frame passes them.
pub const POINTS: &[&str] = &[
    "store:tmp-written",
    "store:renamed",
    "store:committed",
    "store:acked",
    "delete:marked",
    "delete:unlinked",
];

/// The armed point and at which pass it fires (1: the first).
fn armed() -> Option<&'static (String, u64)> {
    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let v = std::env::var("SEAFRAME_CRASH_AT").ok()?;
            Some(match v.split_once('@') {
                Some((point, n)) => (point.to_owned(), n.parse().unwrap_or(1)),
                None => (v, 1),
            })
        })
        .as_ref()
}

/// Aborts the process if the test armed `point` and this is its pass.
pub fn crash_point(point: &str) {
    static PASSES: AtomicU64 = AtomicU64::new(0);
    if let Some((armed, at)) = armed()
        && armed == point
        && PASSES.fetch_add(1, Ordering::Relaxed) + 1 == *at
    {
        eprintln!("crash point {point} (pass {at}): aborting");
        std::process::abort();
    }
}
