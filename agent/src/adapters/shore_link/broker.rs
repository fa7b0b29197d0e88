//! How to reach the broker: `[uplink]`'s URL (`mqtt://` or `mqtts://`,
//! with optional `user:password@`), and for TLS a CA file and an optional
//! client certificate and key, turned into rumqttc options.

use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use seaframe_wire::message::Status;
use seaframe_wire::{Topic, VesselName};

use crate::base::config::Secret;

/// The largest packet either way: a thumbnail envelope is at most 2 MiB.
const MAX_PACKET_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct MqttSettings {
    pub url: Secret,
    /// PEM file of the CA that signed the broker's certificate (`mqtts://`;
    /// without it, the system's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM files of a client certificate and its key, when the broker
    /// authenticates clients by certificate.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("uplink.mqtt_url is not a URL")]
    Url,
    #[error("uplink.mqtt_url: scheme {0:?} is neither mqtt nor mqtts")]
    Scheme(String),
    #[error("reading {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl MqttSettings {
    /// Options for a fresh session of `vessel` (client id
    /// `seaframe-<vessel>`, clean session, last will `offline`).
    pub fn options(&self, vessel: &VesselName) -> Result<MqttOptions, SettingsError> {
        // Never log the URL: it may hold a password.
        let url = url::Url::parse(self.url.expose()).map_err(|_| SettingsError::Url)?;
        let tls = match url.scheme() {
            "mqtt" => false,
            "mqtts" => true,
            other => return Err(SettingsError::Scheme(other.to_owned())),
        };
        let host = url.host_str().ok_or(SettingsError::Url)?.to_owned();
        let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
        let mut o = MqttOptions::new(format!("seaframe-{vessel}"), host, port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_last_will(last_will(vessel))
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
            .set_inflight(32);
        if !url.username().is_empty() {
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            o.set_credentials(decode(url.username()), decode(url.password().unwrap_or("")));
        }
        if tls {
            o.set_transport(self.transport()?);
        }
        Ok(o)
    }

    fn transport(&self) -> Result<Transport, SettingsError> {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|source| SettingsError::File {
                path: p.clone(),
                source,
            })
        };
        let Some(ca_file) = &self.ca_file else {
            return Ok(Transport::tls_with_default_config());
        };
        let client_auth = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        Ok(Transport::tls_with_config(TlsConfiguration::Simple {
            ca: read(ca_file)?,
            alpn: None,
            client_auth,
        }))
    }
}

/// The last will: `offline`, retained, on the status topic.
pub fn last_will(vessel: &VesselName) -> LastWill {
    let topic = Topic::Status {
        vessel: vessel.clone(),
    }
    .to_string();
    let payload = serde_json::to_vec(&Status::offline()).unwrap_or_default();
    LastWill::new(topic, payload, QoS::AtLeastOnce, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> MqttSettings {
        MqttSettings {
            url: Secret::new(url),
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
        }
    }

    #[test]
    fn options_from_the_url() {
        let v = VesselName::parse("aurora").unwrap();
        let o = settings("mqtt://ship%2A:p%40ss@broker.example:1884")
            .options(&v)
            .unwrap();
        assert_eq!(o.broker_address(), ("broker.example".into(), 1884));
        assert_eq!(o.client_id(), "seaframe-aurora");
        let login = o.credentials().unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("ship*", "p@ss")
        );
        assert!(o.last_will().unwrap().retain);
        let o = settings("mqtts://broker.example").options(&v).unwrap();
        assert_eq!(o.broker_address().1, 8883);
        assert!(matches!(
            settings("http://x").options(&v),
            Err(SettingsError::Scheme(_))
        ));
        let mut missing = settings("mqtts://broker.example");
        missing.ca_file = Some("/nonexistent/ca.pem".into());
        assert!(matches!(
            missing.options(&v),
            Err(SettingsError::File { .. })
        ));
    }
}
