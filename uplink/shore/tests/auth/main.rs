//! Accounts, roles, sign-in and secrets that never leave, on every index
//! backend:
//! - every route of the router (its own table, [`api::route_table`], must
//!   equal this test's: a route added without a line here fails) is tried
//!   without credentials, with a viewer's, an operator's and an admin's API
//!   token, with the deprecated `[api] token`, and with a session cookie
//!   without and with its CSRF token: 401, 403 or the route's own answer
//!   as its role says, `nosniff` on every answer;
//! - a config holding an RTSP, an MQTT and a plain password is pushed: the
//!   vessel receives them whole over MQTT, and no answer of any route, no
//!   event of the live stream and no line of the shore's log holds them
//!   (nor any token or session secret); the redacted overlay sent back
//!   keeps the secrets;
//! - sign-in: the cookie's attributes, who is signed in, sign-out, a
//!   session that has ended, a removed account, another origin, the
//!   backoff after failures and its counts in `/metrics`;
//! - no listening beyond loopback with no account.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod routes;
mod sessions;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use reqwest::Method;
use seaframe_shore::adapters::config::Secret;
use seaframe_shore::app::Shore;
use seaframe_shore::base::auth::credential::hash_secret;
use seaframe_shore::base::auth::role::Role;
use seaframe_shore::base::when::now_ns;
use seaframe_shore::services::api::{self, Access};
use seaframe_shore::services::auth::accounts;
use seaframe_testkit::{MosquittoServer, wait_for};
use seaframe_wire::message::ConfigPush;
use serde_json::{Value, json};

const RTSP_PW: &str = "Rtsp-pw-4711";
const MQTT_PW: &str = "Mqtt-pw-0815";
const PLAIN_PW: &str = "Plain-pw-2342";
const BREAK_GLASS: &str = "break-glass-token-99";
const PASSWORD: &str = "correct horse battery staple";

/// The config pushed: an RTSP camera with its password in the URL, the
/// broker URL with the vessel's, and a secret-named key.
fn secret_config() -> Value {
    json!({
        "cameras": [{"id": "bow", "source": format!("rtsp://cam:{RTSP_PW}@10.0.0.5:554/s1"), "fps": 1.0}],
        "uplink": {
            "mqtt_url": format!("mqtts://aurora:{MQTT_PW}@broker.example:8883"),
            "thumbs_per_s": 1.0,
        },
        "gps": {"source": "none", "password": PLAIN_PW},
    })
}

const SECRETS: [&str; 3] = [RTSP_PW, MQTT_PW, PLAIN_PW];

// ---- the shore's log, captured ----

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at debug level (with the shore's
/// caps), into [`LOG`].
fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(seaframe_shore::logging::capped("debug".into()))
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .init();
    });
}

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

// ---- HTTP with JSON (reqwest is built without its json feature) ----

trait JsonBody {
    fn json_body(self, v: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(v.to_string())
    }
}

async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

// ---- credentials ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    None,
    Viewer,
    Operator,
    Admin,
    BreakGlass,
    /// An operator's session cookie, without the CSRF header.
    CookieNoCsrf,
    /// An operator's session cookie with it.
    Cookie,
}

const CREDS: [Cred; 7] = [
    Cred::None,
    Cred::Viewer,
    Cred::Operator,
    Cred::Admin,
    Cred::BreakGlass,
    Cred::CookieNoCsrf,
    Cred::Cookie,
];

struct Creds {
    viewer: String,
    operator: String,
    admin: String,
}

/// A session: the cookie's value and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(addr: SocketAddr, name: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/session"))
        .json_body(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
}

/// The value of a `Set-Cookie` for the session (none when it clears it).
fn cookie_value(set: &str) -> Option<String> {
    let pair = set.split(';').next()?;
    let v = pair.strip_prefix("seaframe_session=")?;
    (!v.is_empty()).then(|| v.to_owned())
}

/// The session cookie a sign-in answer sets.
fn cookie_of(r: &reqwest::Response) -> String {
    cookie_value(r.headers()["set-cookie"].to_str().unwrap()).unwrap()
}

async fn session(addr: SocketAddr, name: &str) -> Session {
    let r = sign_in(addr, name, PASSWORD).await;
    assert_eq!(r.status(), 200);
    let cookie = cookie_of(&r);
    let body: Value = json_of(r).await;
    Session {
        cookie,
        csrf: body["csrf"].as_str().unwrap().to_owned(),
    }
}

/// The request as `cred` sends it (a cookie session is a fresh sign-in).
async fn with_cred(
    addr: SocketAddr,
    req: reqwest::RequestBuilder,
    cred: Cred,
    c: &Creds,
) -> reqwest::RequestBuilder {
    match cred {
        Cred::None => req,
        Cred::Viewer => req.bearer_auth(&c.viewer),
        Cred::Operator => req.bearer_auth(&c.operator),
        Cred::Admin => req.bearer_auth(&c.admin),
        Cred::BreakGlass => req.bearer_auth(BREAK_GLASS),
        Cred::CookieNoCsrf | Cred::Cookie => {
            let s = session(addr, "op").await;
            let req = req.header("cookie", format!("seaframe_session={}", s.cookie));
            if cred == Cred::Cookie {
                req.header("x-seaframe-csrf", s.csrf)
            } else {
                req
            }
        }
    }
}

/// A shore (with the break-glass token) and its accounts: viewer, op
/// (operator), boss (admin), spare (a viewer to issue tokens for), each
/// with [`PASSWORD`].
async fn shore_with_accounts(
    broker: &MosquittoServer,
    dir: &std::path::Path,
    url: &str,
) -> (Shore, Creds) {
    let mut cfg = config(&broker.url(), dir, "auth-shore", Some(url));
    cfg.api.token = Some(Secret::new(BREAK_GLASS));
    let shore = start(cfg).await;
    let index = &*shore.index;
    for (name, role) in [
        ("viewer", Role::Viewer),
        ("op", Role::Operator),
        ("boss", Role::Admin),
        ("spare", Role::Viewer),
    ] {
        accounts::add(index, name, role, Some(PASSWORD.into()))
            .await
            .unwrap();
    }
    let creds = Creds {
        viewer: accounts::new_token(index, "viewer").await.unwrap(),
        operator: accounts::new_token(index, "op").await.unwrap(),
        admin: accounts::new_token(index, "boss").await.unwrap(),
    };
    (shore, creds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_listening_beyond_loopback_without_an_account() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "auth-listen").await {
        let broker = MosquittoServer::start().unwrap();
        let data = tempfile::tempdir().unwrap();
        let cfg = config(&broker.url(), data.path(), "listen-shore", Some(&url));
        let everywhere = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let e = Shore::start(cfg.clone(), everywhere).await.unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("refusing to listen on 0.0.0.0") && msg.contains("account add"),
            "{msg}"
        );
        // Loopback is fine without one; with one, anywhere.
        let shore = start(cfg.clone()).await;
        accounts::add(&*shore.index, "first", Role::Admin, None)
            .await
            .unwrap();
        shore.stop().await.unwrap();
        let everywhere = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let shore = Shore::start(cfg, everywhere).await.unwrap();
        let port = shore.addr.port();
        wait_for(
            "the shore answers on 0.0.0.0",
            Duration::from_secs(10),
            || async {
                let r = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/vessels"))
                    .await
                    .ok()?;
                (r.status() == 401).then_some(())
            },
        )
        .await;
        shore.stop().await.unwrap();
    }
}
