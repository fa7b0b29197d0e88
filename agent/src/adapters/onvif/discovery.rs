//! WS-Discovery (2005/04, SOAP 1.2 over UDP): the Probe for ONVIF
//! `dn:NetworkVideoTransmitter`s, the parsing of ProbeMatches (pure), and
//! [`probe`], which sends the Probe to the multicast group and to given
//! hosts and collects matches until a deadline.
//!
//! IPv4 only. It only listens on the socket it sent from; it never joins the
//! multicast group (so Hello/Bye announcements are not seen).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use percent_encoding::percent_decode_str;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use url::Url;

use crate::adapters::onvif::xml;

/// The WS-Discovery multicast group and port.
pub const MULTICAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702);
/// The port a unicast Probe goes to when `--host` names none.
pub const DEFAULT_PORT: u16 = 3702;
/// A Probe is sent again this long after the first (UDP may drop it).
const REPEAT_AFTER: Duration = Duration::from_millis(200);
/// Receive errors after which the round ends early.
const MAX_RECV_ERRORS: u32 = 100;

/// The Probe, with `message_id` a `urn:uuid:…`.
pub fn probe_message(message_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:w=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
         xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" \
         xmlns:dn=\"http://www.onvif.org/ver10/network/wsdl\">\
         <e:Header>\
         <w:MessageID>{id}</w:MessageID>\
         <w:To e:mustUnderstand=\"true\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>\
         <w:Action e:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action>\
         </e:Header>\
         <e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>\
         </e:Envelope>",
        id = xml::escape(message_id)
    )
}

/// A random (version 4) `urn:uuid:…`.
pub fn new_message_id() -> String {
    let mut b = [0u8; 16];
    // Without randomness two probes could share an id; that only confuses
    // which reply answers which, so a fixed id is an acceptable fallback.
    let _ = getrandom::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// One device's answer to a Probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeMatch {
    /// `EndpointReference/Address` (usually `urn:uuid:…`): the device's
    /// identity, the same whichever way it was probed.
    pub endpoint: Option<String>,
    /// The device service URLs, in the device's order.
    pub xaddrs: Vec<String>,
    /// `onvif://www.onvif.org/...` scopes (name, hardware, location…).
    pub scopes: Vec<String>,
}

impl ProbeMatch {
    /// The device service URL to use: an http(s) XAddr whose host is the
    /// address the reply came from, else the first http(s) one.
    pub fn xaddr_for(&self, from: SocketAddr) -> Option<Url> {
        let urls: Vec<Url> = self
            .xaddrs
            .iter()
            .filter_map(|x| Url::parse(x).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .collect();
        let from_ip = from.ip().to_string();
        urls.iter()
            .find(|u| u.host_str() == Some(from_ip.as_str()))
            .or_else(|| urls.first())
            .cloned()
    }

    /// The `onvif://www.onvif.org/name/…` scope, percent-decoded.
    pub fn name(&self) -> Option<String> {
        self.scope("name")
    }

    /// The `onvif://www.onvif.org/hardware/…` scope, percent-decoded.
    pub fn hardware(&self) -> Option<String> {
        self.scope("hardware")
    }

    fn scope(&self, key: &str) -> Option<String> {
        let prefix = format!("onvif://www.onvif.org/{key}/");
        self.scopes
            .iter()
            .find_map(|s| s.strip_prefix(&prefix))
            .map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned())
            .filter(|v| !v.is_empty())
    }

    /// What identifies the device across replies.
    pub fn identity(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| self.xaddrs.join(" "))
    }
}

/// The ProbeMatches in a datagram. `Ok(vec![])` for other WS-Discovery
/// messages (a Hello, a Probe from another client) and for replies to
/// another probe (`RelatesTo` names another message); `Err` for a datagram
/// that is not a SOAP envelope or a ProbeMatch without XAddrs.
pub fn parse_probe_matches(text: &str, message_id: &str) -> Result<Vec<ProbeMatch>, String> {
    let doc = xml::parse(text)?;
    let body = xml::body(&doc)?;
    let root = doc.root_element();
    if let Some(relates) = xml::text_of(root, "RelatesTo")
        && relates != message_id
    {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for m in body
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "ProbeMatch")
    {
        let endpoint = xml::find(m, "EndpointReference").and_then(|e| xml::text_of(e, "Address"));
        let words = |name: &str| -> Vec<String> {
            xml::text_of(m, name)
                .map(|t| t.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let xaddrs = words("XAddrs");
        if xaddrs.is_empty() {
            return Err("a ProbeMatch without XAddrs".to_owned());
        }
        out.push(ProbeMatch {
            endpoint,
            xaddrs,
            scopes: words("Scopes"),
        });
    }
    Ok(out)
}

/// Where a Probe goes: a host (name or IPv4 address) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for ProbeTarget {
    type Err = String;

    /// `HOST` or `HOST:PORT` (port 3702 when not given).
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{s:?}: the port must be 1..=65535"))?,
            ),
            None => (s, DEFAULT_PORT),
        };
        if host.is_empty() || host.contains(['/', ' ', '[', ']', ':']) {
            return Err(format!(
                "{s:?}: expected HOST or HOST:PORT (IPv4 or a name)"
            ));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for ProbeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A match and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub probe_match: ProbeMatch,
    pub from: SocketAddr,
    /// How the device was reached: `multicast`, or the `--host` it was.
    pub via: Vec<String>,
}

/// What a probe round gave: distinct devices in order of first answer, and
/// notes on what went wrong on the way (a send that failed, a garbled reply).
#[derive(Debug, Default)]
pub struct ProbeResult {
    pub found: Vec<Found>,
    pub notes: Vec<String>,
}

/// Sends the Probe (to the multicast group when `multicast`, and to each
/// target), again after a short pause, and collects ProbeMatches until
/// `window` has passed. Multicast and unicast probes go out from two
/// sockets, so that a device's answers to each are told apart.
pub async fn probe(multicast: bool, targets: &[ProbeTarget], window: Duration) -> ProbeResult {
    let deadline = Instant::now() + window;
    let mut result = ProbeResult::default();
    let mut unicast: Vec<(SocketAddr, String)> = Vec::new();
    for t in targets {
        match tokio::time::timeout_at(deadline, tokio::net::lookup_host((t.host.as_str(), t.port)))
            .await
        {
            Ok(Ok(addrs)) => match addrs.into_iter().find(SocketAddr::is_ipv4) {
                Some(a) => unicast.push((a, format!("unicast {t}"))),
                None => result.notes.push(format!(
                    "--host {t}: no IPv4 address (IPv6 is not supported)"
                )),
            },
            Ok(Err(e)) => result
                .notes
                .push(format!("--host {t}: cannot resolve: {e}")),
            Err(_) => result
                .notes
                .push(format!("--host {t}: name lookup timed out")),
        }
    }
    let multicast_dest = vec![(SocketAddr::V4(MULTICAST), "multicast".to_owned())];
    let mut rounds = Vec::new();
    if multicast {
        rounds.push(Round::open(multicast_dest, true, &mut result.notes).await);
    }
    if !unicast.is_empty() {
        rounds.push(Round::open(unicast, false, &mut result.notes).await);
    }
    let mut rounds: Vec<Round> = rounds.into_iter().flatten().collect();
    let message_id = new_message_id();
    let message = probe_message(&message_id);
    for r in &mut rounds {
        r.send(&message, &mut result.notes);
    }
    let repeat_at = Instant::now() + REPEAT_AFTER;
    let mut repeated = false;
    let (mut first, mut second) = {
        let mut it = rounds.into_iter();
        (it.next(), it.next())
    };
    let mut buf_a = vec![0u8; 65_535];
    let mut buf_b = vec![0u8; 65_535];
    let mut recv_errors = 0u32;
    loop {
        let (received, round) = tokio::select! {
            r = recv(first.as_ref(), &mut buf_a) => (r.map(|(n, from)| (buf_a[..n].to_vec(), from)), first.as_ref()),
            r = recv(second.as_ref(), &mut buf_b) => (r.map(|(n, from)| (buf_b[..n].to_vec(), from)), second.as_ref()),
            () = tokio::time::sleep_until(repeat_at), if !repeated => {
                repeated = true;
                for r in [first.as_mut(), second.as_mut()].into_iter().flatten() {
                    r.send(&message, &mut result.notes);
                }
                continue;
            }
            () = tokio::time::sleep_until(deadline) => break,
        };
        let (bytes, from) = match received {
            Ok(r) => r,
            Err(e) => {
                recv_errors += 1;
                let note = format!("receiving: {e}");
                if !result.notes.contains(&note) {
                    result.notes.push(note);
                }
                // A socket that keeps failing would spin until the deadline.
                if recv_errors >= MAX_RECV_ERRORS {
                    break;
                }
                continue;
            }
        };
        let via = round.map_or_else(|| "multicast".to_owned(), |r| r.label_for(from));
        let text = String::from_utf8_lossy(&bytes);
        match parse_probe_matches(&text, &message_id) {
            Ok(matches) => {
                for m in matches {
                    result.add(m, from, &via);
                }
            }
            Err(why) => {
                // The repeated probe gets the same bad reply: say it once.
                let note = format!("{from} sent a bad reply to the probe: {why}");
                if !result.notes.contains(&note) {
                    result.notes.push(note);
                }
            }
        }
    }
    result
}

/// Receives on `round`'s socket; never ready when there is no round.
async fn recv(round: Option<&Round>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match round {
        Some(r) => r.socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// One socket and the destinations its probes go to.
#[derive(Debug)]
struct Round {
    socket: UdpSocket,
    dests: Vec<(SocketAddr, String)>,
    failed: HashSet<SocketAddr>,
    multicast: bool,
}

impl Round {
    async fn open(
        dests: Vec<(SocketAddr, String)>,
        multicast: bool,
        notes: &mut Vec<String>,
    ) -> Option<Self> {
        let socket = match UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await {
            Ok(s) => s,
            Err(e) => {
                notes.push(format!("cannot open a UDP socket: {e}"));
                return None;
            }
        };
        if multicast && let Err(e) = socket.set_multicast_ttl_v4(1) {
            notes.push(format!("cannot limit the multicast TTL: {e}"));
        }
        Some(Self {
            socket,
            dests,
            failed: HashSet::new(),
            multicast,
        })
    }

    fn send(&mut self, message: &str, notes: &mut Vec<String>) {
        for (addr, label) in &self.dests {
            if self.failed.contains(addr) {
                continue;
            }
            if let Err(e) = self.socket.try_send_to(message.as_bytes(), *addr) {
                // A full send buffer only loses this copy; the repeat may pass.
                if e.kind() != std::io::ErrorKind::WouldBlock {
                    self.failed.insert(*addr);
                    notes.push(format!("cannot send the {label} probe to {addr}: {e}"));
                }
            }
        }
    }

    /// How a reply from `from` was reached.
    fn label_for(&self, from: SocketAddr) -> String {
        if self.multicast {
            return "multicast".to_owned();
        }
        self.dests.iter().find(|(a, _)| *a == from).map_or_else(
            || format!("unicast (answered from {from})"),
            |(_, l)| l.clone(),
        )
    }
}

impl ProbeResult {
    /// Adds a match, or notes another way the same device was reached.
    fn add(&mut self, m: ProbeMatch, from: SocketAddr, via: &str) {
        let id = m.identity();
        match self
            .found
            .iter_mut()
            .find(|f| f.probe_match.identity() == id)
        {
            Some(f) => {
                if !f.via.iter().any(|v| v == via) {
                    f.via.push(via.to_owned());
                }
            }
            None => self.found.push(Found {
                probe_match: m,
                from,
                via: vec![via.to_owned()],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "urn:uuid:6189e73d-34ba-4a1b-98ff-65934c673cbe";

    /// As ipycam 1.3.0 answers (a bare ProbeMatch in the Body).
    const IPYCAM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"
               xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
               xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
               xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
    <soap:Header>
        <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatch</wsa:Action>
        <wsa:MessageID>urn:uuid:5721d6d6-aa55-4127-854e-e0022c4eae47</wsa:MessageID>
        <wsa:RelatesTo>urn:uuid:6189e73d-34ba-4a1b-98ff-65934c673cbe</wsa:RelatesTo>
    </soap:Header>
    <soap:Body>
        <d:ProbeMatch>
            <d:EndpointReference><wsa:Address>urn:uuid:79357875-2a2c-4642-bd59-92ea5789a942</wsa:Address></d:EndpointReference>
            <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
            <d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Seaframe%20Test%20Cam</d:Scopes>
            <d:XAddrs>http://127.0.0.1:8080/onvif/device_service</d:XAddrs>
            <d:MetadataVersion>1</d:MetadataVersion>
        </d:ProbeMatch>
    </soap:Body>
</soap:Envelope>"#;

    #[test]
    fn the_probe_is_a_ws_discovery_probe_for_video_transmitters() {
        let id = new_message_id();
        assert!(id.starts_with("urn:uuid:") && id.len() == 45, "{id}");
        assert_ne!(id, new_message_id());
        let text = probe_message(&id);
        let doc = roxmltree::Document::parse(&text).expect("well-formed");
        let probe = xml::find(doc.root_element(), "Probe").expect("a Probe");
        assert_eq!(
            probe.tag_name().namespace(),
            Some("http://schemas.xmlsoap.org/ws/2005/04/discovery")
        );
        assert_eq!(
            xml::text_of(probe, "Types").as_deref(),
            Some("dn:NetworkVideoTransmitter")
        );
        assert_eq!(
            xml::text_of(doc.root_element(), "MessageID").as_deref(),
            Some(id.as_str())
        );
        assert_eq!(
            xml::text_of(doc.root_element(), "Action").as_deref(),
            Some("http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe")
        );
    }

    #[test]
    fn parses_ipycams_probe_match() {
        let m = parse_probe_matches(IPYCAM, ID).expect("parses");
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].endpoint.as_deref(),
            Some("urn:uuid:79357875-2a2c-4642-bd59-92ea5789a942")
        );
        assert_eq!(m[0].name().as_deref(), Some("Seaframe Test Cam"));
        let from: SocketAddr = "127.0.0.1:3702".parse().expect("addr");
        assert_eq!(
            m[0].xaddr_for(from).map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:8080/onvif/device_service")
        );
    }

    #[test]
    fn parses_standard_probe_matches_with_several_devices_and_xaddrs() {
        let text = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">
          <s:Header><a:RelatesTo>urn:uuid:6189e73d-34ba-4a1b-98ff-65934c673cbe</a:RelatesTo></s:Header>
          <s:Body><d:ProbeMatches>
            <d:ProbeMatch><d:XAddrs>http://[fe80::1]/onvif/device_service  http://10.1.2.3:80/onvif/device_service
                http://192.168.1.64/onvif/device_service</d:XAddrs>
              <d:Scopes>onvif://www.onvif.org/hardware/DS-2CD2143G0-I</d:Scopes></d:ProbeMatch>
            <d:ProbeMatch><d:XAddrs>urn:not-http http://192.168.1.65/onvif/device_service</d:XAddrs></d:ProbeMatch>
          </d:ProbeMatches></s:Body></s:Envelope>"#;
        let m = parse_probe_matches(text, ID).expect("parses");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].xaddrs.len(), 3);
        assert_eq!(m[0].endpoint, None);
        assert_eq!(m[0].hardware().as_deref(), Some("DS-2CD2143G0-I"));
        let from: SocketAddr = "192.168.1.64:3702".parse().expect("addr");
        assert_eq!(
            m[0].xaddr_for(from).map(|u| u.to_string()).as_deref(),
            Some("http://192.168.1.64/onvif/device_service"),
            "the XAddr on the address the reply came from"
        );
        let elsewhere: SocketAddr = "10.9.9.9:3702".parse().expect("addr");
        assert_eq!(
            m[0].xaddr_for(elsewhere).map(|u| u.to_string()).as_deref(),
            Some("http://[fe80::1]/onvif/device_service"),
            "else the first"
        );
        assert_eq!(
            m[1].xaddr_for(elsewhere).map(|u| u.to_string()).as_deref(),
            Some("http://192.168.1.65/onvif/device_service")
        );
    }

    #[test]
    fn ignores_replies_to_other_probes_and_refuses_garbage() {
        let other = IPYCAM.replace("6189e73d", "00000000");
        assert_eq!(parse_probe_matches(&other, ID), Ok(vec![]));
        assert!(parse_probe_matches("HTTP/1.1 200 OK", ID).is_err());
        assert!(parse_probe_matches("<a><b></a>", ID).is_err());
        let no_xaddrs = IPYCAM.replace(
            "<d:XAddrs>http://127.0.0.1:8080/onvif/device_service</d:XAddrs>",
            "",
        );
        assert!(parse_probe_matches(&no_xaddrs, ID).is_err());
    }

    #[test]
    fn parses_probe_targets() {
        let t: ProbeTarget = "10.0.0.5".parse().expect("host");
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.5", 3702));
        let t: ProbeTarget = "cam.local:3703".parse().expect("host:port");
        assert_eq!((t.host.as_str(), t.port), ("cam.local", 3703));
        for bad in [
            "",
            ":3702",
            "h:0",
            "h:99999",
            "h:x",
            "[::1]:3702",
            "http://h",
        ] {
            assert!(bad.parse::<ProbeTarget>().is_err(), "{bad}");
        }
    }
}
