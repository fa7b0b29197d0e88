//! The producer: moves frames from the capture hand-off into the stream,
//! reconnecting with back-off, and drains the hand-off at shutdown.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::adapters::queue::{ADD_BATCH_FRAMES, Queue, QueueError, RawConn};
use crate::base::backoff::{Backoff, pause};
use crate::base::frame::Frame;
use crate::base::handoff::Handoff;

/// Moves frames from the hand-off into the stream.
#[derive(Debug)]
pub struct Producer {
    pub queue: Queue,
    pub handoff: Handoff,
}

/// How long shutdown keeps trying to move the hand-off into the stream.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

impl Producer {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut conn: Option<RawConn> = None;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut failed_before = false;
        let mut last_len_check = tokio::time::Instant::now();
        loop {
            let batch = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                batch = self.handoff.pop_batch(ADD_BATCH_FRAMES * 4) => batch,
            };
            match self.deliver(&mut conn, &batch).await {
                Ok(()) => {
                    if failed_before {
                        self.queue
                            .metrics
                            .redis_reconnects
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::info!("Redis is back; frames flow again");
                        failed_before = false;
                    }
                    backoff.reset();
                }
                Err(e) => {
                    if !failed_before {
                        tracing::warn!(
                            "cannot add frames to Redis, keeping them in the hand-off: {e}"
                        );
                    }
                    failed_before = true;
                    conn = None;
                    self.handoff.unpop(batch);
                    if !pause(backoff.next_delay(), &shutdown).await {
                        break;
                    }
                }
            }
            if last_len_check.elapsed() >= Duration::from_secs(1) {
                last_len_check = tokio::time::Instant::now();
                if let Some(c) = conn.as_mut()
                    && let Ok(n) = self.queue.len(c).await
                {
                    self.queue.metrics.queue_len.store(n, Ordering::Relaxed);
                }
            }
        }
        self.drain(&mut conn).await;
        Ok(())
    }

    async fn deliver(&self, conn: &mut Option<RawConn>, batch: &[Frame]) -> Result<(), QueueError> {
        if conn.is_none() {
            let mut c = self.queue.connect_producer().await?;
            self.queue.recover_group(&mut c).await?;
            *conn = Some(c);
        }
        let c = conn.as_mut().expect("connected just above");
        match self.queue.add(c, batch).await {
            Err(QueueError::NoGroup) => {
                self.queue.recover_group(c).await?;
                self.queue.add(c, batch).await
            }
            other => other,
        }
    }

    /// At shutdown: one bounded attempt to move what is left into the stream.
    async fn drain(&self, conn: &mut Option<RawConn>) {
        let left = self.handoff.drain();
        if left.is_empty() {
            return;
        }
        let n = left.len();
        match tokio::time::timeout(DRAIN_TIMEOUT, self.deliver(conn, &left)).await {
            Ok(Ok(())) => tracing::info!(frames = n, "hand-off drained into the stream"),
            outcome => {
                let why = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".into(),
                };
                for f in &left {
                    self.queue
                        .metrics
                        .camera(&f.camera)
                        .dropped
                        .fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(
                    frames = n,
                    "could not drain the hand-off at shutdown ({why}); counted as dropped"
                );
            }
        }
    }
}
