//! Retention under a day of simulated fleet traffic, the clock driven by
//! the test (no sleeping): four cameras on three vessels, one thumbnail per
//! camera every 20 s, a pass every 30 simulated minutes. After every pass:
//! the disk is within the fleet's and the override's budgets, thinning is
//! as configured, nothing is older than its vessel's maximum age, nothing
//! recent was lost, no garbage is left, and the index and the files agree
//! (every row has its file, every file its row, the usage totals are the
//! bytes on disk). Then: a pass cut short is finished by the next, two
//! shores running retention at once do no harm, and the shore runs it by
//! itself (counted on `/metrics`). On SQLite, and PostgreSQL when set.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::*;
use seaframe_shore::adapters::blobs::{BlobKey, BlobName, Blobs, DiskBlobs, NewBlob};
use seaframe_shore::adapters::config::IndexUrl;
use seaframe_shore::adapters::index::{self, Index, NewThumb, ThumbQuery, ThumbRow};
use seaframe_shore::base::retention::config::RetentionConfig;
use seaframe_shore::base::retention::metrics::Why;
use seaframe_shore::services::metrics::Metrics;
use seaframe_shore::services::retention::Retention;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::{CameraId, VesselName};

const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;
const HOUR: i64 = 3600 * S;
const CAMERAS: [(&str, &str); 4] = [
    ("aurora", "mast"),
    ("aurora", "bridge"),
    ("boreas", "mast"),
    ("cygnus", "deck"),
];
/// One thumbnail per camera this often.
const EVERY: i64 = 20 * S;
/// A pass this often.
const PASS_EVERY: i64 = 30 * MIN;
/// Midnight UTC, 2026-01-01.
const START: i64 = 1_767_225_600 * S;

/// The test's config: a day scaled down from a year — full rate for 2 h,
/// one a minute after 2 h, one per ten minutes after 6 h, deleted after
/// 18 h (boreas: 12 h); byte caps (the fleet's, cygnus's) that bite.
fn retention_config(fleet_max: u64, cygnus_max: u64) -> RetentionConfig {
    toml::from_str(&format!(
        "max_age_days = 0.75\nmax_bytes = {fleet_max}\nmin_free_percent = 0\n\
         thin = [{{after_days = {}, keep_every_s = 60}}, {{after_days = 0.25, keep_every_s = 600}}]\n\
         [vessels.boreas]\nmax_age_days = 0.5\n[vessels.cygnus]\nmax_bytes = {cygnus_max}\n",
        2.0 / 24.0
    ))
    .unwrap()
}

fn row(vessel: &str, camera: &str, ns: i64, bytes: usize) -> NewThumb {
    NewThumb {
        vessel: VesselName::parse(vessel).unwrap(),
        camera: CameraId::parse(camera).unwrap(),
        captured_at_ns: ns,
        seq: 0,
        lat: Some(59.0),
        lon: Some(10.0),
        width_px: 16,
        height_px: 8,
        bytes: bytes as u64,
        received_at_ns: ns,
    }
}

/// Ingests `[from, to)` of traffic as the writer does: files, then rows.
async fn traffic(index: &dyn Index, blobs: &DiskBlobs, from: i64, to: i64) -> u64 {
    let mut rows = Vec::new();
    let mut jpegs = Vec::new();
    for (v, c) in CAMERAS {
        let mut ns = from;
        while ns < to {
            let jpeg = jpeg((ns / EVERY % 251) as u8);
            rows.push(row(v, c, ns, jpeg.len()));
            jpegs.push(jpeg);
            ns += EVERY;
        }
    }
    let items: Vec<NewBlob> = rows
        .iter()
        .zip(jpegs)
        .map(|(r, jpeg)| NewBlob {
            name: BlobName {
                vessel: r.vessel.clone(),
                camera: r.camera.clone(),
                captured_at_ns: r.captured_at_ns,
            },
            jpeg: jpeg.into(),
        })
        .collect();
    Blobs::Disk(blobs.clone())
        .write_batch(&items)
        .await
        .unwrap();
    index.insert_thumbs(&rows).await.unwrap();
    rows.len() as u64
}

/// Every row of the index, oldest first.
async fn all_rows(index: &dyn Index) -> Vec<ThumbRow> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let q = ThumbQuery {
            vessel: None,
            camera: None,
            from_ns: i64::MIN,
            to_ns: i64::MAX,
            place: None,
            after,
            limit: 5000,
        };
        let page = index.thumbs(&q).await.unwrap();
        out.extend(page.rows);
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

/// Every file under `dir` with its size.
fn files(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.insert(p.clone(), std::fs::metadata(&p).unwrap().len());
        }
    }
    out
}

/// The index and the files agree; returns the bytes on disk per vessel.
async fn agree(index: &dyn Index, blobs: &DiskBlobs) -> (Vec<ThumbRow>, BTreeMap<String, u64>) {
    let rows = all_rows(index).await;
    let on_disk = files(blobs.root());
    let named: BTreeSet<PathBuf> = rows
        .iter()
        .map(|r| {
            blobs.path(BlobKey {
                vessel: &r.vessel,
                camera: &r.camera,
                captured_at_ns: r.captured_at_ns,
            })
        })
        .collect();
    assert_eq!(named.len(), rows.len());
    let disk: BTreeSet<PathBuf> = on_disk.keys().cloned().collect();
    assert!(
        named == disk,
        "rows {} vs files {}: {:?} / {:?}",
        named.len(),
        disk.len(),
        named.difference(&disk).next(),
        disk.difference(&named).next()
    );
    let mut per_vessel: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        *per_vessel.entry(r.vessel.to_string()).or_default() += r.bytes;
    }
    assert_eq!(
        per_vessel.values().sum::<u64>(),
        on_disk.values().sum::<u64>()
    );
    let usage: u64 = index
        .thumb_usage()
        .await
        .unwrap()
        .iter()
        .map(|u| u.bytes)
        .sum();
    assert_eq!(
        usage,
        on_disk.values().sum::<u64>(),
        "usage totals = bytes on disk"
    );
    assert!(
        index.garbage(10).await.unwrap().is_empty(),
        "no garbage left"
    );
    (rows, per_vessel)
}

fn retention(
    index: Arc<dyn Index>,
    blobs: &DiskBlobs,
    config: RetentionConfig,
    now: &Arc<AtomicI64>,
) -> Retention {
    let now = now.clone();
    Retention {
        index,
        blobs: Blobs::Disk(blobs.clone()),
        config,
        metrics: Arc::new(Metrics::default()),
        clock: Arc::new(move || now.load(Ordering::SeqCst)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_fleet_traffic_stays_in_budget_and_thinned_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "retention-day").await {
        let data = tempfile::tempdir().unwrap();
        a_day(&url, data.path()).await;
    }
}

async fn a_day(url: &str, data: &Path) {
    let index = index::open(&IndexUrl::parse(url).unwrap()).await.unwrap();
    let blobs = DiskBlobs::new(data);
    let avg = (0..251u8).map(|s| jpeg(s).len() as u64).sum::<u64>() / 251;
    // At these rules a camera holds 360 (full rate, 2 h) + 240 (one a
    // minute, 2–6 h) + 72 (ten minutes apart, 6–18 h; boreas 36 to 12 h)
    // thumbnails. Cygnus's cap takes ~32 of its oldest, the fleet's cap
    // (~2620 held) ~30 of the fleet's oldest, all older than 12 h: boreas's
    // go by age, and the last 6 h are never reached.
    let (fleet_max, cygnus_max) = (avg * 2590, avg * 640);
    let config = retention_config(fleet_max, cygnus_max);
    let now = Arc::new(AtomicI64::new(START));
    let r = retention(index.clone(), &blobs, config.clone(), &now);
    let started = std::time::Instant::now();
    let (mut inserted, mut pass_ms) = (0u64, Vec::new());
    let (mut ingest_s, mut check_s) = (0f64, 0f64);
    let mut t = START;
    while t < START + 24 * HOUR {
        let i = std::time::Instant::now();
        inserted += traffic(&*index, &blobs, t, t + PASS_EVERY).await;
        ingest_s += i.elapsed().as_secs_f64();
        t += PASS_EVERY;
        now.store(t, Ordering::SeqCst);
        let p = std::time::Instant::now();
        r.pass().await.unwrap().expect("the lease is free");
        pass_ms.push(p.elapsed().as_millis());
        let c = std::time::Instant::now();
        let (rows, per_vessel) = agree(&*index, &blobs).await;
        let total: u64 = per_vessel.values().sum();
        assert!(total <= fleet_max, "fleet {total} > {fleet_max} at {t}");
        assert!(per_vessel.get("cygnus").copied().unwrap_or(0) <= cygnus_max);
        check_rules(&rows, t);
        check_s += c.elapsed().as_secs_f64();
    }
    let rows = all_rows(&*index).await;
    let m = &r.metrics.retention;
    assert_eq!(
        m.deleted_total(),
        inserted - rows.len() as u64,
        "deleted = inserted - kept"
    );
    assert_eq!(m.files_removed.load(Ordering::SeqCst), m.deleted_total());
    for why in [Why::Age, Why::Thinned, Why::VesselBudget, Why::FleetBudget] {
        assert!(m.deleted(why) > 0, "{why:?} deleted some");
    }
    assert_eq!(m.deleted(Why::DiskFree), 0);
    let text = r.metrics.render();
    let line = format!(
        "seaframe_shore_retention_deleted_total{{reason=\"thinned\"}} {}",
        m.deleted(Why::Thinned)
    );
    assert!(text.contains(&line), "{text}");
    pass_ms.sort_unstable();
    eprintln!(
        "{url}: {inserted} thumbnails over a simulated day, {} kept; 48 passes: median {} ms, max {} ms; ingest {ingest_s:.1} s, checks {check_s:.1} s, whole {:.1} s",
        rows.len(),
        pass_ms[pass_ms.len() / 2],
        pass_ms[pass_ms.len() - 1],
        started.elapsed().as_secs_f64()
    );
}

/// Thinning, age and completeness, per camera, at `now`.
fn check_rules(rows: &[ThumbRow], now: i64) {
    for (v, c) in CAMERAS {
        let mine: Vec<i64> = rows
            .iter()
            .filter(|r| r.vessel.as_str() == v && r.camera.as_str() == c)
            .map(|r| r.captured_at_ns)
            .collect();
        let max_age = if v == "boreas" { 12 * HOUR } else { 18 * HOUR };
        assert!(
            mine.iter().all(|&ns| ns >= now - max_age),
            "{v}/{c}: too old kept"
        );
        for (after, slot) in [(2 * HOUR, MIN), (6 * HOUR, 10 * MIN)] {
            let mut slots = BTreeSet::new();
            for &ns in mine.iter().filter(|&&ns| ns < now - after) {
                assert!(
                    slots.insert(ns.div_euclid(slot)),
                    "{v}/{c}: two in a slot of {slot} ns at {now}"
                );
            }
        }
        // The last hour (never thinned, never reached by the caps) is whole.
        let recent = mine.iter().filter(|&&ns| ns >= now - HOUR).count() as i64;
        assert_eq!(
            recent,
            HOUR.min(now - START) / EVERY,
            "{v}/{c}: the last hour is whole"
        );
        // Between 2 h and 6 h: one a minute, none missing (the caps stop short of it).
        if now >= START + 6 * HOUR {
            let mid = mine
                .iter()
                .filter(|&&ns| ns >= now - 6 * HOUR && ns < now - 2 * HOUR)
                .count();
            assert!(
                (239..=241).contains(&mid),
                "{v}/{c}: {mid} in 2–6 h at {now}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_cut_short_is_finished_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "retention-crash").await {
        let data = tempfile::tempdir().unwrap();
        let index = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
        let blobs = DiskBlobs::new(data.path());
        let n = traffic(&*index, &blobs, START, START + 10 * MIN).await;
        let rows = all_rows(&*index).await;
        // Crash after step 1 (rows to the garbage), before any file went.
        let first: Vec<i64> = rows[..10].iter().map(|r| r.id).collect();
        let d = index.doom_thumbs(&first).await.unwrap();
        assert_eq!(d.rows, 10);
        assert_eq!(
            index.doom_thumbs(&first).await.unwrap().rows,
            0,
            "idempotent"
        );
        assert_eq!(
            all_rows(&*index).await.len() as u64,
            n - 10,
            "no query sees them"
        );
        assert_eq!(
            files(blobs.root()).len() as u64,
            n,
            "their files are still there"
        );
        // And one after step 2 for some of them (files gone, garbage rows left).
        for r in &rows[..5] {
            blobs
                .remove(BlobKey {
                    vessel: &r.vessel,
                    camera: &r.camera,
                    captured_at_ns: r.captured_at_ns,
                })
                .unwrap();
        }
        // A restart: a new stage on a new connection finishes it.
        drop(index);
        let index = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
        let now = Arc::new(AtomicI64::new(START + 10 * MIN));
        let mut config = retention_config(u64::MAX, u64::MAX);
        config.max_bytes = None;
        config.vessels.clear();
        let r = retention(index.clone(), &blobs, config, &now);
        let report = r.pass().await.unwrap().unwrap();
        assert_eq!(report.files_removed, 10);
        assert!(report.deleted.is_empty(), "nothing else is due: {report:?}");
        let (kept, _) = agree(&*index, &blobs).await;
        assert_eq!(kept.len() as u64, n - 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shores_running_retention_at_once_delete_what_one_would() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "retention-two").await {
        let data = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(data.path());
        let a = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
        let b = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
        let n = traffic(&*a, &blobs, START, START + HOUR).await;
        let bytes: u64 = all_rows(&*a).await.iter().map(|r| r.bytes).sum();
        let cap = bytes / 2;
        let now = Arc::new(AtomicI64::new(START + HOUR));
        let mut config = retention_config(cap, u64::MAX);
        config.vessels.clear();
        let (ra, rb) = (
            retention(a.clone(), &blobs, config.clone(), &now),
            retention(b.clone(), &blobs, config, &now),
        );
        let (x, y) = tokio::join!(ra.pass(), rb.pass());
        let (x, y) = (x.unwrap(), y.unwrap());
        // Both may have run (one after the other) or one skipped; either way
        // the oldest went until under the cap, and no more.
        assert!(x.is_some() || y.is_some());
        let (rows, _) = agree(&*a, &blobs).await;
        let kept: u64 = rows.iter().map(|r| r.bytes).sum();
        let largest = rows.iter().map(|r| r.bytes).max().unwrap();
        assert!(
            kept <= cap && kept + 4 * largest > cap,
            "kept {kept} of cap {cap}"
        );
        let deleted = ra.metrics.retention.deleted_total() + rb.metrics.retention.deleted_total();
        assert_eq!(deleted, n - rows.len() as u64);
        // Oldest first: everything kept is newer than everything deleted.
        let oldest_kept = rows.iter().map(|r| r.captured_at_ns).min().unwrap();
        let deleted_before = (oldest_kept - START) / EVERY * CAMERAS.len() as i64;
        assert!((deleted as i64 - deleted_before).abs() < CAMERAS.len() as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shore_runs_retention_by_itself_and_counts_it() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&broker.url(), dir.path(), "shore-retention", None);
    cfg.retention.interval_s = 1;
    cfg.retention.min_free_percent = 0.0;
    let shore = start(cfg).await;
    let vessel = Publisher::connect(broker.port(), "aurora", None).await;
    let now = seaframe_shore::base::when::now_ns();
    // Five thumbnails 400 days old (past the default 365), three of today.
    for ns in (0..5)
        .map(|i| now - 400 * 24 * HOUR + i * S)
        .chain((0..3).map(|i| now - HOUR + i * S))
    {
        vessel
            .publish(
                &thumb_topic("aurora", "mast"),
                thumb("aurora", "mast", ns).encode().unwrap(),
            )
            .await;
    }
    let addr = shore.addr;
    until(
        20,
        "the old ones deleted, counted on /metrics",
        || async move {
            let text = get(&format!("http://{addr}/metrics"))
                .await
                .text()
                .await
                .unwrap();
            text.contains("seaframe_shore_retention_deleted_total{reason=\"age\"} 5")
                && text.contains("seaframe_shore_retention_files_removed_total 5")
        },
    )
    .await;
    assert_eq!(shore.index.count_thumbs().await.unwrap(), 3);
    assert_eq!(files(&dir.path().join("thumbs")).len(), 3);
    shore.stop().await.unwrap();
}
