//! systemd notification (`Type=notify`): `READY=1` once the agent has
//! started (after the start-up repair), `WATCHDOG=1` at half of
//! `WATCHDOG_USEC` but only while capture and storage make progress, and
//! `STOPPING=1` when the ordered stop begins. Without `NOTIFY_SOCKET` every
//! call is a no-op. This module only reads [`Metrics`]; it never touches a
//! stage. The progress rule is [`judge`], a pure function; the rule and why
//! it is what it is are in docs/design.md "Watchdog".

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::base::metrics::{CameraState, Metrics};

/// The shortest ping period we accept (a `WATCHDOG_USEC` below 2 ms would
/// spin the loop).
const MIN_PING_PERIOD: Duration = Duration::from_millis(1);

/// One camera's counters at a ping, as the progress rule sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CameraSample {
    /// Frames delivered plus failed capture attempts: the capture loop turned.
    pub attempts: u64,
    /// Frames delivered by the source.
    pub captured: u64,
    /// Frames that left the pipeline for good: stored, failed (disk full),
    /// trimmed from the stream, dropped before it, lost with a Redis.
    pub resolved: u64,
    /// Frames the storage side took a decision on: stored, failed, trimmed.
    pub stored_or_failed: u64,
    /// The camera is waiting out a back-off (its supervisor is looping).
    pub retrying: bool,
    /// The camera's frame period, in ms (a slow camera may have nothing due).
    pub period_ms: u64,
}

/// What the watchdog knows at one ping: one sample per camera, by position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sample {
    pub cameras: Vec<(String, CameraSample)>,
}

impl Sample {
    /// Reads the counters of every camera in `metrics`.
    pub fn take(metrics: &Metrics) -> Self {
        let cameras = metrics
            .cameras()
            .iter()
            .map(|c| {
                let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                let captured = n(&c.captured);
                let stored_or_failed = n(&c.stored) + n(&c.failed) + n(&c.trimmed);
                let period_ms = if c.fps > 0.0 {
                    (1000.0 / c.fps) as u64
                } else {
                    0
                };
                let sample = CameraSample {
                    attempts: captured + n(&c.capture_errors),
                    captured,
                    resolved: stored_or_failed + n(&c.dropped) + n(&c.lost),
                    stored_or_failed,
                    retrying: matches!(c.state(), CameraState::Retrying { .. }),
                    period_ms,
                };
                (c.id.to_string(), sample)
            })
            .collect();
        Self { cameras }
    }
}

/// Why a ping was or was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Capture and storage both moved (or had nothing to do).
    Progress,
    /// No camera delivered or tried, none is backing off, and one was due.
    CaptureStalled,
    /// Frames are waiting and the storage side decided on none of them.
    StorageStalled,
}

/// The progress rule, between the sample at the previous ping (`before`)
/// and now, `interval_ms` later. Pure; see docs/design.md "Watchdog".
///
/// - Capture moves when no camera is configured, or some camera delivered a
///   frame or failed an attempt, or every camera is backing off (its next
///   attempt may be up to 30 s away), or some camera's frame period is
///   longer than the interval (nothing was due).
/// - Storage moves when some frame was stored, failed or trimmed, or when
///   nothing is waiting (every frame captured is accounted for).
pub fn judge(before: &Sample, now: &Sample, interval_ms: u64) -> Verdict {
    let prev = |id: &str| {
        before
            .cameras
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    };
    let cams = &now.cameras;
    let capture_moved = cams.is_empty()
        || cams.iter().all(|(_, s)| s.retrying)
        || cams
            .iter()
            .any(|(id, s)| s.attempts > prev(id).attempts || s.period_ms > interval_ms);
    if !capture_moved {
        return Verdict::CaptureStalled;
    }
    let waiting: u64 = cams
        .iter()
        .map(|(_, s)| s.captured.saturating_sub(s.resolved))
        .sum();
    let storage_moved = waiting == 0
        || cams
            .iter()
            .any(|(id, s)| s.stored_or_failed > prev(id).stored_or_failed);
    if !storage_moved {
        return Verdict::StorageStalled;
    }
    Verdict::Progress
}

/// The ping period for a watchdog timeout: half of it, as sd_watchdog_enabled(3) advises.
pub fn ping_period(watchdog: Duration) -> Duration {
    (watchdog / 2).max(MIN_PING_PERIOD)
}

/// The agent's link to systemd: created when the agent is up, stopped
/// first when it stops.
#[derive(Debug)]
pub struct Notifier {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Notifier {
    /// Sends `READY=1` and, when systemd asked for a watchdog
    /// (`WATCHDOG_USEC`, and `WATCHDOG_PID` absent or ours), starts the
    /// watchdog task. Call once the agent has started (start-up repair done).
    pub fn ready(metrics: Arc<Metrics>) -> Self {
        send(&[NotifyState::Ready, NotifyState::Status("running")]);
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        if let Some(watchdog) = sd_notify::watchdog_enabled() {
            let task = Watchdog {
                metrics,
                period: ping_period(watchdog),
            };
            tracker.spawn(
                task.run(token.clone())
                    .instrument(tracing::info_span!("watchdog")),
            );
        }
        tracker.close();
        Self { token, tracker }
    }

    /// Sends `STOPPING=1` and stops the watchdog task: from here the ordered
    /// stop is bounded by systemd's `TimeoutStopSec`, not by the watchdog.
    pub async fn stopping(self) {
        send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
        self.token.cancel();
        self.tracker.wait().await;
    }
}

/// The watchdog stage: a ping per period while [`judge`] says progress.
#[derive(Debug)]
struct Watchdog {
    metrics: Arc<Metrics>,
    period: Duration,
}

impl Watchdog {
    async fn run(self, shutdown: CancellationToken) {
        let period_ms = u64::try_from(self.period.as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            period_ms,
            "watchdog pings while capture and storage progress"
        );
        let mut tick = tokio::time::interval(self.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        let mut before = Sample::take(&self.metrics);
        let mut last = Verdict::Progress;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let now = Sample::take(&self.metrics);
            let verdict = judge(&before, &now, period_ms);
            if verdict == Verdict::Progress {
                send(&[NotifyState::Watchdog]);
            } else if verdict != last {
                tracing::warn!(?verdict, "no progress: withholding the watchdog ping");
            }
            if verdict == Verdict::Progress && last != Verdict::Progress {
                tracing::info!("progress again: watchdog pings resumed");
            }
            last = verdict;
            before = now;
        }
    }
}

/// Sends to `NOTIFY_SOCKET` if set; a failure is logged, never fatal (the
/// agent must run the same without systemd).
fn send(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!("sd_notify failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(attempts: u64, captured: u64, resolved: u64, stored: u64) -> CameraSample {
        CameraSample {
            attempts,
            captured,
            resolved,
            stored_or_failed: stored,
            retrying: false,
            period_ms: 200,
        }
    }

    fn sample(cams: &[(&str, CameraSample)]) -> Sample {
        Sample {
            cameras: cams.iter().map(|(i, s)| ((*i).to_owned(), *s)).collect(),
        }
    }

    #[test]
    fn no_camera_is_progress() {
        assert_eq!(
            judge(&Sample::default(), &Sample::default(), 500),
            Verdict::Progress
        );
    }

    #[test]
    fn capture_and_storage_moving_is_progress() {
        let a = sample(&[("a", cam(10, 10, 8, 8))]);
        let b = sample(&[("a", cam(13, 13, 12, 12))]);
        assert_eq!(judge(&a, &b, 500), Verdict::Progress);
    }

    #[test]
    fn capture_stuck_is_a_stall_unless_backing_off_or_slow() {
        let a = sample(&[("a", cam(10, 10, 10, 10)), ("b", cam(3, 3, 3, 3))]);
        assert_eq!(judge(&a, &a, 500), Verdict::CaptureStalled);
        let mut retrying = a.clone();
        for (_, s) in &mut retrying.cameras {
            s.retrying = true;
        }
        assert_eq!(judge(&a, &retrying, 500), Verdict::Progress);
        // One backing off while the other is stuck: the stuck one counts.
        let mut one_retrying = a.clone();
        one_retrying.cameras[0].1.retrying = true;
        assert_eq!(judge(&a, &one_retrying, 500), Verdict::CaptureStalled);
        let mut slow = a.clone();
        slow.cameras[1].1.period_ms = 10_000;
        assert_eq!(judge(&a, &slow, 500), Verdict::Progress);
    }

    #[test]
    fn one_camera_moving_is_enough_for_capture() {
        let a = sample(&[("a", cam(10, 10, 10, 10)), ("b", cam(3, 3, 3, 3))]);
        let b = sample(&[("a", cam(10, 10, 10, 10)), ("b", cam(5, 5, 5, 5))]);
        assert_eq!(judge(&a, &b, 500), Verdict::Progress);
    }

    #[test]
    fn failed_attempts_are_capture_progress() {
        let a = sample(&[("a", cam(10, 10, 10, 10))]);
        let b = sample(&[("a", cam(12, 10, 10, 10))]);
        assert_eq!(judge(&a, &b, 500), Verdict::Progress);
    }

    #[test]
    fn frames_waiting_without_storage_progress_is_a_stall() {
        let a = sample(&[("a", cam(10, 10, 8, 8))]);
        let b = sample(&[("a", cam(13, 13, 8, 8))]);
        assert_eq!(judge(&a, &b, 500), Verdict::StorageStalled);
        // Frames dropped before the stream resolve them, but are not progress.
        let c = sample(&[("a", cam(13, 13, 11, 8))]);
        assert_eq!(judge(&a, &c, 500), Verdict::StorageStalled);
        // Stored, failed (disk full) or trimmed are.
        let d = sample(&[("a", cam(13, 13, 9, 9))]);
        assert_eq!(judge(&a, &d, 500), Verdict::Progress);
    }

    #[test]
    fn nothing_waiting_needs_no_storage_progress() {
        let a = sample(&[("a", cam(10, 10, 10, 10))]);
        let b = sample(&[("a", cam(12, 10, 10, 10))]);
        assert_eq!(judge(&a, &b, 500), Verdict::Progress);
    }

    #[test]
    fn a_camera_seen_first_now_counts_from_zero() {
        let a = Sample::default();
        let b = sample(&[("a", cam(2, 2, 2, 2))]);
        assert_eq!(judge(&a, &b, 500), Verdict::Progress);
    }

    #[test]
    fn ping_period_is_half_the_timeout() {
        assert_eq!(
            ping_period(Duration::from_secs(30)),
            Duration::from_secs(15)
        );
        assert_eq!(ping_period(Duration::from_micros(1)), MIN_PING_PERIOD);
    }
}
