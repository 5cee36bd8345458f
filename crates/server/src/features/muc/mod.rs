//! Multi-user conversations (XEP-0045) on `conference.DOMAIN`: the seed's « Chatter »
//! (S11–S14) as members-only, persistent, non-anonymous rooms.
//!
//! - [`presence`]: creating a room (locked, status 201), joining and leaving, show
//!   changes; joins and departures carry an XEP-0203 delay with the time they happened;
//!   nicknames default to the directory's « NOM Prénom » and are unique per room.
//! - [`owner`]: the configuration form (XEP-0004), instant rooms, destruction (also when
//!   the last member has gone).
//! - [`message`]: groupchat fan-out, each message with an XEP-0359 stanza-id and queued
//!   for the archive (`services::archive`: written in batches off the room's lock);
//!   subject changes.
//! - [`invite`]: mediated (§7.8.2) and direct (XEP-0249) invitations, which make the
//!   invitee a member (under the rooms' policy, decided by the gate, and a rate limit),
//!   and declines (told to the inviter only).
//! - [`membership`]: a new directory generation applied to the rooms: members the
//!   rooms' policy no longer admits lose their membership, with a notice.
//! - [`moderate`]: XEP-0425 moderated retraction (the owner, or the school's staff from
//!   the console): the archive keeps a tombstone, the occupants get the retraction.
//! - [`admin`]: removing a participant (the owner only: role `none`, status 307, end of the
//!   membership) and member lists.
//! - [`disco`]: the service, the rooms one is a member of, room info (`muc#roominfo`),
//!   reserved nicknames; [`mam`]: the room's archive (XEP-0313, XEP-0059 paging).
//! - [`notices`]: what rooms say about their occupants (presences, event lines);
//! - [`text`]: checks on nicknames and texts; the occupants in memory are the rooms
//!   service's (`services::rooms`).
//!
//! The router sends here everything addressed to `conference.DOMAIN` (and direct
//! invitations). The rooms' policy (docs/directory.md): a room stays within the rules —
//! an invitation needs the invitee to reach every member, unless the room is supervised
//! (its owner a teacher or staff member who reaches the invitee); a directory change that
//! puts a member outside it ends his membership; a member reads the history from his
//! invitation on; a post needs the sender's account to be allowed to chat. Stanzas to occupants go straight to their sessions
//! (`SessionHandle::send`, never blocking); invitations, declines and removal notices to
//! someone offline are kept in the offline store and delivered at the next login.

pub mod admin;
pub mod disco;
pub mod invite;
pub mod mam;
pub mod membership;
pub mod message;
pub mod moderate;
pub mod notices;
pub mod owner;
pub mod presence;
pub mod school_year;
pub mod text;

use std::sync::Arc;
use std::time::Duration;

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{OfflineStore, Room, RoomStore};
use tracing::{info, warn};

use crate::config::Language;
use crate::server::Server;
use crate::services::Pass;
use crate::session::{Session, answer};
use crate::stanza::{MucDest, internal};

pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const NS_MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
pub const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
pub const NS_MUC_UNIQUE: &str = "http://jabber.org/protocol/muc#unique";
pub const NS_ROOMCONFIG: &str = "http://jabber.org/protocol/muc#roomconfig";
pub const NS_ROOMINFO: &str = "http://jabber.org/protocol/muc#roominfo";
/// XEP-0249 direct invitations.
pub const NS_CONFERENCE: &str = "jabber:x:conference";
/// XEP-0359 stanza ids.
pub const NS_SID: &str = ns::SID;
pub const NS_DATA: &str = ns::DATA;
pub const NS_MAM: &str = ns::MAM;
pub const NS_RSM: &str = ns::RSM;

/// Longest room localpart, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 64;
/// How often archived messages past the retention limit are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Handles a stanza addressed to the service or to a room (see the module docs).
pub async fn route(server: &Server, session: &Session, stanza: Element, dest: MucDest) {
    match stanza.name() {
        "presence" => presence::handle(server, session, stanza, dest).await,
        "message" => message::handle(server, session, stanza, dest).await,
        _ => iq(server, session, stanza, dest).await,
    }
}

async fn iq(server: &Server, session: &Session, stanza: Element, dest: MucDest) {
    let set = match super::iq_kind(session, &stanza) {
        Some(super::IqKind::Get) => false,
        Some(super::IqKind::Set) => true,
        Some(super::IqKind::Answer) | None => return,
    };
    let Some(payload) = super::iq_payload(session, &stanza) else {
        return;
    };
    let (pns, name) = (payload.ns(), payload.name());
    let result = match &dest {
        MucDest::Service => match (pns.as_str(), name) {
            (ns::DISCO_INFO, "query") if !set => disco::service_info(payload),
            (ns::DISCO_ITEMS, "query") if !set => {
                disco::service_items(server, session, payload).await
            }
            (NS_MUC_UNIQUE, "unique") if !set => Ok(Some(unique_name())),
            (ns::PING, "ping") if !set => Ok(None),
            _ => Err(StanzaError::new(Condition::ServiceUnavailable)),
        },
        MucDest::Room { room, nick: None } => match (pns.as_str(), name) {
            (ns::DISCO_INFO, "query") if !set => {
                disco::room_info(server, session, room, payload).await
            }
            (ns::DISCO_ITEMS, "query") if !set => {
                disco::room_items(server, session, room, payload).await
            }
            (NS_MUC_OWNER, "query") => owner::handle(server, session, room, payload, set).await,
            (NS_MUC_ADMIN, "query") => admin::handle(server, session, room, payload, set).await,
            (NS_MAM, "query") => mam::handle(server, session, room, payload, set).await,
            (ns::MODERATE, "moderate") => {
                moderate::handle(server, session, room, payload, set).await
            }
            _ => Err(StanzaError::new(Condition::ServiceUnavailable)),
        },
        MucDest::Room {
            room,
            nick: Some(nick),
        } => match (pns.as_str(), name) {
            // XEP-0410: a client checks that it is still in the room (answered here).
            (ns::PING, "ping") if !set => presence::self_ping(server, session, room, nick).await,
            // Occupants are reached through the room only with groupchat messages.
            _ => Err(StanzaError::new(Condition::ServiceUnavailable)),
        },
    };
    answer(session, &stanza, result);
}

/// XEP-0307: a fresh room name, for clients (the web client) that let the service pick.
fn unique_name() -> Element {
    let id = uuid::Uuid::new_v4().simple().to_string();
    xml::text_elem("unique", NS_MUC_UNIQUE, format!("conv-{}", &id[..16]))
}

/// A session ended: it leaves every room it was in.
pub async fn session_ended(server: &Server, session: &Session) {
    for room in server.rooms.joined_by(session.id()) {
        presence::leave(server, session, &room, None).await;
    }
}

/// This node stops, one of several (`crate::cluster`): every occupant still in a room it
/// holds (other nodes' sessions: its own have ended) is told he is out of it with status
/// 332 (XEP-0045 §10.10, the service shutting down), so that his client joins again and
/// the room comes back on another node.
pub async fn node_leaving(server: &Server) {
    let at = now_ms();
    for name in server.rooms.names() {
        let mut lock = server.rooms.lock(&name).await;
        let Some(live) = lock.live.as_mut() else {
            continue;
        };
        for occ in std::mem::take(&mut live.occupants) {
            let exit = notices::Exit {
                affiliation: occ.affiliation.as_str(),
                codes: &[332],
                ..Default::default()
            };
            occ.send(&notices::exit_presence(
                server, &name, &occ, &exit, true, at,
            ));
            for s in &occ.sessions {
                server.rooms.note_left(s.id(), &name);
            }
        }
    }
}

/// At start: removes rooms left locked (their creator is gone; one node alone), purges the archive past
/// the retention limit, then keeps purging it every hour.
pub async fn start(server: &Arc<Server>) {
    // With several nodes, a room locked right now may be another node's, being made.
    if !server.config.cluster.enabled() {
        match server.store.delete_locked_rooms().await {
            Ok(gone) if !gone.is_empty() => {
                info!(rooms = gone.len(), "removed unconfigured rooms")
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cannot remove unconfigured rooms"),
        }
    }
    purge(server).await;
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PURGE_EVERY).await;
            let Some(server) = weak.upgrade() else { break };
            purge(&server).await;
        }
    });
}

async fn purge(server: &Server) {
    let days = server.config.muc.archive_retention_days;
    match crate::services::retention::purge_rooms_now(&server.store, days).await {
        Ok(0) => {}
        Ok(n) => info!(
            messages = n,
            days, "purged room archives past the retention limit"
        ),
        Err(e) => warn!(error = %e, "cannot purge room archives"),
    }
}

/// The JID of room `room`.
pub fn room_jid(server: &Server, room: &str) -> String {
    format!("{room}@{}", server.muc_domain())
}

/// The JID of occupant `nick` of `room`.
pub fn occupant_jid(server: &Server, room: &str, nick: &str) -> String {
    format!("{room}@{}/{nick}", server.muc_domain())
}

/// The bare JID of account `user`.
pub fn bare_jid(server: &Server, user: &str) -> String {
    format!("{user}@{}", server.domain)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub use crate::stanza::stamp;

/// An XEP-0203 delay stamp.
pub fn delay(from: &str, ms: i64) -> Element {
    xml::elem("delay", ns::DELAY, &[("from", from), ("stamp", &stamp(ms))])
}

pub use crate::stanza::error;

/// The conversation's name as people see it: its title, or its JID's localpart.
pub fn title(room: &Room) -> &str {
    if room.title.trim().is_empty() {
        &room.name
    } else {
        &room.title
    }
}

/// « NOM Prénom » of a directory user.
pub async fn display_name(server: &Server, user: &str) -> Option<String> {
    server
        .directory()
        .await
        .user(user)
        .map(|u| u.display_name())
}

/// How to name `user` in a notice: the directory's name, else the localpart.
pub async fn name_of(server: &Server, user: &str) -> String {
    display_name(server, user)
        .await
        .unwrap_or_else(|| user.to_string())
}

/// Appends the one `<body>` of a notice, in the room's language `lang` (the deployment's,
/// `[language]`), given in French and English. One body only: clients pick none of
/// several (Converse's notification code fails on two).
pub fn body(lang: Language, message: &mut Element, fr: &str, en: &str) {
    let mut body = xml::text_elem("body", ns::CLIENT, lang.pick(fr, en));
    xml::set_lang(&mut body, lang.code());
    message.append_child(body);
}

/// [`body`] for a message to one reader: the French form of his register (a pupil is
/// addressed with « tu », an adult with « vous »: `causerie_ent::register`).
pub fn body_to<S: AsRef<str>>(
    lang: Language,
    register: causerie_ent::Register,
    message: &mut Element,
    text: &causerie_ent::Text<S>,
) {
    body(lang, message, text.fr(register), text.en());
}

/// The not-found error for a room that does not exist (or that one may not see).
pub fn no_such_room() -> StanzaError {
    error(
        Condition::ItemNotFound,
        "Cette conversation n'existe pas.",
        "This conversation does not exist.",
    )
}

/// Delivers a stanza from the service to the account of `pass`: to its available
/// sessions, or into its offline storage (delivered at the next login, if still allowed).
pub async fn deliver(server: &Server, pass: &Pass, mut stanza: Element) -> Result<(), StanzaError> {
    let user = pass.to();
    xml::set_attr(&mut stanza, "to", bare_jid(server, user));
    if server.sessions.deliver_available(pass, &stanza, true) > 0 {
        return Ok(());
    }
    let now = now_ms();
    let mut d = delay(&server.domain, now);
    d.append_text("Offline Storage".to_string());
    stanza.append_child(d);
    match server
        .store
        .store_offline(
            user,
            &xml::to_string(&stanza),
            now,
            server.config.limits.max_offline_per_user,
        )
        .await
    {
        Ok(true) => {
            // An invitation kept offline wakes the invitee's phones (XEP-0357).
            crate::features::push::notify(server, user, &stanza);
            Ok(())
        }
        Ok(false) => Err(error(
            Condition::ServiceUnavailable,
            "La boîte de messages hors ligne du destinataire est pleine.",
            "The recipient's offline storage is full.",
        )),
        Err(e) => Err(internal(e)),
    }
}

/// A `<message/>` from the room itself (its bare JID).
pub fn room_message(server: &Server, room: &str, kind: Option<&str>) -> Element {
    let mut m = xml::elem(
        "message",
        ns::CLIENT,
        &[
            ("from", &room_jid(server, room)),
            ("id", &uuid::Uuid::new_v4().to_string()),
        ],
    );
    if let Some(k) = kind {
        xml::set_attr(&mut m, "type", k);
    }
    m
}

/// `<x xmlns='…muc#user'>` with these status codes.
pub fn status_x(codes: &[u16]) -> Element {
    let mut x = Element::bare("x", NS_MUC_USER);
    for c in codes {
        x.append_child(xml::elem(
            "status",
            NS_MUC_USER,
            &[("code", &c.to_string())],
        ));
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_xep_0082() {
        assert_eq!(stamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(stamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn unique_names_differ() {
        let (a, b) = (unique_name().text(), unique_name().text());
        assert!(a.starts_with("conv-") && a.len() == 21, "{a}");
        assert_ne!(a, b);
        assert!(jid::BareJid::new(&format!("{a}@conference.x")).is_ok());
    }

    #[test]
    fn one_body_in_the_rooms_language() {
        for (lang, want) in [
            (Language::Fr, ("fr", "Bonjour")),
            (Language::En, ("en", "Hello")),
        ] {
            let mut m = Element::bare("message", ns::CLIENT);
            body(lang, &mut m, "Bonjour", "Hello");
            let bodies: Vec<_> = m
                .children()
                .map(|b| (xml::lang(b).unwrap_or("").to_string(), b.text()))
                .collect();
            assert_eq!(bodies, vec![(want.0.to_string(), want.1.to_string())]);
        }
    }
}
