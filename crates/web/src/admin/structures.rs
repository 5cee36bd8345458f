//! Structures: the caller's list, one structure with its rules, chat access (on/off,
//! profiles allowed), the communication rules (replace, reset to the defaults) and the
//! retention of its users' one-to-one archives (set, reset to the configured default), and
//! its file sharing (XEP-0363: on or off, largest file, types; reset to the default),
//! whether its pupils may have profile photos (off by default), its quiet hours (set,
//! reset to the default) and its kill switch (docs/safety.md).
//!
//! An access change closes at once the sessions of connected users it now refuses; a
//! rules change applies from the next stanza (the directory cache is invalidated).
//!
//! A structure's access is also narrowed by the collectivités that cover it: each entry
//! says its `effective` access and those collectivités. Their administrators see the
//! structures they cover in the list and set their access (`AccessAdmin`); for them an
//! entry has no user figures and `show` only the access (`access_only`).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use causerie_ent::Retention;
use causerie_ent::{Directory, Profile, Rule, default_rules, validate_rules};
use causerie_server::changes::{Actor, Change};
use causerie_store::{Access, AccountArchiveStore, DirectoryStore, PrivacyStore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{AccessAdmin, Caller, StructureAdmin};
use super::{ApiError, AppState, parse_body};

/// The list entry of a structure.
async fn summary(server: &AppState, dir: &Directory, id: &str) -> Result<Value, ApiError> {
    let Some(s) = dir.structure(id) else {
        return Err(ApiError::not_found());
    };
    let access = server.store().access(id).await?;
    let members = dir.structure_members(id);
    let online = members
        .iter()
        .filter(|u| server.is_online(&u.login))
        .count();
    let mut v = json!({
        "id": s.id,
        "name": s.name,
        "enabled": access.enabled,
        "profiles": access.profiles.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "users": members.len(),
        "online": online,
        "custom_rules": dir.has_custom_rules(id),
    });
    above(server, dir, id, &mut v).await;
    Ok(v)
}

/// Adds a structure's `effective` access and the `collectivites` that cover it (with
/// their access) to its JSON.
async fn above(server: &AppState, dir: &Directory, id: &str, v: &mut Value) {
    let view = server.view().await;
    let effective = view.effective_access(id).cloned().unwrap_or_default();
    v["effective"] = access_json(&effective);
    v["collectivites"] = dir
        .collectivites_of(id)
        .into_iter()
        .map(|c| {
            let a = view.collectivite_access(&c.id).cloned().unwrap_or_default();
            let mut j = json!({"id": c.id, "name": c.name, "kind": c.kind.as_str()});
            j["access"] = access_json(&a);
            j
        })
        .collect();
}

pub(crate) fn access_json(a: &Access) -> Value {
    json!({
        "enabled": a.enabled,
        "profiles": a.profiles.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    })
}

/// What a collectivité administrator sees of a structure he does not administer
/// himself: its name and access, nothing of its users.
async fn access_only(server: &AppState, dir: &Directory, id: &str) -> Result<Value, ApiError> {
    let mut v = summary(server, dir, id).await?;
    if let Some(o) = v.as_object_mut() {
        o.remove("users");
        o.remove("online");
        o.remove("custom_rules");
    }
    v["access_only"] = json!(true);
    Ok(v)
}

/// The structure as `admin` may see it after an access change.
async fn after_access(
    server: &AppState,
    admin: &AccessAdmin,
    caller: &Caller,
) -> Result<Value, ApiError> {
    let dir = server.directory().await;
    if admin.is_local() {
        let full = caller.structure(&dir, admin.id())?;
        drop(dir);
        detail(server, &full).await
    } else {
        access_only(server, &dir, admin.id()).await
    }
}

pub(crate) async fn detail(server: &AppState, admin: &StructureAdmin) -> Result<Value, ApiError> {
    let dir = server.directory().await;
    let mut v = summary(server, &dir, admin.id()).await?;
    v["rules"] = serde_json::to_value(dir.rules_for(admin.id())).unwrap_or_default();
    v["default_rules"] = serde_json::to_value(default_rules()).unwrap_or_default();
    let own = server.store().retention(admin.id()).await?;
    v["archive_retention"] = serde_json::to_value(own).unwrap_or_default();
    v["archive_retention_default"] =
        serde_json::to_value(server.config().archive.retention).unwrap_or_default();
    let name = v["name"].as_str().unwrap_or_default().to_string();
    let (upload, own) = causerie_server::features::upload::structure_settings(
        server.store(),
        &server.config().upload.default_settings(),
        admin.id(),
        &name,
    )
    .await?;
    v["upload"] = serde_json::to_value(upload).unwrap_or_default();
    v["upload_own"] = json!(own);
    let view = server.view().await;
    v["quiet_hours"] = serde_json::to_value(view.quiet_hours_of(admin.id())).unwrap_or_default();
    v["quiet_hours_own"] = json!(view.quiet_hours_set(admin.id()).is_some());
    v["shutdown"] = serde_json::to_value(view.shutdown_setting(admin.id())).unwrap_or_default();
    let photos = server.store().pupil_photos(admin.id()).await?;
    v["pupil_photos"] = json!(photos.unwrap_or(false));
    v["pupil_photos_own"] = json!(photos.is_some());
    let app =
        causerie_store::AppPasswordStore::app_password_policy(server.store(), admin.id()).await?;
    v["app_passwords"] = json!(app.unwrap_or_default());
    v["app_passwords_own"] = json!(app.is_some());
    if let Some(o) = v.as_object_mut() {
        o.remove("users");
        o.remove("online");
    }
    Ok(v)
}

/// `GET /admin/api/structures`.
pub async fn list(
    State(server): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let dir = server.directory().await;
    let mut out = Vec::new();
    for id in caller.access_structures() {
        if caller.structures().contains(&id) {
            out.push(summary(&server, &dir, &id).await?);
        } else {
            out.push(access_only(&server, &dir, &id).await?);
        }
    }
    Ok(Json(out))
}

/// `GET /admin/api/structures/{id}`.
pub async fn show(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure_access(&*server.directory().await, &id)?;
    Ok(Json(after_access(&server, &admin, &caller).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessBody {
    enabled: bool,
    profiles: Vec<Profile>,
}

/// An access body (`{"enabled", "profiles"}`): a profile listed twice is refused; the
/// profiles are kept in the canonical order whatever the order given.
pub(crate) fn parse_access(body: &[u8]) -> Result<Access, ApiError> {
    let b: AccessBody = parse_body(body)?;
    let mut seen = BTreeSet::new();
    for (i, p) in b.profiles.iter().enumerate() {
        if !seen.insert(*p) {
            return Err(ApiError::invalid(
                &format!("profiles[{i}]"),
                format!("Le profil « {} » est en double.", p.label_fr()),
                format!("The profile \"{}\" is listed twice.", p.label_en()),
            ));
        }
    }
    let profiles: Vec<Profile> = Profile::ALL
        .into_iter()
        .filter(|p| seen.contains(p))
        .collect();
    Ok(Access {
        enabled: b.enabled,
        profiles,
    })
}

/// `PUT /admin/api/structures/{id}/access`: by its local administrators, or the
/// administrators of a collectivité that covers it.
pub async fn set_access(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure_access(&*server.directory().await, &id)?;
    let access = parse_access(&body)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetAccess {
                structure: admin.id().into(),
                access,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: chat access changed");
    Ok(Json(after_access(&server, &admin, &caller).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesBody {
    rules: Vec<Rule>,
}

/// `PUT /admin/api/structures/{id}/rules`.
pub async fn set_rules(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    let b: RulesBody = parse_body(&body)?;
    if b.rules.len() > 200 {
        return Err(ApiError::invalid(
            "rules",
            "200 règles au plus.",
            "At most 200 rules.",
        ));
    }
    if let Err(e) = validate_rules(&b.rules) {
        let field = match &e.field {
            Some(f) => format!("{}.{f}", e.entry),
            None => e.entry.clone(),
        };
        return Err(ApiError::invalid(
            &field,
            "Règle impossible : une liste de profils vide ne s'applique jamais.",
            format!("Unusable rule: {}", e.reason),
        ));
    }
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetRules {
                structure: admin.id().into(),
                rules: Some(b.rules),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: rules changed");
    Ok(Json(detail(&server, &admin).await?))
}

/// `DELETE /admin/api/structures/{id}/rules`: back to the default rules.
pub async fn reset_rules(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetRules {
                structure: admin.id().into(),
                rules: None,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: rules reset");
    Ok(Json(detail(&server, &admin).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionBody {
    retention: serde_json::Value,
}

/// `PUT /admin/api/structures/{id}/archive`: `{"retention": "school_year"}` or
/// `{"retention": DAYS}` (1 to 3650).
pub async fn set_retention(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    let b: RetentionBody = parse_body(&body)?;
    let retention: Retention = serde_json::from_value(b.retention).map_err(|e| {
        ApiError::invalid(
            "retention",
            format!(
                "Durée de conservation impossible : « school_year » ou un nombre de jours (1 à {}).",
                causerie_ent::retention::MAX_DAYS
            ),
            format!("Invalid retention: {e}"),
        )
    })?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetRetention {
                structure: admin.id().into(),
                retention: Some(retention),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: archive retention changed");
    Ok(Json(detail(&server, &admin).await?))
}

/// `DELETE /admin/api/structures/{id}/archive`: back to the configured default.
pub async fn reset_retention(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetRetention {
                structure: admin.id().into(),
                retention: None,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: archive retention reset");
    Ok(Json(detail(&server, &admin).await?))
}

/// `PUT /admin/api/structures/{id}/upload`: `{"enabled": bool, "max_bytes": N, "types":
/// ["image/png", …]}`, the structure's file sharing (XEP-0363).
pub async fn set_upload(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    let settings: causerie_ent::UploadSettings = parse_body(&body)?;
    let settings = settings.validated().map_err(|e| {
        ApiError::invalid(
            "upload",
            format!(
                "Réglage impossible : une taille de 1 à {} octets et des types MIME (« image/png »).",
                causerie_ent::upload::MAX_BYTES_LIMIT
            ),
            format!("Invalid file sharing settings: {e}"),
        )
    })?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetUpload {
                structure: admin.id().into(),
                settings: Some(settings),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: file sharing changed");
    Ok(Json(detail(&server, &admin).await?))
}

/// `DELETE /admin/api/structures/{id}/upload`: back to the default (`[upload]`, off for a
/// primary school).
pub async fn reset_upload(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetUpload {
                structure: admin.id().into(),
                settings: None,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: file sharing reset");
    Ok(Json(detail(&server, &admin).await?))
}

/// `PUT /admin/api/structures/{id}/quiet-hours`: `{"time_zone": "Europe/Paris",
/// "windows": [{"profiles": ["student"], "start": "21:00", "end": "07:00"}]}` (no window:
/// no quiet hours).
pub async fn set_quiet_hours(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    let quiet: causerie_ent::QuietHours = parse_body(&body)?;
    let quiet = quiet.validated().map_err(|e| {
        ApiError::invalid(
            "quiet_hours",
            "Heures calmes impossibles : un fuseau horaire connu (Europe/Paris), des profils et des heures de début et de fin différentes.".to_string(),
            format!("Invalid quiet hours: {e}"),
        )
    })?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetQuietHours {
                structure: admin.id().into(),
                quiet: Some(quiet),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: quiet hours changed");
    Ok(Json(detail(&server, &admin).await?))
}

/// `DELETE /admin/api/structures/{id}/quiet-hours`: back to the default (`[quiet_hours]`).
pub async fn reset_quiet_hours(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetQuietHours {
                structure: admin.id().into(),
                quiet: None,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: quiet hours reset");
    Ok(Json(detail(&server, &admin).await?))
}

/// `PUT /admin/api/structures/{id}/shutdown`: `{"mode": "read_only", "message": "…"}`,
/// the structure's kill switch (`normal`, `staff_to_families`, `read_only`, `off`).
pub async fn set_shutdown(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    let shutdown: causerie_ent::Shutdown = parse_body(&body)?;
    let shutdown = shutdown.validated().map_err(|e| {
        ApiError::invalid(
            "message",
            format!(
                "Texte impossible : au plus {} caractères, sans caractère de contrôle.",
                causerie_ent::shutdown::MAX_MESSAGE_CHARS
            ),
            format!("Invalid kill switch: {e}"),
        )
    })?;
    let mode = shutdown.mode;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetShutdown {
                structure: admin.id().into(),
                shutdown,
            },
        )
        .await?;
    tracing::warn!(actor = %admin.actor(), structure = %admin.id(), mode = mode.as_str(), "admin: kill switch set");
    Ok(Json(detail(&server, &admin).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhotosBody {
    allowed: bool,
}

/// `PUT /admin/api/structures/{id}/pupil-photos`: `{"allowed": true | false}`.
pub async fn set_pupil_photos(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    let b: PhotosBody = parse_body(&body)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetPupilPhotos {
                structure: admin.id().into(),
                allowed: Some(b.allowed),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), allowed = b.allowed, "admin: pupils' photos changed");
    Ok(Json(detail(&server, &admin).await?))
}

/// `DELETE /admin/api/structures/{id}/pupil-photos`: back to the default (off).
pub async fn reset_pupil_photos(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetPupilPhotos {
                structure: admin.id().into(),
                allowed: None,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: pupils' photos reset");
    Ok(Json(detail(&server, &admin).await?))
}
