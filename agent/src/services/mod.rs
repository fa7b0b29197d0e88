//! Floor 3: the services — long-lived tasks that compose the adapters into
//! the running agent (capture, queue, store, retention, the disk watch, the
//! link to shore, the HTTP API). `app` starts and stops them in order.
pub mod api;
pub mod capture;
pub mod fswatch;
pub mod live;
pub mod producer;
pub mod retention;
pub mod sharpness;
pub mod shore_link;
pub mod stage;
pub mod track_recorder;
pub mod worker;
