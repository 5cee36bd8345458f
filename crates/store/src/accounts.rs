//! Accounts and their SCRAM credentials (tables `accounts` and `scram_credentials`):
//! creation, credential changes, deletion (cascading to all the account's data, directory
//! rows included), lookups.
//!
//! An account normally has both credentials; a directory user imported without a password
//! has none (it cannot log in with a password until it is given one).

use crate::credentials::write_credentials;
// The credential types are part of this module's API (`causerie_store::accounts::Credentials`).
pub use crate::credentials::{Credentials, ScramCredential};
use crate::directory::generation::bump_generation_if_directory_user;
use crate::{Result, Store, StoreError, account_id, now_ms};

#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// Err(AlreadyExists) when the username is taken.
    async fn create_account(&self, username: &str, creds: &Credentials) -> Result<()>;
    /// Err(NotFound) when there is no such account.
    async fn set_credentials(&self, username: &str, creds: &Credentials) -> Result<()>;
    /// Deletes the account and (cascade) all its data, its directory rows included (then
    /// the directory generation is incremented). Err(NotFound) when absent.
    async fn delete_account(&self, username: &str) -> Result<()>;
    /// Ok(None) when there is no such account, or when the account has no credential at all
    /// (a directory user imported without a password). Err(Corrupt) when only one of the
    /// pair is stored.
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>>;
    async fn account_exists(&self, username: &str) -> Result<bool>;
    /// Sorted by username (byte-wise, the same on both backends).
    async fn list_accounts(&self) -> Result<Vec<String>>;
}

#[async_trait::async_trait]
impl AccountStore for Store {
    async fn create_account(&self, username: &str, creds: &Credentials) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // ON CONFLICT DO NOTHING: a taken name (even by a concurrent creator) yields no row.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO accounts (username, created_ms) VALUES ($1, $2) \
             ON CONFLICT (username) DO NOTHING RETURNING id",
        )
        .bind(username.to_owned())
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Err(StoreError::AlreadyExists);
        };
        write_credentials(&mut tx, id, creds).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_credentials(&self, username: &str, creds: &Credentials) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = account_id(&mut *tx, username)
            .await?
            .ok_or(StoreError::NotFound)?;
        write_credentials(&mut tx, id, creds).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_account(&self, username: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // A directory user's rows go with the account (cascade): a directory change.
        bump_generation_if_directory_user(&mut tx, username).await?;
        let done = sqlx::query("DELETE FROM accounts WHERE username = $1")
            .bind(username.to_owned())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>> {
        const SQL: &str = "SELECT c.hash, c.salt, c.iterations, c.stored_key, c.server_key \
             FROM accounts a JOIN scram_credentials c ON c.account_id = a.id \
             WHERE a.username = $1";
        let rows = self
            .rows_by("credentials", SQL, username, |row| {
                crate::credentials::read_credential(row)
            })
            .await?;
        crate::credentials::credentials_from(rows, username)
    }

    async fn account_exists(&self, username: &str) -> Result<bool> {
        Ok(account_id(self.pool(), username).await?.is_some())
    }

    async fn list_accounts(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = sqlx::query_scalar("SELECT username FROM accounts")
            .fetch_all(self.pool())
            .await?;
        // Sorted here rather than by ORDER BY: PostgreSQL's collation is locale-dependent,
        // this gives the same (byte-wise) order on both backends.
        names.sort_unstable();
        Ok(names)
    }
}
