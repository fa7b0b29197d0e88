//! The store against real files and a real SQLite index: what goes in comes
//! back, once, in order; re-storing is harmless; crash leftovers are cleaned.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use bytes::Bytes;
use seaframe_agent::adapters::store::{FrameQuery, Store, Stored};
use seaframe_agent::base::frame::Frame;
use seaframe_wire::CameraId;
use seaframe_wire::timestamp::Timestamp;

fn jpeg(seed: u8) -> Bytes {
    let pixels = vec![seed; 16 * 16 * 3];
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&pixels, 16, 16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    Bytes::from(out)
}

fn frame(camera: &str, ms: i64, seq: u64) -> Frame {
    Frame {
        camera: CameraId::parse(camera).unwrap(),
        seq,
        captured_at: Timestamp::from_unix_millis(ms),
        width: 16,
        height: 16,
        jpeg: jpeg(seq as u8),
        clock: seaframe_agent::base::clock::ClockSource::System,
        position: None,
        sharpness: None,
    }
}

fn all(from_ms: i64, to_ms: i64) -> FrameQuery {
    FrameQuery {
        camera: None,
        from: Timestamp::from_unix_millis(from_ms),
        to: Timestamp::from_unix_millis(to_ms),
        limit: 1000,
        after: None,
    }
}

const T0: i64 = 1_764_000_000_000;

#[test]
fn stored_frames_come_back_with_their_bytes_and_no_tmp_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let frames: Vec<Frame> = (0..10)
        .map(|i| frame("a", T0 + i * 100, i as u64))
        .collect();
    assert!(store.put_batch(&frames).iter().all(Result::is_ok));
    let page = store.query(&all(T0, T0 + 10_000)).unwrap();
    assert_eq!(page.frames.len(), 10);
    assert!(page.next.is_none());
    for (row, f) in page.frames.iter().zip(&frames) {
        assert_eq!((row.seq, row.captured_at), (f.seq, f.captured_at));
        // The camera's bytes, untouched, with our EXIF segment after JFIF.
        let on_disk = std::fs::read(store.file_path(row)).unwrap();
        let at = seaframe_agent::base::exif::insertion_point(&f.jpeg);
        assert_eq!(&on_disk[..at], &f.jpeg[..at]);
        assert_eq!(&on_disk[at + 4..at + 10], b"Exif\0\0");
        assert!(on_disk.ends_with(&f.jpeg[at..]));
        assert_eq!(row.bytes, on_disk.len() as u64);
        assert!(
            row.rel_path.starts_with("a/2025/11/24/16/00/"),
            "{}",
            row.rel_path
        );
    }
    let tmp = walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with(".tmp"))
        .count();
    assert_eq!(tmp, 0);
}

#[test]
fn storing_twice_indexes_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let frames: Vec<Frame> = (0..5).map(|i| frame("a", T0 + i, i as u64)).collect();
    assert!(store.put_batch(&frames).iter().all(Result::is_ok));
    let again = store.put_batch(&frames[1..3]);
    assert!(
        again.iter().all(|r| matches!(r, Ok(Stored::Already))),
        "{again:?}"
    );
    assert_eq!(store.count_by_camera().unwrap()[0].1, 5);
    assert_eq!(store.next_seq(&CameraId::parse("a").unwrap()).unwrap(), 5);
}

#[test]
fn pages_cover_every_frame_once_in_order_with_half_open_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut frames = Vec::new();
    for i in 0..250 {
        frames.push(frame(
            if i % 2 == 0 { "a" } else { "b" },
            T0 + (i / 3) * 10,
            i as u64,
        ));
    }
    for chunk in frames.chunks(16) {
        assert!(store.put_batch(chunk).iter().all(Result::is_ok));
    }
    let mut q = all(T0, T0 + 1_000_000);
    q.limit = 100;
    let mut seen = Vec::new();
    loop {
        let page = store.query(&q).unwrap();
        seen.extend(page.frames.iter().map(|f| (f.captured_at, f.id)));
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "strictly ordered, no repeats"
    );

    let mut only_a = all(T0, T0 + 1_000_000);
    only_a.camera = Some(CameraId::parse("a").unwrap());
    assert_eq!(store.query(&only_a).unwrap().frames.len(), 125);
    // from inclusive, to exclusive: frames at T0+10 (i = 3, 4, 5) only.
    let edge = store.query(&all(T0 + 10, T0 + 20)).unwrap();
    assert_eq!(
        edge.frames.iter().map(|f| f.seq).collect::<Vec<_>>(),
        [3, 4, 5]
    );
}

#[test]
fn crash_leftovers_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("frames/a/2026/11/24/08/00");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("01.000-1.jpg.tmp"), b"partial").unwrap();
    let _store = Store::open(dir.path()).unwrap();
    assert!(!deep.join("01.000-1.jpg.tmp").exists());
}

#[test]
fn an_unwritable_data_dir_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    assert!(Store::open(&file.join("data")).is_err());
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}
