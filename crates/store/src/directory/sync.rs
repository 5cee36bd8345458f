//! Incremental changes, one entry at a time (the ENT's sync API): put or deactivate a
//! user, put a structure, put or delete a class or a group. Each runs in its own write
//! transaction that first moves the generation and ends with the change's audit row (when
//! given), and refuses a reference to something that does not exist with nothing changed.

use causerie_ent::{Class, Group, Structure, User};

use super::generation::bump_generation;
use super::rows::{
    class_exists, delete_class_row, delete_group_row, directory_user_id, ensure_account,
    resolve_in_db, set_active, set_children, set_group_members, set_import_grants, set_of,
    set_user_classes, set_user_structures, structure_exists, upsert_class, upsert_group_row,
    upsert_structure, upsert_user_row,
};
use crate::audit::{NewAudit, insert_audit};
use crate::credentials::{Credentials, write_credentials};
use crate::{Result, Store, StoreError};

/// Writes the change's audit row, when there is one, in its transaction.
async fn audited(conn: &mut sqlx::AnyConnection, audit: Option<&NewAudit>) -> Result<()> {
    if let Some(a) = audit {
        insert_audit(conn, a).await?;
    }
    Ok(())
}

pub(super) async fn put_user(
    store: &Store,
    user: &User,
    credentials: Option<&Credentials>,
    audit: Option<&NewAudit>,
) -> Result<()> {
    let login = user.login.as_str();
    let mut tx = store.begin_write().await?;
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
    audited(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn deactivate_user(
    store: &Store,
    login: &str,
    audit: Option<&NewAudit>,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    let account = directory_user_id(&mut tx, login)
        .await?
        .ok_or(StoreError::NotFound)?;
    set_active(&mut tx, account, false).await?;
    audited(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn put_structure(
    store: &Store,
    structure: &Structure,
    audit: Option<&NewAudit>,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    upsert_structure(&mut tx, structure).await?;
    audited(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn put_class(
    store: &Store,
    class: &Class,
    audit: Option<&NewAudit>,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    if !structure_exists(&mut tx, &class.structure).await? {
        return Err(StoreError::Invalid(format!(
            "class {:?}: unknown structure {:?}",
            class.id, class.structure
        )));
    }
    upsert_class(&mut tx, class).await?;
    audited(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_class(store: &Store, id: &str, audit: Option<&NewAudit>) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    if !delete_class_row(&mut tx, id).await? {
        return Err(StoreError::NotFound);
    }
    audited(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn put_group(
    store: &Store,
    group: &Group,
    audit: Option<&NewAudit>,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
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
    audited(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_group(store: &Store, id: &str, audit: Option<&NewAudit>) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    if !delete_group_row(&mut tx, id).await? {
        return Err(StoreError::NotFound);
    }
    audited(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}
