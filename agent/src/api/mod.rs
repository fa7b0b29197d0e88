//! The agent's HTTP API (axum): JSON under `/api/v1`, `/metrics` in the
//! Prometheus format. One file per resource; `error` and `params` hold what
//! they share. The listener is bound by the caller (tests bind port 0).

mod cameras;
mod config;
mod error;
mod frames;
mod metrics;
mod params;
mod places;
mod store_call;
mod track;
mod video;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use seaframe_http::bearer_matches;
use seaframe_wire::VesselName;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;

use crate::clock::Clock;
use crate::config::Secret;
use crate::config::in_effect::SharedInEffect;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::timestamp::Timestamp;

/// What the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiState {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    token: Option<Arc<Secret>>,
    started_at: Timestamp,
    vessel: VesselName,
    clock: Clock,
    /// The config in effect (`None` in tests that serve a store alone).
    in_effect: Option<SharedInEffect>,
}

impl ApiState {
    pub fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        token: Option<Secret>,
        vessel: VesselName,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            metrics,
            token: token.map(Arc::new),
            started_at: Timestamp::now(),
            vessel,
            clock,
            in_effect: None,
        }
    }

    /// Serves `GET /api/v1/config` (and the config in `/status`) from it.
    pub fn with_config(mut self, in_effect: SharedInEffect) -> Self {
        self.in_effect = Some(in_effect);
        self
    }
}

/// All routes. `/healthz` never needs the token; everything else does when
/// one is configured.
pub fn router(state: ApiState) -> Router {
    let guarded = Router::new()
        .route("/api/v1/cameras", get(cameras::list))
        .route("/api/v1/status", get(cameras::status))
        .route("/api/v1/config", get(config::get))
        .route("/api/v1/frames", get(frames::list).delete(frames::purge))
        .route("/api/v1/frames/nearest", get(places::nearest))
        .route("/api/v1/frames/per-second", get(places::per_second))
        .route("/api/v1/frames/{id}", get(frames::one))
        .route("/api/v1/frames/{id}/image", get(frames::image))
        .route("/api/v1/track", get(track::get))
        .route("/api/v1/video", get(video::get))
        .route("/api/v1/metrics", get(metrics::get))
        .route("/metrics", get(metrics::get))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(cameras::healthz))
        .route("/api/v1/healthz", get(cameras::healthz))
        .merge(guarded)
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
