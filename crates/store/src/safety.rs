//! Each structure's quiet hours and kill switch (tables `structure_quiet_hours` and
//! `structure_shutdown`). Both are read into the server's directory view, so writing
//! either moves the directory generation, with its audit row, in one transaction
//! (actions `structure.quiet_hours` and `structure.shutdown`).

use std::collections::HashMap;

use causerie_ent::{QuietHours, Shutdown, ShutdownMode};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{NewAudit, insert_audit};
use crate::directory::generation::bump_generation;
use crate::directory::rows::structure_exists;
use crate::{Result, Store, StoreError};

#[async_trait::async_trait]
pub trait SafetyStore: Send + Sync {
    /// Every structure's own quiet hours (those never set are absent: the default).
    async fn all_quiet_hours(&self) -> Result<HashMap<String, QuietHours>>;
    /// A structure's own quiet hours (None: never set).
    async fn quiet_hours(&self, structure: &str) -> Result<Option<QuietHours>>;
    /// Sets (or, with None, resets to the default) a structure's quiet hours, audited;
    /// returns what it had. Err(NotFound) when the structure does not exist.
    async fn set_quiet_hours_audited(
        &self,
        structure: &str,
        settings: Option<&QuietHours>,
        actor: &str,
    ) -> Result<Option<QuietHours>>;
    /// Every structure's kill switch that is not normal.
    async fn all_shutdowns(&self) -> Result<HashMap<String, Shutdown>>;
    /// A structure's kill switch (normal when never set).
    async fn shutdown(&self, structure: &str) -> Result<Shutdown>;
    /// Sets a structure's kill switch, audited; returns what it was. Err(NotFound) when
    /// the structure does not exist.
    async fn set_shutdown_audited(
        &self,
        structure: &str,
        shutdown: &Shutdown,
        actor: &str,
    ) -> Result<Shutdown>;
}

fn parse_quiet(text: &str) -> Result<QuietHours> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("quiet hours: {e}")))
}

fn quiet_json(q: Option<&QuietHours>) -> Value {
    q.and_then(|q| serde_json::to_value(q).ok())
        .unwrap_or(Value::Null)
}

fn shutdown_json(s: &Shutdown) -> Value {
    json!({"mode": s.mode.as_str(), "message": s.message})
}

fn read_shutdown(row: &sqlx::any::AnyRow) -> Result<Shutdown> {
    let mode: String = row.try_get("mode")?;
    Ok(Shutdown {
        mode: ShutdownMode::parse(&mode)
            .ok_or_else(|| StoreError::Corrupt(format!("kill switch mode {mode:?}")))?,
        message: row.try_get("message")?,
    })
}

async fn quiet_in(conn: &mut AnyConnection, structure: &str) -> Result<Option<QuietHours>> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT settings FROM structure_quiet_hours WHERE structure_id = $1")
            .bind(structure.to_owned())
            .fetch_optional(&mut *conn)
            .await?;
    text.as_deref().map(parse_quiet).transpose()
}

async fn shutdown_in(conn: &mut AnyConnection, structure: &str) -> Result<Shutdown> {
    let row = sqlx::query("SELECT mode, message FROM structure_shutdown WHERE structure_id = $1")
        .bind(structure.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref()
        .map(read_shutdown)
        .transpose()
        .map(Option::unwrap_or_default)
}

#[async_trait::async_trait]
impl SafetyStore for Store {
    async fn all_quiet_hours(&self) -> Result<HashMap<String, QuietHours>> {
        let rows = sqlx::query("SELECT structure_id, settings FROM structure_quiet_hours")
            .fetch_all(self.pool())
            .await?;
        let mut all = HashMap::with_capacity(rows.len());
        for row in &rows {
            let text: String = row.try_get("settings")?;
            all.insert(row.try_get("structure_id")?, parse_quiet(&text)?);
        }
        Ok(all)
    }

    async fn quiet_hours(&self, structure: &str) -> Result<Option<QuietHours>> {
        let mut conn = self.pool().acquire().await?;
        quiet_in(&mut conn, structure).await
    }

    async fn set_quiet_hours_audited(
        &self,
        structure: &str,
        settings: Option<&QuietHours>,
        actor: &str,
    ) -> Result<Option<QuietHours>> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before = quiet_in(&mut tx, structure).await?;
        sqlx::query("DELETE FROM structure_quiet_hours WHERE structure_id = $1")
            .bind(structure.to_owned())
            .execute(&mut *tx)
            .await?;
        if let Some(q) = settings {
            let text = serde_json::to_string(q)
                .map_err(|e| StoreError::Invalid(format!("quiet hours: {e}")))?;
            sqlx::query(
                "INSERT INTO structure_quiet_hours (structure_id, settings) VALUES ($1, $2)",
            )
            .bind(structure.to_owned())
            .bind(text)
            .execute(&mut *tx)
            .await?;
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "structure.quiet_hours".into(),
                structure: Some(structure.into()),
                target: Some(structure.into()),
                before: Some(quiet_json(before.as_ref())),
                after: Some(quiet_json(settings)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn all_shutdowns(&self) -> Result<HashMap<String, Shutdown>> {
        let rows = sqlx::query("SELECT structure_id, mode, message FROM structure_shutdown")
            .fetch_all(self.pool())
            .await?;
        let mut all = HashMap::with_capacity(rows.len());
        for row in &rows {
            all.insert(row.try_get("structure_id")?, read_shutdown(row)?);
        }
        Ok(all)
    }

    async fn shutdown(&self, structure: &str) -> Result<Shutdown> {
        let mut conn = self.pool().acquire().await?;
        shutdown_in(&mut conn, structure).await
    }

    async fn set_shutdown_audited(
        &self,
        structure: &str,
        shutdown: &Shutdown,
        actor: &str,
    ) -> Result<Shutdown> {
        let mut tx = self.begin_write().await?;
        bump_generation(&mut tx).await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before = shutdown_in(&mut tx, structure).await?;
        sqlx::query("DELETE FROM structure_shutdown WHERE structure_id = $1")
            .bind(structure.to_owned())
            .execute(&mut *tx)
            .await?;
        if !shutdown.is_normal() {
            sqlx::query(
                "INSERT INTO structure_shutdown (structure_id, mode, message) VALUES ($1, $2, $3)",
            )
            .bind(structure.to_owned())
            .bind(shutdown.mode.as_str())
            .bind(shutdown.message.clone())
            .execute(&mut *tx)
            .await?;
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "structure.shutdown".into(),
                structure: Some(structure.into()),
                target: Some(structure.into()),
                before: Some(shutdown_json(&before)),
                after: Some(shutdown_json(shutdown)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }
}
