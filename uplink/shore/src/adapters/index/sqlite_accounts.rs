//! [`AccountStore`] on SQLite: the `accounts`, `api_tokens` and
//! `sessions` tables.

use rusqlite::{OptionalExtension, params};

use super::SqliteIndex;
use crate::adapters::index::accounts::AccountStore;
use crate::adapters::index::{AccountSummary, Fut, account_row};
use crate::base::auth::role::Account;
use crate::base::when::now_ns;

impl AccountStore for SqliteIndex {
    fn add_account<'a>(&'a self, account: &'a Account) -> Fut<'a, bool> {
        let a = account.clone();
        self.write(move |conn| {
            let n = conn.execute(
                "INSERT INTO accounts (name, role, password_hash, created_at_ns) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
                params![
                    a.name,
                    a.role.as_str(),
                    a.password_hash.expose(),
                    a.created_at_ns
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn account<'a>(&'a self, name: &'a str) -> Fut<'a, Option<Account>> {
        let name = name.to_owned();
        self.read(move |conn| {
            conn.query_row(
                "SELECT name, role, password_hash, created_at_ns FROM accounts WHERE name = ?1",
                [name],
                account_columns,
            )
            .optional()?
            .map(|(n, r, h, c)| account_row(n, &r, h, c))
            .transpose()
        })
    }

    fn accounts(&self) -> Fut<'_, Vec<AccountSummary>> {
        let now = now_ns();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT a.name, a.role, a.created_at_ns, \
                 (SELECT count(*) FROM api_tokens t WHERE t.account = a.name), \
                 (SELECT count(*) FROM sessions s WHERE s.account = a.name AND s.expires_at_ns > ?1) \
                 FROM accounts a ORDER BY a.name",
            )?;
            let rows = stmt.query_map([now], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, role, created_at_ns, tokens, sessions) = row?;
                let a = account_row(name, &role, String::new(), created_at_ns)?;
                out.push(AccountSummary {
                    name: a.name,
                    role: a.role,
                    created_at_ns,
                    tokens: u64::try_from(tokens).unwrap_or(0),
                    sessions: u64::try_from(sessions).unwrap_or(0),
                });
            }
            Ok(out)
        })
    }

    fn count_accounts(&self) -> Fut<'_, u64> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn remove_account<'a>(&'a self, name: &'a str) -> Fut<'a, bool> {
        let name = name.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM api_tokens WHERE account = ?1", [&name])?;
            tx.execute("DELETE FROM sessions WHERE account = ?1", [&name])?;
            let n = tx.execute("DELETE FROM accounts WHERE name = ?1", [&name])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn add_token<'a>(
        &'a self,
        account: &'a str,
        hash: &'a str,
        created_at_ns: i64,
    ) -> Fut<'a, bool> {
        let (account, hash) = (account.to_owned(), hash.to_owned());
        self.write(move |conn| {
            let n = conn.execute(
                "INSERT INTO api_tokens (hash, account, created_at_ns) \
                 SELECT ?1, name, ?3 FROM accounts WHERE name = ?2",
                params![hash, account, created_at_ns],
            )?;
            Ok(n == 1)
        })
    }

    fn revoke_tokens<'a>(&'a self, account: &'a str) -> Fut<'a, u64> {
        let account = account.to_owned();
        self.write(move |conn| {
            let n = conn.execute("DELETE FROM api_tokens WHERE account = ?1", [account])?;
            Ok(n as u64)
        })
    }

    fn token_account<'a>(&'a self, hash: &'a str) -> Fut<'a, Option<Account>> {
        let hash = hash.to_owned();
        self.read(move |conn| {
            conn.query_row(
                "SELECT a.name, a.role, a.password_hash, a.created_at_ns FROM api_tokens t \
                 JOIN accounts a ON a.name = t.account WHERE t.hash = ?1",
                [hash],
                account_columns,
            )
            .optional()?
            .map(|(n, r, h, c)| account_row(n, &r, h, c))
            .transpose()
        })
    }

    fn add_session<'a>(
        &'a self,
        account: &'a str,
        hash: &'a str,
        expires_at_ns: i64,
    ) -> Fut<'a, bool> {
        let (account, hash) = (account.to_owned(), hash.to_owned());
        self.write(move |conn| {
            let n = conn.execute(
                "INSERT INTO sessions (hash, account, expires_at_ns) \
                 SELECT ?1, name, ?3 FROM accounts WHERE name = ?2",
                params![hash, account, expires_at_ns],
            )?;
            Ok(n == 1)
        })
    }

    fn session_account<'a>(
        &'a self,
        hash: &'a str,
        now_ns: i64,
    ) -> Fut<'a, Option<(Account, i64)>> {
        let hash = hash.to_owned();
        self.read(move |conn| {
            let row = conn
                .query_row(
                    "SELECT a.name, a.role, a.password_hash, a.created_at_ns, s.expires_at_ns \
                     FROM sessions s JOIN accounts a ON a.name = s.account \
                     WHERE s.hash = ?1 AND s.expires_at_ns > ?2",
                    params![hash, now_ns],
                    |r| Ok((account_columns(r)?, r.get::<_, i64>(4)?)),
                )
                .optional()?;
            row.map(|((n, r, h, c), expires)| Ok((account_row(n, &r, h, c)?, expires)))
                .transpose()
        })
    }

    fn remove_session<'a>(&'a self, hash: &'a str) -> Fut<'a, ()> {
        let hash = hash.to_owned();
        self.write(move |conn| {
            conn.execute("DELETE FROM sessions WHERE hash = ?1", [hash])?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now_ns: i64) -> Fut<'_, u64> {
        self.write(move |conn| {
            let n = conn.execute("DELETE FROM sessions WHERE expires_at_ns <= ?1", [now_ns])?;
            Ok(n as u64)
        })
    }
}

/// `name, role, password_hash, created_at_ns` of an `accounts` row.
fn account_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}
