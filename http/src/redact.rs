//! How secrets are shown to people: the one redactor the agent and the
//! shore share. A password inside a URL (`rtsp://user:pass@cam/…`,
//! `mqtts://user:pass@broker`), a secret-named query parameter
//! (`?token=…`) and the value of a secret-named key (`password`, `token`,
//! `secret`, …) become [`REDACTED`]; user names, hosts and paths stay, so
//! that people can still tell which camera or broker is meant.
//!
//! What is redacted is only ever what is *shown*: the real value is kept
//! and used (connected to, pushed to a vessel). [`restore_redacted`] lets a
//! value shown redacted be sent back unchanged without losing the secret
//! behind it.

use serde_json::{Map, Value};
use url::Url;

/// What a secret is shown as.
pub const REDACTED: &str = "***";

/// Whether a key (of a JSON object, a TOML table or a query string) names a
/// secret: its value is never shown. A key naming a file that holds one
/// (`token_file`) is a path, not a secret. Besides names that say so, the
/// short ones cameras take in snapshot URLs: Foscam's `pwd`, `pass` and
/// `psw` of others, an API `key`, a URL's `sig`.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    if ["_file", "_path", "_dir"].iter().any(|s| k.ends_with(s)) {
        return false;
    }
    if ["pwd", "pass", "psw", "key", "sig"].contains(&k.as_str()) {
        return true;
    }
    [
        "signature",
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
        "private_key",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// `url` with its password and any secret-named query parameter shown as
/// [`REDACTED`].
pub fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Cannot fail: a URL with a password has a host.
        let _ = url.set_password(Some(REDACTED));
    }
    if url.query_pairs().any(|(k, _)| is_secret_key(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_key(&k) {
                    REDACTED.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// Like [`redact_url`] for a string that may not parse as a URL.
pub fn redact_url_str(s: &str) -> String {
    match Url::parse(s) {
        Ok(url) if url.has_host() => redact_url(&url),
        _ => redact_text(s),
    }
}

/// Free text (an error message, a log line, a config value such as
/// `mjpeg:http://u:p@cam/x`) with the credentials of every URL in it shown
/// as [`REDACTED`]. A URL runs from its `scheme://` to the next whitespace
/// or quote; its user info is everything before the last `@` in it (so a
/// password holding an unescaped `/` or `@` is still hidden whole).
pub fn redact_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("://") {
        let start = at + 3;
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        out.push_str(&redact_authority_and_query(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// One URL without its `scheme://`: the password of its user info and its
/// secret-named query values redacted.
fn redact_authority_and_query(url: &str) -> String {
    let (userinfo, after) = match url.rfind('@') {
        Some(at) => (Some(&url[..at]), &url[at..]),
        None => (None, url),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(info) = userinfo {
        match info.split_once(':') {
            Some((user, _)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(REDACTED);
            }
            None => out.push_str(info),
        }
    }
    match after.split_once('?') {
        None => out.push_str(after),
        Some((head, query)) => {
            out.push_str(head);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_secret_key(k) => format!("{k}={REDACTED}"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
        }
    }
    out
}

/// A JSON value as it may be shown: every string through [`redact_text`],
/// every value under a secret-named key ([`is_secret_key`]) as
/// [`REDACTED`] (`null` and booleans stay: they hold no secret).
pub fn redact_json(value: &Value) -> Value {
    redact_at(value, false)
}

fn redact_at(value: &Value, secret: bool) -> Value {
    match value {
        Value::String(_) | Value::Number(_) if secret => Value::String(REDACTED.into()),
        Value::String(s) => Value::String(redact_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact_at(v, secret)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_at(v, secret || is_secret_key(k))))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// `incoming` (a body sent by someone who was shown `stored` redacted) with
/// every value that is exactly what `stored` showed at the same place put
/// back to the stored secret. Items of a list are matched by their `id`
/// when they have one (cameras), else by position; a table keyed by id
/// matches a list of items with those ids. Anything else in `incoming` is
/// kept as sent, a literal `***` included.
pub fn restore_redacted(incoming: &Value, stored: &Value) -> Value {
    restore_at(incoming, stored, false)
}

fn restore_at(incoming: &Value, stored: &Value, secret: bool) -> Value {
    match incoming {
        Value::String(s) if s.contains(REDACTED) => {
            if redact_at(stored, secret) == *incoming && stored != incoming {
                stored.clone()
            } else {
                incoming.clone()
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = secret || is_secret_key(k);
                    let restored = match member(stored, k) {
                        Some(old) => restore_at(v, old, secret),
                        None => v.clone(),
                    };
                    (k.clone(), restored)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| match item(stored, i, v) {
                    Some(old) => restore_at(v, old, secret),
                    None => v.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `stored`'s counterpart of key `k`: its member, or (a list of items with
/// ids) the item whose id is `k`.
fn member<'a>(stored: &'a Value, k: &str) -> Option<&'a Value> {
    match stored {
        Value::Object(map) => map.get(k),
        Value::Array(items) => items.iter().find(|it| id_of(it) == Some(k)),
        _ => None,
    }
}

/// `stored`'s counterpart of item `i` (`v`) of a list: by id when `v` has
/// one, else by position.
fn item<'a>(stored: &'a Value, i: usize, v: &Value) -> Option<&'a Value> {
    match (id_of(v), stored) {
        (Some(id), Value::Array(items)) => items.iter().find(|it| id_of(it) == Some(id)),
        (Some(id), Value::Object(map)) => map.get(id),
        (None, Value::Array(items)) => items.get(i),
        _ => None,
    }
}

fn id_of(v: &Value) -> Option<&str> {
    v.get("id").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn urls_keep_user_and_host_but_not_the_password() {
        let u = Url::parse("rtsp://admin:s3cr%40t@10.0.0.5:554/stream1").unwrap();
        assert_eq!(redact_url(&u), "rtsp://admin:***@10.0.0.5:554/stream1");
        let u = Url::parse("mqtts://broker.example:8883").unwrap();
        assert_eq!(redact_url(&u), "mqtts://broker.example:8883");
        let u = Url::parse("https://cam/snap.jpg?size=2&token=abc&x=1").unwrap();
        assert_eq!(redact_url(&u), "https://cam/snap.jpg?size=2&token=***&x=1");
        // Reolink, Foscam: credentials in the snapshot URL's query.
        let u = Url::parse("http://cam/cgi-bin/api.cgi?cmd=Snap&user=admin&password=pw1").unwrap();
        assert_eq!(
            redact_url(&u),
            "http://cam/cgi-bin/api.cgi?cmd=Snap&user=admin&password=***"
        );
        let u = Url::parse("http://cam/CGIProxy.fcgi?cmd=snapPicture2&usr=admin&pwd=pw2").unwrap();
        assert_eq!(
            redact_url(&u),
            "http://cam/CGIProxy.fcgi?cmd=snapPicture2&usr=admin&pwd=***"
        );
        assert!(!is_secret_key("keyframes") && !is_secret_key("passive"));
        assert_eq!(
            redact_url_str("rtsp://u:p@[bad"),
            "rtsp://u:***@[bad",
            "not a URL, still redacted"
        );
    }

    #[test]
    fn text_hides_every_url_credential() {
        let line = "connect mqtts://shore:hunter2@broker:8883 failed; camera \
                    'mjpeg:http://u:pa/ss@cam/x?a=1&password=pw' and http://plain/p@th";
        let out = redact_text(line);
        for secret in ["hunter2", "pa/ss", "=pw"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("mqtts://shore:***@broker:8883"), "{out}");
        assert!(
            out.contains("mjpeg:http://u:***@cam/x?a=1&password=***"),
            "{out}"
        );
        assert_eq!(redact_text("no url here"), "no url here");
    }

    #[test]
    fn json_redacts_secret_keys_and_urls_anywhere() {
        let v = json!({
            "cameras": [{"id": "bow", "source": "rtsp://cam:rtsp-pw@10.0.0.5/s", "fps": 1}],
            "uplink": {"mqtt_url": "mqtts://v:mqtt-pw@broker", "password": "plain-pw",
                       "ca_file": "/etc/ca.pem", "client_key_file": "/etc/k.pem"},
            "api": {"token": 12345678, "secrets": {"a": ["x"]}, "password": null},
        });
        let shown = redact_json(&v);
        let text = shown.to_string();
        for secret in ["rtsp-pw", "mqtt-pw", "plain-pw", "12345678", "\"x\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(shown["uplink"]["ca_file"], "/etc/ca.pem");
        assert_eq!(shown["uplink"]["client_key_file"], "/etc/k.pem");
        assert_eq!(shown["api"]["password"], Value::Null);
        assert_eq!(shown["cameras"][0]["source"], "rtsp://cam:***@10.0.0.5/s");
        assert_eq!(shown["cameras"][0]["fps"], 1);
    }

    #[test]
    fn a_redacted_value_sent_back_keeps_the_secret() {
        let stored = json!({
            "cameras": [{"id": "bow", "source": "rtsp://cam:rtsp-pw@10.0.0.5/s"},
                        {"id": "mast", "source": "rtsp://cam:other@10.0.0.6/s"}],
            "uplink": {"mqtt_url": "mqtts://v:mqtt-pw@broker", "password": "plain-pw"},
        });
        // The page shows it redacted; the user changes one thing and sends it all.
        let mut sent = redact_json(&stored);
        sent["uplink"]["thumb_width_px"] = json!(160);
        sent["cameras"].as_array_mut().unwrap().reverse();
        let back = restore_redacted(&sent, &stored);
        assert_eq!(back["uplink"]["mqtt_url"], stored["uplink"]["mqtt_url"]);
        assert_eq!(back["uplink"]["password"], "plain-pw");
        assert_eq!(back["cameras"][0]["source"], stored["cameras"][1]["source"]);
        assert_eq!(back["cameras"][1]["source"], stored["cameras"][0]["source"]);
        // A patch by id against a stored list.
        let patch = json!({"cameras": {"mast": {"source": "rtsp://cam:***@10.0.0.6/s"}}});
        let back = restore_redacted(&patch, &stored);
        assert_eq!(
            back["cameras"]["mast"]["source"],
            "rtsp://cam:other@10.0.0.6/s"
        );
        // A changed host is not the value shown: the literal stays.
        let moved = json!({"cameras": {"mast": {"source": "rtsp://cam:***@10.0.0.7/s"}}});
        assert_eq!(restore_redacted(&moved, &stored), moved);
        // Nothing stored there: kept as sent.
        let new = json!({"gps": {"token": "***"}});
        assert_eq!(restore_redacted(&new, &stored), new);
    }
}
