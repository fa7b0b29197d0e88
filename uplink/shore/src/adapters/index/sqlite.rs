//! The SQLite index (the embedded default): one file in WAL mode, one
//! connection for writes and one for reads, each used under a
//! `std::sync::Mutex` on tokio's blocking pool (never on the async workers).
//! Migrations are numbered by `PRAGMA user_version`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use seaframe_wire::VesselName;
use seaframe_wire::message::Fix;

use crate::adapters::index::{
    Fut, Index, IndexError, NewThumb, Param, StatusUpdate, ThumbPage, ThumbQuery, ThumbRow,
    VesselSummary, camera, latest_per_camera, page, thumb_query_sql, vessel,
};

#[path = "sqlite_accounts.rs"]
mod accounts;
#[path = "sqlite_bulk.rs"]
mod bulk;
#[path = "sqlite_configs.rs"]
mod configs;
mod health;
#[path = "sqlite_retention.rs"]
mod retention;
#[path = "sqlite_track.rs"]
mod track;

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE vessels (
    name TEXT PRIMARY KEY,
    online INTEGER NOT NULL DEFAULT 0,
    last_seen_ns INTEGER,
    cameras TEXT,
    last_fix TEXT,
    last_fix_at_ms INTEGER
);
CREATE TABLE thumbs (
    id INTEGER PRIMARY KEY,
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    captured_at_ns INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    lat REAL,
    lon REAL,
    width_px INTEGER NOT NULL,
    height_px INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    received_at_ns INTEGER NOT NULL,
    UNIQUE (vessel, camera, captured_at_ns)
);
CREATE INDEX thumbs_by_vessel ON thumbs (vessel, captured_at_ns, id);
CREATE INDEX thumbs_by_time ON thumbs (captured_at_ns, id);
CREATE TABLE cameras (
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    latest_id INTEGER NOT NULL,
    latest_ns INTEGER NOT NULL,
    PRIMARY KEY (vessel, camera)
);
CREATE TABLE fixes (
    vessel TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    fix TEXT NOT NULL,
    speed_kn REAL,
    course_deg REAL,
    heading_deg REAL,
    PRIMARY KEY (vessel, at_ms)
);
CREATE TABLE configs (
    vessel TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    desired TEXT NOT NULL,
    ack_version INTEGER,
    ack_status TEXT,
    ack_error TEXT
);
",
    r"
ALTER TABLE configs ADD COLUMN ack_received_at_ns INTEGER;
CREATE TABLE config_acks (
    id INTEGER PRIMARY KEY,
    vessel TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    received_at_ns INTEGER NOT NULL
);
CREATE INDEX config_acks_by_vessel ON config_acks (vessel, id);
",
    // Fleet health: the latest status per vessel, backlog samples, alerts.
    r"
CREATE TABLE vessel_status (
    vessel TEXT PRIMARY KEY,
    received_at_ns INTEGER NOT NULL,
    sent_at_ms INTEGER NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE backlog_samples (
    vessel TEXT NOT NULL,
    sent_at_ms INTEGER NOT NULL,
    backlog INTEGER NOT NULL,
    PRIMARY KEY (vessel, sent_at_ms)
);
CREATE TABLE alerts (
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    kind TEXT NOT NULL,
    since_ns INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (vessel, camera, kind)
);
",
    retention::MIGRATION,
    // Accounts, API tokens and sessions (crate::services::auth).
    r"
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ns INTEGER NOT NULL
);
CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    created_at_ns INTEGER NOT NULL
);
CREATE INDEX api_tokens_by_account ON api_tokens (account);
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    expires_at_ns INTEGER NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account);
CREATE INDEX sessions_by_expiry ON sessions (expires_at_ns);
",
];

#[derive(Debug, Clone)]
pub struct SqliteIndex {
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

fn open_conn(path: &Path) -> Result<Connection, IndexError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk before its messages are acked to the
    // broker (with NORMAL a power cut could lose commits already acked).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), IndexError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}

impl SqliteIndex {
    /// Opens (creating and migrating) the index file.
    pub async fn open(path: &Path) -> Result<Self, IndexError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| IndexError::Open {
                    what: dir.display().to_string(),
                    why: e.to_string(),
                })?;
            }
            let mut writer = open_conn(&path)?;
            migrate(&mut writer)?;
            let reader = open_conn(&path)?;
            Ok(Self {
                writer: Arc::new(Mutex::new(writer)),
                reader: Arc::new(Mutex::new(reader)),
            })
        })
        .await
        .map_err(|_| IndexError::Gone)?
    }

    fn write<'a, T, F>(&self, f: F) -> Fut<'a, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, IndexError> + Send + 'static,
    {
        run(self.writer.clone(), f)
    }

    fn read<'a, T, F>(&self, f: F) -> Fut<'a, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, IndexError> + Send + 'static,
    {
        run(self.reader.clone(), f)
    }
}

fn run<'a, T, F>(conn: Arc<Mutex<Connection>>, f: F) -> Fut<'a, T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, IndexError> + Send + 'static,
{
    Box::pin(async move {
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|_| IndexError::Gone)?
    })
}

fn fix_json(fix: &Fix) -> String {
    serde_json::to_string(fix).expect("a Fix serialises")
}

fn update_last_fix(conn: &Connection, vessel: &str, fix: &Fix) -> Result<(), IndexError> {
    conn.execute(
        "INSERT INTO vessels (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        [vessel],
    )?;
    conn.execute(
        "UPDATE vessels SET last_fix = ?2, last_fix_at_ms = ?3 \
         WHERE name = ?1 AND (last_fix_at_ms IS NULL OR last_fix_at_ms < ?3)",
        params![vessel, fix_json(fix), fix.at_ms],
    )?;
    Ok(())
}

/// `id, vessel, camera, captured_at_ns, lat, lon, bytes` as SQLite returns them.
type RawThumb = (i64, String, String, i64, Option<f64>, Option<f64>, i64);

fn thumb_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawThumb> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn to_thumb((id, v, c, ns, lat, lon, bytes): RawThumb) -> Result<ThumbRow, IndexError> {
    Ok(ThumbRow {
        id,
        vessel: vessel(&v)?,
        camera: camera(&c)?,
        captured_at_ns: ns,
        lat,
        lon,
        bytes: u64::try_from(bytes).unwrap_or(0),
    })
}

impl Index for SqliteIndex {
    fn insert_thumbs<'a>(&'a self, batch: &'a [NewThumb]) -> Fut<'a, Vec<bool>> {
        let batch = batch.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut new = vec![false; batch.len()];
            let mut inserted = Vec::new();
            {
                let mut vessel_stmt = tx.prepare_cached(
                    "INSERT INTO vessels (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                )?;
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO thumbs (vessel, camera, captured_at_ns, seq, lat, lon, \
                     width_px, height_px, bytes, received_at_ns) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     ON CONFLICT (vessel, camera, captured_at_ns) DO NOTHING",
                )?;
                let mut last_vessel = None;
                for (i, t) in batch.iter().enumerate() {
                    if last_vessel != Some(&t.vessel) {
                        vessel_stmt.execute([t.vessel.as_str()])?;
                        last_vessel = Some(&t.vessel);
                    }
                    // seq is stored bit for bit (it is only ever compared for equality).
                    let seq = i64::from_ne_bytes(t.seq.to_ne_bytes());
                    let n = stmt.execute(params![
                        t.vessel.as_str(),
                        t.camera.as_str(),
                        t.captured_at_ns,
                        seq,
                        t.lat,
                        t.lon,
                        t.width_px,
                        t.height_px,
                        i64::try_from(t.bytes).unwrap_or(i64::MAX),
                        t.received_at_ns,
                    ])?;
                    if n == 1 {
                        new[i] = true;
                        inserted.push((i, tx.last_insert_rowid()));
                    }
                }
                let mut cam = tx.prepare_cached(
                    "INSERT INTO cameras (vessel, camera, latest_id, latest_ns) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (vessel, camera) DO UPDATE \
                     SET latest_id = excluded.latest_id, latest_ns = excluded.latest_ns \
                     WHERE excluded.latest_ns > cameras.latest_ns",
                )?;
                for (i, id) in latest_per_camera(&inserted, &batch) {
                    let t = &batch[i];
                    cam.execute(params![
                        t.vessel.as_str(),
                        t.camera.as_str(),
                        id,
                        t.captured_at_ns
                    ])?;
                }
            }
            tx.commit()?;
            Ok(new)
        })
    }

    fn apply_status<'a>(&'a self, vessel: &'a VesselName, update: &'a StatusUpdate) -> Fut<'a, ()> {
        let (vessel, update) = (vessel.to_string(), update.clone());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO vessels (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                [&vessel],
            )?;
            tx.execute(
                "UPDATE vessels SET online = ?2, last_seen_ns = max(coalesce(last_seen_ns, ?3), coalesce(?3, last_seen_ns)) \
                 WHERE name = ?1",
                params![vessel, update.online, update.seen_ns],
            )?;
            if let Some(cameras) = &update.cameras {
                let json = serde_json::to_string(cameras).expect("names serialise");
                tx.execute("UPDATE vessels SET cameras = ?2 WHERE name = ?1", params![vessel, json])?;
            }
            if let Some(fix) = &update.fix {
                update_last_fix(&tx, &vessel, fix)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn append_fixes<'a>(&'a self, vessel: &'a VesselName, fixes: &'a [Fix]) -> Fut<'a, ()> {
        let (vessel, fixes) = (vessel.to_string(), fixes.to_vec());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO fixes (vessel, at_ms, lat, lon, fix, speed_kn, course_deg, heading_deg) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (vessel, at_ms) DO NOTHING",
                )?;
                for f in &fixes {
                    stmt.execute(params![
                        vessel, f.at_ms, f.lat, f.lon, f.fix, f.speed_kn, f.course_deg, f.heading_deg
                    ])?;
                }
            }
            if let Some(last) = fixes.iter().max_by_key(|f| f.at_ms) {
                update_last_fix(&tx, &vessel, last)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn vessels(&self) -> Fut<'_, Vec<VesselSummary>> {
        self.read(|conn| {
            let tx = conn.transaction()?;
            let mut out = Vec::new();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT name, online, last_seen_ns, cameras, last_fix FROM vessels ORDER BY name",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, bool>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?;
                for row in rows {
                    let (name, online, last_seen_ns, cameras, fix) = row?;
                    out.push(super::summary(name, online, last_seen_ns, cameras, fix)?);
                }
                let mut stmt = tx.prepare_cached(
                    "SELECT vessel, camera, latest_id, latest_ns FROM cameras ORDER BY vessel, camera",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?))
                })?;
                let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
                super::merge_cameras(&mut out, rows)?;
            }
            Ok(out)
        })
    }

    fn vessel_known<'a>(&'a self, v: &'a VesselName) -> Fut<'a, bool> {
        let v = v.to_string();
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT 1 FROM vessels WHERE name = ?1", [v], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn thumbs<'a>(&'a self, query: &'a ThumbQuery) -> Fut<'a, ThumbPage> {
        let query = query.clone();
        self.read(move |conn| {
            let (sql, params) = thumb_query_sql(&query, |n| format!("?{n}"), false);
            let values: Vec<rusqlite::types::Value> = params
                .into_iter()
                .map(|p| match p {
                    Param::Text(s) => s.into(),
                    Param::Int(i) => i.into(),
                    Param::Real(f) => f.into(),
                })
                .collect();
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values), thumb_row)?;
            let mut scanned = Vec::new();
            for r in rows {
                scanned.push(to_thumb(r?)?);
            }
            Ok(page(&query, scanned))
        })
    }

    fn thumb(&self, id: i64) -> Fut<'_, Option<ThumbRow>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT id, vessel, camera, captured_at_ns, lat, lon, bytes FROM thumbs WHERE id = ?1",
                [id],
                thumb_row,
            )
            .optional()?
            .map(to_thumb)
            .transpose()
        })
    }

    fn count_thumbs(&self) -> Fut<'_, u64> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM thumbs", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn thumbs_after(&self, after_id: i64, limit: u32) -> Fut<'_, Vec<ThumbRow>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, vessel, camera, captured_at_ns, lat, lon, bytes FROM thumbs \
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_id, limit], thumb_row)?;
            let mut out = Vec::new();
            for r in rows {
                out.push(to_thumb(r?)?);
            }
            Ok(out)
        })
    }

    fn last_thumb_id(&self) -> Fut<'_, i64> {
        self.read(|conn| {
            let id: Option<i64> = conn.query_row("SELECT max(id) FROM thumbs", [], |r| r.get(0))?;
            Ok(id.unwrap_or(0))
        })
    }
}
