//! The accounts' archive of one-to-one messages (table `account_archive`, XEP-0313 on an
//! account's bare JID) and each structure's retention of it (table `structure_archive`).
//!
//! A 1:1 message is archived once for its sender and once for its recipient: each row
//! belongs to one account (its owner), who alone reads it, page by page
//! ([`AccountArchiveStore::account_archive_page`], the paging of `paging.rs` shared with
//! the rooms). Rows are written in batches, together with the rooms' messages, in one
//! transaction ([`AccountArchiveStore::write_archives`], used by the server's one archive
//! writer). Purging ([`AccountArchiveStore::purge_account_archive`]) deletes rows for
//! real, per structure: a row goes when it is older than the cutoff of any of its owner's
//! structures (each structure's retention is a maximum); accounts in no structure follow
//! the default cutoff.
//!
//! A structure's retention is changed with its audit row in one transaction
//! ([`AccountArchiveStore::set_retention_audited`]); it does not move the directory
//! generation (no stanza decision depends on it).
//!
//! Every statement on `account_archive` is in this module, the writer's batch insert aside
//! (`archive_writer.rs`, on its own SQLite connection): the reports (`reports.rs`) read
//! a conversation through [`conversation_message`], [`conversation_around`],
//! [`conversation_last`] and [`exchanged_with`], the moderation (`moderation.rs`) finds and
//! replaces a message's copies through [`copies`] and [`replace_stanza`], so that the
//! archive's layout can change here alone (BENCHMARKS.md, "Serialised by hand": its rows
//! are the 1:1 figure's cost).

use causerie_ent::Retention;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use crate::audit::{NewAudit, insert_audit};
use crate::directory::rows::structure_exists;
use crate::paging::{self, Bind, Filter, bind_all};
use crate::rooms::{ArchiveEntry, ArchivePage, ArchiveQuery, insert_room_archive};
use crate::{Result, Store, StoreError, get_flag};

/// One message of an account's archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMessage {
    /// Its XEP-0359 stanza-id (unique in the owner's archive; both archives of a message
    /// carry the same).
    pub stanza_id: String,
    /// The other party's bare JID (the owner's own for a message to himself).
    pub with: String,
    /// The owner sent it (else he received it).
    pub outgoing: bool,
    /// The message as it was delivered (XML).
    pub stanza: String,
    pub stamp_ms: i64,
}

/// One message to archive for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountArchiveEntry {
    /// The owner's account localpart.
    pub owner: String,
    pub message: AccountMessage,
}

/// Rows deleted per statement of a purge, so that a year's purge does not hold the
/// database's write lock for long at once.
const PURGE_CHUNK: i64 = 5000;

#[async_trait::async_trait]
pub trait AccountArchiveStore: Send + Sync {
    /// Writes rooms' and accounts' messages in one transaction, in the order given; a
    /// message whose stanza-id is taken (in its room's archive, or in its owner's) is
    /// skipped. An entry whose owner or room does not exist fails the whole batch (the
    /// caller then writes them one by one). Returns how many rows were written.
    async fn write_archives(
        &self,
        rooms: &[ArchiveEntry],
        accounts: &[AccountArchiveEntry],
    ) -> Result<u64>;
    /// A page of `owner`'s archive (the query's `with`, bare JID, filters the other
    /// party). Err(NotFound) when `after_id` or `before_id` is not a message of his; an
    /// unknown account has an empty archive.
    async fn account_archive_page(
        &self,
        owner: &str,
        query: &ArchiveQuery,
    ) -> Result<ArchivePage<AccountMessage>>;
    /// Deletes archived messages for real: those older than `default_cutoff_ms` of
    /// accounts in no structure or in a structure without its own retention, and those
    /// older than a structure's cutoff (`overrides`: structure id, cutoff) of its users.
    /// Returns how many rows were deleted.
    async fn purge_account_archive(
        &self,
        default_cutoff_ms: i64,
        overrides: &[(String, i64)],
    ) -> Result<u64>;
    /// The structure's own retention (None: the default).
    async fn retention(&self, structure: &str) -> Result<Option<Retention>>;
    /// Every structure's own retention, sorted by structure.
    async fn retentions(&self) -> Result<Vec<(String, Retention)>>;
    /// Sets (or, with None, resets to the default) a structure's retention, with its audit
    /// row (action `structure.archive_retention`), in one transaction; returns the one
    /// before. Err(NotFound) when the structure does not exist.
    async fn set_retention_audited(
        &self,
        structure: &str,
        retention: Option<Retention>,
        actor: &str,
    ) -> Result<Option<Retention>>;
}

fn read_message(row: &AnyRow, store: &Store) -> Result<AccountMessage> {
    Ok(AccountMessage {
        stanza_id: row.try_get("stanza_id")?,
        with: row.try_get("with_jid")?,
        outgoing: get_flag(row, "outgoing", store.backend())?,
        stanza: row.try_get("stanza")?,
        stamp_ms: row.try_get("stamp_ms")?,
    })
}

/// The columns [`read_message`] reads, after the row's `id` (its place in the archive).
const COLUMNS: &str = "id, stanza_id, with_jid, outgoing, stanza, stamp_ms";

/// One message of an owner's archive and its place there (a later message has a greater
/// place; places are comparable within one owner's archive only).
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub place: i64,
    pub message: AccountMessage,
}

fn read_placed(row: &AnyRow, store: &Store) -> Result<Placed> {
    Ok(Placed {
        place: row.try_get("id")?,
        message: read_message(row, store)?,
    })
}

/// Message `stanza_id` of account `owner_id`'s archive, in his conversation with `with`
/// (bare JID).
pub(crate) async fn conversation_message(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    owner_id: i64,
    with: &str,
    stanza_id: &str,
) -> Result<Option<Placed>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM account_archive \
         WHERE owner_id = $1 AND with_jid = $2 AND stanza_id = $3"
    )))
    .bind(owner_id)
    .bind(with.to_owned())
    .bind(stanza_id.to_owned())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| read_placed(&r, store)).transpose()
}

/// At most `limit` messages of `owner_id`'s conversation with `with` just before `place`
/// (`before`) or just after it, the nearest first.
pub(crate) async fn conversation_around(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    owner_id: i64,
    with: &str,
    place: i64,
    before: bool,
    limit: i64,
) -> Result<Vec<Placed>> {
    let (cmp, order) = if before { ("<", "DESC") } else { (">", "ASC") };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM account_archive \
         WHERE owner_id = $1 AND with_jid = $2 AND id {cmp} $3 ORDER BY id {order} LIMIT $4"
    )))
    .bind(owner_id)
    .bind(with.to_owned())
    .bind(place)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| read_placed(r, store)).collect()
}

/// The last `limit` messages of `owner_id`'s conversation with `with`, the latest first.
pub(crate) async fn conversation_last(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    owner_id: i64,
    with: &str,
    limit: i64,
) -> Result<Vec<Placed>> {
    conversation_around(tx, store, owner_id, with, i64::MAX, true, limit).await
}

/// Whether `owner_id`'s archive holds a message exchanged with `with` (bare JID).
pub(crate) async fn exchanged_with(
    tx: &mut Transaction<'static, Any>,
    owner_id: i64,
    with: &str,
) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) WHERE EXISTS \
         (SELECT 1 FROM account_archive WHERE owner_id = $1 AND with_jid = $2)",
    )
    .bind(owner_id)
    .bind(with.to_owned())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// The copies of message `stanza_id` in account `owner`'s archive (login; none for an
/// unknown account).
pub(crate) async fn copies(
    store: &Store,
    owner: &str,
    stanza_id: &str,
) -> Result<Vec<AccountMessage>> {
    let rows = sqlx::query(
        "SELECT m.stanza_id, m.with_jid, m.outgoing, m.stanza, m.stamp_ms \
         FROM account_archive m JOIN accounts a ON a.id = m.owner_id \
         WHERE a.username = $1 AND m.stanza_id = $2",
    )
    .bind(owner.to_owned())
    .bind(stanza_id.to_owned())
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|r| read_message(r, store)).collect()
}

/// Replaces the stanza of message `stanza_id` in account `owner`'s archive (login) by
/// `stanza`, keeping its place; how many copies were replaced. On SQLite, the caller
/// turns `secure_delete` on first, so that the old text is overwritten in the file.
pub(crate) async fn replace_stanza(
    tx: &mut Transaction<'static, Any>,
    owner: &str,
    stanza_id: &str,
    stanza: &str,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE account_archive SET stanza = $1 \
         WHERE owner_id = (SELECT id FROM accounts WHERE username = $2) \
         AND stanza_id = $3",
    )
    .bind(stanza.to_owned())
    .bind(owner.to_owned())
    .bind(stanza_id.to_owned())
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

fn retention_of(days: Option<i64>) -> Result<Retention> {
    match days {
        None => Ok(Retention::SchoolYear),
        Some(d) => u32::try_from(d)
            .map_err(|e| e.to_string())
            .and_then(Retention::days)
            .map_err(|e| StoreError::Corrupt(format!("archive retention: {e}"))),
    }
}

fn days_of(r: Retention) -> Option<i64> {
    match r {
        Retention::SchoolYear => None,
        Retention::Days(d) => Some(i64::from(d)),
    }
}

fn retention_json(r: Option<Retention>) -> serde_json::Value {
    match r {
        None => serde_json::Value::Null,
        Some(r) => serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
    }
}

async fn insert_accounts(
    tx: &mut Transaction<'static, Any>,
    entries: &[AccountArchiveEntry],
) -> Result<u64> {
    // Rows per INSERT: 6 parameters each, well under both backends' limits.
    const ROWS: usize = 64;
    let mut written = 0;
    for chunk in entries.chunks(ROWS) {
        let mut sql = String::from(
            "INSERT INTO account_archive (owner_id, stanza_id, with_jid, outgoing, stanza, stamp_ms) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 6;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "((SELECT id FROM accounts WHERE username = ${}), ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            ));
        }
        sql.push_str(" ON CONFLICT (stanza_id, owner_id) DO NOTHING");
        // Only placeholders are formatted into the text; every value is bound.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.owner.clone())
                .bind(e.message.stanza_id.clone())
                .bind(e.message.with.clone())
                .bind(e.message.outgoing)
                .bind(e.message.stanza.clone())
                .bind(e.message.stamp_ms);
        }
        written += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(written)
}

/// Deletes, chunk by chunk, the rows older than `cutoff` whose owner matches `owners`
/// (an SQL condition on `owner_id` with `$2…` placeholders bound from `binds`).
async fn purge_where(store: &Store, cutoff: i64, owners: &str, binds: &[Bind]) -> Result<u64> {
    let mut all = vec![Bind::Int(cutoff)];
    all.extend_from_slice(binds);
    all.push(Bind::Int(PURGE_CHUNK));
    let sql = format!(
        "DELETE FROM account_archive WHERE id IN (SELECT id FROM account_archive \
         WHERE stamp_ms < $1 AND ({owners}) LIMIT ${})",
        all.len()
    );
    // Overwritten in the SQLite file too (privacy.rs, `secure_delete`).
    let mut conn = store.pool().acquire().await?;
    crate::privacy::secure_delete(&mut conn, store.backend()).await;
    let mut total = 0;
    loop {
        let done = bind_all(sqlx::query(AssertSqlSafe(sql.clone())), &all)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        total += done;
        if done < u64::try_from(PURGE_CHUNK).unwrap_or(u64::MAX) {
            return Ok(total);
        }
    }
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait::async_trait]
impl AccountArchiveStore for Store {
    async fn write_archives(
        &self,
        rooms: &[ArchiveEntry],
        accounts: &[AccountArchiveEntry],
    ) -> Result<u64> {
        if rooms.is_empty() && accounts.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut written = insert_room_archive(&mut tx, rooms).await?;
        written += insert_accounts(&mut tx, accounts).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn account_archive_page(
        &self,
        owner: &str,
        query: &ArchiveQuery,
    ) -> Result<ArchivePage<AccountMessage>> {
        let mut tx = self.begin_read().await?;
        let Some(owner_id) = crate::account_id(&mut *tx, owner).await? else {
            tx.commit().await?;
            if query.after_id.is_some() || query.before_id.is_some() {
                return Err(StoreError::NotFound);
            }
            return Ok(ArchivePage {
                messages: Vec::new(),
                complete: true,
                count: 0,
                first_index: 0,
            });
        };
        let mut key = Filter::key("owner_id", Bind::Int(owner_id));
        if let Some(with) = &query.with {
            key.and("with_jid", "=", Bind::Text(with.clone()));
        }
        let rows = paging::page(
            &mut tx,
            "account_archive",
            "stanza_id, with_jid, outgoing, stanza, stamp_ms",
            &key,
            query,
        )
        .await?;
        tx.commit().await?;
        Ok(ArchivePage {
            messages: rows
                .rows
                .iter()
                .map(|r| read_message(r, self))
                .collect::<Result<_>>()?,
            complete: rows.complete,
            count: rows.count,
            first_index: rows.first_index,
        })
    }

    async fn purge_account_archive(
        &self,
        default_cutoff_ms: i64,
        overrides: &[(String, i64)],
    ) -> Result<u64> {
        let mut total = 0;
        // The default: accounts in no structure, or in one without its own retention.
        if overrides.is_empty() {
            total += purge_where(self, default_cutoff_ms, "1 = 1", &[]).await?;
        } else {
            let binds: Vec<Bind> = overrides
                .iter()
                .map(|(s, _)| Bind::Text(s.clone()))
                .collect();
            let list = placeholders(2, binds.len());
            let owners = format!(
                "owner_id NOT IN (SELECT account_id FROM user_structures) \
                 OR owner_id IN (SELECT account_id FROM user_structures \
                                 WHERE structure_id NOT IN ({list}))"
            );
            total += purge_where(self, default_cutoff_ms, &owners, &binds).await?;
        }
        // Each structure's own: one pass per distinct cutoff.
        let mut cutoffs: Vec<i64> = overrides.iter().map(|(_, c)| *c).collect();
        cutoffs.sort_unstable();
        cutoffs.dedup();
        for cutoff in cutoffs {
            let binds: Vec<Bind> = overrides
                .iter()
                .filter(|(_, c)| *c == cutoff)
                .map(|(s, _)| Bind::Text(s.clone()))
                .collect();
            let owners = format!(
                "owner_id IN (SELECT account_id FROM user_structures WHERE structure_id IN ({}))",
                placeholders(2, binds.len())
            );
            total += purge_where(self, cutoff, &owners, &binds).await?;
        }
        Ok(total)
    }

    async fn retention(&self, structure: &str) -> Result<Option<Retention>> {
        let row = sqlx::query("SELECT days FROM structure_archive WHERE structure_id = $1")
            .bind(structure.to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| retention_of(r.try_get("days")?)).transpose()
    }

    async fn retentions(&self) -> Result<Vec<(String, Retention)>> {
        let rows = sqlx::query("SELECT structure_id, days FROM structure_archive")
            .fetch_all(self.pool())
            .await?;
        let mut all = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("structure_id")?,
                    retention_of(r.try_get("days")?)?,
                ))
            })
            .collect::<Result<Vec<(String, Retention)>>>()?;
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    async fn set_retention_audited(
        &self,
        structure: &str,
        retention: Option<Retention>,
        actor: &str,
    ) -> Result<Option<Retention>> {
        let mut tx = self.begin_write().await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before: Option<Option<i64>> =
            sqlx::query_scalar("SELECT days FROM structure_archive WHERE structure_id = $1")
                .bind(structure.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
        let before = before.map(retention_of).transpose()?;
        match retention {
            None => {
                sqlx::query("DELETE FROM structure_archive WHERE structure_id = $1")
                    .bind(structure.to_owned())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(r) => {
                sqlx::query(
                    "INSERT INTO structure_archive (structure_id, days) VALUES ($1, $2) \
                     ON CONFLICT (structure_id) DO UPDATE SET days = excluded.days",
                )
                .bind(structure.to_owned())
                .bind(days_of(r))
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "structure.archive_retention".into(),
                structure: Some(structure.into()),
                target: Some(structure.into()),
                before: Some(retention_json(before)),
                after: Some(retention_json(retention)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }
}
