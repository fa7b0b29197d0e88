//! Where frames and fixes come from: the `source` strings of `[[cameras]]`
//! and `[gps]`, parsed into typed values. URLs keep their credentials for
//! connecting, but `Display` and `Debug` redact them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

/// A camera's `source`.
#[derive(Clone, PartialEq)]
pub enum CameraSource {
    /// `testpattern`: a moving image with the camera id and capture time drawn in.
    TestPattern,
    /// `replay:/dir`: loops over the folder's JPEGs in name order.
    Replay { dir: PathBuf },
    /// `http://…` / `https://…`: a snapshot URL polled at the camera's fps.
    HttpSnapshot { url: Url },
    /// `mjpeg:http://…`: a `multipart/x-mixed-replace` stream.
    Mjpeg { url: Url },
    /// `v4l2:/dev/videoN`: a USB (UVC) camera asked for MJPEG.
    V4l2 { device: PathBuf },
    /// `rtsp://…`: an H.264/H.265 stream decoded by a supervised `ffmpeg`.
    Rtsp { url: Url },
}

/// The GPS `source`.
#[derive(Clone, PartialEq)]
pub enum GpsSource {
    None,
    Serial { device: PathBuf, baud: u32 },
    Tcp { addr: String },
    Udp { addr: SocketAddr },
    Gpsd { addr: String },
    Replay { file: PathBuf, rate: f64 },
    SignalK { url: Url },
}

/// Why a `source` string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub message: String,
}

/// Why a `v4l2:` source is refused by an agent built without V4L2.
pub const NO_V4L2: &str = "v4l2: this agent was built without USB camera support \
     (the `v4l2` cargo feature, on in every package)";

fn bad(message: impl Into<String>) -> SourceError {
    SourceError {
        message: message.into(),
    }
}

fn parse_http_url(s: &str) -> Result<Url, SourceError> {
    let url = Url::parse(s).map_err(|e| bad(format!("{}: {e}", redact_str(s))))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "{}: expected http:// or https://",
            redact_str(s)
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!("{}: the URL has no host", redact_str(s))));
    }
    Ok(url)
}

fn parse_path(s: &str, what: &str) -> Result<PathBuf, SourceError> {
    if s.is_empty() {
        return Err(bad(format!("{what} needs a path")));
    }
    Ok(PathBuf::from(s))
}

impl std::str::FromStr for CameraSource {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, SourceError> {
        if s == "testpattern" {
            Ok(Self::TestPattern)
        } else if let Some(dir) = s.strip_prefix("replay:") {
            Ok(Self::Replay {
                dir: parse_path(dir, "replay:")?,
            })
        } else if let Some(rest) = s.strip_prefix("mjpeg:") {
            Ok(Self::Mjpeg {
                url: parse_http_url(rest)?,
            })
        } else if let Some(dev) = s.strip_prefix("v4l2:") {
            if !cfg!(feature = "v4l2") {
                return Err(bad(NO_V4L2));
            }
            let device = parse_path(dev, "v4l2:")?;
            if !device.is_absolute() {
                return Err(bad(format!(
                    "v4l2:{dev}: the device must be an absolute path such as /dev/video0"
                )));
            }
            Ok(Self::V4l2 { device })
        } else if s.starts_with("http://") || s.starts_with("https://") {
            Ok(Self::HttpSnapshot {
                url: parse_http_url(s)?,
            })
        } else if s.starts_with("rtsp://") {
            let url = Url::parse(s).map_err(|e| bad(format!("{}: {e}", redact_str(s))))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad(format!("{}: the URL has no host", redact_str(s))));
            }
            Ok(Self::Rtsp { url })
        } else {
            Err(bad(format!(
                "{:?} is not a camera source: use testpattern, replay:/dir, http://…, mjpeg:http://…, rtsp://… or v4l2:/dev/videoN",
                redact_str(s)
            )))
        }
    }
}

impl TryFrom<String> for CameraSource {
    type Error = SourceError;
    fn try_from(s: String) -> Result<Self, SourceError> {
        s.parse()
    }
}

fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn host_port(s: &str, scheme: &str) -> Result<String, SourceError> {
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(s.to_owned()),
        _ => Err(bad(format!("{scheme}{s}: expected {scheme}host:port"))),
    }
}

impl std::str::FromStr for GpsSource {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, SourceError> {
        let (body, query) = match s.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (s, None),
        };
        if s == "none" {
            Ok(Self::None)
        } else if let Some(dev) = body.strip_prefix("serial:") {
            let baud = match query_param(query, "baud") {
                None => 4800,
                Some(b) => b
                    .parse()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| bad(format!("{s}: baud must be a positive integer")))?,
            };
            Ok(Self::Serial {
                device: parse_path(dev, "serial:")?,
                baud,
            })
        } else if let Some(addr) = body.strip_prefix("tcp:") {
            Ok(Self::Tcp {
                addr: host_port(addr, "tcp:")?,
            })
        } else if let Some(addr) = body.strip_prefix("udp:") {
            Ok(Self::Udp {
                addr: addr.parse().map_err(|_| {
                    bad(format!("{s}: expected udp:ip:port, e.g. udp:0.0.0.0:10110"))
                })?,
            })
        } else if let Some(addr) = body.strip_prefix("gpsd:") {
            Ok(Self::Gpsd {
                addr: host_port(addr, "gpsd:")?,
            })
        } else if let Some(file) = body.strip_prefix("replay:") {
            let rate = match query_param(query, "rate") {
                None => 1.0,
                Some(r) => r
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r > 0.0)
                    .ok_or_else(|| bad(format!("{s}: rate must be a positive number")))?,
            };
            Ok(Self::Replay {
                file: parse_path(file, "replay:")?,
                rate,
            })
        } else if let Some(url) = s.strip_prefix("signalk:") {
            let url = Url::parse(url).map_err(|e| bad(format!("{s}: {e}")))?;
            if !matches!(url.scheme(), "ws" | "wss") {
                return Err(bad(format!("{s}: expected signalk:ws://host:port")));
            }
            Ok(Self::SignalK { url })
        } else {
            Err(bad(format!(
                "{s:?} is not a GPS source: use none, serial:/dev/…?baud=N, tcp:host:port, \
                 udp:addr:port, gpsd:host:port, replay:file?rate=R or signalk:ws://host:port"
            )))
        }
    }
}

impl TryFrom<String> for GpsSource {
    type Error = SourceError;
    fn try_from(s: String) -> Result<Self, SourceError> {
        s.parse()
    }
}

// The redactor is the one the shore uses too (`seaframe_http::redact`).
pub use seaframe_http::{redact_url as redact, redact_url_str as redact_str};

impl fmt::Display for CameraSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TestPattern => f.write_str("testpattern"),
            Self::Replay { dir } => write!(f, "replay:{}", dir.display()),
            Self::HttpSnapshot { url } => f.write_str(&redact(url)),
            Self::Mjpeg { url } => write!(f, "mjpeg:{}", redact(url)),
            Self::V4l2 { device } => write!(f, "v4l2:{}", device.display()),
            Self::Rtsp { url } => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for GpsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Serial { device, baud } => write!(f, "serial:{}?baud={baud}", device.display()),
            Self::Tcp { addr } => write!(f, "tcp:{addr}"),
            Self::Udp { addr } => write!(f, "udp:{addr}"),
            Self::Gpsd { addr } => write!(f, "gpsd:{addr}"),
            Self::Replay { file, rate } => write!(f, "replay:{}?rate={rate}", file.display()),
            Self::SignalK { url } => write!(f, "signalk:{}", redact(url)),
        }
    }
}

impl fmt::Debug for GpsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_camera_source_kind() {
        assert_eq!(
            "testpattern".parse::<CameraSource>().unwrap(),
            CameraSource::TestPattern
        );
        assert!(matches!(
            "replay:/srv/jpegs".parse().unwrap(),
            CameraSource::Replay { .. }
        ));
        assert!(matches!(
            "http://10.0.0.5/snapshot.jpg".parse().unwrap(),
            CameraSource::HttpSnapshot { .. }
        ));
        assert!(matches!(
            "mjpeg:http://10.0.0.5/stream".parse().unwrap(),
            CameraSource::Mjpeg { .. }
        ));
        assert!(matches!(
            "rtsp://10.0.0.5:554/stream1".parse().unwrap(),
            CameraSource::Rtsp { .. }
        ));
    }

    #[cfg(feature = "v4l2")]
    #[test]
    fn reads_a_v4l2_device() {
        assert!(matches!(
            "v4l2:/dev/video0".parse().unwrap(),
            CameraSource::V4l2 { .. }
        ));
    }

    /// CI builds the agent without the feature once to run this.
    #[cfg(not(feature = "v4l2"))]
    #[test]
    fn a_build_without_v4l2_refuses_it_by_name() {
        let e = "v4l2:/dev/video0".parse::<CameraSource>().unwrap_err();
        assert_eq!(e.message, NO_V4L2);
    }

    #[test]
    fn refuses_bad_camera_sources_with_a_reason() {
        for s in [
            "",
            "ftp://x/y",
            "mjpeg:ftp://x",
            "http://",
            "v4l2:video0",
            "replay:",
            "rtsp://",
            "rtsp://:554/p",
        ] {
            let e = s.parse::<CameraSource>().unwrap_err();
            assert!(!e.message.is_empty(), "{s}");
        }
    }

    #[test]
    fn credentials_never_show() {
        let src: CameraSource = "mjpeg:http://admin:hunter2@10.0.0.5/stream"
            .parse()
            .unwrap();
        assert!(!format!("{src} {src:?}").contains("hunter2"));
        let src: CameraSource = "rtsp://admin:hunter2@10.0.0.5/s".parse().unwrap();
        assert_eq!(src.to_string(), "rtsp://admin:***@10.0.0.5/s");
        let e = "mjpeg:ftp://admin:hunter2@10.0.0.5/s"
            .parse::<CameraSource>()
            .unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    #[test]
    fn parses_gps_sources() {
        assert_eq!(
            "serial:/dev/ttyUSB0?baud=38400"
                .parse::<GpsSource>()
                .unwrap(),
            GpsSource::Serial {
                device: "/dev/ttyUSB0".into(),
                baud: 38400
            }
        );
        assert_eq!(
            "replay:/tmp/a.nmea?rate=10".parse::<GpsSource>().unwrap(),
            GpsSource::Replay {
                file: "/tmp/a.nmea".into(),
                rate: 10.0
            }
        );
        assert!(matches!(
            "udp:0.0.0.0:10110".parse().unwrap(),
            GpsSource::Udp { .. }
        ));
        assert!(matches!(
            "gpsd:127.0.0.1:2947".parse().unwrap(),
            GpsSource::Gpsd { .. }
        ));
        for s in [
            "serial:/dev/x?baud=0",
            "tcp:nohost",
            "udp:host",
            "replay:/a?rate=-1",
            "gps",
        ] {
            assert!(s.parse::<GpsSource>().is_err(), "{s}");
        }
    }
}
