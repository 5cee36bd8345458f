//! Moderated retraction of a room's message (XEP-0425 `urn:xmpp:message-moderate:1`, with
//! XEP-0424 `urn:xmpp:message-retract:1`): a message deleted for everyone.
//!
//! A client asks with `<moderate id='STANZA-ID'><retract/>[<reason/>]</moderate>` in an IQ
//! set to the room's bare JID. Only the room's owner (its creator) may: anyone else gets
//! `forbidden` with a text. The school's safety staff and local administrators do the same
//! from the console ([`retract`], through `Server::moderate`).
//!
//! What happens ([`retract`]): the archive writer is flushed; the message's row in the
//! rooms' archive keeps its place but its stanza is replaced by a tombstone
//! (`<retracted stamp/>` with `<moderated by/>`, the original stanza-id, no body: the text
//! is gone from the database), with the audit row (`room.message_moderated`: who, when, the
//! room, the stanza-id and the sender, never the text) in one transaction; then every
//! occupant gets the retraction (`<retract id/>` with `<moderated by/>` and a fallback body
//! « Un message a été supprimé par la modération. » for clients that do not know it).
//! History and MAM queries afterwards return the tombstone. Retracting a tombstone again
//! changes nothing.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{Affiliation, ModerationStore, NewAudit, RoomStore};
use serde_json::json;
use tracing::info;

use super::{
    NS_SID, body, error, no_such_room, now_ms, occupant_jid, room_jid, room_message, stamp, text,
};
use crate::server::Server;
use crate::services::rooms::Live;
use crate::session::Session;
use crate::stanza::{IqResult, internal};

/// The fallback body of a retraction, for clients that do not know XEP-0424.
pub const RETRACTED_FR: &str = "Un message a été supprimé par la modération.";
pub const RETRACTED_EN: &str = "A message was deleted by the moderators.";

/// Who moderates, for the stanzas and the audit log.
#[derive(Debug, Clone)]
pub struct Moderator {
    /// The login written in the audit log.
    pub actor: String,
    /// The structure the audit row belongs to.
    pub structure: Option<String>,
    /// The `by` of `<moderated/>`: the owner's occupant JID, or the room's JID for the
    /// school's staff (whose name is not shown to the occupants).
    pub by: String,
}

fn only_the_owner() -> StanzaError {
    error(
        Condition::Forbidden,
        "Seul le créateur de la conversation (ou l'équipe de vie scolaire de l'établissement) peut supprimer un message pour tout le monde.",
        "Only the conversation's creator (or the school's safety staff) may delete a message for everyone.",
    )
}

fn no_such_message() -> StanzaError {
    error(
        Condition::ItemNotFound,
        "Ce message n'est pas dans l'archive de cette conversation.",
        "This message is not in this conversation's archive.",
    )
}

/// `<moderate/>` in an IQ set to the room (see the module docs).
pub async fn handle(
    server: &Server,
    session: &Session,
    room: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    if !set {
        return Err(error(
            Condition::BadRequest,
            "Une demande de modération est une requête « set ».",
            "A moderation request is an IQ set.",
        ));
    }
    let Some(id) = payload.attr("id").filter(|i| !i.is_empty()) else {
        return Err(error(
            Condition::BadRequest,
            "La demande de modération ne nomme aucun message (attribut id).",
            "The moderation request names no message (attribute id).",
        ));
    };
    if payload.get_child("retract", ns::RETRACT).is_none() {
        return Err(error(
            Condition::FeatureNotImplemented,
            "Seule la suppression (<retract/>) d'un message est possible.",
            "Only the retraction (<retract/>) of a message is supported.",
        ));
    }
    let reason = payload
        .get_child("reason", ns::MODERATE)
        .map(|r| r.text())
        .filter(|r| !r.trim().is_empty());
    if let Some(r) = &reason {
        text::check_lines(r, server.config.muc.max_subject_chars)
            .map_err(|e| e.stanza_error("La raison", "The reason"))?;
    }
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
            info!(room = %room, "moderation refused: not the owner");
            return Err(only_the_owner());
        }
    }
    let by = match live.by_user(&session.user) {
        Some(i) => occupant_jid(server, room, &live.occupants[i].nick),
        None => room_jid(server, room),
    };
    let structure = server
        .directory()
        .await
        .user(&session.user)
        .and_then(|u| u.structures.first().cloned());
    let moderator = Moderator {
        actor: session.user.clone(),
        structure,
        by,
    };
    retract(server, room, Some(live), id, &moderator, reason.as_deref()).await?;
    Ok(None)
}

/// Retracts message `stanza_id` of room `room` for everyone (see the module docs): its
/// occupants (`live`, when the room still exists) get the retraction. Returns whether it
/// was retracted now (false: it already was).
pub async fn retract(
    server: &Server,
    room: &str,
    live: Option<&Live>,
    stanza_id: &str,
    moderator: &Moderator,
    reason: Option<&str>,
) -> Result<bool, StanzaError> {
    // What was delivered is in the archive before it is looked for.
    server.archive.flush().await;
    let name = room.to_string();
    let Some(found) = server
        .store
        .room_archived(&name, stanza_id)
        .await
        .map_err(internal)?
    else {
        return Err(no_such_message());
    };
    let original: Element = found.stanza.parse().map_err(|_| {
        error(
            Condition::InternalServerError,
            "Ce message archivé est illisible.",
            "This archived message cannot be read.",
        )
    })?;
    if is_tombstone(&original) {
        return Ok(false);
    }
    let now = now_ms();
    let tomb = tombstone(&original, &moderator.by, now, reason);
    let audit = NewAudit {
        actor: moderator.actor.clone(),
        action: "room.message_moderated".into(),
        structure: moderator.structure.clone(),
        target: Some(name.clone()),
        before: Some(json!({"stanza_id": stanza_id, "sender": found.with})),
        after: Some(json!({"retracted": true, "reason": reason})),
    };
    server
        .store
        .retract_room_message_audited(&name, stanza_id, &xml::to_string(&tomb), &audit)
        .await
        .map_err(internal)?;
    if let Some(live) = live {
        live.broadcast(&retraction(server, &name, stanza_id, &moderator.by, reason));
    }
    info!(room = %name, actor = %moderator.actor, "room message moderated");
    Ok(true)
}

/// Whether an archived stanza is already a tombstone.
pub fn is_tombstone(stanza: &Element) -> bool {
    stanza.get_child("retracted", ns::RETRACT).is_some()
}

/// The tombstone of `original`: its envelope (`from`, `to`, `type`, `id`), stanza-ids and
/// origin-id,
/// `<retracted stamp/>` with `<moderated by/>` (and the reason), nothing else.
pub fn tombstone(original: &Element, by: &str, now: i64, reason: Option<&str>) -> Element {
    let mut out = Element::bare("message", ns::CLIENT);
    for a in ["from", "to", "type", "id"] {
        if let Some(v) = original.attr(a) {
            xml::set_attr(&mut out, a, v);
        }
    }
    let mut retracted = xml::elem("retracted", ns::RETRACT, &[("stamp", &stamp(now))]);
    retracted.append_child(xml::elem("moderated", ns::MODERATE, &[("by", by)]));
    if let Some(r) = reason {
        retracted.append_child(xml::text_elem("reason", ns::RETRACT, r));
    }
    out.append_child(retracted);
    for sid in original
        .children()
        .filter(|c| c.is("stanza-id", NS_SID) || c.is("origin-id", NS_SID))
    {
        out.append_child(sid.clone());
    }
    out
}

/// `<retract id/>` with `<moderated by/>` (and the reason) inside `message`.
pub fn retract_element(stanza_id: &str, by: &str, reason: Option<&str>) -> Element {
    let mut retract = xml::elem("retract", ns::RETRACT, &[("id", stanza_id)]);
    retract.append_child(xml::elem("moderated", ns::MODERATE, &[("by", by)]));
    if let Some(r) = reason {
        retract.append_child(xml::text_elem("reason", ns::RETRACT, r));
    }
    retract
}

/// The retraction the occupants receive, from the room, with a fallback body.
fn retraction(
    server: &Server,
    room: &str,
    stanza_id: &str,
    by: &str,
    reason: Option<&str>,
) -> Element {
    let mut m = room_message(server, room, Some("groupchat"));
    m.append_child(retract_element(stanza_id, by, reason));
    m.append_child(xml::elem("fallback", ns::FALLBACK, &[("for", ns::RETRACT)]));
    body(server.config.language, &mut m, RETRACTED_FR, RETRACTED_EN);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tombstone_keeps_the_envelope_and_ids_not_the_text() {
        let original: Element =
            "<message xmlns='jabber:client' from='r@conference.x/Léa' type='groupchat' id='m1'>\
             <body>Tu es nul</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='r@conference.x'/>\
             <x xmlns='jabber:x:oob'><url>https://x/f.png</url></x>\
             </message>"
                .parse()
                .unwrap();
        let t = tombstone(&original, "r@conference.x/Hugo", 0, Some("insulte"));
        let text = xml::to_string(&t);
        assert!(
            !text.contains("Tu es nul") && !text.contains("f.png"),
            "{text}"
        );
        assert_eq!(t.attr("from"), Some("r@conference.x/Léa"));
        assert_eq!(t.attr("type"), Some("groupchat"));
        assert!(is_tombstone(&t));
        assert!(!is_tombstone(&original));
        let r = t.get_child("retracted", ns::RETRACT).unwrap();
        assert_eq!(r.attr("stamp"), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(
            r.get_child("moderated", ns::MODERATE).unwrap().attr("by"),
            Some("r@conference.x/Hugo")
        );
        assert_eq!(
            t.get_child("stanza-id", NS_SID).unwrap().attr("id"),
            Some("s1")
        );
    }
}
