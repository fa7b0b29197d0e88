//! seaframe-agent: the on-board half of seaframe, on four floors that the
//! tree shows (docs/architecture.md): `base` (values, codecs and shared
//! state; no IO), `adapters` (one outside thing each), `services` (the
//! running pipeline, composed of adapters), and the process (`app`, `init`,
//! the binary's `main.rs`). A module uses its own floor or the ones below.
//!
//! The frame path: `services::capture` (one task per camera) →
//! `base::handoff` → `services::producer` → `adapters::queue` (one Redis
//! stream, a consumer group) → `services::worker` → `adapters::store`
//! (files + SQLite index) → `services::api`. `app` wires the stages
//! together and shuts them down in order. `docs/design.md` holds the
//! invariants.
pub mod adapters;
pub mod app;
pub mod base;
pub mod init;
pub mod services;
