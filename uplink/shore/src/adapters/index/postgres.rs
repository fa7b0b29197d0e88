//! The PostgreSQL index (several shores, one database): the same tables as
//! SQLite. One connection for writes (transactions need it exclusively,
//! under a tokio `Mutex`) and one for reads (tokio-postgres pipelines
//! concurrent queries on it). Migrations are numbered in `schema_version`,
//! applied under an advisory lock so that shores starting together agree.
//!
//! A lost connection (PostgreSQL restarted, a backend terminated, the
//! network gone) is made again by the next call that needs it; the calls in
//! flight when it broke fail (ingest retries its batch, the API answers 503).

use std::sync::Arc;

use seaframe_wire::VesselName;
use seaframe_wire::message::Fix;
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};
use tokio_util::task::TaskTracker;

use seaframe_http::Secret;

use crate::adapters::index::{
    Fut, Index, IndexError, NewThumb, StatusUpdate, ThumbPage, ThumbQuery, ThumbRow, VesselSummary,
    camera, latest_per_camera, page, vessel,
};

#[path = "postgres_accounts.rs"]
mod accounts;
#[path = "postgres_bulk.rs"]
mod bulk;
#[path = "postgres_configs.rs"]
mod configs;
mod health;
#[path = "postgres_instances.rs"]
pub mod instances;
#[path = "postgres_notify.rs"]
mod notify;
#[path = "postgres_place.rs"]
mod place;
#[path = "postgres_retention.rs"]
mod retention;
#[path = "postgres_track.rs"]
mod track;

pub use place::{MIGRATION as PLACE_INDEX_MIGRATION, Statement, thumbs_statement};

const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE vessels (
    name TEXT PRIMARY KEY,
    online BOOLEAN NOT NULL DEFAULT false,
    last_seen_ns BIGINT,
    cameras TEXT,
    last_fix TEXT,
    last_fix_at_ms BIGINT
);
CREATE TABLE thumbs (
    id BIGSERIAL PRIMARY KEY,
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    captured_at_ns BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    width_px INTEGER NOT NULL,
    height_px INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    received_at_ns BIGINT NOT NULL,
    UNIQUE (vessel, camera, captured_at_ns)
);
CREATE INDEX thumbs_by_vessel ON thumbs (vessel, captured_at_ns, id);
CREATE INDEX thumbs_by_time ON thumbs (captured_at_ns, id);
CREATE TABLE cameras (
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    latest_id BIGINT NOT NULL,
    latest_ns BIGINT NOT NULL,
    PRIMARY KEY (vessel, camera)
);
CREATE TABLE fixes (
    vessel TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    fix TEXT NOT NULL,
    speed_kn DOUBLE PRECISION,
    course_deg DOUBLE PRECISION,
    heading_deg DOUBLE PRECISION,
    PRIMARY KEY (vessel, at_ms)
);
CREATE TABLE configs (
    vessel TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    desired TEXT NOT NULL,
    ack_version BIGINT,
    ack_status TEXT,
    ack_error TEXT
);
",
    r"
ALTER TABLE configs ADD COLUMN ack_received_at_ns BIGINT;
CREATE TABLE config_acks (
    id BIGSERIAL PRIMARY KEY,
    vessel TEXT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    received_at_ns BIGINT NOT NULL
);
CREATE INDEX config_acks_by_vessel ON config_acks (vessel, id);
",
    // Fleet health: the latest status per vessel, backlog samples, alerts.
    r"
CREATE TABLE vessel_status (
    vessel TEXT PRIMARY KEY,
    received_at_ns BIGINT NOT NULL,
    sent_at_ms BIGINT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE backlog_samples (
    vessel TEXT NOT NULL,
    sent_at_ms BIGINT NOT NULL,
    backlog BIGINT NOT NULL,
    PRIMARY KEY (vessel, sent_at_ms)
);
CREATE TABLE alerts (
    vessel TEXT NOT NULL,
    camera TEXT NOT NULL,
    kind TEXT NOT NULL,
    since_ns BIGINT NOT NULL,
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
    created_at_ns BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    created_at_ns BIGINT NOT NULL
);
CREATE INDEX api_tokens_by_account ON api_tokens (account);
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    expires_at_ns BIGINT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account);
CREATE INDEX sessions_by_expiry ON sessions (expires_at_ns);
",
    notify::MIGRATION,
    place::MIGRATION,
    instances::MIGRATION,
];

/// An arbitrary constant: the advisory lock migrations run under.
const MIGRATION_LOCK: i64 = 0x5EAF_4A3E;

#[derive(Debug)]
pub struct PgIndex {
    url: Secret,
    writer: Mutex<Client>,
    reader: Mutex<Arc<Client>>,
    /// The connections' IO tasks.
    connections: TaskTracker,
}

async fn connect(url: &str, tracker: &TaskTracker) -> Result<Client, IndexError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tracker.spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "PostgreSQL connection lost");
        }
    });
    Ok(client)
}

impl PgIndex {
    /// Connects and migrates.
    pub async fn connect(url: &str) -> Result<Self, IndexError> {
        let tracker = TaskTracker::new();
        let mut writer = connect(url, &tracker).await?;
        let reader = connect(url, &tracker).await?;
        let tx = writer.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await?;
        let current: Option<i64> = tx
            .query_opt("SELECT max(version) FROM schema_version", &[])
            .await?
            .and_then(|r| r.get(0));
        let current = usize::try_from(current.unwrap_or(0)).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            tx.batch_execute(sql).await?;
            let v = i64::try_from(i + 1).unwrap_or(i64::MAX);
            tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&v])
                .await?;
        }
        tx.commit().await?;
        Ok(Self {
            url: Secret::new(url),
            writer: Mutex::new(writer),
            reader: Mutex::new(Arc::new(reader)),
            connections: tracker,
        })
    }

    /// The write connection, made again first if it was lost; held
    /// exclusively (transactions).
    async fn writer(&self) -> Result<MutexGuard<'_, Client>, IndexError> {
        let mut client = self.writer.lock().await;
        if client.is_closed() {
            *client = connect(self.url.expose(), &self.connections).await?;
            tracing::info!("PostgreSQL write connection made again");
        }
        Ok(client)
    }

    /// The read connection (shared: queries are pipelined on it), made
    /// again first if it was lost.
    async fn reader(&self) -> Result<Arc<Client>, IndexError> {
        let mut client = self.reader.lock().await;
        if client.is_closed() {
            *client = Arc::new(connect(self.url.expose(), &self.connections).await?);
            tracing::info!("PostgreSQL read connection made again");
        }
        Ok(client.clone())
    }
}

fn to_thumb(r: &Row) -> Result<ThumbRow, IndexError> {
    Ok(ThumbRow {
        id: r.try_get(0)?,
        vessel: vessel(r.try_get(1)?)?,
        camera: camera(r.try_get(2)?)?,
        captured_at_ns: r.try_get(3)?,
        lat: r.try_get(4)?,
        lon: r.try_get(5)?,
        bytes: u64::try_from(r.try_get::<_, i64>(6)?).unwrap_or(0),
    })
}

async fn update_last_fix(
    tx: &tokio_postgres::Transaction<'_>,
    vessel: &str,
    fix: &Fix,
) -> Result<(), IndexError> {
    let json = serde_json::to_string(fix).expect("a Fix serialises");
    tx.execute(
        "INSERT INTO vessels (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        &[&vessel],
    )
    .await?;
    tx.execute(
        "UPDATE vessels SET last_fix = $2, last_fix_at_ms = $3 \
         WHERE name = $1 AND (last_fix_at_ms IS NULL OR last_fix_at_ms < $3)",
        &[&vessel, &json, &fix.at_ms],
    )
    .await?;
    Ok(())
}

impl Index for PgIndex {
    fn insert_thumbs<'a>(&'a self, batch: &'a [NewThumb]) -> Fut<'a, Vec<bool>> {
        Box::pin(async move {
            let mut vessels: Vec<&str> = batch.iter().map(|t| t.vessel.as_str()).collect();
            vessels.sort_unstable();
            vessels.dedup();
            let col = |f: &dyn Fn(&NewThumb) -> i64| batch.iter().map(f).collect::<Vec<i64>>();
            let idx: Vec<i64> = (0..batch.len()).map(|i| i as i64).collect();
            let v: Vec<&str> = batch.iter().map(|t| t.vessel.as_str()).collect();
            let c: Vec<&str> = batch.iter().map(|t| t.camera.as_str()).collect();
            let ns = col(&|t| t.captured_at_ns);
            let seq = col(&|t| i64::from_ne_bytes(t.seq.to_ne_bytes()));
            let lat: Vec<Option<f64>> = batch.iter().map(|t| t.lat).collect();
            let lon: Vec<Option<f64>> = batch.iter().map(|t| t.lon).collect();
            let w: Vec<i32> = batch.iter().map(|t| i32::from(t.width_px)).collect();
            let h: Vec<i32> = batch.iter().map(|t| i32::from(t.height_px)).collect();
            let bytes = col(&|t| i64::try_from(t.bytes).unwrap_or(i64::MAX));
            let recv = col(&|t| t.received_at_ns);

            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO vessels (name) SELECT * FROM unnest($1::text[]) \
                 ON CONFLICT (name) DO NOTHING",
                &[&vessels],
            )
            .await?;
            // `ord` carries each row's position in the batch through the
            // insert, so that RETURNING says which inputs were new.
            let rows = tx
                .query(
                    "INSERT INTO thumbs (vessel, camera, captured_at_ns, seq, lat, lon, \
                     width_px, height_px, bytes, received_at_ns) \
                     SELECT v, c, ns, seq, lat, lon, w, h, b, r FROM unnest(\
                     $1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], \
                     $6::float8[], $7::float8[], $8::int4[], $9::int4[], $10::bigint[], \
                     $11::bigint[]) AS u(ord, v, c, ns, seq, lat, lon, w, h, b, r) \
                     ORDER BY ord \
                     ON CONFLICT (vessel, camera, captured_at_ns) DO NOTHING \
                     RETURNING id, vessel, camera, captured_at_ns",
                    &[&idx, &v, &c, &ns, &seq, &lat, &lon, &w, &h, &bytes, &recv],
                )
                .await?;
            let mut new = vec![false; batch.len()];
            let mut inserted = Vec::with_capacity(rows.len());
            for r in &rows {
                let (id, rv, rc, rns): (i64, &str, &str, i64) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
                // Keys are unique in the table, hence at most one input per row.
                if let Some(i) = batch.iter().enumerate().position(|(i, t)| {
                    !new[i]
                        && t.captured_at_ns == rns
                        && t.vessel.as_str() == rv
                        && t.camera.as_str() == rc
                }) {
                    new[i] = true;
                    inserted.push((i, id));
                }
            }
            let latest = latest_per_camera(&inserted, batch);
            if !latest.is_empty() {
                let lv: Vec<&str> = latest
                    .iter()
                    .map(|&(i, _)| batch[i].vessel.as_str())
                    .collect();
                let lc: Vec<&str> = latest
                    .iter()
                    .map(|&(i, _)| batch[i].camera.as_str())
                    .collect();
                let lid: Vec<i64> = latest.iter().map(|&(_, id)| id).collect();
                let lns: Vec<i64> = latest
                    .iter()
                    .map(|&(i, _)| batch[i].captured_at_ns)
                    .collect();
                tx.execute(
                    "INSERT INTO cameras (vessel, camera, latest_id, latest_ns) \
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
                     ON CONFLICT (vessel, camera) DO UPDATE \
                     SET latest_id = excluded.latest_id, latest_ns = excluded.latest_ns \
                     WHERE excluded.latest_ns > cameras.latest_ns",
                    &[&lv, &lc, &lid, &lns],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(new)
        })
    }

    fn apply_status<'a>(&'a self, v: &'a VesselName, update: &'a StatusUpdate) -> Fut<'a, ()> {
        Box::pin(async move {
            let v = v.as_str();
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO vessels (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&v],
            )
            .await?;
            tx.execute(
                "UPDATE vessels SET online = $2, \
                 last_seen_ns = greatest(last_seen_ns, $3::bigint) WHERE name = $1",
                &[&v, &update.online, &update.seen_ns],
            )
            .await?;
            if let Some(cameras) = &update.cameras {
                let json = serde_json::to_string(cameras).expect("names serialise");
                tx.execute(
                    "UPDATE vessels SET cameras = $2 WHERE name = $1",
                    &[&v, &json],
                )
                .await?;
            }
            if let Some(f) = &update.fix {
                update_last_fix(&tx, v, f).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn append_fixes<'a>(&'a self, v: &'a VesselName, fixes: &'a [Fix]) -> Fut<'a, ()> {
        Box::pin(async move {
            let v = v.as_str();
            let at: Vec<i64> = fixes.iter().map(|f| f.at_ms).collect();
            let lat: Vec<f64> = fixes.iter().map(|f| f.lat).collect();
            let lon: Vec<f64> = fixes.iter().map(|f| f.lon).collect();
            let fix: Vec<&str> = fixes.iter().map(|f| f.fix.as_str()).collect();
            let sp: Vec<Option<f64>> = fixes.iter().map(|f| f.speed_kn).collect();
            let co: Vec<Option<f64>> = fixes.iter().map(|f| f.course_deg).collect();
            let he: Vec<Option<f64>> = fixes.iter().map(|f| f.heading_deg).collect();
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO fixes (vessel, at_ms, lat, lon, fix, speed_kn, course_deg, heading_deg) \
                 SELECT $1, * FROM unnest($2::bigint[], $3::float8[], $4::float8[], $5::text[], \
                 $6::float8[], $7::float8[], $8::float8[]) \
                 ON CONFLICT (vessel, at_ms) DO NOTHING",
                &[&v, &at, &lat, &lon, &fix, &sp, &co, &he],
            )
            .await?;
            if let Some(last) = fixes.iter().max_by_key(|f| f.at_ms) {
                update_last_fix(&tx, v, last).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn vessels(&self) -> Fut<'_, Vec<VesselSummary>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT name, online, last_seen_ns, cameras, last_fix FROM vessels ORDER BY name",
                    &[],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(super::summary(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                )?);
            }
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT vessel, camera, latest_id, latest_ns FROM cameras ORDER BY vessel, camera",
                    &[],
                )
                .await?;
            let rows = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            super::merge_cameras(&mut out, rows)?;
            Ok(out)
        })
    }

    fn vessel_known<'a>(&'a self, v: &'a VesselName) -> Fut<'a, bool> {
        Box::pin(async move {
            Ok(self
                .reader()
                .await?
                .query_opt("SELECT 1 FROM vessels WHERE name = $1", &[&v.as_str()])
                .await?
                .is_some())
        })
    }

    fn thumbs<'a>(&'a self, query: &'a ThumbQuery) -> Fut<'a, ThumbPage> {
        Box::pin(async move {
            let (sql, boxed) = thumbs_statement(query, true);
            let refs: Vec<&(dyn ToSql + Sync)> = boxed
                .iter()
                .map(|b| b.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let rows = self.reader().await?.query(&sql, &refs).await?;
            let scanned = rows.iter().map(to_thumb).collect::<Result<_, _>>()?;
            Ok(page(query, scanned))
        })
    }

    fn thumb(&self, id: i64) -> Fut<'_, Option<ThumbRow>> {
        Box::pin(async move {
            self.reader().await?
                .query_opt(
                    "SELECT id, vessel, camera, captured_at_ns, lat, lon, bytes FROM thumbs WHERE id = $1",
                    &[&id],
                )
                .await?
                .as_ref()
                .map(to_thumb)
                .transpose()
        })
    }

    fn count_thumbs(&self) -> Fut<'_, u64> {
        Box::pin(async move {
            let n: i64 = self
                .reader()
                .await?
                .query_one("SELECT count(*) FROM thumbs", &[])
                .await?
                .try_get(0)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn thumbs_after(&self, after_id: i64, limit: u32) -> Fut<'_, Vec<ThumbRow>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT id, vessel, camera, captured_at_ns, lat, lon, bytes FROM thumbs \
                     WHERE id > $1 ORDER BY id LIMIT $2",
                    &[&after_id, &i64::from(limit)],
                )
                .await?;
            rows.iter().map(to_thumb).collect()
        })
    }

    fn last_thumb_id(&self) -> Fut<'_, i64> {
        Box::pin(async move {
            let id: Option<i64> = self
                .reader()
                .await?
                .query_one("SELECT max(id) FROM thumbs", &[])
                .await?
                .try_get(0)?;
            Ok(id.unwrap_or(0))
        })
    }
}
