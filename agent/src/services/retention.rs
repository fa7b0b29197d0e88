//! Retention: keeps frames within `[retention]` — by age (`max_age_s`), by
//! size (`retain_bytes`) and by free space (`min_free_bytes`) — oldest first
//! across all cameras; the recorded track no longer than the frames
//! ([`fixes_cutoff_ms`]). A pure planner decides; the task executes the plan
//! through the store's garbage step (docs/design.md) on the blocking pool,
//! a bounded batch at a time, so that capture never stalls.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::adapters::shore_link::outbox::Outbox;
use crate::adapters::store::{Candidate, Store};
use crate::base::backoff::pause;
use crate::base::config::{CameraConfig, RetentionConfig};
use crate::base::metrics::Metrics;
use seaframe_wire::timestamp::Timestamp;

/// Files deleted per pass at most (a pass must stay short).
pub const MAX_DELETES_PER_PASS: usize = 2000;
/// Time between passes when there is nothing to do.
pub const PASS_INTERVAL: Duration = Duration::from_secs(1);

/// How full things are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes counted against `retain_bytes`: all indexed frames, plus the
    /// index and the uplink's outbox on disk (one budget for all three).
    pub frames_bytes: u64,
    /// Bytes free for unprivileged users on the frames' filesystem.
    pub free_bytes: u64,
    /// The size of that filesystem (for the default free-space floor).
    pub fs_bytes: u64,
}

/// The free-space floor when `min_free_bytes` is not set: 5 % of the
/// filesystem, at most 1 GB. A fixed 1 GB would be most of a small SD card
/// (keeping seconds of frames); on a big disk it is what it always was.
pub fn auto_min_free_bytes(fs_bytes: u64) -> u64 {
    (fs_bytes / 20).min(1_000_000_000)
}

/// The free-space floor in effect.
pub fn min_free_bytes(policy: &RetentionConfig, fs_bytes: u64) -> u64 {
    policy
        .min_free_bytes
        .unwrap_or_else(|| auto_min_free_bytes(fs_bytes))
}

/// How many seconds of frames the budget keeps at `bytes_per_s`: the
/// smaller of `retain_bytes` and what the disk can hold above the floor
/// (what the frames, index and outbox take now, plus what is free).
pub fn seconds_kept(policy: &RetentionConfig, usage: Usage, bytes_per_s: f64) -> f64 {
    let room = (usage.frames_bytes + usage.free_bytes)
        .saturating_sub(min_free_bytes(policy, usage.fs_bytes))
        .min(policy.retain_bytes);
    if bytes_per_s > 0.0 {
        room as f64 / bytes_per_s
    } else {
        f64::INFINITY
    }
}

/// What to delete, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub ids: Vec<i64>,
    pub bytes: u64,
}

/// Takes frames from the oldest while any rule is broken: older than
/// `max_age_s`, more than `retain_bytes` in all, or less than
/// `min_free_bytes` free. Pure; `oldest_first` must be in capture order.
pub fn plan(
    policy: &RetentionConfig,
    now: Timestamp,
    usage: Usage,
    oldest_first: &[Candidate],
) -> Plan {
    let max_age_ns =
        i64::try_from(policy.max_age_s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
    let floor = min_free_bytes(policy, usage.fs_bytes);
    let mut out = Plan::default();
    for c in oldest_first {
        let too_old = now.unix_nanos().saturating_sub(c.captured_at.unix_nanos()) > max_age_ns;
        let over_budget = usage.frames_bytes.saturating_sub(out.bytes) > policy.retain_bytes;
        let low_on_space = usage.free_bytes.saturating_add(out.bytes) < floor;
        if !(too_old || over_budget || low_on_space) {
            break;
        }
        out.ids.push(c.id);
        out.bytes += c.bytes;
    }
    out
}

/// Fixes before this instant are deleted: those older than `max_age_s`,
/// and those older than `oldest_kept`, the oldest frame kept while
/// retention is deleting frames (`None`: by age alone) — on a disk that
/// keeps less than `max_age_s` of frames, the track is kept as long as the
/// frames it places and never takes their budget.
pub fn fixes_cutoff_ms(
    policy: &RetentionConfig,
    now: Timestamp,
    oldest_kept: Option<Timestamp>,
) -> i64 {
    let max_age_ms = i64::try_from(policy.max_age_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let by_age = now.unix_nanos() / 1_000_000 - max_age_ms;
    oldest_kept.map_or(by_age, |t| by_age.max(t.unix_nanos() / 1_000_000))
}

/// (free for unprivileged users, size) of the filesystem holding `path`.
pub fn disk_space(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let s = rustix::fs::statvfs(path)?;
    Ok((
        s.f_bavail.saturating_mul(s.f_frsize),
        s.f_blocks.saturating_mul(s.f_frsize),
    ))
}

/// JPEG bytes per pixel to expect before any frame is stored (about 1.2
/// bits per pixel: a typical camera JPEG).
const BYTES_PER_PIXEL_GUESS: f64 = 0.15;

/// At start: how long the budget keeps frames at the cameras' rates (the
/// stored frames' mean size, or a guess from their sizes); a warning when
/// it is less than an hour, which on a small disk with an ill-chosen floor
/// could otherwise be seconds, silently. Blocking (the index, statvfs).
pub fn check_budget(policy: &RetentionConfig, cameras: &[CameraConfig], store: &Store) {
    let counted = store
        .count_by_camera()
        .map(|c| c.iter().map(|(_, n)| n).sum::<u64>())
        .unwrap_or(0);
    let stored_bytes = store.frames_bytes().unwrap_or(0);
    let bytes_per_s: f64 = cameras
        .iter()
        .map(|c| {
            let frame = if counted >= 10 {
                stored_bytes as f64 / counted as f64
            } else {
                f64::from(c.width) * f64::from(c.height) * BYTES_PER_PIXEL_GUESS
            };
            frame * c.fps
        })
        .sum();
    let Ok((free_bytes, fs_bytes)) = disk_space(store.frames_dir()) else {
        return;
    };
    let usage = Usage {
        frames_bytes: stored_bytes + store.index_disk_bytes(),
        free_bytes,
        fs_bytes,
    };
    let kept_s = seconds_kept(policy, usage, bytes_per_s);
    let floor = min_free_bytes(policy, fs_bytes);
    if kept_s < 3600.0 {
        tracing::warn!(
            minutes = (kept_s / 60.0) as u64,
            retain_bytes = policy.retain_bytes,
            free_bytes,
            min_free_bytes = floor,
            bytes_per_s = bytes_per_s.round(),
            "the disk budget keeps less than an hour of frames at the configured rates: \
             raise retention.retain_bytes, free the disk, lower retention.min_free_bytes, \
             or capture less"
        );
    } else if kept_s.is_finite() {
        tracing::info!(
            hours = (kept_s / 3600.0) as u64,
            min_free_bytes = floor,
            "the disk budget keeps frames this long at the configured rates"
        );
    }
}

/// The task that applies the plan, continuously.
#[derive(Debug)]
pub struct Retention {
    pub store: Arc<Store>,
    /// Changes live when a config is pushed from shore.
    pub policy: watch::Receiver<RetentionConfig>,
    pub frames_dir: PathBuf,
    pub metrics: Arc<Metrics>,
    /// The uplink's outbox, whose size counts against the same budget.
    pub outbox: Option<Arc<Outbox>>,
}

impl Retention {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let this = Arc::new(self);
        loop {
            let me = Arc::clone(&this);
            let pass = tokio::task::spawn_blocking(move || me.pass()).await;
            let deleted = match pass {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::warn!("retention pass failed: {e:#}");
                    0
                }
                Err(e) => {
                    tracing::error!("retention pass panicked: {e}");
                    0
                }
            };
            // A full pass means more may be due: go again at once.
            if deleted < MAX_DELETES_PER_PASS && !pause(PASS_INTERVAL, &shutdown).await {
                break;
            }
            if shutdown.is_cancelled() {
                break;
            }
        }
        Ok(())
    }

    /// One pass: measure, plan, delete through the garbage step (blocking).
    fn pass(&self) -> anyhow::Result<usize> {
        let others =
            self.store.index_disk_bytes() + self.outbox.as_ref().map_or(0, |o| o.disk_bytes());
        let (free_bytes, fs_bytes) = disk_space(&self.frames_dir)?;
        let usage = Usage {
            frames_bytes: self.store.frames_bytes()? + others,
            free_bytes,
            fs_bytes,
        };
        let oldest = self.store.oldest(MAX_DELETES_PER_PASS)?;
        let policy = self.policy.borrow().clone();
        let now = Timestamp::now();
        let plan = plan(&policy, now, usage, &oldest);
        // When frames go, the track goes with them: the plan takes from the
        // oldest, so the first it leaves is the oldest frame kept (unknown
        // this pass when it takes them all). Otherwise by age alone.
        if plan.ids.len() < oldest.len() || oldest.len() < MAX_DELETES_PER_PASS {
            let kept = (!plan.ids.is_empty())
                .then(|| oldest.get(plan.ids.len()).map(|c| c.captured_at))
                .flatten();
            let cutoff = fixes_cutoff_ms(&policy, now, kept);
            let forgotten = self
                .store
                .forget_fixes_before(cutoff, MAX_DELETES_PER_PASS)?;
            if forgotten > 0 {
                tracing::debug!(fixes = forgotten, "retention deleted the oldest fixes");
            }
        }
        if plan.ids.is_empty() {
            return Ok(0);
        }
        self.store.collect_garbage(&plan.ids)?;
        self.metrics
            .retention_deleted
            .fetch_add(plan.ids.len() as u64, Ordering::Relaxed);
        tracing::debug!(
            frames = plan.ids.len(),
            bytes = plan.bytes,
            "retention deleted the oldest frames"
        );
        Ok(plan.ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_track_is_kept_no_longer_than_its_age_or_the_frames() {
        let p = policy(3600, 1 << 30, 0);
        let now = Timestamp::from_unix_nanos(10_000 * 1_000_000_000);
        assert_eq!(fixes_cutoff_ms(&p, now, None), 6_400_000);
        let oldest = Timestamp::from_unix_nanos(9_000 * 1_000_000_000);
        assert_eq!(fixes_cutoff_ms(&p, now, Some(oldest)), 9_000_000);
        let older = Timestamp::from_unix_nanos(1_000 * 1_000_000_000);
        assert_eq!(fixes_cutoff_ms(&p, now, Some(older)), 6_400_000);
    }

    fn policy(max_age_s: u64, retain_bytes: u64, min_free_bytes: u64) -> RetentionConfig {
        RetentionConfig {
            max_age_s,
            retain_bytes,
            min_free_bytes: Some(min_free_bytes),
        }
    }

    #[test]
    fn the_default_floor_scales_with_the_disk_and_the_budget_in_seconds() {
        assert_eq!(auto_min_free_bytes(8_000_000_000), 400_000_000);
        assert_eq!(auto_min_free_bytes(2_000_000_000_000), 1_000_000_000);
        let auto = RetentionConfig {
            min_free_bytes: None,
            ..policy(1, 50_000_000_000, 0)
        };
        let usage = Usage {
            frames_bytes: 0,
            free_bytes: 1_000_000_000,
            fs_bytes: 8_000_000_000,
        };
        // 1 GB free, 0.4 GB floor: 0.6 GB at 100 kB/s is 6000 s.
        assert_eq!(seconds_kept(&auto, usage, 100_000.0), 6000.0);
        // retain_bytes smaller still.
        assert_eq!(
            seconds_kept(&policy(1, 1_000_000, 0), usage, 1000.0),
            1000.0
        );
    }

    fn candidates(n: i64, bytes: u64) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate {
                id: i + 1,
                captured_at: Timestamp::from_unix_millis(i * 1000),
                bytes,
            })
            .collect()
    }

    #[test]
    fn each_rule_deletes_from_the_oldest() {
        let now = Timestamp::from_unix_millis(100_000);
        let c = candidates(100, 10);
        // Age: frames older than 50 s (ids 1..=50, captured at 0..=49 s).
        let p = plan(
            &policy(50, u64::MAX, 0),
            now,
            Usage {
                frames_bytes: 1000,
                free_bytes: 1 << 40,
                fs_bytes: 1 << 41,
            },
            &c,
        );
        assert_eq!(p.ids, (1..=50).collect::<Vec<_>>());
        // Size: 1000 bytes, budget 700 → the oldest 30 go.
        let p = plan(
            &policy(1 << 40, 700, 0),
            now,
            Usage {
                frames_bytes: 1000,
                free_bytes: 1 << 40,
                fs_bytes: 1 << 41,
            },
            &c,
        );
        assert_eq!((p.ids.len(), p.bytes), (30, 300));
        // Free space: 50 free, 200 wanted → 15 frames of 10 bytes.
        let p = plan(
            &policy(1 << 40, u64::MAX, 200),
            now,
            Usage {
                frames_bytes: 1000,
                free_bytes: 50,
                fs_bytes: 1 << 41,
            },
            &c,
        );
        assert_eq!(p.ids.len(), 15);
        // Nothing broken: nothing deleted.
        let p = plan(
            &policy(1 << 40, 5000, 0),
            now,
            Usage {
                frames_bytes: 1000,
                free_bytes: 1 << 40,
                fs_bytes: 1 << 41,
            },
            &c,
        );
        assert!(p.ids.is_empty());
    }

    proptest! {
        #[test]
        fn a_plan_brings_usage_within_budget_oldest_first(
            sizes in proptest::collection::vec(1u64..10_000, 0..300),
            retain in 0u64..1_000_000,
        ) {
            let c: Vec<Candidate> = sizes.iter().enumerate().map(|(i, b)| Candidate {
                id: i as i64,
                captured_at: Timestamp::from_unix_millis(i as i64),
                bytes: *b,
            }).collect();
            let total: u64 = sizes.iter().sum();
            let p = plan(&policy(u64::MAX / 2_000_000_000, retain, 0), Timestamp::from_unix_millis(0), Usage { frames_bytes: total, free_bytes: u64::MAX / 2, fs_bytes: u64::MAX / 2 }, &c);
            // Within budget (or everything gone), deleting a prefix: the oldest.
            prop_assert!(total - p.bytes <= retain || p.ids.len() == c.len());
            prop_assert_eq!(p.ids.clone(), (0..p.ids.len() as i64).collect::<Vec<_>>());
            // Minimal: without the last deletion it would still be over budget.
            if let Some(last) = p.ids.last() {
                prop_assert!(total - (p.bytes - sizes[*last as usize]) > retain);
            }
        }
    }
}
