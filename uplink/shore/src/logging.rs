//! What the shore logs: `RUST_LOG` (default `info`) with one cap that no
//! setting lifts — the PostgreSQL client stays at `info`, since its
//! `debug` lines print every query's parameters, among them a pushed
//! config with its passwords. (Secrets never leave, the log included.)

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// `filter` with the caps applied.
pub fn capped(filter: EnvFilter) -> EnvFilter {
    let cap: Directive = "tokio_postgres=info"
        .parse()
        .expect("a constant directive parses");
    filter.add_directive(cap)
}

/// The shore's filter: `RUST_LOG` or `info`, capped.
pub fn filter() -> EnvFilter {
    capped(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
}
