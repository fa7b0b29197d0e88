//! The synthetic fleet the plans are measured on, and its bulk load into
//! the shore's own `thumbs` table, generated server-side.
//!
//! 250 vessels × 2 cameras; thumbnails `SPAN_NS` long (two years) spaced
//! evenly, so 100 M rows is one per camera every 315 s (what thinning keeps
//! of a 1-fps camera). Each vessel shuttles along its own route between two
//! ends at 5°/day with a small wobble: a third of them from one hub (a busy
//! strait), one (`vessel-001`) into the far south that no other vessel
//! visits, one (`vessel-002`) across the antimeridian, others anywhere
//! within ±68° latitude (some crossing ±180° too). One in 50 rows has no
//! position, and `vessel-249` never has one.

use std::time::Instant;

use anyhow::Context;
use tokio_postgres::Client;

pub const VESSELS: i64 = 250;
pub const CAMERAS: i64 = 2;
pub const DAY_NS: i64 = 86_400_000_000_000;
/// 2024-12-01T00:00:00Z: the first thumbnail.
pub const T0_NS: i64 = 1_733_011_200_000_000_000;
pub const SPAN_NS: i64 = 730 * DAY_NS;
/// `(lat, lon)` of the hub a third of the fleet sails from.
pub const HUB: (f64, f64) = (1.25, 103.8);
/// `(lat, lon)` on `vessel-001`'s route, which no other route comes near.
pub const RARE: (f64, f64) = (-63.5, 29.0);
/// `(lat, lon)` where no route ever goes.
pub const EMPTY: (f64, f64) = (-69.4, 100.5);
/// The latitude at which `vessel-002` crosses the antimeridian.
pub const DATELINE_LAT: f64 = 40.0 + 10.0 / 3.0;
/// Thumbnails generated per statement (whole ticks of the fleet).
const CHUNK_ROWS: i64 = 1_000_000;
const SPEED_DEG_PER_DAY: f64 = 5.0;

/// One vessel's route: it shuttles between `a` and `b` (`(lat, lon)`,
/// `b`'s longitude unwrapped: it may pass 180).
#[derive(Debug, Clone, Copy)]
struct Route {
    a: (f64, f64),
    b: (f64, f64),
    phase: f64,
    gps: bool,
}

/// splitmix64: a fixed pseudo-random sequence, the same on every run.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `[lo, hi)` from `seed`.
fn uniform(seed: u64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * (mix(seed) >> 11) as f64 / (1u64 << 53) as f64
}

fn route(v: i64) -> Route {
    let s = |k: u64| (v as u64) * 16 + k;
    let phase = uniform(s(0), 0.0, 1.0);
    let gps = v != VESSELS - 1;
    match v {
        1 => Route {
            a: (-68.0, 20.0),
            b: (-58.0, 40.0),
            phase,
            gps,
        },
        2 => Route {
            a: (40.0, 170.0),
            b: (50.0, 200.0),
            phase,
            gps,
        },
        _ => {
            let a = if v % 3 == 0 {
                HUB
            } else {
                (uniform(s(1), -55.0, 68.0), uniform(s(2), -180.0, 180.0))
            };
            let b_lat = uniform(s(3), -55.0, 68.0);
            let mut b_lon = a.1 + uniform(s(4), -120.0, 120.0);
            if (b_lat - a.0).abs() + (b_lon - a.1).abs() < 10.0 {
                b_lon += 15.0;
            }
            Route {
                a,
                b: (b_lat, b_lon),
                phase,
                gps,
            }
        }
    }
}

/// The routes' table (not the shore's: only the generator reads it).
async fn routes_table(client: &Client, tick_ns: i64) -> anyhow::Result<()> {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS plans_routes; \
             CREATE TABLE plans_routes (v BIGINT PRIMARY KEY, name TEXT NOT NULL, gps BOOLEAN NOT NULL, \
             a_lat FLOAT8, a_lon FLOAT8, b_lat FLOAT8, b_lon FLOAT8, period_s FLOAT8, phase FLOAT8, \
             offset_ns BIGINT NOT NULL)",
        )
        .await?;
    for v in 0..VESSELS {
        let r = route(v);
        let dist_deg = ((r.b.0 - r.a.0).powi(2) + (r.b.1 - r.a.1).powi(2)).sqrt();
        let period_s = 2.0 * dist_deg / SPEED_DEG_PER_DAY * 86_400.0;
        client
            .execute(
                "INSERT INTO plans_routes VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &v,
                    &format!("vessel-{v:03}"),
                    &r.gps,
                    &r.a.0,
                    &r.a.1,
                    &r.b.0,
                    &r.b.1,
                    &period_s,
                    &r.phase,
                    &(v * (tick_ns / VESSELS)),
                ],
            )
            .await?;
    }
    Ok(())
}

/// One tick is every camera once; `rows` is rounded down to whole ticks.
pub fn tick_ns(rows: i64) -> i64 {
    SPAN_NS / (rows / (VESSELS * CAMERAS)).max(1)
}

/// The thumbnails of ticks `[$1, $2)`, in time order (so that the id and
/// time indexes grow at their right edge, as under ingest).
const ROWS_SQL: &str = "
INSERT INTO thumbs (vessel, camera, captured_at_ns, seq, lat, lon, width_px, height_px, bytes,
                    received_at_ns)
SELECT r.name, 'cam' || c, t.ns, g.i,
       CASE WHEN r.gps AND (g.i + r.v) % 50 <> 0 THEN p.lat END,
       CASE WHEN r.gps AND (g.i + r.v) % 50 <> 0 THEN p.lon - 360 * floor((p.lon + 180) / 360) END,
       320, 180, 6000 + (g.i * 7919 + r.v * 104729 + c * 31) % 8000, t.ns + 1500000000
FROM generate_series($1::bigint, $2::bigint - 1) AS g(i)
CROSS JOIN plans_routes r
CROSS JOIN LATERAL (SELECT $3::bigint + g.i * $4::bigint + r.offset_ns AS ns,
                           g.i * $5::float8 / r.period_s + r.phase AS turns) t
CROSS JOIN LATERAL (SELECT 1 - abs(2 * (t.turns - floor(t.turns)) - 1) AS f) w
CROSS JOIN LATERAL (SELECT r.a_lat + (r.b_lat - r.a_lat) * w.f + 0.02 * sin(g.i * 0.05 + r.v) AS lat,
                           r.a_lon + (r.b_lon - r.a_lon) * w.f AS lon) p
CROSS JOIN generate_series(0, 1) AS c
ORDER BY t.ns, r.v, c";

/// Loads `rows` thumbnails into an empty `thumbs` with the shore's
/// triggers off, each client loading its own stretch of time at once, then
/// brings what the triggers maintain (`thumb_usage`, `cameras`, `vessels`)
/// up to date, switches them back on, and vacuums and analyses (what
/// autovacuum does in service).
pub async fn load(clients: &[Client], rows: i64) -> anyhow::Result<()> {
    let client = clients.first().context("no connection to load with")?;
    let ticks = rows / (VESSELS * CAMERAS);
    let tick_ns = tick_ns(rows);
    routes_table(client, tick_ns).await?;
    client
        .batch_execute("ALTER TABLE thumbs DISABLE TRIGGER USER")
        .await?;
    let started = Instant::now();
    let jobs = i64::try_from(clients.len())?;
    futures_util::future::try_join_all(clients.iter().zip(0..).map(|(c, j)| {
        let (from, to) = (ticks * j / jobs, ticks * (j + 1) / jobs);
        load_ticks(c, from, to, tick_ns, started)
    }))
    .await?;
    client
        .batch_execute(
            "INSERT INTO vessels (name) SELECT name FROM plans_routes ON CONFLICT DO NOTHING;
             INSERT INTO thumb_usage (vessel, camera, bytes, count)
                 SELECT vessel, camera, sum(bytes), count(*) FROM thumbs GROUP BY vessel, camera
                 ON CONFLICT (vessel, camera) DO UPDATE
                 SET bytes = excluded.bytes, count = excluded.count;
             INSERT INTO cameras (vessel, camera, latest_id, latest_ns)
                 SELECT r.name, c.camera, t.id, t.captured_at_ns
                 FROM plans_routes r CROSS JOIN (VALUES ('cam0'), ('cam1')) AS c(camera)
                 CROSS JOIN LATERAL (SELECT id, captured_at_ns FROM thumbs
                     WHERE vessel = r.name AND camera = c.camera
                     ORDER BY captured_at_ns DESC, id DESC LIMIT 1) t
                 ON CONFLICT (vessel, camera) DO NOTHING;
             ALTER TABLE thumbs ENABLE TRIGGER USER;",
        )
        .await
        .context("the tables the triggers keep")?;
    println!(
        "loaded {} rows in {:.0} s ({jobs} connections); vacuuming",
        ticks * VESSELS * CAMERAS,
        started.elapsed().as_secs_f64()
    );
    let vacuum = Instant::now();
    client.batch_execute("VACUUM (ANALYZE) thumbs").await?;
    println!(
        "VACUUM (ANALYZE) in {:.0} s",
        vacuum.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Loads ticks `[from, to)` a chunk per statement.
async fn load_ticks(
    client: &Client,
    from: i64,
    to: i64,
    tick_ns: i64,
    started: Instant,
) -> anyhow::Result<()> {
    let tick_s = tick_ns as f64 / 1e9;
    let per_chunk = (CHUNK_ROWS / (VESSELS * CAMERAS)).max(1);
    let mut at = from;
    while at < to {
        let end = (at + per_chunk).min(to);
        // A chunk is one statement, hence there whole or not at all: a load
        // that stopped (a full disk) resumes at the first chunk missing.
        let there: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM thumbs WHERE captured_at_ns >= $1 AND captured_at_ns < $2)",
                &[&(T0_NS + at * tick_ns), &(T0_NS + end * tick_ns)],
            )
            .await?
            .try_get(0)?;
        if !there {
            client
                .execute(ROWS_SQL, &[&at, &end, &T0_NS, &tick_ns, &tick_s])
                .await
                .with_context(|| format!("loading ticks {at}..{end}"))?;
        }
        println!(
            "ticks {at}..{end} of {from}..{to} loaded at {:.0} s",
            started.elapsed().as_secs_f64()
        );
        at = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_vessel_001_goes_south_of_56() {
        for v in 0..VESSELS {
            let r = route(v);
            let south = r.a.0.min(r.b.0);
            assert_eq!(south < -56.0, v == 1, "vessel {v}: {r:?}");
        }
    }
}
