//! The shore's HTTP API (axum): JSON under `/api/v1`, `/metrics` in the
//! Prometheus format, `/healthz`. One file per resource; `error` and
//! `params` hold what they share. The listener is bound by the caller
//! (tests bind port 0). Reading is open; `PATCH`/`PUT …/config` need the
//! bearer token when one is configured. `/api/v1/events` streams changes (SSE);
//! the fleet page (`/`, `/assets/…`) is [`crate::web`].

mod config;
mod error;
mod events;
mod fleet_health;
mod fleet_metrics;
mod health;
mod params;
mod thumbs;
mod track;
mod vessels;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use rumqttc::AsyncClient;
use seaframe_http::bearer_matches;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

pub(crate) use config::{config_json, config_key};
pub use error::ApiError;
pub(crate) use fleet_health::{FleetHealthView, alert_json};
pub(crate) use thumbs::thumb_json;
pub(crate) use vessels::vessel_json;

use crate::blobs::Blobs;
use crate::config::Secret;
use crate::feed::FeedEvent;
use crate::index::Index;
use crate::metrics::Metrics;

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub index: Arc<dyn Index>,
    pub blobs: Blobs,
    pub metrics: Arc<Metrics>,
    pub token: Option<Arc<Secret>>,
    /// Publishes pushed configs (the ingest's client).
    pub mqtt: AsyncClient,
    /// Held from storing a push to queueing its message, so that this
    /// instance publishes versions in order (the retained one is the last).
    pub push_order: Arc<tokio::sync::Mutex<()>>,
    /// Whether ingest is subscribed (for `/healthz`).
    pub subscribed: watch::Receiver<bool>,
    /// The live feed (`/events`).
    pub events: broadcast::Sender<FeedEvent>,
    /// Ends the event streams at shutdown.
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("index", &self.index)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// All routes.
pub fn router(state: ApiState) -> Router {
    let guarded = Router::new()
        .route(
            "/api/v1/vessels/{v}/config",
            axum::routing::put(config::put).patch(config::patch),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/v1/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/metrics", get(health::metrics))
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/vessels", get(vessels::list))
        .route("/api/v1/vessels/{v}/thumbs", get(thumbs::by_vessel))
        .route("/api/v1/vessels/{v}/track", get(track::get))
        .route("/api/v1/vessels/{v}/config", get(config::get))
        .route("/api/v1/vessels/{v}/health", get(fleet_health::vessel))
        .route("/api/v1/alerts", get(fleet_health::list))
        .route("/api/v1/thumbs", get(thumbs::search))
        .route("/api/v1/thumbs/{id}", get(thumbs::one))
        .route("/api/v1/thumbs/{id}/image", get(thumbs::image))
        .merge(guarded)
        .merge(crate::web::router())
        .fallback(|uri: Uri| async move {
            ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
        })
        .with_state(state)
}

async fn require_token(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &state.token
        && !bearer_matches(req.headers(), token)
    {
        return Err(ApiError::Unauthorized);
    }
    Ok(next.run(req).await)
}

/// Serves until `shutdown` (graceful: requests in progress finish).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

/// `/api/v1/thumbs/<id>/image`
pub fn image_url(id: i64) -> String {
    format!("/api/v1/thumbs/{id}/image")
}
