//! The ENT's incremental directory sync: `PUT`/`DELETE` one user, class,
//! group, structure or collectivité at a time (`docs/directory-api.md`), guarded by the
//! bearer token of `[directory] api_token`.
//!
//! Bodies use the import format (`docs/directory.md`). Every call is a change of the
//! school made through `causerie_server::changes` like the command line's and the
//! console's: validated by the import's own checks against the directory in force,
//! written with its audit row (actor `api`) in one transaction, and enforced on what is
//! open from the next stanza on (a removed user's sessions close, his rooms end). Errors
//! are JSON: `{"error": "...", "field": "..."}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use causerie_ent::{Class, Collectivite, Group, Structure, User};
use causerie_server::Server;
use causerie_server::changes::{Actor, Change, ChangeError};
use causerie_store::StoreError;
use serde::Serialize;
use subtle::ConstantTimeEq;

type AppState = Arc<Server>;

/// The sub-router mounted at `/api/v1/directory`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/{login}", put(put_user).delete(delete_user))
        .route("/classes/{id}", put(put_class).delete(delete_class))
        .route("/groups/{id}", put(put_group).delete(delete_group))
        .route("/structures/{id}", put(put_structure))
        .route(
            "/collectivites/{id}",
            put(put_collectivite).delete(delete_collectivite),
        )
}

#[derive(Serialize)]
struct ApiError {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// An error answer.
struct Fail(StatusCode, String, Option<String>);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(ApiError {
                error: self.1,
                field: self.2,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Fail(StatusCode::NOT_FOUND, "not found".into(), None),
            StoreError::Invalid(msg) => Fail(StatusCode::UNPROCESSABLE_ENTITY, msg, None),
            other => {
                tracing::warn!(error = %other, "directory API storage failure");
                Fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage failure".into(),
                    None,
                )
            }
        }
    }
}

fn invalid(field: &str, msg: impl Into<String>) -> Fail {
    Fail(
        StatusCode::UNPROCESSABLE_ENTITY,
        msg.into(),
        Some(field.into()),
    )
}

/// Checks the token of every call, then records each authorised one in the store's list
/// of imports (source `api`), with what it changed or why it was refused, for the admin
/// console's live view.
///
/// The token is checked here, before the handler and its extractors run: a call without
/// a valid token is answered `401` (or `503`) and never recorded, whatever else is wrong
/// with it (a wrong method, a body too large, a malformed path), since the live view must
/// not show a failed import that never happened. The handlers check it again, so that
/// they stay closed if they are ever mounted without this layer.
pub async fn record(
    State(server): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Err(refused) = authorize(&server, req.headers()) {
        return refused.into_response();
    }
    let method = req.method().clone();
    let kind = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if !matches!(
        kind.as_str(),
        "users" | "classes" | "groups" | "structures" | "collectivites"
    ) {
        return resp;
    }
    let ok = status.is_success();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let errors = if ok {
        Vec::new()
    } else {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let msg = v["error"].as_str().unwrap_or("refused").to_string();
        vec![match v["field"].as_str() {
            Some(f) => format!("{kind} ({f}): {msg}"),
            None => format!("{kind}: {msg}"),
        }]
    };
    let op = if method == axum::http::Method::DELETE {
        "deleted"
    } else {
        "put"
    };
    let counts = if ok {
        serde_json::json!({ format!("{kind}_{op}"): 1 })
    } else {
        serde_json::json!({})
    };
    if let Err(e) =
        causerie_store::AdminStore::record_import(server.store(), "api", ok, &counts, &errors).await
    {
        tracing::warn!(error = %e, "cannot record a directory API call");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Checks the bearer token in constant time.
fn authorize(server: &Server, headers: &HeaderMap) -> Result<(), Fail> {
    let Some(expected) = &server.config().directory.api_token else {
        return Err(Fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "the directory API is disabled: set [directory] api_token".into(),
            None,
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(Fail(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token".into(),
            None,
        ))
    }
}

/// Parses a JSON body, naming the field at fault. Anything but whitespace after the
/// value is refused (`end`): a body with trailing bytes is not the value it starts with.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Fail> {
    // An object: serde also reads a struct from an array, by position, where fields in
    // the wrong order would be taken silently for one another.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Fail(
            StatusCode::BAD_REQUEST,
            "invalid JSON body: a JSON object is expected".into(),
            None,
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        Fail(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {}", e.inner()),
            (path != ".").then_some(path),
        )
    })?;
    de.end().map_err(|e| {
        Fail(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e}"),
            None,
        )
    })?;
    Ok(value)
}

fn same_id(path: &str, body: &str, field: &str) -> Result<(), Fail> {
    if path == body {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("`{field}` is `{body}` but the URL names `{path}`"),
        ))
    }
}

impl From<ChangeError> for Fail {
    fn from(e: ChangeError) -> Self {
        match e {
            // The import's own words: the field at fault and why.
            ChangeError::Invalid(e) => Fail(StatusCode::UNPROCESSABLE_ENTITY, e.reason, e.field),
            ChangeError::NotFound => Fail(StatusCode::NOT_FOUND, "not found".into(), None),
            ChangeError::AlreadyExists => Fail(StatusCode::CONFLICT, "already exists".into(), None),
            ChangeError::NotAllowed(_) => Fail(
                StatusCode::FORBIDDEN,
                "the directory API changes directory entries only".into(),
                None,
            ),
            ChangeError::Refused { en, .. } => Fail(StatusCode::CONFLICT, en, None),
            ChangeError::Store(e) => e.into(),
        }
    }
}

/// Applies a change through the server (`Server::apply`: validated as an import would,
/// written with its audit row, then enforced on what is open).
async fn apply(server: &Server, change: Change) -> Result<StatusCode, Fail> {
    server.apply(&Actor::SyncApi, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_user(
    State(server): State<AppState>,
    Path(login): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Fail> {
    authorize(&server, &headers)?;
    let user: User = parse(&body)?;
    same_id(&login, &user.login, "login")?;
    let credentials = match &user.password {
        // With the user's app passwords' salt when he has some: they keep working.
        Some(p) => Some(Box::new(
            causerie_server::app_passwords::password_credentials(
                server.store(),
                &user.login,
                p,
                server.config().auth.scram_iterations,
            )
            .await
            .map_err(|_| {
                invalid(
                    "password",
                    "the password has characters that cannot be used",
                )
            })?,
        )),
        None => None,
    };
    let user = Box::new(user);
    let status = apply(&server, Change::PutUser { user, credentials }).await?;
    tracing::info!(login = %login, "directory API: user updated");
    Ok(status)
}

async fn delete_user(
    State(server): State<AppState>,
    Path(login): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Fail> {
    authorize(&server, &headers)?;
    let status = apply(&server, Change::DeleteUser(login.clone())).await?;
    tracing::info!(login = %login, "directory API: user deactivated");
    Ok(status)
}

/// A class, group, structure or collectivité: an entry with an id.
trait Entry: serde::de::DeserializeOwned {
    fn id(&self) -> &str;
}

impl Entry for Class {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Entry for Group {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Entry for Collectivite {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Entry for Structure {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Authorizes and parses the body of a `PUT` of an entry, whose id is the URL's.
fn accept<T: Entry>(
    server: &Server,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
) -> Result<T, Fail> {
    authorize(server, headers)?;
    let entry: T = parse(body)?;
    same_id(id, entry.id(), "id")?;
    Ok(entry)
}

async fn put_class(
    State(server): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Fail> {
    let class: Class = accept(&server, &headers, &id, &body)?;
    apply(&server, Change::PutClass(class)).await
}

async fn put_group(
    State(server): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Fail> {
    let group: Group = accept(&server, &headers, &id, &body)?;
    apply(&server, Change::PutGroup(group)).await
}

async fn put_structure(
    State(server): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Fail> {
    let structure: Structure = accept(&server, &headers, &id, &body)?;
    apply(&server, Change::PutStructure(structure)).await
}

async fn delete_class(
    State(server): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Fail> {
    authorize(&server, &headers)?;
    apply(&server, Change::DeleteClass(id)).await
}

async fn delete_group(
    State(server): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Fail> {
    authorize(&server, &headers)?;
    apply(&server, Change::DeleteGroup(id)).await
}

async fn put_collectivite(
    State(server): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Fail> {
    let c: Collectivite = accept(&server, &headers, &id, &body)?;
    let status = apply(&server, Change::PutCollectivite(c)).await?;
    tracing::info!(collectivite = %id, "directory API: collectivite updated");
    Ok(status)
}

async fn delete_collectivite(
    State(server): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Fail> {
    authorize(&server, &headers)?;
    let status = apply(&server, Change::DeleteCollectivite(id.clone())).await?;
    tracing::info!(collectivite = %id, "directory API: collectivite removed");
    Ok(status)
}
