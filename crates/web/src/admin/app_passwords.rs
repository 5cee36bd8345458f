//! App passwords from the console (docs/admin-api.md « Mots de passe d'application »): a
//! user's list, one created for him (the secret answered once, to hand to him), one
//! revoked (his sessions logged in with it end); and each structure's choice of who may
//! have them. Every change goes through the change layer, audited, as the administrator.
//! The user's own door is crates/web/src/app_passwords.rs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use causerie_ent::app_passwords::Policy;
use causerie_server::app_passwords::{allowed, new_secret};
use causerie_server::changes::{Actor, Change};
use causerie_store::{AppPassword, AppPasswordStore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiError, AppState, parse_body};

/// One app password as the web client and the console show it.
pub(crate) fn item_json(a: &AppPassword) -> Value {
    json!({
        "id": a.id,
        "label": a.label,
        "created_ms": a.created_ms,
        "created_by": a.created_by,
        "last_used_ms": a.last_used_ms,
    })
}

async fn list_of(server: &AppState, login: &str) -> Result<Value, ApiError> {
    let dir = server.directory().await;
    let items: Vec<Value> = server
        .store()
        .app_passwords(login)
        .await?
        .iter()
        .map(item_json)
        .collect();
    Ok(json!({
        "allowed": allowed(server.store(), &dir, login).await?,
        "max": causerie_ent::app_passwords::PER_ACCOUNT,
        "items": items,
    }))
}

/// `GET /admin/api/users/{login}/app-passwords`.
pub async fn list(
    State(server): State<AppState>,
    Path(login): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller
        .user(&server, &*server.directory().await, &login)
        .await?;
    Ok(Json(list_of(&server, admin.login()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    label: String,
}

/// `POST /admin/api/users/{login}/app-passwords` `{"label"}`: `201` with the secret,
/// shown once.
pub async fn create(
    State(server): State<AppState>,
    Path(login): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let admin = caller
        .user(&server, &*server.directory().await, &login)
        .await?;
    let b: CreateBody = parse_body(&body)?;
    let (secret, keys) = new_secret(
        server.store(),
        admin.login(),
        server.config().auth.scram_iterations,
    )
    .await?;
    let applied = server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::AddAppPassword {
                login: admin.login().into(),
                label: b.label,
                keys: Box::new(keys),
            },
        )
        .await?;
    let made = applied.app_password.ok_or_else(ApiError::internal)?;
    tracing::info!(actor = %admin.actor(), user = %admin.login(), id = made.id, "admin: app password created");
    let mut v = item_json(&made);
    v["secret"] = json!(secret);
    v["jid"] = json!(server.bare_jid(admin.login()));
    v["server"] = json!(server.config().domain);
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(v),
    )
        .into_response())
}

/// `DELETE /admin/api/users/{login}/app-passwords/{id}`: the list after.
pub async fn revoke(
    State(server): State<AppState>,
    Path((login, id)): Path<(String, i64)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller
        .user(&server, &*server.directory().await, &login)
        .await?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::RevokeAppPassword {
                login: admin.login().into(),
                id,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), user = %admin.login(), id, "admin: app password revoked");
    Ok(Json(list_of(&server, admin.login()).await?))
}

/// `PUT /admin/api/structures/{id}/app-passwords` `{"pupils": bool, "adults": bool}`.
pub async fn set_policy(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let policy: Policy = parse_body(&body)?;
    apply_policy(server, id, caller, Some(policy)).await
}

/// `DELETE /admin/api/structures/{id}/app-passwords`: back to the default.
pub async fn reset_policy(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    apply_policy(server, id, caller, None).await
}

async fn apply_policy(
    server: AppState,
    id: String,
    caller: Caller,
    policy: Option<Policy>,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetAppPasswords {
                structure: admin.id().into(),
                policy,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), ?policy, "admin: app passwords' policy changed");
    Ok(Json(super::structures::detail(&server, &admin).await?))
}
