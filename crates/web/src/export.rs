//! The access export of a user's own data (GDPR article 15, docs/safety.md « Export des
//! données personnelles »): `POST /api/export` with `{"login", "password"}` answers the
//! JSON document of `causerie_server::export` as a download. The password is checked as
//! the console's login checks it (the same lockout per login and slowdown per address;
//! a locked account or a user who left the directory is refused), and the same origin
//! rule applies (a page of another site cannot ask for it). Each export is written to the
//! audit log (`user.export`, actor the user himself). An administrator gets a user's
//! export from the console (`GET /admin/api/users/{login}/export`, admin/users.rs).
//! Signed in through the portal (no chat password), the browser's portal session stands
//! for the password: `POST /sso/export` (sso.rs's cookie, path `/sso`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use causerie_store::{AdminStore, NewAudit, SsoStore};
use serde::Deserialize;

use crate::admin::{ApiError, AppState, auth, parse_body};
use crate::download::download;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    login: String,
    password: String,
}

/// `POST /api/export`.
pub async fn export(
    State(server): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let ip = peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| {
        crate::websocket::client_address(&server, a, &headers)
    });
    auth::check_origin(&headers, server.config().listen.http_behind_tls_proxy)?;
    let b: ExportBody = parse_body(&body)?;
    let login = auth::check_user_password(&server, &b.login, &b.password, ip).await?;
    answer(&server, login).await
}

/// `POST /sso/export`: the same, for the browser's portal session.
pub async fn export_portal(
    State(server): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::check_origin(&headers, server.config().listen.http_behind_tls_proxy)?;
    if !server.config().cas.enabled() {
        return Err(ApiError::not_found());
    }
    let signed_out = || {
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "signed_out",
            "Votre session de l'ENT est terminée.",
            "Your school portal session has ended.",
        )
    };
    let session = crate::portal_session::session_of(&headers).ok_or_else(signed_out)?;
    let login = server
        .store()
        .sso_session(&session)
        .await?
        .ok_or_else(signed_out)?;
    if server.login_allowed(&login).await.is_err() {
        return Err(ApiError::forbidden());
    }
    answer(&server, login).await
}

/// The export of `login`, audited, as a download.
async fn answer(server: &causerie_server::Server, login: String) -> Result<Response, ApiError> {
    let doc = causerie_server::export::export(
        server,
        &login,
        causerie_server::export::Conversations::Included,
    )
    .await?;
    server
        .store()
        .audit(&NewAudit {
            actor: login.clone(),
            action: "user.export".into(),
            structure: None,
            target: Some(login.clone()),
            before: None,
            after: None,
        })
        .await?;
    tracing::info!(user = %login, "data export");
    Ok(download(&login, &doc))
}
