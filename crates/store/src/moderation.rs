//! Moderation of archived messages (XEP-0425 on rooms, and the staff's deletion of
//! one-to-one messages): a message's row in the rooms' archive (`room_archive`) or in
//! both accounts' archives (`account_archive`) keeps its place but its stanza is replaced
//! by a tombstone the server composes (no body, who moderated and when), with the audit
//! row in the same transaction. A one-to-one message still waiting in an offline store
//! (`offline_messages`) is deleted with it, so that it is never delivered afterwards.
//!
//! On SQLite the transaction turns `secure_delete` on for its connection (it stays on for
//! that pooled connection), so that the replaced text is overwritten in the database's
//! pages, not left in their free space. The write-ahead log may still hold the page as it
//! was until SQLite's next checkpoint copies it back and the log is reused: no query sees
//! it, but the raw `-wal` file may, for a while.

use sqlx::Row;

use crate::audit::{NewAudit, insert_audit};
use crate::{Backend, Result, Store, StoreError};

/// One archived message found by its stanza-id, where it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// The row's owner: the room's name (rooms' archive) or the account's login.
    pub owner: String,
    /// The sender's login (rooms' archive) or, in an account's archive, the other party's
    /// bare JID.
    pub with: String,
    /// The owner sent it (accounts' archive; false in a room's).
    pub outgoing: bool,
    /// The message as kept (XML).
    pub stanza: String,
    pub stamp_ms: i64,
}

#[async_trait::async_trait]
pub trait ModerationStore: Send + Sync {
    /// The message `stanza_id` of room `room` (by name) in the rooms' archive.
    async fn room_archived(&self, room: &str, stanza_id: &str) -> Result<Option<Archived>>;
    /// Replaces the stanza of message `stanza_id` of room `room` by `tombstone`, with the
    /// audit row, in one transaction. Err(NotFound) when there is no such message.
    async fn retract_room_message_audited(
        &self,
        room: &str,
        stanza_id: &str,
        tombstone: &str,
        audit: &NewAudit,
    ) -> Result<()>;
    /// The rows of message `stanza_id` in the archives of `owners` (logins), sorted by
    /// owner.
    async fn account_archived(&self, owners: &[String], stanza_id: &str) -> Result<Vec<Archived>>;
    /// Replaces the stanza of message `stanza_id` in each owner's archive by his
    /// tombstone (`(owner, tombstone)`), deletes the offline copies of it waiting for
    /// these owners, and writes the audit row, in one transaction. Returns how many
    /// archive rows were replaced and offline copies deleted; Err(NotFound) when no
    /// owner's archive holds it.
    async fn retract_account_message_audited(
        &self,
        stanza_id: &str,
        tombstones: &[(String, String)],
        audit: &NewAudit,
    ) -> Result<(u64, u64)>;
}

fn read(row: &sqlx::any::AnyRow, owner: &str, with: &str, outgoing: bool) -> Result<Archived> {
    Ok(Archived {
        owner: row.try_get(owner)?,
        with: row.try_get(with)?,
        outgoing,
        stanza: row.try_get("stanza")?,
        stamp_ms: row.try_get("stamp_ms")?,
    })
}

/// Whether `stanza_id` is a stanza-id the server makes (a UUID: hex digits and dashes),
/// so that it can be looked for in an offline stanza's text without any LIKE wildcard.
fn plain_id(stanza_id: &str) -> bool {
    !stanza_id.is_empty()
        && stanza_id.len() <= 64
        && stanza_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

async fn secure_delete(tx: &mut sqlx::Transaction<'static, sqlx::Any>, backend: Backend) {
    if backend == Backend::Sqlite {
        // Best effort: without it the text is still gone from every query.
        if let Err(e) = sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut **tx)
            .await
        {
            tracing::warn!(error = %e, "cannot turn secure_delete on");
        }
    }
}

#[async_trait::async_trait]
impl ModerationStore for Store {
    async fn room_archived(&self, room: &str, stanza_id: &str) -> Result<Option<Archived>> {
        let row = sqlx::query(
            "SELECT room, sender, stanza, stamp_ms FROM room_archive \
             WHERE room = $1 AND stanza_id = $2",
        )
        .bind(room.to_owned())
        .bind(stanza_id.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| read(&r, "room", "sender", false)).transpose()
    }

    async fn retract_room_message_audited(
        &self,
        room: &str,
        stanza_id: &str,
        tombstone: &str,
        audit: &NewAudit,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        secure_delete(&mut tx, self.backend()).await;
        let done =
            sqlx::query("UPDATE room_archive SET stanza = $1 WHERE room = $2 AND stanza_id = $3")
                .bind(tombstone.to_owned())
                .bind(room.to_owned())
                .bind(stanza_id.to_owned())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_archived(&self, owners: &[String], stanza_id: &str) -> Result<Vec<Archived>> {
        let mut out = Vec::new();
        for owner in owners {
            for m in crate::account_archive::copies(self, owner, stanza_id).await? {
                out.push(Archived {
                    owner: owner.clone(),
                    with: m.with,
                    outgoing: m.outgoing,
                    stanza: m.stanza,
                    stamp_ms: m.stamp_ms,
                });
            }
        }
        out.sort_by(|a, b| a.owner.cmp(&b.owner));
        out.dedup_by(|a, b| a.owner == b.owner);
        Ok(out)
    }

    async fn retract_account_message_audited(
        &self,
        stanza_id: &str,
        tombstones: &[(String, String)],
        audit: &NewAudit,
    ) -> Result<(u64, u64)> {
        let mut tx = self.begin_write().await?;
        secure_delete(&mut tx, self.backend()).await;
        let (mut replaced, mut offline) = (0, 0);
        for (owner, tombstone) in tombstones {
            replaced +=
                crate::account_archive::replace_stanza(&mut tx, self, owner, stanza_id, tombstone)
                    .await?;
            if plain_id(stanza_id) {
                offline += sqlx::query(
                    "DELETE FROM offline_messages \
                     WHERE account_id = (SELECT id FROM accounts WHERE username = $1) \
                     AND stanza LIKE $2",
                )
                .bind(owner.clone())
                .bind(format!("%{stanza_id}%"))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        }
        if replaced == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok((replaced, offline))
    }
}

#[cfg(test)]
mod tests {
    use super::plain_id;

    #[test]
    fn only_uuids_are_looked_for_in_offline_stanzas() {
        assert!(plain_id("0190f5a2-7c1e-7d3a-9b2e-5f1c2d3e4f50"));
        assert!(!plain_id(""));
        assert!(!plain_id("%"));
        assert!(!plain_id("a_b"));
        assert!(!plain_id(&"a".repeat(65)));
    }
}
