//! IP cameras over HTTP: a snapshot URL polled at the camera's fps, and an
//! MJPEG stream (`multipart/x-mixed-replace`) of which the newest whole part
//! is taken at each tick. Credentials in the URL answer the camera's own
//! challenge, Basic or Digest (`http_auth`), and are never logged.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use url::Url;

use crate::base::capture::CaptureError;
use crate::base::capture::http_auth::{HttpAuth, Next, random_cnonce, split_credentials};
use crate::base::capture::multipart::{Multipart, boundary_of};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// No MJPEG part for this long: the stream has stalled.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests for one frame at most: without credentials, answering the
/// challenge, answering it again when the nonce was stale.
const MAX_ROUNDS: usize = 3;

/// A client for one camera; `request_timeout` bounds a whole snapshot.
pub fn client(request_timeout: Option<Duration>) -> Result<reqwest::Client, CaptureError> {
    let mut b = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
    if let Some(t) = request_timeout {
        b = b.timeout(t);
    }
    b.build()
        .map_err(|e| CaptureError::Setup(format!("HTTP client: {e}")))
}

/// A camera's URL without its credentials, and how to authenticate to it.
#[derive(Debug)]
struct Target {
    url: Url,
    auth: HttpAuth,
}

impl Target {
    fn new(url: &Url) -> Self {
        let (url, creds) = split_credentials(url);
        Self {
            url,
            auth: HttpAuth::new(creds),
        }
    }

    /// A GET of the URL with the answer to the camera's last challenge.
    fn request(&mut self, client: &reqwest::Client) -> Result<reqwest::Request, CaptureError> {
        let uri = &self.url[url::Position::BeforePath..url::Position::AfterQuery];
        let mut req = client.get(self.url.clone());
        if let Some(answer) = self.auth.header("GET", uri) {
            let mut value = reqwest::header::HeaderValue::from_str(&answer).map_err(|_| {
                CaptureError::Unauthorized(
                    "the camera's challenge holds bytes a header cannot carry".into(),
                )
            })?;
            value.set_sensitive(true);
            req = req.header(reqwest::header::AUTHORIZATION, value);
        }
        req.build()
            .map_err(|e| CaptureError::Setup(format!("HTTP request: {e}")))
    }

    /// GETs the URL, answering the camera's challenges (a stale Digest
    /// nonce is answered again, not counted as a failure); a 2xx response
    /// or why there is none. Each request is bounded by `timeout`.
    async fn fetch(
        &mut self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<reqwest::Response, CaptureError> {
        for _ in 0..MAX_ROUNDS {
            let req = self.request(client)?;
            let resp = tokio::time::timeout(timeout, client.execute(req))
                .await
                .map_err(|_| {
                    CaptureError::Unreachable(format!(
                        "timed out after {:.1}s",
                        timeout.as_secs_f64()
                    ))
                })?
                .map_err(|e| describe(&e, timeout))?;
            if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
                check_status(resp.status())?;
                return Ok(resp);
            }
            let challenges: Vec<&str> = resp
                .headers()
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            match self.auth.on_unauthorized(&challenges, random_cnonce) {
                Next::Retry => {}
                Next::Refused(why) => return Err(CaptureError::Unauthorized(why)),
            }
        }
        Err(CaptureError::Unauthorized(format!(
            "HTTP 401 to {MAX_ROUNDS} answers in a row: the camera keeps asking for a new challenge"
        )))
    }
}

/// What went wrong, in words a crew member understands.
fn describe(e: &reqwest::Error, timeout: Duration) -> CaptureError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return CaptureError::Unreachable("connection refused".into());
        }
        source = s.source();
    }
    if e.is_timeout() {
        CaptureError::Unreachable(format!("timed out after {:.1}s", timeout.as_secs_f64()))
    } else if e.is_connect() {
        CaptureError::Unreachable(format!("cannot connect: {e}"))
    } else {
        CaptureError::Unreachable(format!("HTTP error: {e}"))
    }
}

fn check_status(status: reqwest::StatusCode) -> Result<(), CaptureError> {
    match status.as_u16() {
        200..=299 => Ok(()),
        // A 401 is answered (or refused with its reason) by `fetch`.
        403 => Err(CaptureError::Unauthorized(format!("HTTP {status}"))),
        _ => Err(CaptureError::Unreachable(format!("HTTP {status}"))),
    }
}

/// A snapshot URL; the camera's Digest nonce is kept from frame to frame.
#[derive(Debug)]
pub struct Snapshot {
    client: reqwest::Client,
    target: Target,
    timeout: Duration,
}

impl Snapshot {
    pub fn new(url: Url, fps: f64) -> Result<Self, CaptureError> {
        let timeout = Duration::from_secs(5).max(Duration::from_secs_f64(2.0 / fps));
        Ok(Self {
            client: client(Some(timeout))?,
            target: Target::new(&url),
            timeout,
        })
    }

    pub async fn grab(&mut self) -> Result<Bytes, CaptureError> {
        let resp = self.target.fetch(&self.client, self.timeout).await?;
        resp.bytes().await.map_err(|e| describe(&e, self.timeout))
    }
}

/// An MJPEG stream; reconnects on the next grab after an error.
pub struct Mjpeg {
    client: reqwest::Client,
    target: Target,
    stream: Option<(
        futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
        Multipart,
    )>,
}

impl std::fmt::Debug for Mjpeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mjpeg")
            .field("connected", &self.stream.is_some())
            .finish_non_exhaustive()
    }
}

impl Mjpeg {
    pub fn new(url: Url) -> Result<Self, CaptureError> {
        Ok(Self {
            client: client(None)?,
            target: Target::new(&url),
            stream: None,
        })
    }

    async fn open(&mut self) -> Result<(), CaptureError> {
        let resp = self.target.fetch(&self.client, STALL_TIMEOUT).await?;
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let boundary = boundary_of(&content_type).ok_or_else(|| {
            CaptureError::BadStream(format!(
                "not an MJPEG stream (Content-Type {content_type:?})"
            ))
        })?;
        self.stream = Some((resp.bytes_stream().boxed(), Multipart::new(&boundary)));
        Ok(())
    }

    /// The newest whole part: drains what has arrived, else waits for one.
    /// Parts that arrived between ticks are discarded, not queued.
    pub async fn grab(&mut self) -> Result<Bytes, CaptureError> {
        if self.stream.is_none() {
            self.open().await?;
        }
        let result = self.newest().await;
        if matches!(
            result,
            Err(CaptureError::Unreachable(_) | CaptureError::BadStream(_))
        ) {
            self.stream = None;
        }
        result
    }

    async fn newest(&mut self) -> Result<Bytes, CaptureError> {
        let (stream, parser) = self.stream.as_mut().expect("opened by grab");
        let mut latest: Option<Bytes> = None;
        loop {
            while let Some(part) = parser.next_part() {
                latest = Some(part.map_err(|e| CaptureError::BadStream(e.to_string()))?);
            }
            // Take whatever is already here without waiting.
            match stream.next().now_or_never() {
                Some(Some(chunk)) => {
                    parser.push(&chunk.map_err(|e| describe(&e, STALL_TIMEOUT))?);
                    continue;
                }
                Some(None) => {
                    return latest
                        .ok_or_else(|| CaptureError::Unreachable("the stream ended".into()));
                }
                None => {}
            }
            if let Some(part) = latest.take() {
                return Ok(part);
            }
            match tokio::time::timeout(STALL_TIMEOUT, stream.next()).await {
                Ok(Some(chunk)) => parser.push(&chunk.map_err(|e| describe(&e, STALL_TIMEOUT))?),
                Ok(None) => return Err(CaptureError::Unreachable("the stream ended".into())),
                Err(_) => {
                    return Err(CaptureError::Unreachable(format!(
                        "stalled: no frame for {}s",
                        STALL_TIMEOUT.as_secs()
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_never_carry_the_credentials_in_the_url_nor_unasked() {
        let url = Url::parse("http://cam%20op:p%40ss%3Aw@127.0.0.1:8080/snapshot.jpg?ch=1")
            .expect("a valid URL");
        let client = client(None).expect("a client");
        let mut target = Target::new(&url);
        let req = target.request(&client).expect("a request");
        assert_eq!(
            req.url().as_str(),
            "http://127.0.0.1:8080/snapshot.jpg?ch=1"
        );
        assert!(req.headers().get(reqwest::header::AUTHORIZATION).is_none());
        let challenge = "Digest realm=\"cam\", nonce=\"n\", qop=\"auth\"";
        assert_eq!(
            target.auth.on_unauthorized(&[challenge], random_cnonce),
            Next::Retry
        );
        let req = target.request(&client).expect("a request");
        let auth = req
            .headers()
            .get(reqwest::header::AUTHORIZATION)
            .expect("an answer");
        assert!(auth.is_sensitive());
        let text = auth.to_str().expect("ASCII");
        assert!(text.contains("uri=\"/snapshot.jpg?ch=1\""), "{text}");
        assert!(text.contains("username=\"cam op\""), "{text}");
        assert!(!text.contains("p@ss"), "{text}");
    }
}
