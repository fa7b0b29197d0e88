//! The HTTP API over a real store and a real server: clear 400s naming the
//! parameter, 404s, JSON everywhere, the image bytes, and the token.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::get_json;
use seaframe_agent::api::{ApiState, serve};
use seaframe_agent::config::Secret;
use seaframe_agent::frame::Frame;
use seaframe_agent::metrics::Metrics;
use seaframe_agent::store::Store;
use seaframe_agent::timestamp::Timestamp;
use seaframe_wire::{CameraId, VesselName};
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_764_000_000_000; // 2025-11-24T16:00:00Z

struct Api {
    base: String,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn api(token: Option<&str>) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let mut tp =
        seaframe_agent::capture::testpattern::TestPattern::new("x".parse().unwrap(), 32, 24);
    let frames: Vec<Frame> = (0..30)
        .map(|i| Frame {
            camera: CameraId::parse(if i % 3 == 0 { "bow" } else { "mast" }).unwrap(),
            seq: i,
            captured_at: Timestamp::from_unix_millis(T0 + i as i64 * 1000),
            width: 32,
            height: 24,
            jpeg: Bytes::from(tp.render(Timestamp::from_unix_millis(i as i64)).unwrap()),
            clock: seaframe_agent::clock::ClockSource::System,
            position: None,
        })
        .collect();
    assert!(store.put_batch(&frames).iter().all(Result::is_ok));
    let metrics = Arc::new(Metrics::default());
    let state = ApiState::new(
        Arc::clone(&store),
        metrics,
        token.map(Secret::new),
        VesselName::parse("v").unwrap(),
        seaframe_agent::clock::Clock::new(Arc::new(seaframe_agent::gps::state::Gps::new(10))),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, state, stop.clone()));
    Api {
        base,
        store,
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
