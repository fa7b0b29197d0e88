//! Floor 2: adapters, each the agent's side of one outside thing — a camera,
//! a GPS receiver, Redis, the disk and its index, the broker, ffmpeg,
//! systemd, an ONVIF device — built on the values of `base`.
pub mod capture;
pub mod config;
pub mod gps;
pub mod notify;
pub mod onvif;
pub mod queue;
pub mod redis_server;
pub mod shore_link;
pub mod store;
pub mod video;
