//! seaframe-shore: the shore end of the link, on the agent's four floors
//! (docs/architecture.md): `base` (values and rules; no IO), `adapters`
//! (the config file, the index — SQLite or PostgreSQL —, the blob store —
//! disk or S3 —, TLS and the fleet's certificates), `services` (ingest
//! from the broker, the API and its live feed, retention, alerts, the
//! peers' leases, enrolment, migration), and the process (`app` starts and
//! stops it all, `logging` says what the log may hold, `main.rs` the CLI).
//! A module uses its own floor or the ones below.

pub mod adapters;
pub mod app;
pub mod base;
pub mod logging;
pub mod services;
