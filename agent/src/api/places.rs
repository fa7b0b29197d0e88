//! Frames by place (`bbox=minlon,minlat,maxlon,maxlat` or
//! `lat=&lon=&radius_m=`) and time, across cameras; `nearest` to an
//! instant; one frame per second. Great-circle distance for the radius.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::params::{self, Params, QueryParams};
use super::store_call::{blocking, frame_json};
use crate::store::geo::{circle_box, distance_m};
use crate::store::{Cursor, GeoBox, Pick};

/// The largest radius a place query accepts.
const MAX_RADIUS_M: f64 = 1_000_000.0;

fn number(
    p: &Params,
    name: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, ApiError> {
    p.get(name)
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|v| range.contains(v))
                .ok_or_else(|| {
                    ApiError::bad(
                        name,
                        format!(
                            "{s:?} is not a number in [{}, {}]",
                            range.start(),
                            range.end()
                        ),
                    )
                })
        })
        .transpose()
}

/// The place filter of a listing, if the query has one.
pub enum Place {
    Box(GeoBox),
    Circle { lat: f64, lon: f64, radius_m: f64 },
}

pub fn place(p: &Params) -> Result<Option<Place>, ApiError> {
    if let Some(s) = p.get("bbox") {
        let v: Vec<f64> = s.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        let [min_lon, min_lat, max_lon, max_lat] = v[..] else {
            return Err(ApiError::bad(
                "bbox",
                format!("{s:?} is not minlon,minlat,maxlon,maxlat"),
            ));
        };
        if !(-90.0..=90.0).contains(&min_lat)
            || !(-90.0..=90.0).contains(&max_lat)
            || min_lat > max_lat
        {
            return Err(ApiError::bad(
                "bbox",
                "latitudes must be in [-90, 90], min before max",
            ));
        }
        if !(-180.0..=180.0).contains(&min_lon) || !(-180.0..=180.0).contains(&max_lon) {
            return Err(ApiError::bad("bbox", "longitudes must be in [-180, 180]"));
        }
        return Ok(Some(Place::Box(GeoBox {
            min_lat,
            max_lat,
            min_lon,
            max_lon,
        })));
    }
    let lat = number(p, "lat", -90.0..=90.0)?;
    let lon = number(p, "lon", -180.0..=180.0)?;
    let radius_m = number(p, "radius_m", 0.0..=MAX_RADIUS_M)?;
    match (lat, lon, radius_m) {
        (None, None, None) => Ok(None),
        (Some(lat), Some(lon), Some(radius_m)) => Ok(Some(Place::Circle { lat, lon, radius_m })),
        _ => Err(ApiError::bad("lat", "lat, lon and radius_m go together")),
    }
}

/// A page of frames in a place: the box from the R*Tree, then (for a
/// circle) the exact distance. The cursor is the last frame examined, so
/// pages stay stable however many a filter drops.
pub async fn list(state: &ApiState, p: &Params, place: Place) -> Result<Json<Value>, ApiError> {
    let (from, to) = params::range(p)?;
    let limit = params::limit(p)?;
    let mut after = params::cursor(p)?;
    let (geo, circle) = match place {
        Place::Box(b) => (b, None),
        Place::Circle { lat, lon, radius_m } => {
            (circle_box(lat, lon, radius_m), Some((lat, lon, radius_m)))
        }
    };
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
                (Some((lat, lon, r)), Some(a), Some(b)) => distance_m(lat, lon, a, b) <= r,
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
