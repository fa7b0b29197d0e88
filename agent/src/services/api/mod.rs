//! The agent's HTTP API (axum): JSON under `/api/v1`, `/metrics` in the
//! Prometheus format, and the crew page at `/`. One file per resource;
//! `error`, `params`, `guard` and `cors` hold what they share. The
//! listener is bound by the caller (tests bind port 0).

mod cameras;
mod config;
mod cors;
mod frames;
mod guard;
mod metrics;
mod params;
mod places;
mod session;
mod status;
mod store_call;
mod track;
mod video;
mod web;

use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware;
use axum::routing::get;
use seaframe_wire::VesselName;
use tokio_util::sync::CancellationToken;

use seaframe_http::ApiError;

use crate::adapters::config::in_effect::SharedInEffect;
use crate::adapters::store::Store;
use crate::base::clock::Clock;
use crate::base::config::{ApiConfig, Secret};
use crate::base::metrics::Metrics;
use seaframe_wire::timestamp::Timestamp;

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
    /// The crew page's sign-ins.
    sessions: Arc<session::Sessions>,
    /// `api.cors_origins`.
    cors: Arc<[String]>,
    /// `api.map_tiles`, and the crew page's policy that lets its images in.
    map_tiles: Option<Arc<str>>,
    csp: HeaderValue,
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
            sessions: Arc::new(session::Sessions::new(Duration::from_secs(
                ApiConfig::default().session_ttl_s,
            ))),
            cors: Arc::from([]),
            map_tiles: None,
            csp: seaframe_http::assets::page_csp(&[]),
        }
    }

    /// Session lifetime, CORS origins and map tiles from `[api]`.
    pub fn with_api_config(mut self, api: &ApiConfig) -> Self {
        self.sessions = Arc::new(session::Sessions::new(Duration::from_secs(
            api.session_ttl_s,
        )));
        self.cors = Arc::from(api.cors_origins.clone());
        // A template that fails the config's check is left out.
        let origin = (api.map_tiles.as_deref()).and_then(|t| seaframe_http::tile_origin(t).ok());
        self.map_tiles = origin.as_ref().and(api.map_tiles.as_deref()).map(Arc::from);
        self.csp = seaframe_http::assets::page_csp(origin.as_deref().as_slice());
        self
    }

    /// Serves `GET /api/v1/config` (and the config in `/status`) from it.
    pub fn with_config(mut self, in_effect: SharedInEffect) -> Self {
        self.in_effect = Some(in_effect);
        self
    }
}

/// All routes. `/healthz`, the crew page's files and sign-in never need
/// the token; everything else does when one is configured (the bearer
/// token, or the cookie of a sign-in).
pub fn router(state: ApiState) -> Router {
    let guarded = Router::new()
        .route("/api/v1/cameras", get(cameras::list))
        .route("/api/v1/status", get(status::get))
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
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::require_token,
        ));
    Router::new()
        .route("/healthz", get(cameras::healthz))
        .route("/api/v1/healthz", get(cameras::healthz))
        .route("/", get(web::index))
        .route("/assets/{name}", get(web::asset))
        .route(
            "/api/v1/session",
            get(session::get)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .merge(guarded)
        .fallback(|uri: Uri| async move {
            ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
        })
        .layer(middleware::from_fn_with_state(state.clone(), cors::layer))
        .with_state(state)
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
