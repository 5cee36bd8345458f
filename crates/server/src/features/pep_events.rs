//! PEP notifications (XEP-0163 §4.3, XEP-0060 §7.1.2, §7.2.2, §8.4.2): what an account
//! published, retracted or deleted, told to the sessions that want it, and the last
//! items sent to a session that becomes available.
//!
//! A session wants a node's events when its capabilities (XEP-0115, `features::caps`)
//! list `NODE+notify` ("filtered notifications"). Recipients: the owner's own available
//! sessions, and, for a node with the `presence` access model, the available sessions of
//! the contacts subscribed to the owner's presence. **Every notification to another
//! account is decided by the gate** (`Class::PepEvent`: the school's rules must allow the
//! pair) and delivered with its pass; the owner's own sessions take `Pass::own`.
//! Who may read a node besides its owner ([`access`]) is decided here for pep.rs too: the
//! nodes of one's private data ([`private_node`]) are whitelist whatever is stored.

use causerie_proto::{Element, ns, xml};
use causerie_store::{AccessModel, PepNode, PepStore, SendLast, Subscription};
use tracing::warn;

use super::caps;
use super::vcard4;
use crate::server::Server;
use crate::services::gate::{Class, Sender};
use crate::services::{Pass, Verdict};
use crate::session::Session;
use crate::stanza::local_user;

/// XEP-0060's event namespace (what PEP notifications carry).
pub const NS_EVENT: &str = "http://jabber.org/protocol/pubsub#event";

/// What happened on a node.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Item { id: &'a str, payload: &'a Element },
    Retract { ids: &'a [String] },
    Delete,
}

fn event_element(node: &str, event: Event<'_>) -> Element {
    let mut e = Element::bare("event", NS_EVENT);
    match event {
        Event::Item { id, payload } => {
            let mut items = xml::elem("items", NS_EVENT, &[("node", node)]);
            let mut item = xml::elem("item", NS_EVENT, &[("id", id)]);
            item.append_child(payload.clone());
            items.append_child(item);
            e.append_child(items);
        }
        Event::Retract { ids } => {
            let mut items = xml::elem("items", NS_EVENT, &[("node", node)]);
            for id in ids {
                items.append_child(xml::elem("retract", NS_EVENT, &[("id", id)]));
            }
            e.append_child(items);
        }
        Event::Delete => {
            e.append_child(xml::elem("delete", NS_EVENT, &[("node", node)]));
        }
    }
    e
}

fn message(from: &str, to: &str, event: &Element) -> Element {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut m = xml::elem(
        "message",
        ns::CLIENT,
        &[
            ("from", from),
            ("to", to),
            ("type", "headline"),
            ("id", &id),
        ],
    );
    m.append_child(event.clone());
    m
}

/// Whether the session at `full` (which sent `presence`) wants `node`'s events.
fn wants(server: &Server, full: &str, presence: &Element, node: &str) -> bool {
    caps::notify_nodes(server, full, presence).is_some_and(|n| n.iter().any(|x| x == node))
}

/// Whether `name` is a node of its owner's private data (XEP-0223), which nobody else may
/// read or be told of: bookmarks (XEP-0402; its older namespace; XEP-0048's
/// `storage:bookmarks` published over PEP) and the displayed markers (XEP-0490).
pub fn private_node(name: &str) -> bool {
    // `bookmarks::NODE` and `bookmarks::NS_LEGACY`, named here: bookmarks.rs tells
    // through this module, which does not look back at it.
    matches!(
        name,
        "urn:xmpp:bookmarks:1"
            | "storage:bookmarks"
            | "urn:xmpp:bookmarks:0"
            | "urn:xmpp:mds:displayed:0"
    )
}

/// Who may read `node` besides its owner: its access model, whitelist for a private node
/// ([`private_node`]) whatever is stored (a node made before this rule).
pub fn access(node: &PepNode) -> AccessModel {
    if private_node(&node.node) {
        AccessModel::Whitelist
    } else {
        node.access_model
    }
}

/// Tells who may know of it that `session`'s account did `event` on `node`.
pub async fn tell(server: &Server, session: &Session, node: &PepNode, event: Event<'_>) {
    let owner = &session.user;
    let owner_bare = server.bare_jid(owner);
    let event = event_element(&node.node, event);
    let own = Pass::own(session);
    for a in server.sessions.available(owner) {
        let full = format!("{owner_bare}/{}", a.resource);
        if wants(server, &full, &a.presence, &node.node) {
            server
                .sessions
                .deliver_full(&own, &a.resource, message(&owner_bare, &full, &event));
        }
    }
    if access(node) != AccessModel::Presence {
        return;
    }
    let roster = match server.contacts.roster(owner).await {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "cannot read a roster to send PEP notifications");
            return;
        }
    };
    let view = server.view().await;
    let gate = server.gate();
    let sender = Sender {
        user: owner,
        full: &owner_bare,
        session: Some(session.id()),
    };
    for item in roster
        .iter()
        .filter(|i| matches!(i.subscription, Subscription::From | Subscription::Both))
    {
        let Some(contact) = local_user(&server.domain, &item.contact) else {
            continue;
        };
        let targets: Vec<_> = server
            .sessions
            .available(&contact)
            .into_iter()
            .filter(|a| {
                let full = format!("{}/{}", item.contact, a.resource);
                wants(server, &full, &a.presence, &node.node)
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        if let Verdict::Deliver(pass) = gate
            .decide_in(&view, &sender, &contact, None, Class::PepEvent)
            .await
        {
            for a in targets {
                let full = format!("{}/{}", item.contact, a.resource);
                server.sessions.deliver_full(
                    &pass,
                    &a.resource,
                    message(&owner_bare, &full, &event),
                );
            }
        }
    }
}

/// `session` became available wanting `nodes`' events: the last item of each of these
/// nodes of its own account and of the contacts whose presence it receives (as the gate
/// decides each, and their nodes' access models and `send_last_published_item` allow).
pub async fn last_items(server: &Server, session: &Session, nodes: &[String]) {
    if nodes.is_empty() || !server.sessions.is_available(&session.user, session.id()) {
        return;
    }
    let user = &session.user;
    let roster = match server.contacts.roster(user).await {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "cannot read a roster to send the last PEP items");
            return;
        }
    };
    let mut owners = vec![user.clone()];
    owners.extend(
        roster
            .iter()
            .filter(|i| matches!(i.subscription, Subscription::To | Subscription::Both))
            .filter_map(|i| local_user(&server.domain, &i.contact)),
    );
    let last = match server.store.pep_last_items(&owners, nodes).await {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "cannot read the last PEP items");
            return;
        }
    };
    let view = server.view().await;
    let gate = server.gate();
    let to = session.jid.to_string();
    for l in last {
        let pass = if &l.owner == user {
            if l.node.send_last == SendLast::Never {
                continue;
            }
            Pass::own(session)
        } else {
            if access(&l.node) != AccessModel::Presence
                || l.node.send_last != SendLast::OnSubAndPresence
            {
                continue;
            }
            let owner_bare = server.bare_jid(&l.owner);
            let sender = Sender {
                user: &l.owner,
                full: &owner_bare,
                session: None,
            };
            match gate
                .decide_in(&view, &sender, user, None, Class::PepEvent)
                .await
            {
                Verdict::Deliver(pass) => pass,
                _ => continue,
            }
        };
        let Ok(mut payload) = l.item.xml.parse::<Element>() else {
            warn!("unreadable PEP item skipped");
            continue;
        };
        if l.node.node == vcard4::NODE {
            payload = vcard4::with_school_name(server, &l.owner, &payload).await;
        }
        let event = event_element(
            &l.node.node,
            Event::Item {
                id: &l.item.id,
                payload: &payload,
            },
        );
        let from = server.bare_jid(&l.owner);
        server
            .sessions
            .deliver_full(&pass, session.resource(), message(&from, &to, &event));
    }
}
