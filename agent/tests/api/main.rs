//! The HTTP API over a real store and a real server: clear 400s naming the
//! parameter, 404s, JSON everywhere, the image bytes, and the token.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

#[path = "../common/mod.rs"]
mod common;
mod metrics;

use std::sync::Arc;

use bytes::Bytes;
use common::get_json;
use seaframe_agent::adapters::store::Store;
use seaframe_agent::base::config::Secret;
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::metrics::Metrics;
use seaframe_agent::services::api::{ApiState, serve};
use seaframe_wire::timestamp::Timestamp;
use seaframe_wire::{CameraId, VesselName};
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_764_000_000_000; // 2025-11-24T16:00:00Z

struct Api {
    base: String,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    _dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A small test-pattern frame of `camera`, captured at `ms` (Unix ms).
fn frame(camera: &str, seq: u64, ms: i64) -> Frame {
    let mut tp = seaframe_agent::adapters::capture::testpattern::TestPattern::new(
        "x".parse().unwrap(),
        32,
        24,
    );
    Frame {
        camera: CameraId::parse(camera).unwrap(),
        seq,
        captured_at: Timestamp::from_unix_millis(ms),
        width: 32,
        height: 24,
        jpeg: Bytes::from(tp.render(Timestamp::from_unix_millis(ms)).unwrap()),
        clock: seaframe_agent::base::clock::ClockSource::System,
        position: None,
        sharpness: None,
    }
}

/// A server over a store of 30 frames, one a second from T0: seq 0, 3, 6…
/// from `bow`, the others from `mast`.
async fn api(token: Option<&str>) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let frames: Vec<Frame> = (0..30)
        .map(|i| {
            let camera = if i % 3 == 0 { "bow" } else { "mast" };
            frame(camera, i, T0 + i as i64 * 1000)
        })
        .collect();
    assert!(store.put_batch(&frames).iter().all(Result::is_ok));
    let metrics = Arc::new(Metrics::default());
    let state = ApiState::new(
        Arc::clone(&store),
        Arc::clone(&metrics),
        token.map(Secret::new),
        VesselName::parse("v").unwrap(),
        seaframe_agent::base::clock::Clock::new(Arc::new(
            seaframe_agent::base::gps::state::Gps::new(10),
        )),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, state, stop.clone()));
    Api {
        base,
        store,
        metrics,
        _dir: dir,
        stop,
    }
}

#[tokio::test]
async fn time_filters_accept_every_format() {
    let a = api(None).await;
    // [T0+3 s, T0+6 s): frames 3, 4, 5 — whatever the notation.
    for (from, to) in [
        ("2025-11-24T16:00:03Z", "2025-11-24T16:00:06Z"),
        ("2025/11/24 16:00:03", "2025/11/24 16:00:06"),
        (&*(T0 + 3000).to_string(), &*(T0 + 6000).to_string()),
    ] {
        let (status, body) =
            get_json(&format!("{}/api/v1/frames?from={from}&to={to}", a.base)).await;
        assert_eq!(status, 200, "{body}");
        let seqs: Vec<u64> = body["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [3, 4, 5], "{from} {to}");
    }
    let (_, body) = get_json(&format!("{}/api/v1/frames?camera=bow&limit=4", a.base)).await;
    let frames = body["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 4);
    assert!(frames.iter().all(|f| f["camera"] == "bow"));
    assert_eq!(frames[0]["ts"], "2025-11-24T16:00:00.000000000Z");
    assert!(body["next_cursor"].is_string());
    for key in [
        "id",
        "camera",
        "ts",
        "lat",
        "lon",
        "fix",
        "speed_kn",
        "course_deg",
        "heading_deg",
        "bytes",
        "width",
        "height",
        "image_url",
    ] {
        assert!(frames[0].get(key).is_some(), "frame JSON lacks {key}");
    }
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_parameter() {
    let a = api(None).await;
    for (query, param) in [
        ("camera=Bow", "camera"),
        ("camera=a/b", "camera"),
        ("from=yesterday", "from"),
        ("to=2025-02-30T00:00:00Z", "to"),
        ("from=2000&to=1000", "from"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("cursor=nope", "cursor"),
    ] {
        let (status, body) = get_json(&format!("{}/api/v1/frames?{query}", a.base)).await;
        assert_eq!(status, 400, "{query}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with(&format!("{param}:")), "{query}: {error}");
    }
    let (status, body) = get_json(&format!("{}/api/v1/frames/abc", a.base)).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap().starts_with("id:")),
        (400, true)
    );
}

#[tokio::test]
async fn nothing_there_is_a_404_in_json() {
    let a = api(None).await;
    let (status, body) = get_json(&format!("{}/api/v1/frames/999999", a.base)).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (404, "no frame 999999")
    );
    let (status, body) = get_json(&format!("{}/api/v1/nothing", a.base)).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());

    // A row whose file went missing: 404 saying so, never a 500.
    let (_, page) = get_json(&format!("{}/api/v1/frames?limit=1", a.base)).await;
    let frame = &page["frames"][0];
    let id = frame["id"].as_i64().unwrap();
    let row = a.store.frame(id).unwrap().unwrap();
    let img = reqwest::get(format!(
        "{}{}",
        a.base,
        frame["image_url"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/jpeg");
    assert_eq!(
        img.bytes().await.unwrap().as_ref(),
        std::fs::read(a.store.file_path(&row)).unwrap()
    );
    std::fs::remove_file(a.store.file_path(&row)).unwrap();
    let (status, body) = get_json(&format!("{}/api/v1/frames/{id}/image", a.base)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], format!("frame {id}'s file is missing"));
}

#[tokio::test]
async fn a_token_guards_everything_but_healthz() {
    let a = api(Some("s3cret")).await;
    let client = reqwest::Client::new();
    for path in [
        "/api/v1/frames",
        "/api/v1/cameras",
        "/metrics",
        "/api/v1/status",
    ] {
        let r = client
            .get(format!("{}{path}", a.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = client
            .get(format!("{}{path}", a.base))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = client
            .get(format!("{}{path}", a.base))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let (status, body) = get_json(&format!("{}/healthz", a.base)).await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)));
}

/// Walks every page of `query` (limit included) and returns each frame's
/// `(ts, id)` in the order served, and the cursors seen.
async fn walk(base: &str, query: &str) -> (Vec<(String, i64)>, Vec<String>) {
    let (mut seen, mut cursors) = (Vec::new(), Vec::new());
    let mut url = format!("{base}/api/v1/frames?{query}");
    loop {
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        for f in body["frames"].as_array().unwrap() {
            seen.push((
                f["ts"].as_str().unwrap().to_owned(),
                f["id"].as_i64().unwrap(),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(c) => {
                cursors.push(c.to_owned());
                url = format!("{base}/api/v1/frames?{query}&cursor={c}");
            }
            None => return (seen, cursors),
        }
        assert!(cursors.len() <= 100, "paging does not end");
    }
}

#[tokio::test]
async fn pages_serve_every_frame_once_in_order_and_cursors_are_stable() {
    let a = api(None).await;
    let (seen, cursors) = walk(&a.base, "limit=7").await;
    assert_eq!(seen.len(), 30, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "not in order: {seen:?}"
    );
    // 30 frames by 7: four full pages, then one of 2 that says it is the last.
    assert_eq!(cursors.len(), 4);

    // The same cursor gives the same page, even after frames arrive before
    // and after it: the cursor is a position in (time, id), not an offset.
    let page = |c: String| {
        let base = a.base.clone();
        async move { get_json(&format!("{base}/api/v1/frames?limit=7&cursor={c}")).await }
    };
    let (_, before) = page(cursors[1].clone()).await;
    let early = frame("bow", 100, T0 - 60_000);
    let late = frame("bow", 101, T0 + 60_000);
    assert!(a.store.put_batch(&[early, late]).iter().all(Result::is_ok));
    let (_, after) = page(cursors[1].clone()).await;
    assert_eq!(before, after);
    let (rest, _) = walk(&a.base, &format!("limit=7&cursor={}", cursors[1])).await;
    assert_eq!(
        rest.len(),
        30 - 14 + 1,
        "the late frame is served once, at the end"
    );
    assert_eq!(rest.last().unwrap().0, "2025-11-24T16:01:00.000000000Z");

    // One camera, paged: only its frames, each once, in order.
    let (mast, _) = walk(&a.base, "camera=mast&limit=6").await;
    assert_eq!(mast.len(), 20);
    assert!(mast.windows(2).all(|w| w[0] < w[1]));
    let (status, body) = get_json(&format!("{}/api/v1/frames?camera=mast", a.base)).await;
    assert_eq!(status, 200);
    assert!(
        body["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["camera"] == "mast")
    );

    // The largest page allowed holds everything: no next page. A camera
    // nobody has is an empty list, not an error.
    let (status, body) = get_json(&format!("{}/api/v1/frames?limit=1000", a.base)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["frames"].as_array().unwrap().len(), 32);
    assert!(body["next_cursor"].is_null());
    let (status, body) = get_json(&format!("{}/api/v1/frames?camera=stern", a.base)).await;
    assert_eq!((status, body["frames"].as_array().unwrap().len()), (200, 0));
}

#[tokio::test]
async fn every_error_is_json_even_where_axum_would_answer_in_plain_text() {
    let a = api(None).await;
    let client = reqwest::Client::new();
    // A method the route does not have: 405 in JSON, with Allow.
    let r = client
        .post(format!("{}/api/v1/cameras", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(body["error"].is_string(), "{body}");
    // A path segment that is not UTF-8 once decoded.
    for path in ["/api/v1/frames/%FF", "/api/v1/frames/%FF/image"] {
        let (status, body) = get_json(&format!("{}{path}", a.base)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"].as_str().unwrap().starts_with("id:"), "{body}");
    }
    // A query value that is not UTF-8, and a bad time: named, with the
    // formats that would have worked.
    let (status, body) = get_json(&format!("{}/api/v1/frames?from=%FF", a.base)).await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("from:") && error.contains("RFC 3339"),
        "{error}"
    );
    // A parameter given empty counts as not given (a form's blank fields,
    // or SPEC's `?camera=&from=&to=` taken literally).
    let (status, body) = get_json(&format!(
        "{}/api/v1/frames?camera=&from=&to=&limit=&cursor=",
        a.base
    ))
    .await;
    assert_eq!(
        (status, body["frames"].as_array().unwrap().len()),
        (200, 30)
    );
    // Unknown parameters and odd keys are ignored.
    let (status, body) = get_json(&format!(
        "{}/api/v1/frames?%FF=1&colour=red&limit=2",
        a.base
    ))
    .await;
    assert_eq!((status, body["frames"].as_array().unwrap().len()), (200, 2));
    // Ids that are numbers but cannot be a frame.
    for id in ["0", "-3", "99999999999999999999"] {
        let (status, body) = get_json(&format!("{}/api/v1/frames/{id}", a.base)).await;
        assert_eq!(status, 400, "{id}: {body}");
    }
}

#[tokio::test]
async fn the_image_is_the_stored_jpeg_with_its_length() {
    let a = api(None).await;
    let (_, page) = get_json(&format!("{}/api/v1/frames?camera=bow&limit=3", a.base)).await;
    for f in page["frames"].as_array().unwrap() {
        let row = a.store.frame(f["id"].as_i64().unwrap()).unwrap().unwrap();
        let on_disk = std::fs::read(a.store.file_path(&row)).unwrap();
        let r = reqwest::get(format!("{}{}", a.base, f["image_url"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(
            r.headers()["content-length"].to_str().unwrap(),
            on_disk.len().to_string()
        );
        assert_eq!(f["bytes"].as_u64(), Some(on_disk.len() as u64));
        assert_eq!(r.bytes().await.unwrap().as_ref(), on_disk);
    }
}

#[tokio::test]
async fn a_failing_store_is_a_503_that_keeps_its_cause_to_the_log() {
    let a = api(None).await;
    // Break the index under the running server, as a damaged disk would.
    let db = rusqlite::Connection::open(a._dir.path().join("index.db")).unwrap();
    db.execute_batch("ALTER TABLE frames RENAME TO frames_gone")
        .unwrap();
    for path in [
        "/api/v1/frames",
        "/api/v1/frames/1",
        "/api/v1/frames/1/image",
    ] {
        let (status, body) = get_json(&format!("{}{path}", a.base)).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["error"], "the frame store is unavailable", "{path}");
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_401_says_how_to_authenticate() {
    let a = api(Some("s3cret")).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/frames/1/image", a.base);
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(body["error"].is_string());
    for header in ["bearer s3cret", "BEARER s3cret"] {
        let r = client
            .get(&url)
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{header}");
    }
    for header in [
        "Bearer s3cre",
        "Bearer s3crett",
        "Bearers3cret",
        "Basic s3cret",
    ] {
        let r = client
            .get(&url)
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{header}");
    }
    // A wrong token does not close /healthz.
    let r = client
        .get(format!("{}/healthz", a.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn serve_returns_when_cancelled_even_with_a_client_kept_alive() {
    let dir = tempfile::tempdir().unwrap();
    let state = ApiState::new(
        Arc::new(Store::open(dir.path()).unwrap()),
        Arc::new(Metrics::default()),
        None,
        VesselName::parse("v").unwrap(),
        seaframe_agent::base::clock::Clock::new(Arc::new(
            seaframe_agent::base::gps::state::Gps::new(10),
        )),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, state, stop.clone()));
    // A client that keeps its connection open after an answer.
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stop.cancel();
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("serve did not return within 10 s of the cancel");
    assert!(done.unwrap().is_ok());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
