//! A user's own app passwords, from the web client (« Mots de passe d'application »,
//! docs/web-client.md): list them, create one (the server makes the secret and answers
//! it once, with the JID and the server to type in the app), revoke one.
//!
//! Two doors to the same operations, `POST …/list`, `…/create` (`{"label"}`) and
//! `…/revoke` (`{"id"}`):
//! - `/api/app-passwords/…` with `{"login", "password"}` in the body, checked as the data
//!   export checks them (export.rs: the console's lockout per login and slowdown per
//!   address; a locked or departed account is refused);
//! - `/sso/app-passwords/…` for a browser signed in through the portal (no chat
//!   password): its session cookie (`causerie_sso`, path `/sso`, sso.rs); 404 while
//!   `[cas]` is not configured.
//!
//! Both follow the same origin rule (a page of another site cannot ask). Creating and
//! revoking go through the change layer (`Change::AddAppPassword`,
//! `Change::RevokeAppPassword`, actor the user himself: audited); revoking ends the
//! sessions logged in with it. The school creates and revokes them from the admin API
//! (admin/app_passwords.rs).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use causerie_server::app_passwords::{self, new_secret};
use causerie_server::changes::{Actor, Change};
use causerie_store::{AppPasswordStore, SsoStore};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::app_passwords::item_json;
use crate::admin::{ApiError, AppState, auth, parse_body};

/// The routes of both doors.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/app-passwords/{op}",
            post(|s, p, h, o, b| handle(s, p, h, o, b, false)),
        )
        .route(
            "/sso/app-passwords/{op}",
            post(|s, p, h, o, b| handle(s, p, h, o, b, true)),
        )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    login: Option<String>,
    password: Option<String>,
    label: Option<String>,
    id: Option<i64>,
}

fn signed_out() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "signed-out",
        "La connexion par l'ENT a pris fin.",
        "The portal sign-in has ended.",
    )
}

/// The account the request speaks for.
async fn who(
    server: &AppState,
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: &Body,
    sso: bool,
) -> Result<String, ApiError> {
    if !sso {
        let (Some(login), Some(password)) = (&body.login, &body.password) else {
            return Err(ApiError::invalid(
                "password",
                "Le mot de passe est demandé.",
                "The password is needed.",
            ));
        };
        return auth::check_user_password(server, login, password, peer).await;
    }
    if !server.config().cas.enabled() {
        return Err(ApiError::not_found());
    }
    let session = crate::portal_session::session_of(headers).ok_or_else(signed_out)?;
    let user = server
        .store()
        .sso_session(&session)
        .await?
        .ok_or_else(signed_out)?;
    if server.login_allowed(&user).await.is_err() {
        return Err(ApiError::forbidden());
    }
    Ok(user)
}

async fn handle(
    State(server): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Path(op): Path<String>,
    body: axum::body::Bytes,
    sso: bool,
) -> Result<Response, ApiError> {
    let ip = peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| {
        crate::websocket::client_address(&server, a, &headers)
    });
    auth::check_origin(&headers, server.config().listen.http_behind_tls_proxy)?;
    let b: Body = if body.is_empty() {
        Body::default()
    } else {
        parse_body(&body)?
    };
    let user = who(&server, ip, &headers, &b, sso).await?;
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let actor = Actor::User(user.clone());
    match op.as_str() {
        "list" => {
            let dir = server.directory().await;
            let allowed = app_passwords::allowed(server.store(), &dir, &user).await?;
            let items: Vec<Value> = server
                .store()
                .app_passwords(&user)
                .await?
                .iter()
                .map(item_json)
                .collect();
            Ok((
                no_store,
                Json(json!({
                    "jid": server.bare_jid(&user),
                    "server": server.config().domain,
                    "allowed": allowed,
                    "max": causerie_ent::app_passwords::PER_ACCOUNT,
                    "items": items,
                })),
            )
                .into_response())
        }
        "create" => {
            let label = b.label.unwrap_or_default();
            let (secret, keys) =
                new_secret(server.store(), &user, server.config().auth.scram_iterations).await?;
            let applied = server
                .apply(
                    &actor,
                    Change::AddAppPassword {
                        login: user.clone(),
                        label,
                        keys: Box::new(keys),
                    },
                )
                .await?;
            let made = applied.app_password.ok_or_else(ApiError::internal)?;
            tracing::info!(user = %user, id = made.id, "app password created by its user");
            let mut v = item_json(&made);
            v["secret"] = json!(secret);
            v["jid"] = json!(server.bare_jid(&user));
            v["server"] = json!(server.config().domain);
            Ok((StatusCode::CREATED, no_store, Json(v)).into_response())
        }
        "revoke" => {
            let id = b.id.ok_or_else(|| {
                ApiError::invalid("id", "Lequel supprimer ?", "Which one to revoke?")
            })?;
            server
                .apply(&actor, Change::RevokeAppPassword { login: user, id })
                .await?;
            Ok((no_store, StatusCode::NO_CONTENT).into_response())
        }
        _ => Err(ApiError::not_found()),
    }
}
