//! `GET /api/v1/events`: the live feed as Server-Sent Events. Events:
//! `ready` (the stream is live), `thumb` (a thumbnail as the lists show it),
//! `vessel` (a vessel as `/vessels` lists it, when its state, last seen,
//! position or cameras change), `config` (`{vessel, desired, version, ack}`
//! when a config is pushed or acked), `alert` (an alert raised or cleared,
//! `{vessel, camera, kind, since, detail, state}`) and `resync` (`{"missed": n}`: this
//! client fell behind and missed events; reread `/vessels`). A comment every
//! 15 s keeps proxies from closing an idle stream. Streams end at shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::services::api::ApiState;
use crate::services::metrics::add;

/// How often an idle stream carries a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn events(
    State(state): State<ApiState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.events.subscribe();
    let shutdown = state.shutdown.clone();
    let metrics = state.metrics.clone();
    let ready = stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let live = stream::unfold((rx, shutdown), move |(mut rx, shutdown)| {
        let metrics = metrics.clone();
        async move {
            let got = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return None,
                got = rx.recv() => got,
            };
            let event = match got {
                Ok(e) => Event::default().event(e.name).data(&*e.data),
                Err(RecvError::Lagged(missed)) => {
                    add(&metrics.event_resyncs, 1);
                    Event::default()
                        .event("resync")
                        .data(json!({ "missed": missed }).to_string())
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), (rx, shutdown)))
        }
    });
    Sse::new(ready.chain(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
