//! Floor 3: the services — ingest from the broker, the API with its live
//! feed and views, retention, alerts, the peers' leases, metrics,
//! enrolment and migration — composed of the adapters.
pub mod alerts;
pub mod api;
pub mod auth;
pub mod enroll;
pub mod feed;
pub mod ingest;
pub mod metrics;
pub mod migrate;
pub mod peers;
pub mod retention;
pub mod views;
