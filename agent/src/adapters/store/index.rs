//! The SQLite index of stored frames (blocking, rusqlite). WAL mode; one
//! writer connection and one reader connection, each behind a
//! `std::sync::Mutex` (no `.await` ever happens under them), so that API
//! reads never wait on a batch insert.
//!
//! Durability: `synchronous=NORMAL` in WAL mode may lose the last commits
//! on a power cut (never on a process crash). Their files are durable
//! before the commit (docs/design.md), so reconcile re-indexes them; a
//! stream entry acked on such a commit is therefore not lost.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use seaframe_wire::CameraId;

use crate::adapters::store::{Candidate, Cursor, FramePage, FrameQuery, FrameRow, StoreError};
use crate::base::clock::ClockSource;
use crate::base::frame::Frame;
use crate::base::store::layout::rel_path;
use seaframe_wire::timestamp::Timestamp;

/// Forward migrations; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    r"
    CREATE TABLE frames (
        id             INTEGER PRIMARY KEY,
        camera         TEXT    NOT NULL,
        captured_at_ns INTEGER NOT NULL,
        seq            INTEGER NOT NULL,
        rel_path       TEXT    NOT NULL,
        bytes          INTEGER NOT NULL,
        width          INTEGER NOT NULL,
        height         INTEGER NOT NULL,
        lat            REAL,
        lon            REAL,
        fix            TEXT,
        speed_kn       REAL,
        course_deg     REAL,
        heading_deg    REAL,
        stored_at_ns   INTEGER NOT NULL,
        UNIQUE (camera, captured_at_ns, seq)
    );
    CREATE INDEX frames_by_camera_time ON frames (camera, captured_at_ns, id);
    CREATE INDEX frames_by_time ON frames (captured_at_ns, id);
",
    r"
    ALTER TABLE frames ADD COLUMN fix_age_ms INTEGER;
    ALTER TABLE frames ADD COLUMN time_uncertainty_ms INTEGER;
    ALTER TABLE frames ADD COLUMN interpolated INTEGER;
    ALTER TABLE frames ADD COLUMN clock TEXT NOT NULL DEFAULT 'system';
",
    r"
    ALTER TABLE frames ADD COLUMN garbage INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX frames_garbage ON frames (garbage) WHERE garbage = 1;
",
    // Where frames were taken: an R*Tree of their positions (a point is a
    // degenerate box), kept by triggers so that every writer keeps it true.
    r"
    CREATE VIRTUAL TABLE frames_geo USING rtree(id, min_lat, max_lat, min_lon, max_lon);
    INSERT INTO frames_geo SELECT id, lat, lat, lon, lon FROM frames WHERE lat IS NOT NULL AND lon IS NOT NULL;
    CREATE TRIGGER frames_geo_insert AFTER INSERT ON frames WHEN NEW.lat IS NOT NULL AND NEW.lon IS NOT NULL
    BEGIN INSERT INTO frames_geo VALUES (NEW.id, NEW.lat, NEW.lat, NEW.lon, NEW.lon); END;
    CREATE TRIGGER frames_geo_delete AFTER DELETE ON frames
    BEGIN DELETE FROM frames_geo WHERE id = OLD.id; END;
",
    // How sharp a frame is (variance of the Laplacian); NULL when the
    // worker did not sample it, and for frames reindexed from disk.
    r"
    ALTER TABLE frames ADD COLUMN sharpness REAL;
",
    // One row per file, by construction: every writer (worker, start-up
    // repair, reindex) inserts by path and a second row for a path is
    // refused. Rows an older agent doubled (repair keyed by the path's
    // millisecond, the worker by the nanosecond) are merged first, keeping
    // the first row.
    r"
    DELETE FROM frames WHERE id NOT IN (SELECT MIN(id) FROM frames GROUP BY rel_path);
    CREATE UNIQUE INDEX frames_by_path ON frames (rel_path);
",
    // Sequence numbers a camera may have handed out (frames still in the
    // stream at a restart are not indexed yet): numbering resumes above.
    r"
    CREATE TABLE seq_reserved (camera TEXT PRIMARY KEY, below INTEGER NOT NULL);
",
    // Where the disk watch's slow scan got to (`adapters/store/by_path.rs`).
    r"
    CREATE TABLE scan_marks (name TEXT PRIMARY KEY, unix_ns INTEGER NOT NULL);
",
    // The ship's track, one fix a second at most (`adapters/store/fixes.rs`).
    r"
    CREATE TABLE fixes (
        at_ms       INTEGER PRIMARY KEY,
        lat         REAL    NOT NULL,
        lon         REAL    NOT NULL,
        fix         TEXT    NOT NULL,
        speed_kn    REAL,
        course_deg  REAL,
        heading_deg REAL,
        satellites  INTEGER,
        hdop        REAL
    );
",
];

pub(super) const COLUMNS: &str = "id, camera, seq, captured_at_ns, rel_path, bytes, width, height, \
                       lat, lon, fix, speed_kn, course_deg, heading_deg, \
                       fix_age_ms, time_uncertainty_ms, interpolated, clock, sharpness";

#[derive(Debug)]
pub struct Index {
    path: PathBuf,
    pub(super) writer: Mutex<Connection>,
    pub(super) reader: Mutex<Connection>,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // The agent's own writers share one connection; only another process
    // (a person with sqlite3) can hold the lock. Waiting longer for it
    // would slow every worker below the cameras' rate.
    conn.busy_timeout(Duration::from_secs(1))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Moves a corrupt index (and its WAL and shared memory) aside as
/// `index.db.corrupt-<unix s>`; returns where.
pub fn set_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let stamp = Timestamp::now().unix_nanos() / 1_000_000_000;
    let aside = path.with_extension(format!("db.corrupt-{stamp}"));
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    std::fs::rename(path, &aside).map_err(io)?;
    for (ext, keep) in [("db-wal", true), ("db-shm", false)] {
        let side = path.with_extension(ext);
        if side.exists() {
            if keep {
                let mut wal = aside.clone().into_os_string();
                wal.push("-wal");
                std::fs::rename(&side, wal).map_err(io)?;
            } else {
                std::fs::remove_file(&side).map_err(io)?;
            }
        }
    }
    Ok(aside)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(applied).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

pub(super) fn row_to_frame(r: &Row<'_>) -> rusqlite::Result<FrameRow> {
    let camera: String = r.get(1)?;
    let camera = CameraId::parse(&camera).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(FrameRow {
        id: r.get(0)?,
        camera,
        seq: r.get::<_, i64>(2)? as u64,
        captured_at: Timestamp::from_unix_nanos(r.get(3)?),
        rel_path: r.get(4)?,
        bytes: r.get::<_, i64>(5)? as u64,
        width: r.get(6)?,
        height: r.get(7)?,
        lat: r.get(8)?,
        lon: r.get(9)?,
        fix: r.get(10)?,
        speed_kn: r.get(11)?,
        course_deg: r.get(12)?,
        heading_deg: r.get(13)?,
        fix_age_ms: r.get(14)?,
        time_uncertainty_ms: r.get(15)?,
        interpolated: r.get(16)?,
        clock: ClockSource::parse(&r.get::<_, String>(17)?).unwrap_or(ClockSource::System),
        sharpness: r.get(18)?,
    })
}

impl Index {
    /// Opens (creating and migrating) the index at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = connect(path)?;
        migrate(&mut writer)?;
        let reader = connect(path)?;
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inserts the rows of a batch (frame, bytes on disk) in one
    /// transaction. Idempotent: a frame whose file (path) or whose
    /// (camera, time, seq) is already indexed is left alone.
    /// Returns, per frame, whether its row is new.
    pub fn insert_batch(&self, frames: &[(&Frame, u64)]) -> Result<Vec<bool>, StoreError> {
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let mut inserted = Vec::with_capacity(frames.len());
        let mut conn = self.writer.lock().expect("index writer lock poisoned");
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO frames (camera, captured_at_ns, seq, rel_path, bytes, width, height, stored_at_ns, \
                                     lat, lon, fix, speed_kn, course_deg, heading_deg, \
                                     fix_age_ms, time_uncertainty_ms, interpolated, clock, sharpness) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) \
                 ON CONFLICT DO NOTHING",
            )?;
            let stored_at = Timestamp::now().unix_nanos();
            for (frame, bytes) in frames {
                let p = frame.position.as_ref();
                let changed = stmt.execute(params![
                    frame.camera.as_str(),
                    frame.captured_at.unix_nanos(),
                    frame.seq as i64,
                    rel_path(&frame.camera, frame.captured_at, frame.seq),
                    *bytes as i64,
                    frame.width,
                    frame.height,
                    stored_at,
                    p.map(|p| p.lat),
                    p.map(|p| p.lon),
                    p.map(|p| p.fix),
                    p.and_then(|p| p.speed_kn),
                    p.and_then(|p| p.course_deg),
                    p.and_then(|p| p.heading_deg),
                    p.map(|p| p.fix_age_ms),
                    p.map(|p| p.time_uncertainty_ms),
                    p.map(|p| p.interpolated),
                    frame.clock.as_str(),
                    frame.sharpness,
                ])?;
                inserted.push(changed == 1);
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// Sets the sharpness of one frame (no-op if it is gone).
    pub fn set_sharpness(
        &self,
        camera: &CameraId,
        captured_at: Timestamp,
        seq: u64,
        sharpness: f32,
    ) -> Result<(), StoreError> {
        let conn = self.writer.lock().expect("index writer lock poisoned");
        conn.prepare_cached(
            "UPDATE frames SET sharpness = ?4 WHERE camera = ?1 AND captured_at_ns = ?2 AND seq = ?3",
        )?
        .execute(params![
            camera.as_str(),
            captured_at.unix_nanos(),
            seq as i64,
            f64::from(sharpness)
        ])?;
        Ok(())
    }

    /// A page of frames in `[from, to)`, oldest first, after the cursor.
    pub fn query(&self, q: &FrameQuery) -> Result<FramePage, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let (after_ns, after_id) = match q.after {
            Some(c) => (c.captured_at.unix_nanos(), c.id),
            None => (i64::MIN, i64::MIN),
        };
        let limit = i64::from(q.limit) + 1;
        // Two statements, so that each uses its own index (camera+time, or time).
        let camera_clause = if q.camera.is_some() {
            "camera = ?6 AND"
        } else {
            "?6 IS NULL AND"
        };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM frames \
             WHERE garbage = 0 AND {camera_clause} captured_at_ns >= ?1 AND captured_at_ns < ?2 \
               AND (captured_at_ns, id) > (?3, ?4) \
             ORDER BY captured_at_ns, id LIMIT ?5"
        ))?;
        let camera = q.camera.as_ref().map(CameraId::as_str);
        let mut frames: Vec<FrameRow> = stmt
            .query_map(
                params![
                    q.from.unix_nanos(),
                    q.to.unix_nanos(),
                    after_ns,
                    after_id,
                    limit,
                    camera
                ],
                row_to_frame,
            )?
            .collect::<Result<_, _>>()?;
        let next = if frames.len() > q.limit as usize {
            frames.truncate(q.limit as usize);
            frames.last().map(|f| Cursor {
                captured_at: f.captured_at,
                id: f.id,
            })
        } else {
            None
        };
        Ok(FramePage { frames, next })
    }

    pub fn frame(&self, id: i64) -> Result<Option<FrameRow>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM frames WHERE id = ?1 AND garbage = 0"
        ))?;
        Ok(stmt.query_row([id], row_to_frame).optional()?)
    }

    /// The capture time of `camera`'s newest indexed frame.
    pub fn newest(&self, camera: &CameraId) -> Result<Option<Timestamp>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let ns: Option<i64> = conn.query_row(
            "SELECT MAX(captured_at_ns) FROM frames WHERE camera = ?1 AND garbage = 0",
            [camera.as_str()],
            |r| r.get(0),
        )?;
        Ok(ns.map(Timestamp::from_unix_nanos))
    }

    /// Where `camera`'s numbering resumes: above every indexed frame and
    /// every number reserved before.
    pub fn next_seq(&self, camera: &CameraId) -> Result<u64, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let next: i64 = conn.query_row(
            "SELECT MAX(COALESCE((SELECT MAX(seq) + 1 FROM frames WHERE camera = ?1), 0), \
                        COALESCE((SELECT below FROM seq_reserved WHERE camera = ?1), 0))",
            [camera.as_str()],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(next).unwrap_or(0))
    }

    /// Records that `camera` may hand out numbers below `below` (committed
    /// before any of them is used).
    pub fn reserve_seq(&self, camera: &CameraId, below: u64) -> Result<(), StoreError> {
        let conn = self.writer.lock().expect("index writer lock poisoned");
        conn.execute(
            "INSERT INTO seq_reserved (camera, below) VALUES (?1, ?2) \
             ON CONFLICT (camera) DO UPDATE SET below = MAX(below, excluded.below)",
            params![camera.as_str(), i64::try_from(below).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }

    pub fn count_by_camera(&self) -> Result<Vec<(CameraId, u64)>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(
            "SELECT camera, COUNT(*) FROM frames GROUP BY camera ORDER BY camera",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (camera, n) = row?;
            // A row with a camera that is not a valid id cannot come from us; skip it.
            if let Ok(camera) = CameraId::parse(&camera) {
                out.push((camera, n as u64));
            }
        }
        Ok(out)
    }

    /// Bytes of all frames that are not garbage.
    pub fn frames_bytes(&self) -> Result<u64, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let n: i64 = conn.query_row(
            "SELECT COALESCE(SUM(bytes), 0) FROM frames WHERE garbage = 0",
            [],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    /// The oldest frames (all cameras), oldest first.
    pub fn oldest(&self, limit: usize) -> Result<Vec<Candidate>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(
            "SELECT id, captured_at_ns, bytes FROM frames WHERE garbage = 0 \
             ORDER BY captured_at_ns, id LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(Candidate {
                id: r.get(0)?,
                captured_at: Timestamp::from_unix_nanos(r.get(1)?),
                bytes: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Step 1 of deletion: marks rows as garbage (one transaction) and
    /// returns their paths. From here on queries no longer see them.
    pub fn mark_garbage(&self, ids: &[i64]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.writer.lock().expect("index writer lock poisoned");
        let tx = conn.transaction()?;
        {
            let mut mark = tx.prepare_cached("UPDATE frames SET garbage = 1 WHERE id = ?1")?;
            for id in ids {
                mark.execute([id])?;
            }
        }
        tx.commit()?;
        self.garbage_paths_locked(&conn)
    }

    /// Paths of every row marked garbage (left by a crash, or just marked).
    pub fn garbage_paths(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.writer.lock().expect("index writer lock poisoned");
        self.garbage_paths_locked(&conn)
    }

    fn garbage_paths_locked(&self, conn: &Connection) -> Result<Vec<String>, StoreError> {
        let mut stmt = conn.prepare_cached("SELECT rel_path FROM frames WHERE garbage = 1")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Last step of deletion: drops the garbage rows (their files are gone).
    pub fn drop_garbage(&self) -> Result<usize, StoreError> {
        let conn = self.writer.lock().expect("index writer lock poisoned");
        Ok(conn.execute("DELETE FROM frames WHERE garbage = 1", [])?)
    }

    /// Ids of up to `limit` frames of `camera` (all: `None`) captured before `before`.
    pub fn ids_before(
        &self,
        camera: Option<&CameraId>,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM frames WHERE garbage = 0 AND captured_at_ns < ?1 AND (?2 IS NULL OR camera = ?2) \
             ORDER BY captured_at_ns LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![
                before.unix_nanos(),
                camera.map(CameraId::as_str),
                limit as i64
            ],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// (id, path) of every frame captured at or after `from`.
    pub fn paths_since(&self, from: Timestamp) -> Result<Vec<(i64, String)>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(
            "SELECT id, rel_path FROM frames WHERE garbage = 0 AND captured_at_ns >= ?1",
        )?;
        let rows = stmt.query_map([from.unix_nanos()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves the WAL into the database file (at shutdown).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = self.writer.lock().expect("index writer lock poisoned");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The query plan of the camera+time listing (for a test that it uses the index).
    #[cfg(test)]
    fn plan_of_camera_query(&self) -> String {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM frames \
                 WHERE camera = 'a' AND captured_at_ns >= 0 AND captured_at_ns < 9 \
                 AND (captured_at_ns, id) > (0, 0) ORDER BY captured_at_ns, id LIMIT 5"
            ))
            .expect("valid SQL");
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).expect("plan");
        rows.map(|r| r.expect("plan row"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubled_rows_of_older_agents_are_merged_and_never_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.db");
        {
            // An index as the agent before one-row-per-path left it.
            let mut conn = connect(&path).unwrap();
            let before = MIGRATIONS
                .iter()
                .position(|m| m.contains("CREATE UNIQUE INDEX frames_by_path"))
                .unwrap();
            for (i, sql) in MIGRATIONS[..before].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.pragma_update(None, "user_version", i as i64 + 1)
                    .unwrap();
            }
            let tx = conn.transaction().unwrap();
            for ns in [1_000_000_000_i64, 1_000_000_123] {
                tx.execute(
                    "INSERT INTO frames (camera, captured_at_ns, seq, rel_path, bytes, width, height, stored_at_ns) \
                     VALUES ('bow', ?1, 0, 'bow/1970/01/01/00/00/01.000-0.jpg', 10, 16, 16, 0)",
                    params![ns],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        let index = Index::open(&path).unwrap();
        let count = |index: &Index| -> i64 {
            index
                .reader
                .lock()
                .unwrap()
                .query_row("SELECT COUNT(*) FROM frames", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&index), 1);
        // The same file under another time (the repair's millisecond): refused.
        let frame = Frame::new(
            "bow".parse().unwrap(),
            0,
            Timestamp::from_unix_nanos(1_000_000_456),
            ClockSource::System,
            16,
            16,
            bytes::Bytes::new(),
        );
        assert_eq!(index.insert_batch(&[(&frame, 10)]).unwrap(), [false]);
        assert_eq!(count(&index), 1);
    }

    #[test]
    fn listings_use_the_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.db")).unwrap();
        let plan = index.plan_of_camera_query();
        assert!(plan.contains("frames_by_camera_time"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn reopening_does_not_migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.db");
        drop(Index::open(&path).unwrap());
        let index = Index::open(&path).unwrap();
        let v: i64 = index
            .writer
            .lock()
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
    }
}
