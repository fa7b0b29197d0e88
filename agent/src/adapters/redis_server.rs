//! The agent's own `redis-server`, used when `queue.redis_url` is absent:
//! on a unix socket in `data_dir/redis/`, no periodic saves (the disk is
//! for frames), a `SHUTDOWN SAVE` at a clean stop so that the stream and
//! its pending entries come back at the next start. Supervised: restarted
//! with back-off when it dies. A server left running by an agent that was
//! SIGKILLed is adopted rather than started twice.
//!
//! Redis never travels back in time: a `dump.rdb` is loaded only if a
//! clean stop wrote it (the `clean-stop` mark, removed as soon as a server
//! is up again) or nothing was indexed since it was written (the index's
//! files are older). Any other dump — the one a dead server or a power cut
//! leaves behind — is set aside as `dump.rdb.stale` before the server
//! starts: loading it would hand the workers frames already stored, even
//! deleted since, and hide the frames the dead server held. The server
//! starts empty instead, and the queue counts those frames `lost`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio_util::sync::CancellationToken;

use crate::base::backoff::{Backoff, pause};

/// Redis 7 says "Ready to accept connections" (TCP) or "The server is now
/// ready to accept connections at <socket>" (unix socket only).
const READY_LINE: &str = "ready to accept connections";
const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// A server that ran this long before dying is restarted at once.
const STABLE_S: u64 = 10;
/// Written after a clean `SHUTDOWN SAVE`: the dump beside it is current.
const CLEAN_STOP_MARK: &str = "clean-stop";
const DUMP: &str = "dump.rdb";

/// The running (or adopted) server and its supervisor.
#[derive(Debug)]
pub struct OwnRedis {
    dir: PathBuf,
    socket: PathBuf,
    /// The server's pid (0: not known, e.g. adopted).
    pid: Arc<AtomicU32>,
    process: Option<(Child, Lines<BufReader<ChildStdout>>)>,
    /// A server we did not start (watched by PING, not by `wait`).
    adopted: bool,
    /// Times the supervisor started a new server after one died.
    restarts: Arc<AtomicU64>,
    /// When the current server became ready (a quick death backs off).
    ready_at: Option<tokio::time::Instant>,
}

impl OwnRedis {
    /// Starts (or adopts) the server in `dir`; returns once it accepts
    /// connections. Call before anything connects to [`url`](Self::url).
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let socket = dir.join("redis.sock");
        let mut own = Self {
            dir: dir.to_owned(),
            socket,
            pid: Arc::default(),
            process: None,
            adopted: false,
            restarts: Arc::default(),
            ready_at: None,
        };
        if own.answers().await {
            own.adopted = true;
            tracing::info!(socket = %own.socket.display(), "adopting the redis-server already running");
            own.pid
                .store(read_pid(&own.dir).unwrap_or(0), Ordering::Relaxed);
        } else {
            own.spawn().await?;
        }
        Ok(own)
    }

    /// `unix://…/redis.sock`
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A shared view of the server's pid (changes when it is restarted).
    pub fn pid_handle(&self) -> Arc<AtomicU32> {
        Arc::clone(&self.pid)
    }

    /// A shared count of the restarts after a death (for `/metrics`).
    pub fn restarts_handle(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.restarts)
    }

    /// Counts restarts into `counter` (the agent's metrics) from now on.
    pub fn counting_restarts_in(mut self, counter: Arc<AtomicU64>) -> Self {
        self.restarts = counter;
        self
    }

    async fn answers(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let ping = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), ping).await,
            Ok(Ok(_))
        )
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let _ = std::fs::remove_file(&self.socket);
        self.set_aside_a_stale_dump();
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            "0",
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args([
            "--dbfilename",
            "dump.rdb",
            "--logfile",
            "",
            "--daemonize",
            "no",
        ])
        .arg("--unixsocket")
        .arg(&self.socket)
        .arg("--pidfile")
        .arg(self.dir.join("redis.pid"))
        .arg("--dir")
        .arg(&self.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!(
                    "redis-server is not installed: apt-get install -y redis-server (or set queue.redis_url)"
                )
            }
            Err(e) => return Err(e).context("starting redis-server"),
        };
        let stdout = child
            .stdout
            .take()
            .context("redis-server stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                tracing::debug!(target: "redis", "{line}");
                if line.to_ascii_lowercase().contains(READY_LINE) {
                    return Ok(true);
                }
            }
            Ok::<_, std::io::Error>(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => bail!(
                "redis-server exited during start-up (see {} and its log)",
                self.dir.display()
            ),
            Ok(Err(e)) => return Err(e).context("reading redis-server's output"),
            Err(_) => bail!("redis-server did not become ready within {START_TIMEOUT:?}"),
        }
        // From now on the workers move past what the dump holds.
        if let Err(e) = remove_durably(&self.dir.join(CLEAN_STOP_MARK)) {
            tracing::warn!("removing {CLEAN_STOP_MARK} in {}: {e}", self.dir.display());
        }
        self.pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
        self.ready_at = Some(tokio::time::Instant::now());
        tracing::info!(pid = child.id(), socket = %self.socket.display(), "own redis-server ready");
        self.process = Some((child, lines));
        Ok(())
    }

    /// Supervises the server until `shutdown`, then stops it with
    /// `SHUTDOWN SAVE`. Call after the agent's last Redis user stopped.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        while !shutdown.is_cancelled() {
            if self.adopted {
                // Adopted: watch it by PING.
                if !pause(Duration::from_secs(1), &shutdown).await {
                    break;
                }
                if !self.answers().await {
                    tracing::warn!("adopted redis-server stopped answering; starting our own");
                    self.adopted = false;
                    self.pid.store(0, Ordering::Relaxed);
                    self.restarts.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            match self.process.as_mut() {
                Some((child, lines)) => {
                    tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => break,
                        status = child.wait() => {
                            let pid = self.pid.swap(0, Ordering::Relaxed);
                            self.process = None;
                            let ran_s = self.ready_at.take().map_or(0, |t| t.elapsed().as_secs());
                            tracing::warn!(pid, ?status, ran_s, "own redis-server died; restarting it");
                            self.restarts.fetch_add(1, Ordering::Relaxed);
                            // A server that keeps dying soon after start is restarted with back-off.
                            if ran_s < STABLE_S {
                                if !pause(backoff.next_delay(), &shutdown).await {
                                    break;
                                }
                            } else {
                                backoff.reset();
                            }
                        }
                        line = lines.next_line() => match line {
                            Ok(Some(line)) => log_line(&line),
                            // stdout closed: the process is ending; wait() tells.
                            _ => { let _ = child.wait().await; }
                        },
                    }
                }
                None => match self.spawn().await {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::error!("cannot restart redis-server: {e:#}");
                        if !pause(backoff.next_delay(), &shutdown).await {
                            break;
                        }
                    }
                },
            }
        }
        self.stop().await;
        Ok(())
    }

    /// Moves a dump that is older than the index aside (module doc).
    fn set_aside_a_stale_dump(&self) {
        let dump = self.dir.join(DUMP);
        let Ok(dumped) = std::fs::metadata(&dump).and_then(|m| m.modified()) else {
            return;
        };
        if self.dir.join(CLEAN_STOP_MARK).exists() {
            return;
        }
        let index = self.dir.parent().map(|d| d.join("index.db"));
        let indexed_since = index.iter().any(|i| {
            [i.clone(), i.with_extension("db-wal")].iter().any(|f| {
                std::fs::metadata(f)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t > dumped)
            })
        });
        if !indexed_since {
            return;
        }
        let aside = self.dir.join(format!("{DUMP}.stale"));
        match std::fs::rename(&dump, &aside) {
            Ok(()) => tracing::warn!(
                "{} was not written by a clean stop and frames were indexed since: set aside as {} \
                 (the queue starts empty; what the last server held is counted lost)",
                dump.display(),
                aside.display()
            ),
            Err(e) => tracing::error!("cannot set aside the stale {}: {e}", dump.display()),
        }
    }

    /// `SHUTDOWN SAVE`, then wait for the process (kill it if it hangs);
    /// once it saved and stopped, mark the dump current.
    async fn stop(&mut self) {
        let save = async {
            let client = redis::Client::open(self.url())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            // The server closes the connection as it exits: an error here is normal.
            let _ = redis::cmd("SHUTDOWN")
                .arg("SAVE")
                .query_async::<()>(&mut conn)
                .await;
            Ok::<_, redis::RedisError>(())
        };
        if let Err(e) = tokio::time::timeout(STOP_TIMEOUT, save)
            .await
            .unwrap_or(Ok(()))
        {
            tracing::warn!("could not ask redis-server to save and stop: {e}");
        }
        let saved = match self.process.take() {
            Some((mut child, _)) => match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
                Ok(Ok(status)) if status.success() => true,
                Ok(_) => false,
                Err(_) => {
                    tracing::warn!("redis-server did not stop; killing it");
                    let _ = child.kill().await;
                    false
                }
            },
            // Adopted: it saved if it is gone.
            None => !self.answers().await,
        };
        if saved && self.dir.join(DUMP).exists() {
            match write_durably(&self.dir.join(CLEAN_STOP_MARK)) {
                Ok(()) => tracing::info!("own redis-server saved and stopped"),
                Err(e) => tracing::warn!("marking the saved dump current: {e}"),
            }
        }
        self.pid.store(0, Ordering::Relaxed);
    }
}

/// Creates `path` (empty) and makes it durable.
fn write_durably(path: &Path) -> std::io::Result<()> {
    std::fs::File::create(path)?.sync_all()?;
    sync_parent(path)
}

/// Removes `path` (absent is fine) and makes that durable.
fn remove_durably(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn read_pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("redis.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn log_line(line: &str) {
    if line.contains("WARNING") || line.contains("rror") {
        tracing::warn!(target: "redis", "{line}");
    } else {
        tracing::debug!(target: "redis", "{line}");
    }
}
