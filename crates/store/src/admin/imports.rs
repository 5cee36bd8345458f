//! The record of directory imports (table `directory_imports`): each full import of the
//! CLI and each authorised call of the sync API, applied or refused, for the console's
//! live view.

use serde_json::Value;
use sqlx::Row;

use crate::{Result, Store, StoreError, get_flag, now_ms};

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

pub(super) async fn record_import(
    store: &Store,
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
    .execute(store.pool())
    .await?;
    Ok(())
}

pub(super) async fn last_import(store: &Store) -> Result<Option<ImportRecord>> {
    let Some(row) = sqlx::query(
        "SELECT id, at_ms, source, ok, counts_json, errors_json FROM directory_imports \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(store.pool())
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
        ok: get_flag(&row, "ok", store.backend())?,
        counts: serde_json::from_str(&counts)
            .map_err(|e| StoreError::Corrupt(format!("import counts: {e}")))?,
        errors: serde_json::from_str(&errors)
            .map_err(|e| StoreError::Corrupt(format!("import errors: {e}")))?,
    }))
}
