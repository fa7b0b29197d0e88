//! The uplink: 1-fps thumbnails of stored frames, kept in an on-disk outbox
//! and published to the shore over MQTT when the link allows, with the
//! ship's status and track; configuration pushed from shore comes back the
//! same way. Three tasks: the [`thumbs::Thumbnailer`], the
//! [`publisher::Publisher`] (the MQTT session) and [`remote::Remote`]
//! (pushed configs).

pub mod publisher;
pub mod remote;
pub mod status;
pub mod thumbs;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::adapters::config::in_effect::SharedInEffect;
use crate::adapters::shore_link::broker::MqttSettings;
use crate::adapters::shore_link::outbox::Outbox;
use crate::adapters::store::Store;
use crate::base::config::{Config, UplinkConfig};
use crate::base::metrics::Metrics;
use crate::services::stage::Stage;
use publisher::{LinkReport, Publisher};
use remote::Remote;
use status::StatusSource;
use thumbs::Thumbnailer;

/// `[uplink]` as the tasks use it; changes live through a watch channel.
#[derive(Debug, Clone)]
pub struct UplinkSettings {
    pub mqtt: MqttSettings,
    pub thumb_width_px: u16,
    pub thumbs_per_s: f64,
    pub budget_bytes_per_s: u64,
}

impl From<&UplinkConfig> for UplinkSettings {
    fn from(c: &UplinkConfig) -> Self {
        Self {
            mqtt: MqttSettings {
                url: c.mqtt_url.clone(),
                ca_file: c.ca_file.clone(),
                client_cert_file: c.client_cert_file.clone(),
                client_key_file: c.client_key_file.clone(),
            },
            // Validation bounds it to 16..=4096.
            thumb_width_px: u16::try_from(c.thumb_width_px).unwrap_or(320),
            thumbs_per_s: c.thumbs_per_s,
            budget_bytes_per_s: c.budget_bytes_per_s,
        }
    }
}

/// What the agent keeps of a started uplink.
#[derive(Debug)]
pub struct Uplink {
    /// Changes the running uplink's settings.
    pub settings: watch::Sender<UplinkSettings>,
    /// Valid configs pushed from shore, for the agent to apply.
    pub configs: mpsc::Receiver<Config>,
}

/// Everything the uplink's tasks need from the agent.
#[derive(Debug)]
pub struct UplinkParts {
    /// The config in effect (and what is kept of pushes).
    pub in_effect: SharedInEffect,
    pub store: Arc<Store>,
    pub outbox: Arc<Outbox>,
    pub metrics: Arc<Metrics>,
    pub status: StatusSource,
    pub applied_version: Arc<AtomicU64>,
}

impl Uplink {
    /// The outbox of `cfg` (opened before the tasks, since retention counts
    /// its size), or `None` without `[uplink]`.
    pub fn open_outbox(cfg: &Config) -> anyhow::Result<Option<Arc<Outbox>>> {
        let Some(up) = &cfg.uplink else {
            return Ok(None);
        };
        Ok(Some(Arc::new(Outbox::open(
            &cfg.data_dir.join("outbox"),
            up.outbox_max_bytes,
        )?)))
    }

    /// Starts the thumbnailer, the publisher and the remote config task on
    /// `stage`. Call only with `[uplink]` configured.
    pub fn start(
        parts: UplinkParts,
        stage: &Stage,
        failed: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let config = parts
            .in_effect
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .config
            .clone();
        let up = config
            .uplink
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no [uplink] configured"))?;
        let (settings_tx, settings) = watch::channel(UplinkSettings::from(up));
        let (link_tx, link) = watch::channel(LinkReport::default());
        let added = Arc::new(Notify::new());
        let (push_tx, push_rx) = watch::channel(None);
        let (ack_tx, ack_rx) = mpsc::channel(4);
        let (config_tx, configs) = mpsc::channel(1);
        let thumbnailer = Thumbnailer {
            vessel: config.vessel.clone(),
            store: Arc::clone(&parts.store),
            outbox: Arc::clone(&parts.outbox),
            metrics: Arc::clone(&parts.metrics),
            settings: settings.clone(),
            added: Arc::clone(&added),
        };
        let publisher = Publisher {
            vessel: config.vessel.clone(),
            settings,
            outbox: Arc::clone(&parts.outbox),
            store: Arc::clone(&parts.store),
            metrics: Arc::clone(&parts.metrics),
            added,
            status: parts.status,
            pushes: push_tx,
            acks: ack_rx,
            link: link_tx,
        };
        let remote = Remote {
            data_dir: config.data_dir.clone(),
            in_effect: parts.in_effect,
            pushes: push_rx,
            acks: ack_tx,
            apply: config_tx,
            link,
            applied_version: parts.applied_version,
            metrics: parts.metrics,
        };
        let token = stage.token.clone();
        stage.spawn(
            tracing::info_span!("thumbnails"),
            failed,
            thumbnailer.run(token.clone()),
        );
        stage.spawn(
            tracing::info_span!("publisher"),
            failed,
            publisher.run(token.clone()),
        );
        stage.spawn(
            tracing::info_span!("remote-config"),
            failed,
            remote.run(token),
        );
        Ok(Self {
            settings: settings_tx,
            configs,
        })
    }
}
