//! Collectivités in the admin console: the caller's collectivités (every one for the
//! super-administrator, those granted for a collectivité administrator), one with the
//! structures it covers and each one's own and effective access, its chat access (which
//! narrows every structure it covers), and — super-administrator only — who administers
//! it (grant, revoke). Nothing here shows a user of those structures.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use causerie_ent::{Collectivite, Directory, User};
use causerie_server::changes::{Actor, Change};
use causerie_store::{AccountStore, CollectiviteStore, DirectoryStore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Caller, CollectiviteAdmin};
use super::structures::{access_json, parse_access};
use super::{ApiError, AppState, parse_body};

/// A collectivité with its access and its structures' (`COLLECTIVITE` in
/// docs/admin-api.md).
async fn collectivite_json(
    server: &AppState,
    dir: &Directory,
    c: &Collectivite,
) -> Result<Value, ApiError> {
    let view = server.view().await;
    let own = view.collectivite_access(&c.id).cloned().unwrap_or_default();
    let mut structures = Vec::new();
    for id in &c.structures {
        let Some(s) = dir.structure(id) else { continue };
        let a = server.store().access(id).await?;
        let effective = view.effective_access(id).cloned().unwrap_or_default();
        let mut j = json!({"id": s.id, "name": s.name});
        j["access"] = access_json(&a);
        j["effective"] = access_json(&effective);
        structures.push(j);
    }
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "kind": c.kind.as_str(),
        "structures": structures,
    });
    v["access"] = access_json(&own);
    Ok(v)
}

async fn detail(server: &AppState, admin: &CollectiviteAdmin) -> Result<Value, ApiError> {
    let dir = server.directory().await;
    let c = dir
        .collectivite(admin.id())
        .ok_or_else(ApiError::not_found)?;
    collectivite_json(server, &dir, c).await
}

/// `GET /admin/api/collectivites`.
pub async fn list(
    State(server): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let dir = server.directory().await;
    let mut out = Vec::new();
    for id in caller.collectivites() {
        if let Some(c) = dir.collectivite(id) {
            out.push(collectivite_json(&server, &dir, c).await?);
        }
    }
    Ok(Json(out))
}

/// `GET /admin/api/collectivites/{id}`.
pub async fn show(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.collectivite(&*server.directory().await, &id)?;
    Ok(Json(detail(&server, &admin).await?))
}

/// `PUT /admin/api/collectivites/{id}/access`.
pub async fn set_access(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.collectivite(&*server.directory().await, &id)?;
    let access = parse_access(&body)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetCollectiviteAccess {
                collectivite: admin.id().into(),
                access,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), collectivite = %admin.id(), "admin: collectivite chat access changed");
    Ok(Json(detail(&server, &admin).await?))
}

/// `GET /admin/api/collectivites/{id}/admins` (super-administrator): who administers it.
pub async fn admins(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    caller.superadmin()?;
    let dir = server.directory().await;
    let admin = caller.collectivite(&dir, &id)?;
    let name = |login: &str| {
        dir.user(login)
            .map(User::display_name)
            .unwrap_or_else(|| login.to_string())
    };
    Ok(Json(
        server
            .store()
            .collectivite_grants()
            .await?
            .into_iter()
            .filter(|(_, c)| c == admin.id())
            .map(|(login, _)| json!({"login": login, "name": name(&login)}))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    login: String,
}

/// `POST /admin/api/collectivites/{id}/admins` (super-administrator): `login` becomes an
/// administrator of the collectivité.
pub async fn grant(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let admin = caller.superadmin()?;
    caller.collectivite(&*server.directory().await, &id)?;
    let b: GrantBody = parse_body(&body)?;
    if !causerie_ent::is_valid_login(&b.login) || !server.store().account_exists(&b.login).await? {
        return Err(ApiError::invalid(
            "login",
            "Aucun compte ne porte cet identifiant.",
            "No account has this login.",
        ));
    }
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::GrantCollectivite {
                login: b.login.clone(),
                collectivite: id.clone(),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), login = %b.login, collectivite = %id, "admin: collectivite administration granted");
    admins(State(server), Path(id), caller).await
}

/// `DELETE /admin/api/collectivites/{id}/admins/{login}` (super-administrator).
pub async fn revoke(
    State(server): State<AppState>,
    Path((id, login)): Path<(String, String)>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let admin = caller.superadmin()?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::RevokeCollectivite {
                login: login.clone(),
                collectivite: id.clone(),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), login = %login, collectivite = %id, "admin: collectivite administration revoked");
    Ok(StatusCode::NO_CONTENT)
}
