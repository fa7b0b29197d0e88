//! The agent as a whole: starts the stages (store → Redis → producer and
//! workers → cameras → API) and stops them in the order of docs/design.md
//! "Shutdown": capture, producer (drains the hand-off), workers (finish the
//! batch in hand), API, index flush, own Redis (saved). Each stage is a set
//! of tasks on its own `TaskTracker` with its own cancellation token, so
//! that the order is explicit; a stage that fails stops the agent.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::adapters::config::files::check_files;
use crate::adapters::config::in_effect::InEffect;
use crate::adapters::config::pushed::Pushed;
use crate::adapters::queue::Queue;
use crate::adapters::redis_server::OwnRedis;
use crate::adapters::store::Store;
use crate::adapters::store::lock::DataDirLock;
use crate::base::clock::Clock;
use crate::base::config::{Config, QueueConfig};
use crate::base::gps::state::Gps;
use crate::base::handoff::Handoff;
use crate::base::metrics::Metrics;
use crate::services::api::{self, ApiState};
use crate::services::fswatch::{DiskWatch, WatchSettings};
use crate::services::live::{Cameras, GpsTask, Reconfigure};
use crate::services::producer::Producer;
use crate::services::retention::Retention;
use crate::services::sharpness::Scorer;
use crate::services::shore_link::status::StatusSource;
use crate::services::shore_link::{Uplink, UplinkParts};
use crate::services::stage::Stage;
use crate::services::track_recorder::Recorder;
use crate::services::worker::Worker;
use seaframe_wire::timestamp::Timestamp;

/// Frames the hand-off holds while Redis is away (seconds of a few cameras).
const HANDOFF_FRAMES: usize = 128;
/// Entries a worker takes per read.
const WORKER_BATCH: usize = 16;
/// Entries idle this long belong to a dead consumer and are claimed.
const CLAIM_IDLE_MS: u64 = 10_000;
/// How far back start-up reconcile looks (an hour, in ns).
const RECONCILE_WINDOW_NS: i64 = 3_600_000_000_000;

/// The frame path without cameras or API: store, Redis (own or given),
/// producer and workers. The agent and the benchmark both run it; frames
/// go in through [`Pipeline::handoff`].
#[derive(Debug)]
pub struct Pipeline {
    pub handoff: Handoff,
    pub metrics: Arc<Metrics>,
    pub store: Arc<Store>,
    /// Held while the pipeline lives: one process per data directory.
    _lock: DataDirLock,
    own_redis_pid: Option<Arc<AtomicU32>>,
    producer: Stage,
    workers: Stage,
    /// The workers' sharpness thread, stopped after them.
    scorer: Arc<Scorer>,
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
        let lock = DataDirLock::acquire(data_dir)?;
        let dir = data_dir.to_owned();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir))
            .await?
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
        let store = Arc::new(store);
        // Start-up repair of the recent past (a crash can leave a file without
        // its row, or a row whose deletion was interrupted).
        let s = Arc::clone(&store);
        // A corrupt index was replaced by an empty one: rebuild all of it.
        let since = match store.rebuilt() {
            Some(note) => {
                metrics.store_health.note(note.to_owned());
                None
            }
            None => Some(Timestamp::from_unix_nanos(
                Timestamp::now().unix_nanos() - RECONCILE_WINDOW_NS,
            )),
        };
        let report = tokio::task::spawn_blocking(move || s.reconcile(since))
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
                let own = OwnRedis::start(&data_dir.join("redis"))
                    .await?
                    .counting_restarts_in(Arc::clone(&metrics.redis_restarts));
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
        let scorer = Scorer::start(Arc::clone(&store)).context("starting the sharpness thread")?;
        for n in 0..queue_cfg.workers {
            let worker = Worker {
                name: format!("worker-{n}"),
                queue: queue.clone(),
                store: Arc::clone(&store),
                metrics: Arc::clone(&metrics),
                batch_size: WORKER_BATCH,
                claim_idle_ms: CLAIM_IDLE_MS,
                gps: Arc::clone(&gps),
                sharpness: Some(Arc::clone(&scorer)),
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
            _lock: lock,
            own_redis_pid,
            producer,
            workers,
            scorer,
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

    /// Step 4: the sharpness thread measures what the workers left it and
    /// ends; flush the index, stop the own Redis (saving the stream).
    pub async fn close(self) -> anyhow::Result<()> {
        tracing::info!("stopping: sharpness (measuring what is queued)");
        let scorer = Arc::clone(&self.scorer);
        tokio::task::spawn_blocking(move || scorer.stop()).await?;
        let store = Arc::clone(&self.store);
        if let Err(e) = tokio::task::spawn_blocking(move || store.flush()).await? {
            tracing::warn!("index flush failed: {e}");
        }
        self.redis.stop().await;
        Ok(())
    }
}

/// A running agent: the pipeline, its cameras, the API and the uplink.
#[derive(Debug)]
pub struct Agent {
    api_addr: SocketAddr,
    pipeline: Pipeline,
    /// The ship's fixes and the board's clock as the agent sees it.
    clock_source: Arc<Gps>,
    control: Stage,
    capture: Stage,
    api: Stage,
    gps: Stage,
    retention: Stage,
    uplink: Stage,
    watch: Stage,
}

/// How to start an agent, beyond its config.
#[derive(Debug, Default)]
pub struct StartOptions {
    /// The system clock read this far off (tests of a board that booted
    /// with a wrong clock).
    pub clock_skew_ns: i64,
    /// The disk watch's pace (tests shorten it).
    pub watch: WatchSettings,
}

impl Agent {
    /// Starts the pipeline, the cameras, the API (on `api.listen`; port
    /// 0 picks a free one) and the uplink.
    pub async fn start(cfg: Config) -> anyhow::Result<Self> {
        Self::start_with(cfg, StartOptions::default()).await
    }

    /// [`start`](Self::start) with the system clock read `skew_ns` off.
    pub async fn start_with_clock_skew(cfg: Config, skew_ns: i64) -> anyhow::Result<Self> {
        let options = StartOptions {
            clock_skew_ns: skew_ns,
            ..StartOptions::default()
        };
        Self::start_with(cfg, options).await
    }

    /// Starts the agent on the operator's config `file` with the overlay
    /// pushed from shore that its data directory keeps (one that no longer
    /// loads is set aside, with an error in the log and the API).
    pub async fn start_with(file: Config, options: StartOptions) -> anyhow::Result<Self> {
        let started_at = Timestamp::now();
        let in_effect = Arc::new(RwLock::new(config_in_effect(&file)));
        let cfg = in_effect
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .config
            .clone();
        let gps = Arc::new(Gps::with_clock_skew(
            cfg.gps.max_fix_age_s,
            options.clock_skew_ns,
        ));
        let clock = Clock::new(Arc::clone(&gps));
        let pipeline = Pipeline::start(&cfg.data_dir, &cfg.queue, Arc::clone(&gps)).await?;
        let failed = pipeline.failed.clone();
        let (control, capture, api, gps_stage) = (
            Stage::new("control"),
            Stage::new("capture"),
            Stage::new("api"),
            Stage::new("gps"),
        );
        let (retention, uplink_stage) = (Stage::new("retention"), Stage::new("uplink"));
        let watch = Stage::new("watch");
        let disk_watch = DiskWatch {
            store: Arc::clone(&pipeline.store),
            metrics: Arc::clone(&pipeline.metrics),
            clock: clock.clone(),
            settings: options.watch,
        };
        watch.spawn(
            tracing::info_span!("watch"),
            &failed,
            disk_watch.run(watch.token.clone()),
        );
        let outbox = Uplink::open_outbox(&cfg).context("opening the uplink outbox")?;
        let (policy, cams, s) = (
            cfg.retention.clone(),
            cfg.cameras.clone(),
            Arc::clone(&pipeline.store),
        );
        tokio::task::spawn_blocking(move || {
            crate::services::retention::check_budget(&policy, &cams, &s)
        })
        .await?;
        let (retention_tx, policy) = watch::channel(cfg.retention.clone());
        let keeper = Retention {
            store: Arc::clone(&pipeline.store),
            policy,
            frames_dir: cfg.frames_dir(),
            metrics: Arc::clone(&pipeline.metrics),
            outbox: outbox.clone(),
        };
        retention.spawn(
            tracing::info_span!("retention"),
            &failed,
            keeper.run(retention.token.clone()),
        );
        let recorder = Recorder {
            gps: Arc::clone(&gps),
            store: Arc::clone(&pipeline.store),
        };
        gps_stage.spawn(
            tracing::info_span!("track"),
            &failed,
            recorder.run(gps_stage.token.clone()),
        );
        let mut gps_task = GpsTask::new(gps_stage.clone(), failed.clone(), Arc::clone(&gps));
        gps_task.apply(&cfg.gps);
        let mut cameras = Cameras::new(
            capture.clone(),
            failed.clone(),
            pipeline.handoff.clone(),
            Arc::clone(&pipeline.metrics),
            clock.clone(),
            Arc::clone(&pipeline.store),
        );
        cameras.apply(&cfg.cameras).await?;
        let listener = tokio::net::TcpListener::bind(cfg.api.listen)
            .await
            .with_context(|| format!("api.listen: cannot listen on {}", cfg.api.listen))?;
        let api_addr = listener.local_addr()?;
        let state = ApiState::new(
            Arc::clone(&pipeline.store),
            Arc::clone(&pipeline.metrics),
            cfg.api.token.clone(),
            cfg.vessel.clone(),
            clock.clone(),
        )
        .with_api_config(&cfg.api)
        .with_config(Arc::clone(&in_effect));
        api.spawn(
            tracing::info_span!("api"),
            &failed,
            api::serve(listener, state, api.token.clone()),
        );
        let (uplink_settings, configs) = match outbox {
            Some(outbox) => {
                let applied_version = Arc::new(AtomicU64::new(
                    in_effect
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pushed
                        .active
                        .as_ref()
                        .map_or(0, |o| o.version),
                ));
                let status = StatusSource {
                    metrics: Arc::clone(&pipeline.metrics),
                    clock: clock.clone(),
                    store: Arc::clone(&pipeline.store),
                    outbox: Arc::clone(&outbox),
                    data_dir: cfg.data_dir.clone(),
                    started_at,
                    config_version: Arc::clone(&applied_version),
                };
                let parts = UplinkParts {
                    in_effect: Arc::clone(&in_effect),
                    store: Arc::clone(&pipeline.store),
                    outbox,
                    metrics: Arc::clone(&pipeline.metrics),
                    status,
                    applied_version,
                };
                let up = Uplink::start(parts, &uplink_stage, &failed)?;
                (Some(up.settings), up.configs)
            }
            // Nothing will ever be pushed: a channel that stays empty.
            None => (None, mpsc::channel(1).1),
        };
        let reconfigure = Reconfigure {
            cameras,
            gps: gps_task,
            retention: retention_tx,
            uplink: uplink_settings,
            configs,
        };
        control.spawn(
            tracing::info_span!("reconfigure"),
            &failed,
            reconfigure.run(control.token.clone()),
        );
        tracing::info!(addr = %api_addr, cameras = cfg.cameras.len(), uplink = cfg.uplink.is_some(), "api listening");
        Ok(Self {
            api_addr,
            pipeline,
            clock_source: gps,
            control,
            capture,
            api,
            gps: gps_stage,
            retention,
            uplink: uplink_stage,
            watch,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Tests: the board's system clock steps by `delta_ns` (NTP correcting
    /// it) while the agent runs.
    pub fn step_clock(&self, delta_ns: i64) {
        self.clock_source.step_clock(delta_ns);
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
        self.control.stop().await;
        tracing::info!("stopping: capture");
        self.capture.stop().await;
        self.gps.stop().await;
        self.retention.stop().await;
        self.watch.stop().await;
        self.pipeline.stop_flow().await;
        tracing::info!("stopping: uplink (status offline, disconnect)");
        self.uplink.stop().await;
        self.api.stop().await;
        self.pipeline.close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The config to start with: `file` and the pushed overlay kept in its
/// data directory; what had to be set aside is logged (and kept for the
/// API). Problems with the files a config names are logged, never fatal:
/// the uplink retries and reports them.
fn config_in_effect(file: &Config) -> InEffect {
    let (mut pushed, unreadable) = Pushed::load(&file.data_dir);
    let before = pushed.clone();
    let (config, mut notes) = pushed.resolve(file);
    notes.extend(unreadable);
    for note in &notes {
        tracing::error!("{note}");
    }
    if pushed != before
        && let Err(e) = pushed.save(&file.data_dir)
    {
        tracing::warn!("keeping what was set aside: {e}");
    }
    for problem in check_files(&config) {
        tracing::error!("{problem} (the uplink will keep trying)");
    }
    InEffect {
        config,
        file_text: file.text.clone(),
        pushed,
        notes,
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
pub async fn run(
    cfg: Config,
    options: StartOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let agent = Agent::start_with(cfg, options).await?;
    let notifier = crate::adapters::notify::Notifier::ready(Arc::clone(agent.metrics()));
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
