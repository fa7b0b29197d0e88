//! Search by place at sea, through the HTTP API, on SQLite and PostgreSQL:
//! vessels at ±179.9° and beyond 85° of latitude; boxes across the
//! antimeridian and circles across it and around a pole. Every answer (all
//! pages) is compared with a brute-force filter over every row.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use seaframe_shore::adapters::index::NewThumb;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::geo::haversine_m;
use seaframe_wire::{CameraId, VesselName};

const LATS: [f64; 13] = [
    -89.95, -88.0, -85.5, -60.0, -5.0, 0.0, 5.0, 60.0, 85.0, 86.5, 88.0, 89.7, 89.95,
];
const LONS: [f64; 16] = [
    -180.0, -179.99, -179.9, -179.5, -175.0, -170.0, -120.0, -52.0, 0.0, 52.0, 120.0, 170.0, 175.0,
    179.5, 179.9, 180.0,
];

/// One row per grid point (vessel `sea`, one camera), 1 s apart.
fn rows() -> Vec<NewThumb> {
    let mut out = Vec::new();
    for &lat in &LATS {
        for &lon in &LONS {
            out.push(NewThumb {
                vessel: VesselName::parse("sea").unwrap(),
                camera: CameraId::parse("mast").unwrap(),
                captured_at_ns: T0_NS + out.len() as i64 * 1_000_000_000,
                seq: 0,
                lat: Some(lat),
                lon: Some(lon),
                width_px: 16,
                height_px: 8,
                bytes: 100,
                received_at_ns: 0,
            });
        }
    }
    out
}

/// Every id the API answers for `query`, following `next_cursor`.
async fn ids(addr: std::net::SocketAddr, query: &str) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    let mut path = format!("/api/v1/thumbs?{query}&limit=7");
    loop {
        let (code, page) = get_json(addr, &path).await;
        assert_eq!(code, 200, "{query}: {page}");
        for t in page["thumbs"].as_array().unwrap() {
            assert!(
                out.insert(t["id"].as_i64().unwrap()),
                "{query}: a row twice"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/thumbs?{query}&limit=7&cursor={c}"),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_across_the_antimeridian_and_near_the_poles_are_complete() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "geo").await {
        story(&url, dir.path()).await;
    }
}

async fn story(index_url: &str, dir: &std::path::Path) {
    let broker = MosquittoServer::start().unwrap();
    let shore = start(config(&broker.url(), dir, "shore-geo", Some(index_url))).await;
    let batch = rows();
    shore.index.insert_thumbs(&batch).await.unwrap();
    let page = shore.index.thumbs_after(0, 10_000).await.unwrap();
    let all: Vec<(i64, f64, f64)> = page
        .iter()
        .map(|r| (r.id, r.lat.unwrap(), r.lon.unwrap()))
        .collect();
    assert_eq!(all.len(), batch.len());

    // Boxes: `minlon,minlat,maxlon,maxlat`, west edge east of the east edge
    // when across the antimeridian.
    let boxes: [(f64, f64, f64, f64); 5] = [
        (170.0, -10.0, -170.0, 10.0),
        (179.5, 80.0, -179.5, 90.0),
        (175.0, -90.0, -175.0, -85.0),
        (-180.0, -5.0, 180.0, 5.0),
        (-10.0, 0.0, 60.0, 90.0),
    ];
    for (w, s, e, n) in boxes {
        let want: BTreeSet<i64> = all
            .iter()
            .filter(|&&(_, lat, lon)| {
                let lon_in = if w <= e {
                    lon >= w && lon <= e
                } else {
                    lon >= w || lon <= e
                };
                lat >= s && lat <= n && lon_in
            })
            .map(|r| r.0)
            .collect();
        assert!(!want.is_empty(), "box {w},{s},{e},{n} holds points");
        let got = ids(shore.addr, &format!("bbox={w},{s},{e},{n}")).await;
        assert_eq!(got, want, "{index_url}: bbox={w},{s},{e},{n}");
    }

    // Circles: across the antimeridian, around and near the poles.
    let circles: [(f64, f64, f64); 8] = [
        (0.0, 179.9, 60_000.0),
        (0.0, -179.95, 120_000.0),
        (5.0, 180.0, 700_000.0),
        (85.0, 0.0, 450_000.0),
        (88.0, 179.9, 300_000.0),
        (89.95, -90.0, 250_000.0),
        (-88.0, -179.99, 500_000.0),
        (-85.5, 175.0, 1_200_000.0),
    ];
    for (lat, lon, r) in circles {
        let want: BTreeSet<i64> = all
            .iter()
            .filter(|&&(_, plat, plon)| haversine_m(lat, lon, plat, plon) <= r)
            .map(|r| r.0)
            .collect();
        assert!(!want.is_empty(), "circle {lat},{lon},{r} holds points");
        let got = ids(shore.addr, &format!("lat={lat}&lon={lon}&radius_m={r}")).await;
        assert_eq!(got, want, "{index_url}: lat={lat}&lon={lon}&radius_m={r}");
    }
    shore.stop().await.unwrap();
}
