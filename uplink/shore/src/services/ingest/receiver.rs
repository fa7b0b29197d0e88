//! The first stage: polls the MQTT event loop, hands each PUBLISH to the
//! [`Writer`](super::Writer), and writes the acks of what it committed.
//!
//! Why acks do not go through the client's request queue: rumqttc's event
//! loop, each time it is polled with both ready, picks at random between
//! reading the socket (up to ten packets) and sending *one* queued request.
//! At saturation the shore then reads about ten messages per ack it sends,
//! and a broker that does not hold its in-flight window (mosquitto 2.0.11
//! sent over 60,000 unacked thumbnails to one shore in the benchmark)
//! keeps sending: the acks queue up by the tens of thousands, its PINGRESP
//! comes late enough for the client to drop the connection (every message
//! not yet acked is delivered twice), and once the request queue was full
//! the writer waited on it while the receiver waited on the writer — ingest
//! stopped for good. So the writer hands its acks here, and the receiver
//! writes them on the connection itself, between polls, every time. To
//! wake a poll that waits on a quiet socket, the writer sends the last ack
//! of each batch through the client's queue as before.
//!
//! Keepalive: such a broker also queues its PINGRESP behind everything it
//! has queued for the shore (half a minute of thumbnails at saturation),
//! and rumqttc drops a connection whose last PINGREQ is unanswered at the
//! next one. A message received is proof enough that the broker is alive
//! (the rule brokers apply to clients), so each one clears the wait; a
//! broker that falls silent is still detected by the next ping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, PubAck, Publish, QoS};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::base::backoff::{self, pause};
use crate::services::ingest::{Ack, Delivery, Flow, Intent, MAX_MESSAGE_BYTES};
use crate::services::metrics::{Metrics, add};

/// How long writing acks may wait on the socket before the receiver goes
/// back to polling (which notices a dead connection).
const ACK_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Polls the event loop; hands PUBLISHes to the [`Writer`](super::Writer);
/// writes the acks it hands back.
pub struct Receiver {
    client: AsyncClient,
    eventloop: EventLoop,
    filters: Vec<String>,
    intent: Intent,
    tx: mpsc::Sender<Delivery>,
    acks: mpsc::UnboundedReceiver<Vec<Ack>>,
    metrics: Arc<Metrics>,
    flow: Arc<Flow>,
    /// The current connection's number (counted from 1 at the first
    /// CONNACK); shared with the writer, which acks nothing older.
    connection: Arc<AtomicU64>,
    /// Acks written on the current connection, and messages received on
    /// it: their difference is what the broker waits to see acked.
    acked_here: u64,
    received_here: u64,
    subscribed: watch::Sender<bool>,
    writer_done: CancellationToken,
}

/// What [`Receiver::new`] takes (built by [`super::stages`]).
pub(super) struct Parts {
    pub client: AsyncClient,
    pub eventloop: EventLoop,
    pub filters: Vec<String>,
    pub intent: Intent,
    pub tx: mpsc::Sender<Delivery>,
    pub acks: mpsc::UnboundedReceiver<Vec<Ack>>,
    pub metrics: Arc<Metrics>,
    pub flow: Arc<Flow>,
    pub connection: Arc<AtomicU64>,
    /// `true` once the session's subscriptions are as [`Intent`] asks
    /// (SUBACK or UNSUBACK seen on the current connection).
    pub subscribed: watch::Sender<bool>,
    /// Cancelled when the writer has stopped: then write the last acks,
    /// disconnect and stop.
    pub writer_done: CancellationToken,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("filters", &self.filters)
            .field("intent", &self.intent)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    pub(super) fn new(p: Parts) -> Self {
        Self {
            client: p.client,
            eventloop: p.eventloop,
            filters: p.filters,
            intent: p.intent,
            tx: p.tx,
            acks: p.acks,
            metrics: p.metrics,
            flow: p.flow,
            connection: p.connection,
            acked_here: 0,
            received_here: 0,
            subscribed: p.subscribed,
            writer_done: p.writer_done,
        }
    }

    pub async fn run(mut self, _shutdown: CancellationToken) -> Result<()> {
        let mut backoff = backoff::retry();
        'run: loop {
            while let Ok(acks) = self.acks.try_recv() {
                self.write_acks(&acks).await;
            }
            let event = tokio::select! {
                biased;
                _ = self.writer_done.cancelled() => break,
                event = self.eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff.reset();
                    self.connection.fetch_add(1, Ordering::SeqCst);
                    (self.acked_here, self.received_here) = (0, 0);
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
                    // The broker is alive while it sends: its PINGRESP may
                    // wait behind thousands of queued messages (see above).
                    self.eventloop.state.await_pingresp = false;
                    add(&self.metrics.mqtt_publishes_received, 1);
                    self.flow.taken.fetch_add(1, Ordering::SeqCst);
                    self.received_here += 1;
                    self.note_unacked();
                    if p.payload.len() > MAX_MESSAGE_BYTES {
                        self.refuse_oversized(&p);
                        continue;
                    }
                    // Wait for room in the channel, writing acks meanwhile.
                    let connection = self.connection.load(Ordering::SeqCst);
                    let mut delivery = Some(Delivery {
                        connection,
                        publish: p,
                    });
                    while let Some(d) = delivery.take() {
                        let acks = tokio::select! {
                            biased;
                            _ = self.writer_done.cancelled() => break 'run,
                            Some(acks) = self.acks.recv() => acks,
                            permit = self.tx.reserve() => match permit {
                                Ok(permit) => {
                                    permit.send(d);
                                    continue;
                                }
                                Err(_) => break 'run,
                            },
                        };
                        delivery = Some(d);
                        self.write_acks(&acks).await;
                    }
                }
                Ok(Event::Outgoing(Outgoing::PubAck(_))) => self.acked_here += 1,
                Ok(_) => {}
                Err(e) => {
                    self.subscribed.send_replace(false);
                    add(&self.metrics.mqtt_connection_errors, 1);
                    let wait = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "MQTT connection error");
                    if !pause(wait, &self.writer_done).await {
                        break;
                    }
                }
            }
        }
        self.subscribed.send_replace(false);
        while let Ok(acks) = self.acks.try_recv() {
            self.write_acks(&acks).await;
        }
        self.disconnect().await;
        Ok(())
    }

    /// Writes the acks of the current connection on it (older ones are
    /// dropped: the broker redelivers those messages, and the index
    /// ignores them). Not connected: dropped too, for the same reason.
    async fn write_acks(&mut self, acks: &[Ack]) {
        let current = self.connection.load(Ordering::SeqCst);
        let Some(network) = self.eventloop.network.as_mut() else {
            return;
        };
        let write = async {
            let mut written = 0;
            for ack in acks.iter().filter(|a| a.connection == current) {
                network.write(Packet::PubAck(PubAck::new(ack.pkid))).await?;
                written += 1;
            }
            network.flush().await?;
            Ok::<_, rumqttc::StateError>(written)
        };
        match tokio::time::timeout(ACK_WRITE_TIMEOUT, write).await {
            Ok(Ok(written)) => self.acked_here += written,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not write acks (the broker will redeliver)");
            }
            Err(_) => tracing::warn!(
                "writing acks took over {} s (the broker will redeliver what they ack)",
                ACK_WRITE_TIMEOUT.as_secs()
            ),
        }
    }

    /// Keeps [`Metrics::mqtt_unacked_peak`]: messages received on this
    /// connection that the broker has not seen acked.
    fn note_unacked(&self) {
        let unacked = self.received_here.saturating_sub(self.acked_here);
        self.metrics
            .mqtt_unacked_peak
            .fetch_max(unacked, Ordering::Relaxed);
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
