//! The real ONVIF simulator: ipycam (PyPI, MIT licence, installed in a venv
//! by `scripts/install-ipycam`) run in a private network namespace whose
//! only interface is `lo`, and a command run beside it in that namespace.
//!
//! Why a namespace: ipycam listens on all interfaces at fixed ports (ONVIF
//! and snapshots on 8080, RTSP on 8554, WS-Discovery on UDP 3702) and
//! multicasts Hello/Bye; inside, nothing leaves the machine and its ports
//! cannot clash with other tests. Making one needs root (`unshare --net`).
//! The namespace is held by a bounded `sleep`; ipycam and the command join
//! it with `nsenter`. ipycam's readiness is its three sockets, read from
//! the namespace's socket tables. Everything is killed when the run ends.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{Child, READY_TIMEOUT, require_binary};
use crate::sockets::{Proto, wait_open};

/// What the command sees, on 127.0.0.1 inside the namespace.
pub const ONVIF_SIM_XADDR: &str = "http://127.0.0.1:8080/onvif/device_service";
const ONVIF_PORT: u16 = 8080;
const RTSP_PORT: u16 = 8554;
const DISCOVERY_PORT: u16 = 3702;

/// Where `scripts/install-ipycam` puts ipycam: `$IPYCAM_VENV`, else
/// `~/.cache/seaframe/ipycam`.
fn ipycam_venv() -> PathBuf {
    match std::env::var_os("IPYCAM_VENV") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/seaframe/ipycam"),
    }
}

fn uid() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("?")
        .to_owned()
}

/// Fails, saying how to fix it, unless the simulator can run here (root,
/// util-linux, iproute2, ffmpeg, the ipycam venv); returns ipycam's path.
pub fn require_onvif_sim() -> Result<PathBuf> {
    let uid = uid();
    if uid != "0" {
        bail!(
            "the ONVIF simulator needs root (unshare --net); this test runs as uid {uid}: run it as root"
        );
    }
    require_binary("ffmpeg", "ffmpeg")?;
    require_binary("unshare", "util-linux")?;
    require_binary("nsenter", "util-linux")?;
    require_binary("ip", "iproute2")?;
    let ipycam = ipycam_venv().join("bin/ipycam");
    if !ipycam.is_file() {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-ipycam");
        let script = script.canonicalize().unwrap_or(script);
        bail!(
            "the ONVIF simulator is not installed ({} is missing): run `{}` \
             (python3-venv; ~290 MB from PyPI)",
            ipycam.display(),
            script.display()
        );
    }
    Ok(ipycam)
}

/// `nsenter` into the network namespace of `pid`, then `program`.
fn in_namespace(pid: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/proc/{pid}/ns/net"))
        .arg("--")
        .arg(program);
    cmd
}

/// Runs `cmd` to its end; fails with its stderr unless it succeeds.
fn run_ok(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| what.to_owned())?;
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// A namespace with `lo` up and a multicast route on it, held by a `sleep`
/// of `hold_s` seconds.
fn namespace(hold_s: u64) -> Result<Child> {
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--", "sleep", &hold_s.to_string()]);
    let mut holder = Child::spawn(cmd, "unshare --net")?;
    let ours = std::fs::read_link("/proc/self/ns/net")?;
    let theirs = format!("/proc/{}/ns/net", holder.pid());
    let deadline = Instant::now() + READY_TIMEOUT;
    // unshare execs sleep once the namespace is made: wait for that.
    while std::fs::read_link(&theirs).map_or(true, |ns| ns == ours) {
        if let Some(status) = holder.exited() {
            bail!("unshare --net exited ({status}): {}", holder.said());
        }
        if Instant::now() >= deadline {
            bail!("unshare --net made no namespace within {READY_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = holder.pid();
    let mut up = in_namespace(pid, "ip");
    up.args(["link", "set", "lo", "up"]);
    run_ok(up, "ip link set lo up")?;
    // Multicast probes (239.255.255.250) go out through lo.
    let mut route = in_namespace(pid, "ip");
    route.args(["route", "add", "224.0.0.0/4", "dev", "lo"]);
    run_ok(route, "ip route add 224.0.0.0/4 dev lo")?;
    Ok(holder)
}

/// ipycam's config: a 640×360 main stream, fixed ports, and credentials
/// when `user` is given.
fn camera_config(user: &str, password: &str) -> serde_json::Value {
    serde_json::json!({
        "name": "SeaframeTestCam",
        "local_ip": "127.0.0.1",
        "onvif_port": ONVIF_PORT,
        "rtsp_port": RTSP_PORT,
        "hw_accel": "cpu",
        "username": user,
        "password": password,
        "main_width": 640, "main_height": 360, "main_fps": 10,
        "sub_width": 320, "sub_height": 180, "sub_fps": 10,
    })
}

/// Starts ipycam in the namespace of `ns_pid`, with its files in `dir`;
/// returns once its ONVIF, RTSP and discovery sockets are open.
fn start_ipycam(
    ipycam: &PathBuf,
    ns_pid: u32,
    dir: &std::path::Path,
    credentials: (&str, &str),
    limit_s: u64,
) -> Result<Child> {
    let config = camera_config(credentials.0, credentials.1);
    std::fs::write(dir.join("camera_config.json"), config.to_string())?;
    // Ten seconds of moving test pattern; ipycam plays it in a loop.
    let mut clip = Command::new("ffmpeg");
    clip.args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=10",
            "-t",
            "10",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(dir.join("source.mp4"));
    run_ok(clip, "ffmpeg making the simulator's clip")?;
    let mut cmd = in_namespace(ns_pid, "timeout");
    cmd.args(["-s", "INT", "-k", "5", &limit_s.to_string()])
        .arg(ipycam)
        .args(["--config", "camera_config.json", "--source", "source.mp4"])
        .args(["--log-level", "WARNING"])
        .current_dir(dir);
    let mut child = Child::spawn(cmd, "ipycam")?;
    wait_open(
        &mut child,
        Some(ns_pid),
        &[
            (Proto::Tcp, ONVIF_PORT),
            (Proto::Tcp, RTSP_PORT),
            (Proto::Udp, DISCOVERY_PORT),
        ],
    )?;
    Ok(child)
}

/// Runs `command` inside the simulator's namespace (ipycam on 127.0.0.1,
/// ready), with `env` set for both: `ONVIF_USER`/`ONVIF_PASSWORD` there
/// make the simulator require them. The command also sees `ONVIF_XADDR`,
/// `ONVIF_RTSP_URI`, `ONVIF_SNAPSHOT_URI` and `ONVIF_DISCOVERY`. Returns its
/// output once it has exited; it is killed (its process group) after
/// `limit`, and the simulator with it.
pub fn run_in_onvif_sim(command: &[&str], env: &[(&str, &str)], limit: Duration) -> Result<Output> {
    use std::os::unix::process::CommandExt;
    let ipycam = require_onvif_sim()?;
    let Some((program, args)) = command.split_first() else {
        bail!("no command to run beside the simulator");
    };
    let get = |key: &str| env.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| *v);
    let limit_s = limit.as_secs().max(10);
    let dir = tempfile::tempdir()?;
    let holder = namespace(limit_s + 30)?;
    let _ipycam = start_ipycam(
        &ipycam,
        holder.pid(),
        dir.path(),
        (get("ONVIF_USER"), get("ONVIF_PASSWORD")),
        limit_s + 15,
    )?;
    let mut cmd = in_namespace(holder.pid(), program);
    cmd.args(args)
        .env("ONVIF_XADDR", ONVIF_SIM_XADDR)
        .env(
            "ONVIF_RTSP_URI",
            format!("rtsp://127.0.0.1:{RTSP_PORT}/video_main"),
        )
        .env(
            "ONVIF_SNAPSHOT_URI",
            format!("http://127.0.0.1:{ONVIF_PORT}/snapshot.jpg"),
        )
        .env("ONVIF_DISCOVERY", format!("127.0.0.1:{DISCOVERY_PORT}"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd
        .spawn()
        .context("spawning the command in the namespace")?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => Ok(output?),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            bail!("{command:?} did not end within {limit:?} beside the simulator; killed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root and the ipycam venv (`scripts/install-ipycam`), as the
    /// agent's ONVIF tests do.
    #[test]
    fn the_simulator_answers_beside_a_command_in_its_namespace() {
        require_binary("curl", "curl").unwrap();
        // The simulator answers 503 until its first frame is made (seconds
        // on a loaded machine): curl retries that (a transient error) for 30 s.
        let script = "curl -s --retry 30 --retry-delay 1 --retry-max-time 30 \
                      -o /dev/null -w '%{http_code}' \"$ONVIF_SNAPSHOT_URI\"";
        let out = run_in_onvif_sim(&["sh", "-c", script], &[], Duration::from_secs(60)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "200",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Nothing of it is left in our own namespace.
        assert!(!crate::sockets::is_open(None, Proto::Tcp, ONVIF_PORT));
    }
}
