//! RFC 6121 §2: the roster — get, set (name and groups, the seed's
//! categories), remove, and roster pushes to every interested resource.
//!
//! Roster versioning (RFC 6121 §2.6, advertised as the stream feature
//! `urn:xmpp:features:rosterver`): the version is a counter per account that every roster
//! write bumps (the store does it in the write's transaction). A get with `ver` equal to
//! the current version is answered with an empty result, the changes coming as pushes
//! from then on; any other `ver` gets the whole roster with the current version (the
//! simple form §2.6.3 allows). A get without `ver` is answered as before, without one.
//!
//! Subscription states are never set by the client: they change through
//! presence subscriptions (`features::presence`). Causerie adds one
//! documented extension to an item, `<refused xmlns='urn:causerie:roster:0'/>`,
//! present while the contact has refused our request (« Invitation refusée »).

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{RosterItem, Subscription};
use jid::BareJid;

use super::presence;
use super::roster_push::{item_element, push, push_element};
use crate::server::Server;
use crate::services::gate::{Class, Sender};
use crate::services::policy::refusal;
use crate::session::Session;
use crate::stanza::{IqResult, internal, local_user};

/// Longest item name and group name accepted (RFC 6121 leaves it to the server).
const MAX_TEXT: usize = 1023;
/// Most groups on one item.
const MAX_GROUPS: usize = 64;

pub async fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !set {
        let asked = payload.attr("ver");
        server
            .sessions
            .set_interested(&session.user, session.id(), asked.is_some());
        // A versioned get reads the items and the version together (one read, of one
        // moment); the items are kept for the initial presence that usually follows,
        // even when the client, up to date, does not get them.
        let (version, items) = match asked {
            Some(asked) => {
                let (v, items) = server
                    .contacts
                    .roster_with_version_for_client(&session.user)
                    .await
                    .map_err(internal)?;
                if asked == v.to_string() {
                    // RFC 6121 §2.6.3: up to date, the changes will come as pushes.
                    return Ok(None);
                }
                (Some(v), items)
            }
            None => (
                None,
                server
                    .contacts
                    .roster_for_client(&session.user)
                    .await
                    .map_err(internal)?,
            ),
        };
        let mut q = Element::bare("query", ns::ROSTER);
        if let Some(v) = version {
            xml::set_attr(&mut q, "ver", v.to_string());
        }
        for item in items.iter() {
            q.append_child(item_element(item));
        }
        return Ok(Some(q));
    }
    let items: Vec<&Element> = payload.children().collect();
    let [item] = items.as_slice() else {
        return Err(bad("a roster set has exactly one item"));
    };
    if !item.is("item", ns::ROSTER) {
        return Err(bad("expected <item/>"));
    }
    let contact = item
        .attr("jid")
        .and_then(|j| BareJid::new(j).ok())
        .ok_or_else(|| {
            StanzaError::new(Condition::BadRequest).with_text("en", "invalid or missing jid")
        })?;
    if contact == session.bare {
        return Err(
            StanzaError::new(Condition::NotAllowed).with_text("en", "you cannot add yourself")
        );
    }
    let contact = contact.to_string();
    if item.attr("subscription") == Some("remove") {
        return match remove(server, session, &contact).await.map_err(internal)? {
            true => Ok(None),
            false => Err(StanzaError::new(Condition::ItemNotFound)),
        };
    }
    let name = item
        .attr("name")
        .map(str::to_string)
        .filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > MAX_TEXT) {
        return Err(StanzaError::new(Condition::NotAcceptable).with_text("en", "name too long"));
    }
    let mut groups = Vec::new();
    for g in item.children().filter(|c| c.is("group", ns::ROSTER)) {
        let g = g.text();
        if g.is_empty() || g.chars().count() > MAX_TEXT {
            return Err(
                StanzaError::new(Condition::NotAcceptable).with_text("en", "invalid group name")
            );
        }
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    if groups.len() > MAX_GROUPS {
        return Err(StanzaError::new(Condition::NotAcceptable).with_text("en", "too many groups"));
    }
    let existing = server
        .contacts
        .item(&session.user, &contact)
        .await
        .map_err(internal)?;
    if existing.is_none()
        && let Some(node) = local_user(&server.domain, &contact)
    {
        // A new contact is someone the school's rules let us reach.
        server
            .view()
            .await
            .reach(&session.user, &node)
            .map_err(|r| refusal(&r))?;
    }
    let mut stored = existing.unwrap_or_else(|| RosterItem::new(contact.clone()));
    stored.name = name;
    stored.groups = groups;
    server
        .contacts
        .put(&session.user, &stored)
        .await
        .map_err(internal)?;
    push(server, &session.user, &stored).await;
    Ok(None)
}

fn bad(text: &str) -> StanzaError {
    StanzaError::new(Condition::BadRequest).with_text("en", text)
}

/// Removes `contact` from the roster of `session`'s account (RFC 6121 §2.5.2): cancels
/// the subscriptions both ways (as the gate lets the notices go), then pushes the
/// removal. `false` when there was no such item.
pub async fn remove(
    server: &Server,
    session: &Session,
    contact: &str,
) -> Result<bool, causerie_store::StoreError> {
    let user = session.user.as_str();
    let contacts = &server.contacts;
    let item = contacts.item(user, contact).await?;
    let pending_in = contacts.has_pending_in(user, contact).await?;
    let full = session.jid.to_string();
    let sender = Sender::of(session, &full);
    let gate = server.gate();
    let contact_user = local_user(&server.domain, contact);
    let verdict = |class| {
        let gate = &gate;
        let sender = &sender;
        let contact_user = contact_user.clone();
        async move {
            match contact_user {
                Some(c) => gate.decide(sender, &c, None, class).await,
                None => crate::services::Verdict::Drop,
            }
        }
    };
    let Some(item) = item else {
        if pending_in {
            // Not in the roster, but a request waits: removing means refusing it.
            let v = verdict(Class::Unsubscribed).await;
            contacts.remove_pending_in(user, contact).await?;
            presence::unsubscribed_effects(server, user, contact, true, false, &v).await?;
        }
        return Ok(pending_in);
    };
    let had_to = matches!(item.subscription, Subscription::To | Subscription::Both);
    let had_from = matches!(item.subscription, Subscription::From | Subscription::Both);
    // Decided while the relation still exists.
    let unsubscribe = if had_to || item.ask {
        Some(verdict(Class::Unsubscribe).await)
    } else {
        None
    };
    let unsubscribed = if had_from || pending_in {
        Some(verdict(Class::Unsubscribed).await)
    } else {
        None
    };
    contacts.remove(user, contact).await?;
    if pending_in {
        contacts.remove_pending_in(user, contact).await?;
    }
    let mut gone = xml::elem(
        "item",
        ns::ROSTER,
        &[("jid", contact), ("subscription", "remove")],
    );
    if let Some(name) = &item.name {
        xml::set_attr(&mut gone, "name", name.as_str());
    }
    push_element(server, user, gone).await;
    if let Some(v) = &unsubscribe {
        presence::unsubscribe_effects(server, session, contact, v).await?;
    }
    if let Some(v) = &unsubscribed {
        presence::unsubscribed_effects(server, user, contact, pending_in && !had_from, had_from, v)
            .await?;
    }
    if let Some(contact_user) = symmetric_removal(server, user, contact).await {
        // The seed: « la suppression se fait des deux côtés de façon symétrique ».
        let user_bare = format!("{user}@{}", server.domain);
        contacts
            .remove_pending_in(&contact_user, &user_bare)
            .await?;
        if contacts.remove(&contact_user, &user_bare).await? {
            let gone = xml::elem(
                "item",
                ns::ROSTER,
                &[("jid", &user_bare), ("subscription", "remove")],
            );
            push_element(server, &contact_user, gone).await;
        }
    }
    Ok(true)
}

/// When `user` removes `contact_bare` from his contacts, the localpart of the contact
/// whose own item must go too: both are directory users and the school's semantics apply
/// (symmetric deletion).
async fn symmetric_removal(server: &Server, user: &str, contact_bare: &str) -> Option<String> {
    let view = server.view().await;
    if view.is_open() {
        return None;
    }
    let node = local_user(&server.domain, contact_bare)?;
    (view.knows(user) && view.knows(&node)).then_some(node)
}
