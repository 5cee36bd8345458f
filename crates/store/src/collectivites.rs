//! Collectivités (tables of `0017_collectivites.sql`): each région, département or commune
//! with the structures it covers, its chat access, and the console's collectivité
//! administrators ([`CollectiviteStore`]).
//!
//! A collectivité and its links are directory data: written by the full import (its
//! `collectivites` list, `directory/import.rs` calls [`replace_all`]) and by the sync API
//! ([`CollectiviteStore::put_collectivite`], [`CollectiviteStore::delete_collectivite`]);
//! these and an access change move the directory generation in their transaction (the
//! servers' view reads them: `crates/server/src/services/policy.rs`). The access setting
//! is the administrators', kept by collectivité id without a foreign key, like a
//! structure's. Grants do not move the generation: the console reads them at each request.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use causerie_ent::{Collectivite, CollectiviteKind};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{NewAudit, insert_audit};
use crate::directory::generation::bump_generation;
use crate::directory::rows::structure_exists;
use crate::directory::settings::{profiles_from_text, profiles_to_text};
use crate::{Backend, Result, Store, StoreError, account_id, get_flag};
use causerie_ent::Access;

#[async_trait::async_trait]
pub trait CollectiviteStore: Send + Sync {
    /// Every collectivité, sorted by id, its structures sorted.
    async fn collectivites(&self) -> Result<Vec<Collectivite>>;
    /// Creates or replaces one collectivité and the structures it covers, with its audit
    /// row, moving the generation. Err(Invalid) naming an unknown structure, nothing
    /// changed.
    async fn put_collectivite(&self, c: &Collectivite, audit: Option<&NewAudit>) -> Result<()>;
    /// Removes one (its links go with it; its access setting and grants stay, as a
    /// structure's do). Err(NotFound) when absent.
    async fn delete_collectivite(&self, id: &str, audit: Option<&NewAudit>) -> Result<()>;
    /// The stored setting, or [`Access::default`] when there is none.
    async fn collectivite_access(&self, id: &str) -> Result<Access>;
    /// Every stored setting, by collectivité id.
    async fn all_collectivite_access(&self) -> Result<HashMap<String, Access>>;
    /// Sets a collectivité's access (Err(NotFound) when it does not exist) with its audit
    /// row (`collectivite.access`), moving the generation; returns the setting before.
    async fn set_collectivite_access_audited(
        &self,
        id: &str,
        access: &Access,
        actor: &str,
    ) -> Result<Access>;
    /// Every (login, collectivité) grant, sorted.
    async fn collectivite_grants(&self) -> Result<Vec<(String, String)>>;
    /// The collectivités `login` administers, sorted.
    async fn collectivite_grants_of(&self, login: &str) -> Result<Vec<String>>;
    /// Grants `login` (an existing account) the administration of collectivité `id` (an
    /// existing one); Err(Invalid) otherwise; Ok(false) when he had it (no audit row).
    async fn grant_collectivite_audited(&self, login: &str, id: &str, actor: &str) -> Result<bool>;
    /// Ok(false) when there was no such grant (no audit row).
    async fn revoke_collectivite_audited(&self, login: &str, id: &str, actor: &str)
    -> Result<bool>;
}

fn access_json(a: &Access) -> Value {
    json!({
        "enabled": a.enabled,
        "profiles": a.profiles.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    })
}

/// Reads every collectivité through `conn` (a transaction of the caller's, for a
/// consistent picture with the rest of the directory).
pub(crate) async fn load(conn: &mut AnyConnection) -> Result<Vec<Collectivite>> {
    let mut all: BTreeMap<String, Collectivite> = BTreeMap::new();
    for row in sqlx::query("SELECT id, name, kind FROM collectivites")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: String = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let kind = CollectiviteKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown collectivité kind {kind:?}")))?;
        all.insert(
            id.clone(),
            Collectivite {
                id,
                name: row.try_get("name")?,
                kind,
                structures: Vec::new(),
            },
        );
    }
    let mut links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in sqlx::query("SELECT collectivite_id, structure_id FROM collectivite_structures")
        .fetch_all(&mut *conn)
        .await?
    {
        links
            .entry(row.try_get("collectivite_id")?)
            .or_default()
            .insert(row.try_get("structure_id")?);
    }
    for (id, structures) in links {
        if let Some(c) = all.get_mut(&id) {
            c.structures = structures.into_iter().collect();
        }
    }
    Ok(all.into_values().collect())
}

/// Writes one collectivité and replaces its links, in the caller's transaction.
/// Err(Invalid) naming an unknown structure.
pub(crate) async fn write(conn: &mut AnyConnection, c: &Collectivite) -> Result<()> {
    let structures: BTreeSet<&String> = c.structures.iter().collect();
    for s in &structures {
        if !structure_exists(&mut *conn, s).await? {
            return Err(StoreError::Invalid(format!(
                "collectivite {:?}: unknown structure {s:?}",
                c.id
            )));
        }
    }
    sqlx::query(
        "INSERT INTO collectivites (id, name, kind) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind",
    )
    .bind(c.id.clone())
    .bind(c.name.clone())
    .bind(c.kind.as_str())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM collectivite_structures WHERE collectivite_id = $1")
        .bind(c.id.clone())
        .execute(&mut *conn)
        .await?;
    for s in structures {
        sqlx::query(
            "INSERT INTO collectivite_structures (collectivite_id, structure_id) VALUES ($1, $2)",
        )
        .bind(c.id.clone())
        .bind(s.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deletes one collectivité (its links cascade); whether it existed.
async fn delete_row(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM collectivites WHERE id = $1")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The full import's list: what differs from `stored` is written, what the list lacks is
/// removed, in the import's transaction (its structures already written). How many
/// collectivités changed.
pub(crate) async fn replace_all(
    conn: &mut AnyConnection,
    stored: &[Collectivite],
    list: &[Collectivite],
) -> Result<usize> {
    let mut changed = 0;
    for old in stored {
        if !list.iter().any(|c| c.id == old.id) {
            delete_row(&mut *conn, &old.id).await?;
            changed += 1;
        }
    }
    for c in list {
        let mut sorted = c.clone();
        sorted.structures.sort();
        sorted.structures.dedup();
        if stored.contains(&sorted) {
            continue;
        }
        write(&mut *conn, &sorted).await?;
        changed += 1;
    }
    Ok(changed)
}

async fn read_access(conn: &mut AnyConnection, backend: Backend, id: &str) -> Result<Access> {
    let row =
        sqlx::query("SELECT enabled, profiles FROM collectivite_access WHERE collectivite_id = $1")
            .bind(id.to_owned())
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

async fn exists(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM collectivites WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

#[async_trait::async_trait]
impl CollectiviteStore for Store {
    async fn collectivites(&self) -> Result<Vec<Collectivite>> {
        let mut tx = self.begin_read().await?;
        let all = load(&mut tx).await?;
        tx.commit().await?;
        Ok(all)
    }

    async fn put_collectivite(&self, c: &Collectivite, audit: Option<&NewAudit>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        write(&mut tx, c).await?;
        if let Some(a) = audit {
            insert_audit(&mut tx, a).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_collectivite(&self, id: &str, audit: Option<&NewAudit>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !delete_row(&mut tx, id).await? {
            return Err(StoreError::NotFound);
        }
        if let Some(a) = audit {
            insert_audit(&mut tx, a).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn collectivite_access(&self, id: &str) -> Result<Access> {
        let mut conn = self.pool().acquire().await?;
        read_access(&mut conn, self.backend(), id).await
    }

    async fn all_collectivite_access(&self) -> Result<HashMap<String, Access>> {
        let rows =
            sqlx::query("SELECT collectivite_id, enabled, profiles FROM collectivite_access")
                .fetch_all(self.pool())
                .await?;
        let mut all = HashMap::with_capacity(rows.len());
        for row in &rows {
            let profiles: String = row.try_get("profiles")?;
            all.insert(
                row.try_get("collectivite_id")?,
                Access {
                    enabled: get_flag(row, "enabled", self.backend())?,
                    profiles: profiles_from_text(&profiles)?,
                },
            );
        }
        Ok(all)
    }

    async fn set_collectivite_access_audited(
        &self,
        id: &str,
        access: &Access,
        actor: &str,
    ) -> Result<Access> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !exists(&mut tx, id).await? {
            return Err(StoreError::NotFound);
        }
        let before = read_access(&mut tx, self.backend(), id).await?;
        sqlx::query(
            "INSERT INTO collectivite_access (collectivite_id, enabled, profiles) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (collectivite_id) DO UPDATE SET \
                 enabled = excluded.enabled, profiles = excluded.profiles",
        )
        .bind(id.to_owned())
        .bind(access.enabled)
        .bind(profiles_to_text(&access.profiles))
        .execute(&mut *tx)
        .await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "collectivite.access".into(),
                structure: None,
                target: Some(id.into()),
                before: Some(access_json(&before)),
                after: Some(access_json(access)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn collectivite_grants(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT login, collectivite_id FROM collectivite_admin_grants")
            .fetch_all(self.pool())
            .await?;
        let mut grants = rows
            .iter()
            .map(|r| Ok((r.try_get("login")?, r.try_get("collectivite_id")?)))
            .collect::<Result<Vec<(String, String)>>>()?;
        grants.sort();
        Ok(grants)
    }

    async fn collectivite_grants_of(&self, login: &str) -> Result<Vec<String>> {
        let mut ids: Vec<String> = sqlx::query_scalar(
            "SELECT collectivite_id FROM collectivite_admin_grants WHERE login = $1",
        )
        .bind(login.to_owned())
        .fetch_all(self.pool())
        .await?;
        ids.sort();
        Ok(ids)
    }

    async fn grant_collectivite_audited(&self, login: &str, id: &str, actor: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if account_id(&mut *tx, login).await?.is_none() {
            return Err(StoreError::Invalid(format!("no account {login:?}")));
        }
        if !exists(&mut tx, id).await? {
            return Err(StoreError::Invalid(format!("no collectivite {id:?}")));
        }
        let done = sqlx::query(
            "INSERT INTO collectivite_admin_grants (login, collectivite_id) VALUES ($1, $2) \
             ON CONFLICT (login, collectivite_id) DO NOTHING",
        )
        .bind(login.to_owned())
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "admin.collectivite_grant".into(),
                structure: None,
                target: Some(login.into()),
                before: Some(json!({ "collectivite": id, "admin": false })),
                after: Some(json!({ "collectivite": id, "admin": true })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_collectivite_audited(
        &self,
        login: &str,
        id: &str,
        actor: &str,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM collectivite_admin_grants WHERE login = $1 AND collectivite_id = $2",
        )
        .bind(login.to_owned())
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "admin.collectivite_revoke".into(),
                structure: None,
                target: Some(login.into()),
                before: Some(json!({ "collectivite": id, "admin": true })),
                after: Some(json!({ "collectivite": id, "admin": false })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
