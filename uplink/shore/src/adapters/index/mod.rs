//! The index: what the shore knows about vessels, thumbnails, tracks and
//! configs, behind one trait ([`Index`]) with two implementations chosen by
//! URL: [`sqlite`] (embedded default) and [`postgres`] (several shores).
//! It owns no files: a row names a thumbnail whose JPEG [`crate::adapters::blobs`]
//! wrote *before* the row was committed.
//!
//! Invariants both implementations keep:
//! - a thumbnail is indexed at most once: `(vessel, camera, captured_at_ns)`
//!   is unique and inserts ignore what is already there;
//! - a batch of thumbnails is one transaction;
//! - a config version is `previous + 1`, assigned atomically; a PATCH is
//!   read, folded and written in one transaction that holds the vessel's
//!   row, so that concurrent pushes (from any instance) are all kept;
//! - a vessel's ack history holds its newest [`ACK_HISTORY_LEN`] acks, a
//!   repeat of the newest one (a redelivery) not kept twice.

pub mod accounts;
pub mod bulk;
pub mod configs;
pub mod health;
pub mod listen;
pub mod postgres;
pub mod retention;
pub mod sqlite;
pub mod track;

use seaframe_wire::geo::Lons;
pub use seaframe_wire::geo::Place;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use seaframe_wire::message::{AckStatus, ConfigAck, Fix};
use seaframe_wire::{CameraId, VesselName};

use crate::adapters::config::index_url::IndexUrl;
use crate::base::auth::role::{Account, Role};
use crate::base::desired::TooLarge;

/// How many acks a vessel's history keeps (the newest).
pub const ACK_HISTORY_LEN: usize = 20;

/// Why the index failed. Callers retry (ingest) or answer 503 (API), but
/// for [`IndexError::Refused`]: the caller's mistake (400), nothing stored.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the index worker is gone")]
    Gone,
    #[error("opening {what}: {why}")]
    Open { what: String, why: String },
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The change was refused (nothing stored): the caller's mistake.
    #[error(transparent)]
    Refused(#[from] TooLarge),
}

pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, IndexError>> + Send + 'a>>;

/// A thumbnail to index (its JPEG is already on disk).
#[derive(Debug, Clone, PartialEq)]
pub struct NewThumb {
    pub vessel: VesselName,
    pub camera: CameraId,
    pub captured_at_ns: i64,
    pub seq: u64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub width_px: u16,
    pub height_px: u16,
    pub bytes: u64,
    pub received_at_ns: i64,
}

/// A thumbnail as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThumbRow {
    pub id: i64,
    pub vessel: VesselName,
    pub camera: CameraId,
    pub captured_at_ns: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub bytes: u64,
}

/// Which thumbnails: oldest first by `(captured_at_ns, id)`, after `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThumbQuery {
    pub vessel: Option<VesselName>,
    pub camera: Option<CameraId>,
    pub from_ns: i64,
    pub to_ns: i64,
    pub place: Option<Place>,
    /// The `(captured_at_ns, id)` of the last row of the previous page.
    pub after: Option<(i64, i64)>,
    pub limit: u32,
}

/// One page of thumbnails.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThumbPage {
    pub rows: Vec<ThumbRow>,
    /// Where the next page starts when this one was full (a circle search
    /// may return fewer rows than were scanned).
    pub next: Option<(i64, i64)>,
}

/// A value bound into a query the shared builder made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Real(f64),
}

/// The `WHERE … ORDER BY … LIMIT …` of a thumbnail query, with placeholders
/// made by `ph(n)` (1-based): the same SQL for SQLite (`?n`) and PostgreSQL (`$n`).
/// With `point_box` a place is also tested as `point(lon, lat) <@ box(…)`,
/// the same box again, which PostgreSQL's GiST index `thumbs_by_place`
/// answers (the `BETWEEN`s stay: they are exact, the box test is fuzzy
/// by 1e-6°, so the rows kept are the same with or without it).
pub(crate) fn thumb_query_sql(
    q: &ThumbQuery,
    ph: fn(usize) -> String,
    point_box: bool,
) -> (String, Vec<Param>) {
    let mut params = Vec::new();
    let mut conds = Vec::new();
    let bind = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        ph(params.len())
    };
    if let Some(v) = &q.vessel {
        conds.push(format!(
            "vessel = {}",
            bind(Param::Text(v.to_string()), &mut params)
        ));
    }
    if let Some(c) = &q.camera {
        conds.push(format!(
            "camera = {}",
            bind(Param::Text(c.to_string()), &mut params)
        ));
    }
    conds.push(format!(
        "captured_at_ns >= {}",
        bind(Param::Int(q.from_ns), &mut params)
    ));
    conds.push(format!(
        "captured_at_ns < {}",
        bind(Param::Int(q.to_ns), &mut params)
    ));
    if let Some(place) = &q.place {
        let p = place.prefilter();
        let a = bind(Param::Real(p.min_lat), &mut params);
        let b = bind(Param::Real(p.max_lat), &mut params);
        conds.push(format!("lat BETWEEN {a} AND {b} AND lon IS NOT NULL"));
        let within = |west: &str, east: &str| {
            format!("point(lon, lat) <@ box(point({west}, {a}), point({east}, {b}))")
        };
        match p.lons {
            Lons::All => {
                if point_box {
                    conds.push(within("-180", "180"));
                }
            }
            Lons::Within { west, east } => {
                let c = bind(Param::Real(west), &mut params);
                let d = bind(Param::Real(east), &mut params);
                conds.push(format!("lon BETWEEN {c} AND {d}"));
                if point_box {
                    conds.push(within(&c, &d));
                }
            }
            Lons::Across { west, east } => {
                let c = bind(Param::Real(west), &mut params);
                let d = bind(Param::Real(east), &mut params);
                conds.push(format!("(lon >= {c} OR lon <= {d})"));
                if point_box {
                    conds.push(format!("({} OR {})", within(&c, "180"), within("-180", &d)));
                }
            }
        }
    }
    if let Some((ns, id)) = q.after {
        let a = bind(Param::Int(ns), &mut params);
        let b = bind(Param::Int(id), &mut params);
        conds.push(format!("(captured_at_ns, id) > ({a}, {b})"));
    }
    let sql = format!(
        "SELECT id, vessel, camera, captured_at_ns, lat, lon, bytes FROM thumbs WHERE {} \
         ORDER BY captured_at_ns, id LIMIT {}",
        conds.join(" AND "),
        q.limit
    );
    (sql, params)
}

/// Turns the rows a query scanned into a page: a circle's exact filter,
/// and the cursor of the last row scanned when the page was full.
pub(crate) fn page(q: &ThumbQuery, scanned: Vec<ThumbRow>) -> ThumbPage {
    let next = (scanned.len() == q.limit as usize)
        .then(|| scanned.last().map(|r| (r.captured_at_ns, r.id)))
        .flatten();
    let rows = scanned
        .into_iter()
        .filter(|r| match (&q.place, r.lat, r.lon) {
            (None, _, _) => true,
            (Some(p), Some(lat), Some(lon)) => p.contains(lat, lon),
            _ => false,
        })
        .collect();
    ThumbPage { rows, next }
}

/// The newest thumbnail of one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSummary {
    pub camera: CameraId,
    pub latest: Option<(i64, i64)>,
}

/// A vessel as `GET /vessels` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct VesselSummary {
    pub name: VesselName,
    pub online: bool,
    pub last_seen_ns: Option<i64>,
    pub last_fix: Option<Fix>,
    /// Cameras from the last status and from thumbnails, with the newest
    /// thumbnail `(id, captured_at_ns)` of each.
    pub cameras: Vec<CameraSummary>,
}

/// A vessel's desired overlay, its version and the last ack.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigState {
    pub desired: serde_json::Value,
    pub version: u64,
    pub ack: Option<ReceivedAck>,
}

/// An ack and when the shore received it (`None` only for an ack stored
/// before the shore kept that).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedAck {
    pub ack: ConfigAck,
    pub received_at_ns: Option<i64>,
}

/// A stored push: the version assigned and the whole desired overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChange {
    pub version: u64,
    pub desired: serde_json::Value,
}

/// What a `status` message changes.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub online: bool,
    /// When we heard from the vessel (`None` for the last will: the broker
    /// speaks for it, so "last seen" stays as it was).
    pub seen_ns: Option<i64>,
    /// `None` in the last will (cameras unknown: keep what we had).
    pub cameras: Option<Vec<CameraId>>,
    pub fix: Option<Fix>,
}

/// The index, whichever database holds it (fleet health: [`health::FleetHealth`];
/// retention: [`retention::RetentionStore`]; whole tables, for `migrate`:
/// [`bulk::BulkRows`]; the track: [`track::TrackStore`]; accounts, tokens
/// and sessions: [`accounts::AccountStore`]; vessels' configurations and
/// their acks: [`configs::ConfigStore`]).
pub trait Index:
    accounts::AccountStore
    + configs::ConfigStore
    + health::FleetHealth
    + retention::RetentionStore
    + bulk::BulkRows
    + track::TrackStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Inserts a batch in one transaction, ignoring thumbnails already
    /// indexed. Returns, per input, whether it was new. Idempotent.
    fn insert_thumbs<'a>(&'a self, batch: &'a [NewThumb]) -> Fut<'a, Vec<bool>>;
    fn apply_status<'a>(&'a self, vessel: &'a VesselName, update: &'a StatusUpdate) -> Fut<'a, ()>;
    /// Appends fixes to the track (a fix already there, same `at_ms`, is
    /// ignored). A status's fix only updates the vessel's last fix: the
    /// track is what `position` reports carried.
    fn append_fixes<'a>(&'a self, vessel: &'a VesselName, fixes: &'a [Fix]) -> Fut<'a, ()>;
    fn vessels(&self) -> Fut<'_, Vec<VesselSummary>>;
    fn vessel_known<'a>(&'a self, vessel: &'a VesselName) -> Fut<'a, bool>;
    fn thumbs<'a>(&'a self, query: &'a ThumbQuery) -> Fut<'a, ThumbPage>;
    fn thumb(&self, id: i64) -> Fut<'_, Option<ThumbRow>>;
    /// How many thumbnails are indexed (for tests and the benchmark).
    fn count_thumbs(&self) -> Fut<'_, u64>;
    /// Thumbnails with `id > after_id`, by id, at most `limit`: what the
    /// live feed follows (whichever shore instance indexed them).
    fn thumbs_after(&self, after_id: i64, limit: u32) -> Fut<'_, Vec<ThumbRow>>;
    /// The highest thumbnail id (0 when there is none): where the feed starts.
    fn last_thumb_id(&self) -> Fut<'_, i64>;
}

/// Opens (and migrates) the index named by `url`.
pub async fn open(url: &IndexUrl) -> Result<Arc<dyn Index>, IndexError> {
    Ok(match url {
        IndexUrl::Sqlite(path) => Arc::new(sqlite::SqliteIndex::open(path).await?),
        IndexUrl::Postgres(url) => Arc::new(postgres::PgIndex::connect(url.expose()).await?),
    })
}

pub(crate) fn ack_status_str(s: AckStatus) -> &'static str {
    match s {
        AckStatus::Applied => "applied",
        AckStatus::Rejected => "rejected",
        AckStatus::RolledBack => "rolled_back",
    }
}

pub(crate) fn parse_ack_status(s: &str) -> Result<AckStatus, IndexError> {
    match s {
        "applied" => Ok(AckStatus::Applied),
        "rejected" => Ok(AckStatus::Rejected),
        "rolled_back" => Ok(AckStatus::RolledBack),
        other => Err(IndexError::Corrupt(format!("ack status {other:?}"))),
    }
}

pub(crate) fn vessel(s: &str) -> Result<VesselName, IndexError> {
    VesselName::parse(s).map_err(|e| IndexError::Corrupt(format!("vessel {s:?}: {e}")))
}

pub(crate) fn camera(s: &str) -> Result<CameraId, IndexError> {
    CameraId::parse(s).map_err(|e| IndexError::Corrupt(format!("camera {s:?}: {e}")))
}

/// The newest thumbnail per (vessel, camera) in a batch of new ones: what
/// the `cameras` table's "latest" columns are updated from.
pub(crate) fn latest_per_camera(rows: &[(usize, i64)], batch: &[NewThumb]) -> Vec<(usize, i64)> {
    let mut best: std::collections::HashMap<(&str, &str), (usize, i64)> = Default::default();
    for &(i, id) in rows {
        let t = &batch[i];
        let key = (t.vessel.as_str(), t.camera.as_str());
        match best.get(&key) {
            Some(&(j, _)) if batch[j].captured_at_ns >= t.captured_at_ns => {}
            _ => {
                best.insert(key, (i, id));
            }
        }
    }
    best.into_values().collect()
}

/// A vessel row, read back: the cameras of its last status (JSON) and its
/// last fix (JSON).
pub(crate) fn summary(
    name: String,
    online: bool,
    last_seen_ns: Option<i64>,
    cameras: Option<String>,
    fix: Option<String>,
) -> Result<VesselSummary, IndexError> {
    let cameras: Vec<CameraId> = match cameras {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| IndexError::Corrupt(format!("cameras of {name}: {e}")))?,
        None => Vec::new(),
    };
    let last_fix = match fix {
        Some(json) => Some(
            serde_json::from_str(&json)
                .map_err(|e| IndexError::Corrupt(format!("last fix of {name}: {e}")))?,
        ),
        None => None,
    };
    Ok(VesselSummary {
        name: vessel(&name)?,
        online,
        last_seen_ns,
        last_fix,
        cameras: cameras
            .into_iter()
            .map(|camera| CameraSummary {
                camera,
                latest: None,
            })
            .collect(),
    })
}

/// Adds the newest thumbnail of each camera (rows `(vessel, camera, id,
/// captured_at_ns)`) to vessels from [`summary`], sorted by camera.
pub(crate) fn merge_cameras(
    vessels: &mut [VesselSummary],
    rows: Vec<(String, String, i64, i64)>,
) -> Result<(), IndexError> {
    let at: std::collections::HashMap<String, usize> = vessels
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.to_string(), i))
        .collect();
    for (v, c, id, ns) in rows {
        let Some(summary) = at.get(&v).and_then(|&i| vessels.get_mut(i)) else {
            continue;
        };
        let c = camera(&c)?;
        match summary.cameras.iter_mut().find(|s| s.camera == c) {
            Some(s) => s.latest = Some((id, ns)),
            None => summary.cameras.push(CameraSummary {
                camera: c,
                latest: Some((id, ns)),
            }),
        }
    }
    for s in vessels.iter_mut() {
        s.cameras.sort_by(|a, b| a.camera.cmp(&b.camera));
    }
    Ok(())
}

/// An ack's columns as both databases hold them: `version, status, error,
/// received_at_ns`.
pub(crate) type AckColumns = (Option<i64>, Option<String>, Option<String>, Option<i64>);

/// An ack read back (`None` when the columns hold none).
pub(crate) fn received_ack(
    (version, status, error, received_at_ns): AckColumns,
) -> Result<Option<ReceivedAck>, IndexError> {
    let (Some(version), Some(status)) = (version, status) else {
        return Ok(None);
    };
    Ok(Some(ReceivedAck {
        ack: ConfigAck {
            version: u64::try_from(version).unwrap_or(0),
            status: parse_ack_status(&status)?,
            error,
        },
        received_at_ns,
    }))
}

/// An ack's version as both databases store it (a version past `i64::MAX`
/// is refused by ingest, so the clamp never bites).
pub(crate) fn ack_version_i64(ack: &ConfigAck) -> i64 {
    i64::try_from(ack.version).unwrap_or(i64::MAX)
}

/// A stored overlay, read back.
pub(crate) fn desired_value(desired: &str) -> Result<serde_json::Value, IndexError> {
    serde_json::from_str(desired).map_err(|e| IndexError::Corrupt(format!("desired config: {e}")))
}

/// A stored version, read back.
pub(crate) fn version_u64(version: i64) -> Result<u64, IndexError> {
    u64::try_from(version).map_err(|_| IndexError::Corrupt(format!("config version {version}")))
}

/// A `configs` row, read back.
pub(crate) fn config_state(
    version: i64,
    desired: &str,
    ack: AckColumns,
) -> Result<ConfigState, IndexError> {
    Ok(ConfigState {
        desired: desired_value(desired)?,
        version: version_u64(version)?,
        ack: received_ack(ack)?,
    })
}

/// An account as `account list` and `GET /api/v1/accounts` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub name: String,
    pub role: Role,
    pub created_at_ns: i64,
    pub tokens: u64,
    pub sessions: u64,
}

/// An `accounts` row, read back (`name, role, password_hash, created_at_ns`).
pub(crate) fn account_row(
    name: String,
    role: &str,
    password_hash: String,
    created_at_ns: i64,
) -> Result<Account, IndexError> {
    Ok(Account {
        role: role
            .parse()
            .map_err(|e| IndexError::Corrupt(format!("account {name:?}: {e}")))?,
        name,
        password_hash: seaframe_http::Secret::new(password_hash),
        created_at_ns,
    })
}
