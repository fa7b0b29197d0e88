//! Wakes the feed when *another* shore instance commits to the shared
//! PostgreSQL index: a connection of its own `LISTEN`s on [`CHANNEL`], on
//! which triggers in the index (`NOTIFY` at commit, one per statement)
//! announce every write the feed follows — thumbnails, vessels, statuses,
//! alerts, configs and acks.
//!
//! Why: without it a page on one instance saw what another ingested only
//! at the feed's next poll (up to [`super::POLL`] later); with it, within
//! milliseconds. The poll stays: it covers a lost listening connection (the
//! listener reconnects with back-off, and wakes the feed once it listens
//! again, so that what was committed in between goes out at once) and an
//! index without triggers. A notification only wakes the feed, which reads
//! the index as always: a lost or repeated notification is harmless.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use seaframe_http::Secret;

use crate::base::backoff::{self, pause};

/// The channel the index's triggers notify (see the PostgreSQL migrations).
pub const CHANNEL: &str = "seaframe_feed";

/// The listening task: one per shore process on a PostgreSQL index.
#[derive(Debug)]
pub struct Listener {
    /// The index's URL (a connection of its own: a listening connection
    /// must not be shared with queries that hold it for long).
    pub url: Secret,
    /// The feed's wake-up (the same the local writer uses).
    pub wake: Arc<Notify>,
}

impl Listener {
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let mut backoff = backoff::retry();
        loop {
            let wait = backoff.next_delay();
            match self.listen(&shutdown).await {
                Ok(()) => return Ok(()),
                Err(e) => tracing::warn!(
                    error = %format!("{e:#}"),
                    retry_in_ms = wait.as_millis(),
                    "feed: not listening for other instances' commits; the poll covers meanwhile"
                ),
            }
            if !pause(wait, &shutdown).await {
                return Ok(());
            }
        }
    }

    /// Listens until `shutdown` (`Ok`) or until the connection fails.
    async fn listen(&self, shutdown: &CancellationToken) -> Result<()> {
        let (client, mut connection) = tokio_postgres::connect(self.url.expose(), NoTls)
            .await
            .context("connecting")?;
        // Notifications come through the connection, not the client: it is
        // driven here (never spawned), its messages read one by one.
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let sql = format!("LISTEN {CHANNEL}");
        let listen = client.batch_execute(&sql);
        tokio::pin!(listen);
        // The LISTEN is sent and answered only while the connection is polled.
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                done = &mut listen => {
                    done.context("LISTEN")?;
                    break;
                }
                message = messages.next() => match message {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("the listening connection"),
                    None => bail!("the listening connection closed"),
                },
            }
        }
        tracing::debug!(channel = CHANNEL, "feed: listening");
        // Whatever was committed before the LISTEN took hold goes out now.
        self.wake.notify_one();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                message = messages.next() => match message {
                    Some(Ok(AsyncMessage::Notification(_))) => self.wake.notify_one(),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("the listening connection"),
                    None => bail!("the listening connection closed"),
                },
            }
        }
    }
}
