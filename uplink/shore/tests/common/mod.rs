//! What the shore's integration tests share: real thumbnails (a small real
//! JPEG in a real envelope), an in-process shore on a port-0 listener, an
//! MQTT publisher that waits for its PUBACKs, the index backends to run a
//! story against (SQLite always, PostgreSQL when `SEAFRAME_TEST_PG_URL` is
//! set), a wait on an observable condition (never a blind sleep), and the
//! API token of an admin for every shore started here.
#![allow(dead_code, clippy::unwrap_used)]

pub mod s3;
pub mod sse;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_shore::adapters::config::{Config, Secret};
use seaframe_shore::adapters::index::{Index, ThumbPage, ThumbQuery};
use seaframe_shore::app::Shore;
use seaframe_shore::base::auth::role::Role;
use seaframe_shore::services::auth::accounts;
use seaframe_wire::{Thumb, ThumbPosition};

/// A real (tiny) JPEG with a pattern that depends on `seed`.
pub fn jpeg(seed: u8) -> Vec<u8> {
    let (w, h) = (16u16, 8u16);
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| (i as u8).wrapping_mul(seed | 1))
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

pub const T0_NS: i64 = 1_764_460_800_000_000_000;

pub fn thumb(vessel: &str, camera: &str, captured_at_ns: i64) -> Thumb {
    let position = ThumbPosition {
        speed_kn: Some(12.5),
        course_deg: Some(270.0),
        fix_age_ms: 250,
        ..seaframe_testkit::thumb_position(59.5, 10.25)
    };
    let jpeg = jpeg((captured_at_ns % 251) as u8);
    seaframe_testkit::thumb(vessel, camera, captured_at_ns, (16, 8), position, jpeg)
}

pub fn thumb_topic(vessel: &str, camera: &str) -> String {
    format!("seaframe/v1/{vessel}/thumb/{camera}")
}

/// A shore config for a test broker, keeping everything under `dir`.
pub fn config(broker_url: &str, dir: &Path, client_id: &str, index_url: Option<&str>) -> Config {
    let mut c = Config::from_toml(
        &format!("[mqtt]\nurl = \"{broker_url}\"\nclient_id = \"{client_id}\"\n"),
        "test",
    )
    .unwrap();
    c.data_dir = dir.to_owned();
    c.index.url = index_url.map(Secret::new);
    c
}

/// Starts a shore on a port-0 listener and waits until it is subscribed.
/// It gets an admin account whose API token [`get`], [`get_json`] and
/// [`token`] use (every endpoint but `/healthz` needs one).
pub async fn start(cfg: Config) -> Shore {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shore = Shore::start(cfg, listener).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), shore.subscribed())
        .await
        .expect("the shore subscribes");
    admit(&shore).await;
    shore
}

/// Gives the test an admin account on `shore`, whose API token [`get`],
/// [`get_json`] and [`token`] then use.
pub async fn admit(shore: &Shore) {
    let token = account_token(
        &*shore.index,
        &format!("test-admin-{}", shore.addr.port()),
        Role::Admin,
    )
    .await;
    remember_token(shore.addr, token);
}

/// Adds an account (a random password) and returns a new API token of it.
pub async fn account_token(index: &dyn Index, name: &str, role: Role) -> String {
    accounts::add(index, name, role, None).await.unwrap();
    accounts::new_token(index, name).await.unwrap()
}

fn tokens() -> &'static Mutex<HashMap<SocketAddr, String>> {
    static TOKENS: OnceLock<Mutex<HashMap<SocketAddr, String>>> = OnceLock::new();
    TOKENS.get_or_init(Mutex::default)
}

/// The token requests to the API at `addr` are sent with.
pub fn remember_token(addr: SocketAddr, token: String) {
    tokens().lock().unwrap().insert(addr, token);
}

/// The admin token of the shore at `addr` (started by [`start`]).
pub fn token(addr: SocketAddr) -> String {
    tokens()
        .lock()
        .unwrap()
        .get(&addr)
        .cloned()
        .expect("a shore started by common::start")
}

/// GET `url` (`http://<shore addr>/…`) with the shore's admin token.
pub async fn get(url: &str) -> reqwest::Response {
    let u = url::Url::parse(url).unwrap();
    let addr = u.socket_addrs(|| None).unwrap()[0];
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token(addr))
        .send()
        .await
        .unwrap()
}

/// Waits until `cond` holds (checked every 20 ms), failing after `secs`.
pub async fn until<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An MQTT client whose event loop runs on its own task; counts PUBACKs and
/// hands received publishes to a channel.
pub struct Publisher {
    pub client: AsyncClient,
    pub acked: Arc<AtomicU64>,
    pub received: tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>,
    pub connected: tokio::sync::watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    pub async fn connect(port: u16, client_id: &str, credentials: Option<(&str, &str)>) -> Self {
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_max_packet_size(8 << 20, 8 << 20)
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(100)
            .set_request_channel_capacity(1000);
        if let Some((u, p)) = credentials {
            opts.set_credentials(u, p);
        }
        let (client, mut eventloop) = AsyncClient::new(opts, 1000);
        let acked = Arc::new(AtomicU64::new(0));
        let (tx, received) = tokio::sync::mpsc::unbounded_channel();
        let (ctx, connected) = tokio::sync::watch::channel(false);
        let counter = acked.clone();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        ctx.send_replace(true);
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(p);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let mut c = connected.clone();
        tokio::time::timeout(Duration::from_secs(10), c.wait_for(|v| *v))
            .await
            .expect("publisher connects")
            .unwrap();
        Self {
            client,
            acked,
            received,
            connected,
            task,
        }
    }

    /// Publishes at QoS 1 and waits for the broker's PUBACK.
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) {
        self.publish_retained(topic, payload, false).await;
    }

    pub async fn publish_retained(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        let before = self.acked.load(Ordering::SeqCst);
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .unwrap();
        let acked = self.acked.clone();
        until(10, "a PUBACK", || {
            let acked = acked.clone();
            async move { acked.load(Ordering::SeqCst) > before }
        })
        .await;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The index URLs a story runs against: SQLite in `dir` always; a fresh
/// PostgreSQL database when `SEAFRAME_TEST_PG_URL` is set (dropped by
/// [`PgDb`] on drop).
pub async fn index_urls(dir: &Path, name: &str) -> Vec<(String, Option<PgDb>)> {
    let mut out = vec![(format!("sqlite:{}", dir.join("index.db").display()), None)];
    match std::env::var("SEAFRAME_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => {
            let db = PgDb::create(&admin, name).await;
            out.push((db.url.clone(), Some(db)));
        }
        _ => eprintln!("NOTE: SEAFRAME_TEST_PG_URL is not set; PostgreSQL not tested ({name})"),
    }
    out
}

/// A fresh PostgreSQL database for a story that needs PostgreSQL (several
/// instances on one index), or `None` with a printed notice when
/// `SEAFRAME_TEST_PG_URL` is not set (the test then passes without running).
pub async fn pg_only(name: &str) -> Option<PgDb> {
    match std::env::var("SEAFRAME_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => Some(PgDb::create(&admin, name).await),
        _ => {
            eprintln!(
                "NOTE: SEAFRAME_TEST_PG_URL is not set; {name} needs PostgreSQL and was skipped \
                 (run it with scripts/private-postgres cargo test -p seaframe-shore --test …)"
            );
            None
        }
    }
}

/// A uniquely named PostgreSQL database, dropped on drop.
pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDb {
    pub async fn create(admin: &str, test: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "seaframe_test_{}_{}_{}",
            test.replace('-', "_"),
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .expect("SEAFRAME_TEST_PG_URL connects");
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
        let mut url = url::Url::parse(admin).unwrap();
        url.set_path(&format!("/{name}"));
        Self {
            url: url.to_string(),
            admin: admin.to_owned(),
            name,
        }
    }
}

impl PgDb {
    /// Ends every server process connected to this database (what a restart
    /// of PostgreSQL does to its clients); returns how many there were.
    pub async fn terminate_backends(&self) -> i64 {
        let (client, conn) = tokio_postgres::connect(&self.admin, tokio_postgres::NoTls)
            .await
            .expect("SEAFRAME_TEST_PG_URL connects");
        let task = tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                &[&self.name],
            )
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
        row.get(0)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Drop in a thread of its own: we may be inside a runtime.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

pub async fn get_json(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let r = get(&format!("http://{addr}{path}")).await;
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// Every thumbnail row of `index`, oldest first, in one page (at most
/// 10 000: a test's whole fleet).
pub async fn all_thumbs(index: &dyn Index) -> ThumbPage {
    let page = index
        .thumbs(&ThumbQuery {
            vessel: None,
            camera: None,
            from_ns: i64::MIN,
            to_ns: i64::MAX,
            place: None,
            after: None,
            limit: 10_000,
        })
        .await
        .unwrap();
    assert!(page.next.is_none(), "more than one page of thumbnails");
    page
}
