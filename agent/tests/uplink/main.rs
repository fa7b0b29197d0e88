//! The uplink against a real Mosquitto: thumbnails with the frames' own
//! metadata, status and position; a broker outage drained newest first with
//! nothing lost; configs pushed from shore applied live or rejected.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

#[path = "../common/mod.rs"]
mod common;
mod pushed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{camera, get_json, wait_for};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::Config;
use seaframe_testkit::{MosquittoOptions, MosquittoServer, nmea_log};
use seaframe_wire::message::{AckStatus, ConfigAck, ConfigPush, PositionReport, Status};
use seaframe_wire::{Thumb, Topic};
use tokio::sync::mpsc;

/// A config with the API on a free port, an uplink to `mqtt_url`, and the
/// ship moving (an NMEA log replayed).
fn config(data_dir: &Path, mqtt_url: &str, cameras: &str, uplink_extra: &str) -> Config {
    let nmea = nmea_log("ais-nmea.log");
    let text = format!(
        r#"vessel = "test-vessel"
data_dir = "{}"
[api]
listen = "127.0.0.1:0"
[gps]
source = "replay:{}?rate=1"
{cameras}
[uplink]
mqtt_url = "{mqtt_url}"
thumb_width_px = 80
{uplink_extra}
"#,
        data_dir.display(),
        nmea.display()
    );
    Config::from_toml(&text, "test").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// What the shore side of a test saw, in arrival order.
#[derive(Debug)]
enum Seen {
    Thumb(Box<Thumb>),
    Status(Box<Status>),
    Position(PositionReport),
    Ack(ConfigAck),
}

/// A subscriber to everything of test-vessel. With `session`, a
/// persistent session (QoS 1 messages wait in the broker while it is away).
async fn subscribe(
    broker: &MosquittoServer,
    session: Option<&str>,
) -> (AsyncClient, mpsc::UnboundedReceiver<Seen>) {
    let id = session.unwrap_or("test-shore");
    let mut o = MqttOptions::new(id, "127.0.0.1", broker.port());
    o.set_clean_session(session.is_none())
        .set_max_packet_size(4 << 20, 4 << 20)
        .set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(o, 100);
    client
        .subscribe("seaframe/v1/test-vessel/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut subscribed = false;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => subscribed = true,
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let seen = match Topic::parse(&p.topic) {
                        Ok(Topic::Thumb { .. }) => {
                            Seen::Thumb(Box::new(Thumb::decode(&p.payload).unwrap()))
                        }
                        Ok(Topic::Status { .. }) => {
                            Seen::Status(Box::new(serde_json::from_slice(&p.payload).unwrap()))
                        }
                        Ok(Topic::Position { .. }) => {
                            Seen::Position(serde_json::from_slice(&p.payload).unwrap())
                        }
                        Ok(Topic::ConfigAck { .. }) => {
                            Seen::Ack(serde_json::from_slice(&p.payload).unwrap())
                        }
                        _ => continue,
                    };
                    if tx.send(seen).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // The broker is away (a test stops it): try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
            let _ = subscribed;
        }
    });
    (client, rx)
}

/// Receives until `done` says so (or fails after `timeout`).
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    seen: &mut Vec<Seen>,
    timeout: Duration,
    what: &str,
    done: impl Fn(&[Seen]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done(seen) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(s)) => seen.push(s),
            Ok(None) => panic!("subscriber ended"),
            Err(_) => panic!(
                "timed out after {timeout:?} waiting for {what}; saw {} messages",
                seen.len()
            ),
        }
    }
}

fn thumbs(seen: &[Seen]) -> Vec<&Thumb> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Thumb(t) => Some(&**t),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_carry_the_stored_frames_time_and_position() {
    let broker = MosquittoServer::start().unwrap();
    let (_client, mut rx) = subscribe(&broker, None).await;
    let dir = tempfile::tempdir().unwrap();
    let cams =
        camera("bow", "testpattern", 5.0, 320, 240) + &camera("mast", "testpattern", 4.0, 160, 120);
    let agent = Agent::start(config(dir.path(), &broker.url(), &cams, ""))
        .await
        .unwrap();
    let mut seen = Vec::new();
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(40),
        "4 thumbnails of each camera, a status and a position",
        |s| {
            let t = thumbs(s);
            ["bow", "mast"]
                .iter()
                .all(|c| t.iter().filter(|t| t.meta.camera.as_str() == *c).count() >= 4)
                && s.iter().any(|m| matches!(m, Seen::Status(_)))
                && s.iter()
                    .any(|m| matches!(m, Seen::Position(p) if !p.fixes.is_empty()))
        },
    )
    .await;
    let base = format!("http://{}/api/v1", agent.api_addr());
    for t in thumbs(&seen) {
        let m = &t.meta;
        assert_eq!(m.vessel.as_str(), "test-vessel");
        // Downscaled to 80 px wide, aspect kept (both cameras are 4:3).
        assert_eq!((m.width, m.height), (80, 60));
        // The very frame on board: same time, sequence and position.
        let (_, f) = get_json(&format!(
            "{base}/frames/nearest?camera={}&at={}",
            m.camera,
            m.captured_at_ns / 1_000_000
        ))
        .await;
        let (_, page) = get_json(&format!(
            "{base}/frames?camera={}&from={}&to={}",
            m.camera,
            m.captured_at_ns / 1_000_000,
            m.captured_at_ns / 1_000_000 + 1
        ))
        .await;
        let frame = page["frames"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["seq"].as_u64() == Some(m.seq))
            .unwrap_or_else(|| panic!("no frame {} of {} near {f}", m.seq, m.camera));
        match &m.position {
            Some(p) => {
                // (JSON parsing may be one unit in the last place off.)
                assert!(
                    (frame["lat"].as_f64().unwrap() - p.lat).abs() < 1e-9,
                    "{frame}"
                );
                assert!(
                    (frame["lon"].as_f64().unwrap() - p.lon).abs() < 1e-9,
                    "{frame}"
                );
                assert_eq!(frame["fix"].as_str(), Some(p.fix.as_str()));
            }
            None => assert!(frame["lat"].is_null(), "{frame}"),
        }
        assert!(image_decodes(&t.jpeg), "thumbnail is a JPEG");
    }
    // One per camera-second at most.
    for c in ["bow", "mast"] {
        let secs: Vec<i64> = thumbs(&seen)
            .iter()
            .filter(|t| t.meta.camera.as_str() == c)
            .map(|t| t.meta.captured_at_ns / 1_000_000_000)
            .collect();
        let distinct: BTreeSet<_> = secs.iter().collect();
        assert_eq!(distinct.len(), secs.len(), "{c}: {secs:?}");
    }
    let status = seen
        .iter()
        .find_map(|s| match s {
            Seen::Status(st) => st.health.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(status.cameras.len(), 2);
    agent.shutdown().await.unwrap();
    // An orderly stop leaves the retained status `offline`.
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(10),
        "status offline",
        |s| matches!(s.last(), Some(Seen::Status(st)) if **st == Status::offline()),
    )
    .await;
}

fn image_decodes(jpeg: &[u8]) -> bool {
    seaframe_agent::base::picture::Picture::decode_scaled(jpeg, 16).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_is_drained_newest_first_and_nothing_is_lost() {
    let mut broker = MosquittoServer::start_with(MosquittoOptions {
        persistence: true,
        ..Default::default()
    })
    .unwrap();
    // A persistent session: what is published while it is away waits.
    let (_client, mut rx) = subscribe(&broker, Some("outage-shore")).await;
    let dir = tempfile::tempdir().unwrap();
    let cams =
        camera("bow", "testpattern", 4.0, 160, 120) + &camera("mast", "testpattern", 4.0, 160, 120);
    let agent = Agent::start(config(dir.path(), &broker.url(), &cams, ""))
        .await
        .unwrap();
    let m = agent.metrics().clone();
    let mut seen = Vec::new();
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(30),
        "live thumbnails",
        |s| thumbs(s).len() >= 2,
    )
    .await;

    broker.stop();
    wait_for(
        "a backlog of 12 thumbnails",
        Duration::from_secs(40),
        || async { (m.uplink.outbox_backlog.load(Ordering::Relaxed) >= 12).then_some(()) },
    )
    .await;
    let before_restart = seen.len();
    let restarted_at_ns = now_ns();
    broker.restart().unwrap();
    wait_for("the backlog drained", Duration::from_secs(40), || async {
        (m.uplink.outbox_backlog.load(Ordering::Relaxed) == 0
            && m.uplink.link_state.load(Ordering::Relaxed) == 2)
            .then_some(())
    })
    .await;
    agent.stop_capture();
    // Everything made is sent and acknowledged; the subscriber has it all.
    let made = wait_for(
        "the last thumbnails sent",
        Duration::from_secs(30),
        || async {
            let made = m.uplink.thumbs_made.load(Ordering::Relaxed);
            (m.uplink.outbox_backlog.load(Ordering::Relaxed) == 0
                && m.uplink.thumbs_sent.load(Ordering::Relaxed) >= made)
                .then_some(made)
        },
    )
    .await;
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(30),
        "every thumbnail made",
        |s| distinct(&thumbs(s)).len() as u64 >= made,
    )
    .await;
    let all = distinct(&thumbs(&seen));
    assert_eq!(all.len() as u64, made, "nothing lost, nothing extra");
    // No second of either camera is missing between the first and the last.
    for c in ["bow", "mast"] {
        let secs: Vec<i64> = all
            .keys()
            .filter(|(cam, _)| cam == c)
            .map(|(_, ns)| ns / 1_000_000_000)
            .collect();
        let span = secs.last().unwrap() - secs.first().unwrap() + 1;
        assert_eq!(secs.len() as i64, span, "{c}: a gap in {secs:?}");
    }
    // After the restart the newest came first: the backlog (thumbnails
    // made before the restart: captured 5 s before it, as the thumbnailer
    // works 3 s behind capture) arrives newest to oldest. (Thumbnails
    // published before the stop may still come first, from the broker's
    // queue for the subscriber: they are older than the outage.)
    let after: Vec<&Thumb> = thumbs(&seen[before_restart..]);
    let order: Vec<(i64, &str)> = after
        .iter()
        .map(|t| {
            (
                (t.meta.captured_at_ns - restarted_at_ns) / 1_000_000,
                t.meta.camera.as_str(),
            )
        })
        .collect();
    let seen_before = thumbs(&seen[..before_restart])
        .iter()
        .map(|t| t.meta.captured_at_ns)
        .max()
        .unwrap();
    // A thumbnail in flight when the broker went is sent again at once,
    // maybe twice (its first publish unacked): not part of the order.
    let resent = |t: &&Thumb| {
        after
            .iter()
            .filter(|o| {
                o.meta.camera == t.meta.camera && o.meta.captured_at_ns == t.meta.captured_at_ns
            })
            .count()
            > 1
    };
    let backlog: Vec<i64> = after
        .iter()
        .filter(|t| !resent(t))
        .map(|t| t.meta.captured_at_ns)
        .filter(|ns| *ns > seen_before && *ns < restarted_at_ns - 5_000_000_000)
        .collect();
    assert!(backlog.len() >= 8, "{order:?}");
    assert!(
        backlog.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {order:?}"
    );
    assert_eq!(m.uplink.thumbs_thinned.load(Ordering::Relaxed), 0);
    agent.shutdown().await.unwrap();
}

fn now_ns() -> i64 {
    seaframe_wire::timestamp::Timestamp::now().unix_nanos()
}

/// Thumbnails by (camera, capture time): the shore's unique key.
fn distinct<'a>(thumbs: &[&'a Thumb]) -> BTreeMap<(String, i64), &'a Thumb> {
    thumbs
        .iter()
        .map(|t| ((t.meta.camera.to_string(), t.meta.captured_at_ns), *t))
        .collect()
}
