//! The `directory_generation` counter: incremented, first thing, by every write
//! transaction that changes the directory, its rules, its access settings or the account
//! locks, and read by servers to know when to reload what they keep in memory.
//!
//! It sits below everything else of the store (accounts use it when deleting a directory
//! user's account), so it imports nothing of the other modules.

use sqlx::AnyConnection;

use crate::{Result, Store, StoreError};

/// Increments the generation. First statement of every directory write transaction.
pub(crate) async fn bump_generation(conn: &mut AnyConnection) -> Result<()> {
    let done = sqlx::query("UPDATE directory_generation SET value = value + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Corrupt(
            "the directory_generation row is missing".into(),
        ));
    }
    Ok(())
}

/// Increments the generation when `username` is a directory user (whose rows are about to
/// go with his account).
pub(crate) async fn bump_generation_if_directory_user(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE directory_generation SET value = value + 1 WHERE id = 1 AND EXISTS \
         (SELECT 1 FROM directory_users d JOIN accounts a ON a.id = d.account_id \
          WHERE a.username = $1)",
    )
    .bind(username.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn generation(store: &Store) -> Result<i64> {
    sqlx::query_scalar("SELECT value FROM directory_generation WHERE id = 1")
        .fetch_optional(store.pool())
        .await?
        .ok_or_else(|| StoreError::Corrupt("the directory_generation row is missing".into()))
}
