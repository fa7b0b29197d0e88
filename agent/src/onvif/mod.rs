//! ONVIF discovery for `seaframe-agent discover`: find the cameras on the
//! network and print `[[cameras]]` entries for them.
//!
//! `discovery` sends a WS-Discovery Probe (multicast and/or unicast) and
//! collects ProbeMatches; `media` asks each device, concurrently and under
//! one deadline per device, GetCapabilities → GetProfiles → GetStreamUri →
//! GetSnapshotUri over `soap` (SOAP 1.2, WS-Security UsernameToken digest);
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
pub mod report;
pub mod soap;
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

/// Probes, then asks every device found (concurrently). Ends within about
/// twice `options.timeout`; never fails: every problem is in the result.
pub async fn discover(options: &Options) -> Discovery {
    let mut result = Discovery::default();
    let mut devices: Vec<(DeviceReport, Option<Url>)> = Vec::new();
    for x in &options.xaddrs {
        devices.push((pending(None, None, x.as_str(), "--xaddr"), Some(x.clone())));
    }
    if options.multicast || !options.targets.is_empty() {
        let probed = discovery::probe(options.multicast, &options.targets, options.timeout).await;
        result.notes = probed.notes;
        for f in probed.found {
            let m = &f.probe_match;
            let xaddr = m.xaddr_for(f.from);
            let shown = xaddr
                .as_ref()
                .map(Url::to_string)
                .unwrap_or_else(|| m.xaddrs.join(" "));
            let mut report = pending(m.name(), m.hardware(), &shown, "");
            report.via = f.via.clone();
            if xaddr.is_none() {
                report.outcome = Outcome::Failed {
                    step: report::Step::GetCapabilities,
                    error: SoapError::BadReply(format!(
                        "the ProbeMatch from {} has no http(s) XAddr",
                        f.from
                    )),
                };
            }
            devices.push((report, xaddr));
        }
    }
    let client = match SoapClient::new(options.credentials.clone()) {
        Ok(c) => c,
        Err(e) => {
            result.notes.push(e.to_string());
            result.devices = devices.into_iter().map(|(d, _)| d).collect();
            return result;
        }
    };
    let deadline = Instant::now() + options.timeout;
    let asked = devices.into_iter().map(|(mut report, xaddr)| {
        let client = &client;
        async move {
            if let Some(xaddr) = xaddr {
                tracing::debug!(xaddr = %xaddr, "asking ONVIF device");
                report.outcome = media::query(client, &xaddr, deadline).await;
            }
            report
        }
    });
    result.devices = join_all(asked).await;
    result
}

/// A report not yet asked (its outcome is a placeholder).
fn pending(name: Option<String>, hardware: Option<String>, xaddr: &str, via: &str) -> DeviceReport {
    DeviceReport {
        name,
        hardware,
        xaddr: xaddr.to_owned(),
        via: if via.is_empty() {
            Vec::new()
        } else {
            vec![via.to_owned()]
        },
        outcome: Outcome::Failed {
            step: report::Step::GetCapabilities,
            error: SoapError::TimedOut,
        },
    }
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
