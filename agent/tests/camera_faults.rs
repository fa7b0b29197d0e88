//! Cameras that fail — garbage, a hang, a refused port — show a clear state
//! in `/api/v1/cameras` while the healthy camera beside them keeps storing.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::time::Duration;

use common::{camera, config, get_json, wait_for};
use seaframe_agent::app::Agent;
use seaframe_testkit::{HttpCamera, RedisServer, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_cameras_show_their_state_and_never_stop_the_others() {
    let redis = RedisServer::start().unwrap();
    let cam = HttpCamera::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = cam.url().trim_end_matches('/').to_owned();
    let refused = format!("http://127.0.0.1:{}/snapshot.jpg", free_port().unwrap());
    let cams = [
        camera("good", "testpattern", 10.0, 160, 120),
        camera("snap", &format!("{base}/snapshot.jpg"), 5.0, 640, 360),
        camera(
            "garbage",
            &format!("{base}/snapshot.jpg?fault=garbage"),
            5.0,
            640,
            360,
        ),
        camera(
            "hang",
            &format!("{base}/snapshot.jpg?fault=hang"),
            2.0,
            640,
            360,
        ),
        camera("refused", &refused, 5.0, 640, 360),
    ]
    .concat();
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();
    let url = format!("http://{}/api/v1/cameras", agent.api_addr());

    let states = wait_for(
        "every faulty camera retrying",
        Duration::from_secs(30),
        || async {
            let (status, body) = get_json(&url).await;
            assert_eq!(status, 200);
            let cams = body["cameras"].as_array()?.clone();
            let state = |id: &str| {
                cams.iter()
                    .find(|c| c["id"] == id)
                    .map(|c| c["state"].clone())
            };
            let all_bad = ["garbage", "hang", "refused"]
                .iter()
                .all(|id| state(id).is_some_and(|s| s["state"] == "retrying"));
            let good_ok = ["good", "snap"].iter().all(|id| {
                cams.iter()
                    .find(|c| c["id"] == *id)
                    .is_some_and(|c| c["state"]["state"] == "ok" && c["stored"].as_u64() > Some(2))
            });
            (all_bad && good_ok).then_some(cams)
        },
    )
    .await;
    let error = |id: &str| {
        states.iter().find(|c| c["id"] == id).unwrap()["state"]["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
    };
    assert!(error("garbage").contains("jpeg"), "{}", error("garbage"));
    assert!(error("hang").contains("timed out"), "{}", error("hang"));
    assert!(error("refused").contains("refused"), "{}", error("refused"));
    for c in &states {
        if ["garbage", "hang", "refused"].contains(&c["id"].as_str().unwrap()) {
            assert_eq!(c["stored"], 0, "{c}");
            assert!(c["capture_errors"].as_u64() >= Some(1), "{c}");
        }
    }
    agent.shutdown().await.unwrap();
}
