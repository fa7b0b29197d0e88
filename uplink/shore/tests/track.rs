//! A vessel's track through mosquitto into the index (SQLite, and
//! PostgreSQL when `SEAFRAME_TEST_PG_URL` is set) and out of the API: a
//! synthetic voyage with known turns, a stop and a link gap, every fix
//! kept once, served decimated with the turns, the stop and the gap.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::message::{Fix, PositionReport};
use serde_json::Value;

const M_PER_DEG: f64 = 111_195.0;
const T0_MS: i64 = 1_764_000_000_000;

/// 1 fix/s from (60°N, 5°E): east 1000 s, north 1000 s, stopped 600 s,
/// west 1000 s, an hour with no fix (the link down), south 1000 s.
fn voyage() -> Vec<Fix> {
    let (mut lat, mut lon, mut t_s) = (60.0f64, 5.0f64, 0i64);
    let mut out = Vec::new();
    let mut push = |t_s: i64, lat: f64, lon: f64| {
        out.push(Fix {
            at_ms: T0_MS + t_s * 1000,
            lat,
            lon,
            fix: "3d".into(),
            speed_kn: Some(19.4),
            course_deg: None,
            heading_deg: None,
        });
    };
    push(t_s, lat, lon);
    for (secs, east, north, silent) in [
        (1000, 10.0, 0.0, false),
        (1000, 0.0, 10.0, false),
        (600, 0.0, 0.0, false),
        (1000, -10.0, 0.0, false),
        (3600, 5.0, 0.0, true),
        (1000, 0.0, -10.0, false),
    ] {
        for i in 0..secs {
            t_s += 1;
            lat += north / M_PER_DEG;
            lon += east / M_PER_DEG / lat.to_radians().cos();
            if !silent || i == secs - 1 {
                push(t_s, lat, lon);
            }
        }
    }
    out
}

fn dist_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    let cos_lat = a[1].to_radians().cos();
    ((b[0] - a[0]) * cos_lat).hypot(b[1] - a[1]) * M_PER_DEG
}

fn coords(v: &Value) -> [f64; 2] {
    [v[0].as_f64().unwrap(), v[1].as_f64().unwrap()]
}

async fn track(shore: &seaframe_shore::app::Shore, query: &str) -> Value {
    let (status, body) =
        get_json(shore.addr, &format!("/api/v1/vessels/aurora/track?{query}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voyage_is_kept_whole_and_served_decimated_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let fixes = voyage();
    assert_eq!(fixes.len(), 4602);
    for (n, (url, _db)) in index_urls(dir.path(), "track")
        .await
        .into_iter()
        .enumerate()
    {
        // A broker each: a stopped shore's session would still share the
        // subscription and take its turn of the messages.
        let broker = MosquittoServer::start().unwrap();
        let shore_dir = dir.path().join(format!("shore-{n}"));
        let shore = start(config(
            &broker.url(),
            &shore_dir,
            &format!("shore-track-{n}"),
            Some(&url),
        ))
        .await;
        let vessel = Publisher::connect(broker.port(), &format!("aurora-{n}"), None).await;
        // In reports of 500, the second one delivered again: kept once.
        let reports: Vec<Vec<u8>> = fixes
            .chunks(500)
            .map(|c| serde_json::to_vec(&PositionReport { fixes: c.to_vec() }).unwrap())
            .collect();
        for r in reports.iter().chain(std::iter::once(&reports[1])) {
            vessel
                .publish("seaframe/v1/aurora/position", r.clone())
                .await;
        }
        let everything = "max_points=100000&from=2025/11/01 00:00:00";
        until(60, "every fix ashore", || async {
            let t = track(&shore, everything).await;
            let n = t["features"].as_array().unwrap().len();
            n == fixes.len() + 1
        })
        .await;
        let t = track(&shore, everything).await;
        let f = t["features"].as_array().unwrap();
        let times: Vec<&str> = f[1..]
            .iter()
            .map(|p| p["properties"]["time"].as_str().unwrap())
            .collect();
        let mut distinct = times.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), fixes.len(), "{url}: a fix twice");

        for max in [12usize, 50, 300] {
            let t = track(&shore, &format!("max_points={max}")).await;
            let f = t["features"].as_array().unwrap();
            let line = &f[0]["geometry"];
            // The gap is a break: two lines, split exactly at it.
            assert_eq!(line["type"], "MultiLineString", "{url} {max}: {line}");
            let lines = line["coordinates"].as_array().unwrap();
            assert_eq!(lines.len(), 2, "{url} {max}");
            let points = &f[1..];
            assert!(
                points.len() <= max,
                "{url}: {} points for {max}",
                points.len()
            );
            let kept: usize = lines.iter().map(|l| l.as_array().unwrap().len()).sum();
            assert_eq!(kept, points.len());
            let before_gap = lines[0].as_array().unwrap();
            let after_gap = lines[1].as_array().unwrap();
            let at = |i: usize| [fixes[i].lon, fixes[i].lat];
            assert_eq!(coords(&before_gap[before_gap.len() - 1]), at(3600));
            assert_eq!(coords(&after_gap[0]), at(3601));
            // The first and last fix.
            assert_eq!(coords(&before_gap[0]), at(0));
            assert_eq!(coords(&after_gap[after_gap.len() - 1]), at(4601));
            // Each turn and both ends of the stop, within 30 m and 10 s.
            for turn in [1000usize, 2000, 2600] {
                let near = points.iter().any(|p| {
                    let t_ms = seaframe_shore::base::when::parse_user_ns(
                        p["properties"]["time"].as_str().unwrap(),
                    )
                    .unwrap()
                        / 1_000_000;
                    dist_m(coords(&p["geometry"]["coordinates"]), at(turn)) < 30.0
                        && (t_ms - fixes[turn].at_ms).abs() <= 10_000
                });
                assert!(near, "{url} {max}: nothing kept near the turn at {turn} s");
            }
        }
        // A bad budget is the caller's mistake.
        let (status, body) =
            get_json(shore.addr, "/api/v1/vessels/aurora/track?max_points=1").await;
        assert_eq!(status, 400);
        assert!(
            body["error"].as_str().unwrap().contains("max_points"),
            "{body}"
        );
        shore.stop().await.unwrap();
    }
}
