//! The second stage: decodes batches of messages, stores their JPEGs and
//! indexes them in one transaction, then acks them (see [`super`]); the
//! next batch's JPEGs are stored while one batch is indexed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::adapters::blobs::{BlobName, Blobs, NewBlob};
use crate::base::backoff::{self, pause};
use crate::services::ingest::decode::{Work, decode_one, new_thumb};
use crate::services::ingest::{Ack, BATCH_MAX, Delivery, Flow, Sinks};
use seaframe_wire::ThumbMeta;
use seaframe_wire::VesselName;
use seaframe_wire::message::Health;

use crate::adapters::index::{Index, NewThumb, StatusUpdate};
use crate::base::when::now_ns;
use crate::services::metrics::{Metrics, add};

/// Decodes, stores and indexes batches; acks after the commit.
#[derive(Debug)]
pub struct Writer {
    rx: mpsc::Receiver<Delivery>,
    steps: Steps,
    /// Cancelled when this stage returns, whatever the reason.
    done: CancellationToken,
}

/// What the writer's two phases share (apart from its channel).
#[derive(Debug)]
struct Steps {
    client: AsyncClient,
    index: Arc<dyn Index>,
    blobs: Blobs,
    metrics: Arc<Metrics>,
    committed: Arc<Notify>,
    flow: Arc<Flow>,
    /// To the receiver, which writes them.
    acks: mpsc::UnboundedSender<Vec<Ack>>,
    /// The receiver's current connection.
    connection: Arc<AtomicU64>,
}

/// A batch whose JPEGs are stored, to be indexed and acked.
#[derive(Debug)]
struct Stored {
    batch: Vec<Delivery>,
    thumbs: Vec<(Box<ThumbMeta>, usize)>,
    rest: Vec<Work>,
}

impl Writer {
    pub(super) fn new(
        rx: mpsc::Receiver<Delivery>,
        client: AsyncClient,
        sinks: Sinks,
        flow: Arc<Flow>,
        acks: mpsc::UnboundedSender<Vec<Ack>>,
        connection: Arc<AtomicU64>,
        done: CancellationToken,
    ) -> Self {
        Self {
            rx,
            steps: Steps {
                client,
                index: sinks.index,
                blobs: sinks.blobs,
                metrics: sinks.metrics,
                committed: sinks.committed,
                flow,
                acks,
                connection,
            },
            done,
        }
    }

    /// Two phases in step: while one batch is indexed and acked, the next
    /// is taken and its JPEGs stored (the blob store and the index wait on
    /// different disks or servers, so each hides the other's latency).
    /// A batch is indexed only once its JPEGs are stored, and acked only
    /// once committed.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let _done = self.done.clone().drop_guard();
        let Self { rx, steps, .. } = &mut self;
        let mut stored: Option<Stored> = None;
        loop {
            let ready = stored.take();
            let index = async {
                match ready {
                    Some(s) => steps.index_and_ack(s, &shutdown).await,
                    None => true,
                }
            };
            let (indexed, next) = tokio::join!(index, steps.take_and_store(rx, &shutdown));
            if !indexed {
                break;
            }
            // `None`: shutdown, or the channel closed (the receiver ended).
            let Some(next) = next else { break };
            stored = Some(next);
        }
        Ok(())
    }
}

impl Steps {
    /// Takes the next batch, decodes it and stores its JPEGs, retrying
    /// (with back-off) until they are stored. `None`: the channel closed or
    /// shutdown came first (nothing of it is acked: the broker redelivers).
    async fn take_and_store(
        &self,
        rx: &mut mpsc::Receiver<Delivery>,
        shutdown: &CancellationToken,
    ) -> Option<Stored> {
        let mut batch = Vec::with_capacity(BATCH_MAX);
        let n = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return None,
            n = rx.recv_many(&mut batch, BATCH_MAX) => n,
        };
        if n == 0 {
            return None;
        }
        let mut thumbs = Vec::new();
        let mut items = Vec::new();
        let mut rest = Vec::new();
        for w in self.decode(&batch) {
            match w {
                Work::Thumb(meta, jpeg) => {
                    items.push(NewBlob {
                        name: BlobName {
                            vessel: meta.vessel.clone(),
                            camera: meta.camera.clone(),
                            captured_at_ns: meta.captured_at_ns,
                        },
                        jpeg: jpeg.clone(),
                    });
                    thumbs.push((meta, jpeg.len()));
                }
                other => rest.push(other),
            }
        }
        let stored = retry(shutdown, &self.metrics, "storing a batch's JPEGs", || {
            self.blobs.write_batch(&items)
        })
        .await;
        stored.then_some(Stored {
            batch,
            thumbs,
            rest,
        })
    }

    /// Indexes a stored batch in one transaction (then the rest of its
    /// work, in order), retrying until it commits, then acks it. `false`:
    /// shutdown came first and nothing was acked.
    async fn index_and_ack(&self, mut s: Stored, shutdown: &CancellationToken) -> bool {
        let received_at_ns = now_ns();
        let rows: Vec<NewThumb> = (s.thumbs.iter())
            .map(|(meta, bytes)| new_thumb(meta, *bytes, received_at_ns))
            .collect();
        if !rows.is_empty()
            && !retry(shutdown, &self.metrics, "indexing a batch", || {
                self.index_thumbs(&rows)
            })
            .await
        {
            return false;
        }
        // Thumbnails are in; the rest, in order. A failure retries from the
        // item that failed, which is idempotent (fixes are ignored when
        // present, a status is overwritten with the same, a repeat of the
        // newest ack is ignored).
        for w in &s.rest {
            if !retry(shutdown, &self.metrics, "indexing a message", || {
                self.apply(w)
            })
            .await
            {
                return false;
            }
        }
        self.committed.notify_one();
        self.ack(&mut s.batch);
        true
    }

    async fn index_thumbs(
        &self,
        rows: &[NewThumb],
    ) -> Result<(), crate::adapters::index::IndexError> {
        let new = self.index.insert_thumbs(rows).await?;
        let fresh = new.iter().filter(|n| **n).count() as u64;
        add(&self.metrics.thumbs_indexed, fresh);
        add(&self.metrics.thumbs_duplicate, rows.len() as u64 - fresh);
        let bytes: u64 = (rows.iter().zip(&new))
            .filter(|(_, n)| **n)
            .map(|(r, _)| r.bytes)
            .sum();
        add(&self.metrics.thumb_bytes_indexed, bytes);
        Ok(())
    }

    async fn apply(&self, w: &Work) -> Result<(), crate::adapters::index::IndexError> {
        match w {
            Work::Status(v, u, health) => self.apply_status(v, u, health.as_deref()).await,
            Work::Fixes(v, f) => self.index.append_fixes(v, f).await.map(|()| {
                add(&self.metrics.position_fixes, f.len() as u64);
            }),
            Work::Ack(v, a, received_at_ns) => self
                .index
                .store_ack(v, a, *received_at_ns)
                .await
                .map(|()| self.metrics.count_ack(a.status)),
            Work::Thumb(..) => Ok(()),
        }
    }

    /// Acks a committed batch: the QoS 1 acks go to the receiver, which
    /// writes them on the connection, and the last one through the
    /// client's queue, which wakes the receiver's poll (see
    /// [`super::receiver`]). Never waits. An ack that cannot be sent (the
    /// receiver gone, the queue full) leaves its message to be redelivered.
    fn ack(&self, batch: &mut Vec<Delivery>) {
        let settled = batch.len() as u64;
        let current = self.connection.load(Ordering::SeqCst);
        let wake = batch
            .iter()
            .rposition(|d| d.connection == current && d.publish.qos == QoS::AtLeastOnce);
        let through_client = wake.map(|i| batch.swap_remove(i));
        let direct: Vec<Ack> = batch
            .drain(..)
            .filter(|d| d.publish.qos == QoS::AtLeastOnce)
            .map(|d| Ack {
                connection: d.connection,
                pkid: d.publish.pkid,
            })
            .collect();
        if !direct.is_empty() && self.acks.send(direct).is_err() {
            tracing::warn!("the receiver is gone: acks not sent (the broker will redeliver)");
        }
        if let Some(d) = through_client
            && let Err(e) = self.client.try_ack(&d.publish)
        {
            tracing::warn!(error = %e, "could not queue an ack (the broker will redeliver)");
        }
        self.flow.settled.fetch_add(settled, Ordering::SeqCst);
    }

    fn decode(&self, batch: &[Delivery]) -> Vec<Work> {
        let mut work = Vec::with_capacity(batch.len());
        for Delivery { publish: p, .. } in batch {
            match decode_one(p) {
                Ok(w) => work.push(w),
                Err(reason) => {
                    tracing::debug!(topic = %p.topic, reason, bytes = p.payload.len(), "dropped a message");
                    self.metrics.drop_message(reason);
                }
            }
        }
        work
    }

    /// A status: the vessel's state, then its health (both idempotent).
    async fn apply_status(
        &self,
        v: &VesselName,
        update: &StatusUpdate,
        health: Option<&Health>,
    ) -> Result<(), crate::adapters::index::IndexError> {
        self.index.apply_status(v, update).await?;
        if let (Some(h), Some(received_at_ns)) = (health, update.seen_ns) {
            self.index.store_status(v, h, received_at_ns).await?;
        }
        add(&self.metrics.status_messages, 1);
        Ok(())
    }
}

/// Runs `step` until it succeeds, with back-off (100 ms doubling to 10 s),
/// counting and logging each failure. `false`: shutdown came first.
async fn retry<F, E>(
    shutdown: &CancellationToken,
    metrics: &Metrics,
    what: &str,
    mut step: impl FnMut() -> F,
) -> bool
where
    F: Future<Output = Result<(), E>>,
    E: Into<anyhow::Error>,
{
    let mut backoff = backoff::retry();
    loop {
        let wait = backoff.next_delay();
        match step().await {
            Ok(()) => return true,
            Err(e) => {
                add(&metrics.index_errors, 1);
                let e: anyhow::Error = e.into();
                tracing::error!(error = %format!("{e:#}"), retry_in_ms = wait.as_millis() as u64, "{what} failed; retrying");
            }
        }
        if !pause(wait, shutdown).await {
            return false;
        }
    }
}
