//! Features, one file each, and the IQ dispatch table.
//!
//! [`iq`] is the one table `(namespace, element) → handler` for IQs the
//! server answers itself (addressed to the domain, or to an account's bare
//! JID on its behalf). IQs to a full JID go to that resource, with the gate's pass
//! (the router asked it: requests need the pair to be able to chat, answers must
//! answer a request that was routed).

pub mod blocking;
pub mod bookmarks;
pub mod caps;
pub mod carbons;
pub mod disco;
pub mod kept;
pub mod last;
pub mod mam;
pub mod message;
pub mod muc;
pub mod pep;
pub mod pep_events;
pub mod pep_limits;
pub mod ping;
pub mod presence;
pub mod private;
pub mod profile_policy;
pub mod push;
pub mod quiet;
pub mod report;
pub mod roster;
pub mod roster_push;
pub mod roster_rules;
pub mod search;
pub mod upload;
pub mod vcard;
pub mod vcard4;
pub mod version;

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns};

use crate::server::Server;
use crate::services::Verdict;
use crate::services::sessions::Full;
use crate::session::{Session, answer, reply_error};
use crate::stanza::Dest;

/// What an IQ is, once its type and id were checked (RFC 6120 §8.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqKind {
    Get,
    Set,
    /// A result or an error: an answer, which nothing answers.
    Answer,
}

/// Checks an IQ's type and id; an invalid one gets `bad-request` and `None`.
pub fn iq_kind(session: &Session, stanza: &Element) -> Option<IqKind> {
    let kind = match stanza.attr("type") {
        Some("get") => IqKind::Get,
        Some("set") => IqKind::Set,
        Some("result" | "error") => IqKind::Answer,
        _ => {
            reply_error(
                session,
                stanza,
                StanzaError::new(Condition::BadRequest).with_text("en", "invalid IQ type"),
            );
            return None;
        }
    };
    if stanza.attr("id").is_none() {
        reply_error(
            session,
            stanza,
            StanzaError::new(Condition::BadRequest).with_text("en", "IQ without id"),
        );
        return None;
    }
    Some(kind)
}

/// The one child of an IQ request; none or several get `bad-request`.
pub fn iq_payload<'a>(session: &Session, stanza: &'a Element) -> Option<&'a Element> {
    let mut children = stanza.children();
    match (children.next(), children.next()) {
        (Some(payload), None) => Some(payload),
        _ => {
            reply_error(
                session,
                stanza,
                StanzaError::new(Condition::BadRequest)
                    .with_text("en", "an IQ request has exactly one child"),
            );
            None
        }
    }
}

/// Routes an IQ (RFC 6120 §8.2.3, RFC 6121 §8.5); `verdict` is the gate's for an
/// account's JID.
pub async fn iq(
    server: &Server,
    session: &Session,
    stanza: Element,
    dest: Dest,
    verdict: Option<Verdict>,
) {
    let Some(kind) = iq_kind(session, &stanza) else {
        return;
    };
    let is_request = kind != IqKind::Answer;
    match &dest {
        Dest::Remote => {
            if is_request {
                reply_error(session, &stanza, Condition::RemoteServerNotFound);
            }
            return;
        }
        Dest::Full(_, resource) => {
            let Some(pass) = verdict.as_ref().and_then(Verdict::pass) else {
                return;
            };
            if server.sessions.deliver_full(pass, resource, stanza.clone()) == Full::NoSuchResource
                && is_request
            {
                reply_error(session, &stanza, Condition::ServiceUnavailable);
            }
            return;
        }
        Dest::Domain | Dest::Bare(_) | Dest::Search | Dest::Upload => {}
    }
    if !is_request {
        // Results and errors addressed to an account: nothing waits for them. To the
        // server: the answer to one of its capabilities queries, if any.
        if dest == Dest::Domain
            && let Some(nodes) = caps::answered(server, session, &stanza)
        {
            pep_events::last_items(server, session, &nodes).await;
        }
        return;
    }
    let Some(payload) = iq_payload(session, &stanza) else {
        return;
    };
    let set = kind == IqKind::Set;
    let own = dest.user() == Some(session.user.as_str());
    if dest == Dest::Search {
        let result = match (payload.ns().as_str(), payload.name()) {
            (ns::DISCO_INFO, "query") if !set => Ok(Some(search::info())),
            (ns::DISCO_ITEMS, "query") if !set => Ok(Some(Element::bare("query", ns::DISCO_ITEMS))),
            (search::NS_SEARCH, "query") => search::handle(server, session, payload, set).await,
            _ => Err(StanzaError::new(Condition::ServiceUnavailable)),
        };
        answer(session, &stanza, result);
        return;
    }
    if dest == Dest::Upload {
        let result = match (payload.ns().as_str(), payload.name()) {
            (ns::DISCO_INFO, "query") => upload::info(server, session, payload, set).await,
            (ns::DISCO_ITEMS, "query") if !set => Ok(Some(Element::bare("query", ns::DISCO_ITEMS))),
            (upload::NS_UPLOAD, "request") => upload::request(server, session, payload, set).await,
            _ => Err(StanzaError::new(Condition::ServiceUnavailable)),
        };
        answer(session, &stanza, result);
        return;
    }
    let result = match (dest.user(), payload.ns().as_str(), payload.name()) {
        (None, ns::PING, "ping") => ping::handle(set),
        (Some(user), ns::PING, "ping") if own || server.user_exists(user).await => {
            ping::handle(set)
        }
        (None, ns::DISCO_INFO, "query") => disco::server_info(server, payload, set),
        (None, ns::DISCO_ITEMS, "query") => {
            disco::server_items_for(server, session, payload, set).await
        }
        (None, ns::VERSION, "query") => version::handle(set),
        (None, ns::LAST, "query") => last::server(server, set),
        (Some(user), ns::LAST, "query") => last::account(server, session, user, set).await,
        (Some(_), ns::BLOCKING, "blocklist" | "block" | "unblock") if own => {
            blocking::handle(server, session, payload, set).await
        }
        // A report without blocking (XEP-0377's payload on its own), to the server or
        // to one's own account.
        (None, report::NS_REPORTING, "report") => {
            report::handle(server, session, payload, set).await
        }
        (Some(_), report::NS_REPORTING, "report") if own => {
            report::handle(server, session, payload, set).await
        }
        // RFC 3921 session establishment: a no-op kept for older clients.
        (_, ns::SESSION, "session") if set => Ok(None),
        (Some(user), ns::DISCO_INFO, "query") => {
            disco::account_info(server, user, payload, set).await
        }
        (Some(user), ns::DISCO_ITEMS, "query") => {
            disco::account_items(server, session, user, payload, set).await
        }
        (Some(user), pep::NS_PUBSUB, "pubsub") => {
            pep::handle(server, session, user, payload, set).await
        }
        (Some(user), pep::NS_OWNER, "pubsub") => {
            pep::handle_owner(server, session, user, payload, set).await
        }
        (Some(user), private::NS_PRIVATE, "query") => {
            private::handle(server, session, user, payload, set).await
        }
        (Some(_), ns::PUSH, "enable" | "disable") if own => {
            push::handle(server, session, payload, set).await
        }
        (Some(_), ns::CARBONS, "enable" | "disable") if own => {
            carbons::handle(server, session, payload, set)
        }
        (Some(_), ns::MAM, "query") if own => mam::handle(server, session, payload, set).await,
        (Some(_), ns::MAM, "prefs") if own => mam::prefs(payload, set),
        // Another account's archive (the gate let the request through: the pair may reach
        // each other, but an archive is its owner's alone).
        (Some(_), ns::MAM, "query" | "prefs") => Err(mam::not_yours()),
        (Some(_), ns::ROSTER, "query") if own => {
            roster::handle(server, session, payload, set).await
        }
        (Some(user), ns::VCARD, "vCard") => {
            vcard::handle(server, session, user, payload, set).await
        }
        (None, ns::VCARD, "vCard") if !set => Err(StanzaError::new(Condition::ItemNotFound)),
        // RFC 6121 §8.5.1: unknown accounts, and payloads the server does not
        // handle on an account's behalf, get service-unavailable alike.
        _ => Err(StanzaError::new(Condition::ServiceUnavailable)),
    };
    answer(session, &stanza, result);
}

/// Answers an IQ request an external component (XEP-0114) sent to the server itself (the
/// gate let only those through): discovery, ping and version; anything else gets
/// `service-unavailable`.
pub fn component_iq(server: &Server, stanza: &Element) -> crate::stanza::IqResult {
    let set = stanza.attr("type") == Some("set");
    let mut children = stanza.children();
    let payload = match (children.next(), children.next()) {
        (Some(p), None) => p,
        _ => {
            return Err(StanzaError::new(Condition::BadRequest)
                .with_text("en", "an IQ request has exactly one child"));
        }
    };
    match (payload.ns().as_str(), payload.name()) {
        (ns::PING, "ping") => ping::handle(set),
        (ns::DISCO_INFO, "query") => disco::server_info(server, payload, set),
        (ns::DISCO_ITEMS, "query") => disco::server_items(server, payload, set),
        (ns::VERSION, "query") => version::handle(set),
        _ => Err(StanzaError::new(Condition::ServiceUnavailable)),
    }
}
