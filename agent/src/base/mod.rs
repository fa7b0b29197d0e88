//! Floor 1: values, codecs and shared state. Bytes and values in, values
//! out; nothing here opens a file, a socket or a device, or spawns a task.
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
pub mod jpeg;
pub mod metrics;
pub mod picture;
pub mod resp;
pub mod shore_link;
pub mod store;
