//! Child processes for tests: spawned in their own process group, waited for
//! a readiness line on stdout/stderr or another condition (never a sleep),
//! their last lines of output kept for error messages, killed on drop.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
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

/// How many of a child's last lines of output are kept.
const KEPT_LINES: usize = 40;

/// A spawned process, killed (SIGKILL to its group) on drop.
#[derive(Debug)]
pub struct Child {
    inner: std::process::Child,
    name: String,
    said: Arc<Mutex<VecDeque<String>>>,
}

impl Child {
    /// Spawns `cmd` in a new process group, its stdout and stderr drained in
    /// the background (the last lines kept, see [`said`](Self::said)). For a
    /// service whose readiness is not a line it prints.
    pub fn spawn(cmd: Command, name: &str) -> Result<Self> {
        let (child, _lines, _) = Self::spawn_piped(cmd, name, false)?;
        Ok(child)
    }

    /// Spawns `cmd` in a new process group and hands back its stdout, for a
    /// child whose output is data (ffmpeg writing frames); its stderr is
    /// drained and kept as with [`spawn`](Self::spawn).
    pub fn spawn_reading(cmd: Command, name: &str) -> Result<(Self, ChildStdout)> {
        let (child, _lines, stdout) = Self::spawn_piped(cmd, name, true)?;
        Ok((child, stdout.context("stdout is piped")?))
    }

    /// Spawns `cmd` in a new process group and reads its stdout and stderr
    /// until a line contains `ready_marker`; returns that line. The rest of
    /// the output is drained in the background so the child never blocks.
    pub fn spawn_until(cmd: Command, name: &str, ready_marker: &str) -> Result<(Self, String)> {
        let (child, rx, _) = Self::spawn_piped(cmd, name, false)?;
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

    fn spawn_piped(
        mut cmd: Command,
        name: &str,
        hand_back_stdout: bool,
    ) -> Result<(Self, mpsc::Receiver<String>, Option<ChildStdout>)> {
        use std::os::unix::process::CommandExt;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut inner = cmd.spawn().with_context(|| format!("spawning {name}"))?;
        let (tx, rx) = mpsc::channel::<String>();
        let said = Arc::new(Mutex::new(VecDeque::new()));
        let stdout = inner.stdout.take().context("stdout is piped")?;
        let stderr = inner.stderr.take().context("stderr is piped")?;
        let stdout = if hand_back_stdout {
            Some(stdout)
        } else {
            forward_lines(stdout, tx.clone(), Arc::clone(&said));
            None
        };
        forward_lines(stderr, tx, Arc::clone(&said));
        let child = Self {
            inner,
            name: name.to_owned(),
            said,
        };
        Ok((child, rx, stdout))
    }

    /// The last lines it printed (stdout and stderr), for error messages.
    pub fn said(&self) -> String {
        let said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        Vec::from(said.clone()).join("\n")
    }

    /// Its exit status, if it has already exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.inner.try_wait().ok().flatten()
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

fn forward_lines(
    stream: impl Read + Send + 'static,
    tx: mpsc::Sender<String>,
    said: Arc<Mutex<VecDeque<String>>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            {
                let mut said = said.lock().unwrap_or_else(|e| e.into_inner());
                if said.len() == KEPT_LINES {
                    said.pop_front();
                }
                said.push_back(line.clone());
            }
            // The receiver is gone once the service is ready; keep draining.
            let _ = tx.send(line);
        }
    });
}
