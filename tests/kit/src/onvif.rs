//! A small ONVIF device for tests, for what the real simulator (ipycam, see
//! `onvif_sim`) cannot show: a WS-Discovery responder on a loopback UDP
//! port and SOAP device + media services on a loopback HTTP port, with a
//! chosen [`OnvifBehaviour`] (good, a malformed GetProfiles answer, a hang
//! on GetStreamUri, WS-Security digest required and really checked, a
//! garbled ProbeMatch, only a Media2 service with H.265 profiles). Stopped
//! on drop.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::net::{TcpListener, UdpSocket};

/// How the fake device behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnvifBehaviour {
    /// Answers everything well.
    Good,
    /// Answers GetProfiles with XML cut short.
    MalformedProfiles,
    /// Answers GetCapabilities and GetProfiles, then never answers
    /// GetStreamUri (a device that times out half-way).
    HangOnStreamUri,
    /// Every SOAP request but GetSystemDateAndTime needs a WS-Security
    /// UsernameToken whose PasswordDigest is right for `user`/`password`
    /// and whose `Created` is within a minute of the device's clock, which
    /// is `clock_skew_s` ahead of the real time; else HTTP 401 and a
    /// "Sender not authorized" fault.
    Digest {
        user: String,
        password: String,
        clock_skew_s: i64,
    },
    /// Answers the Probe with a datagram that is not XML.
    GarbledProbeMatch,
    /// Has no Media (ver10) service, only Media2 (ver20), as an H.265
    /// camera: GetCapabilities names no media, GetServices lists Media2,
    /// whose GetProfiles describes the (H265) encoders only when asked for
    /// `Type` `All`, and whose GetStreamUri wants `Protocol` `RTSP`. Media
    /// (ver10) actions are refused as unsupported.
    Media2Only,
}

const MEDIA_WSDL: &str = "http://www.onvif.org/ver10/media/wsdl";
const MEDIA2_WSDL: &str = "http://www.onvif.org/ver20/media/wsdl";

#[derive(Debug)]
struct Device {
    name: String,
    http: SocketAddr,
    behaviour: OnvifBehaviour,
}

/// The fake device; its tasks end on drop.
#[derive(Debug)]
pub struct FakeOnvifDevice {
    device: Arc<Device>,
    discovery: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FakeOnvifDevice {
    /// Starts the device named `name` (its `onvif://www.onvif.org/name/`
    /// scope) on two free loopback ports. Call inside a tokio runtime.
    pub async fn start(name: &str, behaviour: OnvifBehaviour) -> Result<Self> {
        let tcp = TcpListener::bind("127.0.0.1:0").await?;
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        let device = Arc::new(Device {
            name: name.to_owned(),
            http: tcp.local_addr()?,
            behaviour,
        });
        let discovery = udp.local_addr()?;
        let app = axum::Router::new()
            .route("/onvif/{service}", axum::routing::post(soap))
            .with_state(device.clone());
        let http = tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        let responder = tokio::spawn(respond_to_probes(udp, device.clone()));
        Ok(Self {
            device,
            discovery,
            tasks: vec![http, responder],
        })
    }

    /// `127.0.0.1:PORT` of the WS-Discovery responder (for `--host`).
    pub fn discovery_addr(&self) -> SocketAddr {
        self.discovery
    }

    /// The device service URL.
    pub fn xaddr(&self) -> String {
        format!("http://{}/onvif/device_service", self.device.http)
    }

    /// What GetStreamUri answers (nothing listens there).
    pub fn stream_uri(&self) -> String {
        format!("rtsp://{}/live/main", self.device.http)
    }

    /// What GetSnapshotUri answers (nothing serves it).
    pub fn snapshot_uri(&self) -> String {
        format!("http://{}/snapshot.jpg", self.device.http)
    }
}

impl Drop for FakeOnvifDevice {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The text between the first `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

async fn respond_to_probes(udp: UdpSocket, device: Arc<Device>) {
    let mut buf = vec![0u8; 65_535];
    while let Ok((n, from)) = udp.recv_from(&mut buf).await {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.contains("Probe>") && !text.contains("Probe ") {
            continue;
        }
        let Some(relates) = between(&text, "MessageID>", "<") else {
            continue;
        };
        let reply = if device.behaviour == OnvifBehaviour::GarbledProbeMatch {
            "ProbeMatch, but <not xml".to_owned()
        } else {
            probe_match(&device, relates)
        };
        let _ = udp.send_to(reply.as_bytes(), from).await;
    }
}

/// A standard ProbeMatches; the first XAddr is on an address that is not
/// where the reply comes from, as on a device with two interfaces.
fn probe_match(device: &Device, relates_to: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<env:Header><wsa:MessageID>urn:uuid:00000000-0000-4000-8000-{port:012}</wsa:MessageID>
<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>
<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></env:Header>
<env:Body><wsd:ProbeMatches><wsd:ProbeMatch>
<wsa:EndpointReference><wsa:Address>urn:uuid:11111111-2222-4333-8444-{port:012}</wsa:Address></wsa:EndpointReference>
<wsd:Types>dn:NetworkVideoTransmitter</wsd:Types>
<wsd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/{name} onvif://www.onvif.org/hardware/TestKit-1</wsd:Scopes>
<wsd:XAddrs>http://192.0.2.1/onvif/device_service http://{http}/onvif/device_service</wsd:XAddrs>
<wsd:MetadataVersion>1</wsd:MetadataVersion>
</wsd:ProbeMatch></wsd:ProbeMatches></env:Body></env:Envelope>"#,
        port = device.http.port(),
        // Scopes are separated by spaces, so a name's spaces are encoded.
        name = device.name.replace('%', "%25").replace(' ', "%20"),
        http = device.http,
    )
}

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"#
    )
}

fn reply(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        text,
    )
        .into_response()
}

fn fault(status: StatusCode, reason: &str) -> Response {
    reply(
        status,
        envelope(&format!(
            "<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value></SOAP-ENV:Code>\
             <SOAP-ENV:Reason><SOAP-ENV:Text xml:lang=\"en\">{reason}</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>"
        )),
    )
}

/// The device's clock.
fn device_now(clock_skew_s: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::seconds(clock_skew_s)
}

/// Whether the request's UsernameToken is right for `user`/`password`:
/// Base64(SHA-1(nonce ‖ created ‖ password)), computed here on its own,
/// and `Created` within a minute of the device's clock.
fn digest_ok(request: &str, user: &str, password: &str, clock_skew_s: i64) -> bool {
    // The text of the element `prefix:name` (with or without attributes).
    let field = |name: &str| {
        let needle = format!(":{name}");
        let (start, _) = request
            .match_indices(&needle)
            .find(|(i, _)| matches!(request.as_bytes().get(i + needle.len()), Some(b'>' | b' ')))?;
        let rest = &request[start..];
        let after = &rest[rest.find('>')? + 1..];
        Some(after[..after.find('<')?].to_owned())
    };
    let (Some(u), Some(digest), Some(nonce), Some(created)) = (
        field("Username"),
        field("Password"),
        field("Nonce"),
        field("Created"),
    ) else {
        return false;
    };
    let Ok(nonce) = base64::engine::general_purpose::STANDARD.decode(nonce.trim()) else {
        return false;
    };
    let mut sha = sha1_smol::Sha1::new();
    sha.update(&nonce);
    sha.update(created.trim().as_bytes());
    sha.update(password.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes());
    let Ok(created) = time::OffsetDateTime::parse(
        created.trim(),
        &time::format_description::well_known::Rfc3339,
    ) else {
        return false;
    };
    let skew = (created - device_now(clock_skew_s)).abs();
    u.trim() == user && digest.trim() == expected && skew <= time::Duration::minutes(1)
}

async fn soap(State(device): State<Arc<Device>>, headers: HeaderMap, body: String) -> Response {
    let operation = [
        "GetSystemDateAndTime",
        "GetCapabilities",
        "GetServices",
        "GetProfiles",
        "GetStreamUri",
        "GetSnapshotUri",
    ]
    .into_iter()
    .find(|op| body.contains(&format!(":{op}>")) || body.contains(&format!(":{op}/>")));
    let Some(operation) = operation else {
        return fault(StatusCode::BAD_REQUEST, "Action not supported");
    };
    // A client must name the action in the Content-Type (SOAP 1.2).
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/soap+xml")
        || !content_type.contains(&format!("/{operation}\""))
    {
        return fault(
            StatusCode::BAD_REQUEST,
            &format!("Content-Type {content_type:?} does not name the action {operation}"),
        );
    }
    let ok = |b: String| reply(StatusCode::OK, envelope(&b));
    let clock_skew_s = match &device.behaviour {
        OnvifBehaviour::Digest { clock_skew_s, .. } => *clock_skew_s,
        _ => 0,
    };
    // As ONVIF has it: the clock is open to all, so that a client can write
    // its tokens in the device's time.
    if operation == "GetSystemDateAndTime" {
        let t = device_now(clock_skew_s);
        return ok(format!(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>\
             <tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>\
             <tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>\
             <tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime>\
             </tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
            t.hour(),
            t.minute(),
            t.second(),
            t.year(),
            u8::from(t.month()),
            t.day()
        ));
    }
    if let OnvifBehaviour::Digest { user, password, .. } = &device.behaviour
        && !digest_ok(&body, user, password, clock_skew_s)
    {
        return fault(StatusCode::UNAUTHORIZED, "Sender not authorized");
    }
    let http = device.http;
    if device.behaviour == OnvifBehaviour::Media2Only {
        return media2_only(http, operation, content_type, &body);
    }
    match operation {
        "GetServices" => ok(services(http, MEDIA_WSDL, "media_service")),
        "GetCapabilities" => ok(format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities>\
             <tt:Device><tt:XAddr>http://{http}/onvif/device_service</tt:XAddr></tt:Device>\
             <tt:Media><tt:XAddr>http://{http}/onvif/media_service</tt:XAddr></tt:Media>\
             </tds:Capabilities></tds:GetCapabilitiesResponse>"
        )),
        "GetProfiles" if device.behaviour == OnvifBehaviour::MalformedProfiles => reply(
            StatusCode::OK,
            envelope("<trt:GetProfilesResponse><trt:Profiles token=\"main\">")
                .replace("</SOAP-ENV:Body></SOAP-ENV:Envelope>", ""),
        ),
        "GetProfiles" => ok("<trt:GetProfilesResponse>\
             <trt:Profiles token=\"main\" fixed=\"true\"><tt:Name>Main</tt:Name>\
             <tt:VideoEncoderConfiguration token=\"enc0\"><tt:Name>enc0</tt:Name><tt:Encoding>H264</tt:Encoding>\
             <tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>\
             </tt:VideoEncoderConfiguration></trt:Profiles>\
             <trt:Profiles token=\"sub\"><tt:Name>Sub</tt:Name></trt:Profiles>\
             </trt:GetProfilesResponse>"
            .to_owned()),
        "GetStreamUri" if device.behaviour == OnvifBehaviour::HangOnStreamUri => {
            std::future::pending::<()>().await;
            fault(StatusCode::INTERNAL_SERVER_ERROR, "unreachable")
        }
        "GetStreamUri" if !body.contains(">main<") => {
            fault(StatusCode::BAD_REQUEST, "no such profile")
        }
        "GetStreamUri" => ok(format!(
            "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://{http}/live/main</tt:Uri>\
             <tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
        )),
        _ => ok(format!(
            "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://{http}/snapshot.jpg</tt:Uri>\
             </trt:MediaUri></trt:GetSnapshotUriResponse>"
        )),
    }
}

/// A GetServicesResponse: the device service and one media service.
fn services(http: SocketAddr, media_ns: &str, media_path: &str) -> String {
    let service = |ns: &str, path: &str| {
        format!(
            "<tds:Service><tds:Namespace>{ns}</tds:Namespace>\
             <tds:XAddr>http://{http}/onvif/{path}</tds:XAddr>\
             <tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
        )
    };
    format!(
        "<tds:GetServicesResponse>{}{}</tds:GetServicesResponse>",
        service("http://www.onvif.org/ver10/device/wsdl", "device_service"),
        service(media_ns, media_path)
    )
}

/// The answers of a device with only a Media2 service and H.265 profiles.
fn media2_only(http: SocketAddr, operation: &str, content_type: &str, body: &str) -> Response {
    let ok = |b: String| reply(StatusCode::OK, envelope(&b));
    let is_media = matches!(operation, "GetProfiles" | "GetStreamUri" | "GetSnapshotUri");
    if is_media && !content_type.contains(&format!("\"{MEDIA2_WSDL}/{operation}\"")) {
        return fault(
            StatusCode::BAD_REQUEST,
            "Action not supported (this device has only Media2)",
        );
    }
    let encoder = |w: u32, h: u32| {
        format!(
            "<tr2:Configurations><tr2:VideoEncoder token=\"enc{w}\" GovLength=\"50\" Profile=\"Main\">\
             <tt:Name>enc{w}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H265</tt:Encoding>\
             <tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution>\
             <tt:Quality>5</tt:Quality></tr2:VideoEncoder></tr2:Configurations>"
        )
    };
    // Media2 describes configurations only when they are asked for.
    let all = body.contains(">All<");
    let described = |w, h| if all { encoder(w, h) } else { String::new() };
    match operation {
        "GetServices" => ok(services(http, MEDIA2_WSDL, "media2_service")),
        "GetCapabilities" => ok(format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities>\
             <tt:Device><tt:XAddr>http://{http}/onvif/device_service</tt:XAddr></tt:Device>\
             </tds:Capabilities></tds:GetCapabilitiesResponse>"
        )),
        "GetProfiles" => ok(format!(
            "<tr2:GetProfilesResponse>\
             <tr2:Profiles token=\"main\" fixed=\"true\"><tr2:Name>Main</tr2:Name>{}</tr2:Profiles>\
             <tr2:Profiles token=\"sub\" fixed=\"true\"><tr2:Name>Sub</tr2:Name>{}</tr2:Profiles>\
             </tr2:GetProfilesResponse>",
            described(2560, 1440),
            described(640, 360)
        )),
        "GetStreamUri" if !body.contains(">RTSP<") => {
            fault(StatusCode::BAD_REQUEST, "no such protocol")
        }
        "GetStreamUri" | "GetSnapshotUri" if !body.contains(">main<") => {
            fault(StatusCode::BAD_REQUEST, "no such profile")
        }
        "GetStreamUri" => ok(format!(
            "<tr2:GetStreamUriResponse><tr2:Uri>rtsp://{http}/live/main</tr2:Uri></tr2:GetStreamUriResponse>"
        )),
        _ => ok(format!(
            "<tr2:GetSnapshotUriResponse><tr2:Uri>http://{http}/snapshot.jpg</tr2:Uri></tr2:GetSnapshotUriResponse>"
        )),
    }
}
