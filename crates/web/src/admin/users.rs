//! Users of the caller's structures: search, one user (profile, classes, groups, chat
//! access, lock, sessions), disconnecting his sessions, locking and unlocking his
//! account, and « whom may he reach? » answered from the policy.
//!
//! A user outside the caller's structures is `404` for him, and lists never show one
//! (children, parents, groups and reachable users are filtered the same way).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use causerie_ent::{Decision, Directory, Scope, SearchQuery, User, Why, fold};
use causerie_server::changes::{Actor, Change};
use causerie_store::{AdminStore, NewAudit};
use serde_json::{Value, json};

use super::auth::{Caller, UserAdmin};
use super::{ApiError, AppState, limit, rfc3339, user_json};

/// `GET /admin/api/users?q=&structure=&limit=`.
pub async fn search(
    State(server): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    caller.user_data()?;
    let dir = server.directory().await;
    let max = limit(params.get("limit").map(String::as_str), 50, 500)?;
    let structure = match params.get("structure").filter(|s| !s.is_empty()) {
        Some(id) => Some(caller.structure(&dir, id)?),
        None => None,
    };
    let q = params.get("q").map(|q| fold(q.trim())).unwrap_or_default();
    if q.chars().count() > 200 {
        return Err(ApiError::invalid(
            "q",
            "Recherche trop longue.",
            "Search text too long.",
        ));
    }
    let matches = |u: &User| {
        q.is_empty()
            || fold(&u.login).contains(&q)
            || fold(&u.display_name()).contains(&q)
            || fold(&format!("{} {}", u.first_name, u.last_name)).contains(&q)
    };
    let mut found: Vec<&User> = dir
        .users()
        .iter()
        .filter(|u| caller.sees(u))
        .filter(|u| {
            structure
                .as_ref()
                .is_none_or(|s| u.structures.iter().any(|x| x == s.id()))
        })
        .filter(|u| matches(u))
        .collect();
    found.sort_by_key(|u| (fold(&u.display_name()), u.login.clone()));
    Ok(Json(
        found
            .into_iter()
            .take(max)
            .map(|u| user_json(&dir, u))
            .collect(),
    ))
}

async fn detail(server: &AppState, caller: &Caller, login: &str) -> Result<Value, ApiError> {
    let dir = server.directory().await;
    let u = caller.visible(&dir, login)?;
    let locked = server.store().account_locked(login).await?;
    // The one access decision (the login's and the enforcement's), on the structures'
    // access in force and the lock as stored now.
    let view = server.view().await;
    let refused = view.decide(Some(u), false, locked).err().map(|d| d.code());
    let mut v = user_json(&dir, u);
    let groups: Vec<Value> = dir
        .groups_of(login)
        .into_iter()
        .filter(|g| caller.administers_group(g))
        .map(|g| json!({"id": g.id, "name": g.name}))
        .collect();
    let related = |users: Vec<&User>| -> Vec<Value> {
        users
            .into_iter()
            .filter(|x| caller.sees(x))
            .map(|x| user_json(&dir, x))
            .collect()
    };
    let sessions: Vec<Value> = server
        .sessions_of(login)
        .into_iter()
        .map(|s| {
            json!({
                "resource": s.resource,
                "transport": s.transport,
                "since": rfc3339(s.since),
                "address": s.address.map(|a| a.ip().to_string()),
                "agent": s.agent,
            })
        })
        .collect();
    v["groups"] = Value::Array(groups);
    v["children"] = Value::Array(related(dir.children_of(login)));
    v["parents"] = Value::Array(related(dir.parents_of(login)));
    v["chat_allowed"] = Value::Bool(refused.is_none());
    v["chat_refused_because"] = refused.map_or(Value::Null, |r| Value::String(r.into()));
    v["locked"] = Value::Bool(locked);
    v["sessions"] = Value::Array(sessions);
    Ok(v)
}

/// `GET /admin/api/users/{login}`.
pub async fn show(
    State(server): State<AppState>,
    Path(login): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(detail(&server, &caller, &login).await?))
}

/// `POST /admin/api/users/{login}/disconnect`.
pub async fn disconnect(
    State(server): State<AppState>,
    Path(login): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin: UserAdmin = caller
        .user(&server, &*server.directory().await, &login)
        .await?;
    let n = server.disconnect_user(admin.login());
    server
        .store()
        .audit(&NewAudit {
            actor: admin.actor().into(),
            action: "user.disconnect".into(),
            structure: admin.structure().map(Into::into),
            target: Some(admin.login().into()),
            before: Some(json!({"sessions": n})),
            after: Some(json!({"sessions": 0})),
        })
        .await?;
    tracing::info!(actor = %admin.actor(), user = %admin.login(), sessions = n, "admin: sessions closed");
    Ok(Json(json!({"disconnected": n})))
}

async fn set_locked(
    server: AppState,
    login: String,
    caller: Caller,
    locked: bool,
) -> Result<Json<Value>, ApiError> {
    let admin = caller
        .user(&server, &*server.directory().await, &login)
        .await?;
    // The lock moves the generation: every server closes the account's sessions as it
    // applies it (this one before `apply` returns), and his console sessions end.
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::Lock {
                login: admin.login().into(),
                locked,
                structure: admin.structure().map(Into::into),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), user = %admin.login(), locked, "admin: account lock changed");
    Ok(Json(detail(&server, &caller, admin.login()).await?))
}

/// `POST /admin/api/users/{login}/lock`.
pub async fn lock(
    State(server): State<AppState>,
    Path(login): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    set_locked(server, login, caller, true).await
}

/// `POST /admin/api/users/{login}/unlock`.
pub async fn unlock(
    State(server): State<AppState>,
    Path(login): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    set_locked(server, login, caller, false).await
}

/// Why `from` may reach `to`, for the answer: `rule`, `group` (with its id) or `link`
/// (a parent and his child).
///
/// The group named is the first common group the caller administers: the policy's own
/// choice may be a group of another structure, which a local administrator must not
/// learn of. When the caller administers none of their common groups, the answer says
/// `group` without naming one.
fn why(
    dir: &Directory,
    caller: &Caller,
    from: &str,
    to: &str,
) -> Option<(&'static str, Option<String>)> {
    match dir.may_reach(from, to) {
        Decision::Allow(Why::Group { .. }) => {
            let named = dir
                .groups_of(from)
                .into_iter()
                .filter(|g| caller.administers_group(g))
                .find(|g| g.members.iter().any(|m| m == to))
                .map(|g| g.id.clone());
            Some(("group", named))
        }
        Decision::Allow(Why::Rule { structure, index }) => {
            let link = dir
                .rules_for(&structure)
                .get(index)
                .is_some_and(|r| r.scope == Scope::OwnChildren);
            Some((if link { "link" } else { "rule" }, None))
        }
        Decision::Allow(Why::Open) => Some(("rule", None)),
        Decision::Allow(Why::SameAccount) | Decision::Deny(_) => None,
    }
}

/// `GET /admin/api/users/{login}/reach?limit=`.
pub async fn reach(
    State(server): State<AppState>,
    Path(login): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let max = limit(params.get("limit").map(String::as_str), 100, 1000)?;
    let u = caller.visible(&dir, &login)?;
    // Everyone the policy lets him reach (search's candidates, without its limit).
    let mut total = 0usize;
    let mut users = Vec::new();
    for hit in dir.search(&u.login, &SearchQuery::default(), usize::MAX) {
        let Some(other) = dir.user(&hit.login) else {
            continue;
        };
        if !caller.sees(other) {
            continue;
        }
        let Some((kind, group)) = why(&dir, &caller, &u.login, &other.login) else {
            continue;
        };
        total += 1;
        if users.len() < max {
            let mut v = user_json(&dir, other);
            v["why"] = Value::String(kind.into());
            if let Some(g) = group {
                v["group"] = Value::String(g);
            }
            users.push(v);
        }
    }
    Ok(Json(json!({"total": total, "users": users})))
}

/// `GET /admin/api/users/{login}/export`: the user's access export (GDPR article 15), for
/// an administrator of his structure who hands it to him on request; audited
/// (`user.export`).
pub async fn export(
    State(server): State<AppState>,
    Path(login): Path<String>,
    caller: Caller,
) -> Result<axum::response::Response, ApiError> {
    let admin: UserAdmin = caller
        .user(&server, &*server.directory().await, &login)
        .await?;
    let doc = causerie_server::export::export(
        &server,
        admin.login(),
        causerie_server::export::Conversations::Withheld,
    )
    .await?;
    server
        .store()
        .audit(&NewAudit {
            actor: admin.actor().into(),
            action: "user.export".into(),
            structure: admin.structure().map(Into::into),
            target: Some(admin.login().into()),
            before: None,
            after: None,
        })
        .await?;
    tracing::info!(actor = %admin.actor(), user = %admin.login(), "admin: data export");
    Ok(crate::download::download(admin.login(), &doc))
}
