//! seaframe-agent: the on-board half of seaframe.
//!
//! The frame path: `capture` (one task per camera) → `handoff` →
//! `queue` (one Redis stream, a consumer group) → `worker` → `store`
//! (files + SQLite index) → `api`. `app` wires the stages together and
//! shuts them down in order. `docs/design.md` holds the invariants.
pub mod api;
pub mod app;
pub mod backoff;
pub mod capture;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod exif;
pub mod faults;
pub mod frame;
pub mod fswatch;
pub mod gps;
pub mod handoff;
pub mod init;
pub mod jpeg;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod onvif;
pub mod picture;
pub mod queue;
pub mod redis_server;
pub mod retention;
pub mod sharpness;
pub mod stage;
pub mod store;
pub mod uplink;
pub mod video;
pub mod worker;
