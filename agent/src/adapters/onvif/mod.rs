//! ONVIF discovery for `seaframe-agent discover`: find the cameras on the
//! network and print `[[cameras]]` entries for them.
//!
//! `discovery` sends a WS-Discovery Probe (multicast and/or unicast) and
//! collects ProbeMatches; `media` asks each device, concurrently and under
//! one deadline per device, (with credentials: GetSystemDateAndTime, to write
//! tokens in the device's time →) GetCapabilities (→ GetServices when it names
//! no Media service) → GetProfiles → GetStreamUri → GetSnapshotUri of Media,
//! or of Media2 (`media2`) on a device that has only that, over `soap`
//! (SOAP 1.2, WS-Security UsernameToken digest);
//! `report` renders what was found (and why a device failed) as TOML.
//!
//! A small client of our own rather than a crate: the four calls and the
//! probe are a few hundred lines over `reqwest` (already the agent's HTTP
//! client) and `roxmltree`, where a full ONVIF client would bring PTZ,
//! events, recording and a second XML stack to a small ARM board.
//!
//! Nothing here touches the agent's running state; it only talks to the
//! network and returns a [`Discovery`]. Passwords are never logged.

pub mod discovery;
pub mod media;
pub mod media2;
pub mod report;
pub mod soap;
pub mod wsdl;
mod xml;

use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;
use url::Url;

pub use discovery::ProbeTarget;
pub use report::{DeviceReport, Discovery, Outcome};
pub use soap::Credentials;

use soap::{SoapClient, SoapError};

/// What to probe and for how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// Send the Probe to 239.255.255.250:3702.
    pub multicast: bool,
    /// Also send it to these hosts.
    pub targets: Vec<ProbeTarget>,
    /// Device service URLs to ask without discovery.
    pub xaddrs: Vec<Url>,
    /// How long to listen for ProbeMatches; each device then gets as long
    /// again for its questions.
    pub timeout: Duration,
    pub credentials: Option<Credentials>,
}

/// A device to ask: what discovery said of it and where to ask it.
#[derive(Debug)]
struct Candidate {
    name: Option<String>,
    hardware: Option<String>,
    /// The device service URL, or why the ProbeMatch gave none usable.
    xaddr: Result<Url, String>,
    shown: String,
    via: Vec<String>,
}

/// Probes, then asks every device found (concurrently). Ends within about
/// twice `options.timeout`; never fails: every problem is in the result.
pub async fn discover(options: &Options) -> Discovery {
    let mut result = Discovery::default();
    let mut candidates: Vec<Candidate> = options
        .xaddrs
        .iter()
        .map(|x| Candidate {
            name: None,
            hardware: None,
            xaddr: Ok(x.clone()),
            // Credentials belong in --user/--password; never shown.
            shown: crate::base::config::redact(x),
            via: vec!["--xaddr".to_owned()],
        })
        .collect();
    if options.multicast || !options.targets.is_empty() {
        let probed = discovery::probe(options.multicast, &options.targets, options.timeout).await;
        result.notes = probed.notes;
        for f in probed.found {
            let m = &f.probe_match;
            let xaddr = m
                .xaddr_for(f.from)
                .ok_or_else(|| format!("the ProbeMatch from {} has no http(s) XAddr", f.from));
            let shown = xaddr
                .as_ref()
                .map(Url::to_string)
                .unwrap_or_else(|_| m.xaddrs.join(" "));
            // A device also given by --xaddr is asked once.
            if let Some(c) = candidates.iter_mut().find(|c| c.shown == shown) {
                c.name = c.name.take().or_else(|| m.name());
                c.hardware = c.hardware.take().or_else(|| m.hardware());
                c.via.extend(f.via);
                continue;
            }
            candidates.push(Candidate {
                name: m.name(),
                hardware: m.hardware(),
                xaddr,
                shown,
                via: f.via,
            });
        }
    }
    let client = SoapClient::new(options.credentials.clone());
    let deadline = Instant::now() + options.timeout;
    let asked = candidates.into_iter().map(|c| {
        let client = &client;
        async move {
            let (outcome, notes) = match (&c.xaddr, client) {
                (Ok(xaddr), Ok(client)) => {
                    tracing::debug!(xaddr = %c.shown, "asking ONVIF device");
                    media::query(client, xaddr, deadline).await
                }
                (Err(why), _) => (
                    Outcome::Failed {
                        step: report::Step::GetCapabilities,
                        error: SoapError::BadReply(why.clone()),
                    },
                    Vec::new(),
                ),
                (_, Err(e)) => (
                    Outcome::Failed {
                        step: report::Step::GetCapabilities,
                        error: e.clone(),
                    },
                    Vec::new(),
                ),
            };
            DeviceReport {
                name: c.name,
                hardware: c.hardware,
                xaddr: c.shown,
                via: c.via,
                outcome,
                notes,
            }
        }
    });
    result.devices = join_all(asked).await;
    result
}

/// Parses `3s`, `500ms`, `1.5s` or a bare number of seconds.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1.0)
    } else {
        (s, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|secs| secs.is_finite() && *secs > 0.0 && *secs <= 600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{s:?}: expected a duration such as 3s or 500ms (at most 600s)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timeouts() {
        assert_eq!(parse_timeout("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["", "0s", "-1s", "3h", "nan", "1000s"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
