//! What the school keeps about a person and for how long, and who may read it (issue 16,
//! « Accès aux archives », « Durées de conservation »): lawful archive access grants
//! (table `archive_grants`), the purges per data class that the other areas do not do
//! themselves (closed reports, the audit log, the accounts of users who left the
//! directory), each structure's choice for its pupils' photos (table `structure_profile`),
//! and the rows of a person's data that no other trait lists (private XML, shared files)
//! for his access export.
//!
//! Every grant is written with its audit row in one transaction
//! ([`PrivacyStore::grant_archive_access`], action `archive.grant`); so is a departed
//! user's purge (`account.purged`) and a structure's photo choice
//! (`structure.pupil_photos`). Purges delete rows for real, in chunks, and on SQLite
//! overwrite them in the file (`secure_delete`).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{NewAudit, insert_audit};
use crate::directory::rows::structure_exists;
use crate::{Backend, Result, Store, StoreError, get_flag, now_ms};

/// Rows deleted per statement of a purge.
const PURGE_CHUNK: i64 = 5000;

/// A right to read one person's archives, for a bounded time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveGrant {
    pub id: i64,
    pub structure: String,
    /// Who may read (a login).
    pub grantee: String,
    /// Whose archives (a login).
    pub target: String,
    /// Why, as typed.
    pub reason: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// A grant to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArchiveGrant {
    pub structure: String,
    pub grantee: String,
    pub target: String,
    pub reason: String,
    pub expires_ms: i64,
}

/// A private XML entry (XEP-0049) of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRow {
    pub name: String,
    pub namespace: String,
    pub xml: String,
}

/// A shared file (XEP-0363) an account uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: String,
    pub filename: String,
    pub size: i64,
    pub content_type: String,
    pub created_ms: i64,
}

#[async_trait::async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Writes a grant and its audit row (`archive.grant`, actor the grantee, target the
    /// person, the reason and the end in `after`) in one transaction; returns it.
    async fn grant_archive_access(&self, grant: &NewArchiveGrant) -> Result<ArchiveGrant>;
    /// One grant, if it exists.
    async fn archive_grant(&self, id: i64) -> Result<Option<ArchiveGrant>>;
    /// A structure's grants, newest first (`limit` at most).
    async fn archive_grants(&self, structure: &str, limit: i64) -> Result<Vec<ArchiveGrant>>;
    /// Deletes closed reports (with their copied messages and notes) whose last change is
    /// older than `before_ms`, and grants ended before it; returns how many reports.
    async fn purge_closed_reports(&self, before_ms: i64) -> Result<u64>;
    /// Deletes the audit log's rows older than `before_ms`; returns how many.
    async fn purge_audit(&self, before_ms: i64) -> Result<u64>;
    /// Logins of the directory users who left the directory before `before_ms`.
    async fn departed_before(&self, before_ms: i64) -> Result<Vec<String>>;
    /// Deletes the account of `login`, a directory user who left the directory before
    /// `before_ms` (checked again in the transaction), with everything that goes with it
    /// (archive, offline messages, PEP, vCard, roster, private XML, memberships…), and
    /// writes the audit row `account.purged` (actor `actor`); false when he is back or
    /// gone already.
    async fn purge_departed(&self, login: &str, before_ms: i64, actor: &str) -> Result<bool>;
    /// Every structure's own choice for its pupils' photos (None: the default, off).
    async fn pupil_photos(&self, structure: &str) -> Result<Option<bool>>;
    /// Sets (None: back to the default) a structure's choice for its pupils' photos, with
    /// its audit row (`structure.pupil_photos`); returns the one before. Err(NotFound)
    /// for an unknown structure.
    async fn set_pupil_photos_audited(
        &self,
        structure: &str,
        allowed: Option<bool>,
        actor: &str,
    ) -> Result<Option<bool>>;
    /// The private XML entries of an account (his access export).
    async fn private_entries(&self, user: &str) -> Result<Vec<PrivateRow>>;
    /// The shared files an account uploaded (his access export), oldest first.
    async fn uploads_of(&self, user: &str) -> Result<Vec<UploadRow>>;
}

fn read_grant(r: &AnyRow) -> Result<ArchiveGrant> {
    Ok(ArchiveGrant {
        id: r.try_get("id")?,
        structure: r.try_get("structure_id")?,
        grantee: r.try_get("grantee")?,
        target: r.try_get("target")?,
        reason: r.try_get("reason")?,
        created_ms: r.try_get("created_ms")?,
        expires_ms: r.try_get("expires_ms")?,
    })
}

const GRANT_COLUMNS: &str =
    "id, structure_id, grantee, target, reason, created_ms, expires_ms FROM archive_grants";

/// On SQLite, deleted content is overwritten in the file (`PRAGMA secure_delete`, for this
/// connection; it stays on for it, as moderation's does): a copy of the file does not hold
/// what was purged once the write-ahead log is checkpointed. Best effort: the rows are
/// gone from every query either way.
pub(crate) async fn secure_delete(conn: &mut sqlx::AnyConnection, backend: Backend) {
    if backend == Backend::Sqlite
        && let Err(e) = sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut *conn)
            .await
    {
        tracing::warn!(error = %e, "cannot turn secure_delete on");
    }
}

/// Runs `sql` (a DELETE whose last parameter `$n` is the chunk size) until a chunk
/// deletes fewer rows than the chunk; returns the total.
pub(crate) async fn delete_in_chunks(
    store: &Store,
    sql: &'static str,
    before_ms: i64,
) -> Result<u64> {
    let mut conn = store.pool().acquire().await?;
    secure_delete(&mut conn, store.backend()).await;
    let mut total = 0;
    loop {
        let done = sqlx::query(sql)
            .bind(before_ms)
            .bind(PURGE_CHUNK)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        total += done;
        if done < u64::try_from(PURGE_CHUNK).unwrap_or(u64::MAX) {
            return Ok(total);
        }
    }
}

#[async_trait::async_trait]
impl PrivacyStore for Store {
    async fn grant_archive_access(&self, g: &NewArchiveGrant) -> Result<ArchiveGrant> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO archive_grants \
                 (structure_id, grantee, target, reason, created_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(g.structure.clone())
        .bind(g.grantee.clone())
        .bind(g.target.clone())
        .bind(g.reason.clone())
        .bind(now)
        .bind(g.expires_ms)
        .fetch_one(&mut *tx)
        .await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: g.grantee.clone(),
                action: "archive.grant".into(),
                structure: Some(g.structure.clone()),
                target: Some(g.target.clone()),
                before: None,
                after: Some(serde_json::json!({
                    "grant": id,
                    "reason": g.reason,
                    "expires_ms": g.expires_ms,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ArchiveGrant {
            id,
            structure: g.structure.clone(),
            grantee: g.grantee.clone(),
            target: g.target.clone(),
            reason: g.reason.clone(),
            created_ms: now,
            expires_ms: g.expires_ms,
        })
    }

    async fn archive_grant(&self, id: i64) -> Result<Option<ArchiveGrant>> {
        let sql = format!("SELECT {GRANT_COLUMNS} WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(read_grant)
            .transpose()
    }

    async fn archive_grants(&self, structure: &str, limit: i64) -> Result<Vec<ArchiveGrant>> {
        let sql =
            format!("SELECT {GRANT_COLUMNS} WHERE structure_id = $1 ORDER BY id DESC LIMIT $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(structure.to_owned())
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(read_grant)
            .collect()
    }

    async fn purge_closed_reports(&self, before_ms: i64) -> Result<u64> {
        // The copied messages and the notes go with their report (ON DELETE CASCADE).
        let n = delete_in_chunks(
            self,
            "DELETE FROM reports WHERE id IN (SELECT id FROM reports \
             WHERE status = 'closed' AND updated_ms < $1 LIMIT $2)",
            before_ms,
        )
        .await?;
        delete_in_chunks(
            self,
            "DELETE FROM archive_grants WHERE id IN (SELECT id FROM archive_grants \
             WHERE expires_ms < $1 LIMIT $2)",
            before_ms,
        )
        .await?;
        Ok(n)
    }

    async fn purge_audit(&self, before_ms: i64) -> Result<u64> {
        delete_in_chunks(
            self,
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log \
             WHERE at_ms < $1 LIMIT $2)",
            before_ms,
        )
        .await
    }

    async fn departed_before(&self, before_ms: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT a.username FROM directory_users d JOIN accounts a ON a.id = d.account_id \
             WHERE d.left_ms IS NOT NULL AND d.left_ms < $1 ORDER BY a.username",
        )
        .bind(before_ms)
        .fetch_all(self.pool())
        .await?)
    }

    async fn purge_departed(&self, login: &str, before_ms: i64, actor: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        secure_delete(&mut tx, self.backend()).await;
        let row = sqlx::query(
            "SELECT a.id, d.left_ms FROM directory_users d JOIN accounts a ON a.id = d.account_id \
             WHERE a.username = $1 AND d.left_ms IS NOT NULL AND d.left_ms < $2",
        )
        .bind(login.to_owned())
        .bind(before_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let account: i64 = row.try_get("id")?;
        let left_ms: i64 = row.try_get("left_ms")?;
        // A directory user's rows go with the account: a directory change.
        crate::directory::generation::bump_generation(&mut tx).await?;
        sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "account.purged".into(),
                structure: None,
                target: Some(login.into()),
                before: Some(serde_json::json!({ "left_ms": left_ms })),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn pupil_photos(&self, structure: &str) -> Result<Option<bool>> {
        let row = sqlx::query("SELECT pupil_photos FROM structure_profile WHERE structure_id = $1")
            .bind(structure.to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| get_flag(&r, "pupil_photos", self.backend()))
            .transpose()
    }

    async fn set_pupil_photos_audited(
        &self,
        structure: &str,
        allowed: Option<bool>,
        actor: &str,
    ) -> Result<Option<bool>> {
        let mut tx = self.begin_write().await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before =
            sqlx::query("SELECT pupil_photos FROM structure_profile WHERE structure_id = $1")
                .bind(structure.to_owned())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| get_flag(&r, "pupil_photos", self.backend()))
                .transpose()?;
        match allowed {
            None => {
                sqlx::query("DELETE FROM structure_profile WHERE structure_id = $1")
                    .bind(structure.to_owned())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(on) => {
                sqlx::query(
                    "INSERT INTO structure_profile (structure_id, pupil_photos) VALUES ($1, $2) \
                     ON CONFLICT (structure_id) DO UPDATE SET pupil_photos = excluded.pupil_photos",
                )
                .bind(structure.to_owned())
                .bind(on)
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "structure.pupil_photos".into(),
                structure: Some(structure.into()),
                target: Some(structure.into()),
                before: Some(serde_json::json!(before)),
                after: Some(serde_json::json!(allowed)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn private_entries(&self, user: &str) -> Result<Vec<PrivateRow>> {
        let rows = sqlx::query(
            "SELECT p.name, p.namespace, p.xml FROM private_xml p \
             JOIN accounts a ON a.id = p.account_id WHERE a.username = $1 \
             ORDER BY p.namespace, p.name",
        )
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PrivateRow {
                    name: r.try_get("name")?,
                    namespace: r.try_get("namespace")?,
                    xml: r.try_get("xml")?,
                })
            })
            .collect()
    }

    async fn uploads_of(&self, user: &str) -> Result<Vec<UploadRow>> {
        let rows = sqlx::query(
            "SELECT u.id, u.filename, u.size, u.content_type, u.created_ms FROM uploads u \
             JOIN accounts a ON a.id = u.owner_id WHERE a.username = $1 AND u.state = 2 \
             ORDER BY u.created_ms, u.id",
        )
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UploadRow {
                    id: r.try_get("id")?,
                    filename: r.try_get("filename")?,
                    size: r.try_get("size")?,
                    content_type: r.try_get("content_type")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect()
    }
}
