//! seaframe-testkit: real services for tests (redis-server, mosquitto, an
//! S3-compatible server (moto), a Signal K server), the kit's own fake
//! peers (an HTTP camera, ffmpeg's MJPEG server, an RTSP camera on
//! GStreamer, NMEA feeds over TCP, UDP and a pseudo-terminal, a real gpsd
//! fed by gpsfake, a fake ONVIF device and the ONVIF simulator in a
//! network namespace), each on a free loopback port (or a socket in its
//! own temp dir), ready before it is returned, killed on drop. A missing
//! binary fails loudly, naming the Debian package. Also: certificates
//! made with openssl, the NMEA captures checked in under `tests/data/`
//! and mixed receiver streams made from them (UBX frames, binary junk,
//! re-broadcast talkers), and thumbnails as an agent sends them, for the
//! shore's tests and bench.
//!
//! Nothing here reaches outside the checkout: every peer is code of this
//! crate or a Debian/PyPI package it starts.

mod browser;
mod data;
mod ffmpeg_mjpeg;
mod gpsd;
mod http_camera;
mod http_digest;
mod jpeg_feed;
mod mosquitto;
mod moto;
mod nmea_feed;
mod nmea_mix;
mod nmea_pty;
mod nmea_schedule;
mod onvif;
mod onvif_sim;
mod process;
#[cfg(test)]
mod raw_http;
mod redis;
mod rtsp_camera;
mod s3s_fs;
mod signalk;
mod sockets;
mod thumbs;
mod tls;
mod wait;

pub use browser::{Browser, artifacts_dir, require_browser};
pub use data::{nmea_dir, nmea_log};
pub use ffmpeg_mjpeg::FfmpegMjpegServer;
pub use gpsd::Gpsd;
pub use http_camera::{HttpCamera, HttpCameraOptions};
pub use http_digest::{AuthCounts, DigestOptions};
pub use mosquitto::{MosquittoOptions, MosquittoServer};
pub use moto::{MotoServer, require_moto};
pub use nmea_feed::{NmeaTcpServer, NmeaUdpSender};
pub use nmea_mix::{Mix, Mixed, mix as mix_capture, ubx_frame, with_checksum};
pub use nmea_pty::NmeaPty;
pub use nmea_schedule::Replay;
pub use onvif::{FakeOnvifDevice, OnvifBehaviour};
pub use onvif_sim::{ONVIF_SIM_XADDR, require_onvif_sim, run_in_onvif_sim};
pub use process::{Child, free_port, require_binary};
pub use redis::RedisServer;
pub use rtsp_camera::RtspCamera;
pub use s3s_fs::{S3S_ACCESS_KEY, S3S_SECRET_KEY, S3sFsServer};
pub use signalk::SignalKServer;
pub use thumbs::{thumb, thumb_position};
pub use tls::TestPki;
pub use wait::wait_for;
