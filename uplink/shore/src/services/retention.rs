//! Retention ashore: thumbnails deleted by age, thinned as they age, and
//! the oldest deleted first when a byte budget (a vessel's, the fleet's)
//! or the filesystem's free space says so — rows and files together, with
//! the garbage protocol of [`crate::adapters::index::retention`] (rows leave the
//! index first, then their files go, then the garbage rows), so that a row
//! never names a missing file and a pass cut short anywhere (a crash, a
//! shutdown) is finished by the next one.
//!
//! One pass: take the lease (skip if another shore holds it) → finish the
//! garbage → per camera, delete by age, then thin step by step from where
//! the last pass stopped (kept in the index; a camera's late arrivals —
//! a vessel draining its backlog — take its scan back to them) → the
//! budgets, oldest first → finish the garbage. The time comes from a
//! [`Clock`] so that a test can drive days in seconds.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use seaframe_wire::{CameraId, VesselName};
use tokio_util::sync::CancellationToken;

use crate::base::retention::config::RetentionConfig;
use crate::base::retention::metrics::Why;
use crate::base::retention::thin::Thinner;

use crate::adapters::blobs::{BlobName, Blobs};
use crate::adapters::index::retention::CameraUsage;
use crate::adapters::index::{Index, ThumbQuery, ThumbRow};
use crate::services::metrics::{Metrics, add};

/// "Now" in ns since the epoch: the wall clock in service, the test's
/// hand in tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Rows read per query while scanning.
const SCAN_ROWS: u32 = 5_000;
/// Rows taken out of the index per transaction (short, so that ingest's
/// commits are not held up).
const DOOM_ROWS: usize = 1_000;
/// Name of the retention value holding the highest id already checked for
/// late arrivals.
const ARRIVALS_MARK: &str = "arrivals_id";

/// What one pass deleted, by reason: `(thumbnails, bytes)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub deleted: Vec<(Why, u64, u64)>,
    pub files_removed: u64,
}

/// The retention stage.
pub struct Retention {
    pub index: Arc<dyn Index>,
    pub blobs: Blobs,
    pub config: RetentionConfig,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
}

impl std::fmt::Debug for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retention")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Retention {
    /// A pass every `interval_s` (the first one interval after start),
    /// until `shutdown`. A failed pass is counted, logged and retried at
    /// the next interval; one cut by shutdown is finished by the next start.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let interval = Duration::from_secs(self.config.interval_s);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                done = self.pass() => match done {
                    Ok(Some(report)) => tracing::info!(?report, "retention pass"),
                    Ok(None) => tracing::debug!("retention pass skipped: another shore holds the lease"),
                    Err(e) => {
                        add(&self.metrics.retention.pass_errors, 1);
                        tracing::error!(error = %format!("{e:#}"), "retention pass failed; retrying at the next interval");
                    }
                },
            }
        }
        Ok(())
    }

    /// One whole pass; `None` when another shore holds the lease.
    pub async fn pass(&self) -> Result<Option<PassReport>> {
        let started = Instant::now();
        let Some(_lease) = self.index.retention_lease().await? else {
            add(&self.metrics.retention.passes_skipped, 1);
            return Ok(None);
        };
        let now_ns = (self.clock)();
        let mut report = PassReport::default();
        let mut marks = Vec::new();
        self.collect_garbage(&mut report).await?;

        let mark = self.index.retention_value(ARRIVALS_MARK).await?;
        let arrivals = self.index.arrivals_since(mark.unwrap_or(0)).await?;
        for cam in self.index.thumb_usage().await? {
            let policy = self.config.policy(cam.vessel.as_str());
            if let Some(max_age_ns) = policy.max_age_ns {
                let before = now_ns.saturating_sub(max_age_ns);
                self.delete_before(&cam, before, &mut report).await?;
            }
            let late = arrivals
                .oldest
                .iter()
                .find(|(v, c, _)| *v == cam.vessel && *c == cam.camera)
                .map(|a| a.2);
            for &(after_ns, every_ns) in &policy.thin {
                let cutoff = now_ns.saturating_sub(after_ns);
                self.thin(&cam, every_ns, cutoff, late, &mut report, &mut marks)
                    .await?;
            }
        }
        self.collect_garbage(&mut report).await?;
        self.budgets(&mut report).await?;
        self.collect_garbage(&mut report).await?;
        // Where thinning stopped, saved once per pass: lost to a crash, the
        // next pass scans again from the last saved (idempotent).
        marks.push((ARRIVALS_MARK.to_owned(), arrivals.max_id));
        self.index.set_retention_values(&marks).await?;
        add(&self.metrics.retention.passes, 1);
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.metrics
            .retention
            .last_pass_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(report))
    }

    /// Deletes the camera's thumbnails captured before `before_ns`.
    async fn delete_before(
        &self,
        cam: &CameraUsage,
        before_ns: i64,
        report: &mut PassReport,
    ) -> Result<()> {
        loop {
            let rows = self
                .scan(
                    Some(&cam.vessel),
                    Some(&cam.camera),
                    i64::MIN,
                    before_ns,
                    None,
                )
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            self.doom(&ids, Why::Age, report).await?;
        }
    }

    /// One thinning step of one camera, from where the last pass of this
    /// step stopped (or a late arrival before it) up to `cutoff_ns`.
    async fn thin(
        &self,
        cam: &CameraUsage,
        every_ns: i64,
        cutoff_ns: i64,
        late_ns: Option<i64>,
        report: &mut PassReport,
        marks: &mut Vec<(String, i64)>,
    ) -> Result<()> {
        let name = format!("thin/{}/{}/{every_ns}", cam.vessel, cam.camera);
        let done = self.index.retention_value(&name).await?;
        let mut thinner = Thinner::new(every_ns, cutoff_ns);
        let from = match (done, late_ns) {
            (None, _) => i64::MIN,
            (Some(d), Some(l)) => thinner.slot_start(d.min(l)),
            (Some(d), None) => thinner.slot_start(d),
        };
        // The empty range (nothing new has aged past the cutoff) reads nothing.
        let mut after = None;
        while let Some(after_row) = (from < cutoff_ns).then_some(after) {
            let rows = self
                .scan(
                    Some(&cam.vessel),
                    Some(&cam.camera),
                    from,
                    cutoff_ns,
                    after_row,
                )
                .await?;
            let Some(last) = rows.last() else { break };
            after = Some((last.captured_at_ns, last.id));
            let ids: Vec<i64> = rows
                .iter()
                .filter(|r| thinner.delete(r.captured_at_ns))
                .map(|r| r.id)
                .collect();
            self.doom(&ids, Why::Thinned, report).await?;
        }
        if done.is_none_or(|d| d < cutoff_ns) {
            marks.push((name, cutoff_ns));
        }
        Ok(())
    }

    /// Each vessel's `max_bytes`, then the fleet's, then the disk's free
    /// space: the oldest first, until under.
    async fn budgets(&self, report: &mut PassReport) -> Result<()> {
        let usage = self.index.thumb_usage().await?;
        let mut vessels: Vec<(&VesselName, u64)> = Vec::new();
        for u in &usage {
            match vessels.last_mut() {
                Some((v, bytes)) if *v == &u.vessel => *bytes += u.bytes,
                _ => vessels.push((&u.vessel, u.bytes)),
            }
        }
        for (vessel, bytes) in vessels {
            if let Some(max) = self.config.policy(vessel.as_str()).max_bytes
                && bytes > max
            {
                self.delete_oldest(Some(vessel), bytes - max, Why::VesselBudget, report)
                    .await?;
            }
        }
        if let Some(max) = self.config.max_bytes {
            let total: u64 = self
                .index
                .thumb_usage()
                .await?
                .iter()
                .map(|u| u.bytes)
                .sum();
            if total > max {
                self.delete_oldest(None, total - max, Why::FleetBudget, report)
                    .await?;
            }
        }
        if self.config.min_free_percent > 0.0 {
            self.collect_garbage(report).await?;
            // Object storage has no filesystem to keep free.
            if let Some(root) = self.blobs.disk_root()
                && let Some(short) = disk_short_bytes(root, self.config.min_free_percent)?
            {
                self.delete_oldest(None, short, Why::DiskFree, report)
                    .await?;
            }
        }
        Ok(())
    }

    /// Deletes the oldest thumbnails (of `vessel`, or of the fleet) until
    /// at least `bytes` are gone.
    async fn delete_oldest(
        &self,
        vessel: Option<&VesselName>,
        bytes: u64,
        why: Why,
        report: &mut PassReport,
    ) -> Result<()> {
        let mut freed = 0u64;
        while freed < bytes {
            let rows = self.scan(vessel, None, i64::MIN, i64::MAX, None).await?;
            if rows.is_empty() {
                break;
            }
            let mut planned = freed;
            let ids: Vec<i64> = rows
                .iter()
                .take_while(|r| {
                    let take = planned < bytes;
                    planned += r.bytes;
                    take
                })
                .map(|r| r.id)
                .collect();
            // What really went (rows another shore took are not counted).
            freed += self.doom(&ids, why, report).await?;
        }
        Ok(())
    }

    /// Up to [`SCAN_ROWS`] rows, oldest first, captured in `[from, to)`.
    async fn scan(
        &self,
        vessel: Option<&VesselName>,
        camera: Option<&CameraId>,
        from_ns: i64,
        to_ns: i64,
        after: Option<(i64, i64)>,
    ) -> Result<Vec<ThumbRow>> {
        let q = ThumbQuery {
            vessel: vessel.cloned(),
            camera: camera.cloned(),
            from_ns,
            to_ns,
            place: None,
            after,
            limit: SCAN_ROWS,
        };
        Ok(self.index.thumbs(&q).await?.rows)
    }

    /// Takes `ids` out of the index (in short transactions), counted as
    /// `why`; returns the bytes taken.
    async fn doom(&self, ids: &[i64], why: Why, report: &mut PassReport) -> Result<u64> {
        let mut taken = 0;
        for chunk in ids.chunks(DOOM_ROWS) {
            let d = self.index.doom_thumbs(chunk).await?;
            taken += d.bytes;
            self.metrics.retention.count(why, d.rows, d.bytes);
            match report.deleted.iter_mut().find(|(w, _, _)| *w == why) {
                Some((_, rows, bytes)) => {
                    *rows += d.rows;
                    *bytes += d.bytes;
                }
                None => report.deleted.push((why, d.rows, d.bytes)),
            }
        }
        Ok(taken)
    }

    /// Unlinks the files of the garbage rows, then forgets them.
    async fn collect_garbage(&self, report: &mut PassReport) -> Result<()> {
        loop {
            let rows = self.index.garbage(DOOM_ROWS as u32).await?;
            if rows.is_empty() {
                return Ok(());
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let names = rows
                .into_iter()
                .map(|r| BlobName {
                    vessel: r.vessel,
                    camera: r.camera,
                    captured_at_ns: r.captured_at_ns,
                })
                .collect();
            let removed = self
                .blobs
                .remove_batch(names)
                .await
                .context("removing the garbage's blobs")?;
            add(&self.metrics.retention.files_removed, removed);
            report.files_removed += removed;
            self.index.drop_garbage(&ids).await?;
        }
    }
}

/// How many bytes must go for the filesystem holding `dir` to be
/// `min_free_percent` free (`None` when it is, or `dir` does not exist yet).
fn disk_short_bytes(dir: &Path, min_free_percent: f64) -> Result<Option<u64>> {
    let st = match rustix::fs::statvfs(dir) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("statvfs {}", dir.display())),
    };
    Ok(short_bytes(
        st.f_blocks.saturating_mul(st.f_frsize),
        st.f_bavail.saturating_mul(st.f_frsize),
        min_free_percent,
    ))
}

/// `total × percent − free`, when positive.
fn short_bytes(total_bytes: u64, free_bytes: u64, min_free_percent: f64) -> Option<u64> {
    let want = (total_bytes as f64 * min_free_percent / 100.0) as u64;
    (want > free_bytes).then(|| want - free_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_is_short_by_what_keeps_it_free() {
        assert_eq!(short_bytes(1000, 50, 10.0), Some(50));
        assert_eq!(short_bytes(1000, 100, 10.0), None);
        assert_eq!(short_bytes(1000, 500, 0.0), None);
    }
}
