//! seaframe-testkit: real services for tests, each on a free loopback port
//! (or a socket in its own temp dir), ready before it is returned, killed on
//! drop. A missing binary fails loudly, naming the Debian package.

mod process;
mod redis;

pub use process::{Child, free_port, require_binary};
pub use redis::RedisServer;
