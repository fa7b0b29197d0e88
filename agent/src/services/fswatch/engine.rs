//! The disk watch's thread: notify's events in, repairs of the index out.
//!
//! notify calls our handler on its own thread; the handler keeps the paths
//! that matter (`events::classify`) and hands them over a bounded channel.
//! A full channel, an overflow of the kernel's queue or an error on the
//! stream drop events: each is counted and raises `lost`, and the next tick
//! reconciles every watched folder (the fall-back scan).
//!
//! Each tick, in order: the fall-back scan if events were lost; new targets
//! when the minute (or the set of cameras) changed; paths that have
//! settled — frame files through `Store::reconcile_paths`, folders by
//! watching or walking them; recent folders that could not be watched,
//! polled by ctime; queued folders; a slice of the slow scan. One budget of
//! folder visits and file reads per tick bounds all of it.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Instant;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use seaframe_wire::CameraId;

use crate::adapters::store::ReconcileReport;
use crate::base::fswatch::counters::WatchMetrics;
use crate::base::fswatch::events::{Change, Pending, classify};
use crate::base::fswatch::targets::{minute_of, targets};
use crate::base::store::layout::{MINUTE_DEPTH, folder_depth, parse_rel_path};
use crate::services::fswatch::DiskWatch;
use crate::services::fswatch::scan::{Budget, Scan, ctime_ns};
use seaframe_wire::timestamp::Timestamp;

/// How long notify's thread rests when events start to come.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);
/// Events of one wake-up come back to back; a longer gap means the thread
/// had been waiting for them.
const WAKE_GAP: std::time::Duration = std::time::Duration::from_millis(1);
/// A polled folder counts as changed from a little before the last poll.
const POLL_MARGIN_NS: i64 = 100_000_000;

/// Runs the watch until `stop` is raised.
pub(super) fn run(task: DiskWatch, stop: &AtomicBool) {
    let settings = task.settings.clone();
    let (tx, rx) = mpsc::sync_channel::<String>(settings.max_pending);
    let lost = Arc::new(AtomicBool::new(false));
    let frames_dir = task.store.frames_dir().to_owned();
    let handler = {
        let (tx, lost, metrics) = (tx.clone(), Arc::clone(&lost), Arc::clone(&task.metrics));
        let frames_dir = frames_dir.clone();
        let mut last_call = Instant::now();
        move |event: notify::Result<notify::Event>| {
            // The first event of a wake-up (the thread was waiting): rest,
            // so that the kernel gathers what follows (its queue holds
            // 16 384 events; an overflow is caught) and a steady stream
            // wakes this thread at most once per rest, not once per event.
            if last_call.elapsed() > WAKE_GAP {
                std::thread::sleep(GATHER);
            }
            last_call = Instant::now();
            for change in classify(event, &frames_dir) {
                hand_over(change, &tx, &lost, &metrics.watch);
            }
        }
    };
    let watcher = match RecommendedWatcher::new(handler, notify::Config::default()) {
        Ok(w) => Some(w),
        Err(e) => {
            task.metrics.watch.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                "cannot watch the frames folder ({e}); polling the recent folders instead"
            );
            None
        }
    };
    let scan = match Scan::resume(&task.store, settings.max_pending, nanos(settings.min_cycle)) {
        Ok(scan) => scan,
        Err(e) => {
            task.metrics.watch.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!("disk watch not started: reading the scan mark: {e}");
            return;
        }
    };
    let mut engine = Engine {
        task,
        frames_dir,
        watcher,
        _sender: tx,
        watched: HashSet::new(),
        polled: BTreeSet::new(),
        targets: HashSet::new(),
        watchable: HashSet::new(),
        minute: None,
        cameras_changed: true,
        pending: Pending::new(settings.max_pending),
        folders: VecDeque::new(),
        queued: HashSet::new(),
        scan,
        lost,
        poll_mark_ns: Timestamp::now().unix_nanos(),
        report: ReconcileReport::default(),
        warned_watch_failure: false,
    };
    let mut next_tick = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_tick {
            engine.tick(stop);
            next_tick = Instant::now() + settings.tick;
            continue;
        }
        match rx.recv_timeout(next_tick - now) {
            Ok(rel) => engine.seen(rel),
            Err(RecvTimeoutError::Timeout) => {}
            // The engine holds a sender itself: cannot happen.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(next_tick - now),
        }
    }
}

/// In notify's thread: passes a change on, or counts it lost.
fn hand_over(change: Change, tx: &SyncSender<String>, lost: &AtomicBool, m: &WatchMetrics) {
    match change {
        Change::Path(rel) => {
            if let Err(TrySendError::Full(_)) = tx.try_send(rel) {
                m.changes_dropped.fetch_add(1, Ordering::Relaxed);
                lost.store(true, Ordering::Relaxed);
            }
        }
        Change::Overflow => {
            m.kernel_overflows.fetch_add(1, Ordering::Relaxed);
            lost.store(true, Ordering::Relaxed);
        }
        Change::Error(e) => {
            m.errors.fetch_add(1, Ordering::Relaxed);
            lost.store(true, Ordering::Relaxed);
            tracing::warn!("disk watch: {e}; scanning the watched folders");
        }
    }
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

struct Engine {
    task: DiskWatch,
    frames_dir: PathBuf,
    /// `None` when inotify could not be had: every recent folder is polled.
    watcher: Option<RecommendedWatcher>,
    /// Keeps the channel open whatever becomes of the watcher.
    _sender: SyncSender<String>,
    /// Folders holding a watch.
    watched: HashSet<String>,
    /// Recent folders without a watch (over the budget, or it failed).
    polled: BTreeSet<String>,
    /// The folders of the recent window, and those of them within the
    /// budget of watches.
    targets: HashSet<String>,
    watchable: HashSet<String>,
    /// The minute the targets were made for.
    minute: Option<i64>,
    cameras_changed: bool,
    pending: Pending,
    /// Folders to reconcile (one level each), oldest request first.
    folders: VecDeque<String>,
    queued: HashSet<String>,
    scan: Scan,
    lost: Arc<AtomicBool>,
    /// When the polled folders were last looked at (system clock, ns).
    poll_mark_ns: i64,
    /// What the repairs did since the last tick's end.
    report: ReconcileReport,
    warned_watch_failure: bool,
}

impl Engine {
    fn metrics(&self) -> &WatchMetrics {
        &self.task.metrics.watch
    }

    fn seen(&mut self, rel: String) {
        if !self.pending.touch(rel, Instant::now()) {
            self.metrics()
                .changes_dropped
                .fetch_add(1, Ordering::Relaxed);
            self.lost.store(true, Ordering::Relaxed);
        }
    }

    fn tick(&mut self, stop: &AtomicBool) {
        let s = &self.task.settings;
        let mut budget = Budget {
            visits: s.visits_per_tick,
            files: s.files_per_tick,
        };
        if self.lost.swap(false, Ordering::Relaxed) {
            self.metrics().rescans.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                folders = self.watched.len() + self.polled.len(),
                "events were lost: scanning every watched folder"
            );
            let all: Vec<String> = self.watched.iter().chain(&self.polled).cloned().collect();
            for folder in all {
                self.queue(folder);
            }
        }
        let now = self
            .task
            .clock
            .now()
            .map_or_else(Timestamp::now, |(t, _)| t);
        if self.cameras_changed || self.minute != Some(minute_of(now)) {
            self.retarget(now);
        }
        self.handle_settled(&mut budget);
        self.poll();
        self.reconcile_queued(&mut budget, stop);
        if !stop.load(Ordering::Relaxed)
            && let Err(e) = self.scan.step(
                &self.task.store,
                &self.watched,
                Timestamp::now().unix_nanos(),
                &mut budget,
                &mut self.report,
            )
        {
            self.failed("slow scan", &e);
        }
        self.publish();
    }

    /// Watches the targets of `now` and lets go of the folders that left them.
    fn retarget(&mut self, now: Timestamp) {
        let cameras = self.cameras();
        let all = targets(&cameras, now, self.task.settings.recent_hours);
        let budget = self.task.settings.max_watches.min(all.len());
        self.watchable = all[..budget].iter().cloned().collect();
        self.targets = all.iter().cloned().collect();
        let leaving: Vec<String> = self
            .watched
            .iter()
            .filter(|f| !self.watchable.contains(*f))
            .cloned()
            .collect();
        for folder in leaving {
            self.watched.remove(&folder);
            if let Some(w) = self.watcher.as_mut() {
                let _ = w.unwatch(&self.frames_dir.join(&folder)); // gone already: fine
            }
        }
        self.polled.retain(|f| self.targets.contains(f));
        for folder in all {
            if !self.watched.contains(&folder) && self.frames_dir.join(&folder).is_dir() {
                let new = !self.polled.contains(&folder);
                self.hold(&folder);
                if new {
                    self.queue(folder);
                }
            }
        }
        self.minute = Some(minute_of(now));
        self.cameras_changed = false;
    }

    /// The camera folders on disk.
    fn cameras(&self) -> Vec<CameraId> {
        let Ok(listing) = std::fs::read_dir(&self.frames_dir) else {
            return Vec::new();
        };
        let mut cameras: Vec<CameraId> = listing
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| CameraId::parse(e.file_name().to_str()?).ok())
            .collect();
        cameras.sort();
        cameras
    }

    /// Watches a recent folder, or polls it when it cannot be watched.
    fn hold(&mut self, folder: &str) {
        let Some(w) = self
            .watcher
            .as_mut()
            .filter(|_| self.watchable.contains(folder))
        else {
            self.polled.insert(folder.to_owned());
            return;
        };
        match w.watch(&self.frames_dir.join(folder), RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(folder.to_owned());
                self.polled.remove(folder);
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
            Err(e) => {
                self.task
                    .metrics
                    .watch
                    .watch_failures
                    .fetch_add(1, Ordering::Relaxed);
                if !std::mem::replace(&mut self.warned_watch_failure, true) {
                    tracing::warn!(
                        folder,
                        watches = self.watched.len(),
                        "cannot add an inotify watch ({e}); polling such folders instead \
                         (see fs.inotify.max_user_watches)"
                    );
                }
                self.polled.insert(folder.to_owned());
            }
        }
    }

    /// Paths quiet for `settle`: frame files repaired at once (within the
    /// budget; the rest wait), folders watched or walked.
    fn handle_settled(&mut self, budget: &mut Budget) {
        let settled = self
            .pending
            .take_settled(Instant::now(), self.task.settings.settle);
        let (files, others): (Vec<_>, Vec<_>) = settled
            .into_iter()
            .partition(|(rel, _)| parse_rel_path(rel).is_some());
        let rels: Vec<String> = files.iter().map(|(rel, _)| rel.clone()).collect();
        match self
            .task
            .store
            .reconcile_paths(&rels, &mut budget.files, &mut self.report)
        {
            Ok(handled) => self.pending.put_back(files.into_iter().skip(handled)),
            // Their folders' ctimes moved: the slow scan comes to them.
            Err(e) => self.failed("repairing changed files", &e),
        }
        for (folder, _) in others {
            if let Some(depth) = folder_depth(&folder) {
                self.folder_changed(folder, depth);
            }
        }
    }

    /// A folder came or went.
    fn folder_changed(&mut self, folder: String, depth: usize) {
        if depth <= 1 {
            self.cameras_changed = true;
        }
        if self.frames_dir.join(&folder).is_dir() {
            self.appeared(folder);
        } else {
            // Its watch went with it; its parent's look drops its rows.
            self.watched.remove(&folder);
            self.polled.remove(&folder);
            if let Some((parent, _)) = folder.rsplit_once('/') {
                self.queue(parent.to_owned());
            } else if depth == 1 {
                self.queue(String::new());
            }
        }
    }

    /// A folder found on disk: a recent one is watched (or polled) and
    /// reconciled; any other is walked whole by the scan.
    fn appeared(&mut self, folder: String) {
        if self.targets.contains(&folder) {
            self.hold(&folder);
            self.queue(folder);
        } else if !self.scan.walk_whole(folder) {
            self.dropped();
        }
    }

    /// Recent folders without a watch whose ctime moved since the last poll.
    fn poll(&mut self) {
        let now_ns = Timestamp::now().unix_nanos();
        let since = self.poll_mark_ns - POLL_MARGIN_NS;
        let polled: Vec<String> = self.polled.iter().cloned().collect();
        for folder in polled {
            match ctime_ns(&self.frames_dir.join(&folder)) {
                Some(ns) if ns >= since => self.queue(folder),
                Some(_) => {}
                None => {
                    self.polled.remove(&folder);
                }
            }
        }
        self.poll_mark_ns = now_ns;
    }

    fn queue(&mut self, folder: String) {
        if self.queued.contains(&folder) {
            return;
        }
        // Room for every recent folder (a fall-back scan) and as many more.
        let s = &self.task.settings;
        if self.folders.len() >= s.max_pending + s.max_watches {
            self.dropped();
            return;
        }
        self.queued.insert(folder.clone());
        self.folders.push_back(folder);
    }

    /// A change that found its queue full: counted; the scan finds it later.
    fn dropped(&self) {
        self.metrics()
            .changes_dropped
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Reconciles queued folders, one level each, within the budget.
    fn reconcile_queued(&mut self, budget: &mut Budget, stop: &AtomicBool) {
        while let Some(folder) = self.folders.front().cloned() {
            if budget.spent() || stop.load(Ordering::Relaxed) {
                return;
            }
            budget.visits -= 1;
            let store = Arc::clone(&self.task.store);
            let done = if folder_depth(&folder) == Some(MINUTE_DEPTH) {
                let seen = self.report.files_seen;
                let done = store.reconcile_minute(&folder, &mut budget.files, &mut self.report);
                budget.charge_listing(self.report.files_seen - seen);
                done
            } else {
                match store.reconcile_children(&folder, &mut budget.files, &mut self.report) {
                    Ok(children) if children.complete => {
                        self.children_found(&folder, children.on_disk);
                        Ok(true)
                    }
                    other => other.map(|c| c.complete),
                }
            };
            match done {
                Ok(false) => return, // the budget ran out: go on next tick
                Ok(true) => {}
                Err(e) => self.failed("reconciling a folder", &e),
            }
            self.folders.pop_front();
            self.queued.remove(&folder);
        }
    }

    /// The child folders of a reconciled folder: recent ones not yet held
    /// are watched; others the index does not know are walked whole.
    fn children_found(&mut self, folder: &str, on_disk: Vec<(String, bool)>) {
        for (name, known) in on_disk {
            let child = if folder.is_empty() {
                name
            } else {
                format!("{folder}/{name}")
            };
            let held = self.watched.contains(&child) || self.polled.contains(&child);
            if self.targets.contains(&child) {
                if !held {
                    self.appeared(child);
                }
            } else if !known && !self.scan.walk_whole(child) {
                self.dropped();
            }
        }
    }

    fn failed(&self, what: &str, e: &dyn std::fmt::Display) {
        self.metrics().errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("disk watch, {what}: {e}");
    }

    /// Moves what the tick did into the metrics (and the log).
    fn publish(&mut self) {
        let r = std::mem::take(&mut self.report);
        let m = &self.task.metrics.watch;
        m.rows_added.fetch_add(r.files_indexed, Ordering::Relaxed);
        m.rows_dropped.fetch_add(r.rows_dropped, Ordering::Relaxed);
        m.files_unreadable
            .fetch_add(r.files_unreadable, Ordering::Relaxed);
        m.watches
            .store(self.watched.len() as u64, Ordering::Relaxed);
        m.polled_folders
            .store(self.polled.len() as u64, Ordering::Relaxed);
        m.scan_cycles.store(self.scan.cycles, Ordering::Relaxed);
        m.scan_folders
            .store(self.scan.folders_reconciled, Ordering::Relaxed);
        if r.files_indexed + r.rows_dropped > 0 {
            tracing::info!(
                indexed = r.files_indexed,
                dropped = r.rows_dropped,
                "the index follows changes made on disk"
            );
        }
    }
}
