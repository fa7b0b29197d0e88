//! `docs/deploy.md`, followed: every ```` ```sh walkthrough ```` block of
//! the doc, in order, run by bash — the commands are read from the doc,
//! never typed here — against a real mosquitto started from the shipped
//! config as the doc installs it, the shore and the agent as their packages
//! lay them out (`cross/stage`) and their units start them. Then, as the
//! admin the doc creates: the vessel is listed with its camera, its
//! thumbnails are indexed and served, the broker's log shows the vessel
//! connected under its enrolled certificate's name, and the Prometheus
//! token the doc writes reads `/metrics`.
//!
//! What the test changes in the doc's text (and only that, as the doc says
//! at its top): absolute paths under `/etc`, `/var`, `/root` and `/usr/bin`
//! go under a temp dir, the broker and the shore get free loopback ports,
//! the camera is a test pattern, and `-o`/`-g` of a user this machine does
//! not have is dropped. It does itself what it cannot run: `apt-get
//! install` (the packages' files, `cross/stage` for seaframe's) and
//! `systemctl` (the unit's `ExecStart=`, spawned and waited for).
//!
//! Needs the binaries built (a workspace test run builds them; alone:
//! `cargo build -p seaframe-shore -p seaframe-agent`), or their paths in
//! `SEAFRAME_SHORE` and `SEAFRAME_AGENT`.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use seaframe_testkit::{Child, MosquittoServer, free_port, require_binary, wait_for};
use serde_json::{Value, json};

const DOC: &str = include_str!("../../../docs/deploy.md");
/// The info string that marks a block the test runs.
const MARK: &str = "```sh walkthrough";
/// Debian's mosquitto.service runs this.
const MOSQUITTO_EXEC: &str = "/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf";
/// Each readiness wait; the whole test stays within a minute.
const READY: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```` ```sh walkthrough ```` blocks, each as its lines.
fn walkthrough_blocks(doc: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in doc.lines() {
        match &mut current {
            None if line.trim_end() == MARK => current = Some(Vec::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => block.push(line.to_owned()),
        }
    }
    assert!(current.is_none(), "an unclosed walkthrough block");
    blocks
}

/// Where the built binary `name` is: `$VAR`, else next to this test's
/// `deps/` folder (where cargo puts the workspace's binaries).
fn binary(var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().join(name)
    });
    assert!(
        path.is_file(),
        "{} is missing: `cargo build -p {name}` (or set {var})",
        path.display()
    );
    path
}

/// What the test must change in the doc's text to run it here.
struct Localize {
    root: PathBuf,
    broker_port: u16,
    shore_port: u16,
}

impl Localize {
    fn apply(&self, text: &str) -> String {
        let text = text
            .replace(
                "broker.example.com:8883",
                &format!("127.0.0.1:{}", self.broker_port),
            )
            .replace("broker.example.com", "127.0.0.1")
            .replace("127.0.0.1:8781", &format!("127.0.0.1:{}", self.shore_port))
            .replace("v4l2:/dev/video0", "testpattern");
        drop_absent_owners(&under_root(&text, &self.root))
    }
}

/// Every absolute path under `/etc/`, `/var/`, `/root/` or `/usr/bin/`
/// (at the start of a word, a quoted string or a `sqlite:` URL) put under
/// `root`.
fn under_root(text: &str, root: &Path) -> String {
    const PREFIXES: [&str; 4] = ["/etc/", "/var/", "/root/", "/usr/bin/"];
    let root = root.display().to_string();
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let at_word = prev.is_none_or(|p| p.is_whitespace() || "\"'=:(>".contains(p));
        if c == '/' && at_word && PREFIXES.iter().any(|p| text[i..].starts_with(p)) {
            out.push_str(&root);
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// `-o NAME` / `-g NAME` dropped where this machine has no such user or
/// group (the packages' `seaframe` user, say).
fn drop_absent_owners(text: &str) -> String {
    let mut out = text.to_owned();
    for (flag, db) in [("-o", "passwd"), ("-g", "group")] {
        let names: Vec<String> = out
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].to_owned())
            .collect();
        for name in names {
            let known = Command::new("getent")
                .args([db, &name])
                .output()
                .unwrap()
                .status
                .success();
            if !known {
                out = out.replace(&format!("{flag} {name} "), "");
            }
        }
    }
    out
}

/// The machine's own paths that the walkthrough names, and which of them
/// existed before it ran: a command that falls back on a default path
/// (not in the doc's text, so never put under the root) would write there.
struct RealPaths {
    existed: Vec<(PathBuf, bool)>,
}

impl RealPaths {
    fn of(blocks: &[Vec<String>]) -> Self {
        let mut paths: Vec<PathBuf> = blocks
            .iter()
            .flatten()
            .flat_map(|l| l.split(|c: char| c.is_whitespace() || "\"'=:".contains(c)))
            .filter(|w| {
                ["/etc/", "/var/", "/root/"]
                    .iter()
                    .any(|p| w.starts_with(p))
            })
            .map(|w| PathBuf::from(w.trim_end_matches(['/', ';', ')'])))
            .collect();
        paths.sort();
        paths.dedup();
        let existed = paths.into_iter().map(|p| (p.clone(), p.exists())).collect();
        Self { existed }
    }

    /// Panics naming every path the walkthrough made on the machine itself.
    fn unchanged(&self) {
        let made: Vec<&PathBuf> = self
            .existed
            .iter()
            .filter(|(p, before)| !before && p.exists())
            .map(|(p, _)| p)
            .collect();
        assert!(
            made.is_empty(),
            "the walkthrough wrote outside its temp root (a default path?): {made:?}"
        );
    }
}

/// The services the walkthrough started, stopped in reverse order.
#[derive(Default)]
struct Services {
    started: Vec<Child>,
}

impl Drop for Services {
    fn drop(&mut self) {
        while let Some(mut child) = self.started.pop() {
            child.terminate(Duration::from_secs(10));
        }
    }
}

struct Walkthrough {
    loc: Localize,
    /// The doc's commands' standard output, in order.
    transcript: Vec<(String, String)>,
    services: Services,
    /// PATH with the staged `/usr/bin` first.
    path: String,
    shore_bin: PathBuf,
    agent_bin: PathBuf,
    agent_api_port: u16,
    /// The broker's log, as the shipped config names it.
    broker_log: PathBuf,
}

impl Walkthrough {
    /// Runs `lines` (doc text) with bash, from the checkout's top.
    fn bash(&mut self, lines: &[String]) {
        if lines.iter().all(|l| l.trim().is_empty()) {
            return;
        }
        let script = self.loc.apply(&lines.join("\n"));
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(repo())
            .env("PATH", &self.path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "the walkthrough failed ({}):\n{script}\n--- stdout:\n{stdout}\n--- stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        self.transcript.push((script, stdout));
    }

    /// `apt-get install …`: what the named packages would put on the disk.
    fn install_packages(&mut self, line: &str) {
        let root = self.loc.root.clone();
        let words = line.split('#').next().unwrap_or_default();
        for word in words.split_whitespace().skip(2) {
            if word.starts_with('-') {
                continue;
            }
            if word == "mosquitto" {
                require_binary("mosquitto", "mosquitto").unwrap();
                for dir in ["etc/mosquitto", "var/lib/mosquitto", "var/log/mosquitto"] {
                    std::fs::create_dir_all(root.join(dir)).unwrap();
                }
            } else if word.contains("seaframe-shore_") {
                self.stage("seaframe-shore", &self.shore_bin.clone());
            } else {
                assert!(
                    word == "mosquitto-clients",
                    "the test does not know what package {word:?} installs"
                );
            }
        }
    }

    /// A seaframe package's files under the root, as its `.deb` holds them.
    fn stage(&self, package: &str, bin: &Path) {
        let out = Command::new(repo().join("cross/stage"))
            .arg(package)
            .arg(bin.parent().unwrap())
            .arg(&self.loc.root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cross/stage {package}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `systemctl enable --now|start|restart UNIT`: the unit's command,
    /// started in the background and waited for.
    fn start_unit(&mut self, line: &str) {
        let unit = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .filter(|w| !w.starts_with('-'))
            .nth(2)
            .unwrap_or_else(|| panic!("which unit? {line:?}"))
            .trim_end_matches(".service")
            .to_owned();
        match unit.as_str() {
            "mosquitto" => self.start_broker(),
            "seaframe-shore" => {
                let exec = self.exec_start(&unit);
                self.spawn(&exec, &unit, None);
                let healthz = format!("http://127.0.0.1:{}/healthz", self.loc.shore_port);
                wait_until(&mut self.services, "the shore subscribed", || {
                    http_status(&healthz) == Some(200)
                });
            }
            "seaframe-agent" => {
                // The board's API port (8780 by default) is not free on a
                // machine running tests side by side.
                let config = self.loc.root.join("etc/seaframe/agent.toml");
                let mut text = std::fs::read_to_string(&config).unwrap();
                text.push_str(&format!(
                    "\n[api]\nlisten = \"127.0.0.1:{}\"\n",
                    self.agent_api_port
                ));
                std::fs::write(&config, text).unwrap();
                let exec = self.exec_start(&unit);
                self.spawn(&exec, &unit, Some("api listening"));
            }
            other => panic!("the test cannot start unit {other:?}"),
        }
    }

    /// The `ExecStart=` of a seaframe unit, as the package installed it.
    fn exec_start(&self, unit: &str) -> String {
        let path = self
            .loc
            .root
            .join(format!("lib/systemd/system/{unit}.service"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (its package not installed?)", path.display()));
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{unit}: no ExecStart="));
        self.loc.apply(exec)
    }

    /// Spawns `command` with bash; waits for `ready` in its output if given.
    fn spawn(&mut self, command: &str, name: &str, ready: Option<&str>) {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &format!("exec {command}")])
            .env("PATH", &self.path)
            .current_dir(&self.loc.root);
        let child = match ready {
            Some(marker) => Child::spawn_until(cmd, name, marker).unwrap().0,
            None => Child::spawn(cmd, name).unwrap(),
        };
        self.services.started.push(child);
    }

    /// The broker from the config the doc installed, its paths, port and
    /// plugin put in the test's own, run as the test's user.
    fn start_broker(&mut self) {
        let path = self.loc.root.join("etc/mosquitto/mosquitto.conf");
        let installed = std::fs::read_to_string(&path).unwrap();
        assert!(installed.contains("\nlistener 8883\n"), "{installed}");
        let mut conf = self
            .loc
            .apply(&installed)
            .replace(
                "\nlistener 8883\n",
                &format!("\nlistener {} 127.0.0.1\n", self.loc.broker_port),
            )
            .replace(
                "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
                &dynsec_plugin(),
            );
        conf.push_str(&format!("\nuser {}\n", MosquittoServer::test_user()));
        std::fs::write(&path, conf).unwrap();
        let exec = self.loc.apply(MOSQUITTO_EXEC);
        self.spawn(&exec, "mosquitto", None);
        let log = self.broker_log.clone();
        wait_until(&mut self.services, "the broker running", || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains(" running"))
        });
    }
}

/// Polls `ready` every 20 ms up to [`READY`]; fails with what the services
/// said.
fn wait_until(services: &mut Services, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + READY;
    while !ready() {
        let said: Vec<String> = services
            .started
            .iter_mut()
            .map(|c| match c.exited() {
                Some(status) => format!("{} exited ({status}):\n{}", c.name(), c.said()),
                None => format!("{}:\n{}", c.name(), c.said()),
            })
            .collect();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the services said:\n{}",
            said.join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A GET's status, `None` while nothing answers.
fn http_status(url: &str) -> Option<u16> {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn dynsec_plugin() -> String {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("mosquitto_dynamic_security.so"))
        .find(|p| p.exists())
        .expect("mosquitto_dynamic_security.so (apt-get install mosquitto, 2.0 or later)")
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_walkthrough_brings_the_first_vessel_onto_the_fleet_page() {
    let started = Instant::now();
    let root = tempfile::tempdir().unwrap();
    let shore_bin = binary("SEAFRAME_SHORE", "seaframe-shore");
    let agent_bin = binary("SEAFRAME_AGENT", "seaframe-agent");
    let loc = Localize {
        root: root.path().to_owned(),
        broker_port: free_port().unwrap(),
        shore_port: free_port().unwrap(),
    };
    let path = format!(
        "{}:{}",
        root.path().join("usr/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut w = Walkthrough {
        broker_log: root.path().join("var/log/mosquitto/mosquitto.log"),
        loc,
        transcript: Vec::new(),
        services: Services::default(),
        path,
        shore_bin,
        agent_bin,
        agent_api_port: free_port().unwrap(),
    };
    // The board has the agent's package (the doc says so, and installs it
    // on another machine than the shore's).
    w.stage("seaframe-agent", &w.agent_bin.clone());

    let blocks = walkthrough_blocks(DOC);
    assert!(
        blocks.len() >= 5,
        "the doc's walkthrough blocks: {blocks:?}"
    );
    let outside = RealPaths::of(&blocks);
    for block in blocks {
        let mut pending = Vec::new();
        for line in block {
            let command = line.trim_start();
            if command.starts_with("apt-get install") || command.starts_with("systemctl ") {
                w.bash(&std::mem::take(&mut pending));
                if command.starts_with("apt-get") {
                    w.install_packages(command);
                } else {
                    w.start_unit(command);
                }
            } else {
                pending.push(line);
            }
        }
        w.bash(&pending);
    }

    outside.unchanged();

    // The admin the doc made, with the password it printed.
    let admin_line = DOC
        .lines()
        .find(|l| l.contains("account add") && l.contains("--role admin"))
        .expect("the doc adds an admin");
    let admin = admin_line
        .split_whitespace()
        .skip_while(|w| *w != "add")
        .nth(1)
        .unwrap()
        .to_owned();
    let password = w
        .transcript
        .iter()
        .filter(|(script, _)| script.contains("--role admin"))
        .find_map(|(_, out)| {
            out.lines()
                .find_map(|l| l.strip_prefix("password (shown once): "))
        })
        .expect("account add printed the admin's password")
        .to_owned();

    let base = format!("http://127.0.0.1:{}", w.loc.shore_port);
    let http = reqwest::Client::new();
    let signed_in = http
        .post(format!("{base}/api/v1/session"))
        .header("content-type", "application/json")
        .body(json!({"name": admin, "password": password}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200, "the admin signs in");
    let set_cookie = signed_in
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("Secure"),
        "secure_cookie as the doc sets it: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let get = |path: String| {
        let req = http.get(format!("{base}{path}")).header("cookie", &cookie);
        async move { req.send().await.unwrap() }
    };

    // The vessel's card: aurora, online, its camera with a thumbnail.
    let vessel = wait_for(
        "aurora on the fleet page with a thumbnail",
        Duration::from_secs(40),
        || async {
            let r = get("/api/v1/vessels".into()).await;
            assert_eq!(r.status(), 200);
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            let aurora = v["vessels"]
                .as_array()?
                .iter()
                .find(|v| v["name"] == "aurora")?
                .clone();
            aurora["cameras"]
                .as_array()?
                .iter()
                .any(|c| c["id"] == "bridge" && c["latest_thumb"].is_object())
                .then_some(aurora)
        },
    )
    .await;
    assert_eq!(vessel["online"], true, "{vessel}");

    // Its thumbnails: indexed, and served as JPEGs.
    let r = get("/api/v1/vessels/aurora/thumbs?camera=bridge".into()).await;
    assert_eq!(r.status(), 200);
    let thumbs: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let first = &thumbs["thumbs"][0];
    assert_eq!(first["vessel"], "aurora", "{thumbs}");
    let image = get(first["image_url"].as_str().unwrap().to_owned()).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    let bytes = image.bytes().await.unwrap();
    assert_eq!(&bytes[..2], [0xFF, 0xD8], "a JPEG");

    // The vessel reached the broker (TLS only, a certificate required) as
    // the identity its enrolled certificate names.
    let log = std::fs::read_to_string(&w.broker_log).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("New client connected") && l.contains("u'aurora'")),
        "the broker's log has no connection of aurora:\n{log}"
    );

    // Operations: the accounts the doc added, and Prometheus's token.
    let r = get("/api/v1/accounts".into()).await;
    let accounts: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let names: Vec<&str> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    for name in [admin.as_str(), "jane", "prometheus"] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let token_file = w.loc.root.join("etc/prometheus/seaframe-shore.token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200, "Prometheus's token reads /metrics");
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("seaframe_shore_thumbs_indexed_total")
    );

    drop(w);
    eprintln!("walkthrough followed in {:?}", started.elapsed());
}
