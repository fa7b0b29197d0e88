//! The agent's own redis-server: restarted when killed, the stream kept
//! across a clean stop, a stale dump never loaded, a running one adopted.

use super::*;

async fn pings(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let ping = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ping).await,
        Ok(Ok(_))
    )
}

fn sigkill(pid: u32) {
    assert_ne!(pid, 0, "a known pid");
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -KILL {pid}");
}

/// Waits until the supervised server has a new pid (≠ `old_pid`) and answers.
async fn wait_replaced(pid: &std::sync::atomic::AtomicU32, old_pid: u32, url: &str) -> u32 {
    wait_for(
        "a new redis-server answering",
        Duration::from_secs(20),
        || {
            let now = pid.load(Ordering::Relaxed);
            async move { (now != 0 && now != old_pid && pings(url).await).then_some(now) }
        },
    )
    .await
}

#[tokio::test]
async fn own_redis_is_restarted_when_killed_and_keeps_the_stream_across_a_clean_stop() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("redis");
    let own = OwnRedis::start(&dir).await.unwrap();
    let url = own.url();
    assert_eq!(url, format!("unix://{}", dir.join("redis.sock").display()));
    for spelling in [url.clone(), url.replacen("unix://", "redis+unix://", 1)] {
        assert!(pings(&spelling).await, "{spelling} answers PING");
    }
    let pid = own.pid_handle();
    let restarts = own.restarts_handle();
    let first_pid = pid.load(Ordering::Relaxed);
    let shutdown = CancellationToken::new();
    let supervisor = tokio::spawn(own.run(shutdown.clone()));

    sigkill(first_pid);
    wait_replaced(&pid, first_pid, &url).await;
    assert_eq!(restarts.load(Ordering::Relaxed), 1);

    // A stream with pending entries, then a clean stop: SHUTDOWN SAVE.
    let metrics = Arc::new(Metrics::default());
    let queue = Queue::new(&url, 100, Arc::clone(&metrics)).unwrap();
    let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
    queue.ensure_group(&mut conn).await.unwrap();
    let frames: Vec<Frame> = (0..5).map(|i| frame("a", i)).collect();
    add(&queue, &frames).await;
    assert_eq!(
        queue
            .read_new(&mut conn, "worker-0", 2, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    shutdown.cancel();
    supervisor.await.unwrap().unwrap();
    assert!(dir.join("dump.rdb").is_file(), "saved at the clean stop");
    assert!(!pings(&url).await, "stopped");

    // The next start reloads it: same entries, the same ones pending.
    let again = OwnRedis::start(&dir).await.unwrap();
    let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
    assert!(
        !queue.ensure_group(&mut conn).await.unwrap(),
        "the group came back"
    );
    assert_eq!(queue.len(&mut conn).await.unwrap(), 5);
    let own_pending = queue
        .read_own_pending(&mut conn, "worker-0", 10)
        .await
        .unwrap();
    assert_eq!(seqs_of(&own_pending), [0, 1]);
    let rest = queue
        .read_new(&mut conn, "worker-0", 10, 100)
        .await
        .unwrap();
    assert_eq!(seqs_of(&rest), [2, 3, 4]);
    assert_eq!(
        frames[..2],
        [
            own_pending[0].frame.clone().unwrap(),
            own_pending[1].frame.clone().unwrap()
        ]
    );
    drop(again);
}

#[tokio::test]
async fn a_dump_older_than_the_index_is_never_loaded_and_what_died_is_counted() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("redis");
    let metrics = Arc::new(Metrics::default());
    let cam = metrics.register_camera(&CameraId::parse("a").unwrap(), 1.0);
    // Five frames in the stream, saved by a clean stop.
    let own = OwnRedis::start(&dir).await.unwrap();
    let url = own.url();
    let queue = Queue::new(&url, 100, Arc::clone(&metrics)).unwrap();
    let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
    queue.ensure_group(&mut conn).await.unwrap();
    let frames: Vec<Frame> = (0..8).map(|i| frame("a", i)).collect();
    queue
        .add(&mut queue.connect_producer().await.unwrap(), &frames[..5])
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let supervisor = tokio::spawn(own.run(shutdown.clone()));
    shutdown.cancel();
    supervisor.await.unwrap().unwrap();
    assert!(
        dir.join("clean-stop").exists(),
        "a clean stop marks its dump"
    );

    // The next start loads it; the workers store and ack all five (the
    // index changes after the dump); three more wait in the stream.
    let own = OwnRedis::start(&dir).await.unwrap();
    assert!(!dir.join("clean-stop").exists(), "the dump is history now");
    let pid = own.pid_handle();
    let first_pid = pid.load(Ordering::Relaxed);
    let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
    let read = queue
        .read_new(&mut conn, "worker-0", 10, 100)
        .await
        .unwrap();
    assert_eq!(seqs_of(&read), [0, 1, 2, 3, 4]);
    std::fs::write(data.path().join("index.db"), b"rows of frames 0-4").unwrap();
    let ids: Vec<String> = read.iter().map(|e| e.id.clone()).collect();
    queue.ack(&mut conn, &ids).await.unwrap();
    cam.stored.fetch_add(5, Ordering::Relaxed);
    queue
        .add(&mut queue.connect_producer().await.unwrap(), &frames[5..])
        .await
        .unwrap();

    // The server dies. Its replacement must not travel back to the dump
    // (frames 0-4, stored and perhaps deleted since, would come back):
    // it starts empty, and the three frames it held are counted lost.
    let shutdown = CancellationToken::new();
    let supervisor = tokio::spawn(own.run(shutdown.clone()));
    sigkill(first_pid);
    wait_replaced(&pid, first_pid, &url).await;
    assert!(
        dir.join("dump.rdb.stale").exists(),
        "the stale dump set aside"
    );
    let mut conn = queue.connect(Duration::from_secs(5)).await.unwrap();
    assert_eq!(queue.len(&mut conn).await.unwrap(), 0, "nothing came back");
    queue.recover_group(&mut conn).await.unwrap();
    assert_eq!(cam.lost.load(Ordering::Relaxed), 3);
    shutdown.cancel();
    supervisor.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_running_own_redis_is_adopted_and_replaced_when_it_dies() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("redis");
    // As if left running by an agent that was SIGKILLed.
    let left_over = OwnRedis::start(&dir).await.unwrap();
    let left_pid = left_over.pid_handle().load(Ordering::Relaxed);

    let adopter = OwnRedis::start(&dir).await.unwrap();
    let pid = adopter.pid_handle();
    let restarts = adopter.restarts_handle();
    assert_eq!(
        pid.load(Ordering::Relaxed),
        left_pid,
        "adopted, not started twice"
    );
    let url = adopter.url();
    let shutdown = CancellationToken::new();
    let supervisor = tokio::spawn(adopter.run(shutdown.clone()));

    sigkill(left_pid);
    wait_replaced(&pid, left_pid, &url).await;
    assert_eq!(restarts.load(Ordering::Relaxed), 1);
    shutdown.cancel();
    supervisor.await.unwrap().unwrap();
    assert!(!pings(&url).await, "our own server stopped with us");
    drop(left_over);
}
