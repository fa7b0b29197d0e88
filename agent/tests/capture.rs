//! Camera sources against real servers: the test kit's HTTP camera (snapshot
//! and MJPEG, with its faults, and Digest nonces going stale mid-run),
//! ffmpeg's own MJPEG server, a folder of JPEGs, and the test pattern's pace.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::wait_for;
use seaframe_agent::adapters::capture::numbering::Numbering;
use seaframe_agent::base::config::CameraConfig;
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::handoff::Handoff;
use seaframe_agent::base::jpeg;
use seaframe_agent::base::metrics::{CameraMetrics, CameraState, Metrics};
use seaframe_agent::services::capture::Camera;
use seaframe_testkit::{DigestOptions, FfmpegMjpegServer, HttpCamera, HttpCameraOptions};
use tokio_util::sync::CancellationToken;

struct Running {
    handoff: Handoff,
    metrics: Arc<CameraMetrics>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start(id: &str, source: &str, fps: f64) -> Running {
    let text =
        format!("id = \"{id}\"\nsource = \"{source}\"\nfps = {fps}\nwidth = 320\nheight = 240\n");
    let cfg: CameraConfig = toml::from_str(&text).unwrap();
    let all = Arc::new(Metrics::default());
    let metrics = all.register_camera(&cfg.id, fps);
    let handoff = Handoff::new(1000, all);
    let stop = CancellationToken::new();
    let clock = seaframe_agent::base::clock::Clock::new(Arc::new(
        seaframe_agent::base::gps::state::Gps::new(10),
    ));
    let numbering = Numbering::starting_at(cfg.id.clone(), 7);
    let camera = Camera::new(cfg, handoff.clone(), Arc::clone(&metrics), clock, numbering);
    let task = tokio::spawn(camera.run(stop.clone()));
    Running {
        handoff,
        metrics,
        stop,
        task,
    }
}

impl Running {
    async fn frames(&self, n: usize) -> Vec<Frame> {
        let mut got = Vec::new();
        while got.len() < n {
            let batch = tokio::time::timeout(
                Duration::from_secs(15),
                self.handoff.pop_batch(n - got.len()),
            )
            .await
            .expect("frames within 15 s");
            got.extend(batch);
        }
        got
    }

    async fn state_error(&self) -> String {
        wait_for(
            "the camera to report an error",
            Duration::from_secs(20),
            || async {
                match self.metrics.state() {
                    CameraState::Retrying { error, .. } => Some(error),
                    _ => None,
                }
            },
        )
        .await
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
        assert_eq!(self.metrics.state(), CameraState::Stopped);
    }
}

fn assert_good(frames: &[Frame], first_seq: u64) {
    for (i, f) in frames.iter().enumerate() {
        let info = jpeg::inspect(&f.jpeg).unwrap();
        assert_eq!(
            (info.width, info.height, info.len),
            (f.width, f.height, f.jpeg.len())
        );
        assert_eq!(f.seq, first_seq + i as u64);
    }
    assert!(
        frames
            .windows(2)
            .all(|w| w[0].captured_at < w[1].captured_at)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testpattern_keeps_its_pace() {
    let cam = start("tp", "testpattern", 20.0);
    let t0 = std::time::Instant::now();
    let frames = cam.frames(21).await;
    let elapsed = t0.elapsed();
    assert_good(&frames, 7);
    assert_eq!((frames[0].width, frames[0].height), (320, 240));
    // 21 frames at 20 fps: the first at once, then 20 periods of 50 ms.
    assert!(
        elapsed >= Duration::from_millis(950),
        "{elapsed:?}: faster than 20 fps"
    );
    assert!(
        elapsed < Duration::from_secs(6),
        "{elapsed:?}: far slower than 20 fps"
    );
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_snapshots_and_their_faults() {
    let server = HttpCamera::start().unwrap();
    let base = server.url().trim_end_matches('/');
    let good = start("snap", &format!("{base}/snapshot.jpg"), 5.0);
    let frames = good.frames(3).await;
    assert_good(&frames, 7);
    assert_eq!((frames[0].width, frames[0].height), (640, 360));
    good.stop().await;

    for (fault, needle) in [
        ("garbage", "not a jpeg"),
        ("truncated", "not a jpeg"),
        ("empty", "not a jpeg"),
        ("500", "http 500"),
        ("hang", "timed out"),
    ] {
        let cam = start("bad", &format!("{base}/snapshot.jpg?fault={fault}"), 5.0);
        let error = cam.state_error().await.to_lowercase();
        assert!(error.contains(needle), "{fault}: {error}");
        assert!(cam.handoff.is_empty(), "{fault}: a bad frame was pushed");
        assert!(cam.metrics.capture_errors.load(Ordering::Relaxed) >= 1);
        cam.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_nonces_going_stale_mid_run_cost_no_tick_and_no_failure() {
    // Each nonce answers 3 requests, then is refused: with `stale=true`, and
    // as some cameras do, with a bare new challenge.
    for says_stale in [true, false] {
        let server = HttpCamera::start_with(HttpCameraOptions {
            width: 320,
            height: 240,
            credentials: Some(("op".into(), "pa55 word".into())),
            digest: Some(DigestOptions {
                algorithm: "SHA-256-sess".into(),
                nonce_uses: 3,
                says_stale,
            }),
            ..HttpCameraOptions::default()
        })
        .unwrap();
        let base = server.url().replace("http://", "http://op:pa55%20word@");
        let cam = start("dg", &format!("{base}snapshot.jpg"), 10.0);
        let frames = cam.frames(12).await;
        assert_good(&frames, 7);
        let counts = server.auth_counts();
        // 12 frames: the first challenged, then a used-up nonce after every 3.
        assert!(counts.stale >= 3, "{says_stale}: {counts:?}");
        assert_eq!(counts.challenged, 1, "{says_stale}: {counts:?}");
        assert_eq!(
            (counts.refused, counts.basic),
            (0, 0),
            "{says_stale}: {counts:?}"
        );
        assert_eq!(cam.metrics.capture_errors.load(Ordering::Relaxed), 0);
        assert_eq!(cam.metrics.state(), CameraState::Ok);
        cam.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_camera_says_so() {
    let port = seaframe_testkit::free_port().unwrap();
    let cam = start("off", &format!("http://127.0.0.1:{port}/snapshot.jpg"), 5.0);
    assert_eq!(cam.state_error().await, "connection refused");
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mjpeg_streams_corrupt_parts_and_stalls() {
    let server = HttpCamera::start().unwrap();
    let base = server.url().trim_end_matches('/');

    let cam = start("mj", &format!("mjpeg:{base}/stream.mjpg"), 5.0);
    assert_good(&cam.frames(5).await, 7);
    cam.stop().await;

    // Every 3rd part is a truncated JPEG: counted, and the good ones still come.
    let cam = start(
        "mj",
        &format!("mjpeg:{base}/stream.mjpg?corrupt_every=3"),
        10.0,
    );
    let frames = cam.frames(6).await;
    assert!(frames.iter().all(|f| jpeg::inspect(&f.jpeg).is_ok()));
    wait_for(
        "a corrupt part counted",
        Duration::from_secs(10),
        || async { (cam.metrics.capture_errors.load(Ordering::Relaxed) >= 1).then_some(()) },
    )
    .await;
    cam.stop().await;

    // 5 parts, then silence: detected as stalled, and reconnected.
    let cam = start(
        "mj",
        &format!("mjpeg:{base}/stream.mjpg?stall_after=5"),
        10.0,
    );
    let error = cam.state_error().await;
    assert!(error.contains("stalled"), "{error}");
    let before = cam.metrics.captured.load(Ordering::Relaxed);
    wait_for(
        "frames again after reconnecting",
        Duration::from_secs(30),
        || async { (cam.metrics.captured.load(Ordering::Relaxed) > before).then_some(()) },
    )
    .await;
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_loops_over_a_folder_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut tp = seaframe_agent::adapters::capture::testpattern::TestPattern::new(
        "x".parse().unwrap(),
        64,
        48,
    );
    let mut originals = Vec::new();
    for (i, name) in ["b.jpg", "a.jpg", "c.JPEG"].iter().enumerate() {
        let jpeg = tp
            .render(seaframe_wire::timestamp::Timestamp::from_unix_millis(
                i as i64 * 1000,
            ))
            .unwrap();
        std::fs::write(dir.path().join(name), &jpeg).unwrap();
        originals.push((name.to_string(), jpeg));
    }
    std::fs::write(dir.path().join("notes.txt"), b"not a frame").unwrap();
    originals.sort();
    let cam = start("rp", &format!("replay:{}", dir.path().display()), 50.0);
    let frames = cam.frames(6).await;
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.jpeg.as_ref(), originals[i % 3].1.as_slice(), "frame {i}");
    }
    cam.stop().await;

    let empty = tempfile::tempdir().unwrap();
    let cam = start("rp", &format!("replay:{}", empty.path().display()), 5.0);
    assert!(cam.state_error().await.contains("no JPEGs"));
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mjpeg_from_ffmpegs_own_server_chunked_with_lowercase_headers() {
    let server = FfmpegMjpegServer::start(320, 180, 10, Duration::from_secs(30)).unwrap();
    let cam = start("ff", &format!("mjpeg:{}", server.url()), 5.0);
    let frames = cam.frames(4).await;
    assert_good(&frames, 7);
    assert_eq!((frames[0].width, frames[0].height), (320, 180));
    cam.stop().await;
}
