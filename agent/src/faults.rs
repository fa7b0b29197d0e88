//! Crash points for tests: when `SEAFRAME_CRASH_AT` names a point, the
//! process aborts there (no destructors, no flushing — like a power cut or
//! SIGKILL), so that tests can prove a restart repairs every step of storing
//! and deleting. Without the variable this is one cached lookup.

use std::sync::OnceLock;

/// The points, in the order the store passes them.
pub const POINTS: &[&str] = &[
    "store:tmp-written",
    "store:renamed",
    "store:committed",
    "delete:marked",
    "delete:unlinked",
];

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var("SEAFRAME_CRASH_AT").ok())
        .as_deref()
}

/// Aborts the process if the test armed `point`.
pub fn crash_point(point: &str) {
    if armed() == Some(point) {
        eprintln!("crash point {point}: aborting");
        std::process::abort();
    }
}
