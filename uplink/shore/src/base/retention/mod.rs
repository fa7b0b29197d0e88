//! The retention policy as values: the `[retention]` section and each
//! vessel's override (`config`), the thinning of old thumbnails (`thin`)
//! and what a pass counts (`metrics`). The pass itself is
//! `services::retention`.
pub mod config;
pub mod metrics;
pub mod thin;
