//! The routing choke point: every stanza a bound session sends goes through [`route`],
//! which, in this order,
//! 1. stamps `from` with the session's full JID (a client's `from` is never trusted),
//!    and puts a directory user's school name in an XEP-0172 `<nick/>` he attaches (a
//!    subscription request's, a message's: his name is the school's,
//!    `features::profile_policy::school_nick`),
//! 2. validates `to` (a malformed JID gets `jid-malformed`),
//! 3. sends everything addressed to the conversation service (`conference.DOMAIN`,
//!    [`MucDest`]) to `features::muc`, where the rooms' policy applies (with several
//!    nodes, what is for a room another node holds goes to that node, whose
//!    `features::muc` decides: `services::remote`),
//! 4. classifies the destination ([`Dest`]) and the stanza (`services::gate::classify`);
//!    a direct invitation to one of our rooms (XEP-0249) goes to the rooms' invitations;
//! 5. asks the gate about anything for an account (`Gate::decide`): refused stanzas get
//!    the gate's error, dropped ones nothing;
//! 6. hands over to the feature that owns the stanza kind, with the gate's verdict:
//!    `features::message`, `features::presence`, or the IQ table in `features::mod`.
//!
//! Anything an account addresses to an external component's domain (XEP-0114) is the
//! gate's too (`Gate::to_component`: refused in this version), right after step 2. What a
//! component sends comes in through [`route_component`], where the gate
//! (`Gate::from_component`) lets through only requests to the server itself and answers
//! to the server's own requests.
//!
//! Nothing is exempt from step 5: answers, errors, unavailable presence and
//! unsubscriptions are decided like the rest (docs/directory.md, "Who can send what to
//! whom").

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, xml};
use jid::Jid;
use tracing::debug;

use crate::features;
use crate::server::Server;
use crate::services::gate::{self, Class, ComponentTo, ComponentVerdict, Sender, Verdict};
use crate::session::{Session, reply_error};
use crate::stanza::{Dest, MucDest};

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
        if to.node().is_none()
            && server.uploads.is_some()
            && to.domain().as_str() == server.upload_domain()
        {
            return Dest::Upload;
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
    let full = session.jid.to_string();
    xml::set_attr(&mut stanza, "from", full.clone());
    features::profile_policy::school_nick(server, &session.user, &mut stanza).await;
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
    if to
        .as_ref()
        .is_some_and(|j| server.components.owner(j.domain().as_str()).is_some())
    {
        if let Verdict::Refuse(err) = server.gate().to_component(gate::classify(&stanza)) {
            debug!(from = %session.user, "refused by the gate: to a component");
            reply_error(session, &stanza, err);
        }
        return;
    }
    if let Some(muc) = classify_muc(server, to.as_ref()) {
        // With several nodes, a room lives on one: its stanzas go there.
        if let MucDest::Room { room, .. } = &muc
            && let Some(remote) = server.sessions.remote()
        {
            let owner = remote.room_owner(room).await;
            if owner != remote.node {
                remote.forward_muc(&owner, session, &stanza, None);
                return;
            }
        }
        features::muc::route(server, session, stanza, muc).await;
        return;
    }
    let dest = classify(server, session, to.as_ref());
    let class = gate::classify(&stanza);
    if class == Class::Unknown && stanza.name() != "iq" {
        // IQs get their own bad-request (RFC 6120 §8.2.3) from the IQ table.
        reply_error(
            session,
            &stanza,
            StanzaError::new(Condition::BadRequest).with_text("en", "unknown stanza type"),
        );
        return;
    }
    if let Some(invitee) = dest.user().filter(|u| *u != session.user)
        && let Some(room) = features::muc::invite::direct_room(server, &stanza)
    {
        let invitee = invitee.to_string();
        if let Some(remote) = server.sessions.remote() {
            let owner = remote.room_owner(&room).await;
            if owner != remote.node {
                remote.forward_muc(&owner, session, &stanza, Some(&invitee));
                return;
            }
        }
        features::muc::invite::direct(server, session, stanza, &invitee, &room).await;
        return;
    }
    let verdict = match dest.user() {
        Some(target) => {
            let v = server
                .gate()
                .decide_sent(
                    &Sender::of(session, &full),
                    target,
                    dest.resource(),
                    class,
                    &stanza,
                )
                .await;
            match v {
                Verdict::Refuse(err) => {
                    debug!(from = %session.user, to = %target, ?class, "refused by the gate");
                    reply_error(session, &stanza, err);
                    return;
                }
                Verdict::Drop => {
                    debug!(from = %session.user, to = %target, ?class, "dropped by the gate");
                    return;
                }
                v => Some(v),
            }
        }
        None => None,
    };
    // Unavailable presence to everyone also leaves every room (RFC 6121 §4.5.2).
    let gone =
        stanza.name() == "presence" && to.is_none() && stanza.attr("type") == Some("unavailable");
    match stanza.name() {
        "message" => features::message::outbound(server, session, stanza, dest, verdict).await,
        "presence" => features::presence::outbound(server, session, stanza, dest, verdict).await,
        _ => features::iq(server, session, stanza, dest, verdict).await,
    }
    if gone {
        features::muc::session_ended(server, session).await;
        if let Some(remote) = server.sessions.remote() {
            remote.session_left_rooms(session);
        }
    }
}

/// Routes one stanza from external component `component` (its `from` already checked to
/// be of its domain, its namespace made `jabber:client`): the gate decides, then the
/// server answers a request itself, or hands an answer to the request it answers.
pub async fn route_component(server: &Server, component: &str, stanza: Element) {
    let reply = |el: Element| {
        if !server.components.send(component, el) {
            debug!(component, "could not queue a reply for a component");
        }
    };
    let to = match stanza.attr("to").map(Jid::new) {
        None => None,
        Some(Ok(j)) => Some(j),
        Some(Err(e)) => {
            if causerie_proto::errors::may_reply_with_error(&stanza) {
                let mut bad = stanza.clone();
                xml::remove_attr(&mut bad, "to");
                let err = StanzaError::new(Condition::JidMalformed)
                    .with_text("en", format!("invalid recipient address: {e}"));
                reply(causerie_proto::errors::error_reply(&bad, &err));
            }
            return;
        }
    };
    let account = to
        .as_ref()
        .filter(|j| j.domain().as_str() == server.domain && j.node().is_some())
        .map(|j| j.to_string());
    let dest = match (&to, &account) {
        (None, _) => ComponentTo::Server,
        (Some(_), Some(a)) => ComponentTo::Account(a),
        (Some(j), None) if j.domain().as_str() == server.domain => ComponentTo::Server,
        (Some(_), None) => ComponentTo::Elsewhere,
    };
    let from = stanza.attr("from").unwrap_or_default().to_lowercase();
    let class = gate::classify(&stanza);
    match server.gate().from_component(component, &from, dest, class) {
        ComponentVerdict::Server => {
            let mut request = stanza.clone();
            if to.is_none() {
                xml::set_attr(&mut request, "to", server.domain.clone());
            }
            match features::component_iq(server, &request) {
                Ok(payload) => reply(crate::stanza::result_for(&request, payload)),
                Err(err) => {
                    // A component is nobody's pupil: « vous » (`stanza::addressed`).
                    let err = crate::stanza::for_register(err, causerie_ent::Register::Vous);
                    reply(causerie_proto::errors::error_reply(&request, &err))
                }
            }
        }
        ComponentVerdict::Answer(awaited) => awaited.deliver(stanza),
        ComponentVerdict::Refuse(err) => {
            debug!(component, ?class, "refused by the gate: from a component");
            if causerie_proto::errors::may_reply_with_error(&stanza) {
                let err = crate::stanza::for_register(err, causerie_ent::Register::Vous);
                reply(causerie_proto::errors::error_reply(&stanza, &err));
            }
        }
        ComponentVerdict::Drop => {
            debug!(component, ?class, "dropped by the gate: from a component");
        }
    }
}

/// A session ended: unregister it, tell whoever saw it online, record the account's last
/// logout when it was its last session, and leave its rooms.
pub async fn session_ended(server: &Server, session: &Session) {
    if let Some(departed) = server.sessions.unregister(&session.user, session.id()) {
        let status = departed.status.clone();
        features::presence::departed(server, session, departed).await;
        if !server.sessions.is_online(&session.user) {
            // XEP-0012: the account's last logout.
            features::last::record(server, &session.user, status.as_deref()).await;
        }
    }
    if !server.sessions.is_online_here(&session.user) {
        // The cache is this node's: kept while the user has a session here.
        server.contacts.forget(&session.user);
    }
    features::muc::session_ended(server, session).await;
    if let Some(remote) = server.sessions.remote() {
        remote.session_left_rooms(session);
    }
}
