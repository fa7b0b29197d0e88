//! Helpers shared by the agent's end-to-end tests: configs, waiting on
//! observable conditions (never a bare sleep), and reading the API.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::time::Duration;

use seaframe_agent::adapters::store::{FrameQuery, FrameRow, Store};
use seaframe_agent::base::config::Config;
use seaframe_wire::timestamp::Timestamp;

#[allow(unused_imports)] // each test binary uses its own subset
pub use seaframe_testkit::wait_for;

/// Like [`wait_for`] for plain threads: polls `check` every 20 ms.
pub fn wait_until_blocking(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A config with the API on a free loopback port and data in `data_dir`.
pub fn config(
    data_dir: &Path,
    redis_url: Option<&str>,
    cameras: &str,
    extra_queue: &str,
) -> Config {
    let redis = redis_url
        .map(|u| format!("redis_url = \"{u}\"\n"))
        .unwrap_or_default();
    let text = format!(
        r#"vessel = "test-vessel"
data_dir = "{}"
[api]
listen = "127.0.0.1:0"
[queue]
{redis}{extra_queue}
{cameras}
"#,
        data_dir.display()
    );
    Config::from_toml(&text, "test").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// One `[[cameras]]` table.
pub fn camera(id: &str, source: &str, fps: f64, width: u32, height: u32) -> String {
    format!(
        "[[cameras]]\nid = \"{id}\"\nsource = \"{source}\"\nfps = {fps}\nwidth = {width}\nheight = {height}\n"
    )
}

/// GET `url` and parse JSON; panics with the body on a non-JSON answer.
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"));
    (status, json)
}

/// Every frame of `camera` in `[from_ms, to_ms)` from the API at `base`
/// (`http://…/api/v1`), page after page, oldest first.
pub async fn frames_in(
    base: &str,
    camera: &str,
    from_ms: i64,
    to_ms: i64,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = get_json(&format!(
            "{base}/frames?camera={camera}&from={from_ms}&to={to_ms}&limit=1000{cursor}"
        ))
        .await;
        out.extend(page["frames"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// The capture time of a frame in the API's JSON.
pub fn frame_time(frame: &serde_json::Value) -> Timestamp {
    Timestamp::parse_user(frame["ts"].as_str().unwrap()).unwrap()
}

/// The agent's `/metrics` text.
pub async fn metrics_text(api: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{api}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Every row of the index, oldest first (up to 100 000).
pub fn all_rows(store: &Store) -> Vec<FrameRow> {
    store
        .query(&FrameQuery {
            camera: None,
            from: Timestamp::from_unix_nanos(i64::MIN),
            to: Timestamp::from_unix_nanos(i64::MAX),
            limit: 100_000,
            after: None,
        })
        .unwrap()
        .frames
}

/// The value of one Prometheus sample, e.g. `seaframe_frames_stored_total{camera="a"}`.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
}

/// Every `*.jpg` under `dir`, relative, sorted.
pub fn jpeg_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "jpg") {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
