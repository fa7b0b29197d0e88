//! `/api/v1/track`: the ship's track from the index as GeoJSON, for any
//! range — the line (broken at gaps), then one point per fix kept.

use axum::Json;
use axum::extract::State;
use seaframe_wire::track::{self, TrackPoint};
use serde_json::{Value, json};

use crate::adapters::store::fixes::FixRow;
use crate::services::api::ApiState;
use crate::services::api::params::{self, QueryParams};
use crate::services::api::store_call::blocking;
use seaframe_http::ApiError;
use seaframe_wire::timestamp::Timestamp;

pub async fn get(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = params::range(&p)?;
    let every_ms = match p.get("every_s") {
        None => 0,
        Some(s) => match s.parse::<f64>() {
            Ok(v) if (0.0..=86_400.0).contains(&v) => (v * 1000.0) as i64,
            _ => {
                return Err(ApiError::bad(
                    "every_s",
                    format!("{s:?} is not a number of seconds from 0 to 86400"),
                ));
            }
        },
    };
    let max_points = track::max_points_param(p.get("max_points").map(String::as_str))
        .map_err(|why| ApiError::bad("max_points", why))?;
    let (from_ms, to_ms) = (from.unix_millis(), to.unix_millis());
    let (rows, bucket_ms) = blocking(&state.store, move |s| {
        let span = s.fix_span(from_ms, to_ms)?;
        let (first, last) = (span.first_ms.unwrap_or(0), span.last_ms.unwrap_or(0));
        let bucket_ms = track::read_bucket_ms(span.count, first, last).max(every_ms);
        Ok((s.fixes_between(from_ms, to_ms, bucket_ms)?, bucket_ms))
    })
    .await?;
    let points: Vec<TrackPoint> = rows
        .iter()
        .map(|f| TrackPoint {
            at_ms: f.at_ms,
            lat: f.lat,
            lon: f.lon,
        })
        .collect();
    Ok(Json(track::feature_collection(
        &points,
        max_points,
        bucket_ms,
        json!({}),
        |i| point_feature(&rows[i]),
    )))
}

fn point_feature(f: &FixRow) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
        "properties": {
            "time": Timestamp::from_unix_millis(f.at_ms).to_rfc3339(),
            "fix": f.fix,
            "speed_kn": f.speed_kn,
            "course_deg": f.course_deg,
            "heading_deg": f.heading_deg,
            "satellites": f.satellites,
            "hdop": f.hdop,
        },
    })
}
