//! Accounts locked by an administrator (table `account_locks`): whether one is, the list
//! servers keep in memory, and the audited lock and unlock, which move the directory
//! generation so that every server reloads that list.

use crate::audit::{NewAudit, insert_audit};
use crate::directory::generation::bump_generation;
use crate::{Result, Store, StoreError, account_id, now_ms};

pub(super) async fn account_locked(store: &Store, login: &str) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT l.account_id FROM account_locks l JOIN accounts a ON a.id = l.account_id \
         WHERE a.username = $1",
    )
    .bind(login.to_owned())
    .fetch_optional(store.pool())
    .await?;
    Ok(found.is_some())
}

pub(super) async fn locked_accounts(store: &Store) -> Result<Vec<String>> {
    let mut logins: Vec<String> = sqlx::query_scalar(
        "SELECT a.username FROM account_locks l JOIN accounts a ON a.id = l.account_id",
    )
    .fetch_all(store.pool())
    .await?;
    logins.sort();
    Ok(logins)
}

pub(super) async fn set_locked_audited(
    store: &Store,
    login: &str,
    locked: bool,
    actor: &str,
    structure: Option<&str>,
) -> Result<bool> {
    let mut tx = store.begin_write().await?;
    let account = account_id(&mut *tx, login)
        .await?
        .ok_or(StoreError::NotFound)?;
    let was: Option<i64> =
        sqlx::query_scalar("SELECT account_id FROM account_locks WHERE account_id = $1")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
    if was.is_some() == locked {
        return Ok(false);
    }
    // Servers keep the locked accounts in memory with the directory, reloaded when
    // its generation moves.
    bump_generation(&mut tx).await?;
    if locked {
        sqlx::query("INSERT INTO account_locks (account_id, at_ms, actor) VALUES ($1, $2, $3)")
            .bind(account)
            .bind(now_ms())
            .bind(actor.to_owned())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("DELETE FROM account_locks WHERE account_id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
    }
    insert_audit(
        &mut tx,
        &NewAudit {
            actor: actor.into(),
            action: if locked { "user.lock" } else { "user.unlock" }.into(),
            structure: structure.map(Into::into),
            target: Some(login.into()),
            before: Some(serde_json::json!({ "locked": !locked })),
            after: Some(serde_json::json!({ "locked": locked })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
