//! A user's access export as a JSON download (`Content-Disposition: attachment`), for the
//! user's own request (`export.rs`) and an administrator's (`admin/users.rs`): below both,
//! so that neither imports the other.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

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
