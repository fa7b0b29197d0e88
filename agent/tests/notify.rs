//! The real `seaframe-agent run` under a fake systemd: a `UnixDatagram`
//! bound in a temp dir stands for `NOTIFY_SOCKET`. The agent must say
//! `READY=1` once started, then `WATCHDOG=1` every half `WATCHDOG_USEC`
//! while frames are captured and stored; the pings must stop while storage
//! is stuck (Redis paused with `CLIENT PAUSE`) and come back after; SIGTERM
//! brings `STOPPING=1`.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use seaframe_testkit::{Child, RedisServer};

/// `WATCHDOG_USEC` given to the agent: pings every 300 ms.
const WATCHDOG_USEC: u64 = 600_000;
/// How long Redis is paused (below the queue's 5 s response timeout).
const PAUSE_MS: u64 = 3_000;

/// The fake systemd end: every line of every datagram, with its arrival time.
struct Notifications {
    socket: UnixDatagram,
}

impl Notifications {
    /// Waits up to `within` for a line equal to `line`; returns its arrival.
    fn wait_for(&self, line: &str, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            match self.next(deadline) {
                Some((at, lines)) => {
                    if lines.iter().any(|l| l == line) {
                        return at;
                    }
                    seen.extend(lines);
                }
                None => panic!("no {line:?} within {within:?}; got {seen:?}"),
            }
        }
    }

    /// The next datagram before `deadline`, split into lines.
    fn next(&self, deadline: Instant) -> Option<(Instant, Vec<String>)> {
        let left = deadline.checked_duration_since(Instant::now())?;
        self.socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                Some((Instant::now(), text.lines().map(str::to_owned).collect()))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
}

/// The agent binary; under `cross/test` it runs through the emulator named
/// by `SEAFRAME_TEST_EXEC_WRAPPER` (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`),
/// which passes the environment and signals through.
fn agent_command() -> Command {
    let bin = env!("CARGO_BIN_EXE_seaframe-agent");
    let wrapper = std::env::var("SEAFRAME_TEST_EXEC_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut cmd = Command::new(emulator);
            cmd.args(words).arg(bin);
            cmd
        }
        None => Command::new(bin),
    }
}

#[test]
fn ready_then_watchdog_only_while_storing_then_stopping() {
    let redis = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let notes = Notifications {
        socket: UnixDatagram::bind(&socket_path).unwrap(),
    };
    let config = dir.path().join("agent.toml");
    let mut text = format!(
        "vessel = \"notify-test\"\ndata_dir = {:?}\n[api]\nlisten = \"127.0.0.1:0\"\n\
         [queue]\nredis_url = {:?}\n",
        dir.path().join("data"),
        redis.url()
    );
    for id in ["bow", "stern"] {
        text.push_str(&format!(
            "[[cameras]]\nid = \"{id}\"\nsource = \"testpattern\"\nfps = 10.0\nwidth = 160\nheight = 120\n"
        ));
    }
    std::fs::write(&config, text).unwrap();

    let mut cmd = agent_command();
    cmd.arg("run")
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", WATCHDOG_USEC.to_string())
        .env("RUST_LOG", "info");
    let (agent, _) = Child::spawn_until(cmd, "seaframe-agent", "api listening").unwrap();

    notes.wait_for("READY=1", Duration::from_secs(60));
    notes.wait_for("WATCHDOG=1", Duration::from_secs(30));

    // Storage stuck: every Redis client paused. Capture goes on into the
    // hand-off, nothing is stored, so the pings must stop.
    let out = Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "CLIENT", "PAUSE"])
        .arg(PAUSE_MS.to_string())
        .arg("ALL")
        .output()
        .expect("redis-cli (apt-get install redis-tools)");
    assert!(out.status.success(), "{out:?}");
    let paused_at = Instant::now();
    let pause_end = paused_at + Duration::from_millis(PAUSE_MS);
    let mut last_ping = paused_at;
    let mut longest_gap = Duration::ZERO;
    while let Some((at, lines)) = notes.next(pause_end) {
        if lines.iter().any(|l| l == "WATCHDOG=1") {
            longest_gap = longest_gap.max(at - last_ping);
            last_ping = at;
        }
    }
    longest_gap = longest_gap.max(Instant::now() - last_ping);
    let period = Duration::from_micros(WATCHDOG_USEC / 2);
    assert!(
        longest_gap >= period * 4,
        "pings went on while Redis was paused (longest gap {longest_gap:?})"
    );

    // Redis back: storage catches up, the pings resume.
    notes.wait_for("WATCHDOG=1", Duration::from_secs(30));

    let pid = agent.pid().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    notes.wait_for("STOPPING=1", Duration::from_secs(30));
}
