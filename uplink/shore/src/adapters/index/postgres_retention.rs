//! [`RetentionStore`] on PostgreSQL: running totals per camera kept by
//! statement triggers (one upsert per camera per batch, in camera order so
//! that shores inserting at once queue rather than deadlock), the garbage
//! table, and a lease that is a session advisory lock held on a connection
//! of its own for the length of a pass (released when the lease drops the
//! connection, or when a crashed shore's connection dies).

use super::super::retention::{
    Arrivals, CameraUsage, Doomed, GarbageRow, Lease, RetentionStore, usage,
};
use super::super::{Fut, IndexError, camera, vessel};
use super::{PgIndex, connect};

/// An arbitrary constant: the advisory lock retention passes run under.
const RETENTION_LOCK: i64 = 0x5EAF_7E7E;

/// Appended to the migrations (see the SQLite twin).
pub(super) const MIGRATION: &str = r"
CREATE TABLE thumb_usage (
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (vessel, camera)
);
INSERT INTO thumb_usage (vessel, camera, bytes, count)
    SELECT vessel, camera, sum(bytes), count(*) FROM thumbs GROUP BY vessel, camera;
CREATE FUNCTION thumb_usage_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thumb_usage (vessel, camera, bytes, count)
        SELECT vessel, camera, sum(bytes), count(*) FROM new_rows
        GROUP BY vessel, camera ORDER BY vessel, camera
        ON CONFLICT (vessel, camera) DO UPDATE
        SET bytes = thumb_usage.bytes + excluded.bytes, count = thumb_usage.count + excluded.count;
    RETURN NULL;
END $$;
CREATE FUNCTION thumb_usage_sub() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE thumb_usage u SET bytes = u.bytes - d.bytes, count = u.count - d.count
        FROM (SELECT vessel, camera, sum(bytes) AS bytes, count(*) AS count FROM old_rows
              GROUP BY vessel, camera ORDER BY vessel, camera) d
        WHERE u.vessel = d.vessel AND u.camera = d.camera;
    RETURN NULL;
END $$;
CREATE TRIGGER thumb_usage_insert AFTER INSERT ON thumbs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION thumb_usage_add();
CREATE TRIGGER thumb_usage_delete AFTER DELETE ON thumbs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION thumb_usage_sub();
CREATE TABLE thumb_garbage (
    id BIGINT PRIMARY KEY,
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    captured_at_ns BIGINT NOT NULL
);
CREATE TABLE retention_state (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
";

impl RetentionStore for PgIndex {
    fn retention_lease(&self) -> Fut<'_, Option<Lease>> {
        Box::pin(async move {
            let client = connect(self.url.expose(), &self.connections).await?;
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&RETENTION_LOCK])
                .await?
                .try_get(0)?;
            // Dropping the client closes its session, and the lock with it.
            Ok(got.then(|| Box::new(client) as Lease))
        })
    }

    fn thumb_usage(&self) -> Fut<'_, Vec<CameraUsage>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT vessel, camera, bytes, count FROM thumb_usage WHERE count > 0 \
                     ORDER BY vessel, camera",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| usage(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
                .collect()
        })
    }

    fn doom_thumbs<'a>(&'a self, ids: &'a [i64]) -> Fut<'a, Doomed> {
        Box::pin(async move {
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_one(
                    "WITH moved AS (DELETE FROM thumbs WHERE id = ANY($1) \
                       RETURNING id, vessel, camera, captured_at_ns, bytes), \
                     kept AS (INSERT INTO thumb_garbage (id, vessel, camera, captured_at_ns) \
                       SELECT id, vessel, camera, captured_at_ns FROM moved ON CONFLICT (id) DO NOTHING) \
                     SELECT count(*), coalesce(sum(bytes), 0)::bigint, \
                       coalesce(array_agg(id), '{}') FROM moved",
                    &[&ids],
                )
                .await?;
            let (rows, bytes, moved): (i64, i64, Vec<i64>) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let latest = tx
                .query(
                    "SELECT vessel, camera FROM cameras WHERE latest_id = ANY($1)",
                    &[&moved],
                )
                .await?;
            for r in &latest {
                let (v, c): (&str, &str) = (r.try_get(0)?, r.try_get(1)?);
                tx.execute(
                    "DELETE FROM cameras WHERE vessel = $1 AND camera = $2",
                    &[&v, &c],
                )
                .await?;
                tx.execute(
                    "INSERT INTO cameras (vessel, camera, latest_id, latest_ns) \
                     SELECT vessel, camera, id, captured_at_ns FROM thumbs \
                     WHERE vessel = $1 AND camera = $2 \
                     ORDER BY captured_at_ns DESC, id DESC LIMIT 1",
                    &[&v, &c],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(Doomed {
                rows: u64::try_from(rows).unwrap_or(0),
                bytes: u64::try_from(bytes).unwrap_or(0),
            })
        })
    }

    fn garbage(&self, limit: u32) -> Fut<'_, Vec<GarbageRow>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT id, vessel, camera, captured_at_ns FROM thumb_garbage \
                     ORDER BY id LIMIT $1",
                    &[&i64::from(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(GarbageRow {
                        id: r.try_get(0)?,
                        vessel: vessel(r.try_get(1)?)?,
                        camera: camera(r.try_get(2)?)?,
                        captured_at_ns: r.try_get(3)?,
                    })
                })
                .collect::<Result<_, IndexError>>()
        })
    }

    fn drop_garbage<'a>(&'a self, ids: &'a [i64]) -> Fut<'a, ()> {
        Box::pin(async move {
            self.writer()
                .await?
                .execute("DELETE FROM thumb_garbage WHERE id = ANY($1)", &[&ids])
                .await?;
            Ok(())
        })
    }

    fn retention_value<'a>(&'a self, name: &'a str) -> Fut<'a, Option<i64>> {
        Box::pin(async move {
            let row = self
                .reader()
                .await?
                .query_opt(
                    "SELECT value FROM retention_state WHERE name = $1",
                    &[&name],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn set_retention_values<'a>(&'a self, values: &'a [(String, i64)]) -> Fut<'a, ()> {
        Box::pin(async move {
            let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
            let vals: Vec<i64> = values.iter().map(|(_, v)| *v).collect();
            self.writer()
                .await?
                .execute(
                    "INSERT INTO retention_state (name, value) \
                     SELECT * FROM unnest($1::text[], $2::bigint[]) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &[&names, &vals],
                )
                .await?;
            Ok(())
        })
    }

    fn arrivals_since(&self, after_id: i64) -> Fut<'_, Arrivals> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT vessel, camera, min(captured_at_ns), max(id) FROM thumbs \
                     WHERE id > $1 GROUP BY vessel, camera",
                    &[&after_id],
                )
                .await?;
            let mut out = Arrivals {
                max_id: after_id,
                oldest: Vec::new(),
            };
            for r in &rows {
                out.max_id = out.max_id.max(r.try_get(3)?);
                out.oldest.push((
                    vessel(r.try_get(0)?)?,
                    camera(r.try_get(1)?)?,
                    r.try_get(2)?,
                ));
            }
            Ok(out)
        })
    }
}
