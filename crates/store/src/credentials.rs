//! SCRAM credentials as stored (table `scram_credentials`): their types, and reading and
//! writing one account's pair inside the caller's transaction.
//!
//! Accounts and the directory import both write credentials, so they live here, below
//! both: neither of those modules imports the other for them.

use sqlx::any::AnyRow;

use crate::reader::{Columns, SqlxRow};
use crate::{Backend, Result, StoreError};

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

/// Inserts or replaces the credential rows of account `id`, and deletes its XEP-0484
/// FAST tokens and console sessions: a new password ends the logins the former one gave
/// (fast.rs, admin/console_sessions.rs).
pub(crate) async fn write_credentials(
    tx: &mut sqlx::AnyConnection,
    id: i64,
    creds: &Credentials,
) -> Result<()> {
    sqlx::query("DELETE FROM fast_tokens WHERE account_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // The console's sessions opened with the old password end with it (a password is
    // changed because it leaked).
    sqlx::query(
        "DELETE FROM admin_sessions WHERE login = (SELECT username FROM accounts WHERE id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
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
pub(crate) fn credentials_from_rows(
    rows: &[AnyRow],
    username: &str,
) -> Result<Option<Credentials>> {
    let rows: Vec<(String, ScramCredential)> = rows
        .iter()
        // No flag column here: the backend given does not matter.
        .map(|row| read_credential(&SqlxRow(row, Backend::Sqlite)))
        .collect::<Result<_>>()?;
    credentials_from(rows, username)
}

/// One `scram_credentials` row (columns hash, salt, iterations, stored_key, server_key).
pub(crate) fn read_credential(row: &(impl Columns + ?Sized)) -> Result<(String, ScramCredential)> {
    let iterations = row.int("iterations")?;
    let iterations = u32::try_from(iterations)
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| StoreError::Corrupt(format!("SCRAM iteration count {iterations}")))?;
    Ok((
        row.text("hash")?,
        ScramCredential {
            salt: row.blob("salt")?,
            iterations,
            stored_key: row.blob("stored_key")?,
            server_key: row.blob("server_key")?,
        },
    ))
}

/// Credentials from one account's rows read by [`read_credential`]: None without any row,
/// Corrupt when the pair is incomplete.
pub(crate) fn credentials_from(
    rows: Vec<(String, ScramCredential)>,
    username: &str,
) -> Result<Option<Credentials>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let (mut sha1, mut sha256) = (None, None);
    for (hash, credential) in rows {
        match hash.as_str() {
            SHA1 => sha1 = Some(credential),
            SHA256 => sha256 = Some(credential),
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
