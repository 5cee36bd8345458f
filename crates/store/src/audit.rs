//! The audit log (table `audit_log`): the row every administrative change writes in its
//! own transaction ([`insert_audit`]), a row for an action that changes nothing stored,
//! and reading the log newest first, per structure.

use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::{Result, Store, StoreError, now_ms};

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

pub(crate) async fn insert_audit(conn: &mut AnyConnection, e: &NewAudit) -> Result<i64> {
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

fn parse_json(text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("audit JSON: {e}")))
    })
    .transpose()
}

pub(crate) async fn audit(store: &Store, entry: &NewAudit) -> Result<i64> {
    let mut tx = store.begin_write().await?;
    let id = insert_audit(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) async fn audit_log(store: &Store, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
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
    let rows = query.bind(q.limit.max(0)).fetch_all(store.pool()).await?;
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
