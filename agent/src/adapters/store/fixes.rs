//! The ship's track in the index (`fixes`, one row per fix, keyed by its
//! time in ms): written by the GPS recorder, read by `/track` and by the
//! publisher, which sends what follows the outbox's position cursor.
//! Blocking (rusqlite), like the rest of the index.

use rusqlite::{Row, params};
use seaframe_wire::message::Fix as WireFix;

use crate::adapters::store::StoreError;
use crate::adapters::store::index::Index;

/// One fix as the index keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct FixRow {
    pub at_ms: i64,
    pub lat: f64,
    pub lon: f64,
    /// The quality's name (`3d`, `dgps`, …).
    pub fix: String,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub heading_deg: Option<f64>,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
}

impl FixRow {
    /// The fix as the `position` message carries it.
    pub fn to_wire(&self) -> WireFix {
        WireFix {
            at_ms: self.at_ms,
            lat: self.lat,
            lon: self.lon,
            fix: self.fix.clone(),
            speed_kn: self.speed_kn,
            course_deg: self.course_deg,
            heading_deg: self.heading_deg,
        }
    }
}

/// How many fixes a time range holds, and its first and last fix times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FixSpan {
    pub count: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

const COLUMNS: &str = "at_ms, lat, lon, fix, speed_kn, course_deg, heading_deg, satellites, hdop";

fn row_to_fix(r: &Row<'_>) -> rusqlite::Result<FixRow> {
    Ok(FixRow {
        at_ms: r.get(0)?,
        lat: r.get(1)?,
        lon: r.get(2)?,
        fix: r.get(3)?,
        speed_kn: r.get(4)?,
        course_deg: r.get(5)?,
        heading_deg: r.get(6)?,
        satellites: r.get(7)?,
        hdop: r.get(8)?,
    })
}

impl Index {
    /// Records fixes in one transaction. Idempotent: a fix whose time is
    /// already recorded is left alone. Returns how many were new.
    pub fn record_fixes(&self, fixes: &[FixRow]) -> Result<usize, StoreError> {
        let mut conn = self.writer.lock().expect("index writer lock poisoned");
        let tx = conn.transaction()?;
        let mut added = 0;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO fixes ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (at_ms) DO NOTHING"
            ))?;
            for f in fixes {
                added += stmt.execute(params![
                    f.at_ms,
                    f.lat,
                    f.lon,
                    f.fix,
                    f.speed_kn,
                    f.course_deg,
                    f.heading_deg,
                    f.satellites,
                    f.hdop
                ])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Deletes up to `limit` of the oldest fixes before `before_ms`
    /// (retention); how many went.
    pub fn forget_fixes_before(&self, before_ms: i64, limit: usize) -> Result<usize, StoreError> {
        let conn = self.writer.lock().expect("index writer lock poisoned");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(conn.execute(
            "DELETE FROM fixes WHERE at_ms IN \
             (SELECT at_ms FROM fixes WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
            params![before_ms, limit],
        )?)
    }

    /// The time of the newest fix recorded.
    pub fn last_fix_ms(&self) -> Result<Option<i64>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        Ok(conn.query_row("SELECT MAX(at_ms) FROM fixes", [], |r| r.get(0))?)
    }

    /// Up to `limit` fixes after `after_ms`, oldest first.
    pub fn fixes_after(&self, after_ms: i64, limit: usize) -> Result<Vec<FixRow>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM fixes WHERE at_ms > ?1 ORDER BY at_ms LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after_ms, limit], row_to_fix)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What `[from_ms, to_ms)` holds.
    pub fn fix_span(&self, from_ms: i64, to_ms: i64) -> Result<FixSpan, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let (count, first_ms, last_ms): (i64, Option<i64>, Option<i64>) = conn.query_row(
            "SELECT COUNT(*), MIN(at_ms), MAX(at_ms) FROM fixes WHERE at_ms >= ?1 AND at_ms < ?2",
            params![from_ms, to_ms],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(FixSpan {
            count: count.unsigned_abs(),
            first_ms,
            last_ms,
        })
    }

    /// The fixes of `[from_ms, to_ms)`, oldest first: all of them
    /// (`bucket_ms` 0), or the first of each `bucket_ms` from `from_ms`.
    pub fn fixes_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<FixRow>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let rows = if bucket_ms <= 1 {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM fixes WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms"
            ))?;
            let rows = stmt.query_map(params![from_ms, to_ms], row_to_fix)?;
            rows.collect::<Result<Vec<_>, _>>()?
        } else {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM fixes WHERE at_ms IN (
                     SELECT MIN(at_ms) FROM fixes WHERE at_ms >= ?1 AND at_ms < ?2
                     GROUP BY (at_ms - ?1) / ?3)
                 ORDER BY at_ms"
            ))?;
            let rows = stmt.query_map(params![from_ms, to_ms, bucket_ms], row_to_fix)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fix(at_ms: i64) -> FixRow {
        FixRow {
            at_ms,
            lat: 1.0,
            lon: 2.0,
            fix: "3d".into(),
            speed_kn: Some(5.0),
            course_deg: None,
            heading_deg: None,
            satellites: Some(9),
            hdop: Some(0.8),
        }
    }

    #[test]
    fn fixes_are_kept_once_and_read_by_range_and_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.db")).unwrap();
        assert_eq!(index.last_fix_ms().unwrap(), None);
        let all: Vec<FixRow> = (0..100).map(|s| fix(s * 1000)).collect();
        assert_eq!(index.record_fixes(&all).unwrap(), 100);
        assert_eq!(index.record_fixes(&all[..10]).unwrap(), 0);
        assert_eq!(index.last_fix_ms().unwrap(), Some(99_000));
        let after = index.fixes_after(95_000, 10).unwrap();
        assert_eq!(
            after.iter().map(|f| f.at_ms).collect::<Vec<_>>(),
            [96_000, 97_000, 98_000, 99_000]
        );
        assert_eq!(after[0], fix(96_000));
        let span = index.fix_span(10_000, 20_000).unwrap();
        assert_eq!(
            (span.count, span.first_ms, span.last_ms),
            (10, Some(10_000), Some(19_000))
        );
        assert_eq!(index.fixes_between(10_000, 20_000, 0).unwrap().len(), 10);
        let sampled = index.fixes_between(10_500, 40_500, 10_000).unwrap();
        assert_eq!(
            sampled.iter().map(|f| f.at_ms).collect::<Vec<_>>(),
            [11_000, 21_000, 31_000]
        );
    }

    #[test]
    fn the_oldest_fixes_are_forgotten_a_bounded_batch_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.db")).unwrap();
        let all: Vec<FixRow> = (0..100).map(|s| fix(s * 1000)).collect();
        index.record_fixes(&all).unwrap();
        assert_eq!(index.forget_fixes_before(50_000, 30).unwrap(), 30);
        assert_eq!(index.fix_span(0, 50_000).unwrap().first_ms, Some(30_000));
        assert_eq!(index.forget_fixes_before(50_000, 30).unwrap(), 20);
        assert_eq!(index.forget_fixes_before(50_000, 30).unwrap(), 0);
        let left = index.fix_span(0, i64::MAX).unwrap();
        assert_eq!((left.count, left.first_ms), (50, Some(50_000)));
    }
}
