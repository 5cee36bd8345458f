//! Reports (« Signalements », XEP-0377 reports stored by the server): a structure's list,
//! one report with its copied messages and notes, its status (new, in progress, closed),
//! a note; and the structure's designated safety staff (who read them).
//!
//! Only the structure's readers see its reports ([`Caller::reports_of`]: its designated
//! safety staff, else its local administrators; super-administrators): another
//! structure's staff get `403` for its list and `404` for one of its reports. Every read
//! is written to the audit log (`report.list`, `report.read`), as every change is
//! (`report.status`, `report.note`, `structure.safety_staff`).
//!
//! The staff act from a report ([`act`], `POST /admin/api/reports/{rid}/actions`): delete
//! the reported messages (a room's: XEP-0425 moderation; one-to-one: both archives), block
//! the pair, remove the reported person from the room, lock his account, close the room.
//! Each is a `Change` applied by the server (`Change::Moderate`, `Change::Lock`) with its
//! audit row, and is noted on the report (« Action : … »). The copied messages stay.

use axum::Json;
use axum::extract::{Path, Query, State};
use causerie_ent::{Directory, Profile};
use causerie_proto::Element;
use causerie_server::changes::{Actor, Change, Moderation};
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

/// A copied message's text, never its markup: every `<body>` of the message's own
/// namespace (a client shows the one in its language: a sender could put a harmless text
/// in one language and the insult in another), each after its `xml:lang` when there are
/// several; a `<body>` in another namespace, which no client shows, is left out.
fn body_of(stanza: &str) -> String {
    let Ok(m) = stanza.parse::<Element>() else {
        return String::new();
    };
    let ns = m.ns();
    let bodies: Vec<&Element> = m
        .children()
        .filter(|c| c.name() == "body" && c.ns() == ns)
        .collect();
    match bodies.as_slice() {
        [one] => one.text(),
        many => many
            .iter()
            .map(|b| match causerie_proto::xml::lang(b) {
                Some(lang) => format!("[{lang}] {}", b.text()),
                None => b.text(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    action: String,
    /// delete_messages: which of the report's messages (default: the reported ones).
    #[serde(default)]
    stanza_ids: Option<Vec<String>>,
}

fn refused(field: &str, fr: &str, en: &str) -> ApiError {
    ApiError::invalid(field, fr, en)
}

/// `POST /admin/api/reports/{rid}/actions`: `{"action": "delete_messages" | "block" |
/// "remove_from_room" | "lock" | "close_room", "stanza_ids": [...]?}` (see the module
/// docs). Answers the report with `done`: what the action changed.
pub async fn act(
    State(server): State<AppState>,
    Path(rid): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let dir = server.directory().await;
    let (reader, d) = readable(&server, &caller, &dir, &rid).await?;
    let b: ActionBody = parse_body(&body)?;
    let r = &d.report;
    let domain = server.domain().to_string();
    let reported_login = r
        .reported
        .strip_suffix(&domain)
        .and_then(|l| l.strip_suffix('@'))
        .filter(|l| !l.is_empty() && !l.contains('/'))
        .map(str::to_string);
    let local_reported = || {
        reported_login.clone().ok_or_else(|| {
            refused(
                "action",
                "La personne signalée n'a pas de compte ici.",
                "The reported person has no account here.",
            )
        })
    };
    let the_room = || {
        r.room.clone().ok_or_else(|| {
            refused(
                "action",
                "Ce signalement ne concerne pas une conversation de groupe.",
                "This report is not about a group conversation.",
            )
        })
    };
    // What the staff do reaches the reported person (and, closing a room, its creator's
    // conversation): only within their school (docs/safety.md: another school's staff can
    // do none of this). Blocking the pair protects their own reporter and stays theirs.
    let of_this_school = |login: &str| -> Result<(), ApiError> {
        if dir
            .user(login)
            .is_some_and(|u| u.structures.iter().any(|s| s == reader.structure()))
        {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "Cette personne n'est pas de votre établissement : adressez-vous au sien.",
                "This person is not of your school: ask theirs.",
            ))
        }
    };
    if matches!(
        b.action.as_str(),
        "delete_messages" | "remove_from_room" | "close_room"
    ) {
        of_this_school(&local_reported()?)?;
    }
    if b.action == "close_room" {
        let room = the_room()?;
        let owner = causerie_store::RoomStore::room(server.store(), &room)
            .await?
            .map(|r| r.id);
        if let Some(id) = owner {
            let members = causerie_store::RoomStore::members(server.store(), id).await?;
            if let Some(o) = members
                .iter()
                .find(|m| m.affiliation == causerie_store::Affiliation::Owner)
            {
                of_this_school(&o.user)?;
            }
        }
    }
    let actor = Actor::Admin(reader.actor().into());
    let moderate = |action: Moderation| Change::Moderate {
        structure: reader.structure().into(),
        report: Some(r.id),
        action,
    };
    let (applied, note_fr) = match b.action.as_str() {
        "delete_messages" => {
            let ids = match b.stanza_ids {
                Some(ids) => ids,
                None => r.stanza_ids.clone(),
            };
            if ids.is_empty() {
                return Err(refused(
                    "stanza_ids",
                    "Aucun message n'est désigné.",
                    "No message is named.",
                ));
            }
            // Only the report's own messages (reported or copied as context).
            if let Some(bad) = ids
                .iter()
                .find(|id| !d.messages.iter().any(|m| &m.stanza_id == *id))
            {
                return Err(ApiError::invalid(
                    "stanza_ids",
                    format!("Le message « {bad} » ne fait pas partie de ce signalement."),
                    format!("Message \"{bad}\" is not part of this report."),
                ));
            }
            let action = match &r.room {
                Some(room) => Moderation::RoomMessages {
                    room: room.clone(),
                    stanza_ids: ids,
                },
                None => Moderation::DirectMessages {
                    user: r.reporter.clone(),
                    with: r.reported.clone(),
                    stanza_ids: ids,
                },
            };
            let a = server.apply(&actor, moderate(action)).await?;
            let n = a.moderated;
            (
                a,
                format!("Action : messages supprimés pour tout le monde ({n})."),
            )
        }
        "block" => {
            let a = server
                .apply(
                    &actor,
                    moderate(Moderation::BlockPair {
                        user: r.reporter.clone(),
                        blocked: r.reported.clone(),
                    }),
                )
                .await?;
            (
                a,
                "Action : la personne signalée ne peut plus joindre l'auteur du signalement."
                    .to_string(),
            )
        }
        "remove_from_room" => {
            let room = the_room()?;
            let user = local_reported()?;
            let a = server
                .apply(&actor, moderate(Moderation::RemoveFromRoom { room, user }))
                .await?;
            (
                a,
                "Action : la personne signalée a été retirée de la conversation.".to_string(),
            )
        }
        "close_room" => {
            let room = the_room()?;
            let a = server
                .apply(&actor, moderate(Moderation::CloseRoom { room }))
                .await?;
            (a, "Action : la conversation a été fermée.".to_string())
        }
        "lock" => {
            let login = local_reported()?;
            let target = caller.reported_user(&server, &dir, &reader, &login).await?;
            let a = server
                .apply(
                    &Actor::Admin(target.actor().into()),
                    Change::Lock {
                        login: target.login().into(),
                        locked: true,
                        structure: target.structure().map(Into::into),
                    },
                )
                .await?;
            (
                a,
                "Action : le compte de la personne signalée a été bloqué.".to_string(),
            )
        }
        _ => {
            return Err(refused(
                "action",
                "Action inconnue : « delete_messages », « block », « remove_from_room », « lock » ou « close_room ».",
                "Unknown action: delete_messages, block, remove_from_room, lock or close_room.",
            ));
        }
    };
    server
        .store()
        .add_report_note_audited(r.id, reader.actor(), &note_fr, now_ms())
        .await?;
    tracing::info!(actor = %reader.actor(), report = r.id, action = %b.action, "admin: report action");
    let Json(mut v) = show_after(&server, &dir, r.id).await?;
    v["done"] = json!({
        "action": b.action,
        "changed": applied.changed,
        "count": applied.moderated,
    });
    Ok(Json(v))
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

#[cfg(test)]
mod tests {
    use super::body_of;

    #[test]
    fn every_body_of_the_message_is_shown_and_no_decoy() {
        assert_eq!(
            body_of("<message xmlns='jabber:client'><body>Salut</body></message>"),
            "Salut"
        );
        // One text per language: the staff see them all.
        assert_eq!(
            body_of(
                "<message xmlns='jabber:client'><body xml:lang='en'>See you tomorrow!</body>\
                 <body xml:lang='fr'>T'es nulle</body></message>"
            ),
            "[en] See you tomorrow!\n[fr] T'es nulle"
        );
        // A body in another namespace, which no client shows, is not the message's.
        assert_eq!(
            body_of(
                "<message xmlns='jabber:client'><body xmlns='urn:example:decoy'>Bonjour</body>\
                 <body>insulte</body></message>"
            ),
            "insulte"
        );
    }
}
