//! The slow scan: every folder under `frames/` is looked at once per cycle,
//! a bounded slice per tick, so that a change anywhere reaches the index
//! within minutes without a full walk every tick and without one inotify
//! watch per folder.
//!
//! Looking at a folder costs one `stat`. Only a folder whose ctime is at or
//! after the start of the previous cycle (less a margin) is reconciled
//! with the index: adding, removing or renaming an entry sets a folder's
//! ctime, and a copy cannot preserve it (`cp -a` keeps mtimes, not
//! ctimes). A minute folder is reconciled file by file; a folder above it
//! by its children (rows under a child that is gone are dropped; a child
//! the index does not know is walked whole, whatever its ctime, since a
//! folder moved in keeps the ctimes below it). Minute folders that hold a
//! watch are passed over: their events cover them.
//!
//! Where a cycle started is kept in the index, so that after a restart the
//! first cycle looks at what changed since (a data directory that never had
//! a cycle is reconciled whole, once). Walks of a folder found by an event
//! outside the watched window (`jobs`) go before the cycle.

use std::collections::{HashSet, VecDeque};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::adapters::store::{ReconcileReport, Store, StoreError};
use crate::base::store::layout::{MINUTE_DEPTH, folder_depth};

/// Name of the cycle's mark in the index.
const CYCLE_MARK: &str = "fswatch.cycle";
/// Filesystem timestamps come from a coarse clock: a little slack.
const CTIME_MARGIN_NS: i64 = 2_000_000_000;

/// What one tick may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Folders looked at (a stat, a listing or a reconcile each).
    pub visits: usize,
    /// Files read to index them, and rows dropped.
    pub files: usize,
}

/// Entries of a folder listed and compared with its rows that cost as
/// much as one visit: a minute folder of 1 800 frames is 28 visits.
pub const ENTRIES_PER_VISIT: u64 = 64;

impl Budget {
    pub fn spent(&self) -> bool {
        self.visits == 0 || self.files == 0
    }

    /// Charges the listing of a folder of `entries` (beyond its visit).
    pub fn charge_listing(&mut self, entries: u64) {
        let visits = usize::try_from(entries / ENTRIES_PER_VISIT).unwrap_or(usize::MAX);
        self.visits = self.visits.saturating_sub(visits);
    }
}

/// A resumable walk under one folder, in path order.
#[derive(Debug)]
struct Walk {
    /// Folders still to look at, the next one last: (path, depth, forced).
    stack: Vec<(String, usize, bool)>,
    /// A folder changed at or after this ctime (Unix ns) is reconciled.
    changed_since_ns: i64,
}

impl Walk {
    fn new(folder: String, changed_since_ns: i64, forced: bool) -> Option<Self> {
        let depth = folder_depth(&folder)?;
        Some(Self {
            stack: vec![(folder, depth, forced)],
            changed_since_ns,
        })
    }

    /// Walks on until done (true) or the budget is spent (false).
    fn step(
        &mut self,
        store: &Store,
        watched: &HashSet<String>,
        budget: &mut Budget,
        report: &mut ReconcileReport,
        reconciled: &mut u64,
    ) -> Result<bool, StoreError> {
        while let Some((folder, depth, forced)) = self.stack.pop() {
            if budget.spent() {
                self.stack.push((folder, depth, forced));
                return Ok(false);
            }
            budget.visits -= 1;
            let path = store.frames_dir().join(&folder);
            let Some(ctime_ns) = ctime_ns(&path) else {
                continue; // gone meanwhile: its parent's next look drops its rows
            };
            let changed = forced || ctime_ns >= self.changed_since_ns;
            if depth == MINUTE_DEPTH {
                if changed && !watched.contains(&folder) {
                    let seen = report.files_seen;
                    let done = store.reconcile_minute(&folder, &mut budget.files, report)?;
                    budget.charge_listing(report.files_seen - seen);
                    if !done {
                        self.stack.push((folder, depth, forced));
                        return Ok(false);
                    }
                    *reconciled += 1;
                }
                continue;
            }
            let children: Vec<(String, bool)> = if changed {
                let children = store.reconcile_children(&folder, &mut budget.files, report)?;
                if !children.complete {
                    self.stack.push((folder, depth, forced));
                    return Ok(false);
                }
                children
                    .on_disk
                    .into_iter()
                    .map(|(name, known)| (name, forced || !known))
                    .collect()
            } else {
                list_folders(&path)
                    .into_iter()
                    .map(|name| (name, forced))
                    .collect()
            };
            let prefix = if folder.is_empty() {
                String::new()
            } else {
                format!("{folder}/")
            };
            for (name, force) in children.into_iter().rev() {
                let child = format!("{prefix}{name}");
                if folder_depth(&child) == Some(depth + 1) {
                    self.stack.push((child, depth + 1, force));
                }
            }
        }
        Ok(true)
    }
}

/// The cycle over everything and the walks that go before it.
#[derive(Debug)]
pub struct Scan {
    jobs: VecDeque<Walk>,
    max_jobs: usize,
    cycle: Option<Walk>,
    /// When the running cycle started (system clock, Unix ns).
    cycle_started_ns: i64,
    /// Where the previous cycle started: what changed since is reconciled.
    changed_since_ns: i64,
    /// When the next cycle may start (cycles are at least this far apart).
    next_cycle_ns: i64,
    min_cycle_ns: i64,
    /// Cycles completed.
    pub cycles: u64,
    /// Minute folders reconciled (their ctime had moved, or they were new).
    pub folders_reconciled: u64,
}

impl Scan {
    /// A scan resuming from the mark the index keeps (none: everything
    /// counts as changed in the first cycle).
    pub fn resume(store: &Store, max_jobs: usize, min_cycle_ns: i64) -> Result<Self, StoreError> {
        let mark = store.scan_mark(CYCLE_MARK)?;
        Ok(Self {
            jobs: VecDeque::new(),
            max_jobs,
            cycle: None,
            cycle_started_ns: 0,
            changed_since_ns: mark.map_or(i64::MIN, |ns| ns.saturating_sub(CTIME_MARGIN_NS)),
            next_cycle_ns: i64::MIN,
            min_cycle_ns,
            cycles: 0,
            folders_reconciled: 0,
        })
    }

    /// Queues a walk of `folder` and all below it, reconciling every minute
    /// folder whatever its ctime. False (and nothing queued) when the queue
    /// is full: the cycle will come to it.
    pub fn walk_whole(&mut self, folder: String) -> bool {
        if self.jobs.len() >= self.max_jobs {
            return false;
        }
        if let Some(walk) = Walk::new(folder, i64::MIN, true) {
            self.jobs.push_back(walk);
        }
        true
    }

    /// Walks queued and not done.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Spends the budget: queued walks first, then the cycle. `now_ns` is
    /// the system clock (the one ctimes are stamped with).
    pub fn step(
        &mut self,
        store: &Store,
        watched: &HashSet<String>,
        now_ns: i64,
        budget: &mut Budget,
        report: &mut ReconcileReport,
    ) -> Result<(), StoreError> {
        while let Some(job) = self.jobs.front_mut() {
            if !job.step(store, watched, budget, report, &mut self.folders_reconciled)? {
                return Ok(());
            }
            self.jobs.pop_front();
        }
        if self.cycle.is_none() {
            if now_ns < self.next_cycle_ns {
                return Ok(());
            }
            self.cycle = Walk::new(String::new(), self.changed_since_ns, false);
            self.cycle_started_ns = now_ns;
        }
        let Some(cycle) = self.cycle.as_mut() else {
            return Ok(());
        };
        if cycle.step(store, watched, budget, report, &mut self.folders_reconciled)? {
            self.cycle = None;
            self.cycles += 1;
            store.set_scan_mark(CYCLE_MARK, self.cycle_started_ns)?;
            // A clock set back since the cycle began: ctimes cannot be trusted to order anything.
            self.changed_since_ns = if now_ns < self.cycle_started_ns {
                i64::MIN
            } else {
                self.cycle_started_ns - CTIME_MARGIN_NS
            };
            self.next_cycle_ns = self.cycle_started_ns.saturating_add(self.min_cycle_ns);
        }
        Ok(())
    }
}

/// A folder's ctime, Unix ns; `None` when it is not a folder (any more).
pub fn ctime_ns(path: &Path) -> Option<i64> {
    let m = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_dir)?;
    Some(
        m.ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.ctime_nsec()),
    )
}

/// The names of the folders in `path`, sorted (none when it cannot be read).
fn list_folders(path: &Path) -> Vec<String> {
    let Ok(listing) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let mut names: Vec<String> = listing
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::clock::ClockSource;
    use crate::base::frame::Frame;
    use seaframe_wire::timestamp::Timestamp;

    /// 2025-06-15T15:07:00Z
    const T0_MS: i64 = 1_750_000_020_000;

    /// A data directory holding `minutes` minute folders of camera `a` from
    /// `first_ms`, two frames each.
    fn store_with(first_ms: i64, minutes: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut tp =
            crate::adapters::capture::testpattern::TestPattern::new("a".parse().unwrap(), 16, 16);
        let frames: Vec<Frame> = (0..minutes * 2)
            .map(|i| {
                let at = Timestamp::from_unix_millis(first_ms + i * 30_000);
                let jpeg = bytes::Bytes::from(tp.render(at).unwrap());
                Frame::new(
                    "a".parse().unwrap(),
                    i as u64,
                    at,
                    ClockSource::System,
                    16,
                    16,
                    jpeg,
                )
            })
            .collect();
        assert!(store.put_batch(&frames).iter().all(Result::is_ok));
        (dir, store)
    }

    fn now_ns() -> i64 {
        Timestamp::now().unix_nanos()
    }

    /// Steps with `visits` a tick until a cycle ends; the ticks it took.
    fn one_cycle(
        scan: &mut Scan,
        store: &Store,
        visits: usize,
        report: &mut ReconcileReport,
    ) -> usize {
        let before = scan.cycles;
        for tick in 1..1000 {
            let mut budget = Budget { visits, files: 64 };
            scan.step(store, &HashSet::new(), now_ns(), &mut budget, report)
                .unwrap();
            if scan.cycles > before {
                return tick;
            }
        }
        panic!("no cycle ended");
    }

    /// A mark after what was done so far, and before what comes next by
    /// the filesystem's coarse clock (which lags by up to a jiffy).
    fn later() -> i64 {
        std::thread::sleep(std::time::Duration::from_millis(60));
        now_ns() - 25_000_000
    }

    #[test]
    fn a_cycle_is_walked_a_slice_at_a_time_and_reconciles_only_what_changed() {
        let (_dir, store) = store_with(T0_MS, 10);
        let mut report = ReconcileReport::default();
        // frames/, a, year, month, day, hour, and 10 minute folders.
        let mut scan = Scan::resume(&store, 16, 0).unwrap();
        assert_eq!(
            one_cycle(&mut scan, &store, 4, &mut report),
            16usize.div_ceil(4)
        );
        // Never scanned before: the first cycle reconciles every minute.
        assert_eq!(scan.folders_reconciled, 10);
        // Nothing changed since: the next cycle only looks.
        scan.changed_since_ns = later();
        one_cycle(&mut scan, &store, 100, &mut report);
        assert_eq!(scan.folders_reconciled, 10);
        // A frame deleted by hand: its folder's ctime moves, only it is reconciled.
        let row = store.oldest(1).unwrap()[0];
        let rel = store.frame(row.id).unwrap().unwrap().rel_path;
        scan.changed_since_ns = later();
        std::fs::remove_file(store.frames_dir().join(&rel)).unwrap();
        one_cycle(&mut scan, &store, 100, &mut report);
        assert_eq!(scan.folders_reconciled, 11);
        assert_eq!(report.rows_dropped, 1);
        assert!(store.frame(row.id).unwrap().is_none());
        // Where the cycle started is kept for the next run.
        assert!(store.scan_mark(CYCLE_MARK).unwrap().is_some());
    }

    #[test]
    fn a_folder_moved_in_is_walked_whole_whatever_the_ctimes_below_it() {
        let (_dir, store) = store_with(T0_MS, 2);
        let mut report = ReconcileReport::default();
        let mut scan = Scan::resume(&store, 16, 0).unwrap();
        one_cycle(&mut scan, &store, 100, &mut report);
        // The next day, made elsewhere on the same filesystem, then moved in
        // with `rename`: the folders below it keep their old ctimes.
        let (other_dir, _other) = store_with(T0_MS + 86_400_000, 3);
        scan.changed_since_ns = later();
        std::fs::rename(
            other_dir.path().join("frames/a/2025/06/16"),
            store.frames_dir().join("a/2025/06/16"),
        )
        .unwrap();
        let before = report.files_indexed;
        one_cycle(&mut scan, &store, 100, &mut report);
        assert_eq!(report.files_indexed - before, 6);
    }

    #[test]
    fn queued_walks_go_first_and_are_bounded() {
        let (_dir, store) = store_with(T0_MS, 1);
        let mut scan = Scan::resume(&store, 1, i64::MAX / 2).unwrap();
        assert!(scan.walk_whole("a/2025".to_owned()));
        assert!(!scan.walk_whole("a/2025/06".to_owned()), "one walk at most");
        assert_eq!(scan.queued(), 1);
        let mut report = ReconcileReport::default();
        let mut budget = Budget {
            visits: 100,
            files: 64,
        };
        scan.step(&store, &HashSet::new(), now_ns(), &mut budget, &mut report)
            .unwrap();
        assert_eq!(scan.queued(), 0);
        assert_eq!(
            scan.folders_reconciled, 2,
            "the walk's minute, then the first cycle's"
        );
    }
}
