//! XEP-0357 push registrations of each account (table `push_registrations`): which app
//! server (a JID) and node to notify, with the client's publish-options form (its XML),
//! bounded per account.

use sqlx::Row;

use crate::{Backend, Result, Store, StoreError, now_ms};

/// One enabled push registration of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRegistration {
    /// The app server's JID (a component's domain, or a JID of it).
    pub jid: String,
    /// The node on the app server that stands for this device.
    pub node: String,
    /// The publish-options data form (`<x xmlns='jabber:x:data' type='submit'>…</x>`).
    pub options: Option<String>,
}

#[async_trait::async_trait]
pub trait PushStore: Send + Sync {
    /// Enables (or, for the same `jid` and `node`, re-enables with new options) a
    /// registration. Ok(false) without storing when `user` already has `max_per_user`
    /// other registrations. Err(NotFound) when `user` has no account.
    async fn push_enable(
        &self,
        user: &str,
        jid: &str,
        node: &str,
        options: Option<&str>,
        max_per_user: i64,
    ) -> Result<bool>;
    /// Disables the registrations of `user` at `jid` (only `node`'s when given); returns
    /// how many were removed.
    async fn push_disable(&self, user: &str, jid: &str, node: Option<&str>) -> Result<u64>;
    /// The registrations of `user`, oldest first (none for an unknown user).
    async fn push_registrations(&self, user: &str) -> Result<Vec<PushRegistration>>;
}

#[async_trait::async_trait]
impl PushStore for Store {
    async fn push_enable(
        &self,
        user: &str,
        jid: &str,
        node: &str,
        options: Option<&str>,
        max_per_user: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // Lock the account row on PostgreSQL so that concurrent enables count one after
        // the other; SQLite's BEGIN IMMEDIATE already serialises writers.
        let lookup = match self.backend() {
            Backend::Sqlite => "SELECT id FROM accounts WHERE username = $1",
            Backend::Postgres => "SELECT id FROM accounts WHERE username = $1 FOR UPDATE",
        };
        let account: i64 = sqlx::query_scalar(lookup)
            .bind(user.to_owned())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let updated = sqlx::query(
            "UPDATE push_registrations SET options = $4 \
             WHERE account_id = $1 AND jid = $2 AND node = $3",
        )
        .bind(account)
        .bind(jid.to_owned())
        .bind(node.to_owned())
        .bind(options.map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() > 0 {
            tx.commit().await?;
            return Ok(true);
        }
        let inserted = sqlx::query(
            "INSERT INTO push_registrations (account_id, jid, node, options, created_ms) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE (SELECT COUNT(*) FROM push_registrations WHERE account_id = $1) < $6",
        )
        .bind(account)
        .bind(jid.to_owned())
        .bind(node.to_owned())
        .bind(options.map(str::to_owned))
        .bind(now_ms())
        .bind(max_per_user)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted.rows_affected() > 0)
    }

    async fn push_disable(&self, user: &str, jid: &str, node: Option<&str>) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM push_registrations WHERE jid = $2 \
             AND ($3 IS NULL OR node = $3) \
             AND account_id = (SELECT id FROM accounts WHERE username = $1)",
        )
        .bind(user.to_owned())
        .bind(jid.to_owned())
        .bind(node.map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn push_registrations(&self, user: &str) -> Result<Vec<PushRegistration>> {
        let rows = sqlx::query(
            "SELECT p.jid, p.node, p.options FROM push_registrations p \
             JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1 ORDER BY p.created_ms, p.jid, p.node",
        )
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PushRegistration {
                    jid: row.try_get("jid")?,
                    node: row.try_get("node")?,
                    options: row.try_get("options")?,
                })
            })
            .collect()
    }
}
