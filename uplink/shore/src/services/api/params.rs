//! Query and path parsing for the API: [`QueryParams`] reads the raw pairs
//! (so that axum's plain-text rejections never reach a client) and each
//! value is parsed here with an error that names its parameter.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use seaframe_wire::{CameraId, VesselName};

use crate::adapters::index::Place;
use crate::base::when::{now_ns, parse_user_ns};
use seaframe_http::ApiError;

pub use seaframe_http::{Params, QueryParams};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

pub fn camera(p: &Params) -> Result<Option<CameraId>, ApiError> {
    p.get("camera")
        .map(|s| CameraId::parse(s).map_err(|e| ApiError::bad("camera", format!("{s:?} {e}"))))
        .transpose()
}

/// `from` (default: the beginning) and `to` (default: a day from now), from < to.
pub fn range(p: &Params) -> Result<(i64, i64), ApiError> {
    let time = |name: &str| {
        p.get(name)
            .map(|s| parse_user_ns(s).map_err(|e| ApiError::bad(name, e)))
            .transpose()
    };
    let from = time("from")?.unwrap_or(i64::MIN);
    let to = time("to")?.unwrap_or_else(|| now_ns().saturating_add(86_400_000_000_000));
    if from >= to {
        return Err(ApiError::bad("from", "must be before to"));
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

/// A page cursor: the `(captured_at_ns, id)` of the last row of the
/// previous page, as `<ns>_<id>`.
pub fn encode_cursor((ns, id): (i64, i64)) -> String {
    format!("{ns}_{id}")
}

pub fn cursor(p: &Params) -> Result<Option<(i64, i64)>, ApiError> {
    p.get("cursor")
        .map(|s| {
            s.split_once('_')
                .and_then(|(ns, id)| Some((ns.parse().ok()?, id.parse().ok()?)))
                .ok_or_else(|| ApiError::bad("cursor", format!("{s:?} is not a next_cursor")))
        })
        .transpose()
}

/// The place filter of a search, if the query has one
/// ([`seaframe_wire::geo::place_param`], the agent's too).
pub fn place(p: &Params) -> Result<Option<Place>, ApiError> {
    seaframe_wire::geo::place_param(|name| p.get(name).map(String::as_str))
        .map_err(|e| ApiError::bad(e.param, e.why))
}

/// The `{v}` of `/vessels/{v}/…`, validated.
#[derive(Debug, Clone)]
pub struct VesselPath(pub VesselName);

impl<S: Send + Sync> FromRequestParts<S> for VesselPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::bad("vessel", format!("not a vessel name ({})", e.body_text()))
            })?;
        VesselName::parse(&raw)
            .map(Self)
            .map_err(|e| ApiError::bad("vessel", format!("{raw:?} {e}")))
    }
}

/// The `{id}` of `/thumbs/{id}/…`.
#[derive(Debug, Clone, Copy)]
pub struct ThumbId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ThumbId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad("id", format!("not a thumbnail id ({})", e.body_text())))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Self)
            .ok_or_else(|| ApiError::bad("id", format!("{raw:?} is not a thumbnail id")))
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
            (&[("limit", "x")], "limit"),
            (&[("from", "yesterday")], "from"),
            (&[("to", "2026-13-01T00:00:00Z")], "to"),
            (&[("from", "2000"), ("to", "1000")], "from"),
            (&[("cursor", "abc")], "cursor"),
            (&[("camera", "Bad/Id")], "camera"),
            (&[("bbox", "1,2,3")], "bbox"),
            (&[("bbox", "0,10,5,1")], "bbox"),
            (&[("bbox", "181,0,5,1")], "bbox"),
            (&[("lat", "91"), ("lon", "0"), ("radius_m", "5")], "lat"),
            (&[("lat", "1")], "radius_m"),
        ];
        for (pairs, name) in cases {
            let p = params(pairs);
            let err = camera(&p)
                .and_then(|_| range(&p))
                .and_then(|_| limit(&p))
                .and_then(|_| cursor(&p))
                .and_then(|_| place(&p))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{name}:")), "{pairs:?}: {err}");
        }
        let c = (1_764_000_000_000_000_000, 42);
        assert_eq!(
            cursor(&params(&[("cursor", &encode_cursor(c))])).unwrap(),
            Some(c)
        );
    }
}
