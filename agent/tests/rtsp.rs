//! `rtsp://` cameras against a real RTSP server (the test kit's camera on
//! GStreamer's RTSP server,
//! H.264): frames at the configured fps with plausible arrival times,
//! key frames only at the camera's key-frame rate (never a frame repeated),
//! recovery after the server restarts on the same port, a silent server
//! detected as stalled, wrong credentials shown as unauthorized (and never
//! printed), and no ffmpeg child left behind after shutdown.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{camera, config, get_json, wait_for};
use seaframe_agent::app::Agent;
use seaframe_testkit::{RedisServer, RtspCamera, require_binary};
use seaframe_wire::timestamp::Timestamp;
use serde_json::Value;

/// The tests decode video: one at a time on a small, busy machine, so that
/// the fps measured is the agent's, not the neighbours'.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// PIDs of running (not zombie) ffmpeg processes whose command line holds
/// `needle` (the test's unique port).
fn ffmpeg_pids(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_ffmpeg = args.first().is_some_and(|a| a.ends_with("ffmpeg"));
        if is_ffmpeg && args.iter().any(|a| a.contains(needle)) {
            pids.push(pid);
        }
    }
    pids
}

async fn cameras(agent: &Agent) -> (String, Vec<Value>) {
    let url = format!("http://{}/api/v1/cameras", agent.api_addr());
    let (status, body) = get_json(&url).await;
    assert_eq!(status, 200);
    (
        body.to_string(),
        body["cameras"].as_array().unwrap().clone(),
    )
}

async fn camera_json(agent: &Agent, id: &str) -> Value {
    let (_, cams) = cameras(agent).await;
    cams.into_iter().find(|c| c["id"] == id).unwrap()
}

/// Shuts the agent down and checks that no ffmpeg for `port` survives it.
async fn shutdown_without_leaks(agent: Agent, port: u16) {
    agent.shutdown().await.unwrap();
    let needle = format!("127.0.0.1:{port}/");
    wait_for(
        "every ffmpeg child gone after shutdown",
        Duration::from_secs(5),
        || async { ffmpeg_pids(&needle).is_empty().then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_arrive_at_the_configured_fps_with_plausible_times() {
    let _one = SERIAL.lock().await;
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let redis = RedisServer::start().unwrap();
    let server = RtspCamera::start(0, &["--fps", "10", "--size", "320x180"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cams = camera("deck", server.url(), 5.0, 320, 180);
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();

    let first = wait_for(
        "the first stored frame",
        Duration::from_secs(30),
        || async {
            let c = camera_json(&agent, "deck").await;
            (c["stored"].as_u64() >= Some(1)).then_some(c)
        },
    )
    .await;
    assert_eq!(first["state"]["state"], "ok", "{first}");
    // `decode` is not set: `auto` starts on key frames, one a second here,
    // sees that they cannot give 5 fps and turns to every frame.
    let needle = format!("127.0.0.1:{}/", server.port());
    let pids = wait_for(
        "auto decoding to settle on every frame",
        Duration::from_secs(20),
        || async {
            let pids = ffmpeg_pids(&needle);
            let settled = pids.len() == 1 && !cmdline(pids[0]).iter().any(|a| a == "-skip_frame");
            settled.then_some(pids)
        },
    )
    .await;
    let settled = camera_json(&agent, "deck").await["captured"]
        .as_u64()
        .unwrap();
    wait_for(
        "frames from the new ffmpeg",
        Duration::from_secs(20),
        || async {
            let c = camera_json(&agent, "deck").await;
            (c["captured"].as_u64() >= Some(settled + 3)).then_some(())
        },
    )
    .await;

    // The rate: how long twenty more frames take (4 s at 5 fps).
    let from = Timestamp::now();
    let c0 = camera_json(&agent, "deck").await["captured"]
        .as_u64()
        .unwrap();
    let t0 = Instant::now();
    let c1 = wait_for("twenty more frames", Duration::from_secs(12), || async {
        let c = camera_json(&agent, "deck").await["captured"].as_u64()?;
        (c >= c0 + 20).then_some(c)
    })
    .await;
    let elapsed_s = t0.elapsed().as_secs_f64();
    let to = Timestamp::now();
    let fps = (c1 - c0) as f64 / elapsed_s;
    assert!((3.5..=6.5).contains(&fps), "{fps:.2} fps, wanted 5 ± 30 %");

    // Stored frames of the window: increasing times, about 200 ms apart.
    let frames = wait_for(
        "the window's frames stored",
        Duration::from_secs(10),
        || async {
            let url = format!(
                "http://{}/api/v1/frames?camera=deck&limit=1000&from={}&to={}",
                agent.api_addr(),
                from.to_rfc3339(),
                to.to_rfc3339()
            );
            let (_, body) = get_json(&url).await;
            let frames = body["frames"].as_array()?.clone();
            (frames.len() as u64 + 2 >= c1 - c0).then_some(frames)
        },
    )
    .await;
    let times: Vec<i64> = frames
        .iter()
        .map(|f| {
            Timestamp::parse_user(f["ts"].as_str().unwrap())
                .unwrap()
                .unix_nanos()
        })
        .collect();
    assert!(times.len() >= 14, "{} frames", times.len());
    for pair in times.windows(2) {
        let gap_ms = (pair[1] - pair[0]) / 1_000_000;
        assert!((1..=1000).contains(&gap_ms), "gap {gap_ms} ms in {times:?}");
    }
    let span_s = (times[times.len() - 1] - times[0]) as f64 / 1e9;
    let mean_gap_s = span_s / (times.len() - 1) as f64;
    assert!(
        (0.15..=0.29).contains(&mean_gap_s),
        "mean gap {mean_gap_s:.3}s"
    );
    eprintln!(
        "measured {fps:.2} fps; {} frames stored, mean gap {mean_gap_s:.3} s",
        times.len()
    );
    assert_eq!(ffmpeg_pids(&needle), pids, "ffmpeg was not restarted");
    shutdown_without_leaks(agent, server.port()).await;
}

/// The command line of a running process, split at its NULs.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframes_only_give_the_key_frame_rate_never_repeated_frames() {
    let _one = SERIAL.lock().await;
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let redis = RedisServer::start().unwrap();
    // 10 fps with a key frame every 10 frames: one a second.
    let server = RtspCamera::start(0, &["--fps", "10", "--size", "320x180"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Asked for 5 fps, but only key frames decoded: at most 1 fps, and
    // no frame repeated to make up the rate.
    let cams = camera("keel", server.url(), 5.0, 320, 180) + "decode = \"keyframes\"\n";
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();
    wait_for(
        "the first stored frame",
        Duration::from_secs(30),
        || async {
            let c = camera_json(&agent, "keel").await;
            (c["stored"].as_u64() >= Some(1)).then_some(c)
        },
    )
    .await;
    let needle = format!("127.0.0.1:{}/", server.port());
    let pids = ffmpeg_pids(&needle);
    assert_eq!(pids.len(), 1, "{pids:?}");
    let args = cmdline(pids[0]);
    assert!(
        args.windows(2)
            .any(|w| w[0] == "-skip_frame" && w[1] == "nokey"),
        "{args:?}"
    );

    // The rate: how long six more frames take (at 5 fps, 1.2 s; at the
    // key-frame rate, 6 s).
    let c0 = camera_json(&agent, "keel").await["captured"]
        .as_u64()
        .unwrap();
    let t0 = Instant::now();
    wait_for("six more frames", Duration::from_secs(15), || async {
        let c = camera_json(&agent, "keel").await;
        (c["captured"].as_u64() >= Some(c0 + 6)).then_some(())
    })
    .await;
    let fps = 6.0 / t0.elapsed().as_secs_f64();
    assert!((0.6..=1.4).contains(&fps), "{fps:.2} fps, wanted 1 ± 40 %");
    shutdown_without_leaks(agent, server.port()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_keeps_to_key_frames_where_they_keep_up_with_the_fps() {
    let _one = SERIAL.lock().await;
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let redis = RedisServer::start().unwrap();
    // A key frame a second, and 1 fps asked for: key frames are enough.
    let server = RtspCamera::start(0, &["--fps", "10", "--size", "320x180"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cams = camera("aft", server.url(), 1.0, 320, 180);
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();
    let needle = format!("127.0.0.1:{}/", server.port());
    let first = wait_for(
        "the first stored frame",
        Duration::from_secs(30),
        || async {
            let c = camera_json(&agent, "aft").await;
            (c["stored"].as_u64() >= Some(1)).then(|| ffmpeg_pids(&needle))
        },
    )
    .await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(cmdline(first[0]).iter().any(|a| a == "-skip_frame"));
    // Five more frames: four gaps, each of which could have turned it.
    wait_for("five more frames", Duration::from_secs(30), || async {
        let c = camera_json(&agent, "aft").await;
        (c["stored"].as_u64() >= Some(6)).then_some(())
    })
    .await;
    assert_eq!(
        ffmpeg_pids(&needle),
        first,
        "the same ffmpeg, on key frames"
    );
    shutdown_without_leaks(agent, server.port()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_picked_up_again_by_itself() {
    let _one = SERIAL.lock().await;
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let redis = RedisServer::start().unwrap();
    let mut server = RtspCamera::start(0, &["--fps", "10", "--size", "320x180"]).unwrap();
    let port = server.port();
    let dir = tempfile::tempdir().unwrap();
    let cams = camera("mast", server.url(), 5.0, 320, 180);
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();
    wait_for(
        "frames before the outage",
        Duration::from_secs(30),
        || async {
            let c = camera_json(&agent, "mast").await;
            (c["stored"].as_u64() >= Some(3)).then_some(())
        },
    )
    .await;

    server.kill();
    let down = wait_for(
        "the camera noticing the outage",
        Duration::from_secs(20),
        || async {
            let c = camera_json(&agent, "mast").await;
            (c["state"]["state"] == "retrying").then_some(c)
        },
    )
    .await;
    let captured_down = down["captured"].as_u64().unwrap();

    let server = RtspCamera::start(port, &["--fps", "10", "--size", "320x180"]).unwrap();
    assert_eq!(server.port(), port);
    wait_for(
        "frames after the restart",
        Duration::from_secs(60),
        || async {
            let c = camera_json(&agent, "mast").await;
            (c["state"]["state"] == "ok" && c["captured"].as_u64() >= Some(captured_down + 5))
                .then_some(())
        },
    )
    .await;
    assert!(ffmpeg_pids(&format!("127.0.0.1:{port}/")).len() <= 1);
    shutdown_without_leaks(agent, port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_a_stall_that_is_retried() {
    let _one = SERIAL.lock().await;
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let redis = RedisServer::start().unwrap();
    // Accepts connections, holds them, never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cams = camera(
        "hold",
        &format!("rtsp://127.0.0.1:{port}/test"),
        5.0,
        320,
        180,
    );
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();

    let state = wait_for("the stall detected", Duration::from_secs(30), || async {
        let c = camera_json(&agent, "hold").await;
        (c["state"]["state"] == "retrying").then_some(c["state"].clone())
    })
    .await;
    let error = state["error"].as_str().unwrap();
    assert!(error.contains("stalled"), "{error}");
    wait_for("a second attempt", Duration::from_secs(30), || async {
        (accepted.load(Ordering::Relaxed) >= 2).then_some(())
    })
    .await;
    assert!(ffmpeg_pids(&format!("127.0.0.1:{port}/")).len() <= 1);
    assert_eq!(camera_json(&agent, "hold").await["stored"], 0);
    shutdown_without_leaks(agent, port).await;
    silent.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_unauthorized_and_never_shown() {
    let _one = SERIAL.lock().await;
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let redis = RedisServer::start().unwrap();
    let server = RtspCamera::start(
        0,
        &[
            "--fps",
            "10",
            "--size",
            "320x180",
            "--user",
            "cam",
            "--password",
            "hunter2",
        ],
    )
    .unwrap();
    let port = server.port();
    let good = format!("rtsp://cam:hunter2@127.0.0.1:{port}/test");
    let bad = format!("rtsp://cam:wrongpass7@127.0.0.1:{port}/test");
    let dir = tempfile::tempdir().unwrap();
    let cams = [
        camera("good", &good, 5.0, 320, 180),
        camera("bad", &bad, 5.0, 320, 180),
    ]
    .concat();
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();

    let (body, cams) = wait_for(
        "good storing, bad refused",
        Duration::from_secs(30),
        || async {
            let (body, cams) = cameras(&agent).await;
            let find = |id: &str| cams.iter().find(|c| c["id"] == id).cloned();
            let good_ok = find("good").is_some_and(|c| c["stored"].as_u64() >= Some(2));
            let bad_refused = find("bad").is_some_and(|c| c["state"]["state"] == "retrying");
            (good_ok && bad_refused).then_some((body, cams))
        },
    )
    .await;
    let bad_state = &cams.iter().find(|c| c["id"] == "bad").unwrap()["state"];
    let error = bad_state["error"].as_str().unwrap();
    assert!(error.contains("unauthorized"), "{error}");
    assert!(
        bad_state["retry_in_ms"].as_u64() >= Some(5000),
        "no tight loop on wrong credentials: {bad_state}"
    );
    for secret in ["hunter2", "wrongpass7"] {
        assert!(!body.contains(secret), "{body}");
    }
    let (_, status) = get_json(&format!("http://{}/api/v1/status", agent.api_addr())).await;
    assert!(!status.to_string().contains("wrongpass7"));
    shutdown_without_leaks(agent, port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_streams_are_decoded_too() {
    let _one = SERIAL.lock().await;
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let redis = RedisServer::start().unwrap();
    let server = RtspCamera::start(0, &["--fps", "10", "--size", "320x180"]).unwrap();
    let url = server.url().replace("/test", "/h265");
    let dir = tempfile::tempdir().unwrap();
    let cams = camera("aft", &url, 5.0, 320, 180);
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();
    let c = wait_for("H.265 frames stored", Duration::from_secs(30), || async {
        let c = camera_json(&agent, "aft").await;
        (c["stored"].as_u64() >= Some(3)).then_some(c)
    })
    .await;
    assert_eq!(c["state"]["state"], "ok", "{c}");
    shutdown_without_leaks(agent, server.port()).await;
}
