//! App passwords (table `app_passwords`): per account, a label, when and by whom it was
//! made, its last use, and its SCRAM keys for SHA-1 and SHA-256 (never the secret); each
//! structure's choice of who may have them (table `structure_app_passwords`).
//!
//! The keys are derived by the server with the account's salt and iteration count
//! (crates/server/src/app_passwords.rs says why); this module only keeps them. At most
//! [`PER_ACCOUNT`] per account. Adding and revoking write their audit row
//! (`account.app_password_added`, `account.app_password_revoked`) in the same
//! transaction; an account's deletion takes its app passwords (cascade).

use causerie_ent::app_passwords::Policy;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::insert_audit;
use crate::credentials::{Credentials, ScramCredential};
use crate::directory::rows::structure_exists;
use crate::{Backend, NewAudit, Result, Store, StoreError, account_id, get_flag, now_ms};

pub use causerie_ent::app_passwords::PER_ACCOUNT;

/// One app password as its owner and the school see it (no keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: i64,
    pub label: String,
    pub created_ms: i64,
    /// The administrator who made it; None: the user himself.
    pub created_by: Option<String>,
    pub last_used_ms: Option<i64>,
}

/// An account's keys as a login checks them ([`AppPasswordStore::login_credentials`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginCredentials {
    /// The password's keys; None for an unknown account or one without a password.
    pub password: Option<Credentials>,
    /// The app passwords' keys, by id, oldest first.
    pub app_passwords: Vec<(i64, Credentials)>,
}

#[async_trait::async_trait]
pub trait AppPasswordStore: Send + Sync {
    /// `user`'s app passwords, oldest first (none for an unknown account).
    async fn app_passwords(&self, user: &str) -> Result<Vec<AppPassword>>;
    /// The keys of `user`'s app passwords, by id, oldest first: what a login checks.
    async fn app_password_keys(&self, user: &str) -> Result<Vec<(i64, Credentials)>>;
    /// What a login of `user` checks, in one read: his password's keys
    /// (`AccountStore::credentials`) and his app passwords' ([`Self::app_password_keys`]).
    async fn login_credentials(&self, user: &str) -> Result<LoginCredentials>;
    /// Adds an app password to `user` with its audit row (actor `created_by`, or the
    /// user himself). Err(NotFound) without such account, Err(Invalid) when he already
    /// has [`PER_ACCOUNT`].
    async fn app_password_add(
        &self,
        user: &str,
        label: &str,
        keys: &Credentials,
        created_by: Option<&str>,
    ) -> Result<AppPassword>;
    /// Deletes `user`'s app password `id` with its audit row; returns it. Err(NotFound)
    /// when he has none of that id.
    async fn app_password_revoke(&self, user: &str, id: i64, actor: &str) -> Result<AppPassword>;
    /// Records a login with app password `id` (now); false when it no longer exists
    /// (revoked since the login read its keys).
    async fn app_password_used(&self, id: i64) -> Result<bool>;
    /// Whether app password `id` exists (not revoked).
    async fn app_password_exists(&self, id: i64) -> Result<bool>;
    /// A structure's own choice (None: the default).
    async fn app_password_policy(&self, structure: &str) -> Result<Option<Policy>>;
    /// Sets (None: back to the default) a structure's choice, with its audit row
    /// (`structure.app_passwords`); returns the one before. Err(NotFound) for an unknown
    /// structure.
    async fn set_app_password_policy_audited(
        &self,
        structure: &str,
        policy: Option<Policy>,
        actor: &str,
    ) -> Result<Option<Policy>>;
}

const LISTED: &str = "SELECT p.id, p.label, p.created_ms, p.created_by, p.last_used_ms \
     FROM app_passwords p JOIN accounts a ON a.id = p.account_id WHERE a.username = $1 \
     ORDER BY p.id";

fn listed(row: &AnyRow) -> Result<AppPassword> {
    Ok(AppPassword {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        created_ms: row.try_get("created_ms")?,
        created_by: row.try_get("created_by")?,
        last_used_ms: row.try_get("last_used_ms")?,
    })
}

fn policy_of(row: &AnyRow, backend: Backend) -> Result<Policy> {
    Ok(Policy {
        pupils: get_flag(row, "pupils", backend)?,
        adults: get_flag(row, "adults", backend)?,
    })
}

fn iterations(n: i64) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| StoreError::Corrupt(format!("app password iteration count {n}")))
}

#[async_trait::async_trait]
impl AppPasswordStore for Store {
    async fn app_passwords(&self, user: &str) -> Result<Vec<AppPassword>> {
        let rows = sqlx::query(LISTED)
            .bind(user.to_owned())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(listed).collect()
    }

    async fn app_password_keys(&self, user: &str) -> Result<Vec<(i64, Credentials)>> {
        // On the login's path, as the password's own keys: read on this thread from a
        // SQLite file (reader.rs).
        self.rows_by(
            "app password keys",
            "SELECT p.id, p.sha1_salt, p.sha1_iterations, p.sha1_stored_key, \
                 p.sha1_server_key, p.sha256_salt, p.sha256_iterations, \
                 p.sha256_stored_key, p.sha256_server_key \
             FROM app_passwords p JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1 ORDER BY p.id",
            user,
            |row| {
                let cred = |h: &str| -> Result<ScramCredential> {
                    Ok(ScramCredential {
                        salt: row.blob(&format!("{h}_salt"))?,
                        iterations: iterations(row.int(&format!("{h}_iterations"))?)?,
                        stored_key: row.blob(&format!("{h}_stored_key"))?,
                        server_key: row.blob(&format!("{h}_server_key"))?,
                    })
                };
                Ok((
                    row.int("id")?,
                    Credentials {
                        sha1: cred("sha1")?,
                        sha256: cred("sha256")?,
                    },
                ))
            },
        )
        .await
    }

    async fn login_credentials(&self, user: &str) -> Result<LoginCredentials> {
        // One statement where a login made two reads (the password's keys, then the app
        // passwords'): on a SQLite file each read is a transaction of its own, with the
        // WAL's read lock taken and released (`fcntl`) and the file checked (`fstat`).
        // A row per key: the password's with id 0 (app password ids start at 1), each
        // app password's SHA-1 and SHA-256 keys as rows of their own, so that every row
        // has the columns of `scram_credentials`.
        const SQL: &str = "SELECT 0 AS id, c.hash AS hash, c.salt AS salt, \
                 c.iterations AS iterations, c.stored_key AS stored_key, \
                 c.server_key AS server_key \
             FROM accounts a JOIN scram_credentials c ON c.account_id = a.id \
             WHERE a.username = $1 \
             UNION ALL SELECT p.id, 'sha1', p.sha1_salt, p.sha1_iterations, \
                 p.sha1_stored_key, p.sha1_server_key \
             FROM app_passwords p JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1 \
             UNION ALL SELECT p.id, 'sha256', p.sha256_salt, p.sha256_iterations, \
                 p.sha256_stored_key, p.sha256_server_key \
             FROM app_passwords p JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1";
        let rows = self
            .rows_by("login credentials", SQL, user, |row| {
                Ok((row.int("id")?, crate::credentials::read_credential(row)?))
            })
            .await?;
        let mut password = Vec::new();
        let mut apps: std::collections::BTreeMap<i64, Vec<_>> = Default::default();
        for (id, key) in rows {
            match id {
                0 => password.push(key),
                id => apps.entry(id).or_default().push(key),
            }
        }
        let mut app_passwords = Vec::with_capacity(apps.len());
        for (id, keys) in apps {
            let keys = crate::credentials::credentials_from(keys, user)?
                .ok_or_else(|| StoreError::Corrupt(format!("app password {id} without keys")))?;
            app_passwords.push((id, keys));
        }
        Ok(LoginCredentials {
            password: crate::credentials::credentials_from(password, user)?,
            app_passwords,
        })
    }

    async fn app_password_add(
        &self,
        user: &str,
        label: &str,
        keys: &Credentials,
        created_by: Option<&str>,
    ) -> Result<AppPassword> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords WHERE account_id = $1")
                .bind(account)
                .fetch_one(&mut *tx)
                .await?;
        if count >= PER_ACCOUNT as i64 {
            return Err(StoreError::Invalid(format!(
                "{user} already has {PER_ACCOUNT} app passwords"
            )));
        }
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO app_passwords (account_id, label, created_ms, created_by, \
                 sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key, \
                 sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(account)
        .bind(label.to_owned())
        .bind(now)
        .bind(created_by.map(str::to_owned))
        .bind(keys.sha1.salt.clone())
        .bind(i64::from(keys.sha1.iterations))
        .bind(keys.sha1.stored_key.clone())
        .bind(keys.sha1.server_key.clone())
        .bind(keys.sha256.salt.clone())
        .bind(i64::from(keys.sha256.iterations))
        .bind(keys.sha256.stored_key.clone())
        .bind(keys.sha256.server_key.clone())
        .fetch_one(&mut *tx)
        .await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: created_by.unwrap_or(user).into(),
                action: "account.app_password_added".into(),
                structure: None,
                target: Some(user.into()),
                before: None,
                after: Some(serde_json::json!({ "id": id, "label": label })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(AppPassword {
            id,
            label: label.into(),
            created_ms: now,
            created_by: created_by.map(str::to_owned),
            last_used_ms: None,
        })
    }

    async fn app_password_revoke(&self, user: &str, id: i64, actor: &str) -> Result<AppPassword> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT p.id, p.label, p.created_ms, p.created_by, p.last_used_ms \
             FROM app_passwords p JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1 AND p.id = $2",
        )
        .bind(user.to_owned())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let gone = listed(&row)?;
        sqlx::query("DELETE FROM app_passwords WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "account.app_password_revoked".into(),
                structure: None,
                target: Some(user.into()),
                before: Some(serde_json::json!({ "id": id, "label": gone.label })),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(gone)
    }

    async fn app_password_used(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE app_passwords SET last_used_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn app_password_exists(&self, id: i64) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM app_passwords WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    async fn app_password_policy(&self, structure: &str) -> Result<Option<Policy>> {
        let row = sqlx::query(
            "SELECT pupils, adults FROM structure_app_passwords WHERE structure_id = $1",
        )
        .bind(structure.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| policy_of(&r, self.backend())).transpose()
    }

    async fn set_app_password_policy_audited(
        &self,
        structure: &str,
        policy: Option<Policy>,
        actor: &str,
    ) -> Result<Option<Policy>> {
        let mut tx = self.begin_write().await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before = sqlx::query(
            "SELECT pupils, adults FROM structure_app_passwords WHERE structure_id = $1",
        )
        .bind(structure.to_owned())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| policy_of(&r, self.backend()))
        .transpose()?;
        match policy {
            None => {
                sqlx::query("DELETE FROM structure_app_passwords WHERE structure_id = $1")
                    .bind(structure.to_owned())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(p) => {
                sqlx::query(
                    "INSERT INTO structure_app_passwords (structure_id, pupils, adults) \
                     VALUES ($1, $2, $3) ON CONFLICT (structure_id) DO UPDATE SET \
                     pupils = excluded.pupils, adults = excluded.adults",
                )
                .bind(structure.to_owned())
                .bind(p.pupils)
                .bind(p.adults)
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "structure.app_passwords".into(),
                structure: Some(structure.into()),
                target: Some(structure.into()),
                before: Some(serde_json::json!(before)),
                after: Some(serde_json::json!(policy)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }
}
