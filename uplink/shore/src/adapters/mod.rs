//! Floor 2: adapters, each the shore's side of one outside thing — the
//! config file and the files it names, the index (SQLite or PostgreSQL),
//! the blob store (disk or S3), TLS, the fleet's certificates on disk.
pub mod blobs;
pub mod config;
pub mod index;
pub mod pki;
pub mod tls;
