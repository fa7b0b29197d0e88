//! The agent as a whole: starts the stages (store → Redis → producer and
//! workers → cameras → API) and stops them in the order of docs/design.md
//! "Shutdown": capture, producer (drains the hand-off), workers (finish the
//! batch in hand), API, index flush, own Redis (saved). Each stage is a set
//! of tasks on its own `TaskTracker` with its own cancellation token, so
//! that the order is explicit; a stage that fails stops the agent.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::api::{self, ApiState};
use crate::capture::Camera;
use crate::clock::Clock;
use crate::config::{Config, QueueConfig};
use crate::gps::reader::GpsReader;
use crate::gps::state::Gps;
use crate::handoff::Handoff;
use crate::metrics::Metrics;
use crate::queue::{Producer, Queue};
use crate::redis_server::OwnRedis;
use crate::retention::Retention;
use crate::store::Store;
use crate::timestamp::Timestamp;
use crate::worker::Worker;

/// Frames the hand-off holds while Redis is away (seconds of a few cameras).
const HANDOFF_FRAMES: usize = 128;
/// Entries a worker takes per read.
const WORKER_BATCH: usize = 16;
/// Entries idle this long belong to a dead consumer and are claimed.
const CLAIM_IDLE_MS: u64 = 10_000;
/// How far back start-up reconcile looks (an hour, in ns).
const RECONCILE_WINDOW_NS: i64 = 3_600_000_000_000;
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

/// The frame path without cameras or API: store, Redis (own or given),
/// producer and workers. The agent and the benchmark both run it; frames
/// go in through [`Pipeline::handoff`].
#[derive(Debug)]
pub struct Pipeline {
    pub handoff: Handoff,
    pub metrics: Arc<Metrics>,
    pub store: Arc<Store>,
    own_redis_pid: Option<Arc<AtomicU32>>,
    producer: Stage,
    workers: Stage,
    redis: Stage,
    failed: CancellationToken,
}

impl Pipeline {
    /// Opens the store in `data_dir` (repairing crash leftovers), starts
    /// Redis (the own one when `queue.redis_url` is absent), the producer
    /// and `queue.workers` workers.
    pub async fn start(
        data_dir: &Path,
        queue_cfg: &QueueConfig,
        gps: Arc<Gps>,
    ) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let dir = data_dir.to_owned();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir))
            .await?
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
        let store = Arc::new(store);
        // Start-up repair of the recent past (a crash can leave a file without
        // its row, or a row whose deletion was interrupted).
        let s = Arc::clone(&store);
        let since = Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() - RECONCILE_WINDOW_NS);
        let report = tokio::task::spawn_blocking(move || s.reconcile(Some(since)))
            .await?
            .context("reconciling the index with the disk")?;
        if report.rows_dropped + report.files_indexed > 0 {
            tracing::info!(?report, "repaired the index from the disk");
        }
        let failed = CancellationToken::new();
        let (producer, workers, redis) = (
            Stage::new("producer"),
            Stage::new("workers"),
            Stage::new("redis"),
        );

        let (redis_url, own_redis_pid) = match &queue_cfg.redis_url {
            Some(url) => (url.expose().to_owned(), None),
            None => {
                let own = OwnRedis::start(&data_dir.join("redis")).await?;
                let url = own.url();
                let pid = own.pid_handle();
                let token = redis.token.clone();
                redis.spawn(tracing::info_span!("redis"), &failed, own.run(token));
                (url, Some(pid))
            }
        };
        let queue = Queue::new(&redis_url, queue_cfg.max_len, Arc::clone(&metrics))
            .context("queue.redis_url")?;
        let handoff = Handoff::new(HANDOFF_FRAMES, Arc::clone(&metrics));
        for n in 0..queue_cfg.workers {
            let worker = Worker {
                name: format!("worker-{n}"),
                queue: queue.clone(),
                store: Arc::clone(&store),
                metrics: Arc::clone(&metrics),
                batch_size: WORKER_BATCH,
                claim_idle_ms: CLAIM_IDLE_MS,
                gps: Arc::clone(&gps),
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
        Ok(Self {
            handoff,
            metrics,
            store,
            own_redis_pid,
            producer,
            workers,
            redis,
            failed,
        })
    }

    /// The own redis-server's pid, if the agent runs one and it is up.
    pub fn own_redis_pid(&self) -> Option<u32> {
        self.own_redis_pid
            .as_ref()
            .map(|p| p.load(Ordering::Relaxed))
            .filter(|p| *p != 0)
    }

    /// Steps 2–3 of shutdown: the producer drains the hand-off into the
    /// stream, then the workers finish the batches in hand.
    pub async fn stop_flow(&self) {
        tracing::info!("stopping: producer (draining the hand-off)");
        self.producer.stop().await;
        tracing::info!("stopping: workers (finishing their batches)");
        self.workers.stop().await;
    }

    /// Step 4: flush the index, stop the own Redis (saving the stream).
    pub async fn close(self) -> anyhow::Result<()> {
        let store = Arc::clone(&self.store);
        if let Err(e) = tokio::task::spawn_blocking(move || store.flush()).await? {
            tracing::warn!("index flush failed: {e}");
        }
        self.redis.stop().await;
        Ok(())
    }
}

/// A running agent: the pipeline, its cameras and the API.
#[derive(Debug)]
pub struct Agent {
    api_addr: SocketAddr,
    pipeline: Pipeline,
    capture: Stage,
    api: Stage,
    gps: Stage,
    retention: Stage,
}

impl Agent {
    /// Starts the pipeline, the cameras and the API (on `api.listen`; port
    /// 0 picks a free one).
    pub async fn start(cfg: Config) -> anyhow::Result<Self> {
        Self::start_with_clock_skew(cfg, 0).await
    }

    /// [`start`](Self::start) with the system clock read `skew_ns` off: for
    /// tests of a board that booted with a wrong clock.
    pub async fn start_with_clock_skew(cfg: Config, skew_ns: i64) -> anyhow::Result<Self> {
        let gps = Arc::new(Gps::with_clock_skew(cfg.gps.max_fix_age_s, skew_ns));
        let clock = Clock::new(Arc::clone(&gps));
        let pipeline = Pipeline::start(&cfg.data_dir, &cfg.queue, Arc::clone(&gps)).await?;
        let (capture, api, gps_stage) =
            (Stage::new("capture"), Stage::new("api"), Stage::new("gps"));
        let retention = Stage::new("retention");
        let keeper = Retention {
            store: Arc::clone(&pipeline.store),
            policy: cfg.retention.clone(),
            frames_dir: cfg.frames_dir(),
            metrics: Arc::clone(&pipeline.metrics),
        };
        retention.spawn(
            tracing::info_span!("retention"),
            &pipeline.failed,
            keeper.run(retention.token.clone()),
        );
        let reader = GpsReader {
            source: cfg.gps.source.clone(),
            gps: Arc::clone(&gps),
        };
        gps_stage.spawn(
            tracing::info_span!("gps"),
            &pipeline.failed,
            reader.run(gps_stage.token.clone()),
        );
        for cam in &cfg.cameras {
            let id = cam.id.clone();
            let s = Arc::clone(&pipeline.store);
            let first_seq = tokio::task::spawn_blocking(move || s.max_seq(&id))
                .await?
                .context("reading the index")?
                .map_or(0, |s| s + 1);
            let camera = Camera::new(
                cam.clone(),
                pipeline.handoff.clone(),
                pipeline.metrics.register_camera(&cam.id, cam.fps),
                clock.clone(),
                first_seq,
            );
            capture.spawn(
                tracing::info_span!("camera", id = %cam.id),
                &pipeline.failed,
                camera.run(capture.token.clone()),
            );
        }
        let listener = tokio::net::TcpListener::bind(cfg.api.listen)
            .await
            .with_context(|| format!("api.listen: cannot listen on {}", cfg.api.listen))?;
        let api_addr = listener.local_addr()?;
        let state = ApiState::new(
            Arc::clone(&pipeline.store),
            Arc::clone(&pipeline.metrics),
            cfg.api.token.clone(),
            cfg.vessel.clone(),
            clock,
        );
        api.spawn(
            tracing::info_span!("api"),
            &pipeline.failed,
            api::serve(listener, state, api.token.clone()),
        );
        tracing::info!(addr = %api_addr, cameras = cfg.cameras.len(), "api listening");
        Ok(Self {
            api_addr,
            pipeline,
            capture,
            api,
            gps: gps_stage,
            retention,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.pipeline.metrics
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.pipeline.store
    }

    /// The own redis-server's pid, if the agent runs one and it is up.
    pub fn own_redis_pid(&self) -> Option<u32> {
        self.pipeline.own_redis_pid()
    }

    /// Stops the cameras only (the first step of shutdown); the rest goes on
    /// until everything captured is stored.
    pub fn stop_capture(&self) {
        self.capture.token.cancel();
    }

    /// Resolves when a stage has failed.
    pub async fn failed(&self) {
        self.pipeline.failed.cancelled().await;
    }

    /// The ordered stop of docs/design.md "Shutdown".
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!("stopping: capture");
        self.capture.stop().await;
        self.gps.stop().await;
        self.retention.stop().await;
        self.pipeline.stop_flow().await;
        self.api.stop().await;
        self.pipeline.close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The runtime the agent runs on: few async workers (the hot work — fsync,
/// SQLite, JPEG — runs on a small blocking pool; many threads would each
/// grow their own malloc arena).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .thread_name("seaframe")
        .enable_all()
        .build()
}

/// Runs the agent until `shutdown` (or a stage fails), then stops it in order.
pub async fn run(cfg: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let agent = Agent::start(cfg).await?;
    let notifier = crate::notify::Notifier::ready(Arc::clone(agent.metrics()));
    let failed = tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = agent.failed() => true,
    };
    notifier.stopping().await;
    agent.shutdown().await?;
    if failed {
        anyhow::bail!("a stage failed (see the log above)");
    }
    Ok(())
}
