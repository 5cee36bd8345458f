//! The owner's side of a room (XEP-0045 §10): its configuration form (XEP-0004), which
//! unlocks a new room (an empty submission makes an instant room), and its destruction —
//! by the owner, or when its last member has gone.
//!
//! Conversations are members-only, persistent, hidden, non-anonymous, unmoderated and
//! archived; any participant may invite and change the subject. The form shows these as
//! fixed values: a submission may repeat them but not change them (`not-acceptable`).
//! Only the name (`muc#roomconfig_roomname`, the conversation's name shown to every
//! member) and the description are settable. A field the form does not have, a field
//! given twice or with several values, or a malformed value is a `bad-request` that names
//! the field, and the room stays as it was.

use std::collections::HashSet;

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, xml};
use causerie_store::{Affiliation, Room, RoomStore};
use tracing::info;

use super::notices::{Exit, UNLOCKED_EN, UNLOCKED_FR, exit_presence};
use super::{
    NS_DATA, NS_MUC_OWNER, NS_ROOMCONFIG, body, error, no_such_room, now_ms, room_message,
    status_x, text,
};
use crate::server::Server;
use crate::services::rooms::RoomLock;
use crate::session::Session;
use crate::stanza::{IqResult, internal};

/// Options every conversation has, as the form shows them.
#[derive(Debug, Clone, Copy)]
enum Fixed {
    Bool(bool),
    Text(&'static str),
}

const FIXED: &[(&str, Fixed, &str)] = &[
    (
        "muc#roomconfig_persistentroom",
        Fixed::Bool(true),
        "Conversation conservée",
    ),
    (
        "muc#roomconfig_membersonly",
        Fixed::Bool(true),
        "Réservée aux membres invités",
    ),
    (
        "muc#roomconfig_allowinvites",
        Fixed::Bool(true),
        "Tout participant peut inviter",
    ),
    (
        "muc#roomconfig_publicroom",
        Fixed::Bool(false),
        "Visible par les non-membres",
    ),
    (
        "muc#roomconfig_moderatedroom",
        Fixed::Bool(false),
        "Conversation modérée",
    ),
    (
        "muc#roomconfig_passwordprotectedroom",
        Fixed::Bool(false),
        "Protégée par un mot de passe",
    ),
    (
        "muc#roomconfig_changesubject",
        Fixed::Bool(true),
        "Tout participant peut changer le sujet",
    ),
    (
        "muc#roomconfig_enablearchiving",
        Fixed::Bool(true),
        "Messages archivés",
    ),
    (
        "muc#roomconfig_whois",
        Fixed::Text("anyone"),
        "Adresses visibles par",
    ),
    (
        "muc#roomconfig_allowpm",
        Fixed::Text("none"),
        "Messages privés entre participants",
    ),
];

const ROOMNAME: &str = "muc#roomconfig_roomname";
const ROOMDESC: &str = "muc#roomconfig_roomdesc";
const MAXUSERS: &str = "muc#roomconfig_maxusers";

/// What a configuration form changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// Limits a submitted form is checked against.
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    pub name_chars: usize,
    pub description_chars: usize,
    pub max_users: usize,
}

fn bad(fr: String, en: String) -> StanzaError {
    error(Condition::BadRequest, fr, en)
}

/// Reads a submitted configuration form (see the module docs).
pub fn parse_config(x: &Element, limits: FormLimits) -> Result<Change, StanzaError> {
    let mut seen = HashSet::new();
    let mut change = Change::default();
    for f in x.children().filter(|c| c.is("field", NS_DATA)) {
        let Some(var) = f.attr("var") else {
            return Err(bad(
                "Un champ du formulaire n'a pas de nom (var).".into(),
                "A form field has no name (var).".into(),
            ));
        };
        if !seen.insert(var.to_string()) {
            return Err(bad(
                format!("Le champ « {var} » apparaît deux fois."),
                format!("The field \"{var}\" is given twice."),
            ));
        }
        let values: Vec<String> = f
            .children()
            .filter(|c| c.is("value", NS_DATA))
            .map(|v| v.text())
            .collect();
        let value = match values.as_slice() {
            [] => String::new(),
            [v] => v.clone(),
            _ => {
                return Err(bad(
                    format!("Le champ « {var} » n'accepte qu'une valeur."),
                    format!("The field \"{var}\" takes one value."),
                ));
            }
        };
        match var {
            "FORM_TYPE" => {
                if value != NS_ROOMCONFIG {
                    return Err(bad(
                        format!("FORM_TYPE doit être {NS_ROOMCONFIG}."),
                        format!("FORM_TYPE must be {NS_ROOMCONFIG}."),
                    ));
                }
            }
            ROOMNAME => {
                text::check_line(&value, limits.name_chars).map_err(|e| {
                    e.stanza_error("Le nom de la conversation", "The conversation's name")
                })?;
                change.title = Some(value.trim().to_string());
            }
            ROOMDESC => {
                text::check_lines(&value, limits.description_chars)
                    .map_err(|e| e.stanza_error("La description", "The description"))?;
                change.description = Some(value.trim().to_string());
            }
            MAXUSERS => match value.trim().parse::<usize>() {
                Ok(n) if n == limits.max_users => {}
                Ok(_) => {
                    return Err(fixed_error(var, &limits.max_users.to_string()));
                }
                Err(_) => {
                    return Err(bad(
                        format!("Le champ « {var} » doit être un nombre."),
                        format!("The field \"{var}\" must be a number."),
                    ));
                }
            },
            _ => match FIXED.iter().find(|(v, _, _)| *v == var) {
                Some((_, Fixed::Bool(expected), _)) => {
                    let got = match value.trim() {
                        "1" | "true" => true,
                        "0" | "false" => false,
                        _ => {
                            return Err(bad(
                                format!("Le champ « {var} » vaut 0 ou 1."),
                                format!("The field \"{var}\" is a boolean (0 or 1)."),
                            ));
                        }
                    };
                    if got != *expected {
                        return Err(fixed_error(var, if *expected { "1" } else { "0" }));
                    }
                }
                Some((_, Fixed::Text(expected), _)) => {
                    if value.trim() != *expected {
                        return Err(fixed_error(var, expected));
                    }
                }
                None => {
                    return Err(bad(
                        format!("Champ inconnu dans le formulaire de configuration : « {var} »."),
                        format!("Unknown field in the configuration form: \"{var}\"."),
                    ));
                }
            },
        }
    }
    Ok(change)
}

fn fixed_error(var: &str, value: &str) -> StanzaError {
    error(
        Condition::NotAcceptable,
        format!("L'option « {var} » est fixée à « {value} » pour toutes les conversations."),
        format!("The option \"{var}\" is fixed to \"{value}\" for every conversation."),
    )
}

fn field(var: &str, kind: &str, label: &str, values: &[&str]) -> Element {
    let mut f = xml::elem(
        "field",
        NS_DATA,
        &[("var", var), ("type", kind), ("label", label)],
    );
    for v in values {
        f.append_child(xml::text_elem("value", NS_DATA, *v));
    }
    f
}

fn option(f: &mut Element, value: &str) {
    let mut o = xml::elem("option", NS_DATA, &[("label", value)]);
    o.append_child(xml::text_elem("value", NS_DATA, value));
    f.append_child(o);
}

/// The configuration form of a room (XEP-0045 §10.2).
pub fn form(room: &Room, max_users: usize) -> Element {
    let mut q = Element::bare("query", NS_MUC_OWNER);
    let mut x = xml::elem("x", NS_DATA, &[("type", "form")]);
    x.append_child(xml::text_elem(
        "title",
        NS_DATA,
        "Configuration de la conversation",
    ));
    x.append_child(xml::text_elem(
        "instructions",
        NS_DATA,
        "Donne un nom à la conversation ; il est montré à tous ses membres. \
         (Name the conversation; every member sees its name.)",
    ));
    x.append_child(field("FORM_TYPE", "hidden", "", &[NS_ROOMCONFIG]));
    x.append_child(field(
        ROOMNAME,
        "text-single",
        "Nom de la conversation",
        &[&room.title],
    ));
    x.append_child(field(
        ROOMDESC,
        "text-single",
        "Description",
        &[&room.description],
    ));
    for (var, fixed, label) in FIXED {
        let f = match fixed {
            Fixed::Bool(b) => field(var, "boolean", label, &[if *b { "1" } else { "0" }]),
            Fixed::Text(t) => {
                let mut f = field(var, "list-single", label, &[t]);
                option(&mut f, t);
                f
            }
        };
        x.append_child(f);
    }
    let max = max_users.to_string();
    let mut f = field(MAXUSERS, "list-single", "Participants au plus", &[&max]);
    option(&mut f, &max);
    x.append_child(f);
    q.append_child(x);
    q
}

/// `muc#owner` requests: the form (get), a submission or cancellation, or `<destroy/>`.
pub async fn handle(
    server: &Server,
    session: &Session,
    room: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    let mut lock = server.rooms.lock(room).await;
    let Some(live) = lock.load(&server.store).await.map_err(internal)? else {
        return Err(no_such_room());
    };
    let member = server
        .store
        .member(live.room.id, &session.user)
        .await
        .map_err(internal)?;
    match member.map(|m| m.affiliation) {
        Some(Affiliation::Owner) => {}
        None if live.room.locked => return Err(no_such_room()),
        _ => {
            return Err(error(
                Condition::Forbidden,
                "Seul le créateur de la conversation peut la configurer ou la supprimer.",
                "Only the conversation's creator may configure or destroy it.",
            ));
        }
    }
    let limits = &server.config.muc;
    if !set {
        return Ok(Some(form(&live.room, limits.max_occupants_per_room)));
    }
    let children: Vec<&Element> = payload.children().collect();
    match children.as_slice() {
        [x] if x.is("x", NS_DATA) => match x.attr("type") {
            Some("submit") => {
                // A name or a description is read by every member: not under the kill
                // switch.
                server.gate().may_write(&session.user).await?;
                let change = parse_config(
                    x,
                    FormLimits {
                        name_chars: limits.max_name_chars,
                        description_chars: limits.max_description_chars,
                        max_users: limits.max_occupants_per_room,
                    },
                )?;
                configure(server, &mut lock, change).await
            }
            Some("cancel") => {
                // XEP-0045 §10.1.3: cancelling the first configuration removes the room.
                if lock.live.as_ref().is_some_and(|l| l.room.locked) {
                    destroy(server, &mut lock, None).await?;
                }
                Ok(None)
            }
            _ => Err(error(
                Condition::BadRequest,
                "Le formulaire se soumet avec type='submit' (ou 'cancel').",
                "Submit the form with type='submit' (or 'cancel').",
            )),
        },
        [d] if d.is("destroy", NS_MUC_OWNER) => {
            let reason = d
                .get_child("reason", NS_MUC_OWNER)
                .map(|r| r.text())
                .filter(|r| !r.trim().is_empty());
            if let Some(r) = &reason {
                text::check_lines(r, limits.max_subject_chars)
                    .map_err(|e| e.stanza_error("La raison", "The reason"))?;
                server.gate().may_write(&session.user).await?;
            }
            destroy(server, &mut lock, reason.as_deref()).await?;
            Ok(None)
        }
        _ => Err(error(
            Condition::BadRequest,
            "Attendu : un formulaire de configuration (XEP-0004) ou <destroy/>.",
            "Expected a configuration form (XEP-0004) or <destroy/>.",
        )),
    }
}

/// Saves the new configuration; unlocks a new room (the seed's « …maintenant
/// déverrouillé »), or tells the occupants the configuration changed (status 104).
async fn configure(server: &Server, lock: &mut RoomLock<'_>, change: Change) -> IqResult {
    let Some(live) = lock.live.as_mut() else {
        return Err(no_such_room());
    };
    let mut room = live.room.clone();
    if let Some(t) = change.title {
        room.title = t;
    }
    if let Some(d) = change.description {
        room.description = d;
    }
    let was_locked = room.locked;
    room.locked = false;
    server.store.save_room(&room).await.map_err(internal)?;
    live.room = room;
    let mut m = room_message(server, &live.room.name, Some("groupchat"));
    if was_locked {
        info!(room = %live.room.name, "room configured and unlocked");
        body(server.config.language, &mut m, UNLOCKED_FR, UNLOCKED_EN);
    } else {
        m.append_child(status_x(&[104]));
    }
    live.broadcast(&m);
    Ok(None)
}

/// Destroys the room: its occupants are told (XEP-0045 §10.9), then it and its
/// memberships are deleted (its archive follows the retention setting).
pub async fn destroy(
    server: &Server,
    lock: &mut RoomLock<'_>,
    reason: Option<&str>,
) -> Result<(), StanzaError> {
    let name = lock.name().to_string();
    // Messages still queued for the archive refer to the room: written first.
    server.archive.flush().await;
    server.store.delete_room(&name).await.map_err(internal)?;
    let now = now_ms();
    if let Some(live) = lock.live.take() {
        let exit = Exit {
            affiliation: "none",
            destroyed: Some(reason),
            ..Exit::default()
        };
        for occ in &live.occupants {
            occ.send(&exit_presence(server, &name, occ, &exit, true, now));
            for s in &occ.sessions {
                server.rooms.note_left(s.id(), &name);
            }
        }
    }
    info!(room = %name, "room destroyed");
    Ok(())
}

/// Destroys the room if it has no member left. Returns whether it did.
pub async fn destroy_if_memberless(
    server: &Server,
    lock: &mut RoomLock<'_>,
) -> Result<bool, StanzaError> {
    let Some(live) = lock.live.as_ref() else {
        return Ok(false);
    };
    let members = server.store.members(live.room.id).await.map_err(internal)?;
    if !members.is_empty() {
        return Ok(false);
    }
    destroy(server, lock, None).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FormLimits = FormLimits {
        name_chars: 20,
        description_chars: 50,
        max_users: 200,
    };

    fn submit(fields: &str) -> Element {
        format!("<x xmlns='jabber:x:data' type='submit'>{fields}</x>")
            .parse()
            .unwrap()
    }

    fn f(var: &str, value: &str) -> String {
        format!("<field var='{var}'><value>{value}</value></field>")
    }

    fn condition(r: Result<Change, StanzaError>) -> Condition {
        r.unwrap_err().condition
    }

    #[test]
    fn instant_room_changes_nothing() {
        assert_eq!(
            parse_config(&submit(""), LIMITS).unwrap(),
            Change::default()
        );
    }

    #[test]
    fn name_and_description() {
        let x = submit(&format!(
            "{}{}{}{}",
            f("FORM_TYPE", NS_ROOMCONFIG),
            f(ROOMNAME, " Sortie au musée "),
            f(ROOMDESC, "Jeudi"),
            f("muc#roomconfig_membersonly", "true"),
        ));
        let c = parse_config(&x, LIMITS).unwrap();
        assert_eq!(c.title.as_deref(), Some("Sortie au musée"));
        assert_eq!(c.description.as_deref(), Some("Jeudi"));
    }

    #[test]
    fn the_form_resubmitted_as_is_is_accepted() {
        let room = Room {
            id: 1,
            name: "r".into(),
            title: "T".into(),
            description: "D".into(),
            subject: String::new(),
            subject_by: String::new(),
            locked: true,
            created_ms: 0,
        };
        let mut form = form(&room, 200).get_child("x", NS_DATA).unwrap().clone();
        xml::set_attr(&mut form, "type", "submit");
        let c = parse_config(&form, LIMITS).unwrap();
        assert_eq!(c.title.as_deref(), Some("T"));
    }

    #[test]
    fn malformed_forms_are_refused() {
        assert_eq!(
            condition(parse_config(
                &submit(&f("muc#roomconfig_colour", "red")),
                LIMITS
            )),
            Condition::BadRequest
        );
        assert_eq!(
            condition(parse_config(
                &submit("<field><value>x</value></field>"),
                LIMITS
            )),
            Condition::BadRequest
        );
        let twice = format!("{}{}", f(ROOMNAME, "a"), f(ROOMNAME, "b"));
        assert_eq!(
            condition(parse_config(&submit(&twice), LIMITS)),
            Condition::BadRequest
        );
        let two_values =
            format!("<field var='{ROOMNAME}'><value>a</value><value>b</value></field>");
        assert_eq!(
            condition(parse_config(&submit(&two_values), LIMITS)),
            Condition::BadRequest
        );
        assert_eq!(
            condition(parse_config(&submit(&f("FORM_TYPE", "urn:x")), LIMITS)),
            Condition::BadRequest
        );
        assert_eq!(
            condition(parse_config(
                &submit(&f("muc#roomconfig_membersonly", "maybe")),
                LIMITS
            )),
            Condition::BadRequest
        );
        assert_eq!(
            condition(parse_config(&submit(&f(MAXUSERS, "lots")), LIMITS)),
            Condition::BadRequest
        );
    }

    #[test]
    fn fixed_options_cannot_change() {
        for (var, value) in [
            ("muc#roomconfig_membersonly", "0"),
            ("muc#roomconfig_publicroom", "1"),
            ("muc#roomconfig_whois", "moderators"),
            (MAXUSERS, "5"),
        ] {
            assert_eq!(
                condition(parse_config(&submit(&f(var, value)), LIMITS)),
                Condition::NotAcceptable,
                "{var}"
            );
        }
    }

    #[test]
    fn huge_or_tricky_names_are_refused() {
        let long = "x".repeat(21);
        let e = parse_config(&submit(&f(ROOMNAME, &long)), LIMITS).unwrap_err();
        assert_eq!(e.condition, Condition::NotAcceptable);
        assert!(e.texts.iter().any(|(_, t)| t.contains("20")));
        assert_eq!(
            condition(parse_config(&submit(&f(ROOMNAME, "a\u{202E}b")), LIMITS)),
            Condition::NotAcceptable
        );
        assert_eq!(
            condition(parse_config(&submit(&f(ROOMDESC, &"d".repeat(51))), LIMITS)),
            Condition::NotAcceptable
        );
    }
}
