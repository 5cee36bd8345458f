//! The live view: users and sessions connected (in the caller's structures for a local
//! administrator), rooms open and messages per minute (whole server, for the
//! super-administrator only: `null` for a local administrator), uptime, the store's
//! health, and the last directory import.

use axum::Json;
use axum::extract::State;
use causerie_store::AdminStore;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiError, AppState, rfc3339_ms};

/// `GET /admin/api/live`.
pub async fn live(State(server): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.user_data()?;
    let dir = server.directory().await;
    let mut online_users = 0usize;
    let mut sessions = 0usize;
    for login in server.online_users() {
        let visible = match dir.user(&login) {
            Some(u) => caller.sees(u),
            // Accounts outside the directory belong to no structure.
            None => caller.is_super(),
        };
        if visible {
            online_users += 1;
            sessions += server.sessions_of(&login).len();
        }
    }
    let store_ok = server.store().ping().await.is_ok();
    let last_import = match server.store().last_import().await {
        Ok(Some(r)) => json!({
            "at": rfc3339_ms(r.at_ms),
            "source": r.source,
            "ok": r.ok,
            "counts": r.counts,
            "errors": r.errors,
        }),
        Ok(None) => Value::Null,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the last import");
            Value::Null
        }
    };
    let (rooms, last_minute, per_minute) = if caller.is_super() {
        let per_minute = server.stats().per_minute();
        (
            json!(server.rooms_open()),
            json!(per_minute.last().copied().unwrap_or(0)),
            json!(per_minute),
        )
    } else {
        (Value::Null, Value::Null, Value::Null)
    };
    Ok(Json(json!({
        "online_users": online_users,
        "sessions": sessions,
        "rooms": rooms,
        "messages_last_minute": last_minute,
        "messages_per_minute": per_minute,
        "uptime_s": server.stats().uptime().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
        "store": if store_ok { "ok" } else { "error" },
        "last_import": last_import,
    })))
}
