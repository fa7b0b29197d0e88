//! `seaframe-shore migrate`, run as the binary: a shore on SQLite + disk
//! (the embedded default) ingests thumbnails through mosquitto, gets a
//! config pushed (and acked) and an account; it is stopped and migrated to
//! S3 (moto) + PostgreSQL (SQLite in a second file when
//! `SEAFRAME_TEST_PG_URL` is not set, so the copy is still tested).
//!
//! - the first run copies every blob and row (counts printed per table),
//!   verifies, exits 0; a second run copies nothing and says everything
//!   was already there; source = target everywhere;
//! - a shore started on the target serves every thumbnail byte for byte
//!   under the same id, lists the vessels, shows the config and its ack,
//!   signs the account in; a thumbnail it ingests afterwards gets an id
//!   after the copied ones (PostgreSQL's sequence moved);
//! - the same config as source and target is refused; a run whose counts
//!   differ at the end exits non-zero naming the tables;
//! - a run SIGKILLed midway leaves no row without its blob on the target,
//!   and the next run copies only the rest, ids kept.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use seaframe_shore::adapters::blobs::{BlobName, NewBlob};
use seaframe_shore::adapters::config::Config;
use seaframe_shore::adapters::index::NewThumb;

use common::s3::{ACCESS_KEY_ID, BUCKET, PREFIX, SECRET, blobs_config, key_of, objects};
use common::*;
use seaframe_shore::base::auth::role::Role;
use seaframe_shore::services::auth::accounts;
use seaframe_testkit::{MosquittoServer, MotoServer};
use seaframe_wire::Thumb;

const PASSWORD: &str = "a sailor's long passphrase";
const SENT: i64 = 24;

fn fleet_thumb(i: i64) -> Thumb {
    let vessel = ["aurora", "boreas"][(i % 2) as usize];
    let camera = ["mast", "bow"][(i / 2 % 2) as usize];
    thumb(vessel, camera, T0_NS + i * 1_000_000_000)
}

/// Runs `seaframe-shore migrate`, bounded in time.
async fn migrate(from: &Path, to: &Path) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_seaframe-shore"));
    cmd.arg("migrate")
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(to)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("migrate ends")
        .unwrap()
}

/// The printed tallies: name → [copied, already there, source, target].
fn tallies(out: &Output) -> BTreeMap<String, [u64; 4]> {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let n: Vec<u64> = f.get(1..)?.iter().filter_map(|x| x.parse().ok()).collect();
            (f.len() == 5 && n.len() == 4).then(|| (f[0].to_owned(), [n[0], n[1], n[2], n[3]]))
        })
        .collect()
}

fn report(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_and_sqlite_shore_moves_to_s3_and_another_index() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let pg = match std::env::var("SEAFRAME_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => Some(PgDb::create(&admin, "migrate").await),
        _ => {
            eprintln!("NOTE: SEAFRAME_TEST_PG_URL is not set; migrating to SQLite + S3 instead");
            None
        }
    };
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).unwrap();
    let broker = MosquittoServer::start().unwrap();
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // The old shore: SQLite + disk, thumbnails through the broker, a
    // config pushed and acked, an account.
    let src = start(config(&broker.url(), src_dir.path(), "shore-old", None)).await;
    let vessel = Publisher::connect(broker.port(), "fleet", None).await;
    let sent: Vec<Thumb> = (0..SENT).map(fleet_thumb).collect();
    for t in &sent {
        let topic = thumb_topic(t.meta.vessel.as_str(), t.meta.camera.as_str());
        vessel.publish(&topic, t.encode().unwrap()).await;
    }
    let index = src.index.clone();
    until(20, "every thumbnail indexed", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() == SENT as u64 }
    })
    .await;
    let status = serde_json::json!({
        "state": "online", "version": "0.1.0", "uptime_s": 5, "sent_at_ms": 1_764_460_800_000i64,
        "cameras": [{"id": "mast", "state": "running", "fps": 1.0, "last_frame_ms": null}],
        "fix": null, "clock": "gps", "clock_offset_ms": 0, "disk_used_bytes": 1,
        "disk_free_bytes": 2, "outbox_backlog": 0, "outbox_bytes": 0, "config_version": 0
    });
    vessel
        .publish("seaframe/v1/aurora/status", status.to_string().into_bytes())
        .await;
    let fixes = serde_json::json!({"fixes": [
        {"at_ms": 1_764_460_800_000i64, "lat": 59.5, "lon": 10.25, "fix": "3d", "speed_kn": 12.5,
         "course_deg": 270.0, "heading_deg": null},
        {"at_ms": 1_764_460_801_000i64, "lat": 59.501, "lon": 10.25, "fix": "3d",
         "speed_kn": 12.5, "course_deg": 270.0, "heading_deg": null}
    ]});
    vessel
        .publish(
            "seaframe/v1/aurora/position",
            fixes.to_string().into_bytes(),
        )
        .await;
    let m = src.metrics.clone();
    until(20, "status and fixes applied", || {
        let m = m.clone();
        async move { m.position_fixes.load(std::sync::atomic::Ordering::SeqCst) >= 2 }
    })
    .await;
    let r = reqwest::Client::new()
        .put(format!("http://{}/api/v1/vessels/aurora/config", src.addr))
        .bearer_auth(token(src.addr))
        .body(r#"{"gps": {"source": "none"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    vessel
        .publish(
            "seaframe/v1/aurora/config/ack",
            br#"{"version": 1, "status": "applied"}"#.to_vec(),
        )
        .await;
    let addr = src.addr;
    until(20, "the ack kept", || async move {
        get_json(addr, "/api/v1/vessels/aurora/config").await.1["ack"]["status"] == "applied"
    })
    .await;
    accounts::add(
        &*src.index,
        "skipper",
        Role::Viewer,
        Some(PASSWORD.to_owned()),
    )
    .await
    .unwrap();
    // What the old shore serves: every image by id.
    let page = all_thumbs(&*src.index).await;
    assert_eq!(page.rows.len(), SENT as usize);
    let mut images = BTreeMap::new();
    for row in &page.rows {
        let r = get(&format!("http://{addr}/api/v1/thumbs/{}/image", row.id)).await;
        assert_eq!(r.status(), 200);
        images.insert(row.id, r.bytes().await.unwrap());
    }
    let max_id = *images.keys().max().unwrap();
    src.stop().await.unwrap();

    // The two configs, as an operator writes them.
    let (from, to, target_index) =
        source_and_target(&broker, &moto, src_dir.path(), dst_dir.path(), pg.as_ref());

    let same = migrate(&from, &from).await;
    assert!(!same.status.success(), "{}", report(&same));
    assert!(
        String::from_utf8_lossy(&same.stderr).contains("same index"),
        "{}",
        report(&same)
    );

    // First run: everything copied, verified.
    let started = std::time::Instant::now();
    let first = migrate(&from, &to).await;
    eprintln!("first migrate: {:?}\n{}", started.elapsed(), report(&first));
    assert!(first.status.success(), "{}", report(&first));
    let t = tallies(&first);
    let n = SENT as u64;
    assert_eq!(t["blobs"], [n, 0, n, n], "{}", report(&first));
    assert_eq!(t["thumbs"], [n, 0, n, n]);
    assert_eq!(t["vessels"], [2, 0, 2, 2]);
    assert_eq!(t["cameras"], [4, 0, 4, 4]);
    assert_eq!(t["fixes"], [2, 0, 2, 2]);
    assert_eq!(t["vessel_status"], [1, 0, 1, 1]);
    assert_eq!(t["configs"], [1, 0, 1, 1]);
    assert_eq!(t["config_acks"], [1, 0, 1, 1]);
    // The test's admin and the skipper, with the admin's token.
    assert_eq!(t["accounts"], [2, 0, 2, 2]);
    assert_eq!(t["api_tokens"], [1, 0, 1, 1]);
    for (name, [copied, already, source, target]) in &t {
        assert_eq!((copied + already, source), (*source, target), "{name}");
    }
    assert_eq!(objects(&moto, PREFIX).await.len(), SENT as usize);

    // Second run: nothing new.
    let second = migrate(&from, &to).await;
    assert!(second.status.success(), "{}", report(&second));
    let t2 = tallies(&second);
    assert_eq!(t2.len(), t.len());
    for (name, [copied, already, source, target]) in &t2 {
        assert_eq!(*copied, 0, "{name}: {}", report(&second));
        assert_eq!((already, source), (source, target), "{name}");
        assert_eq!(*source, t[name][2], "{name}");
    }

    // A shore on the target serves what the old one did. It takes over the
    // old one's client id, and with it the broker's session (what arrived
    // while no shore ran, and its share of the subscription).
    let mut cfg = config(
        &broker.url(),
        dst_dir.path(),
        "shore-old",
        Some(&target_index),
    );
    cfg.blobs = blobs_config(&moto);
    let dst = start(cfg).await;
    for (id, bytes) in &images {
        let r = get(&format!("http://{}/api/v1/thumbs/{id}/image", dst.addr)).await;
        assert_eq!(r.status(), 200, "thumbnail {id}");
        assert_eq!(&r.bytes().await.unwrap(), bytes, "thumbnail {id}");
    }
    let (code, vessels) = get_json(dst.addr, "/api/v1/vessels").await;
    assert_eq!(code, 200);
    let names: Vec<&str> = vessels["vessels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["aurora", "boreas"], "{vessels}");
    assert_eq!(vessels["vessels"][0]["online"], true, "{vessels}");
    assert_eq!(
        vessels["vessels"][0]["last_position"]["lat"], 59.501,
        "{vessels}"
    );
    let (_, cfg) = get_json(dst.addr, "/api/v1/vessels/aurora/config").await;
    assert_eq!(cfg["version"], 1, "{cfg}");
    assert_eq!(cfg["ack"]["status"], "applied", "{cfg}");
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/session", dst.addr))
        .header("content-type", "application/json")
        .body(serde_json::json!({"name": "skipper", "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the account signs in on the target");

    // New thumbnails on the target get ids after the copied ones.
    let new = fleet_thumb(SENT);
    vessel
        .publish(
            &thumb_topic(new.meta.vessel.as_str(), new.meta.camera.as_str()),
            new.encode().unwrap(),
        )
        .await;
    let index = dst.index.clone();
    until(20, "the new thumbnail indexed", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() == SENT as u64 + 1 }
    })
    .await;
    assert_eq!(dst.index.last_thumb_id().await.unwrap(), max_id + 1);

    // The target moved on (a thumbnail, the test's admin): a run now
    // copies nothing, and fails naming what differs.
    let third = migrate(&from, &to).await;
    assert!(!third.status.success(), "{}", report(&third));
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(
        stderr.contains("thumbs: 24 on the source, 25 on the target"),
        "{}",
        report(&third)
    );
    assert!(stderr.contains("accounts: 2 on the source, 3 on the target"));
    assert!(tallies(&third).values().all(|[copied, ..]| *copied == 0));
    dst.stop().await.unwrap();
    drop(pg);
}

/// The configs of a source (SQLite + disk) and a target (PostgreSQL, or
/// SQLite in a second file, + S3) that `migrate` reads, and the target's
/// index URL.
fn source_and_target(
    broker: &MosquittoServer,
    moto: &MotoServer,
    src: &Path,
    dst: &Path,
    pg: Option<&PgDb>,
) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let target_index = match pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite:{}", dst.join("index.db").display()),
    };
    let from = src.join("old.toml");
    std::fs::write(
        &from,
        format!(
            "data_dir = \"{}\"\n[mqtt]\nurl = \"{}\"\nclient_id = \"shore-old\"\n",
            src.display(),
            broker.url()
        ),
    )
    .unwrap();
    let to = dst.join("new.toml");
    std::fs::write(
        &to,
        format!(
            "data_dir = \"{}\"\n[mqtt]\nurl = \"{}\"\nclient_id = \"shore-old\"\n\
             [index]\nurl = \"{target_index}\"\n\
             [blobs]\nurl = \"s3://{BUCKET}/{PREFIX}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
             access_key_id = \"{ACCESS_KEY_ID}\"\nsecret_access_key = \"{SECRET}\"\nallow_http = true\n",
            dst.display(),
            broker.url(),
            moto.endpoint()
        ),
    )
    .unwrap();
    (from, to, target_index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_killed_midway_leaves_no_row_without_its_blob_and_resumes() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let pg = match std::env::var("SEAFRAME_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => Some(PgDb::create(&admin, "migrate_killed").await),
        _ => None,
    };
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).unwrap();
    let broker = MosquittoServer::start().unwrap();
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (from, to, _) =
        source_and_target(&broker, &moto, src_dir.path(), dst_dir.path(), pg.as_ref());

    // A source of several pages, written through the shore's own stores.
    const ROWS: i64 = 700;
    let source = Config::load(&from).unwrap();
    let src_index = seaframe_shore::adapters::index::open(&source.index_url().unwrap())
        .await
        .unwrap();
    let src_blobs = source.blobs.open(&source.data_dir).unwrap();
    let jpeg = bytes::Bytes::from(fleet_thumb(0).jpeg);
    for chunk in (0..ROWS).collect::<Vec<_>>().chunks(500) {
        let thumbs: Vec<Thumb> = chunk.iter().map(|i| fleet_thumb(*i)).collect();
        let blobs: Vec<NewBlob> = thumbs
            .iter()
            .map(|t| NewBlob {
                name: BlobName {
                    vessel: t.meta.vessel.clone(),
                    camera: t.meta.camera.clone(),
                    captured_at_ns: t.meta.captured_at_ns,
                },
                jpeg: jpeg.clone(),
            })
            .collect();
        src_blobs.write_batch(&blobs).await.unwrap();
        let rows: Vec<NewThumb> = thumbs
            .iter()
            .map(|t| NewThumb {
                vessel: t.meta.vessel.clone(),
                camera: t.meta.camera.clone(),
                captured_at_ns: t.meta.captured_at_ns,
                seq: t.meta.seq,
                lat: None,
                lon: None,
                width_px: t.meta.width,
                height_px: t.meta.height,
                bytes: jpeg.len() as u64,
                received_at_ns: t.meta.captured_at_ns,
            })
            .collect();
        src_index.insert_thumbs(&rows).await.unwrap();
    }
    let src_rows = all_thumbs(&*src_index).await.rows;
    assert_eq!(src_rows.len(), ROWS as usize);

    // The first run, SIGKILLed once some rows are on the target and
    // before all of them are.
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_seaframe-shore"));
    cmd.arg("migrate")
        .arg("--from")
        .arg(&from)
        .arg("--to")
        .arg(&to)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut run = cmd.spawn().unwrap();
    let target = Config::load(&to).unwrap();
    let dst_index =
        seaframe_testkit::wait_for("the target index made", Duration::from_secs(30), || {
            let url = target.index_url().unwrap();
            async move { seaframe_shore::adapters::index::open(&url).await.ok() }
        })
        .await;
    let index = dst_index.clone();
    let copied_at_kill =
        seaframe_testkit::wait_for("some rows copied", Duration::from_secs(60), || {
            let index = index.clone();
            async move { index.count_thumbs().await.ok().filter(|n| *n > 0) }
        })
        .await;
    run.start_kill().unwrap();
    run.wait().await.unwrap();
    let rows_at_kill = all_thumbs(&*dst_index).await.rows;
    assert!(
        !rows_at_kill.is_empty() && rows_at_kill.len() < ROWS as usize,
        "killed midway: {} of {ROWS} rows (≥ {copied_at_kill} seen)",
        rows_at_kill.len()
    );
    let stored = objects(&moto, PREFIX).await;
    let keys: std::collections::BTreeSet<String> = stored.keys().cloned().collect();
    for row in &rows_at_kill {
        let t = fleet_thumb((row.captured_at_ns - T0_NS) / 1_000_000_000);
        assert!(
            keys.contains(&key_of(&moto, &t)),
            "row {} without its blob after the kill",
            row.id
        );
    }
    eprintln!(
        "migrate killed with {} rows and {} blobs of {ROWS} on the target",
        rows_at_kill.len(),
        keys.len()
    );

    // The next run copies only the rest and verifies; ids are kept.
    let second = migrate(&from, &to).await;
    assert!(second.status.success(), "{}", report(&second));
    let t = tallies(&second);
    let n = ROWS as u64;
    assert_eq!(
        t["thumbs"],
        [
            n - rows_at_kill.len() as u64,
            rows_at_kill.len() as u64,
            n,
            n
        ]
    );
    // A blob uploaded after the last committed page may be counted either
    // way (it is put again with If-None-Match: *, which keeps it).
    assert!(
        t["blobs"][1] >= rows_at_kill.len() as u64,
        "{}",
        report(&second)
    );
    assert_eq!(t["blobs"][0] + t["blobs"][1], n, "{}", report(&second));
    let ids = |rows: &[seaframe_shore::adapters::index::ThumbRow]| {
        rows.iter()
            .map(|r| {
                (
                    r.id,
                    r.vessel.to_string(),
                    r.camera.to_string(),
                    r.captured_at_ns,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&all_thumbs(&*dst_index).await.rows), ids(&src_rows));
    assert_eq!(objects(&moto, PREFIX).await.len(), ROWS as usize);
    drop(pg);
}
