//! Service discovery (XEP-0030) of the conversation service and its rooms.
//!
//! - `conference.DOMAIN` info: a `conference/text` service with MUC features; items: the
//!   rooms the asker is a member of (rooms are hidden from everyone else), with their
//!   names.
//! - A room's info (members only; `item-not-found` for others): its name, its features
//!   (members-only, persistent, hidden, non-anonymous, archived with MAM and stanza-ids,
//!   moderated retraction: XEP-0424/0425) and the `muc#roominfo` form (name, description,
//!   subject, occupants count). With the node `x-roomuser-item`, the nickname the asker
//!   would get (XEP-0045 §7.2.3: the directory's « NOM Prénom » for directory users).
//! - A room's items: its occupants (members only).

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{Room, RoomMember, RoomStore};

use super::{
    NS_DATA, NS_MAM, NS_MUC, NS_MUC_UNIQUE, NS_ROOMINFO, NS_SID, display_name, no_such_room,
    occupant_jid, room_jid, title,
};
use crate::server::Server;
use crate::services::rooms::Live;
use crate::session::Session;
use crate::stanza::{IqResult, internal};

const NODE_ROOMUSER: &str = "x-roomuser-item";

/// Features of every room.
const ROOM_FEATURES: &[&str] = &[
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    NS_MUC,
    "muc_membersonly",
    "muc_persistent",
    "muc_hidden",
    "muc_nonanonymous",
    "muc_unmoderated",
    "muc_unsecured",
    "http://jabber.org/protocol/muc#stable_id",
    "http://jabber.org/protocol/muc#self-ping-optimization",
    NS_MAM,
    NS_SID,
    ns::RETRACT,
    ns::MODERATE,
];

fn identity(name: &str) -> Element {
    xml::elem(
        "identity",
        ns::DISCO_INFO,
        &[("category", "conference"), ("type", "text"), ("name", name)],
    )
}

fn feature(var: &str) -> Element {
    xml::elem("feature", ns::DISCO_INFO, &[("var", var)])
}

fn unknown_node() -> StanzaError {
    StanzaError::new(Condition::ItemNotFound)
}

pub fn service_info(payload: &Element) -> IqResult {
    if payload.attr("node").is_some() {
        return Err(unknown_node());
    }
    let mut q = Element::bare("query", ns::DISCO_INFO);
    q.append_child(identity("Conversations"));
    for f in [
        ns::DISCO_INFO,
        ns::DISCO_ITEMS,
        NS_MUC,
        NS_MUC_UNIQUE,
        ns::PING,
    ] {
        q.append_child(feature(f));
    }
    Ok(Some(q))
}

/// The rooms the asker is a member of.
pub async fn service_items(server: &Server, session: &Session, payload: &Element) -> IqResult {
    if payload.attr("node").is_some() {
        return Err(unknown_node());
    }
    let rooms = server
        .store
        .rooms_of(&session.user)
        .await
        .map_err(internal)?;
    let mut q = Element::bare("query", ns::DISCO_ITEMS);
    for r in rooms {
        q.append_child(xml::elem(
            "item",
            ns::DISCO_ITEMS,
            &[("jid", &room_jid(server, &r.name)), ("name", title(&r))],
        ));
    }
    Ok(Some(q))
}

/// The room, its live state and the asker's membership; `item-not-found` for non-members.
async fn member_view(
    server: &Server,
    session: &Session,
    room: &str,
    f: impl FnOnce(&Room, Option<&Live>, &RoomMember) -> Element,
) -> IqResult {
    let mut lock = server.rooms.lock(room).await;
    let Some(live) = lock.load(&server.store).await.map_err(internal)? else {
        return Err(no_such_room());
    };
    let Some(member) = server
        .store
        .member(live.room.id, &session.user)
        .await
        .map_err(internal)?
    else {
        return Err(no_such_room());
    };
    Ok(Some(f(&live.room, Some(live), &member)))
}

fn form_field(var: &str, value: &str) -> Element {
    let mut f = xml::elem("field", NS_DATA, &[("var", var)]);
    f.append_child(xml::text_elem("value", NS_DATA, value));
    f
}

pub async fn room_info(
    server: &Server,
    session: &Session,
    room: &str,
    payload: &Element,
) -> IqResult {
    match payload.attr("node") {
        None => {
            member_view(server, session, room, |r, live, _| {
                let mut q = Element::bare("query", ns::DISCO_INFO);
                q.append_child(identity(title(r)));
                for f in ROOM_FEATURES {
                    q.append_child(feature(f));
                }
                let mut x = xml::elem("x", NS_DATA, &[("type", "result")]);
                let mut ft = xml::elem(
                    "field",
                    NS_DATA,
                    &[("var", "FORM_TYPE"), ("type", "hidden")],
                );
                ft.append_child(xml::text_elem("value", NS_DATA, NS_ROOMINFO));
                x.append_child(ft);
                let occupants = live.map_or(0, |l| l.occupants.len()).to_string();
                x.append_child(form_field("muc#roomconfig_roomname", &r.title));
                x.append_child(form_field("muc#roominfo_description", &r.description));
                x.append_child(form_field("muc#roominfo_subject", &r.subject));
                x.append_child(form_field("muc#roominfo_occupants", &occupants));
                x.append_child(form_field("muc#roominfo_subjectmod", "1"));
                x.append_child(form_field("muc#roomconfig_allowinvites", "1"));
                x.append_child(form_field("muc#roomconfig_changesubject", "1"));
                q.append_child(x);
                q
            })
            .await
        }
        Some(NODE_ROOMUSER) => {
            let dir_name = display_name(server, &session.user).await;
            member_view(server, session, room, |_, _, member| {
                let mut q = xml::elem("query", ns::DISCO_INFO, &[("node", NODE_ROOMUSER)]);
                let nick = dir_name
                    .clone()
                    .or_else(|| member.nick.clone())
                    .unwrap_or_else(|| session.user.clone());
                q.append_child(identity(&nick));
                q
            })
            .await
        }
        Some(_) => Err(unknown_node()),
    }
}

/// The occupants of the room.
pub async fn room_items(
    server: &Server,
    session: &Session,
    room: &str,
    payload: &Element,
) -> IqResult {
    if payload.attr("node").is_some() {
        return Err(unknown_node());
    }
    member_view(server, session, room, |r, live, _| {
        let mut q = Element::bare("query", ns::DISCO_ITEMS);
        for o in live.map(|l| l.occupants.as_slice()).unwrap_or_default() {
            q.append_child(xml::elem(
                "item",
                ns::DISCO_ITEMS,
                &[
                    ("jid", &occupant_jid(server, &r.name, &o.nick)),
                    ("name", &o.nick),
                ],
            ));
        }
        q
    })
    .await
}
