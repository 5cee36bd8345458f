//! The web client: built from `web/` by npm into `web/dist/` and embedded in
//! the binary with rust-embed (debug builds read `web/dist/` from disk, so a
//! rebuilt client shows at the next reload). `build.rs` stops the build when
//! the client was not built.
//!
//! - `/` is the client (full page, or inside a portal's floating window),
//! - `/demo-portal` a pretend ENT page that opens it as a floating window,
//! - `/admin` the admin console (a client of `/admin/api`, docs/admin-console.md),
//! - `/embed.js` the script a portal adds for that (docs/web-client.md),
//! - `/client.json` what the client needs to know: the XMPP domain and the
//!   WebSocket path,
//! - any other path a file of `web/dist/` (the hashed `/assets/…` are cached
//!   for a year; everything else is revalidated with its ETag).
//!
//! HTML pages carry a Content-Security-Policy that allows nothing but this
//! origin: even if a message's text ever reached the page as markup, no
//! script could run from it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use causerie_server::Server;
use rust_embed::RustEmbed;
use serde_json::json;

#[derive(RustEmbed)]
#[folder = "../../web/dist/"]
struct Dist;

/// GET /: the client.
pub async fn index(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

/// GET /demo-portal: the demo portal page. Its chat window goes through the portal's
/// CAS server when single sign-on is configured: that origin may be framed too.
pub async fn demo_portal(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    let cas = server
        .config()
        .cas
        .server_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    page("demo-portal.html", &headers, cas.as_deref())
}

/// GET /admin: the admin console.
pub async fn admin(headers: HeaderMap) -> Response {
    file("admin.html", &headers)
}

/// GET /client.json: the client's configuration.
pub async fn client_json(State(server): State<Arc<Server>>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Json(json!({
            "domain": server.domain(),
            "websocket": "/xmpp-websocket",
            // Where shared files are (XEP-0363): the client previews images from there only.
            "upload": server.uploads().map(|_| server.config().upload_url_base()),
            // The portal's single sign-on (CAS), where the client starts it (sso.rs).
            "sso": server.config().cas.enabled().then_some("/sso/login"),
        })),
    )
        .into_response()
}

/// Any other path: a file of the built client, or 404.
pub async fn asset(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri.path().trim_start_matches('/');
    // Pages are served at their own routes, not as `*.html` files; and no
    // path leaves `web/dist/` (debug builds read it from disk).
    if path.is_empty()
        || path.ends_with(".html")
        || path.contains('\\')
        || path.split('/').any(|seg| seg == ".." || seg == ".")
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    file(path, &headers)
}

fn file(path: &str, headers: &HeaderMap) -> Response {
    page(path, headers, None)
}

/// A file; an HTML page may also frame `frame_origin`.
fn page(path: &str, headers: &HeaderMap, frame_origin: Option<&str>) -> Response {
    let Some(f) = Dist::get(path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let etag = format!("\"{}\"", hex(&f.metadata.sha256_hash()[..16]));
    let html = path.ends_with(".html");
    let mut out = HeaderMap::new();
    let mime = if html {
        "text/html; charset=utf-8".to_string()
    } else {
        f.metadata.mimetype().to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&mime) {
        out.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if html && let Ok(v) = HeaderValue::from_str(&content_security_policy(headers, frame_origin)) {
        out.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    (out, f.data.into_owned()).into_response()
}

/// Same origin only; the WebSocket of this host too (`'self'` covers it in
/// current browsers, the explicit sources help older ones).
fn content_security_policy(headers: &HeaderMap, frame_origin: Option<&str>) -> String {
    let host = crate::request_host(headers);
    let ws = host
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    let frames = frame_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{ws}; frame-src 'self'{frames}; object-src 'none'; base-uri 'none'; \
         form-action 'self'"
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
