//! Administrators (super-administrator only): who administers what and from where
//! (`config`, `grant`, `import`), granting local administration of structures and
//! revoking a grant; collectivité administrators are listed here too (granted in
//! `collectivites.rs`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use causerie_ent::User;
use causerie_server::changes::{Actor, Change};
use causerie_store::{AccountStore, AdminStore, CollectiviteStore, GrantSource};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiError, AppState, parse_body};

/// `GET /admin/api/admins`.
pub async fn list(
    State(server): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    caller.superadmin()?;
    let dir = server.directory().await;
    let name = |login: &str| {
        dir.user(login)
            .map(User::display_name)
            .unwrap_or_else(|| login.to_string())
    };
    let mut out = Vec::new();
    for login in &server.config().admin.super_admins {
        out.push(json!({"login": login, "name": name(login), "role": "super",
            "structures": [], "source": "config"}));
    }
    for login in server.store().super_admins().await? {
        out.push(
            json!({"login": login, "name": name(&login), "role": "super",
            "structures": [], "source": "grant"}),
        );
    }
    let mut grants: BTreeMap<(String, GrantSource), Vec<String>> = BTreeMap::new();
    for g in server.store().admin_grants().await? {
        grants
            .entry((g.login, g.source))
            .or_default()
            .push(g.structure);
    }
    for ((login, source), structures) in grants {
        out.push(
            json!({"login": login, "name": name(&login), "role": "local",
            "structures": structures, "source": source.as_str()}),
        );
    }
    let mut by_login: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (login, id) in server.store().collectivite_grants().await? {
        by_login.entry(login).or_default().push(id);
    }
    for (login, collectivites) in by_login {
        out.push(
            json!({"login": login, "name": name(&login), "role": "collectivite",
            "structures": [], "collectivites": collectivites, "source": "grant"}),
        );
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    login: String,
    structures: Vec<String>,
}

/// `POST /admin/api/admins`: grants `login` the administration of `structures`.
pub async fn grant(
    State(server): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let admin = caller.superadmin()?;
    let b: GrantBody = parse_body(&body)?;
    // Checked here to name the field at fault; the grants are then written in one
    // transaction (all or none).
    if !causerie_ent::is_valid_login(&b.login) || !server.store().account_exists(&b.login).await? {
        return Err(ApiError::invalid(
            "login",
            "Aucun compte ne porte cet identifiant.",
            "No account has this login.",
        ));
    }
    if b.structures.is_empty() {
        return Err(ApiError::invalid(
            "structures",
            "Choisissez au moins un établissement.",
            "Choose at least one structure.",
        ));
    }
    let dir = server.directory().await;
    for (i, s) in b.structures.iter().enumerate() {
        if dir.structure(s).is_none() {
            return Err(ApiError::invalid(
                &format!("structures[{i}]"),
                format!("Établissement inconnu : « {s} »."),
                format!("Unknown structure: \"{s}\"."),
            ));
        }
    }
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::Grant {
                login: b.login.clone(),
                structures: b.structures,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), login = %b.login, "admin: local administration granted");
    list(State(server), caller).await
}

/// `DELETE /admin/api/admins/{login}/structures/{id}`.
pub async fn revoke(
    State(server): State<AppState>,
    Path((login, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let admin = caller.superadmin()?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::Revoke {
                login: login.clone(),
                structure: id.clone(),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), login = %login, structure = %id, "admin: local administration revoked");
    Ok(StatusCode::NO_CONTENT)
}
