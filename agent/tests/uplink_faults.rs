//! The uplink when things go wrong: the agent SIGKILLed with a backlog, the
//! broker SIGKILLed while publishes are in flight, a byte budget on the
//! drain, and TLS to the broker.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{camera, metric, wait_for};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::Config;
use seaframe_testkit::{Child, MosquittoServer, TestPki, free_port};
use seaframe_wire::Thumb;
use tokio::sync::mpsc;

fn config_text(data_dir: &Path, api_port: u16, cameras: &str, uplink: &str) -> String {
    format!(
        "vessel = \"test-vessel\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{api_port}\"\n{cameras}\n[uplink]\nthumb_width_px = 80\n{uplink}\n",
        data_dir.display()
    )
}

/// Thumbnails of test-vessel as they arrive, with their arrival time.
async fn thumbs_from(port: u16, id: &str) -> mpsc::UnboundedReceiver<(Instant, Thumb)> {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut eventloop) = AsyncClient::new(o, 100);
    client
        .subscribe("seaframe/v1/test-vessel/thumb/+", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (subscribed_tx, mut subscribed) = mpsc::channel(1);
    tokio::spawn(async move {
        let _client = client;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed_tx.try_send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx
                        .send((Instant::now(), Thumb::decode(&p.payload).unwrap()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("test subscriber: {e}"),
            }
        }
    });
    subscribed.recv().await.unwrap();
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_with_a_backlog_sends_all_of_it_after_restart() {
    let mut broker = MosquittoServer::start().unwrap();
    broker.stop();
    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port().unwrap();
    let path = dir.path().join("agent.toml");
    let cams =
        camera("bow", "testpattern", 4.0, 160, 120) + &camera("mast", "testpattern", 4.0, 160, 120);
    let uplink = format!("mqtt_url = \"{}\"", broker.url());
    std::fs::write(
        &path,
        config_text(&dir.path().join("data"), api_port, &cams, &uplink),
    )
    .unwrap();
    let run = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seaframe-agent"));
        cmd.arg("run")
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "info");
        Child::spawn_until(cmd, "seaframe-agent", "api listening")
            .unwrap()
            .0
    };
    let mut agent = run();
    let metrics_url = format!("http://127.0.0.1:{api_port}/metrics");
    wait_for(
        "a backlog of 10 thumbnails",
        Duration::from_secs(40),
        || async {
            let text = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
            (metric(&text, "seaframe_uplink_outbox_backlog")? >= 10.0).then_some(())
        },
    )
    .await;
    agent.kill();
    // What the outbox held at the kill.
    let conn = rusqlite::Connection::open(dir.path().join("data/outbox/outbox.db")).unwrap();
    let backlog: BTreeSet<(String, i64)> = conn
        .prepare("SELECT camera, captured_at_ns FROM thumbs")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(conn);
    assert!(backlog.len() >= 10, "{}", backlog.len());

    broker.restart().unwrap();
    let mut rx = thumbs_from(broker.port(), "kill-shore").await;
    // The new agent adopts the Redis its SIGKILLed predecessor left.
    let mut agent = run();
    let mut received: Vec<(String, i64)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !backlog.iter().all(|k| received.contains(k)) {
        let (_, t) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "backlog not all sent: {} of {}",
                    backlog.iter().filter(|k| received.contains(k)).count(),
                    backlog.len()
                )
            })
            .unwrap();
        received.push((t.meta.camera.to_string(), t.meta.captured_at_ns));
    }
    let of_backlog: Vec<_> = received.iter().filter(|k| backlog.contains(k)).collect();
    assert_eq!(
        of_backlog.len(),
        backlog.len(),
        "each backlog thumbnail sent once"
    );
    // An orderly stop also stops the adopted Redis: nothing is left running.
    agent.terminate(Duration::from_secs(30));
    let data = dir.path().join("data").display().to_string();
    wait_for(
        "the adopted redis-server stopped",
        Duration::from_secs(10),
        || async { (!processes_mentioning(&data)).then_some(()) },
    )
    .await;
}

/// Whether a running process has `text` in its command line.
fn processes_mentioning(text: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmd| String::from_utf8_lossy(&cmd).contains(text))
}

fn agent_config(data_dir: &Path, cameras: &str, uplink: &str) -> Config {
    let text = config_text(data_dir, 0, cameras, uplink);
    Config::from_toml(&text, "test").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_with_publishes_in_flight_is_reconnected_to() {
    // No persistence: the broker comes back knowing nothing of the session.
    let mut broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cams =
        camera("bow", "testpattern", 8.0, 160, 120) + &camera("mast", "testpattern", 8.0, 160, 120);
    // Four thumbnails a second per camera: publishes are always in flight.
    let uplink = format!("mqtt_url = \"{}\"\nthumbs_per_s = 4.0", broker.url());
    let agent = Agent::start(agent_config(dir.path(), &cams, &uplink))
        .await
        .unwrap();
    let u = &agent.metrics().uplink;
    for round in 1..=3u64 {
        let sent = u.thumbs_sent.load(Ordering::Relaxed);
        wait_for(
            "thumbnails acknowledged",
            Duration::from_secs(30),
            || async { (u.thumbs_sent.load(Ordering::Relaxed) >= sent + 8).then_some(()) },
        )
        .await;
        broker.kill();
        broker.restart().unwrap();
        wait_for("a new session", Duration::from_secs(30), || async {
            (u.mqtt_connects.load(Ordering::Relaxed) > round).then_some(())
        })
        .await;
    }
    let sent = u.thumbs_sent.load(Ordering::Relaxed);
    wait_for(
        "sending again after the last kill",
        Duration::from_secs(30),
        || async { (u.thumbs_sent.load(Ordering::Relaxed) >= sent + 8).then_some(()) },
    )
    .await;
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_keeps_to_the_byte_budget() {
    let mut broker = MosquittoServer::start().unwrap();
    broker.stop();
    let dir = tempfile::tempdir().unwrap();
    let cams =
        camera("bow", "testpattern", 4.0, 320, 240) + &camera("mast", "testpattern", 4.0, 320, 240);
    const BUDGET: f64 = 3000.0;
    let uplink = format!(
        "mqtt_url = \"{}\"\nbudget_bytes_per_s = {BUDGET}\nthumb_width_px = 160",
        broker.url()
    );
    let text = config_text(dir.path(), 0, &cams, &uplink).replace("thumb_width_px = 80\n", "");
    let agent = Agent::start(Config::from_toml(&text, "test").unwrap())
        .await
        .unwrap();
    let u = &agent.metrics().uplink;
    wait_for(
        "a backlog of 20 thumbnails",
        Duration::from_secs(40),
        || async { (u.outbox_backlog.load(Ordering::Relaxed) >= 20).then_some(()) },
    )
    .await;
    agent.stop_capture();
    broker.restart().unwrap();
    let mut rx = thumbs_from(broker.port(), "budget-shore").await;
    let backlog = u.outbox_backlog.load(Ordering::Relaxed);
    let mut arrivals: Vec<(Instant, usize)> = Vec::new();
    while (arrivals.len() as u64) < backlog {
        let (at, t) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .unwrap()
            .unwrap();
        arrivals.push((at, t.encode().unwrap().len()));
    }
    let (first, last) = (arrivals[0].0, arrivals[arrivals.len() - 1].0);
    let elapsed_s = (last - first).as_secs_f64();
    // All but the last payload went out between the first and the last
    // arrival; a one-second burst is allowed on top of the rate.
    let bytes: usize = arrivals[..arrivals.len() - 1].iter().map(|(_, b)| b).sum();
    let rate = (bytes as f64 - BUDGET) / elapsed_s;
    println!(
        "drained {} thumbnails, {bytes} bytes in {elapsed_s:.1} s: {rate:.0} B/s over the burst (budget {BUDGET})",
        arrivals.len()
    );
    assert!(elapsed_s > 2.0, "{elapsed_s}");
    assert!(rate <= BUDGET * 1.1, "{rate:.0} B/s");
    assert!(
        bytes as f64 / elapsed_s >= BUDGET * 0.5,
        "the budget is used, not wasted"
    );
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_go_over_tls_to_a_broker_with_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    let pki = TestPki::make(certs.path()).unwrap();
    let (broker, tls_port) = pki.broker().unwrap();
    let mut rx = thumbs_from(broker.port(), "tls-shore").await;
    let dir = tempfile::tempdir().unwrap();
    let uplink = format!(
        "mqtt_url = \"mqtts://127.0.0.1:{tls_port}\"\nca_file = \"{}\"",
        pki.ca().display()
    );
    let agent = Agent::start(agent_config(
        dir.path(),
        &camera("bow", "testpattern", 4.0, 160, 120),
        &uplink,
    ))
    .await
    .unwrap();
    let (_, t) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.meta.camera.as_str(), "bow");
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_thins_the_full_outbox_and_counts_exactly() {
    let mut broker = MosquittoServer::start().unwrap();
    broker.stop();
    let dir = tempfile::tempdir().unwrap();
    // 2 cameras × 20 thumbnails a second at 320 px fill 1 MB in seconds.
    let cams = camera("bow", "testpattern", 20.0, 640, 480)
        + &camera("mast", "testpattern", 20.0, 640, 480);
    let uplink = format!(
        "mqtt_url = \"{}\"\nthumbs_per_s = 20.0\noutbox_max_bytes = 1000000",
        broker.url()
    );
    let text = config_text(dir.path(), 0, &cams, &uplink)
        .replace("thumb_width_px = 80\n", "thumb_width_px = 320\n");
    let agent = Agent::start(Config::from_toml(&text, "test").unwrap())
        .await
        .unwrap();
    let metrics = agent.metrics().clone();
    let u = &metrics.uplink;
    wait_for("the outbox thinned", Duration::from_secs(60), || async {
        (u.thumbs_thinned.load(Ordering::Relaxed) >= 50).then_some(())
    })
    .await;
    agent.stop_capture();
    agent.shutdown().await.unwrap();
    // Nothing was sent: every thumbnail made is in the outbox, thinned or
    // dropped; the outbox is within its bound.
    let conn = rusqlite::Connection::open(dir.path().join("outbox/outbox.db")).unwrap();
    let (left, bytes): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM thumbs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (left, bytes) = (left as u64, bytes as u64);
    let (made, thinned, dropped) = (
        u.thumbs_made.load(Ordering::Relaxed),
        u.thumbs_thinned.load(Ordering::Relaxed),
        u.thumbs_dropped.load(Ordering::Relaxed),
    );
    assert_eq!(
        made,
        left + thinned + dropped,
        "made {made}: left {left}, thinned {thinned}, dropped {dropped}"
    );
    assert!(bytes <= 1_000_000, "{bytes}");
    assert_eq!(u.thumbs_sent.load(Ordering::Relaxed), 0);
    // Thinning keeps the newest thumbnail of every camera-minute: each
    // camera's newest thumbnail is still there.
    for c in ["bow", "mast"] {
        let newest_left: i64 = conn
            .query_row(
                "SELECT MAX(captured_at_ns) FROM thumbs WHERE camera = ?1",
                [c],
                |r| r.get(0),
            )
            .unwrap();
        let progress: i64 = conn
            .query_row(
                "SELECT done_until_ns FROM progress WHERE camera = ?1",
                [c],
                |r| r.get(0),
            )
            .unwrap();
        assert!(progress - newest_left <= 1_000_000_000, "{c}: newest kept");
    }
}
