//! Reconcile and reindex: rows whose files are gone are dropped; with the
//! index deleted, `seaframe-agent reindex` rebuilds it from the frames'
//! paths and EXIF alone — times, sizes and positions as they were.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::process::Command;

use bytes::Bytes;
use common::all_rows;
use seaframe_agent::adapters::store::Store;
use seaframe_agent::base::clock::ClockSource;
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::gps::timeline::Position;
use seaframe_wire::CameraId;
use seaframe_wire::timestamp::Timestamp;

const T0: i64 = 1_764_000_000_000;

fn frames() -> Vec<Frame> {
    let mut tp = seaframe_agent::adapters::capture::testpattern::TestPattern::new(
        "x".parse().unwrap(),
        64,
        48,
    );
    (0..20u64)
        .map(|i| {
            let at = Timestamp::from_unix_millis(T0 + i as i64 * 750);
            let jpeg = Bytes::from(tp.render(at).unwrap());
            let cam = if i % 2 == 0 { "bow" } else { "mast" };
            let mut f = Frame::new(
                CameraId::parse(cam).unwrap(),
                i,
                at,
                ClockSource::System,
                64,
                48,
                jpeg,
            );
            f.position = (i % 5 != 0).then(|| Position {
                lat: 54.3 + i as f64 * 1e-4,
                lon: -10.1 - i as f64 * 1e-4,
                fix: "3d",
                speed_kn: Some(11.5),
                course_deg: Some(265.0),
                heading_deg: Some(266.5),
                fix_age_ms: 120,
                interpolated: true,
                time_uncertainty_ms: 1000,
            });
            f
        })
        .collect()
}

#[test]
fn rows_without_files_are_dropped_and_the_index_is_rebuilt_from_disk_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.put_batch(&frames()).iter().all(Result::is_ok));
    let before = all_rows(&store);
    assert_eq!(before.len(), 20);

    // Three files vanish: reconcile drops their rows, nothing else.
    for row in &before[..3] {
        std::fs::remove_file(store.file_path(row)).unwrap();
    }
    let report = store.reconcile(None).unwrap();
    assert_eq!(
        (report.rows_dropped, report.files_indexed, report.files_seen),
        (3, 0, 17)
    );
    drop(store);

    // The index is lost: reindex rebuilds it from the files.
    std::fs::remove_file(dir.path().join("index.db")).unwrap();
    let _ = std::fs::remove_file(dir.path().join("index.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("index.db-shm"));
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!("vessel = \"v\"\ndata_dir = \"{}\"\n", dir.path().display()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seaframe-agent"))
        .args(["reindex", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("17 frame files, 17 indexed anew"),
        "{stdout}"
    );

    let store = Store::open(dir.path()).unwrap();
    let after = all_rows(&store);
    assert_eq!(after.len(), 17);
    for (a, b) in after.iter().zip(&before[3..]) {
        assert_eq!(
            (&a.camera, a.seq, a.captured_at, &a.rel_path),
            (&b.camera, b.seq, b.captured_at, &b.rel_path)
        );
        assert_eq!((a.bytes, a.width, a.height), (b.bytes, b.width, b.height));
        assert_eq!(
            a.lat.is_some(),
            b.lat.is_some(),
            "position kept or absent: {a:?}"
        );
        if let (Some(x), Some(y)) = (a.lat, b.lat) {
            assert!((x - y).abs() < 1e-7 && (a.lon.unwrap() - b.lon.unwrap()).abs() < 1e-7);
            assert_eq!(
                (a.speed_kn, a.course_deg, a.heading_deg),
                (b.speed_kn, b.course_deg, b.heading_deg)
            );
        }
    }
    // Reindexing again finds nothing to do.
    let again = store.reconcile(None).unwrap();
    assert_eq!((again.rows_dropped, again.files_indexed), (0, 0));
}

#[test]
fn folders_left_empty_are_removed_and_strangers_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.put_batch(&frames()[..2]).iter().all(Result::is_ok));
    let rows = all_rows(&store);
    let minute_dir = store.file_path(&rows[0]).parent().unwrap().to_owned();
    std::fs::remove_file(store.file_path(&rows[0])).unwrap();
    let stranger = store.file_path(&rows[1]).with_file_name("59.999-9.jpg");
    std::fs::write(&stranger, b"not a jpeg").unwrap();
    let report = store.reconcile(None).unwrap();
    assert_eq!((report.rows_dropped, report.files_unreadable), (1, 1));
    assert!(!minute_dir.exists(), "the empty minute folder is gone");
    assert!(stranger.exists(), "a file we did not write is left alone");
}
