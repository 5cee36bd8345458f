//! Failed console logins per login (table `admin_login_failures`), which the console's
//! lockout counts; old ones are forgotten as new ones are recorded.

use crate::{Result, Store};

pub(super) async fn record_admin_failure(
    store: &Store,
    login: &str,
    at_ms: i64,
    forget_before_ms: i64,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM admin_login_failures WHERE at_ms < $1")
        .bind(forget_before_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO admin_login_failures (login, at_ms) VALUES ($1, $2)")
        .bind(login.to_owned())
        .bind(at_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn admin_failures_since(
    store: &Store,
    login: &str,
    since_ms: i64,
) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT at_ms FROM admin_login_failures WHERE login = $1 AND at_ms >= $2 \
         ORDER BY at_ms DESC",
    )
    .bind(login.to_owned())
    .bind(since_ms)
    .fetch_all(store.pool())
    .await?)
}

pub(super) async fn clear_admin_failures(store: &Store, login: &str) -> Result<()> {
    sqlx::query("DELETE FROM admin_login_failures WHERE login = $1")
        .bind(login.to_owned())
        .execute(store.pool())
        .await?;
    Ok(())
}
