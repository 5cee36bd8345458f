//! ENT groups changed by an administrator ([`GroupChange`]): created, renamed, a member
//! added or removed, deleted, each with the directory generation and its audit row in one
//! transaction; and one group read as stored.

use causerie_ent::Group;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::audit::{NewAudit, insert_audit};
use crate::directory::generation::bump_generation;
use crate::directory::rows::{
    delete_group_row, directory_user_id, resolve_in_db, set_group_members, set_of,
    structure_exists, upsert_group_row,
};
use crate::{Result, Store, StoreError};

/// A change to an ENT group, made by an administrator.
#[derive(Debug, Clone)]
pub enum GroupChange {
    /// Err(AlreadyExists) when the id is taken; Err(Invalid) for an unknown structure or a
    /// member who is not a directory user.
    Create(Group),
    Rename {
        id: String,
        name: String,
    },
    /// Err(Invalid) when `login` is not a directory user.
    AddMember {
        id: String,
        login: String,
    },
    /// Err(NotFound) when `login` is not a member.
    RemoveMember {
        id: String,
        login: String,
    },
    Delete {
        id: String,
    },
}

impl GroupChange {
    fn id(&self) -> &str {
        match self {
            GroupChange::Create(g) => &g.id,
            GroupChange::Rename { id, .. }
            | GroupChange::AddMember { id, .. }
            | GroupChange::RemoveMember { id, .. }
            | GroupChange::Delete { id } => id,
        }
    }

    /// The audit action's name.
    pub fn action(&self) -> &'static str {
        match self {
            GroupChange::Create(_) => "group.create",
            GroupChange::Rename { .. } => "group.rename",
            GroupChange::AddMember { .. } => "group.add_member",
            GroupChange::RemoveMember { .. } => "group.remove_member",
            GroupChange::Delete { .. } => "group.delete",
        }
    }
}

fn group_json(g: Option<&Group>) -> Option<Value> {
    g.map(|g| {
        serde_json::json!({
            "id": g.id, "name": g.name, "structure": g.structure, "members": g.members,
        })
    })
}

async fn read_group(conn: &mut AnyConnection, id: &str) -> Result<Option<Group>> {
    let Some(row) = sqlx::query("SELECT name, structure_id FROM groups WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut members: Vec<String> = sqlx::query_scalar(
        "SELECT a.username FROM group_members m JOIN accounts a ON a.id = m.account_id \
         WHERE m.group_id = $1",
    )
    .bind(id.to_owned())
    .fetch_all(&mut *conn)
    .await?;
    members.sort();
    Ok(Some(Group {
        id: id.to_owned(),
        name: row.try_get("name")?,
        structure: row.try_get("structure_id")?,
        members,
    }))
}

/// Writes a group and its members (logins of directory users).
async fn write_group(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    if let Some(structure) = &g.structure
        && !structure_exists(&mut *conn, structure).await?
    {
        return Err(StoreError::Invalid(format!(
            "group {:?}: unknown structure {structure:?}",
            g.id
        )));
    }
    let ids = resolve_in_db(&mut *conn, &set_of(&g.members), |member| {
        format!(
            "group {:?}: member {member:?} is not a directory user",
            g.id
        )
    })
    .await?;
    upsert_group_row(&mut *conn, g).await?;
    set_group_members(&mut *conn, &g.id, &ids).await
}

pub(super) async fn change_group_audited(
    store: &Store,
    change: &GroupChange,
    actor: &str,
) -> Result<(Option<Group>, Option<Group>)> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    let id = change.id();
    let before = read_group(&mut tx, id).await?;
    let after = match (change, &before) {
        (GroupChange::Create(_), Some(_)) => return Err(StoreError::AlreadyExists),
        (GroupChange::Create(g), None) => {
            write_group(&mut tx, g).await?;
            Some(g.clone())
        }
        (_, None) => return Err(StoreError::NotFound),
        (GroupChange::Rename { name, .. }, Some(old)) => {
            let g = Group {
                name: name.clone(),
                ..old.clone()
            };
            upsert_group_row(&mut tx, &g).await?;
            Some(g)
        }
        (GroupChange::AddMember { login, .. }, Some(old)) => {
            if directory_user_id(&mut tx, login).await?.is_none() {
                return Err(StoreError::Invalid(format!(
                    "{login:?} is not a directory user"
                )));
            }
            let mut g = old.clone();
            if !g.members.contains(login) {
                g.members.push(login.clone());
                g.members.sort();
            }
            write_group(&mut tx, &g).await?;
            Some(g)
        }
        (GroupChange::RemoveMember { login, .. }, Some(old)) => {
            if !old.members.contains(login) {
                return Err(StoreError::NotFound);
            }
            let mut g = old.clone();
            g.members.retain(|m| m != login);
            write_group(&mut tx, &g).await?;
            Some(g)
        }
        (GroupChange::Delete { .. }, Some(_)) => {
            delete_group_row(&mut tx, id).await?;
            None
        }
    };
    let structure = after
        .as_ref()
        .or(before.as_ref())
        .and_then(|g| g.structure.clone());
    insert_audit(
        &mut tx,
        &NewAudit {
            actor: actor.into(),
            action: change.action().into(),
            structure,
            target: Some(id.into()),
            before: group_json(before.as_ref()),
            after: group_json(after.as_ref()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((before, after))
}

pub(super) async fn group(store: &Store, id: &str) -> Result<Option<Group>> {
    let mut conn = store.pool().acquire().await?;
    read_group(&mut conn, id).await
}
