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
//! **Layout.** On PostgreSQL, a row per message and owner. On SQLite (migration 0022),
//! one row of `account_archive_chunk` per owner and batch of the writer, its messages in
//! two JSON arrays, ids, peers and stamps apart from the stanzas ([`chunks`]), behind a
//! view `account_archive` with the rows' columns: a
//! row per message and its four indexes were ≈ 15 µs of the writer's CPU per 1:1
//! message, a chunk per owner and batch a few (BENCHMARKS.md, "The 1:1 archive in
//! chunks"). Reads go through the view on both backends, paging by chunk on SQLite
//! ([`paging::Table::Chunked`]); what SQLite's view cannot count (purges, replaced
//! copies) is done on the chunks here.
//!
//! Every statement on the archive is in this module, the writer's batch insert aside
//! (`archive_writer.rs`, on its own SQLite connection, through [`chunks`]): the reports (`reports.rs`) read
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
use crate::paging::{self, Bind, CHUNK_BITS, Filter, Table, bind_all};
use crate::rooms::{ArchiveEntry, ArchivePage, ArchiveQuery, insert_room_archive};
use crate::{Backend, Result, Store, StoreError, get_flag};

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
/// Chunks rewritten per transaction of a purge on SQLite.
const PURGE_CHUNKS: i64 = 64;

/// The chunks' table on SQLite (migration 0022).
const CHUNKS: &str = "account_archive_chunk";

/// The accounts' archive as the readers and the paging see it.
fn table(store: &Store) -> Table {
    match store.backend() {
        Backend::Sqlite => Table::Chunked {
            view: "account_archive",
            chunks: CHUNKS,
        },
        Backend::Postgres => Table::Rows("account_archive"),
    }
}

/// One owner's messages of a batch, as a row of SQLite's `account_archive_chunk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk<'a> {
    pub owner: &'a str,
    /// How many messages it holds.
    pub n: i64,
    /// The oldest stamp of its messages.
    pub first_ms: i64,
    /// Its messages, in the batch's order, as a JSON array of
    /// `[stanza_id, with, outgoing (0/1), stamp_ms]`.
    pub messages: String,
    /// Their stanzas, a JSON array of strings in the same order.
    pub stanzas: String,
}

/// Most messages in one chunk: the bits of a message's place in its chunk.
const CHUNK_MAX: usize = 1 << CHUNK_BITS;
/// Bytes of stanzas after which a chunk is full: a page's rows each read their chunk's
/// stanzas (the view's `stanza`), so a chunk stays small whatever one owner sends in a
/// batch.
const CHUNK_BYTES: usize = 32 * 1024;

/// A batch's entries as chunks: one per owner (and per [`CHUNK_MAX`] messages or
/// [`CHUNK_BYTES`] of stanzas),
/// in the order of each owner's first entry, each owner's messages in the batch's order.
pub(crate) fn chunks<'a>(entries: &'a [AccountArchiveEntry]) -> Vec<Chunk<'a>> {
    type Item<'a> = &'a AccountMessage;
    let mut order: Vec<&'a str> = Vec::new();
    // Each owner's lists, and the stanzas' bytes of his last list.
    let mut by_owner: std::collections::HashMap<&'a str, (Vec<Vec<Item<'a>>>, usize)> =
        std::collections::HashMap::new();
    for e in entries {
        let m = &e.message;
        let (lists, bytes) = by_owner.entry(e.owner.as_str()).or_insert_with(|| {
            order.push(e.owner.as_str());
            (vec![Vec::new()], 0)
        });
        if lists.last().is_some_and(|l| {
            l.len() == CHUNK_MAX || (!l.is_empty() && *bytes + m.stanza.len() > CHUNK_BYTES)
        }) {
            lists.push(Vec::new());
            *bytes = 0;
        }
        if let Some(list) = lists.last_mut() {
            list.push(m);
            *bytes += m.stanza.len();
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for owner in order {
        for list in by_owner.remove(owner).unwrap_or_default().0 {
            let messages: Vec<(&str, &str, u8, i64)> = list
                .iter()
                .map(|m| {
                    (
                        m.stanza_id.as_str(),
                        m.with.as_str(),
                        u8::from(m.outgoing),
                        m.stamp_ms,
                    )
                })
                .collect();
            let stanzas: Vec<&str> = list.iter().map(|m| m.stanza.as_str()).collect();
            out.push(Chunk {
                owner,
                n: i64::try_from(list.len()).unwrap_or(i64::MAX),
                first_ms: list.iter().map(|m| m.stamp_ms).min().unwrap_or(0),
                // Serialising strings and integers cannot fail.
                messages: serde_json::to_string(&messages).unwrap_or_else(|_| "[]".into()),
                stanzas: serde_json::to_string(&stanzas).unwrap_or_else(|_| "[]".into()),
            });
        }
    }
    out
}

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
    // The stanza-id's search of the chunks finds the message; the conversation's would
    // only scan them a second time.
    let mut f = Filter::key("owner_id", Bind::Int(owner_id));
    table(store).and_stanza_id(&mut f, stanza_id);
    f.and("with_jid", "=", Bind::Text(with.to_owned()));
    let row = bind_all(
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM account_archive WHERE {}",
            f.sql
        ))),
        &f.binds,
    )
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
    let cmp = if before { "<" } else { ">" };
    let t = table(store);
    let mut f = Filter::key("owner_id", Bind::Int(owner_id));
    t.and_with(&mut f, with);
    t.and_beyond(&mut f, cmp, place);
    let select = format!("SELECT {COLUMNS} FROM account_archive WHERE {}", f.sql);
    let rows = t.first_rows(tx, &select, &f.binds, before, limit).await?;
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
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    owner_id: i64,
    with: &str,
) -> Result<bool> {
    // Through the correspondent's prefilter (`paging::Table::and_with`): on SQLite only
    // the chunks that name him are unpacked, not every chunk of the reporter's archive.
    let mut f = Filter::key("owner_id", Bind::Int(owner_id));
    table(store).and_with(&mut f, with);
    let found: Option<i64> = paging::bind_all_scalar(
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT CAST(1 AS BIGINT) WHERE EXISTS (SELECT 1 FROM account_archive WHERE {})",
            f.sql
        ))),
        &f.binds,
    )
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
    let mut conn = store.pool().acquire().await?;
    let Some(owner_id) = crate::account_id(&mut *conn, owner).await? else {
        return Ok(Vec::new());
    };
    let mut f = Filter::key("owner_id", Bind::Int(owner_id));
    table(store).and_stanza_id(&mut f, stanza_id);
    let rows = bind_all(
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM account_archive WHERE {}",
            f.sql
        ))),
        &f.binds,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| read_message(r, store)).collect()
}

/// The places of message `stanza_id` in account `owner_id`'s archive.
async fn places_of(
    tx: &mut Transaction<'static, Any>,
    t: Table,
    owner_id: i64,
    stanza_id: &str,
) -> Result<Vec<i64>> {
    let mut f = Filter::key("owner_id", Bind::Int(owner_id));
    t.and_stanza_id(&mut f, stanza_id);
    Ok(paging::bind_all_scalar(
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM account_archive WHERE {}",
            f.sql
        ))),
        &f.binds,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Replaces the stanza of message `stanza_id` in account `owner`'s archive (login) by
/// `stanza`, keeping its place; how many copies were replaced. On SQLite, the caller
/// turns `secure_delete` on first, so that the old text is overwritten in the file.
pub(crate) async fn replace_stanza(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    owner: &str,
    stanza_id: &str,
    stanza: &str,
) -> Result<u64> {
    if let t @ Table::Chunked { .. } = table(store) {
        // SQLite counts no changes made through a view: the copies are found, then
        // rewritten in their chunks.
        let Some(owner_id) = crate::account_id(&mut **tx, owner).await? else {
            return Ok(0);
        };
        let places = places_of(tx, t, owner_id, stanza_id).await?;
        for place in &places {
            sqlx::query(
                "UPDATE account_archive_stanzas SET stanzas = json_replace(stanzas, $1, $2) WHERE id = $3",
            )
            .bind(format!("$[{}]", place & ((1 << CHUNK_BITS) - 1)))
            .bind(stanza.to_owned())
            .bind(place >> CHUNK_BITS)
            .execute(&mut **tx)
            .await?;
        }
        return Ok(places.len() as u64);
    }
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

/// Writes `entries` into SQLite's chunks, a chunk per owner ([`chunks`]), skipping a
/// message whose stanza-id is taken in its owner's archive; Err(Refused) when an owner has
/// no account (nothing is written then: the caller rolls back).
async fn insert_chunks(
    tx: &mut Transaction<'static, Any>,
    entries: &[AccountArchiveEntry],
) -> Result<u64> {
    let t = Table::Chunked {
        view: "account_archive",
        chunks: CHUNKS,
    };
    let mut fresh = Vec::with_capacity(entries.len());
    let mut ids = std::collections::HashMap::new();
    for e in entries {
        let owner_id = match ids.get(e.owner.as_str()) {
            Some(id) => *id,
            None => {
                let Some(id) = crate::account_id(&mut **tx, &e.owner).await? else {
                    return Err(StoreError::Refused(format!(
                        "archive entry for {}, who has no account",
                        e.owner
                    )));
                };
                ids.insert(e.owner.as_str(), id);
                id
            }
        };
        let taken = !places_of(tx, t, owner_id, &e.message.stanza_id)
            .await?
            .is_empty();
        let twice = fresh.iter().any(|x: &AccountArchiveEntry| {
            x.owner == e.owner && x.message.stanza_id == e.message.stanza_id
        });
        if !taken && !twice {
            fresh.push(e.clone());
        }
    }
    for c in chunks(&fresh) {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO account_archive_stanzas (stanzas) VALUES ($1) RETURNING id",
        )
        .bind(c.stanzas)
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO account_archive_chunk (owner_id, id, n, first_ms, messages) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ids.get(c.owner).copied().unwrap_or_default())
        .bind(id)
        .bind(c.n)
        .bind(c.first_ms)
        .bind(c.messages)
        .execute(&mut **tx)
        .await?;
    }
    Ok(fresh.len() as u64)
}

async fn insert_accounts(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    entries: &[AccountArchiveEntry],
) -> Result<u64> {
    if store.backend() == Backend::Sqlite {
        return insert_chunks(tx, entries).await;
    }
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
    if store.backend() == Backend::Sqlite {
        return purge_chunks(store, cutoff, owners, binds).await;
    }
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

/// [`purge_where`] on SQLite's chunks: each chunk holding a message older than `cutoff`
/// (its `first_ms`) loses those messages (JSON null in their place, so that the others
/// keep theirs) or, when none is left, is deleted; its `first_ms` becomes its oldest left.
/// A transaction per [`PURGE_CHUNKS`] chunks (each at most [`CHUNK_BYTES`] of stanzas), so
/// that the writer is not held back long.
async fn purge_chunks(store: &Store, cutoff: i64, owners: &str, binds: &[Bind]) -> Result<u64> {
    let mut all = vec![Bind::Int(cutoff)];
    all.extend_from_slice(binds);
    all.push(Bind::Int(PURGE_CHUNKS));
    let sql = format!(
        "SELECT c.owner_id, c.id, c.messages, s.stanzas \
         FROM {CHUNKS} c JOIN account_archive_stanzas s ON s.id = c.id \
         WHERE c.first_ms < $1 AND ({owners}) ORDER BY c.id LIMIT ${}",
        all.len()
    );
    let mut total = 0u64;
    loop {
        let mut tx = store.begin_write().await?;
        crate::privacy::secure_delete(&mut tx, store.backend()).await;
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql.clone())), &all)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(total);
        }
        for row in &rows {
            let owner_id: i64 = row.try_get("owner_id")?;
            let id: i64 = row.try_get("id")?;
            let corrupt =
                |e: serde_json::Error| StoreError::Corrupt(format!("archive chunk {id}: {e}"));
            let messages: String = row.try_get("messages")?;
            let stanzas: String = row.try_get("stanzas")?;
            let mut items: Vec<serde_json::Value> =
                serde_json::from_str(&messages).map_err(corrupt)?;
            let mut texts: Vec<serde_json::Value> =
                serde_json::from_str(&stanzas).map_err(corrupt)?;
            let mut oldest_left: Option<i64> = None;
            let mut left = 0i64;
            for (place, item) in items.iter_mut().enumerate() {
                if item.is_null() {
                    continue;
                }
                // A message without an integer stamp (written by hand through the view)
                // is kept.
                let Some(stamp) = item.get(3).and_then(serde_json::Value::as_i64) else {
                    left += 1;
                    continue;
                };
                if stamp < cutoff {
                    *item = serde_json::Value::Null;
                    if let Some(text) = texts.get_mut(place) {
                        *text = serde_json::Value::Null;
                    }
                    total += 1;
                } else {
                    left += 1;
                    oldest_left = Some(oldest_left.map_or(stamp, |o| o.min(stamp)));
                }
            }
            match (left, oldest_left) {
                (0, _) => {
                    // Its stanzas go with it (trigger account_archive_chunk_gone).
                    sqlx::query(
                        "DELETE FROM account_archive_chunk WHERE owner_id = $1 AND id = $2",
                    )
                    .bind(owner_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                (_, first) => {
                    // Only messages without a stamp left: out of the purge's reach.
                    let first = first.unwrap_or(cutoff);
                    sqlx::query(
                        "UPDATE account_archive_chunk SET messages = $1, n = $2, first_ms = $3 \
                         WHERE owner_id = $4 AND id = $5",
                    )
                    .bind(serde_json::to_string(&items).map_err(corrupt)?)
                    .bind(left)
                    .bind(first)
                    .bind(owner_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE account_archive_stanzas SET stanzas = $1 WHERE id = $2")
                        .bind(serde_json::to_string(&texts).map_err(corrupt)?)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
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
        written += insert_accounts(&mut tx, self, accounts).await?;
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
            table(self).and_with(&mut key, with);
        }
        let rows = paging::page(
            &mut tx,
            table(self),
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
