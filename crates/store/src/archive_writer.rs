//! The archives' batch writes (rooms' and accounts') on a SQLite file, through one
//! connection of their own held by the server's archive writer (rusqlite).
//!
//! Why not sqlx for these: a batch is hundreds of rows; through sqlx-sqlite each
//! statement is handed to a connection thread and back (two thread wake-ups), its
//! parameters are matched by name (`sqlite3_bind_parameter_name` per parameter), and the
//! pooled connections keep a small page cache (256 KiB, `SQLITE_CACHE_PRAGMA`), so the
//! archive's indexes were read again through the kernel at every batch. The 1:1 profile
//! put the writer's thread hand-offs and reads at most of the server's CPU per message.
//! Here the batch runs on the caller's (blocking) thread, with cached prepared
//! statements, on a connection with a page cache the size of the archive's hot pages.
//!
//! The rows written are those of [`crate::AccountArchiveStore::write_archives`] (one
//! transaction per batch, `BEGIN IMMEDIATE`): the rooms' rows, and the accounts' messages
//! in chunks, one per owner of the batch (`account_archive::chunks`, migration 0022). A
//! row the database refuses, or an owner without an account, fails the batch with
//! [`StoreError::Refused`], as through sqlx, so that the caller can write the batch again
//! message by message (through the pool, which skips what is there already).
//!
//! Unlike the pool's path, this one does not look for a 1:1 message's stanza-id in its
//! owner's archive before writing it: that would read the owner's chunks at every batch.
//! Every message it gets is new: its stanza-id was made for it on the message path
//! (`stanza::time_ordered_id`), it is queued once, and a batch that fails is rolled back
//! before it is written again.

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::account_archive::{AccountArchiveEntry, chunks};
use crate::rooms::ArchiveEntry;
use crate::{Result, Store, StoreError};

/// Page cache of the writer's connection (KiB).
const CACHE_KIB: i64 = 32 * 1024;
/// WAL pages after which this connection's commit checkpoints the WAL into the database
/// file (SQLite's default is 1,000). A checkpoint copies each page once however many
/// times the WAL holds it: the archive's hot index pages are rewritten by every batch,
/// so fewer, larger checkpoints copy far fewer pages (the WAL file grows to ~32 MiB).
const AUTOCHECKPOINT_PAGES: i64 = 8192;

const ROOM_SQL: &str = "INSERT INTO room_archive (room_id, room, stanza_id, sender, nick, stanza, stamp_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (stanza_id) DO NOTHING";
const OWNER_SQL: &str = "SELECT id FROM accounts WHERE username = ?1";
const STANZAS_SQL: &str = "INSERT INTO account_archive_stanzas (stanzas) VALUES (?1)";
const CHUNK_SQL: &str = "INSERT INTO account_archive_chunk (owner_id, id, n, first_ms, messages) VALUES (?1, ?2, ?3, ?4, ?5)";

/// The archive writer's own connection to the SQLite file.
pub struct ArchiveWriter {
    conn: Connection,
}

impl std::fmt::Debug for ArchiveWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter").finish_non_exhaustive()
    }
}

fn db_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Refused(e.to_string()),
        _ => StoreError::Corrupt(format!("SQLite: {e}")),
    }
}

impl Store {
    /// A connection of its own for the archive writer, on a SQLite file; None on
    /// PostgreSQL or an in-memory database (the writer then uses
    /// [`crate::AccountArchiveStore::write_archives`]).
    pub fn archive_writer(&self) -> Option<ArchiveWriter> {
        let path = self.reader()?.path();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .and_then(|conn| {
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.execute_batch(&format!(
                "PRAGMA foreign_keys = ON; PRAGMA cache_size = -{CACHE_KIB}; \
                 PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES};"
            ))?;
            Ok(conn)
        });
        match conn {
            Ok(conn) => Some(ArchiveWriter { conn }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the archive writer's connection; writing through the pool");
                None
            }
        }
    }
}

impl ArchiveWriter {
    /// Writes a batch in one transaction; the number of rows written (duplicates are
    /// not). Blocking: call it off the async runtime's threads.
    pub fn write(
        &mut self,
        rooms: &[ArchiveEntry],
        accounts: &[AccountArchiveEntry],
    ) -> Result<u64> {
        if rooms.is_empty() && accounts.is_empty() {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let mut written = 0u64;
        {
            let mut room = tx.prepare_cached(ROOM_SQL).map_err(db_error)?;
            for e in rooms {
                let m = &e.message;
                written += room
                    .execute(params![
                        e.room_id,
                        e.room,
                        m.stanza_id,
                        m.sender,
                        m.nick,
                        m.stanza,
                        m.stamp_ms
                    ])
                    .map_err(db_error)? as u64;
            }
            let mut owner = tx.prepare_cached(OWNER_SQL).map_err(db_error)?;
            let mut stanzas = tx.prepare_cached(STANZAS_SQL).map_err(db_error)?;
            let mut chunk = tx.prepare_cached(CHUNK_SQL).map_err(db_error)?;
            for c in chunks(accounts) {
                let id: Option<i64> = owner
                    .query_row(params![c.owner], |row| row.get(0))
                    .optional()
                    .map_err(db_error)?;
                let Some(id) = id else {
                    return Err(StoreError::Refused(format!(
                        "archive entry for {}, who has no account",
                        c.owner
                    )));
                };
                let place = stanzas.insert(params![c.stanzas]).map_err(db_error)?;
                chunk
                    .execute(params![id, place, c.n, c.first_ms, c.messages])
                    .map_err(db_error)?;
            }
            written += accounts.len() as u64;
        }
        tx.commit().map_err(db_error)?;
        Ok(written)
    }
}
