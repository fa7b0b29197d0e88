//! A full disk while capture runs: frames that cannot be written are
//! counted as failed, the agent stays up and capture goes on, and storing
//! resumes by itself once there is room again. Runs on a real 4 MB tmpfs
//! mounted for the test (needs root, as CI and the dev machines have).

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{camera, get_json, wait_for};
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::Config;
use seaframe_testkit::RedisServer;

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount tmpfs (root needed): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_frames_counted_and_capture_goes_on() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    }
    let redis = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _fs = Tmpfs::mount(&data, "4m");
    let text = format!(
        "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n[queue]\nredis_url = \"{}\"\n\
         [retention]\nmin_free_bytes = 0\n{}",
        data.display(),
        redis.url(),
        camera("bow", "testpattern", 20.0, 320, 240)
    );
    let agent = Agent::start(Config::from_toml(&text, "test").unwrap())
        .await
        .unwrap();
    let cam = agent.metrics().cameras()[0].clone();
    wait_for("frames stored", Duration::from_secs(20), || async {
        (cam.stored.load(Ordering::Relaxed) >= 5).then_some(())
    })
    .await;

    // Fill the filesystem to the last byte.
    let ballast = data.join("ballast");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&ballast).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
    }
    wait_for(
        "frames failing on the full disk",
        Duration::from_secs(30),
        || async { (cam.failed.load(Ordering::Relaxed) >= 3).then_some(()) },
    )
    .await;
    let captured = cam.captured.load(Ordering::Relaxed);
    wait_for("capture going on", Duration::from_secs(10), || async {
        (cam.captured.load(Ordering::Relaxed) > captured + 5).then_some(())
    })
    .await;
    let (status, _) = get_json(&format!("http://{}/healthz", agent.api_addr())).await;
    assert_eq!(status, 200, "the agent is up");
    // Said where people look: the status, the camera, the metrics.
    let base = format!("http://{}/api/v1", agent.api_addr());
    let (_, s) = get_json(&format!("{base}/status")).await;
    assert_eq!(s["store"]["state"], "disk_full", "{s}");
    assert_eq!(s["cameras"][0]["storing"], "disk_full", "{s}");

    // Room again: storing resumes by itself.
    std::fs::remove_file(&ballast).unwrap();
    let stored = cam.stored.load(Ordering::Relaxed);
    wait_for("storing to resume", Duration::from_secs(30), || async {
        (cam.stored.load(Ordering::Relaxed) > stored + 5).then_some(())
    })
    .await;
    let (_, s) = get_json(&format!("{base}/status")).await;
    assert_eq!(s["store"]["state"], "ok", "{s}");
    agent.shutdown().await.unwrap();
}
