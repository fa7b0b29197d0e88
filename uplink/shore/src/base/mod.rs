//! Floor 1: values and rules — instants, the desired overlay, the alert
//! rules, the retention policy, roles and credentials, the back-off, the
//! poison-message check. Nothing here opens a file or a socket.
pub mod alerts;
pub mod auth;
pub mod backoff;
pub mod desired;
pub mod poison;
pub mod problem;
pub mod retention;
pub mod when;
