//! Invitations and declines (XEP-0045 §7.8, XEP-0249).
//!
//! Any member may invite (the seed's « Inviter contact »), by a mediated invitation (a
//! message to the room with `<x xmlns='…muc#user'><invite to='…'/></x>`) or a direct one
//! (XEP-0249: `<x xmlns='jabber:x:conference' jid='room@…'/>` in a message to the
//! invitee). Either way the service checks, in this order: the invitee's address (a local
//! account), that the inviter is a member, the reason's length, the inviter's invitation
//! rate (`[muc] max_invitations_per_minute`), that the account exists, and the rooms'
//! policy as the gate decides it (`Gate::invite`: the inviter reaches the invitee, and
//! the invitee reaches every member unless the room is supervised; the refusal says
//! why); then the invitee becomes a member (within `max_rooms_per_user` and
//! `max_occupants_per_room`), the occupants are told (an affiliation notice), and the
//! invitation is delivered — or kept in the offline store and delivered at the invitee's
//! next login if he is still a member then. A direct invitation is delivered as the
//! XEP-0249 element only: the inviter's other payloads (a body) do not go with it.
//!
//! The invitee accepts by joining. A decline ends the membership, and only the member who
//! invited him is told (never an address the decliner names), with his reason only if he
//! may still reach the inviter.

use crate::stanza::addressed;
use causerie_ent::{Text, said};
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, xml};
use causerie_store::{AddMember, Affiliation, Room, RoomStore};
use jid::{BareJid, Jid};
use tracing::{info, warn};

use crate::services::Pass;

use super::notices::affiliation_notice;
use super::{
    NS_CONFERENCE, NS_MUC_USER, bare_jid, body, body_to, deliver, error, name_of, no_such_room,
    now_ms, owner, room_message, text, title,
};
use crate::server::Server;
use crate::services::rooms::RoomLock;
use crate::session::Session;
use crate::session::reply_error;
use crate::stanza::internal;

/// A mediated invitation or a decline, sent to the room.
pub async fn mediated(
    server: &Server,
    session: &Session,
    stanza: Element,
    room: &str,
    x: &Element,
) {
    let invites: Vec<&Element> = x
        .children()
        .filter(|c| c.is("invite", NS_MUC_USER))
        .collect();
    let decline = x.get_child("decline", NS_MUC_USER);
    let result = match (invites.is_empty(), decline) {
        (true, Some(d)) => decline_invitation(server, session, room, d).await,
        (false, None) => {
            let mut lock = server.rooms.lock(room).await;
            let mut result = Ok(());
            for inv in invites {
                let Some(to) = inv.attr("to") else {
                    result = Err(error(
                        Condition::BadRequest,
                        "Une invitation dit qui est invité (to='…').",
                        "An invitation says who is invited (to='…').",
                    ));
                    break;
                };
                let reason = inv
                    .get_child("reason", NS_MUC_USER)
                    .map(|r| r.text())
                    .filter(|r| !r.trim().is_empty());
                let sent =
                    match admit(server, &session.user, &mut lock, to, reason.as_deref()).await {
                        Ok((pass, room)) => {
                            let name = name_of(server, &session.user).await;
                            let register = server.register_of(pass.to()).await;
                            let m = invitation(
                                server,
                                &room,
                                &session.user,
                                &name,
                                reason.as_deref(),
                                register,
                            );
                            deliver(server, &pass, m).await
                        }
                        Err(e) => Err(e),
                    };
                if let Err(e) = sent {
                    result = Err(e);
                    break;
                }
            }
            result
        }
        _ => Err(error(
            Condition::BadRequest,
            "Attendu : <invite/> ou <decline/>.",
            "Expected <invite/> or <decline/>.",
        )),
    };
    if let Err(e) = result {
        reply_error(session, &stanza, e);
    }
}

/// The room of an XEP-0249 invitation to one of our rooms, if `stanza` is one.
pub fn direct_room(server: &Server, stanza: &Element) -> Option<String> {
    if stanza.name() != "message" || stanza.attr("type") == Some("error") {
        return None;
    }
    let x = stanza.get_child("x", NS_CONFERENCE)?;
    let jid = BareJid::new(x.attr("jid")?).ok()?;
    if jid.domain().as_str() != server.muc_domain() {
        return None;
    }
    jid.node().map(|n| n.to_string())
}

/// A direct invitation (XEP-0249) of `invitee` (a local account) to `room`: checked and
/// recorded as a mediated one, then the message itself is delivered.
pub async fn direct(
    server: &Server,
    session: &Session,
    stanza: Element,
    invitee: &str,
    room: &str,
) {
    let reason = stanza
        .get_child("x", NS_CONFERENCE)
        .and_then(|x| x.attr("reason"))
        .filter(|r| !r.trim().is_empty())
        .map(str::to_string);
    let mut lock = server.rooms.lock(room).await;
    let to = bare_jid(server, invitee);
    let sent = match admit(server, &session.user, &mut lock, &to, reason.as_deref()).await {
        Ok((pass, _)) => deliver(server, &pass, direct_invitation(&stanza)).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        reply_error(session, &stanza, e);
    }
}

/// What the invitee of a direct invitation receives: the message's addresses, id and
/// XEP-0249 element, nothing else the inviter put in it.
fn direct_invitation(stanza: &Element) -> Element {
    let mut m = Element::bare("message", causerie_proto::ns::CLIENT);
    for attr in ["from", "to", "id", "type"] {
        if let Some(v) = stanza.attr(attr) {
            xml::set_attr(&mut m, attr, v);
        }
    }
    if let Some(x) = stanza.get_child("x", NS_CONFERENCE) {
        m.append_child(x.clone());
    }
    m
}

/// The room an invitation kept offline is for, if `stanza` is one: a mediated invitation
/// (from the room, with `<invite/>`) or a direct one (XEP-0249, from the inviter).
pub fn invitation_room(server: &Server, stanza: &Element) -> Option<String> {
    if let Some(room) = direct_room(server, stanza) {
        return Some(room);
    }
    let mediated = stanza
        .get_child("x", NS_MUC_USER)
        .is_some_and(|x| x.get_child("invite", NS_MUC_USER).is_some());
    let from = Jid::new(stanza.attr("from")?).ok()?;
    (mediated && from.domain().as_str() == server.muc_domain())
        .then(|| from.node().map(|n| n.to_string()))
        .flatten()
}

/// Whether `user` is still a member of `room` (an invitation kept offline is delivered
/// only then).
pub async fn still_member(server: &Server, user: &str, room: &str) -> bool {
    match server.store.room(room).await {
        Ok(Some(r)) => matches!(server.store.member(r.id, user).await, Ok(Some(_))),
        _ => false,
    }
}

/// The local account `raw` names.
fn local_user(server: &Server, raw: &str) -> Result<String, StanzaError> {
    let jid = Jid::new(raw).map_err(|e| {
        error(
            Condition::JidMalformed,
            format!("Adresse invalide : {e}."),
            format!("Invalid address: {e}."),
        )
    })?;
    if jid.domain().as_str() != server.domain {
        return Err(error(
            Condition::RemoteServerNotFound,
            "On ne peut inviter que des comptes de ce serveur.",
            "Only accounts of this server can be invited.",
        ));
    }
    jid.node().map(|n| n.to_string()).ok_or_else(|| {
        error(
            Condition::JidMalformed,
            "Cette adresse n'est pas celle d'un compte.",
            "This address is not an account's.",
        )
    })
}

/// Checks an invitation of `to` by `inviter` and makes the invitee a member (see the
/// module docs). Returns the gate's pass to the invitee, and the room.
pub async fn admit(
    server: &Server,
    inviter: &str,
    lock: &mut RoomLock<'_>,
    to: &str,
    reason: Option<&str>,
) -> Result<(Pass, Room), StanzaError> {
    let limits = &server.config.muc;
    let Some(live) = lock.load(&server.store).await.map_err(internal)? else {
        return Err(no_such_room());
    };
    let room = live.room.clone();
    let invitee = local_user(server, to)?;
    let member = server
        .store
        .member(room.id, inviter)
        .await
        .map_err(internal)?;
    if member.is_none() {
        return Err(error(
            Condition::Forbidden,
            "Seuls les membres d'une conversation peuvent y inviter.",
            "Only members of a conversation may invite to it.",
        ));
    }
    if let Some(e) = super::school_year::refusal(server, &room) {
        return Err(e);
    }
    if invitee == inviter {
        return Err(addressed(
            Condition::BadRequest,
            Text::new(
                "Tu fais déjà partie de cette conversation.",
                "Vous faites déjà partie de cette conversation.",
                "You already belong to this conversation.",
            ),
        ));
    }
    if let Some(r) = reason {
        text::check_lines(r, limits.max_subject_chars)
            .map_err(|e| e.stanza_error("La raison de l'invitation", "The invitation's reason"))?;
    }
    let per_minute = limits.max_invitations_per_minute;
    if !server.rooms.allow_invitation(inviter, per_minute) {
        return Err(addressed(
            Condition::ResourceConstraint,
            said!(tu: "Trop d'invitations : {per_minute} par minute au plus. Attends un peu.", vous: "Trop d'invitations : {per_minute} par minute au plus. Attendez un peu.", en: "Too many invitations: at most {per_minute} a minute. Wait a little."),
        ));
    }
    if !server.user_exists(&invitee).await {
        return Err(error(
            Condition::ItemNotFound,
            "Ce compte n'existe pas.",
            "This account does not exist.",
        ));
    }
    let members = server.store.members(room.id).await.map_err(internal)?;
    let owner = members
        .iter()
        .find(|m| m.affiliation == Affiliation::Owner)
        .map(|m| m.user.as_str());
    let others: Vec<&str> = members.iter().map(|m| m.user.as_str()).collect();
    let pass = server
        .gate()
        .invite(inviter, &invitee, &room.name, &others, owner)
        .await?;
    let max_members = i64::try_from(limits.max_occupants_per_room).unwrap_or(i64::MAX);
    let added = server
        .store
        .add_member(
            room.id,
            &invitee,
            Some(inviter),
            now_ms(),
            limits.max_rooms_per_user,
            max_members,
        )
        .await
        .map_err(internal)?;
    match added {
        AddMember::Added => {
            info!(room = %room.name, "member invited");
            if let Some(live) = lock.live.as_ref() {
                affiliation_notice(server, live, &invitee, "member");
            }
        }
        AddMember::AlreadyMember(_) => {}
        AddMember::TooManyRooms => {
            let name = name_of(server, &invitee).await;
            let max = limits.max_rooms_per_user;
            return Err(error(
                Condition::NotAllowed,
                format!("{name} fait déjà partie de {max} conversations, le maximum."),
                format!("{name} already belongs to {max} conversations, the maximum."),
            ));
        }
        AddMember::RoomFull => {
            return Err(error(
                Condition::NotAllowed,
                format!("La conversation a déjà {max_members} membres, le maximum."),
                format!("The conversation already has {max_members} members, the maximum."),
            ));
        }
    }
    Ok((pass, room))
}

/// The invitation the invitee receives, from the room (its text in the invitee's
/// `register`).
pub fn invitation(
    server: &Server,
    room: &Room,
    inviter: &str,
    inviter_name: &str,
    reason: Option<&str>,
    register: causerie_ent::Register,
) -> Element {
    let mut m = room_message(server, &room.name, None);
    let mut x = Element::bare("x", NS_MUC_USER);
    let mut inv = xml::elem(
        "invite",
        NS_MUC_USER,
        &[("from", &bare_jid(server, inviter))],
    );
    if let Some(r) = reason {
        inv.append_child(xml::text_elem("reason", NS_MUC_USER, r));
    }
    x.append_child(inv);
    m.append_child(x);
    let t = title(room);
    body_to(
        server.config.language,
        register,
        &mut m,
        &said!(
            tu: "{inviter_name} t'invite dans la conversation « {t} ».",
            vous: "{inviter_name} vous invite dans la conversation « {t} ».",
            en: "{inviter_name} invites you to the conversation \"{t}\".",
        ),
    );
    m
}

/// The invitee declines: his membership ends, and the inviter is told.
async fn decline_invitation(
    server: &Server,
    session: &Session,
    room: &str,
    d: &Element,
) -> Result<(), StanzaError> {
    let limits = &server.config.muc;
    let user = &session.user;
    let mut lock = server.rooms.lock(room).await;
    let Some(live) = lock.load(&server.store).await.map_err(internal)? else {
        return Err(no_such_room());
    };
    let r = live.room.clone();
    if live.by_user(user).is_some() {
        return Err(addressed(
            Condition::NotAcceptable,
            Text::new(
                "Tu es dans cette conversation : quitte-la plutôt que de refuser l'invitation.",
                "Vous êtes dans cette conversation : quittez-la plutôt que de refuser l'invitation.",
                "You are in this conversation: leave it rather than decline the invitation.",
            ),
        ));
    }
    let member = server.store.member(r.id, user).await.map_err(internal)?;
    let Some(member) = member.filter(|m| m.affiliation == Affiliation::Member) else {
        return Err(addressed(
            Condition::NotAcceptable,
            Text::new(
                "Tu n'as pas d'invitation à refuser pour cette conversation.",
                "Vous n'avez pas d'invitation à refuser pour cette conversation.",
                "You have no invitation to decline for this conversation.",
            ),
        ));
    };
    let reason = d
        .get_child("reason", NS_MUC_USER)
        .map(|r| r.text())
        .filter(|r| !r.trim().is_empty());
    if let Some(r) = &reason {
        text::check_lines(r, limits.max_subject_chars)
            .map_err(|e| e.stanza_error("La raison", "The reason"))?;
        server.gate().may_write(user).await?;
    }
    if !server
        .rooms
        .allow_invitation(user, limits.max_invitations_per_minute)
    {
        return Err(addressed(
            Condition::ResourceConstraint,
            Text::new(
                "Trop de réponses d'invitation d'un coup. Attends un peu.",
                "Trop de réponses d'invitation d'un coup. Attendez un peu.",
                "Too many invitation answers at once. Wait a little.",
            ),
        ));
    }
    // Only the member who invited him is told: never whoever the decline names.
    let inviter = member.invited_by;
    server
        .store
        .remove_member(r.id, user)
        .await
        .map_err(internal)?;
    if let Some(live) = lock.live.as_ref() {
        affiliation_notice(server, live, user, "none");
    }
    if let Some(inviter) = inviter {
        let (pass, reason_allowed) = server.gate().decline(user, &inviter).await;
        let reason = reason.filter(|_| reason_allowed);
        let name = name_of(server, user).await;
        let mut m = room_message(server, &r.name, None);
        let mut x = Element::bare("x", NS_MUC_USER);
        let mut dec = xml::elem("decline", NS_MUC_USER, &[("from", &bare_jid(server, user))]);
        if let Some(reason) = &reason {
            dec.append_child(xml::text_elem("reason", NS_MUC_USER, reason.clone()));
        }
        x.append_child(dec);
        m.append_child(x);
        let t = title(&r);
        body(
            server.config.language,
            &mut m,
            &format!("{name} a refusé l'invitation dans la conversation « {t} »."),
            &format!("{name} declined the invitation to the conversation \"{t}\"."),
        );
        if let Err(e) = deliver(server, &pass, m).await {
            warn!(error = ?e.condition, "cannot tell the inviter about a decline");
        }
    }
    owner::destroy_if_memberless(server, &mut lock).await?;
    Ok(())
}
