//! Configuration pushed from shore (`seaframe/v1/<vessel>/config`,
//! retained): the shore's whole overlay for this vessel, laid over the
//! operator's file ([`crate::base::config::layered`]), checked like
//! `check-config` plus the files it names, kept under the data directory
//! ([`Pushed`]) and applied live. The operator's file is never written.
//!
//! A push that changes the link (broker URL and credentials, TLS files) is
//! on trial: it is applied, and if no session comes up with it within
//! `uplink.link_confirm_s`, the vessel goes back to the last overlay that
//! worked and acks `rolled_back`. Every other valid push is `applied` at
//! once; an invalid one is `rejected` and changes nothing. A version at or
//! below the newest handled is ignored (the retained push comes again at
//! every session). Nothing here can stop the agent.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seaframe_wire::message::{AckStatus, ConfigAck, ConfigPush};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::adapters::config::files::effective;
use crate::adapters::config::in_effect::SharedInEffect;
use crate::adapters::config::pushed::Verdict;
use crate::adapters::shore_link::broker::MqttSettings;
use crate::base::config::layered::Overlay;
use crate::base::config::{CameraSource, Config};
use crate::base::metrics::Metrics;
use crate::services::shore_link::publisher::LinkReport;

/// The task that handles pushed configs, one at a time.
#[derive(Debug)]
pub struct Remote {
    pub data_dir: PathBuf,
    /// The config in effect, with what is kept of pushes (also the API's).
    pub in_effect: SharedInEffect,
    /// The newest config pushed (intermediate ones may be skipped: the
    /// newest is the shore's wish).
    pub pushes: watch::Receiver<Option<ConfigPush>>,
    pub acks: mpsc::Sender<ConfigAck>,
    /// Configs to run, to the agent, which applies them live.
    pub apply: mpsc::Sender<Config>,
    /// Which link settings have a session, from the publisher.
    pub link: watch::Receiver<LinkReport>,
    /// The version in effect, for the status message.
    pub applied_version: Arc<AtomicU64>,
    pub metrics: Arc<Metrics>,
}

/// The link settings of a config (what a push must prove).
fn link_of(cfg: &Config) -> Option<MqttSettings> {
    cfg.uplink
        .as_ref()
        .map(|u| super::UplinkSettings::from(u).mqtt)
}

impl Remote {
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // A trial cut short by a restart gets a fresh window.
        let mut deadline = {
            let now = self.snapshot();
            now.pushed
                .on_trial
                .then(|| Instant::now() + confirm_window(&now.config))
        };
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                changed = self.pushes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let push = self.pushes.borrow_and_update().clone();
                    if let Some(push) = push
                        && let Some((ack, trial)) = self.handle(push).await
                    {
                        deadline = trial;
                        if let Some(ack) = ack && !self.ack(ack).await {
                            return Ok(());
                        }
                    }
                }
                Ok(()) = self.link.changed(), if deadline.is_some() => {
                    let connected = self.link.borrow_and_update().connected.clone();
                    if connected.is_some() && connected == link_of(&self.snapshot().config) {
                        deadline = None;
                        let ack = self.confirm();
                        if !self.ack(ack).await {
                            return Ok(());
                        }
                    }
                }
                _ = sleep_until(deadline) => {
                    deadline = None;
                    let ack = self.roll_back().await;
                    if !self.ack(ack).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn snapshot(&self) -> crate::adapters::config::in_effect::InEffect {
        self.in_effect
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Publishes an ack (through the publisher); `false`: it is gone.
    async fn ack(&self, ack: ConfigAck) -> bool {
        let u = &self.metrics.uplink;
        match ack.status {
            AckStatus::Applied => u.configs_applied.fetch_add(1, Ordering::Relaxed),
            AckStatus::Rejected => u.configs_rejected.fetch_add(1, Ordering::Relaxed),
            AckStatus::RolledBack => u.configs_rolled_back.fetch_add(1, Ordering::Relaxed),
        };
        self.acks.send(ack).await.is_ok()
    }

    /// Handles one push: `None` when it was handled before; else the ack
    /// to send now (none for a link change on trial) and the trial's
    /// deadline, if any.
    async fn handle(&mut self, push: ConfigPush) -> Option<(Option<ConfigAck>, Option<Instant>)> {
        let mut now = self.snapshot();
        let version = push.version;
        if version <= now.pushed.handled {
            return None;
        }
        now.pushed.handled = version;
        let overlay = Overlay {
            version,
            config: push.config,
        };
        let cfg = match effective(now.file_text.expose(), Some(&overlay)) {
            Ok(cfg) => cfg,
            Err(error) => {
                tracing::warn!(version, "pushed config rejected:\n{error}");
                now.pushed
                    .record(version, Verdict::Rejected, Some(error.clone()));
                // Losing this write only means the push is looked at again.
                if let Err(e) = now.pushed.save(&self.data_dir) {
                    tracing::warn!("keeping the outcome of pushed config {version}: {e}");
                }
                self.publish(now);
                return Some((Some(rejected(version, error)), None));
            }
        };
        let good = effective(now.file_text.expose(), now.pushed.good.as_ref()).ok();
        let on_trial = good.as_ref().and_then(link_of) != link_of(&cfg);
        let warnings = camera_warnings(&cfg);
        let before = now.pushed.clone();
        now.pushed.active = Some(overlay.clone());
        now.pushed.on_trial = on_trial;
        if on_trial {
            now.pushed.record(version, Verdict::OnTrial, None);
        } else {
            now.pushed.good = Some(overlay);
            now.pushed
                .record(version, Verdict::Applied, warnings.clone());
        }
        if let Err(e) = now.pushed.save(&self.data_dir) {
            // Not kept, not applied: a restart would silently undo it.
            let error = format!(
                "cannot keep the pushed config in {}: {e}",
                self.data_dir.display()
            );
            tracing::warn!(version, "pushed config rejected: {error}");
            now.pushed = before;
            now.pushed.handled = version;
            now.pushed
                .record(version, Verdict::Rejected, Some(error.clone()));
            self.publish(now);
            return Some((Some(rejected(version, error)), None));
        }
        let window = confirm_window(&cfg);
        now.config = cfg.clone();
        self.publish(now);
        self.applied_version.store(version, Ordering::Relaxed);
        if self.apply.send(cfg).await.is_err() {
            return None;
        }
        if on_trial {
            tracing::info!(
                version,
                confirm_s = window.as_secs(),
                "pushed config changes the link: applied, on trial until the broker is reached with it"
            );
            return Some((None, Some(Instant::now() + window)));
        }
        tracing::info!(version, "pushed config applied");
        Some((
            Some(ConfigAck {
                version,
                status: AckStatus::Applied,
                error: warnings,
            }),
            None,
        ))
    }

    /// The link came up with the overlay on trial: it is the good one now.
    fn confirm(&mut self) -> ConfigAck {
        let mut now = self.snapshot();
        let version = now.pushed.active.as_ref().map_or(0, |o| o.version);
        now.pushed.on_trial = false;
        now.pushed.good = now.pushed.active.clone();
        now.pushed.record(version, Verdict::Applied, None);
        if let Err(e) = now.pushed.save(&self.data_dir) {
            tracing::warn!("keeping the confirmed config {version}: {e}");
        }
        self.publish(now);
        tracing::info!(
            version,
            "pushed link confirmed: the broker was reached with it"
        );
        ConfigAck {
            version,
            status: AckStatus::Applied,
            error: None,
        }
    }

    /// The window ran out: back to the last good overlay (or the file).
    async fn roll_back(&mut self) -> ConfigAck {
        let mut now = self.snapshot();
        let version = now.pushed.active.as_ref().map_or(0, |o| o.version);
        let window = confirm_window(&now.config);
        let why = self
            .link
            .borrow()
            .last_error
            .clone()
            .unwrap_or_else(|| "no session".into());
        let error = format!(
            "the broker was not reached with the pushed link settings within {} s ({why}); back to config {}",
            window.as_secs(),
            now.pushed
                .good
                .as_ref()
                .map_or("of the file alone".to_owned(), |g| format!(
                    "version {}",
                    g.version
                ))
        );
        tracing::warn!(version, "pushed config rolled back: {error}");
        let file_text = now.file_text.expose().to_owned();
        let (cfg, good) = match effective(&file_text, now.pushed.good.as_ref()) {
            Ok(cfg) => (cfg, now.pushed.good.clone()),
            Err(e) => {
                tracing::warn!("the last good config no longer loads, running on the file:\n{e}");
                match effective(&file_text, None) {
                    Ok(cfg) => (cfg, None),
                    Err(_) => (now.config.clone(), now.pushed.active.clone()),
                }
            }
        };
        now.pushed.active = good.clone();
        now.pushed.good = good;
        now.pushed.on_trial = false;
        now.pushed
            .record(version, Verdict::RolledBack, Some(error.clone()));
        if let Err(e) = now.pushed.save(&self.data_dir) {
            tracing::warn!("keeping the rollback of config {version}: {e}");
        }
        now.config = cfg.clone();
        self.applied_version.store(
            now.pushed.active.as_ref().map_or(0, |o| o.version),
            Ordering::Relaxed,
        );
        self.publish(now);
        let _ = self.apply.send(cfg).await;
        ConfigAck {
            version,
            status: AckStatus::RolledBack,
            error: Some(error),
        }
    }

    fn publish(&self, now: crate::adapters::config::in_effect::InEffect) {
        *self
            .in_effect
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }
}

fn rejected(version: u64, error: String) -> ConfigAck {
    ConfigAck {
        version,
        status: AckStatus::Rejected,
        error: Some(error),
    }
}

fn confirm_window(cfg: &Config) -> Duration {
    Duration::from_secs(cfg.uplink.as_ref().map_or(180, |u| u.link_confirm_s))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a config will make of cameras that can be seen not to work from
/// here (a folder or device that is not there): applied anyway — the
/// cameras are the operator's choice, and each shows its state — but said
/// in the ack.
fn camera_warnings(cfg: &Config) -> Option<String> {
    let lines: Vec<String> = cfg
        .cameras
        .iter()
        .filter_map(|cam| {
            let path = match &cam.source {
                CameraSource::Replay { dir } => dir,
                CameraSource::V4l2 { device } => device,
                _ => return None,
            };
            (!path.exists())
                .then(|| format!("camera {}: {} does not exist", cam.id, path.display()))
        })
        .collect();
    (!lines.is_empty()).then(|| format!("applied; {}", lines.join("; ")))
}
