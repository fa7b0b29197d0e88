//! The agent's configuration: TOML → typed structs → [`Config::validate`].
//!
//! Loading has no side effects. Type errors (unknown key, wrong type, a bad
//! name or source) come from the TOML parser, which names the line; range
//! and cross-field checks come from `validate`, which collects every problem
//! at once and names each key with its line when the text is at hand. A
//! config pushed from shore goes through the same `validate`.

pub mod layered;
mod locate;
mod redacted;
mod source;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use seaframe_wire::{CameraId, VesselName};
use serde::{Deserialize, Serialize};

pub use source::{CameraSource, GpsSource, NO_V4L2, SourceError, redact, redact_str as redact_url};

/// The example file: every key with its default and meaning.
pub const EXAMPLE: &str = include_str!("../../../seaframe.example.toml");

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub vessel: VesselName,
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
    #[serde(default)]
    pub gps: GpsConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    pub uplink: Option<UplinkConfig>,
    /// The TOML this config was read from (what a pushed config is merged
    /// into). It may hold credentials, hence a secret.
    #[serde(skip)]
    pub text: Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// Required when `listen` is not a loopback address.
    #[serde(serialize_with = "redacted::token")]
    pub token: Option<Secret>,
    /// How long a crew-page session (signed in with the token) lasts.
    #[serde(default = "defaults::session_ttl_s")]
    pub session_ttl_s: u64,
    /// Origins (`scheme://host[:port]`) whose pages may call the API
    /// (CORS); empty: no CORS headers at all.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// An XYZ tile URL (`https://host/{z}/{x}/{y}.png`, e.g. a chart
    /// server on the ship's network) drawn under the crew page's track;
    /// `None`: the track alone, which needs nothing beyond the agent.
    #[serde(default)]
    pub map_tiles: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// `None`: the agent runs its own `redis-server` on a unix socket.
    #[serde(serialize_with = "redacted::opt_url")]
    pub redis_url: Option<Secret>,
    #[serde(default = "defaults::workers")]
    pub workers: u32,
    #[serde(default = "defaults::max_len")]
    pub max_len: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub id: CameraId,
    #[serde(with = "from_str")]
    pub source: CameraSource,
    #[serde(default = "defaults::fps")]
    pub fps: f64,
    #[serde(default = "defaults::width")]
    pub width: u32,
    #[serde(default = "defaults::height")]
    pub height: u32,
    /// `rtsp://` only: the ffmpeg decoder for the stream (`-c:v` before
    /// `-i`), e.g. `h264_v4l2m2m` on a Raspberry Pi; `None`: ffmpeg chooses.
    #[serde(default)]
    pub decoder: Option<String>,
    /// `rtsp://` only: which frames ffmpeg decodes (see [`Decode`]).
    #[serde(default)]
    pub decode: Decode,
}

/// Which frames of an `rtsp://` stream are decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decode {
    /// Key frames while they come at least as often as the fps asks, every
    /// frame from the first time they do not (two gaps in a row longer than
    /// 1.5/fps, or a stall): the cheap path where the camera allows it,
    /// exact fps where it does not.
    #[default]
    Auto,
    /// Every frame, then one kept per 1/fps: exact fps, full decoding cost.
    All,
    /// Key frames only (`-skip_frame nokey`), at most one per 1/fps: a
    /// fraction of the CPU, but never more frames than the camera's key
    /// frame rate (a 1 s GOP gives at most 1 fps). For fps at or below it.
    Keyframes,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GpsConfig {
    #[serde(default = "defaults::gps_source", with = "from_str")]
    pub source: GpsSource,
    #[serde(default = "defaults::max_fix_age_s")]
    pub max_fix_age_s: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    #[serde(default = "defaults::max_age_s")]
    pub max_age_s: u64,
    #[serde(default = "defaults::retain_bytes")]
    pub retain_bytes: u64,
    /// `None`: 5 % of the filesystem, at most 1 GB
    /// ([`crate::services::retention::auto_min_free_bytes`]).
    #[serde(default)]
    pub min_free_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    #[serde(serialize_with = "redacted::url")]
    pub mqtt_url: Secret,
    #[serde(default = "defaults::thumb_width_px")]
    pub thumb_width_px: u32,
    #[serde(default = "defaults::thumbs_per_s")]
    pub thumbs_per_s: f64,
    #[serde(default)]
    pub budget_bytes_per_s: u64,
    #[serde(default = "defaults::outbox_max_bytes")]
    pub outbox_max_bytes: u64,
    /// `mqtts://`: the CA that signed the broker's certificate (PEM);
    /// without it, the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `mqtts://` with client certificates: the vessel's certificate and
    /// key (PEM).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// A pushed config that changes the link (URL, credentials, TLS
    /// files) must reach the broker within this many seconds, or the
    /// vessel goes back to its last config that worked.
    #[serde(default = "defaults::link_confirm_s")]
    pub link_confirm_s: u64,
}

pub use seaframe_http::Secret;

mod defaults {
    use super::GpsSource;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    pub fn data_dir() -> PathBuf {
        PathBuf::from("/var/lib/seaframe")
    }
    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8780))
    }
    pub const fn session_ttl_s() -> u64 {
        12 * 3600
    }
    pub const fn workers() -> u32 {
        2
    }
    pub const fn max_len() -> u64 {
        2000
    }
    pub const fn fps() -> f64 {
        5.0
    }
    pub const fn width() -> u32 {
        1280
    }
    pub const fn height() -> u32 {
        720
    }
    pub const fn gps_source() -> GpsSource {
        GpsSource::None
    }
    pub const fn max_fix_age_s() -> u64 {
        10
    }
    pub const fn max_age_s() -> u64 {
        30 * 24 * 3600
    }
    pub const fn retain_bytes() -> u64 {
        50_000_000_000
    }
    pub const fn thumb_width_px() -> u32 {
        320
    }
    pub const fn thumbs_per_s() -> f64 {
        1.0
    }
    pub const fn outbox_max_bytes() -> u64 {
        500_000_000
    }
    pub const fn link_confirm_s() -> u64 {
        180
    }
}

/// Sources read from and shown as strings (`Display` redacts credentials).
mod from_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::str::FromStr;

    pub fn serialize<S, T>(value: &T, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: std::fmt::Display,
    {
        s.collect_str(value)
    }

    pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            token: None,
            session_ttl_s: defaults::session_ttl_s(),
            cors_origins: Vec::new(),
            map_tiles: None,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            workers: defaults::workers(),
            max_len: defaults::max_len(),
        }
    }
}

impl Default for GpsConfig {
    fn default() -> Self {
        Self {
            source: defaults::gps_source(),
            max_fix_age_s: defaults::max_fix_age_s(),
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            max_age_s: defaults::max_age_s(),
            retain_bytes: defaults::retain_bytes(),
            min_free_bytes: None,
        }
    }
}

/// One thing wrong with a config: the key (`cameras[1].fps`), its line in
/// the file when known, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Limits of the values `validate` accepts.
pub const LINK_CONFIRM_S: std::ops::RangeInclusive<u64> = 10..=3600;
pub const MAX_FPS: f64 = 120.0;
pub const MAX_WORKERS: u32 = 64;
pub const MIN_MAX_LEN: u64 = 10;
pub const MAX_SIDE_PX: u32 = 8192;
pub const MIN_SIDE_PX: u32 = 16;

impl Config {
    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.text = Secret::new(text);
        let mut problems = config.validate();
        if problems.is_empty() {
            return Ok(config);
        }
        for p in &mut problems {
            p.line = locate::line_of(text, &p.key);
        }
        Err(ConfigError::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }

    /// Every range and cross-field problem, all at once (empty: valid).
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |key: String, message: String| {
            out.push(Problem {
                key,
                line: None,
                message,
            })
        };
        if !self.api.listen.ip().is_loopback() && self.api.token.is_none() {
            bad(
                "api.token".into(),
                format!(
                    "required when api.listen ({}) is reachable beyond loopback",
                    self.api.listen
                ),
            );
        }
        if !(60..=30 * 24 * 3600).contains(&self.api.session_ttl_s) {
            bad(
                "api.session_ttl_s".into(),
                format!(
                    "{} is not from 60 to 2592000 (30 days)",
                    self.api.session_ttl_s
                ),
            );
        }
        for origin in &self.api.cors_origins {
            if let Err(why) = seaframe_http::check_origin(origin) {
                bad("api.cors_origins".into(), format!("{origin:?}: {why}"));
            }
        }
        if let Some(Err(why)) = self
            .api
            .map_tiles
            .as_deref()
            .map(seaframe_http::tile_origin)
        {
            bad("api.map_tiles".into(), why.into());
        }
        if let Some(url) = &self.queue.redis_url {
            let scheme_ok = ["redis://", "rediss://", "unix://", "redis+unix://"]
                .iter()
                .any(|p| url.expose().starts_with(p));
            if !scheme_ok || redis::IntoConnectionInfo::into_connection_info(url.expose()).is_err()
            {
                bad(
                    "queue.redis_url".into(),
                    "not a Redis URL (redis://host:port/db or unix:///path/redis.sock)".into(),
                );
            }
        }
        if !(1..=MAX_WORKERS).contains(&self.queue.workers) {
            bad(
                "queue.workers".into(),
                format!("{} is out of range 1..={MAX_WORKERS}", self.queue.workers),
            );
        }
        if self.queue.max_len < MIN_MAX_LEN {
            bad(
                "queue.max_len".into(),
                format!("{} is below the minimum {MIN_MAX_LEN}", self.queue.max_len),
            );
        }
        let mut seen: HashMap<&CameraId, usize> = HashMap::new();
        for (i, cam) in self.cameras.iter().enumerate() {
            if let Some(first) = seen.insert(&cam.id, i) {
                bad(
                    format!("cameras[{i}].id"),
                    format!(
                        "duplicate camera id {:?} (also cameras[{first}])",
                        cam.id.as_str()
                    ),
                );
            }
            if !(cam.fps.is_finite() && cam.fps > 0.0 && cam.fps <= MAX_FPS) {
                bad(
                    format!("cameras[{i}].fps"),
                    format!("{} is out of range (0, {MAX_FPS}]", cam.fps),
                );
            }
            if let Some(decoder) = &cam.decoder {
                if !matches!(cam.source, CameraSource::Rtsp { .. }) {
                    bad(
                        format!("cameras[{i}].decoder"),
                        "applies only to rtsp:// sources".into(),
                    );
                } else if decoder.is_empty()
                    || decoder.len() > 64
                    || !decoder
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    bad(
                        format!("cameras[{i}].decoder"),
                        format!("{decoder:?} is not an ffmpeg decoder name ([a-z0-9_], 1..=64)"),
                    );
                }
            }
            if cam.decode != Decode::Auto && !matches!(cam.source, CameraSource::Rtsp { .. }) {
                bad(
                    format!("cameras[{i}].decode"),
                    "applies only to rtsp:// sources".into(),
                );
            }
            for (key, v) in [("width", cam.width), ("height", cam.height)] {
                if !(MIN_SIDE_PX..=MAX_SIDE_PX).contains(&v) {
                    bad(
                        format!("cameras[{i}].{key}"),
                        format!("{v} is out of range {MIN_SIDE_PX}..={MAX_SIDE_PX}"),
                    );
                }
            }
        }
        if self.gps.max_fix_age_s == 0 {
            bad("gps.max_fix_age_s".into(), "must be at least 1".into());
        }
        if self.retention.max_age_s == 0 {
            bad("retention.max_age_s".into(), "must be at least 1".into());
        }
        if self.retention.retain_bytes == 0 {
            bad("retention.retain_bytes".into(), "must be at least 1".into());
        }
        if let Some(up) = &self.uplink {
            let url = up.mqtt_url.expose();
            if !(url.starts_with("mqtt://") || url.starts_with("mqtts://"))
                || url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::len))
                    .unwrap_or(0)
                    == 0
            {
                bad(
                    "uplink.mqtt_url".into(),
                    "expected mqtt://host:port or mqtts://host:port".into(),
                );
            }
            if !(16..=4096).contains(&up.thumb_width_px) {
                bad(
                    "uplink.thumb_width_px".into(),
                    format!("{} is out of range 16..=4096", up.thumb_width_px),
                );
            }
            if !(up.thumbs_per_s.is_finite() && up.thumbs_per_s > 0.0 && up.thumbs_per_s <= 30.0) {
                bad(
                    "uplink.thumbs_per_s".into(),
                    format!("{} is out of range (0, 30]", up.thumbs_per_s),
                );
            }
            if up.client_cert_file.is_some() != up.client_key_file.is_some() {
                bad(
                    "uplink.client_key_file".into(),
                    "client_cert_file and client_key_file go together".into(),
                );
            }
            if !LINK_CONFIRM_S.contains(&up.link_confirm_s) {
                bad(
                    "uplink.link_confirm_s".into(),
                    format!(
                        "{} is out of range {}..={}",
                        up.link_confirm_s,
                        LINK_CONFIRM_S.start(),
                        LINK_CONFIRM_S.end()
                    ),
                );
            }
            if up.outbox_max_bytes < 1_000_000 {
                bad(
                    "uplink.outbox_max_bytes".into(),
                    format!("{} is below the minimum 1000000", up.outbox_max_bytes),
                );
            }
        }
        out
    }

    pub fn frames_dir(&self) -> PathBuf {
        self.data_dir.join("frames")
    }

    pub fn index_path(&self) -> PathBuf {
        self.data_dir.join("index.db")
    }

    pub fn redis_dir(&self) -> PathBuf {
        self.data_dir.join("redis")
    }
}

#[cfg(test)]
mod tests;
