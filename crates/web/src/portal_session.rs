//! The portal's single sign-on session as a request carries it: the browser's cookie
//! (`causerie_sso`, path `/sso`, set by sso.rs) and its digest, the only form the store
//! knows. Lowest of the crate's single sign-on files: sso.rs, export.rs and
//! app_passwords.rs read it.

use axum::http::{HeaderMap, header};
use causerie_server::sso::digest;

/// The browser session's cookie.
pub(crate) const COOKIE: &str = "causerie_sso";

/// The digest of the browser session's cookie, if it sent one.
pub(crate) fn session_of(headers: &HeaderMap) -> Option<Vec<u8>> {
    cookie_of(headers, COOKIE).map(|v| digest(&v))
}

/// The value of cookie `name`, if the browser sent it (not empty).
pub(crate) fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_string())
}
