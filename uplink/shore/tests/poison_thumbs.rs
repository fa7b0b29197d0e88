//! Poison thumbnails through a real mosquitto: envelopes that decode but
//! hold no JPEG, a zero size, or a capture time outside the sane window are
//! each acked, counted by reason and not stored, while the good ones around
//! them are indexed, and the shore never reconnects over them.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use common::*;
use seaframe_shore::base::when::now_ns;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::Thumb;

const DAY_NS: i64 = 86_400_000_000_000;

/// A thumbnail of `aurora/mast` at `ns`, then changed by `f`.
fn make(ns: i64, f: impl FnOnce(&mut Thumb)) -> Vec<u8> {
    let mut t = thumb("aurora", "mast", ns);
    f(&mut t);
    t.encode().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_thumbnails_are_acked_counted_and_not_stored() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shore = start(config(&broker.url(), dir.path(), "shore-poison", None)).await;
    let vessel = Publisher::connect(broker.port(), "aurora", None).await;
    let topic = thumb_topic("aurora", "mast");
    let now = now_ns();

    let poison: Vec<(&str, Vec<u8>)> = vec![
        (
            "not_jpeg",
            make(now, |t| t.jpeg = b"\xff\xd8<html>hi</html>".to_vec()),
        ),
        (
            "not_jpeg",
            make(now + 1, |t| t.jpeg.truncate(t.jpeg.len() - 2)),
        ),
        (
            "not_jpeg",
            make(now + 2, |t| t.jpeg = b"GIF89a....".to_vec()),
        ),
        ("zero_size", make(now + 3, |t| t.meta.width = 0)),
        ("zero_size", make(now + 4, |t| t.meta.height = 0)),
        // The probe's i64 extremes (1677 and 2262), 1970, and two days ahead.
        ("stamped_before_2000", make(i64::MIN, |_| {})),
        ("stamped_before_2000", make(0, |_| {})),
        ("stamped_in_future", make(i64::MAX, |_| {})),
        ("stamped_in_future", make(now + 2 * DAY_NS, |_| {})),
    ];
    let mut good = 0u64;
    for (i, (_, payload)) in poison.iter().enumerate() {
        vessel.publish(&topic, payload.clone()).await;
        // A good one after each poison: ingest goes on past it.
        let ns = now - DAY_NS + i as i64 * 1_000_000_000;
        vessel
            .publish(&topic, thumb("aurora", "mast", ns).encode().unwrap())
            .await;
        good += 1;
    }
    let m = shore.metrics.clone();
    let total = poison.len() as u64 + good;
    until(20, "every message processed", || {
        let m = m.clone();
        async move {
            let dropped: u64 = [
                "not_jpeg",
                "zero_size",
                "stamped_before_2000",
                "stamped_in_future",
            ]
            .iter()
            .map(|r| m.dropped(r))
            .sum();
            m.thumbs_indexed.load(Ordering::SeqCst) + dropped >= total
        }
    })
    .await;
    assert_eq!(m.thumbs_indexed.load(Ordering::SeqCst), good);
    assert_eq!(shore.index.count_thumbs().await.unwrap(), good);
    let text = get(&format!("http://{}/metrics", shore.addr))
        .await
        .text()
        .await
        .unwrap();
    for reason in [
        "not_jpeg",
        "zero_size",
        "stamped_before_2000",
        "stamped_in_future",
    ] {
        let want = poison.iter().filter(|(r, _)| *r == reason).count();
        let line = format!("seaframe_shore_messages_dropped_total{{reason=\"{reason}\"}} {want}");
        assert!(text.contains(&line), "{line}\n{text}");
    }
    // Nothing of a poison reached the disk: only the good JPEGs are there.
    let files = walk(&dir.path().join("thumbs"));
    assert_eq!(files, good as usize);
    // Acked, not redelivered: one connection all along, and nothing more
    // arrives after a restart of the session.
    assert_eq!(m.mqtt_connects.load(Ordering::SeqCst), 1);
    assert_eq!(m.mqtt_publishes_received.load(Ordering::SeqCst), total);
    let cfg = config(&broker.url(), dir.path(), "shore-poison", None);
    shore.stop().await.unwrap();
    let again = start(cfg).await;
    let sentinel = thumb("aurora", "mast", now - 2 * DAY_NS).encode().unwrap();
    vessel.publish(&topic, sentinel).await;
    let m = again.metrics.clone();
    until(20, "the sentinel", || {
        let m = m.clone();
        async move { m.thumbs_indexed.load(Ordering::SeqCst) == 1 }
    })
    .await;
    assert_eq!(m.mqtt_publishes_received.load(Ordering::SeqCst), 1);
    again.stop().await.unwrap();
}

/// How many files are under `dir`.
fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { walk(&p) } else { 1 })
        .sum()
}
