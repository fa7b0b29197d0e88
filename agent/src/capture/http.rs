//! IP cameras over HTTP: a snapshot URL polled at the camera's fps, and an
//! MJPEG stream (`multipart/x-mixed-replace`) of which the newest whole part
//! is taken at each tick. Credentials in the URL are sent as HTTP Basic and
//! never logged.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use percent_encoding::percent_decode_str;
use url::Url;

use super::CaptureError;
use super::multipart::{Multipart, boundary_of};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// No MJPEG part for this long: the stream has stalled.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A client for one camera; `request_timeout` bounds a whole snapshot.
pub fn client(request_timeout: Option<Duration>) -> Result<reqwest::Client, CaptureError> {
    let mut b = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
    if let Some(t) = request_timeout {
        b = b.timeout(t);
    }
    b.build()
        .map_err(|e| CaptureError::Setup(format!("HTTP client: {e}")))
}

/// A GET of `url`, with the URL's credentials (percent-decoded: a URL
/// carries `p%40ss` for `p@ss`) as Basic auth.
fn get(client: &reqwest::Client, url: &Url) -> reqwest::RequestBuilder {
    let mut bare = url.clone();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let user = decode(url.username());
    let password = url.password().map(decode);
    // Cannot fail: http(s) URLs have a host.
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    let req = client.get(bare);
    if user.is_empty() {
        req
    } else {
        req.basic_auth(user, password)
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
        401 | 403 => Err(CaptureError::Unauthorized(format!("HTTP {status}"))),
        _ => Err(CaptureError::Unreachable(format!("HTTP {status}"))),
    }
}

/// A snapshot URL.
#[derive(Debug)]
pub struct Snapshot {
    client: reqwest::Client,
    url: Url,
    timeout: Duration,
}

impl Snapshot {
    pub fn new(url: Url, fps: f64) -> Result<Self, CaptureError> {
        let timeout = Duration::from_secs(5).max(Duration::from_secs_f64(2.0 / fps));
        Ok(Self {
            client: client(Some(timeout))?,
            url,
            timeout,
        })
    }

    pub async fn grab(&mut self) -> Result<Bytes, CaptureError> {
        let resp = get(&self.client, &self.url)
            .send()
            .await
            .map_err(|e| describe(&e, self.timeout))?;
        check_status(resp.status())?;
        resp.bytes().await.map_err(|e| describe(&e, self.timeout))
    }
}

/// An MJPEG stream; reconnects on the next grab after an error.
pub struct Mjpeg {
    client: reqwest::Client,
    url: Url,
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
            url,
            stream: None,
        })
    }

    async fn open(&mut self) -> Result<(), CaptureError> {
        let resp = tokio::time::timeout(STALL_TIMEOUT, get(&self.client, &self.url).send())
            .await
            .map_err(|_| {
                CaptureError::Unreachable(format!("timed out after {}s", STALL_TIMEOUT.as_secs()))
            })?
            .map_err(|e| describe(&e, STALL_TIMEOUT))?;
        check_status(resp.status())?;
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
    use base64::Engine;

    use super::*;

    #[test]
    fn credentials_are_sent_decoded_and_never_in_the_url() {
        let url = Url::parse("http://cam%20op:p%40ss%3Aw@127.0.0.1:8080/snapshot.jpg")
            .expect("a valid URL");
        let client = client(None).expect("a client");
        let req = get(&client, &url).build().expect("a request");
        assert_eq!(req.url().as_str(), "http://127.0.0.1:8080/snapshot.jpg");
        let auth = req
            .headers()
            .get(reqwest::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .expect("Basic auth");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .expect("base64");
        assert_eq!(decoded, b"cam op:p@ss:w");
    }
}
