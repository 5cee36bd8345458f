//! Single sign-on sessions with the portal (tables `sso_sessions`, `sso_login_tokens`):
//! a browser signed in through the portal's CAS server, known by the SHA-256 of its
//! cookie, and the single-use login tokens its web client logs in with over XMPP.
//! Never a cookie or a token in clear: the callers hash them (crates/web/src/sso.rs
//! makes them, crates/server/src/auth.rs takes a token).
//!
//! A session ends at its expiry, when its browser signs out of the chat, when the CAS
//! server's single log-out names the ticket that opened it, or with its account.

use sqlx::Row;

use crate::{Backend, Result, Store, StoreError, account_id, now_ms};

/// Live login tokens kept per browser session (the newest).
pub const TOKENS_PER_SESSION: i64 = 4;

/// A login token taken: whose, and of which session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoLogin {
    pub user: String,
    /// The SHA-256 of the session's cookie: the sessions an XMPP connection came from.
    pub session: Vec<u8>,
}

#[async_trait::async_trait]
pub trait SsoStore: Send + Sync {
    /// Opens a session of `user` until `expires_ms`, opened by the CAS ticket
    /// `ticket_hash`; expired sessions are deleted on the way. Err(NotFound) when `user`
    /// has no account.
    async fn sso_open(
        &self,
        user: &str,
        id_hash: &[u8],
        ticket_hash: &[u8],
        expires_ms: i64,
    ) -> Result<()>;
    /// The account of a live session.
    async fn sso_session(&self, id_hash: &[u8]) -> Result<Option<String>>;
    /// Stores a login token of a live session, valid until `expires_ms` (or the
    /// session's end, whichever comes first); Ok(false) when the session is gone.
    async fn sso_token_issue(
        &self,
        session: &[u8],
        token_hash: &[u8],
        expires_ms: i64,
    ) -> Result<bool>;
    /// Takes a token: deleted whatever it was worth, returned if it and its session were
    /// live. A token logs in once.
    async fn sso_token_take(&self, token_hash: &[u8]) -> Result<Option<SsoLogin>>;
    /// Ends one session (its browser signed out); its account if it was there.
    async fn sso_close(&self, id_hash: &[u8]) -> Result<Option<String>>;
    /// Ends the sessions opened by a CAS ticket (single log-out).
    async fn sso_close_ticket(&self, ticket_hash: &[u8]) -> Result<Vec<SsoLogin>>;
}

#[async_trait::async_trait]
impl SsoStore for Store {
    async fn sso_open(
        &self,
        user: &str,
        id_hash: &[u8],
        ticket_hash: &[u8],
        expires_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let now = now_ms();
        sqlx::query("DELETE FROM sso_sessions WHERE expires_ms <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sso_sessions (id_hash, account_id, ticket_hash, created_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash.to_vec())
        .bind(account)
        .bind(ticket_hash.to_vec())
        .bind(now)
        .bind(expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sso_session(&self, id_hash: &[u8]) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT a.username FROM sso_sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.id_hash = $1 AND s.expires_ms > $2",
        )
        .bind(id_hash.to_vec())
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?)
    }

    async fn sso_token_issue(
        &self,
        session: &[u8],
        token_hash: &[u8],
        expires_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let Some(end) = sqlx::query_scalar::<_, i64>(
            "SELECT expires_ms FROM sso_sessions WHERE id_hash = $1 AND expires_ms > $2",
        )
        .bind(session.to_vec())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM sso_login_tokens WHERE session = $1 AND expires_ms <= $2")
            .bind(session.to_vec())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sso_login_tokens (token_hash, session, expires_ms) VALUES ($1, $2, $3)",
        )
        .bind(token_hash.to_vec())
        .bind(session.to_vec())
        .bind(expires_ms.min(end))
        .execute(&mut *tx)
        .await?;
        // A browser needs one token at a time; a few in flight at most (a page asking in a
        // loop does not fill the table).
        sqlx::query(
            "DELETE FROM sso_login_tokens WHERE session = $1 AND token_hash NOT IN \
             (SELECT token_hash FROM sso_login_tokens WHERE session = $1 \
              ORDER BY expires_ms DESC, token_hash DESC LIMIT $2)",
        )
        .bind(session.to_vec())
        .bind(TOKENS_PER_SESSION)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn sso_token_take(&self, token_hash: &[u8]) -> Result<Option<SsoLogin>> {
        let mut tx = self.begin_write().await?;
        let lookup = match self.backend() {
            Backend::Sqlite => {
                "SELECT t.expires_ms AS token_end, s.expires_ms AS session_end, s.id_hash, \
                 a.username FROM sso_login_tokens t \
                 JOIN sso_sessions s ON s.id_hash = t.session \
                 JOIN accounts a ON a.id = s.account_id WHERE t.token_hash = $1"
            }
            Backend::Postgres => {
                "SELECT t.expires_ms AS token_end, s.expires_ms AS session_end, s.id_hash, \
                 a.username FROM sso_login_tokens t \
                 JOIN sso_sessions s ON s.id_hash = t.session \
                 JOIN accounts a ON a.id = s.account_id WHERE t.token_hash = $1 FOR UPDATE OF t"
            }
        };
        let row = sqlx::query(lookup)
            .bind(token_hash.to_vec())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        // Whatever it is worth, a token presented is spent.
        let gone = sqlx::query("DELETE FROM sso_login_tokens WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        let now = now_ms();
        let token_end: i64 = row.try_get("token_end")?;
        let session_end: i64 = row.try_get("session_end")?;
        if gone == 0 || token_end <= now || session_end <= now {
            return Ok(None);
        }
        Ok(Some(SsoLogin {
            user: row.try_get("username")?,
            session: row.try_get("id_hash")?,
        }))
    }

    async fn sso_close(&self, id_hash: &[u8]) -> Result<Option<String>> {
        let mut tx = self.begin_write().await?;
        let user = sqlx::query_scalar::<_, String>(
            "SELECT a.username FROM sso_sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.id_hash = $1",
        )
        .bind(id_hash.to_vec())
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sso_sessions WHERE id_hash = $1")
            .bind(id_hash.to_vec())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn sso_close_ticket(&self, ticket_hash: &[u8]) -> Result<Vec<SsoLogin>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT s.id_hash, a.username FROM sso_sessions s \
             JOIN accounts a ON a.id = s.account_id WHERE s.ticket_hash = $1",
        )
        .bind(ticket_hash.to_vec())
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sso_sessions WHERE ticket_hash = $1")
            .bind(ticket_hash.to_vec())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(SsoLogin {
                    user: r.try_get("username")?,
                    session: r.try_get("id_hash")?,
                })
            })
            .collect()
    }
}
