//! Query-string parsing for the API: [`QueryParams`] reads the raw pairs
//! into a map (so that axum's plain-text rejections never reach a client)
//! and each value is parsed here with an error that names its parameter.
//! [`FrameId`] does the same for the `{id}` of a path.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use seaframe_wire::CameraId;

use crate::adapters::store::Cursor;
use seaframe_http::ApiError;
use seaframe_wire::timestamp::Timestamp;

pub use seaframe_http::{Params, QueryParams};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

pub fn camera(p: &Params) -> Result<Option<CameraId>, ApiError> {
    p.get("camera")
        .map(|s| CameraId::parse(s).map_err(|e| ApiError::bad("camera", format!("{s:?} {e}"))))
        .transpose()
}

pub fn time(p: &Params, name: &str) -> Result<Option<Timestamp>, ApiError> {
    p.get(name)
        .map(|s| Timestamp::parse_user(s).map_err(|e| ApiError::bad(name, e)))
        .transpose()
}

/// `from` (default: the beginning) and `to` (default: a day from now), from < to.
pub fn range(p: &Params) -> Result<(Timestamp, Timestamp), ApiError> {
    let from = time(p, "from")?.unwrap_or(Timestamp::from_unix_nanos(i64::MIN));
    let to = time(p, "to")?.unwrap_or_else(|| {
        Timestamp::from_unix_nanos(
            Timestamp::now()
                .unix_nanos()
                .saturating_add(86_400_000_000_000),
        )
    });
    if from >= to {
        return Err(ApiError::bad(
            "from",
            format!("{from} is not before to ({to})"),
        ));
    }
    Ok((from, to))
}

pub fn limit(p: &Params) -> Result<u32, ApiError> {
    match p.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad(
                "limit",
                format!("{s:?} is not a number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

pub fn cursor(p: &Params) -> Result<Option<Cursor>, ApiError> {
    p.get("cursor")
        .map(|s| {
            Cursor::decode(s).ok_or_else(|| {
                ApiError::bad("cursor", format!("{s:?} is not a cursor from next_cursor"))
            })
        })
        .transpose()
}

/// A frame id from the path.
pub fn frame_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad("id", format!("{s:?} is not a frame id")))
}

/// The `{id}` of `/frames/{id}…`, parsed: axum's own `Path` rejection (an
/// id that is not UTF-8 once decoded) would answer in plain text.
#[derive(Debug, Clone, Copy)]
pub struct FrameId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for FrameId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad("id", format!("not a frame id ({})", e.body_text())))?;
        frame_id(&raw).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_bad_value_names_its_parameter() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("limit", "0")], "limit"),
            (&[("limit", "1001")], "limit"),
            (&[("limit", "ten")], "limit"),
            (&[("from", "yesterday")], "from"),
            (&[("to", "2026-13-01T00:00:00Z")], "to"),
            (&[("from", "2000"), ("to", "1000")], "from"),
            (&[("cursor", "abc")], "cursor"),
            (&[("camera", "Bad/Id")], "camera"),
        ];
        for (pairs, name) in cases {
            let p = params(pairs);
            let err = camera(&p)
                .and_then(|_| range(&p))
                .and_then(|_| limit(&p))
                .and_then(|_| cursor(&p))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{name}:")), "{pairs:?}: {err}");
        }
        assert!(frame_id("0").is_err() && frame_id("x").is_err() && frame_id("7").is_ok());
    }
}
