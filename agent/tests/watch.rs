//! The disk watch, end to end on a running agent whose camera captures
//! throughout: a frame deleted by hand leaves the index within seconds, a
//! frame and a folder copied in from another disk enter it (the recent
//! folder by its events, the old one by the slow scan), a flood that
//! overflows the queue is caught by the fall-back scan, and retention's own
//! deletions give the watch nothing to do. Every test ends with the files
//! on disk and the rows in the index as the same multiset, each once, and
//! every captured frame accounted for (a worker's insert never lost to the
//! watch).

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::{all_rows, camera, jpeg_files, metric, metrics_text, wait_for};
use seaframe_agent::adapters::store::{FrameRow, Store};
use seaframe_agent::app::{Agent, StartOptions};
use seaframe_agent::base::clock::ClockSource;
use seaframe_agent::base::config::Config;
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::gps::timeline::Position;
use seaframe_agent::services::fswatch::WatchSettings;
use seaframe_testkit::RedisServer;
use seaframe_wire::CameraId;
use seaframe_wire::timestamp::Timestamp;

/// The watch at a test's pace: a slow-scan cycle over these small trees
/// takes a tick or two.
fn fast() -> WatchSettings {
    WatchSettings {
        settle: Duration::from_millis(100),
        tick: Duration::from_millis(100),
        min_cycle: Duration::ZERO,
        ..WatchSettings::default()
    }
}

/// An agent with one camera (`bow`, 10 fps) capturing into `dir`.
struct Running {
    agent: Agent,
    frames_dir: PathBuf,
    _redis: RedisServer,
    _dir: tempfile::TempDir,
}

async fn start(dir: tempfile::TempDir, extra: &str, watch: WatchSettings) -> Running {
    let redis = RedisServer::start().unwrap();
    let text = format!(
        "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n[queue]\nredis_url = \"{}\"\n{extra}\n{}",
        dir.path().display(),
        redis.url(),
        camera("bow", "testpattern", 10.0, 160, 120)
    );
    let cfg = Config::from_toml(&text, "test").unwrap();
    let options = StartOptions {
        watch,
        ..StartOptions::default()
    };
    Running {
        agent: Agent::start_with(cfg, options).await.unwrap(),
        frames_dir: dir.path().join("frames"),
        _redis: redis,
        _dir: dir,
    }
}

/// Waits until at least `n` frames are indexed.
async fn stored_at_least(store: &Store, n: usize) {
    wait_for(
        &format!("{n} frames stored"),
        Duration::from_secs(30),
        || async { (all_rows(store).len() >= n).then_some(()) },
    )
    .await;
}

/// One of the watch's numbers, as `/metrics` exports it.
async fn watch_metric(agent: &Agent, name: &str) -> f64 {
    let text = metrics_text(agent.api_addr()).await;
    metric(&text, name).unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

/// `n` frames of `camera` from `first`, 100 ms apart, numbered from `seq`,
/// with a position; stored in a data directory of their own ("another disk").
fn stored_elsewhere(camera: &str, first: Timestamp, seq: u64, n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let cam = CameraId::parse(camera).unwrap();
    let mut tp =
        seaframe_agent::adapters::capture::testpattern::TestPattern::new(cam.clone(), 64, 48);
    let frames: Vec<Frame> = (0..n)
        .map(|i| {
            let at = Timestamp::from_unix_nanos(first.unix_nanos() + i as i64 * 100_000_000);
            let jpeg = Bytes::from(tp.render(at).unwrap());
            let mut f = Frame::new(cam.clone(), seq + i, at, ClockSource::System, 64, 48, jpeg);
            f.position = Some(Position {
                lat: 54.0 + i as f64 * 1e-4,
                lon: 10.0,
                fix: "3d",
                speed_kn: Some(8.0),
                course_deg: None,
                heading_deg: None,
                fix_age_ms: 100,
                interpolated: false,
                time_uncertainty_ms: 1000,
            });
            f
        })
        .collect();
    assert!(store.put_batch(&frames).iter().all(Result::is_ok));
    dir
}

/// `cp -r src dst`, file by file, as a person would.
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// Stops capture, waits until every captured frame is accounted for and
/// the watch has settled, then checks files = rows, each once.
async fn stop_and_check(running: Running) {
    let Running {
        agent, frames_dir, ..
    } = running;
    agent.stop_capture();
    let m = agent.metrics().clone();
    wait_for(
        "every captured frame accounted for",
        Duration::from_secs(30),
        || async {
            m.cameras()
                .iter()
                .all(|c| {
                    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                    n(&c.captured)
                        == n(&c.stored) + n(&c.trimmed) + n(&c.dropped) + n(&c.failed) + n(&c.lost)
                        && n(&c.in_flight) == 0
                })
                .then_some(())
        },
    )
    .await;
    let store = agent.store().clone();
    let rows_now = || {
        let mut rows: Vec<String> = all_rows(&store).into_iter().map(|r| r.rel_path).collect();
        rows.sort();
        rows
    };
    wait_for("files = rows", Duration::from_secs(20), || async {
        (rows_now() == jpeg_files(&frames_dir)).then_some(())
    })
    .await;
    let rows = rows_now();
    let mut unique = rows.clone();
    unique.dedup();
    assert_eq!(unique.len(), rows.len(), "a file indexed twice");
    // (Every frame captured was accounted for above: a worker's insert that
    // the watch had made first would be `Already`, counted nowhere.)
    agent.shutdown().await.unwrap();
    // And as the next start finds it: nothing to repair.
    let store = Store::open(frames_dir.parent().unwrap()).unwrap();
    let report = store.reconcile(None).unwrap();
    assert_eq!(
        (report.rows_dropped, report.files_indexed),
        (0, 0),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_deleted_or_copied_by_hand_in_the_recent_hour_reach_the_index_within_seconds() {
    let running = start(tempfile::tempdir().unwrap(), "", fast()).await;
    let (agent, frames_dir) = (&running.agent, &running.frames_dir);
    let store = agent.store().clone();
    stored_at_least(&store, 20).await;

    // A stored frame deleted by hand.
    let rows = all_rows(&store);
    let victim = rows[rows.len() / 2].clone();
    std::fs::remove_file(frames_dir.join(&victim.rel_path)).unwrap();
    let started = std::time::Instant::now();
    wait_for(
        "the deleted frame's row gone",
        Duration::from_secs(10),
        || async { store.frame(victim.id).unwrap().is_none().then_some(()) },
    )
    .await;
    let took = started.elapsed();

    // A frame copied in by hand beside the camera's own, under a number
    // the camera will not reach.
    let newest = all_rows(&store).last().unwrap().clone();
    let other = stored_elsewhere("bow", newest.captured_at, 900_000, 1);
    let copied = jpeg_files(&other.path().join("frames"));
    let rel = &copied[0];
    std::fs::copy(other.path().join("frames").join(rel), frames_dir.join(rel)).unwrap();
    wait_for(
        "the copied frame indexed",
        Duration::from_secs(10),
        || async {
            all_rows(&store)
                .iter()
                .any(|r| &r.rel_path == rel)
                .then_some(())
        },
    )
    .await;
    let row = all_rows(&store)
        .into_iter()
        .find(|r| &r.rel_path == rel)
        .unwrap();
    assert_eq!((row.seq, row.width, row.height), (900_000, 64, 48));
    assert!(
        (row.lat.unwrap() - 54.0).abs() < 1e-6,
        "position from EXIF: {row:?}"
    );

    // A gauge published at the end of each tick of the watch: waited for,
    // not read once.
    wait_for(
        "watches on frames/, bow and its recent folders",
        Duration::from_secs(10),
        || async { (watch_metric(agent, "seaframe_watch_watches").await >= 5.0).then_some(()) },
    )
    .await;
    assert!(watch_metric(agent, "seaframe_watch_rows_dropped_total").await >= 1.0);
    assert!(watch_metric(agent, "seaframe_watch_rows_added_total").await >= 1.0);
    eprintln!("a deleted frame left the index after {took:?}");
    stop_and_check(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_folder_copied_in_from_another_disk_is_indexed_by_the_slow_scan() {
    let dir = tempfile::tempdir().unwrap();
    let frames_dir = dir.path().join("frames");
    // An old day already on this disk (and indexed), far outside the
    // watched hours: its month folder holds no watch.
    let old_day = Timestamp::parse_user("2025-06-14T10:00:00Z").unwrap();
    let seeded = stored_elsewhere("bow", old_day, 0, 30);
    copy_tree(&seeded.path().join("frames"), &frames_dir);
    Store::open(dir.path()).unwrap().reconcile(None).unwrap();

    assert!(Timestamp::now() > Timestamp::parse_user("2025-07-01T00:00:00Z").unwrap());
    // Kept ten years, so that retention leaves them be.
    let keep = "[retention]\nmax_age_s = 315360000\n";
    let running = start(dir, keep, fast()).await;
    let agent = &running.agent;
    let store = agent.store().clone();
    let m = agent.metrics().clone();
    wait_for("a first scan cycle", Duration::from_secs(20), || async {
        (m.watch.scan_cycles.load(Ordering::Relaxed) >= 1).then_some(())
    })
    .await;

    // The next day, copied in from another disk; one old frame deleted and
    // one old minute folder removed whole, all by hand.
    let next_day = Timestamp::parse_user("2025-06-15T08:30:00Z").unwrap();
    let other = stored_elsewhere("bow", next_day, 1000, 900); // 90 s: two minute folders
    let copied = jpeg_files(&other.path().join("frames"));
    copy_tree(
        &other.path().join("frames/bow/2025/06/15"),
        &frames_dir.join("bow/2025/06/15"),
    );
    let old_rows: Vec<FrameRow> = all_rows(&store)
        .into_iter()
        .filter(|r| r.rel_path.starts_with("bow/2025/06/14/"))
        .collect();
    assert_eq!(old_rows.len(), 30);
    std::fs::remove_file(frames_dir.join(&old_rows[0].rel_path)).unwrap();
    let started = std::time::Instant::now();
    wait_for(
        "the copied day indexed and the deleted frame's row gone",
        Duration::from_secs(30),
        || async {
            let rows = all_rows(&store);
            let day = rows
                .iter()
                .filter(|r| r.rel_path.starts_with("bow/2025/06/15/"))
                .count();
            let old = rows
                .iter()
                .filter(|r| r.rel_path.starts_with("bow/2025/06/14/"))
                .count();
            (day == copied.len() && old == 29).then_some(())
        },
    )
    .await;
    eprintln!("the slow scan took {:?}", started.elapsed());
    let rows = all_rows(&store);
    let day: Vec<&FrameRow> = rows
        .iter()
        .filter(|r| r.rel_path.starts_with("bow/2025/06/15/"))
        .collect();
    assert_eq!(day.first().unwrap().seq, 1000);
    assert!(
        day.iter()
            .all(|r| r.lat.is_some() && r.speed_kn == Some(8.0))
    );

    // A whole old minute folder removed: its rows go with it.
    std::fs::remove_dir_all(frames_dir.join("bow/2025/06/15/08/30")).unwrap();
    wait_for(
        "the removed folder's rows gone",
        Duration::from_secs(30),
        || async {
            (!all_rows(&store)
                .iter()
                .any(|r| r.rel_path.starts_with("bow/2025/06/15/08/30/")))
            .then_some(())
        },
    )
    .await;
    assert!(watch_metric(agent, "seaframe_watch_scan_folders_total").await >= 2.0);
    stop_and_check(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_that_overflows_the_queue_is_caught_by_the_fallback_scan() {
    // A queue of 8 changes: any burst overflows it.
    let watch = WatchSettings {
        max_pending: 8,
        ..fast()
    };
    let running = start(tempfile::tempdir().unwrap(), "", watch).await;
    let (agent, frames_dir) = (&running.agent, &running.frames_dir);
    let store = agent.store().clone();
    stored_at_least(&store, 30).await;

    // 300 frames copied into the watched folder of the newest frame, and
    // 20 of the camera's own deleted, as fast as the filesystem goes.
    let rows = all_rows(&store);
    let newest = rows.last().unwrap().clone();
    let minute_ns =
        newest.captured_at.unix_nanos() - newest.captured_at.unix_nanos() % 60_000_000_000;
    let other = stored_elsewhere("bow", Timestamp::from_unix_nanos(minute_ns), 2_000_000, 300);
    let copied = jpeg_files(&other.path().join("frames"));
    for rel in &copied {
        std::fs::copy(other.path().join("frames").join(rel), frames_dir.join(rel)).unwrap();
    }
    let deleted: Vec<FrameRow> = rows[..20].to_vec();
    for row in &deleted {
        std::fs::remove_file(frames_dir.join(&row.rel_path)).unwrap();
    }
    wait_for("the flood indexed", Duration::from_secs(30), || async {
        let rows = all_rows(&store);
        let indexed = rows.iter().filter(|r| r.seq >= 2_000_000).count();
        let gone = deleted.iter().all(|d| !rows.iter().any(|r| r.id == d.id));
        (indexed == copied.len() && gone).then_some(())
    })
    .await;
    assert!(
        watch_metric(agent, "seaframe_watch_changes_dropped_total").await > 0.0,
        "the flood did not overflow the queue"
    );
    assert!(watch_metric(agent, "seaframe_watch_rescans_total").await >= 1.0);
    stop_and_check(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_and_retention_alone_give_the_watch_nothing_to_repair() {
    let retention = "[retention]\nretain_bytes = 200000\nmin_free_bytes = 0\n";
    let running = start(tempfile::tempdir().unwrap(), retention, fast()).await;
    let agent = &running.agent;
    let m = agent.metrics().clone();
    wait_for(
        "retention to delete 40 frames",
        Duration::from_secs(60),
        || async { (m.retention_deleted.load(Ordering::Relaxed) >= 40).then_some(()) },
    )
    .await;
    // The worker writes (temp file, rename, row) and retention deletes (mark,
    // unlink, drop) under the watch's eyes: it indexes nothing, drops nothing.
    assert_eq!(
        watch_metric(agent, "seaframe_watch_rows_added_total").await,
        0.0
    );
    assert_eq!(
        watch_metric(agent, "seaframe_watch_rows_dropped_total").await,
        0.0
    );
    assert_eq!(
        watch_metric(agent, "seaframe_watch_errors_total").await,
        0.0
    );
    assert!(watch_metric(agent, "seaframe_watch_watches").await >= 5.0);
    stop_and_check(running).await;
}
