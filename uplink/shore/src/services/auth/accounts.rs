//! What can be done with accounts, the same from the command line
//! (`seaframe-shore account …`) and from the admin API: add (with a
//! password given or generated), list, remove, issue an API token, check a
//! password, open a session. Secrets are returned once to the caller,
//! which shows them once; only their hashes reach the index.

use crate::adapters::index::{AccountSummary, Index, IndexError};
use crate::base::auth::credential::{self, CredentialError};
use crate::base::auth::role::check_name;
use crate::base::auth::role::{Account, Role};
use crate::base::when::now_ns;
use seaframe_http::Secret;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The caller's mistake (a bad name or password): 400.
    #[error("{0}")]
    Invalid(String),
    #[error("account {0:?} already exists")]
    Exists(String),
    #[error("no account {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("a blocking task failed: {0}")]
    Blocking(String),
}

/// Runs a blocking credential computation on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AccountError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AccountError::Blocking(e.to_string()))
}

/// Adds an account. With no `password`, one is generated and returned
/// (to be shown once); with one, `None` is returned.
pub async fn add(
    index: &dyn Index,
    name: &str,
    role: Role,
    password: Option<String>,
) -> Result<Option<String>, AccountError> {
    check_name(name).map_err(AccountError::Invalid)?;
    let (password, generated) = match password {
        Some(p) => {
            credential::check_password(&p).map_err(AccountError::Invalid)?;
            (p, false)
        }
        None => (credential::new_password()?, true),
    };
    let pw = password.clone();
    let phc = blocking(move || credential::hash_password(&pw)).await??;
    let account = Account {
        name: name.to_owned(),
        role,
        password_hash: Secret::new(phc),
        created_at_ns: now_ns(),
    };
    if !index.add_account(&account).await? {
        return Err(AccountError::Exists(name.to_owned()));
    }
    Ok(generated.then_some(password))
}

pub async fn list(index: &dyn Index) -> Result<Vec<AccountSummary>, AccountError> {
    Ok(index.accounts().await?)
}

/// Removes an account, its API tokens and its sessions.
pub async fn remove(index: &dyn Index, name: &str) -> Result<(), AccountError> {
    if index.remove_account(name).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound(name.to_owned()))
    }
}

/// Issues a new API token for `name`; returns it (shown once).
pub async fn new_token(index: &dyn Index, name: &str) -> Result<String, AccountError> {
    let token = credential::new_token()?;
    if index
        .add_token(name, &credential::hash_secret(&token), now_ns())
        .await?
    {
        Ok(token)
    } else {
        Err(AccountError::NotFound(name.to_owned()))
    }
}

/// Revokes every API token of `name`; how many there were.
pub async fn revoke_tokens(index: &dyn Index, name: &str) -> Result<u64, AccountError> {
    if index.account(name).await?.is_none() {
        return Err(AccountError::NotFound(name.to_owned()));
    }
    Ok(index.revoke_tokens(name).await?)
}

/// The account `name` if `password` is its password. Takes the verifier's
/// time whether or not the account exists.
pub async fn check(
    index: &dyn Index,
    name: &str,
    password: &str,
) -> Result<Option<Account>, AccountError> {
    let account = index.account(name).await?;
    let pw = password.to_owned();
    match account {
        Some(a) => {
            let phc = a.password_hash.clone();
            let ok = blocking(move || credential::verify_password(&pw, phc.expose())).await?;
            Ok(ok.then_some(a))
        }
        None => {
            blocking(move || credential::verify_unknown(&pw)).await?;
            Ok(None)
        }
    }
}

/// A session opened for `name`, lasting `ttl_s`: its secret (the cookie)
/// and when it ends. Sessions already ended are cleared on the way.
pub async fn open_session(
    index: &dyn Index,
    name: &str,
    ttl_s: u64,
) -> Result<(String, i64), AccountError> {
    let now = now_ns();
    index.purge_sessions(now).await?;
    let secret = credential::new_session()?;
    let ttl_ns = i64::try_from(ttl_s)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000_000);
    let expires_at_ns = now.saturating_add(ttl_ns);
    if index
        .add_session(name, &credential::hash_secret(&secret), expires_at_ns)
        .await?
    {
        Ok((secret, expires_at_ns))
    } else {
        Err(AccountError::NotFound(name.to_owned()))
    }
}
