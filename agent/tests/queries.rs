//! Queries over a real index through the HTTP API: by place (box and
//! radius, across cameras, paginated), nearest to an instant, one frame per
//! second.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::get_json;
use seaframe_agent::adapters::store::Store;
use seaframe_agent::base::clock::{Clock, ClockSource};
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::gps::state::Gps;
use seaframe_agent::base::gps::timeline::Position;
use seaframe_agent::base::metrics::Metrics;
use seaframe_agent::services::api::{ApiState, serve};
use seaframe_wire::timestamp::Timestamp;
use seaframe_wire::{CameraId, VesselName};
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_764_000_000_000;

/// 200 frames, 4 a second, of two cameras, along a line of longitude at
/// latitude 50 moving 0.0001° (about 7 m) per frame.
async fn serve_frames() -> (String, tempfile::TempDir, CancellationToken) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let jpeg = Bytes::from(
        seaframe_agent::adapters::capture::testpattern::TestPattern::new(
            "x".parse().unwrap(),
            16,
            16,
        )
        .render(Timestamp::from_unix_millis(0))
        .unwrap(),
    );
    let frames: Vec<Frame> = (0..200u64)
        .map(|i| {
            let cam = CameraId::parse(if i % 2 == 0 { "bow" } else { "mast" }).unwrap();
            let at = Timestamp::from_unix_millis(T0 + i as i64 * 250);
            let mut f = Frame::new(cam, i, at, ClockSource::System, 16, 16, jpeg.clone());
            f.position = Some(Position {
                lat: 50.0,
                lon: i as f64 * 1e-4,
                fix: "3d",
                speed_kn: Some(55.0),
                course_deg: Some(90.0),
                heading_deg: None,
                fix_age_ms: 0,
                interpolated: true,
                time_uncertainty_ms: 1000,
            });
            // mast (odd seqs) in even seconds: the first frame is the
            // sharper; in odd seconds only the second one was measured.
            // bow: never measured.
            f.sharpness = match i % 8 {
                1 => Some(30.0),
                3 => Some(20.0),
                7 => Some(1.0),
                _ => None,
            };
            f
        })
        .collect();
    assert!(store.put_batch(&frames).iter().all(Result::is_ok));
    let clock = Clock::new(Arc::new(Gps::new(10)));
    let state = ApiState::new(
        store,
        Arc::new(Metrics::default()),
        None,
        VesselName::parse("v").unwrap(),
        clock,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, state, stop.clone()));
    (base, dir, stop)
}

async fn all_pages(url: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page_url = match &next {
            Some(c) => format!("{url}&cursor={c}"),
            None => url.to_owned(),
        };
        let (status, page) = get_json(&page_url).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["frames"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn by_place_box_and_radius_across_cameras_paginated() {
    let (base, _dir, _stop) = serve_frames().await;
    // Longitudes 0.0050..=0.0099: frames 50..=99, both cameras.
    let frames = all_pages(&format!(
        "{base}/frames?bbox=0.00495,49.9,0.00995,50.1&limit=7"
    ))
    .await;
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (50..100).collect::<Vec<_>>());
    // Within 100 m of frame 100 (lon 0.01): ±13 frames (7.147 m each; 14 is 100.06 m).
    let frames = all_pages(&format!(
        "{base}/frames?lat=50&lon=0.01&radius_m=100&limit=5"
    ))
    .await;
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (87..=113).collect::<Vec<_>>());
    // With a time range too.
    let from = T0 + 90 * 250;
    let frames = all_pages(&format!(
        "{base}/frames?lat=50&lon=0.01&radius_m=100&from={from}&limit=50"
    ))
    .await;
    assert_eq!(frames[0]["seq"], 90);
    for bad in [
        "bbox=1,2,3",
        "bbox=0,91,1,92",
        "lat=50&lon=0",
        "lat=95&lon=0&radius_m=5",
        "lat=50&lon=0&radius_m=-1",
    ] {
        let (status, body) = get_json(&format!("{base}/frames?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test]
async fn nearest_to_an_instant() {
    let (base, _dir, _stop) = serve_frames().await;
    // bow has even seqs, every 500 ms; T0 + 10.2 s is nearest to seq 40 (10.0 s).
    let (status, f) = get_json(&format!(
        "{base}/frames/nearest?camera=bow&at={}",
        T0 + 10_200
    ))
    .await;
    assert_eq!((status, f["seq"].as_u64()), (200, Some(40)));
    let (status, f) = get_json(&format!(
        "{base}/frames/nearest?camera=bow&at={}",
        T0 + 10_300
    ))
    .await;
    assert_eq!((status, f["seq"].as_u64()), (200, Some(42)));
    let (status, _) = get_json(&format!("{base}/frames/nearest?camera=nobody&at={T0}")).await;
    assert_eq!(status, 404);
    let (status, body) = get_json(&format!("{base}/frames/nearest?camera=bow")).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap().starts_with("at:")),
        (400, true)
    );
}

#[tokio::test]
async fn one_frame_per_second() {
    let (base, _dir, _stop) = serve_frames().await;
    let url = format!(
        "{base}/frames/per-second?camera=mast&from={T0}&to={}",
        T0 + 10_000
    );
    // mast: odd seqs, two a second (250 ms, 750 ms into each).
    let (_, first) = get_json(&format!("{url}&pick=first")).await;
    let seqs: Vec<u64> = first["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..10).map(|s| s * 4 + 1).collect::<Vec<_>>());
    let (_, last) = get_json(&format!("{url}&pick=last&limit=3")).await;
    let seqs: Vec<u64> = last["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 7, 11]);
    assert_eq!(last["next_from"].as_str().unwrap(), (T0 + 3000).to_string());
    let (_, sharpest) = get_json(&format!("{url}&pick=sharpest")).await;
    let seqs: Vec<u64> = sharpest["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    // A measured frame beats one that was not, whatever its score.
    let expected: Vec<u64> = (0..10)
        .map(|k| 4 * k + if k % 2 == 0 { 1 } else { 3 })
        .collect();
    assert_eq!(seqs, expected);
    assert_eq!(sharpest["frames"][0]["sharpness"], 30.0);
    // With nothing measured in a second, its first frame.
    let bow = url.replace("camera=mast", "camera=bow");
    let (_, a) = get_json(&format!("{bow}&pick=sharpest")).await;
    let (_, b) = get_json(&format!("{bow}&pick=first")).await;
    assert_eq!(a["frames"], b["frames"]);
    let (status, _) = get_json(&format!("{url}&pick=best")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_manual_purge_deletes_files_and_rows_before_an_instant() {
    let (base, dir, _stop) = serve_frames().await;
    let client = reqwest::Client::new();
    let r = client
        .delete(format!("{base}/frames?camera=bow"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "before is required");
    let before = T0 + 10_000; // frames 0..40: 20 of bow
    let r = client
        .delete(format!("{base}/frames?camera=bow&before={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["deleted"], 20);
    let left = all_pages(&format!("{base}/frames?camera=bow&to={before}&limit=100")).await;
    assert!(left.is_empty());
    let mast = all_pages(&format!("{base}/frames?camera=mast&to={before}&limit=100")).await;
    assert_eq!(mast.len(), 20, "other cameras untouched");
    assert_eq!(common::jpeg_files(&dir.path().join("frames")).len(), 180);
}
