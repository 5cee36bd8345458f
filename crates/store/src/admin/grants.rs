//! Who administers what: local administrators' grants (made by a super-administrator, or
//! named by the directory import) and the super-administrators stored with `causerie
//! admin add --super`. Changes are audited in their transaction.

use sqlx::Row;

use crate::audit::{NewAudit, insert_audit};
use crate::directory::rows::{set_of, structure_exists};
use crate::{Result, Store, StoreError, account_id};

/// Where a local administrator's grant comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantSource {
    /// Made by a super-administrator (console or `causerie admin grant`); kept until revoked.
    Grant,
    /// From `admin_of` in the directory import; replaced by each import.
    Import,
}

impl GrantSource {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantSource::Grant => "grant",
            GrantSource::Import => "import",
        }
    }

    fn parse(s: &str) -> Result<GrantSource> {
        match s {
            "grant" => Ok(GrantSource::Grant),
            "import" => Ok(GrantSource::Import),
            other => Err(StoreError::Corrupt(format!(
                "unknown grant source {other:?}"
            ))),
        }
    }
}

/// `login` administers `structure`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AdminGrant {
    pub login: String,
    pub structure: String,
    pub source: GrantSource,
}

fn grant_from_row(row: &sqlx::any::AnyRow) -> Result<AdminGrant> {
    let source: String = row.try_get("source")?;
    Ok(AdminGrant {
        login: row.try_get("login")?,
        structure: row.try_get("structure_id")?,
        source: GrantSource::parse(&source)?,
    })
}

pub(super) async fn admin_grants(store: &Store) -> Result<Vec<AdminGrant>> {
    let rows = sqlx::query("SELECT login, structure_id, source FROM admin_grants")
        .fetch_all(store.pool())
        .await?;
    let mut grants = rows
        .iter()
        .map(grant_from_row)
        .collect::<Result<Vec<_>>>()?;
    grants.sort();
    Ok(grants)
}

pub(super) async fn admin_grants_of(store: &Store, login: &str) -> Result<Vec<AdminGrant>> {
    let rows = sqlx::query("SELECT login, structure_id, source FROM admin_grants WHERE login = $1")
        .bind(login.to_owned())
        .fetch_all(store.pool())
        .await?;
    let mut grants = rows
        .iter()
        .map(grant_from_row)
        .collect::<Result<Vec<_>>>()?;
    grants.sort();
    Ok(grants)
}

pub(super) async fn super_admins(store: &Store) -> Result<Vec<String>> {
    let mut logins: Vec<String> = sqlx::query_scalar("SELECT login FROM admin_supers")
        .fetch_all(store.pool())
        .await?;
    logins.sort();
    Ok(logins)
}

pub(super) async fn set_super_admin_audited(
    store: &Store,
    login: &str,
    on: bool,
    actor: &str,
) -> Result<bool> {
    let mut tx = store.begin_write().await?;
    if account_id(&mut *tx, login).await?.is_none() {
        return Err(StoreError::Invalid(format!("no account {login:?}")));
    }
    let was: Option<String> = sqlx::query_scalar("SELECT login FROM admin_supers WHERE login = $1")
        .bind(login.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
    if was.is_some() == on {
        return Ok(false);
    }
    let sql = if on {
        "INSERT INTO admin_supers (login) VALUES ($1)"
    } else {
        "DELETE FROM admin_supers WHERE login = $1"
    };
    sqlx::query(sql)
        .bind(login.to_owned())
        .execute(&mut *tx)
        .await?;
    insert_audit(
        &mut tx,
        &NewAudit {
            actor: actor.into(),
            action: if on {
                "admin.super_add"
            } else {
                "admin.super_remove"
            }
            .into(),
            structure: None,
            target: Some(login.into()),
            before: Some(serde_json::json!({ "super": !on })),
            after: Some(serde_json::json!({ "super": on })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn grant_audited(
    store: &Store,
    login: &str,
    structure: &str,
    actor: &str,
) -> Result<bool> {
    Ok(grant_many_audited(store, login, &[structure.to_string()], actor).await? == 1)
}

pub(super) async fn grant_many_audited(
    store: &Store,
    login: &str,
    structures: &[String],
    actor: &str,
) -> Result<usize> {
    let mut tx = store.begin_write().await?;
    if account_id(&mut *tx, login).await?.is_none() {
        return Err(StoreError::Invalid(format!("no account {login:?}")));
    }
    let mut granted = 0;
    for structure in set_of(structures) {
        if !structure_exists(&mut tx, &structure).await? {
            return Err(StoreError::Invalid(format!("no structure {structure:?}")));
        }
        let done = sqlx::query(
            "INSERT INTO admin_grants (login, structure_id, source) VALUES ($1, $2, 'grant') \
             ON CONFLICT (login, structure_id, source) DO NOTHING",
        )
        .bind(login.to_owned())
        .bind(structure.clone())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            continue;
        }
        granted += 1;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "admin.grant".into(),
                structure: Some(structure),
                target: Some(login.into()),
                before: Some(serde_json::json!({ "admin": false })),
                after: Some(serde_json::json!({ "admin": true })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(granted)
}

pub(super) async fn revoke_audited(
    store: &Store,
    login: &str,
    structure: &str,
    actor: &str,
) -> Result<bool> {
    let mut tx = store.begin_write().await?;
    let done = sqlx::query(
        "DELETE FROM admin_grants WHERE login = $1 AND structure_id = $2 AND source = 'grant'",
    )
    .bind(login.to_owned())
    .bind(structure.to_owned())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    insert_audit(
        &mut tx,
        &NewAudit {
            actor: actor.into(),
            action: "admin.revoke".into(),
            structure: Some(structure.into()),
            target: Some(login.into()),
            before: Some(serde_json::json!({ "admin": true })),
            after: Some(serde_json::json!({ "admin": false })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
