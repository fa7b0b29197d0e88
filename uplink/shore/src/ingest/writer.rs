//! The second stage: decodes batches of messages, stores their JPEGs and
//! indexes them in one transaction, then acks them (see [`super`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::decode::{Work, decode_one, new_thumb};
use super::{Ack, BATCH_MAX, Delivery, Flow, Sinks};
use crate::blobs::{BlobName, Blobs, NewBlob};
use seaframe_wire::VesselName;
use seaframe_wire::message::Health;

use crate::index::{Index, NewThumb, StatusUpdate};
use crate::metrics::{Metrics, add};
use crate::when::now_ns;

/// Decodes, stores and indexes batches; acks after the commit.
#[derive(Debug)]
pub struct Writer {
    rx: mpsc::Receiver<Delivery>,
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
    /// Cancelled when this stage returns, whatever the reason.
    done: CancellationToken,
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
            client,
            index: sinks.index,
            blobs: sinks.blobs,
            metrics: sinks.metrics,
            committed: sinks.committed,
            flow,
            acks,
            connection,
            done,
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let _done = self.done.clone().drop_guard();
        let mut batch = Vec::with_capacity(BATCH_MAX);
        loop {
            let n = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                n = self.rx.recv_many(&mut batch, BATCH_MAX) => n,
            };
            if n == 0 {
                break;
            }
            let work = self.decode(&batch);
            if !self.apply_until_done(work, &shutdown).await {
                break;
            }
            self.committed.notify_one();
            self.ack(&mut batch);
        }
        Ok(())
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

    /// Applies the batch, retrying (it is idempotent) until it commits.
    /// `false`: shutdown came first and nothing may be acked.
    async fn apply_until_done(&self, mut work: Vec<Work>, shutdown: &CancellationToken) -> bool {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.apply(work).await {
                Ok(()) => return true,
                Err((back, e)) => {
                    work = back;
                    add(&self.metrics.index_errors, 1);
                    tracing::error!(error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "storing a batch failed; retrying");
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Stores everything in `work`; on error hands `work` back for a retry.
    async fn apply(&self, work: Vec<Work>) -> Result<(), (Vec<Work>, anyhow::Error)> {
        let (thumbs, rest): (Vec<_>, Vec<_>) =
            work.into_iter().partition(|w| matches!(w, Work::Thumb(..)));
        let items: Vec<NewBlob> = thumbs
            .iter()
            .filter_map(|w| match w {
                Work::Thumb(meta, jpeg) => Some(NewBlob {
                    name: BlobName {
                        vessel: meta.vessel.clone(),
                        camera: meta.camera.clone(),
                        captured_at_ns: meta.captured_at_ns,
                    },
                    jpeg: jpeg.clone(),
                }),
                _ => None,
            })
            .collect();
        let written = self.blobs.write_batch(&items).await;
        let give_back = |thumbs: Vec<Work>, rest: Vec<Work>, e: anyhow::Error| {
            let mut all = thumbs;
            all.extend(rest);
            Err((all, e))
        };
        if let Err(e) = written {
            return give_back(thumbs, rest, e.into());
        }
        let received_at_ns = now_ns();
        let rows: Vec<NewThumb> = thumbs
            .iter()
            .filter_map(|w| match w {
                Work::Thumb(meta, jpeg) => Some(new_thumb(meta, jpeg.len(), received_at_ns)),
                _ => None,
            })
            .collect();
        if !rows.is_empty() {
            match self.index.insert_thumbs(&rows).await {
                Ok(new) => {
                    let fresh = new.iter().filter(|n| **n).count() as u64;
                    add(&self.metrics.thumbs_indexed, fresh);
                    add(&self.metrics.thumbs_duplicate, rows.len() as u64 - fresh);
                    let bytes: u64 = rows
                        .iter()
                        .zip(&new)
                        .filter(|(_, n)| **n)
                        .map(|(r, _)| r.bytes)
                        .sum();
                    add(&self.metrics.thumb_bytes_indexed, bytes);
                }
                Err(e) => return give_back(thumbs, rest, e.into()),
            }
        }
        // Thumbnails are in; the rest, in order. A failure retries the
        // batch from the item that failed, which is idempotent (fixes are
        // ignored when present, a status is overwritten with the same, a
        // repeat of the newest ack is ignored).
        for (i, w) in rest.iter().enumerate() {
            let stored = match w {
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
            };
            if let Err(e) = stored {
                return give_back(Vec::new(), rest.into_iter().skip(i).collect(), e.into());
            }
        }
        Ok(())
    }
}

impl Writer {
    /// A status: the vessel's state, then its health (both idempotent).
    async fn apply_status(
        &self,
        v: &VesselName,
        update: &StatusUpdate,
        health: Option<&Health>,
    ) -> Result<(), crate::index::IndexError> {
        self.index.apply_status(v, update).await?;
        if let (Some(h), Some(received_at_ns)) = (health, update.seen_ns) {
            self.index.store_status(v, h, received_at_ns).await?;
        }
        add(&self.metrics.status_messages, 1);
        Ok(())
    }
}
