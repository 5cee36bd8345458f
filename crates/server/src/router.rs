//! The routing choke point: every stanza a bound session sends goes through
//! [`route`], which, in this order,
//! 1. stamps `from` with the session's full JID (a client's `from` is never trusted),
//! 2. validates `to` (a malformed JID gets `jid-malformed`),
//! 3. sends everything addressed to the conversation service
//!    (`conference.DOMAIN`, [`MucDest`]) to `features::muc`,
//! 4. classifies any other destination ([`Dest`]), checks the school's
//!    communication rules for what reaches another person (step 2b), takes
//!    direct invitations to our rooms (XEP-0249) to `features::muc::invite`,
//!    and hands over to the feature that owns the stanza kind:
//!    `features::message`, `features::presence`, or the IQ table in `features::mod`.
//!
//! Rooms are not subject to the rules stanza by stanza: an invitation needs the
//! inviter to reach the invitee (checked in `features::muc::invite`), and once
//! members, everyone talks with the room.

use causerie_proto::errors::{Condition, StanzaError, error_reply, may_reply_with_error};
use causerie_proto::{Element, xml};
use jid::Jid;
use tracing::debug;

use crate::Server;
use crate::c2s::Session;
use crate::features;

/// Where a stanza is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// The server itself (`to` = the domain).
    Domain,
    /// A local account's bare JID (also: no `to`, meaning the sender's own account).
    Bare(String),
    /// A local account's full JID.
    Full(String, String),
    /// The directory search service (XEP-0055) at `search.DOMAIN`.
    Search,
    /// Another domain: no federation, so `remote-server-not-found`.
    Remote,
}

impl Dest {
    /// The localpart of a local account destination.
    pub fn user(&self) -> Option<&str> {
        match self {
            Dest::Bare(u) | Dest::Full(u, _) => Some(u),
            _ => None,
        }
    }
}

/// A destination on the conversation service (`conference.DOMAIN`, XEP-0045).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MucDest {
    /// The service itself.
    Service,
    /// A room (`room@conference.DOMAIN`), or one of its occupants (`…/nick`).
    Room { room: String, nick: Option<String> },
}

/// Whether a parsed `to` addresses the conversation service, and what on it.
pub fn classify_muc(server: &Server, to: Option<&Jid>) -> Option<MucDest> {
    let to = to?;
    if to.domain().as_str() != server.muc_domain() {
        return None;
    }
    Some(match to.node() {
        None => MucDest::Service,
        Some(room) => MucDest::Room {
            room: room.to_string(),
            nick: to.resource().map(|r| r.to_string()),
        },
    })
}

/// Classifies a parsed `to` (or its absence) for `session`.
pub fn classify(server: &Server, session: &Session, to: Option<&Jid>) -> Dest {
    let Some(to) = to else {
        return Dest::Bare(session.user.clone());
    };
    if to.domain().as_str() != server.domain {
        if to.node().is_none() && to.domain().as_str() == server.search_domain() {
            return Dest::Search;
        }
        return Dest::Remote;
    }
    match (to.node(), to.resource()) {
        (None, None) => Dest::Domain,
        // `domain/resource` addresses the server too.
        (None, Some(_)) => Dest::Domain,
        (Some(n), None) => Dest::Bare(n.to_string()),
        (Some(n), Some(r)) => Dest::Full(n.to_string(), r.to_string()),
    }
}

/// Routes one stanza from a bound session (see the module docs).
pub async fn route(server: &Server, session: &Session, mut stanza: Element) {
    if stanza.name() == "message" {
        server.stats.message();
    }
    xml::set_attr(&mut stanza, "from", session.jid.to_string());
    let to = match stanza.attr("to") {
        None => None,
        Some(raw) => match Jid::new(raw) {
            Ok(j) => Some(j),
            Err(e) => {
                debug!(jid = %session.jid, error = %e, "malformed 'to'");
                // The reply must not carry the malformed address back as 'from'.
                xml::remove_attr(&mut stanza, "to");
                let err = StanzaError::new(Condition::JidMalformed)
                    .with_text("en", format!("invalid recipient address: {e}"));
                reply_error(session, &stanza, err);
                return;
            }
        },
    };
    if let Some(j) = &to {
        // Normalised form (lowercased node and domain).
        xml::set_attr(&mut stanza, "to", j.to_string());
    }
    if let Some(muc) = classify_muc(server, to.as_ref()) {
        features::muc::route(server, session, stanza, muc).await;
        return;
    }
    let dest = classify(server, session, to.as_ref());
    // 2b. The school's rules, for anything that reaches another person.
    if let Some(target) = dest.user()
        && target != session.user
        && subject_to_rules(&stanza)
        && let Err(err) = server.may_reach(&session.user, target).await
    {
        debug!(from = %session.user, to = %target, "refused by the school's rules");
        reply_error(session, &stanza, err);
        return;
    }
    if let Some(invitee) = dest.user().map(str::to_string)
        && let Some(room) = features::muc::invite::direct_room(server, &stanza)
    {
        features::muc::invite::direct(server, session, stanza, &invitee, &room).await;
        return;
    }
    // Unavailable presence to everyone also leaves every room (RFC 6121 §4.5.2).
    let gone =
        stanza.name() == "presence" && to.is_none() && stanza.attr("type") == Some("unavailable");
    match stanza.name() {
        "message" => features::message::outbound(server, session, stanza, dest).await,
        "presence" => features::presence::outbound(server, session, stanza, dest, to).await,
        _ => features::iq(server, session, stanza, dest).await,
    }
    if gone {
        features::muc::session_ended(server, session).await;
    }
}

/// Whether the rules apply to this stanza: anything that reaches out, but
/// never answers (results, errors) nor what ends a relation (unavailable,
/// unsubscribe, unsubscribed), which must always get through.
fn subject_to_rules(stanza: &Element) -> bool {
    let kind = stanza.attr("type");
    match stanza.name() {
        "iq" => matches!(kind, Some("get" | "set")),
        "presence" => !matches!(
            kind,
            Some("unavailable" | "unsubscribe" | "unsubscribed" | "error")
        ),
        _ => kind != Some("error"),
    }
}

/// Sends an error reply for `stanza` back to its sender, unless it is itself an error.
pub fn reply_error(session: &Session, stanza: &Element, err: impl Into<StanzaError>) {
    if may_reply_with_error(stanza) {
        session.handle.send(error_reply(stanza, &err.into()));
    }
}

/// A session ended: unregister it, tell whoever saw it online, and leave its rooms.
pub async fn session_ended(server: &Server, session: &Session) {
    if let Some(departed) = server.sessions.unregister(&session.user, session.handle.id) {
        features::presence::departed(server, session, departed).await;
    }
    if server.sessions.all(&session.user).is_empty() {
        server.contacts.forget(&session.user);
    }
    features::muc::session_ended(server, session).await;
}
