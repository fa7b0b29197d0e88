//! IP cameras that want HTTP Digest, against the test kit's camera, which
//! issues its own challenges and checks every answer: snapshot and MJPEG
//! frames stored end to end with one request per snapshot once answered,
//! never a password in clear, a wrong password shown as `unauthorized`
//! with a clear reason and nothing stored, and no password in the API or
//! in the real binary's log. A camera that asks for Basic still gets it.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

mod common;

use std::time::Duration;

use common::{camera, config, get_json, jpeg_files, wait_for};
use seaframe_agent::app::Agent;
use seaframe_testkit::{
    Child, DigestOptions, HttpCamera, HttpCameraOptions, RedisServer, free_port,
};
use serde_json::Value;

const PASSWORD: &str = "s3cr3t-d1gest";
const WRONG: &str = "wrongpass7";

fn digest_camera(algorithm: &str) -> HttpCamera {
    HttpCamera::start_with(HttpCameraOptions {
        width: 320,
        height: 240,
        fps: 10,
        credentials: Some(("admin".into(), PASSWORD.into())),
        digest: Some(DigestOptions {
            algorithm: algorithm.into(),
            nonce_uses: 0,
            ..DigestOptions::default()
        }),
    })
    .unwrap()
}

/// `http://admin:PASSWORD@127.0.0.1:PORT` of a kit camera.
fn with_user(cam: &HttpCamera, password: &str) -> String {
    cam.url()
        .trim_end_matches('/')
        .replace("http://", &format!("http://admin:{password}@"))
}

fn find<'a>(cams: &'a [Value], id: &str) -> &'a Value {
    cams.iter().find(|c| c["id"] == id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_cameras_store_frames_and_a_wrong_password_is_unauthorized() {
    let redis = RedisServer::start().unwrap();
    let md5 = digest_camera("MD5");
    let sha = digest_camera("SHA-256");
    let basic = HttpCamera::start_with(HttpCameraOptions {
        width: 320,
        height: 240,
        credentials: Some(("admin".into(), PASSWORD.into())),
        ..HttpCameraOptions::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cams = [
        camera(
            "snap",
            &format!("{}/snapshot.jpg", with_user(&md5, PASSWORD)),
            5.0,
            320,
            240,
        ),
        camera(
            "stream",
            &format!("mjpeg:{}/stream.mjpg", with_user(&sha, PASSWORD)),
            5.0,
            320,
            240,
        ),
        camera(
            "basic",
            &format!("{}/snapshot.jpg", with_user(&basic, PASSWORD)),
            5.0,
            320,
            240,
        ),
        camera(
            "wrong",
            &format!("{}/snapshot.jpg", with_user(&sha, WRONG)),
            5.0,
            320,
            240,
        ),
    ]
    .concat();
    let agent = Agent::start(config(dir.path(), Some(&redis.url()), &cams, ""))
        .await
        .unwrap();
    let api = format!("http://{}/api/v1", agent.api_addr());

    let (body, cams) = wait_for(
        "both Digest cameras storing, the wrong password refused",
        Duration::from_secs(30),
        || async {
            let (_, body) = get_json(&format!("{api}/cameras")).await;
            let cams = body["cameras"].as_array()?.clone();
            let stored = |id: &str| find(&cams, id)["stored"].as_u64().unwrap_or(0);
            let refused = find(&cams, "wrong")["state"]["state"] == "retrying";
            (stored("snap") >= 5 && stored("stream") >= 3 && stored("basic") >= 3 && refused)
                .then(|| (body.to_string(), cams))
        },
    )
    .await;

    for id in ["snap", "stream", "basic"] {
        let c = find(&cams, id);
        assert_eq!(c["state"]["state"], "ok", "{c}");
        assert_eq!(c["capture_errors"], 0, "{c}");
    }
    // One request per snapshot once answered: the first was the only one
    // challenged, and every answer was right.
    let snap = find(&cams, "snap");
    let counts = md5.auth_counts();
    assert_eq!(counts.challenged, 1, "{counts:?}");
    assert_eq!((counts.refused, counts.stale, counts.basic), (0, 0, 0));
    assert!(
        counts.accepted >= snap["captured"].as_u64().unwrap(),
        "{counts:?} {snap}"
    );

    let wrong = find(&cams, "wrong");
    let error = wrong["state"]["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "unauthorized: HTTP 401: the camera refused user \"admin\" (Digest SHA-256)"
        ),
        "{error}"
    );
    assert!(
        wrong["state"]["retry_in_ms"].as_u64() >= Some(5000),
        "{wrong}"
    );
    assert_eq!(
        (wrong["captured"].as_u64(), wrong["stored"].as_u64()),
        (Some(0), Some(0))
    );
    // The wrong password was answered by Digest, never sent in clear.
    let counts = sha.auth_counts();
    assert!(counts.refused >= 1, "{counts:?}");
    assert_eq!(counts.basic, 0, "{counts:?}");

    let (_, status) = get_json(&format!("{api}/status")).await;
    let (_, effective) = get_json(&format!("{api}/config")).await;
    for text in [body, status.to_string(), effective.to_string()] {
        for secret in [PASSWORD, WRONG] {
            assert!(!text.contains(secret), "{secret} shown in {text}");
        }
    }
    agent.shutdown().await.unwrap();
    let files = jpeg_files(&dir.path().join("frames"));
    assert!(files.iter().any(|f| f.starts_with("snap/")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("stream/")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("basic/")), "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("wrong/")), "{files:?}");
}

#[test]
fn the_agents_log_names_the_refusal_but_never_the_password() {
    let redis = RedisServer::start().unwrap();
    let cam = digest_camera("MD5-sess");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "vessel = \"v\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
             [queue]\nredis_url = \"{}\"\n{}",
            dir.path().join("data").display(),
            redis.url(),
            camera(
                "mast",
                &format!("{}/snapshot.jpg", with_user(&cam, WRONG)),
                5.0,
                320,
                240
            ),
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_seaframe-agent"));
    cmd.arg("run")
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "debug");
    let (mut agent, _) = Child::spawn_until(cmd, "seaframe-agent", "api listening").unwrap();
    // The kit keeps a process's last 40 lines: read them as the refusal
    // shows, before more debug lines push it out.
    let refusal = "capture failed: unauthorized: HTTP 401: the camera refused user \"admin\" (Digest MD5-sess)";
    let mut log = String::new();
    common::wait_until_blocking("the refusal in the log", Duration::from_secs(20), || {
        log = agent.said();
        log.contains(refusal)
    });
    assert!(!log.contains(WRONG), "the password in the log:\n{log}");
    agent.terminate(Duration::from_secs(10));
    let log = agent.said();
    assert!(!log.contains(WRONG), "the password in the log:\n{log}");
    assert!(cam.auth_counts().refused >= 1);
    assert_eq!(cam.auth_counts().basic, 0);
}
