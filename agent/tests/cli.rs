//! The real `seaframe-agent` binary: bad configs exit 2 with a clear
//! message; a SIGKILLed agent restarts and stores every frame that reached
//! the stream exactly once.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::process::Command;
use std::time::Duration;

use seaframe_testkit::{Child, RedisServer, TestPki, free_port};

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seaframe-agent"))
}

fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let out = agent()
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let run = agent()
        .arg("run")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        run.status.code(),
        "check-config and run agree"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configs_exit_2_naming_key_and_line() {
    let cam = "[[cameras]]\nid = \"a\"\nsource = \"testpattern\"\n";
    let cases = [
        (
            "unknown key",
            format!("vessel = \"v\"\nframe_rate = 3\n{cam}"),
            vec!["frame_rate", "line 2"],
        ),
        (
            "fps 0",
            format!("vessel = \"v\"\n{cam}fps = 0\n"),
            vec!["cameras[0].fps", "line 5"],
        ),
        (
            "duplicate id",
            format!("vessel = \"v\"\n{cam}{cam}"),
            vec!["cameras[1].id", "duplicate", "line 6"],
        ),
        (
            "bad source URL",
            "vessel = \"v\"\n[[cameras]]\nid = \"a\"\nsource = \"mjpeg:htp:/x\"\n".to_owned(),
            vec!["line 4", "mjpeg:htp:/x"],
        ),
        ("not TOML", "vessel = \n".to_owned(), vec!["line 1"]),
    ];
    for (what, text, needles) in cases {
        let (code, err) = check(&text);
        assert_eq!(code, 2, "{what}: {err}");
        for n in needles {
            assert!(err.contains(n), "{what}: {n:?} not in {err}");
        }
    }
    let missing = agent()
        .args(["check-config", "--config", "/nonexistent/agent.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/agent.toml"));
}

#[test]
fn the_example_config_checks_ok() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/seaframe.example.toml");
    let out = agent()
        .args(["check-config", "--config", path])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn init_writes_a_config_that_check_config_explains() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::make(dir.path()).unwrap();
    let path = dir.path().join("etc/seaframe/agent.toml");
    let init = |ca: &std::path::Path| {
        agent()
            .arg("init")
            .arg("--config")
            .arg(&path)
            .args(["--vessel", "aurora", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--mqtt-url", "mqtts://aurora:s3cret@127.0.0.1:8883"])
            .arg("--ca-file")
            .arg(ca)
            .args(["--camera", "bridge=testpattern"])
            .output()
            .unwrap()
    };
    let out = init(&dir.path().join("missing.pem"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("uplink.ca_file") && stderr.contains("no such file"),
        "{stderr}"
    );
    assert!(!path.exists(), "nothing written");

    let out = init(&pki.ca());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("mqtts://aurora:***@127.0.0.1:8883"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cret"), "{stdout}");
    let again = init(&pki.ca());
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing file is not replaced"
    );

    let check = || {
        agent()
            .arg("check-config")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap()
    };
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("s3cret"), "{stdout}");
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} in {stdout}"))
            .to_owned()
    };
    assert!(line("uplink.mqtt_url").contains("\"mqtts://aurora:***@127.0.0.1:8883\""));
    assert!(line("uplink.mqtt_url").ends_with("# file"));
    assert!(line("cameras[0].source").ends_with("# file"));
    assert!(line("queue.workers").ends_with("# default"));
    assert!(
        stdout.contains("pushed from shore: nothing in effect"),
        "{stdout}"
    );

    // The CA goes away: check-config says so (exit 2) before a run would.
    std::fs::remove_file(pki.ca()).unwrap();
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("uplink.ca_file") && stderr.contains("no such file"),
        "{stderr}"
    );
}

fn redis_cmd(url: &str, args: &[&str]) -> String {
    let port = url
        .trim_start_matches("redis://127.0.0.1:")
        .trim_end_matches("/0");
    let out = Command::new("redis-cli")
        .args(["-p", port])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn xinfo_field(url: &str, field: &str) -> u64 {
    let out = redis_cmd(url, &["XINFO", "STREAM", "seaframe:frames"]);
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| *l == field)
        .unwrap_or_else(|| panic!("{field} in {out}"));
    lines[i + 1].parse().unwrap()
}

/// (rows, distinct frames, distinct (camera, seq)).
fn count_rows(data: &std::path::Path) -> (u64, u64, u64) {
    let conn = rusqlite::Connection::open(data.join("index.db")).unwrap();
    conn.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT camera || captured_at_ns || '-' || seq), \
                COUNT(DISTINCT camera || '-' || seq) FROM frames",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        },
    )
    .unwrap()
}

fn start_agent(config: &std::path::Path) -> Child {
    let mut cmd = agent();
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info");
    Child::spawn_until(cmd, "seaframe-agent", "api listening")
        .unwrap()
        .0
}

#[test]
fn a_data_directory_serves_one_agent_and_no_reindex_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    let write = |port: u16| {
        std::fs::write(
            &config,
            format!(
                "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
                 [[cameras]]\nid = \"a\"\nsource = \"testpattern\"\nfps = 5\nwidth = 160\nheight = 120\n",
                dir.path().join("data").display(),
            ),
        )
        .unwrap();
    };
    write(free_port().unwrap());
    let mut first = start_agent(&config);
    let pid = format!("(pid {})", first.pid());
    // A second agent (on another API port) and a reindex: both refused,
    // naming the agent that holds the directory.
    write(free_port().unwrap());
    let second = agent()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&pid) && stderr.contains("in use"),
        "{stderr}"
    );
    let reindex = agent()
        .args(["reindex", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&reindex.stderr);
    assert_eq!(reindex.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("reindex refused") && stderr.contains(&pid),
        "{stderr}"
    );
    // Once the agent is gone (even killed), the directory is free.
    first.kill();
    let reindex = agent()
        .args(["reindex", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(
        reindex.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&reindex.stderr)
    );
}

#[test]
fn a_sigkilled_agent_restarts_and_stores_every_streamed_frame_once() {
    let redis = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    let port = free_port().unwrap();
    std::fs::write(
        &config,
        format!(
            "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n[queue]\nredis_url = \"{}\"\nworkers = 2\nmax_len = 100000\n\
             [[cameras]]\nid = \"a\"\nsource = \"testpattern\"\nfps = 30\nwidth = 320\nheight = 240\n\
             [[cameras]]\nid = \"b\"\nsource = \"testpattern\"\nfps = 15\nwidth = 320\nheight = 240\n",
            dir.path().display(),
            redis.url()
        ),
    )
    .unwrap();

    let mut first = start_agent(&config);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count_rows(dir.path()).0 < 30 {
        assert!(std::time::Instant::now() < deadline, "no frames stored");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill(); // SIGKILL, mid-run: batches in hand are pending in the group
    let added_by_first = xinfo_field(&redis.url(), "entries-added");

    let mut second = start_agent(&config);
    // Everything the first agent streamed is stored by the second (its
    // workers take over their pending entries), exactly once.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pending = redis_cmd(&redis.url(), &["XPENDING", "seaframe:frames", "store"]);
        let rows = count_rows(dir.path()).0;
        if rows >= added_by_first && pending.lines().next() == Some("0") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rows {rows} < {added_by_first}; pending {pending}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Stop the second agent cleanly: SIGTERM, then everything it streamed is stored too.
    Command::new("kill")
        .args(["-TERM", &second.pid().to_string()])
        .status()
        .unwrap();
    let status = second
        .wait_exit(Duration::from_secs(30))
        .expect("agent stops on SIGTERM");
    assert!(status.success(), "clean stop exits 0: {status:?}");
    // A clean stop leaves in the stream only what no worker had finished;
    // everything else that was ever streamed is indexed, once.
    let added = xinfo_field(&redis.url(), "entries-added");
    let left = xinfo_field(&redis.url(), "length");
    let (rows, distinct, numbers) = count_rows(dir.path());
    assert_eq!(rows, distinct, "a frame indexed twice");
    assert_eq!(
        rows, numbers,
        "a sequence number used twice across the restart"
    );
    assert_eq!(
        rows + left,
        added,
        "every streamed frame stored or still queued (max_len never reached)"
    );
    assert_eq!(
        common::jpeg_files(&dir.path().join("frames")).len() as u64,
        rows,
        "files vs rows"
    );
}
