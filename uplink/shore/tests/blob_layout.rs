//! The hour-folder layout through the whole shore: a thumbnail ingested
//! from the broker lands in its hour folder; thumbnails an older shore
//! wrote in day folders (`…/<DD>/<ns>.jpg`, rows already indexed) are still
//! served; each image goes out typed by what its bytes are, with `nosniff`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use common::*;
use seaframe_shore::adapters::blobs::{BlobKey, DiskBlobs};
use seaframe_shore::adapters::index::NewThumb;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::{CameraId, VesselName};

fn row(ns: i64, bytes: usize) -> NewThumb {
    NewThumb {
        vessel: VesselName::parse("aurora").unwrap(),
        camera: CameraId::parse("mast").unwrap(),
        captured_at_ns: ns,
        seq: 0,
        lat: Some(59.0),
        lon: Some(10.0),
        width_px: 16,
        height_px: 8,
        bytes: bytes as u64,
        received_at_ns: 0,
    }
}

/// The image of thumbnail `id`: its type, `nosniff` header and bytes.
async fn image(addr: std::net::SocketAddr, id: i64) -> (String, String, Vec<u8>) {
    let r = get(&format!("http://{addr}/api/v1/thumbs/{id}/image")).await;
    assert_eq!(r.status(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (kind, nosniff) = (header("content-type"), header("x-content-type-options"));
    (kind, nosniff, r.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_thumbnails_go_to_hour_folders_and_old_ones_stay_servable() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shore = start(config(&broker.url(), dir.path(), "shore-layout", None)).await;
    let blobs = DiskBlobs::new(dir.path());
    let (vessel, camera) = (
        VesselName::parse("aurora").unwrap(),
        CameraId::parse("mast").unwrap(),
    );
    let key = |ns| BlobKey {
        vessel: &vessel,
        camera: &camera,
        captured_at_ns: ns,
    };

    // What an older shore left: a JPEG and a non-JPEG in the day folder.
    let (old_ns, junk_ns) = (T0_NS - 3_600_000_000_000, T0_NS - 3_599_000_000_000);
    let old_jpeg = jpeg(7);
    let junk = b"\xff\xd8<script>alert(1)</script>".to_vec();
    for (ns, bytes) in [(old_ns, &old_jpeg), (junk_ns, &junk)] {
        let path = blobs.legacy_path(key(ns));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    shore
        .index
        .insert_thumbs(&[row(old_ns, old_jpeg.len()), row(junk_ns, junk.len())])
        .await
        .unwrap();

    // A new one through the broker.
    let publisher = Publisher::connect(broker.port(), "aurora", None).await;
    let new_ns = T0_NS + 3_723_000_000_042; // 01:02:03.000000042
    let new = thumb("aurora", "mast", new_ns);
    publisher
        .publish(&thumb_topic("aurora", "mast"), new.encode().unwrap())
        .await;
    let m = shore.metrics.clone();
    until(20, "the new thumbnail", || {
        let m = m.clone();
        async move { m.thumbs_indexed.load(Ordering::SeqCst) == 1 }
    })
    .await;
    assert_eq!(
        blobs.path(key(new_ns)).strip_prefix(dir.path()).unwrap(),
        std::path::Path::new("thumbs/aurora/mast/2025/11/30/01/02-03.000000042.jpg")
    );
    assert!(blobs.path(key(new_ns)).is_file());
    assert!(!blobs.legacy_path(key(new_ns)).exists());

    let rows = shore.index.thumbs_after(0, 10).await.unwrap();
    let id = |ns| rows.iter().find(|r| r.captured_at_ns == ns).unwrap().id;
    assert_eq!(
        image(shore.addr, id(new_ns)).await,
        ("image/jpeg".into(), "nosniff".into(), new.jpeg.clone())
    );
    assert_eq!(
        image(shore.addr, id(old_ns)).await,
        ("image/jpeg".into(), "nosniff".into(), old_jpeg)
    );
    assert_eq!(
        image(shore.addr, id(junk_ns)).await,
        ("application/octet-stream".into(), "nosniff".into(), junk)
    );
    shore.stop().await.unwrap();
}
