//! The school directory (tables of `0002_directory.sql`): structures, classes, directory
//! users (each one an XMPP account) with their structures, classes and children, ENT
//! groups; each structure's communication rules and access settings; and the
//! `directory_generation` counter.
//!
//! Full imports ([`DirectoryStore::import_snapshot`]) and incremental changes (the ENT's
//! HTTP API) each run in one write transaction. Every change to the directory, the rules
//! or the access settings increments the generation in that same transaction, first thing:
//! another process (the server, when the CLI imports) notices the change from its next
//! read of [`DirectoryStore::generation`], and on PostgreSQL the row lock this takes makes
//! directory writers wait for each other, as `BEGIN IMMEDIATE` does on SQLite.
//!
//! Directory users are never deleted by the directory: a user absent from an import (or
//! deactivated through the API) is kept, inactive, with his links, so that his archives
//! stay and a re-activation finds him whole. Reads ([`DirectoryStore::snapshot`]) show
//! active users only, and only active children and group members.
//!
//! A structure's rules are a rule set (`rule_sets` row, possibly with no rule at all) or
//! nothing (the defaults). Rules and access settings are keyed by structure id without a
//! foreign key: they are the
//! administrator's settings, no import touches them, and they apply again when a structure
//! missing from one export comes back in the next.
//!
//! This module holds the trait and its types; the work is split by job:
//! `load` reads the stored directory (the snapshot, who is active), `import` applies a
//! full snapshot, `sync` the incremental changes of the ENT's API (one user, class,
//! group or structure), `settings` the rules and access settings, `generation` the
//! counter, and `rows` the row-level reads and writes they are all made of.

pub(crate) mod generation;
mod import;
mod load;
pub(crate) mod rows;
pub(crate) mod settings;
mod sync;

use std::collections::HashMap;

use causerie_ent::{Class, Group, Rule, Snapshot, Structure, User};

use crate::audit::NewAudit;
use crate::credentials::Credentials;
use crate::{Result, Store};

/// What a full import did. `structures`, `classes` and `groups` count the snapshot's
/// entries (all of them are in the directory afterwards). A user counts as created when he
/// was not a directory user yet (his account may have existed), as updated when anything
/// stored about him actually changed (names, profile, re-activation, structures, classes,
/// children, credentials), as deactivated when he was active and is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub structures: usize,
    pub classes: usize,
    pub users_created: usize,
    pub users_updated: usize,
    pub users_deactivated: usize,
    pub groups: usize,
    /// Collectivités written or removed (the snapshot's list differed from the stored
    /// one); 0 when the snapshot had no list.
    pub collectivites: usize,
}

/// Whether a structure may use the service (the type lives with the access decision).
pub use causerie_ent::Access;

#[async_trait::async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Applies a full, already validated snapshot in ONE transaction: upserts structures,
    /// classes, users, links and groups; directory users absent from the snapshot are
    /// deactivated (kept, never deleted: their archives stay); classes, groups and
    /// structures absent are removed (their links too). Each directory user is an account,
    /// created when missing. `credentials` (by login) gives the SCRAM credentials of users
    /// whose entry had a password, written on creation and on update when they differ from
    /// the stored ones; users without keep theirs (a new one gets an account without
    /// credentials). Absent users re-appearing become active again. Importing the same
    /// snapshot twice changes nothing the second time but the generation. Never touches
    /// rules or access settings.
    ///
    /// A snapshot the database cannot hold (a class of an unknown structure, a child or
    /// member who is not in the snapshot, a duplicate id…) fails with nothing changed:
    /// Err(Invalid) when caught here, Err(Database) when a constraint refuses it.
    async fn import_snapshot(
        &self,
        snapshot: &Snapshot,
        credentials: &HashMap<String, Credentials>,
        audit: Option<&NewAudit>,
    ) -> Result<ImportReport>;
    /// The current directory: structures, classes, ACTIVE users (with their structures,
    /// classes and active children), groups (members restricted to active users), each list
    /// sorted by id / login (byte-wise). Passwords are never returned. Read in one
    /// consistent database snapshot.
    async fn snapshot(&self) -> Result<Snapshot>;
    /// Some(active) for a directory user; None for anything else (a plain account, or no
    /// account at all).
    async fn directory_user_active(&self, login: &str) -> Result<Option<bool>>;
    /// Logins of the deactivated directory users, sorted.
    async fn inactive_users(&self) -> Result<Vec<String>>;
    /// Creates or replaces a user (names, profile, structures, classes, children) and makes
    /// him active; `credentials`, when given, replace his own. Err(Invalid) when a
    /// structure, class or child (a directory user) does not exist.
    ///
    /// These incremental changes write `audit`, when given, in their transaction.
    async fn put_user(
        &self,
        user: &User,
        credentials: Option<&Credentials>,
        audit: Option<&NewAudit>,
    ) -> Result<()>;
    /// Err(NotFound) when `login` is not a directory user.
    async fn deactivate_user(&self, login: &str, audit: Option<&NewAudit>) -> Result<()>;
    async fn put_structure(&self, structure: &Structure, audit: Option<&NewAudit>) -> Result<()>;
    /// Err(Invalid) when its structure does not exist.
    async fn put_class(&self, class: &Class, audit: Option<&NewAudit>) -> Result<()>;
    /// Removes the class and its members' links to it. Err(NotFound) when absent.
    async fn delete_class(&self, id: &str, audit: Option<&NewAudit>) -> Result<()>;
    /// Creates or replaces a group and its members. Err(Invalid) when its structure or a
    /// member (a directory user) does not exist.
    async fn put_group(&self, group: &Group, audit: Option<&NewAudit>) -> Result<()>;
    /// Err(NotFound) when absent.
    async fn delete_group(&self, id: &str, audit: Option<&NewAudit>) -> Result<()>;
    /// Stored rules per structure id, in order (possibly an empty list); structures without
    /// stored rules are absent from the map (the caller uses the defaults).
    async fn rules(&self) -> Result<HashMap<String, Vec<Rule>>>;
    /// Replaces a structure's rules (order kept; an empty list is stored as such: nobody
    /// reaches anybody by rule, unlike the defaults). None resets it to the defaults (its rows are deleted). Err(NotFound) when
    /// setting rules of a structure that does not exist.
    async fn set_rules(&self, structure: &str, rules: Option<&[Rule]>) -> Result<()>;
    /// The stored setting, or [`Access::default`] when there is none.
    async fn access(&self, structure: &str) -> Result<Access>;
    /// Every stored setting, by structure id (structures without one use the default).
    async fn all_access(&self) -> Result<HashMap<String, Access>>;
    /// Err(NotFound) when the structure does not exist.
    async fn set_access(&self, structure: &str, access: &Access) -> Result<()>;
    /// The directory generation: incremented by every change of the directory, the rules or
    /// the access settings (0 in a new database).
    async fn generation(&self) -> Result<i64>;
}

// The trait on Store: each method is the function of the same name in the module of
// its job.
#[async_trait::async_trait]
impl DirectoryStore for Store {
    async fn import_snapshot(
        &self,
        snapshot: &Snapshot,
        credentials: &HashMap<String, Credentials>,
        audit: Option<&NewAudit>,
    ) -> Result<ImportReport> {
        import::import_snapshot(self, snapshot, credentials, audit).await
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        load::snapshot(self).await
    }

    async fn directory_user_active(&self, login: &str) -> Result<Option<bool>> {
        load::directory_user_active(self, login).await
    }

    async fn inactive_users(&self) -> Result<Vec<String>> {
        load::inactive_users(self).await
    }

    async fn put_user(
        &self,
        user: &User,
        credentials: Option<&Credentials>,
        audit: Option<&NewAudit>,
    ) -> Result<()> {
        sync::put_user(self, user, credentials, audit).await
    }

    async fn deactivate_user(&self, login: &str, audit: Option<&NewAudit>) -> Result<()> {
        sync::deactivate_user(self, login, audit).await
    }

    async fn put_structure(&self, structure: &Structure, audit: Option<&NewAudit>) -> Result<()> {
        sync::put_structure(self, structure, audit).await
    }

    async fn put_class(&self, class: &Class, audit: Option<&NewAudit>) -> Result<()> {
        sync::put_class(self, class, audit).await
    }

    async fn delete_class(&self, id: &str, audit: Option<&NewAudit>) -> Result<()> {
        sync::delete_class(self, id, audit).await
    }

    async fn put_group(&self, group: &Group, audit: Option<&NewAudit>) -> Result<()> {
        sync::put_group(self, group, audit).await
    }

    async fn delete_group(&self, id: &str, audit: Option<&NewAudit>) -> Result<()> {
        sync::delete_group(self, id, audit).await
    }

    async fn rules(&self) -> Result<HashMap<String, Vec<Rule>>> {
        settings::rules(self).await
    }

    async fn set_rules(&self, structure: &str, rules: Option<&[Rule]>) -> Result<()> {
        settings::set_rules(self, structure, rules).await
    }

    async fn access(&self, structure: &str) -> Result<Access> {
        settings::access(self, structure).await
    }

    async fn all_access(&self) -> Result<HashMap<String, Access>> {
        settings::all_access(self).await
    }

    async fn set_access(&self, structure: &str, access: &Access) -> Result<()> {
        settings::set_access(self, structure, access).await
    }

    async fn generation(&self) -> Result<i64> {
        generation::generation(self).await
    }
}
