//! XEP-0313 / XEP-0059 paging over an archive table, shared by the rooms' archive
//! (`room_archive`, keyed by room) and the accounts' archive (`account_archive`, keyed by
//! owner, optionally by the other party): time bounds, a page after or before a message,
//! the last page, a list of ids, the total count and the page's index.
//!
//! Both tables have an `id` that grows with arrival and a unique `stanza_id` within the
//! key; pages walk `id` through the key's index. On SQLite the accounts' archive is a view
//! over chunks ([`Table::Chunked`], `account_archive.rs`): a message's `id` is its chunk's
//! id shifted left by [`CHUNK_BITS`] plus its place in the chunk, so pages walk the chunks
//! through their owner index (`chunk`, bounded by the page's ends) and sort within them.

use futures_util::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryScalar};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use crate::{Result, StoreError};

/// A page request over an archive, a room's or an account's (XEP-0313 with XEP-0059 paging).
///
/// Without `before_id` nor `last_page`, the page starts after `after_id` (or at the oldest
/// message) and goes forward; with `before_id` (the page ends before that message) or
/// `last_page` (the most recent messages), it is the `max` messages just before. Either way
/// the page is returned oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveQuery {
    /// Only messages stamped at or after this time.
    pub start_ms: Option<i64>,
    /// Only messages stamped at or before this time.
    pub end_ms: Option<i64>,
    pub after_id: Option<String>,
    pub before_id: Option<String>,
    pub last_page: bool,
    /// Most messages returned (negative counts as 0).
    pub max: i64,
    /// Only messages exchanged with this bare JID (accounts' archive only; a room's archive
    /// ignores it).
    pub with: Option<String>,
    /// Only the messages with these stanza-ids (XEP-0313 `ids`, extended queries).
    pub ids: Option<Vec<String>>,
}

/// Bits of a chunked archive's `id` that number a message inside its chunk: a chunk holds
/// at most `1 << CHUNK_BITS` messages.
pub(crate) const CHUNK_BITS: u32 = 12;

/// How an archive's rows are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// A table of rows: `id` orders them.
    Rows(&'static str),
    /// A view over chunks (`account_archive` on SQLite): `chunk` is the chunk's id,
    /// `id >> CHUNK_BITS`; `chunks` is the chunks' table (`id`, `owner_id`, `messages`: the
    /// messages' ids, peers and stamps as JSON, each stanza-id a JSON string in it).
    Chunked {
        view: &'static str,
        chunks: &'static str,
    },
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Rows(name) => name,
            Table::Chunked { view, .. } => view,
        }
    }

    /// How many rows `f` selects (before the row at `place`, when given). On a chunked
    /// view, when `f` is its owner alone, from the chunks' counts (`n`) without unpacking
    /// them, but for the chunk of `place`.
    pub(crate) async fn count_before(
        self,
        tx: &mut Transaction<'static, Any>,
        f: &Filter,
        place: Option<i64>,
    ) -> Result<i64> {
        let count = |sql: String, binds: Vec<Bind>| async move {
            let n: i64 = bind_all_scalar(sqlx::query_scalar(AssertSqlSafe(sql)), &binds)
                .fetch_one(&mut **tx)
                .await?;
            Ok::<i64, StoreError>(n)
        };
        match self {
            Table::Chunked { view, chunks } if f.sql == "owner_id = $1" => {
                let mut binds = f.binds.clone();
                let Some(place) = place else {
                    return count(
                        format!("SELECT COALESCE(SUM(n), 0) FROM {chunks} WHERE owner_id = $1"),
                        binds,
                    )
                    .await;
                };
                binds.push(Bind::Int(place >> CHUNK_BITS));
                binds.push(Bind::Int(place));
                count(
                    format!(
                        "SELECT (SELECT COALESCE(SUM(n), 0) FROM {chunks} \
                         WHERE owner_id = $1 AND id < $2) \
                         + (SELECT COUNT(*) FROM {view} WHERE owner_id = $1 AND chunk = $2 \
                         AND id < $3)"
                    ),
                    binds,
                )
                .await
            }
            _ => {
                let mut f = f.clone();
                if let Some(place) = place {
                    self.and_beyond(&mut f, "<", place);
                }
                count(
                    format!("SELECT COUNT(*) FROM {} WHERE {}", self.name(), f.sql),
                    f.binds,
                )
                .await
            }
        }
    }

    /// The first `limit` rows of `SELECT … WHERE …` (`select`, without `ORDER BY`, whose
    /// columns include `id`), in `id` order (descending with `backwards`).
    ///
    /// A chunked view is read ordered by chunk alone, which its owner index gives without
    /// sorting, and each chunk's rows are sorted here, until `limit` rows are in: SQLite
    /// sorted every row of the owner's archive for `ORDER BY chunk, id … LIMIT` (its
    /// planner does not see that the chunk's order is the index's), 5 ms for a last page
    /// of an archive of 9,000 messages instead of 0.1.
    pub(crate) async fn first_rows(
        self,
        tx: &mut Transaction<'static, Any>,
        select: &str,
        binds: &[Bind],
        backwards: bool,
        limit: i64,
    ) -> Result<Vec<AnyRow>> {
        let dir = if backwards { "DESC" } else { "ASC" };
        let limit = usize::try_from(limit).unwrap_or(0);
        if let Table::Rows(_) = self {
            let mut binds = binds.to_vec();
            binds.push(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
            let sql = format!("{select} ORDER BY id {dir} LIMIT ${}", binds.len());
            return Ok(bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
                .fetch_all(&mut **tx)
                .await?);
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = format!("{select} ORDER BY chunk {dir}");
        let mut rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds).fetch(&mut **tx);
        let mut out: Vec<(i64, AnyRow)> = Vec::new();
        // Where the rows of the chunk being read start in `out`.
        let mut chunk_start = 0;
        let mut chunk = None;
        let finish = |out: &mut Vec<(i64, AnyRow)>, from: usize| {
            if backwards {
                out[from..].sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
            } else {
                out[from..].sort_unstable_by_key(|r| r.0);
            }
        };
        while let Some(row) = rows.try_next().await? {
            let id: i64 = row.try_get("id")?;
            let this = id >> CHUNK_BITS;
            if chunk != Some(this) {
                finish(&mut out, chunk_start);
                if out.len() >= limit {
                    break;
                }
                chunk = Some(this);
                chunk_start = out.len();
            }
            out.push((id, row));
        }
        drop(rows);
        finish(&mut out, chunk_start);
        out.truncate(limit);
        Ok(out.into_iter().map(|(_, row)| row).collect())
    }

    /// Adds `id {op} place` (`<` or `>`), with the chunk's bound that lets a chunked
    /// view walk only the chunks on that side.
    pub(crate) fn and_beyond(self, f: &mut Filter, op: &str, place: i64) {
        if let Table::Chunked { .. } = self {
            let chunk_op = if op == "<" { "<=" } else { ">=" };
            f.and("chunk", chunk_op, Bind::Int(place >> CHUNK_BITS));
        }
        f.and("id", op, Bind::Int(place));
    }

    /// Adds `stanza_id = id`; on a chunked view, first a search of the id's JSON text in
    /// the bodies of the key's chunks (`owner_id = $1`), so that only the chunks holding
    /// it are unpacked.
    pub(crate) fn and_stanza_id(self, f: &mut Filter, stanza_id: &str) {
        self.holding(f, stanza_id);
        f.and("stanza_id", "=", Bind::Text(stanza_id.to_owned()));
    }

    /// Adds `with_jid = with` (one conversation); on a chunked view, only the chunks whose
    /// messages name `with` are unpacked, as for [`Self::and_stanza_id`]: a conversation's
    /// page and count read the chunks of that conversation, not every chunk of the owner
    /// (at a school's pace a chunk holds one or two messages, with one or two people).
    pub(crate) fn and_with(self, f: &mut Filter, with: &str) {
        self.holding(f, with);
        f.and("with_jid", "=", Bind::Text(with.to_owned()));
    }

    /// On a chunked view: ` AND chunk IN (the key's chunks whose messages' JSON holds the
    /// string `text`)`, a search of the text before any unpacking. It may keep a chunk
    /// that holds the text in another field (the exact condition that follows drops its
    /// rows), never miss one: serde_json and SQLite's JSON functions escape a string alike.
    fn holding(self, f: &mut Filter, text: &str) {
        if let Table::Chunked { chunks, .. } = self {
            debug_assert!(f.sql.starts_with("owner_id = $1"), "{}", f.sql);
            let needle = serde_json::Value::from(text).to_string();
            f.binds.push(Bind::Text(needle));
            f.sql.push_str(&format!(
                " AND chunk IN (SELECT id FROM {chunks} WHERE owner_id = $1 AND instr(messages, ${}) > 0)",
                f.binds.len()
            ));
        }
    }
}

/// A value bound to an archive query.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// The `WHERE` of a query: text with `$n` placeholders and their values in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub sql: String,
    pub binds: Vec<Bind>,
}

impl Filter {
    /// Starts with `column = $1`.
    pub fn key(column: &str, value: Bind) -> Filter {
        Filter {
            sql: format!("{column} = $1"),
            binds: vec![value],
        }
    }

    /// Adds ` AND {left} {op} $n`.
    pub fn and(&mut self, left: &str, op: &str, value: Bind) {
        self.binds.push(value);
        self.sql
            .push_str(&format!(" AND {left} {op} ${}", self.binds.len()));
    }

    /// Adds ` AND {column} IN ($n, …)` (nothing matches an empty list).
    pub fn and_in(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            self.sql.push_str(" AND 1 = 0");
            return;
        }
        let mut list = Vec::with_capacity(values.len());
        for v in values {
            self.binds.push(Bind::Text(v.clone()));
            list.push(format!("${}", self.binds.len()));
        }
        self.sql
            .push_str(&format!(" AND {column} IN ({})", list.join(", ")));
    }

    /// The time bounds of `q` (`stamp_ms`) and its list of ids.
    pub fn bounds(&mut self, q: &ArchiveQuery) {
        if let Some(start) = q.start_ms {
            self.and("stamp_ms", ">=", Bind::Int(start));
        }
        if let Some(end) = q.end_ms {
            self.and("stamp_ms", "<=", Bind::Int(end));
        }
        if let Some(ids) = &q.ids {
            self.and_in("stanza_id", ids);
        }
    }
}

pub(crate) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments>,
    binds: &[Bind],
) -> Query<'q, Any, AnyArguments> {
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.clone()),
        };
    }
    query
}

pub(crate) fn bind_all_scalar<'q, O>(
    mut query: QueryScalar<'q, Any, O, AnyArguments>,
    binds: &[Bind],
) -> QueryScalar<'q, Any, O, AnyArguments> {
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.clone()),
        };
    }
    query
}

/// One page's rows (oldest first) and what XEP-0059 says about it.
pub(crate) struct Rows {
    pub rows: Vec<AnyRow>,
    pub complete: bool,
    pub count: i64,
    pub first_index: i64,
}

/// The `id` of message `stanza_id` under `key`; Err(NotFound) when there is none.
async fn locate(
    tx: &mut Transaction<'static, Any>,
    table: Table,
    key: &Filter,
    stanza_id: Option<&str>,
) -> Result<Option<i64>> {
    let Some(stanza_id) = stanza_id else {
        return Ok(None);
    };
    let mut f = key.clone();
    table.and_stanza_id(&mut f, stanza_id);
    let found: Option<i64> = bind_all_scalar(
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM {} WHERE {}",
            table.name(),
            f.sql
        ))),
        &f.binds,
    )
    .fetch_optional(&mut **tx)
    .await?;
    found.map(Some).ok_or(StoreError::NotFound)
}

/// Reads one page of `table` under `key` (the key's filter alone: the query's bounds are
/// added here), selecting `columns` (besides `id`), in `tx` (one snapshot).
/// Err(NotFound) when `after_id` or `before_id` is not a message under the key.
pub(crate) async fn page(
    tx: &mut Transaction<'static, Any>,
    table: Table,
    columns: &str,
    key: &Filter,
    q: &ArchiveQuery,
) -> Result<Rows> {
    let after = locate(tx, table, key, q.after_id.as_deref()).await?;
    let before = locate(tx, table, key, q.before_id.as_deref()).await?;
    let name = table.name();
    let mut bounded = key.clone();
    bounded.bounds(q);
    let count = table.count_before(tx, &bounded, None).await?;
    let max = q.max.max(0);
    let backwards = before.is_some() || q.last_page;
    let mut f = bounded.clone();
    if let Some(b) = before {
        table.and_beyond(&mut f, "<", b);
    }
    if let Some(a) = after {
        table.and_beyond(&mut f, ">", a);
    }
    let select = format!("SELECT id, {columns} FROM {name} WHERE {}", f.sql);
    let mut rows = table
        .first_rows(tx, &select, &f.binds, backwards, max + 1)
        .await?;
    let complete = i64::try_from(rows.len()).unwrap_or(i64::MAX) <= max;
    rows.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    if backwards {
        rows.reverse();
    }
    let first_index = match rows.first() {
        Some(first) => {
            table
                .count_before(tx, &bounded, Some(first.try_get::<i64, _>("id")?))
                .await?
        }
        None => 0,
    };
    Ok(Rows {
        rows,
        complete,
        count,
        first_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_number_their_parameters() {
        let q = ArchiveQuery {
            start_ms: Some(1),
            end_ms: Some(2),
            ids: Some(vec!["a".into(), "b".into()]),
            ..ArchiveQuery::default()
        };
        let mut f = Filter::key("room_id", Bind::Int(7));
        f.bounds(&q);
        assert_eq!(
            f.sql,
            "room_id = $1 AND stamp_ms >= $2 AND stamp_ms <= $3 AND stanza_id IN ($4, $5)"
        );
        assert_eq!(f.binds.len(), 5);
        let mut f = Filter::key("room_id", Bind::Int(7));
        f.bounds(&ArchiveQuery::default());
        assert_eq!(f.sql, "room_id = $1");
        f.and_in("x", &[]);
        assert_eq!(f.sql, "room_id = $1 AND 1 = 0");
    }

    #[test]
    fn a_chunked_view_bounds_the_chunks_it_unpacks() {
        let chunked = Table::Chunked {
            view: "v",
            chunks: "c",
        };
        let mut f = Filter::key("owner_id", Bind::Int(7));
        chunked.and_beyond(&mut f, "<", (5 << CHUNK_BITS) + 3);
        chunked.and_beyond(&mut f, ">", 2 << CHUNK_BITS);
        chunked.and_stanza_id(&mut f, "m\"1");
        assert_eq!(
            f.sql,
            "owner_id = $1 AND chunk <= $2 AND id < $3 AND chunk >= $4 AND id > $5 \
             AND chunk IN (SELECT id FROM c WHERE owner_id = $1 AND instr(messages, $6) > 0) \
             AND stanza_id = $7"
        );
        let ints: Vec<i64> = f
            .binds
            .iter()
            .filter_map(|b| match b {
                Bind::Int(v) => Some(*v),
                Bind::Text(_) => None,
            })
            .collect();
        assert_eq!(ints, [7, 5, (5 << CHUNK_BITS) + 3, 2, 2 << CHUNK_BITS]);
        // The stanza-id as JSON writes it in a chunk's messages, quotes and escapes included.
        assert!(matches!(&f.binds[5], Bind::Text(t) if t == "\"m\\\"1\""));
        // A conversation: only the chunks naming the other party are unpacked.
        let mut f = Filter::key("owner_id", Bind::Int(7));
        chunked.and_with(&mut f, "léa@école.fr");
        assert_eq!(
            f.sql,
            "owner_id = $1 \
             AND chunk IN (SELECT id FROM c WHERE owner_id = $1 AND instr(messages, $2) > 0) \
             AND with_jid = $3"
        );
        assert!(matches!(&f.binds[1], Bind::Text(t) if t == "\"léa@école.fr\""));
        let rows = Table::Rows("t");
        let mut f = Filter::key("owner_id", Bind::Int(7));
        rows.and_beyond(&mut f, "<", 9);
        rows.and_with(&mut f, "y@x");
        rows.and_stanza_id(&mut f, "x");
        assert_eq!(
            f.sql,
            "owner_id = $1 AND id < $2 AND with_jid = $3 AND stanza_id = $4"
        );
    }
}
