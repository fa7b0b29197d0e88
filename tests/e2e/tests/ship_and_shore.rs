//! Ship and shore together for a minute: an agent with two test-pattern
//! cameras and a replayed GPS track, its own Redis, uplinking through a real
//! Mosquitto to a shore; every camera-second's thumbnail indexed ashore
//! once, with the on-board frame's time and position.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::collections::BTreeSet;
use std::time::Duration;

mod common;

use common::{agent_config, get, start_shore, unix_ms};
use seaframe_agent::app::Agent;
use seaframe_testkit::{MosquittoServer, wait_for};
use serde_json::Value;

/// Every thumbnail of `camera` ashore, following the cursor.
async fn shore_thumbs(base: &str, camera: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => {
                format!("{base}/vessels/ship-one/thumbs?camera={camera}&limit=50&cursor={c}")
            }
            None => format!("{base}/vessels/ship-one/thumbs?camera={camera}&limit=50"),
        };
        let page = get(&url).await;
        out.extend(page["thumbs"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_two_cameras_arrives_ashore_with_times_and_positions() {
    let broker = MosquittoServer::start().unwrap();
    let shore_dir = tempfile::tempdir().unwrap();
    let shore = start_shore(&broker.url(), shore_dir.path(), "e2e-shore", "").await;
    let shore_api = format!("http://{}/api/v1", shore.addr);

    let ship_dir = tempfile::tempdir().unwrap();
    let cfg = agent_config(
        "ship-one",
        ship_dir.path(),
        &broker.url(),
        r#"[[cameras]]
id = "bow"
source = "testpattern"
fps = 4.0
width = 640
height = 360
[[cameras]]
id = "mast"
source = "testpattern"
fps = 2.0
width = 320
height = 240"#,
    );
    let agent = Agent::start(cfg).await.unwrap();
    let ship_api = format!("http://{}/api/v1", agent.api_addr());

    // A minute at sea, watched from shore.
    wait_for(
        "60 thumbnails of each camera ashore",
        Duration::from_secs(120),
        || async {
            let vessels = get(&format!("{shore_api}/vessels")).await;
            let v = vessels["vessels"].as_array()?.first()?.clone();
            let bow = shore_thumbs(&shore_api, "bow").await.len();
            let mast = shore_thumbs(&shore_api, "mast").await.len();
            (v["name"] == "ship-one" && bow >= 60 && mast >= 60).then_some(())
        },
    )
    .await;
    agent.stop_capture();
    // Every second in which a camera stored frames has its thumbnail
    // ashore, once — but the last second or two, which the thumbnailer
    // leaves until a newer frame is stored (none will be).
    for camera in ["bow", "mast"] {
        let on_board = seconds_on_board(&ship_api, camera).await;
        let tail = on_board.last().copied().unwrap_or(0) - 2;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let list = loop {
            let list = shore_thumbs(&shore_api, camera).await;
            let ashore: BTreeSet<i64> = list
                .iter()
                .map(|t| unix_ms(t["ts"].as_str().unwrap()) / 1000)
                .collect();
            let missing: Vec<i64> = on_board
                .iter()
                .copied()
                .filter(|s| *s < tail && !ashore.contains(s))
                .collect();
            if missing.is_empty() {
                break list;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{camera}: seconds on board without a thumbnail ashore: {missing:?} (on board {}..={})",
                on_board[0],
                tail + 2
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let secs: Vec<i64> = list
            .iter()
            .map(|t| unix_ms(t["ts"].as_str().unwrap()) / 1000)
            .collect();
        let distinct: BTreeSet<i64> = secs.iter().copied().collect();
        assert_eq!(distinct.len(), secs.len(), "{camera}: a second twice");
        assert!(distinct.len() >= 60, "{camera}: {} seconds", distinct.len());
        assert!(
            distinct.iter().all(|s| on_board.contains(s)),
            "{camera}: a thumbnail of no frame"
        );
        // The time and position of the frame on board.
        for t in &list {
            let ms = unix_ms(t["ts"].as_str().unwrap());
            let page = get(&format!(
                "{ship_api}/frames?camera={camera}&from={ms}&to={}",
                ms + 1
            ))
            .await;
            let frame = page["frames"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["ts"] == t["ts"])
                .unwrap_or_else(|| panic!("{camera}: no frame on board at {}", t["ts"]));
            for key in ["lat", "lon"] {
                match (frame[key].as_f64(), t[key].as_f64()) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() < 1e-9, "{camera} {key}: {a} vs {b}")
                    }
                    (a, b) => assert_eq!(a, b, "{camera} {key}"),
                }
            }
        }
    }
    // The shore saw the ship online and where it is.
    let vessels = get(&format!("{shore_api}/vessels")).await;
    let v = &vessels["vessels"][0];
    assert_eq!(v["online"], true, "{v}");
    assert!(v["last_position"]["lat"].is_number(), "{v}");
    agent.shutdown().await.unwrap();
    wait_for(
        "the ship offline ashore",
        Duration::from_secs(20),
        || async {
            let vessels = get(&format!("{shore_api}/vessels")).await;
            (vessels["vessels"][0]["online"] == false).then_some(())
        },
    )
    .await;
    shore.stop().await.unwrap();
}

/// The seconds (Unix) in which `camera` has frames on board.
async fn seconds_on_board(ship_api: &str, camera: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut from = 0i64;
    loop {
        let page = get(&format!(
            "{ship_api}/frames/per-second?camera={camera}&from={from}&to=99999999999999&limit=1000"
        ))
        .await;
        out.extend(
            page["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| unix_ms(f["ts"].as_str().unwrap()) / 1000),
        );
        match page["next_from"].as_str() {
            Some(next) => from = next.parse().unwrap(),
            None => return out,
        }
    }
}
