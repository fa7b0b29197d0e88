//! The fleet page in a real browser: headless Chromium (driven by
//! `tests/browser/fleet.spec.mjs` through playwright-core) against a shore
//! fed through a real Mosquitto by a real agent (two test-pattern cameras,
//! the replayed GPS track) and by a publisher of 199 more vessels that
//! replays the agent's own first thumbnail (a real JPEG in the wire
//! envelope). The browser signs in on the page's form (as an operator; a
//! viewer, who cannot push, on a tablet), then checks the 200 cards and their thumbnails, first
//! paint, a thumbnail arriving live, the timeline scrubbed by keyboard and
//! pointer with the frame's position on the track, and a config pushed from
//! the panel that the agent applies and acks. Screenshots go to
//! `<target>/browser-artifacts/`.
//!
//! The node script asks for what it needs on its stdout
//! (`WAITING-FOR-THUMB <vessel> <camera>`); this side answers on its stdin
//! (`PUBLISHED <ts> <unix ms just before the publish>`).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a test that cannot proceed should panic

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{add_account, agent_config, get, shore_token_for, start_shore};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_agent::app::Agent;
use seaframe_shore::base::auth::role::Role;
use seaframe_testkit::{MosquittoServer, artifacts_dir, require_browser, thumb_position, wait_for};
use seaframe_wire::message::{CameraHealth, Fix, Health, LinkState, PositionReport, Status};
use seaframe_wire::{CameraId, ThumbPosition};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The operator the browser signs in as (the page's form), and a viewer.
const OPERATOR: (&str, &str) = ("fleet-operator", "fleet-page-operator-pw");
const VIEWER: (&str, &str) = ("fleet-viewer", "fleet-page-viewer-pw");
const FLEET: usize = 200;
const CAMERAS: [&str; 4] = ["cam-0", "cam-1", "cam-2", "cam-3"];

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// An MQTT client that counts PUBACKs on its own task.
struct Publisher {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
    sent: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    async fn connect(port: u16) -> Self {
        let mut opts = MqttOptions::new("fleet-replayer", "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20)
            .set_inflight(200)
            .set_request_channel_capacity(2000);
        let (client, mut eventloop) = AsyncClient::new(opts, 2000);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    // The test's own broker does not go away: a connection
                    // error ends the replayer, and the PUBACK waits fail.
                    Err(_) => break,
                }
            }
        });
        Self {
            client,
            acked,
            sent: 0,
            task,
        }
    }

    async fn publish(&mut self, topic: String, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
        self.sent += 1;
    }

    async fn all_acked(&self) {
        let (acked, sent) = (self.acked.clone(), self.sent);
        wait_for(
            "PUBACKs of the replayed fleet",
            Duration::from_secs(30),
            || {
                let acked = acked.clone();
                async move { (acked.load(Ordering::SeqCst) >= sent).then_some(()) }
            },
        )
        .await;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where replayed vessel `i` is: spread over the North Sea.
fn position(i: usize, at_ms: i64) -> Fix {
    let lat = 51.0 + (i % 20) as f64 * 0.4 + (at_ms % 60_000) as f64 * 1e-7;
    let lon = 1.0 + (i / 20) as f64 * 0.6;
    Fix {
        at_ms,
        lat,
        lon,
        fix: "3d".into(),
        speed_kn: Some(5.0 + (i % 9) as f64),
        course_deg: Some(90.0),
        heading_deg: None,
    }
}

/// The replayed vessel whose track crosses the antimeridian.
const ACROSS_180: usize = FLEET - 1;

/// Fix `k` of a vessel sailing east across 180° near Fiji: 179.96°E,
/// 179.98°E, 180°, 179.98°W, 179.96°W.
fn across_180(k: i64, at_ms: i64) -> Fix {
    let lon = 179.96 + k as f64 * 0.02;
    Fix {
        lon: if lon > 180.0 { lon - 360.0 } else { lon },
        lat: -17.0,
        ..position(ACROSS_180, at_ms)
    }
}

fn thumb(vessel: &str, camera: &str, ns: i64, fix: &Fix, jpeg: &[u8]) -> Vec<u8> {
    let position = ThumbPosition {
        fix: fix.fix.clone(),
        speed_kn: fix.speed_kn.map(|s| s as f32),
        course_deg: fix.course_deg.map(|c| c as f32),
        ..thumb_position(fix.lat, fix.lon)
    };
    seaframe_testkit::thumb(vessel, camera, ns, (320, 180), position, jpeg.to_vec())
        .encode()
        .unwrap()
}

/// Status, a short track and one thumbnail per camera of vessels 1..FLEET.
async fn replay_fleet(publisher: &mut Publisher, jpeg: &[u8]) {
    let now = now_ms();
    for i in 1..FLEET {
        let vessel = format!("vessel-{i:03}");
        let fixes: Vec<Fix> = (0..5)
            .map(|k| match i {
                ACROSS_180 => across_180(k, now - 40_000 + k * 10_000),
                _ => position(i, now - 40_000 + k * 10_000),
            })
            .collect();
        let status = Status {
            state: LinkState::Online,
            health: Some(Health {
                version: "replay".into(),
                uptime_s: 60,
                sent_at_ms: now,
                cameras: CAMERAS
                    .iter()
                    .map(|c| CameraHealth {
                        id: CameraId::parse(c).unwrap(),
                        state: "running".into(),
                        fps: 1.0,
                        last_frame_ms: Some(now),
                    })
                    .collect(),
                fix: fixes.last().cloned(),
                clock: "gps".into(),
                clock_offset_ms: 0,
                disk_used_bytes: 0,
                disk_free_bytes: 1 << 30,
                disk_total_bytes: None,
                outbox_backlog: 0,
                outbox_bytes: 0,
                config_version: 0,
            }),
        };
        publisher
            .publish(
                format!("seaframe/v1/{vessel}/position"),
                serde_json::to_vec(&PositionReport {
                    fixes: fixes.clone(),
                })
                .unwrap(),
            )
            .await;
        publisher
            .publish(
                format!("seaframe/v1/{vessel}/status"),
                serde_json::to_vec(&status).unwrap(),
            )
            .await;
        let last = fixes.last().unwrap();
        for camera in CAMERAS {
            publisher
                .publish(
                    format!("seaframe/v1/{vessel}/thumb/{camera}"),
                    thumb(&vessel, camera, (now - 5_000) * 1_000_000, last, jpeg),
                )
                .await;
        }
    }
    publisher.all_acked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_page_in_chromium_shows_the_fleet_live_and_pushes_a_config() {
    let browser = require_browser().unwrap();
    let artifacts = artifacts_dir("browser-artifacts").unwrap();

    let broker = MosquittoServer::start().unwrap();
    let shore_dir = tempfile::tempdir().unwrap();
    let shore = start_shore(
        &broker.url(),
        shore_dir.path(),
        "page-shore",
        "[api]\nlisten = \"127.0.0.1:0\"\n",
    )
    .await;
    add_account(&shore, OPERATOR.0, Role::Operator, OPERATOR.1).await;
    add_account(&shore, VIEWER.0, Role::Viewer, VIEWER.1).await;
    let shore_url = format!("http://{}", shore.addr);
    let api = format!("{shore_url}/api/v1");

    // A real agent: two cameras, the replayed GPS track.
    let ship_dir = tempfile::tempdir().unwrap();
    let cfg = agent_config(
        "ship-one",
        ship_dir.path(),
        &broker.url(),
        r#"[[cameras]]
id = "bow"
source = "testpattern"
fps = 2.0
width = 320
height = 180
[[cameras]]
id = "mast"
source = "testpattern"
fps = 1.0
width = 320
height = 180"#,
    );
    let agent = Agent::start(cfg).await.unwrap();

    // Its first thumbnail ashore is what the other 199 vessels replay.
    let image_url = wait_for(
        "the agent's first thumbnail ashore",
        Duration::from_secs(60),
        || async {
            let v = get(&format!("{api}/vessels")).await;
            let ship = v["vessels"]
                .as_array()?
                .iter()
                .find(|v| v["name"] == "ship-one")?
                .clone();
            ship["cameras"]
                .as_array()?
                .iter()
                .find_map(|c| c["latest_thumb"]["image_url"].as_str().map(str::to_owned))
        },
    )
    .await;
    let jpeg = reqwest::Client::new()
        .get(format!("{shore_url}{image_url}"))
        .bearer_auth(shore_token_for(&shore_url).unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    let mut publisher = Publisher::connect(broker.port()).await;
    replay_fleet(&mut publisher, &jpeg).await;
    wait_for(
        "200 vessels ashore, each with its thumbnails",
        Duration::from_secs(30),
        || async {
            let v = get(&format!("{api}/vessels")).await;
            let vessels = v["vessels"].as_array()?;
            let complete = vessels
                .iter()
                .filter(|v| {
                    v["cameras"].as_array().is_some_and(|c| {
                        !c.is_empty() && c.iter().all(|c| c["latest_thumb"].is_object())
                    })
                })
                .count();
            (vessels.len() == FLEET && complete == FLEET).then_some(())
        },
    )
    .await;

    // How long the page's one call takes, from here (median of 5).
    let mut took: Vec<u128> = Vec::new();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let v = get(&format!("{api}/vessels")).await;
        took.push(t.elapsed().as_millis());
        assert_eq!(v["vessels"].as_array().unwrap().len(), FLEET);
    }
    took.sort_unstable();
    println!(
        "METRIC GET /api/v1/vessels of {FLEET} vessels: {} ms (median of 5)",
        took[2]
    );

    // The browser.
    let mut node = tokio::process::Command::new("node")
        .arg(browser.specs.join("fleet.spec.mjs"))
        .current_dir(&browser.specs)
        .env("SHORE_URL", &shore_url)
        .env("SHORE_USER", OPERATOR.0)
        .env("SHORE_PASSWORD", OPERATOR.1)
        .env("SHORE_VIEWER", VIEWER.0)
        .env("SHORE_VIEWER_PASSWORD", VIEWER.1)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", &browser.chromium)
        .env("FLEET_SIZE", FLEET.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let node_pid = node.id().unwrap();
    println!(
        "node (pid {node_pid}); screenshots to {}",
        artifacts.display()
    );
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let stderr = node.stderr.take().unwrap();
    let err_task = tokio::spawn(async move {
        let mut out = String::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            out.push_str(&l);
            out.push('\n');
        }
        out
    });
    let mut output = Vec::new();
    let dialogue = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            println!("node: {line}");
            if let Some(rest) = line.strip_prefix("WAITING-FOR-THUMB ") {
                let mut it = rest.split_whitespace();
                let (vessel, camera) = (it.next().unwrap(), it.next().unwrap());
                let i: usize = vessel.trim_start_matches("vessel-").parse().unwrap();
                let sent_ms = now_ms();
                let ns = sent_ms * 1_000_000;
                publisher
                    .publish(
                        format!("seaframe/v1/{vessel}/thumb/{camera}"),
                        thumb(vessel, camera, ns, &position(i, sent_ms), &jpeg),
                    )
                    .await;
                let ts = seaframe_shore::base::when::rfc3339_ns(ns);
                stdin
                    .write_all(format!("PUBLISHED {ts} {sent_ms}\n").as_bytes())
                    .await
                    .unwrap();
                stdin.flush().await.unwrap();
            }
            output.push(line);
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(90), async {
        dialogue.await;
        node.wait().await.unwrap()
    })
    .await;
    let status = match finished {
        Ok(status) => status,
        Err(_) => {
            // Killed by its PID (kill_on_drop also covers a panic above).
            node.start_kill().unwrap();
            let _ = node.wait().await;
            panic!(
                "the browser test (pid {node_pid}) did not finish in 90 s; output:\n{}",
                output.join("\n")
            );
        }
    };
    let errors = err_task.await.unwrap();
    if !errors.is_empty() {
        println!("node stderr:\n{errors}");
    }
    assert!(
        status.success(),
        "the browser test failed ({status}):\n{}\n{errors}",
        output.join("\n")
    );
    for shot in ["sign-in.png", "fleet.png", "vessel.png", "config.png"] {
        assert!(artifacts.join(shot).is_file(), "screenshot {shot}");
    }

    // The agent really applied what the panel pushed.
    let config = get(&format!("{api}/vessels/ship-one/config")).await;
    assert_eq!(config["ack"]["status"], "applied", "{config}");
    assert_eq!(config["ack"]["version"], config["version"], "{config}");

    drop(publisher);
    agent.shutdown().await.unwrap();
    shore.stop().await.unwrap();
}

/// A status of `vessel` whose `mast` camera is in `mast_state`.
fn alert_status(mast_state: &str) -> Vec<u8> {
    let now = now_ms();
    let camera = |id: &str, state: &str| CameraHealth {
        id: CameraId::parse(id).unwrap(),
        state: state.into(),
        fps: 1.0,
        last_frame_ms: Some(now),
    };
    serde_json::to_vec(&Status {
        state: LinkState::Online,
        health: Some(Health {
            version: "2.0.0".into(),
            uptime_s: 60,
            sent_at_ms: now,
            cameras: vec![camera("bow", "ok"), camera("mast", mast_state)],
            fix: None,
            clock: "gps".into(),
            clock_offset_ms: 0,
            disk_used_bytes: 1_000_000,
            disk_free_bytes: 30_000_000_000,
            disk_total_bytes: Some(64_000_000_000),
            outbox_backlog: 0,
            outbox_bytes: 0,
            config_version: 0,
        }),
    })
    .unwrap()
}

/// The page shows an alert raised by a vessel whose camera fails, and
/// clears it when the camera comes back (`tests/browser/alerts.spec.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_page_shows_a_camera_alert_and_clears_it() {
    let browser = require_browser().unwrap();
    let artifacts = artifacts_dir("browser-artifacts-alerts").unwrap();
    let broker = MosquittoServer::start().unwrap();
    let shore_dir = tempfile::tempdir().unwrap();
    let shore = start_shore(
        &broker.url(),
        shore_dir.path(),
        "alert-page-shore",
        "[api]\nlisten = \"127.0.0.1:0\"\n[alerts]\nevaluate_every_s = 1\ncamera_down_after_s = 0\n",
    )
    .await;
    add_account(&shore, VIEWER.0, Role::Viewer, VIEWER.1).await;
    let shore_url = format!("http://{}", shore.addr);
    let mut vessel = Publisher::connect(broker.port()).await;
    let topic = "seaframe/v1/sea-otter/status".to_owned();
    vessel.publish(topic.clone(), alert_status("ok")).await;
    vessel.all_acked().await;
    let health = format!("{shore_url}/api/v1/vessels/sea-otter/health");
    wait_for(
        "the vessel's status ashore",
        Duration::from_secs(20),
        // 404 until the shore has applied it (the PUBACK is the broker's).
        || async {
            let mut req = reqwest::Client::new().get(&health);
            if let Some(token) = shore_token_for(&health) {
                req = req.bearer_auth(token);
            }
            let bytes = req.send().await.ok()?.bytes().await.ok()?;
            let body: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            (body["status"]["version"] == "2.0.0").then_some(())
        },
    )
    .await;

    let mut node = tokio::process::Command::new("node")
        .arg(browser.specs.join("alerts.spec.mjs"))
        .current_dir(&browser.specs)
        .env("SHORE_URL", &shore_url)
        .env("SHORE_USER", VIEWER.0)
        .env("SHORE_PASSWORD", VIEWER.1)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", &browser.chromium)
        .env("VESSEL", "sea-otter")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let node_pid = node.id().unwrap();
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut output = Vec::new();
    let dialogue = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            println!("node: {line}");
            let state = match line.as_str() {
                "CAMERA-FAIL mast" => Some("retrying"),
                "CAMERA-BACK mast" => Some("ok"),
                _ => None,
            };
            if let Some(state) = state {
                vessel.publish(topic.clone(), alert_status(state)).await;
                vessel.all_acked().await;
                stdin.write_all(b"DONE\n").await.unwrap();
                stdin.flush().await.unwrap();
            }
            output.push(line);
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(60), async {
        dialogue.await;
        node.wait().await.unwrap()
    })
    .await;
    let Ok(status) = finished else {
        node.start_kill().unwrap();
        let _ = node.wait().await;
        panic!(
            "the alert browser test (pid {node_pid}) did not finish in 60 s; output:\n{}",
            output.join("\n")
        );
    };
    assert!(
        status.success(),
        "the alert browser test failed ({status}):\n{}",
        output.join("\n")
    );
    assert!(
        artifacts.join("alert.png").is_file(),
        "screenshot alert.png"
    );
    // What the page showed, the API agrees with: raised once, cleared once.
    let metrics_url = format!("{shore_url}/metrics");
    let metrics = reqwest::Client::new()
        .get(&metrics_url)
        .bearer_auth(shore_token_for(&metrics_url).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("seaframe_shore_alerts_raised_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seaframe_shore_alerts_cleared_total 1\n"),
        "{metrics}"
    );
    drop(vessel);
    shore.stop().await.unwrap();
}
