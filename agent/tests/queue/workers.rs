//! Workers storing into the real store and acking every entry away, and
//! claiming stale entries behind many live pending ones.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_store_every_entry_in_the_real_store_and_ack_it_away() {
    let (server, queue, mut conn, metrics) = setup(1000).await;
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(data.path()).unwrap());
    let start_ms = Timestamp::now().unix_nanos() / 1_000_000;
    let mut frames = Vec::new();
    for cam in ["a", "b"] {
        let id = CameraId::parse(cam).unwrap();
        let mut pattern = TestPattern::new(id.clone(), 64, 48);
        for seq in 0..20u64 {
            let at = Timestamp::from_unix_millis(start_ms + 40 * seq as i64);
            let jpeg = Bytes::from(pattern.render(at).unwrap());
            frames.push(Frame::new(
                id.clone(),
                seq,
                at,
                seaframe_agent::base::clock::ClockSource::System,
                64,
                48,
                jpeg,
            ));
        }
    }
    add(&queue, &frames).await;
    // A consumer that dies holding 5 entries…
    let held = queue.read_new(&mut conn, "dead", 5, 100).await.unwrap();
    assert_eq!(held.len(), 5);
    // …and an entry of camera b whose fields are garbage.
    let _: String = redis::cmd("XADD")
        .arg(STREAM_KEY)
        .arg("*")
        .arg("cam")
        .arg("b")
        .arg("seq")
        .arg("not-a-number")
        .query_async(&mut admin(&server.url()).await)
        .await
        .unwrap();

    let shutdown = CancellationToken::new();
    let workers: Vec<_> = (0..2)
        .map(|i| {
            tokio::spawn(
                Worker {
                    name: format!("worker-{i}"),
                    queue: queue.clone(),
                    store: Arc::clone(&store),
                    metrics: Arc::clone(&metrics),
                    batch_size: 16,
                    claim_idle_ms: 300,
                    gps: Arc::new(Gps::new(10)),
                    sharpness: None,
                }
                .run(shutdown.clone()),
            )
        })
        .collect();

    let stored = |m: &Metrics| {
        count(m, "a", |c| c.stored.load(Ordering::Relaxed))
            + count(m, "b", |c| c.stored.load(Ordering::Relaxed))
    };
    wait_for(
        "every entry stored and the stream empty",
        Duration::from_secs(20),
        || {
            let queue = queue.clone();
            let n = stored(&metrics);
            async move {
                let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
                (n == 40 && queue.len(&mut conn).await.unwrap() == 0).then_some(())
            }
        },
    )
    .await;
    shutdown.cancel();
    for w in workers {
        w.await.unwrap().unwrap();
    }

    assert_eq!(
        pending_count(&mut admin(&server.url()).await).await,
        0,
        "every entry acked"
    );
    assert_eq!(
        count(&metrics, "b", |c| c.failed.load(Ordering::Relaxed)),
        1
    );
    assert_eq!(
        count(&metrics, "a", |c| c.failed.load(Ordering::Relaxed)),
        0
    );
    assert!(
        metrics.claimed.load(Ordering::Relaxed) >= 5,
        "the dead consumer's entries were claimed"
    );
    let by_camera: Vec<(String, u64)> = store
        .count_by_camera()
        .unwrap()
        .into_iter()
        .map(|(c, n)| (c.to_string(), n))
        .collect();
    assert_eq!(by_camera, [("a".to_owned(), 20), ("b".to_owned(), 20)]);
    // Every frame is a file with the camera's own bytes (plus our EXIF).
    let mut files = Vec::new();
    let mut dirs = vec![store.frames_dir().to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert_eq!(files.len(), 40, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|x| x == "jpg"))
    );
    assert_eq!(
        metrics.store_latency.snapshot().2,
        40,
        "one latency sample per stored frame"
    );
}

#[tokio::test]
async fn stale_entries_behind_many_live_pending_ones_are_still_claimed() {
    let (_redis, queue, mut conn, _metrics) = setup(1000).await;
    let frames: Vec<Frame> = (0..55).map(|i| frame("a", i)).collect();
    add(&queue, &frames).await;
    // A live worker holds the 50 oldest; a dead one the 5 newest. One
    // XAUTOCLAIM with COUNT 2 scans only 20 pending entries: the claim has
    // to follow the cursor past the live ones.
    assert_eq!(
        queue
            .read_new(&mut conn, "live", 50, 100)
            .await
            .unwrap()
            .len(),
        50
    );
    assert_eq!(
        queue
            .read_new(&mut conn, "dead", 5, 100)
            .await
            .unwrap()
            .len(),
        5
    );
    let claimed = wait_for(
        "the dead consumer's entries to be claimable",
        Duration::from_secs(10),
        || {
            let queue = queue.clone();
            async move {
                let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
                // The live worker re-reads its entries: they stay fresh.
                let live = queue
                    .read_own_pending(&mut conn, "live", 100)
                    .await
                    .unwrap();
                assert_eq!(live.len(), 50);
                let c = queue.claim_stale(&mut conn, "other", 300, 2).await.unwrap();
                (!c.is_empty()).then_some(c)
            }
        },
    )
    .await;
    assert_eq!(seqs_of(&claimed), [50, 51]);
}
