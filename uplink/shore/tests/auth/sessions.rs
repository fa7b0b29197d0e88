//! Sign-in: the cookie's attributes, who is signed in, sign-out, an ended
//! session, a removed account, another origin, the back-off after failures
//! and its counts in `/metrics`.

use super::*;

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
