//! Shared files (XEP-0363 HTTP File Upload; table `uploads`) and each structure's file
//! sharing settings (table `structure_upload`).
//!
//! A file's row goes through three states: a slot the server granted
//! ([`UploadStore::create_upload_slot`], which also holds the account's rate and quota in
//! the same transaction), claimed by the one PUT that may fill it
//! ([`UploadStore::claim_upload`]: single use, before its deadline), then stored
//! ([`UploadStore::finish_upload`]) and served. The files themselves are on disk, named by
//! the row's id; the store only says which ids the purge deleted
//! ([`UploadStore::purge_uploads`]: past the retention of any of the owner's structures,
//! like the accounts' archive; slots never filled; files of deleted accounts), and the
//! caller deletes those files.
//!
//! A structure's settings are changed with their audit row in one transaction
//! ([`UploadStore::set_upload_settings_audited`], action `structure.upload`); they do not
//! move the directory generation.

use causerie_ent::UploadSettings;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{NewAudit, insert_audit};
use crate::directory::rows::structure_exists;
use crate::{Backend, Result, Store, StoreError, get_flag};

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Granted, not yet sent.
    Slot,
    /// Its PUT is being received.
    Receiving,
    /// Stored, served at its GET URL.
    Stored,
}

impl UploadState {
    fn code(self) -> i64 {
        match self {
            UploadState::Slot => 0,
            UploadState::Receiving => 1,
            UploadState::Stored => 2,
        }
    }

    fn of(code: i64) -> Result<UploadState> {
        Ok(match code {
            0 => UploadState::Slot,
            1 => UploadState::Receiving,
            2 => UploadState::Stored,
            other => return Err(StoreError::Corrupt(format!("upload state {other}"))),
        })
    }
}

/// A slot to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// 128 random bits in hex (the caller draws them).
    pub id: String,
    /// The owner's account localpart.
    pub owner: String,
    pub filename: String,
    pub size: i64,
    pub content_type: String,
    pub created_ms: i64,
    /// The PUT's deadline.
    pub expires_ms: i64,
}

/// A file as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    /// The owner's localpart; None once his account was deleted.
    pub owner: Option<String>,
    pub filename: String,
    pub size: i64,
    pub content_type: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub state: UploadState,
}

/// What a request for a slot got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotOutcome {
    Created,
    /// The account asked for `per_hour` slots in the last hour already.
    RateLimited,
    /// The account's files (and slots) would be more than its quota.
    OverQuota,
}

#[async_trait::async_trait]
pub trait UploadStore: Send + Sync {
    /// Creates a slot, unless its owner already asked for `per_hour` slots in the hour
    /// before `created_ms`, or his files and open slots with this one would be more than
    /// `quota_bytes`; both counted in the same transaction. Err(NotFound) when the owner
    /// has no account.
    async fn create_upload_slot(
        &self,
        upload: &NewUpload,
        per_hour: i64,
        quota_bytes: i64,
    ) -> Result<SlotOutcome>;
    /// The file `id`, whatever its state.
    async fn upload(&self, id: &str) -> Result<Option<Upload>>;
    /// Claims slot `id` for its one PUT, if it is still a slot and `now_ms` is not past
    /// its deadline; returns it (None: unknown, used, or expired).
    async fn claim_upload(&self, id: &str, now_ms: i64) -> Result<Option<Upload>>;
    /// After the PUT of a claimed slot: stored (its GET serves it), or, when the transfer
    /// failed, the row deleted (the slot is not reusable).
    async fn finish_upload(&self, id: &str, stored: bool) -> Result<()>;
    /// Deletes the rows of files past their retention: older than `default_cutoff_ms`
    /// for owners in no structure or in a structure without its own retention, older
    /// than a structure's cutoff (`overrides`) for its users; slots not filled by
    /// `stale_before_ms` (their deadline before it); files whose owner was deleted.
    /// Returns the ids deleted (their files are the caller's to delete).
    async fn purge_uploads(
        &self,
        default_cutoff_ms: i64,
        overrides: &[(String, i64)],
        stale_before_ms: i64,
    ) -> Result<Vec<String>>;
    /// A structure's own settings (None: the default).
    async fn upload_settings(&self, structure: &str) -> Result<Option<UploadSettings>>;
    /// Every structure's own settings, sorted by structure.
    async fn all_upload_settings(&self) -> Result<Vec<(String, UploadSettings)>>;
    /// Sets (or, with None, resets to the default) a structure's settings, with its audit
    /// row (action `structure.upload`), in one transaction; returns the ones before.
    /// Err(NotFound) when the structure does not exist.
    async fn set_upload_settings_audited(
        &self,
        structure: &str,
        settings: Option<&UploadSettings>,
        actor: &str,
    ) -> Result<Option<UploadSettings>>;
}

const UPLOAD_COLUMNS: &str = "u.id, a.username AS owner, u.filename, u.size, u.content_type, \
     u.created_ms, u.expires_ms, u.state";

fn read_upload(row: &AnyRow) -> Result<Upload> {
    Ok(Upload {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        filename: row.try_get("filename")?,
        size: row.try_get("size")?,
        content_type: row.try_get("content_type")?,
        created_ms: row.try_get("created_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        state: UploadState::of(row.try_get("state")?)?,
    })
}

fn read_settings(row: &AnyRow, backend: Backend) -> Result<UploadSettings> {
    let max: i64 = row.try_get("max_bytes")?;
    let types: String = row.try_get("types")?;
    Ok(UploadSettings {
        enabled: get_flag(row, "enabled", backend)?,
        max_bytes: u64::try_from(max)
            .map_err(|_| StoreError::Corrupt(format!("upload max_bytes {max}")))?,
        types: types.split_whitespace().map(str::to_string).collect(),
    })
}

fn settings_json(s: Option<&UploadSettings>) -> serde_json::Value {
    s.and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Deletes the rows `cond` (with `binds` after `$1`, `cutoff`) selects; returns their
    /// ids.
    async fn delete_uploads_where(
        &self,
        cutoff: i64,
        cond: &str,
        binds: &[String],
    ) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let select = format!("SELECT id FROM uploads WHERE {cond}");
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(select)).bind(cutoff);
        for b in binds {
            q = q.bind(b.clone());
        }
        let ids = q.fetch_all(&mut *tx).await?;
        for chunk in ids.chunks(500) {
            let sql = format!(
                "DELETE FROM uploads WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut d = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                d = d.bind(id.clone());
            }
            d.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }
}

#[async_trait::async_trait]
impl UploadStore for Store {
    async fn create_upload_slot(
        &self,
        upload: &NewUpload,
        per_hour: i64,
        quota_bytes: i64,
    ) -> Result<SlotOutcome> {
        let mut tx = self.begin_write().await?;
        // Lock the account row on PostgreSQL so that one account's concurrent requests
        // count one after the other; SQLite's BEGIN IMMEDIATE serialises writers already.
        let lookup = match self.backend() {
            Backend::Sqlite => "SELECT id FROM accounts WHERE username = $1",
            Backend::Postgres => "SELECT id FROM accounts WHERE username = $1 FOR UPDATE",
        };
        let account: i64 = sqlx::query_scalar(lookup)
            .bind(upload.owner.clone())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM uploads WHERE owner_id = $1 AND created_ms > $2",
        )
        .bind(account)
        .bind(upload.created_ms - 3_600_000)
        .fetch_one(&mut *tx)
        .await?;
        if recent >= per_hour {
            return Ok(SlotOutcome::RateLimited);
        }
        let used: Option<i64> =
            sqlx::query_scalar("SELECT CAST(SUM(size) AS BIGINT) FROM uploads WHERE owner_id = $1")
                .bind(account)
                .fetch_one(&mut *tx)
                .await?;
        if used.unwrap_or(0).saturating_add(upload.size) > quota_bytes {
            return Ok(SlotOutcome::OverQuota);
        }
        sqlx::query(
            "INSERT INTO uploads (id, owner_id, filename, size, content_type, created_ms, \
             expires_ms, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        )
        .bind(upload.id.clone())
        .bind(account)
        .bind(upload.filename.clone())
        .bind(upload.size)
        .bind(upload.content_type.clone())
        .bind(upload.created_ms)
        .bind(upload.expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SlotOutcome::Created)
    }

    async fn upload(&self, id: &str) -> Result<Option<Upload>> {
        let sql = format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads u LEFT JOIN accounts a ON a.id = u.owner_id \
             WHERE u.id = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(read_upload).transpose()
    }

    async fn claim_upload(&self, id: &str, now_ms: i64) -> Result<Option<Upload>> {
        let claimed = sqlx::query(
            "UPDATE uploads SET state = $1 WHERE id = $2 AND state = $3 AND expires_ms >= $4",
        )
        .bind(UploadState::Receiving.code())
        .bind(id.to_owned())
        .bind(UploadState::Slot.code())
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        self.upload(id).await
    }

    async fn finish_upload(&self, id: &str, stored: bool) -> Result<()> {
        if stored {
            sqlx::query("UPDATE uploads SET state = $1 WHERE id = $2 AND state = $3")
                .bind(UploadState::Stored.code())
                .bind(id.to_owned())
                .bind(UploadState::Receiving.code())
                .execute(self.pool())
                .await?;
        } else {
            sqlx::query("DELETE FROM uploads WHERE id = $1 AND state = $2")
                .bind(id.to_owned())
                .bind(UploadState::Receiving.code())
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    async fn purge_uploads(
        &self,
        default_cutoff_ms: i64,
        overrides: &[(String, i64)],
        stale_before_ms: i64,
    ) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        // Files of deleted accounts, whatever their age.
        ids.extend(
            self.delete_uploads_where(i64::MAX, "owner_id IS NULL AND created_ms < $1", &[])
                .await?,
        );
        // Slots never filled (or whose transfer died) past their deadline.
        ids.extend(
            self.delete_uploads_where(stale_before_ms, "state <> 2 AND expires_ms < $1", &[])
                .await?,
        );
        // The default retention: owners in no structure, or in one without its own.
        let structures: Vec<String> = overrides.iter().map(|(s, _)| s.clone()).collect();
        let default_owners = if structures.is_empty() {
            "created_ms < $1".to_string()
        } else {
            format!(
                "created_ms < $1 AND (owner_id NOT IN (SELECT account_id FROM user_structures) \
                 OR owner_id IN (SELECT account_id FROM user_structures \
                                 WHERE structure_id NOT IN ({})))",
                placeholders(2, structures.len())
            )
        };
        ids.extend(
            self.delete_uploads_where(default_cutoff_ms, &default_owners, &structures)
                .await?,
        );
        // Each structure's own, one pass per distinct cutoff.
        let mut cutoffs: Vec<i64> = overrides.iter().map(|(_, c)| *c).collect();
        cutoffs.sort_unstable();
        cutoffs.dedup();
        for cutoff in cutoffs {
            let these: Vec<String> = overrides
                .iter()
                .filter(|(_, c)| *c == cutoff)
                .map(|(s, _)| s.clone())
                .collect();
            let cond = format!(
                "created_ms < $1 AND owner_id IN (SELECT account_id FROM user_structures \
                 WHERE structure_id IN ({}))",
                placeholders(2, these.len())
            );
            ids.extend(self.delete_uploads_where(cutoff, &cond, &these).await?);
        }
        Ok(ids)
    }

    async fn upload_settings(&self, structure: &str) -> Result<Option<UploadSettings>> {
        let row = sqlx::query(
            "SELECT enabled, max_bytes, types FROM structure_upload WHERE structure_id = $1",
        )
        .bind(structure.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| read_settings(&r, self.backend())).transpose()
    }

    async fn all_upload_settings(&self) -> Result<Vec<(String, UploadSettings)>> {
        let rows = sqlx::query(
            "SELECT structure_id, enabled, max_bytes, types FROM structure_upload \
             ORDER BY structure_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("structure_id")?,
                    read_settings(r, self.backend())?,
                ))
            })
            .collect()
    }

    async fn set_upload_settings_audited(
        &self,
        structure: &str,
        settings: Option<&UploadSettings>,
        actor: &str,
    ) -> Result<Option<UploadSettings>> {
        let mut tx = self.begin_write().await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before = sqlx::query(
            "SELECT enabled, max_bytes, types FROM structure_upload WHERE structure_id = $1",
        )
        .bind(structure.to_owned())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| read_settings(&r, self.backend()))
        .transpose()?;
        match settings {
            None => {
                sqlx::query("DELETE FROM structure_upload WHERE structure_id = $1")
                    .bind(structure.to_owned())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(s) => {
                let max = i64::try_from(s.max_bytes)
                    .map_err(|_| StoreError::Invalid("max_bytes too large".into()))?;
                sqlx::query(
                    "INSERT INTO structure_upload (structure_id, enabled, max_bytes, types) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (structure_id) DO UPDATE SET \
                     enabled = excluded.enabled, max_bytes = excluded.max_bytes, \
                     types = excluded.types",
                )
                .bind(structure.to_owned())
                .bind(s.enabled)
                .bind(max)
                .bind(s.types.join(" "))
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "structure.upload".into(),
                structure: Some(structure.into()),
                target: Some(structure.into()),
                before: Some(settings_json(before.as_ref())),
                after: Some(settings_json(settings)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }
}
