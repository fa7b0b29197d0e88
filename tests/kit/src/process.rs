//! Child processes for tests: spawned in their own process group, waited for
//! a readiness line on stdout/stderr (never a sleep), killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// How long a service may take to say it is ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Fails with the Debian package to install when `binary` is not on PATH.
pub fn require_binary(binary: &str, debian_package: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(binary).is_file()))
        .unwrap_or(false);
    if !found {
        bail!("`{binary}` is not installed: apt-get install -y {debian_package}");
    }
    Ok(())
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Starts a server on a free loopback port with `spawn(port)`; another
/// process may take a port between its check and the server's bind, so a
/// few ports are tried. Returns the child and its port.
pub fn spawn_on_free_port(
    name: &str,
    mut spawn: impl FnMut(u16) -> Result<Child>,
) -> Result<(Child, u16)> {
    let mut last_err = None;
    for _ in 0..5 {
        let port = free_port()?;
        match spawn(port) {
            Ok(child) => return Ok((child, port)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow::anyhow!("{name} did not start")))
}

/// A spawned process, killed (SIGKILL to its group) on drop.
#[derive(Debug)]
pub struct Child {
    inner: std::process::Child,
    name: String,
}

impl Child {
    /// Spawns `cmd` in a new process group and reads its stdout and stderr
    /// until a line contains `ready_marker`; returns that line. The rest of
    /// the output is drained in the background so the child never blocks.
    pub fn spawn_until(mut cmd: Command, name: &str, ready_marker: &str) -> Result<(Self, String)> {
        use std::os::unix::process::CommandExt;
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut inner = cmd.spawn().with_context(|| format!("spawning {name}"))?;
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = inner.stdout.take().context("stdout is piped")?;
        let stderr = inner.stderr.take().context("stderr is piped")?;
        forward_lines(stdout, tx.clone());
        forward_lines(stderr, tx);
        let child = Self {
            inner,
            name: name.to_owned(),
        };
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(ready_marker) => return Ok((child, line)),
                Ok(line) => seen.push(line),
                Err(_) => bail!(
                    "{name} did not print {ready_marker:?} within {READY_TIMEOUT:?}; it said:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.inner.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// SIGTERM (an orderly stop: a broker saves what it persists), then
    /// waits up to `timeout` before SIGKILL.
    pub fn terminate(&mut self, timeout: Duration) {
        if let Ok(pid) = i32::try_from(self.inner.id()) {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        if self.wait_exit(timeout).is_none() {
            self.kill();
        }
    }

    /// SIGKILL to the whole process group, then reap.
    pub fn kill(&mut self) {
        if let Ok(pid) = i32::try_from(self.inner.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.inner.kill();
        let _ = self.inner.wait();
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

fn forward_lines(stream: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            // The receiver is gone once the service is ready; keep draining.
            let _ = tx.send(line);
        }
    });
}
