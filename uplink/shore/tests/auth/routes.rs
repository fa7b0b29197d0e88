//! Every route by role, and the secrets of a pushed config that never
//! leave (module doc of `main.rs`, first two points).

use super::*;

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
