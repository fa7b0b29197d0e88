//! The agent as a whole: starts the stages (store → Redis → producer and
//! workers → cameras → API) and stops them in the order of docs/design.md
//! "Shutdown": capture, producer (drains the hand-off), workers (finish the
//! batch in hand), API, index flush, own Redis (saved). Each stage is a set
//! of tasks on its own `TaskTracker` with its own cancellation token, so
//! that the order is explicit; a stage that fails stops the agent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::api::{self, ApiState};
use crate::capture::Camera;
use crate::config::Config;
use crate::handoff::Handoff;
use crate::metrics::Metrics;
use crate::queue::{Producer, Queue};
use crate::redis_server::OwnRedis;
use crate::store::Store;
use crate::worker::Worker;

/// Frames the hand-off holds while Redis is away (seconds of a few cameras).
const HANDOFF_FRAMES: usize = 256;
/// Entries a worker takes per read.
const WORKER_BATCH: usize = 16;
/// Entries idle this long belong to a dead consumer and are claimed.
const CLAIM_IDLE_MS: u64 = 10_000;
/// How long shutdown waits for each stage.
const STAGE_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A group of tasks stopped together.
#[derive(Debug)]
struct Stage {
    name: &'static str,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Stage {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }

    /// Spawns a task of this stage in a span; if it fails, `failed` is cancelled.
    fn spawn<F>(&self, span: tracing::Span, failed: &CancellationToken, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let failed = failed.clone();
        let name = self.name;
        self.tracker.spawn(
            async move {
                if let Err(e) = task.await {
                    tracing::error!(stage = name, "stage failed: {e:#}");
                    failed.cancel();
                }
            }
            .instrument(span),
        );
    }

    async fn stop(&self) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(STAGE_STOP_TIMEOUT, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                stage = self.name,
                "did not stop within {STAGE_STOP_TIMEOUT:?}"
            );
        }
    }
}

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    api_addr: SocketAddr,
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    own_redis_pid: Option<Arc<AtomicU32>>,
    capture: Stage,
    producer: Stage,
    workers: Stage,
    api: Stage,
    redis: Stage,
    failed: CancellationToken,
}

impl Agent {
    /// Opens the store, starts Redis (own or external), the producer, the
    /// workers, the cameras and the API (on `api.listen`; port 0 picks one).
    pub async fn start(cfg: Config) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let data_dir = cfg.data_dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&data_dir))
            .await?
            .with_context(|| format!("opening the store in {}", cfg.data_dir.display()))?;
        let store = Arc::new(store);
        let failed = CancellationToken::new();
        let (capture, producer, workers, api, redis) = (
            Stage::new("capture"),
            Stage::new("producer"),
            Stage::new("workers"),
            Stage::new("api"),
            Stage::new("redis"),
        );

        let (redis_url, own_redis_pid) = match &cfg.queue.redis_url {
            Some(url) => (url.expose().to_owned(), None),
            None => {
                let own = OwnRedis::start(&cfg.redis_dir()).await?;
                let url = own.url();
                let pid = own.pid_handle();
                let token = redis.token.clone();
                redis.spawn(tracing::info_span!("redis"), &failed, own.run(token));
                (url, Some(pid))
            }
        };
        let queue = Queue::new(&redis_url, cfg.queue.max_len, Arc::clone(&metrics))
            .context("queue.redis_url")?;
        let handoff = Handoff::new(HANDOFF_FRAMES, Arc::clone(&metrics));

        for n in 0..cfg.queue.workers {
            let worker = Worker {
                name: format!("worker-{n}"),
                queue: queue.clone(),
                store: Arc::clone(&store),
                metrics: Arc::clone(&metrics),
                batch_size: WORKER_BATCH,
                claim_idle_ms: CLAIM_IDLE_MS,
            };
            workers.spawn(
                tracing::info_span!("worker", n),
                &failed,
                worker.run(workers.token.clone()),
            );
        }
        let p = Producer {
            queue,
            handoff: handoff.clone(),
        };
        producer.spawn(
            tracing::info_span!("producer"),
            &failed,
            p.run(producer.token.clone()),
        );

        for cam in &cfg.cameras {
            let id = cam.id.clone();
            let s = Arc::clone(&store);
            let first_seq = tokio::task::spawn_blocking(move || s.max_seq(&id))
                .await?
                .context("reading the index")?
                .map_or(0, |s| s + 1);
            let camera = Camera::new(
                cam.clone(),
                handoff.clone(),
                metrics.register_camera(&cam.id, cam.fps),
                first_seq,
            );
            capture.spawn(
                tracing::info_span!("camera", id = %cam.id),
                &failed,
                camera.run(capture.token.clone()),
            );
        }

        let listener = tokio::net::TcpListener::bind(cfg.api.listen)
            .await
            .with_context(|| format!("api.listen: cannot listen on {}", cfg.api.listen))?;
        let api_addr = listener.local_addr()?;
        let state = ApiState::new(
            Arc::clone(&store),
            Arc::clone(&metrics),
            cfg.api.token.clone(),
            cfg.vessel.clone(),
        );
        api.spawn(
            tracing::info_span!("api"),
            &failed,
            api::serve(listener, state, api.token.clone()),
        );
        tracing::info!(addr = %api_addr, cameras = cfg.cameras.len(), "api listening");

        Ok(Self {
            api_addr,
            metrics,
            store,
            own_redis_pid,
            capture,
            producer,
            workers,
            api,
            redis,
            failed,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The own redis-server's pid, if the agent runs one and it is up.
    pub fn own_redis_pid(&self) -> Option<u32> {
        self.own_redis_pid
            .as_ref()
            .map(|p| p.load(Ordering::Relaxed))
            .filter(|p| *p != 0)
    }

    /// Stops the cameras only (the first step of shutdown); the rest goes on
    /// until everything captured is stored.
    pub fn stop_capture(&self) {
        self.capture.token.cancel();
    }

    /// Resolves when a stage has failed.
    pub async fn failed(&self) {
        self.failed.cancelled().await;
    }

    /// The ordered stop of docs/design.md "Shutdown".
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!("stopping: capture");
        self.capture.stop().await;
        tracing::info!("stopping: producer (draining the hand-off)");
        self.producer.stop().await;
        tracing::info!("stopping: workers (finishing their batches)");
        self.workers.stop().await;
        self.api.stop().await;
        let store = Arc::clone(&self.store);
        if let Err(e) = tokio::task::spawn_blocking(move || store.flush()).await? {
            tracing::warn!("index flush failed: {e}");
        }
        self.redis.stop().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Runs the agent until `shutdown` (or a stage fails), then stops it in order.
pub async fn run(cfg: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let agent = Agent::start(cfg).await?;
    let failed = tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = agent.failed() => true,
    };
    agent.shutdown().await?;
    if failed {
        anyhow::bail!("a stage failed (see the log above)");
    }
    Ok(())
}
