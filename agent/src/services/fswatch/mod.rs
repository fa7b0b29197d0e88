//! The disk watch: changes made by hand under `frames/` (a frame deleted, a
//! folder copied in from another disk) reach the index while the agent
//! runs — within seconds in the recent hours, within minutes anywhere.
//!
//! - `targets.rs` (pure): which folders hold an inotify watch at a given
//!   time: `frames/`, the cameras and the recent hours; a bounded number.
//! - `events.rs` (pure): which of notify's events matter, and the bounded
//!   set of paths waiting to settle.
//! - `scan.rs`: the slow scan, a bounded slice of every folder per tick.
//! - `engine.rs`: the thread that ties them to notify and to the store's
//!   repairs (`adapters/store/reconcile.rs`, which does all reading, indexing and
//!   dropping, under the store's lock: see docs/design.md "The disk watch").
//!
//! Everything here is blocking (inotify, stat, SQLite, EXIF) and runs on a
//! thread of its own; [`DiskWatch::run`] only starts and stops it.

mod engine;
pub mod scan;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::adapters::store::Store;
use crate::base::clock::Clock;
use crate::base::metrics::Metrics;

/// How the watch paces itself. The defaults suit a board; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSettings {
    /// A path is handled once it has been quiet this long.
    pub settle: Duration,
    /// How often settled paths are handled, the targets checked and a slice
    /// of the slow scan done (the pace of all work but taking events).
    pub tick: Duration,
    /// Hours watched besides the current one.
    pub recent_hours: u32,
    /// Inotify watches held at most; recent folders beyond are polled.
    pub max_watches: usize,
    /// Folders looked at per tick (a stat each, a listing for most).
    pub visits_per_tick: usize,
    /// Files read (to index them) or rows dropped per tick.
    pub files_per_tick: usize,
    /// Slow-scan cycles start at least this far apart.
    pub min_cycle: Duration,
    /// Changed paths waiting at most (in the channel from notify's thread,
    /// and again to settle); beyond, they are dropped, counted, and a
    /// fall-back scan of every watched folder follows. Folders waiting to
    /// be reconciled: this many beyond the recent ones.
    pub max_pending: usize,
}

impl Default for WatchSettings {
    /// A month of four cameras (≈176 000 folders) is looked at in about three
    /// minutes (1000 folders a second); a cycle at most once a minute.
    fn default() -> Self {
        Self {
            settle: Duration::from_millis(500),
            tick: Duration::from_millis(500),
            recent_hours: 1,
            max_watches: 2048,
            visits_per_tick: 500,
            files_per_tick: 64,
            min_cycle: Duration::from_secs(60),
            max_pending: 4096,
        }
    }
}

/// The task: watches `frames/` and repairs the index while the agent runs.
#[derive(Debug)]
pub struct DiskWatch {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// Where "now" is (the recent folders are named by the frames' clock).
    pub clock: Clock,
    pub settings: WatchSettings,
}

impl DiskWatch {
    /// Runs the watch's thread until `shutdown`. Problems with inotify are
    /// counted and fallen back from (polling, the slow scan), never fatal.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, mut done) = tokio::sync::oneshot::channel::<()>();
        let stopping = Arc::clone(&stop);
        let span = tracing::Span::current();
        let thread = std::thread::Builder::new()
            .name("seaframe-watch".into())
            .spawn(move || {
                let _entered = span.enter();
                engine::run(self, &stopping);
                let _ = done_tx.send(());
            })
            .context("starting the disk watch thread")?;
        let ended = tokio::select! {
            biased;
            _ = shutdown.cancelled() => false,
            _ = &mut done => true,
        };
        stop.store(true, Ordering::Relaxed);
        if !ended {
            // The thread notices within a tick (or a repair's step).
            let _ = done.await;
        }
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the disk watch thread panicked"))
    }
}
