//! The shore's configuration: TOML → typed structs → [`Config::validate`].
//!
//! Loading has no side effects. Type errors (unknown key, wrong type) come
//! from the TOML parser, which names the key and line; range and cross-field
//! checks come from `validate`, which collects every problem at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod auth;
pub mod index_url;
pub mod mqtt;

pub use crate::base::problem::Problem;
pub use auth::{AuthConfig, MAX_SESSION_TTL_S};
pub use index_url::IndexUrl;
pub use mqtt::MqttConfig;
pub use seaframe_http::Secret;

/// The example file: every key with its default and meaning.
pub const EXAMPLE: &str = include_str!("../../../seaframe-shore.example.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub index: IndexConfig,
    #[serde(default)]
    pub api: ApiConfig,
    /// Fleet health alerts: thresholds and how often they are evaluated.
    #[serde(default)]
    pub alerts: crate::base::alerts::AlertsConfig,
    /// Deleting and thinning thumbnails ashore (an empty or absent table:
    /// the defaults of [`crate::base::retention::config`]).
    #[serde(default)]
    pub retention: crate::base::retention::config::RetentionConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    /// Where the thumbnails' JPEGs are kept (absent: `<data_dir>/thumbs`).
    #[serde(default)]
    pub blobs: crate::adapters::blobs::BlobsConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// `None`: `sqlite:<data_dir>/index.db`.
    pub url: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// Deprecated: a break-glass bearer token with the operator's rights
    /// and no account (see [`AuthConfig`]).
    pub token: Option<Secret>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            token: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
}

impl Config {
    /// Reads and validates a config file. No side effects.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        let problems = config.validate();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    /// Every problem at once.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad = |key, message: String| problems.push(Problem { key, message });
        if self.data_dir.as_os_str().is_empty() {
            bad("data_dir", "must not be empty".into());
        }
        match url::Url::parse(&self.mqtt.url) {
            Ok(u) if matches!(u.scheme(), "mqtt" | "tcp" | "mqtts" | "ssl") => {
                if u.host_str().is_none_or(str::is_empty) {
                    bad("mqtt.url", "names no host".into());
                }
                if !u.username().is_empty() || u.password().is_some() {
                    bad(
                        "mqtt.url",
                        "put credentials in mqtt.username / mqtt.password, not the URL".into(),
                    );
                }
            }
            Ok(u) => bad(
                "mqtt.url",
                format!("scheme {:?} is not mqtt:// or mqtts://", u.scheme()),
            ),
            Err(e) => bad("mqtt.url", format!("not a URL: {e}")),
        }
        let group = &self.mqtt.share_group;
        if group.is_empty()
            || group.len() > 64
            || !group
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bad(
                "mqtt.share_group",
                format!("{group:?} must be 1–64 characters of a-z, A-Z, 0-9, '-', '_'"),
            );
        }
        if let Some(id) = &self.mqtt.client_id
            && (id.is_empty() || id.len() > 128 || id.contains(['/', '+', '#']))
        {
            bad(
                "mqtt.client_id",
                format!("{id:?} must be 1–128 characters without / + #"),
            );
        }
        if self.mqtt.username.is_some() != self.mqtt.password.is_some() {
            bad(
                "mqtt.password",
                "username and password go together (set both or neither)".into(),
            );
        }
        for (key, message) in crate::adapters::tls::config_problems(&self.mqtt) {
            bad(key, message);
        }
        if let Some(url) = &self.index.url
            && let Err(e) = IndexUrl::parse(url.expose())
        {
            bad("index.url", e);
        }
        if let Some(token) = &self.api.token
            && token.expose().trim().len() < 8
        {
            bad("api.token", "must be at least 8 characters".into());
        }
        if !(60..=MAX_SESSION_TTL_S).contains(&self.auth.session_ttl_s) {
            bad(
                "auth.session_ttl_s",
                format!(
                    "{} must be 60–{MAX_SESSION_TTL_S} seconds",
                    self.auth.session_ttl_s
                ),
            );
        }
        problems.extend(self.alerts.problems());
        problems.extend(self.retention.validate());
        problems.extend(self.blobs.problems());
        problems
    }

    /// What is allowed but unwise, for `check-config` (the index is not
    /// looked at here: whether it holds an account is checked apart).
    pub fn warnings(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.api.token.is_some() {
            out.push(Problem {
                key: "api.token",
                message: "deprecated: a break-glass operator token without an account; \
                          use accounts (`seaframe-shore account add`, `account token`) instead"
                    .into(),
            });
        }
        if !self.api.listen.ip().is_loopback() && !self.auth.secure_cookie {
            out.push(Problem {
                key: "auth.secure_cookie",
                message: format!(
                    "the API listens on {} but the session cookie is not marked Secure: \
                     serve it through a TLS proxy and set auth.secure_cookie = true",
                    self.api.listen
                ),
            });
        }
        out
    }

    /// The index location, with the default applied. Call after `validate`.
    pub fn index_url(&self) -> Result<IndexUrl, String> {
        match &self.index.url {
            Some(url) => IndexUrl::parse(url.expose()),
            None => Ok(IndexUrl::Sqlite(self.data_dir.join("index.db"))),
        }
    }
}

mod defaults {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::path::PathBuf;

    pub fn data_dir() -> PathBuf {
        PathBuf::from("/var/lib/seaframe-shore")
    }
    pub fn listen() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 8781))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        match Config::from_toml(text, "test") {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn the_example_parses_validates_and_holds_the_defaults() {
        let c = Config::from_toml(EXAMPLE, "example").unwrap();
        assert_eq!(c.data_dir, defaults::data_dir());
        assert_eq!(c.mqtt.url, "mqtt://127.0.0.1:1883");
        assert_eq!(c.mqtt.share_group, "shore");
        assert_eq!(c.mqtt.client_id(), "seaframe-shore-shore");
        assert_eq!(c.api.listen, defaults::listen());
        assert_eq!(
            c.retention,
            crate::base::retention::config::RetentionConfig::default()
        );
        assert_eq!(c.blobs, crate::adapters::blobs::BlobsConfig::default());
        assert_eq!(
            c.index_url().unwrap(),
            IndexUrl::Sqlite("/var/lib/seaframe-shore/index.db".into())
        );
        // Every commented key of the example, uncommented, is accepted too.
        let all: String = EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest.replace('…', "longenough-secret"),
                // The TLS files apply to mqtts:// only.
                _ => l.replace("mqtt://127.0.0.1:1883", "mqtts://127.0.0.1:8883"),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::from_toml(&all, "example, all keys").unwrap();
        assert_eq!(c.mqtt.username.as_deref(), Some("shore"));
        assert!(c.api.token.is_some());
        let aurora = c.retention.policy("aurora");
        assert_eq!(aurora.max_bytes, Some(50_000_000_000));
        assert_eq!(aurora.thin, [(3 * 86_400_000_000_000, 60_000_000_000)]);
        assert!(matches!(
            c.blobs.open(&c.data_dir),
            Ok(crate::adapters::blobs::Blobs::S3(_))
        ));
    }

    #[test]
    fn validation_names_every_problem_at_once() {
        let p = problems(
            r##"
            data_dir = ""
            [mqtt]
            url = "http://x"
            share_group = "a/b"
            client_id = "#"
            username = "u"
            [index]
            url = "mysql://x"
            [api]
            token = "short"
            "##,
        );
        let keys: Vec<_> = p.iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "data_dir",
                "mqtt.url",
                "mqtt.share_group",
                "mqtt.client_id",
                "mqtt.password",
                "index.url",
                "api.token"
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = Config::from_toml("[mqtt]\nurl = \"mqtt://h\"\nshare = \"x\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("share"), "{e}");
    }

    #[test]
    fn index_urls() {
        assert_eq!(
            IndexUrl::parse("sqlite:/tmp/i.db").unwrap(),
            IndexUrl::Sqlite("/tmp/i.db".into())
        );
        assert!(matches!(
            IndexUrl::parse("postgres://postgres@127.0.0.1/x"),
            Ok(IndexUrl::Postgres(_))
        ));
        assert!(IndexUrl::parse("sqlite:").is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Config::from_toml(
            "[mqtt]\nurl = \"mqtt://h\"\nusername = \"u\"\npassword = \"hunter2\"\n",
            "t",
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
