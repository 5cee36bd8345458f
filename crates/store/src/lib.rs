//! Persistent storage of Causerie: the [`Store`] (one sqlx `AnyPool` that runs the same
//! queries on SQLite and PostgreSQL), connecting and migrating, the error type, and the
//! re-exported per-area traits and types (accounts, roster, offline messages, vCards, the
//! school directory with its rules and access settings, multi-user rooms with their members
//! and archives, the accounts' one-to-one archive and its retention per structure; PEP nodes
//! and items, private XML storage; blocklists (XEP-0191) and last logouts (XEP-0012); push
//! registrations (XEP-0357); shared files (XEP-0363) and each structure's file sharing;
//! reports (« Signaler », XEP-0377) with their copied messages and notes, and each
//! structure's safety staff; moderated messages' tombstones in the archives; lawful
//! archive access grants, the purges per data class (closed reports, the audit log,
//! departed users) and each structure's pupils' photos; each structure's quiet hours and
//! kill switch (safety.rs); single sign-on sessions with the portal and their login
//! tokens (sso.rs); app passwords and each structure's choice of who may have them
//! (app_passwords.rs);
//! administrators, console sessions, account locks, the audit log).
//!
//! Nothing is cached here: every call reads the database, so an account created by another
//! process (the `causerie user add` CLI writing the SQLite file of a running server) is
//! visible at once.
//!
//! `user` / `username` arguments are account localparts ("alice"), already normalised by
//! the caller; `contact` arguments are bare JID strings ("bob@example.org").

pub mod account_archive;
pub mod accounts;
pub mod activity;
pub mod admin;
pub mod app_passwords;
mod archive_writer;
pub mod audit;
pub mod blocking;
pub mod collectivites;
mod credentials;
pub mod directory;
pub mod fast;
pub mod moderation;
pub mod offline;
mod paging;
pub mod pep;
pub mod privacy;
pub mod private;
pub mod push;
mod reader;
pub mod reports;
pub mod rooms;
pub mod roster;
pub mod safety;
pub mod sso;
pub mod uploads;
pub mod vcard;

use std::str::FromStr;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Row, Transaction};

pub use account_archive::{AccountArchiveEntry, AccountArchiveStore, AccountMessage};
pub use accounts::{AccountStore, Credentials, ScramCredential};
pub use activity::{ActivityStore, LastLogout};
pub use admin::{
    AdminGrant, AdminSession, AdminStore, AuditEntry, AuditQuery, GrantSource, GroupChange,
    ImportRecord, NewAudit,
};
pub use app_passwords::{AppPassword, AppPasswordStore, LoginCredentials};
pub use archive_writer::ArchiveWriter;
pub use blocking::BlockStore;
pub use collectivites::CollectiviteStore;
pub use directory::{Access, DirectoryStore, ImportReport};
pub use fast::{FastStore, FastToken};
pub use moderation::{Archived, ModerationStore};
pub use offline::{OfflineMessage, OfflineStore, Waiting};
pub use pep::{AccessModel, LastItem, PepItem, PepNode, PepQuota, PepStore, Published, SendLast};
pub use privacy::{ArchiveGrant, NewArchiveGrant, PrivacyStore, PrivateRow, UploadRow};
pub use private::{PrivateEntry, PrivateStore};
pub use push::{PushRegistration, PushStore};
pub use reports::{
    NewReport, Report, ReportDetail, ReportMessage, ReportNote, ReportOutcome, ReportReason,
    ReportStatus, ReportStore, ReportTarget,
};
pub use rooms::{
    AddMember, Affiliation, ArchiveEntry, ArchivePage, ArchiveQuery, ArchivedMessage, CreateRoom,
    Room, RoomMember, RoomStore,
};
pub use roster::{RosterItem, RosterStore, Subscription};
pub use safety::SafetyStore;
pub use sso::{SsoLogin, SsoStore};
pub use uploads::{NewUpload, SlotOutcome, Upload, UploadState, UploadStore};
pub use vcard::VcardStore;

/// Errors of every store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    /// The request refers to something that does not exist or contradicts itself (an
    /// unknown structure, class or user, a duplicate id); the message says which.
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid data in database: {0}")]
    Corrupt(String),
    /// The database refused a row (a constraint) written outside sqlx (archive_writer.rs).
    #[error("refused by the database: {0}")]
    Refused(String),
}

impl StoreError {
    /// The database answered and refused the statement (a constraint, a type), as
    /// opposed to not being reachable (pool timeout, connection lost, I/O).
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            StoreError::Database(sqlx::Error::Database(_)) | StoreError::Refused(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The database behind a [`Store`], chosen from the URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend for a connection URL: `sqlite:` or `postgres:` / `postgresql:`.
    pub fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// Each pooled SQLite connection's page cache: 256 KiB instead of SQLite's 2 MiB.
/// The file's pages are in the kernel's page cache anyway, so ten connections each
/// filling 2 MiB with the same pages were 20 MiB of duplicates (3.5 KiB per idle
/// connection at 5,000 in the benchmark), for no measurable gain in queries.
const SQLITE_CACHE_PRAGMA: &str = "PRAGMA cache_size = -256";

/// Busy timeout (10 s) of every SQLite connection: the CLI and the server write the same
/// file, a writer waits this long for the other one's lock instead of failing with SQLITE_BUSY.
const SQLITE_BUSY_TIMEOUT_PRAGMA: &str = "PRAGMA busy_timeout = 10000";

/// Migrations, embedded at build time (see `build.rs`). They are run on the `AnyPool`
/// itself: in sqlx-core 0.9 `AnyConnection` implements `Migrate` by delegating to the
/// concrete driver (SQLite or PostgreSQL), so the one `Migrator::run(&AnyPool)` keeps its
/// bookkeeping in the usual `_sqlx_migrations` table of each database (on PostgreSQL, in
/// the first schema of the search_path, guarded by sqlx's advisory lock).
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Handle on the database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Direct reads of the login's queries on a SQLite file (reader.rs); None otherwise.
    reader: Option<std::sync::Arc<reader::Reader>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

impl Store {
    /// Connects (creating the SQLite file when missing) and runs the migrations.
    ///
    /// URLs: `sqlite://PATH?mode=rwc` (WAL journal, foreign keys on, 10 s busy timeout) or
    /// `postgres://user@host/db` (PostgreSQL connection options such as
    /// `?options=-c%20search_path%3Dmyschema` are honoured).
    pub async fn connect(url: &str) -> Result<Store> {
        install_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                format!(
                    "unsupported database URL scheme in {:?} (expected sqlite: or postgres:)",
                    url.split_once(':').map_or(url, |(scheme, _)| scheme)
                )
                .into(),
            ))
        })?;
        let options = sqlx::any::AnyConnectOptions::from_str(url)?;
        let mut pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            // No ping before each acquire (sqlx's default): a SQLite connection is a file
            // handle that cannot go stale, and the ping is one more round trip to the
            // connection's worker thread (two thread wake-ups) before every query: a
            // sixth of a login's CPU in the login profile (BENCHMARKS.md).
            pool_options = pool_options.test_before_acquire(false);
            // sqlx's SQLite defaults already turn foreign keys on (5 s busy timeout); say it
            // explicitly on every new connection so the cascades never silently stop working.
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query(SQLITE_BUSY_TIMEOUT_PRAGMA)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query(SQLITE_CACHE_PRAGMA).execute(&mut *conn).await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options.connect_with(options).await?;
        let reader = match backend {
            Backend::Sqlite => reader::Reader::for_url(url).map(std::sync::Arc::new),
            Backend::Postgres => None,
        };
        let store = Store {
            pool,
            backend,
            reader,
        };
        match backend {
            Backend::Sqlite => {
                // WAL is a property of the file: set once here, every later connection (and
                // the other process) uses it. Readers then never block the writer.
                let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
                    .fetch_one(&store.pool)
                    .await?;
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(journal_mode = %mode, "SQLite database is not in WAL mode");
                }
                SQLITE_MIGRATOR.run(&store.pool).await?;
            }
            Backend::Postgres => POSTGRES_MIGRATOR.run(&store.pool).await?,
        }
        tracing::debug!(?backend, "store connected and migrated");
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Cheap check that the database answers (SELECT 1), for `causerie check` and readiness.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection of the pool; later calls fail with a pool-closed error.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the write
    /// lock is taken (waiting up to the busy timeout) before the first read, so a transaction
    /// never has to upgrade a read lock, which fails at once with SQLITE_BUSY in WAL mode.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Starts a read-only transaction whose statements all see one snapshot of the
    /// database (several queries that must agree): a deferred `BEGIN` on SQLite (in WAL mode
    /// the snapshot is taken at the first read), `REPEATABLE READ` on PostgreSQL.
    pub(crate) async fn begin_read(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?
            }
        })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The direct SQLite reader (reader.rs), when this store has one.
    pub(crate) fn reader(&self) -> Option<&reader::Reader> {
        self.reader.as_deref()
    }
}

/// Id of the account `username`, if any, read through `conn` (a pool or a transaction).
pub(crate) async fn account_id<'e, E>(conn: E, username: &str) -> Result<Option<i64>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM accounts WHERE username = $1")
            .bind(username.to_owned())
            .fetch_optional(conn)
            .await?,
    )
}

/// Reads a flag column: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite.
pub(crate) fn get_flag(row: &AnyRow, column: &str, backend: Backend) -> Result<bool> {
    match backend {
        Backend::Postgres => Ok(row.try_get::<bool, _>(column)?),
        Backend::Sqlite => match row.try_get::<i64, _>(column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(StoreError::Corrupt(format!(
                "flag {column} is {other}, expected 0 or 1"
            ))),
        },
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pooled SQLite connection gets the settings of `after_connect`, not only
    /// the first one.
    #[tokio::test]
    async fn every_sqlite_connection_has_its_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/s.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut conn = store.pool().acquire().await.unwrap();
            for (pragma, want) in [
                ("PRAGMA cache_size", -256),
                ("PRAGMA foreign_keys", 1),
                ("PRAGMA busy_timeout", 10_000),
            ] {
                let got: i64 = sqlx::query_scalar(pragma)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                assert_eq!(got, want, "{pragma}");
            }
            held.push(conn);
        }
        drop(held);
        store.close().await;
    }
}
