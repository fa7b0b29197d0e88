//! The index's side of remote configuration, on SQLite always and on
//! PostgreSQL when `SEAFRAME_TEST_PG_URL` is set: a PATCH folds into the
//! stored overlay (one key changed, every other kept, `null` resets a
//! section), a result too large is refused with nothing stored, patches
//! from two shores on one database at once all land with versions in a
//! row, and the ack history keeps the newest 20, newest first, a
//! redelivery once.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::index_urls;
use seaframe_shore::adapters::config::IndexUrl;
use seaframe_shore::adapters::index::{self, ACK_HISTORY_LEN, Index, IndexError};
use seaframe_shore::base::desired::MAX_DESIRED_BYTES;
use seaframe_wire::VesselName;
use seaframe_wire::message::{AckStatus, ConfigAck};
use serde_json::json;

async fn open(url: &str) -> Arc<dyn Index> {
    index::open(&IndexUrl::parse(url).unwrap()).await.unwrap()
}

fn name(s: &str) -> VesselName {
    VesselName::parse(s).unwrap()
}

async fn patches_fold_into_the_overlay(ix: &dyn Index) {
    let v = name("aurora");
    let c = ix
        .patch_config(
            &v,
            &json!({"retention": {"max_age_s": 60}, "gps": {"source": "none"}}),
        )
        .await
        .unwrap();
    assert_eq!(c.version, 1);
    let c = ix
        .patch_config(&v, &json!({"retention": {"retain_bytes": 5}}))
        .await
        .unwrap();
    assert_eq!(c.version, 2);
    assert_eq!(
        c.desired,
        json!({"retention": {"max_age_s": 60, "retain_bytes": 5}, "gps": {"source": "none"}})
    );
    let c = ix.patch_config(&v, &json!({"gps": null})).await.unwrap();
    assert_eq!(
        (c.version, &c.desired),
        (
            3,
            &json!({"retention": {"max_age_s": 60, "retain_bytes": 5}})
        )
    );
    let stored = ix.config(&v).await.unwrap().unwrap();
    assert_eq!((stored.version, &stored.desired), (3, &c.desired));

    // Too large: refused, nothing stored.
    let big = json!({"gps": {"source": "x".repeat(MAX_DESIRED_BYTES)}});
    match ix.patch_config(&v, &big).await {
        Err(IndexError::Refused(e)) => assert!(e.bytes > MAX_DESIRED_BYTES),
        other => panic!("{other:?}"),
    }
    let after = ix.config(&v).await.unwrap().unwrap();
    assert_eq!(after, stored);
    // And a vessel first met by a refused PATCH has no config at all.
    assert!(ix.patch_config(&name("nobody"), &big).await.is_err());
    assert!(ix.config(&name("nobody")).await.unwrap().is_none());

    // PUT replaces whole and counts on from the same versions.
    assert_eq!(
        ix.put_config(&v, &json!({"uplink": {"thumbs_per_s": 2}}))
            .await
            .unwrap(),
        4
    );
    let c = ix
        .patch_config(&v, &json!({"cameras": {"bow": {"fps": 2.0}}}))
        .await
        .unwrap();
    assert_eq!(
        (c.version, c.desired),
        (
            5,
            json!({"uplink": {"thumbs_per_s": 2}, "cameras": {"bow": {"fps": 2.0}}})
        )
    );
    // Emptied: an overlay with nothing in it (all from the file).
    let c = ix
        .patch_config(&v, &json!({"uplink": null, "cameras": null}))
        .await
        .unwrap();
    assert_eq!((c.version, c.desired), (6, json!({})));
}

async fn the_history_keeps_the_newest_acks(ix: &dyn Index) {
    let v = name("boreas");
    assert!(ix.ack_history(&v).await.unwrap().is_empty());
    let status = |i: u64| match i % 3 {
        0 => AckStatus::RolledBack,
        1 => AckStatus::Applied,
        _ => AckStatus::Rejected,
    };
    for i in 1..=25u64 {
        let ack = ConfigAck {
            version: i,
            status: status(i),
            error: (status(i) != AckStatus::Applied).then(|| format!("problem {i}")),
        };
        ix.store_ack(&v, &ack, 1000 + i as i64).await.unwrap();
    }
    let history = ix.ack_history(&v).await.unwrap();
    assert_eq!(history.len(), ACK_HISTORY_LEN);
    let versions: Vec<u64> = history.iter().map(|a| a.ack.version).collect();
    assert_eq!(versions, (6..=25).rev().collect::<Vec<_>>());
    let newest = &history[0];
    assert_eq!(
        (
            newest.ack.status,
            newest.ack.error.as_deref(),
            newest.received_at_ns
        ),
        (AckStatus::Applied, None, Some(1025))
    );
    assert_eq!(history[1].ack.status, AckStatus::RolledBack);
    assert_eq!(history[1].ack.error.as_deref(), Some("problem 24"));
    // An ack alone makes a config state (version 0: nothing pushed).
    let state = ix.config(&v).await.unwrap().unwrap();
    assert_eq!(state.version, 0);
    assert_eq!(state.ack.as_ref(), Some(newest));

    // A redelivery of the newest is not kept twice (nor is its time changed).
    ix.store_ack(&v, &newest.ack, 5000).await.unwrap();
    assert_eq!(ix.ack_history(&v).await.unwrap(), history);
    assert_eq!(
        ix.config(&v).await.unwrap().unwrap().ack.as_ref(),
        Some(newest)
    );
    // The same version with another outcome is a new ack.
    let rolled = ConfigAck {
        version: 25,
        status: AckStatus::RolledBack,
        error: Some("no broker within 60 s".into()),
    };
    ix.store_ack(&v, &rolled, 6000).await.unwrap();
    let history = ix.ack_history(&v).await.unwrap();
    assert_eq!(history.len(), ACK_HISTORY_LEN);
    assert_eq!(
        (&history[0].ack, history[0].received_at_ns),
        (&rolled, Some(6000))
    );
    assert_eq!(history[1].ack.version, 25);
    assert_eq!(history.last().unwrap().ack.version, 7);
    // Another vessel's history is its own.
    assert!(ix.ack_history(&name("aurora")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_fold_and_acks_are_kept_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "config-index").await {
        let ix = open(&url).await;
        patches_fold_into_the_overlay(ix.as_ref()).await;
        the_history_keeps_the_newest_acks(ix.as_ref()).await;
        // Opening again (the migrations are done) keeps it all.
        drop(ix);
        let ix = open(&url).await;
        assert_eq!(
            ix.ack_history(&name("boreas")).await.unwrap().len(),
            ACK_HISTORY_LEN
        );
        assert_eq!(
            ix.config(&name("aurora")).await.unwrap().unwrap().version,
            6
        );
    }
}

/// Two shores (two index handles, each with its own connections) on one
/// database PATCH the same vessel at once, starting before it has a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_from_two_shores_are_all_kept() {
    const EACH: usize = 15;
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "config-race").await {
        let (a, b) = (open(&url).await, open(&url).await);
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = [("a", a.clone()), ("b", b.clone())]
            .into_iter()
            .map(|(shore, ix)| {
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let mut versions = Vec::new();
                    for i in 0..EACH {
                        let patch = json!({"cameras": {format!("{shore}-{i}"): {"fps": 1.0}}});
                        let c = ix.patch_config(&name("aurora"), &patch).await.unwrap();
                        versions.push(c.version);
                    }
                    versions
                })
            })
            .collect();
        let mut versions = Vec::new();
        for t in tasks {
            versions.extend(t.await.unwrap());
        }
        versions.sort_unstable();
        assert_eq!(versions, (1..=2 * EACH as u64).collect::<Vec<_>>());
        let state = a.config(&name("aurora")).await.unwrap().unwrap();
        assert_eq!(state.version, 2 * EACH as u64);
        let cameras = state.desired["cameras"].as_object().unwrap();
        assert_eq!(cameras.len(), 2 * EACH, "{}", state.desired);
        assert_eq!(b.config(&name("aurora")).await.unwrap().unwrap(), state);
    }
}
