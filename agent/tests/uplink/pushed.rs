//! Configs pushed from shore through the real broker: applied live, or
//! rejected with the reason, each acked.

use super::*;

async fn push(client: &AsyncClient, vessel: &str, version: u64, config: serde_json::Value) {
    let payload = serde_json::to_vec(&ConfigPush { version, config }).unwrap();
    client
        .publish(
            format!("seaframe/v1/{vessel}/config"),
            QoS::AtLeastOnce,
            true,
            payload,
        )
        .await
        .unwrap();
}

fn acks(seen: &[Seen]) -> Vec<&ConfigAck> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Ack(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_configs_are_applied_live_or_rejected_with_the_reason() {
    let broker = MosquittoServer::start().unwrap();
    let (client, mut rx) = subscribe(&broker, None).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &broker.url(),
        &camera("bow", "testpattern", 2.0, 160, 120),
        "",
    );
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, cfg.text.expose()).unwrap();
    let file_before = std::fs::read(&path).unwrap();
    let agent = Agent::start(seaframe_agent::adapters::config::files::load(&path).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}/api/v1", agent.api_addr());
    let mut seen = Vec::new();
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(20),
        "the agent online",
        |s| {
            s.iter()
                .any(|m| matches!(m, Seen::Status(st) if st.health.is_some()))
        },
    )
    .await;

    // Another vessel's config: never applied (no ack comes for it).
    push(
        &client,
        "other-vessel",
        1,
        serde_json::json!({"cameras": []}),
    )
    .await;
    // A valid one: bow to 10 fps and a new camera.
    let cams = serde_json::json!({"cameras": [
        {"id": "bow", "source": "testpattern", "fps": 10.0, "width": 160, "height": 120},
        {"id": "mast", "source": "testpattern", "fps": 2.0, "width": 160, "height": 120}]});
    push(&client, "test-vessel", 1, cams).await;
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(20),
        "ack of version 1",
        |s| !acks(s).is_empty(),
    )
    .await;
    let a = acks(&seen)[0];
    assert_eq!(
        (a.version, a.status, a.error.as_deref()),
        (1, AckStatus::Applied, None)
    );
    let fps = |v: &serde_json::Value, id: &str| {
        v["cameras"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["fps"].as_f64().unwrap())
    };
    let (_, cams) = get_json(&format!("{base}/cameras")).await;
    assert_eq!(fps(&cams, "bow"), Some(10.0));
    assert_eq!(fps(&cams, "mast"), Some(2.0));
    // The frame rate follows: 10 fps is visible within two seconds.
    let bow = agent.metrics().camera(&"bow".parse().unwrap());
    let n0 = bow.captured.load(Ordering::Relaxed);
    let t0 = std::time::Instant::now();
    wait_for("15 frames of bow", Duration::from_secs(10), || async {
        (bow.captured.load(Ordering::Relaxed) >= n0 + 15).then_some(())
    })
    .await;
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "15 frames took {:?}",
        t0.elapsed()
    );
    // Kept as an overlay in the data directory; the operator's file is
    // never written. The API says where each key comes from.
    assert_eq!(std::fs::read(&path).unwrap(), file_before);
    assert!(dir.path().join("config/pushed.json").exists());
    let (_, effective) = get_json(&format!("{base}/config")).await;
    let key = |k: &str| effective["config"][k].clone();
    assert_eq!(key("cameras[0].fps")["value"], 10.0);
    assert_eq!(key("cameras[0].fps")["from"], "push 1");
    assert_eq!(key("vessel")["from"], "file");
    assert_eq!(key("queue.workers")["from"], "default");
    assert_eq!(effective["push"]["active_version"], 1);

    // An invalid one: rejected with the reason, nothing changes.
    push(&client, "test-vessel", 2, serde_json::json!({"cameras": [{"id": "bow", "source": "testpattern", "fps": -1}], "vessel": "x"})).await;
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(20),
        "ack of version 2",
        |s| acks(s).len() >= 2,
    )
    .await;
    let a = acks(&seen)[1];
    assert_eq!((a.version, a.status), (2, AckStatus::Rejected));
    let error = a.error.clone().unwrap();
    assert!(
        error.contains("vessel: cannot be changed from shore"),
        "{error}"
    );
    let (_, cams) = get_json(&format!("{base}/cameras")).await;
    assert_eq!(fps(&cams, "bow"), Some(10.0));
    assert_eq!(std::fs::read(&path).unwrap(), file_before);
    // The status (the crew page's panel) says so, with the uplink's figures.
    let (_, status) = get_json(&format!("{base}/status")).await;
    let last = &status["config"]["last_push"];
    assert_eq!(
        (&last["version"], &last["outcome"]),
        (&2.into(), &"rejected".into()),
        "{status}"
    );
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("vessel: cannot be changed"),
        "{status}"
    );
    let uplink = &status["uplink"];
    assert_eq!(uplink["link"], "live", "{status}");
    assert!(uplink["outbox_backlog"].is_u64(), "{status}");
    assert!(
        uplink["last_contact"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{status}"
    );
    assert!(
        status["disk"]["frames_bytes"].as_u64() > Some(0),
        "{status}"
    );
    // Version 1 again: already handled, ignored. Version 3 (the shore's
    // whole overlay, as it always sends): applied, key by key.
    push(
        &client,
        "test-vessel",
        1,
        serde_json::json!({"cameras": []}),
    )
    .await;
    push(
        &client,
        "test-vessel",
        3,
        serde_json::json!({"cameras": {"bow": {"fps": 10.0}, "mast": {"source": "testpattern", "fps": 2.0, "width": 160, "height": 120}},
                           "retention": {"max_age_s": 86400}}),
    )
    .await;
    collect(
        &mut rx,
        &mut seen,
        Duration::from_secs(20),
        "ack of version 3",
        |s| acks(s).len() >= 3,
    )
    .await;
    let versions: Vec<u64> = acks(&seen).iter().map(|a| a.version).collect();
    assert_eq!(
        versions,
        [1, 2, 3],
        "the other vessel's and the repeated version got no ack"
    );
    assert_eq!(agent.metrics().camera(&"mast".parse().unwrap()).fps, 2.0);
    let (_, effective) = get_json(&format!("{base}/config")).await;
    let key = |k: &str| effective["config"][k].clone();
    assert_eq!(key("retention.max_age_s")["from"], "push 3");
    assert_eq!(key("retention.retain_bytes")["from"], "default");
    assert_eq!(key("cameras[1].id")["value"], "mast");
    let history: Vec<(u64, String)> = effective["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["version"].as_u64().unwrap(),
                h["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (3, "applied".into()),
            (2, "rejected".into()),
            (1, "applied".into())
        ]
    );
    assert_eq!(
        agent
            .metrics()
            .uplink
            .configs_applied
            .load(Ordering::Relaxed),
        2
    );
    assert_eq!(
        agent
            .metrics()
            .uplink
            .configs_rejected
            .load(Ordering::Relaxed),
        1
    );
    agent.shutdown().await.unwrap();
}
