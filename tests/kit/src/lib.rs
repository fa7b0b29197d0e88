//! seaframe-testkit: real services for tests (redis-server, mosquitto,
//! cameras (HTTP and RTSP), a Signal K server, a fake ONVIF device and the
//! ONVIF simulator), certificates made with openssl, each on a free loopback port (or a socket in its own
//! temp dir), ready before it is returned, killed on drop. A missing binary
//! fails loudly, naming the Debian package. Also: thumbnails as an agent
//! sends them, for the shore's tests and bench.

mod camera;
mod mosquitto;
mod onvif;
mod process;
mod redis;
mod signalk;
mod thumbs;
mod tls;
mod wait;

pub use camera::{HttpCamera, RtspCamera, testbed_dir};
pub use mosquitto::{MosquittoOptions, MosquittoServer};
pub use onvif::{FakeOnvifDevice, OnvifBehaviour, require_onvif_sim, run_in_onvif_sim};
pub use process::{Child, free_port, require_binary};
pub use redis::RedisServer;
pub use signalk::SignalKServer;
pub use thumbs::{thumb, thumb_position};
pub use tls::TestPki;
pub use wait::wait_for;
