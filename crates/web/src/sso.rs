//! Single sign-on with the portal's CAS server (CAS protocol 2.0 and 3.0, what French
//! ENTs run), for the web client: docs/portal-integration.md.
//!
//! - `GET /sso/login?next=PATH` sends the browser to the CAS server's `/login` for this
//!   service; a browser already signed into the portal comes straight back with a ticket.
//! - `GET /sso/cas?ticket=ST-…&next=PATH&state=S` checks that `S` is the one this browser
//!   was given at `/sso/login` (cookie `causerie_sso_state`: no login CSRF), validates the ticket with the CAS server
//!   (`/p3/serviceValidate`, or `/serviceValidate` for protocol 2), maps the CAS user (or
//!   the configured attribute) to a directory account, opens a browser session (cookie
//!   `causerie_sso`, HttpOnly, path `/sso`) and goes back to `PATH`. A refusal goes back
//!   with `#sso-error=CODE`, which the web client shows in the reader's language.
//! - `POST /sso/cas` (form field `logoutRequest`) is the CAS server's single log-out: the
//!   session its ticket opened ends, and with it that browser's chat sessions.
//! - `POST /sso/token` gives the signed-in browser a single-use login token for XMPP
//!   (SASL OAUTHBEARER, crates/server/src/sso.rs); never a password.
//! - `POST /sso/logout` ends the browser's session (« Se déconnecter »).
//! - `POST /sso/export` is the user's own data export (export.rs) for that session.
//!
//! Cookies and tokens are kept as their SHA-256 only (`causerie_server::sso::digest`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Extension, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use causerie_proto::cas::{self, Validation};
use causerie_server::Server;
use causerie_server::config::{Cas, Language};
use causerie_server::sso::digest;
use causerie_store::{SsoStore, StoreError};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};

use crate::https::OverTls;

use crate::portal_session::{COOKIE, cookie_of, session_of};
/// The cookie of a sign-in under way: its `state` comes back in the service URL.
const STATE_COOKIE: &str = "causerie_sso_state";
/// How long the CAS server may take to validate a ticket.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `next` path kept.
const MAX_NEXT: usize = 1024;

/// The single sign-on routes (404 while `[cas]` is not configured).
pub fn router() -> Router<Arc<Server>> {
    Router::new()
        .route("/sso/login", get(login))
        .route(
            "/sso/cas",
            get(callback)
                .post(single_logout)
                // A log-out request is a few hundred bytes.
                .layer(axum::extract::DefaultBodyLimit::max(16 * 1024)),
        )
        .route("/sso/token", post(token))
        .route("/sso/logout", post(logout))
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// GET /sso/login: to the CAS server.
async fn login(
    State(server): State<Arc<Server>>,
    tls: Option<Extension<OverTls>>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let cas = &server.config().cas;
    let Some(base) = &cas.server_url else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // The browser that comes back with the ticket must be the one that left (no login
    // CSRF: someone else's ticket in a link does not sign this browser in as him).
    let state = secret();
    let service = service(cas, &safe_next(q.next.as_deref()), &state);
    let secure = tls.is_some() || server.config().listen.http_behind_tls_proxy;
    let cookie = cookie::Cookie::build((STATE_COOKIE, state))
        .path("/sso")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::minutes(15))
        .build();
    (
        [(header::SET_COOKIE, cookie.to_string())],
        Redirect::to(&format!(
            "{}/login?service={}",
            base.trim_end_matches('/'),
            encode(&service)
        )),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    ticket: Option<String>,
    next: Option<String>,
    state: Option<String>,
}

/// GET /sso/cas: back from the CAS server with a ticket.
async fn callback(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    tls: Option<Extension<OverTls>>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let cas = &server.config().cas;
    if !cas.enabled() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let next = safe_next(q.next.as_deref());
    let refuse = |code: &str| Redirect::to(&format!("{next}#sso-error={code}")).into_response();
    let Some(ticket) = q.ticket.filter(|t| !t.is_empty() && t.len() <= 256) else {
        return refuse("cas-failed");
    };
    let state = q.state.unwrap_or_default();
    if state.is_empty() || cookie_of(&headers, STATE_COOKIE).as_deref() != Some(state.as_str()) {
        info!("a CAS ticket came back to another browser than the one sent: ignored");
        return refuse("cas-failed");
    }
    let service = service(cas, &next, &state);
    let (cas_user, attributes) = match validate(cas, &service, &ticket).await {
        Ok(Validation::Success { user, attributes }) => (user, attributes),
        Ok(Validation::Failure { code, message }) => {
            info!(code = %code, message = %message, "CAS refused a ticket");
            return refuse("cas-failed");
        }
        Err(e) => {
            warn!(error = %e, "CAS ticket validation failed");
            return refuse("cas-unreachable");
        }
    };
    let mapped = if cas.user_attribute.is_empty() {
        Some(cas_user.clone())
    } else {
        attributes.get(&cas.user_attribute).cloned()
    };
    let Some(user) = mapped
        .map(|u| u.trim().to_lowercase())
        .filter(|u| causerie_ent::is_valid_login(u))
    else {
        info!(cas_user = %cas_user, attribute = %cas.user_attribute, "CAS user without a login");
        return refuse("unknown-user");
    };
    if !server.user_exists(&user).await {
        info!(cas_user = %cas_user, user = %user, "CAS user not in the directory");
        return refuse("unknown-user");
    }
    if server.login_allowed(&user).await.is_err() {
        info!(user = %user, "portal sign-in refused: no chat access");
        return refuse("no-access");
    }
    let id = secret();
    let hours = i64::from(cas.session_hours);
    let expires = now_ms() + hours * 3_600_000;
    match server
        .store()
        .sso_open(&user, &digest(&id), &digest(&ticket), expires)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return refuse("unknown-user"),
        Err(e) => {
            warn!(error = %e, "could not open a portal session");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    info!(user = %user, "signed in through the portal (CAS)");
    let secure = tls.is_some() || server.config().listen.http_behind_tls_proxy;
    let cookie = cookie::Cookie::build((COOKIE, id))
        .path("/sso")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::hours(hours))
        .build();
    // The sign-in's state has served.
    let spent = cookie::Cookie::build((STATE_COOKIE, ""))
        .path("/sso")
        .http_only(true)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    (
        axum::response::AppendHeaders([
            (header::SET_COOKIE, cookie.to_string()),
            (header::SET_COOKIE, spent.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ]),
        Redirect::to(&next),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(rename = "logoutRequest")]
    logout_request: String,
}

/// POST /sso/cas: the CAS server's single log-out.
async fn single_logout(State(server): State<Arc<Server>>, Form(f): Form<LogoutForm>) -> Response {
    if !server.config().cas.enabled() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(ticket) = cas::logout_ticket(&f.logout_request) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let ended = match server.store().sso_close_ticket(&digest(&ticket)).await {
        Ok(ended) => ended,
        Err(e) => {
            warn!(error = %e, "single log-out failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let text = signed_out_text(server.config().language);
    for login in &ended {
        let closed = server.end_sso(&login.user, &login.session, text);
        info!(user = %login.user, sessions = closed, "single log-out from the portal");
    }
    StatusCode::OK.into_response()
}

/// POST /sso/token: a login token for the signed-in browser.
async fn token(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    let cas = &server.config().cas;
    if !cas.enabled() {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Only this site's pages ask (the cookie is SameSite=Lax already).
    if let Err(e) =
        crate::admin::auth::check_origin(&headers, server.config().listen.http_behind_tls_proxy)
    {
        return e.into_response();
    }
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let Some(session) = session_of(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            no_store,
            Json(json!({"error": "signed-out"})),
        )
            .into_response();
    };
    let user = match server.store().sso_session(&session).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return (
                StatusCode::UNAUTHORIZED,
                no_store,
                Json(json!({"error": "signed-out"})),
            )
                .into_response();
        }
        Err(e) => {
            warn!(error = %e, "could not read a portal session");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if server.login_allowed(&user).await.is_err() {
        return (
            StatusCode::FORBIDDEN,
            no_store,
            Json(json!({"error": "no-access"})),
        )
            .into_response();
    }
    let token = secret();
    let expires = now_ms() + i64::from(cas.token_secs) * 1000;
    match server
        .store()
        .sso_token_issue(&session, &digest(&token), expires)
        .await
    {
        Ok(true) => (
            no_store,
            Json(json!({"jid": server.bare_jid(&user), "token": token})),
        )
            .into_response(),
        Ok(false) => (
            StatusCode::UNAUTHORIZED,
            no_store,
            Json(json!({"error": "signed-out"})),
        )
            .into_response(),
        Err(e) => {
            warn!(error = %e, "could not issue a login token");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// POST /sso/logout: the browser signs out of the chat.
async fn logout(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if !server.config().cas.enabled() {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Err(e) =
        crate::admin::auth::check_origin(&headers, server.config().listen.http_behind_tls_proxy)
    {
        return e.into_response();
    }
    if let Some(session) = session_of(&headers) {
        match server.store().sso_close(&session).await {
            Ok(Some(user)) => {
                // Its other tabs too: every chat session this browser opened.
                let text = signed_out_text(server.config().language);
                let closed = server.end_sso(&user, &session, text);
                info!(user = %user, sessions = closed, "signed out of the chat (portal session)");
            }
            Ok(None) => {}
            Err(e) => {
                warn!(error = %e, "could not end a portal session");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }
    let gone = cookie::Cookie::build((COOKIE, ""))
        .path("/sso")
        .http_only(true)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, gone.to_string())],
    )
        .into_response()
}

/// The text a chat session ended by the portal's log-out closes with.
fn signed_out_text(lang: Language) -> &'static str {
    match lang {
        Language::En => "Signed out of the portal.",
        _ => "Déconnexion de l'ENT.",
    }
}

/// A path of this site to go back to: absolute, printable ASCII only (a browser drops a
/// tab or a newline from a URL, so `/<TAB>/evil.example` would leave the site), no
/// backslash or fragment, and still on this site once resolved.
fn safe_next(next: Option<&str>) -> String {
    const BASE: &str = "https://causerie.invalid/";
    let stays = |n: &str| {
        url::Url::parse(BASE)
            .and_then(|b| b.join(n))
            .is_ok_and(|u| u.host_str() == Some("causerie.invalid") && u.port().is_none())
    };
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic())
                && !n.contains(['\\', '#'])
                && n.len() <= MAX_NEXT
                && stays(n) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// This service's URL as the CAS server knows it, for `next`: the same at `/login` and at
/// validation, or the ticket is refused.
fn service(cas: &Cas, next: &str, state: &str) -> String {
    // Never from the request's Host: a CAS server that accepts another site's service
    // URL would otherwise hand that site tickets this server takes (config.rs requires it).
    let base = cas.service_url.as_deref().unwrap_or_default();
    format!("{base}?next={}&state={}", encode(next), encode(state))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Asks the CAS server about a ticket.
async fn validate(cas: &Cas, service: &str, ticket: &str) -> Result<Validation, String> {
    let base = cas.server_url.as_deref().unwrap_or_default();
    let path = if cas.protocol == 2 {
        "serviceValidate"
    } else {
        "p3/serviceValidate"
    };
    let url = format!(
        "{}/{path}?service={}&ticket={}",
        base.trim_end_matches('/'),
        encode(service),
        encode(ticket)
    );
    let response = client(cas)?
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    // Read at most what a CAS answer can be.
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > cas::MAX_BYTES {
            return Err("the CAS answer is too long".into());
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(body).map_err(|_| "the CAS answer is not UTF-8".to_string())?;
    cas::parse_validation(&body).map_err(|e| e.to_string())
}

/// The HTTP client for the CAS server, made once (with the configured extra CA).
fn client(cas: &Cas) -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let mut b = reqwest::Client::builder()
                .timeout(VALIDATE_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("Causerie/", env!("CARGO_PKG_VERSION")));
            if let Some(path) = &cas.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cas.ca_file {}: {e}", path.display()))?;
                for cert in reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| format!("cas.ca_file {}: {e}", path.display()))?
                {
                    b = b.add_root_certificate(cert);
                }
            }
            b.build().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A new random secret (256 bits, URL-safe).
fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    B64.encode(bytes)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_gone_back_to() {
        assert_eq!(
            safe_next(Some("/?embedded=1&portal=https%3A%2F%2Fent.test")),
            "/?embedded=1&portal=https%3A%2F%2Fent.test"
        );
        for bad in [
            None,
            Some(""),
            Some("https://evil.test/"),
            Some("//evil.test/"),
            Some("/\\evil.test"),
            Some("/#x"),
            Some("/\r\nSet-Cookie: a=b"),
            Some("/\t/evil.example"),
            Some("/ /evil.example"),
            Some("/\u{7f}/evil.example"),
            Some("/é"),
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(MAX_NEXT)))), "/");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; causerie_sso=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_of(&h), Some(digest("abc")));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "causerie_sso=".parse().unwrap());
        assert_eq!(session_of(&h), None);
    }
}
