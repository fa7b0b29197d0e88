//! What sign-in asks of the index, behind its own trait ([`AccountStore`],
//! a supertrait of [`super::Index`]): accounts, API tokens and sessions
//! ([`crate::services::auth`]). Tokens and sessions are kept by the hash of their
//! secret; removing an account removes both.

use crate::adapters::index::{AccountSummary, Fut};
use crate::base::auth::role::Account;

pub trait AccountStore {
    /// Adds an account; `false` (nothing changed) when the name is taken.
    fn add_account<'a>(&'a self, account: &'a Account) -> Fut<'a, bool>;
    fn account<'a>(&'a self, name: &'a str) -> Fut<'a, Option<Account>>;
    /// Every account by name, with how many tokens and live sessions it has.
    fn accounts(&self) -> Fut<'_, Vec<AccountSummary>>;
    fn count_accounts(&self) -> Fut<'_, u64>;
    /// Removes an account with its tokens and sessions; `false` when there
    /// was none.
    fn remove_account<'a>(&'a self, name: &'a str) -> Fut<'a, bool>;
    /// Keeps an API token (its hash) for `account`; `false` when there is
    /// no such account.
    fn add_token<'a>(
        &'a self,
        account: &'a str,
        hash: &'a str,
        created_at_ns: i64,
    ) -> Fut<'a, bool>;
    /// Removes every API token of `account`; how many there were.
    fn revoke_tokens<'a>(&'a self, account: &'a str) -> Fut<'a, u64>;
    /// The account an API token (by hash) belongs to.
    fn token_account<'a>(&'a self, hash: &'a str) -> Fut<'a, Option<Account>>;
    /// Keeps a session (its hash) of `account` until `expires_at_ns`;
    /// `false` when there is no such account.
    fn add_session<'a>(
        &'a self,
        account: &'a str,
        hash: &'a str,
        expires_at_ns: i64,
    ) -> Fut<'a, bool>;
    /// The account of a session (by hash) that has not ended at `now_ns`,
    /// and when it ends.
    fn session_account<'a>(&'a self, hash: &'a str, now_ns: i64)
    -> Fut<'a, Option<(Account, i64)>>;
    /// Ends a session (signing out). Idempotent.
    fn remove_session<'a>(&'a self, hash: &'a str) -> Fut<'a, ()>;
    /// Deletes the sessions ended by `now_ns`; how many.
    fn purge_sessions(&self, now_ns: i64) -> Fut<'_, u64>;
}
