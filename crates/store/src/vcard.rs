//! vCard-temp (XEP-0054) of each account (table `vcards`), stored as its XML text.

use crate::{Result, Store, StoreError, account_id, now_ms};

#[async_trait::async_trait]
pub trait VcardStore: Send + Sync {
    /// The stored vCard-temp XML (`<vCard xmlns='vcard-temp'>…</vCard>`) of the user, if any.
    async fn vcard(&self, user: &str) -> Result<Option<String>>;
    /// Stores or replaces the user's vCard. Err(NotFound) when `user` has no account.
    async fn set_vcard(&self, user: &str, xml: &str) -> Result<()>;
}

#[async_trait::async_trait]
impl VcardStore for Store {
    async fn vcard(&self, user: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT v.xml FROM vcards v JOIN accounts a ON a.id = v.account_id \
             WHERE a.username = $1",
        )
        .bind(user.to_owned())
        .fetch_optional(self.pool())
        .await?)
    }

    async fn set_vcard(&self, user: &str, xml: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO vcards (account_id, xml, updated_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET \
                 xml = excluded.xml, updated_ms = excluded.updated_ms",
        )
        .bind(account)
        .bind(xml.to_owned())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
