//! RFC 6121 §8 message delivery between accounts and resources, and XEP-0160
//! offline storage: a message for an account with no available resource is
//! committed to the store first, and delivered at the next login with an
//! XEP-0203 delay stamp.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{OfflineMessage, OfflineStore};
use tracing::warn;

use super::carbons;
use crate::Server;
use crate::c2s::Session;
use crate::router::{Dest, reply_error};

pub async fn outbound(server: &Server, session: &Session, stanza: Element, dest: Dest) {
    let kind = stanza.attr("type").unwrap_or("normal").to_string();
    let carbons = carbons::eligible(&stanza);
    if let Some(target) = dest.user()
        && target != session.user
        && matches!(kind.as_str(), "chat" | "normal")
        && let Err(err) = server.may_message(&session.user, target).await
    {
        reply_error(session, &stanza, err);
        return;
    }
    if carbons && dest.user().is_some_and(|u| u != session.user) {
        carbons::copy(server, &session.user, session.handle.id, "sent", &stanza);
    }
    match dest {
        Dest::Remote => reply_error(session, &stanza, Condition::RemoteServerNotFound),
        Dest::Search => reply_error(session, &stanza, Condition::ServiceUnavailable),
        Dest::Domain => {
            if stanza.get_child("body", ns::CLIENT).is_some() {
                reply_error(session, &stanza, Condition::ServiceUnavailable);
            }
        }
        Dest::Full(user, resource) => match server.sessions.full(&user, &resource) {
            Some(h) => {
                if carbons {
                    carbons::copy(server, &user, h.id, "received", &stanza);
                }
                h.send(stanza);
            }
            // RFC 6121 §8.5.3.2.1: no such resource.
            None => match kind.as_str() {
                "chat" | "normal" => to_account(server, session, &user, stanza, &kind).await,
                "groupchat" => reply_error(session, &stanza, Condition::ServiceUnavailable),
                _ => {}
            },
        },
        Dest::Bare(user) => to_account(server, session, &user, stanza, &kind).await,
    }
}

/// Delivers to a local account's bare JID (RFC 6121 §8.5.2).
async fn to_account(server: &Server, session: &Session, user: &str, stanza: Element, kind: &str) {
    if kind == "groupchat" {
        reply_error(session, &stanza, Condition::ServiceUnavailable);
        return;
    }
    let targets: Vec<_> = server
        .sessions
        .available(user)
        .into_iter()
        .filter(|a| a.priority >= 0)
        .collect();
    if !targets.is_empty() {
        if kind == "error" {
            if let Some(best) = targets.iter().max_by_key(|a| a.priority) {
                best.handle.send(stanza);
            }
            return;
        }
        for t in &targets {
            t.handle.send(stanza.clone());
        }
        return;
    }
    if matches!(kind, "error" | "headline") {
        return;
    }
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
        Ok(true) => {}
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

/// Delivers stored messages (read with the subscription requests at the
/// initial presence, `OfflineStore::waiting`) to a session that just became
/// available, then deletes those that were handed over.
pub async fn deliver_offline(server: &Server, session: &Session, messages: Vec<OfflineMessage>) {
    let mut delivered = None;
    for m in messages {
        let Ok(el) = m.stanza.parse::<Element>() else {
            warn!(id = m.id, "dropping an unreadable offline message");
            delivered = Some(m.id);
            continue;
        };
        if !session.handle.send(el) {
            break;
        }
        delivered = Some(m.id);
    }
    if let Some(id) = delivered
        && let Err(e) = server.store.delete_offline(&session.user, id).await
    {
        warn!(error = %e, "cannot delete delivered offline messages");
    }
}
