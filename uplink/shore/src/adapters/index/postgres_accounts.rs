//! [`AccountStore`] on PostgreSQL: the `accounts`, `api_tokens` and
//! `sessions` tables.

use tokio_postgres::Row;

use super::PgIndex;
use crate::adapters::index::accounts::AccountStore;
use crate::adapters::index::{AccountSummary, Fut, IndexError, account_row};
use crate::base::auth::role::Account;
use crate::base::when::now_ns;

impl AccountStore for PgIndex {
    fn add_account<'a>(&'a self, a: &'a Account) -> Fut<'a, bool> {
        Box::pin(async move {
            let n = self
                .writer()
                .await?
                .execute(
                    "INSERT INTO accounts (name, role, password_hash, created_at_ns) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                    &[
                        &a.name,
                        &a.role.as_str(),
                        &a.password_hash.expose(),
                        &a.created_at_ns,
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn account<'a>(&'a self, name: &'a str) -> Fut<'a, Option<Account>> {
        Box::pin(async move {
            self.reader()
                .await?
                .query_opt(
                    "SELECT name, role, password_hash, created_at_ns FROM accounts WHERE name = $1",
                    &[&name],
                )
                .await?
                .as_ref()
                .map(to_account)
                .transpose()
        })
    }

    fn accounts(&self) -> Fut<'_, Vec<AccountSummary>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT a.name, a.role, a.created_at_ns, \
                     (SELECT count(*) FROM api_tokens t WHERE t.account = a.name), \
                     (SELECT count(*) FROM sessions s WHERE s.account = a.name AND s.expires_at_ns > $1) \
                     FROM accounts a ORDER BY a.name",
                    &[&now_ns()],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let created_at_ns: i64 = r.try_get(2)?;
                    let a =
                        account_row(r.try_get(0)?, r.try_get(1)?, String::new(), created_at_ns)?;
                    Ok(AccountSummary {
                        name: a.name,
                        role: a.role,
                        created_at_ns,
                        tokens: u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
                        sessions: u64::try_from(r.try_get::<_, i64>(4)?).unwrap_or(0),
                    })
                })
                .collect()
        })
    }

    fn count_accounts(&self) -> Fut<'_, u64> {
        Box::pin(async move {
            let n: i64 = self
                .reader()
                .await?
                .query_one("SELECT count(*) FROM accounts", &[])
                .await?
                .try_get(0)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn remove_account<'a>(&'a self, name: &'a str) -> Fut<'a, bool> {
        Box::pin(async move {
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            tx.execute("DELETE FROM api_tokens WHERE account = $1", &[&name])
                .await?;
            tx.execute("DELETE FROM sessions WHERE account = $1", &[&name])
                .await?;
            let n = tx
                .execute("DELETE FROM accounts WHERE name = $1", &[&name])
                .await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    fn add_token<'a>(
        &'a self,
        account: &'a str,
        hash: &'a str,
        created_at_ns: i64,
    ) -> Fut<'a, bool> {
        Box::pin(async move {
            let n = self
                .writer()
                .await?
                .execute(
                    "INSERT INTO api_tokens (hash, account, created_at_ns) \
                     SELECT $1, name, $3 FROM accounts WHERE name = $2",
                    &[&hash, &account, &created_at_ns],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn revoke_tokens<'a>(&'a self, account: &'a str) -> Fut<'a, u64> {
        Box::pin(async move {
            Ok(self
                .writer()
                .await?
                .execute("DELETE FROM api_tokens WHERE account = $1", &[&account])
                .await?)
        })
    }

    fn token_account<'a>(&'a self, hash: &'a str) -> Fut<'a, Option<Account>> {
        Box::pin(async move {
            self.reader()
                .await?
                .query_opt(
                    "SELECT a.name, a.role, a.password_hash, a.created_at_ns FROM api_tokens t \
                     JOIN accounts a ON a.name = t.account WHERE t.hash = $1",
                    &[&hash],
                )
                .await?
                .as_ref()
                .map(to_account)
                .transpose()
        })
    }

    fn add_session<'a>(
        &'a self,
        account: &'a str,
        hash: &'a str,
        expires_at_ns: i64,
    ) -> Fut<'a, bool> {
        Box::pin(async move {
            let n = self
                .writer()
                .await?
                .execute(
                    "INSERT INTO sessions (hash, account, expires_at_ns) \
                     SELECT $1, name, $3 FROM accounts WHERE name = $2",
                    &[&hash, &account, &expires_at_ns],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn session_account<'a>(
        &'a self,
        hash: &'a str,
        now_ns: i64,
    ) -> Fut<'a, Option<(Account, i64)>> {
        Box::pin(async move {
            let row = self
                .reader()
                .await?
                .query_opt(
                    "SELECT a.name, a.role, a.password_hash, a.created_at_ns, s.expires_at_ns \
                     FROM sessions s JOIN accounts a ON a.name = s.account \
                     WHERE s.hash = $1 AND s.expires_at_ns > $2",
                    &[&hash, &now_ns],
                )
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some((to_account(&r)?, r.try_get(4)?))),
            }
        })
    }

    fn remove_session<'a>(&'a self, hash: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.writer()
                .await?
                .execute("DELETE FROM sessions WHERE hash = $1", &[&hash])
                .await?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now_ns: i64) -> Fut<'_, u64> {
        Box::pin(async move {
            Ok(self
                .writer()
                .await?
                .execute("DELETE FROM sessions WHERE expires_at_ns <= $1", &[&now_ns])
                .await?)
        })
    }
}

/// An account from the columns `name, role, password_hash, created_at_ns`.
fn to_account(r: &Row) -> Result<Account, IndexError> {
    account_row(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)
}
