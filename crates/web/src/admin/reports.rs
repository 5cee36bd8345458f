//! Reports (« Signalements », XEP-0377 reports stored by the server): a structure's list,
//! one report with its copied messages and notes, its status (new, in progress, closed),
//! a note; and the structure's designated safety staff (who read them).
//!
//! Only the structure's readers see its reports ([`Caller::reports_of`]: its designated
//! safety staff, else its local administrators; super-administrators): another
//! structure's staff get `403` for its list and `404` for one of its reports. Every read
//! is written to the audit log (`report.list`, `report.read`), as every change is
//! (`report.status`, `report.note`, `structure.safety_staff`).

use axum::Json;
use axum::extract::{Path, Query, State};
use causerie_ent::{Directory, Profile};
use causerie_proto::Element;
use causerie_server::changes::{Actor, Change};
use causerie_store::{
    AdminStore, NewAudit, Report, ReportDetail, ReportStatus, ReportStore, StoreError,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Caller, ReportReader};
use super::{ApiError, AppState, clean_name, limit, now_ms, parse_body, rfc3339_ms};

/// Longest note, in characters.
const MAX_NOTE_CHARS: usize = 2000;

/// A person as a report shows him: his JID, and his login, name and profile when he is in
/// the directory.
fn person(dir: &Directory, domain: &str, jid: &str) -> Value {
    let login = jid
        .strip_suffix(domain)
        .and_then(|l| l.strip_suffix('@'))
        .unwrap_or("");
    match dir.user(login) {
        Some(u) => json!({
            "jid": jid,
            "login": u.login,
            "name": u.display_name(),
            "profile": u.profile.as_str(),
        }),
        None => json!({ "jid": jid }),
    }
}

fn report_json(dir: &Directory, domain: &str, r: &Report) -> Value {
    json!({
        "id": r.id,
        "structure": r.structure,
        "reporter": person(dir, domain, &format!("{}@{domain}", r.reporter)),
        "reported": person(dir, domain, &r.reported),
        "room": r.room,
        "reason": r.reason.as_str(),
        "text": r.text,
        "stanza_ids": r.stanza_ids,
        "status": r.status.as_str(),
        "created": rfc3339_ms(r.created_ms),
        "updated": rfc3339_ms(r.updated_ms),
    })
}

/// A copied message's text: its `<body>` (the first), never its markup.
fn body_of(stanza: &str) -> String {
    stanza
        .parse::<Element>()
        .ok()
        .and_then(|m| m.children().find(|c| c.name() == "body").map(|b| b.text()))
        .unwrap_or_default()
}

fn detail_json(dir: &Directory, domain: &str, d: &ReportDetail) -> Value {
    let mut v = report_json(dir, domain, &d.report);
    v["messages"] = d
        .messages
        .iter()
        .map(|m| {
            json!({
                "stanza_id": m.stanza_id,
                "sender": person(dir, domain, &m.sender),
                "body": body_of(&m.stanza),
                "time": rfc3339_ms(m.stamp_ms),
                "reported": m.reported,
            })
        })
        .collect();
    v["notes"] = d
        .notes
        .iter()
        .map(|n| {
            json!({
                "author": n.author,
                "author_name": dir.user(&n.author).map(|u| u.display_name()),
                "text": n.text,
                "time": rfc3339_ms(n.created_ms),
            })
        })
        .collect();
    v
}

async fn audit_read(
    server: &AppState,
    reader: &ReportReader,
    action: &str,
    target: Option<String>,
) -> Result<(), ApiError> {
    server
        .store()
        .audit(&NewAudit {
            actor: reader.actor().into(),
            action: action.into(),
            structure: Some(reader.structure().into()),
            target,
            before: None,
            after: None,
        })
        .await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
}

/// `GET /admin/api/structures/{id}/reports[?limit=N]`: newest first (100 by default,
/// 1000 at most).
pub async fn list(
    State(server): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let dir = server.directory().await;
    let reader = caller.reports_of(&dir, &id)?;
    let n = limit(q.limit.as_deref(), 100, 1000)?;
    let reports = server
        .store()
        .reports(reader.structure(), i64::try_from(n).unwrap_or(1000))
        .await?;
    audit_read(&server, &reader, "report.list", None).await?;
    Ok(Json(
        reports
            .iter()
            .map(|r| report_json(&dir, server.domain(), r))
            .collect(),
    ))
}

/// The report `rid` and the right to read it: `404` when it does not exist or is of a
/// structure whose reports the caller does not read (not revealed).
async fn readable(
    server: &AppState,
    caller: &Caller,
    dir: &Directory,
    rid: &str,
) -> Result<(ReportReader, ReportDetail), ApiError> {
    let id: i64 = rid.parse().map_err(|_| ApiError::not_found())?;
    let d = server
        .store()
        .report(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let reader = caller
        .reports_of(dir, &d.report.structure)
        .map_err(|_| ApiError::not_found())?;
    Ok((reader, d))
}

/// `GET /admin/api/reports/{rid}`: the report with its messages and notes.
pub async fn show(
    State(server): State<AppState>,
    Path(rid): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let (reader, d) = readable(&server, &caller, &dir, &rid).await?;
    audit_read(
        &server,
        &reader,
        "report.read",
        Some(d.report.id.to_string()),
    )
    .await?;
    Ok(Json(detail_json(&dir, server.domain(), &d)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

/// `PUT /admin/api/reports/{rid}/status`: `{"status": "new" | "in_progress" | "closed"}`.
pub async fn set_status(
    State(server): State<AppState>,
    Path(rid): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let (reader, d) = readable(&server, &caller, &dir, &rid).await?;
    let b: StatusBody = parse_body(&body)?;
    let status = ReportStatus::parse(&b.status).ok_or_else(|| {
        ApiError::invalid(
            "status",
            "Statut inconnu : « new », « in_progress » ou « closed ».",
            "Unknown status: new, in_progress or closed.",
        )
    })?;
    server
        .store()
        .set_report_status_audited(d.report.id, status, reader.actor(), now_ms())
        .await?;
    tracing::info!(actor = %reader.actor(), report = d.report.id, status = status.as_str(), "admin: report status changed");
    show_after(&server, &dir, d.report.id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

/// `POST /admin/api/reports/{rid}/notes`: `{"text": "…"}` (1 to 2000 characters).
pub async fn add_note(
    State(server): State<AppState>,
    Path(rid): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let (reader, d) = readable(&server, &caller, &dir, &rid).await?;
    let b: NoteBody = parse_body(&body)?;
    let text = clean_note(&b.text)?;
    server
        .store()
        .add_report_note_audited(d.report.id, reader.actor(), &text, now_ms())
        .await?;
    tracing::info!(actor = %reader.actor(), report = d.report.id, "admin: report note added");
    show_after(&server, &dir, d.report.id).await
}

/// A note: trimmed, 1 to [`MAX_NOTE_CHARS`] characters; line breaks and tabs kept, other
/// control characters refused.
fn clean_note(text: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ApiError::invalid(
            "text",
            "La note est vide.",
            "The note is empty.",
        ));
    }
    if t.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(
            "text",
            format!("{MAX_NOTE_CHARS} caractères au plus."),
            format!("At most {MAX_NOTE_CHARS} characters."),
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::invalid(
            "text",
            "Caractères de contrôle interdits.",
            "Control characters are not allowed.",
        ));
    }
    Ok(t.to_string())
}

async fn show_after(server: &AppState, dir: &Directory, id: i64) -> Result<Json<Value>, ApiError> {
    let d = server
        .store()
        .report(id)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Json(detail_json(dir, server.domain(), &d)))
}

/// The safety staff JSON of a structure: the named ones (null: none named) and who reads
/// its reports now (the named ones, else its CPE and direction, else its local
/// administrators).
async fn staff_json(server: &AppState, dir: &Directory, id: &str) -> Result<Value, ApiError> {
    let own = server.store().safety_staff(id).await?;
    let holders: Vec<String> = dir
        .safety_function_holders(id)
        .iter()
        .map(|u| u.login.clone())
        .collect();
    let readers: Vec<String> = match &own {
        Some(l) => l.clone(),
        None if !holders.is_empty() => holders,
        None => server
            .store()
            .admin_grants()
            .await?
            .into_iter()
            .filter(|g| g.structure == id)
            .map(|g| g.login)
            .collect(),
    };
    let people = |logins: &[String]| -> Vec<Value> {
        logins
            .iter()
            .map(|l| {
                json!({
                    "login": l,
                    "name": dir.user(l).map(|u| u.display_name()),
                })
            })
            .collect()
    };
    Ok(json!({
        "structure": id,
        "safety_staff": own.as_deref().map(people),
        "readers": people(&readers),
        "candidates": dir
            .structure_members(id)
            .iter()
            .filter(|u| matches!(u.profile, Profile::Teacher | Profile::Personnel))
            .map(|u| json!({"login": u.login, "name": u.display_name()}))
            .collect::<Vec<_>>(),
    }))
}

/// `GET /admin/api/structures/{id}/safety-staff` (its administrators and readers).
pub async fn get_staff(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    if caller.structure(&dir, &id).is_err() {
        caller.reports_of(&dir, &id)?;
    }
    Ok(Json(staff_json(&server, &dir, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffBody {
    logins: Vec<String>,
}

/// `PUT /admin/api/structures/{id}/safety-staff`: `{"logins": ["…"]}`, teachers or staff
/// of the structure (its administrators only).
pub async fn set_staff(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    let b: StaffBody = parse_body(&body)?;
    let logins = b
        .logins
        .iter()
        .map(|l| clean_name("logins", l, 256))
        .collect::<Result<Vec<_>, _>>()?;
    if logins.is_empty() {
        return Err(ApiError::invalid(
            "logins",
            "Nommez au moins une personne (ou revenez au choix par défaut).",
            "Name at least one person (or reset to the default).",
        ));
    }
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetSafetyStaff {
                structure: admin.id().into(),
                logins: Some(logins),
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: safety staff changed");
    let dir = server.directory().await;
    Ok(Json(staff_json(&server, &dir, admin.id()).await?))
}

/// `DELETE /admin/api/structures/{id}/safety-staff`: back to the default (its local
/// administrators).
pub async fn reset_staff(
    State(server): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let admin = caller.structure(&*server.directory().await, &id)?;
    server
        .apply(
            &Actor::Admin(admin.actor().into()),
            Change::SetSafetyStaff {
                structure: admin.id().into(),
                logins: None,
            },
        )
        .await?;
    tracing::info!(actor = %admin.actor(), structure = %admin.id(), "admin: safety staff reset");
    let dir = server.directory().await;
    Ok(Json(staff_json(&server, &dir, admin.id()).await?))
}
