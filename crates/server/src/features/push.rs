//! XEP-0357 push notifications: a phone's client enables push toward the school's app
//! server (a configured external component, XEP-0114), and when a message it would want
//! to be woken for is kept for the account while none of its clients is online, the
//! server publishes a notification to that app server, which wakes the phone's app.
//!
//! - [`handle`]: `<enable xmlns='urn:xmpp:push:0' jid='…' node='…'>` (with an optional
//!   publish-options data form, kept and sent back with every publish) and
//!   `<disable jid='…' node='…'?/>` on the account's own bare JID. The app server must
//!   be a configured component (the gate's `push_target`: `not-allowed` otherwise); at
//!   most `push.max_registrations_per_account` registrations per account
//!   (`resource-constraint` past it).
//! - [`notify`]: the one entry point for "a message is waiting for this account" — called
//!   by the offline path (`features::message`, room invitations in `features::muc`), and
//!   meant for the stream-management work's detached sessions. It is cheap and never
//!   waits: it tells the pacing service (`services::push`), which coalesces what arrives
//!   within `push.min_interval_secs` into one notification.
//! - [`start`]: the worker that sends them. Each notification is an IQ set from the
//!   account's bare JID to the app server: a pubsub `<publish node='…'>` of a
//!   `<notification>` whose `urn:xmpp:push:summary` form carries `message-count` (the
//!   messages kept for the account) and, only where the deployment allows it
//!   (`push.include_sender`, `push.include_body`; off by default: pupils are minors),
//!   `last-message-sender` and `last-message-body`; then the registration's
//!   publish-options.
//! - An error answer (of any type but `wait`) or no answer within
//!   `push.answer_timeout_secs` disables the registration, as Prosody's
//!   mod_cloud_notify does for errors (XEP-0357 §9 leaves it to the server); an app
//!   server that is not connected at that moment keeps its registrations (it may be
//!   restarting): the notification is dropped.

use std::sync::Arc;
use std::time::Duration;

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{OfflineStore, PushRegistration, PushStore, StoreError};
use jid::Jid;
use tracing::{debug, info, warn};

use crate::server::Server;
use crate::services::push::Last;
use crate::session::Session;
use crate::stanza::{IqResult, error, internal};

/// The summary form's type (XEP-0357 §7).
const SUMMARY: &str = "urn:xmpp:push:summary";
/// Longest publish-options form kept, serialised.
const MAX_OPTIONS_BYTES: usize = 4096;
/// Longest body put in a notification (when the deployment allows bodies at all).
const MAX_BODY_CHARS: usize = 200;
const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
const NS_CONFERENCE: &str = "jabber:x:conference";

/// `enable` / `disable` on the account's own JID (see the module docs).
pub async fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !set {
        return Err(StanzaError::new(Condition::BadRequest).with_text("en", "use an IQ set"));
    }
    let Some(raw) = payload.attr("jid") else {
        return Err(error(
            Condition::BadRequest,
            "L'adresse du service de notifications (jid) manque.",
            "The app server's address (jid) is missing.",
        ));
    };
    let Ok(jid) = Jid::new(raw) else {
        return Err(error(
            Condition::JidMalformed,
            "L'adresse du service de notifications est invalide.",
            "The app server's address is invalid.",
        ));
    };
    let node = payload.attr("node").filter(|n| !n.is_empty());
    let jid = jid.to_string();
    if payload.name() == "disable" {
        return match server.store.push_disable(&session.user, &jid, node).await {
            Ok(_) => Ok(None),
            Err(e) => Err(internal(e)),
        };
    }
    server.gate().push_target(
        Jid::new(&jid)
            .map(|j| j.domain().to_string())
            .unwrap_or_default()
            .as_str(),
    )?;
    let Some(node) = node else {
        return Err(error(
            Condition::BadRequest,
            "Le nœud (node) manque.",
            "The node is missing.",
        ));
    };
    let options = match payload.get_child("x", ns::DATA_FORMS) {
        None => None,
        Some(form) => {
            let text = xml::to_string(form);
            if text.len() > MAX_OPTIONS_BYTES {
                return Err(error(
                    Condition::NotAcceptable,
                    "Les options de publication sont trop longues.",
                    "The publish options are too long.",
                ));
            }
            Some(text)
        }
    };
    let max = server.config.push.max_registrations_per_account;
    match server
        .store
        .push_enable(&session.user, &jid, node, options.as_deref(), max)
        .await
    {
        Ok(true) => {
            debug!(user = %session.user, "push enabled");
            Ok(None)
        }
        Ok(false) => Err(error(
            Condition::ResourceConstraint,
            format!("Ce compte a déjà {max} appareils inscrits aux notifications."),
            format!("This account already has {max} devices registered for notifications."),
        )),
        Err(StoreError::NotFound) => Err(StanzaError::new(Condition::ItemNotFound)),
        Err(e) => Err(internal(e)),
    }
}

/// Whether `stanza` (a message kept for an account) is worth waking a phone for: a chat
/// or normal message with a body, or an invitation to a room.
fn worth_waking(stanza: &Element) -> bool {
    if stanza.name() != "message" {
        return false;
    }
    let invitation = stanza
        .get_child("x", NS_MUC_USER)
        .is_some_and(|x| x.get_child("invite", NS_MUC_USER).is_some())
        || stanza.get_child("x", NS_CONFERENCE).is_some();
    let kind = stanza.attr("type").unwrap_or("normal");
    invitation
        || (matches!(kind, "chat" | "normal") && stanza.get_child("body", ns::CLIENT).is_some())
}

/// A message `stanza` is waiting for account `user`, with none of his clients online to
/// read it: his app servers will be told (see the module docs). Cheap, never waits; a
/// stanza not worth waking for (chat states, receipts, errors) is ignored.
pub fn notify(server: &Server, user: &str, stanza: &Element) {
    if !server.components.any() || !worth_waking(stanza) {
        return;
    }
    let cfg = &server.config.push;
    let last = Last {
        sender: cfg
            .include_sender
            .then(|| stanza.attr("from").and_then(|f| Jid::new(f).ok()))
            .flatten()
            .map(|j| j.to_bare().to_string()),
        body: cfg
            .include_body
            .then(|| stanza.get_child("body", ns::CLIENT))
            .flatten()
            .map(|b| b.text().chars().take(MAX_BODY_CHARS).collect()),
    };
    server.pushes.wake(user, last);
}

/// Starts the worker that sends the notifications (see the module docs).
pub fn start(server: &Arc<Server>) {
    let Some(mut woken) = server.pushes.take_receiver() else {
        return;
    };
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        while let Some(user) = woken.recv().await {
            let Some(server) = weak.upgrade() else { break };
            tokio::spawn(async move {
                let delay = server.pushes.delay(&user);
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let Some(last) = server.pushes.take(&user) else {
                    return;
                };
                send_all(&server, &user, &last).await;
            });
        }
    });
}

/// Notifies every app server `user` registered.
async fn send_all(server: &Server, user: &str, last: &Last) {
    let registrations = match server.store.push_registrations(user).await {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "cannot read push registrations");
            return;
        }
    };
    if registrations.is_empty() {
        return;
    }
    let count = match server.store.offline_count(user).await {
        Ok(n) => n.max(1),
        Err(_) => 1,
    };
    for reg in registrations {
        send_one(server, user, &reg, count, last).await;
    }
}

/// The notification IQ of one registration.
fn publish(
    server: &Server,
    user: &str,
    id: &str,
    reg: &PushRegistration,
    count: i64,
    last: &Last,
) -> Element {
    let mut form = xml::elem("x", ns::DATA_FORMS, &[("type", "submit")]);
    let mut field = |var: &str, value: &str| {
        let mut f = xml::elem("field", ns::DATA_FORMS, &[("var", var)]);
        f.append_child(xml::text_elem("value", ns::DATA_FORMS, value));
        form.append_child(f);
    };
    field("FORM_TYPE", SUMMARY);
    field("message-count", &count.to_string());
    if let Some(sender) = &last.sender {
        field("last-message-sender", sender);
    }
    if let Some(body) = &last.body {
        field("last-message-body", body);
    }
    let mut notification = Element::bare("notification", ns::PUSH);
    notification.append_child(form);
    let mut item = Element::bare("item", ns::PUBSUB);
    item.append_child(notification);
    let mut publish = xml::elem("publish", ns::PUBSUB, &[("node", &reg.node)]);
    publish.append_child(item);
    let mut pubsub = Element::bare("pubsub", ns::PUBSUB);
    pubsub.append_child(publish);
    if let Some(options) = reg
        .options
        .as_deref()
        .and_then(|o| o.parse::<Element>().ok())
    {
        let mut po = Element::bare("publish-options", ns::PUBSUB);
        po.append_child(options);
        pubsub.append_child(po);
    }
    let mut iq = xml::elem(
        "iq",
        ns::CLIENT,
        &[
            ("type", "set"),
            ("id", id),
            ("from", &server.bare_jid(user)),
            ("to", &reg.jid),
        ],
    );
    iq.append_child(pubsub);
    iq
}

async fn send_one(server: &Server, user: &str, reg: &PushRegistration, count: i64, last: &Last) {
    let Some(component) = Jid::new(&reg.jid).ok().and_then(|j| {
        server
            .components
            .owner(j.domain().as_str())
            .map(str::to_string)
    }) else {
        // The component is no longer configured: nothing to send it to.
        return;
    };
    let id = format!("push-{}", uuid::Uuid::new_v4().simple());
    let iq = publish(server, user, &id, reg, count, last);
    let requester = server.bare_jid(user);
    let Some(answer) = server
        .components
        .request(&component, &id, &requester, &reg.jid, iq)
    else {
        debug!(
            component,
            "push app server not connected: notification dropped"
        );
        return;
    };
    let wait = Duration::from_secs(server.config.push.answer_timeout_secs);
    let disable = match tokio::time::timeout(wait, answer).await {
        Ok(Ok(answer)) => match answer.attr("type") {
            Some("result") => false,
            _ => {
                let kind = answer
                    .get_child("error", ns::CLIENT)
                    .and_then(|e| e.attr("type"))
                    .unwrap_or("cancel");
                kind != "wait"
            }
        },
        // The component's connection ended before answering.
        Ok(Err(_)) => false,
        Err(_) => {
            server.components.forget(&id);
            true
        }
    };
    if disable {
        info!(
            component,
            "the push app server refused a notification: registration disabled"
        );
        if let Err(e) = server
            .store
            .push_disable(user, &reg.jid, Some(&reg.node))
            .await
        {
            warn!(error = %e, "cannot disable a push registration");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(x: &str) -> Element {
        x.parse().unwrap()
    }

    #[test]
    fn what_wakes_a_phone() {
        let c = "xmlns='jabber:client'";
        assert!(worth_waking(&el(&format!(
            "<message {c} type='chat'><body>x</body></message>"
        ))));
        assert!(worth_waking(&el(&format!(
            "<message {c}><body>x</body></message>"
        ))));
        assert!(!worth_waking(&el(&format!(
            "<message {c} type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        ))));
        assert!(!worth_waking(&el(&format!(
            "<message {c} type='headline'><body>x</body></message>"
        ))));
        assert!(!worth_waking(&el(&format!(
            "<message {c} type='error'><body>x</body></message>"
        ))));
        assert!(worth_waking(&el(&format!(
            "<message {c}><x xmlns='{NS_MUC_USER}'><invite from='a@b'/></x></message>"
        ))));
        assert!(worth_waking(&el(&format!(
            "<message {c}><x xmlns='{NS_CONFERENCE}' jid='r@conference.b'/></message>"
        ))));
    }
}
