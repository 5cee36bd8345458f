//! The audit log: every administrative change (who, what, when, before and after),
//! newest first, as JSON or CSV. A local administrator sees his structures' rows only.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use causerie_store::{AdminStore, AuditEntry, AuditQuery};
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiError, AppState, limit, rfc3339_ms};

async fn rows(
    server: &AppState,
    caller: &Caller,
    params: &HashMap<String, String>,
    default_limit: usize,
    max_limit: usize,
) -> Result<Vec<AuditEntry>, ApiError> {
    let dir = server.directory().await;
    let structures = match params.get("structure").filter(|s| !s.is_empty()) {
        Some(id) => Some(vec![caller.structure(&dir, id)?.id().to_string()]),
        None if caller.is_super() => None,
        None => Some(caller.structures().iter().cloned().collect()),
    };
    let before_id = match params.get("before") {
        None => None,
        Some(b) => Some(b.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                "before",
                "Un numéro de ligne du journal.",
                "An audit row id.",
            )
        })?),
    };
    let n = limit(
        params.get("limit").map(String::as_str),
        default_limit,
        max_limit,
    )?;
    Ok(server
        .store()
        .audit_log(&AuditQuery {
            structures,
            before_id,
            limit: i64::try_from(n).unwrap_or(i64::MAX),
        })
        .await?)
}

fn row_json(e: &AuditEntry) -> Value {
    json!({
        "id": e.id,
        "at": rfc3339_ms(e.at_ms),
        "actor": e.actor,
        "action": e.action,
        "structure": e.structure,
        "target": e.target,
        "before": e.before,
        "after": e.after,
    })
}

/// `GET /admin/api/audit?structure=&limit=&before=`.
pub async fn list(
    State(server): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    caller.user_data()?;
    let rows = rows(&server, &caller, &params, 100, 1000).await?;
    Ok(Json(rows.iter().map(row_json).collect()))
}

/// One CSV field (RFC 4180): quoted when needed; a field a spreadsheet would take for a
/// formula (`=`, `+`, `-`, `@`, tab, CR) is prefixed with `'`.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The CSV of audit rows, header first.
pub fn to_csv(rows: &[AuditEntry]) -> String {
    let mut out = String::from("id,at,actor,action,structure,target,before,after\r\n");
    for e in rows {
        let json_text = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
        let fields = [
            e.id.to_string(),
            rfc3339_ms(e.at_ms),
            e.actor.clone(),
            e.action.clone(),
            e.structure.clone().unwrap_or_default(),
            e.target.clone().unwrap_or_default(),
            json_text(&e.before),
            json_text(&e.after),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// `GET /admin/api/audit.csv?structure=&limit=&before=` (default: the last 10000 rows).
pub async fn csv(
    State(server): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.user_data()?;
    let rows = rows(&server, &caller, &params, 10_000, 100_000).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"causerie-audit.csv\"",
            ),
        ],
        to_csv(&rows),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
    }
}
