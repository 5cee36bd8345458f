//! XEP-0012 last activity (table `last_activity`): when each account's last session
//! ended, and the status it had then.

use crate::{Result, Store, StoreError, account_id};

/// An account's last logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastLogout {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The status text of its last available presence, if it had one.
    pub status: Option<String>,
}

#[async_trait::async_trait]
pub trait ActivityStore: Send + Sync {
    /// Records that `user`'s last session ended at `at_ms` with `status` (replacing the
    /// previous record). Err(NotFound) when `user` has no account.
    async fn set_last_logout(&self, user: &str, at_ms: i64, status: Option<&str>) -> Result<()>;
    /// `user`'s last logout, if one was recorded.
    async fn last_logout(&self, user: &str) -> Result<Option<LastLogout>>;
}

#[async_trait::async_trait]
impl ActivityStore for Store {
    async fn set_last_logout(&self, user: &str, at_ms: i64, status: Option<&str>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO last_activity (account_id, logout_ms, status) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET \
                 logout_ms = excluded.logout_ms, status = excluded.status",
        )
        .bind(account)
        .bind(at_ms)
        .bind(status.map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn last_logout(&self, user: &str) -> Result<Option<LastLogout>> {
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT l.logout_ms, l.status FROM last_activity l \
             JOIN accounts a ON a.id = l.account_id WHERE a.username = $1",
        )
        .bind(user.to_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(at_ms, status)| LastLogout { at_ms, status }))
    }
}
