//! The outbox: thumbnails waiting for the shore, on disk (SQLite in
//! `data_dir/outbox/outbox.db`), so that they survive a dead link, a dead
//! broker and an agent restart. A thumbnail leaves only when the broker
//! acknowledged it ([`Outbox::remove`] on PUBACK).
//!
//! Bounded by `max_bytes`: past it, the oldest backlog is thinned first to
//! one thumbnail per camera-minute, then to one per ten minutes, and only
//! then are the oldest dropped whole; every thumbnail thinned or dropped is
//! counted. The outbox also keeps, per camera, how far thumbnails were made
//! ([`Outbox::progress`]) so that a restart neither repeats nor skips, and
//! how far the track was acknowledged ([`Outbox::positions_sent_until`]):
//! the fixes themselves wait in the index, which keeps them anyway.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use seaframe_wire::CameraId;

use crate::adapters::store::file_bytes;

/// Thinning works down to this share of `max_bytes`, so that a full outbox
/// is not thinned again on every push.
const THIN_TO_PERCENT: u64 = 90;
/// Slots of the two thinning levels: a minute, then ten.
const THIN_LEVELS_NS: [i64; 2] = [60_000_000_000, 600_000_000_000];
/// Rows deleted per statement while thinning or dropping.
const CHUNK: i64 = 32;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("creating {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One thumbnail waiting to be sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub camera: CameraId,
    pub captured_at_ns: i64,
    /// The encoded envelope (what is published).
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("id", &self.id)
            .field("camera", &self.camera)
            .field("captured_at_ns", &self.captured_at_ns)
            .field("payload_bytes", &self.payload.len())
            .finish()
    }
}

/// What making room cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Removed by thinning (the newest of the same camera-slot was kept).
    pub thinned: u64,
    /// Removed whole (the oldest), after thinning could do no more.
    pub dropped: u64,
}

#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    inner: Mutex<Inner>,
    max_bytes: u64,
}

/// The connection, and the totals it holds (kept with every change, so
/// that reading the backlog costs no query).
#[derive(Debug)]
struct Inner {
    conn: Connection,
    totals: Totals,
}

#[derive(Debug, Clone, Copy)]
struct Totals {
    count: u64,
    bytes: u64,
}

impl Outbox {
    /// Opens (creating) the outbox in `dir`.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, OutboxError> {
        std::fs::create_dir_all(dir).map_err(|source| OutboxError::Dir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join("outbox.db");
        let conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS thumbs (
                 id             INTEGER PRIMARY KEY,
                 camera         TEXT    NOT NULL,
                 captured_at_ns INTEGER NOT NULL,
                 payload        BLOB    NOT NULL,
                 bytes          INTEGER NOT NULL,
                 UNIQUE (camera, captured_at_ns)
             );
             CREATE INDEX IF NOT EXISTS thumbs_by_time ON thumbs (captured_at_ns, id);
             CREATE TABLE IF NOT EXISTS progress (
                 camera        TEXT PRIMARY KEY,
                 done_until_ns INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS slots_made (
                 camera TEXT    NOT NULL,
                 slot   INTEGER NOT NULL,
                 PRIMARY KEY (camera, slot)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS positions_sent (
                 one      INTEGER PRIMARY KEY CHECK (one = 1),
                 until_ms INTEGER NOT NULL
             );",
        )?;
        let totals = totals(&conn)?;
        Ok(Self {
            path,
            inner: Mutex::new(Inner { conn, totals }),
            max_bytes,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("outbox lock poisoned")
    }

    /// Adds a thumbnail (idempotent: the same camera and time is kept once)
    /// and makes room if the outbox is over its budget.
    pub fn push(
        &self,
        camera: &CameraId,
        captured_at_ns: i64,
        payload: &[u8],
    ) -> Result<Evicted, OutboxError> {
        let mut inner = self.lock();
        let added = inner.conn.execute(
            "INSERT INTO thumbs (camera, captured_at_ns, payload, bytes) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (camera, captured_at_ns) DO NOTHING",
            params![
                camera.as_str(),
                captured_at_ns,
                payload,
                payload.len() as i64
            ],
        )?;
        if added == 1 {
            inner.totals.count += 1;
            inner.totals.bytes += payload.len() as u64;
        }
        if inner.totals.bytes <= self.max_bytes {
            return Ok(Evicted::default());
        }
        let evicted = make_room(&mut inner.conn, self.max_bytes * THIN_TO_PERCENT / 100)?;
        inner.totals = totals(&inner.conn)?;
        Ok(evicted)
    }

    /// Up to `limit` thumbnails, newest first, skipping the ids in `skip`
    /// (those already sent and awaiting their PUBACK).
    pub fn newest(&self, limit: usize, skip: &[i64]) -> Result<Vec<Pending>, OutboxError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id, camera, captured_at_ns, payload FROM thumbs
             ORDER BY captured_at_ns DESC, id DESC LIMIT ?1",
        )?;
        let want = i64::try_from(limit + skip.len()).unwrap_or(i64::MAX);
        let rows = stmt.query_map([want], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut out = Vec::with_capacity(limit);
        for row in rows {
            let (id, camera, captured_at_ns, payload) = row?;
            if skip.contains(&id) {
                continue;
            }
            // Only the outbox writes this column, from validated ids.
            let Ok(camera) = CameraId::parse(&camera) else {
                continue;
            };
            out.push(Pending {
                id,
                camera,
                captured_at_ns,
                payload,
            });
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// The broker has it: forget it. Idempotent.
    pub fn remove(&self, id: i64) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let (n, bytes) = delete_returning_bytes(
            &inner.conn,
            "DELETE FROM thumbs WHERE id = ?1 RETURNING bytes",
            [id],
        )?;
        inner.totals.count -= n.min(inner.totals.count);
        inner.totals.bytes -= bytes.min(inner.totals.bytes);
        Ok(())
    }

    /// Thumbnails waiting, and their bytes.
    pub fn backlog(&self) -> (u64, u64) {
        let t = self.lock().totals;
        (t.count, t.bytes)
    }

    /// How far (capture time, ns) thumbnails of `camera` were made.
    pub fn progress(&self, camera: &CameraId) -> Result<Option<i64>, OutboxError> {
        Ok(self
            .lock()
            .conn
            .query_row(
                "SELECT done_until_ns FROM progress WHERE camera = ?1",
                [camera.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_progress(&self, camera: &CameraId, done_until_ns: i64) -> Result<(), OutboxError> {
        self.lock().conn.execute(
            "INSERT INTO progress (camera, done_until_ns) VALUES (?1, ?2)
             ON CONFLICT (camera) DO UPDATE SET done_until_ns = excluded.done_until_ns",
            params![camera.as_str(), done_until_ns],
        )?;
        Ok(())
    }

    /// The slots of `camera` from `from_slot` on whose thumbnail was made.
    pub fn slots_made(
        &self,
        camera: &CameraId,
        from_slot: i64,
    ) -> Result<std::collections::HashSet<i64>, OutboxError> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare_cached("SELECT slot FROM slots_made WHERE camera = ?1 AND slot >= ?2")?;
        let rows = stmt.query_map(params![camera.as_str(), from_slot], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn mark_slot_made(&self, camera: &CameraId, slot: i64) -> Result<(), OutboxError> {
        self.lock().conn.execute(
            "INSERT OR IGNORE INTO slots_made (camera, slot) VALUES (?1, ?2)",
            params![camera.as_str(), slot],
        )?;
        Ok(())
    }

    /// Forgets the slots before `slot` (they are not looked at again).
    pub fn forget_slots_before(&self, camera: &CameraId, slot: i64) -> Result<(), OutboxError> {
        self.lock().conn.execute(
            "DELETE FROM slots_made WHERE camera = ?1 AND slot < ?2",
            params![camera.as_str(), slot],
        )?;
        Ok(())
    }

    /// The time of the newest fix the broker acknowledged: the fixes of the
    /// index after it are the position reports still to send.
    pub fn positions_sent_until(&self) -> Result<Option<i64>, OutboxError> {
        Ok(self
            .lock()
            .conn
            .query_row("SELECT until_ms FROM positions_sent", [], |r| r.get(0))
            .optional()?)
    }

    /// The broker acknowledged the fixes up to `until_ms`. Never goes back.
    pub fn set_positions_sent(&self, until_ms: i64) -> Result<(), OutboxError> {
        self.lock().conn.execute(
            "INSERT INTO positions_sent (one, until_ms) VALUES (1, ?1)
             ON CONFLICT (one) DO UPDATE SET until_ms = MAX(until_ms, excluded.until_ms)",
            [until_ms],
        )?;
        Ok(())
    }

    /// The outbox's size on disk (the database file), for the disk budget.
    pub fn disk_bytes(&self) -> u64 {
        file_bytes(&self.path)
    }
}

fn totals(conn: &Connection) -> Result<Totals, rusqlite::Error> {
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM thumbs",
        [],
        |r| {
            Ok(Totals {
                count: r.get::<_, i64>(0)?.unsigned_abs(),
                bytes: r.get::<_, i64>(1)?.unsigned_abs(),
            })
        },
    )
}

/// Thins, then drops, oldest first, until the outbox holds at most
/// `target_bytes`. One transaction: a crash leaves it as it was.
fn make_room(conn: &mut Connection, target_bytes: u64) -> Result<Evicted, OutboxError> {
    let tx = conn.transaction()?;
    let mut bytes = totals(&tx)?.bytes;
    let mut evicted = Evicted::default();
    for slot_ns in THIN_LEVELS_NS {
        while bytes > target_bytes {
            // The oldest thumbnails that are not the last of their
            // camera-slot: removing them keeps one per slot, and never the
            // newest thumbnail of a camera.
            let (n, freed) = delete_returning_bytes(
                &tx,
                "DELETE FROM thumbs WHERE id IN (
                     SELECT id FROM (
                         SELECT id, captured_at_ns, ROW_NUMBER() OVER (
                             PARTITION BY camera, captured_at_ns / ?1
                             ORDER BY captured_at_ns DESC, id DESC) AS rn
                         FROM thumbs)
                     WHERE rn > 1 ORDER BY captured_at_ns, id LIMIT ?2)
                 RETURNING bytes",
                params![slot_ns, CHUNK],
            )?;
            if n == 0 {
                break;
            }
            evicted.thinned += n;
            bytes = bytes.saturating_sub(freed);
        }
    }
    while bytes > target_bytes {
        let (n, freed) = delete_returning_bytes(
            &tx,
            "DELETE FROM thumbs WHERE id IN (
                 SELECT id FROM thumbs ORDER BY captured_at_ns, id LIMIT ?1)
             RETURNING bytes",
            params![CHUNK],
        )?;
        if n == 0 {
            break;
        }
        evicted.dropped += n;
        bytes = bytes.saturating_sub(freed);
    }
    tx.commit()?;
    Ok(evicted)
}

/// Runs a `DELETE … RETURNING bytes`: (rows deleted, their bytes).
fn delete_returning_bytes(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<(u64, u64), rusqlite::Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let (mut n, mut bytes) = (0u64, 0u64);
    while let Some(row) = rows.next()? {
        n += 1;
        bytes += row.get::<_, i64>(0)?.unsigned_abs();
    }
    Ok((n, bytes))
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
