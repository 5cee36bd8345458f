//! Reads of the hottest queries straight on the caller's thread (SQLite files only):
//! a login's credentials, its roster and its waiting requests and messages.
//!
//! Why not sqlx for these: sqlx's SQLite driver runs each connection on a thread of its
//! own and hands every query to it and every row back through channels, and its pool
//! pings the connection when it goes back to the pool: each query costs four thread
//! wake-ups, which the login profile put at about a third of a login's CPU
//! (BENCHMARKS.md, "Login cost"). A read of a few pages from SQLite's or the kernel's
//! cache takes microseconds; done here, on the runtime's thread, it costs no hand-off.
//!
//! Only reads, only on a database file in WAL mode (readers never wait for the writer,
//! and see what was committed through sqlx), on read-only connections kept in a small
//! pool. When a read cannot be done here (an in-memory database, a busy or locked
//! file, more concurrent reads than pooled connections, any SQLite error), the caller
//! falls back to the same query through sqlx: the answer is the same, only slower.
//! rusqlite is the well-kept SQLite binding, on the same `libsqlite3-sys` as sqlx's.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Result, StoreError};

/// At most this many read connections are open; beyond, reads go through sqlx.
const MAX_CONNECTIONS: usize = 8;

/// The pool of read-only connections to one SQLite file.
pub(crate) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    open: std::sync::atomic::AtomicUsize,
}

impl Reader {
    /// A reader for the database file of `url` (`sqlite://PATH…`), or None for an
    /// in-memory database or a URL it cannot read a file name from.
    pub(crate) fn for_url(url: &str) -> Option<Reader> {
        use std::str::FromStr;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
        let path = options.get_filename().to_path_buf();
        let name = path.to_string_lossy();
        // sqlx names an in-memory database `file:sqlx-in-memory-N` (shared cache).
        let in_memory = url.contains(":memory:")
            || url.contains("mode=memory")
            || name.starts_with("file:sqlx-in-memory");
        if name.is_empty() || name == ":memory:" || in_memory {
            return None;
        }
        Some(Reader {
            path,
            idle: Mutex::new(Vec::new()),
            open: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        // Never wait on a lock on the runtime's thread: busy means "use sqlx".
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.execute_batch(crate::SQLITE_CACHE_PRAGMA)?;
        Ok(conn)
    }

    /// Runs `f` on a pooled connection; None when the read is to be done through sqlx
    /// instead (see the module docs).
    pub(crate) fn read<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<Result<T>>,
    ) -> Option<Result<T>> {
        use std::sync::atomic::Ordering;
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                if self.open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
                    self.open.fetch_sub(1, Ordering::Relaxed);
                    return None;
                }
                match self.connect() {
                    Ok(c) => c,
                    Err(e) => {
                        self.open.fetch_sub(1, Ordering::Relaxed);
                        tracing::debug!(error = %e, what, "direct SQLite read unavailable");
                        return None;
                    }
                }
            }
        };
        let answer = f(&conn);
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        match answer {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(error = %e, what, "direct SQLite read failed; through sqlx");
                None
            }
        }
    }
}

/// The columns of one result row, by name, as the store's readers need them: from a sqlx
/// row (either backend) or from a row read here.
pub(crate) trait Columns {
    fn int(&self, column: &str) -> Result<i64>;
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn blob(&self, column: &str) -> Result<Vec<u8>>;
    /// BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite.
    fn flag(&self, column: &str) -> Result<bool>;
}

/// A sqlx row with its backend (for the flags' type).
pub(crate) struct SqlxRow<'r>(pub &'r AnyRow, pub Backend);

impl Columns for SqlxRow<'_> {
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.0.try_get(column)?)
    }
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.0.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.0.try_get(column)?)
    }
    fn blob(&self, column: &str) -> Result<Vec<u8>> {
        Ok(self.0.try_get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool> {
        crate::get_flag(self.0, column, self.1)
    }
}

fn corrupt(column: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("column {column}: {e}"))
}

/// A row read here, with its statement's column names taken once per statement:
/// rusqlite's lookup by name asks SQLite for every column's name (and its length) on
/// every call, which was a tenth of the roster read's time at login (BENCHMARKS.md,
/// "Login: fewer writes, fewer lookups").
pub(crate) struct NamedRow<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    names: &'r [String],
}

impl NamedRow<'_, '_> {
    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T> {
        let index = self
            .names
            .iter()
            .position(|n| n == column)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {column}")))?;
        self.row.get(index).map_err(|e| corrupt(column, e))
    }
}

impl Columns for NamedRow<'_, '_> {
    fn int(&self, column: &str) -> Result<i64> {
        self.get(column)
    }
    fn text(&self, column: &str) -> Result<String> {
        self.get(column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }
    fn blob(&self, column: &str) -> Result<Vec<u8>> {
        self.get(column)
    }
    fn flag(&self, column: &str) -> Result<bool> {
        match self.int(column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(StoreError::Corrupt(format!("flag {column} = {other}"))),
        }
    }
}

impl crate::Store {
    /// The rows of `sql` (one text parameter, `$1`) mapped by `map`: read on this thread on
    /// a SQLite file ([`Reader`]), else (or when that cannot be done) through sqlx. The
    /// shape of the login's three reads.
    pub(crate) async fn rows_by<T>(
        &self,
        what: &'static str,
        sql: &'static str,
        param: &str,
        map: impl Fn(&dyn Columns) -> Result<T>,
    ) -> Result<Vec<T>> {
        if let Some(read) = self
            .reader()
            .and_then(|r| r.read(what, |conn| rows_for(conn, sql, param, |row| map(row))))
        {
            return read;
        }
        let rows = sqlx::query(sql)
            .bind(param.to_owned())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| map(&SqlxRow(row, self.backend())))
            .collect()
    }
}

/// Runs `sql` with one text parameter and maps every row with `map`: the shape of the
/// three reads done here. The outer error is SQLite's (fall back to sqlx), the inner the
/// mapping's (the same as through sqlx).
pub(crate) fn rows_for<T>(
    conn: &Connection,
    sql: &str,
    param: &str,
    mut map: impl FnMut(&NamedRow<'_, '_>) -> Result<T>,
) -> rusqlite::Result<Result<Vec<T>>> {
    let mut statement = conn.prepare_cached(sql)?;
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut rows = statement.query([param])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        match map(&NamedRow { row, names: &names }) {
            Ok(v) => out.push(v),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(out))
}

#[cfg(test)]
mod tests {
    use crate::accounts::AccountStore;
    use crate::credentials::{Credentials, ScramCredential};
    use crate::offline::OfflineStore;
    use crate::roster::{RosterItem, RosterStore, Subscription};
    use crate::{Backend, Store};

    fn credential(n: u8) -> ScramCredential {
        ScramCredential {
            salt: vec![n; 16],
            iterations: 4096,
            stored_key: vec![n + 1; 32],
            server_key: vec![n + 2; 32],
        }
    }

    /// On a SQLite file the login's three reads are done here, not through sqlx, and see
    /// at once what was just committed through sqlx; the answers are the same both ways.
    #[tokio::test]
    async fn direct_reads_see_commits_and_agree_with_sqlx() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        let creds = Credentials {
            sha1: credential(1),
            sha256: credential(7),
        };
        store.create_account("lea", &creds).await.unwrap();
        store.create_account("hugo", &creds).await.unwrap();
        let item = RosterItem {
            contact: "hugo@example.org".into(),
            name: Some("Hugo".into()),
            subscription: Subscription::Both,
            ask: false,
            approved: false,
            refused: false,
            groups: vec!["6e A".into(), "Amis".into()],
        };
        store.put_roster_item("lea", &item).await.unwrap();
        store
            .store_offline("lea", "<message/>", 42, 100)
            .await
            .unwrap();

        let reader = store.reader().expect("a reader for a SQLite file");
        let direct = reader
            .read("test", |conn| {
                super::rows_for(
                    conn,
                    "SELECT username FROM accounts WHERE username = $1",
                    "lea",
                    |row| {
                        use super::Columns;
                        row.text("username")
                    },
                )
            })
            .expect("read directly, not through sqlx")
            .unwrap();
        assert_eq!(direct, vec!["lea".to_string()]);

        // Through the store's API (the direct path on this file)...
        assert_eq!(store.credentials("lea").await.unwrap(), Some(creds.clone()));
        assert_eq!(store.credentials("nobody").await.unwrap(), None);
        assert_eq!(store.roster("lea").await.unwrap(), vec![item.clone()]);
        let waiting = store.waiting("lea").await.unwrap();
        assert_eq!(waiting.messages.len(), 1);
        assert_eq!(waiting.messages[0].stanza, "<message/>");
        assert_eq!(waiting.messages[0].stamp_ms, 42);

        // ...and the same without the reader (sqlx's path, as on PostgreSQL).
        let plain = Store {
            reader: None,
            ..store.clone()
        };
        assert_eq!(plain.credentials("lea").await.unwrap(), Some(creds));
        assert_eq!(plain.roster("lea").await.unwrap(), vec![item]);
        assert_eq!(
            plain.waiting("lea").await.unwrap().messages,
            waiting.messages
        );

        // A write through sqlx is seen by the next direct read.
        store
            .remove_roster_item("lea", "hugo@example.org")
            .await
            .unwrap();
        assert!(store.roster("lea").await.unwrap().is_empty());
        store.close().await;
    }

    /// An in-memory database has no file a second connection could read: no reader.
    #[test]
    fn no_reader_without_a_file() {
        assert!(super::Reader::for_url("sqlite::memory:").is_none());
        assert!(super::Reader::for_url("sqlite://x.db?mode=memory").is_none());
        assert!(super::Reader::for_url("sqlite:///tmp/x.db?mode=rwc").is_some());
    }
}
