//! XEP-0484 FAST tokens (table `fast_tokens`): per account and client (the XEP-0388
//! user-agent id, `agent`), the SHA-256 of the tokens it may log in with, their expiry
//! and the replay counter. Never a token in clear (crates/proto/src/ht.rs says why the
//! digest is enough to check a login).
//!
//! At most [`TOKENS_PER_AGENT`] live tokens per client: the one it uses and the one just
//! issued, so that a client that missed the new one (a connection lost just after the
//! `<success/>`) still gets in with the previous; logging in with the newer retires the
//! older ([`FastStore::fast_used`]). At most [`TOKENS_PER_ACCOUNT`] per account: a new
//! one retires the account's oldest beyond. A new password deletes all of an account's tokens
//! (credentials.rs), an account's deletion too (cascade).

use sqlx::Row;

use crate::{Backend, Result, Store, StoreError, account_id, now_ms};

/// Live tokens kept per account and client.
pub const TOKENS_PER_AGENT: i64 = 2;
/// Live tokens kept per account, all clients together (the newest): a user has a few
/// devices, and a client that makes up a new `<user-agent id>` at every login must not
/// grow the table (each token lives for weeks) nor every token login's read.
pub const TOKENS_PER_ACCOUNT: i64 = 20;

/// One live token of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastToken {
    /// The XEP-0484 mechanism it was issued for, the only one it logs in with.
    pub mechanism: String,
    /// The SHA-256 of the token.
    pub key_hash: Vec<u8>,
    pub issued_ms: i64,
    pub expires_ms: i64,
    /// The highest `count` used with it, -1 before any.
    pub last_count: i64,
}

#[async_trait::async_trait]
pub trait FastStore: Send + Sync {
    /// Stores a new token of `user`'s client `agent` for `mechanism`, valid until
    /// `expires_ms`, and deletes that client's expired tokens and those beyond
    /// [`TOKENS_PER_AGENT`] (the oldest). Err(NotFound) when `user` has no account.
    async fn fast_issue(
        &self,
        user: &str,
        agent: &str,
        mechanism: &str,
        key_hash: &[u8],
        expires_ms: i64,
    ) -> Result<()>;
    /// The live (unexpired) tokens of `user`'s client `agent`, newest first.
    async fn fast_tokens(&self, user: &str, agent: &str) -> Result<Vec<FastToken>>;
    /// Records a login with the token `key_hash`: with a `count`, only when it is above
    /// the token's last one (Ok(false) otherwise: a replay, nothing changes); the
    /// client's tokens issued before this one are deleted (it has the newer one).
    async fn fast_used(
        &self,
        user: &str,
        agent: &str,
        key_hash: &[u8],
        count: Option<i64>,
    ) -> Result<bool>;
    /// Deletes `user`'s tokens: one client's (`agent`) or all; returns how many.
    async fn fast_revoke(&self, user: &str, agent: Option<&str>) -> Result<u64>;
}

#[async_trait::async_trait]
impl FastStore for Store {
    async fn fast_issue(
        &self,
        user: &str,
        agent: &str,
        mechanism: &str,
        key_hash: &[u8],
        expires_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO fast_tokens (account_id, agent, mechanism, key_hash, issued_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account)
        .bind(agent.to_owned())
        .bind(mechanism.to_owned())
        .bind(key_hash.to_vec())
        .bind(now)
        .bind(expires_ms)
        .execute(&mut *tx)
        .await?;
        // Expired ones, then all but the newest few (ties broken by the digest, the same
        // on both backends).
        sqlx::query("DELETE FROM fast_tokens WHERE account_id = $1 AND expires_ms <= $2")
            .bind(account)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM fast_tokens WHERE account_id = $1 AND agent = $2 AND key_hash NOT IN \
             (SELECT key_hash FROM fast_tokens WHERE account_id = $1 AND agent = $2 \
              ORDER BY issued_ms DESC, key_hash DESC LIMIT $3)",
        )
        .bind(account)
        .bind(agent.to_owned())
        .bind(TOKENS_PER_AGENT)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM fast_tokens WHERE account_id = $1 AND key_hash NOT IN \
             (SELECT key_hash FROM fast_tokens WHERE account_id = $1 \
              ORDER BY issued_ms DESC, key_hash DESC LIMIT $2)",
        )
        .bind(account)
        .bind(TOKENS_PER_ACCOUNT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fast_tokens(&self, user: &str, agent: &str) -> Result<Vec<FastToken>> {
        // All of the account's tokens (a few), on the login's fast path: read on this
        // thread from a SQLite file (reader.rs), filtered here.
        let now = now_ms();
        let all = self
            .rows_by(
                "fast tokens",
                "SELECT t.agent, t.mechanism, t.key_hash, t.issued_ms, t.expires_ms, t.last_count \
                 FROM fast_tokens t JOIN accounts a ON a.id = t.account_id \
                 WHERE a.username = $1",
                user,
                |row| {
                    Ok((
                        row.text("agent")?,
                        FastToken {
                            mechanism: row.text("mechanism")?,
                            key_hash: row.blob("key_hash")?,
                            issued_ms: row.int("issued_ms")?,
                            expires_ms: row.int("expires_ms")?,
                            last_count: row.int("last_count")?,
                        },
                    ))
                },
            )
            .await?;
        let mut live: Vec<FastToken> = all
            .into_iter()
            .filter(|(a, t)| a == agent && t.expires_ms > now)
            .map(|(_, t)| t)
            .collect();
        live.sort_by(|a, b| (b.issued_ms, &b.key_hash).cmp(&(a.issued_ms, &a.key_hash)));
        Ok(live)
    }

    async fn fast_used(
        &self,
        user: &str,
        agent: &str,
        key_hash: &[u8],
        count: Option<i64>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let Some(account) = account_id(&mut *tx, user).await? else {
            return Ok(false);
        };
        let lookup = match self.backend() {
            Backend::Sqlite => {
                "SELECT issued_ms, last_count FROM fast_tokens \
                 WHERE account_id = $1 AND key_hash = $2"
            }
            Backend::Postgres => {
                "SELECT issued_ms, last_count FROM fast_tokens \
                 WHERE account_id = $1 AND key_hash = $2 FOR UPDATE"
            }
        };
        let Some(row) = sqlx::query(lookup)
            .bind(account)
            .bind(key_hash.to_vec())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(false);
        };
        let issued: i64 = row.try_get("issued_ms")?;
        let last: i64 = row.try_get("last_count")?;
        if let Some(count) = count {
            if count <= last {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE fast_tokens SET last_count = $3 WHERE account_id = $1 AND key_hash = $2",
            )
            .bind(account)
            .bind(key_hash.to_vec())
            .bind(count)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "DELETE FROM fast_tokens WHERE account_id = $1 AND agent = $2 AND issued_ms < $3",
        )
        .bind(account)
        .bind(agent.to_owned())
        .bind(issued)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fast_revoke(&self, user: &str, agent: Option<&str>) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM fast_tokens WHERE ($2 IS NULL OR agent = $2) \
             AND account_id = (SELECT id FROM accounts WHERE username = $1)",
        )
        .bind(user.to_owned())
        .bind(agent.map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
