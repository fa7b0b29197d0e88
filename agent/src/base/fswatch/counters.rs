//! What the disk watch counts, exported in `/metrics` (a leaf: the
//! process metrics embed it, the watch updates it).

use std::sync::atomic::AtomicU64;

/// What the watch counts (exported in `/metrics`).
#[derive(Debug, Default)]
pub struct WatchMetrics {
    /// Inotify watches held (gauge).
    pub watches: AtomicU64,
    /// Recent folders polled instead (over the budget, or a watch failed) (gauge).
    pub polled_folders: AtomicU64,
    /// Watches that could not be added (inotify's limit, an IO error).
    pub watch_failures: AtomicU64,
    /// Changes dropped because a queue was full (each followed by a fall-back scan).
    pub changes_dropped: AtomicU64,
    /// Times the kernel's event queue overflowed (`IN_Q_OVERFLOW`).
    pub kernel_overflows: AtomicU64,
    /// Fall-back scans of every watched folder.
    pub rescans: AtomicU64,
    /// Errors on the event stream, or a repair that failed.
    pub errors: AtomicU64,
    /// Rows the watch added (files without a row) and dropped (rows without a file).
    pub rows_added: AtomicU64,
    pub rows_dropped: AtomicU64,
    /// Files in the layout that are not readable JPEGs (left alone).
    pub files_unreadable: AtomicU64,
    /// Slow-scan cycles completed, and minute folders it reconciled.
    pub scan_cycles: AtomicU64,
    pub scan_folders: AtomicU64,
}

impl WatchMetrics {
    /// (name, type, help, value) of each, for `/metrics`.
    pub fn samples(&self) -> [(&'static str, &'static str, &'static str, &AtomicU64); 12] {
        [
            (
                "seaframe_watch_watches",
                "gauge",
                "Inotify watches held on frame folders.",
                &self.watches,
            ),
            (
                "seaframe_watch_polled_folders",
                "gauge",
                "Recent frame folders polled instead of watched.",
                &self.polled_folders,
            ),
            (
                "seaframe_watch_watch_failures_total",
                "counter",
                "Watches that could not be added.",
                &self.watch_failures,
            ),
            (
                "seaframe_watch_changes_dropped_total",
                "counter",
                "Changes dropped by a full queue (a fall-back scan follows).",
                &self.changes_dropped,
            ),
            (
                "seaframe_watch_kernel_overflows_total",
                "counter",
                "Times the kernel's inotify queue overflowed.",
                &self.kernel_overflows,
            ),
            (
                "seaframe_watch_rescans_total",
                "counter",
                "Fall-back scans of every watched folder.",
                &self.rescans,
            ),
            (
                "seaframe_watch_errors_total",
                "counter",
                "Errors on the event stream or in a repair.",
                &self.errors,
            ),
            (
                "seaframe_watch_rows_added_total",
                "counter",
                "Rows added for files found without one.",
                &self.rows_added,
            ),
            (
                "seaframe_watch_rows_dropped_total",
                "counter",
                "Rows dropped whose file was gone.",
                &self.rows_dropped,
            ),
            (
                "seaframe_watch_files_unreadable_total",
                "counter",
                "Files in the layout that are not readable frames.",
                &self.files_unreadable,
            ),
            (
                "seaframe_watch_scan_cycles_total",
                "counter",
                "Slow-scan cycles completed.",
                &self.scan_cycles,
            ),
            (
                "seaframe_watch_scan_folders_total",
                "counter",
                "Minute folders the slow scan reconciled.",
                &self.scan_folders,
            ),
        ]
    }
}
