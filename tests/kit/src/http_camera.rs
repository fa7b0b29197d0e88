//! A fake IP camera over HTTP on a free loopback port: `/snapshot.jpg` (the
//! newest frame of a real encoder, see `jpeg_feed`), `/stream.mjpg`
//! (multipart MJPEG, any number of clients) and `/health`, optional HTTP
//! Basic or Digest auth (`http_digest`: stale nonces, every answer checked
//! and counted), and the faults a camera agent must survive, asked for in
//! the query string:
//!
//! | request | what the camera does |
//! | --- | --- |
//! | `/snapshot.jpg?fault=truncated` | the first half of a JPEG (Content-Length matching) |
//! | `/snapshot.jpg?fault=garbage` | 4096 bytes that are not a JPEG, as `image/jpeg` |
//! | `/snapshot.jpg?fault=empty` | 200 with an empty body |
//! | `/snapshot.jpg?fault=500` | HTTP 500 |
//! | `/snapshot.jpg?fault=hang` | the headers, then silence for 30 s |
//! | `/snapshot.jpg?fault=close` | Content-Length promised, the connection closed half-way |
//! | `/stream.mjpg?corrupt_every=N` | every Nth part a truncated JPEG |
//! | `/stream.mjpg?stall_after=N` | N parts, then silence until the camera stops |
//! | `/stream.mjpg?frames=N` | N parts, then the response ends |
//!
//! The server runs on its own thread and runtime, so a test of any kind
//! (sync or async) can hold one; it stops, with its encoder, on drop, and by
//! itself after [`MAX_RUN`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::sync::{oneshot, watch};

use crate::http_digest::{AuthCounts, Counters, DigestGuard, DigestOptions, Verdict};
use crate::jpeg_feed::{JpegFeed, Shot};
use crate::process::READY_TIMEOUT;

/// How long a camera runs at most.
pub const MAX_RUN: Duration = Duration::from_secs(300);

/// How long `fault=hang` stays silent.
const HANG: Duration = Duration::from_secs(30);

/// How a camera is set up.
#[derive(Debug, Clone)]
pub struct HttpCameraOptions {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// The user and password every path but `/health` then needs, as HTTP
    /// Basic unless `digest` is set.
    pub credentials: Option<(String, String)>,
    /// With `credentials`: ask for Digest instead.
    pub digest: Option<DigestOptions>,
}

impl Default for HttpCameraOptions {
    /// 640×360 at 10 fps, open to all.
    fn default() -> Self {
        Self {
            width: 640,
            height: 360,
            fps: 10,
            credentials: None,
            digest: None,
        }
    }
}

#[derive(Debug)]
pub struct HttpCamera {
    url: String,
    auth_counts: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpCamera {
    /// A 640×360, 10 fps camera open to all.
    pub fn start() -> Result<Self> {
        Self::start_with(HttpCameraOptions::default())
    }

    /// Starts the camera and returns once it has a frame to serve.
    pub fn start_with(options: HttpCameraOptions) -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/", listener.local_addr()?);
        let guard = match (&options.credentials, &options.digest) {
            (None, _) => None,
            (Some((user, password)), None) => {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some(Guard::Basic(format!("Basic {token}")))
            }
            (Some((user, password)), Some(digest)) => Some(Guard::Digest(DigestGuard::new(
                user.clone(),
                password.clone(),
                digest.clone(),
            ))),
        };
        let auth_counts = match &guard {
            Some(Guard::Digest(d)) => Arc::clone(&d.counters),
            _ => Arc::default(),
        };
        let (stop, stopped) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("http-camera".into())
            .spawn(move || serve(listener, options, guard, stopped, ready_tx))?;
        let camera = Self {
            url,
            auth_counts,
            stop: Some(stop),
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(())) => Ok(camera),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(anyhow!(
                "the HTTP camera had no frame within {READY_TIMEOUT:?}"
            )),
        }
    }

    /// `http://127.0.0.1:PORT/`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What a Digest camera's guard has seen so far (all zero otherwise).
    pub fn auth_counts(&self) -> AuthCounts {
        self.auth_counts.snapshot()
    }
}

impl Drop for HttpCamera {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a client must send.
#[derive(Debug)]
enum Guard {
    /// This whole `Authorization` header.
    Basic(String),
    Digest(DigestGuard),
}

#[derive(Debug)]
struct Camera {
    newest: watch::Receiver<Option<Shot>>,
    guard: Option<Guard>,
}

/// The camera's thread: its runtime, encoder and server; reports readiness
/// (a first frame) or the reason there is none on `ready`.
fn serve(
    listener: std::net::TcpListener,
    options: HttpCameraOptions,
    guard: Option<Guard>,
    stopped: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    runtime.block_on(async move {
        let started = async {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let feed = JpegFeed::start(options.width, options.height, options.fps, MAX_RUN)?;
            let mut newest = feed.subscribe();
            tokio::time::timeout(READY_TIMEOUT, newest.wait_for(Option::is_some))
                .await
                .context("no frame from ffmpeg")?
                .context("ffmpeg ended before its first frame")?;
            anyhow::Ok((listener, feed, Camera { newest, guard }))
        };
        let (listener, _feed, camera) = match started.await {
            Ok(parts) => parts,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let app = axum::Router::new()
            .route("/snapshot.jpg", axum::routing::get(snapshot))
            .route("/stream.mjpg", axum::routing::get(stream))
            .route("/health", axum::routing::get(|| async { "ok" }))
            .with_state(Arc::new(camera));
        let _ = ready.send(Ok(()));
        // Not a graceful shutdown: hanging and stalled responses never end
        // by themselves; the runtime's end drops them.
        tokio::select! {
            _ = axum::serve(listener, app) => {}
            _ = stopped => {}
            () = tokio::time::sleep(MAX_RUN) => {}
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// `None` when the request for `uri` may go on; else the 401 to send.
fn refuse(camera: &Camera, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let challenge = match camera.guard.as_ref()? {
        Guard::Basic(expected) if given == Some(expected.as_str()) => return None,
        Guard::Basic(_) => "Basic realm=\"seaframe-testkit\"".to_owned(),
        Guard::Digest(digest) => {
            let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
            match digest.check(given, target) {
                Verdict::Pass => return None,
                Verdict::Challenge(c) => c,
            }
        }
    };
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response(),
    )
}

fn newest(camera: &Camera) -> Shot {
    camera
        .newest
        .borrow()
        .clone()
        .expect("the camera serves only once it has a frame")
}

fn jpeg_response(shot: &Shot, body: Body, content_length: usize) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(content_length));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-index", HeaderValue::from(shot.index));
    response
}

async fn snapshot(
    State(camera): State<Arc<Camera>>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse(&camera, &headers, &uri) {
        return refused;
    }
    let shot = newest(&camera);
    let half = shot.jpeg.slice(..shot.jpeg.len() / 2);
    let whole = shot.jpeg.len();
    match query.get("fault").map(String::as_str) {
        None => jpeg_response(&shot, Body::from(shot.jpeg.clone()), whole),
        Some("truncated") => jpeg_response(&shot, Body::from(half.clone()), half.len()),
        Some("garbage") => {
            let junk = garbage(4096, shot.index);
            jpeg_response(&shot, Body::from(junk), 4096)
        }
        Some("empty") => jpeg_response(&shot, Body::empty(), 0),
        Some("500") => (StatusCode::INTERNAL_SERVER_ERROR, "camera error").into_response(),
        Some("hang") => {
            // An empty first chunk makes the server send the headers now.
            let silence = futures_util::StreamExt::chain(
                futures_util::stream::iter([Ok(Bytes::new())]),
                futures_util::stream::once(async {
                    tokio::time::sleep(HANG).await;
                    Err::<Bytes, _>(std::io::Error::other("the hang is over"))
                }),
            );
            jpeg_response(&shot, Body::from_stream(silence), whole)
        }
        Some("close") => {
            // Half the bytes, sent; then the body fails, and the server
            // closes the connection short of its Content-Length.
            let cut = futures_util::StreamExt::chain(
                futures_util::stream::iter([Ok(half)]),
                futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err::<Bytes, _>(std::io::Error::other("closed half-way"))
                }),
            );
            jpeg_response(&shot, Body::from_stream(cut), whole)
        }
        Some(other) => {
            (StatusCode::BAD_REQUEST, format!("unknown fault {other:?}")).into_response()
        }
    }
}

/// `len` bytes from a xorshift generator seeded by `seed`: not a JPEG (the
/// first byte is never `FF`).
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    if let Some(first) = out.first_mut() {
        *first = b'G';
    }
    out
}

/// What a client asked of `/stream.mjpg`; 0 means "not asked".
#[derive(Debug, Clone, Copy, Default)]
struct StreamFaults {
    corrupt_every: u64,
    stall_after: u64,
    frames: u64,
}

impl StreamFaults {
    fn parse(query: &HashMap<String, String>) -> Result<Self, String> {
        let number = |key: &str| match query.get(key) {
            None => Ok(0),
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| format!("{key}={v:?} is not a count")),
        };
        Ok(Self {
            corrupt_every: number("corrupt_every")?,
            stall_after: number("stall_after")?,
            frames: number("frames")?,
        })
    }
}

/// One multipart part.
fn part(shot: &Shot, jpeg: &Bytes) -> Bytes {
    let mut out = format!(
        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Frame-Index: {}\r\n\r\n",
        jpeg.len(),
        shot.index
    )
    .into_bytes();
    out.extend_from_slice(jpeg);
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

async fn stream(
    State(camera): State<Arc<Camera>>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse(&camera, &headers, &uri) {
        return refused;
    }
    let faults = match StreamFaults::parse(&query) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let mut newest = camera.newest.clone();
    newest.mark_changed(); // the first part is the frame in hand
    let parts =
        futures_util::stream::unfold((newest, 0u64), move |(mut newest, sent)| async move {
            if faults.frames > 0 && sent >= faults.frames {
                return None;
            }
            if faults.stall_after > 0 && sent >= faults.stall_after {
                std::future::pending::<()>().await;
            }
            newest.changed().await.ok()?;
            let shot = newest.borrow_and_update().clone()?;
            let corrupt = faults.corrupt_every > 0 && (sent + 1) % faults.corrupt_every == 0;
            let jpeg = if corrupt {
                shot.jpeg.slice(..shot.jpeg.len() / 2)
            } else {
                shot.jpeg.clone()
            };
            Some((
                Ok::<_, std::io::Error>(part(&shot, &jpeg)),
                (newest, sent + 1),
            ))
        });
    let mut response = Response::new(Body::from_stream(parts));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/x-mixed-replace; boundary=frame"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw_http::{dechunk, get};

    const SECOND: Duration = Duration::from_secs(1);

    fn addr(cam: &HttpCamera) -> String {
        cam.url()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }

    fn is_jpeg(b: &[u8]) -> bool {
        b.starts_with(&[0xFF, 0xD8]) && b.ends_with(&[0xFF, 0xD9])
    }

    #[test]
    fn snapshots_are_whole_jpegs_and_faults_are_what_they_say() {
        let cam = HttpCamera::start_with(HttpCameraOptions {
            width: 160,
            height: 120,
            ..HttpCameraOptions::default()
        })
        .unwrap();
        let a = addr(&cam);
        let ok = get(&a, "/snapshot.jpg", &[], 5 * SECOND, 1 << 20);
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("content-type"), Some("image/jpeg"));
        assert_eq!(
            ok.header("content-length"),
            Some(&*ok.body.len().to_string())
        );
        assert!(is_jpeg(&ok.body));

        let cut = get(
            &a,
            "/snapshot.jpg?fault=truncated",
            &[],
            5 * SECOND,
            1 << 20,
        );
        assert_eq!((cut.status, cut.body.len()), (200, ok.body.len() / 2));
        assert!(cut.body.starts_with(&[0xFF, 0xD8]) && !is_jpeg(&cut.body));
        let junk = get(&a, "/snapshot.jpg?fault=garbage", &[], 5 * SECOND, 1 << 20);
        assert_eq!((junk.status, junk.body.len()), (200, 4096));
        assert!(!junk.body.starts_with(&[0xFF]));
        let empty = get(&a, "/snapshot.jpg?fault=empty", &[], 5 * SECOND, 1 << 20);
        assert_eq!((empty.status, empty.body.len()), (200, 0));
        let error = get(&a, "/snapshot.jpg?fault=500", &[], 5 * SECOND, 1 << 20);
        assert_eq!(error.status, 500);

        let close = get(&a, "/snapshot.jpg?fault=close", &[], 5 * SECOND, 1 << 20);
        let promised: usize = close.header("content-length").unwrap().parse().unwrap();
        assert!(close.closed && close.body.len() < promised, "{close:?}");
        let hang = get(&a, "/snapshot.jpg?fault=hang", &[], SECOND, 1 << 20);
        assert_eq!(hang.status, 200);
        assert!(!hang.closed && hang.body.is_empty(), "{hang:?}");

        assert_eq!(get(&a, "/nothing", &[], 5 * SECOND, 1 << 20).status, 404);
    }

    #[test]
    fn streams_end_corrupt_and_stall_as_asked() {
        let cam = HttpCamera::start_with(HttpCameraOptions {
            width: 160,
            height: 120,
            ..HttpCameraOptions::default()
        })
        .unwrap();
        let a = addr(&cam);
        let three = get(
            &a,
            "/stream.mjpg?frames=3&corrupt_every=2",
            &[],
            10 * SECOND,
            1 << 22,
        );
        assert!(three.closed, "frames=3 ends the response");
        assert_eq!(
            three.header("content-type"),
            Some("multipart/x-mixed-replace; boundary=frame")
        );
        let body = dechunk(&three.body);
        let starts: Vec<usize> = body
            .windows(9)
            .enumerate()
            .filter(|(_, w)| *w == b"--frame\r\n")
            .map(|(i, _)| i)
            .collect();
        let parts: Vec<&[u8]> = starts
            .iter()
            .enumerate()
            .map(|(k, &i)| &body[i..starts.get(k + 1).copied().unwrap_or(body.len())])
            .collect();
        assert_eq!(parts.len(), 3, "{starts:?}");
        let jpeg_of = |part: &[u8]| -> Vec<u8> {
            let start = part.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            part[start..part.len() - 2].to_vec()
        };
        let whole: Vec<bool> = parts.iter().map(|p| is_jpeg(&jpeg_of(p))).collect();
        assert_eq!(whole, [true, false, true]);

        let stalled = get(&a, "/stream.mjpg?stall_after=2", &[], 2 * SECOND, 1 << 22);
        assert!(!stalled.closed);
        let body = dechunk(&stalled.body);
        let count = body.windows(8).filter(|w| w == b"--frame\r").count();
        assert_eq!(count, 2);
    }

    #[test]
    fn basic_auth_guards_all_but_health() {
        let cam = HttpCamera::start_with(HttpCameraOptions {
            width: 160,
            height: 120,
            credentials: Some(("admin".into(), "s3cret".into())),
            ..HttpCameraOptions::default()
        })
        .unwrap();
        let a = addr(&cam);
        let refused = get(&a, "/snapshot.jpg", &[], 5 * SECOND, 1 << 20);
        assert_eq!(refused.status, 401);
        assert!(refused.header("www-authenticate").is_some());
        let wrong = ["Authorization: Basic YWRtaW46d3Jvbmc="]; // admin:wrong
        assert_eq!(
            get(&a, "/stream.mjpg", &wrong, 5 * SECOND, 1 << 20).status,
            401
        );
        let right = ["Authorization: Basic YWRtaW46czNjcmV0"]; // admin:s3cret
        assert_eq!(
            get(&a, "/snapshot.jpg", &right, 5 * SECOND, 1 << 20).status,
            200
        );
        assert_eq!(get(&a, "/health", &[], 5 * SECOND, 1 << 20).status, 200);
    }

    #[test]
    fn digest_guards_all_but_health_and_takes_no_basic() {
        let cam = HttpCamera::start_with(HttpCameraOptions {
            width: 160,
            height: 120,
            credentials: Some(("admin".into(), "s3cret".into())),
            digest: Some(DigestOptions {
                algorithm: "SHA-256".into(),
                nonce_uses: 0,
                ..DigestOptions::default()
            }),
            ..HttpCameraOptions::default()
        })
        .unwrap();
        let a = addr(&cam);
        let refused = get(&a, "/snapshot.jpg", &[], 5 * SECOND, 1 << 20);
        assert_eq!(refused.status, 401);
        let challenge = refused.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Digest "), "{challenge}");
        assert!(challenge.contains("algorithm=SHA-256"), "{challenge}");
        assert!(challenge.contains("qop=\"auth\""), "{challenge}");
        let right_basic = ["Authorization: Basic YWRtaW46czNjcmV0"]; // admin:s3cret
        assert_eq!(
            get(&a, "/stream.mjpg", &right_basic, 5 * SECOND, 1 << 20).status,
            401
        );
        assert_eq!(get(&a, "/health", &[], 5 * SECOND, 1 << 20).status, 200);
        let counts = cam.auth_counts();
        assert_eq!(
            (counts.challenged, counts.basic, counts.accepted),
            (2, 1, 0)
        );
    }
}
