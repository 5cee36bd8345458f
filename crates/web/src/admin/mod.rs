//! The admin API at `/admin/api` (docs/admin-api.md): the JSON API behind the admin
//! console, one file per area — [`auth`] (login, sessions, CSRF, the role check that
//! hands out [`auth::StructureAdmin`] and [`auth::SuperAdmin`]), [`structures`] (access,
//! rules, archive retention and file sharing), [`collectivites`] (their access above
//! their structures', their administrators), [`groups`], [`users`], [`live`], [`audit`],
//! [`admins`], [`reports`] (« Signalements » and each structure's safety staff),
//! [`archive_access`] (lawful, audited reading of a member's archives) and the access
//! export of a user's data ([`users`]).
//!
//! This module owns what they share: the error answer
//! (`{"error": {"code", "message_fr", "message_en", "field"?}}`), body parsing that names
//! the field at fault, and the JSON shape of a user.
//!
//! Every change goes through `causerie_server::changes` (`Server::apply`), as the command
//! line's and the sync API's do: validated before anything is written, written with its
//! audit row in one transaction, and enforced on what is open (sessions an access change
//! or a lock refuses are closed, room memberships the rooms' policy no longer admits end).

pub mod admins;
pub mod app_passwords;
pub mod archive_access;
pub mod audit;
pub mod auth;
pub mod collectivites;
pub mod groups;
pub mod live;
pub mod reports;
pub mod structures;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use causerie_ent::{Directory, User};
use causerie_server::Server;
use causerie_server::changes::ChangeError;
use causerie_store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};

pub(crate) type AppState = Arc<Server>;

/// The sub-router mounted at `/admin/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/session", get(auth::session))
        .route("/structures", get(structures::list))
        .route("/structures/{id}", get(structures::show))
        .route("/structures/{id}/access", put(structures::set_access))
        .route("/collectivites", get(collectivites::list))
        .route("/collectivites/{id}", get(collectivites::show))
        .route("/collectivites/{id}/access", put(collectivites::set_access))
        .route(
            "/collectivites/{id}/admins",
            get(collectivites::admins).post(collectivites::grant),
        )
        .route(
            "/collectivites/{id}/admins/{login}",
            delete(collectivites::revoke),
        )
        .route(
            "/structures/{id}/archive",
            put(structures::set_retention).delete(structures::reset_retention),
        )
        .route(
            "/structures/{id}/upload",
            put(structures::set_upload).delete(structures::reset_upload),
        )
        .route(
            "/structures/{id}/quiet-hours",
            put(structures::set_quiet_hours).delete(structures::reset_quiet_hours),
        )
        .route("/structures/{id}/shutdown", put(structures::set_shutdown))
        .route(
            "/structures/{id}/pupil-photos",
            put(structures::set_pupil_photos).delete(structures::reset_pupil_photos),
        )
        .route(
            "/structures/{id}/app-passwords",
            put(app_passwords::set_policy).delete(app_passwords::reset_policy),
        )
        .route(
            "/structures/{id}/rules",
            put(structures::set_rules).delete(structures::reset_rules),
        )
        .route(
            "/structures/{id}/groups",
            get(groups::list).post(groups::create),
        )
        .route("/groups/{gid}", put(groups::rename).delete(groups::remove))
        .route("/groups/{gid}/members", post(groups::add_member))
        .route(
            "/groups/{gid}/members/{login}",
            delete(groups::remove_member),
        )
        .route("/groups/{gid}/reach", get(groups::reach))
        .route("/structures/{id}/reports", get(reports::list))
        .route(
            "/structures/{id}/safety-staff",
            get(reports::get_staff)
                .put(reports::set_staff)
                .delete(reports::reset_staff),
        )
        .route(
            "/structures/{id}/archive-access",
            get(archive_access::list).post(archive_access::grant),
        )
        .route("/archive-access/{gid}", get(archive_access::show))
        .route(
            "/archive-access/{gid}/messages",
            get(archive_access::messages),
        )
        .route("/reports/{rid}", get(reports::show))
        .route("/reports/{rid}/status", put(reports::set_status))
        .route("/reports/{rid}/notes", post(reports::add_note))
        .route("/reports/{rid}/actions", post(reports::act))
        .route("/users", get(users::search))
        .route("/users/{login}", get(users::show))
        .route("/users/{login}/disconnect", post(users::disconnect))
        .route("/users/{login}/lock", post(users::lock))
        .route("/users/{login}/unlock", post(users::unlock))
        .route("/users/{login}/reach", get(users::reach))
        .route("/users/{login}/export", get(users::export))
        .route(
            "/users/{login}/app-passwords",
            get(app_passwords::list).post(app_passwords::create),
        )
        .route(
            "/users/{login}/app-passwords/{id}",
            delete(app_passwords::revoke),
        )
        .route("/live", get(live::live))
        .route("/audit", get(audit::list))
        .route("/audit.csv", get(audit::csv))
        .route("/admins", get(admins::list).post(admins::grant))
        .route("/admins/{login}/structures/{id}", delete(admins::revoke))
        .fallback(not_found_route)
        .layer(axum::middleware::map_response(no_sniff))
}

/// Every answer of the API is data, never to be sniffed as HTML, nor cached.
async fn no_sniff(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn not_found_route() -> ApiError {
    ApiError::not_found()
}

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub fr: String,
    pub en: String,
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message_fr: &'a str,
    message_en: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_s: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": ErrorBody {
            code: self.code,
            message_fr: &self.fr,
            message_en: &self.en,
            field: self.field.as_deref(),
            retry_after_s: self.retry_after_s,
        }});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, fr: &str, en: &str) -> ApiError {
        ApiError {
            status,
            code,
            fr: fr.into(),
            en: en.into(),
            field: None,
            retry_after_s: None,
        }
    }

    /// `400 invalid` naming the field at fault (none when `field` is empty: the body
    /// as a whole is wrong).
    pub fn invalid(field: &str, fr: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            fr: fr.into(),
            en: en.into(),
            field: (!field.is_empty()).then(|| field.to_string()),
            retry_after_s: None,
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Introuvable.",
            "Not found.",
        )
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Vous n'administrez pas cet élément.",
            "You do not administer this.",
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Erreur interne, réessayez plus tard.",
            "Internal error, try again later.",
        )
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        match e {
            ChangeError::Invalid(e) => {
                let field = e.field.clone().unwrap_or_default();
                let fr = if field.is_empty() {
                    "Demande refusée : elle ne respecte pas le format de l'annuaire.".to_string()
                } else {
                    format!("Valeur refusée pour « {field} ».")
                };
                ApiError::invalid(&field, fr, format!("Refused: {}", e.reason))
            }
            ChangeError::NotFound => ApiError::not_found(),
            ChangeError::AlreadyExists => StoreError::AlreadyExists.into(),
            ChangeError::NotAllowed(_) => ApiError::forbidden(),
            ChangeError::Refused { fr, en } => {
                ApiError::new(StatusCode::CONFLICT, "refused", &fr, &en)
            }
            ChangeError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::AlreadyExists => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "Cet élément existe déjà.",
                "This already exists.",
            ),
            StoreError::Invalid(msg) => ApiError::invalid(
                "",
                format!("Demande refusée : {msg}"),
                format!("Request refused: {msg}"),
            ),
            other => {
                tracing::warn!(error = %other, "admin API storage failure");
                ApiError::internal()
            }
        }
    }
}

/// Parses a JSON body, naming the field at fault (`rules[2].scope`). Anything but
/// whitespace after the value is refused (`end`): a body with trailing bytes is not the
/// value it starts with, and is not applied.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        let what = if inner.is_data() {
            // serde's message names the expected values; it holds no secret.
            inner.to_string()
        } else {
            "malformed JSON".to_string()
        };
        let fr = if field.is_empty() {
            "Données invalides : un objet JSON est attendu, avec les champs documentés.".to_string()
        } else {
            format!("Valeur invalide pour « {field} ».")
        };
        ApiError::invalid(&field, fr, format!("Invalid data: {what}"))
    })?;
    de.end().map_err(|_| {
        ApiError::invalid(
            "",
            "Données invalides : rien ne doit suivre l'objet JSON.",
            "Invalid data: nothing may follow the JSON object.",
        )
    })?;
    Ok(value)
}

/// A name typed by an administrator: trimmed, 1 to `max` characters, no control
/// characters.
pub(crate) fn clean_name(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(
            field,
            "Ce champ est obligatoire.",
            "This field is required.",
        ));
    }
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("{max} caractères au plus."),
            format!("At most {max} characters."),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "Caractères de contrôle interdits.",
            "Control characters are not allowed.",
        ));
    }
    Ok(v.to_string())
}

/// A `limit` query parameter: `default` when absent, 1 to `max`.
pub(crate) fn limit(given: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match given {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                "limit",
                format!("Un nombre entre 1 et {max}."),
                format!("A number between 1 and {max}."),
            )),
        },
    }
}

/// The JSON of a directory user (`USER` in docs/admin-api.md).
pub(crate) fn user_json(dir: &Directory, u: &User) -> Value {
    json!({
        "login": u.login,
        "name": u.display_name(),
        "profile": u.profile.as_str(),
        "structures": u.structures,
        "classes": dir.class_names(&u.login),
    })
}

/// RFC 3339 (UTC, seconds) of milliseconds since the epoch.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// RFC 3339 of a system time.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
