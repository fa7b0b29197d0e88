//! The agent as the package installs it, changed only from shore: its files
//! laid out by `cross/stage` (what the amd64 `.deb` holds), run by
//! `cross/run-as-installed` the way the unit runs it (the whole file system
//! read-only but for /var/lib/seaframe, a private /tmp, an unprivileged
//! user), its operator file in /etc/seaframe; a real shore pushing through
//! a real mosquitto, the vessel on the broker's TLS listener with
//! certificates made here.
//!
//! Through it (PATCHes ashore, the normal case): a partial push changes one key and keeps every other, the
//! operator's file untouched; a push naming a missing CA file is rejected
//! before the ack; a push with a CA that parses but is the wrong one is
//! applied, cannot connect and is rolled back within the confirm window,
//! after which the shore sees the vessel again and the rollback in its
//! ack; frames are stored throughout. After each, a restart comes back
//! with the right config in effect.
//!
//! Needs root (mount namespaces), like the unit's own sandbox.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{frame_time, frames_in, get_json, wait_for};
use seaframe_shore::app::Shore;
use seaframe_shore::base::auth::role::Role;
use seaframe_shore::services::auth::accounts;
use seaframe_testkit::{Child, MosquittoServer, TestPki, free_port};
use serde_json::{Value, json};

const VESSEL: &str = "installed-vessel";
/// `nobody`: the unit's `User=` (the package's `seaframe` user does not
/// exist on a test machine).
const UID: u32 = 65534;
const CONFIRM_S: u64 = 10;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The package's files under `root`, with the debug binary.
fn stage(root: &Path) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_seaframe-agent"))
        .parent()
        .unwrap();
    let out = Command::new(repo().join("cross/stage"))
        .arg("seaframe-agent")
        .arg(bin_dir)
        .arg(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cross/stage: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file only root and the agent's group may read.
fn install_secret(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::os::unix::fs::chown(path, Some(0), Some(UID)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).unwrap();
}

struct Installed {
    root: PathBuf,
    state: PathBuf,
    api: String,
    child: Option<Child>,
}

impl Installed {
    fn start(&mut self) {
        let mut cmd = Command::new(repo().join("cross/run-as-installed"));
        cmd.arg(&self.root)
            .arg(&self.state)
            .arg(UID.to_string())
            .args([
                "--",
                "/usr/bin/seaframe-agent",
                "run",
                "--config",
                "/etc/seaframe/agent.toml",
            ]);
        let (child, _) = Child::spawn_until(cmd, "installed agent", "api listening").unwrap();
        self.child = Some(child);
    }

    fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::from_secs(30));
        }
        self.start();
    }

    /// The config in effect is version `v`'s push (max_age_s 3600) with
    /// the operator's CA file.
    async fn runs_on_push_with_the_files_ca(&self, v: u64) {
        assert_eq!(
            self.key("uplink.ca_file").await,
            (json!("/etc/seaframe/ca.pem"), "file".into())
        );
        assert_eq!(
            self.key("retention.max_age_s").await,
            (json!(3600), format!("push {v}"))
        );
    }

    /// `GET /api/v1/config`'s value and origin of `key`.
    async fn key(&self, key: &str) -> (Value, String) {
        let (_, c) = get_json(&format!("{}/config", self.api)).await;
        let k = &c["config"][key];
        (
            k["value"].clone(),
            k["from"].as_str().unwrap_or("?").to_owned(),
        )
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::from_secs(30));
        }
    }
}

/// The shore's API as its operator uses it: the base URL
/// (`http://…/api/v1`) and an operator's API token.
struct Ashore {
    base: String,
    token: String,
}

impl Ashore {
    /// GET `path` (under `/api/v1`) as JSON.
    async fn get(&self, path: &str) -> Value {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }
}

async fn start_shore(broker: &MosquittoServer, dir: &Path) -> (Shore, Ashore) {
    let cfg = seaframe_shore::adapters::config::Config::from_toml(
        &format!(
            "data_dir = \"{}\"\n[mqtt]\nurl = \"{}\"\nclient_id = \"installed-shore\"\n",
            dir.display(),
            broker.url()
        ),
        "test",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let shore = Shore::start(cfg, listener).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), shore.subscribed())
        .await
        .unwrap();
    accounts::add(&*shore.index, "fleet-ops", Role::Operator, None)
        .await
        .unwrap();
    let token = accounts::new_token(&*shore.index, "fleet-ops")
        .await
        .unwrap();
    (shore, Ashore { base, token })
}

/// PATCHes the vessel's config ashore (the keys named, nothing else);
/// returns the version.
async fn push(shore: &Ashore, patch: Value) -> u64 {
    let r = reqwest::Client::new()
        .patch(format!("{}/vessels/{VESSEL}/config", shore.base))
        .bearer_auth(&shore.token)
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()["version"]
        .as_u64()
        .unwrap()
}

/// The vessel's ack of `version`, as the shore shows it.
async fn ack(shore: &Ashore, version: u64, within: Duration) -> Value {
    wait_for(
        &format!("the ack of config {version} ashore"),
        within,
        || async {
            let c = shore.get(&format!("/vessels/{VESSEL}/config")).await;
            (c["ack"]["version"] == version).then(|| c["ack"].clone())
        },
    )
    .await
}

async fn online(shore: &Ashore) {
    wait_for(
        "the vessel online ashore",
        Duration::from_secs(30),
        || async {
            let v = shore.get("/vessels").await;
            v["vessels"]
                .as_array()?
                .iter()
                .any(|v| v["name"] == VESSEL && v["online"] == true)
                .then_some(())
        },
    )
    .await;
}

fn now_ms() -> i64 {
    seaframe_wire::timestamp::Timestamp::now().unix_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_from_shore_reach_the_installed_agent_and_never_hurt_it() {
    assert_eq!(
        uid(),
        0,
        "this test runs the agent in the unit's sandbox (mount namespaces): run it as root"
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let certs = tmp.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let pki = TestPki::make(&certs).unwrap();
    let (broker, tls_port) = pki.broker().unwrap();
    let (shore_app, shore) = start_shore(&broker, tmp.path()).await;

    // The package, then the operator's own file and CA in /etc/seaframe.
    let root = tmp.path().join("root");
    stage(&root);
    let etc = root.join("etc/seaframe");
    assert!(
        !etc.join("agent.toml").exists(),
        "the package ships no config"
    );
    install_secret(&etc.join("ca.pem"), &std::fs::read(pki.ca()).unwrap());
    install_secret(
        &etc.join("other-ca.pem"),
        &std::fs::read(pki.other_ca()).unwrap(),
    );
    std::os::unix::fs::chown(&etc, Some(0), Some(UID)).unwrap();
    let api_port = free_port().unwrap();
    let operator = format!(
        r#"# /etc/seaframe/agent.toml: the operator's, never written by the agent
vessel = "{VESSEL}"
[api]
listen = "127.0.0.1:{api_port}"
[[cameras]]
id = "bow"
source = "testpattern"
fps = 4.0
width = 160
height = 120
[retention]
max_age_s = 86400
retain_bytes = 2000000000
min_free_bytes = 1000
[uplink]
mqtt_url = "mqtts://127.0.0.1:{tls_port}"
ca_file = "/etc/seaframe/ca.pem"
budget_bytes_per_s = 50000
link_confirm_s = {CONFIRM_S}
"#
    );
    install_secret(&etc.join("agent.toml"), operator.as_bytes());
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(UID), Some(UID)).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o750)).unwrap();
    let mut agent = Installed {
        root: root.clone(),
        state: state.clone(),
        api: format!("http://127.0.0.1:{api_port}/api/v1"),
        child: None,
    };
    agent.start();
    online(&shore).await;

    // 1. A partial push: one key changes, every other stays the file's.
    let retention = json!({"max_age_s": 3600});
    let v1 = push(&shore, json!({"retention": retention})).await;
    let a = ack(&shore, v1, Duration::from_secs(20)).await;
    assert_eq!(
        (a["status"].as_str(), a["error"].as_str()),
        (Some("applied"), None),
        "{a}"
    );
    for _ in 0..2 {
        assert_eq!(
            agent.key("retention.max_age_s").await,
            (json!(3600), format!("push {v1}"))
        );
        assert_eq!(
            agent.key("retention.retain_bytes").await,
            (json!(2000000000), "file".into())
        );
        assert_eq!(
            agent.key("uplink.budget_bytes_per_s").await,
            (json!(50000), "file".into())
        );
        assert_eq!(
            std::fs::read_to_string(etc.join("agent.toml")).unwrap(),
            operator
        );
        agent.restart();
    }
    assert!(
        state.join("config/pushed.json").exists(),
        "the overlay lives in the state dir"
    );
    online(&shore).await;

    // 2. A CA file that is not there: rejected before the ack.
    let v2 = push(
        &shore,
        json!({"uplink": {"ca_file": "/etc/seaframe/missing.pem"}}),
    )
    .await;
    let a = ack(&shore, v2, Duration::from_secs(20)).await;
    assert_eq!(a["status"], "rejected", "{a}");
    let error = a["error"].as_str().unwrap_or("");
    assert!(
        error.contains("uplink.ca_file: /etc/seaframe/missing.pem: no such file"),
        "{error}"
    );
    agent.restart();
    agent.runs_on_push_with_the_files_ca(v1).await;
    online(&shore).await;

    // 3. The wrong CA: applied, no broker with it, rolled back in time;
    //    the shore sees the vessel again and the rollback; capture goes on.
    let pushed_at = now_ms();
    let v3 = push(
        &shore,
        json!({"uplink": {"ca_file": "/etc/seaframe/other-ca.pem"}}),
    )
    .await;
    let a = ack(&shore, v3, Duration::from_secs(CONFIRM_S + 40)).await;
    let acked_at = now_ms();
    assert_eq!(a["status"], "rolled_back", "{a}");
    let ashore = shore.get(&format!("/vessels/{VESSEL}/config")).await;
    let history: Vec<(u64, &str)> = ashore["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["version"].as_u64().unwrap(),
                h["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [(v3, "rolled_back"), (v2, "rejected"), (v1, "applied")],
        "the shore keeps every outcome"
    );
    let error = a["error"].as_str().unwrap_or("");
    assert!(error.contains(&format!("within {CONFIRM_S} s")), "{error}");
    assert!(
        acked_at - pushed_at >= i64::try_from(CONFIRM_S * 1000).unwrap(),
        "rolled back too soon"
    );
    online(&shore).await;
    let times: Vec<i64> = frames_in(&agent.api, "bow", pushed_at, acked_at)
        .await
        .iter()
        .map(|f| frame_time(f).unix_nanos())
        .collect();
    let expected = (acked_at - pushed_at) as f64 / 1000.0 * 4.0;
    assert!(
        times.len() as f64 >= expected * 0.8,
        "{} frames stored in {} ms at 4 fps",
        times.len(),
        acked_at - pushed_at
    );
    let longest_gap_ms = times
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .max()
        .unwrap_or(i64::MAX);
    assert!(
        longest_gap_ms < 2000,
        "capture paused {longest_gap_ms} ms during the trial"
    );
    agent.restart();
    agent.runs_on_push_with_the_files_ca(v1).await;
    let (_, c) = get_json(&format!("{}/config", agent.api)).await;
    assert_eq!(c["history"][0]["outcome"], "rolled_back", "{c}");
    online(&shore).await;
    assert_eq!(
        std::fs::read_to_string(etc.join("agent.toml")).unwrap(),
        operator
    );
    drop(agent);
    shore_app.stop().await.unwrap();
}

/// This process's real user id (from /proc).
fn uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .unwrap()
}
