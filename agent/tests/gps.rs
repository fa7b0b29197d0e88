//! GPS sources against real peers (the test kit's NMEA replays over TCP,
//! UDP and a socat pseudo-terminal serial port; a real gpsd fed by
//! gpsfake), all from the GPSD captures in `tests/data/nmea/` (a u-blox's
//! mixed UBX+NMEA stream, a receiver that falls silent mid-cycle), and
//! the agent tagging frames from a replayed track — positions interpolated
//! between the log's fixes, written into EXIF that exiftool reads back —
//! and correcting a board clock 50 years off.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{camera, get_json, wait_for};
use seaframe_agent::adapters::gps::reader::GpsReader;
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::{Config, GpsSource};
use seaframe_agent::base::gps::state::Gps;
use seaframe_testkit::{
    Gpsd, Mix, NmeaPty, NmeaTcpServer, NmeaUdpSender, Replay, free_port, mix_capture,
    nmea_log as log, require_binary,
};
use seaframe_wire::timestamp::Timestamp;
use tokio_util::sync::CancellationToken;

/// The capture replayed as fast as its epochs allow (one every `cycle_s`),
/// in a loop, for 60 s at most.
fn looped(cycle_s: f64) -> Replay {
    Replay::looped(Duration::from_secs_f64(cycle_s), Duration::from_secs(60))
}

struct Reading {
    gps: Arc<Gps>,
    stop: CancellationToken,
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn read(source: &str) -> Reading {
    let gps = Arc::new(Gps::new(10));
    let stop = CancellationToken::new();
    let reader = GpsReader::new(source.parse::<GpsSource>().unwrap(), Arc::clone(&gps));
    tokio::spawn(reader.run(stop.clone()));
    Reading { gps, stop }
}

async fn fixes_at_least(gps: &Gps, n: u64, what: &str) {
    wait_for(what, Duration::from_secs(30), || async {
        (gps.fixes.load(Ordering::Relaxed) >= n).then_some(())
    })
    .await;
}

/// hemi.log: Boston harbour, 2018-09-07 (a 2 Hz receiver).
fn assert_near_boston(gps: &Gps) {
    let f = gps.latest().unwrap();
    assert!(
        (f.lat - 42.3637).abs() < 0.01 && (f.lon + 71.0324).abs() < 0.01,
        "{f:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_source_reads_a_multiplexer() {
    let server = NmeaTcpServer::start(&log("hemi.log"), looped(0.05))
        .await
        .unwrap();
    let r = read(&format!("tcp:{}", server.addr()));
    fixes_at_least(&r.gps, 5, "fixes over TCP").await;
    assert_near_boston(&r.gps);
    assert_eq!(
        r.gps.latest().unwrap().time.to_rfc3339()[..10],
        *"2018-09-07"
    );
}

/// ublox-f9p-hpnmea.log's first 33 lines: two whole cycles (01:45:00 and
/// :01, each ended by its GGA), then the third's RMC and VTG, and no GGA.
const CUT_MID_CYCLE: Mix = Mix {
    from_line: 0,
    lines: 33,
    ubx_every: 0,
    junk_every: 0,
    rebroadcast_as: None,
};

/// `log` mixed as `mix`, written into `dir`.
fn mixed_capture(
    dir: &std::path::Path,
    log_name: &str,
    mix: Mix,
) -> (std::path::PathBuf, seaframe_testkit::Mixed) {
    let (bytes, mixed) = mix_capture(&std::fs::read(log(log_name)).unwrap(), mix);
    let path = dir.join(log_name);
    std::fs::write(&path, bytes).unwrap();
    (path, mixed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_u_blox_talking_ubx_and_nmea_is_read_and_its_binary_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mix = Mix {
        ubx_every: 3,
        junk_every: 7,
        ..Mix::default()
    };
    let (path, mixed) = mixed_capture(dir.path(), "ublox-f9p-hpnmea.log", mix);
    let once = Replay {
        loops: 1,
        ..looped(0.02)
    };
    let server = NmeaTcpServer::start(&path, once).await.unwrap();
    let r = read(&format!("tcp:{}", server.addr()));
    // Nine cycles, 01:45:00 to :08; the last reported when the server hangs up.
    fixes_at_least(&r.gps, 9, "every cycle of the mixed stream").await;
    let f = r.gps.latest().unwrap();
    assert_eq!(f.time.to_rfc3339(), "2021-12-23T01:45:08.000000000Z");
    assert!(
        (f.lat - 44.0688).abs() < 0.001,
        "never the GGA inside a UBX frame: {f:?}"
    );
    let skipped = &r.gps.status()["skipped"];
    assert_eq!(skipped["ubx_frame"], mixed.ubx_frames, "{skipped}");
    assert_eq!(skipped["binary"], mixed.junk_runs, "{skipped}");
    assert_eq!(r.gps.fixes.load(Ordering::Relaxed), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_falls_silent_keeps_its_last_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = mixed_capture(dir.path(), "ublox-f9p-hpnmea.log", CUT_MID_CYCLE);
    let once = Replay {
        loops: 1,
        ..looped(0.05)
    };
    let server = NmeaTcpServer::start_then_silent(&path, once).await.unwrap();
    let r = read(&format!("tcp:{}", server.addr()));
    fixes_at_least(&r.gps, 3, "the cut-short cycle, after a second of silence").await;
    let f = r.gps.latest().unwrap();
    assert_eq!(f.time.to_rfc3339(), "2021-12-23T01:45:02.000000000Z");
    // RMC only (no altitude), 3D held from the cycle before, as gpsd does.
    assert_eq!((f.mode, f.altitude_m), (3, None), "{f:?}");
    // Still connected: reported for the silence, not for an end of stream.
    assert_eq!(r.gps.status()["state"], "ok");
    assert_eq!(r.gps.fixes.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_receiver_that_falls_silent_keeps_its_last_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = mixed_capture(dir.path(), "ublox-f9p-hpnmea.log", CUT_MID_CYCLE);
    // 1 s a cycle, so that the port is open before the cut-short cycle comes.
    let replay = Replay {
        baud: 38_400,
        loops: 1,
        ..looped(1.0)
    };
    let pty = NmeaPty::start_then_silent(&path, dir.path(), replay)
        .await
        .unwrap();
    let r = read(&format!("serial:{}?baud=38400", pty.device().display()));
    wait_for(
        "the cut-short cycle, after a second of silence",
        Duration::from_secs(30),
        || async {
            let latest = r.gps.latest()?;
            (latest.time.to_rfc3339() == "2021-12-23T01:45:02.000000000Z").then_some(latest)
        },
    )
    .await;
    // Still plugged in: reported for the silence, not for an end of stream.
    assert_eq!(r.gps.status()["state"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_talker_that_falls_silent_leaves_its_last_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = mixed_capture(dir.path(), "ublox-f9p-hpnmea.log", CUT_MID_CYCLE);
    let port = free_port().unwrap();
    let r = read(&format!("udp:127.0.0.1:{port}"));
    wait_for("the UDP listener", Duration::from_secs(10), || async {
        (r.gps.status()["state"] == "listening").then_some(())
    })
    .await;
    let once = Replay {
        loops: 1,
        ..looped(0.05)
    };
    let dest = format!("127.0.0.1:{port}").parse().unwrap();
    let _sender = NmeaUdpSender::start(&path, once, dest).await.unwrap();
    fixes_at_least(&r.gps, 3, "the cut-short cycle, after a second of silence").await;
    let f = r.gps.latest().unwrap();
    assert_eq!(f.time.to_rfc3339(), "2021-12-23T01:45:02.000000000Z");
    assert_eq!(r.gps.fixes.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_source_listens_for_broadcasts() {
    let port = free_port().unwrap();
    let r = read(&format!("udp:127.0.0.1:{port}"));
    wait_for("the UDP listener", Duration::from_secs(10), || async {
        (r.gps.status()["state"] == "listening").then_some(())
    })
    .await;
    let dest = format!("127.0.0.1:{port}").parse().unwrap();
    let _sender = NmeaUdpSender::start(&log("hemi.log"), looped(0.05), dest)
        .await
        .unwrap();
    fixes_at_least(&r.gps, 5, "fixes over UDP").await;
    assert_near_boston(&r.gps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpsd_source_reads_tpv_reports_of_a_real_gpsd() {
    let gpsd = Gpsd::start(&log("ublox-f9p-hpnmea.log")).unwrap();
    let r = read(&format!("gpsd:{}", gpsd.addr()));
    fixes_at_least(&r.gps, 3, "TPV fixes from gpsd").await;
    let f = r.gps.latest().unwrap();
    assert!(
        (f.lat - 44.0688).abs() < 0.001 && (f.lon + 121.3141).abs() < 0.001,
        "{f:?}"
    );
    assert_eq!(f.time.to_rfc3339()[..10], *"2021-12-23");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_source_recovers_when_the_device_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    // A 38400-baud receiver, an epoch every 50 ms, for 60 s at most.
    let replay = Replay {
        baud: 38_400,
        ..looped(0.05)
    };
    let mut first = NmeaPty::start(&log("hemi.log"), dir.path(), replay)
        .await
        .unwrap();
    let device = first.device().display().to_string();
    let r = read(&format!("serial:{device}?baud=38400"));
    fixes_at_least(&r.gps, 5, "fixes from the serial port").await;
    assert_near_boston(&r.gps);

    first.kill(); // the GPS is unplugged…
    wait_for("the reader to notice", Duration::from_secs(40), || async {
        r.gps.status()["state"]
            .as_str()
            .unwrap()
            .starts_with("retrying")
            .then_some(())
    })
    .await;
    let before = r.gps.fixes.load(Ordering::Relaxed);
    let _second = NmeaPty::start(&log("hemi.log"), dir.path(), replay) // …and plugged back in
        .await
        .unwrap();
    fixes_at_least(&r.gps, before + 5, "fixes after the device came back").await;
}

fn config_with_gps(data: &std::path::Path, gps: &str, cams: &str) -> Config {
    let text = format!(
        "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n[gps]\nsource = \"{gps}\"\nmax_fix_age_s = 10\n{cams}",
        data.display()
    );
    Config::from_toml(&text, "test").unwrap()
}

fn exiftool(path: &str) -> serde_json::Value {
    let out = Command::new("exiftool")
        .args([
            "-json",
            "-n",
            "-GPSLatitude",
            "-GPSLongitude",
            "-DateTimeOriginal",
            "-SubSecTimeOriginal",
            "-OffsetTimeOriginal",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_of_a_moving_ship_carry_interpolated_positions_in_index_and_exif() {
    require_binary("exiftool", "libimage-exiftool-perl").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // nmea-fuzzy-cases.log: a vehicle moving at a few knots, 5-10 Hz fixes.
    let gps = format!("replay:{}?rate=1", log("nmea-fuzzy-cases.log").display());
    let cfg = config_with_gps(
        dir.path(),
        &gps,
        &camera("bow", "testpattern", 10.0, 160, 120),
    );
    let agent = Agent::start(cfg).await.unwrap();
    let base = format!("http://{}/api/v1", agent.api_addr());
    let frames = wait_for(
        "frames tagged between two fixes",
        Duration::from_secs(30),
        || async {
            let (_, page) = get_json(&format!("{base}/frames?camera=bow&limit=1000")).await;
            let frames = page["frames"].as_array()?.clone();
            frames
                .iter()
                .any(|f| f["lat"].is_number())
                .then_some(frames)
        },
    )
    .await;
    let tagged: Vec<&serde_json::Value> = frames.iter().filter(|f| f["lat"].is_number()).collect();
    assert!(
        tagged.iter().any(|f| f["interpolated"] == true),
        "no frame was placed between two fixes: {tagged:?}"
    );
    for f in &tagged {
        // Near Des Moines, as the log says; fix age within max_fix_age_s.
        assert!((f["lat"].as_f64().unwrap() - 41.575).abs() < 0.01, "{f}");
        assert!((f["lon"].as_f64().unwrap() + 93.750).abs() < 0.01, "{f}");
        assert!(f["fix_age_ms"].as_u64().unwrap() <= 10_000, "{f}");
        assert_eq!(f["time_uncertainty_ms"], 1000);
        assert_eq!(f["clock"], "system");
    }
    // The track the frames were tagged from, as the index records it (one
    // fix a second, at most a second behind): a line and its points.
    let track = wait_for(
        "two fixes on the track",
        Duration::from_secs(10),
        || async {
            let (_, track) = get_json(&format!("{base}/track")).await;
            (track["features"].as_array()?.len() >= 3).then_some(track)
        },
    )
    .await;
    let features = track["features"].as_array().unwrap();
    assert_eq!(features[0]["geometry"]["type"], "LineString", "{track}");
    let seconds: Vec<i64> = features[1..]
        .iter()
        .map(|f| {
            Timestamp::parse_user(f["properties"]["time"].as_str().unwrap())
                .unwrap()
                .unix_millis()
                / 1000
        })
        .collect();
    assert!(
        seconds.windows(2).all(|w| w[0] < w[1]),
        "one fix a second at most: {seconds:?}"
    );
    // EXIF read back by exiftool: the same position and time as the index.
    let f = tagged.last().unwrap();
    let row = agent
        .store()
        .frame(f["id"].as_i64().unwrap())
        .unwrap()
        .unwrap();
    let exif = exiftool(agent.store().file_path(&row).to_str().unwrap());
    assert!(
        (exif["GPSLatitude"].as_f64().unwrap() - f["lat"].as_f64().unwrap()).abs() < 1e-5,
        "{exif}"
    );
    assert!(
        (exif["GPSLongitude"].as_f64().unwrap() - f["lon"].as_f64().unwrap()).abs() < 1e-5,
        "{exif}"
    );
    let ts = f["ts"].as_str().unwrap(); // 2026-11-24T08:01:02.345678901Z
    let want = format!("{}:{}:{} {}", &ts[0..4], &ts[5..7], &ts[8..10], &ts[11..19]);
    assert_eq!(exif["DateTimeOriginal"], want.as_str(), "{exif}");
    let subsec = &exif["SubSecTimeOriginal"];
    let subsec = subsec
        .as_u64()
        .or_else(|| subsec.as_str().and_then(|s| s.parse().ok()));
    assert_eq!(subsec, ts[20..23].parse::<u64>().ok(), "{exif}");
    assert_eq!(exif["OffsetTimeOriginal"], "+00:00");
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_clock_fifty_years_behind_is_corrected_from_gps_time() {
    let dir = tempfile::tempdir().unwrap();
    // The capture's fixes carry their own time (2021-12-23): GPS time here.
    let server = NmeaTcpServer::start(&log("ublox-f9p-hpnmea.log"), looped(0.1))
        .await
        .unwrap();
    let gps = format!("tcp:{}", server.addr());
    let cfg = config_with_gps(
        dir.path(),
        &gps,
        &camera("bow", "testpattern", 10.0, 160, 120),
    );
    let fifty_years_ns = 50 * 365 * 86_400 * 1_000_000_000i64;
    let agent = Agent::start_with_clock_skew(cfg, -fifty_years_ns)
        .await
        .unwrap();
    let base = format!("http://{}/api/v1", agent.api_addr());
    let frames = wait_for(
        "frames stamped with GPS time",
        Duration::from_secs(30),
        || async {
            let (_, page) = get_json(&format!("{base}/frames?limit=10")).await;
            let frames = page["frames"].as_array()?.clone();
            (!frames.is_empty()).then_some(frames)
        },
    )
    .await;
    for f in &frames {
        assert_eq!(f["clock"], "gps", "{f}");
        assert_eq!(&f["ts"].as_str().unwrap()[..10], "2021-12-23", "{f}");
    }
    let (_, status) = get_json(&format!("{base}/status")).await;
    assert_eq!(status["clock"]["source"], "gps");
    // GPS time minus the board's clock: 2021 minus (now - 50 years).
    let offset_ms = status["clock"]["gps_offset_ms"].as_i64().unwrap();
    assert!(offset_ms > 40 * 365 * 86_400_000, "{status}");
    // Nothing was filed under the board's wrong year.
    let filed: Vec<String> = std::fs::read_dir(dir.path().join("frames/bow"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        filed,
        ["2021"],
        "filed by GPS time, never under the board's 1976"
    );
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signalk_source_reads_deltas_from_a_websocket() {
    let track = vec![(60.10, 24.90), (60.11, 24.91), (60.12, 24.92)];
    let server = seaframe_testkit::SignalKServer::start(track, Duration::from_millis(50))
        .await
        .unwrap();
    let r = read(&format!("signalk:{}", server.url()));
    fixes_at_least(&r.gps, 5, "fixes from Signal K deltas").await;
    let f = r.gps.latest().unwrap();
    assert!(
        (60.09..=60.13).contains(&f.lat) && (24.89..=24.93).contains(&f.lon),
        "{f:?}"
    );
    assert!(
        (f.course_deg.unwrap() - 90.0).abs() < 1e-6
            && (f.heading_deg.unwrap() - 180.0).abs() < 1e-6
    );
    assert!((f.speed_kn.unwrap() - 9.72).abs() < 0.01);
    // The malformed message was counted and skipped, not fatal.
    assert_eq!(r.gps.status()["skipped"]["signalk_bad_message"], 1);
}
