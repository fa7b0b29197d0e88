//! Frames by place (`bbox=minlon,minlat,maxlon,maxlat` or
//! `lat=&lon=&radius_m=`) and time, across cameras; `nearest` to an
//! instant; one frame per second. Great-circle distance for the radius.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::adapters::store::{Cursor, GeoBox, Pick};
use crate::services::api::ApiState;
use crate::services::api::params::{self, Params, QueryParams};
use crate::services::api::store_call::{blocking, frame_json};
use seaframe_http::ApiError;
use seaframe_wire::geo::Place;

/// The place filter of a listing, if the query has one
/// ([`seaframe_wire::geo::place_param`], the shore's too).
pub fn place(p: &Params) -> Result<Option<Place>, ApiError> {
    seaframe_wire::geo::place_param(|name| p.get(name).map(String::as_str))
        .map_err(|e| ApiError::bad(e.param, e.why))
}

/// A page of frames in a place: the box from the R*Tree, then (for a
/// circle) the exact distance. The cursor is the last frame examined, so
/// pages stay stable however many a filter drops.
pub async fn list(state: &ApiState, p: &Params, place: Place) -> Result<Json<Value>, ApiError> {
    let (from, to) = params::range(p)?;
    let limit = params::limit(p)?;
    let mut after = params::cursor(p)?;
    // The R*Tree's box is the place's prefilter, exact for a box; a
    // circle's rows are then kept by their distance.
    let geo = GeoBox::from(place.prefilter());
    let circle = matches!(place, Place::Circle { .. }).then_some(place);
    let mut out = Vec::new();
    loop {
        let (rows, more) = blocking(&state.store, move |s| {
            s.query_box(&geo, from, to, after, limit)
        })
        .await?;
        for row in &rows {
            after = Some(Cursor {
                captured_at: row.captured_at,
                id: row.id,
            });
            let inside = match (circle, row.lat, row.lon) {
                (Some(c), Some(lat), Some(lon)) => c.contains(lat, lon),
                (None, _, _) => true,
                _ => false,
            };
            if inside {
                out.push(frame_json(row));
                if out.len() == limit as usize {
                    let next = (more || row.id != rows.last().map_or(0, |l| l.id))
                        .then(|| after.map(|c| c.encode()));
                    return Ok(Json(json!({"frames": out, "next_cursor": next.flatten()})));
                }
            }
        }
        if !more {
            return Ok(Json(json!({"frames": out, "next_cursor": null})));
        }
    }
}

pub async fn nearest(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let camera = params::camera(&p)?.ok_or_else(|| ApiError::bad("camera", "is required"))?;
    let at = params::time(&p, "at")?.ok_or_else(|| ApiError::bad("at", "is required"))?;
    let name = camera.to_string();
    let row = blocking(&state.store, move |s| s.nearest(&camera, at))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no frame of camera {name}")))?;
    Ok(Json(frame_json(&row)))
}

pub async fn per_second(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let camera = params::camera(&p)?.ok_or_else(|| ApiError::bad("camera", "is required"))?;
    let (from, to) = params::range(&p)?;
    let limit = params::limit(&p)?;
    let pick = match p.get("pick").map(String::as_str) {
        None | Some("first") => Pick::First,
        Some("last") => Pick::Last,
        Some("sharpest") => Pick::Sharpest,
        Some(other) => {
            return Err(ApiError::bad(
                "pick",
                format!("{other:?} is not first, last or sharpest"),
            ));
        }
    };
    let rows = blocking(&state.store, move |s| {
        s.picks(&camera, from, to, 1_000_000_000, pick, limit + 1)
    })
    .await?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    // The next page starts at the second after the last one listed.
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|r| ((r.captured_at.unix_nanos().div_euclid(1_000_000_000) + 1) * 1000).to_string());
    Ok(Json(json!({
        "frames": rows.iter().map(frame_json).collect::<Vec<_>>(),
        "next_from": next,
    })))
}
