//! Messages stored for offline users (table `offline_messages`): bounded storage per user,
//! retrieval in arrival order and deletion once delivered.

use sqlx::Row;

use crate::reader::Columns;
use crate::{Backend, Result, Store, StoreError};

/// One stored message: `id` grows with arrival order and is never reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineMessage {
    pub id: i64,
    pub stanza: String,
    pub stamp_ms: i64,
}

/// What waited for a user while offline, read at each initial presence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Subscription requests from contacts (contact's bare JID, the stanza), oldest first.
    pub pending_in: Vec<(String, String)>,
    /// Messages, oldest first.
    pub messages: Vec<OfflineMessage>,
}

#[async_trait::async_trait]
pub trait OfflineStore: Send + Sync {
    /// Stores a message for an offline user. Returns Ok(false) without storing when the user already
    /// has `max_per_user` or more stored messages (the caller then bounces it).
    /// Err(NotFound) when `user` has no account.
    async fn store_offline(
        &self,
        user: &str,
        stanza: &str,
        stamp_ms: i64,
        max_per_user: i64,
    ) -> Result<bool>;
    /// 0 when `user` has no account.
    async fn offline_count(&self, user: &str) -> Result<i64>;
    /// Oldest first.
    async fn offline_messages(&self, user: &str) -> Result<Vec<OfflineMessage>>;
    /// The subscription requests waiting for `user` (as `RosterStore::pending_in`) and his
    /// offline messages (as [`OfflineStore::offline_messages`]) in one query: both are read
    /// at every login, where each query costs two thread hand-offs with SQLite.
    async fn waiting(&self, user: &str) -> Result<Waiting>;
    /// Deletes the user's messages with id <= up_to_id (after they were delivered).
    /// Returns how many were deleted.
    async fn delete_offline(&self, user: &str, up_to_id: i64) -> Result<u64>;
}

#[async_trait::async_trait]
impl OfflineStore for Store {
    async fn store_offline(
        &self,
        user: &str,
        stanza: &str,
        stamp_ms: i64,
        max_per_user: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // Lock the account row on PostgreSQL so that concurrent stores for the same user
        // count one after the other; SQLite's BEGIN IMMEDIATE already serialises writers.
        let lookup = match self.backend() {
            Backend::Sqlite => "SELECT id FROM accounts WHERE username = $1",
            Backend::Postgres => "SELECT id FROM accounts WHERE username = $1 FOR UPDATE",
        };
        let account: i64 = sqlx::query_scalar(lookup)
            .bind(user.to_owned())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let done = sqlx::query(
            "INSERT INTO offline_messages (account_id, stanza, stamp_ms) \
             SELECT $1, $2, $3 \
             WHERE (SELECT COUNT(*) FROM offline_messages WHERE account_id = $1) < $4",
        )
        .bind(account)
        .bind(stanza.to_owned())
        .bind(stamp_ms)
        .bind(max_per_user)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn offline_count(&self, user: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM offline_messages o JOIN accounts a ON a.id = o.account_id \
             WHERE a.username = $1",
        )
        .bind(user.to_owned())
        .fetch_one(self.pool())
        .await?)
    }

    async fn offline_messages(&self, user: &str) -> Result<Vec<OfflineMessage>> {
        let rows = sqlx::query(
            "SELECT o.id, o.stanza, o.stamp_ms FROM offline_messages o \
             JOIN accounts a ON a.id = o.account_id \
             WHERE a.username = $1 ORDER BY o.id",
        )
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OfflineMessage {
                    id: row.try_get("id")?,
                    stanza: row.try_get("stanza")?,
                    stamp_ms: row.try_get("stamp_ms")?,
                })
            })
            .collect()
    }

    async fn waiting(&self, user: &str) -> Result<Waiting> {
        const SQL: &str = "SELECT CAST(0 AS BIGINT) AS kind, p.id AS id, p.contact AS contact, \
                    p.stanza AS stanza, CAST(0 AS BIGINT) AS stamp_ms \
             FROM pending_in p JOIN accounts a ON a.id = p.account_id WHERE a.username = $1 \
             UNION ALL \
             SELECT CAST(1 AS BIGINT), o.id, '', o.stanza, o.stamp_ms \
             FROM offline_messages o JOIN accounts a ON a.id = o.account_id \
             WHERE a.username = $1 \
             ORDER BY kind, id";
        // On a SQLite file, read on this thread (reader.rs).
        let rows = self
            .rows_by("waiting", SQL, user, |row| waiting_row(row))
            .await?;
        Ok(waiting_from(rows))
    }

    async fn delete_offline(&self, user: &str, up_to_id: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM offline_messages WHERE id <= $2 \
             AND account_id = (SELECT id FROM accounts WHERE username = $1)",
        )
        .bind(user.to_owned())
        .bind(up_to_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

/// One row of [`OfflineStore::waiting`]'s query: a request (contact, stanza) or a message.
enum WaitingRow {
    Request(String, String),
    Message(OfflineMessage),
}

fn waiting_row(row: &(impl Columns + ?Sized)) -> Result<WaitingRow> {
    Ok(if row.int("kind")? == 0 {
        WaitingRow::Request(row.text("contact")?, row.text("stanza")?)
    } else {
        WaitingRow::Message(OfflineMessage {
            id: row.int("id")?,
            stanza: row.text("stanza")?,
            stamp_ms: row.int("stamp_ms")?,
        })
    })
}

fn waiting_from(rows: Vec<WaitingRow>) -> Waiting {
    let mut waiting = Waiting::default();
    for row in rows {
        match row {
            WaitingRow::Request(contact, stanza) => waiting.pending_in.push((contact, stanza)),
            WaitingRow::Message(m) => waiting.messages.push(m),
        }
    }
    waiting
}
