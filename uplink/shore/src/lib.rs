//! seaframe-shore: the shore end of the link. [`ingest`] takes the fleet's
//! messages from the broker (shared subscription, persistent session,
//! acked only after the index commit), [`blobs`] keeps the JPEGs, [`index`]
//! the rows (SQLite or PostgreSQL), [`api`] serves them and pushes configs
//! (each vessel's [`desired`] overlay),
//! [`feed`] follows the index for the live `/events` stream, [`web`] is the
//! fleet page, [`auth`] holds the accounts and credentials every route but
//! the health check asks for, [`logging`] what the log may hold, [`app`]
//! starts and stops it all. [`alerts`] raises and clears the fleet's health
//! alerts from what the index holds.

pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod backoff;
pub mod blobs;
pub mod config;
pub mod desired;
pub mod enroll;
pub mod feed;
pub mod index;
pub mod ingest;
pub mod logging;
pub mod metrics;
pub mod migrate;
pub mod peers;
pub mod pki;
pub mod poison;
pub mod retention;
pub mod tls;
pub mod views;
pub mod when;
