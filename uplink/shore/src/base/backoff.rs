//! How the shore's loops wait after a failure (the broker, the index, the
//! blobs, the feed's listener): 100 ms doubling to 10 s
//! ([`seaframe_wire::backoff`], as on board), cut short by shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use seaframe_wire::backoff::Backoff;

/// The back-off of every retry loop of the shore.
pub fn retry() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(10))
}

/// Sleeps `d` unless `shutdown` comes first; returns false on shutdown.
pub async fn pause(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}
