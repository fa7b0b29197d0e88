//! What `discover` found, per device, and its rendering as TOML that can be
//! pasted into the agent's config: one `[[cameras]]` table per device that
//! gave a usable URI (RTSP preferred, the snapshot URL as fallback), every
//! other line a `#` comment (devices that failed, and why). Pure.
//!
//! The credentials given on the command line go into the URLs' userinfo,
//! which is where the config expects them (RTSP: ffmpeg; HTTP: Digest or
//! Basic, as the camera asks).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use seaframe_wire::CameraId;
use url::Url;

use crate::adapters::onvif::soap::{Credentials, SoapError};

/// The longest camera id (`CameraId::parse` checks it too).
const MAX_NAME_LEN: usize = 32;

/// The ONVIF call a device failed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    GetSystemDateAndTime,
    GetCapabilities,
    GetServices,
    GetProfiles,
    GetStreamUri,
    GetSnapshotUri,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GetSystemDateAndTime => "GetSystemDateAndTime",
            Self::GetCapabilities => "GetCapabilities",
            Self::GetServices => "GetServices",
            Self::GetProfiles => "GetProfiles",
            Self::GetStreamUri => "GetStreamUri",
            Self::GetSnapshotUri => "GetSnapshotUri",
        })
    }
}

/// A media profile (`token` is what the URI requests name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub token: String,
    pub name: Option<String>,
    pub encoding: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.token)?;
        let mut about = Vec::new();
        if let Some(n) = &self.name {
            about.push(n.clone());
        }
        if let Some(e) = &self.encoding {
            about.push(e.clone());
        }
        if let (Some(w), Some(h)) = (self.width, self.height) {
            about.push(format!("{w}x{h}"));
        }
        if !about.is_empty() {
            write!(f, " ({})", about.join(", "))?;
        }
        Ok(())
    }
}

/// The ONVIF service the media questions were asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaService {
    /// Media (`ver10/media`), which every Profile S device has.
    Media,
    /// Media2 (`ver20/media`), on a device without Media (H.265 profiles).
    Media2,
}

/// The URIs of a device's first profile; at least one of them is `Ok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFound {
    pub service: MediaService,
    pub profile: Profile,
    pub other_profiles: Vec<Profile>,
    pub stream: Result<Url, SoapError>,
    pub snapshot: Result<Url, SoapError>,
}

/// How asking one device went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Media(Box<MediaFound>),
    Failed { step: Step, error: SoapError },
}

/// One device: what discovery said about it, and how asking it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    /// The `name` scope, if the device gave one.
    pub name: Option<String>,
    /// The `hardware` scope (the model), if any.
    pub hardware: Option<String>,
    /// The device service URL asked.
    pub xaddr: String,
    /// How it was found: `multicast`, `unicast HOST:PORT`, `--xaddr`.
    pub via: Vec<String>,
    pub outcome: Outcome,
    /// Worth knowing whatever the outcome (e.g. its clock is off).
    pub notes: Vec<String>,
}

/// Everything one `discover` run has to say.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub devices: Vec<DeviceReport>,
    /// Problems not tied to one device (a probe that could not be sent, a
    /// reply that was not a ProbeMatch).
    pub notes: Vec<String>,
}

/// The failure in words, with what to do when there is something to do.
fn describe(step: Step, error: &SoapError, creds: Option<&Credentials>) -> String {
    match error {
        SoapError::Unauthorized(why) => match creds {
            None => format!("unauthorized (give --user/--password); {step}: {why}"),
            Some(c) => format!(
                "unauthorized: the device refused user {:?} ({step}: {why})",
                c.user
            ),
        },
        SoapError::TimedOut => format!("timed out ({step})"),
        SoapError::Unreachable(why) => format!("unreachable ({step}): {why}"),
        SoapError::Fault(why) => format!("bad reply to {step}: SOAP fault: {why}"),
        SoapError::BadReply(why) => format!("bad reply to {step}: {why}"),
    }
}

/// `url` with the credentials as userinfo, unless it already has a user.
fn with_credentials(url: &Url, creds: Option<&Credentials>) -> Url {
    let mut url = url.clone();
    if let Some(c) = creds
        && url.username().is_empty()
    {
        // Cannot fail: only URLs with a host get here.
        let _ = url.set_username(&c.user);
        let _ = url.set_password(Some(&c.password));
    }
    url
}

/// A camera id from the device's name (or its host): lowercase, runs of
/// other characters made one `-`, at most 32 long, unique among `taken`.
pub fn camera_id(name: Option<&str>, xaddr: &str, taken: &mut HashSet<String>) -> CameraId {
    let host = Url::parse(xaddr)
        .ok()
        .and_then(|u| u.host_str().map(|h| format!("onvif-{h}")));
    let base = [name.map(str::to_owned), host]
        .into_iter()
        .flatten()
        .map(|s| slug(&s))
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "onvif".to_owned());
    for n in 1.. {
        let candidate = if n == 1 {
            base.clone()
        } else {
            let suffix = format!("-{n}");
            let keep = MAX_NAME_LEN - suffix.len();
            format!(
                "{}{suffix}",
                base[..base.len().min(keep)].trim_end_matches('-')
            )
        };
        if let Ok(id) = CameraId::parse(&candidate)
            && taken.insert(candidate)
        {
            return id;
        }
    }
    unreachable!("some numbered id is free")
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(MAX_NAME_LEN);
    out.trim_end_matches('-').to_owned()
}

/// A TOML basic string (quoted and escaped).
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// `# ` before every line of `text` (a device's name could hold a newline).
fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "# {line}");
    }
}

impl Discovery {
    /// The whole report as TOML: `[[cameras]]` tables and `#` comments.
    /// `creds` go into the URLs; `window` is how long discovery listened.
    pub fn render(&self, creds: Option<&Credentials>, window: Duration) -> String {
        let mut out = String::new();
        let secs = window.as_secs_f64();
        let probed = self
            .devices
            .iter()
            .filter(|d| d.via.iter().any(|v| v != "--xaddr"))
            .count();
        let given = self.devices.len() - probed;
        let mut head = Vec::new();
        match (probed, given) {
            (0, 0) => head.push(format!("no ONVIF device answered within {secs}s")),
            (0, g) => head.push(format!("{g} ONVIF device(s) given by --xaddr")),
            (p, 0) => head.push(format!("{p} ONVIF device(s) answered within {secs}s")),
            (p, g) => head.push(format!(
                "{p} ONVIF device(s) answered within {secs}s, {g} more given by --xaddr"
            )),
        }
        if !self.devices.is_empty() {
            head.push("paste the [[cameras]] tables into the agent's config".to_owned());
        }
        comment(&mut out, &head.join("; "));
        for note in &self.notes {
            comment(&mut out, &format!("note: {note}"));
        }
        let mut taken = HashSet::new();
        for d in &self.devices {
            out.push('\n');
            let title = match (&d.name, &d.hardware) {
                (Some(n), Some(h)) => format!("{n} ({h})"),
                (Some(n), None) => n.clone(),
                (None, Some(h)) => h.clone(),
                (None, None) => "an ONVIF device".to_owned(),
            };
            comment(
                &mut out,
                &format!("{title} at {} (found by {})", d.xaddr, d.via.join(", ")),
            );
            for note in &d.notes {
                comment(&mut out, &format!("note: {note}"));
            }
            let media = match &d.outcome {
                Outcome::Failed { step, error } => {
                    comment(&mut out, &describe(*step, error, creds));
                    continue;
                }
                Outcome::Media(m) => m,
            };
            if media.service == MediaService::Media2 {
                comment(&mut out, "media service: Media2 (ONVIF ver20)");
            }
            comment(&mut out, &format!("profile {}", media.profile));
            if !media.other_profiles.is_empty() {
                let others: Vec<String> = media
                    .other_profiles
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                comment(&mut out, &format!("other profiles: {}", others.join("; ")));
            }
            let stream = media.stream.as_ref().map(|u| with_credentials(u, creds));
            let snapshot = media.snapshot.as_ref().map(|u| with_credentials(u, creds));
            let source = match (&stream, &snapshot) {
                (Ok(rtsp), Ok(snap)) => {
                    comment(
                        &mut out,
                        &format!("snapshot instead: source = {}", quoted(snap.as_str())),
                    );
                    rtsp
                }
                (Ok(rtsp), Err(e)) => {
                    comment(
                        &mut out,
                        &format!("no snapshot: {}", describe(Step::GetSnapshotUri, e, creds)),
                    );
                    rtsp
                }
                (Err(e), Ok(snap)) => {
                    comment(
                        &mut out,
                        &format!("no RTSP stream: {}", describe(Step::GetStreamUri, e, creds)),
                    );
                    snap
                }
                (Err(e), Err(_)) => {
                    comment(&mut out, &describe(Step::GetStreamUri, e, creds));
                    continue;
                }
            };
            let id = camera_id(d.name.as_deref(), &d.xaddr, &mut taken);
            let _ = writeln!(out, "[[cameras]]");
            let _ = writeln!(out, "id = {}", quoted(id.as_str()));
            let _ = writeln!(out, "source = {}", quoted(source.as_str()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::config::{CameraSource, Config};

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    fn profile() -> Profile {
        Profile {
            token: "Profile_Main".into(),
            name: Some("MainStream".into()),
            encoding: Some("H264".into()),
            width: Some(640),
            height: Some(360),
        }
    }

    fn device(name: Option<&str>, outcome: Outcome) -> DeviceReport {
        DeviceReport {
            name: name.map(str::to_owned),
            hardware: Some("VirtualCam-1".into()),
            xaddr: "http://127.0.0.1:8080/onvif/device_service".into(),
            via: vec!["multicast".into(), "unicast 127.0.0.1:3702".into()],
            outcome,
            notes: vec!["the device's clock is 7200s behind ours".into()],
        }
    }

    fn media(stream: Result<Url, SoapError>, snapshot: Result<Url, SoapError>) -> Outcome {
        Outcome::Media(Box::new(MediaFound {
            service: MediaService::Media,
            profile: profile(),
            other_profiles: vec![Profile {
                token: "Profile_Sub".into(),
                name: None,
                encoding: None,
                width: None,
                height: None,
            }],
            stream,
            snapshot,
        }))
    }

    fn sample() -> Discovery {
        Discovery {
            devices: vec![
                device(
                    Some("Seaframe Test Cam"),
                    media(
                        Ok(url("rtsp://127.0.0.1:8554/video_main")),
                        Ok(url("http://127.0.0.1:8080/snapshot.jpg")),
                    ),
                ),
                device(
                    Some("Seaframe Test Cam"),
                    media(
                        Err(SoapError::Fault("no stream\nhere".into())),
                        Ok(url("http://10.0.0.7/snap.jpg?a=1&b=\"2\"")),
                    ),
                ),
                device(
                    None,
                    Outcome::Failed {
                        step: Step::GetProfiles,
                        error: SoapError::BadReply("not XML: unexpected end of stream".into()),
                    },
                ),
                device(
                    None,
                    Outcome::Failed {
                        step: Step::GetStreamUri,
                        error: SoapError::TimedOut,
                    },
                ),
                device(
                    None,
                    Outcome::Failed {
                        step: Step::GetCapabilities,
                        error: SoapError::Unauthorized("HTTP 401, Sender not authorized".into()),
                    },
                ),
            ],
            notes: vec!["127.0.0.1:9 sent a bad reply to the probe: not XML".into()],
        }
    }

    #[test]
    fn the_rendered_entries_load_with_the_agents_config_loader() {
        let creds = Credentials {
            user: "admin".into(),
            password: "p@ss:w\"rd".into(),
        };
        for creds in [None, Some(&creds)] {
            let text = sample().render(creds, Duration::from_secs(3));
            let config = format!("vessel = \"test\"\n\n{text}");
            let cfg = Config::from_toml(&config, "discover output")
                .unwrap_or_else(|e| panic!("{e}\n{config}"));
            assert_eq!(cfg.cameras.len(), 2, "{text}");
            assert_eq!(cfg.cameras[0].id.as_str(), "seaframe-test-cam");
            assert_eq!(cfg.cameras[1].id.as_str(), "seaframe-test-cam-2");
            let CameraSource::Rtsp { url: rtsp } = &cfg.cameras[0].source else {
                panic!("RTSP preferred: {text}");
            };
            let CameraSource::HttpSnapshot { url: snap } = &cfg.cameras[1].source else {
                panic!("snapshot as fallback: {text}");
            };
            assert_eq!(snap.query(), Some("a=1&b=%222%22"));
            match creds {
                None => {
                    assert_eq!(rtsp.as_str(), "rtsp://127.0.0.1:8554/video_main");
                    assert!(
                        text.contains("unauthorized (give --user/--password)"),
                        "{text}"
                    );
                }
                Some(c) => {
                    assert_eq!(rtsp.username(), "admin");
                    assert_eq!(
                        percent_encoding::percent_decode_str(rtsp.password().unwrap_or_default())
                            .decode_utf8_lossy(),
                        c.password.as_str()
                    );
                    assert_eq!(snap.username(), "admin");
                    assert!(text.contains("refused user \"admin\""), "{text}");
                }
            }
            assert!(text.contains("bad reply to GetProfiles: not XML"), "{text}");
            assert!(text.contains("timed out (GetStreamUri)"), "{text}");
            assert!(
                text.contains("no RTSP stream: bad reply to GetStreamUri: SOAP fault: no stream"),
                "{text}"
            );
            assert!(
                text.contains("snapshot instead: source = \"http://"),
                "{text}"
            );
            assert!(
                text.contains("note: 127.0.0.1:9 sent a bad reply"),
                "{text}"
            );
            assert!(text.contains("other profiles: Profile_Sub"), "{text}");
            assert!(
                text.contains("# note: the device's clock is 7200s behind ours"),
                "{text}"
            );
            assert!(
                text.contains("profile Profile_Main (MainStream, H264, 640x360)"),
                "{text}"
            );
        }
    }

    #[test]
    fn the_first_line_tells_probed_from_given_devices() {
        let mut d = sample();
        d.devices.truncate(1);
        let first = |d: &Discovery| {
            d.render(None, Duration::from_secs(3))
                .lines()
                .next()
                .map(str::to_owned)
                .unwrap_or_default()
        };
        assert!(first(&d).starts_with("# 1 ONVIF device(s) answered within 3s; paste"));
        let mut given = d.devices[0].clone();
        given.via = vec!["--xaddr".into()];
        d.devices.push(given.clone());
        assert!(
            first(&d).starts_with(
                "# 1 ONVIF device(s) answered within 3s, 1 more given by --xaddr; paste"
            )
        );
        d.devices = vec![given];
        assert!(first(&d).starts_with("# 1 ONVIF device(s) given by --xaddr; paste"));
    }

    #[test]
    fn a_device_found_through_media2_says_so() {
        let mut found = media(
            Ok(url("rtsp://10.0.0.5/h265")),
            Ok(url("http://10.0.0.5/s.jpg")),
        );
        let plain = Discovery {
            devices: vec![device(Some("Bow"), found.clone())],
            notes: Vec::new(),
        }
        .render(None, Duration::from_secs(1));
        assert!(!plain.contains("Media2"), "{plain}");
        if let Outcome::Media(m) = &mut found {
            m.service = MediaService::Media2;
            m.profile.encoding = Some("H265".into());
        }
        let text = Discovery {
            devices: vec![device(Some("Bow"), found)],
            notes: Vec::new(),
        }
        .render(None, Duration::from_secs(1));
        assert!(
            text.contains("# media service: Media2 (ONVIF ver20)\n# profile Profile_Main (MainStream, H265, 640x360)"),
            "{text}"
        );
    }

    #[test]
    fn says_so_when_nothing_answered() {
        let text = Discovery::default().render(None, Duration::from_millis(1500));
        assert_eq!(text, "# no ONVIF device answered within 1.5s\n");
        let cfg = Config::from_toml(&format!("vessel = \"v\"\n{text}"), "t").expect("valid");
        assert!(cfg.cameras.is_empty());
    }

    #[test]
    fn camera_ids_are_valid_and_unique() {
        let mut taken = HashSet::new();
        let x = "http://192.168.1.64/onvif/device_service";
        let ids: Vec<String> = [
            Some("Mast Cam (PTZ)"),
            Some("Mast Cam (PTZ)"),
            Some("ÄÖ!"),
            None,
            Some("A very long camera name that goes on and on and on"),
            Some("A very long camera name that goes on and on and on"),
        ]
        .into_iter()
        .map(|n| camera_id(n, x, &mut taken).as_str().to_owned())
        .collect();
        assert_eq!(
            ids,
            [
                "mast-cam-ptz",
                "mast-cam-ptz-2",
                "onvif-192-168-1-64",
                "onvif-192-168-1-64-2",
                "a-very-long-camera-name-that-goe",
                "a-very-long-camera-name-that-g-2",
            ]
        );
    }
}
