//! [`RetentionStore`] on SQLite: running totals per camera kept by
//! triggers, the garbage table, and a lease that is an exclusive `flock`
//! on a file beside the index (shores sharing the file share its folder).

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;

use rusqlite::{OptionalExtension, params};
use rustix::fs::{FlockOperation, flock};

use super::super::retention::{
    Arrivals, CameraUsage, Doomed, GarbageRow, Lease, RetentionStore, usage,
};
use super::super::{Fut, IndexError, camera, vessel};
use super::SqliteIndex;

/// Appended to the migrations: the usage totals (filled from what is
/// there), their triggers, the garbage and retention's own values.
pub(super) const MIGRATION: &str = r"
CREATE TABLE thumb_usage (
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (vessel, camera)
);
INSERT INTO thumb_usage (vessel, camera, bytes, count)
    SELECT vessel, camera, sum(bytes), count(*) FROM thumbs GROUP BY vessel, camera;
CREATE TRIGGER thumb_usage_insert AFTER INSERT ON thumbs BEGIN
    INSERT INTO thumb_usage (vessel, camera, bytes, count)
        VALUES (NEW.vessel, NEW.camera, NEW.bytes, 1)
        ON CONFLICT (vessel, camera) DO UPDATE
        SET bytes = bytes + excluded.bytes, count = count + 1;
END;
CREATE TRIGGER thumb_usage_delete AFTER DELETE ON thumbs BEGIN
    UPDATE thumb_usage SET bytes = bytes - OLD.bytes, count = count - 1
        WHERE vessel = OLD.vessel AND camera = OLD.camera;
END;
CREATE TABLE thumb_garbage (
    id INTEGER PRIMARY KEY,
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    captured_at_ns INTEGER NOT NULL
);
CREATE TABLE retention_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

impl RetentionStore for SqliteIndex {
    fn retention_lease(&self) -> Fut<'_, Option<Lease>> {
        self.read(|conn| {
            let Some(db) = conn.path().filter(|p| !p.is_empty()) else {
                return Ok(Some(Box::new(()) as Lease));
            };
            let path = format!("{db}.retention-lock");
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| IndexError::Open {
                    what: path.clone(),
                    why: e.to_string(),
                })?;
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                // Unlocked when the lease (the file) is closed.
                Ok(()) => Ok(Some(Box::new(file) as Lease)),
                Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
                Err(e) => Err(IndexError::Open {
                    what: path,
                    why: e.to_string(),
                }),
            }
        })
    }

    fn thumb_usage(&self) -> Fut<'_, Vec<CameraUsage>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT vessel, camera, bytes, count FROM thumb_usage WHERE count > 0 \
                 ORDER BY vessel, camera",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (v, c, bytes, count) = row?;
                out.push(usage(&v, &c, bytes, count)?);
            }
            Ok(out)
        })
    }

    fn doom_thumbs<'a>(&'a self, ids: &'a [i64]) -> Fut<'a, Doomed> {
        let ids = ids.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut doomed = Doomed::default();
            let mut touched = HashSet::new();
            {
                let mut get = tx.prepare_cached(
                    "SELECT vessel, camera, captured_at_ns, bytes FROM thumbs WHERE id = ?1",
                )?;
                let mut keep = tx.prepare_cached(
                    "INSERT OR IGNORE INTO thumb_garbage (id, vessel, camera, captured_at_ns) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut delete = tx.prepare_cached("DELETE FROM thumbs WHERE id = ?1")?;
                for id in &ids {
                    let row: Option<(String, String, i64, i64)> = get
                        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                        .optional()?;
                    let Some((v, c, ns, bytes)) = row else {
                        continue;
                    };
                    keep.execute(params![id, v, c, ns])?;
                    delete.execute([id])?;
                    doomed.rows += 1;
                    doomed.bytes += u64::try_from(bytes).unwrap_or(0);
                    touched.insert(*id);
                }
            }
            // Cameras whose newest thumbnail went: their newest remaining one.
            let mut latest: HashMap<i64, (String, String)> = HashMap::new();
            {
                let mut stmt =
                    tx.prepare_cached("SELECT latest_id, vessel, camera FROM cameras")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
                for row in rows {
                    let (id, vc) = row?;
                    if touched.contains(&id) {
                        latest.insert(id, vc);
                    }
                }
            }
            for (v, c) in latest.values() {
                let newest: Option<(i64, i64)> = tx
                    .query_row(
                        "SELECT id, captured_at_ns FROM thumbs WHERE vessel = ?1 AND camera = ?2 \
                         ORDER BY captured_at_ns DESC, id DESC LIMIT 1",
                        [v, c],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                match newest {
                    Some((id, ns)) => tx.execute(
                        "UPDATE cameras SET latest_id = ?3, latest_ns = ?4 \
                         WHERE vessel = ?1 AND camera = ?2",
                        params![v, c, id, ns],
                    )?,
                    None => tx.execute(
                        "DELETE FROM cameras WHERE vessel = ?1 AND camera = ?2",
                        [v, c],
                    )?,
                };
            }
            tx.commit()?;
            Ok(doomed)
        })
    }

    fn garbage(&self, limit: u32) -> Fut<'_, Vec<GarbageRow>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, vessel, camera, captured_at_ns FROM thumb_garbage ORDER BY id LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, v, c, captured_at_ns) = row?;
                out.push(GarbageRow {
                    id,
                    vessel: vessel(&v)?,
                    camera: camera(&c)?,
                    captured_at_ns,
                });
            }
            Ok(out)
        })
    }

    fn drop_garbage<'a>(&'a self, ids: &'a [i64]) -> Fut<'a, ()> {
        let ids = ids.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM thumb_garbage WHERE id = ?1")?;
                for id in &ids {
                    stmt.execute([id])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn retention_value<'a>(&'a self, name: &'a str) -> Fut<'a, Option<i64>> {
        let name = name.to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT value FROM retention_state WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    fn set_retention_values<'a>(&'a self, values: &'a [(String, i64)]) -> Fut<'a, ()> {
        let values = values.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO retention_state (name, value) VALUES (?1, ?2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )?;
                for (name, value) in &values {
                    stmt.execute(params![name, value])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn arrivals_since(&self, after_id: i64) -> Fut<'_, Arrivals> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT vessel, camera, min(captured_at_ns), max(id) FROM thumbs WHERE id > ?1 \
                 GROUP BY vessel, camera",
            )?;
            let rows = stmt.query_map([after_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Arrivals {
                max_id: after_id,
                oldest: Vec::new(),
            };
            for row in rows {
                let (v, c, ns, max_id) = row?;
                out.max_id = out.max_id.max(max_id);
                out.oldest.push((vessel(&v)?, camera(&c)?, ns));
            }
            Ok(out)
        })
    }
}
