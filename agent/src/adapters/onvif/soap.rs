//! SOAP 1.2 over HTTP for ONVIF: the request envelope (with a WS-Security
//! UsernameToken, PasswordDigest, when credentials are given), the POST, and
//! the reading of the answer into either a parsed document or a
//! [`SoapError`] the caller can act on (unauthorized, timed out, bad reply).
//!
//! It knows nothing of ONVIF's operations (that is `media`); it never logs
//! or prints a password.

use std::time::Duration;

use base64::Engine as _;
use tokio::time::Instant;

use crate::adapters::onvif::xml::{self, escape};
pub use crate::base::credentials::Credentials;

pub const SOAP_ENV_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const PASSWORD_DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";

/// The largest reply read from a device; a longer one is a bad reply.
pub const MAX_REPLY_BYTES: usize = 1 << 20;
/// Connecting to a device's HTTP port may take this long at most (the
/// device's whole budget still bounds it).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// WS-Security PasswordDigest: Base64(SHA-1(nonce ‖ created ‖ password)).
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// The `<s:Header>` with a UsernameToken for `nonce` and `created`
/// (`YYYY-MM-DDTHH:MM:SSZ`, UTC). Pure, so that it can be tested.
pub fn security_header(creds: &Credentials, nonce: &[u8], created: &str) -> String {
    let digest = password_digest(nonce, created, &creds.password);
    let nonce = base64::engine::general_purpose::STANDARD.encode(nonce);
    format!(
        "<s:Header><wsse:Security xmlns:wsse=\"{WSSE_NS}\" xmlns:wsu=\"{WSU_NS}\">\
         <wsse:UsernameToken><wsse:Username>{user}</wsse:Username>\
         <wsse:Password Type=\"{PASSWORD_DIGEST}\">{digest}</wsse:Password>\
         <wsse:Nonce EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\">{nonce}</wsse:Nonce>\
         <wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>",
        user = escape(&creds.user),
    )
}

/// A whole request: `body` is the XML inside `<s:Body>` and may use the
/// prefixes `tds` (device), `trt` (media ver10), `tr2` (media2, ver20)
/// and `tt` (schema).
pub fn envelope(body: &str, header: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <s:Envelope xmlns:s=\"{SOAP_ENV_NS}\" \
         xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" \
         xmlns:trt=\"http://www.onvif.org/ver10/media/wsdl\" \
         xmlns:tr2=\"http://www.onvif.org/ver20/media/wsdl\" \
         xmlns:tt=\"http://www.onvif.org/ver10/schema\">{header}<s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// The current UTC time moved by `offset` (the device's clock minus ours),
/// as WS-Security wants it in `Created`.
fn created_now(offset: time::Duration) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    (time::OffsetDateTime::now_utc() + offset)
        .format(&format)
        .expect("a fixed format of a valid UTC time always renders")
}

/// Why a SOAP call gave no usable answer; the caller names the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// HTTP 401/403, or a fault saying the sender is not authorized.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// No answer before the device's deadline.
    #[error("timed out")]
    TimedOut,
    /// Connection refused, reset, no route…
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// A SOAP fault other than authorization (e.g. an unsupported action).
    #[error("SOAP fault: {0}")]
    Fault(String),
    /// Not XML, not SOAP, an unexpected HTTP status, too long…
    #[error("{0}")]
    BadReply(String),
}

/// Sends SOAP requests with optional credentials; cheap to clone.
#[derive(Debug, Clone)]
pub struct SoapClient {
    http: reqwest::Client,
    creds: Option<Credentials>,
    /// The device's clock minus ours: added to `Created`, since a device
    /// refuses a token whose time is far from its own.
    clock_offset: time::Duration,
}

impl SoapClient {
    pub fn new(creds: Option<Credentials>) -> Result<Self, SoapError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| SoapError::Unreachable(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            creds,
            clock_offset: time::Duration::ZERO,
        })
    }

    /// Whether requests carry a UsernameToken.
    pub fn has_credentials(&self) -> bool {
        self.creds.is_some()
    }

    /// This client for a device whose clock is `offset` ahead of ours.
    pub fn with_clock_offset(&self, offset: time::Duration) -> Self {
        Self {
            clock_offset: offset,
            ..self.clone()
        }
    }

    /// POSTs `body` as `action` to `url` and returns the reply's text when
    /// it is a SOAP envelope without a fault. Gives up at `deadline`.
    pub async fn call(
        &self,
        url: &str,
        action: &str,
        body: &str,
        deadline: Instant,
    ) -> Result<String, SoapError> {
        match tokio::time::timeout_at(deadline, self.call_inner(url, action, body)).await {
            Ok(result) => result,
            Err(_) => Err(SoapError::TimedOut),
        }
    }

    async fn call_inner(&self, url: &str, action: &str, body: &str) -> Result<String, SoapError> {
        let header = match &self.creds {
            Some(creds) => {
                let mut nonce = [0u8; 16];
                getrandom::fill(&mut nonce)
                    .map_err(|e| SoapError::Unreachable(format!("no random nonce: {e}")))?;
                security_header(creds, &nonce, &created_now(self.clock_offset))
            }
            None => String::new(),
        };
        let request = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
            )
            .body(envelope(body, &header));
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status();
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(SoapError::BadReply(format!(
                    "reply longer than {MAX_REPLY_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        classify(status.as_u16(), challenge.as_deref(), text)
    }
}

/// Sorts an HTTP status, its `WWW-Authenticate` challenge and body into a
/// reply or a [`SoapError`]. Pure.
pub fn classify(status: u16, challenge: Option<&str>, text: String) -> Result<String, SoapError> {
    let fault = xml::soap_fault(&text);
    if matches!(status, 401 | 403) {
        let why = fault.unwrap_or_else(|| "no reason given".to_owned());
        // Some cameras want HTTP authentication rather than WS-Security.
        let scheme = challenge
            .and_then(|c| c.split_whitespace().next())
            .filter(|s| !s.is_empty())
            .map(|s| format!("; it asks for HTTP {s} authentication, which discover does not do"))
            .unwrap_or_default();
        return Err(SoapError::Unauthorized(format!(
            "HTTP {status}, {why}{scheme}"
        )));
    }
    if let Some(reason) = fault {
        let lower = reason.to_ascii_lowercase();
        if lower.contains("not authorized") || lower.contains("notauthorized") {
            return Err(SoapError::Unauthorized(reason));
        }
        return Err(SoapError::Fault(reason));
    }
    if !(200..300).contains(&status) {
        return Err(SoapError::BadReply(format!("HTTP {status}")));
    }
    Ok(text)
}

fn describe(e: reqwest::Error) -> SoapError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return SoapError::Unreachable("connection refused".into());
        }
        source = s.source();
    }
    if e.is_timeout() {
        SoapError::TimedOut
    } else if e.is_connect() {
        SoapError::Unreachable(format!("cannot connect: {e}"))
    } else if e.is_builder() {
        SoapError::BadReply(format!("not a usable URL: {e}"))
    } else {
        SoapError::Unreachable(format!("HTTP error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_digest_matches_an_independent_computation() {
        // python3 -c 'import hashlib,base64; print(base64.b64encode(hashlib.sha1(
        //   bytes(range(16)) + b"2026-11-30T10:00:00Z" + b"s3cret").digest()).decode())'
        let nonce: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            password_digest(&nonce, "2026-11-30T10:00:00Z", "s3cret"),
            "F5gMmFfiiA3n9uZlcjbOKjW/cvA="
        );
    }

    #[test]
    fn the_security_header_holds_user_digest_nonce_and_created_but_not_the_password() {
        let creds = Credentials {
            user: "ad<min".into(),
            password: "s3cret".into(),
        };
        let nonce: Vec<u8> = (0u8..16).collect();
        let h = security_header(&creds, &nonce, "2026-11-30T10:00:00Z");
        let doc = envelope("<trt:GetProfiles/>", &h);
        let parsed = roxmltree::Document::parse(&doc).expect("well-formed");
        let text = |name: &str| {
            parsed
                .descendants()
                .find(|n| n.tag_name().name() == name)
                .and_then(|n| n.text())
                .map(str::to_owned)
        };
        assert_eq!(text("Username").as_deref(), Some("ad<min"));
        assert_eq!(
            text("Password").as_deref(),
            Some("F5gMmFfiiA3n9uZlcjbOKjW/cvA=")
        );
        assert_eq!(text("Nonce").as_deref(), Some("AAECAwQFBgcICQoLDA0ODw=="));
        assert_eq!(text("Created").as_deref(), Some("2026-11-30T10:00:00Z"));
        assert!(!doc.contains("s3cret"));
        assert!(!format!("{creds:?}").contains("s3cret"));
    }

    #[test]
    fn created_is_utc_seconds() {
        let c = created_now(time::Duration::ZERO);
        assert_eq!(c.len(), 20, "{c}");
        assert!(c.ends_with('Z') && c.as_bytes()[10] == b'T', "{c}");
        let ahead = created_now(time::Duration::days(800));
        let year = |s: &str| s[..4].parse::<i32>().expect("a year");
        assert!((2..=3).contains(&(year(&ahead) - year(&c))), "{c} {ahead}");
    }

    const FAULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>
<s:Code><s:Value>s:Receiver</s:Value></s:Code>
<s:Reason><s:Text xml:lang="en">Sender not authorized</s:Text></s:Reason>
</s:Fault></s:Body></s:Envelope>"#;

    #[test]
    fn classifies_statuses_and_faults() {
        assert!(matches!(
            classify(401, None, FAULT.into()),
            Err(SoapError::Unauthorized(m)) if m.contains("Sender not authorized")
        ));
        assert!(matches!(
            classify(200, None, FAULT.into()),
            Err(SoapError::Unauthorized(_))
        ));
        let unsupported = FAULT.replace("Sender not authorized", "Action not supported");
        assert_eq!(
            classify(200, None, unsupported),
            Err(SoapError::Fault("Action not supported".into()))
        );
        assert!(matches!(
            classify(500, None, "oops".into()),
            Err(SoapError::BadReply(m)) if m == "HTTP 500"
        ));
        assert!(classify(200, None, "<a/>".into()).is_ok());
        assert!(matches!(
            classify(401, Some("Digest realm=\"cam\", nonce=\"abc\", qop=\"auth\""), String::new()),
            Err(SoapError::Unauthorized(m)) if m == "HTTP 401, no reason given; it asks for HTTP Digest authentication, which discover does not do"
        ));
    }
}
