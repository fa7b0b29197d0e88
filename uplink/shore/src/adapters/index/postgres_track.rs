//! [`TrackStore`] on PostgreSQL: the range read from the `(vessel, at_ms)`
//! primary key; buckets by integer division from the range's start.

use seaframe_wire::VesselName;
use seaframe_wire::message::Fix;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgIndex;
use crate::adapters::index::track::{TrackSpan, TrackStore};
use crate::adapters::index::{Fut, IndexError};

const COLUMNS: &str = "at_ms, lat, lon, fix, speed_kn, course_deg, heading_deg";

fn to_fix(r: &Row) -> Result<Fix, IndexError> {
    Ok(Fix {
        at_ms: r.try_get(0)?,
        lat: r.try_get(1)?,
        lon: r.try_get(2)?,
        fix: r.try_get(3)?,
        speed_kn: r.try_get(4)?,
        course_deg: r.try_get(5)?,
        heading_deg: r.try_get(6)?,
    })
}

impl TrackStore for PgIndex {
    fn track_span<'a>(&'a self, v: &'a VesselName, from_ns: i64, to_ns: i64) -> Fut<'a, TrackSpan> {
        Box::pin(async move {
            let row = self
                .reader()
                .await?
                .query_one(
                    "SELECT COUNT(*), MIN(at_ms), MAX(at_ms) FROM fixes \
                     WHERE vessel = $1 AND at_ms >= $2 AND at_ms < $3",
                    &[
                        &v.as_str() as &(dyn ToSql + Sync),
                        &from_ns.div_euclid(1_000_000),
                        &to_ns.div_euclid(1_000_000),
                    ],
                )
                .await?;
            Ok(TrackSpan {
                count: row.try_get::<_, i64>(0)?.unsigned_abs(),
                first_ms: row.try_get(1)?,
                last_ms: row.try_get(2)?,
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
        Box::pin(async move {
            let (from_ms, to_ms) = (from_ns.div_euclid(1_000_000), to_ns.div_euclid(1_000_000));
            let client = self.reader().await?;
            let rows = if bucket_ms <= 1 {
                client
                    .query(
                        &format!(
                            "SELECT {COLUMNS} FROM fixes \
                             WHERE vessel = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms"
                        ),
                        &[&v.as_str() as &(dyn ToSql + Sync), &from_ms, &to_ms],
                    )
                    .await?
            } else {
                client
                    .query(
                        &format!(
                            "SELECT {COLUMNS} FROM fixes WHERE vessel = $1 AND at_ms IN ( \
                                 SELECT MIN(at_ms) FROM fixes \
                                 WHERE vessel = $1 AND at_ms >= $2 AND at_ms < $3 \
                                 GROUP BY (at_ms - $2) / $4) \
                             ORDER BY at_ms"
                        ),
                        &[
                            &v.as_str() as &(dyn ToSql + Sync),
                            &from_ms,
                            &to_ms,
                            &bucket_ms,
                        ],
                    )
                    .await?
            };
            rows.iter().map(to_fix).collect()
        })
    }
}
