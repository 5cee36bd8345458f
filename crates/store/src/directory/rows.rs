//! The row-level reads and writes of the directory tables that every change is made of
//! (an import, a sync API call, an administrator's group change): existence checks, the
//! upserts and deletions of structures, classes, groups and users, their links, and the
//! import's administrator grants. Each takes the caller's transaction.

use std::collections::BTreeSet;

use causerie_ent::{Class, Group, Structure, User};
use sqlx::AnyConnection;

use crate::{Result, StoreError, now_ms};

pub(crate) async fn structure_exists(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM structures WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

pub(crate) async fn class_exists(conn: &mut AnyConnection, id: &str) -> Result<bool> {
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

/// The id of account `login`, created (without credentials) when missing. A plain account
/// of that login is adopted (a deployment that made its accounts before the ENT's feed),
/// except a console administrator's (a super-administrator made with `causerie admin add
/// --super`, or one a super-administrator granted a structure): the ENT's feed must not
/// set his password, make him a pupil, deactivate him at the next full import.
pub(crate) async fn ensure_account(conn: &mut AnyConnection, login: &str) -> Result<i64> {
    if let Some(id) = crate::account_id(&mut *conn, login).await? {
        if directory_user_id(&mut *conn, login).await?.is_none()
            && is_console_admin(conn, login).await?
        {
            return Err(StoreError::Invalid(format!(
                "user {login:?}: this login is a console administrator's account outside the \
                 directory; the directory cannot take it over (give the directory user another \
                 login, or revoke that administrator first)"
            )));
        }
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

/// Whether `login` is a stored super-administrator or holds a structure granted by one.
async fn is_console_admin(conn: &mut AnyConnection, login: &str) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) WHERE \
           EXISTS (SELECT 1 FROM admin_supers WHERE login = $1) \
           OR EXISTS (SELECT 1 FROM admin_grants WHERE login = $1 AND source = 'grant')",
    )
    .bind(login.to_owned())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

pub(crate) async fn upsert_structure(conn: &mut AnyConnection, s: &Structure) -> Result<()> {
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

pub(crate) async fn upsert_class(conn: &mut AnyConnection, c: &Class) -> Result<()> {
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
pub(crate) async fn delete_class_row(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM classes WHERE id = $1")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn delete_structure_row(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM structures WHERE id = $1")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts or replaces the directory row of `account` (names, profile), active.
pub(crate) async fn upsert_user_row(
    conn: &mut AnyConnection,
    account: i64,
    user: &User,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO directory_users (account_id, last_name, first_name, profile, active, functions) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (account_id) DO UPDATE SET \
             last_name = excluded.last_name, first_name = excluded.first_name, \
             profile = excluded.profile, active = excluded.active, functions = excluded.functions, \
             left_ms = NULL",
    )
    .bind(account)
    .bind(user.last_name.clone())
    .bind(user.first_name.clone())
    .bind(user.profile.as_str())
    .bind(true)
    .bind(user.functions.join(","))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn set_user_structures(
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

pub(crate) async fn set_user_classes(
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

pub(crate) async fn set_children(
    conn: &mut AnyConnection,
    parent: i64,
    children: &[i64],
) -> Result<()> {
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

/// Marks a directory user active or not; a user who leaves gets the time he left
/// (`left_ms`, kept if he had left already), one who comes back loses it.
pub(crate) async fn set_active(conn: &mut AnyConnection, account: i64, active: bool) -> Result<()> {
    let sql = if active {
        "UPDATE directory_users SET active = $2, left_ms = NULL WHERE account_id = $1"
    } else {
        "UPDATE directory_users SET active = $2, left_ms = COALESCE(left_ms, $3) \
         WHERE account_id = $1"
    };
    let mut q = sqlx::query(sql).bind(account).bind(active);
    if !active {
        q = q.bind(crate::now_ms());
    }
    q.execute(&mut *conn).await?;
    Ok(())
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

pub(crate) fn set_of(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

/// Replaces the import grants of `login` (his `admin_of`), in the caller's transaction.
pub(crate) async fn set_import_grants(
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
