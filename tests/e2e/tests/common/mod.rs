//! What the end-to-end tests share: an in-process shore on a port-0
//! listener against a test broker, a real agent's config (test-pattern
//! cameras, a GPS track replayed from `tests/data/nmea/`, uplink to the broker)
//! and small HTTP helpers (a shore's admin token sent along).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use seaframe_shore::app::Shore;
use seaframe_shore::base::auth::role::Role;
use seaframe_shore::services::auth::accounts;
use seaframe_testkit::nmea_log;
use serde_json::Value;

/// GET `url` as JSON; a request to a shore started by [`start_shore`]
/// carries its admin's API token (every shore endpoint but `/healthz`
/// needs one), any other (the agent's API) none.
pub async fn get(url: &str) -> Value {
    let mut req = reqwest::Client::new().get(url);
    if let Some(token) = shore_token_for(url) {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

fn shore_tokens() -> &'static Mutex<HashMap<SocketAddr, String>> {
    static TOKENS: OnceLock<Mutex<HashMap<SocketAddr, String>>> = OnceLock::new();
    TOKENS.get_or_init(Mutex::default)
}

/// The admin token of the shore `url` points at, if it is one of ours.
pub fn shore_token_for(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let addr: SocketAddr = rest.split('/').next()?.parse().ok()?;
    shore_tokens().lock().unwrap().get(&addr).cloned()
}

/// Adds an account to `shore` with `password` (at least 12 characters).
pub async fn add_account(shore: &Shore, name: &str, role: Role, password: &str) {
    accounts::add(&*shore.index, name, role, Some(password.to_owned()))
        .await
        .unwrap();
}

/// Starts a shore (data in `dir`, `extra` appended to its TOML), waits
/// until it is subscribed, and gives it an admin whose token [`get`] sends.
pub async fn start_shore(broker_url: &str, dir: &Path, client_id: &str, extra: &str) -> Shore {
    let cfg = seaframe_shore::adapters::config::Config::from_toml(
        &format!(
            "data_dir = \"{}\"\n[mqtt]\nurl = \"{broker_url}\"\nclient_id = \"{client_id}\"\n{extra}",
            dir.display(),
        ),
        "test",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shore = Shore::start(cfg, listener).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), shore.subscribed())
        .await
        .unwrap();
    let name = format!("e2e-admin-{}", shore.addr.port());
    accounts::add(&*shore.index, &name, Role::Admin, None)
        .await
        .unwrap();
    let token = accounts::new_token(&*shore.index, &name).await.unwrap();
    shore_tokens().lock().unwrap().insert(shore.addr, token);
    shore
}

/// A real agent's config: `vessel`, data in `dir`, a GPS track
/// (`ais-nmea.log`) replayed at real speed, `cameras` (`[[cameras]]` tables), uplink
/// to `broker_url`.
pub fn agent_config(
    vessel: &str,
    dir: &Path,
    broker_url: &str,
    cameras: &str,
) -> seaframe_agent::base::config::Config {
    let nmea = nmea_log("ais-nmea.log");
    let text = format!(
        r#"vessel = "{vessel}"
data_dir = "{}"
[api]
listen = "127.0.0.1:0"
[gps]
source = "replay:{}?rate=1"
{cameras}
[uplink]
mqtt_url = "{broker_url}"
"#,
        dir.display(),
        nmea.display(),
    );
    seaframe_agent::base::config::Config::from_toml(&text, "test").unwrap()
}

/// Unix ms of an RFC 3339 UTC time with nanoseconds ("…T08:00:01.250000000Z").
pub fn unix_ms(ts: &str) -> i64 {
    seaframe_wire::timestamp::Timestamp::parse_user(ts)
        .unwrap()
        .unix_millis()
}
