//! A structure's access and rules changed by an administrator: the change, the directory
//! generation and the audit row (before/after as JSON) in one transaction.

use causerie_ent::Rule;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::audit::{NewAudit, insert_audit};
use crate::directory::Access;
use crate::directory::generation::bump_generation;
use crate::directory::rows::structure_exists;
use crate::directory::settings::{parse_scope, profiles_from_text, write_access, write_rules};
use crate::{Backend, Result, Store, StoreError, get_flag};

fn access_json(a: &Access) -> Value {
    serde_json::json!({
        "enabled": a.enabled,
        "profiles": a.profiles.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    })
}

fn rules_json(rules: Option<&[Rule]>) -> Value {
    match rules {
        None => Value::Null,
        Some(r) => serde_json::to_value(r).unwrap_or(Value::Null),
    }
}

async fn read_access(
    conn: &mut AnyConnection,
    backend: Backend,
    structure: &str,
) -> Result<Access> {
    let row = sqlx::query("SELECT enabled, profiles FROM structure_access WHERE structure_id = $1")
        .bind(structure.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(Access::default());
    };
    let profiles: String = row.try_get("profiles")?;
    Ok(Access {
        enabled: get_flag(&row, "enabled", backend)?,
        profiles: profiles_from_text(&profiles)?,
    })
}

async fn read_rules(
    conn: &mut AnyConnection,
    backend: Backend,
    structure: &str,
) -> Result<Option<Vec<Rule>>> {
    let set: Option<String> =
        sqlx::query_scalar("SELECT structure_id FROM rule_sets WHERE structure_id = $1")
            .bind(structure.to_owned())
            .fetch_optional(&mut *conn)
            .await?;
    if set.is_none() {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT from_profiles, to_profiles, scope, two_way FROM rules \
         WHERE structure_id = $1 ORDER BY position",
    )
    .bind(structure.to_owned())
    .fetch_all(&mut *conn)
    .await?;
    let mut rules = Vec::with_capacity(rows.len());
    for row in &rows {
        let from: String = row.try_get("from_profiles")?;
        let to: String = row.try_get("to_profiles")?;
        let scope: String = row.try_get("scope")?;
        rules.push(Rule {
            from: profiles_from_text(&from)?,
            to: profiles_from_text(&to)?,
            scope: parse_scope(&scope)?,
            two_way: get_flag(row, "two_way", backend)?,
        });
    }
    Ok(Some(rules))
}

pub(super) async fn set_access_audited(
    store: &Store,
    structure: &str,
    access: &Access,
    actor: &str,
) -> Result<Access> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    let before = read_access(&mut tx, store.backend(), structure).await?;
    write_access(&mut tx, structure, access).await?;
    insert_audit(
        &mut tx,
        &NewAudit {
            actor: actor.into(),
            action: "structure.access".into(),
            structure: Some(structure.into()),
            target: Some(structure.into()),
            before: Some(access_json(&before)),
            after: Some(access_json(access)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(before)
}

pub(super) async fn set_rules_audited(
    store: &Store,
    structure: &str,
    rules: Option<&[Rule]>,
    actor: &str,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    if !structure_exists(&mut tx, structure).await? {
        return Err(StoreError::NotFound);
    }
    let before = read_rules(&mut tx, store.backend(), structure).await?;
    write_rules(&mut tx, structure, rules).await?;
    insert_audit(
        &mut tx,
        &NewAudit {
            actor: actor.into(),
            action: if rules.is_some() {
                "structure.rules"
            } else {
                "structure.rules_reset"
            }
            .into(),
            structure: Some(structure.into()),
            target: Some(structure.into()),
            before: Some(rules_json(before.as_deref())),
            after: Some(rules_json(rules)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
