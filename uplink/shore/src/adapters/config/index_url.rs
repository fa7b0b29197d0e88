//! Where the index lives: `[index] url`, parsed.

use std::path::PathBuf;

use seaframe_http::Secret;

/// Where the index lives, read from `[index] url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexUrl {
    Sqlite(PathBuf),
    /// The whole `postgres://…` URL (may hold a password).
    Postgres(Secret),
}

impl IndexUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("sqlite: needs a path (sqlite:/var/lib/…/index.db)".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return match s.parse::<tokio_postgres::Config>() {
                Ok(_) => Ok(Self::Postgres(Secret::new(s))),
                Err(e) => Err(format!("not a PostgreSQL URL: {e}")),
            };
        }
        Err("must start with sqlite: or postgres://".into())
    }
}
