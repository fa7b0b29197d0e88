//! The queries the shore issues on `thumbs`, at the synthetic fleet's
//! times and places, and their measurement: one `EXPLAIN (ANALYZE,
//! BUFFERS)` run first (the first touch of its pages since the load:
//! cold-ish for PostgreSQL's buffers, though the OS may cache), then timed
//! runs of the statement itself, as the shore sends it.
//!
//! Thumbnail searches are built by the shore's own
//! [`thumbs_statement`]; the few fixed statements (by id, latest of a
//! camera, retention's delete, the feed) are copied from `index/postgres*.rs`.

use std::time::{Duration, Instant};

use seaframe_shore::adapters::index::postgres::thumbs_statement;
use seaframe_shore::adapters::index::{Place, ThumbQuery};
use seaframe_wire::{CameraId, VesselName};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::fleet::{DATELINE_LAT, DAY_NS, EMPTY, HUB, RARE, SPAN_NS, T0_NS};

const HOUR_NS: i64 = 3_600_000_000_000;
const MINUTE_NS: i64 = 60_000_000_000;

/// What a case runs.
#[derive(Debug)]
enum Kind {
    /// A thumbnail search (`GET /thumbs`, retention's scans).
    Search(ThumbQuery),
    /// A fixed statement and its values.
    Fixed(&'static str, Vec<Value>),
    /// Retention's delete of these ids, rolled back after each run.
    Doom(Vec<i64>),
}

/// A value of a fixed statement.
#[derive(Debug, Clone)]
enum Value {
    Int(i64),
    Text(String),
}

#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    kind: Kind,
}

/// One case's figures.
#[derive(Debug)]
pub struct Outcome {
    pub name: &'static str,
    pub rows: usize,
    pub first_ms: f64,
    /// Best and median of the timed runs (none when the first was slow).
    pub best_ms: Option<f64>,
    pub median_ms: Option<f64>,
    pub plan: Vec<String>,
}

/// Retention's delete (`doom_thumbs` in `adapters/index/postgres_retention.rs`).
const DOOM_SQL: &str = "WITH moved AS (DELETE FROM thumbs WHERE id = ANY($1) \
    RETURNING id, vessel, camera, captured_at_ns, bytes), \
    kept AS (INSERT INTO thumb_garbage (id, vessel, camera, captured_at_ns) \
    SELECT id, vessel, camera, captured_at_ns FROM moved ON CONFLICT (id) DO NOTHING) \
    SELECT count(*), coalesce(sum(bytes), 0)::bigint, coalesce(array_agg(id), '{}') FROM moved";

fn name(s: &str) -> anyhow::Result<VesselName> {
    Ok(VesselName::parse(s)?)
}

fn bbox((lat, lon): (f64, f64), half_deg: f64) -> Place {
    Place::BBox {
        min_lon: lon - half_deg,
        min_lat: lat - half_deg,
        max_lon: lon + half_deg,
        max_lat: lat + half_deg,
    }
}

fn search(
    vessel: Option<&VesselName>,
    camera: Option<&CameraId>,
    (from_ns, to_ns): (i64, i64),
    place: Option<Place>,
    after: Option<(i64, i64)>,
    limit: u32,
) -> Kind {
    Kind::Search(ThumbQuery {
        vessel: vessel.cloned(),
        camera: camera.cloned(),
        from_ns,
        to_ns,
        place,
        after,
        limit,
    })
}

/// The cases, at times and places of the fleet; `max_id` and `oldest_ids`
/// (the oldest 1,000 of one camera) come from the loaded table.
pub fn cases(max_id: i64, oldest_ids: Vec<i64>) -> anyhow::Result<Vec<Case>> {
    let end = T0_NS + SPAN_NS;
    let day = T0_NS + 400 * DAY_NS;
    let all = (i64::MIN, end + DAY_NS);
    let month = (end - 30 * DAY_NS, end);
    let v = name("vessel-007")?;
    let cam = CameraId::parse("cam0")?;
    let circle = |(lat, lon): (f64, f64)| Place::Circle {
        lat,
        lon,
        radius_m: 30_000.0,
    };
    let dateline = Place::BBox {
        min_lon: 179.5,
        min_lat: DATELINE_LAT - 0.5,
        max_lon: -179.5,
        max_lat: DATELINE_LAT + 0.5,
    };
    let case = |name, kind| Case { name, kind };
    Ok(vec![
        case(
            "camera, 1 h",
            search(Some(&v), Some(&cam), (day, day + HOUR_NS), None, None, 100),
        ),
        case(
            "camera, 1 day",
            search(Some(&v), Some(&cam), (day, day + DAY_NS), None, None, 1000),
        ),
        case(
            "vessel, 1 day",
            search(Some(&v), None, (day, day + DAY_NS), None, None, 1000),
        ),
        case(
            "fleet, last hour",
            search(None, None, (end - HOUR_NS, end), None, None, 100),
        ),
        case(
            "fleet, last hour, page at 50 min",
            search(
                None,
                None,
                (end - HOUR_NS, end),
                None,
                Some((end - 10 * MINUTE_NS, 0)),
                100,
            ),
        ),
        case(
            "fleet, last day, page at 23 h",
            search(
                None,
                None,
                (end - DAY_NS, end),
                None,
                Some((end - HOUR_NS, 0)),
                100,
            ),
        ),
        case(
            "hub 1°×1°, month",
            search(None, None, month, Some(bbox(HUB, 0.5)), None, 100),
        ),
        case(
            "hub 1°×1°, all time",
            search(None, None, all, Some(bbox(HUB, 0.5)), None, 100),
        ),
        case(
            "hub r=30 km, month",
            search(None, None, month, Some(circle(HUB)), None, 100),
        ),
        case(
            "rare 1°×1°, month",
            search(None, None, month, Some(bbox(RARE, 0.5)), None, 100),
        ),
        case(
            "rare 1°×1°, all time",
            search(None, None, all, Some(bbox(RARE, 0.5)), None, 100),
        ),
        case(
            "rare r=30 km, all time",
            search(None, None, all, Some(circle(RARE)), None, 100),
        ),
        case(
            "empty 1°×1°, all time",
            search(None, None, all, Some(bbox(EMPTY, 0.5)), None, 100),
        ),
        case(
            "antimeridian 1°×1°, all time",
            search(None, None, all, Some(dateline), None, 100),
        ),
        case(
            "vessel + hub box, all time",
            search(
                Some(&name("vessel-003")?),
                None,
                all,
                Some(bbox(HUB, 0.5)),
                None,
                100,
            ),
        ),
        case(
            "thumb by id",
            Kind::Fixed(
                "SELECT id, vessel, camera, captured_at_ns, lat, lon, bytes FROM thumbs WHERE id = $1",
                vec![Value::Int(max_id / 2)],
            ),
        ),
        case(
            "latest of a camera",
            Kind::Fixed(
                "SELECT vessel, camera, id, captured_at_ns FROM thumbs \
                 WHERE vessel = $1 AND camera = $2 \
                 ORDER BY captured_at_ns DESC, id DESC LIMIT 1",
                vec![Value::Text(v.to_string()), Value::Text(cam.to_string())],
            ),
        ),
        case(
            "latest per camera (cameras table)",
            Kind::Fixed(
                "SELECT vessel, camera, latest_id, latest_ns FROM cameras ORDER BY vessel, camera",
                vec![],
            ),
        ),
        case(
            "feed: thumbs after id",
            Kind::Fixed(
                "SELECT id, vessel, camera, captured_at_ns, lat, lon, bytes FROM thumbs \
                 WHERE id > $1 ORDER BY id LIMIT $2",
                vec![Value::Int(max_id - 2000), Value::Int(500)],
            ),
        ),
        case(
            "retention: arrivals since",
            Kind::Fixed(
                "SELECT vessel, camera, min(captured_at_ns), max(id) FROM thumbs \
                 WHERE id > $1 GROUP BY vessel, camera",
                vec![Value::Int(max_id - 10_000)],
            ),
        ),
        case(
            "retention: camera's oldest 5000",
            search(
                Some(&v),
                Some(&cam),
                (i64::MIN, T0_NS + 90 * DAY_NS),
                None,
                None,
                5000,
            ),
        ),
        case(
            "retention: fleet's oldest 5000",
            search(None, None, all, None, None, 5000),
        ),
        case("retention: delete 1000 oldest", Kind::Doom(oldest_ids)),
    ])
}

/// The oldest 1,000 ids of `vessel-007/cam0`, as retention finds them.
pub fn oldest_query() -> anyhow::Result<ThumbQuery> {
    Ok(ThumbQuery {
        vessel: Some(name("vessel-007")?),
        camera: Some(CameraId::parse("cam0")?),
        from_ns: i64::MIN,
        to_ns: i64::MAX,
        place: None,
        after: None,
        limit: 1000,
    })
}

type Values = Vec<Box<dyn ToSql + Sync + Send>>;

fn statement(kind: &Kind, place_index: bool) -> (String, Values) {
    match kind {
        Kind::Search(q) => thumbs_statement(q, place_index),
        Kind::Fixed(sql, values) => (
            (*sql).to_owned(),
            values
                .iter()
                .map(|v| -> Box<dyn ToSql + Sync + Send> {
                    match v {
                        Value::Int(i) => Box::new(*i),
                        Value::Text(t) => Box::new(t.clone()),
                    }
                })
                .collect(),
        ),
        Kind::Doom(ids) => (DOOM_SQL.to_owned(), vec![Box::new(ids.clone())]),
    }
}

/// Runs `sql` once (inside a rolled back transaction for a delete):
/// the rows it returned and how long it took.
async fn run(
    client: &Client,
    sql: &str,
    values: &Values,
    rollback: bool,
) -> Result<(Vec<tokio_postgres::Row>, Duration), tokio_postgres::Error> {
    let refs: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    if rollback {
        client.batch_execute("BEGIN").await?;
    }
    let started = Instant::now();
    let rows = client.query(sql, &refs).await;
    let took = started.elapsed();
    if rollback {
        client.batch_execute("ROLLBACK").await?;
    }
    Ok((rows?, took))
}

/// Measures one case: the plan of a first run, then `runs` timed runs
/// unless the first took longer than `slow`.
pub async fn measure(
    client: &Client,
    case: &Case,
    place_index: bool,
    runs: u32,
    slow: Duration,
) -> anyhow::Result<Outcome> {
    let (sql, values) = statement(&case.kind, place_index);
    let rollback = matches!(case.kind, Kind::Doom(_));
    let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
    let (plan, first) = match run(client, &explain, &values, rollback).await {
        Ok(done) => done,
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) => {
            return Ok(Outcome {
                name: case.name,
                rows: 0,
                first_ms: f64::INFINITY,
                best_ms: None,
                median_ms: None,
                plan: vec![format!("cancelled by statement_timeout: {e}")],
            });
        }
        Err(e) => return Err(e.into()),
    };
    let plan = plan
        .iter()
        .map(|r| r.try_get::<_, String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = 0;
    let mut times = Vec::new();
    if first < slow {
        for _ in 0..runs {
            let (got, took) = run(client, &sql, &values, rollback).await?;
            rows = got.len();
            times.push(took.as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    if times.is_empty() {
        rows = plan.first().map_or(0, |top| actual_rows(top));
    }
    Ok(Outcome {
        name: case.name,
        rows,
        first_ms: first.as_secs_f64() * 1e3,
        best_ms: times.first().copied(),
        median_ms: times.get(times.len() / 2).copied(),
        plan,
    })
}

/// The `rows=` of a plan line's `(actual …)` part.
fn actual_rows(line: &str) -> usize {
    line.split("(actual ")
        .nth(1)
        .and_then(|a| a.split("rows=").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
