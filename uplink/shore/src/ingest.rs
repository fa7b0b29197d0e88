//! Ingest: the fleet's messages from the broker into blobs and the index.
//!
//! Two stages joined by a bounded channel:
//! - [`Receiver`] polls the MQTT event loop (shared subscription, QoS 1,
//!   persistent session, manual acks) and hands each PUBLISH on;
//! - [`Writer`] takes them in batches, decodes them (whatever is malformed is
//!   counted by reason and dropped, and so is a [`crate::poison`]
//!   thumbnail), stores the JPEGs ([`crate::blobs`]: on disk or in
//!   object storage; a JPEG that cannot be stored fails the batch, which
//!   is retried with back-off and not acked meanwhile), commits the batch to
//!   the index in one transaction, and only then acks every message of the
//!   batch. A crash before the ack leaves the messages with the broker,
//!   which redelivers them; the index ignores what it already has, so each
//!   thumbnail is indexed exactly once.
//!
//! The same two stages drain a dead peer instance's session
//! ([`Intent::Drain`], see [`crate::peers`]).
//!
//! Shutdown: the writer finishes (and acks) the batch in hand and stops;
//! then the receiver sends the acks still queued, disconnects, and stops.
//! Messages left in the channel are not acked: the broker keeps them for
//! this client's session.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, QoS};
use seaframe_wire::message::{ConfigAck, Fix, Health, LinkState, PositionReport, Status};
use seaframe_wire::{DecodeError, Thumb, ThumbMeta, Topic, VesselName};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::blobs::{BlobName, Blobs, NewBlob};
use crate::config::mqtt::MqttConfig;
use crate::index::{Index, NewThumb, StatusUpdate};
use crate::metrics::{Metrics, add};
use crate::when::now_ns;

/// Messages taken from the broker but not yet written.
pub const CHANNEL_CAPACITY: usize = 1024;
/// The most messages committed in one transaction.
pub const BATCH_MAX: usize = 512;
/// The client's request queue: the writer's acks and the configs the API
/// publishes. rumqttc's event loop hands out the PUBLISHes it has read
/// before it takes requests, so under load acks wait there until the broker
/// stops sending (its in-flight window, at most 65,535 unacked messages, is
/// full). The queue must hold that many acks, or the writer would block on a
/// full queue while the receiver blocks on a full channel: a deadlock seen
/// in the benchmark. Memory is taken only as it fills.
pub const REQUEST_CAPACITY: usize = 70_000;
/// The largest packet MQTT can carry (a remaining length of 268,435,455
/// bytes, plus the fixed header's 5). rumqttc drops the connection on a
/// packet above its limit, and the persistent session redelivers that
/// packet on the next connection, forever: so the shore reads whatever a
/// broker can send, and [`Receiver`] acks what is over
/// [`MAX_MESSAGE_BYTES`] unread (counted `too_large`). The shipped broker
/// config caps packets far below this (`max_packet_size`), so this is the
/// defence against a broker that does not.
const MAX_INCOMING_PACKET_BYTES: usize = 268_435_455 + 5;
/// The largest payload any legal message has: a thumbnail envelope
/// (status, positions, acks and configs are far smaller).
pub const MAX_MESSAGE_BYTES: usize = seaframe_wire::MAX_PAYLOAD_BYTES;
/// A config ack is a version, a status and the agent's problems with a
/// push (a few KB at most); a bigger one is dropped (`ack_too_large`)
/// rather than stored twenty times over in the history.
pub const MAX_ACK_BYTES: usize = 64 * 1024;
/// A status is a few hundred bytes per camera; a bigger one is dropped
/// (`status_too_large`) rather than kept as the vessel's health.
pub const MAX_STATUS_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MqttSetupError {
    #[error("mqtt.url: {0}")]
    Url(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// The MQTT client (cheap handle, for acks and publishing configs) and its
/// event loop (for the [`Receiver`]).
pub fn connect_options(cfg: &MqttConfig) -> Result<MqttOptions, MqttSetupError> {
    let url = url::Url::parse(&cfg.url).map_err(|e| MqttSetupError::Url(e.to_string()))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| MqttSetupError::Url("names no host".into()))?
        .to_owned();
    let tls = matches!(url.scheme(), "mqtts" | "ssl");
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let mut opts = MqttOptions::new(cfg.client_id(), host, port);
    if tls {
        opts.set_transport(crate::tls::transport(cfg)?);
    }
    opts.set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(MAX_INCOMING_PACKET_BYTES, MAX_INCOMING_PACKET_BYTES);
    if let (Some(user), Some(password)) = (&cfg.username, &cfg.password) {
        opts.set_credentials(user.clone(), password.expose());
    }
    Ok(opts)
}

/// What a [`Receiver`] does with its session's subscriptions on connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Subscribe to the filters: this instance's own session.
    Subscribe,
    /// Unsubscribe from them: a dead peer's session, taken over to be
    /// drained — what it holds is still delivered, nothing new is routed
    /// to it.
    Drain,
}

/// Messages handed to the writer and messages it has settled (acked, or
/// refused and acked): equal when nothing is in hand.
#[derive(Debug, Default)]
pub struct Flow {
    pub taken: AtomicU64,
    pub settled: AtomicU64,
}

impl Flow {
    /// `(taken, settled)`.
    pub fn load(&self) -> (u64, u64) {
        (
            self.taken.load(Ordering::SeqCst),
            self.settled.load(Ordering::SeqCst),
        )
    }
}

/// Polls the event loop; hands PUBLISHes to the [`Writer`].
pub struct Receiver {
    pub client: AsyncClient,
    pub eventloop: EventLoop,
    pub filters: Vec<String>,
    pub intent: Intent,
    pub tx: mpsc::Sender<Publish>,
    pub metrics: Arc<Metrics>,
    pub flow: Arc<Flow>,
    /// `true` once the session's subscriptions are as [`Intent`] asks
    /// (SUBACK or UNSUBACK seen on the current connection).
    pub subscribed: watch::Sender<bool>,
    /// Cancelled when the writer has stopped: then send the last acks,
    /// disconnect and stop.
    pub writer_done: CancellationToken,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("filters", &self.filters)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    pub async fn run(mut self, _shutdown: CancellationToken) -> Result<()> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let event = tokio::select! {
                biased;
                _ = self.writer_done.cancelled() => break,
                event = self.eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = Duration::from_millis(100);
                    add(&self.metrics.mqtt_connects, 1);
                    tracing::info!(
                        session_present = ack.session_present,
                        "connected to the broker"
                    );
                    self.ask_for_subscriptions();
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused = ack
                        .return_codes
                        .iter()
                        .filter(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                        .count();
                    if refused > 0 {
                        tracing::error!(refused, "the broker refused subscriptions (ACL?)");
                    }
                    self.subscribed.send_replace(true);
                }
                Ok(Event::Incoming(Packet::UnsubAck(_))) => {
                    self.subscribed.send_replace(true);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    add(&self.metrics.mqtt_publishes_received, 1);
                    self.flow.taken.fetch_add(1, Ordering::SeqCst);
                    if p.payload.len() > MAX_MESSAGE_BYTES {
                        self.refuse_oversized(&p);
                        continue;
                    }
                    tokio::select! {
                        biased;
                        _ = self.writer_done.cancelled() => break,
                        sent = self.tx.send(p) => if sent.is_err() { break },
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    self.subscribed.send_replace(false);
                    add(&self.metrics.mqtt_connection_errors, 1);
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "MQTT connection error");
                    tokio::select! {
                        biased;
                        _ = self.writer_done.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        self.subscribed.send_replace(false);
        self.disconnect().await;
        Ok(())
    }

    /// Queues the SUBSCRIBE (or, draining, the UNSUBSCRIBE) of the filters.
    fn ask_for_subscriptions(&self) {
        let asked = match self.intent {
            Intent::Subscribe => self.client.try_subscribe_many(
                self.filters
                    .iter()
                    .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce)),
            ),
            Intent::Drain => self
                .filters
                .iter()
                .try_for_each(|f| self.client.try_unsubscribe(f)),
        };
        if let Err(e) = asked {
            tracing::error!(error = %e, intent = ?self.intent, "could not queue the (un)subscription");
        }
    }

    /// Counts an oversized message (`too_large`) and acks it at once: it
    /// is never stored, and holding it in the channel would hold its bytes.
    /// An ack that cannot be queued leaves it to be redelivered, and
    /// refused again.
    fn refuse_oversized(&self, p: &Publish) {
        tracing::warn!(topic = %p.topic, bytes = p.payload.len(), max = MAX_MESSAGE_BYTES, "dropped an oversized message");
        self.metrics.drop_message("too_large");
        if let Err(e) = self.client.try_ack(p) {
            tracing::warn!(error = %e, "could not queue the ack of an oversized message");
        }
        self.flow.settled.fetch_add(1, Ordering::SeqCst);
    }

    /// Sends what is queued (the writer's last acks), then DISCONNECT, so the
    /// broker keeps the session without publishing anything on our behalf.
    async fn disconnect(&mut self) {
        if self.client.try_disconnect().is_err() {
            return;
        }
        let drain = async {
            loop {
                match self.eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .is_err()
        {
            tracing::warn!("MQTT disconnect did not complete in 5 s");
        }
    }
}

/// What one message asks of the index, once decoded.
#[derive(Debug)]
enum Work {
    /// The JPEG's bytes shared, so that a batch retried is not copied.
    Thumb(Box<ThumbMeta>, bytes::Bytes),
    /// With the health it carried (kept as the vessel's latest status).
    Status(VesselName, StatusUpdate, Option<Box<Health>>),
    Fixes(VesselName, Vec<Fix>),
    /// With the time it was received, ns.
    Ack(VesselName, ConfigAck, i64),
}

/// Decodes, stores and indexes batches; acks after the commit.
#[derive(Debug)]
pub struct Writer {
    pub rx: mpsc::Receiver<Publish>,
    pub client: AsyncClient,
    pub index: Arc<dyn Index>,
    pub blobs: Blobs,
    pub metrics: Arc<Metrics>,
    pub flow: Arc<Flow>,
    /// Cancelled when this stage returns, whatever the reason.
    pub done: CancellationToken,
    /// Woken after each commit (the live feed reads what changed).
    pub committed: Arc<Notify>,
}

impl Writer {
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
            let settled = batch.len() as u64;
            for p in batch.drain(..) {
                if let Err(e) = self.client.ack(&p).await {
                    tracing::warn!(error = %e, "could not queue an ack (the broker will redeliver)");
                }
            }
            self.flow.settled.fetch_add(settled, Ordering::SeqCst);
        }
        Ok(())
    }

    fn decode(&self, batch: &[Publish]) -> Vec<Work> {
        let mut work = Vec::with_capacity(batch.len());
        for p in batch {
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

fn new_thumb(m: &ThumbMeta, bytes: usize, received_at_ns: i64) -> NewThumb {
    NewThumb {
        vessel: m.vessel.clone(),
        camera: m.camera.clone(),
        captured_at_ns: m.captured_at_ns,
        seq: m.seq,
        lat: m.position.as_ref().map(|p| p.lat),
        lon: m.position.as_ref().map(|p| p.lon),
        width_px: m.width,
        height_px: m.height,
        bytes: bytes as u64,
        received_at_ns,
    }
}

/// One message → its work, or the reason it is dropped (a metrics label).
fn decode_one(p: &Publish) -> Result<Work, &'static str> {
    let topic = Topic::parse(&p.topic).map_err(|_| "bad_topic")?;
    match topic {
        Topic::Thumb { vessel, camera } => {
            let thumb = Thumb::decode(&p.payload).map_err(|e| decode_reason(&e))?;
            if thumb.meta.vessel != vessel || thumb.meta.camera != camera {
                return Err("topic_mismatch");
            }
            crate::poison::check(&thumb, now_ns())?;
            Ok(Work::Thumb(Box::new(thumb.meta), thumb.jpeg.into()))
        }
        Topic::Status { vessel } => {
            if p.payload.len() > MAX_STATUS_BYTES {
                return Err("status_too_large");
            }
            let status: Status = serde_json::from_slice(&p.payload).map_err(|_| "bad_json")?;
            let online = status.state == LinkState::Online;
            Ok(Work::Status(
                vessel,
                StatusUpdate {
                    online,
                    seen_ns: online.then(now_ns),
                    cameras: status
                        .health
                        .as_ref()
                        .map(|h| h.cameras.iter().map(|c| c.id.clone()).collect()),
                    fix: status
                        .health
                        .as_ref()
                        .and_then(|h| h.fix.clone())
                        .filter(valid_fix),
                },
                status.health.map(Box::new),
            ))
        }
        Topic::Position { vessel } => {
            let report: PositionReport =
                serde_json::from_slice(&p.payload).map_err(|_| "bad_json")?;
            let fixes: Vec<Fix> = report.fixes.into_iter().filter(valid_fix).collect();
            Ok(Work::Fixes(vessel, fixes))
        }
        Topic::ConfigAck { vessel } => {
            if p.payload.len() > MAX_ACK_BYTES {
                return Err("ack_too_large");
            }
            let ack: ConfigAck = serde_json::from_slice(&p.payload).map_err(|_| "bad_json")?;
            if i64::try_from(ack.version).is_err() {
                return Err("bad_ack_version");
            }
            Ok(Work::Ack(vessel, ack, now_ns()))
        }
        Topic::Config { .. } => Err("unexpected_topic"),
    }
}

fn valid_fix(f: &Fix) -> bool {
    (-90.0..=90.0).contains(&f.lat) && (-180.0..=180.0).contains(&f.lon)
}

/// The metrics label of a decode error.
pub fn decode_reason(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::TooLarge(_) => "too_large",
        DecodeError::Empty => "empty",
        DecodeError::UnsupportedVersion(_) => "unsupported_version",
        DecodeError::Truncated(_) => "truncated",
        DecodeError::BadName { .. } => "bad_name",
        DecodeError::NotUtf8(_) => "not_utf8",
        DecodeError::BadFix => "bad_fix",
        DecodeError::BadClock(_) => "bad_clock",
        DecodeError::BadPositionFlag(_) => "bad_position_flag",
        DecodeError::BadPosition { .. } => "bad_position",
        DecodeError::NotJpeg => "not_jpeg",
    }
}
