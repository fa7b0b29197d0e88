//! Changing the running agent's configuration without a restart: cameras
//! added, removed or changed (each camera is a task with its own token),
//! the GPS source, the retention policy and the uplink's settings. Used
//! for configs pushed from shore ([`crate::services::shore_link::remote`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use seaframe_wire::CameraId;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::adapters::capture::numbering::Numbering;
use crate::adapters::gps::reader::GpsReader;
use crate::adapters::store::Store;
use crate::base::clock::Clock;
use crate::base::config::{CameraConfig, Config, GpsConfig, RetentionConfig};
use crate::base::handoff::Handoff;
use crate::base::metrics::Metrics;
use crate::services::capture::Camera;
use crate::services::shore_link::UplinkSettings;
use crate::services::stage::Stage;

/// How long a stopped camera may take to end before its replacement starts.
const CAMERA_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The running cameras, one task each.
#[derive(Debug)]
pub struct Cameras {
    pub stage: Stage,
    pub failed: CancellationToken,
    pub handoff: Handoff,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub store: Arc<Store>,
    running: HashMap<CameraId, Running>,
}

#[derive(Debug)]
struct Running {
    cfg: CameraConfig,
    token: CancellationToken,
    /// Cancelled when the task has ended.
    ended: CancellationToken,
}

impl Cameras {
    pub fn new(
        stage: Stage,
        failed: CancellationToken,
        handoff: Handoff,
        metrics: Arc<Metrics>,
        clock: Clock,
        store: Arc<Store>,
    ) -> Self {
        Self {
            stage,
            failed,
            handoff,
            metrics,
            clock,
            store,
            running: HashMap::new(),
        }
    }

    /// Makes the running cameras those of `cameras`: stops the removed and
    /// changed ones (waiting for them to end), starts the new and changed.
    pub async fn apply(&mut self, cameras: &[CameraConfig]) -> anyhow::Result<()> {
        let stale: Vec<CameraId> = self
            .running
            .iter()
            .filter(|(id, r)| !cameras.iter().any(|c| &c.id == *id && *c == r.cfg))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some(r) = self.running.remove(&id) {
                r.token.cancel();
                if tokio::time::timeout(CAMERA_STOP_TIMEOUT, r.ended.cancelled())
                    .await
                    .is_err()
                {
                    tracing::warn!(camera = %id, "did not stop within {CAMERA_STOP_TIMEOUT:?}");
                }
                tracing::info!(camera = %id, "camera stopped");
            }
        }
        for cam in cameras {
            if !self.running.contains_key(&cam.id) {
                self.start(cam).await?;
            }
        }
        Ok(())
    }

    async fn start(&mut self, cam: &CameraConfig) -> anyhow::Result<()> {
        let numbering = Numbering::resume(cam.id.clone(), Arc::clone(&self.store))
            .await
            .context("reading the index")?;
        let camera = Camera::new(
            cam.clone(),
            self.handoff.clone(),
            self.metrics.register_camera(&cam.id, cam.fps),
            self.clock.clone(),
            numbering,
        );
        let token = self.stage.token.child_token();
        let ended = CancellationToken::new();
        let (run_token, done) = (token.clone(), ended.clone());
        self.stage.spawn(
            tracing::info_span!("camera", id = %cam.id),
            &self.failed,
            async move {
                let result = camera.run(run_token).await;
                done.cancel();
                result
            },
        );
        self.running.insert(
            cam.id.clone(),
            Running {
                cfg: cam.clone(),
                token,
                ended,
            },
        );
        Ok(())
    }
}

/// The GPS reader, restarted when its source changes.
#[derive(Debug)]
pub struct GpsTask {
    pub stage: Stage,
    pub failed: CancellationToken,
    pub gps: Arc<crate::base::gps::state::Gps>,
    current: Option<(GpsConfig, CancellationToken)>,
}

impl GpsTask {
    pub fn new(
        stage: Stage,
        failed: CancellationToken,
        gps: Arc<crate::base::gps::state::Gps>,
    ) -> Self {
        Self {
            stage,
            failed,
            gps,
            current: None,
        }
    }

    /// Runs the reader of `cfg` (restarting it if the source changed).
    pub fn apply(&mut self, cfg: &GpsConfig) {
        if self
            .current
            .as_ref()
            .is_some_and(|(c, _)| c.source == cfg.source)
        {
            return;
        }
        if let Some((_, token)) = self.current.take() {
            token.cancel();
        }
        let token = self.stage.token.child_token();
        let reader = GpsReader::new(cfg.source.clone(), Arc::clone(&self.gps));
        self.stage.spawn(
            tracing::info_span!("gps"),
            &self.failed,
            reader.run(token.clone()),
        );
        self.current = Some((cfg.clone(), token));
    }
}

/// Applies configs that arrive on `configs` (from shore), until shutdown.
#[derive(Debug)]
pub struct Reconfigure {
    pub cameras: Cameras,
    pub gps: GpsTask,
    pub retention: watch::Sender<RetentionConfig>,
    pub uplink: Option<watch::Sender<UplinkSettings>>,
    pub configs: mpsc::Receiver<Config>,
}

impl Reconfigure {
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            let cfg = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                c = self.configs.recv() => match c {
                    Some(c) => c,
                    None => return Ok(()),
                },
            };
            self.cameras.apply(&cfg.cameras).await?;
            self.gps.apply(&cfg.gps);
            self.retention.send_replace(cfg.retention.clone());
            if let (Some(tx), Some(up)) = (&self.uplink, &cfg.uplink) {
                tx.send_replace(UplinkSettings::from(up));
            }
            tracing::info!(cameras = cfg.cameras.len(), "configuration applied");
        }
    }
}
