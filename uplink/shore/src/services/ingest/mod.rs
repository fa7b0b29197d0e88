//! Ingest: the fleet's messages from the broker into blobs and the index.
//!
//! Two stages joined by a bounded channel ([`stages`] builds them):
//! - [`Receiver`] polls the MQTT event loop (shared subscription, QoS 1,
//!   persistent session, manual acks), hands each PUBLISH on, and writes
//!   the acks the writer hands back;
//! - [`Writer`] takes them in batches, decodes them (whatever is malformed is
//!   counted by reason and dropped, and so is a [`crate::base::poison`]
//!   thumbnail), stores the JPEGs ([`crate::adapters::blobs`]: on disk or in
//!   object storage; a JPEG that cannot be stored fails the batch, which
//!   is retried with back-off and not acked meanwhile), commits the batch to
//!   the index in one transaction, and only then acks every message of the
//!   batch; the next batch's JPEGs are stored while one is indexed. A crash before the ack leaves the messages with the broker,
//!   which redelivers them; the index ignores what it already has, so each
//!   thumbnail is indexed exactly once.
//!
//! Acks are written as fast as batches commit, so that what the broker has
//! sent and not seen acked stays within what the two stages hold
//! ([`HELD_MAX`]), whatever in-flight window the broker allows: see [`receiver`] for why they do not go through the
//! client's request queue.
//!
//! The same two stages drain a dead peer instance's session
//! ([`Intent::Drain`], see [`crate::services::peers`]).
//!
//! Shutdown: the writer finishes (and acks) the batch in hand and stops;
//! then the receiver writes the acks still queued, disconnects, and stops.
//! Messages left in the channel are not acked: the broker keeps them for
//! this client's session.

mod decode;
pub mod receiver;
mod writer;

pub use decode::decode_reason;
pub use receiver::Receiver;
pub use writer::Writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, MqttOptions, Publish};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::adapters::blobs::Blobs;
use crate::adapters::config::mqtt::MqttConfig;
use crate::adapters::index::Index;
use crate::services::metrics::Metrics;

/// Messages taken from the broker but not yet written.
pub const CHANNEL_CAPACITY: usize = 1024;
/// The most messages committed in one transaction.
pub const BATCH_MAX: usize = 512;
/// The most messages ingest holds unacked: the channel's, a batch being
/// indexed, the next one being stored, and the one the receiver has in
/// hand waiting for room.
pub const HELD_MAX: usize = CHANNEL_CAPACITY + 2 * BATCH_MAX + 1;
/// The client's request queue: configs the API publishes, (un)subscriptions,
/// and one ack per committed batch (the one that wakes the event loop: see
/// [`receiver`]). The writer never waits on it.
pub const REQUEST_CAPACITY: usize = 1024;
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
    Tls(#[from] crate::adapters::tls::TlsError),
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
        opts.set_transport(crate::adapters::tls::transport(cfg)?);
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

/// A PUBLISH handed to the writer, with the connection it came on (an ack
/// is only good on that connection).
#[derive(Debug)]
pub struct Delivery {
    pub connection: u64,
    pub publish: Publish,
}

/// A QoS 1 message the writer has committed: the receiver writes its ack.
#[derive(Debug, Clone, Copy)]
struct Ack {
    connection: u64,
    pkid: u16,
}

/// Where the writer puts what it decodes.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub index: Arc<dyn Index>,
    pub blobs: Blobs,
    pub metrics: Arc<Metrics>,
    /// Woken after each commit (the live feed reads what changed).
    pub committed: Arc<Notify>,
}

/// One MQTT session's ingest: both stages, and handles on them.
#[derive(Debug)]
pub struct Stages {
    pub receiver: Receiver,
    pub writer: Writer,
    /// For publishing configs (and, to the writer, for waking the receiver).
    pub client: AsyncClient,
    /// `true` once the session's subscriptions are as the [`Intent`] asks.
    pub subscribed: watch::Receiver<bool>,
    pub flow: Arc<Flow>,
}

/// Builds the two stages of one MQTT session: the receiver on `options`'
/// connection, asking `intent` of `filters`, and the writer into `sinks`.
pub fn stages(options: MqttOptions, filters: Vec<String>, intent: Intent, sinks: Sinks) -> Stages {
    let (client, eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let (subscribed_tx, subscribed) = watch::channel(false);
    let flow = Arc::new(Flow::default());
    let connection = Arc::new(AtomicU64::new(0));
    let writer_done = CancellationToken::new();
    let metrics = sinks.metrics.clone();
    let writer = Writer::new(
        rx,
        client.clone(),
        sinks,
        flow.clone(),
        acks_tx,
        connection.clone(),
        writer_done.clone(),
    );
    let receiver = Receiver::new(receiver::Parts {
        client: client.clone(),
        eventloop,
        filters,
        intent,
        tx,
        acks: acks_rx,
        metrics,
        flow: flow.clone(),
        connection,
        subscribed: subscribed_tx,
        writer_done,
    });
    Stages {
        receiver,
        writer,
        client,
        subscribed,
        flow,
    }
}
