//! Several instances on one PostgreSQL index: each holds a lease on its
//! MQTT client id, and a dead instance's share of the fleet is taken over
//! by the living ones.
//!
//! Why: every instance is a member of the broker's share group with a
//! persistent session. When one dies, mosquitto keeps routing a share of
//! the fleet's messages into its session (and holds the messages it had
//! in flight) until a client connects under that id again. So:
//! - Before connecting to the broker, an instance takes its lease
//!   ([`own_lease`]): a session advisory lock named after its client id,
//!   held on a connection of its own for as long as it runs, and a row
//!   saying it is a member of its share group. While another instance holds
//!   that lease — a live instance given the same client id by mistake, or
//!   a peer draining this one's session — it waits (and says why) rather
//!   than fight over the broker session.
//! - With `[mqtt] take_over_dead_peers`, every [`CHECK`] each instance
//!   tries its peers' leases ([`Peers::run`]). A lease it gets is a dead
//!   peer's (PostgreSQL released it when the dead process's connection
//!   closed): it connects under the peer's client id (keeping the session),
//!   unsubscribes the share there, so that the broker routes the whole
//!   load to the living, ingests what the session holds exactly as its own
//!   (stored, indexed, then acked), and once everything taken is acked and
//!   nothing has come for [`QUIET`], disconnects, forgets the peer and
//!   releases the lease. A peer that comes back takes its lease and
//!   subscribes again.
//!
//! The takeover needs a broker that lets this instance's identity connect
//! under its peers' client ids; the shipped mosquitto config names each
//! client by its certificate, so it is off by default.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapters::blobs::Blobs;
use seaframe_http::Secret;

use crate::adapters::config::mqtt::MqttConfig;
use crate::adapters::index::Index;
use crate::adapters::index::postgres::instances::Instances;
use crate::services::ingest::{self, Flow, Intent, Sinks, Stages};
use crate::services::metrics::{Metrics, add};

/// How often the peers' leases are tried (and this instance's own checked).
pub const CHECK: Duration = Duration::from_secs(2);
/// A drained session: everything taken is acked and nothing came for this long.
pub const QUIET: Duration = Duration::from_secs(1);
/// The longest a takeover holds a peer's session (then it lets go and
/// tries again at a later check).
const DRAIN_MAX: Duration = Duration::from_secs(60);
/// How often a lease held by someone else is tried again.
const RETRY: Duration = Duration::from_millis(200);

/// Takes this instance's lease on `client_id` (waiting while another
/// holds it) and registers it in `share_group`. `None`: shutdown came first.
pub async fn own_lease(
    url: &Secret,
    client_id: &str,
    share_group: &str,
    shutdown: &CancellationToken,
) -> Result<Option<Instances>> {
    let mut said = false;
    loop {
        let db = Instances::connect(url.expose())
            .await
            .context("connecting for the instance lease")?;
        loop {
            if db.try_lease(client_id).await? {
                db.register(client_id, share_group).await?;
                if said {
                    tracing::info!(client_id, "took the instance lease");
                }
                return Ok(Some(db));
            }
            if !said {
                tracing::warn!(
                    client_id,
                    "another instance holds this client id's lease (a live instance with the same \
                     [mqtt] client_id, or a peer draining this instance's broker session); waiting"
                );
                said = true;
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(RETRY) => {}
            }
            if db.is_closed() {
                break;
            }
        }
    }
}

/// The task that keeps this instance's lease and takes over dead peers.
#[derive(Debug)]
pub struct Peers {
    pub url: Secret,
    pub mqtt: MqttConfig,
    /// This instance's lease (from [`own_lease`]).
    pub own: Instances,
    pub index: Arc<dyn Index>,
    pub blobs: Blobs,
    pub metrics: Arc<Metrics>,
    /// Woken after each commit (the live feed).
    pub committed: Arc<Notify>,
}

impl Peers {
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let me = self.mqtt.client_id();
        let group = self.mqtt.share_group.clone();
        let mut watch: Option<Instances> = None;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(CHECK) => {}
            }
            if self.own.is_closed() {
                tracing::warn!("the instance lease's connection was lost; taking the lease again");
                match own_lease(&self.url, &me, &group, &shutdown).await {
                    Ok(Some(own)) => self.own = own,
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "could not take the instance lease again");
                        continue;
                    }
                }
            }
            if !self.mqtt.take_over_dead_peers {
                continue;
            }
            if watch.as_ref().is_none_or(Instances::is_closed) {
                watch = match Instances::connect(self.url.expose()).await {
                    Ok(db) => Some(db),
                    Err(e) => {
                        tracing::warn!(error = %e, "peers: could not connect to the index");
                        continue;
                    }
                };
            }
            if let Some(db) = &watch
                && let Err(e) = self.take_over_dead(db, &me, &group, &shutdown).await
            {
                tracing::warn!(error = %format!("{e:#}"), "peers: a takeover failed; trying again later");
            }
        }
    }

    /// Drains the session of every peer whose lease is free.
    async fn take_over_dead(
        &self,
        db: &Instances,
        me: &str,
        group: &str,
        shutdown: &CancellationToken,
    ) -> Result<()> {
        for peer in db.peers(me, group).await? {
            if !db.try_lease(&peer).await? {
                continue;
            }
            tracing::info!(%peer, "a peer instance is gone: draining its broker session");
            let drained = self.drain(&peer, shutdown).await;
            if matches!(drained, Ok(true)) {
                db.forget(&peer).await?;
                add(&self.metrics.peer_sessions_drained, 1);
                tracing::info!(%peer, "drained the peer's session; the share group routes its load to the living");
            }
            db.release(&peer).await?;
            drained?;
        }
        Ok(())
    }

    /// Connects under `peer`'s client id, unsubscribes the share there and
    /// ingests what the session holds. `true`: drained.
    async fn drain(&self, peer: &str, shutdown: &CancellationToken) -> Result<bool> {
        let mut cfg = self.mqtt.clone();
        cfg.client_id = Some(peer.to_owned());
        let options = ingest::connect_options(&cfg)?;
        let Stages {
            receiver,
            writer,
            client: _,
            subscribed: unsubscribed,
            flow,
        } = ingest::stages(
            options,
            seaframe_wire::shore_filters(&cfg.share_group).to_vec(),
            Intent::Drain,
            Sinks {
                index: self.index.clone(),
                blobs: self.blobs.clone(),
                metrics: self.metrics.clone(),
                committed: self.committed.clone(),
            },
        );
        let stop = shutdown.child_token();
        let tasks = TaskTracker::new();
        tasks.spawn(log_end("peer-writer", writer.run(stop.clone())));
        tasks.spawn(log_end("peer-receiver", receiver.run(stop.clone())));
        tasks.close();
        let drained = until_drained(&flow, &unsubscribed, shutdown).await;
        stop.cancel();
        tasks.wait().await;
        Ok(drained)
    }
}

/// Waits until the session is unsubscribed, everything taken is settled
/// and nothing has come for [`QUIET`] (`true`), or for shutdown or
/// [`DRAIN_MAX`] (`false`).
async fn until_drained(
    flow: &Flow,
    unsubscribed: &watch::Receiver<bool>,
    shutdown: &CancellationToken,
) -> bool {
    let started = Instant::now();
    let (mut last, mut since) = (flow.load(), Instant::now());
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        if started.elapsed() > DRAIN_MAX {
            tracing::warn!("a peer's session did not drain in time; letting it go");
            return false;
        }
        let now = flow.load();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if *unsubscribed.borrow() && now.0 == now.1 && since.elapsed() >= QUIET {
            return true;
        }
    }
}

async fn log_end(stage: &'static str, run: impl Future<Output = Result<()>>) {
    if let Err(e) = run.await {
        tracing::warn!(stage, error = %format!("{e:#}"), "stopped");
    }
}
