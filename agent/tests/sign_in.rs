//! The crew page's doors over a real server: the page's files, signing in
//! with the token for a session cookie (and what is refused), the cookie
//! accepted wherever the token is, changes by cookie only from the agent's
//! own page, and CORS for the configured origins only.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::sync::Arc;

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE,
    ORIGIN, SET_COOKIE,
};
use reqwest::{Client, Method, StatusCode};
use seaframe_agent::adapters::store::Store;
use seaframe_agent::base::config::{ApiConfig, Secret};
use seaframe_agent::base::metrics::Metrics;
use seaframe_agent::services::api::{ApiState, serve};
use seaframe_wire::VesselName;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "crew-page-test-token";
const INTEGRATOR: &str = "https://ops.example.com";

struct Agent {
    base: String,
    http: Client,
    _dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn agent(token: Option<&str>, cors_origins: &[&str]) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let api = ApiConfig {
        token: token.map(Secret::new),
        cors_origins: cors_origins.iter().map(|o| o.to_string()).collect(),
        ..ApiConfig::default()
    };
    let state = ApiState::new(
        store,
        Arc::new(Metrics::default()),
        api.token.clone(),
        VesselName::parse("v").unwrap(),
        seaframe_agent::base::clock::Clock::new(Arc::new(
            seaframe_agent::base::gps::state::Gps::new(10),
        )),
    )
    .with_api_config(&api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, state, stop.clone()));
    Agent {
        base,
        http: Client::new(),
        _dir: dir,
        stop,
    }
}

impl Agent {
    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    fn own_origin(&self) -> &str {
        &self.base
    }

    /// Signs in; returns the `Cookie` header value to send back.
    async fn sign_in(&self) -> String {
        let r = self
            .req(Method::POST, "/api/v1/session")
            .header(CONTENT_TYPE, "application/json")
            .header(ORIGIN, self.own_origin())
            .body(format!("{{\"token\": \"{TOKEN}\"}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(set.contains(part), "{part} in {set}");
        }
        let body = r.text().await.unwrap();
        assert!(!body.contains(TOKEN), "the token is never echoed: {body}");
        set.split(';').next().unwrap().to_owned()
    }
}

async fn json(r: reqwest::Response) -> serde_json::Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn status_of(r: reqwest::RequestBuilder) -> StatusCode {
    r.send().await.unwrap().status()
}

#[tokio::test]
async fn the_page_is_public_and_loads_only_from_the_agent() {
    let a = agent(Some(TOKEN), &[]).await;
    let r = a.req(Method::GET, "/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(r.text().await.unwrap().contains("/assets/app.js"));
    let r = a.req(Method::GET, "/assets/live.js").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let tag = r.headers()["etag"].clone();
    let again = a
        .req(Method::GET, "/assets/live.js")
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    for bad in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2Fsrc%2Fmain.rs",
    ] {
        assert_eq!(
            status_of(a.req(Method::GET, bad)).await,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_token_buys_a_session_cookie_that_opens_the_api() {
    let a = agent(Some(TOKEN), &[]).await;
    let session = |cookie: Option<&str>| {
        let r = a.req(Method::GET, "/api/v1/session");
        match cookie {
            Some(c) => r.header(COOKIE, c.to_owned()),
            None => r,
        }
    };
    let before = json(session(None).send().await.unwrap()).await;
    assert_eq!(
        before,
        serde_json::json!({"required": true, "signed_in": false})
    );
    assert_eq!(status_of(a.req(Method::GET, "/api/v1/cameras")).await, 401);

    // What a sign-in refuses, each with a clear error and no cookie.
    let post = || {
        a.req(Method::POST, "/api/v1/session")
            .header(CONTENT_TYPE, "application/json")
    };
    for (req, status, says) in [
        (post().body(r#"{"token": "wrong"}"#), 401, "wrong API token"),
        (post().body(r#"{"tok": 1}"#), 400, "body:"),
        (post().body("not json"), 400, "body:"),
        (
            a.req(Method::POST, "/api/v1/session")
                .header(CONTENT_TYPE, "text/plain")
                .body(format!(r#"{{"token": "{TOKEN}"}}"#)),
            400,
            "Content-Type",
        ),
        (
            post()
                .header(ORIGIN, "http://127.0.0.1:1")
                .body(format!(r#"{{"token": "{TOKEN}"}}"#)),
            403,
            "Origin",
        ),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert!(r.headers().get(SET_COOKIE).is_none());
        let body = json(r).await;
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }

    let cookie = a.sign_in().await;
    let after = json(session(Some(&cookie)).send().await.unwrap()).await;
    assert_eq!(after["signed_in"], true);
    let with = |m: Method, path: &str| a.req(m, path).header(COOKIE, cookie.clone());
    assert_eq!(status_of(with(Method::GET, "/api/v1/cameras")).await, 200);
    assert_eq!(status_of(with(Method::GET, "/api/v1/status")).await, 200);
    // Another cookie of the same name is no session.
    let forged = a.req(Method::GET, "/api/v1/cameras").header(
        COOKIE,
        "seaframe_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    assert_eq!(status_of(forged).await, 401);

    // A change by cookie must come from the agent's own page.
    let purge = "/api/v1/frames?before=2020-01-01T00:00:00Z";
    assert_eq!(
        status_of(with(Method::DELETE, purge)).await,
        403,
        "no Origin"
    );
    let elsewhere = with(Method::DELETE, purge).header(ORIGIN, "http://127.0.0.1:1");
    assert_eq!(status_of(elsewhere).await, 403);
    let own = with(Method::DELETE, purge).header(ORIGIN, a.own_origin());
    assert_eq!(status_of(own).await, 200);
    // The token needs no Origin (no browser sends it unasked).
    let bearer = a
        .req(Method::DELETE, purge)
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"));
    assert_eq!(status_of(bearer).await, 200);

    // Signing out ends the session.
    let out = with(Method::DELETE, "/api/v1/session").header(ORIGIN, a.own_origin());
    let r = out.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(status_of(with(Method::GET, "/api/v1/cameras")).await, 401);
}

#[tokio::test]
async fn without_a_token_the_page_needs_no_sign_in() {
    let a = agent(None, &[]).await;
    let s = json(a.req(Method::GET, "/api/v1/session").send().await.unwrap()).await;
    assert_eq!(s, serde_json::json!({"required": false, "signed_in": true}));
    let r = a
        .req(Method::POST, "/api/v1/session")
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"token": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(status_of(a.req(Method::GET, "/api/v1/cameras")).await, 200);
    // Still, a page elsewhere cannot change anything.
    let purge = a
        .req(Method::DELETE, "/api/v1/frames?before=2020-01-01T00:00:00Z")
        .header(ORIGIN, "http://evil.example");
    assert_eq!(status_of(purge).await, 403);
}

#[tokio::test]
async fn cors_answers_the_configured_origins_only() {
    let a = agent(Some(TOKEN), &[INTEGRATOR]).await;
    let preflight = a
        .req(Method::OPTIONS, "/api/v1/frames")
        .header(ORIGIN, INTEGRATOR)
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let h = preflight.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], INTEGRATOR);
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("DELETE")
    );
    assert!(h.get("access-control-allow-credentials").is_none());

    let bearer = format!("Bearer {TOKEN}");
    let get = |origin: &'static str| {
        a.req(Method::GET, "/api/v1/cameras")
            .header(AUTHORIZATION, bearer.clone())
            .header(ORIGIN, origin)
    };
    let ok = get(INTEGRATOR).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], INTEGRATOR);
    assert_eq!(ok.headers()["vary"], "Origin");
    let other = get("https://elsewhere.example.com").send().await.unwrap();
    assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    // A change from the integrator's page (with the token) is let through;
    // from another page it is not, token or not.
    let purge = |origin: &'static str| {
        a.req(Method::DELETE, "/api/v1/frames?before=2020-01-01T00:00:00Z")
            .header(AUTHORIZATION, bearer.clone())
            .header(ORIGIN, origin)
    };
    assert_eq!(status_of(purge(INTEGRATOR)).await, 200);
    assert_eq!(status_of(purge("https://elsewhere.example.com")).await, 403);

    // No list, no CORS header for anyone.
    let plain = agent(Some(TOKEN), &[]).await;
    let r = plain
        .req(Method::GET, "/api/v1/cameras")
        .header(AUTHORIZATION, bearer.clone())
        .header(ORIGIN, INTEGRATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}
