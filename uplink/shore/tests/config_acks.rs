//! Config acks through a real broker: a `rolled_back` ack shows as such in
//! `GET /vessels/<v>/config` (last ack and history, with the time it was
//! received), in the live feed's `config` event and in `/metrics` (on
//! every index backend); the history keeps the newest 20; hostile ack
//! payloads (garbage, huge, a version out of range) are dropped and counted
//! while ingest goes on.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use seaframe_testkit::{MosquittoServer, wait_for};
use serde_json::Value;

const ACK_TOPIC: &str = "seaframe/v1/aurora/config/ack";

async fn config_of(addr: SocketAddr) -> Value {
    let (code, v) = get_json(addr, "/api/v1/vessels/aurora/config").await;
    assert_eq!(code, 200, "{v}");
    v
}

async fn metrics(addr: SocketAddr) -> String {
    get(&format!("http://{addr}/metrics"))
        .await
        .text()
        .await
        .unwrap()
}

/// Reads the SSE stream until a `config` event whose data satisfies `want`.
async fn config_event(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
    want: impl Fn(&Value) -> bool,
) -> Value {
    let mut buf = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if !block.lines().any(|l| l == "event: config") {
                    continue;
                }
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                let event: Value = serde_json::from_str(&data).unwrap();
                if want(&event) {
                    return event;
                }
            }
            let chunk = body.next().await.expect("the stream goes on").unwrap();
            buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("the config event in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_ack_shows_everywhere_and_the_history_keeps_twenty() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "config-acks").await {
        rolled_back(&url).await;
    }
}

async fn rolled_back(index_url: &str) {
    let broker = MosquittoServer::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let shore = start(config(
        &broker.url(),
        data.path(),
        "shore-a",
        Some(index_url),
    ))
    .await;
    let addr = shore.addr;
    let events = get(&format!("http://{addr}/api/v1/events")).await;
    let mut events = events.bytes_stream();
    let vessel = Publisher::connect(broker.port(), "aurora", None).await;

    let r = reqwest::Client::new()
        .patch(format!("http://{addr}/api/v1/vessels/aurora/config"))
        .bearer_auth(token(addr))
        .body(r#"{"uplink": {"mqtt_url": "mqtts://shore.example:8883"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let error = "no broker within 120 s with mqtts://shore.example:8883; back to version 0";
    vessel
        .publish(
            ACK_TOPIC,
            serde_json::to_vec(&serde_json::json!({
                "version": 1, "status": "rolled_back", "error": error,
            }))
            .unwrap(),
        )
        .await;

    let got = wait_for("the ack in GET config", Duration::from_secs(20), || async {
        let got = config_of(addr).await;
        (got["ack"]["status"] == "rolled_back").then_some(got)
    })
    .await;
    assert_eq!(got["ack"]["version"], 1, "{got}");
    assert_eq!(got["ack"]["error"], error);
    let received_at = got["ack"]["received_at"].as_str().unwrap();
    assert!(
        received_at.ends_with('Z') && received_at.len() == 30,
        "{got}"
    );
    assert_eq!(got["history"].as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got["history"][0], got["ack"]);
    // The desired overlay is still what shore wants (the vessel rolled back,
    // the shore did not).
    assert_eq!(
        got["desired"]["uplink"]["mqtt_url"],
        "mqtts://shore.example:8883"
    );

    let event = config_event(&mut events, |e| e["ack"]["status"] == "rolled_back").await;
    assert_eq!(event["vessel"], "aurora");
    assert_eq!(event["history"][0]["status"], "rolled_back", "{event}");
    assert_eq!(event["ack"]["error"], error);

    let text = metrics(addr).await;
    for line in [
        "seaframe_shore_config_acks_total{status=\"rolled_back\"} 1",
        "seaframe_shore_config_acks_total{status=\"applied\"} 0",
        "seaframe_shore_config_acks_total{status=\"rejected\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
    }

    // The history: the newest 20, newest first.
    for version in 2..=25u64 {
        let status = if version % 2 == 0 {
            "applied"
        } else {
            "rejected"
        };
        vessel
            .publish(
                ACK_TOPIC,
                format!(r#"{{"version": {version}, "status": "{status}"}}"#).into_bytes(),
            )
            .await;
    }
    let got = wait_for("the 25th ack", Duration::from_secs(20), || async {
        let got = config_of(addr).await;
        (got["ack"]["version"] == 25).then_some(got)
    })
    .await;
    let versions: Vec<u64> = got["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (6..=25).rev().collect::<Vec<_>>());
    assert_eq!(got["history"][0]["status"], "rejected");
    assert_eq!(got["history"][1]["status"], "applied");
    let text = metrics(addr).await;
    assert!(
        text.contains("seaframe_shore_config_acks_total{status=\"applied\"} 12"),
        "{text}"
    );
    shore.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_acks_are_dropped_and_counted() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shore = start(config(&broker.url(), dir.path(), "shore-h", None)).await;
    let vessel = Publisher::connect(broker.port(), "aurora", None).await;

    let huge_error = "x".repeat(1024 * 1024);
    for payload in [
        b"{not json".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
        Vec::new(),
        br#"{"version": 1, "status": "exploded"}"#.to_vec(),
        br#"{"version": -1, "status": "applied"}"#.to_vec(),
        // Nested past serde_json's depth limit, and over the size limit.
        "[".repeat(1000).into_bytes(),
        "[".repeat(100_000).into_bytes(),
        format!(r#"{{"version": 1, "status": "rejected", "error": "{huge_error}"}}"#).into_bytes(),
        br#"{"version": 18446744073709551615, "status": "applied"}"#.to_vec(),
    ] {
        vessel.publish(ACK_TOPIC, payload).await;
    }
    vessel
        .publish(
            ACK_TOPIC,
            br#"{"version": 7, "status": "applied"}"#.to_vec(),
        )
        .await;

    let addr = shore.addr;
    let got = wait_for("the good ack", Duration::from_secs(20), || async {
        let (code, got) = get_json(addr, "/api/v1/vessels/aurora/config").await;
        (code == 200 && got["ack"]["version"] == 7).then_some(got)
    })
    .await;
    assert_eq!(got["history"].as_array().unwrap().len(), 1, "{got}");
    let text = metrics(addr).await;
    for (reason, n) in [
        ("bad_json", 6),
        ("ack_too_large", 2),
        ("bad_ack_version", 1),
    ] {
        let line = format!("seaframe_shore_messages_dropped_total{{reason=\"{reason}\"}} {n}");
        assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
    }
    assert!(
        text.contains("seaframe_shore_config_acks_total{status=\"applied\"} 1"),
        "{text}"
    );
    shore.stop().await.unwrap();
}
