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

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use reqwest::Method;
use seaframe_shore::api::{self, Access};
use seaframe_shore::app::Shore;
use seaframe_shore::auth::credential::hash_secret;
use seaframe_shore::auth::{Role, accounts};
use seaframe_shore::config::Secret;
use seaframe_shore::when::now_ns;
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

/// What `cred` may do on a route of `access` with `method`: `Ok(())` to
/// go through, `Err(status)` to be refused with.
fn expected(access: Access, method: &Method, cred: Cred) -> Result<(), u16> {
    let Access::Role(need) = access else {
        return Ok(());
    };
    let role = match cred {
        Cred::None => return Err(401),
        Cred::Viewer => Role::Viewer,
        Cred::Operator | Cred::BreakGlass | Cred::Cookie => Role::Operator,
        Cred::Admin => Role::Admin,
        Cred::CookieNoCsrf if *method != Method::GET => return Err(403),
        Cred::CookieNoCsrf => Role::Operator,
    };
    if role < need { Err(403) } else { Ok(()) }
}

/// One route as this test knows it: its method and path, who may call it,
/// and a request that works when allowed (path, body, the status then).
struct Case {
    method: Method,
    route: &'static str,
    access: Access,
    path: String,
    body: Option<Value>,
    ok: u16,
}

static MADE: AtomicU64 = AtomicU64::new(0);

/// Every route of the shore. A route the router has and this table does
/// not (or the other way round) fails the test: add it here with who may
/// call it.
fn cases(thumb_id: i64) -> Vec<Case> {
    use Access::{Public, Role as R};
    let case = |method: Method, route: &'static str, access, path: &str, body, ok| Case {
        method,
        route,
        access,
        path: path.to_owned(),
        body,
        ok,
    };
    let t = format!("/api/v1/thumbs/{thumb_id}");
    let n = MADE.fetch_add(1, Ordering::SeqCst);
    vec![
        case(Method::GET, "/healthz", Public, "/healthz", None, 200),
        case(
            Method::GET,
            "/api/v1/healthz",
            Public,
            "/api/v1/healthz",
            None,
            200,
        ),
        case(
            Method::POST,
            "/api/v1/session",
            Public,
            "/api/v1/session",
            Some(json!({"name": "op", "password": PASSWORD})),
            200,
        ),
        case(Method::GET, "/", Public, "/", None, 200),
        case(Method::GET, "/index.html", Public, "/index.html", None, 200),
        case(
            Method::GET,
            "/assets/{name}",
            Public,
            "/assets/app.js",
            None,
            200,
        ),
        case(
            Method::GET,
            "/metrics",
            R(Role::Viewer),
            "/metrics",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/metrics",
            R(Role::Viewer),
            "/api/v1/metrics",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/events",
            R(Role::Viewer),
            "/api/v1/events",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/vessels",
            R(Role::Viewer),
            "/api/v1/vessels",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/vessels/{v}/thumbs",
            R(Role::Viewer),
            "/api/v1/vessels/aurora/thumbs",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/vessels/{v}/track",
            R(Role::Viewer),
            "/api/v1/vessels/aurora/track",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/vessels/{v}/health",
            R(Role::Viewer),
            "/api/v1/vessels/aurora/health",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/alerts",
            R(Role::Viewer),
            "/api/v1/alerts",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/vessels/{v}/config",
            R(Role::Viewer),
            "/api/v1/vessels/aurora/config",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/thumbs",
            R(Role::Viewer),
            "/api/v1/thumbs",
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/thumbs/{id}",
            R(Role::Viewer),
            &t,
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/thumbs/{id}/image",
            R(Role::Viewer),
            &format!("{t}/image"),
            None,
            200,
        ),
        case(
            Method::GET,
            "/api/v1/session",
            R(Role::Viewer),
            "/api/v1/session",
            None,
            200,
        ),
        case(
            Method::DELETE,
            "/api/v1/session",
            R(Role::Viewer),
            "/api/v1/session",
            None,
            204,
        ),
        case(
            Method::PUT,
            "/api/v1/vessels/{v}/config",
            R(Role::Operator),
            "/api/v1/vessels/aurora/config",
            Some(secret_config()),
            200,
        ),
        case(
            Method::PATCH,
            "/api/v1/vessels/{v}/config",
            R(Role::Operator),
            "/api/v1/vessels/aurora/config",
            Some(json!({"retention": {"max_age_s": 3600}})),
            200,
        ),
        case(
            Method::GET,
            "/api/v1/accounts",
            R(Role::Admin),
            "/api/v1/accounts",
            None,
            200,
        ),
        case(
            Method::POST,
            "/api/v1/accounts",
            R(Role::Admin),
            "/api/v1/accounts",
            Some(json!({"name": format!("made-{n}"), "role": "viewer"})),
            201,
        ),
        case(
            Method::DELETE,
            "/api/v1/accounts/{name}",
            R(Role::Admin),
            &format!("/api/v1/accounts/made-{n}"),
            None,
            204,
        ),
        case(
            Method::POST,
            "/api/v1/accounts/{name}/tokens",
            R(Role::Admin),
            "/api/v1/accounts/spare/tokens",
            None,
            201,
        ),
        case(
            Method::DELETE,
            "/api/v1/accounts/{name}/tokens",
            R(Role::Admin),
            "/api/v1/accounts/spare/tokens",
            None,
            200,
        ),
    ]
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
async fn every_route_answers_by_role_and_no_secret_leaves() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "auth-routes").await {
        routes_and_secrets(&url).await;
    }
}

async fn routes_and_secrets(index_url: &str) {
    let broker = MosquittoServer::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (shore, c) = shore_with_accounts(&broker, data.path(), index_url).await;
    let addr = shore.addr;
    let http = reqwest::Client::new();
    let mut secrets_seen: Vec<String> = vec![c.viewer.clone(), c.operator.clone(), c.admin.clone()];

    // The table is the router's.
    let router: BTreeSet<(String, &str)> = api::route_table()
        .iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    let table: BTreeSet<(String, &str)> = cases(0)
        .iter()
        .map(|c| (c.method.to_string(), c.route))
        .collect();
    assert_eq!(
        router, table,
        "the routes of the router and of this test's table differ: give every new route a line in cases()"
    );
    for r in api::route_table() {
        let case = cases(0)
            .into_iter()
            .find(|c| c.method == r.method && c.route == r.path)
            .unwrap();
        assert_eq!(
            case.access, r.access,
            "{} {}: registered under another role",
            r.method, r.path
        );
    }

    // A vessel with a thumbnail, and listening to its config topic; the
    // live stream open before the push.
    let mut vessel = Publisher::connect(broker.port(), "aurora", None).await;
    vessel
        .client
        .subscribe("seaframe/v1/aurora/config", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    vessel
        .publish(
            &thumb_topic("aurora", "bow"),
            thumb("aurora", "bow", T0_NS).encode().unwrap(),
        )
        .await;
    let index = shore.index.clone();
    until(10, "the thumbnail indexed", || {
        let index = index.clone();
        async move { index.count_thumbs().await.unwrap() == 1 }
    })
    .await;
    let thumb_id = index.last_thumb_id().await.unwrap();
    let mut events = http
        .get(format!("http://{addr}/api/v1/events"))
        .bearer_auth(&c.viewer)
        .send()
        .await
        .unwrap()
        .bytes_stream();

    // The push: the vessel gets the secrets whole; the answer does not hold them.
    let r = http
        .put(format!("http://{addr}/api/v1/vessels/aurora/config"))
        .bearer_auth(&c.operator)
        .json_body(&secret_config())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut answers = r.text().await.unwrap();
    let push = next_config(&mut vessel).await;
    assert_eq!(push.config, secret_config(), "the vessel gets every secret");
    // An agent that quotes its URL whole in an ack's error.
    let ack = json!({"version": push.version, "status": "rejected",
                     "error": format!("cannot reach mqtts://aurora:{MQTT_PW}@broker.example:8883")});
    vessel
        .publish(
            "seaframe/v1/aurora/config/ack",
            ack.to_string().into_bytes(),
        )
        .await;
    let mut stream = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !(stream.contains("event: config") && stream.contains("rejected")) {
            let chunk = events.next().await.unwrap().unwrap();
            stream.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("the config events");
    assert!(
        stream.contains("rtsp://cam:***@10.0.0.5:554/s1"),
        "{stream}"
    );
    answers.push_str(&stream);

    // Every route with every credential.
    for cred in CREDS {
        for case in cases(thumb_id) {
            let url = format!("http://{addr}{}", case.path);
            let mut req = http.request(case.method.clone(), &url);
            if let Some(b) = &case.body {
                req = req.json_body(b);
            }
            let req = with_cred(addr, req, cred, &c).await;
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let what = format!("{} {} as {cred:?}", case.method, case.path);
            assert_eq!(
                r.headers()
                    .get("x-content-type-options")
                    .map(|v| v.to_str().unwrap()),
                Some("nosniff"),
                "{what}"
            );
            match expected(case.access, &case.method, cred) {
                Ok(()) => assert_eq!(status, case.ok, "{what}"),
                Err(refused) => assert_eq!(status, refused, "{what}"),
            }
            if let Some(set) = r.headers().get("set-cookie") {
                secrets_seen.extend(cookie_value(set.to_str().unwrap()));
            }
            if case.route == "/api/v1/events" || case.route.ends_with("/image") {
                continue; // a stream that goes on; a JPEG
            }
            let text = r.text().await.unwrap();
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                for key in ["token", "password", "csrf"] {
                    if let Some(s) = v[key].as_str() {
                        secrets_seen.push(s.to_owned());
                    }
                }
            }
            answers.push_str(&text);
        }
    }

    // The redacted overlay, sent back whole with a change, keeps the secrets.
    let (_, shown) = get_json(addr, "/api/v1/vessels/aurora/config").await;
    let mut back = shown["desired"].clone();
    back["retention"] = json!({"max_age_s": 7200});
    let r = http
        .put(format!("http://{addr}/api/v1/vessels/aurora/config"))
        .bearer_auth(&c.operator)
        .json_body(&back)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    answers.push_str(&r.text().await.unwrap());
    let mut want = secret_config();
    want["retention"] = json!({"max_age_s": 7200});
    let last = loop {
        let p = next_config(&mut vessel).await;
        if p.config.get("retention") == Some(&json!({"max_age_s": 7200})) {
            break p;
        }
    };
    assert_eq!(last.config, want, "sent back redacted, kept whole");

    for secret in SECRETS {
        assert!(!answers.contains(secret), "{secret} in an answer");
    }
    assert!(answers.contains("***"), "redacted, not left out");
    let log = log_text();
    for secret in SECRETS.iter().map(|s| s.to_string()).chain(secrets_seen) {
        assert!(
            !log.contains(&secret),
            "{secret} in the shore's log: {}",
            log.lines()
                .find(|l| l.contains(&secret))
                .unwrap_or_default()
        );
    }
    assert!(log.contains("config pushed"), "the log was captured");
    shore.stop().await.unwrap();
}

/// The next config the vessel receives.
async fn next_config(vessel: &mut Publisher) -> ConfigPush {
    loop {
        let p = tokio::time::timeout(Duration::from_secs(10), vessel.received.recv())
            .await
            .expect("a config in time")
            .unwrap();
        if p.topic == "seaframe/v1/aurora/config" {
            return serde_json::from_slice(&p.payload).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_sign_out_expire_and_sign_ins_back_off() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "auth-sessions").await {
        sessions(&url).await;
    }
}

async fn sessions(index_url: &str) {
    let broker = MosquittoServer::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (shore, c) = shore_with_accounts(&broker, data.path(), index_url).await;
    let addr = shore.addr;
    let http = reqwest::Client::new();
    let whoami = |cookie: &str| {
        http.get(format!("http://{addr}/api/v1/session"))
            .header("cookie", format!("seaframe_session={cookie}"))
            .send()
    };

    // The cookie: HttpOnly, SameSite=Strict, Path=/, the configured
    // lifetime; Secure when a TLS proxy says so.
    let r = sign_in(addr, "op", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    let cookie = cookie_of(&r);
    let body: Value = json_of(r).await;
    assert_eq!(
        (body["name"].as_str(), body["role"].as_str()),
        (Some("op"), Some("operator"))
    );
    let r = http
        .post(format!("http://{addr}/api/v1/session"))
        .header("x-forwarded-proto", "https")
        .json_body(&json!({"name": "op", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    // Who is signed in, with the CSRF token again (a reloaded page).
    let me = json_of(whoami(&cookie).await.unwrap()).await;
    assert_eq!(me["name"], "op");
    assert_eq!(me["via"], "session");
    assert_eq!(me["csrf"], body["csrf"]);
    let me = json_of(
        http.get(format!("http://{addr}/api/v1/session"))
            .bearer_auth(&c.viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str(), me["via"].as_str()),
        (Some("viewer"), Some("viewer"), Some("token"))
    );

    // A change from another origin is refused even with the CSRF token.
    let r = http
        .patch(format!("http://{addr}/api/v1/vessels/aurora/config"))
        .header("cookie", format!("seaframe_session={cookie}"))
        .header("x-seaframe-csrf", body["csrf"].as_str().unwrap())
        .header("origin", "https://elsewhere.example")
        .json_body(&json!({"retention": {"max_age_s": 60}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Sign-in wants JSON (a form from another site cannot send it).
    let r = http
        .post(format!("http://{addr}/api/v1/session"))
        .body(format!("name=op&password={PASSWORD}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Signing out ends the session (the cookie no longer works).
    let r = http
        .delete(format!("http://{addr}/api/v1/session"))
        .header("cookie", format!("seaframe_session={cookie}"))
        .header("x-seaframe-csrf", body["csrf"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(whoami(&cookie).await.unwrap().status(), 401);

    // A session past its end is refused, one before it is not; a sign-in
    // clears the ended ones.
    let index = &*shore.index;
    for (secret, end, status) in [
        ("ended", now_ns() - 1, 401),
        ("live", now_ns() + 60_000_000_000, 200),
    ] {
        assert!(
            index
                .add_session("viewer", &hash_secret(secret), end)
                .await
                .unwrap()
        );
        assert_eq!(whoami(secret).await.unwrap().status(), status, "{secret}");
    }
    assert!(
        index
            .add_session("viewer", "x", now_ns() - 1)
            .await
            .unwrap()
    );
    assert_eq!(sign_in(addr, "viewer", PASSWORD).await.status(), 200);
    assert_eq!(
        index.purge_sessions(now_ns()).await.unwrap(),
        0,
        "cleared at sign-in"
    );
    assert!(
        !index
            .add_session("nobody", "y", now_ns() + 1)
            .await
            .unwrap()
    );

    // Removing an account ends its sessions and tokens.
    let s = session(addr, "spare").await;
    let spare_token = accounts::new_token(index, "spare").await.unwrap();
    let r = http
        .delete(format!("http://{addr}/api/v1/accounts/spare"))
        .bearer_auth(&c.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(whoami(&s.cookie).await.unwrap().status(), 401);
    let r = http
        .get(format!("http://{addr}/api/v1/vessels"))
        .bearer_auth(&spare_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // An admin cannot remove their own account.
    let me = http
        .delete(format!("http://{addr}/api/v1/accounts/boss"))
        .bearer_auth(&c.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 409);

    // Failures: a few free, then the name waits (429 with Retry-After),
    // the right password included; counted.
    for i in 0..6 {
        let r = sign_in(addr, "boss", "not the password").await;
        assert_eq!(r.status(), 401, "failure {i}");
    }
    let r = sign_in(addr, "boss", PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(
        sign_in(addr, "nobody-at-all", "whatever it is")
            .await
            .status(),
        401,
        "an unknown name"
    );
    let metrics = get(&format!("http://{addr}/metrics"))
        .await
        .text()
        .await
        .unwrap();
    for line in [
        "seaframe_shore_sign_ins_total{outcome=\"failed\"} 7",
        "seaframe_shore_sign_ins_total{outcome=\"throttled\"} 1",
        "seaframe_shore_sign_ins_total{outcome=\"ok\"} 4",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert!(metrics.contains("seaframe_shore_auth_refused_total{status=\"401\"}"));
    shore.stop().await.unwrap();
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
