//! The admin console's sessions (table `admin_sessions`): created at login, looked up by
//! the hash of the cookie's token, touched as they are used, deleted at logout, when
//! they expired, and all at once when their account may no longer use the console.

use sqlx::Row;

use crate::{Result, Store};

/// A console session. The cookie's token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// Hex SHA-256 of the session token.
    pub token_hash: String,
    pub login: String,
    /// The token the console must echo in `X-CSRF-Token`.
    pub csrf: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    /// Absolute end of the session.
    pub expires_ms: i64,
}

fn session_from_row(row: &sqlx::any::AnyRow) -> Result<AdminSession> {
    Ok(AdminSession {
        token_hash: row.try_get("token_hash")?,
        login: row.try_get("login")?,
        csrf: row.try_get("csrf")?,
        created_ms: row.try_get("created_ms")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
        expires_ms: row.try_get("expires_ms")?,
    })
}

pub(super) async fn create_admin_session(store: &Store, s: &AdminSession) -> Result<()> {
    sqlx::query(
        "INSERT INTO admin_sessions \
             (token_hash, login, csrf, created_ms, last_seen_ms, expires_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(s.token_hash.clone())
    .bind(s.login.clone())
    .bind(s.csrf.clone())
    .bind(s.created_ms)
    .bind(s.last_seen_ms)
    .bind(s.expires_ms)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub(super) async fn admin_session(store: &Store, token_hash: &str) -> Result<Option<AdminSession>> {
    let row = sqlx::query(
        "SELECT token_hash, login, csrf, created_ms, last_seen_ms, expires_ms \
         FROM admin_sessions WHERE token_hash = $1",
    )
    .bind(token_hash.to_owned())
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(session_from_row).transpose()
}

pub(super) async fn touch_admin_session(
    store: &Store,
    token_hash: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query("UPDATE admin_sessions SET last_seen_ms = $2 WHERE token_hash = $1")
        .bind(token_hash.to_owned())
        .bind(now_ms)
        .execute(store.pool())
        .await?;
    Ok(())
}

pub(super) async fn delete_admin_session(store: &Store, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
        .bind(token_hash.to_owned())
        .execute(store.pool())
        .await?;
    Ok(())
}

pub(super) async fn delete_admin_sessions_of(store: &Store, login: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM admin_sessions WHERE login = $1")
        .bind(login.to_owned())
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_expired_admin_sessions(
    store: &Store,
    now_ms: i64,
    idle_before_ms: i64,
) -> Result<u64> {
    let done =
        sqlx::query("DELETE FROM admin_sessions WHERE expires_ms <= $1 OR last_seen_ms < $2")
            .bind(now_ms)
            .bind(idle_before_ms)
            .execute(store.pool())
            .await?;
    Ok(done.rows_affected())
}
