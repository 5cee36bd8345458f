//! ENT groups of a structure: list, create, rename, delete, add and remove members, and
//! whom a group lets reach whom. Members of a group reach each other whatever the rules;
//! a local administrator may put in a group only users of the group's structure.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use causerie_ent::{Decision, Directory, Group, Why};
use causerie_server::changes::{Actor, Change};
use causerie_store::GroupChange;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Caller, GroupAdmin};
use super::{ApiError, AppState, clean_name, parse_body, user_json};

/// Longest group name.
const MAX_NAME: usize = 200;
/// Most pairs `GET …/reach` returns.
const MAX_PAIRS: usize = 1000;

fn group_json(dir: &Directory, g: &Group) -> Value {
    let members: Vec<Value> = dir
        .group_members(&g.id)
        .into_iter()
        .map(|u| user_json(dir, u))
        .collect();
    json!({"id": g.id, "name": g.name, "structure": g.structure, "members": members})
}

/// `login` must be a user of `structure` (or, for a group without structure, any user).
fn check_member(
    dir: &Directory,
    structure: Option<&str>,
    login: &str,
    field: &str,
) -> Result<(), ApiError> {
    let ok = dir
        .user(login)
        .is_some_and(|u| structure.is_none_or(|s| u.structures.iter().any(|x| x == s)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("« {login} » n'est pas un utilisateur de cet établissement."),
            format!("\"{login}\" is not a user of this structure."),
        ))
    }
}

async fn answer(server: &AppState, id: &str) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let g = dir.group(id).ok_or_else(ApiError::not_found)?;
    Ok(Json(group_json(&dir, g)))
}

/// `GET /admin/api/structures/{id}/groups`.
pub async fn list(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let dir = server.directory().await;
    let admin = caller.structure(&dir, &id)?;
    Ok(Json(
        dir.groups()
            .iter()
            .filter(|g| g.structure.as_deref() == Some(admin.id()))
            .map(|g| group_json(&dir, g))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

/// `POST /admin/api/structures/{id}/groups`.
pub async fn create(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let admin = caller.structure(&dir, &id)?;
    let b: CreateBody = parse_body(&body)?;
    let name = clean_name("name", &b.name, MAX_NAME)?;
    for (i, login) in b.members.iter().enumerate() {
        check_member(&dir, Some(admin.id()), login, &format!("members[{i}]"))?;
    }
    let mut members = b.members;
    members.sort();
    members.dedup();
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    let gid = format!(
        "g-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let group = Group {
        id: gid.clone(),
        name,
        structure: Some(admin.id().to_string()),
        members,
    };
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::EditGroup(GroupChange::Create(group)),
        )
        .await?;
    tracing::info!(actor = %admin.actor(), group = %gid, "admin: group created");
    answer(&server, &gid).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    name: String,
}

/// A group edit through the change layer (validated, audited, enforced).
async fn apply(server: &AppState, admin: &GroupAdmin, change: GroupChange) -> Result<(), ApiError> {
    let action = change.action();
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::EditGroup(change),
        )
        .await?;
    tracing::info!(actor = %admin.actor(), group = %admin.id(), action, "admin: group changed");
    Ok(())
}

/// `PUT /admin/api/groups/{gid}`.
pub async fn rename(
    State(server): State<AppState>,
    Path(gid): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.group(&*server.directory().await, &gid)?;
    let b: RenameBody = parse_body(&body)?;
    let name = clean_name("name", &b.name, MAX_NAME)?;
    apply(
        &server,
        &admin,
        GroupChange::Rename {
            id: admin.id().to_string(),
            name,
        },
    )
    .await?;
    answer(&server, admin.id()).await
}

/// `DELETE /admin/api/groups/{gid}`.
pub async fn remove(
    State(server): State<AppState>,
    Path(gid): Path<String>,
    caller: Caller,
) -> Result<axum::http::StatusCode, ApiError> {
    let admin = caller.group(&*server.directory().await, &gid)?;
    apply(
        &server,
        &admin,
        GroupChange::Delete {
            id: admin.id().to_string(),
        },
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    login: String,
}

/// `POST /admin/api/groups/{gid}/members`.
pub async fn add_member(
    State(server): State<AppState>,
    Path(gid): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let admin = caller.group(&dir, &gid)?;
    let b: MemberBody = parse_body(&body)?;
    check_member(&dir, admin.structure(), &b.login, "login")?;
    apply(
        &server,
        &admin,
        GroupChange::AddMember {
            id: admin.id().to_string(),
            login: b.login,
        },
    )
    .await?;
    answer(&server, admin.id()).await
}

/// `DELETE /admin/api/groups/{gid}/members/{login}`.
pub async fn remove_member(
    State(server): State<AppState>,
    Path((gid, login)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.group(&*server.directory().await, &gid)?;
    apply(
        &server,
        &admin,
        GroupChange::RemoveMember {
            id: admin.id().to_string(),
            login,
        },
    )
    .await?;
    answer(&server, admin.id()).await
}

/// The directory without its groups: who reaches whom by the rules alone.
pub(crate) fn rules_only(dir: &Directory) -> Directory {
    let mut snapshot = dir.snapshot().clone();
    snapshot.groups.clear();
    let rules: HashMap<String, Vec<causerie_ent::Rule>> = dir
        .structures()
        .iter()
        .filter(|s| dir.has_custom_rules(&s.id))
        .map(|s| (s.id.clone(), dir.rules_for(&s.id).to_vec()))
        .collect();
    Directory::new(snapshot, rules)
}

/// `GET /admin/api/groups/{gid}/reach`: the pairs of members that only groups let
/// reach each other.
pub async fn reach(
    State(server): State<AppState>,
    Path(gid): Path<String>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let dir = server.directory().await;
    let admin = caller.group(&dir, &gid)?;
    let members = dir.group_members(admin.id());
    let by_rules = rules_only(&dir);
    let mut pairs = Vec::new();
    'outer: for (i, a) in members.iter().enumerate() {
        for b in &members[i + 1..] {
            let allowed = |x: &str, y: &str| matches!(by_rules.may_reach(x, y), Decision::Allow(ref w) if !matches!(w, Why::Group { .. }));
            if !allowed(&a.login, &b.login) || !allowed(&b.login, &a.login) {
                pairs.push(json!({"from": user_json(&dir, a), "to": user_json(&dir, b)}));
                if pairs.len() >= MAX_PAIRS {
                    break 'outer;
                }
            }
        }
    }
    Ok(Json(pairs))
}
