//! RFC 6121 §8 message delivery between accounts and resources, and XEP-0160 offline
//! storage: a message for an account with no available resource is committed to the
//! store first, and delivered at the next login with an XEP-0203 delay stamp — after the
//! gate decided it again with the rules of that moment. A message kept offline is told
//! to the account's push app servers (`features::push::notify`).
//!
//! Whether a message may go at all is the gate's decision, taken by the router: here a
//! message comes with its pass.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{OfflineMessage, OfflineStore};
use jid::Jid;
use tracing::{debug, warn};

use super::carbons;
use crate::server::Server;
use crate::services::gate::{self, Sender};
use crate::services::sessions::Full;
use crate::services::{Pass, Verdict};
use crate::session::{Session, reply_error};
use crate::stanza::Dest;

pub async fn outbound(
    server: &Server,
    session: &Session,
    stanza: Element,
    dest: Dest,
    verdict: Option<Verdict>,
) {
    let kind = stanza.attr("type").unwrap_or("normal").to_string();
    let pass = match (&dest, verdict.as_ref().and_then(Verdict::pass)) {
        (Dest::Bare(_) | Dest::Full(..), Some(p)) => p.clone(),
        (Dest::Bare(_) | Dest::Full(..), None) => return,
        (Dest::Remote, _) => {
            reply_error(session, &stanza, Condition::RemoteServerNotFound);
            return;
        }
        (Dest::Search, _) => {
            reply_error(session, &stanza, Condition::ServiceUnavailable);
            return;
        }
        (Dest::Domain, _) => {
            if stanza.get_child("body", ns::CLIENT).is_some() {
                reply_error(session, &stanza, Condition::ServiceUnavailable);
            }
            return;
        }
    };
    let to_other = dest.user() != Some(session.user.as_str());
    let carbons = carbons::eligible(&stanza) && to_other;
    if carbons {
        carbons::copy(server, &Pass::own(session), session.id(), "sent", &stanza);
    }
    match dest {
        Dest::Full(_, resource) => {
            if carbons {
                let except = server
                    .sessions
                    .session_id(pass.to(), &resource)
                    .unwrap_or(0);
                carbons::copy(server, &pass, except, "received", &stanza);
            }
            match server
                .sessions
                .deliver_full(&pass, &resource, stanza.clone())
            {
                Full::Queued | Full::Overflow => {}
                // RFC 6121 §8.5.3.2.1: no such resource.
                Full::NoSuchResource => match kind.as_str() {
                    "chat" | "normal" => to_account(server, session, &pass, stanza, &kind).await,
                    _ => {}
                },
            }
        }
        Dest::Bare(_) => to_account(server, session, &pass, stanza, &kind).await,
        _ => {}
    }
}

/// Delivers to a local account's bare JID (RFC 6121 §8.5.2).
async fn to_account(server: &Server, session: &Session, pass: &Pass, stanza: Element, kind: &str) {
    if kind == "error" {
        server.sessions.deliver_best(pass, stanza);
        return;
    }
    if server.sessions.deliver_available(pass, &stanza, true) > 0 {
        return;
    }
    if kind == "headline" {
        return;
    }
    let user = pass.to();
    if !server.user_exists(user).await {
        reply_error(session, &stanza, Condition::ServiceUnavailable);
        return;
    }
    // XEP-0160: keep messages with content; chat states alone are not worth keeping.
    if stanza.get_child("body", ns::CLIENT).is_none()
        && stanza.get_child("subject", ns::CLIENT).is_none()
    {
        return;
    }
    let now = chrono::Utc::now();
    let mut stored = stanza.clone();
    let mut delay = xml::elem(
        "delay",
        ns::DELAY,
        &[
            ("from", &server.domain),
            ("stamp", &now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        ],
    );
    delay.append_text("Offline Storage".to_string());
    stored.append_child(delay);
    let max = server.config.limits.max_offline_per_user;
    match server
        .store
        .store_offline(user, &xml::to_string(&stored), now.timestamp_millis(), max)
        .await
    {
        // Kept: the account's phones are told (XEP-0357).
        Ok(true) => super::push::notify(server, user, &stanza),
        Ok(false) => reply_error(
            session,
            &stanza,
            StanzaError::new(Condition::ServiceUnavailable)
                .with_text("en", "the recipient's offline storage is full")
                .with_text(
                    "fr",
                    "La boîte de messages hors ligne du destinataire est pleine.",
                ),
        ),
        Err(e) => {
            warn!(error = %e, "cannot store an offline message");
            reply_error(session, &stanza, Condition::InternalServerError);
        }
    }
}

/// Whether a stanza kept while `session`'s account was offline may still be delivered:
/// an invitation to a room only while the invitee is still a member of it; another one
/// from another account is decided again by the gate with the rules in force now (its
/// sender may have changed class meanwhile); one the server or a room composed goes.
pub async fn still_deliverable(server: &Server, session: &Session, stanza: &Element) -> bool {
    // An invitation (from the room, or a direct one from the inviter): while the invitee
    // is still a member (the rooms' policy decided it when he was invited).
    if let Some(room) = super::muc::invite::invitation_room(server, stanza) {
        return super::muc::invite::still_member(server, &session.user, &room).await;
    }
    let Some(from) = stanza.attr("from").and_then(|f| Jid::new(f).ok()) else {
        return false;
    };
    let domain = from.domain().as_str();
    if domain == server.muc_domain() {
        // The room's other notices (a decline, a removal).
        return true;
    }
    if domain != server.domain {
        return false;
    }
    let Some(sender) = from.node().map(|n| n.to_string()) else {
        return true; // the server itself
    };
    let full = from.to_string();
    let verdict = server
        .gate()
        .decide(
            &Sender {
                user: &sender,
                full: &full,
                session: None,
            },
            &session.user,
            None,
            gate::classify(stanza),
        )
        .await;
    matches!(verdict, Verdict::Deliver(_))
}

/// Delivers stored messages (read with the subscription requests at the initial
/// presence, `OfflineStore::waiting`) to a session that just became available, each
/// decided again ([`still_deliverable`]), then deletes those that were handed over or
/// refused.
pub async fn deliver_offline(server: &Server, session: &Session, messages: Vec<OfflineMessage>) {
    let mut done = None;
    for m in messages {
        let Ok(el) = m.stanza.parse::<Element>() else {
            warn!(id = m.id, "dropping an unreadable offline message");
            done = Some(m.id);
            continue;
        };
        if !still_deliverable(server, session, &el).await {
            debug!(
                id = m.id,
                "an offline message is no longer allowed: dropped"
            );
            done = Some(m.id);
            continue;
        }
        if !session.reply(el) {
            break;
        }
        done = Some(m.id);
    }
    if let Some(id) = done
        && let Err(e) = server.store.delete_offline(&session.user, id).await
    {
        warn!(error = %e, "cannot delete delivered offline messages");
    }
}
