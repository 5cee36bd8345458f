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
//!
//! The trait and its delegating implementation live here; the work is split by job:
//! `grants` (local administrators' grants, stored super-administrators),
//! `console_sessions`, `failures` (failed console logins), `locks` (accounts locked
//! by an administrator), `settings` (audited access and rules changes), `groups`
//! (audited ENT group changes), `audit` (the log itself) and `imports` (the record
//! of directory imports).

mod console_sessions;
mod failures;
mod grants;
mod groups;
mod imports;
mod locks;
mod settings;

use causerie_ent::{Group, Rule};
use serde_json::Value;

pub use crate::audit::{AuditEntry, AuditQuery, NewAudit};
pub use console_sessions::AdminSession;
pub use grants::{AdminGrant, GrantSource};
pub use groups::GroupChange;
pub use imports::ImportRecord;

use crate::directory::Access;
use crate::{Result, Store};

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
    /// Deletes every session of `login` (an account that may no longer use the console:
    /// locked, or a deactivated directory user); how many there were.
    async fn delete_admin_sessions_of(&self, login: &str) -> Result<u64>;
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

// The trait on Store: each method is the function of the same name in the module of
// its job.
#[async_trait::async_trait]
impl AdminStore for Store {
    async fn admin_grants(&self) -> Result<Vec<AdminGrant>> {
        grants::admin_grants(self).await
    }

    async fn admin_grants_of(&self, login: &str) -> Result<Vec<AdminGrant>> {
        grants::admin_grants_of(self, login).await
    }

    async fn super_admins(&self) -> Result<Vec<String>> {
        grants::super_admins(self).await
    }

    async fn set_super_admin_audited(&self, login: &str, on: bool, actor: &str) -> Result<bool> {
        grants::set_super_admin_audited(self, login, on, actor).await
    }

    async fn grant_audited(&self, login: &str, structure: &str, actor: &str) -> Result<bool> {
        grants::grant_audited(self, login, structure, actor).await
    }

    async fn grant_many_audited(
        &self,
        login: &str,
        structures: &[String],
        actor: &str,
    ) -> Result<usize> {
        grants::grant_many_audited(self, login, structures, actor).await
    }

    async fn revoke_audited(&self, login: &str, structure: &str, actor: &str) -> Result<bool> {
        grants::revoke_audited(self, login, structure, actor).await
    }

    async fn create_admin_session(&self, s: &AdminSession) -> Result<()> {
        console_sessions::create_admin_session(self, s).await
    }

    async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>> {
        console_sessions::admin_session(self, token_hash).await
    }

    async fn touch_admin_session(&self, token_hash: &str, now_ms: i64) -> Result<()> {
        console_sessions::touch_admin_session(self, token_hash, now_ms).await
    }

    async fn delete_admin_session(&self, token_hash: &str) -> Result<()> {
        console_sessions::delete_admin_session(self, token_hash).await
    }

    async fn delete_admin_sessions_of(&self, login: &str) -> Result<u64> {
        console_sessions::delete_admin_sessions_of(self, login).await
    }

    async fn delete_expired_admin_sessions(&self, now_ms: i64, idle_before_ms: i64) -> Result<u64> {
        console_sessions::delete_expired_admin_sessions(self, now_ms, idle_before_ms).await
    }

    async fn record_admin_failure(
        &self,
        login: &str,
        at_ms: i64,
        forget_before_ms: i64,
    ) -> Result<()> {
        failures::record_admin_failure(self, login, at_ms, forget_before_ms).await
    }

    async fn admin_failures_since(&self, login: &str, since_ms: i64) -> Result<Vec<i64>> {
        failures::admin_failures_since(self, login, since_ms).await
    }

    async fn clear_admin_failures(&self, login: &str) -> Result<()> {
        failures::clear_admin_failures(self, login).await
    }

    async fn account_locked(&self, login: &str) -> Result<bool> {
        locks::account_locked(self, login).await
    }

    async fn locked_accounts(&self) -> Result<Vec<String>> {
        locks::locked_accounts(self).await
    }

    async fn set_locked_audited(
        &self,
        login: &str,
        locked: bool,
        actor: &str,
        structure: Option<&str>,
    ) -> Result<bool> {
        locks::set_locked_audited(self, login, locked, actor, structure).await
    }

    async fn set_access_audited(
        &self,
        structure: &str,
        access: &Access,
        actor: &str,
    ) -> Result<Access> {
        settings::set_access_audited(self, structure, access, actor).await
    }

    async fn set_rules_audited(
        &self,
        structure: &str,
        rules: Option<&[Rule]>,
        actor: &str,
    ) -> Result<()> {
        settings::set_rules_audited(self, structure, rules, actor).await
    }

    async fn change_group_audited(
        &self,
        change: &GroupChange,
        actor: &str,
    ) -> Result<(Option<Group>, Option<Group>)> {
        groups::change_group_audited(self, change, actor).await
    }

    async fn group(&self, id: &str) -> Result<Option<Group>> {
        groups::group(self, id).await
    }

    async fn audit(&self, entry: &NewAudit) -> Result<i64> {
        crate::audit::audit(self, entry).await
    }

    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        crate::audit::audit_log(self, q).await
    }

    async fn record_import(
        &self,
        source: &str,
        ok: bool,
        counts: &Value,
        errors: &[String],
    ) -> Result<()> {
        imports::record_import(self, source, ok, counts, errors).await
    }

    async fn last_import(&self) -> Result<Option<ImportRecord>> {
        imports::last_import(self).await
    }
}
