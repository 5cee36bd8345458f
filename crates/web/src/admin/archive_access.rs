//! Lawful archive access (docs/safety.md « Accès aux archives »): a structure's report
//! readers (its designated safety staff, else its CPE and direction, else its local
//! administrators; not a super-administrator as such, see [`Caller::archive_of`]) read another member's archives — his one-to-one conversations
//! and the rooms he belongs to — only under a grant they ask for with a typed reason, for
//! a bounded time (`[archive] access_hours`, 24 hours by default, shorter on request).
//!
//! - `POST /admin/api/structures/{id}/archive-access` `{"login", "reason", "hours"?}`:
//!   a grant (written with its audit row `archive.grant`, reason included);
//! - `GET /admin/api/structures/{id}/archive-access`: the structure's grants, newest
//!   first (who asked, for whom, why, until when);
//! - `GET /admin/api/archive-access/{gid}`: one grant with the person's rooms;
//! - `GET /admin/api/archive-access/{gid}/messages[?with=JID|room=NAME][&before=ID][&limit=N]`:
//!   a page of his archive (newest last), every read written to the audit log
//!   (`archive.read`: the grant, what was read, how many messages).
//!
//! A grant serves only whoever asked for it, while he still is among the structure's
//! readers and until it ends (`403 grant-expired` after); anyone else gets `404` (a grant
//! is not revealed). Reading one's own archive this way is refused: that is what one's
//! client is for.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use causerie_ent::Directory;
use causerie_proto::Element;
use causerie_store::{
    AccountArchiveStore, AdminStore, ArchiveGrant, ArchiveQuery, NewArchiveGrant, NewAudit,
    PrivacyStore, RoomStore,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiError, AppState, limit, now_ms, parse_body, rfc3339_ms};

/// Shortest reason, in characters: a word is not a reason.
const MIN_REASON_CHARS: usize = 10;
/// Longest reason, in characters.
const MAX_REASON_CHARS: usize = 1000;

fn grant_json(dir: &Directory, g: &ArchiveGrant, now: i64) -> Value {
    let dir_name = |login: &str| dir.user(login).map(|u| u.display_name());
    json!({
        "id": g.id,
        "structure": g.structure,
        "grantee": g.grantee,
        "grantee_name": dir_name(&g.grantee),
        "login": g.target,
        "name": dir_name(&g.target),
        "reason": g.reason,
        "created": rfc3339_ms(g.created_ms),
        "expires": rfc3339_ms(g.expires_ms),
        "active": now < g.expires_ms,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    login: String,
    reason: String,
    hours: Option<u32>,
}

/// `POST /admin/api/structures/{id}/archive-access`.
pub async fn grant(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let dir = server.directory().await;
    let reader = caller.archive_of(&dir, &id)?;
    let b: GrantBody = parse_body(&body)?;
    let login = b.login.trim().to_lowercase();
    let target = dir
        .user(&login)
        .filter(|u| u.structures.iter().any(|s| s == reader.structure()))
        .ok_or_else(|| {
            ApiError::invalid(
                "login",
                "Cette personne n'est pas membre de l'établissement.",
                "This person is not a member of the structure.",
            )
        })?;
    if target.login == reader.actor() {
        return Err(ApiError::invalid(
            "login",
            "Vos propres conversations se lisent dans votre application de discussion.",
            "Your own conversations are read in your chat client.",
        ));
    }
    let reason = b.reason.trim();
    let chars = reason.chars().count();
    if !(MIN_REASON_CHARS..=MAX_REASON_CHARS).contains(&chars)
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid(
            "reason",
            format!(
                "Le motif est obligatoire : {MIN_REASON_CHARS} à {MAX_REASON_CHARS} caractères (par exemple le signalement ou la demande qui justifie la consultation)."
            ),
            format!(
                "A reason is required: {MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters (such as the report or request that justifies the reading)."
            ),
        ));
    }
    let max = server.config().archive.access_hours;
    let hours = b.hours.unwrap_or(max);
    if !(1..=max).contains(&hours) {
        return Err(ApiError::invalid(
            "hours",
            format!("Une durée de 1 à {max} heures."),
            format!("A duration of 1 to {max} hours."),
        ));
    }
    let now = now_ms();
    let g = server
        .store()
        .grant_archive_access(&NewArchiveGrant {
            structure: reader.structure().into(),
            grantee: reader.actor().into(),
            target: target.login.clone(),
            reason: reason.into(),
            expires_ms: now + i64::from(hours) * 3_600_000,
        })
        .await?;
    tracing::info!(actor = %reader.actor(), structure = %reader.structure(), target = %target.login, hours, "admin: archive access granted");
    Ok((StatusCode::CREATED, Json(grant_json(&dir, &g, now))))
}

/// `GET /admin/api/structures/{id}/archive-access`.
pub async fn list(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let dir = server.directory().await;
    let reader = caller.archive_of(&dir, &id)?;
    let now = now_ms();
    let grants = server
        .store()
        .archive_grants(reader.structure(), 200)
        .await?;
    Ok(Json(
        grants.iter().map(|g| grant_json(&dir, g, now)).collect(),
    ))
}

/// The grant `gid` if the caller may use it now (see the module docs).
async fn usable(server: &AppState, caller: &Caller, gid: &str) -> Result<ArchiveGrant, ApiError> {
    let id: i64 = gid.parse().map_err(|_| ApiError::not_found())?;
    let g = server
        .store()
        .archive_grant(id)
        .await?
        .filter(|g| g.grantee == caller.login)
        .ok_or_else(ApiError::not_found)?;
    let dir = server.directory().await;
    caller.archive_of(&dir, &g.structure)?;
    if now_ms() >= g.expires_ms {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "grant-expired",
            "Cet accès aux archives a pris fin : demandez-en un nouveau, avec son motif.",
            "This archive access has ended: ask for a new one, with its reason.",
        ));
    }
    Ok(g)
}

/// `GET /admin/api/archive-access/{gid}`: the grant and the person's rooms.
pub async fn show(
    State(server): State<AppState>,
    Path(gid): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let g = usable(&server, &caller, &gid).await?;
    let rooms = server.store().rooms_of(&g.target).await?;
    let dir = server.directory().await;
    let mut v = grant_json(&dir, &g, now_ms());
    v["rooms"] = rooms
        .iter()
        .map(|r| json!({"name": r.name, "title": r.title}))
        .collect();
    Ok(Json(v))
}

#[derive(Deserialize)]
pub struct ReadQuery {
    with: Option<String>,
    room: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// A message's text: its `<body>` (the first), never its markup.
fn body_of(stanza: &str) -> String {
    stanza
        .parse::<Element>()
        .ok()
        .and_then(|m| m.children().find(|c| c.name() == "body").map(|b| b.text()))
        .unwrap_or_default()
}

/// `GET /admin/api/archive-access/{gid}/messages`.
pub async fn messages(
    State(server): State<AppState>,
    Path(gid): Path<String>,
    Query(q): Query<ReadQuery>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let g = usable(&server, &caller, &gid).await?;
    let n = limit(q.limit.as_deref(), 50, 500)?;
    let query = ArchiveQuery {
        before_id: q.before.clone(),
        last_page: q.before.is_none(),
        max: i64::try_from(n).unwrap_or(50),
        with: q.with.clone().filter(|w| !w.is_empty()),
        ..ArchiveQuery::default()
    };
    let domain = server.domain().to_string();
    let (what, messages, complete) = match q.room.as_deref().filter(|r| !r.is_empty()) {
        Some(room) => {
            let Some(r) = server
                .store()
                .rooms_of(&g.target)
                .await?
                .into_iter()
                .find(|r| r.name == room)
            else {
                return Err(ApiError::not_found());
            };
            let page = server.store().archive_page(r.id, &query).await?;
            let msgs: Vec<Value> = page
                .messages
                .iter()
                .map(|m| {
                    json!({
                        "id": m.stanza_id,
                        "from": format!("{}@{domain}", m.sender),
                        "nick": m.nick,
                        "body": body_of(&m.stanza),
                        "time": rfc3339_ms(m.stamp_ms),
                    })
                })
                .collect();
            (json!({"room": room}), msgs, page.complete)
        }
        None => {
            let page = server
                .store()
                .account_archive_page(&g.target, &query)
                .await
                .map_err(|e| match e {
                    causerie_store::StoreError::NotFound => ApiError::not_found(),
                    e => e.into(),
                })?;
            let own = format!("{}@{domain}", g.target);
            let msgs: Vec<Value> = page
                .messages
                .iter()
                .map(|m| {
                    let (from, to) = if m.outgoing {
                        (own.clone(), m.with.clone())
                    } else {
                        (m.with.clone(), own.clone())
                    };
                    json!({
                        "id": m.stanza_id,
                        "from": from,
                        "to": to,
                        "body": body_of(&m.stanza),
                        "time": rfc3339_ms(m.stamp_ms),
                    })
                })
                .collect();
            (json!({"with": query.with}), msgs, page.complete)
        }
    };
    let mut after = what.clone();
    after["grant"] = json!(g.id);
    after["messages"] = json!(messages.len());
    after["before"] = json!(q.before);
    server
        .store()
        .audit(&NewAudit {
            actor: caller.login.clone(),
            action: "archive.read".into(),
            structure: Some(g.structure.clone()),
            target: Some(g.target.clone()),
            before: None,
            after: Some(after),
        })
        .await?;
    Ok(Json(json!({
        "grant": g.id,
        "login": g.target,
        "read": what,
        "messages": messages,
        "complete": complete,
    })))
}
