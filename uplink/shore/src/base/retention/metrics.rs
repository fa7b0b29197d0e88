//! Retention's counters, rendered into the shore's `/metrics`:
//! thumbnails deleted (and their bytes) by why, files unlinked, passes
//! run, skipped (another shore held the lease) or failed, and the length
//! of the last pass.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why retention deleted a thumbnail (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Older than `max_age_days`.
    Age,
    /// Not the one kept in its slot by a thinning step.
    Thinned,
    /// Over its vessel's `max_bytes`.
    VesselBudget,
    /// Over the fleet's `max_bytes`.
    FleetBudget,
    /// The filesystem had less than `min_free_percent` free.
    DiskFree,
}

const WHYS: [Why; 5] = [
    Why::Age,
    Why::Thinned,
    Why::VesselBudget,
    Why::FleetBudget,
    Why::DiskFree,
];

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Thinned => "thinned",
            Self::VesselBudget => "vessel_budget",
            Self::FleetBudget => "fleet_budget",
            Self::DiskFree => "disk_free",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default)]
pub struct RetentionMetrics {
    deleted: [AtomicU64; 5],
    deleted_bytes: [AtomicU64; 5],
    pub files_removed: AtomicU64,
    pub passes: AtomicU64,
    pub passes_skipped: AtomicU64,
    pub pass_errors: AtomicU64,
    pub last_pass_ms: AtomicU64,
}

impl RetentionMetrics {
    pub fn count(&self, why: Why, rows: u64, bytes: u64) {
        self.deleted[why.slot()].fetch_add(rows, Ordering::Relaxed);
        self.deleted_bytes[why.slot()].fetch_add(bytes, Ordering::Relaxed);
    }

    /// Thumbnails deleted for `why`.
    pub fn deleted(&self, why: Why) -> u64 {
        self.deleted[why.slot()].load(Ordering::Relaxed)
    }

    /// Thumbnails deleted, whatever the reason.
    pub fn deleted_total(&self) -> u64 {
        WHYS.iter().map(|w| self.deleted(*w)).sum()
    }

    /// Appends the Prometheus text.
    pub fn render(&self, out: &mut String) {
        for (name, help, values) in [
            (
                "seaframe_shore_retention_deleted_total",
                "Thumbnails deleted by retention, by reason.",
                &self.deleted,
            ),
            (
                "seaframe_shore_retention_deleted_bytes_total",
                "JPEG bytes of the thumbnails deleted by retention, by reason.",
                &self.deleted_bytes,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for why in WHYS {
                let n = values[why.slot()].load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{reason=\"{}\"}} {n}", why.as_str());
            }
        }
        for (name, help, value) in [
            (
                "seaframe_shore_retention_files_removed_total",
                "Thumbnail files unlinked by retention.",
                &self.files_removed,
            ),
            (
                "seaframe_shore_retention_passes_total",
                "Retention passes completed.",
                &self.passes,
            ),
            (
                "seaframe_shore_retention_passes_skipped_total",
                "Retention passes skipped: another shore held the lease.",
                &self.passes_skipped,
            ),
            (
                "seaframe_shore_retention_pass_errors_total",
                "Retention passes that failed (retried at the next interval).",
                &self.pass_errors,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let name = "seaframe_shore_retention_last_pass_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How long the last retention pass took.\n# TYPE {name} gauge\n{name} {:.3}",
            self.last_pass_ms.load(Ordering::Relaxed) as f64 / 1000.0
        );
    }
}
