//! The access export of a user's own data (GDPR article 15, docs/safety.md « Export des
//! données personnelles »): `POST /api/export` with `{"login", "password"}` answers the
//! JSON document of `causerie_server::export` as a download. The password is checked as
//! the console's login checks it (the same lockout per login and slowdown per address;
//! a locked account or a user who left the directory is refused), and the same origin
//! rule applies (a page of another site cannot ask for it). Each export is written to the
//! audit log (`user.export`, actor the user himself). An administrator gets a user's
//! export from the console (`GET /admin/api/users/{login}/export`, admin/users.rs).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use causerie_store::{AdminStore, NewAudit};
use serde::Deserialize;

use crate::admin::{ApiError, AppState, auth, parse_body};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    login: String,
    password: String,
}

/// The export as a JSON download named after the login.
pub(crate) fn download(login: &str, doc: &serde_json::Value) -> Response {
    let body = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".into());
    let mut resp = (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response();
    let name: String = login
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"causerie-{name}.json\""))
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `POST /api/export`.
pub async fn export(
    State(server): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let ip = peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| a.ip());
    auth::check_origin(&headers, server.config().listen.http_behind_tls_proxy)?;
    let b: ExportBody = parse_body(&body)?;
    let login = auth::check_user_password(&server, &b.login, &b.password, ip).await?;
    let doc = causerie_server::export::export(&server, &login).await?;
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
