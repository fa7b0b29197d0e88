//! Video of a range through a real ffmpeg: the API streams a fragmented MP4
//! that ffprobe reads (H.264, yuv420p, the right length at the requested fps
//! or in real time), a client that hangs up stops ffmpeg, and `export`
//! writes the same to a file.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use seaframe_agent::adapters::store::Store;
use seaframe_agent::base::clock::{Clock, ClockSource};
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::gps::state::Gps;
use seaframe_agent::base::metrics::Metrics;
use seaframe_agent::services::api::{ApiState, serve};
use seaframe_testkit::require_binary;
use seaframe_wire::timestamp::Timestamp;
use seaframe_wire::{CameraId, VesselName};
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_764_000_000_000;

/// 40 frames of 160×120, 5 a second (8 s).
fn store_frames(dir: &std::path::Path) -> Arc<Store> {
    let store = Arc::new(Store::open(dir).unwrap());
    let mut tp = seaframe_agent::adapters::capture::testpattern::TestPattern::new(
        "bow".parse().unwrap(),
        160,
        120,
    );
    let frames: Vec<Frame> = (0..40u64)
        .map(|i| {
            let at = Timestamp::from_unix_millis(T0 + i as i64 * 200);
            let jpeg = Bytes::from(tp.render(at).unwrap());
            Frame::new(
                CameraId::parse("bow").unwrap(),
                i,
                at,
                ClockSource::System,
                160,
                120,
                jpeg,
            )
        })
        .collect();
    assert!(store.put_batch(&frames).iter().all(Result::is_ok));
    store
}

fn ffprobe(path: &std::path::Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The file of the `n`th stored frame (a valid JPEG to reuse).
fn store_path(dir: &tempfile::TempDir, n: usize) -> std::path::PathBuf {
    let mut files = common::jpeg_files(&dir.path().join("frames"));
    files.sort();
    dir.path().join("frames").join(&files[n])
}

fn ffmpeg_children() -> usize {
    let out = Command::new("pgrep")
        .args(["-f", "frag_keyframe"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_streams_an_mp4_and_a_hang_up_stops_ffmpeg() {
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_frames(dir.path());
    let extra_store = Arc::clone(&store);
    let state = ApiState::new(
        store,
        Arc::new(Metrics::default()),
        None,
        VesselName::parse("v").unwrap(),
        Clock::new(Arc::new(Gps::new(10))),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, state, stop.clone()));

    // Every frame at 10 fps: 40 frames, 4 s.
    let url = format!(
        "{base}/video?camera=bow&from={T0}&to={}&fps=10",
        T0 + 60_000
    );
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    let mp4 = resp.bytes().await.unwrap();
    assert_eq!(&mp4[4..8], b"ftyp");
    let path = dir.path().join("a.mp4");
    std::fs::write(&path, &mp4).unwrap();
    let probe = ffprobe(&path);
    let stream = &probe["streams"][0];
    assert_eq!(
        (stream["codec_name"].as_str(), stream["pix_fmt"].as_str()),
        (Some("h264"), Some("yuv420p"))
    );
    assert_eq!(stream["nb_read_frames"].as_str(), Some("40"), "{probe}");

    // A range without frames: 404 with the reason, no ffmpeg started.
    let url = format!("{base}/video?camera=bow&from={}&to={T0}", T0 - 60_000);
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.unwrap();
    assert!(body.contains("no frames of camera bow"), "{body}");

    // Real time: 8 s of frames at 10 fps.
    let url = format!("{base}/video?camera=bow&from={T0}&to={}", T0 + 60_000);
    std::fs::write(
        &path,
        reqwest::get(&url).await.unwrap().bytes().await.unwrap(),
    )
    .unwrap();
    let frames: u64 = ffprobe(&path)["streams"][0]["nb_read_frames"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (78..=81).contains(&frames),
        "{frames} frames for 7.8 s of real time at 10 fps"
    );

    // Bad input is a 400.
    for bad in [
        "camera=bow&from=1&to=0",
        "from=0&to=1",
        "camera=bow&from=0&to=1&fps=0",
    ] {
        assert_eq!(
            reqwest::get(format!("{base}/video?{bad}"))
                .await
                .unwrap()
                .status(),
            400,
            "{bad}"
        );
    }

    // A client that hangs up: ffmpeg goes away. Half an hour of real time
    // (18,000 video frames) takes ffmpeg far longer than the test waits.
    let far = Timestamp::from_unix_millis(T0 + 1_800_000);
    let jpeg = std::fs::read(store_path(&dir, 0)).unwrap();
    let last = Frame::new(
        CameraId::parse("bow").unwrap(),
        99,
        far,
        ClockSource::System,
        160,
        120,
        Bytes::from(jpeg),
    );
    assert!(extra_store.put_batch(&[last]).iter().all(Result::is_ok));
    let before = ffmpeg_children();
    let url = format!("{base}/video?camera=bow&from={T0}&to={}", T0 + 2_000_000);
    let mut resp = reqwest::get(&url).await.unwrap();
    let _first = resp.chunk().await.unwrap();
    assert_eq!(
        ffmpeg_children(),
        before + 1,
        "ffmpeg runs while the client reads"
    );
    drop(resp);
    common::wait_for("ffmpeg to be stopped", Duration::from_secs(3), || async {
        (ffmpeg_children() == before).then_some(())
    })
    .await;
    stop.cancel();
}

/// Runs `seaframe-agent export` on the frames of `store_frames` in `dir`
/// with `args` (`--camera`, `--from`, …) into `out`.
fn export(dir: &std::path::Path, args: &[&str], out: &std::path::Path) -> std::process::Output {
    drop(store_frames(dir));
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!("vessel = \"v\"\ndata_dir = \"{}\"\n", dir.display()),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_seaframe-agent"))
        .arg("export")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap()
}

#[test]
fn export_writes_the_range_to_a_file() {
    require_binary("ffmpeg", "ffmpeg").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bow.mp4");
    let (from, to) = (T0.to_string(), (T0 + 4000).to_string());
    let done = export(
        dir.path(),
        &[
            "--camera", "bow", "--fps", "5", "--from", &from, "--to", &to,
        ],
        &out,
    );
    assert!(done.status.success());
    let probe = ffprobe(&out);
    assert_eq!(
        probe["streams"][0]["nb_read_frames"].as_str(),
        Some("20"),
        "{probe}"
    );
}

#[test]
fn export_of_an_empty_range_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.mp4");
    let before = T0 - 3_600_000;
    let (from, to) = (before.to_string(), (before + 60_000).to_string());
    let done = export(
        dir.path(),
        &["--camera", "bow", "--from", &from, "--to", &to],
        &out,
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no frames of camera bow"), "{stderr}");
    assert!(!out.exists(), "no file for an empty range");
    assert!(!dir.path().join("empty.mp4.partial").exists());
}
