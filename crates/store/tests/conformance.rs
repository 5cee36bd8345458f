//! Conformance suite of `causerie_store`: every behaviour of the public API, written once as
//! an async fn over a `&Store` and run on both backends by the `conformance!` macro below:
//!
//! * `sqlite::*` — always, each test on its own database file in a fresh temp dir;
//! * `postgres::*` — when `CAUSERIE_TEST_POSTGRES_URL` is set (otherwise each prints a skip
//!   note and passes, for developers without PostgreSQL; but with
//!   `CAUSERIE_REQUIRE_POSTGRES=1`, as `.ci/run` sets it, each FAILS instead, and so does an
//!   unreachable server, always). Each test gets its own freshly created schema and connects with
//!   `options=-c search_path=<schema>`, so the migrations and all tables land in it; the
//!   schema is dropped afterwards (also when the test fails), so tests are isolated,
//!   parallel-safe and repeatable.
//!
//! Assertions check what a caller observes: values read back through the API.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::HashMap;

use causerie_ent::Retention;
use causerie_ent::{Class, Group, Profile, Rule, Scope, Snapshot, Structure, User};
use causerie_ent::{Collectivite, CollectiviteKind};
use causerie_store::CollectiviteStore;
use causerie_store::FastStore;
use causerie_store::SafetyStore;
use causerie_store::{
    Access, AccountArchiveEntry, AccountArchiveStore, AccountMessage, AccountStore, AddMember,
    AdminSession, AdminStore, Affiliation, ArchiveEntry, ArchiveQuery, ArchivedMessage, AuditQuery,
    Backend, CreateRoom, Credentials, DirectoryStore, GrantSource, GroupChange, ImportReport,
    NewAudit, OfflineMessage, OfflineStore, PushRegistration, PushStore, Room, RoomStore,
    RosterItem, RosterStore, ScramCredential, Store, StoreError, Subscription, VcardStore, Waiting,
};
use causerie_store::{
    AccessModel, PepItem, PepNode, PepQuota, PepStore, PrivateEntry, PrivateStore, Published,
    SendLast,
};
use causerie_store::{ActivityStore, BlockStore, LastLogout};
use causerie_store::{AppPasswordStore, LoginCredentials};
use causerie_store::{ModerationStore, NewUpload, SlotOutcome, UploadState, UploadStore};
use causerie_store::{NewArchiveGrant, PrivacyStore};
use causerie_store::{
    NewReport, ReportOutcome, ReportReason, ReportStatus, ReportStore, ReportTarget,
};
use sqlx::Connection;

const POSTGRES_ENV: &str = "CAUSERIE_TEST_POSTGRES_URL";
/// Set to `1` where the PostgreSQL half must run (CI): a missing URL is then a failure.
const REQUIRE_ENV: &str = "CAUSERIE_REQUIRE_POSTGRES";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// Runs `test` in its own task so that a failing assertion still lets the caller clean up,
/// then re-raises the panic.
async fn run_isolated<F, Fut>(store: Store, url: String, test: F) -> std::thread::Result<()>
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(test(store.clone(), url)).await;
    store.close().await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(e.into_panic()),
        Err(e) => panic!("test task failed: {e}"),
    }
}

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("causerie.db").display()
    );
    let store = Store::connect(&url).await.expect("connect to SQLite");
    assert_eq!(store.backend(), Backend::Sqlite);
    let outcome = run_isolated(store, url, test).await;
    drop(dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Appends a query parameter to a URL that may already have some.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// A schema name unique to this process and call: `causerie_t_<pid>_<nanos>_<n>`.
fn unique_schema() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "causerie_t_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Says a PostgreSQL test is skipped: per test in its (captured) output, and once per run
/// straight on stderr, which the test harness does not capture, so it shows in every run.
fn skip_note(test_name: &str) {
    use std::io::Write;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: {POSTGRES_ENV} is not set: the postgres::* conformance tests are SKIPPED \
             (they pass without running); set it, e.g. to postgres://postgres@127.0.0.1:5432/test"
        );
    });
    eprintln!("SKIPPED postgres::{test_name}: {POSTGRES_ENV} is not set");
}

/// The PostgreSQL URL to test on, from the values of [`POSTGRES_ENV`] and [`REQUIRE_ENV`]:
/// Ok(None) to skip (no URL, not required), Err when the run requires PostgreSQL and has
/// no URL (an empty value counts as none).
fn postgres_url(url: Option<String>, require: Option<String>) -> Result<Option<String>, String> {
    let url = url.filter(|u| !u.trim().is_empty());
    match (url, require.as_deref().map(str::trim)) {
        (Some(url), _) => Ok(Some(url)),
        (None, Some("1")) => Err(format!(
            "{REQUIRE_ENV}=1 but {POSTGRES_ENV} is not set: the postgres::* conformance tests \
             must run here and cannot"
        )),
        (None, _) => Ok(None),
    }
}

/// A fresh schema on the PostgreSQL test server, and the URL of a connection whose
/// search_path is that schema. None (after a skip note) when the env var is unset and
/// PostgreSQL is not required; a panic when it is required, or unreachable.
async fn postgres_schema(test_name: &str) -> Option<(String, String, String)> {
    let base = match postgres_url(
        std::env::var(POSTGRES_ENV).ok(),
        std::env::var(REQUIRE_ENV).ok(),
    ) {
        Ok(Some(base)) => base,
        Ok(None) => {
            skip_note(test_name);
            return None;
        }
        Err(why) => panic!("{why}"),
    };
    let schema = unique_schema();
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to the PostgreSQL test server ({POSTGRES_ENV}): {e}")
        });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut admin)
        .await
        .expect("create test schema");
    admin.close().await.ok();
    // `options=-c search_path=<schema>` (URL-encoded), passed by the Any driver to
    // PgConnectOptions: every pooled connection of the store works inside the schema.
    let url = with_param(&base, &format!("options=-c%20search_path%3D{schema}"));
    Some((base, schema, url))
}

async fn drop_postgres_schema(base: &str, schema: &str) {
    let mut admin = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&mut admin)
    .await
    .expect("drop test schema");
    admin.close().await.ok();
}

async fn on_postgres<F, Fut>(test_name: &str, test: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some((base, schema, url)) = postgres_schema(test_name).await else {
        return;
    };
    let outcome = match Store::connect(&url).await {
        Ok(store) => {
            assert_eq!(store.backend(), Backend::Postgres);
            run_isolated(store, url, test).await
        }
        Err(e) => Err(Box::new(format!("connect to PostgreSQL: {e}")) as _),
    };
    drop_postgres_schema(&base, &schema).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Declares one test per backend for every suite function. `single` functions take the
/// `&Store`; `two_stores` functions take it plus a second `Store` connected to the same
/// database (as the `causerie user add` CLI and the running server are).
macro_rules! conformance {
    (single: [$($single:ident),* $(,)?], two_stores: [$($two:ident),* $(,)?],
     raw: [$($raw:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $single() {
                    crate::on_sqlite(|store, _url| async move { crate::$single(&store).await })
                        .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $two() {
                    crate::on_sqlite(|store, url| async move {
                        let other = causerie_store::Store::connect(&url).await.expect("second store");
                        crate::$two(&store, &other).await;
                        other.close().await;
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $raw() {
                    crate::on_sqlite(|store, url| async move { crate::$raw(&store, &url).await })
                        .await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $single() {
                    crate::on_postgres(stringify!($single), |store, _url| async move {
                        crate::$single(&store).await
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $two() {
                    crate::on_postgres(stringify!($two), |store, url| async move {
                        let other = causerie_store::Store::connect(&url).await.expect("second store");
                        crate::$two(&store, &other).await;
                        other.close().await;
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $raw() {
                    crate::on_postgres(stringify!($raw), |store, url| async move {
                        crate::$raw(&store, &url).await
                    })
                    .await;
                }
            )*
        }
    };
}

conformance! {
    single: [
        connect_ping_and_backend,
        create_account_and_read_credentials,
        duplicate_account_is_rejected,
        set_credentials_replaces_them,
        delete_account_cascades_to_all_its_data,
        list_accounts_is_sorted,
        roster_put_and_read_back,
        roster_flags_are_independent,
        roster_put_replaces_item_and_groups,
        roster_remove_item,
        roster_is_per_user,
        users_with_contact_lists_rosters_holding_it,
        pending_in_upsert_order_and_remove,
        refusals_last_until_lifted,
        incremental_changes_write_their_audit_row_with_them,
        offline_store_and_read_oldest_first,
        offline_waiting_reads_requests_and_messages_together,
        offline_cap_per_user,
        offline_cap_holds_under_concurrency,
        offline_delete_up_to_id,
        vcard_set_and_replace,
        pep_publish_autocreates_and_keeps_the_newest,
        pep_nodes_configure_retract_delete,
        pep_quotas_hold,
        pep_last_items_of_many_owners,
        pep_and_private_go_with_the_account,
        private_storage_round_trips_per_account,
        blocklists_block_unblock_and_cascade,
        roster_version_moves_with_every_write,
        roster_and_version_are_read_together,
        last_logout_is_kept_per_account,
        push_enable_disable_and_bound,
        push_registrations_go_with_the_account,
        unknown_user_reads_are_empty_and_writes_not_found,
        directory_import_creates_accounts_and_rows,
        directory_reimport_is_idempotent,
        directory_absent_user_is_deactivated_then_reactivated,
        directory_moving_a_pupil_changes_his_class,
        directory_import_removes_absent_classes_groups_structures,
        directory_import_credentials,
        directory_rules_set_get_reset,
        directory_access_set_get,
        collectivites_import_sync_and_read_back,
        collectivite_access_and_grants_are_audited,
        directory_rules_and_access_survive_reimport,
        directory_every_change_bumps_generation,
        directory_incremental_changes,
        directory_failing_import_changes_nothing,
        directory_delete_account_removes_directory_rows,
        rooms_create_read_and_configure,
        rooms_members_and_their_limits,
        rooms_member_limits_hold_under_concurrency,
        rooms_archive_pages_forward_and_backward,
        rooms_archive_batches_keep_order_and_skip_taken_ids,
        rooms_deleted_room_keeps_its_archive_until_purged,
        rooms_locked_rooms_are_deleted_together,
        rooms_deleting_an_account_ends_its_memberships,
        account_archive_pages_per_owner,
        account_archive_batches_with_rooms_and_refuse_unknown_owners,
        account_archive_retention_is_audited,
        moderation_replaces_room_messages_with_tombstones,
        moderation_replaces_both_copies_and_drops_offline_ones,
        uploads_slots_are_single_use_and_bounded,
        uploads_settings_are_audited,
        quiet_hours_and_kill_switch_are_audited_and_move_the_generation,
        uploads_purge_per_structure,
        reports_copy_context_from_the_reporters_archive_only,
        reports_in_rooms_and_without_messages,
        reports_are_limited_per_hour,
        reports_status_notes_and_safety_staff_are_audited,
        admin_grants_from_import_and_by_hand,
        admin_super_admins,
        admin_sessions_and_login_failures,
        admin_lock_is_audited_and_goes_with_the_account,
        admin_access_and_rules_changes_are_audited_atomically,
        admin_group_changes_are_audited_atomically,
        admin_audit_log_filters_and_pages,
        admin_imports_are_recorded,
        archive_grants_are_audited,
        pupil_photos_are_audited,
        fast_tokens_issue_rotate_replay_and_revoke,
        sso_tokens_are_single_use_and_sessions_end_by_ticket,
        app_passwords_are_kept_as_keys_listed_and_revoked,
        app_password_policy_is_per_structure_and_audited,
    ],
    two_stores: [
        second_store_sees_account_at_once,
        concurrent_writers_on_two_stores,
        directory_changes_seen_by_second_store,
    ],
    raw: [
        account_archive_purge_deletes_rows_per_structure,
        closed_reports_and_old_audit_rows_are_purged,
        room_archive_purge_is_for_real,
        departed_users_are_purged_with_their_data,
    ],
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

fn cred(seed: u8, iterations: u32) -> ScramCredential {
    ScramCredential {
        salt: vec![seed; 16],
        iterations,
        stored_key: (0..20).map(|i| seed.wrapping_add(i)).collect(),
        server_key: (0..20)
            .map(|i| seed.wrapping_mul(3).wrapping_add(i))
            .collect(),
    }
}

fn creds(seed: u8) -> Credentials {
    Credentials {
        sha1: cred(seed, 4096),
        sha256: ScramCredential {
            // SHA-256 keys are 32 bytes; different from the SHA-1 ones on purpose.
            stored_key: vec![seed ^ 0x5a; 32],
            server_key: vec![seed ^ 0xa5; 32],
            ..cred(seed.wrapping_add(1), 8192)
        },
    }
}

fn item(contact: &str) -> RosterItem {
    RosterItem::new(contact)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn message(to: &str, body: &str) -> String {
    format!("<message xmlns='jabber:client' to='{to}' type='chat'><body>{body}</body></message>")
}

fn subscribe(from: &str, status: &str) -> String {
    format!(
        "<presence xmlns='jabber:client' from='{from}' to='alice@school.example' \
         type='subscribe'><status>{status}</status></presence>"
    )
}

// ---------------------------------------------------------------------------------------
// Suite
// ---------------------------------------------------------------------------------------

async fn connect_ping_and_backend(store: &Store) {
    store.ping().await.expect("ping");
    // A fresh database holds nothing.
    assert_eq!(store.list_accounts().await.unwrap(), Vec::<String>::new());
}

async fn create_account_and_read_credentials(store: &Store) {
    assert!(!store.account_exists("alice").await.unwrap());
    assert_eq!(store.credentials("alice").await.unwrap(), None);

    let alice = creds(1);
    store.create_account("alice", &alice).await.unwrap();

    assert!(store.account_exists("alice").await.unwrap());
    assert_eq!(
        store.credentials("alice").await.unwrap(),
        Some(alice.clone())
    );
    // The two hash functions are kept apart.
    let read = store.credentials("alice").await.unwrap().unwrap();
    assert_ne!(read.sha1, read.sha256);
    assert_eq!(read.sha1.iterations, 4096);
    assert_eq!(read.sha256.iterations, 8192);
    // Other names are unaffected, and lookups are exact (no case folding here: the caller
    // normalises).
    assert!(!store.account_exists("bob").await.unwrap());
    assert!(!store.account_exists("Alice").await.unwrap());
    assert_eq!(store.credentials("bob").await.unwrap(), None);
    assert_eq!(store.list_accounts().await.unwrap(), strings(&["alice"]));
}

async fn duplicate_account_is_rejected(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let err = store.create_account("alice", &creds(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "got {err:?}");
    // The first account's credentials are untouched and there is still one account.
    assert_eq!(store.credentials("alice").await.unwrap(), Some(creds(1)));
    assert_eq!(store.list_accounts().await.unwrap(), strings(&["alice"]));
}

async fn set_credentials_replaces_them(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(7)).await.unwrap();

    let mut new = creds(9);
    new.sha256.iterations = u32::MAX; // the full u32 range round-trips
    new.sha1.salt = b"salt with \0 and \xff bytes".to_vec();
    store.set_credentials("alice", &new).await.unwrap();
    assert_eq!(store.credentials("alice").await.unwrap(), Some(new));
    // Only alice changed.
    assert_eq!(store.credentials("bob").await.unwrap(), Some(creds(7)));

    let err = store
        .set_credentials("nobody", &creds(3))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");
    assert!(!store.account_exists("nobody").await.unwrap());
}

async fn delete_account_cascades_to_all_its_data(store: &Store) {
    store.create_account("bob", &creds(2)).await.unwrap();
    // alice is created last on purpose: on SQLite a recreated account may get the same
    // row id again, so orphaned rows left by a missing cascade would show up below.
    store.create_account("alice", &creds(1)).await.unwrap();

    let mut carol = item("carol@school.example");
    carol.groups = strings(&["Classe 5B", "Amis"]);
    carol.subscription = Subscription::Both;
    store.put_roster_item("alice", &carol).await.unwrap();
    store
        .put_roster_item("alice", &item("bob@school.example"))
        .await
        .unwrap();
    store
        .add_pending_in(
            "alice",
            "dave@school.example",
            &subscribe("dave@school.example", "hi"),
        )
        .await
        .unwrap();
    assert!(
        store
            .store_offline("alice", &message("alice@school.example", "1"), 1, 100)
            .await
            .unwrap()
    );
    store
        .set_vcard("alice", "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>")
        .await
        .unwrap();
    // bob's own data mentioning alice is bob's, not alice's.
    store
        .put_roster_item("bob", &item("alice@school.example"))
        .await
        .unwrap();
    store
        .put_roster_item("bob", &item("carol@school.example"))
        .await
        .unwrap();

    store.delete_account("alice").await.unwrap();

    assert!(!store.account_exists("alice").await.unwrap());
    assert_eq!(store.credentials("alice").await.unwrap(), None);
    assert_eq!(store.roster("alice").await.unwrap(), vec![]);
    assert_eq!(store.pending_in("alice").await.unwrap(), vec![]);
    assert_eq!(store.offline_count("alice").await.unwrap(), 0);
    assert_eq!(store.vcard("alice").await.unwrap(), None);
    assert_eq!(
        store
            .users_with_contact("carol@school.example")
            .await
            .unwrap(),
        strings(&["bob"])
    );
    assert_eq!(store.list_accounts().await.unwrap(), strings(&["bob"]));
    // bob is untouched.
    assert_eq!(store.credentials("bob").await.unwrap(), Some(creds(2)));
    assert_eq!(store.roster("bob").await.unwrap().len(), 2);

    // Deleting again: not found.
    let err = store.delete_account("alice").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");

    // A new account with the same name starts empty.
    store.create_account("alice", &creds(5)).await.unwrap();
    assert_eq!(store.credentials("alice").await.unwrap(), Some(creds(5)));
    assert_eq!(store.roster("alice").await.unwrap(), vec![]);
    assert_eq!(
        store
            .roster_item("alice", "carol@school.example")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.pending_in("alice").await.unwrap(), vec![]);
    assert_eq!(store.offline_count("alice").await.unwrap(), 0);
    assert_eq!(store.offline_messages("alice").await.unwrap(), vec![]);
    assert_eq!(store.vcard("alice").await.unwrap(), None);
    // Its first roster item has no leftover groups.
    store
        .put_roster_item("alice", &item("carol@school.example"))
        .await
        .unwrap();
    assert_eq!(
        store
            .roster_item("alice", "carol@school.example")
            .await
            .unwrap()
            .unwrap()
            .groups,
        Vec::<String>::new()
    );
}

async fn list_accounts_is_sorted(store: &Store) {
    assert_eq!(store.list_accounts().await.unwrap(), Vec::<String>::new());
    for name in ["zoe", "alice", "mallory", "bob", "Bob", "alice.b", "élodie"] {
        store.create_account(name, &creds(1)).await.unwrap();
    }
    // Byte-wise order (the same on every backend and collation).
    assert_eq!(
        store.list_accounts().await.unwrap(),
        strings(&["Bob", "alice", "alice.b", "bob", "mallory", "zoe", "élodie"])
    );
    store.delete_account("mallory").await.unwrap();
    assert_eq!(
        store.list_accounts().await.unwrap(),
        strings(&["Bob", "alice", "alice.b", "bob", "zoe", "élodie"])
    );
}

async fn roster_put_and_read_back(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    assert_eq!(store.roster("alice").await.unwrap(), vec![]);

    let carol = RosterItem {
        contact: "carol@school.example".into(),
        name: Some("Carol « la déléguée » O'Neil".into()),
        subscription: Subscription::Both,
        ask: false,
        approved: false,
        refused: false,
        groups: strings(&["Classe 5B", "Amis"]),
    };
    let bob = RosterItem {
        contact: "bob@school.example".into(),
        name: None,
        subscription: Subscription::To,
        ask: true,
        approved: true,
        refused: true,
        groups: vec![],
    };
    let dave = RosterItem {
        contact: "dave@other.example".into(),
        name: Some(String::new()),
        subscription: Subscription::From,
        ask: false,
        approved: true,
        refused: false,
        groups: strings(&["Profs"]),
    };
    let erin = RosterItem {
        subscription: Subscription::None,
        ..item("erin@school.example")
    };
    for it in [&carol, &bob, &dave, &erin] {
        store.put_roster_item("alice", it).await.unwrap();
    }

    let expect = |it: &RosterItem| RosterItem {
        groups: sorted(it.groups.clone()),
        ..it.clone()
    };
    // One item: exactly what was put (groups compared as a set).
    let read = store
        .roster_item("alice", "carol@school.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        RosterItem {
            groups: sorted(read.groups.clone()),
            ..read
        },
        expect(&carol)
    );
    assert_eq!(
        store
            .roster_item("alice", "bob@school.example")
            .await
            .unwrap(),
        Some(expect(&bob))
    );
    assert_eq!(
        store
            .roster_item("alice", "nobody@school.example")
            .await
            .unwrap(),
        None
    );

    // The whole roster, sorted by contact.
    let roster: Vec<RosterItem> = store
        .roster("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|it| RosterItem {
            groups: sorted(it.groups.clone()),
            ..it
        })
        .collect();
    assert_eq!(
        roster,
        vec![expect(&bob), expect(&carol), expect(&dave), expect(&erin)]
    );
    // Every subscription value round-trips.
    let subs: Vec<Subscription> = roster.iter().map(|it| it.subscription).collect();
    assert_eq!(
        subs,
        vec![
            Subscription::To,
            Subscription::Both,
            Subscription::From,
            Subscription::None
        ]
    );
}

async fn roster_flags_are_independent(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let flags = [
        (false, false, false),
        (true, false, false),
        (false, true, false),
        (false, false, true),
        (true, true, false),
        (false, true, true),
        (true, false, true),
        (true, true, true),
    ];
    for (n, (ask, approved, refused)) in flags.iter().enumerate() {
        let it = RosterItem {
            ask: *ask,
            approved: *approved,
            refused: *refused,
            ..item(&format!("c{n}@school.example"))
        };
        store.put_roster_item("alice", &it).await.unwrap();
    }
    let read: Vec<(bool, bool, bool)> = store
        .roster("alice")
        .await
        .unwrap()
        .iter()
        .map(|it| (it.ask, it.approved, it.refused))
        .collect();
    assert_eq!(read, flags.to_vec());
}

async fn roster_put_replaces_item_and_groups(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let first = RosterItem {
        contact: "carol@school.example".into(),
        name: Some("Carol".into()),
        subscription: Subscription::None,
        ask: true,
        approved: false,
        refused: true,
        groups: strings(&["A", "B"]),
    };
    store.put_roster_item("alice", &first).await.unwrap();

    let second = RosterItem {
        contact: "carol@school.example".into(),
        name: None,
        subscription: Subscription::Both,
        ask: false,
        approved: true,
        refused: false,
        groups: strings(&["C", "B"]),
    };
    store.put_roster_item("alice", &second).await.unwrap();
    let read = store
        .roster_item("alice", "carol@school.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.name, None);
    assert_eq!(read.subscription, Subscription::Both);
    assert_eq!(
        (read.ask, read.approved, read.refused),
        (false, true, false)
    );
    assert_eq!(sorted(read.groups), strings(&["B", "C"]));
    // Still one item, not two.
    assert_eq!(store.roster("alice").await.unwrap().len(), 1);

    // Duplicate group names are stored once.
    let dup = RosterItem {
        groups: strings(&["X", "X", "Y"]),
        ..second.clone()
    };
    store.put_roster_item("alice", &dup).await.unwrap();
    let read = store
        .roster_item("alice", "carol@school.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sorted(read.groups), strings(&["X", "Y"]));

    // No groups at all.
    let none = RosterItem {
        groups: vec![],
        ..second
    };
    store.put_roster_item("alice", &none).await.unwrap();
    let roster = store.roster("alice").await.unwrap();
    assert_eq!(roster, vec![none]);
}

async fn roster_remove_item(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let carol = RosterItem {
        groups: strings(&["Amis"]),
        ..item("carol@school.example")
    };
    store.put_roster_item("alice", &carol).await.unwrap();
    store
        .put_roster_item("alice", &item("bob@school.example"))
        .await
        .unwrap();

    assert!(
        store
            .remove_roster_item("alice", "carol@school.example")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .roster_item("alice", "carol@school.example")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.roster("alice").await.unwrap(),
        vec![item("bob@school.example")]
    );
    // Removing again, or something never there: false.
    assert!(
        !store
            .remove_roster_item("alice", "carol@school.example")
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_roster_item("alice", "zed@school.example")
            .await
            .unwrap()
    );
    // Re-adding it without groups does not resurrect the old ones.
    store
        .put_roster_item("alice", &item("carol@school.example"))
        .await
        .unwrap();
    assert_eq!(
        store
            .roster_item("alice", "carol@school.example")
            .await
            .unwrap(),
        Some(item("carol@school.example"))
    );
}

async fn roster_is_per_user(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    let for_alice = RosterItem {
        name: Some("Carol (alice)".into()),
        subscription: Subscription::Both,
        groups: strings(&["A"]),
        ..item("carol@school.example")
    };
    let for_bob = RosterItem {
        name: Some("Carol (bob)".into()),
        subscription: Subscription::To,
        groups: strings(&["B"]),
        ..item("carol@school.example")
    };
    store.put_roster_item("alice", &for_alice).await.unwrap();
    store.put_roster_item("bob", &for_bob).await.unwrap();
    assert_eq!(
        store.roster("alice").await.unwrap(),
        vec![for_alice.clone()]
    );
    assert_eq!(store.roster("bob").await.unwrap(), vec![for_bob]);
    assert!(
        store
            .remove_roster_item("bob", "carol@school.example")
            .await
            .unwrap()
    );
    assert_eq!(store.roster("bob").await.unwrap(), vec![]);
    assert_eq!(store.roster("alice").await.unwrap(), vec![for_alice]);
}

async fn users_with_contact_lists_rosters_holding_it(store: &Store) {
    for name in ["zoe", "alice", "bob", "dave"] {
        store.create_account(name, &creds(1)).await.unwrap();
    }
    for user in ["zoe", "alice", "bob"] {
        store
            .put_roster_item(user, &item("carol@school.example"))
            .await
            .unwrap();
    }
    store
        .put_roster_item("dave", &item("erin@school.example"))
        .await
        .unwrap();

    assert_eq!(
        store
            .users_with_contact("carol@school.example")
            .await
            .unwrap(),
        strings(&["alice", "bob", "zoe"])
    );
    assert_eq!(
        store
            .users_with_contact("erin@school.example")
            .await
            .unwrap(),
        strings(&["dave"])
    );
    assert_eq!(
        store
            .users_with_contact("nobody@school.example")
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    store
        .remove_roster_item("alice", "carol@school.example")
        .await
        .unwrap();
    assert_eq!(
        store
            .users_with_contact("carol@school.example")
            .await
            .unwrap(),
        strings(&["bob", "zoe"])
    );
}

async fn pending_in_upsert_order_and_remove(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    let (b1, c1, d1) = (
        subscribe("bob@school.example", "1"),
        subscribe("carol@school.example", "Bonjour, c'est « Carol »\nligne 2"),
        subscribe("dave@school.example", "3"),
    );
    // No roster item is needed.
    store
        .add_pending_in("alice", "bob@school.example", &b1)
        .await
        .unwrap();
    store
        .add_pending_in("alice", "carol@school.example", &c1)
        .await
        .unwrap();
    store
        .add_pending_in("alice", "dave@school.example", &d1)
        .await
        .unwrap();
    assert_eq!(store.roster("alice").await.unwrap(), vec![]);
    assert_eq!(
        store.pending_in("alice").await.unwrap(),
        vec![
            ("bob@school.example".to_string(), b1.clone()),
            ("carol@school.example".to_string(), c1.clone()),
            ("dave@school.example".to_string(), d1.clone()),
        ]
    );

    // Upsert: one entry per contact, the stanza replaced, the place kept.
    let c2 = subscribe("carol@school.example", "encore moi");
    store
        .add_pending_in("alice", "carol@school.example", &c2)
        .await
        .unwrap();
    assert_eq!(
        store.pending_in("alice").await.unwrap(),
        vec![
            ("bob@school.example".to_string(), b1.clone()),
            ("carol@school.example".to_string(), c2.clone()),
            ("dave@school.example".to_string(), d1.clone()),
        ]
    );

    assert!(
        store
            .has_pending_in("alice", "carol@school.example")
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_pending_in("alice", "erin@school.example")
            .await
            .unwrap()
    );
    // Per user.
    assert!(
        !store
            .has_pending_in("bob", "carol@school.example")
            .await
            .unwrap()
    );
    assert_eq!(store.pending_in("bob").await.unwrap(), vec![]);

    assert!(
        store
            .remove_pending_in("alice", "carol@school.example")
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_pending_in("alice", "carol@school.example")
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_pending_in("alice", "carol@school.example")
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_pending_in("bob", "bob@school.example")
            .await
            .unwrap()
    );
    assert_eq!(
        store.pending_in("alice").await.unwrap(),
        vec![
            ("bob@school.example".to_string(), b1),
            ("dave@school.example".to_string(), d1),
        ]
    );
    // A request made again after removal goes last.
    store
        .add_pending_in("alice", "carol@school.example", &c2)
        .await
        .unwrap();
    let order: Vec<String> = store
        .pending_in("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(
        order,
        strings(&[
            "bob@school.example",
            "dave@school.example",
            "carol@school.example"
        ])
    );
}

async fn offline_store_and_read_oldest_first(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert_eq!(store.offline_count("alice").await.unwrap(), 0);
    assert_eq!(store.offline_messages("alice").await.unwrap(), vec![]);

    let stanzas = [
        message("alice@school.example", "premier « message »"),
        message("alice@school.example", "second\n<&>"),
        message("alice@school.example", "third"),
    ];
    // Stamps deliberately not in arrival order: the order is the arrival order.
    let stamps = [1_700_000_000_300_i64, 1_700_000_000_100, 1_700_000_000_200];
    for (i, (stanza, stamp)) in stanzas.iter().zip(stamps).enumerate() {
        assert!(
            store
                .store_offline("alice", stanza, stamp, 10)
                .await
                .unwrap()
        );
        if i == 0 {
            // Interleave another user's message.
            assert!(
                store
                    .store_offline("bob", &message("bob@school.example", "x"), 5, 10)
                    .await
                    .unwrap()
            );
        }
    }
    assert_eq!(store.offline_count("alice").await.unwrap(), 3);
    assert_eq!(store.offline_count("bob").await.unwrap(), 1);

    let read = store.offline_messages("alice").await.unwrap();
    let got: Vec<(String, i64)> = read
        .iter()
        .map(|m| (m.stanza.clone(), m.stamp_ms))
        .collect();
    let want: Vec<(String, i64)> = stanzas.iter().cloned().zip(stamps).collect();
    assert_eq!(got, want);
    assert!(
        read.windows(2).all(|w| w[0].id < w[1].id),
        "ids grow with arrival: {read:?}"
    );
    let bob = store.offline_messages("bob").await.unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].stanza, message("bob@school.example", "x"));
    assert_eq!(bob[0].stamp_ms, 5);
}

async fn offline_waiting_reads_requests_and_messages_together(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert_eq!(store.waiting("alice").await.unwrap(), Waiting::default());
    assert_eq!(store.waiting("nobody").await.unwrap(), Waiting::default());
    let sub = |from: &str| {
        format!(
            "<presence xmlns='jabber:client' from='{from}' to='alice@school.example' type='subscribe'/>"
        )
    };
    store
        .add_pending_in("alice", "dave@school.example", &sub("dave@school.example"))
        .await
        .unwrap();
    for (n, stamp) in [("un", 30), ("deux", 10)] {
        assert!(
            store
                .store_offline("alice", &message("alice@school.example", n), stamp, 10)
                .await
                .unwrap()
        );
    }
    store
        .add_pending_in(
            "alice",
            "carol@school.example",
            &sub("carol@school.example"),
        )
        .await
        .unwrap();
    store
        .add_pending_in("bob", "dave@school.example", &sub("dave@school.example"))
        .await
        .unwrap();
    let w = store.waiting("alice").await.unwrap();
    assert_eq!(
        w.pending_in,
        store.pending_in("alice").await.unwrap(),
        "the same requests as pending_in, in the same order"
    );
    assert_eq!(w.pending_in.len(), 2);
    assert_eq!(w.pending_in[0].0, "dave@school.example");
    assert_eq!(w.pending_in[1].1, sub("carol@school.example"));
    assert_eq!(
        w.messages,
        store.offline_messages("alice").await.unwrap(),
        "the same messages as offline_messages, oldest first"
    );
    assert_eq!(w.messages.len(), 2);
    assert_eq!(w.messages[1].stamp_ms, 10);
    let bob = store.waiting("bob").await.unwrap();
    assert_eq!((bob.pending_in.len(), bob.messages.len()), (1, 0));
}

async fn offline_cap_per_user(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    let m = |n: u32| message("alice@school.example", &n.to_string());

    assert!(store.store_offline("alice", &m(1), 1, 2).await.unwrap());
    assert!(store.store_offline("alice", &m(2), 2, 2).await.unwrap());
    assert!(!store.store_offline("alice", &m(3), 3, 2).await.unwrap());
    assert_eq!(store.offline_count("alice").await.unwrap(), 2);
    let stored: Vec<String> = store
        .offline_messages("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.stanza)
        .collect();
    assert_eq!(stored, vec![m(1), m(2)]);
    // "max or more": a lower cap than what is stored also refuses.
    assert!(!store.store_offline("alice", &m(4), 4, 1).await.unwrap());
    assert!(!store.store_offline("alice", &m(4), 4, 0).await.unwrap());
    assert_eq!(store.offline_count("alice").await.unwrap(), 2);
    // The cap is per user.
    assert!(store.store_offline("bob", &m(5), 5, 2).await.unwrap());
    assert_eq!(store.offline_count("bob").await.unwrap(), 1);
    // Room again once delivered messages are deleted.
    let first = store.offline_messages("alice").await.unwrap()[0].id;
    assert_eq!(store.delete_offline("alice", first).await.unwrap(), 1);
    assert!(store.store_offline("alice", &m(6), 6, 2).await.unwrap());
    let stored: Vec<String> = store
        .offline_messages("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.stanza)
        .collect();
    assert_eq!(stored, vec![m(2), m(6)]);
}

async fn offline_cap_holds_under_concurrency(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .store_offline(
                    "alice",
                    &message("alice@school.example", &n.to_string()),
                    n,
                    5,
                )
                .await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        if task.await.expect("task").expect("store_offline") {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 5);
    assert_eq!(store.offline_count("alice").await.unwrap(), 5);
    assert_eq!(store.offline_messages("alice").await.unwrap().len(), 5);
}

async fn offline_delete_up_to_id(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    for n in 1..=3 {
        assert!(
            store
                .store_offline("bob", &message("bob@school.example", &n.to_string()), n, 10)
                .await
                .unwrap()
        );
        assert!(
            store
                .store_offline(
                    "alice",
                    &message("alice@school.example", &n.to_string()),
                    n,
                    10
                )
                .await
                .unwrap()
        );
    }
    let alice = store.offline_messages("alice").await.unwrap();
    assert_eq!(alice.len(), 3);

    // Delete up to (and including) the second one.
    assert_eq!(store.delete_offline("alice", alice[1].id).await.unwrap(), 2);
    let rest: Vec<OfflineMessage> = store.offline_messages("alice").await.unwrap();
    assert_eq!(rest, vec![alice[2].clone()]);
    assert_eq!(store.offline_count("alice").await.unwrap(), 1);
    // bob's messages (some with lower ids) are untouched.
    assert_eq!(store.offline_count("bob").await.unwrap(), 3);

    // Nothing left below that id.
    assert_eq!(store.delete_offline("alice", alice[1].id).await.unwrap(), 0);
    // A message stored after the read keeps its place past the delivered ones.
    assert!(
        store
            .store_offline("alice", &message("alice@school.example", "4"), 4, 10)
            .await
            .unwrap()
    );
    assert_eq!(store.delete_offline("alice", alice[2].id).await.unwrap(), 1);
    let rest = store.offline_messages("alice").await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].stanza, message("alice@school.example", "4"));
    assert!(rest[0].id > alice[2].id);

    assert_eq!(store.delete_offline("bob", i64::MAX).await.unwrap(), 3);
    assert_eq!(store.offline_count("bob").await.unwrap(), 0);
    assert_eq!(store.offline_count("alice").await.unwrap(), 1);
}

async fn vcard_set_and_replace(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert_eq!(store.vcard("alice").await.unwrap(), None);

    let v1 = "<vCard xmlns='vcard-temp'><FN>Alice Dupré</FN><NICKNAME>« Lili »</NICKNAME></vCard>";
    store.set_vcard("alice", v1).await.unwrap();
    assert_eq!(store.vcard("alice").await.unwrap().as_deref(), Some(v1));
    assert_eq!(store.vcard("bob").await.unwrap(), None);

    let v2 = "<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE>\
              <BINVAL>iVBORw0KGgo=</BINVAL></PHOTO></vCard>";
    store.set_vcard("alice", v2).await.unwrap();
    assert_eq!(store.vcard("alice").await.unwrap().as_deref(), Some(v2));

    let vb = "<vCard xmlns='vcard-temp'/>";
    store.set_vcard("bob", vb).await.unwrap();
    assert_eq!(store.vcard("bob").await.unwrap().as_deref(), Some(vb));
    assert_eq!(store.vcard("alice").await.unwrap().as_deref(), Some(v2));
}

fn pitem(id: &str, xml: &str) -> PepItem {
    PepItem {
        id: id.into(),
        xml: xml.into(),
    }
}

const QUOTA: PepQuota = PepQuota {
    max_nodes: 10,
    max_bytes: 100_000,
};

fn item_ids(items: &[PepItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

async fn pep_publish_autocreates_and_keeps_the_newest(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert_eq!(
        store
            .pep_node("alice", "urn:xmpp:bookmarks:1")
            .await
            .unwrap(),
        None
    );
    let mut config = PepNode::new("urn:xmpp:bookmarks:1");
    config.access_model = AccessModel::Whitelist;
    config.max_items = 3;
    config.send_last = SendLast::Never;
    let r = store
        .pep_publish("alice", &config, &pitem("a", "<x xmlns='u'>1</x>"), QUOTA)
        .await
        .unwrap();
    assert_eq!(r, Published::Stored { created: true });
    assert_eq!(
        store
            .pep_node("alice", "urn:xmpp:bookmarks:1")
            .await
            .unwrap(),
        Some(config.clone())
    );
    // An existing node keeps its configuration whatever a later publication says.
    let other = PepNode::new("urn:xmpp:bookmarks:1");
    for (id, n) in [("b", 2), ("c", 3)] {
        let r = store
            .pep_publish(
                "alice",
                &other,
                &pitem(id, &format!("<x xmlns='u'>{n}</x>")),
                QUOTA,
            )
            .await
            .unwrap();
        assert_eq!(r, Published::Stored { created: false });
    }
    let node = "urn:xmpp:bookmarks:1";
    let all = store.pep_items("alice", node, None).await.unwrap();
    assert_eq!(item_ids(&all), ["c", "b", "a"], "newest first");
    // Republishing an id replaces it and makes it the newest.
    store
        .pep_publish("alice", &other, &pitem("a", "<x xmlns='u'>1bis</x>"), QUOTA)
        .await
        .unwrap();
    let all = store.pep_items("alice", node, None).await.unwrap();
    assert_eq!(item_ids(&all), ["a", "c", "b"]);
    assert_eq!(all[0].xml, "<x xmlns='u'>1bis</x>");
    // Past max_items (3) the oldest goes.
    store
        .pep_publish("alice", &other, &pitem("d", "<x xmlns='u'>4</x>"), QUOTA)
        .await
        .unwrap();
    let all = store.pep_items("alice", node, None).await.unwrap();
    assert_eq!(item_ids(&all), ["d", "a", "c"]);
    assert_eq!(
        item_ids(&store.pep_items("alice", node, Some(2)).await.unwrap()),
        ["d", "a"]
    );
    let some = store
        .pep_items_by_id("alice", node, &["c".into(), "zz".into(), "d".into()])
        .await
        .unwrap();
    assert_eq!(item_ids(&some), ["d", "c"]);
    // Bob has nothing of Alice's.
    assert!(store.pep_items("bob", node, None).await.unwrap().is_empty());
    assert!(store.pep_nodes("bob").await.unwrap().is_empty());
    // A node whose items do not persist keeps the last one only.
    let mut volatile = PepNode::new("http://jabber.org/protocol/tune");
    volatile.persist_items = false;
    volatile.max_items = 10;
    for id in ["t1", "t2"] {
        store
            .pep_publish(
                "bob",
                &volatile,
                &pitem(id, "<tune xmlns='http://jabber.org/protocol/tune'/>"),
                QUOTA,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        item_ids(
            &store
                .pep_items("bob", "http://jabber.org/protocol/tune", None)
                .await
                .unwrap()
        ),
        ["t2"]
    );
    // Unknown account.
    assert!(matches!(
        store
            .pep_publish("ghost", &other, &pitem("a", "<x/>"), QUOTA)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn pep_nodes_configure_retract_delete(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let mut n = PepNode::new("urn:xmpp:avatar:metadata");
    assert!(store.pep_create("alice", &n, 10).await.unwrap());
    assert!(matches!(
        store.pep_create("alice", &n, 10).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(
        store
            .pep_create("alice", &PepNode::new("a:b"), 10)
            .await
            .unwrap()
    );
    let names: Vec<String> = store
        .pep_nodes("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node)
        .collect();
    assert_eq!(names, ["a:b", "urn:xmpp:avatar:metadata"]);
    n.max_items = 5;
    let node = n.node.clone();
    for i in 0..4 {
        store
            .pep_publish("alice", &n, &pitem(&format!("i{i}"), "<m/>"), QUOTA)
            .await
            .unwrap();
    }
    assert_eq!(
        store.pep_items("alice", &node, None).await.unwrap().len(),
        1,
        "max 1 at creation"
    );
    store.pep_configure("alice", &n).await.unwrap();
    for i in 4..8 {
        store
            .pep_publish("alice", &n, &pitem(&format!("i{i}"), "<m/>"), QUOTA)
            .await
            .unwrap();
    }
    assert_eq!(
        store.pep_items("alice", &node, None).await.unwrap().len(),
        5
    );
    // A smaller bound trims at once.
    n.max_items = 2;
    n.access_model = AccessModel::Whitelist;
    n.notify_retract = false;
    store.pep_configure("alice", &n).await.unwrap();
    assert_eq!(
        store.pep_node("alice", &node).await.unwrap(),
        Some(n.clone())
    );
    assert_eq!(
        item_ids(&store.pep_items("alice", &node, None).await.unwrap()),
        ["i7", "i6"]
    );
    assert!(store.pep_retract("alice", &node, "i7").await.unwrap());
    assert!(!store.pep_retract("alice", &node, "i7").await.unwrap());
    assert_eq!(
        item_ids(&store.pep_items("alice", &node, None).await.unwrap()),
        ["i6"]
    );
    assert!(matches!(
        store.pep_configure("alice", &PepNode::new("nope")).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.pep_delete("alice", &node).await.unwrap());
    assert!(!store.pep_delete("alice", &node).await.unwrap());
    assert_eq!(store.pep_node("alice", &node).await.unwrap(), None);
    assert!(
        store
            .pep_items("alice", &node, None)
            .await
            .unwrap()
            .is_empty()
    );
    // A node created again starts empty.
    store
        .pep_create("alice", &PepNode::new(node.clone()), 10)
        .await
        .unwrap();
    assert!(
        store
            .pep_items("alice", &node, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn pep_quotas_hold(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let quota = PepQuota {
        max_nodes: 2,
        max_bytes: 100,
    };
    let big = "x".repeat(60);
    let r = store
        .pep_publish("alice", &PepNode::new("n1"), &pitem("a", &big), quota)
        .await
        .unwrap();
    assert_eq!(r, Published::Stored { created: true });
    // Replacing the same item does not count it twice.
    let r = store
        .pep_publish("alice", &PepNode::new("n1"), &pitem("a", &big), quota)
        .await
        .unwrap();
    assert_eq!(r, Published::Stored { created: false });
    let r = store
        .pep_publish("alice", &PepNode::new("n2"), &pitem("b", &big), quota)
        .await
        .unwrap();
    assert_eq!(r, Published::OverQuota);
    assert!(
        store
            .pep_items("alice", "n2", None)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .pep_publish("alice", &PepNode::new("n2"), &pitem("b", "small"), quota)
        .await
        .unwrap();
    let r = store
        .pep_publish("alice", &PepNode::new("n3"), &pitem("c", "s"), quota)
        .await
        .unwrap();
    assert_eq!(r, Published::TooManyNodes);
    assert!(
        !store
            .pep_create("alice", &PepNode::new("n3"), 2)
            .await
            .unwrap()
    );
    assert_eq!(store.pep_nodes("alice").await.unwrap().len(), 2);
}

async fn pep_last_items_of_many_owners(store: &Store) {
    for (i, u) in ["alice", "bob", "carol"].iter().enumerate() {
        store.create_account(u, &creds(i as u8 + 1)).await.unwrap();
    }
    let mut nick = PepNode::new("http://jabber.org/protocol/nick");
    nick.max_items = 10;
    for (u, id) in [("alice", "1"), ("alice", "2"), ("bob", "1")] {
        store
            .pep_publish(
                u,
                &nick,
                &pitem(id, &format!("<nick>{u}{id}</nick>")),
                QUOTA,
            )
            .await
            .unwrap();
    }
    store
        .pep_publish("carol", &PepNode::new("other"), &pitem("1", "<o/>"), QUOTA)
        .await
        .unwrap();
    let owners = strings(&["alice", "bob", "carol", "ghost"]);
    let last = store
        .pep_last_items(&owners, &strings(&["http://jabber.org/protocol/nick", "x"]))
        .await
        .unwrap();
    let got: Vec<(&str, &str, &str)> = last
        .iter()
        .map(|l| (l.owner.as_str(), l.node.node.as_str(), l.item.xml.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "alice",
                "http://jabber.org/protocol/nick",
                "<nick>alice2</nick>"
            ),
            (
                "bob",
                "http://jabber.org/protocol/nick",
                "<nick>bob1</nick>"
            ),
        ]
    );
    assert_eq!(last[0].node, nick);
    assert!(
        store
            .pep_last_items(&[], &strings(&["x"]))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn pep_and_private_go_with_the_account(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store
        .pep_publish("alice", &PepNode::new("n"), &pitem("a", "<a/>"), QUOTA)
        .await
        .unwrap();
    let e = PrivateEntry {
        name: "q".into(),
        namespace: "u:v".into(),
        xml: "<q xmlns='u:v'/>".into(),
    };
    assert!(store.private_set("alice", &[e], 1000).await.unwrap());
    store.delete_account("alice").await.unwrap();
    store.create_account("alice", &creds(1)).await.unwrap();
    assert!(store.pep_nodes("alice").await.unwrap().is_empty());
    assert!(
        store
            .pep_items("alice", "n", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.private_get("alice", "q", "u:v").await.unwrap(), None);
}

async fn private_storage_round_trips_per_account(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    let entry = |name: &str, ns: &str, body: &str| PrivateEntry {
        name: name.into(),
        namespace: ns.into(),
        xml: format!("<{name} xmlns='{ns}'>{body}</{name}>"),
    };
    assert_eq!(
        store
            .private_get("alice", "cats", "urn:causerie:web")
            .await
            .unwrap(),
        None
    );
    let a = entry("cats", "urn:causerie:web", "« Famille »");
    assert!(
        store
            .private_set("alice", std::slice::from_ref(&a), 1000)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .private_get("alice", "cats", "urn:causerie:web")
            .await
            .unwrap(),
        Some(a.xml.clone())
    );
    // Keyed by name and namespace; other accounts see nothing.
    assert_eq!(
        store
            .private_get("alice", "cats", "urn:other")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .private_get("alice", "dogs", "urn:causerie:web")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .private_get("bob", "cats", "urn:causerie:web")
            .await
            .unwrap(),
        None
    );
    // Replace; two at once.
    let a2 = entry("cats", "urn:causerie:web", "2");
    let b = entry("dogs", "urn:causerie:web", "3");
    assert!(
        store
            .private_set("alice", &[a2.clone(), b.clone()], 1000)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .private_get("alice", "cats", "urn:causerie:web")
            .await
            .unwrap(),
        Some(a2.xml.clone())
    );
    // Over the quota: nothing of the request is written.
    let huge = entry("big", "urn:b", &"x".repeat(2000));
    let c = entry("cats", "urn:causerie:web", "new");
    assert!(!store.private_set("alice", &[c, huge], 1000).await.unwrap());
    assert_eq!(
        store
            .private_get("alice", "cats", "urn:causerie:web")
            .await
            .unwrap(),
        Some(a2.xml)
    );
    assert_eq!(
        store.private_get("alice", "big", "urn:b").await.unwrap(),
        None
    );
    assert!(matches!(
        store.private_set("ghost", &[b], 1000).await,
        Err(StoreError::NotFound)
    ));
}

async fn blocklists_block_unblock_and_cascade(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert_eq!(
        store.blocklist("alice").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.blocklists().await.unwrap(), vec![]);
    store
        .block("alice", &strings(&["zoe@x", "bob@x", "spam.example"]))
        .await
        .unwrap();
    // Blocking again what is there is no error.
    store
        .block("alice", &strings(&["bob@x", "hugo@x/phone"]))
        .await
        .unwrap();
    assert_eq!(
        store.blocklist("alice").await.unwrap(),
        strings(&["bob@x", "hugo@x/phone", "spam.example", "zoe@x"])
    );
    store.block("bob", &strings(&["alice@x"])).await.unwrap();
    assert_eq!(
        store.blocklists().await.unwrap(),
        vec![
            (
                "alice".to_string(),
                strings(&["bob@x", "hugo@x/phone", "spam.example", "zoe@x"])
            ),
            ("bob".to_string(), strings(&["alice@x"])),
        ]
    );
    store
        .unblock("alice", &strings(&["zoe@x", "nobody@x"]))
        .await
        .unwrap();
    assert_eq!(
        store.blocklist("alice").await.unwrap(),
        strings(&["bob@x", "hugo@x/phone", "spam.example"])
    );
    store.unblock_all("alice").await.unwrap();
    assert_eq!(
        store.blocklist("alice").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.blocklist("bob").await.unwrap(), strings(&["alice@x"]));
    assert!(is_not_found(store.block("ghost", &strings(&["a@x"])).await));
    store.unblock("ghost", &strings(&["a@x"])).await.unwrap();
    store.delete_account("bob").await.unwrap();
    assert_eq!(store.blocklists().await.unwrap(), vec![]);
}

async fn roster_version_moves_with_every_write(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert_eq!(store.roster_version("alice").await.unwrap(), 0);
    assert_eq!(store.roster_version("ghost").await.unwrap(), 0);
    store
        .put_roster_item("alice", &item("bob@x"))
        .await
        .unwrap();
    let v1 = store.roster_version("alice").await.unwrap();
    assert!(v1 > 0);
    let mut changed = item("bob@x");
    changed.name = Some("Bob".into());
    store.put_roster_item("alice", &changed).await.unwrap();
    let v2 = store.roster_version("alice").await.unwrap();
    assert!(v2 > v1);
    assert!(!store.remove_roster_item("alice", "zoe@x").await.unwrap());
    assert_eq!(
        store.roster_version("alice").await.unwrap(),
        v2,
        "nothing removed"
    );
    assert!(store.remove_roster_item("alice", "bob@x").await.unwrap());
    assert!(store.roster_version("alice").await.unwrap() > v2);
    assert_eq!(store.roster_version("bob").await.unwrap(), 0, "per account");
    assert!(!store.remove_roster_item("ghost", "bob@x").await.unwrap());
}

async fn roster_and_version_are_read_together(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    // No roster yet, no version yet; no account.
    assert_eq!(
        store.roster_with_version("alice").await.unwrap(),
        (0, vec![])
    );
    assert_eq!(
        store.roster_with_version("ghost").await.unwrap(),
        (0, vec![])
    );
    // Items in several groups, one in none: the same items as `roster`, with the
    // version `roster_version` gives.
    let mut zoe = item("zoe@x");
    zoe.groups = vec!["Parents".into(), "6e A".into()];
    store.put_roster_item("alice", &zoe).await.unwrap();
    store
        .put_roster_item("alice", &item("bob@x"))
        .await
        .unwrap();
    let (v, items) = store.roster_with_version("alice").await.unwrap();
    assert_eq!(v, store.roster_version("alice").await.unwrap());
    assert!(v > 0);
    assert_eq!(items, store.roster("alice").await.unwrap());
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].groups,
        vec!["6e A".to_string(), "Parents".to_string()]
    );
    // Removed down to nothing: no items, a version that moved on.
    assert!(store.remove_roster_item("alice", "bob@x").await.unwrap());
    assert!(store.remove_roster_item("alice", "zoe@x").await.unwrap());
    let (after, items) = store.roster_with_version("alice").await.unwrap();
    assert!(after > v);
    assert_eq!(items, vec![]);
    assert_eq!(store.roster_with_version("bob").await.unwrap(), (0, vec![]));
}

async fn last_logout_is_kept_per_account(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert_eq!(store.last_logout("alice").await.unwrap(), None);
    store
        .set_last_logout("alice", 1_000, Some("En cours de maths"))
        .await
        .unwrap();
    assert_eq!(
        store.last_logout("alice").await.unwrap(),
        Some(LastLogout {
            at_ms: 1_000,
            status: Some("En cours de maths".into())
        })
    );
    store.set_last_logout("alice", 2_000, None).await.unwrap();
    assert_eq!(
        store.last_logout("alice").await.unwrap(),
        Some(LastLogout {
            at_ms: 2_000,
            status: None
        })
    );
    assert_eq!(store.last_logout("bob").await.unwrap(), None);
    assert!(is_not_found(store.set_last_logout("ghost", 1, None).await));
    store.delete_account("alice").await.unwrap();
    assert_eq!(store.last_logout("alice").await.unwrap(), None);
}

async fn unknown_user_reads_are_empty_and_writes_not_found(store: &Store) {
    let ghost = "ghost";
    assert_eq!(store.roster(ghost).await.unwrap(), vec![]);
    assert_eq!(store.roster_item(ghost, "a@b").await.unwrap(), None);
    assert!(!store.remove_roster_item(ghost, "a@b").await.unwrap());
    assert_eq!(store.pending_in(ghost).await.unwrap(), vec![]);
    assert!(!store.has_pending_in(ghost, "a@b").await.unwrap());
    assert!(!store.remove_pending_in(ghost, "a@b").await.unwrap());
    assert_eq!(store.offline_count(ghost).await.unwrap(), 0);
    assert_eq!(store.offline_messages(ghost).await.unwrap(), vec![]);
    assert_eq!(store.delete_offline(ghost, i64::MAX).await.unwrap(), 0);
    assert_eq!(store.vcard(ghost).await.unwrap(), None);

    let not_found = |r: causerie_store::Result<_>| matches!(r, Err(StoreError::NotFound));
    assert!(not_found(store.put_roster_item(ghost, &item("a@b")).await));
    assert!(not_found(
        store.add_pending_in(ghost, "a@b", "<presence/>").await
    ));
    assert!(not_found(
        store
            .store_offline(ghost, "<message/>", 1, 10)
            .await
            .map(|_| ())
    ));
    assert!(not_found(
        store.set_vcard(ghost, "<vCard xmlns='vcard-temp'/>").await
    ));
    assert!(not_found(store.delete_account(ghost).await));
    // Nothing was created on the way.
    assert!(!store.account_exists(ghost).await.unwrap());
    assert_eq!(store.list_accounts().await.unwrap(), Vec::<String>::new());
    assert_eq!(
        store.users_with_contact("a@b").await.unwrap(),
        Vec::<String>::new()
    );
}

/// The `causerie user add` CLI and the running server are two processes on one database:
/// what one writes, the other reads at once (nothing is cached).
async fn second_store_sees_account_at_once(store: &Store, other: &Store) {
    assert!(!other.account_exists("alice").await.unwrap());
    // Warm both pools up so that a cache, if any, would be stale.
    assert_eq!(store.list_accounts().await.unwrap(), Vec::<String>::new());
    assert_eq!(other.credentials("alice").await.unwrap(), None);

    store.create_account("alice", &creds(1)).await.unwrap();
    assert!(other.account_exists("alice").await.unwrap());
    assert_eq!(other.credentials("alice").await.unwrap(), Some(creds(1)));
    assert_eq!(other.list_accounts().await.unwrap(), strings(&["alice"]));

    other.set_credentials("alice", &creds(4)).await.unwrap();
    assert_eq!(store.credentials("alice").await.unwrap(), Some(creds(4)));

    other
        .put_roster_item("alice", &item("bob@school.example"))
        .await
        .unwrap();
    assert_eq!(
        store.roster("alice").await.unwrap(),
        vec![item("bob@school.example")]
    );

    let err = other.create_account("alice", &creds(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "got {err:?}");

    other.delete_account("alice").await.unwrap();
    assert!(!store.account_exists("alice").await.unwrap());
    assert_eq!(store.credentials("alice").await.unwrap(), None);
    assert_eq!(store.roster("alice").await.unwrap(), vec![]);
}

/// Writers on two pools at once (server + CLI) all succeed: they wait for each other's
/// locks instead of failing with "database is locked".
async fn concurrent_writers_on_two_stores(store: &Store, other: &Store) {
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let s = if n % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let name = format!("user{n:02}");
            s.create_account(&name, &creds(n)).await?;
            let it = RosterItem {
                groups: strings(&["G1", "G2"]),
                ..item(&format!("contact{n:02}@school.example"))
            };
            s.put_roster_item(&name, &it).await?;
            s.set_vcard(&name, "<vCard xmlns='vcard-temp'/>").await?;
            s.store_offline(&name, "<message/>", 1, 10).await?;
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("concurrent writes");
    }
    let names = store.list_accounts().await.unwrap();
    assert_eq!(
        names,
        (0..16).map(|n| format!("user{n:02}")).collect::<Vec<_>>()
    );
    for n in 0..16u8 {
        let name = format!("user{n:02}");
        assert_eq!(other.credentials(&name).await.unwrap(), Some(creds(n)));
        let roster = store.roster(&name).await.unwrap();
        assert_eq!(roster.len(), 1);
        assert_eq!(sorted(roster[0].groups.clone()), strings(&["G1", "G2"]));
        assert_eq!(other.offline_count(&name).await.unwrap(), 1);
    }
}

// ---------------------------------------------------------------------------------------
// Directory suite
// ---------------------------------------------------------------------------------------

const COLLEGE: &str = "0750001A";
const LYCEE: &str = "0750002B";

fn structure(id: &str, name: &str) -> Structure {
    Structure {
        id: id.into(),
        name: name.into(),
    }
}

fn class(id: &str, structure: &str, name: &str) -> Class {
    Class {
        id: id.into(),
        structure: structure.into(),
        name: name.into(),
    }
}

fn person(login: &str, last: &str, first: &str, profile: Profile) -> User {
    User {
        login: login.into(),
        last_name: last.into(),
        first_name: first.into(),
        profile,
        structures: Vec::new(),
        classes: Vec::new(),
        children: Vec::new(),
        password: None,
        admin_of: Vec::new(),
        functions: Vec::new(),
    }
}

fn group(id: &str, name: &str, structure: Option<&str>, members: &[&str]) -> Group {
    Group {
        id: id.into(),
        name: name.into(),
        structure: structure.map(Into::into),
        members: strings(members),
    }
}

/// Two structures, three classes, five users of four profiles, two groups; lists in no
/// particular order (snapshot() sorts them).
fn school() -> Snapshot {
    let lea = User {
        structures: strings(&[COLLEGE]),
        classes: strings(&["0750001A-6A"]),
        password: Some("secret".into()),
        ..person("lea.martin", "MARTIN", "Léa", Profile::Student)
    };
    let hugo = User {
        structures: strings(&[COLLEGE]),
        classes: strings(&["0750001A-6B"]),
        ..person("hugo.petit", "PETIT", "Hugo", Profile::Student)
    };
    let paul = User {
        structures: strings(&[COLLEGE]),
        children: strings(&["lea.martin"]),
        ..person("paul.martin", "MARTIN", "Paul", Profile::Relative)
    };
    let anne = User {
        structures: strings(&[LYCEE, COLLEGE]),
        classes: strings(&["0750002B-2A", "0750001A-6A"]),
        functions: strings(&["prof_principal", "cpe"]),
        ..person("anne.durand", "DURAND", "Anne", Profile::Teacher)
    };
    let marc = User {
        structures: strings(&[LYCEE]),
        ..person("marc.roux", "ROUX", "Marc", Profile::Personnel)
    };
    Snapshot {
        structures: vec![
            structure(LYCEE, "Lycée Victor Hugo"),
            structure(COLLEGE, "Collège Jean Moulin"),
        ],
        classes: vec![
            class("0750002B-2A", LYCEE, "2nde A"),
            class("0750001A-6B", COLLEGE, "6e B"),
            class("0750001A-6A", COLLEGE, "6e A"),
        ],
        users: vec![lea, hugo, paul, anne, marc],
        groups: vec![
            group("conseil", "Conseil", None, &["paul.martin", "marc.roux"]),
            group(
                "chorale",
                "Chorale",
                Some(COLLEGE),
                &["lea.martin", "anne.durand"],
            ),
        ],
        collectivites: None,
    }
}

/// What snapshot() returns for an imported `s`: every list sorted, no password.
fn normalized(mut s: Snapshot) -> Snapshot {
    s.structures.sort_by(|a, b| a.id.cmp(&b.id));
    s.classes.sort_by(|a, b| a.id.cmp(&b.id));
    s.users.sort_by(|a, b| a.login.cmp(&b.login));
    for u in &mut s.users {
        u.structures.sort();
        u.classes.sort();
        u.children.sort();
        u.admin_of.sort();
        u.password = None;
    }
    s.groups.sort_by(|a, b| a.id.cmp(&b.id));
    for g in &mut s.groups {
        g.members.sort();
    }
    s
}

/// `s` without user `login` (nor his links from others).
fn without_user(mut s: Snapshot, login: &str) -> Snapshot {
    s.users.retain(|u| u.login != login);
    for u in &mut s.users {
        u.children.retain(|c| c != login);
    }
    for g in &mut s.groups {
        g.members.retain(|m| m != login);
    }
    s
}

fn user_mut<'a>(s: &'a mut Snapshot, login: &str) -> &'a mut User {
    s.users
        .iter_mut()
        .find(|u| u.login == login)
        .expect("user in fixture")
}

fn no_credentials() -> HashMap<String, Credentials> {
    HashMap::new()
}

fn report(created: usize, updated: usize, deactivated: usize) -> ImportReport {
    let s = school();
    ImportReport {
        structures: s.structures.len(),
        classes: s.classes.len(),
        users_created: created,
        users_updated: updated,
        users_deactivated: deactivated,
        groups: s.groups.len(),
        collectivites: 0,
    }
}

fn custom_rules() -> Vec<Rule> {
    vec![
        Rule {
            from: vec![Profile::Teacher, Profile::Personnel],
            to: Profile::ALL.to_vec(),
            scope: Scope::SameStructure,
            two_way: true,
        },
        Rule {
            from: vec![Profile::Student],
            to: vec![Profile::Student],
            scope: Scope::SameClass,
            two_way: false,
        },
        Rule {
            from: vec![Profile::Relative],
            to: vec![Profile::Teacher],
            scope: Scope::ChildrenClasses,
            two_way: true,
        },
        Rule {
            from: vec![Profile::Relative],
            to: vec![],
            scope: Scope::OwnChildren,
            two_way: false,
        },
    ]
}

fn is_invalid<T: std::fmt::Debug>(r: causerie_store::Result<T>) -> bool {
    matches!(r, Err(StoreError::Invalid(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: causerie_store::Result<T>) -> bool {
    matches!(r, Err(StoreError::NotFound))
}

async fn directory_import_creates_accounts_and_rows(store: &Store) {
    // A fresh database: empty directory, generation 0.
    assert_eq!(store.snapshot().await.unwrap(), Snapshot::default());
    assert_eq!(store.generation().await.unwrap(), 0);
    assert_eq!(store.rules().await.unwrap(), HashMap::new());
    // A plain account that the directory will adopt, and one it will not know.
    store.create_account("hugo.petit", &creds(3)).await.unwrap();
    store.create_account("admin", &creds(4)).await.unwrap();
    assert_eq!(
        store.directory_user_active("hugo.petit").await.unwrap(),
        None
    );

    let got = store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(got, report(5, 0, 0));
    assert_eq!(store.generation().await.unwrap(), 1);
    assert_eq!(store.snapshot().await.unwrap(), normalized(school()));
    // Every directory user is an account; the plain one is untouched.
    assert_eq!(
        store.list_accounts().await.unwrap(),
        strings(&[
            "admin",
            "anne.durand",
            "hugo.petit",
            "lea.martin",
            "marc.roux",
            "paul.martin"
        ])
    );
    for login in [
        "lea.martin",
        "hugo.petit",
        "paul.martin",
        "anne.durand",
        "marc.roux",
    ] {
        assert_eq!(
            store.directory_user_active(login).await.unwrap(),
            Some(true),
            "{login}"
        );
    }
    assert_eq!(store.directory_user_active("admin").await.unwrap(), None);
    assert_eq!(store.directory_user_active("nobody").await.unwrap(), None);
    // The adopted account keeps its credentials; the admin's too.
    assert_eq!(
        store.credentials("hugo.petit").await.unwrap(),
        Some(creds(3))
    );
    assert_eq!(store.credentials("admin").await.unwrap(), Some(creds(4)));
    // snapshot() is sorted: structures, classes, users by id / login, links too.
    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap.structures[0].id, COLLEGE);
    assert_eq!(
        snap.users
            .iter()
            .map(|u| u.login.as_str())
            .collect::<Vec<_>>(),
        [
            "anne.durand",
            "hugo.petit",
            "lea.martin",
            "marc.roux",
            "paul.martin"
        ]
    );
    assert_eq!(snap.users[0].structures, strings(&[COLLEGE, LYCEE]));
    assert_eq!(
        snap.users[0].classes,
        strings(&["0750001A-6A", "0750002B-2A"])
    );
    assert!(snap.users.iter().all(|u| u.password.is_none()));
}

async fn directory_reimport_is_idempotent(store: &Store) {
    let mut creds_map = HashMap::new();
    creds_map.insert("lea.martin".to_string(), creds(1));
    let first = store
        .import_snapshot(&school(), &creds_map, None)
        .await
        .unwrap();
    assert_eq!(first, report(5, 0, 0));
    let before = store.snapshot().await.unwrap();
    let accounts = store.list_accounts().await.unwrap();

    // The same snapshot (listed in another order, same credentials): nothing changes but
    // the generation.
    let mut again = school();
    again.users.reverse();
    again.classes.reverse();
    again.groups.reverse();
    for u in &mut again.users {
        u.classes.reverse();
        u.structures.reverse();
    }
    let second = store
        .import_snapshot(&again, &creds_map, None)
        .await
        .unwrap();
    assert_eq!(second, report(0, 0, 0));
    assert_eq!(store.snapshot().await.unwrap(), before);
    assert_eq!(store.list_accounts().await.unwrap(), accounts);
    assert_eq!(
        store.credentials("lea.martin").await.unwrap(),
        Some(creds(1))
    );
    assert_eq!(store.generation().await.unwrap(), 2);
    // And once more without any credential: still nothing.
    let third = store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(third, report(0, 0, 0));
    assert_eq!(store.snapshot().await.unwrap(), before);
    assert_eq!(store.generation().await.unwrap(), 3);
}

async fn directory_absent_user_is_deactivated_then_reactivated(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();

    // lea leaves: deactivated, kept (her account too), absent from snapshot(), from her
    // father's children and from the choir's members.
    let without_lea = without_user(school(), "lea.martin");
    let got = store
        .import_snapshot(&without_lea, &no_credentials(), None)
        .await
        .unwrap();
    // paul's children changed: he counts as updated.
    assert_eq!(got, report(0, 1, 1));
    assert_eq!(
        store.directory_user_active("lea.martin").await.unwrap(),
        Some(false)
    );
    assert_eq!(
        store.inactive_users().await.unwrap(),
        vec!["lea.martin".to_string()]
    );
    assert!(store.account_exists("lea.martin").await.unwrap());
    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap, normalized(without_lea.clone()));
    assert!(snap.users.iter().all(|u| u.login != "lea.martin"));
    // Importing the same again deactivates nobody more.
    let got = store
        .import_snapshot(&without_lea, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(got, report(0, 0, 0));

    // lea is back: active again, with her links; paul has his child back.
    let got = store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(got, report(0, 2, 0));
    assert_eq!(
        store.directory_user_active("lea.martin").await.unwrap(),
        Some(true)
    );
    assert_eq!(store.snapshot().await.unwrap(), normalized(school()));
}

async fn directory_moving_a_pupil_changes_his_class(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let mut moved = school();
    user_mut(&mut moved, "lea.martin").classes = strings(&["0750001A-6B"]);
    let got = store
        .import_snapshot(&moved, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(got, report(0, 1, 0));
    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap, normalized(moved));
    let lea = snap.users.iter().find(|u| u.login == "lea.martin").unwrap();
    assert_eq!(lea.classes, strings(&["0750001A-6B"]));
    // Names and profile changes are updates too.
    let mut renamed = school();
    user_mut(&mut renamed, "marc.roux").first_name = "Marcel".into();
    user_mut(&mut renamed, "hugo.petit").profile = Profile::Guest;
    let got = store
        .import_snapshot(&renamed, &no_credentials(), None)
        .await
        .unwrap();
    // lea moved back, marc renamed, hugo now a guest.
    assert_eq!(got, report(0, 3, 0));
    assert_eq!(store.snapshot().await.unwrap(), normalized(renamed));
}

async fn directory_import_removes_absent_classes_groups_structures(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    // The lycée closes: its class, its members' links to it go; the choir is dissolved; a
    // new class and a new group appear; a class is renamed.
    let mut next = school();
    next.structures.retain(|s| s.id != LYCEE);
    next.classes.retain(|c| c.structure != LYCEE);
    next.classes.push(class("0750001A-5A", COLLEGE, "5e A"));
    next.classes
        .iter_mut()
        .find(|c| c.id == "0750001A-6B")
        .unwrap()
        .name = "6e B (bilangue)".into();
    next.groups.retain(|g| g.id != "chorale");
    next.groups
        .push(group("theatre", "Théâtre", Some(COLLEGE), &["hugo.petit"]));
    let anne = user_mut(&mut next, "anne.durand");
    anne.structures = strings(&[COLLEGE]);
    anne.classes = strings(&["0750001A-6A", "0750001A-5A"]);
    let marc = user_mut(&mut next, "marc.roux");
    marc.structures = strings(&[COLLEGE]);
    // A change of functions alone is an update too.
    user_mut(&mut next, "paul.martin").functions = strings(&["direction"]);
    let got = store
        .import_snapshot(&next, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(got.structures, 1);
    assert_eq!(got.classes, 3);
    assert_eq!(got.groups, 2);
    assert_eq!(
        (got.users_created, got.users_updated, got.users_deactivated),
        (0, 3, 0)
    );
    assert_eq!(store.snapshot().await.unwrap(), normalized(next.clone()));

    // The rest of the directory can go too: an empty snapshot deactivates everybody and
    // removes everything else.
    let got = store
        .import_snapshot(&Snapshot::default(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(got.users_deactivated, 5);
    assert_eq!(store.snapshot().await.unwrap(), Snapshot::default());
    // Then everything comes back as it was.
    store
        .import_snapshot(&next, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(store.snapshot().await.unwrap(), normalized(next));
}

async fn directory_import_credentials(store: &Store) {
    // marc had a plain account with a password before the directory knew him.
    store.create_account("marc.roux", &creds(8)).await.unwrap();
    let mut map = HashMap::new();
    map.insert("lea.martin".to_string(), creds(1));
    map.insert("anne.durand".to_string(), creds(2));
    // Credentials of someone not in the snapshot are ignored.
    map.insert("stranger".to_string(), creds(3));
    store.import_snapshot(&school(), &map, None).await.unwrap();
    assert_eq!(
        store.credentials("lea.martin").await.unwrap(),
        Some(creds(1))
    );
    assert_eq!(
        store.credentials("anne.durand").await.unwrap(),
        Some(creds(2))
    );
    // Without a password: an account without credentials (Ok(None), not Corrupt).
    assert!(store.account_exists("hugo.petit").await.unwrap());
    assert_eq!(store.credentials("hugo.petit").await.unwrap(), None);
    assert_eq!(store.credentials("paul.martin").await.unwrap(), None);
    assert_eq!(
        store.credentials("marc.roux").await.unwrap(),
        Some(creds(8))
    );
    assert!(!store.account_exists("stranger").await.unwrap());
    // An account without a password (one who signs in through the portal) may still
    // have app passwords for his phone: a login's read gives them, and no password.
    let none = store.login_credentials("paul.martin").await.unwrap();
    assert_eq!((none.password, none.app_passwords), (None, vec![]));
    let phone = store
        .app_password_add("paul.martin", "Téléphone", &creds(9), None)
        .await
        .unwrap();
    let login = store.login_credentials("paul.martin").await.unwrap();
    assert_eq!(login.password, None);
    assert_eq!(login.app_passwords, vec![(phone.id, creds(9))]);

    // A new password on update replaces the credentials (an actual change: updated);
    // without one, the stored credentials stay.
    let mut map = HashMap::new();
    map.insert("lea.martin".to_string(), creds(5));
    map.insert("hugo.petit".to_string(), creds(6));
    let got = store.import_snapshot(&school(), &map, None).await.unwrap();
    assert_eq!(got, report(0, 2, 0));
    assert_eq!(
        store.credentials("lea.martin").await.unwrap(),
        Some(creds(5))
    );
    assert_eq!(
        store.credentials("hugo.petit").await.unwrap(),
        Some(creds(6))
    );
    assert_eq!(
        store.credentials("anne.durand").await.unwrap(),
        Some(creds(2))
    );
    // A deactivated user keeps his credentials (it is the server that refuses him).
    store
        .import_snapshot(
            &without_user(school(), "anne.durand"),
            &no_credentials(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.credentials("anne.durand").await.unwrap(),
        Some(creds(2))
    );
    // And set_credentials works on a directory account created without any.
    store
        .set_credentials("paul.martin", &creds(9))
        .await
        .unwrap();
    assert_eq!(
        store.credentials("paul.martin").await.unwrap(),
        Some(creds(9))
    );
}

async fn directory_rules_set_get_reset(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(store.rules().await.unwrap(), HashMap::new());

    let rules = custom_rules();
    store.set_rules(COLLEGE, Some(&rules)).await.unwrap();
    let mut expected = HashMap::new();
    expected.insert(COLLEGE.to_string(), rules.clone());
    assert_eq!(store.rules().await.unwrap(), expected);

    // Replacing keeps the new order; an empty list is stored (nobody by rule).
    let reversed: Vec<Rule> = rules.iter().rev().cloned().collect();
    store.set_rules(COLLEGE, Some(&reversed)).await.unwrap();
    store.set_rules(LYCEE, Some(&[])).await.unwrap();
    expected.insert(COLLEGE.to_string(), reversed.clone());
    // An empty list is not the defaults: it is kept as such.
    expected.insert(LYCEE.to_string(), Vec::new());
    assert_eq!(store.rules().await.unwrap(), expected);

    // Every scope and profile round-trips.
    let all: Vec<Rule> = Scope::ALL
        .iter()
        .map(|scope| Rule {
            from: Profile::ALL.to_vec(),
            to: Profile::ALL.iter().rev().copied().collect(),
            scope: *scope,
            two_way: matches!(scope, Scope::SameClass | Scope::OwnChildren),
        })
        .collect();
    store.set_rules(LYCEE, Some(&all)).await.unwrap();
    expected.insert(LYCEE.to_string(), all);
    assert_eq!(store.rules().await.unwrap(), expected);

    // Reset: back to the defaults (absent from the map).
    store.set_rules(COLLEGE, None).await.unwrap();
    expected.remove(COLLEGE);
    assert_eq!(store.rules().await.unwrap(), expected);
    // Resetting what is not set is fine; setting rules of an unknown structure is not.
    store.set_rules(COLLEGE, None).await.unwrap();
    store.set_rules("nowhere", None).await.unwrap();
    assert!(is_not_found(store.set_rules("nowhere", Some(&rules)).await));
    assert_eq!(store.rules().await.unwrap(), expected);
}

async fn directory_access_set_get(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let default = Access {
        enabled: true,
        profiles: Profile::ALL.to_vec(),
    };
    assert_eq!(Access::default(), default);
    assert_eq!(store.access(COLLEGE).await.unwrap(), default);
    assert_eq!(store.access("nowhere").await.unwrap(), default);

    let teachers_only = Access {
        enabled: true,
        profiles: vec![Profile::Teacher, Profile::Personnel],
    };
    store.set_access(COLLEGE, &teachers_only).await.unwrap();
    assert_eq!(store.access(COLLEGE).await.unwrap(), teachers_only);
    assert_eq!(store.access(LYCEE).await.unwrap(), default);

    let closed = Access {
        enabled: false,
        profiles: vec![],
    };
    store.set_access(COLLEGE, &closed).await.unwrap();
    assert_eq!(store.access(COLLEGE).await.unwrap(), closed);
    store.set_access(LYCEE, &default).await.unwrap();
    assert_eq!(store.access(LYCEE).await.unwrap(), default);

    assert!(is_not_found(store.set_access("nowhere", &closed).await));
    assert_eq!(store.access("nowhere").await.unwrap(), default);
}

fn collectivite(id: &str, kind: CollectiviteKind, structures: &[&str]) -> Collectivite {
    Collectivite {
        id: id.into(),
        name: format!("Collectivité {id}"),
        kind,
        structures: strings(structures),
    }
}

async fn collectivites_import_sync_and_read_back(store: &Store) {
    let region = collectivite("reg-idf", CollectiviteKind::Region, &[LYCEE]);
    let dep = collectivite("dep-75", CollectiviteKind::Departement, &[LYCEE, COLLEGE]);
    let mut s = school();
    s.collectivites = Some(vec![region.clone(), dep.clone()]);
    let r = store
        .import_snapshot(&s, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(r.collectivites, 2);
    // Sorted by id, structures sorted.
    let mut dep_sorted = dep.clone();
    dep_sorted.structures.sort();
    assert_eq!(
        store.collectivites().await.unwrap(),
        vec![dep_sorted.clone(), region.clone()]
    );
    assert_eq!(
        store.snapshot().await.unwrap().collectivites,
        Some(vec![dep_sorted.clone(), region.clone()])
    );
    // The same list again changes nothing; no list leaves them as they are.
    let r = store
        .import_snapshot(&s, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(r.collectivites, 0);
    let r = store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(r.collectivites, 0);
    assert_eq!(store.collectivites().await.unwrap().len(), 2);
    // A list replaces them: the région goes, the département covers the collège only.
    let narrower = collectivite("dep-75", CollectiviteKind::Departement, &[COLLEGE]);
    s.collectivites = Some(vec![narrower.clone()]);
    let r = store
        .import_snapshot(&s, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(r.collectivites, 2);
    assert_eq!(store.collectivites().await.unwrap(), vec![narrower.clone()]);
    // A structure the import removes leaves the collectivités that covered it.
    let mut without_college = school();
    without_college.structures.retain(|x| x.id != COLLEGE);
    without_college.classes.retain(|c| c.structure != COLLEGE);
    without_college
        .groups
        .retain(|g| g.structure.as_deref() != Some(COLLEGE));
    for u in &mut without_college.users {
        u.structures.retain(|x| x != COLLEGE);
        u.classes.retain(|c| !c.starts_with("0750001A"));
    }
    store
        .import_snapshot(&without_college, &no_credentials(), None)
        .await
        .unwrap();
    assert!(
        store.collectivites().await.unwrap()[0]
            .structures
            .is_empty()
    );
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    // A duplicate id refuses the whole snapshot, nothing changed.
    s.collectivites = Some(vec![narrower.clone(), narrower.clone()]);
    assert!(is_invalid(
        store.import_snapshot(&s, &no_credentials(), None).await
    ));

    // The sync API's entries: each moves the generation and writes its audit row.
    let g = store.generation().await.unwrap();
    let row = NewAudit {
        actor: "api".into(),
        action: "directory.collectivite".into(),
        target: Some("com-1".into()),
        ..NewAudit::default()
    };
    let commune = collectivite("com-1", CollectiviteKind::Commune, &[COLLEGE]);
    store.put_collectivite(&commune, Some(&row)).await.unwrap();
    assert!(store.generation().await.unwrap() > g);
    assert_eq!(
        store.collectivites().await.unwrap(),
        vec![
            commune.clone(),
            collectivite("dep-75", CollectiviteKind::Departement, &[])
        ]
    );
    let bad = collectivite("com-2", CollectiviteKind::Commune, &[COLLEGE, "nowhere"]);
    assert!(is_invalid(store.put_collectivite(&bad, Some(&row)).await));
    assert_eq!(store.collectivites().await.unwrap().len(), 2);
    store
        .delete_collectivite("com-1", Some(&row))
        .await
        .unwrap();
    assert!(is_not_found(store.delete_collectivite("com-1", None).await));
    assert_eq!(store.collectivites().await.unwrap().len(), 1);
    let rows = store
        .audit_log(&AuditQuery {
            structures: None,
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        rows.iter()
            .filter(|e| e.action == "directory.collectivite")
            .count(),
        2,
        "the put and the delete, not the refused put"
    );
}

async fn collectivite_access_and_grants_are_audited(store: &Store) {
    let mut s = school();
    s.collectivites = Some(vec![collectivite(
        "dep-75",
        CollectiviteKind::Departement,
        &[LYCEE, COLLEGE],
    )]);
    store
        .import_snapshot(&s, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(
        store.collectivite_access("dep-75").await.unwrap(),
        Access::default()
    );
    let off = Access {
        enabled: false,
        profiles: vec![Profile::Teacher],
    };
    let g = store.generation().await.unwrap();
    let before = store
        .set_collectivite_access_audited("dep-75", &off, "root")
        .await
        .unwrap();
    assert_eq!(before, Access::default());
    assert!(store.generation().await.unwrap() > g);
    assert_eq!(store.collectivite_access("dep-75").await.unwrap(), off);
    assert_eq!(
        store.all_collectivite_access().await.unwrap(),
        HashMap::from([("dep-75".to_string(), off.clone())])
    );
    assert!(is_not_found(
        store
            .set_collectivite_access_audited("nowhere", &off, "root")
            .await
    ));
    // The setting outlives an export that lacks the collectivité once.
    let mut gone = school();
    gone.collectivites = Some(vec![]);
    store
        .import_snapshot(&gone, &no_credentials(), None)
        .await
        .unwrap();
    assert!(store.collectivites().await.unwrap().is_empty());
    store
        .import_snapshot(&s, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(store.collectivite_access("dep-75").await.unwrap(), off);

    // Grants.
    store.create_account("elu", &creds(1)).await.unwrap();
    assert!(
        store
            .grant_collectivite_audited("elu", "dep-75", "root")
            .await
            .unwrap()
    );
    assert!(
        !store
            .grant_collectivite_audited("elu", "dep-75", "root")
            .await
            .unwrap()
    );
    assert!(is_invalid(
        store
            .grant_collectivite_audited("nobody", "dep-75", "root")
            .await
    ));
    assert!(is_invalid(
        store
            .grant_collectivite_audited("elu", "nowhere", "root")
            .await
    ));
    assert_eq!(
        store.collectivite_grants_of("elu").await.unwrap(),
        vec!["dep-75".to_string()]
    );
    assert_eq!(
        store.collectivite_grants().await.unwrap(),
        vec![("elu".to_string(), "dep-75".to_string())]
    );
    assert!(
        store
            .revoke_collectivite_audited("elu", "dep-75", "root")
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_collectivite_audited("elu", "dep-75", "root")
            .await
            .unwrap()
    );
    assert!(
        store
            .collectivite_grants_of("elu")
            .await
            .unwrap()
            .is_empty()
    );
    let actions: Vec<String> = store
        .audit_log(&AuditQuery {
            structures: None,
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a != "directory.import")
        .collect();
    assert_eq!(
        actions,
        vec![
            "admin.collectivite_revoke",
            "admin.collectivite_grant",
            "collectivite.access"
        ]
    );
}

async fn directory_rules_and_access_survive_reimport(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let rules = custom_rules();
    let access = Access {
        enabled: false,
        profiles: vec![Profile::Teacher],
    };
    store.set_rules(COLLEGE, Some(&rules)).await.unwrap();
    store.set_access(LYCEE, &access).await.unwrap();

    // Re-import, a changed import, even one without the lycée, then the lycée again:
    // nothing of the settings moves.
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let mut no_lycee = without_user(school(), "marc.roux");
    no_lycee.structures.retain(|s| s.id != LYCEE);
    no_lycee.classes.retain(|c| c.structure != LYCEE);
    let anne = user_mut(&mut no_lycee, "anne.durand");
    anne.structures = strings(&[COLLEGE]);
    anne.classes = strings(&["0750001A-6A"]);
    store
        .import_snapshot(&no_lycee, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(store.access(LYCEE).await.unwrap(), access);
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let mut expected = HashMap::new();
    expected.insert(COLLEGE.to_string(), rules);
    assert_eq!(store.rules().await.unwrap(), expected);
    assert_eq!(store.access(LYCEE).await.unwrap(), access);
    assert_eq!(store.access(COLLEGE).await.unwrap(), Access::default());
}

async fn directory_every_change_bumps_generation(store: &Store) {
    let mut expected = 0;
    assert_eq!(store.generation().await.unwrap(), expected);
    // Each call that changes the directory, the rules or the access bumps it by one.
    macro_rules! bumps {
        ($call:expr) => {{
            $call.await.unwrap();
            expected += 1;
            assert_eq!(
                store.generation().await.unwrap(),
                expected,
                "{}",
                stringify!($call)
            );
        }};
    }
    // ... and a call that fails or only reads does not.
    macro_rules! same {
        ($call:expr) => {{
            let _ = $call.await;
            assert_eq!(
                store.generation().await.unwrap(),
                expected,
                "{}",
                stringify!($call)
            );
        }};
    }
    bumps!(store.import_snapshot(&school(), &no_credentials(), None));
    bumps!(store.import_snapshot(&school(), &no_credentials(), None));
    bumps!(store.put_structure(&structure("0750003C", "École Jules Ferry"), None));
    bumps!(store.put_class(&class("0750003C-CP", "0750003C", "CP"), None));
    bumps!(store.put_user(
        &User {
            structures: strings(&["0750003C"]),
            classes: strings(&["0750003C-CP"]),
            ..person("zoe.blanc", "BLANC", "Zoé", Profile::Student)
        },
        None,
        None
    ));
    bumps!(store.put_group(&group("club", "Club", None, &["zoe.blanc"]), None));
    bumps!(store.deactivate_user("zoe.blanc", None));
    bumps!(store.delete_group("club", None));
    bumps!(store.delete_class("0750003C-CP", None));
    bumps!(store.set_rules(COLLEGE, Some(&custom_rules())));
    bumps!(store.set_rules(COLLEGE, None));
    bumps!(store.set_access(COLLEGE, &Access::default()));
    // Deleting a directory user's account changes the directory.
    bumps!(store.delete_account("hugo.petit"));

    same!(store.snapshot());
    same!(store.rules());
    same!(store.access(COLLEGE));
    same!(store.directory_user_active("lea.martin"));
    same!(store.deactivate_user("nobody", None));
    same!(store.delete_group("club", None));
    same!(store.delete_class("nothing", None));
    same!(store.put_class(&class("x", "nowhere", "X"), None));
    same!(store.set_access("nowhere", &Access::default()));
    same!(store.set_rules("nowhere", Some(&custom_rules())));
    let mut bad = school();
    bad.classes.push(class("bad", "nowhere", "Bad"));
    same!(store.import_snapshot(&bad, &no_credentials(), None));
    // Plain accounts are not the directory.
    same!(store.create_account("admin", &creds(1)));
    same!(store.set_credentials("admin", &creds(2)));
    same!(store.put_roster_item("admin", &item("lea.martin@school.example")));
    same!(store.delete_account("admin"));
}

async fn directory_incremental_changes(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let mut expected = normalized(school());

    // A structure, a class in it.
    store
        .put_structure(&structure("0750003C", "École Jules Ferry"), None)
        .await
        .unwrap();
    store
        .put_class(&class("0750003C-CP", "0750003C", "CP"), None)
        .await
        .unwrap();
    // Upserts: a rename, a class moving to another structure.
    store
        .put_structure(&structure(LYCEE, "Lycée Victor-Hugo"), None)
        .await
        .unwrap();
    store
        .put_class(&class("0750001A-6B", LYCEE, "6e B"), None)
        .await
        .unwrap();
    let err = store
        .put_class(&class("x", "nowhere", "X"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("nowhere")),
        "got {err:?}"
    );
    expected
        .structures
        .push(structure("0750003C", "École Jules Ferry"));
    expected.structures[1].name = "Lycée Victor-Hugo".into();
    expected
        .classes
        .push(class("0750003C-CP", "0750003C", "CP"));
    expected.classes[1].structure = LYCEE.into();
    expected = normalized(expected);
    assert_eq!(store.snapshot().await.unwrap(), expected);

    // A new user with credentials, then an update of an existing one.
    let zoe = User {
        structures: strings(&["0750003C"]),
        classes: strings(&["0750003C-CP"]),
        ..person("zoe.blanc", "BLANC", "Zoé", Profile::Student)
    };
    store.put_user(&zoe, Some(&creds(7)), None).await.unwrap();
    assert_eq!(
        store.directory_user_active("zoe.blanc").await.unwrap(),
        Some(true)
    );
    assert_eq!(
        store.credentials("zoe.blanc").await.unwrap(),
        Some(creds(7))
    );
    let paul = User {
        structures: strings(&[COLLEGE, "0750003C"]),
        children: strings(&["zoe.blanc", "lea.martin"]),
        ..person("paul.martin", "MARTIN", "Paul", Profile::Relative)
    };
    store.put_user(&paul, None, None).await.unwrap();
    expected.users.push(zoe.clone());
    *user_mut(&mut expected, "paul.martin") = paul.clone();
    expected = normalized(expected);
    assert_eq!(store.snapshot().await.unwrap(), expected);

    // References are checked; nothing is written when one is wrong.
    let bad_structure = User {
        structures: strings(&["nowhere"]),
        ..person("ghost", "G", "G", Profile::Guest)
    };
    let bad_class = User {
        classes: strings(&["nothing"]),
        ..person("ghost", "G", "G", Profile::Guest)
    };
    let bad_child = User {
        children: strings(&["nobody"]),
        ..person("ghost", "G", "G", Profile::Relative)
    };
    let own_child = User {
        children: strings(&["paul.martin"]),
        ..paul.clone()
    };
    for bad in [&bad_structure, &bad_class, &bad_child, &own_child] {
        let r = store.put_user(bad, Some(&creds(1)), None).await;
        assert!(is_invalid(r), "{bad:?}");
    }
    // A plain account is not a directory user: it cannot be a child.
    store.create_account("admin", &creds(2)).await.unwrap();
    let admin_child = User {
        children: strings(&["admin"]),
        ..paul.clone()
    };
    assert!(is_invalid(store.put_user(&admin_child, None, None).await));
    // A console administrator's account cannot be taken over by the directory (his
    // password, his profile), by the sync API or by an import: refused whole, untouched.
    store
        .set_super_admin_audited("admin", true, "root")
        .await
        .unwrap();
    let takeover = person("admin", "Pirate", "P", Profile::Student);
    assert!(is_invalid(
        store.put_user(&takeover, Some(&creds(9)), None).await
    ));
    let mut with_admin = store.snapshot().await.unwrap();
    with_admin.users.push(takeover.clone());
    assert!(is_invalid(
        store
            .import_snapshot(&with_admin, &no_credentials(), None)
            .await
    ));
    assert_eq!(store.credentials("admin").await.unwrap(), Some(creds(2)));
    assert!(!store.account_exists("ghost").await.unwrap());
    assert_eq!(store.snapshot().await.unwrap(), expected);

    // Deactivation (NotFound when unknown or a plain account), then put_user re-activates.
    store.deactivate_user("zoe.blanc", None).await.unwrap();
    store.deactivate_user("zoe.blanc", None).await.unwrap();
    assert_eq!(
        store.directory_user_active("zoe.blanc").await.unwrap(),
        Some(false)
    );
    assert!(is_not_found(store.deactivate_user("nobody", None).await));
    assert!(is_not_found(store.deactivate_user("admin", None).await));
    let snap = store.snapshot().await.unwrap();
    assert!(snap.users.iter().all(|u| u.login != "zoe.blanc"));
    let paul_now = snap
        .users
        .iter()
        .find(|u| u.login == "paul.martin")
        .unwrap();
    assert_eq!(paul_now.children, strings(&["lea.martin"]));
    store.put_user(&zoe, None, None).await.unwrap();
    // Re-activated, her links and credentials as before, her father's link back.
    assert_eq!(store.snapshot().await.unwrap(), expected);
    assert_eq!(
        store.credentials("zoe.blanc").await.unwrap(),
        Some(creds(7))
    );

    // Groups: create, replace, check references, delete.
    store
        .put_group(
            &group(
                "club",
                "Club",
                Some("0750003C"),
                &["zoe.blanc", "paul.martin"],
            ),
            None,
        )
        .await
        .unwrap();
    store
        .put_group(
            &group("chorale", "Chorale !", Some(COLLEGE), &["hugo.petit"]),
            None,
        )
        .await
        .unwrap();
    assert!(is_invalid(
        store
            .put_group(&group("club", "Club", None, &["zoe.blanc", "nobody"]), None)
            .await
    ));
    assert!(is_invalid(
        store
            .put_group(&group("club", "Club", Some("nowhere"), &[]), None)
            .await
    ));
    assert!(is_invalid(
        store
            .put_group(&group("g", "G", None, &["admin"]), None)
            .await
    ));
    expected.groups.push(group(
        "club",
        "Club",
        Some("0750003C"),
        &["paul.martin", "zoe.blanc"],
    ));
    expected.groups[0] = group("chorale", "Chorale !", Some(COLLEGE), &["hugo.petit"]);
    expected = normalized(expected);
    assert_eq!(store.snapshot().await.unwrap(), expected);
    // A deactivated member is hidden, and back when re-activated.
    store.deactivate_user("zoe.blanc", None).await.unwrap();
    let snap = store.snapshot().await.unwrap();
    let club = snap.groups.iter().find(|g| g.id == "club").unwrap();
    assert_eq!(club.members, strings(&["paul.martin"]));
    store.put_user(&zoe, None, None).await.unwrap();
    assert_eq!(store.snapshot().await.unwrap(), expected);

    store.delete_group("club", None).await.unwrap();
    assert!(is_not_found(store.delete_group("club", None).await));
    expected.groups.retain(|g| g.id != "club");

    // Deleting a class removes its members' links to it.
    store.delete_class("0750003C-CP", None).await.unwrap();
    assert!(is_not_found(store.delete_class("0750003C-CP", None).await));
    expected.classes.retain(|c| c.id != "0750003C-CP");
    user_mut(&mut expected, "zoe.blanc").classes.clear();
    assert_eq!(store.snapshot().await.unwrap(), expected);
}

async fn directory_failing_import_changes_nothing(store: &Store) {
    let mut map = HashMap::new();
    map.insert("lea.martin".to_string(), creds(1));
    store.import_snapshot(&school(), &map, None).await.unwrap();
    store
        .set_rules(COLLEGE, Some(&custom_rules()))
        .await
        .unwrap();
    let before = store.snapshot().await.unwrap();
    let generation = store.generation().await.unwrap();
    let accounts = store.list_accounts().await.unwrap();
    let rules = store.rules().await.unwrap();

    // Many changes (a new user with a password, a move, a deactivation, a renamed
    // structure, a new group, a removed class), and last a class of a structure that does
    // not exist: the database refuses it through its foreign key, all is rolled back.
    let changed = || {
        let mut s = without_user(school(), "marc.roux");
        s.structures[0].name = "Renamed".into();
        s.users.push(User {
            structures: strings(&[COLLEGE]),
            ..person("new.user", "NEW", "User", Profile::Guest)
        });
        user_mut(&mut s, "lea.martin").classes = strings(&["0750001A-6B"]);
        s.groups
            .push(group("new", "New", None, &["new.user", "hugo.petit"]));
        s.classes.retain(|c| c.id != "0750002B-2A");
        user_mut(&mut s, "anne.durand").classes = strings(&["0750001A-6A"]);
        s
    };
    let mut new_map = map.clone();
    new_map.insert("new.user".to_string(), creds(5));
    new_map.insert("lea.martin".to_string(), creds(6));
    let check_unchanged = |what: &'static str| {
        let before = before.clone();
        let accounts = accounts.clone();
        let rules = rules.clone();
        async move {
            assert_eq!(store.snapshot().await.unwrap(), before, "{what}");
            assert_eq!(store.generation().await.unwrap(), generation, "{what}");
            assert_eq!(store.list_accounts().await.unwrap(), accounts, "{what}");
            assert_eq!(store.rules().await.unwrap(), rules, "{what}");
            assert_eq!(
                store.credentials("lea.martin").await.unwrap(),
                Some(creds(1)),
                "{what}"
            );
            assert_eq!(
                store.directory_user_active("marc.roux").await.unwrap(),
                Some(true),
                "{what}"
            );
        }
    };

    let mut bad = changed();
    bad.classes
        .push(class("0750009Z-1A", "0750009Z", "Nowhere"));
    let err = store
        .import_snapshot(&bad, &new_map, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
    check_unchanged("class of a missing structure").await;

    // A user in a class that is not in the snapshot (nor the database).
    let mut bad = changed();
    user_mut(&mut bad, "new.user").classes = strings(&["nothing"]);
    assert!(store.import_snapshot(&bad, &new_map, None).await.is_err());
    check_unchanged("user in a missing class").await;

    // A user in a class the snapshot removes.
    let mut bad = changed();
    user_mut(&mut bad, "new.user").classes = strings(&["0750002B-2A"]);
    assert!(store.import_snapshot(&bad, &new_map, None).await.is_err());
    check_unchanged("user in a removed class").await;

    // A structure removed while a class of the snapshot still refers to it.
    let mut bad = changed();
    bad.structures.retain(|s| s.id != LYCEE);
    bad.classes.push(class("0750002B-1B", LYCEE, "1re B"));
    assert!(store.import_snapshot(&bad, &new_map, None).await.is_err());
    check_unchanged("class of a removed structure").await;

    // A child or a group member who is not in the snapshot (marc is being deactivated).
    let mut bad = changed();
    user_mut(&mut bad, "paul.martin").children = strings(&["lea.martin", "marc.roux"]);
    assert!(is_invalid(
        store.import_snapshot(&bad, &new_map, None).await
    ));
    check_unchanged("child not in the snapshot").await;
    let mut bad = changed();
    bad.groups.push(group("g", "G", None, &["nobody"]));
    assert!(is_invalid(
        store.import_snapshot(&bad, &new_map, None).await
    ));
    check_unchanged("member not in the snapshot").await;

    // Duplicate ids.
    let mut bad = changed();
    bad.users
        .push(person("hugo.petit", "X", "Y", Profile::Guest));
    assert!(is_invalid(
        store.import_snapshot(&bad, &new_map, None).await
    ));
    check_unchanged("duplicate login").await;

    // The good version goes through.
    let got = store
        .import_snapshot(&changed(), &new_map, None)
        .await
        .unwrap();
    assert_eq!(
        (got.users_created, got.users_updated, got.users_deactivated),
        (1, 2, 1)
    );
    assert_eq!(store.snapshot().await.unwrap(), normalized(changed()));
    assert_eq!(store.credentials("new.user").await.unwrap(), Some(creds(5)));
    assert_eq!(
        store.credentials("lea.martin").await.unwrap(),
        Some(creds(6))
    );
}

async fn directory_delete_account_removes_directory_rows(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    // lea: a pupil, a child, a choir member.
    store.delete_account("lea.martin").await.unwrap();
    assert_eq!(
        store.directory_user_active("lea.martin").await.unwrap(),
        None
    );
    let without_lea = normalized(without_user(school(), "lea.martin"));
    assert_eq!(store.snapshot().await.unwrap(), without_lea);
    // Re-created as a plain account, she is not a directory user; re-imported, she is new.
    store.create_account("lea.martin", &creds(1)).await.unwrap();
    assert_eq!(
        store.directory_user_active("lea.martin").await.unwrap(),
        None
    );
    assert_eq!(store.snapshot().await.unwrap(), without_lea);
    let got = store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    // lea created; paul (children) counts as updated.
    assert_eq!(got, report(1, 1, 0));
    assert_eq!(store.snapshot().await.unwrap(), normalized(school()));
    assert_eq!(
        store.credentials("lea.martin").await.unwrap(),
        Some(creds(1))
    );
    // Deleting a deactivated user's account works the same.
    store
        .import_snapshot(
            &without_user(school(), "hugo.petit"),
            &no_credentials(),
            None,
        )
        .await
        .unwrap();
    store.delete_account("hugo.petit").await.unwrap();
    assert_eq!(
        store.directory_user_active("hugo.petit").await.unwrap(),
        None
    );
}

/// The CLI imports, the server notices through the generation and reads the new directory.
async fn directory_changes_seen_by_second_store(store: &Store, other: &Store) {
    assert_eq!(other.generation().await.unwrap(), 0);
    assert_eq!(other.snapshot().await.unwrap(), Snapshot::default());
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(other.generation().await.unwrap(), 1);
    assert_eq!(other.snapshot().await.unwrap(), normalized(school()));
    other.deactivate_user("lea.martin", None).await.unwrap();
    assert_eq!(store.generation().await.unwrap(), 2);
    assert_eq!(
        store.directory_user_active("lea.martin").await.unwrap(),
        Some(false)
    );
    other
        .set_rules(COLLEGE, Some(&custom_rules()))
        .await
        .unwrap();
    assert_eq!(store.generation().await.unwrap(), 3);
    assert_eq!(
        store.rules().await.unwrap().get(COLLEGE),
        Some(&custom_rules())
    );
    // Imports on both at once: each is one transaction, both succeed one after the other.
    let (full, partial, none) = (
        school(),
        without_user(school(), "marc.roux"),
        no_credentials(),
    );
    let (a, b) = tokio::join!(
        store.import_snapshot(&full, &none, None),
        other.import_snapshot(&partial, &none, None),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(store.generation().await.unwrap(), 5);
    let snap = other.snapshot().await.unwrap();
    assert!(
        snap == normalized(school()) || snap == normalized(without_user(school(), "marc.roux"))
    );
}

// ---------------------------------------------------------------------------------------
// Rooms (XEP-0045): configuration, members, archive
// ---------------------------------------------------------------------------------------

async fn created(store: &Store, name: &str, owner: &str) -> Room {
    match store.create_room(name, owner, 1_000, 100).await.unwrap() {
        CreateRoom::Created(room) => room,
        other => panic!("create_room({name}) gave {other:?}"),
    }
}

fn archived(n: i64, stamp_ms: i64) -> ArchivedMessage {
    ArchivedMessage {
        stanza_id: format!("sid-{n}"),
        sender: "alice".into(),
        nick: "MARTIN Léa".into(),
        stanza: format!(
            "<message xmlns='jabber:client' type='groupchat'><body>m{n}</body></message>"
        ),
        stamp_ms,
    }
}

fn ids(page: &causerie_store::ArchivePage) -> Vec<String> {
    page.messages.iter().map(|m| m.stanza_id.clone()).collect()
}

fn sids(range: std::ops::RangeInclusive<i64>) -> Vec<String> {
    range.map(|n| format!("sid-{n}")).collect()
}

async fn rooms_create_read_and_configure(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    assert_eq!(store.room("sortie").await.unwrap(), None);
    let room = created(store, "sortie", "alice").await;
    assert_eq!(room.name, "sortie");
    assert!(room.locked, "a new room is locked");
    assert_eq!(room.created_ms, 1_000);
    assert_eq!((room.title.as_str(), room.subject.as_str()), ("", ""));
    assert_eq!(store.room("sortie").await.unwrap(), Some(room.clone()));
    // The creator is its owner.
    let owner = store.member(room.id, "alice").await.unwrap().unwrap();
    assert_eq!(owner.affiliation, Affiliation::Owner);
    assert_eq!(owner.invited_by, None);

    // Same name again: exists; unknown creator: not found.
    assert_eq!(
        store.create_room("sortie", "alice", 2, 100).await.unwrap(),
        CreateRoom::Exists
    );
    assert!(matches!(
        store.create_room("autre", "nobody", 2, 100).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.room("autre").await.unwrap(), None);

    let mut configured = room.clone();
    configured.title = "Sortie au musée 🎨".into();
    configured.description = "Préparation de la sortie".into();
    configured.subject = "Rendez-vous à 8 h".into();
    configured.subject_by = "MARTIN Léa".into();
    configured.locked = false;
    store.save_room(&configured).await.unwrap();
    assert_eq!(
        store.room("sortie").await.unwrap(),
        Some(configured.clone())
    );

    store.delete_room("sortie").await.unwrap();
    assert!(matches!(
        store.save_room(&configured).await,
        Err(StoreError::NotFound)
    ));
}

async fn rooms_members_and_their_limits(store: &Store) {
    for (n, u) in ["alice", "bob", "carol", "dave"].iter().enumerate() {
        store.create_account(u, &creds(n as u8)).await.unwrap();
    }
    let a = created(store, "a", "alice").await;
    let b = created(store, "b", "bob").await;
    assert_eq!(
        store
            .add_member(a.id, "bob", Some("alice"), 5, 100, 3)
            .await
            .unwrap(),
        AddMember::Added
    );
    assert_eq!(
        store
            .add_member(a.id, "bob", Some("carol"), 6, 100, 3)
            .await
            .unwrap(),
        AddMember::AlreadyMember(Affiliation::Member)
    );
    assert_eq!(
        store
            .add_member(a.id, "alice", None, 6, 100, 3)
            .await
            .unwrap(),
        AddMember::AlreadyMember(Affiliation::Owner)
    );
    let bob = store.member(a.id, "bob").await.unwrap().unwrap();
    assert_eq!(bob.affiliation, Affiliation::Member);
    assert_eq!(
        bob.invited_by.as_deref(),
        Some("alice"),
        "the first inviter is kept"
    );
    assert_eq!(bob.added_ms, 5);
    assert_eq!(bob.nick, None);
    store
        .set_member_nick(a.id, "bob", "BOB l'éponge")
        .await
        .unwrap();
    assert_eq!(
        store
            .member(a.id, "bob")
            .await
            .unwrap()
            .unwrap()
            .nick
            .as_deref(),
        Some("BOB l'éponge")
    );
    // Not a member: nothing happens.
    store.set_member_nick(a.id, "dave", "x").await.unwrap();
    assert_eq!(store.member(a.id, "dave").await.unwrap(), None);

    // Room full at 3 members.
    assert_eq!(
        store
            .add_member(a.id, "carol", None, 7, 100, 3)
            .await
            .unwrap(),
        AddMember::Added
    );
    assert_eq!(
        store
            .add_member(a.id, "dave", None, 7, 100, 3)
            .await
            .unwrap(),
        AddMember::RoomFull
    );
    let members: Vec<(String, Affiliation)> = store
        .members(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.user, m.affiliation))
        .collect();
    assert_eq!(
        members,
        vec![
            ("alice".to_string(), Affiliation::Owner),
            ("bob".to_string(), Affiliation::Member),
            ("carol".to_string(), Affiliation::Member),
        ]
    );
    // bob is in two rooms (owner of b, member of a): at 2 rooms per user he is full, both
    // for invitations and for making rooms.
    assert_eq!(store.room_count_of("bob").await.unwrap(), 2);
    let names: Vec<String> = store
        .rooms_of("bob")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, strings(&["a", "b"]));
    let c = created(store, "c", "carol").await;
    assert_eq!(
        store.add_member(c.id, "bob", None, 8, 2, 10).await.unwrap(),
        AddMember::TooManyRooms
    );
    assert_eq!(
        store.create_room("d", "bob", 8, 2).await.unwrap(),
        CreateRoom::TooManyRooms
    );
    assert_eq!(store.room("d").await.unwrap(), None, "nothing was made");
    assert_eq!(store.member(c.id, "bob").await.unwrap(), None);

    // Unknown room or user.
    assert!(matches!(
        store.add_member(9_999, "bob", None, 8, 100, 100).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.add_member(b.id, "nobody", None, 8, 100, 100).await,
        Err(StoreError::NotFound)
    ));

    // Ending memberships.
    assert!(store.remove_member(a.id, "bob").await.unwrap());
    assert!(!store.remove_member(a.id, "bob").await.unwrap());
    assert_eq!(store.member(a.id, "bob").await.unwrap(), None);
    assert_eq!(store.room_count_of("bob").await.unwrap(), 1);
    assert!(
        store.remove_member(a.id, "alice").await.unwrap(),
        "the owner's too"
    );
    assert_eq!(store.rooms_of("alice").await.unwrap(), vec![]);
    assert_eq!(store.members(a.id).await.unwrap().len(), 1);
    assert_eq!(store.room_count_of("nobody").await.unwrap(), 0);
}

async fn rooms_member_limits_hold_under_concurrency(store: &Store) {
    store.create_account("owner", &creds(1)).await.unwrap();
    let room = created(store, "classe", "owner").await;
    let mut tasks = Vec::new();
    for n in 0..10 {
        let user = format!("u{n}");
        store.create_account(&user, &creds(n)).await.unwrap();
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_member(room.id, &user, Some("owner"), 1, 100, 6)
                .await
        }));
    }
    let mut added = 0;
    for t in tasks {
        match t.await.expect("task").expect("add_member") {
            AddMember::Added => added += 1,
            AddMember::RoomFull => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(added, 5, "6 members at most, the owner included");
    assert_eq!(store.members(room.id).await.unwrap().len(), 6);
}

async fn rooms_archive_batches_keep_order_and_skip_taken_ids(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let room = created(store, "chimie", "alice").await;
    let other = created(store, "physique", "alice").await;
    store
        .archive_message(&room, &archived(5, 50))
        .await
        .unwrap();
    // 150 messages alternating between two rooms (more than one INSERT's rows), all
    // with the same stamp: the order given is the order kept.
    let entries: Vec<ArchiveEntry> = (1..=150)
        .map(|n| {
            let r = if n % 2 == 0 { &other } else { &room };
            ArchiveEntry {
                room_id: r.id,
                room: r.name.clone(),
                message: archived(n, 1_000),
            }
        })
        .collect();
    assert_eq!(
        store.archive_messages(&entries).await.unwrap(),
        149,
        "sid-5 was taken: skipped, the rest written"
    );
    assert_eq!(store.archive_messages(&[]).await.unwrap(), 0);
    let all = ArchiveQuery {
        max: 200,
        ..ArchiveQuery::default()
    };
    let p = store.archive_page(room.id, &all).await.unwrap();
    let want: Vec<String> = std::iter::once("sid-5".to_string())
        .chain(
            (1..=150)
                .filter(|n| n % 2 == 1 && *n != 5)
                .map(|n| format!("sid-{n}")),
        )
        .collect();
    assert_eq!(ids(&p), want);
    assert_eq!(p.messages[1], archived(1, 1_000));
    let p = store.archive_page(other.id, &all).await.unwrap();
    assert_eq!(
        ids(&p),
        (1..=75)
            .map(|n| format!("sid-{}", n * 2))
            .collect::<Vec<_>>()
    );
}

async fn rooms_archive_pages_forward_and_backward(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let room = created(store, "histoire", "alice").await;
    let other = created(store, "autre", "alice").await;
    for n in 1..=10 {
        store
            .archive_message(&room, &archived(n, n * 100))
            .await
            .unwrap();
    }
    store
        .archive_message(&other, &archived(11, 50))
        .await
        .unwrap();
    assert!(matches!(
        store.archive_message(&other, &archived(3, 60)).await,
        Err(StoreError::AlreadyExists)
    ));
    let q = |max| ArchiveQuery {
        max,
        ..ArchiveQuery::default()
    };
    // Forward from the oldest.
    let p = store.archive_page(room.id, &q(4)).await.unwrap();
    assert_eq!(ids(&p), sids(1..=4));
    assert!(!p.complete);
    assert_eq!((p.count, p.first_index), (10, 0));
    assert_eq!(p.messages[0], archived(1, 100));
    let p = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                after_id: Some("sid-8".into()),
                ..q(4)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&p), sids(9..=10));
    assert!(p.complete);
    assert_eq!(p.first_index, 8);
    // Backward from the most recent (what a client does to page back through history).
    let p = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                last_page: true,
                ..q(3)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&p), sids(8..=10));
    assert!(!p.complete);
    assert_eq!(p.first_index, 7);
    let p = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                before_id: Some("sid-8".into()),
                ..q(3)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&p), sids(5..=7));
    let p = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                before_id: Some("sid-3".into()),
                ..q(3)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&p), sids(1..=2));
    assert!(p.complete, "reached the oldest message");
    // Exactly max left: complete too.
    let p = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                before_id: Some("sid-4".into()),
                ..q(3)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&p), sids(1..=3));
    assert!(p.complete);
    // Time bounds (inclusive), combined with paging.
    let p = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                start_ms: Some(300),
                end_ms: Some(700),
                ..q(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&p), sids(3..=4));
    assert_eq!((p.count, p.first_index, p.complete), (5, 0, false));
    let p = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                start_ms: Some(300),
                end_ms: Some(700),
                last_page: true,
                ..q(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&p), sids(6..=7));
    assert_eq!(p.first_index, 3);
    // max 0: only the count.
    let p = store.archive_page(room.id, &q(0)).await.unwrap();
    assert!(p.messages.is_empty());
    assert_eq!(p.count, 10);
    // Unknown ids, and ids of another room, are not found.
    for bad in ["nope", "sid-11"] {
        assert!(matches!(
            store
                .archive_page(
                    room.id,
                    &ArchiveQuery {
                        after_id: Some(bad.into()),
                        ..q(3)
                    }
                )
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .archive_page(
                    room.id,
                    &ArchiveQuery {
                        before_id: Some(bad.into()),
                        ..q(3)
                    }
                )
                .await,
            Err(StoreError::NotFound)
        ));
    }
    // Rooms do not see each other's messages.
    let p = store.archive_page(other.id, &q(50)).await.unwrap();
    assert_eq!(ids(&p), strings(&["sid-11"]));
}

async fn rooms_deleted_room_keeps_its_archive_until_purged(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    let room = created(store, "sortie", "alice").await;
    store
        .add_member(room.id, "bob", Some("alice"), 1, 100, 100)
        .await
        .unwrap();
    for n in 1..=3 {
        store
            .archive_message(&room, &archived(n, n * 1_000))
            .await
            .unwrap();
    }
    assert!(store.delete_room("sortie").await.unwrap());
    assert!(!store.delete_room("sortie").await.unwrap());
    assert_eq!(store.room("sortie").await.unwrap(), None);
    assert_eq!(store.rooms_of("bob").await.unwrap(), vec![]);
    assert_eq!(store.member(room.id, "bob").await.unwrap(), None);

    // A new room of the same name is another room: it does not see the old archive.
    let again = created(store, "sortie", "bob").await;
    assert_ne!(again.id, room.id);
    let page = store
        .archive_page(
            again.id,
            &ArchiveQuery {
                max: 50,
                ..ArchiveQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(page.messages.is_empty());
    assert_eq!(page.count, 0);
    store
        .archive_message(&again, &archived(4, 10_000))
        .await
        .unwrap();

    // The old room's messages are still there until the retention limit purges them.
    assert_eq!(store.purge_archive(2_500).await.unwrap(), 2);
    assert_eq!(store.purge_archive(2_500).await.unwrap(), 0);
    assert_eq!(store.purge_archive(5_000).await.unwrap(), 1);
    let page = store
        .archive_page(
            again.id,
            &ArchiveQuery {
                max: 50,
                ..ArchiveQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), strings(&["sid-4"]), "younger messages stay");
}

async fn rooms_locked_rooms_are_deleted_together(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let mut open = created(store, "ouverte", "alice").await;
    open.locked = false;
    store.save_room(&open).await.unwrap();
    created(store, "zeta", "alice").await;
    created(store, "beta", "alice").await;
    assert_eq!(
        store.delete_locked_rooms().await.unwrap(),
        strings(&["beta", "zeta"])
    );
    assert_eq!(
        store.delete_locked_rooms().await.unwrap(),
        Vec::<String>::new()
    );
    let left: Vec<String> = store
        .rooms_of("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(left, strings(&["ouverte"]));
}

async fn rooms_deleting_an_account_ends_its_memberships(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    let room = created(store, "sortie", "alice").await;
    store
        .add_member(room.id, "bob", Some("alice"), 1, 100, 100)
        .await
        .unwrap();
    store.archive_message(&room, &archived(1, 1)).await.unwrap();
    store.delete_account("bob").await.unwrap();
    let members: Vec<String> = store
        .members(room.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user)
        .collect();
    assert_eq!(members, strings(&["alice"]));
    // The room and its archive are untouched.
    assert!(store.room("sortie").await.unwrap().is_some());
    let page = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                max: 5,
                ..ArchiveQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.count, 1);
}

// ---------------------------------------------------------------------------------------
// Backend-specific checks (not part of the shared suite)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = Store::connect(&url).await.expect("connect");
    assert!(path.exists(), "the SQLite file is created when missing");
    store.create_account("alice", &creds(1)).await.unwrap();
    store.close().await;

    // WAL is a property of the file: another connection sees it.
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("raw connection");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    conn.close().await.ok();

    // Reconnecting (migrations already applied) keeps the data.
    let store = Store::connect(&url).await.expect("reconnect");
    assert_eq!(store.credentials("alice").await.unwrap(), Some(creds(1)));
    store.close().await;
}

/// Without a URL the PostgreSQL half is skipped for a developer, but fails where it is
/// required (CI), so that it cannot pass there without running.
#[test]
fn postgres_is_required_when_asked() {
    let url = || Some("postgres://postgres@127.0.0.1:5432/test".to_string());
    assert_eq!(postgres_url(url(), None), Ok(url()));
    assert_eq!(postgres_url(url(), Some("1".into())), Ok(url()));
    assert_eq!(postgres_url(None, None), Ok(None));
    assert_eq!(postgres_url(None, Some("0".into())), Ok(None));
    assert_eq!(postgres_url(Some(" ".into()), None), Ok(None));
    for unset in [None, Some(String::new())] {
        let refused = postgres_url(unset, Some("1".into()));
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains(POSTGRES_ENV) && e.contains(REQUIRE_ENV)),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn postgres_schemas_isolate_tests() {
    let Some((base, schema_a, url_a)) = postgres_schema("postgres_schemas_isolate_tests").await
    else {
        return;
    };
    let Some((_, schema_b, url_b)) = postgres_schema("postgres_schemas_isolate_tests").await else {
        return;
    };
    let outcome = tokio::spawn(async move {
        let a = Store::connect(&url_a).await.expect("connect a");
        let b = Store::connect(&url_b).await.expect("connect b");
        a.create_account("alice", &creds(1)).await.unwrap();
        b.create_account("alice", &creds(2)).await.unwrap();
        assert_eq!(a.credentials("alice").await.unwrap(), Some(creds(1)));
        assert_eq!(b.credentials("alice").await.unwrap(), Some(creds(2)));
        a.close().await;
        b.close().await;
    })
    .await;
    // The tables were created inside the test schemas, not in `public`.
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("admin");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_schema FROM information_schema.tables \
         WHERE table_name = 'accounts' AND table_schema IN ($1, $2) ORDER BY table_schema",
    )
    .bind(&schema_a)
    .bind(&schema_b)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.ok();
    drop_postgres_schema(&base, &schema_a).await;
    drop_postgres_schema(&base, &schema_b).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    assert_eq!(tables, sorted(vec![schema_a, schema_b]));
}

#[tokio::test]
async fn connect_rejects_unknown_scheme() {
    let err = Store::connect("mysql://root@localhost/causerie")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
    assert_eq!(
        Backend::from_url("postgresql://x@y/z"),
        Some(Backend::Postgres)
    );
    assert_eq!(
        Backend::from_url("sqlite://a.db?mode=rwc"),
        Some(Backend::Sqlite)
    );
    assert_eq!(Backend::from_url("a.db"), None);
}

#[test]
fn subscription_strings_round_trip() {
    for sub in [
        Subscription::None,
        Subscription::To,
        Subscription::From,
        Subscription::Both,
    ] {
        assert_eq!(Subscription::parse(sub.as_str()), Some(sub));
        assert_eq!(sub.as_str().parse::<Subscription>(), Ok(sub));
        assert_eq!(sub.to_string(), sub.as_str());
    }
    assert_eq!(Subscription::Both.as_str(), "both");
    assert_eq!(Subscription::From.as_str(), "from");
    assert_eq!(Subscription::parse("remove"), None);
    assert_eq!(Subscription::parse("Both"), None);
    assert!("".parse::<Subscription>().is_err());
}

// ---------------------------------------------------------------------------------------
// Administration
// ---------------------------------------------------------------------------------------

fn grants_of(grants: &[causerie_store::AdminGrant]) -> Vec<(String, String, GrantSource)> {
    grants
        .iter()
        .map(|g| (g.login.clone(), g.structure.clone(), g.source))
        .collect()
}

async fn audit_rows(store: &Store) -> Vec<causerie_store::AuditEntry> {
    store
        .audit_log(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

async fn admin_grants_from_import_and_by_hand(store: &Store) {
    let mut s = school();
    user_mut(&mut s, "marc.roux").admin_of = strings(&[LYCEE]);
    store
        .import_snapshot(&s, &no_credentials(), None)
        .await
        .unwrap();
    // The snapshot read back carries the import's grants.
    assert_eq!(store.snapshot().await.unwrap(), normalized(s.clone()));
    assert_eq!(
        grants_of(&store.admin_grants().await.unwrap()),
        vec![("marc.roux".into(), LYCEE.into(), GrantSource::Import)]
    );
    assert!(
        store
            .grant_audited("anne.durand", COLLEGE, "root")
            .await
            .unwrap()
    );
    assert!(
        !store
            .grant_audited("anne.durand", COLLEGE, "root")
            .await
            .unwrap()
    );
    assert!(matches!(
        store.grant_audited("anne.durand", "nowhere", "root").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.grant_audited("nobody", COLLEGE, "root").await,
        Err(StoreError::Invalid(_))
    ));
    // Several at once: all or nothing.
    assert!(matches!(
        store
            .grant_many_audited("marc.roux", &strings(&[COLLEGE, "nowhere"]), "root")
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.admin_grants_of("marc.roux").await.unwrap().len(), 1);
    // A new import replaces the import's grants, never the hand-made ones.
    user_mut(&mut s, "marc.roux").admin_of = Vec::new();
    user_mut(&mut s, "paul.martin").admin_of = strings(&[COLLEGE]);
    store
        .import_snapshot(&s, &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(
        grants_of(&store.admin_grants().await.unwrap()),
        vec![
            ("anne.durand".into(), COLLEGE.into(), GrantSource::Grant),
            ("paul.martin".into(), COLLEGE.into(), GrantSource::Import),
        ]
    );
    // The sync API's put_user replaces that user's import grants.
    let mut paul = s
        .users
        .iter()
        .find(|u| u.login == "paul.martin")
        .unwrap()
        .clone();
    paul.admin_of = strings(&[LYCEE]);
    store.put_user(&paul, None, None).await.unwrap();
    assert_eq!(
        grants_of(&store.admin_grants_of("paul.martin").await.unwrap()),
        vec![("paul.martin".into(), LYCEE.into(), GrantSource::Import)]
    );
    // Revoking removes the hand-made grant only.
    assert!(
        !store
            .revoke_audited("paul.martin", LYCEE, "root")
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_audited("anne.durand", COLLEGE, "root")
            .await
            .unwrap()
    );
    assert!(
        store
            .admin_grants_of("anne.durand")
            .await
            .unwrap()
            .is_empty()
    );
    let actions: Vec<String> = audit_rows(store)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, vec!["admin.revoke", "admin.grant"]);
}

async fn admin_super_admins(store: &Store) {
    store.create_account("root", &creds(1)).await.unwrap();
    assert!(store.super_admins().await.unwrap().is_empty());
    assert!(
        store
            .set_super_admin_audited("root", true, "cli")
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_super_admin_audited("root", true, "cli")
            .await
            .unwrap()
    );
    assert_eq!(
        store.super_admins().await.unwrap(),
        vec!["root".to_string()]
    );
    assert!(matches!(
        store.set_super_admin_audited("ghost", true, "cli").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        store
            .set_super_admin_audited("root", false, "cli")
            .await
            .unwrap()
    );
    assert!(store.super_admins().await.unwrap().is_empty());
    assert_eq!(audit_rows(store).await.len(), 2);
}

async fn admin_sessions_and_login_failures(store: &Store) {
    let session = AdminSession {
        token_hash: "ab".repeat(32),
        login: "marc.roux".into(),
        csrf: "csrf-token".into(),
        created_ms: 1_000,
        last_seen_ms: 1_000,
        expires_ms: 100_000,
    };
    store.create_admin_session(&session).await.unwrap();
    assert_eq!(
        store.admin_session(&session.token_hash).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.admin_session("cd").await.unwrap(), None);
    store
        .touch_admin_session(&session.token_hash, 5_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .admin_session(&session.token_hash)
            .await
            .unwrap()
            .unwrap()
            .last_seen_ms,
        5_000
    );
    // Neither idle (seen at 5000 >= 4000) nor past its end (100000 > 50000): kept.
    assert_eq!(
        store
            .delete_expired_admin_sessions(50_000, 4_000)
            .await
            .unwrap(),
        0
    );
    // Idle since before 6000: deleted.
    assert_eq!(
        store
            .delete_expired_admin_sessions(50_000, 6_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.admin_session(&session.token_hash).await.unwrap(),
        None
    );
    store.create_admin_session(&session).await.unwrap();
    store
        .delete_admin_session(&session.token_hash)
        .await
        .unwrap();
    assert_eq!(
        store.admin_session(&session.token_hash).await.unwrap(),
        None
    );
    // All the sessions of one login go at once; another login's stay.
    let second = AdminSession {
        token_hash: "ef".repeat(32),
        ..session.clone()
    };
    let other = AdminSession {
        token_hash: "01".repeat(32),
        login: "anne.durand".into(),
        ..session.clone()
    };
    for s in [&session, &second, &other] {
        store.create_admin_session(s).await.unwrap();
    }
    assert_eq!(
        store.delete_admin_sessions_of("marc.roux").await.unwrap(),
        2
    );
    for s in [&session, &second] {
        assert_eq!(store.admin_session(&s.token_hash).await.unwrap(), None);
    }
    assert_eq!(
        store.admin_session(&other.token_hash).await.unwrap(),
        Some(other.clone())
    );
    assert_eq!(
        store.delete_admin_sessions_of("marc.roux").await.unwrap(),
        0
    );
    // A new password ends the sessions opened with the old one (anne.durand's account).
    if !store.account_exists("anne.durand").await.unwrap() {
        store
            .create_account("anne.durand", &creds(1))
            .await
            .unwrap();
    }
    store
        .set_credentials("anne.durand", &creds(2))
        .await
        .unwrap();
    assert_eq!(store.admin_session(&other.token_hash).await.unwrap(), None);
    store.create_admin_session(&other).await.unwrap();
    store.delete_admin_session(&other.token_hash).await.unwrap();

    for at in [10, 20, 30] {
        store
            .record_admin_failure("marc.roux", at, 0)
            .await
            .unwrap();
    }
    store.record_admin_failure("other", 25, 0).await.unwrap();
    assert_eq!(
        store.admin_failures_since("marc.roux", 15).await.unwrap(),
        vec![30, 20]
    );
    // Recording forgets old failures (of every login).
    store
        .record_admin_failure("marc.roux", 40, 25)
        .await
        .unwrap();
    assert_eq!(
        store.admin_failures_since("marc.roux", 0).await.unwrap(),
        vec![40, 30]
    );
    assert_eq!(
        store.admin_failures_since("other", 0).await.unwrap(),
        vec![25]
    );
    store.clear_admin_failures("marc.roux").await.unwrap();
    assert!(
        store
            .admin_failures_since("marc.roux", 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.admin_failures_since("other", 0).await.unwrap(),
        vec![25]
    );
}

async fn admin_lock_is_audited_and_goes_with_the_account(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    assert!(!store.account_locked("alice").await.unwrap());
    let g0 = store.generation().await.unwrap();
    assert!(
        store
            .set_locked_audited("alice", true, "root", Some(COLLEGE))
            .await
            .unwrap()
    );
    let g1 = store.generation().await.unwrap();
    assert!(
        g1 > g0,
        "a lock moves the generation (servers reload their lock list)"
    );
    assert!(
        !store
            .set_locked_audited("alice", true, "root", Some(COLLEGE))
            .await
            .unwrap()
    );
    assert_eq!(
        store.generation().await.unwrap(),
        g1,
        "no change, same generation"
    );
    assert!(store.account_locked("alice").await.unwrap());
    assert_eq!(
        store.locked_accounts().await.unwrap(),
        vec!["alice".to_string()]
    );
    assert!(matches!(
        store.set_locked_audited("ghost", true, "root", None).await,
        Err(StoreError::NotFound)
    ));
    let rows = audit_rows(store).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "user.lock");
    assert_eq!(rows[0].actor, "root");
    assert_eq!(rows[0].structure.as_deref(), Some(COLLEGE));
    assert_eq!(rows[0].target.as_deref(), Some("alice"));
    assert_eq!(rows[0].before, Some(serde_json::json!({"locked": false})));
    assert_eq!(rows[0].after, Some(serde_json::json!({"locked": true})));
    store.delete_account("alice").await.unwrap();
    assert!(store.locked_accounts().await.unwrap().is_empty());
    store.create_account("alice", &creds(2)).await.unwrap();
    assert!(!store.account_locked("alice").await.unwrap());
}

async fn admin_access_and_rules_changes_are_audited_atomically(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let generation = store.generation().await.unwrap();
    // Unknown structure: nothing changes, no audit row, same generation.
    let closed = Access {
        enabled: false,
        profiles: vec![],
    };
    assert!(matches!(
        store.set_access_audited("nowhere", &closed, "root").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_rules_audited("nowhere", Some(&[]), "root").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_rules_audited("nowhere", None, "root").await,
        Err(StoreError::NotFound)
    ));
    assert!(audit_rows(store).await.is_empty());
    assert_eq!(store.generation().await.unwrap(), generation);

    let before = store
        .set_access_audited(COLLEGE, &closed, "marc.roux")
        .await
        .unwrap();
    assert_eq!(before, Access::default());
    assert_eq!(store.access(COLLEGE).await.unwrap(), closed);
    assert!(store.generation().await.unwrap() > generation);
    let rules = vec![Rule::new(
        &[Profile::Student],
        &[Profile::Student],
        Scope::SameStructure,
        false,
    )];
    store
        .set_rules_audited(COLLEGE, Some(&rules), "marc.roux")
        .await
        .unwrap();
    assert_eq!(store.rules().await.unwrap().get(COLLEGE), Some(&rules));
    store
        .set_rules_audited(COLLEGE, None, "marc.roux")
        .await
        .unwrap();
    assert_eq!(store.rules().await.unwrap().get(COLLEGE), None);

    let rows = audit_rows(store).await;
    let actions: Vec<&str> = rows.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "structure.rules_reset",
            "structure.rules",
            "structure.access"
        ]
    );
    assert_eq!(
        rows[2].before,
        Some(
            serde_json::json!({"enabled": true, "profiles": ["student", "relative", "teacher", "personnel", "guest"]})
        )
    );
    assert_eq!(
        rows[2].after,
        Some(serde_json::json!({"enabled": false, "profiles": []}))
    );
    assert_eq!(rows[1].before, Some(serde_json::Value::Null));
    assert_eq!(
        rows[1].after,
        Some(
            serde_json::json!([{"from": ["student"], "to": ["student"], "scope": "same_structure", "two_way": false}])
        )
    );
    assert_eq!(rows[0].after, Some(serde_json::Value::Null));
    assert!(rows.iter().all(|r| r.structure.as_deref() == Some(COLLEGE)));
}

async fn admin_group_changes_are_audited_atomically(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let theatre = group("theatre", "Théâtre", Some(COLLEGE), &["lea.martin"]);
    // Refused changes leave nothing behind.
    let generation = store.generation().await.unwrap();
    for bad in [
        GroupChange::Create(group("x", "X", Some("nowhere"), &[])),
        GroupChange::Create(group("x", "X", Some(COLLEGE), &["ghost"])),
        GroupChange::Create(group("chorale", "Again", Some(COLLEGE), &[])),
        GroupChange::Rename {
            id: "nope".into(),
            name: "N".into(),
        },
        GroupChange::AddMember {
            id: "chorale".into(),
            login: "ghost".into(),
        },
        GroupChange::RemoveMember {
            id: "chorale".into(),
            login: "hugo.petit".into(),
        },
        GroupChange::Delete { id: "nope".into() },
    ] {
        assert!(
            store.change_group_audited(&bad, "root").await.is_err(),
            "{bad:?}"
        );
    }
    assert!(store.group("x").await.unwrap().is_none());
    assert!(audit_rows(store).await.is_empty());
    assert_eq!(store.generation().await.unwrap(), generation);

    let (before, after) = store
        .change_group_audited(&GroupChange::Create(theatre.clone()), "root")
        .await
        .unwrap();
    assert_eq!((before, after), (None, Some(theatre.clone())));
    store
        .change_group_audited(
            &GroupChange::Rename {
                id: "theatre".into(),
                name: "<b>Théâtre</b>".into(),
            },
            "root",
        )
        .await
        .unwrap();
    store
        .change_group_audited(
            &GroupChange::AddMember {
                id: "theatre".into(),
                login: "hugo.petit".into(),
            },
            "root",
        )
        .await
        .unwrap();
    let g = store.group("theatre").await.unwrap().unwrap();
    assert_eq!(g.name, "<b>Théâtre</b>");
    assert_eq!(g.members, strings(&["hugo.petit", "lea.martin"]));
    store
        .change_group_audited(
            &GroupChange::RemoveMember {
                id: "theatre".into(),
                login: "lea.martin".into(),
            },
            "root",
        )
        .await
        .unwrap();
    let snapshot = store.snapshot().await.unwrap();
    let g = snapshot.groups.iter().find(|g| g.id == "theatre").unwrap();
    assert_eq!(g.members, strings(&["hugo.petit"]));
    let (before, after) = store
        .change_group_audited(
            &GroupChange::Delete {
                id: "theatre".into(),
            },
            "root",
        )
        .await
        .unwrap();
    assert!(before.is_some() && after.is_none());
    assert!(store.group("theatre").await.unwrap().is_none());
    let rows = audit_rows(store).await;
    let actions: Vec<&str> = rows.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "group.delete",
            "group.remove_member",
            "group.add_member",
            "group.rename",
            "group.create"
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.structure.as_deref() == Some(COLLEGE)
                && r.target.as_deref() == Some("theatre"))
    );
    assert_eq!(rows[0].after, None);
    assert_eq!(rows[4].before, None);
    assert_eq!(
        rows[3].after.as_ref().unwrap()["name"],
        serde_json::json!("<b>Théâtre</b>")
    );
}

async fn admin_audit_log_filters_and_pages(store: &Store) {
    let mut ids = Vec::new();
    for (i, structure) in [Some(COLLEGE), Some(LYCEE), None, Some(COLLEGE)]
        .into_iter()
        .enumerate()
    {
        ids.push(
            store
                .audit(&NewAudit {
                    actor: "root".into(),
                    action: format!("test.{i}"),
                    structure: structure.map(Into::into),
                    target: Some("x".into()),
                    before: None,
                    after: Some(serde_json::json!({"i": i})),
                })
                .await
                .unwrap(),
        );
    }
    let all = audit_rows(store).await;
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let college = store
        .audit_log(&AuditQuery {
            structures: Some(vec![COLLEGE.into()]),
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        college
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        vec!["test.3", "test.0"]
    );
    let none = store
        .audit_log(&AuditQuery {
            structures: Some(vec![]),
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let page = store
        .audit_log(&AuditQuery {
            structures: None,
            before_id: Some(ids[3]),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["test.2", "test.1"]
    );
    assert_eq!(page[0].structure, None);
    assert_eq!(page[0].after, Some(serde_json::json!({"i": 2})));
}

async fn admin_imports_are_recorded(store: &Store) {
    assert_eq!(store.last_import().await.unwrap(), None);
    store
        .record_import("cli", true, &serde_json::json!({"users_created": 3}), &[])
        .await
        .unwrap();
    store
        .record_import(
            "api",
            false,
            &serde_json::json!({}),
            &["users[0]: bad".to_string()],
        )
        .await
        .unwrap();
    let last = store.last_import().await.unwrap().unwrap();
    assert_eq!(last.source, "api");
    assert!(!last.ok);
    assert_eq!(last.errors, vec!["users[0]: bad".to_string()]);
    assert_eq!(last.counts, serde_json::json!({}));
}

async fn refusals_last_until_lifted(store: &Store) {
    store.create_account("hugo", &creds(1)).await.unwrap();
    store.create_account("lea", &creds(2)).await.unwrap();
    let lea = "lea@school.example";
    assert!(!store.has_refused("hugo", lea).await.unwrap());
    store.refuse("hugo", lea, 1_000).await.unwrap();
    // Twice is the same refusal.
    store.refuse("hugo", lea, 2_000).await.unwrap();
    assert!(store.has_refused("hugo", lea).await.unwrap());
    // One way only, and per refuser.
    assert!(
        !store
            .has_refused("lea", "hugo@school.example")
            .await
            .unwrap()
    );
    // It outlives the requester's roster item.
    store
        .put_roster_item("lea", &item("hugo@school.example"))
        .await
        .unwrap();
    store
        .remove_roster_item("lea", "hugo@school.example")
        .await
        .unwrap();
    assert!(store.has_refused("hugo", lea).await.unwrap());
    assert!(store.lift_refusal("hugo", lea).await.unwrap());
    assert!(!store.has_refused("hugo", lea).await.unwrap());
    assert!(!store.lift_refusal("hugo", lea).await.unwrap());
    let err = store.refuse("nobody", lea, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");
    // It goes with the refuser's account.
    store.refuse("hugo", lea, 3_000).await.unwrap();
    store.delete_account("hugo").await.unwrap();
    store.create_account("hugo", &creds(3)).await.unwrap();
    assert!(!store.has_refused("hugo", lea).await.unwrap());
}

async fn incremental_changes_write_their_audit_row_with_them(store: &Store) {
    use causerie_store::{AdminStore, AuditQuery, NewAudit};
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let audit = |action: &str| NewAudit {
        actor: "api".into(),
        action: action.into(),
        target: Some("x".into()),
        ..NewAudit::default()
    };
    let log = || async {
        store
            .audit_log(&AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
    };
    let before = log().await.len();
    let generation = store.generation().await.unwrap();
    // A refused change writes neither itself, nor its row, nor a new generation.
    let mut bad = school().users[0].clone();
    bad.classes = vec!["no-such-class".into()];
    assert!(
        store
            .put_user(&bad, None, Some(&audit("directory.user")))
            .await
            .is_err()
    );
    assert_eq!(log().await.len(), before);
    assert_eq!(store.generation().await.unwrap(), generation);
    // An accepted one writes its row.
    let good = school().users[0].clone();
    store
        .put_user(&good, None, Some(&audit("directory.user")))
        .await
        .unwrap();
    store
        .deactivate_user(&good.login, Some(&audit("directory.user_deleted")))
        .await
        .unwrap();
    let rows = log().await;
    assert_eq!(rows.len(), before + 2);
    assert_eq!(rows[0].action, "directory.user_deleted");
    assert_eq!(rows[1].action, "directory.user");
    assert_eq!(rows[0].actor, "api");
    // An import's row says what it did.
    store
        .import_snapshot(
            &school(),
            &no_credentials(),
            Some(&audit("directory.import")),
        )
        .await
        .unwrap();
    let rows = log().await;
    assert_eq!(rows[0].action, "directory.import");
    let after = rows[0].after.clone().unwrap();
    assert_eq!(after["users_updated"], 1, "{after}");
}

// ---------------------------------------------------------------------------------------
// Moderation: tombstones in the archives, with the audit row
// ---------------------------------------------------------------------------------------

fn moderation_audit(action: &str) -> NewAudit {
    NewAudit {
        actor: "cpe".into(),
        action: action.into(),
        structure: Some("S1".into()),
        target: None,
        before: None,
        after: None,
    }
}

async fn last_audit_action(store: &Store) -> Option<String> {
    store
        .audit_log(&AuditQuery {
            limit: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .first()
        .map(|r| r.action.clone())
}

async fn moderation_replaces_room_messages_with_tombstones(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let room = created(store, "chimie", "alice").await;
    for n in 1..=3 {
        store
            .archive_message(&room, &archived(n, n * 10))
            .await
            .unwrap();
    }
    let found = store
        .room_archived("chimie", "sid-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.owner.as_str(), found.with.as_str()),
        ("chimie", "alice")
    );
    assert!(found.stanza.contains("m2"));
    assert_eq!(
        store.room_archived("physique", "sid-2").await.unwrap(),
        None
    );

    let tomb = "<message xmlns='jabber:client' type='groupchat'><retracted/></message>";
    store
        .retract_room_message_audited(
            "chimie",
            "sid-2",
            tomb,
            &moderation_audit("room.message_moderated"),
        )
        .await
        .unwrap();
    let page = store
        .archive_page(
            room.id,
            &ArchiveQuery {
                max: 10,
                ..ArchiveQuery::default()
            },
        )
        .await
        .unwrap();
    let stanzas: Vec<&str> = page.messages.iter().map(|m| m.stanza.as_str()).collect();
    assert_eq!(
        ids(&page),
        ["sid-1", "sid-2", "sid-3"],
        "the row keeps its place"
    );
    assert_eq!(stanzas[1], tomb);
    assert!(stanzas[0].contains("m1") && stanzas[2].contains("m3"));
    assert_eq!(
        last_audit_action(store).await.as_deref(),
        Some("room.message_moderated")
    );

    // Another room's name, or an unknown id: nothing changes, no audit row.
    for (r, id) in [("physique", "sid-1"), ("chimie", "nope")] {
        let e = store
            .retract_room_message_audited(r, id, tomb, &moderation_audit("other"))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
    }
    assert_eq!(
        last_audit_action(store).await.as_deref(),
        Some("room.message_moderated")
    );
}

async fn moderation_replaces_both_copies_and_drops_offline_ones(store: &Store) {
    for user in ["ana", "ben", "cloe"] {
        store.create_account(user, &creds(1)).await.unwrap();
    }
    let sid = "0190f5a2-7c1e-7d3a-9b2e-5f1c2d3e4f50";
    let entry = |owner: &str, with: &str, outgoing: bool| AccountArchiveEntry {
        owner: owner.into(),
        message: AccountMessage {
            stanza_id: sid.into(),
            with: with.into(),
            outgoing,
            stanza: "<message xmlns='jabber:client'><body>méchant</body></message>".into(),
            stamp_ms: 5,
        },
    };
    store
        .write_archives(
            &[],
            &[
                entry("ana", "ben@x", true),
                entry("ben", "ana@x", false),
                one_to_one("ana", 7, "ben@x", 6),
            ],
        )
        .await
        .unwrap();
    let offline = format!(
        "<message xmlns='jabber:client'><body>méchant</body><stanza-id xmlns='urn:xmpp:sid:0' id='{sid}' by='ben@x'/></message>"
    );
    store.store_offline("ben", &offline, 5, 100).await.unwrap();
    store
        .store_offline(
            "ben",
            "<message xmlns='jabber:client'><body>autre</body></message>",
            6,
            100,
        )
        .await
        .unwrap();
    store.store_offline("cloe", &offline, 5, 100).await.unwrap();

    let owners = vec!["ben".to_string(), "ana".to_string(), "cloe".to_string()];
    let rows = store.account_archived(&owners, sid).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.owner.as_str(), r.with.as_str(), r.outgoing))
            .collect::<Vec<_>>(),
        [("ana", "ben@x", true), ("ben", "ana@x", false)]
    );

    let tomb = "<message xmlns='jabber:client'><retracted/></message>";
    let done = store
        .retract_account_message_audited(
            sid,
            &[("ana".into(), tomb.into()), ("ben".into(), tomb.into())],
            &moderation_audit("message.moderated"),
        )
        .await
        .unwrap();
    assert_eq!(done, (2, 1), "two archive rows, ben's offline copy");
    for owner in ["ana", "ben"] {
        let rows = store
            .account_archived(&[owner.to_string()], sid)
            .await
            .unwrap();
        assert_eq!(rows[0].stanza, tomb);
    }
    let left: Vec<String> = store
        .offline_messages("ben")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.stanza)
        .collect();
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("autre"));
    // Cloe was not named: her offline copy (a forged one) stays.
    assert_eq!(store.offline_messages("cloe").await.unwrap().len(), 1);
    // The other message is untouched.
    let page = store
        .account_archive_page(
            "ana",
            &ArchiveQuery {
                max: 10,
                ..ArchiveQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(
        page.messages
            .iter()
            .any(|m| m.stanza.contains("<body>7</body>"))
    );
    assert_eq!(
        last_audit_action(store).await.as_deref(),
        Some("message.moderated")
    );

    // Nobody holds it: NotFound, no audit row.
    let e = store
        .retract_account_message_audited(
            "other",
            &[("ana".into(), tomb.into())],
            &moderation_audit("x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");
    assert_eq!(
        last_audit_action(store).await.as_deref(),
        Some("message.moderated")
    );
}

/// On a SQLite file the archive writer's own connection writes the accounts' messages in
/// chunks (migration 0022): they page as rows do, across a chunk's end too (a chunk holds
/// at most 4,096), an owner without an account fails the whole batch, and a purge rewrites
/// the chunks with the purged text gone from the file.
#[tokio::test]
async fn sqlite_archive_writer_chunks_page_as_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("chunks.db").display()
    );
    let store = Store::connect(&url).await.expect("connect");
    for user in ["ana", "ben"] {
        store.create_account(user, &creds(1)).await.unwrap();
    }
    let mut writer = store.archive_writer().expect("the writer's own connection");
    // ana: m1..m5000 with ben, stamped 1..5000, stanzas of a few bytes (`#n#`, so that
    // 4,096 of them fit a chunk's bytes and the count splits it); ben's copies of the first
    // ten between.
    let mut entries = Vec::new();
    for n in 1..=5000 {
        let mut e = one_to_one("ana", n, "ben@x", n);
        e.message.stanza = format!("#{n}#");
        entries.push(e);
        if n <= 10 {
            entries.push(one_to_one("ben", n, "ana@x", n));
        }
    }
    assert_eq!(writer.write(&[], &entries).unwrap(), 5010);
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let chunks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_archive_chunk")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(chunks, 3, "ana's 5,000 in two chunks, ben's ten in one");

    let page = |max: i64, after: Option<&str>, before: Option<&str>, last: bool| ArchiveQuery {
        max,
        after_id: after.map(str::to_owned),
        before_id: before.map(str::to_owned),
        last_page: last,
        ..ArchiveQuery::default()
    };
    let p = store
        .account_archive_page("ana", &page(3, None, None, true))
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m4998", "m4999", "m5000"]);
    assert_eq!((p.count, p.first_index, p.complete), (5000, 4997, false));
    // Across the first chunk's end (its last message is m4096).
    let p = store
        .account_archive_page("ana", &page(3, Some("m4095"), None, false))
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m4096", "m4097", "m4098"]);
    assert_eq!(p.first_index, 4095);
    let p = store
        .account_archive_page("ana", &page(3, None, Some("m4098"), false))
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m4095", "m4096", "m4097"]);
    let with_ben = ArchiveQuery {
        max: 2,
        with: Some("ana@x".into()),
        ..ArchiveQuery::default()
    };
    let p = store.account_archive_page("ben", &with_ben).await.unwrap();
    assert_eq!(ids_of(&p), ["m1", "m2"]);
    assert_eq!(p.count, 10);
    assert!(matches!(
        store
            .account_archive_page("ben", &page(3, Some("m11"), None, false))
            .await,
        Err(StoreError::NotFound)
    ));

    // An owner without an account: nothing of the batch is written.
    let err = writer
        .write(
            &[],
            &[
                one_to_one("ana", 6000, "ben@x", 6000),
                one_to_one("ghost", 1, "ana@x", 6000),
            ],
        )
        .unwrap_err();
    assert!(err.is_refused(), "{err:?}");
    let p = store
        .account_archive_page("ana", &page(1, None, None, true))
        .await
        .unwrap();
    assert_eq!((ids_of(&p), p.count), (vec!["m5000".to_string()], 5000));

    // A purge at 2,500: ana's m1..m2499 and ben's ten.
    assert!(sqlite_file_holds(&url, "#2499#").await);
    assert_eq!(store.purge_account_archive(2500, &[]).await.unwrap(), 2509);
    assert_eq!(store.purge_account_archive(2500, &[]).await.unwrap(), 0);
    let p = store
        .account_archive_page("ana", &page(1, None, None, false))
        .await
        .unwrap();
    assert_eq!((ids_of(&p), p.count), (vec!["m2500".to_string()], 2501));
    let p = store.account_archive_page("ben", &with_ben).await.unwrap();
    assert_eq!(p.count, 0);
    assert!(!sqlite_file_holds(&url, "#2499#").await);
    assert!(sqlite_file_holds(&url, "#2500#").await);
    let chunks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_archive_chunk")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        chunks, 2,
        "ben's chunk is gone, ana's first holds m2500..m4096"
    );
    let texts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_archive_stanzas")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(texts, 2, "a deleted chunk's stanzas go with it");

    // A chunk holds at most 32 KiB of stanzas: ten of 10 KiB make four chunks, read in order.
    let big: Vec<AccountArchiveEntry> = (1..=10)
        .map(|n| {
            let mut e = one_to_one("ben", 7000 + n, "ana@x", 7000 + n);
            e.message.stanza = format!("<message><body>{}</body></message>", "x".repeat(10 * 1024));
            e
        })
        .collect();
    assert_eq!(writer.write(&[], &big).unwrap(), 10);
    let bens: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM account_archive_chunk WHERE owner_id = (SELECT id FROM accounts WHERE username = 'ben')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(bens, 4);
    let p = store
        .account_archive_page("ben", &page(3, Some("m7003"), None, false))
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m7004", "m7005", "m7006"]);
    assert_eq!((p.count, p.first_index), (10, 3));

    // An account deleted: its chunks and their stanzas go with it.
    store.delete_account("ben").await.unwrap();
    let left: (i64, i64) = (
        sqlx::query_scalar("SELECT COUNT(*) FROM account_archive_chunk")
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        sqlx::query_scalar("SELECT COUNT(*) FROM account_archive_stanzas")
            .fetch_one(&mut conn)
            .await
            .unwrap(),
    );
    assert_eq!(left, (2, 2), "ana's two chunks are all that is left");
    conn.close().await.ok();
    drop(writer);
    store.close().await;
}

// ---------------------------------------------------------------------------------------
// The accounts' archive (XEP-0313 on accounts) and its retention per structure
// ---------------------------------------------------------------------------------------

fn one_to_one(owner: &str, n: i64, with: &str, stamp_ms: i64) -> AccountArchiveEntry {
    AccountArchiveEntry {
        owner: owner.into(),
        message: AccountMessage {
            stanza_id: format!("m{n}"),
            with: with.into(),
            outgoing: n % 2 == 0,
            stanza: format!("<message xmlns='jabber:client'><body>{n}</body></message>"),
            stamp_ms,
        },
    }
}

fn ids_of(page: &causerie_store::ArchivePage<AccountMessage>) -> Vec<String> {
    page.messages.iter().map(|m| m.stanza_id.clone()).collect()
}

async fn account_archive_pages_per_owner(store: &Store) {
    for user in ["ana", "ben", "cloe"] {
        store.create_account(user, &creds(1)).await.unwrap();
    }
    // ana: m1..m10, with ben (odd) and cloe (even), stamped 100..1000.
    let mut entries: Vec<AccountArchiveEntry> = (1..=10)
        .map(|n| {
            let with = if n % 2 == 1 { "ben@x" } else { "cloe@x" };
            one_to_one("ana", n, with, n * 100)
        })
        .collect();
    // ben holds his own copy of the odd ones, same ids.
    entries.extend(
        (1..=10)
            .step_by(2)
            .map(|n| one_to_one("ben", n, "ana@x", n * 100)),
    );
    assert_eq!(store.write_archives(&[], &entries).await.unwrap(), 15);
    // A taken id in the same archive is skipped.
    assert_eq!(
        store
            .write_archives(&[], &[one_to_one("ana", 3, "ben@x", 1)])
            .await
            .unwrap(),
        0
    );
    let q = |max: i64| ArchiveQuery {
        max,
        ..ArchiveQuery::default()
    };
    let p = store.account_archive_page("ana", &q(4)).await.unwrap();
    assert_eq!(ids_of(&p), ["m1", "m2", "m3", "m4"]);
    assert!(!p.complete);
    assert_eq!((p.count, p.first_index), (10, 0));
    assert_eq!(p.messages[0].with, "ben@x");
    assert!(!p.messages[0].outgoing && p.messages[1].outgoing);
    assert_eq!(p.messages[2].stamp_ms, 300);
    // Forward after the last of the page, to the end.
    let p = store
        .account_archive_page(
            "ana",
            &ArchiveQuery {
                after_id: Some("m8".into()),
                ..q(4)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m9", "m10"]);
    assert!(p.complete);
    assert_eq!(p.first_index, 8);
    // The last page, then back from its first.
    let p = store
        .account_archive_page(
            "ana",
            &ArchiveQuery {
                last_page: true,
                ..q(3)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m8", "m9", "m10"]);
    let p = store
        .account_archive_page(
            "ana",
            &ArchiveQuery {
                before_id: Some("m2".into()),
                ..q(3)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m1"]);
    assert!(p.complete);
    // With one party, within time bounds.
    let p = store
        .account_archive_page(
            "ana",
            &ArchiveQuery {
                with: Some("cloe@x".into()),
                start_ms: Some(300),
                end_ms: Some(800),
                ..q(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m4", "m6", "m8"]);
    assert_eq!(p.count, 3);
    // Given ids (extended), in archive order whatever the order asked.
    let p = store
        .account_archive_page(
            "ana",
            &ArchiveQuery {
                ids: Some(vec!["m7".into(), "m2".into(), "nope".into()]),
                ..q(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids_of(&p), ["m2", "m7"]);
    // Each owner reads only his own: ben's archive has his five, and an id of ana's
    // archive that ben does not hold is unknown to him.
    let p = store.account_archive_page("ben", &q(50)).await.unwrap();
    assert_eq!(ids_of(&p), ["m1", "m3", "m5", "m7", "m9"]);
    assert!(p.messages.iter().all(|m| m.with == "ana@x"));
    assert!(matches!(
        store
            .account_archive_page(
                "ben",
                &ArchiveQuery {
                    after_id: Some("m2".into()),
                    ..q(5)
                }
            )
            .await,
        Err(StoreError::NotFound)
    ));
    let p = store.account_archive_page("cloe", &q(50)).await.unwrap();
    assert!(p.messages.is_empty() && p.complete && p.count == 0);
    let p = store.account_archive_page("nobody", &q(50)).await.unwrap();
    assert!(p.messages.is_empty());
    // The archive goes with its account.
    store.delete_account("ana").await.unwrap();
    store.create_account("ana", &creds(1)).await.unwrap();
    assert_eq!(
        store
            .account_archive_page("ana", &q(50))
            .await
            .unwrap()
            .count,
        0
    );
}

async fn account_archive_batches_with_rooms_and_refuse_unknown_owners(store: &Store) {
    store.create_account("ana", &creds(1)).await.unwrap();
    let room = match store.create_room("salle", "ana", 1, 10).await.unwrap() {
        CreateRoom::Created(r) => r,
        other => panic!("{other:?}"),
    };
    let rooms = vec![ArchiveEntry {
        room_id: room.id,
        room: room.name.clone(),
        message: ArchivedMessage {
            stanza_id: "r1".into(),
            sender: "ana".into(),
            nick: "Ana".into(),
            stanza: "<message/>".into(),
            stamp_ms: 5,
        },
    }];
    let accounts = vec![one_to_one("ana", 1, "ben@x", 5)];
    assert_eq!(store.write_archives(&rooms, &accounts).await.unwrap(), 2);
    let all = ArchiveQuery {
        max: 10,
        ..ArchiveQuery::default()
    };
    assert_eq!(store.archive_page(room.id, &all).await.unwrap().count, 1);
    // An owner without an account fails the whole batch: nothing of it is written.
    let err = store
        .write_archives(
            &[],
            &[
                one_to_one("ana", 2, "ben@x", 6),
                one_to_one("ghost", 3, "ana@x", 6),
            ],
        )
        .await
        .unwrap_err();
    assert!(err.is_refused(), "{err:?}");
    let p = store.account_archive_page("ana", &all).await.unwrap();
    assert_eq!(ids_of(&p), ["m1"]);
}

async fn account_archive_retention_is_audited(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let generation = store.generation().await.unwrap();
    assert!(matches!(
        store
            .set_retention_audited("nowhere", Some(Retention::Days(30)), "root")
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(audit_rows(store).await.is_empty());
    assert_eq!(store.retention(COLLEGE).await.unwrap(), None);
    let before = store
        .set_retention_audited(COLLEGE, Some(Retention::Days(30)), "marc.roux")
        .await
        .unwrap();
    assert_eq!(before, None);
    assert_eq!(
        store.retention(COLLEGE).await.unwrap(),
        Some(Retention::Days(30))
    );
    store
        .set_retention_audited(LYCEE, Some(Retention::SchoolYear), "root")
        .await
        .unwrap();
    assert_eq!(
        store.retentions().await.unwrap(),
        vec![
            (COLLEGE.to_string(), Retention::Days(30)),
            (LYCEE.to_string(), Retention::SchoolYear)
        ]
    );
    let before = store
        .set_retention_audited(COLLEGE, None, "root")
        .await
        .unwrap();
    assert_eq!(before, Some(Retention::Days(30)));
    assert_eq!(store.retention(COLLEGE).await.unwrap(), None);
    // Not a directory change: the generation does not move.
    assert_eq!(store.generation().await.unwrap(), generation);
    let rows = audit_rows(store).await;
    let seen: Vec<(&str, Option<&str>, String, String)> = rows
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.structure.as_deref(),
                e.before.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                e.after.as_ref().map(|v| v.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "structure.archive_retention",
                Some(COLLEGE),
                "30".into(),
                "null".into()
            ),
            (
                "structure.archive_retention",
                Some(LYCEE),
                "null".into(),
                "\"school_year\"".into()
            ),
            (
                "structure.archive_retention",
                Some(COLLEGE),
                "null".into(),
                "30".into()
            ),
        ]
    );
}

/// Rows of `owner` in the raw table, read without the store.
async fn raw_archive_rows(url: &str, owner: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM account_archive x JOIN accounts a ON a.id = x.owner_id \
         WHERE a.username = $1",
    )
    .bind(owner.to_owned())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    n
}

async fn account_archive_purge_deletes_rows_per_structure(store: &Store, url: &str) {
    // lea (collège), marc (lycée), anne (both), and a plain account in no structure.
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    store.create_account("plain", &creds(1)).await.unwrap();
    let owners = ["lea.martin", "marc.roux", "anne.durand", "plain"];
    let mut entries = Vec::new();
    for owner in owners {
        for (n, stamp) in [(1, 100), (2, 200), (3, 300), (4, 400)] {
            entries.push(one_to_one(owner, n, "x@y", stamp));
        }
    }
    store.write_archives(&[], &entries).await.unwrap();
    for owner in owners {
        assert_eq!(raw_archive_rows(url, owner).await, 4);
    }
    // Default: keep from 250 on; the lycée keeps from 150 on (a longer retention).
    let deleted = store
        .purge_account_archive(250, &[(LYCEE.to_string(), 150)])
        .await
        .unwrap();
    // lea and plain follow the default (2 each); marc the lycée's (1); anne, in both,
    // the shorter: the collège's default (2).
    assert_eq!(deleted, 7);
    assert_eq!(raw_archive_rows(url, "lea.martin").await, 2);
    assert_eq!(raw_archive_rows(url, "plain").await, 2);
    assert_eq!(raw_archive_rows(url, "marc.roux").await, 3);
    assert_eq!(raw_archive_rows(url, "anne.durand").await, 2);
    let all = ArchiveQuery {
        max: 10,
        ..ArchiveQuery::default()
    };
    let p = store.account_archive_page("marc.roux", &all).await.unwrap();
    assert_eq!(ids_of(&p), ["m2", "m3", "m4"]);
    // Without overrides, one cutoff for everyone; again: nothing more to delete.
    assert_eq!(store.purge_account_archive(350, &[]).await.unwrap(), 5);
    assert_eq!(store.purge_account_archive(350, &[]).await.unwrap(), 0);
    for owner in owners {
        assert_eq!(raw_archive_rows(url, owner).await, 1, "{owner}");
    }
    if url.starts_with("sqlite") {
        // Overwritten in the file, not only gone from the queries: the bodies of the purged
        // messages (1 to 3) are not in it any more, the kept one (4) is.
        let has = |n: i64| format!("<body>{n}</body>");
        assert!(sqlite_file_holds(url, &has(4)).await);
        for n in 1..=3 {
            assert!(!sqlite_file_holds(url, &has(n)).await, "message {n}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared files (XEP-0363)
// ---------------------------------------------------------------------------------------

fn slot(id: &str, owner: &str, size: i64, created_ms: i64) -> NewUpload {
    NewUpload {
        id: id.into(),
        owner: owner.into(),
        filename: "photo.png".into(),
        size,
        content_type: "image/png".into(),
        created_ms,
        expires_ms: created_ms + 300_000,
    }
}

async fn uploads_slots_are_single_use_and_bounded(store: &Store) {
    store.create_account("alice", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    let now = 10_000_000;
    assert!(matches!(
        store
            .create_upload_slot(&slot("nobody1", "nobody", 10, now), 10, 1000)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .create_upload_slot(&slot("a1", "alice", 600, now), 3, 1000)
            .await
            .unwrap(),
        SlotOutcome::Created
    );
    let a1 = store.upload("a1").await.unwrap().unwrap();
    assert_eq!(a1.owner.as_deref(), Some("alice"));
    assert_eq!(a1.size, 600);
    assert_eq!(a1.content_type, "image/png");
    assert_eq!(a1.state, UploadState::Slot);
    assert_eq!(store.upload("nope").await.unwrap(), None);
    // The quota counts the open slot: 600 + 500 > 1000.
    assert_eq!(
        store
            .create_upload_slot(&slot("a2", "alice", 500, now + 1), 3, 1000)
            .await
            .unwrap(),
        SlotOutcome::OverQuota
    );
    assert_eq!(store.upload("a2").await.unwrap(), None);
    // Another account has its own quota.
    assert_eq!(
        store
            .create_upload_slot(&slot("b1", "bob", 900, now), 3, 1000)
            .await
            .unwrap(),
        SlotOutcome::Created
    );
    // The rate: 3 per hour.
    for (id, t) in [("a3", now + 2), ("a4", now + 3)] {
        assert_eq!(
            store
                .create_upload_slot(&slot(id, "alice", 10, t), 3, 1000)
                .await
                .unwrap(),
            SlotOutcome::Created
        );
    }
    assert_eq!(
        store
            .create_upload_slot(&slot("a5", "alice", 10, now + 4), 3, 1000)
            .await
            .unwrap(),
        SlotOutcome::RateLimited
    );
    // An hour later, again.
    assert_eq!(
        store
            .create_upload_slot(&slot("a6", "alice", 10, now + 3_600_001), 3, 1000)
            .await
            .unwrap(),
        SlotOutcome::Created
    );
    // Claimed once, before its deadline only.
    assert_eq!(
        store.claim_upload("a1", now + 400_000).await.unwrap(),
        None,
        "past its deadline"
    );
    let claimed = store.claim_upload("a1", now + 1000).await.unwrap().unwrap();
    assert_eq!(claimed.state, UploadState::Receiving);
    assert_eq!(store.claim_upload("a1", now + 1000).await.unwrap(), None);
    store.finish_upload("a1", true).await.unwrap();
    assert_eq!(
        store.upload("a1").await.unwrap().unwrap().state,
        UploadState::Stored
    );
    assert_eq!(store.claim_upload("a1", now + 1000).await.unwrap(), None);
    // A failed transfer deletes the slot: it is not reusable.
    store.claim_upload("a3", now + 1000).await.unwrap().unwrap();
    store.finish_upload("a3", false).await.unwrap();
    assert_eq!(store.upload("a3").await.unwrap(), None);
    assert_eq!(store.claim_upload("a3", now + 1000).await.unwrap(), None);
    // An account deleted leaves its files ownerless.
    store.delete_account("bob").await.unwrap();
    assert_eq!(store.upload("b1").await.unwrap().unwrap().owner, None);
}

async fn uploads_settings_are_audited(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let generation = store.generation().await.unwrap();
    let s = causerie_ent::UploadSettings {
        enabled: true,
        max_bytes: 5_000_000,
        types: strings(&["image/png", "application/pdf"]),
    };
    assert!(matches!(
        store
            .set_upload_settings_audited("nowhere", Some(&s), "root")
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(audit_rows(store).await.is_empty());
    assert_eq!(store.upload_settings(COLLEGE).await.unwrap(), None);
    assert_eq!(
        store
            .set_upload_settings_audited(COLLEGE, Some(&s), "marc.roux")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.upload_settings(COLLEGE).await.unwrap(),
        Some(s.clone())
    );
    let off = causerie_ent::UploadSettings::new(false, 1000);
    store
        .set_upload_settings_audited(LYCEE, Some(&off), "root")
        .await
        .unwrap();
    assert_eq!(
        store.all_upload_settings().await.unwrap(),
        vec![(COLLEGE.to_string(), s.clone()), (LYCEE.to_string(), off)]
    );
    assert_eq!(
        store
            .set_upload_settings_audited(COLLEGE, None, "root")
            .await
            .unwrap(),
        Some(s)
    );
    assert_eq!(store.upload_settings(COLLEGE).await.unwrap(), None);
    assert_eq!(store.generation().await.unwrap(), generation);
    let rows = audit_rows(store).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.action == "structure.upload"));
    let first = rows
        .iter()
        .find(|r| r.actor == "marc.roux")
        .expect("marc's change");
    assert_eq!(first.structure.as_deref(), Some(COLLEGE));
    assert_eq!(first.before, Some(serde_json::Value::Null));
    assert_eq!(
        first
            .after
            .as_ref()
            .and_then(|a| a.get("max_bytes"))
            .cloned(),
        Some(serde_json::json!(5_000_000))
    );
}

async fn uploads_purge_per_structure(store: &Store) {
    // lea (collège), marc (lycée), anne (both), and a plain account in no structure.
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    store.create_account("plain", &creds(1)).await.unwrap();
    store.create_account("gone", &creds(2)).await.unwrap();
    let owners = ["lea.martin", "marc.roux", "anne.durand", "plain"];
    for owner in owners {
        for stamp in [100, 200, 300, 400] {
            let id = format!("{owner}-{stamp}");
            store
                .create_upload_slot(&slot(&id, owner, 1, stamp), 100, 1000)
                .await
                .unwrap();
            store.claim_upload(&id, stamp).await.unwrap().unwrap();
            store.finish_upload(&id, true).await.unwrap();
        }
    }
    // A slot never filled, and a file whose owner was deleted.
    store
        .create_upload_slot(&slot("stale", "plain", 1, 1000), 100, 1000)
        .await
        .unwrap();
    store
        .create_upload_slot(&slot("orphan", "gone", 1, 1000), 100, 1000)
        .await
        .unwrap();
    store.delete_account("gone").await.unwrap();
    // Default: keep from 250 on; the lycée keeps from 150 on. Slots whose deadline is
    // before 1000 + 300000 + 1 are stale.
    let mut deleted = store
        .purge_uploads(250, &[(LYCEE.to_string(), 150)], 301_001)
        .await
        .unwrap();
    deleted.sort();
    // lea and plain follow the default (2 each); marc the lycée's (1); anne, in both, the
    // shorter: the collège's default (2).
    let mut want: Vec<String> = [
        "anne.durand-100",
        "anne.durand-200",
        "lea.martin-100",
        "lea.martin-200",
        "marc.roux-100",
        "orphan",
        "plain-100",
        "plain-200",
        "stale",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.sort();
    assert_eq!(deleted, want);
    for id in &want {
        assert_eq!(store.upload(id).await.unwrap(), None, "{id}");
    }
    assert!(store.upload("marc.roux-200").await.unwrap().is_some());
    assert!(store.upload("lea.martin-300").await.unwrap().is_some());
    // Again: nothing more.
    assert!(
        store
            .purge_uploads(250, &[(LYCEE.to_string(), 150)], 301_001)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// Push registrations (XEP-0357)
// ---------------------------------------------------------------------------------------

fn reg(jid: &str, node: &str, options: Option<&str>) -> PushRegistration {
    PushRegistration {
        jid: jid.into(),
        node: node.into(),
        options: options.map(str::to_owned),
    }
}

async fn push_enable_disable_and_bound(store: &Store) {
    store.create_account("pusha", &creds(1)).await.unwrap();
    store.create_account("pushb", &creds(2)).await.unwrap();
    assert_eq!(store.push_registrations("pusha").await.unwrap(), vec![]);
    let form = "<x xmlns='jabber:x:data' type='submit'/>";
    assert!(
        store
            .push_enable("pusha", "push.example", "n1", Some(form), 2)
            .await
            .unwrap()
    );
    assert!(
        store
            .push_enable("pusha", "push.example", "n2", None, 2)
            .await
            .unwrap()
    );
    // Past the bound: refused, nothing stored.
    assert!(
        !store
            .push_enable("pusha", "push.example", "n3", None, 2)
            .await
            .unwrap()
    );
    // Re-enabling the same pair replaces its options, whatever the bound.
    assert!(
        store
            .push_enable("pusha", "push.example", "n1", None, 2)
            .await
            .unwrap()
    );
    assert_eq!(
        store.push_registrations("pusha").await.unwrap(),
        vec![
            reg("push.example", "n1", None),
            reg("push.example", "n2", None)
        ]
    );
    assert_eq!(
        store.push_registrations("pushb").await.unwrap(),
        vec![],
        "per account"
    );
    // One node, then every node of a JID.
    assert_eq!(
        store
            .push_disable("pusha", "push.example", Some("n2"))
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .push_enable("pusha", "push.example", "n3", Some(form), 2)
            .await
            .unwrap()
    );
    assert!(
        store
            .push_enable("pusha", "other.example", "n1", None, 3)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .push_disable("pusha", "push.example", None)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.push_registrations("pusha").await.unwrap(),
        vec![reg("other.example", "n1", None)]
    );
    assert_eq!(
        store
            .push_disable("pushb", "other.example", None)
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        store
            .push_enable("nobody", "push.example", "n", None, 2)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.push_registrations("nobody").await.unwrap(), vec![]);
}

async fn push_registrations_go_with_the_account(store: &Store) {
    store.create_account("pushgone", &creds(3)).await.unwrap();
    assert!(
        store
            .push_enable("pushgone", "push.example", "n", None, 5)
            .await
            .unwrap()
    );
    store.delete_account("pushgone").await.unwrap();
    store.create_account("pushgone", &creds(3)).await.unwrap();
    assert_eq!(store.push_registrations("pushgone").await.unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------
// Reports (« Signaler », XEP-0377) and the safety staff
// ---------------------------------------------------------------------------------------

fn new_report(reporter: &str, target: ReportTarget, ids: &[&str], now_ms: i64) -> NewReport {
    NewReport {
        structure: COLLEGE.into(),
        reporter: reporter.into(),
        reporter_jid: format!("{reporter}@x"),
        target,
        reason: ReportReason::Abuse,
        text: "Il m'insulte".into(),
        stanza_ids: strings(ids),
        now_ms,
    }
}

fn person_target(login: &str) -> ReportTarget {
    ReportTarget::Person {
        jid: format!("{login}@x"),
        login: Some(login.into()),
    }
}

async fn reports_copy_context_from_the_reporters_archive_only(store: &Store) {
    for user in ["ana", "ben", "cloe"] {
        store.create_account(user, &creds(1)).await.unwrap();
    }
    // ana: m1..m30 with ben (odd) and cloe (even); ben has his own copies of the odd ones
    // and a message m99 with cloe that ana never saw.
    let mut entries: Vec<AccountArchiveEntry> = (1..=30)
        .map(|n| {
            let with = if n % 2 == 1 { "ben@x" } else { "cloe@x" };
            one_to_one("ana", n, with, n * 100)
        })
        .collect();
    entries.extend(
        (1..=30)
            .step_by(2)
            .map(|n| one_to_one("ben", n, "ana@x", n * 100)),
    );
    entries.push(one_to_one("ben", 99, "cloe@x", 5000));
    store.write_archives(&[], &entries).await.unwrap();
    // m15 is with ben: 2 before and 2 after it in that conversation (not cloe's).
    let out = store
        .create_report(
            &new_report("ana", person_target("ben"), &["m15"], 10_000),
            2,
            5,
        )
        .await
        .unwrap();
    let ReportOutcome::Created { id, reported } = out else {
        panic!("{out:?}")
    };
    assert_eq!(reported, "ben@x");
    let d = store.report(id).await.unwrap().unwrap();
    let got: Vec<(&str, bool)> = d
        .messages
        .iter()
        .map(|m| (m.stanza_id.as_str(), m.reported))
        .collect();
    assert_eq!(
        got,
        [
            ("m11", false),
            ("m13", false),
            ("m15", true),
            ("m17", false),
            ("m19", false)
        ]
    );
    // Senders: ana's odd messages are incoming (from ben).
    assert_eq!(d.messages[2].sender, "ben@x");
    assert_eq!(d.report.reporter, "ana");
    assert_eq!(d.report.room, None);
    assert_eq!(d.report.status, ReportStatus::New);
    assert_eq!(d.report.stanza_ids, strings(&["m15"]));
    assert_eq!(d.report.text, "Il m'insulte");
    assert!(d.notes.is_empty());
    // The copies outlive the archive.
    store.purge_account_archive(i64::MAX, &[]).await.unwrap();
    assert_eq!(store.report(id).await.unwrap().unwrap().messages.len(), 5);
    // Another person's message (ben's m99 with cloe), or one with someone else than the
    // reported person (m2 is with cloe), cannot be reported: nothing is stored.
    store.write_archives(&[], &entries).await.unwrap();
    // Her own message (m2, which she sent to cloe) cannot be reported as cloe's.
    assert_eq!(
        store
            .create_report(
                &new_report("ana", person_target("cloe"), &["m2"], 10_000),
                2,
                5
            )
            .await
            .unwrap(),
        ReportOutcome::UnknownMessage
    );
    for (target, ids) in [
        (person_target("cloe"), ["m99"]),
        (person_target("ben"), ["m2"]),
        (person_target("ben"), ["nope"]),
    ] {
        assert_eq!(
            store
                .create_report(&new_report("ana", target, &ids, 10_000), 2, 5)
                .await
                .unwrap(),
            ReportOutcome::UnknownMessage
        );
    }
    assert_eq!(store.reports(COLLEGE, 100).await.unwrap().len(), 1);
    // An unknown reporter.
    assert!(matches!(
        store
            .create_report(&new_report("zoe", person_target("ben"), &[], 1), 2, 5)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn reports_in_rooms_and_without_messages(store: &Store) {
    for user in ["alice", "bob", "carol", "dan"] {
        store.create_account(user, &creds(1)).await.unwrap();
    }
    let room = created(store, "histoire", "alice").await;
    store
        .add_member(room.id, "bob", Some("alice"), 5, 100, 100)
        .await
        .unwrap();
    for n in 1..=6 {
        let mut m = archived(n, n * 100);
        if n == 4 {
            m.sender = "bob".into();
        }
        store.archive_message(&room, &m).await.unwrap();
    }
    let in_room = || ReportTarget::Room {
        name: "histoire".into(),
    };
    // bob reports alice's sid-3: the reported person is its sender.
    let out = store
        .create_report(&new_report("bob", in_room(), &["sid-3"], 1_000), 1, 5)
        .await
        .unwrap();
    let ReportOutcome::Created { id, reported } = out else {
        panic!("{out:?}")
    };
    assert_eq!(reported, "alice@x");
    let d = store.report(id).await.unwrap().unwrap();
    assert_eq!(d.report.room.as_deref(), Some("histoire"));
    let got: Vec<&str> = d.messages.iter().map(|m| m.stanza_id.as_str()).collect();
    assert_eq!(got, ["sid-2", "sid-3", "sid-4"]);
    assert_eq!(d.messages[2].sender, "bob@x");
    // His own message, messages of two senders, or a room he is not in: refused.
    assert_eq!(
        store
            .create_report(&new_report("bob", in_room(), &["sid-4"], 1_000), 1, 5)
            .await
            .unwrap(),
        ReportOutcome::UnknownMessage
    );
    assert_eq!(
        store
            .create_report(&new_report("alice", in_room(), &["sid-3"], 1_000), 1, 5)
            .await
            .unwrap(),
        ReportOutcome::UnknownMessage
    );
    assert_eq!(
        store
            .create_report(&new_report("carol", in_room(), &["sid-3"], 1_000), 1, 5)
            .await
            .unwrap(),
        ReportOutcome::NoContact
    );
    // A member since 350 reports and copies only what he could read: from 350 on.
    store
        .add_member(room.id, "dan", Some("alice"), 350, 100, 100)
        .await
        .unwrap();
    assert_eq!(
        store
            .create_report(&new_report("dan", in_room(), &["sid-3"], 1_000), 2, 5)
            .await
            .unwrap(),
        ReportOutcome::UnknownMessage
    );
    let out = store
        .create_report(&new_report("dan", in_room(), &["sid-5"], 1_000), 2, 5)
        .await
        .unwrap();
    let ReportOutcome::Created { id, .. } = out else {
        panic!("{out:?}")
    };
    let got: Vec<String> = store
        .report(id)
        .await
        .unwrap()
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.stanza_id)
        .collect();
    assert_eq!(got, ["sid-4", "sid-5", "sid-6"]);
    store.remove_member(room.id, "dan").await.unwrap();
    // A person without messages: a shared room is contact enough; a stranger is not.
    let out = store
        .create_report(&new_report("bob", person_target("alice"), &[], 1_000), 1, 5)
        .await
        .unwrap();
    assert!(matches!(out, ReportOutcome::Created { .. }), "{out:?}");
    assert_eq!(
        store
            .create_report(&new_report("carol", person_target("dan"), &[], 1_000), 1, 5)
            .await
            .unwrap(),
        ReportOutcome::NoContact
    );
    // A contact request (pending) or a roster item is contact too.
    store
        .add_pending_in("carol", "dan@x", "<presence/>")
        .await
        .unwrap();
    let out = store
        .create_report(&new_report("carol", person_target("dan"), &[], 1_000), 1, 5)
        .await
        .unwrap();
    assert!(matches!(out, ReportOutcome::Created { .. }), "{out:?}");
    // Without messages, the last `context` messages with him are copied.
    store
        .write_archives(
            &[],
            &(1..=5)
                .map(|n| one_to_one("dan", n, "carol@x", n))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let out = store
        .create_report(&new_report("dan", person_target("carol"), &[], 1_000), 2, 5)
        .await
        .unwrap();
    let ReportOutcome::Created { id, .. } = out else {
        panic!("{out:?}")
    };
    let d = store.report(id).await.unwrap().unwrap();
    let got: Vec<&str> = d.messages.iter().map(|m| m.stanza_id.as_str()).collect();
    assert_eq!(got, ["m4", "m5"]);
    assert!(d.messages.iter().all(|m| !m.reported));
    // Messages with carol@x are no contact with caro@x (a JID that is the start of hers).
    assert_eq!(
        store
            .create_report(&new_report("dan", person_target("caro"), &[], 1_000), 2, 5)
            .await
            .unwrap(),
        ReportOutcome::NoContact
    );
    assert_eq!(store.reports(COLLEGE, 100).await.unwrap().len(), 5);
    assert!(store.reports(LYCEE, 100).await.unwrap().is_empty());
}

async fn reports_are_limited_per_hour(store: &Store) {
    for user in ["ana", "ben"] {
        store.create_account(user, &creds(1)).await.unwrap();
    }
    store
        .write_archives(&[], &[one_to_one("ana", 1, "ben@x", 1)])
        .await
        .unwrap();
    let at = |now| new_report("ana", person_target("ben"), &[], now);
    for now in [1_000, 2_000, 3_000] {
        let out = store.create_report(&at(now), 10, 3).await.unwrap();
        assert!(matches!(out, ReportOutcome::Created { .. }), "{out:?}");
    }
    assert_eq!(
        store.create_report(&at(4_000), 10, 3).await.unwrap(),
        ReportOutcome::RateLimited
    );
    // An hour after the first, one more.
    let out = store.create_report(&at(3_601_001), 10, 3).await.unwrap();
    assert!(matches!(out, ReportOutcome::Created { .. }), "{out:?}");
    // Newest first, bounded.
    let list = store.reports(COLLEGE, 2).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].created_ms, 3_601_001);
}

async fn reports_status_notes_and_safety_staff_are_audited(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    store
        .write_archives(&[], &[one_to_one("lea.martin", 1, "hugo.petit@x", 1)])
        .await
        .unwrap();
    let ReportOutcome::Created { id, .. } = store
        .create_report(
            &new_report("lea.martin", person_target("hugo.petit"), &[], 1_000),
            10,
            5,
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        store
            .set_report_status_audited(id, ReportStatus::InProgress, "cpe", 2_000)
            .await
            .unwrap(),
        ReportStatus::New
    );
    store
        .add_report_note_audited(id, "cpe", "Vu avec la famille", 3_000)
        .await
        .unwrap();
    assert!(matches!(
        store
            .set_report_status_audited(id + 100, ReportStatus::Closed, "cpe", 1)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.add_report_note_audited(id + 100, "cpe", "x", 1).await,
        Err(StoreError::NotFound)
    ));
    let d = store.report(id).await.unwrap().unwrap();
    assert_eq!(d.report.status, ReportStatus::InProgress);
    assert_eq!(d.report.updated_ms, 3_000);
    assert_eq!(d.notes.len(), 1);
    assert_eq!(
        (
            d.notes[0].author.as_str(),
            d.notes[0].text.as_str(),
            d.notes[0].created_ms
        ),
        ("cpe", "Vu avec la famille", 3_000)
    );
    assert!(store.report(id + 100).await.unwrap().is_none());
    // The safety staff: none set, then named, then reset.
    assert_eq!(store.safety_staff(COLLEGE).await.unwrap(), None);
    assert!(matches!(
        store
            .set_safety_staff_audited("nowhere", Some(&strings(&["x"])), "root")
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .set_safety_staff_audited(COLLEGE, Some(&strings(&["anne.durand"])), "root")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.safety_staff(COLLEGE).await.unwrap(),
        Some(strings(&["anne.durand"]))
    );
    assert_eq!(
        store.all_safety_staff().await.unwrap(),
        vec![(COLLEGE.to_string(), strings(&["anne.durand"]))]
    );
    assert_eq!(
        store
            .set_safety_staff_audited(COLLEGE, None, "root")
            .await
            .unwrap(),
        Some(strings(&["anne.durand"]))
    );
    assert_eq!(store.safety_staff(COLLEGE).await.unwrap(), None);
    let actions: Vec<(String, Option<String>, Option<String>)> = audit_rows(store)
        .await
        .into_iter()
        .map(|e| (e.action, e.structure, e.target))
        .collect();
    let college = Some(COLLEGE.to_string());
    assert_eq!(
        actions,
        [
            (
                "structure.safety_staff".into(),
                college.clone(),
                college.clone()
            ),
            (
                "structure.safety_staff".into(),
                college.clone(),
                college.clone()
            ),
            ("report.note".into(), college.clone(), Some(id.to_string())),
            (
                "report.status".into(),
                college.clone(),
                Some(id.to_string())
            ),
        ]
    );
}

async fn quiet_hours_and_kill_switch_are_audited_and_move_the_generation(store: &Store) {
    use causerie_ent::{QuietHours, Shutdown, ShutdownMode};
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let g0 = store.generation().await.unwrap();
    let mut q = QuietHours::school_default();
    q.time_zone = "UTC".into();
    assert!(matches!(
        store
            .set_quiet_hours_audited("nowhere", Some(&q), "root")
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(audit_rows(store).await.is_empty());
    assert_eq!(store.quiet_hours(COLLEGE).await.unwrap(), None);
    assert_eq!(
        store
            .set_quiet_hours_audited(COLLEGE, Some(&q), "marc.roux")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.quiet_hours(COLLEGE).await.unwrap(), Some(q.clone()));
    let g1 = store.generation().await.unwrap();
    assert!(g1 > g0, "a quiet hours change moves the generation");
    let all = store.all_quiet_hours().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[COLLEGE], q);
    assert_eq!(
        store
            .set_quiet_hours_audited(COLLEGE, None, "root")
            .await
            .unwrap(),
        Some(q)
    );
    assert!(store.all_quiet_hours().await.unwrap().is_empty());

    assert_eq!(store.shutdown(LYCEE).await.unwrap(), Shutdown::default());
    let ro = Shutdown {
        mode: ShutdownMode::ReadOnly,
        message: Some("Incident : reprise lundi.".into()),
    };
    assert!(matches!(
        store.set_shutdown_audited("nowhere", &ro, "root").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .set_shutdown_audited(LYCEE, &ro, "root")
            .await
            .unwrap(),
        Shutdown::default()
    );
    assert_eq!(store.shutdown(LYCEE).await.unwrap(), ro);
    let off = Shutdown {
        mode: ShutdownMode::Off,
        message: None,
    };
    assert_eq!(
        store
            .set_shutdown_audited(COLLEGE, &off, "root")
            .await
            .unwrap(),
        Shutdown::default()
    );
    let all = store.all_shutdowns().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[COLLEGE], off);
    let g2 = store.generation().await.unwrap();
    assert!(g2 > g1);
    // Back to normal: no row left.
    assert_eq!(
        store
            .set_shutdown_audited(LYCEE, &Shutdown::default(), "root")
            .await
            .unwrap(),
        ro
    );
    assert_eq!(store.all_shutdowns().await.unwrap().len(), 1);
    let rows = audit_rows(store).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "structure.quiet_hours")
            .count(),
        2
    );
    let shut: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "structure.shutdown")
        .collect();
    assert_eq!(shut.len(), 3);
    assert!(shut.iter().any(|r| r.after
        == Some(serde_json::json!({"mode": "read_only", "message": "Incident : reprise lundi."}))));
}

// ---------------------------------------------------------------------------------------
// Privacy: archive access grants, purges per data class, departures, pupils' photos
// ---------------------------------------------------------------------------------------

/// Runs `sql` (one number) on a raw connection to the database, without the store; on
/// PostgreSQL after a VACUUM of every table, so that the rows counted are the ones the
/// files hold.
async fn raw_count(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    if url.starts_with("postgres") {
        sqlx::query("VACUUM").execute(&mut conn).await.unwrap();
    }
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

/// Runs a statement on a raw connection (to age rows in a test).
async fn raw_exec(url: &str, sql: &str) {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Whether the SQLite file (and its WAL) of `url` holds `needle` anywhere, after a
/// checkpoint: what a copy of the file would reveal.
async fn sqlite_file_holds(url: &str, needle: &str) -> bool {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let mut found = false;
    for p in [path.clone(), format!("{path}-wal")] {
        if let Ok(bytes) = std::fs::read(&p) {
            found |= bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
    }
    found
}

async fn room_archive_purge_is_for_real(store: &Store, url: &str) {
    store.create_account("alice", &creds(1)).await.unwrap();
    let room = created(store, "purge-salle", "alice").await;
    for (n, stamp) in [(1, 1_000), (2, 2_000), (3, 9_000)] {
        let mut m = archived(n, stamp);
        m.stanza = format!(
            "<message xmlns='jabber:client' type='groupchat'><body>MARQUEUR-SALLE-{n}</body></message>"
        );
        store.archive_message(&room, &m).await.unwrap();
    }
    assert_eq!(store.purge_archive(5_000).await.unwrap(), 2);
    assert_eq!(raw_count(url, "SELECT COUNT(*) FROM room_archive").await, 1);
    if url.starts_with("sqlite") {
        // Gone from the file itself (secure_delete), the newer one still there.
        assert!(!sqlite_file_holds(url, "MARQUEUR-SALLE-1").await);
        assert!(!sqlite_file_holds(url, "MARQUEUR-SALLE-2").await);
        assert!(sqlite_file_holds(url, "MARQUEUR-SALLE-3").await);
    }
}

async fn closed_reports_and_old_audit_rows_are_purged(store: &Store, url: &str) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    store
        .write_archives(&[], &[one_to_one("lea.martin", 1, "hugo.petit@x", 1)])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut r = new_report("lea.martin", person_target("hugo.petit"), &[], 1_000);
        r.text = "MARQUEUR-SIGNALEMENT-PURGE".into();
        let ReportOutcome::Created { id, .. } = store.create_report(&r, 10, 50).await.unwrap()
        else {
            panic!("report refused")
        };
        ids.push(id);
    }
    // One closed long ago, one closed lately, one still open (never purged).
    store
        .set_report_status_audited(ids[0], ReportStatus::Closed, "cpe", 2_000)
        .await
        .unwrap();
    store
        .add_report_note_audited(ids[0], "cpe", "Note", 2_000)
        .await
        .unwrap();
    store
        .set_report_status_audited(ids[1], ReportStatus::Closed, "cpe", 9_000)
        .await
        .unwrap();
    assert_eq!(raw_count(url, "SELECT COUNT(*) FROM reports").await, 3);
    assert!(raw_count(url, "SELECT COUNT(*) FROM report_messages").await >= 3);
    assert_eq!(store.purge_closed_reports(5_000).await.unwrap(), 1);
    assert_eq!(store.purge_closed_reports(5_000).await.unwrap(), 0);
    assert!(store.report(ids[0]).await.unwrap().is_none());
    assert!(store.report(ids[1]).await.unwrap().is_some());
    assert!(store.report(ids[2]).await.unwrap().is_some());
    let gone = ids[0];
    for table in [
        "reports WHERE id",
        "report_messages WHERE report_id",
        "report_notes WHERE report_id",
    ] {
        assert_eq!(
            raw_count(url, &format!("SELECT COUNT(*) FROM {table} = {gone}")).await,
            0,
            "{table}"
        );
    }
    // Far in the future: the closed one goes, the open one stays.
    assert_eq!(store.purge_closed_reports(i64::MAX).await.unwrap(), 1);
    assert_eq!(raw_count(url, "SELECT COUNT(*) FROM reports").await, 1);

    // The audit log: rows aged by hand, then purged by time.
    let before = raw_count(url, "SELECT COUNT(*) FROM audit_log").await;
    assert!(before >= 3, "status changes and notes were audited");
    store
        .audit(&NewAudit {
            actor: "root".into(),
            action: "test.old".into(),
            structure: None,
            target: Some("MARQUEUR-AUDIT-PURGE".into()),
            before: None,
            after: None,
        })
        .await
        .unwrap();
    raw_exec(
        url,
        "UPDATE audit_log SET at_ms = 1000 WHERE action = 'test.old'",
    )
    .await;
    assert_eq!(store.purge_audit(5_000).await.unwrap(), 1);
    assert_eq!(
        raw_count(
            url,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'test.old'"
        )
        .await,
        0
    );
    assert_eq!(
        raw_count(url, "SELECT COUNT(*) FROM audit_log").await,
        before
    );
    if url.starts_with("sqlite") {
        // Gone from the file itself, not only from the queries (secure_delete: no VACUUM
        // needed; the log checkpointed).
        assert!(!sqlite_file_holds(url, "MARQUEUR-AUDIT-PURGE").await);
        // The one report left says it too; the purged ones do not.
        assert!(sqlite_file_holds(url, "MARQUEUR-SIGNALEMENT-PURGE").await);
        store
            .set_report_status_audited(ids[2], ReportStatus::Closed, "cpe", 9_000)
            .await
            .unwrap();
        assert_eq!(store.purge_closed_reports(i64::MAX).await.unwrap(), 1);
        assert!(!sqlite_file_holds(url, "MARQUEUR-SIGNALEMENT-PURGE").await);
    }
}

async fn departed_users_are_purged_with_their_data(store: &Store, url: &str) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    store
        .write_archives(
            &[],
            &[
                one_to_one("hugo.petit", 1, "lea.martin@x", 1),
                one_to_one("lea.martin", 1, "hugo.petit@x", 1),
            ],
        )
        .await
        .unwrap();
    store
        .set_vcard(
            "hugo.petit",
            "<vCard><NICKNAME>MARQUEUR-VCARD</NICKNAME></vCard>",
        )
        .await
        .unwrap();
    store
        .put_roster_item("hugo.petit", &item("lea.martin@x"))
        .await
        .unwrap();
    store
        .store_offline("hugo.petit", &message("hugo.petit@x", "hors ligne"), 1, 100)
        .await
        .unwrap();
    store
        .pep_publish(
            "hugo.petit",
            &PepNode::new("urn:xmpp:avatar:metadata"),
            &PepItem {
                id: "a".into(),
                xml: "<metadata xmlns='urn:xmpp:avatar:metadata'/>".into(),
            },
            PepQuota {
                max_nodes: 10,
                max_bytes: 100_000,
            },
        )
        .await
        .unwrap();
    // Nobody has left yet.
    let later = causerie_store_now_ms() + 60_000;
    assert!(store.departed_before(later).await.unwrap().is_empty());
    // Hugo leaves the directory.
    store
        .import_snapshot(
            &without_user(school(), "hugo.petit"),
            &no_credentials(),
            None,
        )
        .await
        .unwrap();
    let left = raw_count(
        url,
        "SELECT COALESCE(MAX(d.left_ms), 0) FROM directory_users d JOIN accounts a \
         ON a.id = d.account_id WHERE a.username = 'hugo.petit'",
    )
    .await;
    assert!(left > 0, "the time he left is kept");
    // Not yet past the delay: nothing goes.
    assert!(store.departed_before(left).await.unwrap().is_empty());
    assert!(
        !store
            .purge_departed("hugo.petit", left, "retention")
            .await
            .unwrap()
    );
    assert_eq!(
        store.departed_before(later).await.unwrap(),
        strings(&["hugo.petit"])
    );
    let generation = store.generation().await.unwrap();
    assert!(
        store
            .purge_departed("hugo.petit", later, "retention")
            .await
            .unwrap()
    );
    assert!(
        !store
            .purge_departed("hugo.petit", later, "retention")
            .await
            .unwrap()
    );
    assert!(store.generation().await.unwrap() > generation);
    assert!(!store.account_exists("hugo.petit").await.unwrap());
    for (what, sql) in [
        (
            "account",
            "SELECT COUNT(*) FROM accounts WHERE username = 'hugo.petit'",
        ),
        (
            "archive",
            "SELECT COUNT(*) FROM account_archive WHERE with_jid = 'lea.martin@x'",
        ),
        ("vcard", "SELECT COUNT(*) FROM vcards"),
        (
            "roster",
            "SELECT COUNT(*) FROM roster_items WHERE contact = 'lea.martin@x'",
        ),
        ("offline", "SELECT COUNT(*) FROM offline_messages"),
        ("pep", "SELECT COUNT(*) FROM pep_items"),
    ] {
        assert_eq!(raw_count(url, sql).await, 0, "{what}");
    }
    // Lea's own copy of their conversation is hers, and stays.
    assert_eq!(raw_archive_rows(url, "lea.martin").await, 1);
    // The purge is in the audit log.
    let log = store
        .audit_log(&AuditQuery {
            structures: None,
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "account.purged" && e.target.as_deref() == Some("hugo.petit"))
    );
    if url.starts_with("sqlite") {
        assert!(!sqlite_file_holds(url, "MARQUEUR-VCARD").await);
    }
    // Someone who comes back is no longer leaving.
    store
        .import_snapshot(
            &without_user(school(), "lea.martin"),
            &no_credentials(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.departed_before(later + 60_000).await.unwrap(),
        strings(&["lea.martin"])
    );
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert!(
        store
            .departed_before(later + 60_000)
            .await
            .unwrap()
            .is_empty()
    );
}

fn causerie_store_now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

async fn archive_grants_are_audited(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    let g = store
        .grant_archive_access(&NewArchiveGrant {
            structure: COLLEGE.into(),
            grantee: "anne.durand".into(),
            target: "lea.martin".into(),
            reason: "Harcèlement signalé par la famille".into(),
            expires_ms: 99_000,
        })
        .await
        .unwrap();
    assert_eq!(store.archive_grant(g.id).await.unwrap(), Some(g.clone()));
    assert_eq!(store.archive_grant(g.id + 1).await.unwrap(), None);
    assert_eq!(
        store.archive_grants(COLLEGE, 10).await.unwrap(),
        vec![g.clone()]
    );
    assert!(store.archive_grants(LYCEE, 10).await.unwrap().is_empty());
    let log = store
        .audit_log(&AuditQuery {
            structures: Some(strings(&[COLLEGE])),
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    let row = log
        .iter()
        .find(|e| e.action == "archive.grant")
        .expect("the grant is audited");
    assert_eq!(row.actor, "anne.durand");
    assert_eq!(row.target.as_deref(), Some("lea.martin"));
    let after = row.after.clone().unwrap();
    assert_eq!(after["reason"], "Harcèlement signalé par la famille");
    assert_eq!(after["grant"], g.id);
    // Ended grants go with the closed reports' purge.
    assert_eq!(store.purge_closed_reports(100_000).await.unwrap(), 0);
    assert_eq!(store.archive_grant(g.id).await.unwrap(), None);
}

async fn pupil_photos_are_audited(store: &Store) {
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(store.pupil_photos(COLLEGE).await.unwrap(), None);
    assert!(matches!(
        store
            .set_pupil_photos_audited("nowhere", Some(true), "root")
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .set_pupil_photos_audited(COLLEGE, Some(true), "root")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.pupil_photos(COLLEGE).await.unwrap(), Some(true));
    assert_eq!(store.pupil_photos(LYCEE).await.unwrap(), None);
    assert_eq!(
        store
            .set_pupil_photos_audited(COLLEGE, None, "root")
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(store.pupil_photos(COLLEGE).await.unwrap(), None);
    let log = store
        .audit_log(&AuditQuery {
            structures: Some(strings(&[COLLEGE])),
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    let rows: Vec<_> = log
        .iter()
        .filter(|e| e.action == "structure.pupil_photos")
        .collect();
    assert_eq!(rows.len(), 2);
}

// ---------------------------------------------------------------------------------------
// App passwords
// ---------------------------------------------------------------------------------------

async fn app_passwords_are_kept_as_keys_listed_and_revoked(store: &Store) {
    store.create_account("lea", &creds(1)).await.unwrap();
    store.create_account("bob", &creds(2)).await.unwrap();
    assert!(store.app_passwords("lea").await.unwrap().is_empty());
    assert!(matches!(
        store.app_password_add("nobody", "x", &creds(3), None).await,
        Err(StoreError::NotFound)
    ));
    let phone = store
        .app_password_add("lea", "Téléphone de Léa", &creds(3), None)
        .await
        .unwrap();
    let laptop = store
        .app_password_add("lea", "Ordinateur", &creds(4), Some("root"))
        .await
        .unwrap();
    assert_eq!(phone.label, "Téléphone de Léa");
    assert_eq!(phone.created_by, None);
    assert_eq!(laptop.created_by.as_deref(), Some("root"));
    assert!(laptop.id > phone.id);
    let listed = store.app_passwords("lea").await.unwrap();
    assert_eq!(listed, vec![phone.clone(), laptop.clone()]);
    assert!(store.app_passwords("bob").await.unwrap().is_empty());
    // The keys, as given, by id; the account's own credentials unchanged.
    assert_eq!(
        store.app_password_keys("lea").await.unwrap(),
        vec![(phone.id, creds(3)), (laptop.id, creds(4))]
    );
    assert_eq!(store.credentials("lea").await.unwrap(), Some(creds(1)));
    // A login's read: both in one.
    let login = |password: Option<u8>, apps: Vec<(i64, u8)>| LoginCredentials {
        password: password.map(creds),
        app_passwords: apps.into_iter().map(|(id, c)| (id, creds(c))).collect(),
    };
    assert_eq!(
        store.login_credentials("lea").await.unwrap(),
        login(Some(1), vec![(phone.id, 3), (laptop.id, 4)])
    );
    assert_eq!(
        store.login_credentials("bob").await.unwrap(),
        login(Some(2), vec![])
    );
    assert_eq!(
        store.login_credentials("nobody").await.unwrap(),
        login(None, vec![])
    );
    // Last use.
    assert!(store.app_password_used(phone.id).await.unwrap());
    let used = store.app_passwords("lea").await.unwrap()[0].last_used_ms;
    assert!(used.is_some_and(|t| t >= phone.created_ms));
    assert!(store.app_password_exists(phone.id).await.unwrap());
    // A new password of the account leaves them.
    store.set_credentials("lea", &creds(5)).await.unwrap();
    assert_eq!(store.app_password_keys("lea").await.unwrap().len(), 2);
    // Another account's id is not found.
    assert!(matches!(
        store.app_password_revoke("bob", phone.id, "bob").await,
        Err(StoreError::NotFound)
    ));
    let gone = store
        .app_password_revoke("lea", phone.id, "lea")
        .await
        .unwrap();
    assert_eq!(gone.label, "Téléphone de Léa");
    assert_eq!(
        store.app_password_keys("lea").await.unwrap(),
        vec![(laptop.id, creds(4))]
    );
    assert_eq!(
        store.login_credentials("lea").await.unwrap(),
        login(Some(5), vec![(laptop.id, 4)])
    );
    assert!(matches!(
        store.app_password_revoke("lea", phone.id, "lea").await,
        Err(StoreError::NotFound)
    ));
    // A login that read the revoked password's keys before is told it is gone.
    assert!(!store.app_password_used(phone.id).await.unwrap());
    assert!(!store.app_password_exists(phone.id).await.unwrap());
    assert!(store.app_password_exists(laptop.id).await.unwrap());
    // At most PER_ACCOUNT.
    for i in 1..causerie_store::app_passwords::PER_ACCOUNT {
        store
            .app_password_add("lea", &format!("n{i}"), &creds(6), None)
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .app_password_add("lea", "one too many", &creds(6), None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    // Each addition and revocation is audited, with its actor.
    let log = store
        .audit_log(&AuditQuery {
            structures: None,
            before_id: None,
            limit: 100,
        })
        .await
        .unwrap();
    let actors: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| {
            e.action.starts_with("account.app_password") && e.target.as_deref() == Some("lea")
        })
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .rev()
        .take(3)
        .collect();
    assert_eq!(
        actors,
        vec![
            ("account.app_password_added", "lea"),
            ("account.app_password_added", "root"),
            ("account.app_password_revoked", "lea"),
        ]
    );
    // The account's deletion takes them.
    store.delete_account("lea").await.unwrap();
    assert!(store.app_password_keys("lea").await.unwrap().is_empty());
    assert_eq!(
        store.login_credentials("lea").await.unwrap(),
        login(None, vec![])
    );
}

async fn app_password_policy_is_per_structure_and_audited(store: &Store) {
    use causerie_ent::app_passwords::Policy;
    store
        .import_snapshot(&school(), &no_credentials(), None)
        .await
        .unwrap();
    assert_eq!(store.app_password_policy(COLLEGE).await.unwrap(), None);
    let open = Policy {
        pupils: true,
        adults: true,
    };
    assert!(matches!(
        store
            .set_app_password_policy_audited("nowhere", Some(open), "root")
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .set_app_password_policy_audited(COLLEGE, Some(open), "root")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.app_password_policy(COLLEGE).await.unwrap(),
        Some(open)
    );
    assert_eq!(store.app_password_policy(LYCEE).await.unwrap(), None);
    let closed = Policy {
        pupils: false,
        adults: false,
    };
    assert_eq!(
        store
            .set_app_password_policy_audited(COLLEGE, Some(closed), "root")
            .await
            .unwrap(),
        Some(open)
    );
    assert_eq!(
        store
            .set_app_password_policy_audited(COLLEGE, None, "root")
            .await
            .unwrap(),
        Some(closed)
    );
    assert_eq!(store.app_password_policy(COLLEGE).await.unwrap(), None);
    let log = store
        .audit_log(&AuditQuery {
            structures: Some(strings(&[COLLEGE])),
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "structure.app_passwords")
            .count(),
        3
    );
}

// ---------------------------------------------------------------------------------------
// XEP-0484 FAST tokens
// ---------------------------------------------------------------------------------------

async fn fast_tokens_issue_rotate_replay_and_revoke(store: &Store) {
    store.create_account("fasta", &creds(1)).await.unwrap();
    store.create_account("fastb", &creds(2)).await.unwrap();
    let far = i64::MAX / 2;
    const NONE: &str = "HT-SHA-256-NONE";
    let hashes = |v: Vec<causerie_store::FastToken>| -> Vec<Vec<u8>> {
        v.into_iter().map(|t| t.key_hash).collect()
    };
    assert!(matches!(
        store.fast_issue("nobody", "ua", NONE, b"k0", far).await,
        Err(StoreError::NotFound)
    ));
    store
        .fast_issue("fasta", "ua", NONE, b"k1", far)
        .await
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    // Each token keeps the mechanism it was issued for (XEP-0484: the only one it
    // logs in with).
    store
        .fast_issue("fasta", "ua", "HT-SHA-256-EXPR", b"k2", far)
        .await
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    // A third keeps the two newest.
    store
        .fast_issue("fasta", "ua", NONE, b"k3", far)
        .await
        .unwrap();
    store
        .fast_issue("fasta", "other", NONE, b"o1", far)
        .await
        .unwrap();
    assert_eq!(
        hashes(store.fast_tokens("fasta", "ua").await.unwrap()),
        vec![b"k3".to_vec(), b"k2".to_vec()]
    );
    let mechanisms: Vec<String> = store
        .fast_tokens("fasta", "ua")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.mechanism)
        .collect();
    assert_eq!(mechanisms, [NONE, "HT-SHA-256-EXPR"]);
    assert_eq!(store.fast_tokens("fastb", "ua").await.unwrap(), vec![]);
    // count moves forward only.
    assert!(
        store
            .fast_used("fasta", "ua", b"k2", Some(3))
            .await
            .unwrap()
    );
    assert!(
        !store
            .fast_used("fasta", "ua", b"k2", Some(3))
            .await
            .unwrap()
    );
    assert!(
        !store
            .fast_used("fasta", "ua", b"k2", Some(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .fast_used("fastb", "ua", b"k2", Some(9))
            .await
            .unwrap()
    );
    // Using the newer retires the older.
    assert!(store.fast_used("fasta", "ua", b"k3", None).await.unwrap());
    assert_eq!(
        hashes(store.fast_tokens("fasta", "ua").await.unwrap()),
        vec![b"k3".to_vec()]
    );
    // Expired tokens are not read.
    store
        .fast_issue("fastb", "ua", NONE, b"old", 1)
        .await
        .unwrap();
    assert_eq!(store.fast_tokens("fastb", "ua").await.unwrap(), vec![]);
    // A new password ends them all; revoking is per client or all.
    store.set_credentials("fasta", &creds(3)).await.unwrap();
    assert_eq!(store.fast_tokens("fasta", "ua").await.unwrap(), vec![]);
    assert_eq!(store.fast_tokens("fasta", "other").await.unwrap(), vec![]);
    store
        .fast_issue("fasta", "ua", NONE, b"k4", far)
        .await
        .unwrap();
    store
        .fast_issue("fasta", "other", NONE, b"o2", far)
        .await
        .unwrap();
    assert_eq!(store.fast_revoke("fasta", Some("other")).await.unwrap(), 1);
    assert_eq!(store.fast_tokens("fasta", "ua").await.unwrap().len(), 1);
    assert_eq!(store.fast_revoke("fasta", None).await.unwrap(), 1);
    // And they go with the account.
    store
        .fast_issue("fastb", "ua", NONE, b"b1", far)
        .await
        .unwrap();
    store.delete_account("fastb").await.unwrap();
    store.create_account("fastb", &creds(2)).await.unwrap();
    assert_eq!(store.fast_tokens("fastb", "ua").await.unwrap(), vec![]);
    // A client making up a new id at each login keeps the account's newest tokens only.
    let cap = causerie_store::fast::TOKENS_PER_ACCOUNT;
    for i in 0..cap + 5 {
        store
            .fast_issue(
                "fastb",
                &format!("agent{i}"),
                NONE,
                format!("h{i}").as_bytes(),
                far,
            )
            .await
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    for i in 0..5 {
        assert_eq!(
            store
                .fast_tokens("fastb", &format!("agent{i}"))
                .await
                .unwrap(),
            vec![],
            "{i}"
        );
    }
    for i in 5..cap + 5 {
        assert_eq!(
            hashes(
                store
                    .fast_tokens("fastb", &format!("agent{i}"))
                    .await
                    .unwrap()
            ),
            vec![format!("h{i}").into_bytes()],
            "{i}"
        );
    }
}

async fn sso_tokens_are_single_use_and_sessions_end_by_ticket(store: &Store) {
    use causerie_store::{SsoLogin, SsoStore};
    store.create_account("ssoa", &creds(1)).await.unwrap();
    store.create_account("ssob", &creds(2)).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let later = now + 3_600_000;
    assert!(matches!(
        store.sso_open("nobody", b"s0", b"t0", later).await,
        Err(StoreError::NotFound)
    ));
    store.sso_open("ssoa", b"s1", b"ST-1", later).await.unwrap();
    store.sso_open("ssoa", b"s2", b"ST-2", later).await.unwrap();
    store
        .sso_open("ssob", b"s3", b"ST-1b", later)
        .await
        .unwrap();
    // An expired session is no session, and it is gone at the next opening.
    store
        .sso_open("ssob", b"old", b"ST-0", now - 1)
        .await
        .unwrap();
    assert_eq!(
        store.sso_session(b"s1").await.unwrap().as_deref(),
        Some("ssoa")
    );
    assert_eq!(store.sso_session(b"old").await.unwrap(), None);
    assert_eq!(store.sso_session(b"nope").await.unwrap(), None);
    assert!(!store.sso_token_issue(b"old", b"k0", later).await.unwrap());

    // A token logs in once.
    assert!(store.sso_token_issue(b"s1", b"k1", later).await.unwrap());
    let login = SsoLogin {
        user: "ssoa".into(),
        session: b"s1".to_vec(),
    };
    assert_eq!(
        store.sso_token_take(b"k1").await.unwrap(),
        Some(login.clone())
    );
    assert_eq!(store.sso_token_take(b"k1").await.unwrap(), None);
    assert_eq!(store.sso_token_take(b"unknown").await.unwrap(), None);
    // An expired token is refused, and spent.
    assert!(store.sso_token_issue(b"s1", b"k2", now - 1).await.unwrap());
    assert_eq!(store.sso_token_take(b"k2").await.unwrap(), None);

    // The browser signs out: its tokens go with its session.
    assert!(store.sso_token_issue(b"s2", b"k3", later).await.unwrap());
    assert_eq!(
        store.sso_close(b"s2").await.unwrap().as_deref(),
        Some("ssoa")
    );
    assert_eq!(store.sso_close(b"s2").await.unwrap(), None);
    assert_eq!(store.sso_token_take(b"k3").await.unwrap(), None);
    assert!(!store.sso_token_issue(b"s2", b"k4", later).await.unwrap());

    // A page asking in a loop keeps the newest few tokens only.
    for i in 0..10u8 {
        assert!(
            store
                .sso_token_issue(b"s1", &[b'x', i], later + i64::from(i))
                .await
                .unwrap()
        );
    }
    for i in 0..6u8 {
        assert_eq!(
            store.sso_token_take(&[b'x', i]).await.unwrap(),
            None,
            "token {i}"
        );
    }
    assert!(store.sso_token_take(&[b'x', 9]).await.unwrap().is_some());

    // Single log-out names the ticket: only that session ends.
    assert!(store.sso_token_issue(b"s1", b"k5", later).await.unwrap());
    assert_eq!(store.sso_close_ticket(b"ST-1").await.unwrap(), vec![login]);
    assert_eq!(store.sso_close_ticket(b"ST-1").await.unwrap(), vec![]);
    assert_eq!(store.sso_session(b"s1").await.unwrap(), None);
    assert_eq!(store.sso_token_take(b"k5").await.unwrap(), None);
    assert_eq!(
        store.sso_session(b"s3").await.unwrap().as_deref(),
        Some("ssob")
    );

    // An account's deletion ends its sessions.
    store.delete_account("ssob").await.unwrap();
    assert_eq!(store.sso_session(b"s3").await.unwrap(), None);
}
