//! Pushed configs that could hurt a vessel, over TLS to a real mosquitto
//! with certificates made for the test: a partial push keeps every other
//! key; a push naming a missing or garbage CA file is rejected before the
//! ack; a push with a CA that parses but is the wrong one is applied, fails
//! to connect and is rolled back within the confirm window, after which
//! the link is back and the rollback acked; capture never stops; and every
//! restart comes back with the right config in effect. An overlay whose
//! file vanished is set aside at start, never a crash.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{camera, get_json, wait_for};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_agent::app::Agent;
use seaframe_testkit::{MosquittoServer, TestPki};
use seaframe_wire::message::{AckStatus, ConfigAck, ConfigPush, Status};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const VESSEL: &str = "test-vessel";
/// The shortest window the config allows.
const CONFIRM_S: u64 = 10;

/// A broker with a plain listener (the test's own "shore" client) and a
/// TLS one (the agent's), and the PKI behind it.
struct Link {
    broker: MosquittoServer,
    tls_port: u16,
    pki: TestPki,
    _certs: tempfile::TempDir,
}

impl Link {
    fn start() -> Self {
        let certs = tempfile::tempdir().unwrap();
        let pki = TestPki::make(certs.path()).unwrap();
        let (broker, tls_port) = pki.broker().unwrap();
        Self {
            broker,
            tls_port,
            pki,
            _certs: certs,
        }
    }
}

/// What the shore sees of the vessel.
#[derive(Debug)]
enum Seen {
    Status(Box<Status>),
    Ack(ConfigAck),
}

async fn shore(broker: &MosquittoServer) -> (AsyncClient, mpsc::UnboundedReceiver<Seen>) {
    let mut o = MqttOptions::new("test-shore", "127.0.0.1", broker.port());
    o.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut events) = AsyncClient::new(o, 64);
    for topic in ["status", "config/ack"] {
        client
            .subscribe(format!("seaframe/v1/{VESSEL}/{topic}"), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let seen = if p.topic.ends_with("/status") {
                    serde_json::from_slice(&p.payload).map(|s| Seen::Status(Box::new(s)))
                } else {
                    serde_json::from_slice(&p.payload).map(Seen::Ack)
                };
                if tx.send(seen.unwrap()).is_err() {
                    break;
                }
            }
        }
    });
    (client, rx)
}

async fn push(client: &AsyncClient, version: u64, config: Value) {
    let payload = serde_json::to_vec(&ConfigPush { version, config }).unwrap();
    client
        .publish(
            format!("seaframe/v1/{VESSEL}/config"),
            QoS::AtLeastOnce,
            true,
            payload,
        )
        .await
        .unwrap();
}

/// Waits for the ack of `version` (other messages are passed over).
async fn ack_of(
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    version: u64,
    within: Duration,
) -> ConfigAck {
    tokio::time::timeout(within, async {
        loop {
            if let Some(Seen::Ack(a)) = rx.recv().await
                && a.version >= version
            {
                assert_eq!(a.version, version, "an ack out of order");
                return a;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no ack of version {version} within {within:?}"))
}

async fn online(rx: &mut mpsc::UnboundedReceiver<Seen>, within: Duration) {
    tokio::time::timeout(within, async {
        loop {
            if let Some(Seen::Status(s)) = rx.recv().await
                && s.health.is_some()
            {
                return;
            }
        }
    })
    .await
    .expect("the vessel online");
}

fn operator_file(dir: &Path, link: &Link, ca: &Path) -> String {
    format!(
        r#"# the operator's own file: comments and all
vessel = "{VESSEL}"
data_dir = "{}"
[api]
listen = "127.0.0.1:0"
{}
[retention]
max_age_s = 86400
retain_bytes = 2000000000
min_free_bytes = 1000
[uplink]
mqtt_url = "mqtts://127.0.0.1:{}"
ca_file = "{}"
budget_bytes_per_s = 50000
link_confirm_s = {CONFIRM_S}
"#,
        dir.join("data").display(),
        camera("bow", "testpattern", 4.0, 160, 120),
        link.tls_port,
        ca.display()
    )
}

async fn start(path: &Path) -> (Agent, String) {
    let agent = Agent::start(seaframe_agent::adapters::config::files::load(path).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}/api/v1", agent.api_addr());
    (agent, base)
}

/// `GET /config`'s value and origin of `key`.
async fn key(base: &str, key: &str) -> (Value, String) {
    let (_, c) = get_json(&format!("{base}/config")).await;
    let k = &c["config"][key];
    (
        k["value"].clone(),
        k["from"].as_str().unwrap_or("?").to_owned(),
    )
}

fn stored(agent: &Agent) -> u64 {
    agent
        .metrics()
        .camera(&"bow".parse().unwrap())
        .stored
        .load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_are_merged_checked_and_a_bad_link_is_rolled_back() {
    let link = Link::start();
    let (client, mut rx) = shore(&link.broker).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, operator_file(dir.path(), &link, &link.pki.ca())).unwrap();
    let file_before = std::fs::read(&path).unwrap();
    let (agent, base) = start(&path).await;
    online(&mut rx, Duration::from_secs(20)).await;

    // 1. A partial push changes one key and keeps every other.
    let retention = json!({"max_age_s": 3600});
    push(&client, 1, json!({"retention": retention})).await;
    let a = ack_of(&mut rx, 1, Duration::from_secs(10)).await;
    assert_eq!((a.status, a.error), (AckStatus::Applied, None));
    assert_eq!(
        key(&base, "retention.max_age_s").await,
        (json!(3600), "push 1".into())
    );
    assert_eq!(
        key(&base, "retention.retain_bytes").await,
        (json!(2000000000), "file".into())
    );
    assert_eq!(
        key(&base, "retention.min_free_bytes").await,
        (json!(1000), "file".into())
    );
    assert_eq!(
        key(&base, "uplink.budget_bytes_per_s").await,
        (json!(50000), "file".into())
    );

    // 2. A CA file that is not there, or not PEM: rejected before the ack.
    push(
        &client,
        2,
        json!({"retention": retention, "uplink": {"ca_file": "/nonexistent/ca.pem"}}),
    )
    .await;
    let a = ack_of(&mut rx, 2, Duration::from_secs(10)).await;
    assert_eq!(a.status, AckStatus::Rejected);
    let error = a.error.unwrap();
    assert!(
        error.contains("uplink.ca_file: /nonexistent/ca.pem: no such file"),
        "{error}"
    );
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    push(
        &client,
        3,
        json!({"retention": retention, "uplink": {"ca_file": garbage}}),
    )
    .await;
    let a = ack_of(&mut rx, 3, Duration::from_secs(10)).await;
    assert_eq!(a.status, AckStatus::Rejected);
    assert!(
        a.error.as_deref().unwrap_or("").contains("not PEM"),
        "{a:?}"
    );
    assert_eq!(key(&base, "uplink.ca_file").await.1, "file");

    // 3. A CA that parses but is the wrong one: applied, on trial, the
    //    broker unreachable with it, rolled back within the window.
    let before_trial = stored(&agent);
    let pushed_at = std::time::Instant::now();
    push(
        &client,
        4,
        json!({"retention": retention, "uplink": {"ca_file": link.pki.other_ca()}}),
    )
    .await;
    let a = ack_of(&mut rx, 4, Duration::from_secs(CONFIRM_S + 30)).await;
    let took = pushed_at.elapsed();
    assert_eq!(a.status, AckStatus::RolledBack, "{a:?}");
    let error = a.error.unwrap();
    assert!(
        error.contains(&format!(
            "not reached with the pushed link settings within {CONFIRM_S} s"
        )),
        "{error}"
    );
    assert!(error.contains("back to config version 1"), "{error}");
    assert!(
        took >= Duration::from_secs(CONFIRM_S),
        "rolled back after {took:?}"
    );
    // The ack came over the restored link; capture went on throughout.
    let during = stored(&agent) - before_trial;
    assert!(
        during as f64 >= 4.0 * took.as_secs_f64() * 0.5,
        "{during} frames stored in {took:?} at 4 fps"
    );
    assert_eq!(
        agent
            .metrics()
            .uplink
            .configs_rolled_back
            .load(Ordering::Relaxed),
        1
    );
    assert_eq!(
        key(&base, "uplink.ca_file").await,
        (json!(link.pki.ca()), "file".into())
    );
    assert_eq!(
        key(&base, "retention.max_age_s").await,
        (json!(3600), "push 1".into())
    );
    let (_, status) = get_json(&format!("{base}/status")).await;
    assert_eq!(status["config"]["pushed_version"], 1);
    assert_eq!(status["config"]["on_trial"], false);

    // 4. A restart comes back with the config in effect; the retained push
    //    of version 4 is not handled again: the next ack is version 5's.
    agent.shutdown().await.unwrap();
    let (agent, base) = start(&path).await;
    assert_eq!(
        key(&base, "retention.max_age_s").await,
        (json!(3600), "push 1".into())
    );
    assert_eq!(key(&base, "uplink.ca_file").await.1, "file");
    online(&mut rx, Duration::from_secs(20)).await;
    push(&client, 5, json!({"retention": {"max_age_s": 7200}})).await;
    let a = ack_of(&mut rx, 5, Duration::from_secs(10)).await;
    assert_eq!(a.status, AckStatus::Applied);
    let (_, c) = get_json(&format!("{base}/config")).await;
    let outcomes: Vec<(u64, &str)> = c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["version"].as_u64().unwrap(),
                h["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (5, "applied"),
            (4, "rolled_back"),
            (4, "on_trial"),
            (3, "rejected"),
            (2, "rejected"),
            (1, "applied")
        ]
    );
    agent.shutdown().await.unwrap();
    let (agent, base) = start(&path).await;
    assert_eq!(
        key(&base, "retention.max_age_s").await,
        (json!(7200), "push 5".into())
    );
    // The operator's file was never written.
    assert_eq!(std::fs::read(&path).unwrap(), file_before);
    assert!(wait_stored(&agent).await);
    agent.shutdown().await.unwrap();
}

async fn wait_stored(agent: &Agent) -> bool {
    wait_for("a frame stored", Duration::from_secs(10), || async {
        (stored(agent) > 0).then_some(true)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_link_whose_file_vanished_is_set_aside_at_start() {
    let link = Link::start();
    let (client, mut rx) = shore(&link.broker).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, operator_file(dir.path(), &link, &link.pki.ca())).unwrap();
    let (agent, base) = start(&path).await;
    online(&mut rx, Duration::from_secs(20)).await;
    // A copy of the right CA elsewhere: a link change that proves itself.
    let copy = dir.path().join("ca-copy.pem");
    std::fs::copy(link.pki.ca(), &copy).unwrap();
    push(&client, 1, json!({"uplink": {"ca_file": copy}})).await;
    let a = ack_of(&mut rx, 1, Duration::from_secs(CONFIRM_S + 20)).await;
    assert_eq!((a.status, a.error), (AckStatus::Applied, None));
    assert_eq!(
        key(&base, "uplink.ca_file").await,
        (json!(copy), "push 1".into())
    );
    agent.shutdown().await.unwrap();

    // The file it names goes away: at start the overlay is set aside, the
    // agent runs on the operator's file, reaches the broker and says why.
    std::fs::remove_file(&copy).unwrap();
    let (agent, base) = start(&path).await;
    assert_eq!(
        key(&base, "uplink.ca_file").await,
        (json!(link.pki.ca()), "file".into())
    );
    let (_, status) = get_json(&format!("{base}/status")).await;
    let set_aside = status["config"]["set_aside"][0].as_str().unwrap_or("");
    assert!(
        set_aside.contains("pushed config 1 no longer loads"),
        "{status}"
    );
    assert!(set_aside.contains("no such file"), "{status}");
    online(&mut rx, Duration::from_secs(20)).await;
    assert!(wait_stored(&agent).await);
    agent.shutdown().await.unwrap();
}
