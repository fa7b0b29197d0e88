//! Waiting between attempts: exponential back-off (the one both ends use,
//! [`seaframe_wire::backoff`]), and a sleep that shutdown cuts short. Used
//! by every loop that retries the world.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use seaframe_wire::backoff::Backoff;

/// Sleeps `d` unless `shutdown` comes first; returns false on shutdown.
pub async fn pause(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}
