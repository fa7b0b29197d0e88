//! A crash (abort: no destructors, no flushing) at each step of storing and
//! of deleting — before the rename, after it, after the commit, after the
//! ack, after marking and after unlinking, each at its first pass and at a
//! later one — then a restart: the store repairs itself and leaves no
//! orphans and no doubles — every row has its file, every file exactly one
//! row (compared as multisets), no temp files.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use seaframe_agent::base::faults::POINTS;
use seaframe_testkit::{Child, RedisServer, free_port};

fn config(dir: &std::path::Path, redis: &RedisServer) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{}\"\n[queue]\nredis_url = \"{}\"\n\
             [retention]\nretain_bytes = 60000\nmin_free_bytes = 0\n\
             [[cameras]]\nid = \"bow\"\nsource = \"testpattern\"\nfps = 20\nwidth = 160\nheight = 120\n",
            dir.join("data").display(),
            free_port().unwrap(),
            redis.url()
        ),
    )
    .unwrap();
    path
}

fn agent(config: &std::path::Path, crash_at: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seaframe-agent"));
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info");
    match crash_at {
        Some(point) => cmd.env("SEAFRAME_CRASH_AT", point),
        None => cmd.env_remove("SEAFRAME_CRASH_AT"),
    };
    cmd
}

/// (rows' paths, sorted, doubles kept; files' paths; temp files; rows
/// marked garbage).
fn state(data: &std::path::Path) -> (Vec<String>, Vec<String>, usize, i64) {
    let conn = rusqlite::Connection::open(data.join("index.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT rel_path FROM frames ORDER BY rel_path")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let garbage: i64 = conn
        .query_row("SELECT COUNT(*) FROM frames WHERE garbage = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let files: Vec<String> = common::jpeg_files(&data.join("frames"));
    let tmp = walk_count(&data.join("frames"), ".tmp");
    (rows, files, tmp, garbage)
}

fn walk_count(dir: &std::path::Path, suffix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_count(&p, suffix)
            } else {
                usize::from(p.to_string_lossy().ends_with(suffix))
            }
        })
        .sum()
}

#[test]
fn a_crash_at_any_step_of_storing_or_deleting_is_repaired_at_restart() {
    let kills: Vec<String> = POINTS
        .iter()
        .flat_map(|p| [p.to_string(), format!("{p}@6")])
        .collect();
    for point in &kills {
        let point = point.as_str();
        let redis = RedisServer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &redis);

        // Run until the crash point is reached (deleting needs retention to act).
        let (mut crashing, _) =
            Child::spawn_until(agent(&config, Some(point)), "agent", "api listening").unwrap();
        let status = crashing
            .wait_exit(Duration::from_secs(60))
            .unwrap_or_else(|| panic!("{point}: never reached"));
        assert!(!status.success(), "{point}: the agent should have aborted");

        // Restart: start-up repair, then a clean stop.
        let (mut again, _) =
            Child::spawn_until(agent(&config, None), "agent", "api listening").unwrap();
        // Let it store (and retention delete) well past the crashed run.
        let data = dir.path().join("data");
        let first_run = state(&data).0.len();
        common::wait_until_blocking(
            "frames stored after the restart",
            Duration::from_secs(30),
            || state(&data).0.len() > first_run + 10,
        );
        Command::new("kill")
            .args(["-TERM", &again.pid().to_string()])
            .status()
            .unwrap();
        let status = again
            .wait_exit(Duration::from_secs(30))
            .expect("clean stop");
        assert!(status.success(), "{point}: {status:?}");

        let (rows, files, tmp, garbage) = state(&dir.path().join("data"));
        assert!(
            !rows.is_empty(),
            "{point}: frames were stored after the restart"
        );
        let doubled: BTreeSet<&String> = rows
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| &w[0])
            .collect();
        assert!(
            doubled.is_empty(),
            "{point}: files with two rows: {doubled:?}"
        );
        assert_eq!(rows, files, "{point}: rows and files disagree");
        assert_eq!(
            (tmp, garbage),
            (0, 0),
            "{point}: temp files or garbage rows left"
        );
    }
}
