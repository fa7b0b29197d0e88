//! A real S3-compatible server per test: moto in server mode (PyPI,
//! Apache-2.0, installed in a venv by `scripts/install-moto`) on a free
//! loopback port, ready once it answers HTTP, killed on drop.
//!
//! moto keeps its buckets in memory. So that a test can take the store
//! down and bring it back on the same port holding what it held (as a real
//! store would), moto's recorder is on: every request is appended to a file
//! in the server's temp dir, and [`MotoServer::restart`] has the new
//! process replay it. A request recorded but cut short by the stop is
//! replayed too (an object may come back that its client saw fail, which
//! a client that retries must take in its stride anyway).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{Child, READY_TIMEOUT, spawn_on_free_port};

/// How long a replay of the recording may take (moto replays one request
/// at a time, a few ms each).
const REPLAY_TIMEOUT: Duration = Duration::from_secs(120);

/// Where `scripts/install-moto` puts moto: `$MOTO_VENV`, else
/// `~/.cache/seaframe/moto`.
fn moto_server_binary() -> PathBuf {
    let venv = match std::env::var_os("MOTO_VENV") {
        Some(v) => PathBuf::from(v),
        None => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/seaframe/moto")
        }
    };
    venv.join("bin/moto_server")
}

/// Fails, naming the script that installs it, unless moto is installed.
pub fn require_moto() -> Result<PathBuf> {
    let binary = moto_server_binary();
    if !binary.is_file() {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-moto");
        let script = script.canonicalize().unwrap_or(script);
        bail!(
            "the S3 test server is not installed ({} is missing): run `{}` \
             (python3-venv; moto[server] from PyPI, ~60 MB)",
            binary.display(),
            script.display()
        );
    }
    Ok(binary)
}

#[derive(Debug)]
pub struct MotoServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    binary: PathBuf,
}

impl MotoServer {
    /// Starts moto on a free 127.0.0.1 port and waits until it answers.
    pub fn start() -> Result<Self> {
        let binary = require_moto()?;
        let dir = tempfile::tempdir()?;
        let (child, port) =
            spawn_on_free_port("moto_server", |port| spawn(&binary, dir.path(), port))?;
        Ok(Self {
            child: Some(child),
            port,
            dir,
            binary,
        })
    }

    /// `http://127.0.0.1:PORT`: the `endpoint` of an S3 client (path-style,
    /// any region, any credentials).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::pid)
    }

    /// Makes a bucket (an unsigned `PUT /<bucket>`, which moto takes).
    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        match request(self.port, "PUT", &format!("/{bucket}"), READY_TIMEOUT)? {
            200 => Ok(()),
            status => bail!("creating bucket {bucket}: HTTP {status}"),
        }
    }

    /// SIGKILL: the store is gone at once, mid-request if need be.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Starts it again on the same port and replays what it was asked
    /// before, so that it holds the buckets and objects it held; returns
    /// once the replay is done.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.child = Some(spawn(&self.binary, self.dir.path(), self.port)?);
        match request(
            self.port,
            "POST",
            "/moto-api/recorder/replay-recording",
            REPLAY_TIMEOUT,
        )? {
            200 => Ok(()),
            status => bail!("replaying moto's recording: HTTP {status}"),
        }
    }
}

fn spawn(binary: &Path, dir: &Path, port: u16) -> Result<Child> {
    let mut cmd = Command::new(binary);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_ENABLE_RECORDING", "1")
        .env("MOTO_RECORDER_FILEPATH", dir.join("recording.jsonl"))
        .current_dir(dir);
    let mut child = Child::spawn(cmd, "moto_server")?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if request(port, "GET", "/", Duration::from_secs(2)).is_ok() {
            return Ok(child);
        }
        if let Some(status) = child.exited() {
            bail!("moto_server exited ({status}); it said:\n{}", child.said());
        }
        if Instant::now() >= deadline {
            bail!(
                "moto_server did not answer on port {port} within {READY_TIMEOUT:?}; it said:\n{}",
                child.said()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request without a body; its status code.
fn request(port: u16, method: &str, path: &str, timeout: Duration) -> Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).context("connecting to moto")?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .context("reading moto's answer")?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| text.starts_with("HTTP/1."))
        .with_context(|| format!("not an HTTP answer: {:?}", text.lines().next()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_its_buckets_across_a_restart_on_the_same_port() {
        let mut moto = MotoServer::start().unwrap();
        moto.create_bucket("kit-bucket").unwrap();
        assert_eq!(
            request(moto.port(), "HEAD", "/kit-bucket", READY_TIMEOUT).unwrap(),
            200
        );
        assert_eq!(
            request(moto.port(), "HEAD", "/no-such-bucket", READY_TIMEOUT).unwrap(),
            404
        );
        moto.stop();
        assert!(request(moto.port(), "GET", "/", READY_TIMEOUT).is_err());
        moto.restart().unwrap();
        assert_eq!(
            request(moto.port(), "HEAD", "/kit-bucket", READY_TIMEOUT).unwrap(),
            200
        );
    }
}
