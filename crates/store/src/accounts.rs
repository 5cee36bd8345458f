//! Accounts and their SCRAM credentials (tables `accounts` and `scram_credentials`):
//! creation, credential changes, deletion (cascading to all the account's data, directory
//! rows included), lookups.
//!
//! An account normally has both credentials; a directory user imported without a password
//! has none (it cannot log in with a password until it is given one).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, account_id, now_ms};

/// SCRAM credential for one hash function (RFC 5802): never the password or SaltedPassword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// The credentials of one account, for SCRAM-SHA-1 and SCRAM-SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub sha1: ScramCredential,
    pub sha256: ScramCredential,
}

const SHA1: &str = "sha1";
const SHA256: &str = "sha256";

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

/// Inserts or replaces the credential rows of account `id`.
pub(crate) async fn write_credentials(
    tx: &mut sqlx::AnyConnection,
    id: i64,
    creds: &Credentials,
) -> Result<()> {
    for (hash, cred) in [(SHA1, &creds.sha1), (SHA256, &creds.sha256)] {
        sqlx::query(
            "INSERT INTO scram_credentials \
                 (account_id, hash, salt, iterations, stored_key, server_key) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account_id, hash) DO UPDATE SET \
                 salt = excluded.salt, iterations = excluded.iterations, \
                 stored_key = excluded.stored_key, server_key = excluded.server_key",
        )
        .bind(id)
        .bind(hash)
        .bind(cred.salt.clone())
        .bind(i64::from(cred.iterations))
        .bind(cred.stored_key.clone())
        .bind(cred.server_key.clone())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The credentials of account `id` read through `conn`; None when it has no credential row.
pub(crate) async fn credentials_of(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    username: &str,
) -> Result<Option<Credentials>> {
    let rows = sqlx::query(
        "SELECT hash, salt, iterations, stored_key, server_key \
         FROM scram_credentials WHERE account_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    credentials_from_rows(&rows, username)
}

/// Credentials from the `scram_credentials` rows of one account: None without any row (no
/// account, or an account without credentials), Corrupt when the pair is incomplete.
fn credentials_from_rows(rows: &[AnyRow], username: &str) -> Result<Option<Credentials>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let (mut sha1, mut sha256) = (None, None);
    for row in rows {
        let hash: String = row.try_get("hash")?;
        match hash.as_str() {
            SHA1 => sha1 = Some(read_credential(row)?),
            SHA256 => sha256 = Some(read_credential(row)?),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown SCRAM hash {other:?} for account {username:?}"
                )));
            }
        }
    }
    match (sha1, sha256) {
        (Some(sha1), Some(sha256)) => Ok(Some(Credentials { sha1, sha256 })),
        _ => Err(StoreError::Corrupt(format!(
            "account {username:?} lacks its SCRAM-SHA-1 or SCRAM-SHA-256 credential"
        ))),
    }
}

fn read_credential(row: &AnyRow) -> Result<ScramCredential> {
    let iterations: i64 = row.try_get("iterations")?;
    let iterations = u32::try_from(iterations)
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| StoreError::Corrupt(format!("SCRAM iteration count {iterations}")))?;
    Ok(ScramCredential {
        salt: row.try_get("salt")?,
        iterations,
        stored_key: row.try_get("stored_key")?,
        server_key: row.try_get("server_key")?,
    })
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
        crate::directory::bump_generation_if_directory_user(&mut tx, username).await?;
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
        let rows = sqlx::query(
            "SELECT c.hash, c.salt, c.iterations, c.stored_key, c.server_key \
             FROM accounts a JOIN scram_credentials c ON c.account_id = a.id \
             WHERE a.username = $1",
        )
        .bind(username.to_owned())
        .fetch_all(self.pool())
        .await?;
        credentials_from_rows(&rows, username)
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
