//! A small Signal K server for tests: a WebSocket on a free loopback port
//! that, to every client, sends the hello, one malformed message, then
//! deltas (position, course, speed, heading, in SI units) along a track,
//! stamped with the current time. Stopped on drop.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use futures_util::SinkExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug)]
pub struct SignalKServer {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, ms) = (d.as_secs(), d.subsec_millis());
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let days = (secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let tod = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

impl SignalKServer {
    /// Serves `track` (lat, lon) in a loop, one delta every `period`.
    pub async fn start(track: Vec<(f64, f64)>, period: Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let track = track.clone();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let hello = r#"{"name":"testkit","version":"2.0.0","self":"vessels.urn:mrn:imo:mmsi:230000001","roles":["master"]}"#;
                    if ws.send(Message::text(hello)).await.is_err()
                        || ws.send(Message::text("{not json")).await.is_err()
                    {
                        return;
                    }
                    for (lat, lon) in track.iter().cycle() {
                        let delta = serde_json::json!({
                            "context": "vessels.urn:mrn:imo:mmsi:230000001",
                            "updates": [{
                                "source": {"label": "testkit"},
                                "timestamp": now_rfc3339(),
                                "values": [
                                    {"path": "navigation.courseOverGroundTrue", "value": std::f64::consts::FRAC_PI_2},
                                    {"path": "navigation.speedOverGround", "value": 5.0},
                                    {"path": "navigation.headingTrue", "value": std::f64::consts::PI},
                                    {"path": "navigation.position", "value": {"latitude": lat, "longitude": lon}},
                                ],
                            }],
                        });
                        if ws.send(Message::text(delta.to_string())).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(period).await;
                    }
                });
            }
        });
        Ok(Self { url, task })
    }

    /// `ws://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for SignalKServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
