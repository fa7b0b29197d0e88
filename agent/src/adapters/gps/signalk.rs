//! `signalk:ws://host:3000`: a Signal K server's WebSocket stream of deltas
//! (`/signalk/v1/stream?subscribe=self`). Position updates become fixes,
//! placed by the update's own timestamp; course over ground, speed over
//! ground and true heading (SI units: radians, m/s) ride along. Malformed
//! messages are counted and skipped.

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use crate::base::gps::fix::Fix;
use crate::base::gps::state::Gps;
use seaframe_wire::timestamp::Timestamp;

const KNOTS_PER_M_S: f64 = 1.943_844_5;

/// The stream URL: the configured one, or its server's standard stream path.
pub fn stream_url(url: &Url) -> Url {
    let mut url = url.clone();
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/signalk/v1/stream");
        url.set_query(Some("subscribe=self"));
    }
    url
}

/// What the deltas have said so far (course, speed and heading arrive in
/// their own updates; a position update takes the latest of each).
#[derive(Debug, Default)]
pub struct Deltas {
    course_deg: Option<f64>,
    speed_kn: Option<f64>,
    heading_deg: Option<f64>,
}

impl Deltas {
    /// The fixes in one delta message; `Err` for a message that is not a
    /// Signal K delta or hello.
    pub fn apply(&mut self, text: &str) -> Result<Vec<Fix>, &'static str> {
        let v: Value = serde_json::from_str(text).map_err(|_| "not JSON")?;
        let Some(updates) = v.get("updates") else {
            // The hello message (name, version, self) and others without updates.
            return if v.get("name").is_some() || v.get("self").is_some() {
                Ok(Vec::new())
            } else {
                Err("neither a delta nor a hello")
            };
        };
        let updates = updates.as_array().ok_or("updates is not a list")?;
        let mut fixes = Vec::new();
        for u in updates {
            let time = u["timestamp"]
                .as_str()
                .and_then(|t| Timestamp::parse_user(t).ok());
            let mut position = None;
            for value in u["values"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let x = &value["value"];
                match value["path"].as_str() {
                    Some("navigation.position") => {
                        position = x["latitude"].as_f64().zip(x["longitude"].as_f64());
                    }
                    Some("navigation.courseOverGroundTrue") => {
                        self.course_deg = x.as_f64().map(|r| r.to_degrees().rem_euclid(360.0));
                    }
                    Some("navigation.speedOverGround") => {
                        self.speed_kn = x.as_f64().map(|s| s * KNOTS_PER_M_S)
                    }
                    Some("navigation.headingTrue") => {
                        self.heading_deg = x.as_f64().map(|r| r.to_degrees().rem_euclid(360.0));
                    }
                    _ => {}
                }
            }
            if let (Some((lat, lon)), Some(time)) = (position, time)
                && lat.abs() <= 90.0
                && lon.abs() <= 180.0
            {
                fixes.push(Fix {
                    time,
                    lat,
                    lon,
                    mode: 2,
                    quality: 1,
                    satellites: None,
                    hdop: None,
                    altitude_m: None,
                    speed_kn: self.speed_kn,
                    course_deg: self.course_deg,
                    heading_deg: self.heading_deg,
                });
            }
        }
        Ok(fixes)
    }
}

/// One connection to the server, until it closes or fails.
pub async fn session(url: &Url, gps: &Gps) -> Result<(), String> {
    let url = stream_url(url);
    let (mut ws, _) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .map_err(|_| "signalk: timed out connecting".to_owned())?
    .map_err(|e| format!("signalk: {e}"))?;
    gps.set_state("ok");
    let mut deltas = Deltas::default();
    while let Some(msg) = ws.next().await {
        match msg.map_err(|e| format!("signalk: {e}"))? {
            Message::Text(text) => match deltas.apply(&text) {
                Ok(fixes) => {
                    for fix in fixes {
                        gps.record(fix, Timestamp::now());
                    }
                }
                Err(why) => {
                    gps.count_skipped("signalk_bad_message");
                    tracing::debug!("skipped Signal K message: {why}");
                }
            },
            Message::Close(_) => break,
            _ => {}
        }
    }
    Err("signalk: the server closed the stream".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_becomes_a_fix_in_degrees_and_knots() {
        let mut d = Deltas::default();
        let fixes = d
            .apply(r#"{"context":"vessels.self","updates":[{"timestamp":"2026-11-24T08:00:00.000Z","values":[
                {"path":"navigation.courseOverGroundTrue","value":1.5707963267948966},
                {"path":"navigation.speedOverGround","value":5.0},
                {"path":"navigation.headingTrue","value":3.141592653589793},
                {"path":"navigation.position","value":{"latitude":60.1,"longitude":24.9}}]}]}"#)
            .unwrap();
        let f = &fixes[0];
        assert_eq!((f.lat, f.lon), (60.1, 24.9));
        assert!((f.course_deg.unwrap() - 90.0).abs() < 1e-9);
        assert!((f.heading_deg.unwrap() - 180.0).abs() < 1e-9);
        assert!((f.speed_kn.unwrap() - 9.7192225).abs() < 1e-6);
        assert_eq!(f.time.to_rfc3339(), "2026-11-24T08:00:00.000000000Z");
    }

    #[test]
    fn hello_is_fine_and_garbage_is_an_error() {
        let mut d = Deltas::default();
        assert_eq!(
            d.apply(r#"{"name":"signalk-server","version":"2.0","self":"vessels.urn:x"}"#)
                .unwrap()
                .len(),
            0
        );
        assert!(d.apply("nope").is_err());
        assert!(d.apply(r#"{"updates":3}"#).is_err());
        assert!(d.apply(r#"{"foo":1}"#).is_err());
    }

    #[test]
    fn the_stream_path_is_added_when_missing() {
        let u = stream_url(&Url::parse("ws://boat:3000").unwrap());
        assert_eq!(
            u.as_str(),
            "ws://boat:3000/signalk/v1/stream?subscribe=self"
        );
    }
}
