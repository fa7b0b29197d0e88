//! The shore's HTTP API (axum): JSON under `/api/v1`, `/metrics` in the
//! Prometheus format, `/healthz`. One file per resource; `error` and
//! `params` hold what they share. The listener is bound by the caller
//! (tests bind port 0). `/api/v1/events` streams changes (SSE); the fleet
//! page (`/`, `/assets/…`) is [`web`].
//!
//! Every route sits in one group by who may call it — [`public_routes`]
//! (the health check, the page shell, sign-in), [`viewer_routes`] (every
//! read), [`operator_routes`] (config pushes), [`admin_routes`] (accounts)
//! — and every group but the public one is behind the [`guard`] for its
//! role. Adding a route is one line in its group; [`route_table`] lists
//! them all (the auth test tries each one with each role).

mod accounts;
mod config;
mod events;
mod fleet_health;
mod fleet_metrics;
mod guard;
mod health;
mod params;
mod session;
mod thumbs;
mod track;
mod vessels;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{self, MethodRouter};
use rumqttc::AsyncClient;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use seaframe_http::ApiError;

use crate::adapters::blobs::Blobs;
use crate::adapters::index::Index;
use crate::base::auth::role::Role;
use crate::services::auth::Auth;
use crate::services::feed::FeedEvent;
use crate::services::metrics::Metrics;

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub index: Arc<dyn Index>,
    pub blobs: Blobs,
    pub metrics: Arc<Metrics>,
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
    /// Sign-in settings, the break-glass token and the sign-in backoff.
    pub auth: Arc<Auth>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("index", &self.index)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// An account with this role or a higher one.
    Role(Role),
}

/// One route of the API, as [`route_table`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// A group of routes with one access rule, and the list of what it holds.
struct Routes {
    access: Access,
    router: Router<ApiState>,
    table: Vec<RouteInfo>,
}

impl Routes {
    fn new(access: Access) -> Self {
        Self {
            access,
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<ApiState>) -> Self {
        self.router = self.router.route(path, route);
        self.table.push(RouteInfo {
            method,
            path,
            access: self.access,
        });
        self
    }

    fn get<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::GET, path, routing::get(h))
    }

    fn post<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::POST, path, routing::post(h))
    }

    fn put<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PUT, path, routing::put(h))
    }

    fn patch<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PATCH, path, routing::patch(h))
    }

    fn delete<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::DELETE, path, routing::delete(h))
    }

    /// The group's router, behind the guard for its role.
    fn into_router(self, state: &ApiState) -> Router<ApiState> {
        match self.access {
            Access::Public => self.router,
            Access::Role(role) => self.router.route_layer(middleware::from_fn_with_state(
                (state.clone(), role),
                guard::require,
            )),
        }
    }
}

/// Open to anyone: the health check, the page shell (it holds no data and
/// shows a sign-in form until signed in) and signing in.
fn public_routes() -> Routes {
    Routes::new(Access::Public)
        .get("/healthz", health::healthz)
        .get("/api/v1/healthz", health::healthz)
        .post("/api/v1/session", session::sign_in)
        .get("/", web::index)
        .get("/index.html", web::index)
        .get("/assets/{name}", web::asset)
}

/// Every read: viewers and up.
fn viewer_routes() -> Routes {
    Routes::new(Access::Role(Role::Viewer))
        .get("/metrics", health::metrics)
        .get("/api/v1/metrics", health::metrics)
        .get("/api/v1/events", events::events)
        .get("/api/v1/vessels", vessels::list)
        .get("/api/v1/vessels/{v}/thumbs", thumbs::by_vessel)
        .get("/api/v1/vessels/{v}/track", track::get)
        .get("/api/v1/vessels/{v}/config", config::get)
        .get("/api/v1/vessels/{v}/health", fleet_health::vessel)
        .get("/api/v1/alerts", fleet_health::list)
        .get("/api/v1/thumbs", thumbs::search)
        .get("/api/v1/thumbs/{id}", thumbs::one)
        .get("/api/v1/thumbs/{id}/image", thumbs::image)
        .get("/api/v1/session", session::whoami)
        .delete("/api/v1/session", session::sign_out)
}

/// Pushing configs: operators and up.
fn operator_routes() -> Routes {
    Routes::new(Access::Role(Role::Operator))
        .put("/api/v1/vessels/{v}/config", config::put)
        .patch("/api/v1/vessels/{v}/config", config::patch)
}

/// Managing accounts: admins.
fn admin_routes() -> Routes {
    Routes::new(Access::Role(Role::Admin))
        .get("/api/v1/accounts", accounts::list)
        .post("/api/v1/accounts", accounts::add)
        .delete("/api/v1/accounts/{name}", accounts::remove)
        .post("/api/v1/accounts/{name}/tokens", accounts::new_token)
        .delete("/api/v1/accounts/{name}/tokens", accounts::revoke_tokens)
}

fn groups() -> [Routes; 4] {
    [
        public_routes(),
        viewer_routes(),
        operator_routes(),
        admin_routes(),
    ]
}

/// Every route with who may call it.
pub fn route_table() -> Vec<RouteInfo> {
    groups().into_iter().flat_map(|g| g.table).collect()
}

/// Every answer says `nosniff`: a browser never takes a body for another
/// type than the one declared (a JPEG for a script, JSON for HTML).
async fn nosniff(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// All routes.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for group in groups() {
        router = router.merge(group.into_router(&state));
    }
    router
        .fallback(|uri: Uri| async move {
            ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
        })
        .layer(middleware::map_response(nosniff))
        .with_state(state)
}

/// Serves until `shutdown` (graceful: requests in progress finish).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
