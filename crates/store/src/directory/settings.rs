//! Each structure's communication rules and access settings (tables `rule_sets`, `rules`,
//! `structure_access`), and the text forms of profile lists and rule scopes they are
//! stored in. Writing either moves the directory generation.

use std::collections::HashMap;

use causerie_ent::{Profile, Rule, Scope};
use sqlx::{AnyConnection, Row};

use super::Access;
use super::generation::bump_generation;
use super::rows::structure_exists;
use crate::{Result, Store, StoreError, get_flag};

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

pub(crate) fn parse_profile(s: &str) -> Result<Profile> {
    Profile::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown profile {s:?}")))
}

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

pub(super) async fn rules(store: &Store) -> Result<HashMap<String, Vec<Rule>>> {
    let mut tx = store.begin_read().await?;
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
            two_way: get_flag(row, "two_way", store.backend())?,
        };
        rules
            .entry(row.try_get("structure_id")?)
            .or_default()
            .push(rule);
    }
    Ok(rules)
}

pub(super) async fn set_rules(
    store: &Store,
    structure: &str,
    rules: Option<&[Rule]>,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    write_rules(&mut tx, structure, rules).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn access(store: &Store, structure: &str) -> Result<Access> {
    let row = sqlx::query("SELECT enabled, profiles FROM structure_access WHERE structure_id = $1")
        .bind(structure.to_owned())
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else {
        return Ok(Access::default());
    };
    let profiles: String = row.try_get("profiles")?;
    Ok(Access {
        enabled: get_flag(&row, "enabled", store.backend())?,
        profiles: profiles_from_text(&profiles)?,
    })
}

pub(super) async fn all_access(store: &Store) -> Result<HashMap<String, Access>> {
    let rows = sqlx::query("SELECT structure_id, enabled, profiles FROM structure_access")
        .fetch_all(store.pool())
        .await?;
    let mut all = HashMap::with_capacity(rows.len());
    for row in &rows {
        let profiles: String = row.try_get("profiles")?;
        all.insert(
            row.try_get("structure_id")?,
            Access {
                enabled: get_flag(row, "enabled", store.backend())?,
                profiles: profiles_from_text(&profiles)?,
            },
        );
    }
    Ok(all)
}

pub(super) async fn set_access(store: &Store, structure: &str, access: &Access) -> Result<()> {
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    write_access(&mut tx, structure, access).await?;
    tx.commit().await?;
    Ok(())
}
