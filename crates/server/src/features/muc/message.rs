//! Messages to a room (XEP-0045 §7.4, §8.1): groupchat messages go to every occupant,
//! the sender included, from `room@conference.DOMAIN/nick`; one with a body gets an
//! XEP-0359 stanza-id whose `by` is the room, is serialised once for every occupant and
//! queued for the archive in the order of the fan-out (`super::archive` writes it in a
//! batch, off the room's lock; readers of the archive flush it first). A groupchat message with a subject and
//! no body changes the subject (kept in the store). Messages to the room's bare JID that
//! are not groupchat carry invitations or declines ([`super::invite`]).
//!
//! Private messages between occupants are refused: the school's rules decide who may
//! write to whom, and a room must not become a way around them.

use crate::stanza::addressed;
use causerie_ent::Text;
use causerie_proto::errors::Condition;
use causerie_proto::{Element, ns, xml};
use causerie_store::{ArchiveEntry, ArchivedMessage, RoomStore};

use super::{
    NS_MUC_USER, NS_SID, error, invite, no_such_room, now_ms, occupant_jid, room_jid, text,
};
use crate::outbound::Shared;
use crate::server::Server;
use crate::session::Session;
use crate::session::reply_error;
use crate::stanza::MucDest;
use crate::stanza::internal;

pub async fn handle(server: &Server, session: &Session, stanza: Element, dest: MucDest) {
    let kind = stanza.attr("type").unwrap_or("normal").to_string();
    if kind == "error" {
        return;
    }
    let MucDest::Room { room, nick } = dest else {
        if stanza.get_child("body", ns::CLIENT).is_some() {
            reply_error(session, &stanza, Condition::ServiceUnavailable);
        }
        return;
    };
    if nick.is_some() {
        reply_error(
            session,
            &stanza,
            addressed(
                Condition::NotAcceptable,
                Text::new(
                    "Les messages privés ne sont pas possibles dans une conversation : écris à toute la conversation.",
                    "Les messages privés ne sont pas possibles dans une conversation : écrivez à toute la conversation.",
                    "Private messages are not available in a conversation: write to the whole conversation.",
                ),
            ),
        );
        return;
    }
    if kind == "groupchat" {
        groupchat(server, session, stanza, &room).await;
    } else if let Some(x) = stanza.get_child("x", NS_MUC_USER).cloned() {
        invite::mediated(server, session, stanza, &room, &x).await;
    } else {
        reply_error(
            session,
            &stanza,
            error(
                Condition::BadRequest,
                "Les messages d'une conversation sont de type « groupchat ».",
                "Messages to a conversation are of type groupchat.",
            ),
        );
    }
}

/// The message the occupants receive: from the sender's occupant JID, the client's
/// payloads kept, except what only the room may say (stanza-ids by the room, delays,
/// `muc#user` data).
fn reflected(stanza: &Element, from: &str, room: &str) -> Element {
    let mut out = xml::elem(
        "message",
        ns::CLIENT,
        &[("from", from), ("type", "groupchat")],
    );
    if let Some(id) = stanza.attr("id") {
        xml::set_attr(&mut out, "id", id);
    }
    if let Some(lang) = xml::lang(stanza) {
        xml::set_lang(&mut out, lang);
    }
    for child in stanza.children() {
        let forged_id = child.is("stanza-id", NS_SID) && child.attr("by") == Some(room);
        if forged_id || child.is("delay", ns::DELAY) || child.is("x", NS_MUC_USER) {
            continue;
        }
        out.append_child(child.clone());
    }
    out
}

async fn groupchat(server: &Server, session: &Session, stanza: Element, room: &str) {
    // An account that may no longer chat (deactivated, locked, access off) does not
    // post, nor one over its messages a minute.
    let with_body = stanza.children().any(|c| c.name() == "body");
    if let Err(e) = server.gate().room_message(&session.user, &stanza).await {
        reply_error(session, &stanza, e);
        return;
    }
    let mut lock = server.rooms.lock(room).await;
    let live = match lock.load(&server.store).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            reply_error(session, &stanza, no_such_room());
            return;
        }
        Err(e) => {
            reply_error(session, &stanza, internal(e));
            return;
        }
    };
    let Some(idx) = live.by_session(session.id()) else {
        reply_error(
            session,
            &stanza,
            addressed(
                Condition::NotAcceptable,
                Text::new(
                    "Entre dans la conversation avant d'y écrire.",
                    "Entrez dans la conversation avant d'y écrire.",
                    "Enter the conversation before writing to it.",
                ),
            ),
        );
        return;
    };
    let has_subject = stanza.get_child("subject", ns::CLIENT).is_some();
    if (with_body || has_subject)
        && let Some(e) = super::school_year::refusal(server, &live.room)
    {
        reply_error(session, &stanza, e);
        return;
    }
    let nick = live.occupants[idx].nick.clone();
    let from = occupant_jid(server, room, &nick);
    let by = room_jid(server, room);
    let mut out = reflected(&stanza, &from, &by);
    let has_body = stanza.get_child("body", ns::CLIENT).is_some();
    if !has_body && let Some(subject) = stanza.get_child("subject", ns::CLIENT) {
        let subject = subject.text();
        if let Err(e) = text::check_lines(&subject, server.config.muc.max_subject_chars) {
            reply_error(session, &stanza, e.stanza_error("Le sujet", "The subject"));
            return;
        }
        let mut updated = live.room.clone();
        updated.subject = subject.trim().to_string();
        updated.subject_by = if updated.subject.is_empty() {
            String::new()
        } else {
            nick
        };
        if let Err(e) = server.store.save_room(&updated).await {
            reply_error(session, &stanza, internal(e));
            return;
        }
        live.room = updated;
        live.broadcast(&out);
        return;
    }
    if has_body {
        // Time-ordered, as 1:1 messages' (features/message.rs).
        let stanza_id = crate::stanza::time_ordered_id();
        out.append_child(xml::elem(
            "stanza-id",
            NS_SID,
            &[("id", &stanza_id), ("by", &by)],
        ));
        // Serialised once: the archive's copy and every occupant's.
        let Some(shared) = Shared::new(&out) else {
            reply_error(session, &stanza, Condition::InternalServerError);
            return;
        };
        let queued = server.archive.submit(ArchiveEntry {
            room_id: live.room.id,
            room: live.room.name.clone(),
            message: ArchivedMessage {
                stanza_id,
                sender: session.user.clone(),
                nick,
                stanza: shared.text().to_string(),
                stamp_ms: now_ms(),
            },
        });
        if !queued {
            reply_error(
                session,
                &stanza,
                addressed(
                    Condition::InternalServerError,
                    Text::new(
                        "Le message n'a pas pu être enregistré ; réessaie.",
                        "Le message n'a pas pu être enregistré ; réessayez.",
                        "The message could not be stored; try again.",
                    ),
                ),
            );
            return;
        }
        live.broadcast_shared(&shared);
        return;
    }
    live.broadcast(&out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflected_messages_drop_what_only_the_room_may_say() {
        let sent: Element = "<message xmlns='jabber:client' type='groupchat' id='m1' xml:lang='fr' to='r@conference.x'>\
             <body>Salut 👋</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='r@conference.x'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='other' by='someone@x'/>\
             <delay xmlns='urn:xmpp:delay' stamp='2000-01-01T00:00:00Z'/>\
             <x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x>\
             <active xmlns='http://jabber.org/protocol/chatstates'/>\
             </message>"
            .parse()
            .unwrap();
        let out = reflected(&sent, "r@conference.x/Léa", "r@conference.x");
        assert_eq!(out.attr("from"), Some("r@conference.x/Léa"));
        assert_eq!(out.attr("to"), None);
        assert_eq!(out.attr("id"), Some("m1"));
        assert_eq!(xml::lang(&out), Some("fr"));
        let names: Vec<_> = out.children().map(|c| c.name().to_string()).collect();
        assert_eq!(names, vec!["body", "stanza-id", "active"]);
        assert_eq!(
            out.get_child("stanza-id", NS_SID).unwrap().attr("by"),
            Some("someone@x")
        );
    }
}
