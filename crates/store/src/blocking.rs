//! XEP-0191 blocking (table `blocklist`): the JIDs each account blocked, as normalised
//! strings (a bare JID, a full JID or a domain). The server keeps every list in memory
//! (`services::blocking`), loaded once with [`BlockStore::blocklists`] and written through
//! here.

use crate::{Result, Store, StoreError, account_id};

#[async_trait::async_trait]
pub trait BlockStore: Send + Sync {
    /// The JIDs `user` blocked, sorted byte-wise. Empty when `user` has no account.
    async fn blocklist(&self, user: &str) -> Result<Vec<String>>;
    /// Every account's non-empty list, as (username, blocked JIDs sorted), sorted by
    /// username.
    async fn blocklists(&self) -> Result<Vec<(String, Vec<String>)>>;
    /// Adds `jids` to `user`'s list (those already there stay), in one transaction.
    /// Err(NotFound) when `user` has no account.
    async fn block(&self, user: &str, jids: &[String]) -> Result<()>;
    /// Removes `jids` from `user`'s list (absent ones are ignored).
    async fn unblock(&self, user: &str, jids: &[String]) -> Result<()>;
    /// Empties `user`'s list.
    async fn unblock_all(&self, user: &str) -> Result<()>;
}

#[async_trait::async_trait]
impl BlockStore for Store {
    async fn blocklist(&self, user: &str) -> Result<Vec<String>> {
        let mut jids: Vec<String> = sqlx::query_scalar(
            "SELECT b.jid FROM blocklist b JOIN accounts a ON a.id = b.account_id \
             WHERE a.username = $1",
        )
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        jids.sort_unstable();
        Ok(jids)
    }

    async fn blocklists(&self) -> Result<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.username, b.jid FROM blocklist b JOIN accounts a ON a.id = b.account_id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut map: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (user, jid) in rows {
            map.entry(user).or_default().push(jid);
        }
        Ok(map
            .into_iter()
            .map(|(u, mut j)| {
                j.sort_unstable();
                (u, j)
            })
            .collect())
    }

    async fn block(&self, user: &str, jids: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        for jid in jids {
            sqlx::query(
                "INSERT INTO blocklist (account_id, jid) VALUES ($1, $2) \
                 ON CONFLICT (account_id, jid) DO NOTHING",
            )
            .bind(account)
            .bind(jid.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unblock(&self, user: &str, jids: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let Some(account) = account_id(&mut *tx, user).await? else {
            return Ok(());
        };
        for jid in jids {
            sqlx::query("DELETE FROM blocklist WHERE account_id = $1 AND jid = $2")
                .bind(account)
                .bind(jid.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unblock_all(&self, user: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM blocklist \
             WHERE account_id = (SELECT id FROM accounts WHERE username = $1)",
        )
        .bind(user.to_owned())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
