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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use causerie_ent::{Class, Group, Profile, Rule, Scope, Snapshot, Structure, User};
use sqlx::{AnyConnection, Row};

use crate::accounts::{credentials_of, write_credentials};
use crate::{Backend, Credentials, Result, Store, StoreError, get_flag, now_ms};

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
    async fn put_user(&self, user: &User, credentials: Option<&Credentials>) -> Result<()>;
    /// Err(NotFound) when `login` is not a directory user.
    async fn deactivate_user(&self, login: &str) -> Result<()>;
    async fn put_structure(&self, structure: &Structure) -> Result<()>;
    /// Err(Invalid) when its structure does not exist.
    async fn put_class(&self, class: &Class) -> Result<()>;
    /// Removes the class and its members' links to it. Err(NotFound) when absent.
    async fn delete_class(&self, id: &str) -> Result<()>;
    /// Creates or replaces a group and its members. Err(Invalid) when its structure or a
    /// member (a directory user) does not exist.
    async fn put_group(&self, group: &Group) -> Result<()>;
    /// Err(NotFound) when absent.
    async fn delete_group(&self, id: &str) -> Result<()>;
    /// Stored rules per structure id, in order (possibly an empty list); structures without
    /// stored rules are absent from the map (the caller uses the defaults).
    async fn rules(&self) -> Result<HashMap<String, Vec<Rule>>>;
    /// Replaces a structure's rules (order kept; an empty list is stored as such: nobody
    /// reaches anybody by rule, unlike the defaults). None resets it to the defaults (its rows are deleted). Err(NotFound) when
    /// setting rules of a structure that does not exist.
    async fn set_rules(&self, structure: &str, rules: Option<&[Rule]>) -> Result<()>;
    /// The stored setting, or [`Access::default`] when there is none.
    async fn access(&self, structure: &str) -> Result<Access>;
    /// Err(NotFound) when the structure does not exist.
    async fn set_access(&self, structure: &str, access: &Access) -> Result<()>;
    /// The directory generation: incremented by every change of the directory, the rules or
    /// the access settings (0 in a new database).
    async fn generation(&self) -> Result<i64>;
}

// ---------------------------------------------------------------------------------------
// The directory as stored, read in one go
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct ClassRow {
    structure: String,
    name: String,
}

#[derive(Debug)]
struct UserRow {
    account: i64,
    last_name: String,
    first_name: String,
    profile: Profile,
    active: bool,
    structures: BTreeSet<String>,
    classes: BTreeSet<String>,
    /// Logins, inactive children included.
    children: BTreeSet<String>,
    /// Structures he administers by the import (`admin_of`).
    admin_of: BTreeSet<String>,
}

#[derive(Debug)]
struct GroupRow {
    name: String,
    structure: Option<String>,
    /// Logins, inactive members included.
    members: BTreeSet<String>,
}

/// Everything the directory tables hold, keyed (and so sorted) by id / login.
#[derive(Debug, Default)]
struct Directory {
    structures: BTreeMap<String, String>,
    classes: BTreeMap<String, ClassRow>,
    users: BTreeMap<String, UserRow>,
    groups: BTreeMap<String, GroupRow>,
}

pub(crate) fn parse_profile(s: &str) -> Result<Profile> {
    Profile::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown profile {s:?}")))
}

/// Reads every directory table through `conn` (a transaction, for a consistent picture).
async fn load(conn: &mut AnyConnection, backend: Backend) -> Result<Directory> {
    let mut dir = Directory::default();
    for row in sqlx::query("SELECT id, name FROM structures")
        .fetch_all(&mut *conn)
        .await?
    {
        dir.structures
            .insert(row.try_get("id")?, row.try_get("name")?);
    }
    for row in sqlx::query("SELECT id, structure_id, name FROM classes")
        .fetch_all(&mut *conn)
        .await?
    {
        let class = ClassRow {
            structure: row.try_get("structure_id")?,
            name: row.try_get("name")?,
        };
        dir.classes.insert(row.try_get("id")?, class);
    }
    let mut logins: HashMap<i64, String> = HashMap::new();
    for row in sqlx::query(
        "SELECT d.account_id, a.username, d.last_name, d.first_name, d.profile, d.active \
         FROM directory_users d JOIN accounts a ON a.id = d.account_id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let account: i64 = row.try_get("account_id")?;
        let login: String = row.try_get("username")?;
        let profile: String = row.try_get("profile")?;
        let user = UserRow {
            account,
            last_name: row.try_get("last_name")?,
            first_name: row.try_get("first_name")?,
            profile: parse_profile(&profile)?,
            active: get_flag(&row, "active", backend)?,
            structures: BTreeSet::new(),
            classes: BTreeSet::new(),
            children: BTreeSet::new(),
            admin_of: BTreeSet::new(),
        };
        logins.insert(account, login.clone());
        dir.users.insert(login, user);
    }
    // Link rows always have their user (foreign keys, one transaction); one without is
    // skipped rather than trusted.
    for row in sqlx::query("SELECT account_id, structure_id FROM user_structures")
        .fetch_all(&mut *conn)
        .await?
    {
        let account: i64 = row.try_get("account_id")?;
        if let Some(user) = logins.get(&account).and_then(|l| dir.users.get_mut(l)) {
            user.structures.insert(row.try_get("structure_id")?);
        }
    }
    for row in sqlx::query("SELECT account_id, class_id FROM user_classes")
        .fetch_all(&mut *conn)
        .await?
    {
        let account: i64 = row.try_get("account_id")?;
        if let Some(user) = logins.get(&account).and_then(|l| dir.users.get_mut(l)) {
            user.classes.insert(row.try_get("class_id")?);
        }
    }
    for row in sqlx::query("SELECT parent_id, child_id FROM parent_children")
        .fetch_all(&mut *conn)
        .await?
    {
        let parent: i64 = row.try_get("parent_id")?;
        let child: i64 = row.try_get("child_id")?;
        if let (Some(child), Some(parent)) = (logins.get(&child), logins.get(&parent))
            && let Some(user) = dir.users.get_mut(parent)
        {
            user.children.insert(child.clone());
        }
    }
    for row in sqlx::query("SELECT login, structure_id FROM admin_grants WHERE source = 'import'")
        .fetch_all(&mut *conn)
        .await?
    {
        let login: String = row.try_get("login")?;
        if let Some(user) = dir.users.get_mut(&login) {
            user.admin_of.insert(row.try_get("structure_id")?);
        }
    }
    for row in sqlx::query("SELECT id, name, structure_id FROM groups")
        .fetch_all(&mut *conn)
        .await?
    {
        let group = GroupRow {
            name: row.try_get("name")?,
            structure: row.try_get("structure_id")?,
            members: BTreeSet::new(),
        };
        dir.groups.insert(row.try_get("id")?, group);
    }
    for row in sqlx::query("SELECT group_id, account_id FROM group_members")
        .fetch_all(&mut *conn)
        .await?
    {
        let group: String = row.try_get("group_id")?;
        let account: i64 = row.try_get("account_id")?;
        if let (Some(login), Some(group)) = (logins.get(&account), dir.groups.get_mut(&group)) {
            group.members.insert(login.clone());
        }
    }
    Ok(dir)
}

/// The public view of the stored directory: active users only (see [`DirectoryStore::snapshot`]).
fn to_snapshot(dir: Directory) -> Snapshot {
    let active: HashSet<String> = dir
        .users
        .iter()
        .filter(|(_, user)| user.active)
        .map(|(login, _)| login.clone())
        .collect();
    Snapshot {
        structures: dir
            .structures
            .into_iter()
            .map(|(id, name)| Structure { id, name })
            .collect(),
        classes: dir
            .classes
            .into_iter()
            .map(|(id, class)| Class {
                id,
                structure: class.structure,
                name: class.name,
            })
            .collect(),
        users: dir
            .users
            .into_iter()
            .filter(|(_, user)| user.active)
            .map(|(login, user)| User {
                login,
                last_name: user.last_name,
                first_name: user.first_name,
                profile: user.profile,
                structures: user.structures.into_iter().collect(),
                classes: user.classes.into_iter().collect(),
                children: user
                    .children
                    .into_iter()
                    .filter(|child| active.contains(child))
                    .collect(),
                password: None,
                admin_of: user.admin_of.into_iter().collect(),
            })
            .collect(),
        groups: dir
            .groups
            .into_iter()
            .map(|(id, group)| Group {
                id,
                name: group.name,
                structure: group.structure,
                members: group
                    .members
                    .into_iter()
                    .filter(|member| active.contains(member))
                    .collect(),
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Writers (all through the caller's transaction)
// ---------------------------------------------------------------------------------------

/// Increments the generation. First statement of every directory write transaction.
pub(crate) async fn bump_generation(conn: &mut AnyConnection) -> Result<()> {
    let done = sqlx::query("UPDATE directory_generation SET value = value + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Corrupt(
            "the directory_generation row is missing".into(),
        ));
    }
    Ok(())
}

/// Increments the generation when `username` is a directory user (whose rows are about to
/// go with his account).
pub(crate) async fn bump_generation_if_directory_user(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE directory_generation SET value = value + 1 WHERE id = 1 AND EXISTS \
         (SELECT 1 FROM directory_users d JOIN accounts a ON a.id = d.account_id \
          WHERE a.username = $1)",
    )
    .bind(username.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn structure_exists(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM structures WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

async fn class_exists(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM classes WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// The account id of directory user `login`, active or not.
pub(crate) async fn directory_user_id(
    conn: &mut AnyConnection,
    login: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT d.account_id FROM directory_users d JOIN accounts a ON a.id = d.account_id \
         WHERE a.username = $1",
    )
    .bind(login.to_owned())
    .fetch_optional(&mut *conn)
    .await?)
}

/// The id of account `login`, created (without credentials) when missing.
async fn ensure_account(conn: &mut AnyConnection, login: &str) -> Result<i64> {
    if let Some(id) = crate::account_id(&mut *conn, login).await? {
        return Ok(id);
    }
    // DO NOTHING: an account created meanwhile by another process (`causerie user add`
    // on PostgreSQL) is adopted, read back below, instead of failing the transaction.
    let created: Option<i64> = sqlx::query_scalar(
        "INSERT INTO accounts (username, created_ms) VALUES ($1, $2) \
         ON CONFLICT (username) DO NOTHING RETURNING id",
    )
    .bind(login.to_owned())
    .bind(now_ms())
    .fetch_optional(&mut *conn)
    .await?;
    match created {
        Some(id) => Ok(id),
        None => crate::account_id(&mut *conn, login)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("account {login:?} vanished"))),
    }
}

async fn upsert_structure(conn: &mut AnyConnection, s: &Structure) -> Result<()> {
    sqlx::query(
        "INSERT INTO structures (id, name) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    )
    .bind(s.id.clone())
    .bind(s.name.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn upsert_class(conn: &mut AnyConnection, c: &Class) -> Result<()> {
    sqlx::query(
        "INSERT INTO classes (id, structure_id, name) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET \
             structure_id = excluded.structure_id, name = excluded.name",
    )
    .bind(c.id.clone())
    .bind(c.structure.clone())
    .bind(c.name.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The group's own row; its members are written by [`set_group_members`].
pub(crate) async fn upsert_group_row(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    sqlx::query(
        "INSERT INTO groups (id, name, structure_id) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, structure_id = excluded.structure_id",
    )
    .bind(g.id.clone())
    .bind(g.name.clone())
    .bind(g.structure.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// true when a row was deleted.
pub(crate) async fn delete_group_row(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// true when a row was deleted.
async fn delete_class_row(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM classes WHERE id = $1")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

async fn delete_structure_row(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM structures WHERE id = $1")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts or replaces the directory row of `account` (names, profile), active.
async fn upsert_user_row(conn: &mut AnyConnection, account: i64, user: &User) -> Result<()> {
    sqlx::query(
        "INSERT INTO directory_users (account_id, last_name, first_name, profile, active) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account_id) DO UPDATE SET \
             last_name = excluded.last_name, first_name = excluded.first_name, \
             profile = excluded.profile, active = excluded.active",
    )
    .bind(account)
    .bind(user.last_name.clone())
    .bind(user.first_name.clone())
    .bind(user.profile.as_str())
    .bind(true)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn set_user_structures(
    conn: &mut AnyConnection,
    account: i64,
    structures: &BTreeSet<String>,
) -> Result<()> {
    sqlx::query("DELETE FROM user_structures WHERE account_id = $1")
        .bind(account)
        .execute(&mut *conn)
        .await?;
    for id in structures {
        sqlx::query("INSERT INTO user_structures (account_id, structure_id) VALUES ($1, $2)")
            .bind(account)
            .bind(id.clone())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn set_user_classes(
    conn: &mut AnyConnection,
    account: i64,
    classes: &BTreeSet<String>,
) -> Result<()> {
    sqlx::query("DELETE FROM user_classes WHERE account_id = $1")
        .bind(account)
        .execute(&mut *conn)
        .await?;
    for id in classes {
        sqlx::query("INSERT INTO user_classes (account_id, class_id) VALUES ($1, $2)")
            .bind(account)
            .bind(id.clone())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn set_children(conn: &mut AnyConnection, parent: i64, children: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM parent_children WHERE parent_id = $1")
        .bind(parent)
        .execute(&mut *conn)
        .await?;
    for child in children {
        sqlx::query("INSERT INTO parent_children (parent_id, child_id) VALUES ($1, $2)")
            .bind(parent)
            .bind(*child)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn set_group_members(
    conn: &mut AnyConnection,
    group: &str,
    members: &[i64],
) -> Result<()> {
    sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(group.to_owned())
        .execute(&mut *conn)
        .await?;
    for member in members {
        sqlx::query("INSERT INTO group_members (group_id, account_id) VALUES ($1, $2)")
            .bind(group.to_owned())
            .bind(*member)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn set_active(conn: &mut AnyConnection, account: i64, active: bool) -> Result<()> {
    sqlx::query("UPDATE directory_users SET active = $2 WHERE account_id = $1")
        .bind(account)
        .bind(active)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Account ids of `logins`, looked up in `ids`; Err(Invalid) naming the first unknown one.
fn resolve<'a>(
    ids: &HashMap<&str, i64>,
    logins: impl IntoIterator<Item = &'a String>,
    what: impl Fn(&str) -> String,
) -> Result<Vec<i64>> {
    logins
        .into_iter()
        .map(|login| {
            ids.get(login.as_str())
                .copied()
                .ok_or_else(|| StoreError::Invalid(what(login)))
        })
        .collect()
}

/// Account ids of directory users `logins`, read through `conn`; Err(Invalid) naming the
/// first unknown one.
pub(crate) async fn resolve_in_db(
    conn: &mut AnyConnection,
    logins: &BTreeSet<String>,
    what: impl Fn(&str) -> String,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(logins.len());
    for login in logins {
        let id = directory_user_id(&mut *conn, login)
            .await?
            .ok_or_else(|| StoreError::Invalid(what(login)))?;
        ids.push(id);
    }
    Ok(ids)
}

/// Err(Invalid) when two entries of the snapshot share an id (or a login).
fn check_unique(snapshot: &Snapshot) -> Result<()> {
    fn dup<'a>(what: &str, ids: impl Iterator<Item = &'a String>) -> Result<()> {
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id) {
                return Err(StoreError::Invalid(format!(
                    "duplicate {what} {id:?} in the snapshot"
                )));
            }
        }
        Ok(())
    }
    dup("structure", snapshot.structures.iter().map(|s| &s.id))?;
    dup("class", snapshot.classes.iter().map(|c| &c.id))?;
    dup("user", snapshot.users.iter().map(|u| &u.login))?;
    dup("group", snapshot.groups.iter().map(|g| &g.id))
}

pub(crate) fn set_of(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

/// Replaces (or, with None, resets) a structure's rules, in the caller's transaction.
pub(crate) async fn write_rules(
    conn: &mut AnyConnection,
    structure: &str,
    rules: Option<&[Rule]>,
) -> Result<()> {
    if rules.is_some() && !structure_exists(&mut *conn, structure).await? {
        return Err(StoreError::NotFound);
    }
    // Deleting the set deletes its rules (cascade); a new set starts empty.
    sqlx::query("DELETE FROM rule_sets WHERE structure_id = $1")
        .bind(structure.to_owned())
        .execute(&mut *conn)
        .await?;
    let Some(rules) = rules else {
        return Ok(());
    };
    sqlx::query("INSERT INTO rule_sets (structure_id) VALUES ($1)")
        .bind(structure.to_owned())
        .execute(&mut *conn)
        .await?;
    for (position, rule) in rules.iter().enumerate() {
        let position =
            i64::try_from(position).map_err(|_| StoreError::Invalid("too many rules".into()))?;
        sqlx::query(
            "INSERT INTO rules \
                     (structure_id, position, from_profiles, to_profiles, scope, two_way) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(structure.to_owned())
        .bind(position)
        .bind(profiles_to_text(&rule.from))
        .bind(profiles_to_text(&rule.to))
        .bind(rule.scope.as_str())
        .bind(rule.two_way)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Writes a structure's access setting, in the caller's transaction. Err(NotFound) when
/// the structure does not exist.
pub(crate) async fn write_access(
    conn: &mut AnyConnection,
    structure: &str,
    access: &Access,
) -> Result<()> {
    if !structure_exists(&mut *conn, structure).await? {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO structure_access (structure_id, enabled, profiles) VALUES ($1, $2, $3) \
             ON CONFLICT (structure_id) DO UPDATE SET \
                 enabled = excluded.enabled, profiles = excluded.profiles",
    )
    .bind(structure.to_owned())
    .bind(access.enabled)
    .bind(profiles_to_text(&access.profiles))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces the import grants of `login` (his `admin_of`), in the caller's transaction.
async fn set_import_grants(
    conn: &mut AnyConnection,
    login: &str,
    structures: &BTreeSet<String>,
) -> Result<()> {
    sqlx::query("DELETE FROM admin_grants WHERE login = $1 AND source = 'import'")
        .bind(login.to_owned())
        .execute(&mut *conn)
        .await?;
    for structure in structures {
        sqlx::query(
            "INSERT INTO admin_grants (login, structure_id, source) VALUES ($1, $2, 'import')",
        )
        .bind(login.to_owned())
        .bind(structure.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rules and access: profile lists, scopes
// ---------------------------------------------------------------------------------------

/// "student,teacher" ("" for none), in the given order.
pub(crate) fn profiles_to_text(profiles: &[Profile]) -> String {
    profiles
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn profiles_from_text(text: &str) -> Result<Vec<Profile>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(parse_profile).collect()
}

pub(crate) fn parse_scope(s: &str) -> Result<Scope> {
    Scope::ALL
        .into_iter()
        .find(|scope| scope.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown rule scope {s:?}")))
}

// ---------------------------------------------------------------------------------------
// The trait on Store
// ---------------------------------------------------------------------------------------

#[async_trait::async_trait]
impl DirectoryStore for Store {
    async fn import_snapshot(
        &self,
        snapshot: &Snapshot,
        credentials: &HashMap<String, Credentials>,
    ) -> Result<ImportReport> {
        check_unique(snapshot)?;
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        let mut cur = load(&mut tx, self.backend()).await?;
        let mut report = ImportReport {
            structures: snapshot.structures.len(),
            classes: snapshot.classes.len(),
            groups: snapshot.groups.len(),
            ..ImportReport::default()
        };

        // 1. Structures, classes and the groups' own rows, where new or changed (members
        //    come once every user exists).
        for s in &snapshot.structures {
            if cur.structures.get(&s.id) != Some(&s.name) {
                upsert_structure(&mut tx, s).await?;
            }
        }
        for c in &snapshot.classes {
            let same = cur
                .classes
                .get(&c.id)
                .is_some_and(|old| old.structure == c.structure && old.name == c.name);
            if !same {
                upsert_class(&mut tx, c).await?;
            }
        }
        for g in &snapshot.groups {
            let same = cur
                .groups
                .get(&g.id)
                .is_some_and(|old| old.name == g.name && old.structure == g.structure);
            if !same {
                upsert_group_row(&mut tx, g).await?;
            }
        }

        // 2. What the snapshot no longer has, before the users' links are written (so a
        //    link to a removed class or structure is refused by its foreign key): groups,
        //    classes, then structures (refused while a class or group still refers to one).
        let keep: HashSet<&str> = snapshot.groups.iter().map(|g| g.id.as_str()).collect();
        let gone: Vec<String> = cur
            .groups
            .keys()
            .filter(|id| !keep.contains(id.as_str()))
            .cloned()
            .collect();
        for id in &gone {
            delete_group_row(&mut tx, id).await?;
            cur.groups.remove(id);
        }
        let keep: HashSet<&str> = snapshot.classes.iter().map(|c| c.id.as_str()).collect();
        let gone: Vec<String> = cur
            .classes
            .keys()
            .filter(|id| !keep.contains(id.as_str()))
            .cloned()
            .collect();
        for id in &gone {
            delete_class_row(&mut tx, id).await?;
            cur.classes.remove(id);
        }
        // Users who lose a link through these removals (cascade) have changed.
        let mut links_cut: HashSet<String> = HashSet::new();
        for (login, user) in &mut cur.users {
            let before = user.classes.len();
            user.classes.retain(|id| keep.contains(id.as_str()));
            if user.classes.len() != before {
                links_cut.insert(login.clone());
            }
        }
        let keep: HashSet<&str> = snapshot.structures.iter().map(|s| s.id.as_str()).collect();
        let gone: Vec<String> = cur
            .structures
            .keys()
            .filter(|id| !keep.contains(id.as_str()))
            .cloned()
            .collect();
        for id in &gone {
            delete_structure_row(&mut tx, id).await?;
            cur.structures.remove(id);
        }
        for (login, user) in &mut cur.users {
            let before = user.structures.len();
            user.structures.retain(|id| keep.contains(id.as_str()));
            if user.structures.len() != before {
                links_cut.insert(login.clone());
            }
        }

        // 3. Users: rows, structures, classes and credentials; then (every user existing)
        //    children. Only users of the snapshot may be children or group members.
        let mut ids: HashMap<&str, i64> = HashMap::new();
        let mut updated: HashSet<&str> = HashSet::new();
        for user in &snapshot.users {
            let login = user.login.as_str();
            let structures = set_of(&user.structures);
            let classes = set_of(&user.classes);
            let creds = credentials.get(login);
            let account = match cur.users.get(login) {
                Some(old) => {
                    let account = old.account;
                    let mut changed = links_cut.contains(login);
                    if old.last_name != user.last_name
                        || old.first_name != user.first_name
                        || old.profile != user.profile
                        || !old.active
                    {
                        upsert_user_row(&mut tx, account, user).await?;
                        changed = true;
                    }
                    if old.structures != structures {
                        set_user_structures(&mut tx, account, &structures).await?;
                        changed = true;
                    }
                    if old.classes != classes {
                        set_user_classes(&mut tx, account, &classes).await?;
                        changed = true;
                    }
                    if let Some(creds) = creds
                        && credentials_of(&mut tx, account, login).await?.as_ref() != Some(creds)
                    {
                        write_credentials(&mut tx, account, creds).await?;
                        changed = true;
                    }
                    if changed {
                        updated.insert(login);
                    }
                    account
                }
                None => {
                    let account = ensure_account(&mut tx, login).await?;
                    upsert_user_row(&mut tx, account, user).await?;
                    set_user_structures(&mut tx, account, &structures).await?;
                    set_user_classes(&mut tx, account, &classes).await?;
                    if let Some(creds) = creds {
                        write_credentials(&mut tx, account, creds).await?;
                    }
                    report.users_created += 1;
                    account
                }
            };
            ids.insert(login, account);
        }
        for user in &snapshot.users {
            let login = user.login.as_str();
            let children = set_of(&user.children);
            let old = cur.users.get(login).map(|old| &old.children);
            if old.unwrap_or(&BTreeSet::new()) == &children {
                continue;
            }
            let parent = ids.get(login).copied().ok_or_else(|| {
                StoreError::Corrupt(format!("user {login:?} vanished during the import"))
            })?;
            let child_ids = resolve(&ids, &children, |child| {
                format!("user {login:?}: child {child:?} is not a user of the snapshot")
            })?;
            set_children(&mut tx, parent, &child_ids).await?;
            if old.is_some() {
                updated.insert(login);
            }
        }
        report.users_updated = updated.len();
        for (login, old) in &cur.users {
            if old.active && !ids.contains_key(login.as_str()) {
                set_active(&mut tx, old.account, false).await?;
                report.users_deactivated += 1;
            }
        }

        // 4. Group members.
        for g in &snapshot.groups {
            let members = set_of(&g.members);
            let old = cur.groups.get(&g.id).map(|old| &old.members);
            if old.unwrap_or(&BTreeSet::new()) == &members {
                continue;
            }
            let member_ids = resolve(&ids, &members, |member| {
                format!(
                    "group {:?}: member {member:?} is not a user of the snapshot",
                    g.id
                )
            })?;
            set_group_members(&mut tx, &g.id, &member_ids).await?;
        }

        // 5. Local administrators named by the import replace the previous import's.
        sqlx::query("DELETE FROM admin_grants WHERE source = 'import'")
            .execute(&mut *tx)
            .await?;
        for user in &snapshot.users {
            for structure in set_of(&user.admin_of) {
                sqlx::query(
                    "INSERT INTO admin_grants (login, structure_id, source) VALUES ($1, $2, 'import')",
                )
                .bind(user.login.clone())
                .bind(structure)
                .execute(&mut *tx)
                .await?;
            }
        }

        tx.commit().await?;
        Ok(report)
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        let mut tx = self.begin_read().await?;
        let dir = load(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(to_snapshot(dir))
    }

    async fn directory_user_active(&self, login: &str) -> Result<Option<bool>> {
        let row = sqlx::query(
            "SELECT d.active FROM directory_users d JOIN accounts a ON a.id = d.account_id \
             WHERE a.username = $1",
        )
        .bind(login.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| get_flag(&row, "active", self.backend()))
            .transpose()
    }

    async fn inactive_users(&self) -> Result<Vec<String>> {
        let mut logins: Vec<String> = sqlx::query_scalar(
            "SELECT a.username FROM directory_users d JOIN accounts a ON a.id = d.account_id \
             WHERE d.active = $1",
        )
        .bind(false)
        .fetch_all(self.pool())
        .await?;
        logins.sort();
        Ok(logins)
    }

    async fn put_user(&self, user: &User, credentials: Option<&Credentials>) -> Result<()> {
        let login = user.login.as_str();
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        let structures = set_of(&user.structures);
        for id in &structures {
            if !structure_exists(&mut tx, id).await? {
                return Err(StoreError::Invalid(format!(
                    "user {login:?}: unknown structure {id:?}"
                )));
            }
        }
        let classes = set_of(&user.classes);
        for id in &classes {
            if !class_exists(&mut tx, id).await? {
                return Err(StoreError::Invalid(format!(
                    "user {login:?}: unknown class {id:?}"
                )));
            }
        }
        let children = set_of(&user.children);
        if children.contains(login) {
            return Err(StoreError::Invalid(format!(
                "user {login:?} cannot be their own child"
            )));
        }
        let child_ids = resolve_in_db(&mut tx, &children, |child| {
            format!("user {login:?}: child {child:?} is not a directory user")
        })
        .await?;
        let account = ensure_account(&mut tx, login).await?;
        upsert_user_row(&mut tx, account, user).await?;
        set_user_structures(&mut tx, account, &structures).await?;
        set_user_classes(&mut tx, account, &classes).await?;
        set_children(&mut tx, account, &child_ids).await?;
        if let Some(creds) = credentials {
            write_credentials(&mut tx, account, creds).await?;
        }
        set_import_grants(&mut tx, login, &set_of(&user.admin_of)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deactivate_user(&self, login: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        let account = directory_user_id(&mut tx, login)
            .await?
            .ok_or(StoreError::NotFound)?;
        set_active(&mut tx, account, false).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_structure(&self, structure: &Structure) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        upsert_structure(&mut tx, structure).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_class(&self, class: &Class) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !structure_exists(&mut tx, &class.structure).await? {
            return Err(StoreError::Invalid(format!(
                "class {:?}: unknown structure {:?}",
                class.id, class.structure
            )));
        }
        upsert_class(&mut tx, class).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_class(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !delete_class_row(&mut tx, id).await? {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn put_group(&self, group: &Group) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if let Some(structure) = &group.structure
            && !structure_exists(&mut tx, structure).await?
        {
            return Err(StoreError::Invalid(format!(
                "group {:?}: unknown structure {structure:?}",
                group.id
            )));
        }
        let member_ids = resolve_in_db(&mut tx, &set_of(&group.members), |member| {
            format!(
                "group {:?}: member {member:?} is not a directory user",
                group.id
            )
        })
        .await?;
        upsert_group_row(&mut tx, group).await?;
        set_group_members(&mut tx, &group.id, &member_ids).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_group(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !delete_group_row(&mut tx, id).await? {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rules(&self) -> Result<HashMap<String, Vec<Rule>>> {
        let mut tx = self.begin_read().await?;
        let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
        let sets: Vec<String> = sqlx::query_scalar("SELECT structure_id FROM rule_sets")
            .fetch_all(&mut *tx)
            .await?;
        for structure in sets {
            rules.insert(structure, Vec::new());
        }
        let rows = sqlx::query(
            "SELECT structure_id, from_profiles, to_profiles, scope, two_way FROM rules \
             ORDER BY structure_id, position",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        for row in &rows {
            let from: String = row.try_get("from_profiles")?;
            let to: String = row.try_get("to_profiles")?;
            let scope: String = row.try_get("scope")?;
            let rule = Rule {
                from: profiles_from_text(&from)?,
                to: profiles_from_text(&to)?,
                scope: parse_scope(&scope)?,
                two_way: get_flag(row, "two_way", self.backend())?,
            };
            rules
                .entry(row.try_get("structure_id")?)
                .or_default()
                .push(rule);
        }
        Ok(rules)
    }

    async fn set_rules(&self, structure: &str, rules: Option<&[Rule]>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        write_rules(&mut tx, structure, rules).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn access(&self, structure: &str) -> Result<Access> {
        let row =
            sqlx::query("SELECT enabled, profiles FROM structure_access WHERE structure_id = $1")
                .bind(structure.to_owned())
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else {
            return Ok(Access::default());
        };
        let profiles: String = row.try_get("profiles")?;
        Ok(Access {
            enabled: get_flag(&row, "enabled", self.backend())?,
            profiles: profiles_from_text(&profiles)?,
        })
    }

    async fn set_access(&self, structure: &str, access: &Access) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        write_access(&mut tx, structure, access).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn generation(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT value FROM directory_generation WHERE id = 1")
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::Corrupt("the directory_generation row is missing".into()))
    }
}
