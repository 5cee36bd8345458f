//! Administration (tables of `0004_admin.sql`): who administers what (grants to local
//! administrators, stored super-administrators), the console's sessions and failed logins,
//! accounts locked by an administrator, the audit log, and the record of directory imports.
//!
//! Every administrative change goes through an `…_audited` method that writes the change
//! and its audit row in ONE transaction: nothing is half-applied, and nothing changes
//! without its row. Changes to the directory, its rules or access also increment the
//! directory generation (see [`crate::directory`]) in that transaction, so servers apply
//! them from their next check on.
//!
//! JSON columns (audit before/after, import counts and errors) hold `serde_json` text.

use causerie_ent::{Group, Rule};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::directory::{
    Access, bump_generation, delete_group_row, directory_user_id, parse_scope, profiles_from_text,
    resolve_in_db, set_group_members, set_of, structure_exists, upsert_group_row, write_access,
    write_rules,
};
use crate::{Backend, Result, Store, StoreError, account_id, get_flag, now_ms};

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

/// A console session. The cookie's token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// Hex SHA-256 of the session token.
    pub token_hash: String,
    pub login: String,
    /// The token the console must echo in `X-CSRF-Token`.
    pub csrf: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    /// Absolute end of the session.
    pub expires_ms: i64,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub structure: Option<String>,
    pub target: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An audit row to write (its id and time are given by the store).
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    pub actor: String,
    pub action: String,
    pub structure: Option<String>,
    pub target: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which audit rows to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only rows of these structures (None: every row, those without structure too).
    pub structures: Option<Vec<String>>,
    /// Only rows older than this id (paging).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// A directory import (full, from the CLI; or a change through the sync API).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRecord {
    pub id: i64,
    pub at_ms: i64,
    /// `cli` or `api`.
    pub source: String,
    pub ok: bool,
    /// What was imported (`{"users_created": 3, …}`).
    pub counts: Value,
    pub errors: Vec<String>,
}

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

#[async_trait::async_trait]
pub trait AdminStore: Send + Sync {
    /// Every grant, sorted by login, structure, source.
    async fn admin_grants(&self) -> Result<Vec<AdminGrant>>;
    /// The grants of one login, sorted.
    async fn admin_grants_of(&self, login: &str) -> Result<Vec<AdminGrant>>;
    /// Super-administrators stored with `causerie admin add --super`, sorted.
    async fn super_admins(&self) -> Result<Vec<String>>;
    /// Makes `login` (an existing account, else Err(Invalid)) a stored super-administrator,
    /// or not; Ok(false) when nothing changed (then no audit row).
    async fn set_super_admin_audited(&self, login: &str, on: bool, actor: &str) -> Result<bool>;
    /// Grants `login` (an existing account) the administration of `structure` (an existing
    /// structure); Err(Invalid) otherwise. Ok(false) when he already had this grant.
    async fn grant_audited(&self, login: &str, structure: &str, actor: &str) -> Result<bool>;
    /// Grants `login` several structures at once, in one transaction (all or none: an
    /// unknown structure or login is Err(Invalid) with nothing written); the number of
    /// grants that are new (one audit row each).
    async fn grant_many_audited(
        &self,
        login: &str,
        structures: &[String],
        actor: &str,
    ) -> Result<usize>;
    /// Removes a super-administrator's grant (not an import's); Ok(false) when there was none.
    async fn revoke_audited(&self, login: &str, structure: &str, actor: &str) -> Result<bool>;

    async fn create_admin_session(&self, session: &AdminSession) -> Result<()>;
    async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>>;
    async fn touch_admin_session(&self, token_hash: &str, now_ms: i64) -> Result<()>;
    async fn delete_admin_session(&self, token_hash: &str) -> Result<()>;
    /// Deletes sessions past their absolute end or idle since before `idle_before_ms`.
    async fn delete_expired_admin_sessions(&self, now_ms: i64, idle_before_ms: i64) -> Result<u64>;

    /// Records a failed console login, and forgets failures older than `forget_before_ms`.
    async fn record_admin_failure(
        &self,
        login: &str,
        at_ms: i64,
        forget_before_ms: i64,
    ) -> Result<()>;
    /// Times of the failed logins of `login` since `since_ms`, newest first.
    async fn admin_failures_since(&self, login: &str, since_ms: i64) -> Result<Vec<i64>>;
    async fn clear_admin_failures(&self, login: &str) -> Result<()>;

    /// Whether an administrator locked the account (false for an unknown account).
    async fn account_locked(&self, login: &str) -> Result<bool>;
    /// Locked accounts, sorted.
    async fn locked_accounts(&self) -> Result<Vec<String>>;
    /// Locks or unlocks an account (Err(NotFound) when it does not exist) with its audit
    /// row (`user.lock` / `user.unlock`, before/after `{"locked": bool}`); Ok(false) when
    /// it already was so (no row then). A change bumps the directory generation: servers
    /// keep the locked accounts in memory with the directory.
    async fn set_locked_audited(
        &self,
        login: &str,
        locked: bool,
        actor: &str,
        structure: Option<&str>,
    ) -> Result<bool>;

    /// Sets a structure's access (Err(NotFound) when it does not exist) with its audit row
    /// (`structure.access`); returns the setting before.
    async fn set_access_audited(
        &self,
        structure: &str,
        access: &Access,
        actor: &str,
    ) -> Result<Access>;
    /// Replaces (None: resets to the defaults) a structure's rules (Err(NotFound) when it
    /// does not exist) with its audit row (`structure.rules` / `structure.rules_reset`);
    /// before/after are the stored rules (null: the defaults).
    async fn set_rules_audited(
        &self,
        structure: &str,
        rules: Option<&[Rule]>,
        actor: &str,
    ) -> Result<()>;
    /// Applies a group change (Err(NotFound) when the group does not exist, except to
    /// create it) with its audit row; returns the group before and after (members:
    /// directory users, inactive ones included, sorted).
    async fn change_group_audited(
        &self,
        change: &GroupChange,
        actor: &str,
    ) -> Result<(Option<Group>, Option<Group>)>;
    /// A group as stored (members sorted, inactive ones included).
    async fn group(&self, id: &str) -> Result<Option<Group>>;

    /// Writes an audit row for an action that changes nothing stored (a disconnection).
    async fn audit(&self, entry: &NewAudit) -> Result<i64>;
    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    /// Records a directory import and its outcome.
    async fn record_import(
        &self,
        source: &str,
        ok: bool,
        counts: &Value,
        errors: &[String],
    ) -> Result<()>;
    async fn last_import(&self) -> Result<Option<ImportRecord>>;
}

// ---------------------------------------------------------------------------------------
// Helpers, all through the caller's transaction
// ---------------------------------------------------------------------------------------

async fn insert_audit(conn: &mut AnyConnection, e: &NewAudit) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit_log \
             (at_ms, actor, action, structure_id, target, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(now_ms())
    .bind(e.actor.clone())
    .bind(e.action.clone())
    .bind(e.structure.clone())
    .bind(e.target.clone())
    .bind(e.before.as_ref().map(Value::to_string))
    .bind(e.after.as_ref().map(Value::to_string))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

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

fn group_json(g: Option<&Group>) -> Option<Value> {
    g.map(|g| {
        serde_json::json!({
            "id": g.id, "name": g.name, "structure": g.structure, "members": g.members,
        })
    })
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

fn grant_from_row(row: &sqlx::any::AnyRow) -> Result<AdminGrant> {
    let source: String = row.try_get("source")?;
    Ok(AdminGrant {
        login: row.try_get("login")?,
        structure: row.try_get("structure_id")?,
        source: GrantSource::parse(&source)?,
    })
}

fn session_from_row(row: &sqlx::any::AnyRow) -> Result<AdminSession> {
    Ok(AdminSession {
        token_hash: row.try_get("token_hash")?,
        login: row.try_get("login")?,
        csrf: row.try_get("csrf")?,
        created_ms: row.try_get("created_ms")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
        expires_ms: row.try_get("expires_ms")?,
    })
}

fn parse_json(text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("audit JSON: {e}")))
    })
    .transpose()
}

#[async_trait::async_trait]
impl AdminStore for Store {
    async fn admin_grants(&self) -> Result<Vec<AdminGrant>> {
        let rows = sqlx::query("SELECT login, structure_id, source FROM admin_grants")
            .fetch_all(self.pool())
            .await?;
        let mut grants = rows
            .iter()
            .map(grant_from_row)
            .collect::<Result<Vec<_>>>()?;
        grants.sort();
        Ok(grants)
    }

    async fn admin_grants_of(&self, login: &str) -> Result<Vec<AdminGrant>> {
        let rows =
            sqlx::query("SELECT login, structure_id, source FROM admin_grants WHERE login = $1")
                .bind(login.to_owned())
                .fetch_all(self.pool())
                .await?;
        let mut grants = rows
            .iter()
            .map(grant_from_row)
            .collect::<Result<Vec<_>>>()?;
        grants.sort();
        Ok(grants)
    }

    async fn super_admins(&self) -> Result<Vec<String>> {
        let mut logins: Vec<String> = sqlx::query_scalar("SELECT login FROM admin_supers")
            .fetch_all(self.pool())
            .await?;
        logins.sort();
        Ok(logins)
    }

    async fn set_super_admin_audited(&self, login: &str, on: bool, actor: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if account_id(&mut *tx, login).await?.is_none() {
            return Err(StoreError::Invalid(format!("no account {login:?}")));
        }
        let was: Option<String> =
            sqlx::query_scalar("SELECT login FROM admin_supers WHERE login = $1")
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

    async fn grant_audited(&self, login: &str, structure: &str, actor: &str) -> Result<bool> {
        Ok(self
            .grant_many_audited(login, &[structure.to_string()], actor)
            .await?
            == 1)
    }

    async fn grant_many_audited(
        &self,
        login: &str,
        structures: &[String],
        actor: &str,
    ) -> Result<usize> {
        let mut tx = self.begin_write().await?;
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

    async fn revoke_audited(&self, login: &str, structure: &str, actor: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
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

    async fn create_admin_session(&self, s: &AdminSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO admin_sessions \
                 (token_hash, login, csrf, created_ms, last_seen_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.token_hash.clone())
        .bind(s.login.clone())
        .bind(s.csrf.clone())
        .bind(s.created_ms)
        .bind(s.last_seen_ms)
        .bind(s.expires_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>> {
        let row = sqlx::query(
            "SELECT token_hash, login, csrf, created_ms, last_seen_ms, expires_ms \
             FROM admin_sessions WHERE token_hash = $1",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_admin_session(&self, token_hash: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE admin_sessions SET last_seen_ms = $2 WHERE token_hash = $1")
            .bind(token_hash.to_owned())
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn delete_admin_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
            .bind(token_hash.to_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn delete_expired_admin_sessions(&self, now_ms: i64, idle_before_ms: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM admin_sessions WHERE expires_ms <= $1 OR last_seen_ms < $2")
                .bind(now_ms)
                .bind(idle_before_ms)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected())
    }

    async fn record_admin_failure(
        &self,
        login: &str,
        at_ms: i64,
        forget_before_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM admin_login_failures WHERE at_ms < $1")
            .bind(forget_before_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO admin_login_failures (login, at_ms) VALUES ($1, $2)")
            .bind(login.to_owned())
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn admin_failures_since(&self, login: &str, since_ms: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT at_ms FROM admin_login_failures WHERE login = $1 AND at_ms >= $2 \
             ORDER BY at_ms DESC",
        )
        .bind(login.to_owned())
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?)
    }

    async fn clear_admin_failures(&self, login: &str) -> Result<()> {
        sqlx::query("DELETE FROM admin_login_failures WHERE login = $1")
            .bind(login.to_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn account_locked(&self, login: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT l.account_id FROM account_locks l JOIN accounts a ON a.id = l.account_id \
             WHERE a.username = $1",
        )
        .bind(login.to_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    async fn locked_accounts(&self) -> Result<Vec<String>> {
        let mut logins: Vec<String> = sqlx::query_scalar(
            "SELECT a.username FROM account_locks l JOIN accounts a ON a.id = l.account_id",
        )
        .fetch_all(self.pool())
        .await?;
        logins.sort();
        Ok(logins)
    }

    async fn set_locked_audited(
        &self,
        login: &str,
        locked: bool,
        actor: &str,
        structure: Option<&str>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, login)
            .await?
            .ok_or(StoreError::NotFound)?;
        let was: Option<i64> =
            sqlx::query_scalar("SELECT account_id FROM account_locks WHERE account_id = $1")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await?;
        if was.is_some() == locked {
            return Ok(false);
        }
        // Servers keep the locked accounts in memory with the directory, reloaded when
        // its generation moves.
        bump_generation(&mut tx).await?;
        if locked {
            sqlx::query("INSERT INTO account_locks (account_id, at_ms, actor) VALUES ($1, $2, $3)")
                .bind(account)
                .bind(now_ms())
                .bind(actor.to_owned())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("DELETE FROM account_locks WHERE account_id = $1")
                .bind(account)
                .execute(&mut *tx)
                .await?;
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: if locked { "user.lock" } else { "user.unlock" }.into(),
                structure: structure.map(Into::into),
                target: Some(login.into()),
                before: Some(serde_json::json!({ "locked": !locked })),
                after: Some(serde_json::json!({ "locked": locked })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_access_audited(
        &self,
        structure: &str,
        access: &Access,
        actor: &str,
    ) -> Result<Access> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        let before = read_access(&mut tx, self.backend(), structure).await?;
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

    async fn set_rules_audited(
        &self,
        structure: &str,
        rules: Option<&[Rule]>,
        actor: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before = read_rules(&mut tx, self.backend(), structure).await?;
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

    async fn change_group_audited(
        &self,
        change: &GroupChange,
        actor: &str,
    ) -> Result<(Option<Group>, Option<Group>)> {
        let mut tx = self.begin_write().await?;
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

    async fn group(&self, id: &str) -> Result<Option<Group>> {
        let mut conn = self.pool().acquire().await?;
        read_group(&mut conn, id).await
    }

    async fn audit(&self, entry: &NewAudit) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id = insert_audit(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from(
            "SELECT id, at_ms, actor, action, structure_id, target, before_json, after_json \
             FROM audit_log WHERE id < $1",
        );
        let mut n = 2;
        if let Some(structures) = &q.structures {
            if structures.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = (0..structures.len())
                .map(|i| format!("${}", n + i))
                .collect();
            n += structures.len();
            sql.push_str(&format!(" AND structure_id IN ({})", marks.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${n}"));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(q.before_id.unwrap_or(i64::MAX));
        if let Some(structures) = &q.structures {
            for s in structures {
                query = query.bind(s.clone());
            }
        }
        let rows = query.bind(q.limit.max(0)).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at_ms: row.try_get("at_ms")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    structure: row.try_get("structure_id")?,
                    target: row.try_get("target")?,
                    before: parse_json(row.try_get("before_json")?)?,
                    after: parse_json(row.try_get("after_json")?)?,
                })
            })
            .collect()
    }

    async fn record_import(
        &self,
        source: &str,
        ok: bool,
        counts: &Value,
        errors: &[String],
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO directory_imports (at_ms, source, ok, counts_json, errors_json) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(now_ms())
        .bind(source.to_owned())
        .bind(ok)
        .bind(counts.to_string())
        .bind(serde_json::to_string(errors).unwrap_or_else(|_| "[]".into()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn last_import(&self) -> Result<Option<ImportRecord>> {
        let Some(row) = sqlx::query(
            "SELECT id, at_ms, source, ok, counts_json, errors_json FROM directory_imports \
             ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let counts: String = row.try_get("counts_json")?;
        let errors: String = row.try_get("errors_json")?;
        Ok(Some(ImportRecord {
            id: row.try_get("id")?,
            at_ms: row.try_get("at_ms")?,
            source: row.try_get("source")?,
            ok: get_flag(&row, "ok", self.backend())?,
            counts: serde_json::from_str(&counts)
                .map_err(|e| StoreError::Corrupt(format!("import counts: {e}")))?,
            errors: serde_json::from_str(&errors)
                .map_err(|e| StoreError::Corrupt(format!("import errors: {e}")))?,
        }))
    }
}
