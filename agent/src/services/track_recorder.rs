//! The track recorder: every second, the fixes new on the timeline go into
//! the index, at most one per second (the first of each), so that the track
//! outlives the timeline's hour in memory and an agent restart; the
//! publisher sends it to shore from there.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::adapters::store::Store;
use crate::adapters::store::fixes::FixRow;
use crate::base::gps::fix::Fix;
use crate::base::gps::state::Gps;
use seaframe_wire::timestamp::Timestamp;

/// How often the timeline is looked at.
pub const RECORD_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Recorder {
    pub gps: Arc<Gps>,
    pub store: Arc<Store>,
}

impl Recorder {
    /// Records until `shutdown`, then once more (what came in meanwhile).
    /// An index error is logged and retried at the next tick: the fixes
    /// stay on the timeline for an hour.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let store = Arc::clone(&self.store);
        let last_ms = tokio::task::spawn_blocking(move || store.last_fix_ms()).await??;
        // The second of the newest fix recorded (-1: none yet).
        let mut last_s = last_ms.map_or(-1, |ms| ms.div_euclid(1000));
        let mut tick = tokio::time::interval(RECORD_EVERY);
        loop {
            let stop = tokio::select! {
                biased;
                _ = shutdown.cancelled() => true,
                _ = tick.tick() => false,
            };
            match self.record(last_s).await {
                Ok(s) => last_s = s,
                Err(e) => tracing::warn!("recording fixes in the index: {e:#}"),
            }
            if stop {
                return Ok(());
            }
        }
    }

    /// Records the fixes of the seconds after `last_s`; returns the new last.
    async fn record(&self, last_s: i64) -> anyhow::Result<i64> {
        let from = Timestamp::from_unix_millis(last_s.saturating_add(1).saturating_mul(1000));
        let fixes = self.gps.fixes_from(from);
        let (rows, new_last_s) = one_per_second(&fixes, last_s);
        if rows.is_empty() {
            return Ok(last_s);
        }
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.record_fixes(&rows)).await??;
        Ok(new_last_s)
    }
}

/// The first fix of each second after `last_s` (fixes in time order), as
/// index rows, and the last second taken.
pub fn one_per_second(fixes: &[Fix], mut last_s: i64) -> (Vec<FixRow>, i64) {
    let mut rows = Vec::new();
    for f in fixes {
        let at_ms = f.time.unix_millis();
        let s = at_ms.div_euclid(1000);
        if s <= last_s {
            continue;
        }
        last_s = s;
        rows.push(FixRow {
            at_ms,
            lat: f.lat,
            lon: f.lon,
            fix: f.quality_name().to_owned(),
            speed_kn: f.speed_kn,
            course_deg: f.course_deg,
            heading_deg: f.heading_deg,
            satellites: f.satellites,
            hdop: f.hdop,
        });
    }
    (rows, last_s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fix(at_ms: i64) -> Fix {
        Fix {
            time: Timestamp::from_unix_millis(at_ms),
            lat: 1.0,
            lon: 2.0,
            mode: 3,
            quality: 1,
            satellites: Some(8),
            hdop: None,
            altitude_m: None,
            speed_kn: None,
            course_deg: None,
            heading_deg: None,
        }
    }

    #[test]
    fn ten_hertz_is_recorded_at_one_hertz_from_after_the_last() {
        let fixes: Vec<Fix> = (0..35).map(|i| fix(10_000 + i * 100)).collect();
        let (rows, last) = one_per_second(&fixes, -1);
        assert_eq!(
            rows.iter().map(|r| r.at_ms).collect::<Vec<_>>(),
            [10_000, 11_000, 12_000, 13_000]
        );
        assert_eq!(last, 13);
        assert_eq!(rows[0].fix, "3d");
        let (rows, last) = one_per_second(&fixes, 11);
        assert_eq!(
            rows.iter().map(|r| r.at_ms).collect::<Vec<_>>(),
            [12_000, 13_000]
        );
        assert_eq!(last, 13);
        assert!(one_per_second(&fixes, 13).0.is_empty());
    }
}
