//! `seaframe-agent discover`, the real binary: against the test kit's fake
//! ONVIF devices (good, malformed GetProfiles, a hang half-way, a garbled
//! ProbeMatch, WS-Security digest required, only Media2 with H.265
//! profiles) and against the real simulated
//! camera (ipycam in a private network namespace, by the test kit), by
//! multicast and unicast probe, with and without credentials. What it
//! prints must load with the agent's own config loader.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::process::Output;
use std::time::{Duration, Instant};

use seaframe_agent::base::config::{CameraSource, Config};
use seaframe_testkit::{FakeOnvifDevice, OnvifBehaviour, run_in_onvif_sim};

const AGENT: &str = env!("CARGO_BIN_EXE_seaframe-agent");

/// Runs `discover` with `args`; its output and how long it took.
async fn discover(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(AGENT)
            .arg("discover")
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("discover ends by itself")
    .unwrap();
    (out, started.elapsed())
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cameras that `text` defines, loaded as the agent loads its config.
fn load(text: &str) -> Config {
    let config = format!("vessel = \"test\"\n{text}");
    Config::from_toml(&config, "discover output").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The paragraph of the report about the device at `xaddr`.
fn block<'a>(text: &'a str, xaddr: &str) -> &'a str {
    text.split("\n\n")
        .find(|b| b.contains(&format!(" at {xaddr} ")))
        .unwrap_or_else(|| panic!("no paragraph about {xaddr} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_device_found_by_unicast_probe_gives_an_entry_that_loads() {
    let cam = FakeOnvifDevice::start("Deck Cam", OnvifBehaviour::Good)
        .await
        .unwrap();
    let host = cam.discovery_addr().to_string();
    let (out, took) = discover(&["--no-multicast", "--host", &host, "--timeout", "1s"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // 1 s listening, the questions, start-up (slack for a busy machine).
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let cfg = load(&text);
    assert_eq!(cfg.cameras.len(), 1, "{text}");
    assert_eq!(cfg.cameras[0].id.as_str(), "deck-cam");
    let CameraSource::Rtsp { url } = &cfg.cameras[0].source else {
        panic!("RTSP preferred:\n{text}");
    };
    assert_eq!(url.as_str(), cam.stream_uri());
    let b = block(&text, &cam.xaddr());
    assert!(b.contains(&format!("found by unicast {host}")), "{b}");
    assert!(
        b.contains(&format!(
            "snapshot instead: source = \"{}\"",
            cam.snapshot_uri()
        )),
        "{b}"
    );
    assert!(b.contains("profile main (Main, H264, 1920x1080)"), "{b}");
    assert!(b.contains("other profiles: sub (Sub)"), "{b}");
    assert!(
        !b.contains("Media2"),
        "a device with Media is asked Media: {b}"
    );
    assert!(
        text.starts_with("# 1 ONVIF device(s) answered within 1s"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media2_only_device_with_h265_profiles_is_found() {
    let cam = FakeOnvifDevice::start("Bow H265", OnvifBehaviour::Media2Only)
        .await
        .unwrap();
    let host = cam.discovery_addr().to_string();
    let xaddr = cam.xaddr();
    for args in [
        vec!["--no-multicast", "--host", host.as_str(), "--timeout", "1s"],
        vec![
            "--no-multicast",
            "--xaddr",
            xaddr.as_str(),
            "--timeout",
            "1s",
        ],
    ] {
        let (out, _) = discover(&args).await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        let cfg = load(&text);
        assert_eq!(cfg.cameras.len(), 1, "{text}");
        let CameraSource::Rtsp { url } = &cfg.cameras[0].source else {
            panic!("RTSP from Media2's GetStreamUri:\n{text}");
        };
        assert_eq!(url.as_str(), cam.stream_uri());
        let b = block(&text, &cam.xaddr());
        assert!(b.contains("# media service: Media2 (ONVIF ver20)"), "{b}");
        assert!(b.contains("profile main (Main, H265, 2560x1440)"), "{b}");
        assert!(
            b.contains("other profiles: sub (Sub, H265, 640x360)"),
            "{b}"
        );
        assert!(
            b.contains(&format!(
                "snapshot instead: source = \"{}\"",
                cam.snapshot_uri()
            )),
            "{b}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_slow_devices_are_reported_not_fatal_and_time_is_bounded() {
    let good = FakeOnvifDevice::start("Good", OnvifBehaviour::Good)
        .await
        .unwrap();
    let malformed = FakeOnvifDevice::start("Malformed", OnvifBehaviour::MalformedProfiles)
        .await
        .unwrap();
    let hangs = FakeOnvifDevice::start("Hangs", OnvifBehaviour::HangOnStreamUri)
        .await
        .unwrap();
    let garbled = FakeOnvifDevice::start("Garbled", OnvifBehaviour::GarbledProbeMatch)
        .await
        .unwrap();
    let hosts: Vec<String> = [&good, &malformed, &hangs, &garbled]
        .iter()
        .map(|d| d.discovery_addr().to_string())
        .collect();
    let mut args = vec!["--no-multicast", "--timeout", "1s"];
    for h in &hosts {
        args.extend(["--host", h.as_str()]);
    }
    let (out, took) = discover(&args).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // 1 s listening + 1 s for the devices' questions, plus start-up.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(7),
        "took {took:?}:\n{text}"
    );
    assert!(text.starts_with("# 3 ONVIF device(s) answered"), "{text}");
    let cfg = load(&text);
    assert_eq!(cfg.cameras.len(), 1, "only the good one:\n{text}");
    assert_eq!(cfg.cameras[0].id.as_str(), "good");
    let b = block(&text, &malformed.xaddr());
    assert!(b.contains("bad reply to GetProfiles: not XML"), "{b}");
    let b = block(&text, &hangs.xaddr());
    assert!(b.contains("timed out (GetStreamUri)"), "{b}");
    assert!(
        text.contains(&format!("note: {} sent a bad reply to the probe", hosts[3])),
        "{text}"
    );
    assert_eq!(
        text.matches("sent a bad reply to the probe").count(),
        1,
        "once, though the probe is sent twice:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_security_digest_is_sent_and_its_absence_reported() {
    let cam = FakeOnvifDevice::start(
        "Mast",
        OnvifBehaviour::Digest {
            user: "admin".into(),
            password: "s3cr@t pass".into(),
            clock_skew_s: 0,
        },
    )
    .await
    .unwrap();
    let host = cam.discovery_addr().to_string();
    let base = ["--no-multicast", "--host", host.as_str(), "--timeout", "1s"];

    let (out, _) = discover(&base).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        block(&text, &cam.xaddr()).contains("unauthorized (give --user/--password)"),
        "{text}"
    );
    assert!(load(&text).cameras.is_empty());

    let (out, _) =
        discover(&[&base[..], &["--user", "admin", "--password", "wrong"]].concat()).await;
    let text = stdout(&out);
    assert!(
        block(&text, &cam.xaddr()).contains("unauthorized: the device refused user \"admin\""),
        "{text}"
    );

    let (out, _) =
        discover(&[&base[..], &["--user", "admin", "--password", "s3cr@t pass"]].concat()).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let cfg = load(&text);
    assert_eq!(cfg.cameras.len(), 1, "{text}");
    let CameraSource::Rtsp { url } = &cfg.cameras[0].source else {
        panic!("RTSP:\n{text}");
    };
    assert_eq!(url.username(), "admin");
    assert_eq!(url.password(), Some("s3cr%40t%20pass"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("s3cr"),
        "the password is never logged: {stderr}"
    );
    assert!(!text.contains("clock"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_written_in_the_time_of_a_device_whose_clock_is_off() {
    // Three hours behind, as a camera that lost its time at sea.
    let cam = FakeOnvifDevice::start(
        "Stern",
        OnvifBehaviour::Digest {
            user: "admin".into(),
            password: "pw".into(),
            clock_skew_s: -3 * 3600,
        },
    )
    .await
    .unwrap();
    let (out, _) = discover(&[
        "--no-multicast",
        "--xaddr",
        &cam.xaddr(),
        "--timeout",
        "2s",
        "--user",
        "admin",
        "--password",
        "pw",
    ])
    .await;
    let text = stdout(&out);
    let b = block(&text, &cam.xaddr());
    assert!(
        b.contains("note: the device's clock is 10800s behind ours"),
        "{b}"
    );
    assert_eq!(load(&text).cameras.len(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xaddr_is_asked_without_discovery() {
    let cam = FakeOnvifDevice::start("Aft", OnvifBehaviour::Good)
        .await
        .unwrap();
    let (out, took) =
        discover(&["--no-multicast", "--xaddr", &cam.xaddr(), "--timeout", "2s"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(took < Duration::from_secs(2), "no listening: took {took:?}");
    assert!(
        block(&text, &cam.xaddr()).contains("found by --xaddr"),
        "{text}"
    );
    assert_eq!(load(&text).cameras.len(), 1, "{text}");

    // Given and discovered too: asked once.
    let host = cam.discovery_addr().to_string();
    let (out, _) = discover(&[
        "--no-multicast",
        "--xaddr",
        &cam.xaddr(),
        "--host",
        &host,
        "--timeout",
        "1s",
    ])
    .await;
    let text = stdout(&out);
    assert!(
        block(&text, &cam.xaddr()).contains(&format!(
            "Aft (TestKit-1) at {} (found by --xaddr, unicast {host})",
            cam.xaddr()
        )),
        "{text}"
    );
    assert_eq!(load(&text).cameras.len(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_answering_is_said_plainly_and_exits_0() {
    // A bound socket that never answers (so no ICMP "port unreachable").
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let (out, took) = discover(&["--no-multicast", "--host", &host, "--timeout", "500ms"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text, "# no ONVIF device answered within 0.5s\n");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    for args in [
        &["--host", "127.0.0.1:0"][..],
        &["--host", "[::1]:3702"],
        &["--timeout", "0s"],
        &["--timeout", "soon"],
        &["--user", "admin"],
        &["--password", "x"],
        &["--xaddr", "ftp://cam/onvif"],
        &["--no-multicast"],
    ] {
        let (out, _) = discover(args).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// The simulator runs one at a time: ipycam encodes video, the machine is small.
static SIM: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn sim(command: &[&str], env: &[(&str, &str)]) -> String {
    let _one = SIM.lock().unwrap_or_else(|e| e.into_inner());
    let out = run_in_onvif_sim(command, env, Duration::from_secs(60)).unwrap();
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

const SIM_XADDR: &str = "http://127.0.0.1:8080/onvif/device_service";
const SIM_RTSP: &str = "rtsp://127.0.0.1:8554/video_main";
const SIM_SNAPSHOT: &str = "http://127.0.0.1:8080/snapshot.jpg";
/// ipycam (Python) shares the CPU with its own video encoder and with
/// other tests: generous, though every run then listens this long.
const SIM_TIMEOUT: &str = "4s";

#[test]
fn the_simulated_camera_is_found_by_multicast_and_unicast_probe() {
    let text = sim(
        &[
            AGENT,
            "discover",
            "--timeout",
            SIM_TIMEOUT,
            "--host",
            "127.0.0.1:3702",
        ],
        &[],
    );
    let b = block(&text, SIM_XADDR);
    assert!(
        b.contains("found by multicast, unicast 127.0.0.1:3702")
            || b.contains("found by unicast 127.0.0.1:3702, multicast"),
        "{text}"
    );
    assert!(
        b.contains("profile Profile_Main (MainStream, H264, 640x360)"),
        "{b}"
    );
    assert!(
        b.contains(&format!("snapshot instead: source = \"{SIM_SNAPSHOT}\"")),
        "{b}"
    );
    let cfg = load(&text);
    assert_eq!(cfg.cameras.len(), 1, "{text}");
    assert_eq!(cfg.cameras[0].id.as_str(), "seaframetestcam");
    assert_eq!(cfg.cameras[0].source.to_string(), SIM_RTSP);

    // Multicast alone finds it too.
    let text = sim(&[AGENT, "discover", "--timeout", SIM_TIMEOUT], &[]);
    assert!(
        block(&text, SIM_XADDR).contains("found by multicast"),
        "{text}"
    );
    assert_eq!(load(&text).cameras[0].source.to_string(), SIM_RTSP);
}

#[test]
fn the_simulated_camera_with_ws_security_needs_credentials() {
    // Both runs in one namespace: `sh` runs discover without, then with them.
    let script = format!(
        "{AGENT} discover --no-multicast --host 127.0.0.1:3702 --timeout {SIM_TIMEOUT}; echo '# ----'; \
         {AGENT} discover --no-multicast --host 127.0.0.1:3702 --timeout {SIM_TIMEOUT} --user admin --password s3cret"
    );
    let text = sim(
        &["sh", "-c", &script],
        &[("ONVIF_USER", "admin"), ("ONVIF_PASSWORD", "s3cret")],
    );
    let (without, with) = text.split_once("# ----\n").unwrap();
    assert!(
        block(without, SIM_XADDR).contains("unauthorized (give --user/--password)"),
        "{without}"
    );
    assert!(load(without).cameras.is_empty(), "{without}");
    let cfg = load(with);
    assert_eq!(cfg.cameras.len(), 1, "{with}");
    let CameraSource::Rtsp { url } = &cfg.cameras[0].source else {
        panic!("RTSP:\n{with}");
    };
    assert_eq!(
        url.as_str(),
        "rtsp://admin:s3cret@127.0.0.1:8554/video_main"
    );
    assert!(
        with.contains(
            "snapshot instead: source = \"http://admin:s3cret@127.0.0.1:8080/snapshot.jpg\""
        ),
        "{with}"
    );
}
