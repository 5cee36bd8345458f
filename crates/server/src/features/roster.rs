//! RFC 6121 §2: the roster — get, set (name and groups, the seed's
//! categories), remove, and roster pushes to every interested resource.
//!
//! Subscription states are never set by the client: they change through
//! presence subscriptions (`features::presence`). Causerie adds one
//! documented extension to an item, `<refused xmlns='urn:causerie:roster:0'/>`,
//! present while the contact has refused our request (« Invitation refusée »).

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{RosterItem, RosterStore, Subscription};
use jid::BareJid;

use super::{IqResult, internal, presence};
use crate::Server;
use crate::c2s::Session;

/// Longest item name and group name accepted (RFC 6121 leaves it to the server).
const MAX_TEXT: usize = 1023;
/// Most groups on one item.
const MAX_GROUPS: usize = 64;

pub async fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !set {
        server
            .sessions
            .set_interested(&session.user, session.handle.id);
        let items = server
            .roster_for_client(&session.user)
            .await
            .map_err(internal)?;
        let mut q = Element::bare("query", ns::ROSTER);
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
        return match remove(server, &session.user, &contact)
            .await
            .map_err(internal)?
        {
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
        .store
        .roster_item(&session.user, &contact)
        .await
        .map_err(internal)?;
    if existing.is_none()
        && let Some((node, domain)) = contact.split_once('@')
        && domain == server.domain
    {
        // A new contact is someone the school's rules let us reach.
        server.may_reach(&session.user, node).await?;
    }
    let mut stored = existing.unwrap_or_else(|| RosterItem::new(contact.clone()));
    stored.name = name;
    stored.groups = groups;
    server
        .put_roster_item(&session.user, &stored)
        .await
        .map_err(internal)?;
    push(server, &session.user, &stored);
    Ok(None)
}

fn bad(text: &str) -> StanzaError {
    StanzaError::new(Condition::BadRequest).with_text("en", text)
}

/// The `<item/>` of a roster item.
pub fn item_element(item: &RosterItem) -> Element {
    let mut el = xml::elem(
        "item",
        ns::ROSTER,
        &[
            ("jid", &item.contact),
            ("subscription", item.subscription.as_str()),
        ],
    );
    if let Some(name) = &item.name {
        xml::set_attr(&mut el, "name", name.as_str());
    }
    if item.ask {
        xml::set_attr(&mut el, "ask", "subscribe");
    }
    if item.approved {
        xml::set_attr(&mut el, "approved", "true");
    }
    for g in &item.groups {
        el.append_child(xml::text_elem("group", ns::ROSTER, g.clone()));
    }
    if item.refused {
        el.append_child(Element::bare("refused", ns::CAUSERIE_ROSTER));
    }
    el
}

/// Sends a roster push (RFC 6121 §2.1.6) of `item` to `user`'s interested resources.
pub fn push(server: &Server, user: &str, item: &RosterItem) {
    push_element(server, user, item_element(item));
}

fn push_element(server: &Server, user: &str, item: Element) {
    for h in server.sessions.interested(user) {
        let mut iq = xml::elem("iq", ns::CLIENT, &[("type", "set")]);
        xml::set_attr(
            &mut iq,
            "id",
            format!("push-{}", uuid::Uuid::new_v4().simple()),
        );
        xml::set_attr(
            &mut iq,
            "to",
            format!("{user}@{}/{}", server.domain, h.resource),
        );
        let mut q = Element::bare("query", ns::ROSTER);
        q.append_child(item.clone());
        iq.append_child(q);
        h.send(iq);
    }
}

/// Removes `contact` from `user`'s roster (RFC 6121 §2.5.2): cancels the
/// subscriptions both ways, then pushes the removal. `false` when there was
/// no such item.
pub async fn remove(
    server: &Server,
    user: &str,
    contact: &str,
) -> Result<bool, causerie_store::StoreError> {
    let item = server.store.roster_item(user, contact).await?;
    let pending_in = server.store.has_pending_in(user, contact).await?;
    let Some(item) = item else {
        if pending_in {
            // Not in the roster, but a request waits: removing means refusing it.
            server.store.remove_pending_in(user, contact).await?;
            presence::unsubscribed_effects(server, user, contact, true).await?;
        }
        return Ok(pending_in);
    };
    server.remove_roster_item(user, contact).await?;
    if pending_in {
        server.store.remove_pending_in(user, contact).await?;
    }
    let mut gone = xml::elem(
        "item",
        ns::ROSTER,
        &[("jid", contact), ("subscription", "remove")],
    );
    if let Some(name) = &item.name {
        xml::set_attr(&mut gone, "name", name.as_str());
    }
    push_element(server, user, gone);
    let had_to = matches!(item.subscription, Subscription::To | Subscription::Both);
    let had_from = matches!(item.subscription, Subscription::From | Subscription::Both);
    if had_to || item.ask {
        presence::unsubscribe_effects(server, user, contact).await?;
    }
    if had_from || pending_in {
        presence::unsubscribed_effects(server, user, contact, pending_in && !had_from).await?;
    }
    if let Some(contact_user) = server.symmetric_removal(user, contact).await {
        // The seed: « la suppression se fait des deux côtés de façon symétrique ».
        let user_bare = format!("{user}@{}", server.domain);
        server
            .store
            .remove_pending_in(&contact_user, &user_bare)
            .await?;
        if server.remove_roster_item(&contact_user, &user_bare).await? {
            let gone = xml::elem(
                "item",
                ns::ROSTER,
                &[("jid", &user_bare), ("subscription", "remove")],
            );
            push_element(server, &contact_user, gone);
        }
    }
    Ok(true)
}
