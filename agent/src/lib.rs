//! seaframe-agent: the on-board half of seaframe.
//!
//! The frame path: `capture` (one task per camera) → `handoff` →
//! `queue` (one Redis stream, a consumer group) → `worker` → `store`
//! (files + SQLite index) → `api`. `app` wires the stages together and
//! shuts them down in order.
pub mod config;
pub mod frame;
pub mod handoff;
pub mod metrics;
pub mod timestamp;
pub mod store;
