//! The board's clock steps back (NTP correcting it by seconds) while
//! cameras capture: frames then carry earlier times than frames before
//! them, yet no file is overwritten, no row is lost, every frame is stored
//! once, and queries still come back in capture-time order.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{camera, config, frame_time, frames_in, jpeg_files, wait_for};
use seaframe_agent::app::Agent;
use seaframe_wire::timestamp::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_stepping_back_loses_and_overwrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(
        dir.path(),
        None,
        &camera("bow", "testpattern", 20.0, 160, 120),
        "",
    ))
    .await
    .unwrap();
    let cam = agent.metrics().cameras()[0].clone();
    let stored = |n: u64| {
        let cam = cam.clone();
        async move { (cam.stored.load(Ordering::Relaxed) >= n).then_some(()) }
    };
    wait_for("frames before the step", Duration::from_secs(20), || {
        stored(20)
    })
    .await;
    // Three seconds back: the next minute of frames re-uses seconds, and
    // at 20 fps their names would collide but for the sequence number.
    agent.step_clock(-3_000_000_000);
    let before = cam.stored.load(Ordering::Relaxed);
    wait_for("frames after the step", Duration::from_secs(20), || {
        stored(before + 80)
    })
    .await;
    let base = format!("http://{}/api/v1", agent.api_addr());
    agent.stop_capture();
    agent.shutdown().await.unwrap();

    let captured = cam.captured.load(Ordering::Relaxed);
    let stored = cam.stored.load(Ordering::Relaxed);
    assert_eq!(stored, captured, "every frame captured is stored");
    let files = jpeg_files(&dir.path().join("frames"));
    assert_eq!(files.len() as u64, stored, "no file overwritten");

    // Queried back (the store opened anew): every frame once, by time.
    let agent = Agent::start(config(dir.path(), None, "", ""))
        .await
        .unwrap();
    let base_again = format!("http://{}/api/v1", agent.api_addr());
    assert_ne!(base, base_again);
    let frames = frames_in(&base_again, "bow", 0, 9_999_999_999_999).await;
    let times: Vec<Timestamp> = frames.iter().map(frame_time).collect();
    let ids: Vec<i64> = frames.iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(times.len() as u64, stored, "every row, once");
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "frames listed in capture-time order"
    );
    // The step happened: rows stored after it sort among older ones.
    assert!(
        ids.windows(2).any(|w| w[0] > w[1]),
        "no frame was stored with a time before an earlier frame's"
    );
    agent.shutdown().await.unwrap();
}
