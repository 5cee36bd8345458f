//! Removing participants and listing members (XEP-0045 §8.2, §9, `muc#admin`).
//!
//! The seed's « Retirer de la conversation »: only the owner (the creator) may remove
//! someone, by role `none` on his nickname (a kick: status 307) or by affiliation `none`
//! on his JID (status 321, also for members who are not in the room). Either way the
//! membership ends, so he cannot come back unless invited again; everyone sees him leave
//! with the actor and the reason, and he is told « [NOM Prénom] vous a retiré de la
//! conversation [Nom de la conversation]. » (kept offline if need be). Anyone else's
//! attempt fails with `not-allowed`. A member may end his own membership the same way
//! (affiliation `none` on himself); the owner only once he is the last (`conflict`
//! otherwise, XEP-0045 §10.7: a room that mixes pupils of different classes stands only
//! while its teacher owns it). The owner may also add a member (affiliation `member`),
//! which is an invitation. When the last member has gone, the room is destroyed.
//!
//! Every item of a request is checked before any is applied. Members may read the lists
//! (by affiliation `owner`/`member`, or by role `moderator`/`participant`).

use crate::stanza::addressed;
use causerie_ent::{Text, said};
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, xml};
use causerie_store::{Affiliation, RoomMember, RoomStore};
use jid::Jid;
use tracing::{info, warn};

use super::invite::{admit, invitation};
use super::notices::{Exit, affiliation_notice, exit_presence};
use super::{
    NS_MUC_ADMIN, NS_MUC_USER, bare_jid, body_to, deliver, display_name, error, name_of,
    no_such_room, now_ms, owner, room_message, text, title,
};
use crate::server::Server;
use crate::services::Pass;
use crate::services::rooms::{Live, RoomLock};
use crate::session::Session;
use crate::stanza::{IqResult, internal};

/// What one item of an admin request does.
#[derive(Debug)]
enum Action {
    /// Ends `user`'s membership (and presence), with status `code` (307 or 321).
    Remove {
        user: String,
        code: u16,
        reason: Option<String>,
    },
    /// Makes someone a member: an invitation by the owner.
    Add { jid: String, reason: Option<String> },
}

fn only_the_owner() -> StanzaError {
    error(
        Condition::NotAllowed,
        "Seul le créateur de la conversation peut en retirer des participants.",
        "Only the conversation's creator may remove participants.",
    )
}

pub async fn handle(
    server: &Server,
    session: &Session,
    room: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    let items: Vec<&Element> = payload
        .children()
        .filter(|c| c.is("item", NS_MUC_ADMIN))
        .collect();
    if items.is_empty() {
        return Err(error(
            Condition::BadRequest,
            "La requête ne contient aucun <item/>.",
            "The request has no <item/>.",
        ));
    }
    let mut lock = server.rooms.lock(room).await;
    let Some(live) = lock.load(&server.store).await.map_err(internal)? else {
        return Err(no_such_room());
    };
    let members = server.store.members(live.room.id).await.map_err(internal)?;
    let Some(requester) = members.iter().find(|m| m.user == session.user).cloned() else {
        if live.room.locked {
            return Err(no_such_room());
        }
        return Err(error(
            Condition::Forbidden,
            "Cette conversation est réservée à ses membres.",
            "This conversation is for its members only.",
        ));
    };
    if !set {
        return list(server, live, &members, &items);
    }
    let max_reason = server.config.muc.max_subject_chars;
    let mut actions = Vec::with_capacity(items.len());
    for it in items {
        actions.push(plan(server, live, &members, &requester, it, max_reason)?);
    }
    // A reason is read by the one removed (or invited): not under the kill switch.
    if actions.iter().any(|a| match a {
        Action::Remove { reason, .. } | Action::Add { reason, .. } => reason.is_some(),
    }) {
        server.gate().may_write(&session.user).await?;
    }
    for action in actions {
        match action {
            Action::Remove { user, code, reason } => {
                remove(
                    server,
                    &mut lock,
                    &session.user,
                    &user,
                    code,
                    reason.as_deref(),
                )
                .await?;
            }
            Action::Add { jid, reason } => {
                let (invitee, room) =
                    admit(server, &session.user, &mut lock, &jid, reason.as_deref()).await?;
                let name = name_of(server, &session.user).await;
                let register = server.register_of(invitee.to()).await;
                let m = invitation(
                    server,
                    &room,
                    &session.user,
                    &name,
                    reason.as_deref(),
                    register,
                );
                deliver(server, &invitee, m).await?;
            }
        }
    }
    Ok(None)
}

/// The local account an item names, by `jid` or by an occupant's `nick`.
fn target(server: &Server, live: &Live, it: &Element) -> Result<String, StanzaError> {
    if let Some(raw) = it.attr("jid") {
        let jid = Jid::new(raw).map_err(|e| {
            error(
                Condition::JidMalformed,
                format!("Adresse invalide : {e}."),
                format!("Invalid address: {e}."),
            )
        })?;
        return match jid.node() {
            Some(n) if jid.domain().as_str() == server.domain => Ok(n.to_string()),
            _ => Err(not_a_member()),
        };
    }
    if let Some(nick) = it.attr("nick") {
        return live
            .by_nick(nick)
            .map(|i| live.occupants[i].user.clone())
            .ok_or_else(nobody_by_that_nick);
    }
    Err(error(
        Condition::BadRequest,
        "Un <item/> désigne quelqu'un par jid ou nick.",
        "An <item/> names someone by jid or nick.",
    ))
}

fn not_a_member() -> StanzaError {
    error(
        Condition::ItemNotFound,
        "Cette personne ne fait pas partie de la conversation.",
        "This person does not belong to the conversation.",
    )
}

fn nobody_by_that_nick() -> StanzaError {
    error(
        Condition::ItemNotFound,
        "Personne n'a ce pseudo dans la conversation.",
        "Nobody has this nickname in the conversation.",
    )
}

/// Checks one item (see the module docs).
fn plan(
    server: &Server,
    live: &Live,
    members: &[RoomMember],
    requester: &RoomMember,
    it: &Element,
    max_reason: usize,
) -> Result<Action, StanzaError> {
    let reason = it
        .get_child("reason", NS_MUC_ADMIN)
        .map(|r| r.text())
        .filter(|r| !r.trim().is_empty());
    if let Some(r) = &reason {
        text::check_lines(r, max_reason).map_err(|e| e.stanza_error("La raison", "The reason"))?;
    }
    let is_owner = requester.affiliation == Affiliation::Owner;
    let owner_of = |user: &str| {
        members
            .iter()
            .any(|m| m.user == user && m.affiliation == Affiliation::Owner)
    };
    match (it.attr("role"), it.attr("affiliation")) {
        (Some("none"), None) => {
            let Some(nick) = it.attr("nick") else {
                return Err(addressed(
                    Condition::BadRequest,
                    Text::new(
                        "Pour retirer un participant, donne son pseudo (nick).",
                        "Pour retirer un participant, donnez son pseudo (nick).",
                        "To remove a participant, give his nickname (nick).",
                    ),
                ));
            };
            if !is_owner {
                return Err(only_the_owner());
            }
            let i = live.by_nick(nick).ok_or_else(nobody_by_that_nick)?;
            let user = live.occupants[i].user.clone();
            if owner_of(&user) {
                return Err(error(
                    Condition::NotAllowed,
                    "Le créateur de la conversation ne peut pas en être retiré.",
                    "The conversation's creator cannot be removed from it.",
                ));
            }
            Ok(Action::Remove {
                user,
                code: 307,
                reason,
            })
        }
        (Some(_), None) => Err(error(
            Condition::NotAllowed,
            "Dans une conversation, les rôles ne changent pas ; seul le retrait (role='none') existe.",
            "Roles do not change in a conversation; only removal (role='none') exists.",
        )),
        (None, Some("none")) => {
            let user = target(server, live, it)?;
            // XEP-0045 §10.7: the only owner does not revoke himself. Here it matters
            // more: a room that mixes pupils who may not reach each other stands only
            // while a teacher or staff member owns it (docs/directory.md, « Rooms »); he
            // may delete it instead.
            if user == requester.user
                && is_owner
                && members.iter().any(|m| m.user != requester.user)
            {
                return Err(error(
                    Condition::Conflict,
                    "Le créateur ne quitte pas une conversation qui a d'autres membres : il peut la supprimer, ou en retirer les membres d'abord.",
                    "The creator does not leave a conversation that has other members: he may delete it, or remove its members first.",
                ));
            }
            if user != requester.user {
                if !is_owner {
                    return Err(only_the_owner());
                }
                if !members.iter().any(|m| m.user == user) {
                    return Err(not_a_member());
                }
            }
            Ok(Action::Remove {
                user,
                code: 321,
                reason,
            })
        }
        (None, Some("member")) => {
            if !is_owner {
                return Err(error(
                    Condition::NotAllowed,
                    "Seul le créateur de la conversation peut ajouter des membres ; les participants envoient des invitations.",
                    "Only the conversation's creator may add members; participants send invitations.",
                ));
            }
            let Some(jid) = it.attr("jid") else {
                return Err(addressed(
                    Condition::BadRequest,
                    Text::new(
                        "Pour ajouter un membre, donne son adresse (jid).",
                        "Pour ajouter un membre, donnez son adresse (jid).",
                        "To add a member, give his address (jid).",
                    ),
                ));
            };
            Ok(Action::Add {
                jid: jid.to_string(),
                reason,
            })
        }
        (None, Some(_)) => Err(error(
            Condition::NotAllowed,
            "Une conversation n'a qu'un créateur et des membres.",
            "A conversation only has its creator and members.",
        )),
        _ => Err(error(
            Condition::BadRequest,
            "Un <item/> change soit le rôle, soit l'affiliation.",
            "An <item/> changes either the role or the affiliation.",
        )),
    }
}

/// Ends `target`'s membership and presence in the room (see the module docs); also the
/// school's staff acting on a report (`Server::moderate`).
pub(crate) async fn remove(
    server: &Server,
    lock: &mut RoomLock<'_>,
    actor: &str,
    target: &str,
    code: u16,
    reason: Option<&str>,
) -> Result<(), StanzaError> {
    let Some(live) = lock.live.as_mut() else {
        return Err(no_such_room());
    };
    let room = live.room.clone();
    let was_member = server
        .store
        .remove_member(room.id, target)
        .await
        .map_err(internal)?;
    let by_someone_else = actor != target;
    let actor_jid = bare_jid(server, actor);
    let actor_nick = match live.by_user(actor) {
        Some(i) => live.occupants[i].nick.clone(),
        None => name_of(server, actor).await,
    };
    let actor_name = display_name(server, actor)
        .await
        .unwrap_or_else(|| actor_nick.clone());
    let now = now_ms();
    if let Some(i) = live.by_user(target) {
        let occ = live.occupants.remove(i);
        for s in &occ.sessions {
            server.rooms.note_left(s.id(), &room.name);
        }
        let exit = Exit {
            affiliation: "none",
            actor: by_someone_else.then_some((actor_nick.as_str(), actor_jid.as_str())),
            reason,
            codes: &[code],
            ..Exit::default()
        };
        occ.send(&exit_presence(server, &room.name, &occ, &exit, true, now));
        live.broadcast(&exit_presence(server, &room.name, &occ, &exit, false, now));
    } else if !was_member {
        return Err(not_a_member());
    } else {
        affiliation_notice(server, live, target, "none");
    }
    if by_someone_else {
        info!(room = %room.name, code, "participant removed by the owner");
        let mut m = room_message(server, &room.name, None);
        let mut x = Element::bare("x", NS_MUC_USER);
        let mut it = xml::elem(
            "item",
            NS_MUC_USER,
            &[("affiliation", "none"), ("role", "none")],
        );
        it.append_child(xml::elem(
            "actor",
            NS_MUC_USER,
            &[("nick", &actor_nick), ("jid", &actor_jid)],
        ));
        if let Some(r) = reason {
            it.append_child(xml::text_elem("reason", NS_MUC_USER, r));
        }
        x.append_child(it);
        x.append_child(xml::elem(
            "status",
            NS_MUC_USER,
            &[("code", &code.to_string())],
        ));
        m.append_child(x);
        let t = title(&room);
        body_to(
            server.config.language,
            server.register_of(target).await,
            &mut m,
            &said!(
                tu: "{actor_name} t'a retiré de la conversation {t}.",
                vous: "{actor_name} vous a retiré de la conversation {t}.",
                en: "{actor_name} removed you from the conversation \"{t}\".",
            ),
        );
        if let Err(e) = deliver(server, &Pass::server_notice(target), m).await {
            warn!(error = ?e.condition, "cannot tell a removed participant");
        }
    } else {
        info!(room = %room.name, "member left the conversation for good");
    }
    owner::destroy_if_memberless(server, lock).await?;
    Ok(())
}

/// A member list (get). Items of an affiliation list carry affiliation, jid and nick
/// only (XEP-0045 §9.5, §10.5): a role there reads, to clients, as a role change.
fn list(server: &Server, live: &Live, members: &[RoomMember], items: &[&Element]) -> IqResult {
    let [it] = items else {
        return Err(error(
            Condition::BadRequest,
            "Une liste se demande avec un seul <item/>.",
            "Ask for a list with one <item/>.",
        ));
    };
    let mut q = Element::bare("query", NS_MUC_ADMIN);
    match (it.attr("affiliation"), it.attr("role")) {
        (Some(a @ ("owner" | "member")), None) => {
            for m in members.iter().filter(|m| m.affiliation.as_str() == a) {
                let mut item = xml::elem(
                    "item",
                    NS_MUC_ADMIN,
                    &[("affiliation", a), ("jid", &bare_jid(server, &m.user))],
                );
                if let Some(n) = &m.nick {
                    xml::set_attr(&mut item, "nick", n.clone());
                }
                q.append_child(item);
            }
        }
        (Some("admin" | "outcast"), None) | (None, Some("visitor")) => {}
        (None, Some(r @ ("moderator" | "participant"))) => {
            for o in live.occupants.iter().filter(|o| o.role() == r) {
                q.append_child(xml::elem(
                    "item",
                    NS_MUC_ADMIN,
                    &[
                        ("role", r),
                        ("nick", &o.nick),
                        ("affiliation", o.affiliation.as_str()),
                        ("jid", &bare_jid(server, &o.user)),
                    ],
                ));
            }
        }
        _ => {
            return Err(addressed(
                Condition::BadRequest,
                Text::new(
                    "Liste inconnue : demande une affiliation (owner, member) ou un rôle (moderator, participant).",
                    "Liste inconnue : demandez une affiliation (owner, member) ou un rôle (moderator, participant).",
                    "Unknown list: ask for an affiliation (owner, member) or a role (moderator, participant).",
                ),
            ));
        }
    }
    Ok(Some(q))
}
