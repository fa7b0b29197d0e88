//! Start, run and stop the shore: open the index, connect to the broker,
//! spawn the stages (receiver, writer, live feed, alerts, API, retention) on one `TaskTracker`, and stop
//! them in order — the writer finishes and acks its batch, then the receiver
//! disconnects (the broker keeps our session and what arrives meanwhile),
//! and the API finishes the requests in progress.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::adapters::config::Config;
use crate::adapters::index::{self, Index};
use crate::base::alerts;
use crate::services::api::{self, ApiState};
use crate::services::auth::Auth;
use crate::services::feed::{self, Feed};
use crate::services::ingest::{self, Intent, Sinks, Stages};
use crate::services::metrics::Metrics;
use crate::services::peers;
use crate::services::retention::Retention;

/// How long the stages get to stop before `stop` gives up on them.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running shore.
#[derive(Debug)]
pub struct Shore {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub index: Arc<dyn Index>,
    subscribed: watch::Receiver<bool>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// Spawns a stage in its span; a stage that fails stops the whole shore.
fn spawn_stage<F>(tracker: &TaskTracker, shutdown: &CancellationToken, name: &'static str, stage: F)
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    let shutdown = shutdown.clone();
    tracker.spawn(
        async move {
            match stage.await {
                Ok(()) => tracing::debug!("stopped"),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "stage failed; stopping the shore");
                    shutdown.cancel();
                }
            }
        }
        .instrument(tracing::info_span!("stage", name)),
    );
}

impl Shore {
    /// Opens the index, connects to the broker and serves the API on
    /// `listener`. Returns once everything is spawned (not yet subscribed:
    /// see [`Shore::subscribed`]).
    pub async fn start(cfg: Config, listener: TcpListener) -> Result<Self> {
        Self::start_with_clock(cfg, listener, alerts::system_clock()).await
    }

    /// [`Shore::start`] with the alerts evaluated at `clock`'s instants
    /// (tests drive time with it).
    pub async fn start_with_clock(
        cfg: Config,
        listener: TcpListener,
        clock: alerts::Clock,
    ) -> Result<Self> {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data_dir {}", cfg.data_dir.display()))?;
        let index_url = cfg
            .index_url()
            .map_err(|e| anyhow::anyhow!("index.url: {e}"))?;
        let index = index::open(&index_url).await.context("opening the index")?;
        let addr = listener.local_addr()?;
        refuse_open_without_accounts(addr, &*index).await?;
        let blobs = cfg
            .blobs
            .open(&cfg.data_dir)
            .map_err(|e| anyhow::anyhow!("blobs.url: {e}"))?;
        let metrics = Arc::new(Metrics::default());
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let lease = match &index_url {
            crate::adapters::config::IndexUrl::Postgres(url) => {
                let client_id = cfg.mqtt.client_id();
                peers::own_lease(url, &client_id, &cfg.mqtt.share_group, &shutdown)
                    .await?
                    .map(|own| (url.clone(), own))
            }
            crate::adapters::config::IndexUrl::Sqlite(_) => None,
        };
        let options = ingest::connect_options(&cfg.mqtt)?;
        let committed = Arc::new(Notify::new());
        let (events, _) = broadcast::channel(feed::CHANNEL_CAPACITY);
        let Stages {
            receiver,
            writer,
            client,
            subscribed,
            flow: _,
        } = ingest::stages(
            options,
            seaframe_wire::shore_filters(&cfg.mqtt.share_group).to_vec(),
            Intent::Subscribe,
            Sinks {
                index: index.clone(),
                blobs: blobs.clone(),
                metrics: metrics.clone(),
                committed: committed.clone(),
            },
        );
        let feed = Feed {
            index: index.clone(),
            wake: committed,
            tx: events.clone(),
            metrics: metrics.clone(),
        };
        let state = ApiState {
            index: index.clone(),
            blobs: blobs.clone(),
            metrics: metrics.clone(),
            mqtt: client,
            push_order: Arc::default(),
            subscribed: subscribed.clone(),
            events,
            shutdown: shutdown.clone(),
            auth: Auth::new(cfg.auth.clone(), cfg.api.token.clone()),
        };
        let evaluator = crate::services::alerts::Evaluator {
            index: index.clone(),
            cfg: cfg.alerts.clone(),
            clock,
            metrics: metrics.clone(),
            changed: feed.wake.clone(),
        };
        let retention = Retention {
            index: index.clone(),
            blobs: blobs.clone(),
            config: cfg.retention.clone(),
            metrics: metrics.clone(),
            clock: Arc::new(crate::base::when::now_ns),
        };
        spawn_stage(
            &tracker,
            &shutdown,
            "retention",
            retention.run(shutdown.clone()),
        );
        if cfg.api.token.is_some() {
            tracing::warn!(
                "[api] token is deprecated: it acts as an operator without an account; use `seaframe-shore account token`"
            );
        }
        spawn_stage(&tracker, &shutdown, "writer", writer.run(shutdown.clone()));
        spawn_stage(
            &tracker,
            &shutdown,
            "receiver",
            receiver.run(shutdown.clone()),
        );
        if let crate::adapters::config::IndexUrl::Postgres(url) = &index_url {
            let listener = index::listen::Listener {
                url: url.clone(),
                wake: feed.wake.clone(),
            };
            spawn_stage(
                &tracker,
                &shutdown,
                "feed-listen",
                listener.run(shutdown.clone()),
            );
        }
        if let Some((url, own)) = lease {
            let peers = peers::Peers {
                url,
                mqtt: cfg.mqtt.clone(),
                own,
                index: index.clone(),
                blobs: blobs.clone(),
                metrics: metrics.clone(),
                committed: feed.wake.clone(),
            };
            spawn_stage(&tracker, &shutdown, "peers", peers.run(shutdown.clone()));
        }
        spawn_stage(&tracker, &shutdown, "feed", feed.run(shutdown.clone()));
        spawn_stage(
            &tracker,
            &shutdown,
            "alerts",
            evaluator.run(shutdown.clone()),
        );
        spawn_stage(
            &tracker,
            &shutdown,
            "api",
            api::serve(listener, state, shutdown.clone()),
        );
        tracker.close();
        tracing::info!(%addr, index = ?index_url, %blobs, "shore started");
        Ok(Self {
            addr,
            metrics,
            index,
            subscribed,
            tracker,
            shutdown,
        })
    }

    /// Resolves once ingest is subscribed (or the shore stopped).
    pub async fn subscribed(&self) {
        let mut rx = self.subscribed.clone();
        tokio::select! {
            _ = rx.wait_for(|s| *s) => {}
            _ = self.shutdown.cancelled() => {}
        }
    }

    /// Cancelled when the shore stops (a failed stage cancels it too).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops in order and waits (bounded) for every stage.
    pub async fn stop(self) -> Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(STOP_TIMEOUT, self.tracker.wait())
            .await
            .context("the shore's stages did not stop in time")
    }
}

/// The shore answers nobody without an account; listening beyond
/// loopback with none would only be an open door waiting for a mistake, so
/// it is refused with what to do.
async fn refuse_open_without_accounts(addr: SocketAddr, index: &dyn Index) -> Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    let accounts = index
        .count_accounts()
        .await
        .context("counting the accounts")?;
    if accounts == 0 {
        anyhow::bail!(
            "refusing to listen on {addr} (beyond loopback) with no account: add one first with \
             `seaframe-shore account add <name> --role admin --config <file>`, \
             or listen on 127.0.0.1"
        );
    }
    Ok(())
}

/// Runs until `shutdown`, then stops in order.
pub async fn run(cfg: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    let shore = Shore::start(cfg, listener).await?;
    let own = shore.shutdown_token();
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = own.cancelled() => {}
    }
    shore.stop().await
}
