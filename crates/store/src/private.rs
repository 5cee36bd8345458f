//! XEP-0049 private XML storage (table `private_xml`): one element per account, element
//! name and namespace, stored as its XML text. Only its owner ever reads it (the server
//! answers only the account's own requests).

use crate::{Result, Store, StoreError, account_id, now_ms};

/// One element to store: its name, namespace and XML text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateEntry {
    pub name: String,
    pub namespace: String,
    pub xml: String,
}

#[async_trait::async_trait]
pub trait PrivateStore: Send + Sync {
    /// The stored element `name` of `namespace` of `user`, if any.
    async fn private_get(&self, user: &str, name: &str, namespace: &str) -> Result<Option<String>>;
    /// Stores (replaces) every entry in one transaction; false, with nothing written, when
    /// the account would then keep more than `max_bytes` in all. Err(NotFound) without
    /// account.
    async fn private_set(
        &self,
        user: &str,
        entries: &[PrivateEntry],
        max_bytes: u64,
    ) -> Result<bool>;
}

#[async_trait::async_trait]
impl PrivateStore for Store {
    async fn private_get(&self, user: &str, name: &str, namespace: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT p.xml FROM private_xml p JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1 AND p.name = $2 AND p.namespace = $3",
        )
        .bind(user.to_owned())
        .bind(name.to_owned())
        .bind(namespace.to_owned())
        .fetch_optional(self.pool())
        .await?)
    }

    async fn private_set(
        &self,
        user: &str,
        entries: &[PrivateEntry],
        max_bytes: u64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        for e in entries {
            sqlx::query(
                "INSERT INTO private_xml (account_id, name, namespace, xml, bytes, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (account_id, name, namespace) DO UPDATE SET \
                     xml = excluded.xml, bytes = excluded.bytes, updated_ms = excluded.updated_ms",
            )
            .bind(account)
            .bind(e.name.clone())
            .bind(e.namespace.clone())
            .bind(e.xml.clone())
            .bind(i64::try_from(e.xml.len()).unwrap_or(i64::MAX))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        let total: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM private_xml WHERE account_id = $1",
        )
        .bind(account)
        .fetch_one(&mut *tx)
        .await?;
        if u64::try_from(total).unwrap_or(u64::MAX) > max_bytes {
            // Dropping the transaction rolls every entry back.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}
