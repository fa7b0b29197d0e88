//! What the end-to-end tests share: an in-process shore on a port-0
//! listener against a test broker, a real agent's config (test-pattern
//! cameras, a GPS track replayed from `tests/data/nmea/`, uplink to the broker)
//! and small HTTP helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use seaframe_shore::app::Shore;
use seaframe_testkit::nmea_log;
use serde_json::Value;

pub async fn get(url: &str) -> Value {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// Starts a shore (data in `dir`, `extra` appended to its TOML) and waits
/// until it is subscribed.
pub async fn start_shore(broker_url: &str, dir: &Path, client_id: &str, extra: &str) -> Shore {
    let cfg = seaframe_shore::config::Config::from_toml(
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
) -> seaframe_agent::config::Config {
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
    seaframe_agent::config::Config::from_toml(&text, "test").unwrap()
}

/// Unix ms of an RFC 3339 UTC time with nanoseconds ("…T08:00:01.250000000Z").
pub fn unix_ms(ts: &str) -> i64 {
    seaframe_agent::timestamp::Timestamp::parse_user(ts)
        .unwrap()
        .unix_millis()
}
