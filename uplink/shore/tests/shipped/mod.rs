//! The broker as shipped (`mosquitto/mosquitto.conf` and
//! `mosquitto/dynamic-security.json`, loaded from the repository, only its
//! paths, port and log destination put in the test's own), with a PKI made
//! by `seaframe-shore pki-init` and vessels enrolled by `seaframe-shore
//! enroll` (the binary, as an operator runs it); and an MQTT client over
//! TLS with a vessel's certificate that records what the broker answers.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};
use seaframe_shore::adapters::config::Config;
use seaframe_testkit::MosquittoServer;

const CONF: &str = include_str!("../../mosquitto/mosquitto.conf");
const DYNSEC: &str = include_str!("../../mosquitto/dynamic-security.json");
const BIN: &str = env!("CARGO_BIN_EXE_seaframe-shore");

/// The shipped broker and the fleet's PKI.
pub struct ShippedBroker {
    pub broker: MosquittoServer,
    pub pki: PathBuf,
    /// Enrolled vessels' files: `<enrolled>/<vessel>/`.
    pub enrolled: PathBuf,
    _files: tempfile::TempDir,
}

/// Replaces `from` (which must be in `text`) by `to`.
fn put(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the shipped config no longer has {from:?}"
    );
    text.replace(from, to)
}

fn dynsec_plugin() -> String {
    let found = std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("mosquitto_dynamic_security.so"))
        .find(|p| p.exists());
    found
        .expect("mosquitto_dynamic_security.so (apt-get install mosquitto, 2.0 or later)")
        .display()
        .to_string()
}

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "seaframe-shore {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl ShippedBroker {
    pub fn start() -> Self {
        let files = tempfile::tempdir().unwrap();
        let pki = files.path().join("pki");
        run(&[
            "pki-init",
            "--dir",
            pki.to_str().unwrap(),
            "--broker-host",
            "127.0.0.1",
        ]);
        let plugin = dynsec_plugin();
        let pki_dir = pki.clone();
        let broker = MosquittoServer::start_config(|port, dir| {
            std::fs::write(dir.join("dynamic-security.json"), DYNSEC).unwrap();
            let mut conf = put(CONF, "listener 8883", &format!("listener {port} 127.0.0.1"));
            conf = put(
                &conf,
                "/etc/mosquitto/seaframe/",
                &format!("{}/", pki_dir.display()),
            );
            conf = put(&conf, "/var/lib/mosquitto/", &format!("{}/", dir.display()));
            conf = put(
                &conf,
                "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
                &plugin,
            );
            conf = put(
                &conf,
                "log_dest file /var/log/mosquitto/mosquitto.log",
                "log_dest stderr",
            );
            format!("{conf}\nuser {}\n", MosquittoServer::test_user())
        })
        .unwrap();
        Self {
            broker,
            pki,
            enrolled: files.path().join("enrolled"),
            _files: files,
        }
    }

    /// `mqtts://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.broker.port())
    }

    /// `seaframe-shore enroll <vessel>`: files and the broker's role.
    pub fn enroll(&self, vessel: &str) -> String {
        run(&[
            "enroll",
            vessel,
            "--pki",
            self.pki.to_str().unwrap(),
            "--broker-url",
            &self.url(),
            "--out",
            self.enrolled.to_str().unwrap(),
        ])
    }

    /// The shore's `[mqtt]`: TLS with the shore's certificate.
    pub fn shore_config(&self, mut cfg: Config) -> Config {
        cfg.mqtt.url = self.url();
        cfg.mqtt.ca_file = Some(self.pki.join("ca.pem"));
        cfg.mqtt.cert_file = Some(self.pki.join("shore.pem"));
        cfg.mqtt.key_file = Some(self.pki.join("shore.key"));
        cfg
    }

    /// A vessel's certificate and key, as enroll wrote them.
    pub fn vessel_files(&self, vessel: &str) -> (PathBuf, PathBuf) {
        let dir = self.enrolled.join(vessel);
        (
            dir.join(format!("{vessel}.pem")),
            dir.join(format!("{vessel}.key")),
        )
    }

    /// A client with `vessel`'s certificate, asking for `client_id`.
    pub async fn vessel_client(&self, vessel: &str, client_id: &str) -> TlsClient {
        let (cert, key) = self.vessel_files(vessel);
        TlsClient::connect(
            self.broker.port(),
            client_id,
            &self.pki.join("ca.pem"),
            Some((&cert, &key)),
        )
        .await
    }
}

/// An MQTT client over TLS whose event loop runs on its own task: counts
/// connections, PUBACKs and connection errors, keeps SUBACK codes and
/// received publishes.
pub struct TlsClient {
    pub client: AsyncClient,
    pub acked: Arc<AtomicU64>,
    pub connects: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
    pub subacks: tokio::sync::mpsc::UnboundedReceiver<Vec<SubscribeReasonCode>>,
    pub received: tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsClient {
    /// Connects (and waits for the CONNACK: panics if none in 10 s).
    pub async fn connect(
        port: u16,
        client_id: &str,
        ca: &Path,
        client: Option<(&Path, &Path)>,
    ) -> Self {
        let c = Self::start(port, client_id, ca, client);
        let connects = c.connects.clone();
        crate::common::until(10, "a CONNACK", || {
            let connects = connects.clone();
            async move { connects.load(Ordering::SeqCst) > 0 }
        })
        .await;
        c
    }

    /// Starts without waiting for a connection (which may never come).
    pub fn start(port: u16, client_id: &str, ca: &Path, client: Option<(&Path, &Path)>) -> Self {
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_max_packet_size(8 << 20, 8 << 20)
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(100);
        opts.set_transport(
            seaframe_shore::adapters::tls::transport_from(Some(ca), client).unwrap(),
        );
        let (client, mut eventloop) = AsyncClient::new(opts, 1000);
        let acked = Arc::new(AtomicU64::new(0));
        let connects = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let (sub_tx, subacks) = tokio::sync::mpsc::unbounded_channel();
        let (tx, received) = tokio::sync::mpsc::unbounded_channel();
        let (a, c, e) = (acked.clone(), connects.clone(), errors.clone());
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        a.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::SubAck(s))) => {
                        let _ = sub_tx.send(s.return_codes);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(p);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        e.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        Self {
            client,
            acked,
            connects,
            errors,
            subacks,
            received,
            task,
        }
    }

    /// Subscribes and returns the broker's answer.
    pub async fn subscribe(&mut self, filter: &str) -> SubscribeReasonCode {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        let codes = tokio::time::timeout(Duration::from_secs(10), self.subacks.recv())
            .await
            .expect("a SUBACK")
            .unwrap();
        codes[0]
    }

    /// Publishes at QoS 1 and waits for the broker's PUBACK.
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) {
        let before = self.acked.load(Ordering::SeqCst);
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
        let acked = self.acked.clone();
        crate::common::until(10, "a PUBACK", || {
            let acked = acked.clone();
            async move { acked.load(Ordering::SeqCst) > before }
        })
        .await;
    }
}

impl Drop for TlsClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}
