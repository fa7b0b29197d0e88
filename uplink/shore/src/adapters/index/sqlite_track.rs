//! [`TrackStore`] on SQLite: the range read from the `(vessel, at_ms)`
//! primary key; buckets by integer division from the range's start.

use rusqlite::{Row, params};
use seaframe_wire::VesselName;
use seaframe_wire::message::Fix;

use super::SqliteIndex;
use crate::adapters::index::Fut;
use crate::adapters::index::track::{TrackSpan, TrackStore};

const COLUMNS: &str = "at_ms, lat, lon, fix, speed_kn, course_deg, heading_deg";

fn to_fix(r: &Row<'_>) -> rusqlite::Result<Fix> {
    Ok(Fix {
        at_ms: r.get(0)?,
        lat: r.get(1)?,
        lon: r.get(2)?,
        fix: r.get(3)?,
        speed_kn: r.get(4)?,
        course_deg: r.get(5)?,
        heading_deg: r.get(6)?,
    })
}

impl TrackStore for SqliteIndex {
    fn track_span<'a>(&'a self, v: &'a VesselName, from_ns: i64, to_ns: i64) -> Fut<'a, TrackSpan> {
        let v = v.to_string();
        self.read(move |conn| {
            let (count, first_ms, last_ms): (i64, Option<i64>, Option<i64>) = conn.query_row(
                "SELECT COUNT(*), MIN(at_ms), MAX(at_ms) FROM fixes \
                 WHERE vessel = ?1 AND at_ms >= ?2 AND at_ms < ?3",
                params![
                    v,
                    from_ns.div_euclid(1_000_000),
                    to_ns.div_euclid(1_000_000)
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(TrackSpan {
                count: count.unsigned_abs(),
                first_ms,
                last_ms,
            })
        })
    }

    fn track<'a>(
        &'a self,
        v: &'a VesselName,
        from_ns: i64,
        to_ns: i64,
        bucket_ms: i64,
    ) -> Fut<'a, Vec<Fix>> {
        let v = v.to_string();
        let (from_ms, to_ms) = (from_ns.div_euclid(1_000_000), to_ns.div_euclid(1_000_000));
        self.read(move |conn| {
            let rows = if bucket_ms <= 1 {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM fixes \
                     WHERE vessel = ?1 AND at_ms >= ?2 AND at_ms < ?3 ORDER BY at_ms"
                ))?;
                stmt.query_map(params![v, from_ms, to_ms], to_fix)?
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM fixes WHERE vessel = ?1 AND at_ms IN ( \
                         SELECT MIN(at_ms) FROM fixes \
                         WHERE vessel = ?1 AND at_ms >= ?2 AND at_ms < ?3 \
                         GROUP BY (at_ms - ?2) / ?4) \
                     ORDER BY at_ms"
                ))?;
                stmt.query_map(params![v, from_ms, to_ms, bucket_ms], to_fix)?
                    .collect::<Result<Vec<_>, _>>()?
            };
            Ok(rows)
        })
    }
}
