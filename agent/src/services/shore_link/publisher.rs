//! The publisher: one MQTT session at a time to the broker, supervised here
//! rather than by rumqttc's own reconnection (whose handling of a publish
//! in flight across a lost session has open reports): when the session
//! ends for any reason, the client is dropped whole, and a fresh one
//! connects after a back-off. Nothing is lost by that, because a thumbnail
//! leaves the outbox only on its PUBACK; what was in flight is sent again
//! and the shore keeps it once.
//!
//! In a session: the newest thumbnails first, at most [`MAX_IN_FLIGHT`]
//! unacknowledged, within the byte budget; `status` (retained) every
//! [`STATUS_EVERY`] and at connect; the track (`position`, QoS 1): the
//! fixes of the index after the outbox's cursor, at most
//! [`MAX_FIXES_PER_REPORT`] a message and one message in flight, every
//! [`POSITION_EVERY`] or at once while a backlog drains; the cursor moves
//! on the PUBACK, so a lost session or a restart sends the rest again and
//! the shore keeps each fix once. Pushed configs are handed to the config
//! task, and its acks published.
//!
//! Nothing about the link stops the agent: settings that cannot make a
//! session (a TLS file gone, a bad URL) end the attempt like a lost
//! session, with back-off, and are reported in [`LinkReport`]. A change of
//! the link settings (a pushed config, or its rollback) ends the session
//! at once and the next one uses them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS,
};
use seaframe_wire::message::{ConfigAck, ConfigPush, PositionReport, Status};
use seaframe_wire::{Topic, VesselName};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::adapters::shore_link::broker::MqttSettings;
use crate::adapters::shore_link::outbox::{Outbox, Pending};
use crate::adapters::store::Store;
use crate::base::backoff::{Backoff, pause};
use crate::base::metrics::Metrics;
use crate::base::shore_link::link::{Budget, LinkState};
use crate::services::shore_link::UplinkSettings;
use crate::services::shore_link::status::StatusSource;
use crate::services::shore_link::thumbs::set_backlog_gauges;
use seaframe_wire::timestamp::Timestamp;

/// Thumbnails published and not yet acknowledged, at most.
pub const MAX_IN_FLIGHT: usize = 8;
pub const STATUS_EVERY: Duration = Duration::from_secs(10);
pub const POSITION_EVERY: Duration = Duration::from_secs(5);
/// Fixes in one `position` message, at most (about 120 bytes each).
pub const MAX_FIXES_PER_REPORT: usize = 500;
/// How long a broker may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Without traffic the session is checked this often (and the budget).
const IDLE_WAKE: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct Publisher {
    pub vessel: VesselName,
    /// Read at each session; the budget also applies at once.
    pub settings: watch::Receiver<UplinkSettings>,
    pub outbox: Arc<Outbox>,
    /// Where the track waits to be sent.
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// Woken when the thumbnailer added thumbnails.
    pub added: Arc<Notify>,
    pub status: StatusSource,
    /// Configs pushed from shore, for the config task.
    pub pushes: watch::Sender<Option<ConfigPush>>,
    /// Acks from the config task, to publish.
    pub acks: mpsc::Receiver<ConfigAck>,
    /// Which link settings have a session now, for the config task.
    pub link: watch::Sender<LinkReport>,
}

/// The state of the link, as the config task needs it to confirm a pushed
/// link or roll it back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkReport {
    /// The settings of the session now connected (`None`: no session).
    pub connected: Option<MqttSettings>,
    /// Why the last attempt or session ended.
    pub last_error: Option<String>,
}

/// Why a session ended.
enum End {
    Shutdown,
    Lost(String),
    /// The link settings changed: connect again at once with the new ones.
    Relink,
}

/// One publish the broker has not acknowledged yet.
#[derive(Debug, Clone, Copy)]
enum Sent {
    /// A thumbnail: its outbox id and bytes.
    Thumb(i64, u64),
    /// A position report: its newest fix's time and its fix count.
    Fixes(i64, u64),
    /// A message of no consequence if lost (sent again in time).
    Other,
}

impl Publisher {
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut budget = Budget::new(self.settings.borrow().budget_bytes_per_s, Instant::now());
        // An ack that could not be published yet (the link was down).
        let mut unsent_acks: VecDeque<ConfigAck> = VecDeque::new();
        loop {
            let mqtt = self.settings.borrow_and_update().mqtt.clone();
            let started = Instant::now();
            let end = match mqtt.options(&self.vessel) {
                Ok(options) => {
                    self.session(options, &mqtt, &mut budget, &mut unsent_acks, &shutdown)
                        .await
                }
                Err(e) => End::Lost(format!("cannot make a session: {e}")),
            };
            self.set_link(LinkState::Offline);
            match end {
                End::Shutdown => return Ok(()),
                End::Relink => {
                    tracing::info!("uplink: the link settings changed, connecting with them");
                    self.link.send_replace(LinkReport::default());
                    backoff.reset();
                }
                End::Lost(reason) => {
                    if started.elapsed() > Duration::from_secs(30) {
                        backoff.reset();
                    }
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        retry_in_ms = delay.as_millis() as u64,
                        "uplink session ended: {reason}"
                    );
                    self.link.send_replace(LinkReport {
                        connected: None,
                        last_error: Some(reason),
                    });
                    // New settings end the wait: they may be what fixes it.
                    tokio::select! {
                        biased;
                        more = pause(delay, &shutdown) => if !more {
                            return Ok(());
                        },
                        Ok(()) = self.settings.changed() => backoff.reset(),
                    }
                }
            }
        }
    }

    fn set_link(&self, state: LinkState) {
        let v = match state {
            LinkState::Offline => 0,
            LinkState::CatchUp => 1,
            LinkState::Live => 2,
        };
        self.metrics.uplink.link_state.store(v, Ordering::Relaxed);
    }

    async fn session(
        &mut self,
        options: MqttOptions,
        mqtt: &MqttSettings,
        budget: &mut Budget,
        unsent_acks: &mut VecDeque<ConfigAck>,
        shutdown: &CancellationToken,
    ) -> End {
        let (client, eventloop) = AsyncClient::new(options, 64);
        let mut events = Driver::start(eventloop);
        match tokio::time::timeout(CONNECT_TIMEOUT, events.connack()).await {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return End::Lost(reason),
            Err(_) => return End::Lost(format!("no CONNACK within {CONNECT_TIMEOUT:?}")),
        }
        self.metrics
            .uplink
            .mqtt_connects
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!("uplink connected");
        self.link.send_replace(LinkReport {
            connected: Some(mqtt.clone()),
            last_error: None,
        });
        let config_topic = Topic::Config {
            vessel: self.vessel.clone(),
        }
        .to_string();
        if let Err(e) = client.try_subscribe(&config_topic, QoS::AtLeastOnce) {
            return End::Lost(format!("subscribing to {config_topic}: {e}"));
        }
        let mut s = Session {
            client,
            sent: VecDeque::new(),
            awaiting: HashMap::new(),
            fixes_in_flight: false,
            fixes_due: Instant::now(),
        };
        // Before anything else, say who is here.
        let mut signature = self.status.signature();
        if let Err(e) = s.publish_status(&self.vessel, &self.status.online()) {
            return End::Lost(e);
        }
        while let Some(ack) = unsent_acks.pop_front() {
            if let Err(e) = s.publish_ack(&self.vessel, &ack) {
                unsent_acks.push_front(ack);
                return End::Lost(e);
            }
        }
        let mut status_tick = tokio::time::interval_at(Instant::now() + STATUS_EVERY, STATUS_EVERY);
        loop {
            // Send what the window and the budget allow, newest first.
            let wake_at = match self.fill(&mut s, budget).await {
                Ok(next) => next,
                Err(reason) => return End::Lost(reason),
            };
            if let Err(reason) = self.send_fixes(&mut s).await {
                return End::Lost(reason);
            }
            let wake_at = if s.fixes_in_flight {
                wake_at
            } else {
                wake_at.min(s.fixes_due)
            };
            // (The thumbnailer refreshes the backlog gauge every second.)
            let backlog = self.metrics.uplink.outbox_backlog.load(Ordering::Relaxed);
            self.set_link(LinkState::Offline.next(true, backlog));
            // A camera changed state, or the fix came or went: say so now.
            let now_signature = self.status.signature();
            if now_signature != signature {
                signature = now_signature;
                if let Err(e) = s.publish_status(&self.vessel, &self.status.online()) {
                    return End::Lost(e);
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    s.goodbye(&self.vessel, &mut events).await;
                    return End::Shutdown;
                }
                ev = events.next() => {
                    if let Err(reason) = self.on_event(&mut s, ev).await {
                        return End::Lost(reason);
                    }
                }
                Some(ack) = self.acks.recv() => {
                    if let Err(e) = s.publish_ack(&self.vessel, &ack) {
                        unsent_acks.push_back(ack);
                        return End::Lost(e);
                    }
                }
                Ok(()) = self.settings.changed() => {
                    let relink = {
                        let now = self.settings.borrow_and_update();
                        budget.set_rate(now.budget_bytes_per_s);
                        now.mqtt != *mqtt
                    };
                    if relink {
                        s.goodbye(&self.vessel, &mut events).await;
                        return End::Relink;
                    }
                }
                _ = self.added.notified() => {}
                _ = tokio::time::sleep_until(wake_at) => {}
                _ = status_tick.tick() => {
                    if let Err(e) = s.publish_status(&self.vessel, &self.status.online()) {
                        return End::Lost(e);
                    }
                }
            }
        }
    }

    /// Publishes thumbnails while the window and the budget allow; returns
    /// when to look again.
    async fn fill(&self, s: &mut Session, budget: &mut Budget) -> Result<Instant, String> {
        let in_flight: Vec<i64> = s.in_flight_ids();
        let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
        let idle = Instant::now() + IDLE_WAKE;
        if room == 0 {
            return Ok(idle);
        }
        let outbox = Arc::clone(&self.outbox);
        let batch = tokio::task::spawn_blocking(move || outbox.newest(room, &in_flight))
            .await
            .map_err(|e| format!("outbox task: {e}"))?
            .map_err(|e| format!("{e}"))?;
        for p in batch {
            let bytes = p.payload.len() as u64;
            if let Err(wait) = budget.take(bytes, Instant::now()) {
                return Ok(Instant::now() + wait);
            }
            s.publish_thumb(&self.vessel, p)?;
        }
        Ok(idle)
    }

    /// Publishes the next position report when one is due and none is in
    /// flight: the fixes after the outbox's cursor.
    async fn send_fixes(&self, s: &mut Session) -> Result<(), String> {
        if s.fixes_in_flight || Instant::now() < s.fixes_due {
            return Ok(());
        }
        let (outbox, store) = (Arc::clone(&self.outbox), Arc::clone(&self.store));
        let fixes = tokio::task::spawn_blocking(move || {
            let after = outbox
                .positions_sent_until()
                .map_err(|e| format!("{e}"))?
                .unwrap_or(-1);
            store
                .fixes_after(after, MAX_FIXES_PER_REPORT)
                .map_err(|e| format!("{e}"))
        })
        .await
        .map_err(|e| format!("outbox task: {e}"))??;
        // A full report: more wait, send the next on this one's PUBACK.
        s.fixes_due = if fixes.len() == MAX_FIXES_PER_REPORT {
            Instant::now()
        } else {
            Instant::now() + POSITION_EVERY
        };
        let Some(last) = fixes.last().map(|f| f.at_ms) else {
            return Ok(());
        };
        let report = PositionReport {
            fixes: fixes.iter().map(|f| f.to_wire()).collect(),
        };
        s.publish_position(&self.vessel, &report, last)?;
        s.fixes_in_flight = true;
        Ok(())
    }

    async fn on_event(&self, s: &mut Session, ev: Result<Event, String>) -> Result<(), String> {
        let ev = ev?;
        if matches!(ev, Event::Incoming(_)) {
            self.metrics
                .uplink
                .last_contact_ns
                .store(Timestamp::now().unix_nanos(), Ordering::Relaxed);
        }
        match ev {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(sent) = s.sent.pop_front()
                    && pkid != 0
                {
                    s.awaiting.insert(pkid, sent);
                }
            }
            Event::Incoming(Packet::PubAck(ack)) => match s.awaiting.remove(&ack.pkid) {
                Some(Sent::Thumb(id, bytes)) => {
                    let outbox = Arc::clone(&self.outbox);
                    tokio::task::spawn_blocking(move || outbox.remove(id))
                        .await
                        .map_err(|e| format!("outbox task: {e}"))?
                        .map_err(|e| format!("{e}"))?;
                    set_backlog_gauges(&self.metrics, &self.outbox);
                    let u = &self.metrics.uplink;
                    u.thumbs_sent.fetch_add(1, Ordering::Relaxed);
                    u.thumb_bytes_sent.fetch_add(bytes, Ordering::Relaxed);
                }
                Some(Sent::Fixes(until_ms, count)) => {
                    let outbox = Arc::clone(&self.outbox);
                    tokio::task::spawn_blocking(move || outbox.set_positions_sent(until_ms))
                        .await
                        .map_err(|e| format!("outbox task: {e}"))?
                        .map_err(|e| format!("{e}"))?;
                    s.fixes_in_flight = false;
                    self.metrics
                        .uplink
                        .fixes_sent
                        .fetch_add(count, Ordering::Relaxed);
                }
                Some(Sent::Other) | None => {}
            },
            Event::Incoming(Packet::Publish(p)) => {
                match serde_json::from_slice::<ConfigPush>(&p.payload) {
                    // The newest push wins; one still waiting is replaced.
                    Ok(push) => {
                        self.pushes.send_replace(Some(push));
                    }
                    Err(e) => {
                        tracing::warn!(topic = %p.topic, "a pushed config is not JSON of {{version, config}}: {e}");
                        self.metrics
                            .uplink
                            .configs_rejected
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A live session: the client, and which publishes await their PUBACK.
struct Session {
    client: AsyncClient,
    /// Publishes handed to the client, in order, not yet given a packet id.
    sent: VecDeque<Sent>,
    /// Publishes by packet id, awaiting PUBACK.
    awaiting: HashMap<u16, Sent>,
    /// A position report awaits its PUBACK (one at a time, so that the
    /// cursor moves in order).
    fixes_in_flight: bool,
    /// When to look for fixes to send next.
    fixes_due: Instant,
}

impl Session {
    fn in_flight_ids(&self) -> Vec<i64> {
        self.sent
            .iter()
            .chain(self.awaiting.values())
            .filter_map(|s| match s {
                Sent::Thumb(id, _) => Some(*id),
                _ => None,
            })
            .collect()
    }

    fn publish(
        &mut self,
        topic: String,
        retain: bool,
        qos: QoS,
        payload: Vec<u8>,
        sent: Sent,
    ) -> Result<(), String> {
        self.client
            .try_publish(topic, qos, retain, payload)
            .map_err(|e| format!("publishing: {e}"))?;
        // QoS 0 publishes report packet id 0 and are never acked.
        self.sent.push_back(sent);
        Ok(())
    }

    fn publish_thumb(&mut self, vessel: &VesselName, p: Pending) -> Result<(), String> {
        let topic = Topic::Thumb {
            vessel: vessel.clone(),
            camera: p.camera,
        };
        let bytes = p.payload.len() as u64;
        self.publish(
            topic.to_string(),
            false,
            QoS::AtLeastOnce,
            p.payload,
            Sent::Thumb(p.id, bytes),
        )
    }

    fn publish_status(&mut self, vessel: &VesselName, status: &Status) -> Result<(), String> {
        let topic = Topic::Status {
            vessel: vessel.clone(),
        };
        let json = serde_json::to_vec(status).map_err(|e| e.to_string())?;
        self.publish(topic.to_string(), true, QoS::AtLeastOnce, json, Sent::Other)
    }

    /// A position report whose newest fix is at `until_ms`.
    fn publish_position(
        &mut self,
        vessel: &VesselName,
        report: &PositionReport,
        until_ms: i64,
    ) -> Result<(), String> {
        let topic = Topic::Position {
            vessel: vessel.clone(),
        };
        let json = serde_json::to_vec(report).map_err(|e| e.to_string())?;
        let count = report.fixes.len() as u64;
        self.publish(
            topic.to_string(),
            false,
            QoS::AtLeastOnce,
            json,
            Sent::Fixes(until_ms, count),
        )
    }

    fn publish_ack(&mut self, vessel: &VesselName, ack: &ConfigAck) -> Result<(), String> {
        let topic = Topic::ConfigAck {
            vessel: vessel.clone(),
        };
        let json = serde_json::to_vec(ack).map_err(|e| e.to_string())?;
        self.publish(
            topic.to_string(),
            false,
            QoS::AtLeastOnce,
            json,
            Sent::Other,
        )
    }

    /// An orderly goodbye: a clean disconnect discards the last will, so
    /// the retained status says `offline` first.
    async fn goodbye(mut self, vessel: &VesselName, events: &mut Driver) {
        if self.publish_status(vessel, &Status::offline()).is_ok() {
            let _ = self.client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while events.next().await.is_ok() {}
            })
            .await;
        }
    }
}

/// Polls a rumqttc event loop on its own task (so that the session's
/// `select!` only ever waits on a channel) until its first error; the task
/// is aborted when the driver is dropped.
struct Driver {
    events: mpsc::Receiver<Result<Event, String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Driver {
    fn start(mut eventloop: EventLoop) -> Self {
        let (tx, events) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let ev = eventloop.poll().await.map_err(|e| e.to_string());
                let failed = ev.is_err();
                if tx.send(ev).await.is_err() || failed {
                    break;
                }
            }
        });
        Self { events, task }
    }

    async fn next(&mut self) -> Result<Event, String> {
        self.events
            .recv()
            .await
            .unwrap_or_else(|| Err("the connection task ended".into()))
    }

    async fn connack(&mut self) -> Result<(), String> {
        loop {
            if let Event::Incoming(Packet::ConnAck(ack)) = self.next().await? {
                return match ack.code {
                    ConnectReturnCode::Success => Ok(()),
                    refused => Err(format!("broker refused the connection: {refused:?}")),
                };
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
