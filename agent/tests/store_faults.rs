//! When the index cannot be used: a corrupt `index.db` at start is moved
//! aside and rebuilt from the frames on disk (never a crash loop); an index
//! that takes no writes (held by another process) is a state in the status,
//! on every camera and in `/metrics`, the stream stays bounded, and when it
//! takes writes again the rows of the files written meanwhile come back —
//! files = rows, each once.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{camera, config, get_json, jpeg_files, metric, wait_for};
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::Config;

fn agent_config(dir: &std::path::Path) -> Config {
    config(dir, None, &camera("bow", "testpattern", 10.0, 160, 120), "")
}

/// Every row's path, sorted, doubles kept.
fn rows(data: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data.join("index.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT rel_path FROM frames ORDER BY rel_path")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

async fn stored_at_least(agent: &Agent, n: u64) {
    let cam = agent.metrics().cameras()[0].clone();
    wait_for("frames stored", Duration::from_secs(20), || async {
        (cam.stored.load(Ordering::Relaxed) >= n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_index_is_moved_aside_and_rebuilt_from_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(agent_config(dir.path())).await.unwrap();
    stored_at_least(&agent, 10).await;
    agent.shutdown().await.unwrap();
    let files = jpeg_files(&dir.path().join("frames"));
    assert!(files.len() >= 10);
    for side in ["index.db-wal", "index.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(side));
    }
    std::fs::write(dir.path().join("index.db"), vec![0x5a; 8192]).unwrap();

    let agent = Agent::start(agent_config(dir.path())).await.unwrap();
    let base = format!("http://{}/api/v1", agent.api_addr());
    let (_, status) = get_json(&format!("{base}/status")).await;
    let note = status["store"]["notes"][0].as_str().unwrap_or("");
    assert!(note.contains("the index was corrupt"), "{status}");
    assert!(note.contains("rebuilt from the frames on disk"), "{status}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("index.db.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "the corrupt index kept for a post-mortem");
    // Every frame of before is back in the index, and capture goes on.
    let (_, page) = get_json(&format!(
        "{base}/frames?camera=bow&from=0&to=9999999999999&limit=1000"
    ))
    .await;
    assert!(page["frames"].as_array().unwrap().len() >= files.len());
    stored_at_least(&agent, 5).await;
    agent.shutdown().await.unwrap();
    assert_eq!(rows(dir.path()), jpeg_files(&dir.path().join("frames")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_that_takes_no_writes_is_a_state_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(agent_config(dir.path())).await.unwrap();
    let base = format!("http://{}/api/v1", agent.api_addr());
    stored_at_least(&agent, 5).await;
    let cam = agent.metrics().cameras()[0].clone();

    // Another process takes the index's write lock and keeps it.
    let holder = rusqlite::Connection::open(dir.path().join("index.db")).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let state = || async {
        let (_, s) = get_json(&format!("{base}/status")).await;
        s["store"]["state"].as_str().map(str::to_owned)
    };
    wait_for("the store's state", Duration::from_secs(30), || async {
        (state().await.as_deref() == Some("index_unwritable")).then_some(())
    })
    .await;
    let (_, cams) = get_json(&format!("{base}/cameras")).await;
    assert_eq!(cams["cameras"][0]["storing"], "index_unwritable");
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(metric(&text, "seaframe_store_state"), Some(3.0));
    // Frames still reach the disk and leave the stream: it stays short.
    let failed = cam.failed.load(Ordering::Relaxed);
    wait_for(
        "more frames past the locked index",
        Duration::from_secs(30),
        || async { (cam.failed.load(Ordering::Relaxed) >= failed + 10).then_some(()) },
    )
    .await;
    assert!(
        agent.metrics().queue_len.load(Ordering::Relaxed) < 100,
        "the stream grew while the index was locked"
    );

    // The lock goes: storing resumes, and the rows of the files written
    // meanwhile come back.
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    wait_for("storing again", Duration::from_secs(30), || async {
        (state().await.as_deref() == Some("ok")).then_some(())
    })
    .await;
    agent.shutdown().await.unwrap();
    assert_eq!(rows(dir.path()), jpeg_files(&dir.path().join("frames")));
}
