//! Reading the stored directory: every table in one go ([`load`], inside the caller's
//! transaction, for a consistent picture), its public view (active users only), and
//! whether a login is an active or deactivated directory user.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use causerie_ent::{Class, Group, Profile, Snapshot, Structure, User};
use sqlx::{AnyConnection, Row};

use super::settings::parse_profile;
use crate::{Backend, Result, Store, get_flag};

#[derive(Debug)]
pub(super) struct ClassRow {
    pub(super) structure: String,
    pub(super) name: String,
}

#[derive(Debug)]
pub(super) struct UserRow {
    pub(super) account: i64,
    pub(super) last_name: String,
    pub(super) first_name: String,
    pub(super) profile: Profile,
    pub(super) active: bool,
    pub(super) structures: BTreeSet<String>,
    pub(super) classes: BTreeSet<String>,
    /// Logins, inactive children included.
    pub(super) children: BTreeSet<String>,
    /// Structures he administers by the import (`admin_of`).
    pub(super) admin_of: BTreeSet<String>,
    /// His functions, in the import's order.
    pub(super) functions: Vec<String>,
}

#[derive(Debug)]
pub(super) struct GroupRow {
    pub(super) name: String,
    pub(super) structure: Option<String>,
    /// Logins, inactive members included.
    pub(super) members: BTreeSet<String>,
}

/// Everything the directory tables hold, keyed (and so sorted) by id / login.
#[derive(Debug, Default)]
pub(super) struct Directory {
    pub(super) structures: BTreeMap<String, String>,
    pub(super) classes: BTreeMap<String, ClassRow>,
    pub(super) users: BTreeMap<String, UserRow>,
    pub(super) groups: BTreeMap<String, GroupRow>,
    /// Sorted by id, each one's structures sorted.
    pub(super) collectivites: Vec<causerie_ent::Collectivite>,
}

/// Reads every directory table through `conn` (a transaction, for a consistent picture).
pub(super) async fn load(conn: &mut AnyConnection, backend: Backend) -> Result<Directory> {
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
        "SELECT d.account_id, a.username, d.last_name, d.first_name, d.profile, d.active, d.functions \
         FROM directory_users d JOIN accounts a ON a.id = d.account_id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let account: i64 = row.try_get("account_id")?;
        let login: String = row.try_get("username")?;
        let profile: String = row.try_get("profile")?;
        let functions: String = row.try_get("functions")?;
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
            functions: functions
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
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
    dir.collectivites = crate::collectivites::load(&mut *conn).await?;
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
                functions: user.functions,
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
        // None when there are none: a snapshot read back equals the one imported
        // without a list.
        collectivites: (!dir.collectivites.is_empty()).then_some(dir.collectivites),
    }
}

pub(super) async fn snapshot(store: &Store) -> Result<Snapshot> {
    let mut tx = store.begin_read().await?;
    let dir = load(&mut tx, store.backend()).await?;
    tx.commit().await?;
    Ok(to_snapshot(dir))
}

pub(super) async fn directory_user_active(store: &Store, login: &str) -> Result<Option<bool>> {
    let row = sqlx::query(
        "SELECT d.active FROM directory_users d JOIN accounts a ON a.id = d.account_id \
         WHERE a.username = $1",
    )
    .bind(login.to_owned())
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| get_flag(&row, "active", store.backend()))
        .transpose()
}

pub(super) async fn inactive_users(store: &Store) -> Result<Vec<String>> {
    let mut logins: Vec<String> = sqlx::query_scalar(
        "SELECT a.username FROM directory_users d JOIN accounts a ON a.id = d.account_id \
         WHERE d.active = $1",
    )
    .bind(false)
    .fetch_all(store.pool())
    .await?;
    logins.sort();
    Ok(logins)
}
