//! The cameras' sources, one file per kind: `testpattern`, `replay`, `http`
//! (snapshot and MJPEG), `rtsp` (a supervised ffmpeg) and `v4l2`; and
//! `numbering`, the per-camera sequence kept across restarts. The camera
//! task that paces them is `services::capture`.
pub mod http;
pub mod numbering;
pub mod replay;
pub mod rtsp;
pub mod testpattern;
#[cfg(feature = "v4l2")]
pub mod v4l2;
