//! The crew page in a real browser: headless Chromium (driven by
//! `tests/browser/crew.spec.mjs` through playwright-core) against a real
//! agent (two test-pattern cameras and one that answers nothing, a
//! replayed GPS track, its own redis-server on a free port) with a token:
//! sign-in required and working, live view updating and the down camera's
//! reason, the timeline's frame for a chosen second equal to the
//! API's, a range playing as MP4, frames by place on the tiles of a test
//! tile server (`api.map_tiles`), the status figures, and no request
//! anywhere but the agent and that tile server. Screenshots go to
//! `<target>/browser-artifacts/`; with `SEAFRAME_SCREENSHOT=1` the live view
//! is also saved as `docs/crew-page.png` (the README's picture).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a test that cannot proceed should panic

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{camera, wait_for};
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::Config;
use seaframe_testkit::{RedisServer, artifacts_dir, free_port, nmea_log, require_browser};

const TOKEN: &str = "crew-page-browser-token";
const CAMERAS: [&str; 2] = ["bow", "mast"];
/// A camera whose address answers nothing: down, with a reason.
const DOWN: &str = "stern";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the agent is a member of the workspace")
        .to_path_buf()
}

/// A 1×1 PNG: every tile of the test tile server.
const TILE_PNG: [u8; 69] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x50, 0x70, 0x48, 0x00,
    0x00, 0x01, 0x44, 0x00, 0xc1, 0x0b, 0x8d, 0x96, 0x42, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A map-tile server on a free loopback port: `/{z}/{x}/{y}.png` answers a
/// tile and notes `z/x/y`. Its origin, and what it served.
async fn tile_server() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::extract::{Path as UrlPath, State};
    use axum::routing::get;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            "/{z}/{x}/{y}",
            get(
                |State(seen): State<Arc<Mutex<Vec<String>>>>,
                 UrlPath((z, x, y)): UrlPath<(u32, u32, String)>| async move {
                    let y = y.trim_end_matches(".png");
                    seen.lock().unwrap().push(format!("{z}/{x}/{y}"));
                    ([("content-type", "image/png")], TILE_PNG.as_slice())
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, seen)
}

fn agent_config(dir: &Path, redis_url: &str, tiles: &str) -> Config {
    let mut cameras: String = CAMERAS
        .iter()
        .map(|id| camera(id, "testpattern", 4.0, 320, 180))
        .collect();
    let nobody = format!("http://127.0.0.1:{}/snapshot.jpg", free_port().unwrap());
    cameras.push_str(&camera(DOWN, &nobody, 1.0, 320, 180));
    let text = format!(
        r#"vessel = "crew-page-test"
data_dir = "{}"
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
map_tiles = "{tiles}/{{z}}/{{x}}/{{y}}.png"
[queue]
redis_url = "{redis_url}"
[gps]
source = "replay:{}?rate=1"
{cameras}"#,
        dir.display(),
        nmea_log("ais-nmea.log").display(),
    );
    Config::from_toml(&text, "test").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// GET `path` with the token; the JSON answer.
async fn api(base: &str, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crew_page_in_chromium() {
    let browser = require_browser().unwrap();
    let artifacts = artifacts_dir("browser-artifacts/crew").unwrap();

    let redis = RedisServer::start().unwrap();
    let (tiles, tiles_seen) = tile_server().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(agent_config(dir.path(), &redis.url(), &tiles))
        .await
        .unwrap();
    let base = format!("http://{}", agent.api_addr());

    // Ten seconds of frames from each camera, and a few fixes of the track.
    wait_for(
        "10 s of frames of each camera",
        Duration::from_secs(40),
        || async {
            let status = api(&base, "/api/v1/status").await;
            let cams = status["cameras"].as_array()?;
            let stored = |id: &str| {
                cams.iter()
                    .find(|c| c["id"] == id)
                    .and_then(|c| c["stored"].as_u64())
            };
            let down = cams.iter().find(|c| c["id"] == DOWN)?;
            (CAMERAS.iter().all(|id| stored(id) >= Some(40))
                && down["state"]["state"] == "retrying")
                .then_some(())
        },
    )
    .await;
    wait_for("3 fixes on the track", Duration::from_secs(20), || async {
        let track = api(&base, "/api/v1/track?every_s=2").await;
        (track["features"].as_array()?.len() >= 3).then_some(())
    })
    .await;

    let screenshot = (std::env::var("SEAFRAME_SCREENSHOT").as_deref() == Ok("1"))
        .then(|| workspace().join("docs/crew-page.png"));
    let mut node = tokio::process::Command::new("node")
        .arg(browser.specs.join("crew.spec.mjs"))
        .current_dir(&browser.specs)
        .env("AGENT_URL", &base)
        .env("AGENT_TOKEN", TOKEN)
        .env("CAMERAS", CAMERAS.join(","))
        .env("DOWN_CAMERA", DOWN)
        .env("TILES_URL", &tiles)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", &browser.chromium)
        .env(
            "SCREENSHOT",
            screenshot
                .as_deref()
                .map(Path::as_os_str)
                .unwrap_or_default(),
        )
        .stdin(Stdio::null())
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
    let stdout = node.stdout.take().unwrap();
    let stderr = node.stderr.take().unwrap();
    let output = async {
        use tokio::io::AsyncReadExt;
        let (mut out, mut err) = (String::new(), String::new());
        let mut stdout = stdout;
        let mut stderr = stderr;
        let (a, b) = tokio::join!(
            stdout.read_to_string(&mut out),
            stderr.read_to_string(&mut err)
        );
        a.unwrap();
        b.unwrap();
        (out, err)
    };
    let finished = tokio::time::timeout(Duration::from_secs(120), async {
        let (out, err) = output.await;
        (node.wait().await.unwrap(), out, err)
    })
    .await;
    let (exit, out, err) = match finished {
        Ok(done) => done,
        Err(_) => {
            // Killed by its PID (kill_on_drop also covers a panic above).
            node.start_kill().unwrap();
            let _ = node.wait().await;
            panic!("the browser test (pid {node_pid}) did not finish in 120 s");
        }
    };
    println!("{out}");
    if !err.is_empty() {
        println!("node stderr:\n{err}");
    }
    agent.shutdown().await.unwrap();
    assert!(
        exit.success(),
        "the browser test failed ({exit}):\n{out}\n{err}"
    );
    assert!(
        out.contains("ok   no request left the agent but for map tiles"),
        "{out}"
    );
    assert!(
        !tiles_seen.lock().unwrap().is_empty(),
        "no tile was asked for"
    );
}
