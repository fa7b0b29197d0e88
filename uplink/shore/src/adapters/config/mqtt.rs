//! `[mqtt]`: the broker, the share group, the client id and TLS files.

use std::path::PathBuf;

use seaframe_http::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    pub url: String,
    #[serde(default = "default_share_group")]
    pub share_group: String,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `mqtts://`: the CA that signed the broker's certificate (PEM);
    /// without it, the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `mqtts://` with a client certificate (the shipped broker requires
    /// one): the shore's certificate and key (PEM), from `pki-init`.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Several instances on one PostgreSQL index: drain a dead peer's
    /// session under its client id ([`crate::services::peers`]). Only for a broker
    /// that lets this instance's identity connect under its peers' client
    /// ids (not the shipped mosquitto config, which names each client by
    /// its certificate).
    #[serde(default)]
    pub take_over_dead_peers: bool,
}

impl MqttConfig {
    /// The configured client id, or one derived from the share group.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("seaframe-shore-{}", self.share_group))
    }
}

fn default_share_group() -> String {
    "shore".into()
}
