//! How secrets are shown when a config is serialised for people (the
//! effective config of `check-config` and `GET /api/v1/config`): a token as
//! `***`, a URL with its password as `***`. Nothing serialised from a
//! [`Config`](super::Config) can be read back as the real thing.

use serde::Serializer;

use crate::base::config::Secret;
use crate::base::config::source::redact_str;

pub fn token<S: Serializer>(token: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match token {
        Some(_) => s.serialize_str("***"),
        None => s.serialize_none(),
    }
}

pub fn url<S: Serializer>(url: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_str(url.expose()))
}

pub fn opt_url<S: Serializer>(url: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_str(&redact_str(u.expose())),
        None => s.serialize_none(),
    }
}
