//! RFC 6121 §3–4: presence subscriptions (the whole state machine, with
//! pending requests kept while the contact is offline, and pre-approval) and
//! presence broadcast (initial presence, probes, directed presence,
//! unavailable on disconnect).
//!
//! Subscription stanzas carry bare JIDs. Each change of a roster item is
//! stored first, then pushed, then the stanza is delivered.

use std::collections::HashSet;

use causerie_proto::errors::Condition;
use causerie_proto::{Element, ns, xml};
use causerie_store::{OfflineStore, RosterItem, RosterStore, StoreError, Subscription};
use jid::Jid;
use tracing::warn;

use super::{message, roster};
use crate::Server;
use crate::c2s::Session;
use crate::router::{Dest, reply_error};
use crate::sessions::Departed;

type Result<T> = std::result::Result<T, StoreError>;

pub async fn outbound(
    server: &Server,
    session: &Session,
    stanza: Element,
    dest: Dest,
    to: Option<Jid>,
) {
    let kind = stanza.attr("type").map(str::to_string);
    let result = match (kind.as_deref(), to.is_some()) {
        (None | Some("unavailable"), false) => {
            broadcast(server, session, stanza, kind.is_none()).await
        }
        (None | Some("unavailable"), true) => {
            directed(server, session, stanza, dest, kind.is_none());
            Ok(())
        }
        (Some(k @ ("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")), true) => {
            subscription(server, session, stanza, k, dest).await
        }
        (Some("probe"), true) => probe(server, session, dest).await,
        (Some("error"), true) => {
            if let Dest::Full(user, resource) = &dest
                && let Some(h) = server.sessions.full(user, resource)
            {
                h.send(stanza);
            }
            Ok(())
        }
        _ => {
            reply_error(session, &stanza, Condition::BadRequest);
            Ok(())
        }
    };
    if let Err(e) = result {
        warn!(error = %e, "storage failure while handling presence");
    }
}

/// The localpart of a bare JID string on this server.
fn local_user(server: &Server, bare: &str) -> Option<String> {
    let (node, domain) = bare.split_once('@')?;
    (domain == server.domain && !node.is_empty()).then(|| node.to_string())
}

fn bare_of(server: &Server, user: &str) -> String {
    format!("{user}@{}", server.domain)
}

fn presence_el(kind: Option<&str>, from: &str, to: &str) -> Element {
    let mut p = xml::elem("presence", ns::CLIENT, &[("from", from), ("to", to)]);
    if let Some(k) = kind {
        xml::set_attr(&mut p, "type", k);
    }
    p
}

/// Delivers a presence stanza to every available resource of `user`.
fn to_available(server: &Server, user: &str, stanza: &Element) {
    for a in server.sessions.available(user) {
        a.handle.send(stanza.clone());
    }
}

/// Sends the current presence of each available resource of `from_user` to
/// every available resource of `to_user` (or only to `only`).
fn send_presences(server: &Server, from_user: &str, to_user: &str, only: Option<&Session>) {
    let to_bare = bare_of(server, to_user);
    let presences = server.sessions.available(from_user);
    for a in presences {
        let mut p = a.presence.clone();
        match only {
            Some(s) => {
                xml::set_attr(&mut p, "to", s.jid.to_string());
                s.handle.send(p);
            }
            None => {
                xml::set_attr(&mut p, "to", to_bare.clone());
                to_available(server, to_user, &p);
            }
        }
    }
}

/// Sends unavailable presence from each available resource of `from_user` to
/// `to_user`'s available resources (a subscription just ended).
fn send_unavailables(server: &Server, from_user: &str, to_user: &str) {
    let to_bare = bare_of(server, to_user);
    for a in server.sessions.available(from_user) {
        let from = format!("{}/{}", bare_of(server, from_user), a.handle.resource);
        to_available(
            server,
            to_user,
            &presence_el(Some("unavailable"), &from, &to_bare),
        );
    }
}

fn parse_priority(stanza: &Element) -> i32 {
    stanza
        .get_child("priority", ns::CLIENT)
        .and_then(|p| p.text().trim().parse::<i32>().ok())
        .map(|p| p.clamp(-128, 127))
        .unwrap_or(0)
}

/// Presence without `to`: broadcast to subscribers and own resources (RFC 6121 §4.2, §4.4, §4.5).
async fn broadcast(
    server: &Server,
    session: &Session,
    stanza: Element,
    available: bool,
) -> Result<()> {
    let user = &session.user;
    let was = server.sessions.is_available(user, session.handle.id);
    let directed = if available {
        server.sessions.set_presence(
            user,
            session.handle.id,
            Some(stanza.clone()),
            parse_priority(&stanza),
        );
        HashSet::new()
    } else {
        if !was {
            return Ok(());
        }
        let directed = server.sessions.take_directed(user, session.handle.id);
        server
            .sessions
            .set_presence(user, session.handle.id, None, 0);
        directed
    };
    let roster = if available && !was {
        server.roster_for_presence(user).await?
    } else {
        server.store.roster(user).await?.into()
    };
    broadcast_to(server, user, &roster, &stanza, &directed).await;
    if available && !was {
        // Initial presence: probe contacts, show own other resources, then
        // what waited while offline.
        for item in roster
            .iter()
            .filter(|i| matches!(i.subscription, Subscription::To | Subscription::Both))
        {
            if let Some(contact) = local_user(server, &item.contact)
                && server.may_reach(user, &contact).await.is_ok()
            {
                send_presences(server, &contact, user, Some(session));
            }
        }
        for a in server.sessions.available(user) {
            if a.handle.id != session.handle.id {
                let mut p = a.presence.clone();
                xml::set_attr(&mut p, "to", session.jid.to_string());
                session.handle.send(p);
            }
        }
        let waiting = server.store.waiting(user).await?;
        for (_, raw) in waiting.pending_in {
            if let Ok(p) = raw.parse::<Element>() {
                session.handle.send(p);
            }
        }
        if parse_priority(&stanza) >= 0 {
            message::deliver_offline(server, session, waiting.messages).await;
        }
    }
    Ok(())
}

/// Sends `stanza` (from a resource of `user`) to the contacts subscribed to
/// `user` whom the school's rules still let `user` reach, to `user`'s own
/// available resources, and to `directed` JIDs.
async fn broadcast_to(
    server: &Server,
    user: &str,
    roster: &[RosterItem],
    stanza: &Element,
    directed: &HashSet<String>,
) {
    let unavailable = stanza.attr("type") == Some("unavailable");
    let mut done: HashSet<String> = HashSet::new();
    for item in roster
        .iter()
        .filter(|i| matches!(i.subscription, Subscription::From | Subscription::Both))
    {
        if let Some(contact) = local_user(server, &item.contact)
            && (unavailable || server.may_reach(user, &contact).await.is_ok())
        {
            let mut p = stanza.clone();
            xml::set_attr(&mut p, "to", item.contact.clone());
            to_available(server, &contact, &p);
            done.insert(item.contact.clone());
        }
    }
    let own = bare_of(server, user);
    let mut p = stanza.clone();
    xml::set_attr(&mut p, "to", own.clone());
    to_available(server, user, &p);
    for to in directed {
        let bare = to.split('/').next().unwrap_or(to);
        if done.contains(bare) || bare == own {
            continue;
        }
        deliver_directed(server, to, stanza);
    }
}

fn deliver_directed(server: &Server, to: &str, stanza: &Element) {
    let Ok(jid) = Jid::new(to) else { return };
    let Some(user) = jid.node().map(|n| n.to_string()) else {
        return;
    };
    if jid.domain().as_str() != server.domain {
        return;
    }
    let mut p = stanza.clone();
    xml::set_attr(&mut p, "to", to);
    match jid.resource() {
        Some(r) => {
            if let Some(h) = server.sessions.full(&user, r.as_str()) {
                h.send(p);
            }
        }
        None => to_available(server, &user, &p),
    }
}

/// Directed presence (RFC 6121 §4.6).
fn directed(server: &Server, session: &Session, stanza: Element, dest: Dest, available: bool) {
    let to = match &dest {
        Dest::Bare(u) => bare_of(server, u),
        Dest::Full(u, r) => format!("{}/{r}", bare_of(server, u)),
        Dest::Domain | Dest::Remote | Dest::Search => return,
    };
    server
        .sessions
        .note_directed(&session.user, session.handle.id, &to, available);
    deliver_directed(server, &to, &stanza);
}

/// A client's probe: answered only for contacts it is subscribed to.
async fn probe(server: &Server, session: &Session, dest: Dest) -> Result<()> {
    let Some(contact) = dest.user() else {
        return Ok(());
    };
    let item = server
        .store
        .roster_item(&session.user, &bare_of(server, contact))
        .await?;
    if item.is_some_and(|i| matches!(i.subscription, Subscription::To | Subscription::Both)) {
        send_presences(server, contact, &session.user, Some(session));
    }
    Ok(())
}

async fn subscription(
    server: &Server,
    session: &Session,
    stanza: Element,
    kind: &str,
    dest: Dest,
) -> Result<()> {
    let contact = match &dest {
        Dest::Bare(u) | Dest::Full(u, _) => u.clone(),
        Dest::Remote => {
            reply_error(session, &stanza, Condition::RemoteServerNotFound);
            return Ok(());
        }
        Dest::Domain | Dest::Search => return Ok(()),
    };
    if contact == session.user {
        return Ok(());
    }
    let user = &session.user;
    let contact_bare = bare_of(server, &contact);
    let user_bare = session.bare.to_string();
    // RFC 6121 §3.1.2: subscription stanzas go out from the bare JID.
    let mut stanza = stanza;
    xml::set_attr(&mut stanza, "from", user_bare.clone());
    xml::set_attr(&mut stanza, "to", contact_bare.clone());
    match kind {
        "subscribe" => {
            let mut item = server
                .store
                .roster_item(user, &contact_bare)
                .await?
                .unwrap_or_else(|| RosterItem::new(contact_bare.clone()));
            let subscribed = matches!(item.subscription, Subscription::To | Subscription::Both);
            if !subscribed && (!item.ask || item.refused) {
                item.ask = true;
                item.refused = false;
                server.put_roster_item(user, &item).await?;
                roster::push(server, user, &item);
            }
            inbound_subscribe(server, &contact, user, stanza).await
        }
        "subscribed" => {
            if server.store.has_pending_in(user, &contact_bare).await? {
                server.store.remove_pending_in(user, &contact_bare).await?;
                let mut item = server
                    .store
                    .roster_item(user, &contact_bare)
                    .await?
                    .unwrap_or_else(|| RosterItem::new(contact_bare.clone()));
                item.subscription = match item.subscription {
                    Subscription::None | Subscription::From => Subscription::From,
                    Subscription::To | Subscription::Both => Subscription::Both,
                };
                item.approved = false;
                server.put_roster_item(user, &item).await?;
                roster::push(server, user, &item);
                inbound_subscribed(server, &contact, user, stanza).await?;
                send_presences(server, user, &contact, None);
            } else {
                // Pre-approval (RFC 6121 §3.4).
                let mut item = server
                    .store
                    .roster_item(user, &contact_bare)
                    .await?
                    .unwrap_or_else(|| RosterItem::new(contact_bare.clone()));
                if matches!(item.subscription, Subscription::None | Subscription::To)
                    && !item.approved
                {
                    item.approved = true;
                    server.put_roster_item(user, &item).await?;
                    roster::push(server, user, &item);
                }
            }
            Ok(())
        }
        "unsubscribe" => {
            if let Some(mut item) = server.store.roster_item(user, &contact_bare).await? {
                let before = item.clone();
                item.subscription = match item.subscription {
                    Subscription::To | Subscription::None => Subscription::None,
                    Subscription::Both | Subscription::From => Subscription::From,
                };
                item.ask = false;
                if item != before {
                    server.put_roster_item(user, &item).await?;
                    roster::push(server, user, &item);
                }
            }
            unsubscribe_effects(server, user, &contact_bare).await
        }
        _ => {
            // unsubscribed: cancel the contact's subscription to us, or deny a request.
            let denial = server.store.remove_pending_in(user, &contact_bare).await?;
            if let Some(mut item) = server.store.roster_item(user, &contact_bare).await? {
                let before = item.clone();
                item.subscription = match item.subscription {
                    Subscription::From | Subscription::None => Subscription::None,
                    Subscription::Both | Subscription::To => Subscription::To,
                };
                item.approved = false;
                if item != before {
                    server.put_roster_item(user, &item).await?;
                    roster::push(server, user, &item);
                }
            }
            unsubscribed_effects(server, user, &contact_bare, denial).await
        }
    }
}

/// A subscription request arrives for local `contact` from `user`.
async fn inbound_subscribe(
    server: &Server,
    contact: &str,
    user: &str,
    stanza: Element,
) -> Result<()> {
    let user_bare = bare_of(server, user);
    let contact_bare = bare_of(server, contact);
    if !server.user_exists(contact).await {
        // RFC 6121 §3.1.3: no such contact; answer as if refused.
        let reply = presence_el(Some("unsubscribed"), &contact_bare, &user_bare);
        return inbound_unsubscribed(server, user, contact, reply).await;
    }
    let item = server.store.roster_item(contact, &user_bare).await?;
    if let Some(mut item) = item {
        if matches!(item.subscription, Subscription::From | Subscription::Both) {
            let reply = presence_el(Some("subscribed"), &contact_bare, &user_bare);
            return inbound_subscribed(server, user, contact, reply).await;
        }
        if item.approved {
            item.approved = false;
            item.subscription = match item.subscription {
                Subscription::To => Subscription::Both,
                _ => Subscription::From,
            };
            server.put_roster_item(contact, &item).await?;
            roster::push(server, contact, &item);
            let reply = presence_el(Some("subscribed"), &contact_bare, &user_bare);
            inbound_subscribed(server, user, contact, reply).await?;
            send_presences(server, contact, user, None);
            return Ok(());
        }
    }
    server
        .store
        .add_pending_in(contact, &user_bare, &xml::to_string(&stanza))
        .await?;
    to_available(server, contact, &stanza);
    Ok(())
}

/// `contact` approved `user`'s request: `user` now sees `contact`.
async fn inbound_subscribed(
    server: &Server,
    user: &str,
    contact: &str,
    stanza: Element,
) -> Result<()> {
    let contact_bare = bare_of(server, contact);
    let Some(mut item) = server.store.roster_item(user, &contact_bare).await? else {
        return Ok(());
    };
    if !item.ask {
        return Ok(());
    }
    item.ask = false;
    item.refused = false;
    item.subscription = match item.subscription {
        Subscription::None | Subscription::To => Subscription::To,
        Subscription::From | Subscription::Both => Subscription::Both,
    };
    server.put_roster_item(user, &item).await?;
    roster::push(server, user, &item);
    to_available(server, user, &stanza);
    Ok(())
}

/// `user` no longer wants `contact`'s presence: the contact's side (RFC 6121 §3.3.3).
pub async fn unsubscribe_effects(server: &Server, user: &str, contact_bare: &str) -> Result<()> {
    let Some(contact) = local_user(server, contact_bare) else {
        return Ok(());
    };
    let user_bare = bare_of(server, user);
    server.store.remove_pending_in(&contact, &user_bare).await?;
    if let Some(mut item) = server.store.roster_item(&contact, &user_bare).await? {
        let before = item.clone();
        item.subscription = match item.subscription {
            Subscription::From | Subscription::None => Subscription::None,
            Subscription::Both | Subscription::To => Subscription::To,
        };
        if item != before {
            server.put_roster_item(&contact, &item).await?;
            roster::push(server, &contact, &item);
        }
    }
    to_available(
        server,
        &contact,
        &presence_el(Some("unsubscribe"), &user_bare, contact_bare),
    );
    send_unavailables(server, &contact, user);
    Ok(())
}

/// `canceller` cancelled (or, with `denial`, refused) `contact_bare`'s
/// subscription: the contact's side (RFC 6121 §3.2.3).
pub async fn unsubscribed_effects(
    server: &Server,
    canceller: &str,
    contact_bare: &str,
    denial: bool,
) -> Result<()> {
    let Some(contact) = local_user(server, contact_bare) else {
        return Ok(());
    };
    let from = bare_of(server, canceller);
    if denial {
        tracing::debug!(user = %canceller, "subscription request refused");
    }
    inbound_unsubscribed(
        server,
        &contact,
        canceller,
        presence_el(Some("unsubscribed"), &from, contact_bare),
    )
    .await?;
    send_unavailables(server, canceller, &contact);
    Ok(())
}

/// `user` receives `unsubscribed` from `contact`.
async fn inbound_unsubscribed(
    server: &Server,
    user: &str,
    contact: &str,
    stanza: Element,
) -> Result<()> {
    let contact_bare = bare_of(server, contact);
    if let Some(mut item) = server.store.roster_item(user, &contact_bare).await? {
        let before = item.clone();
        if item.ask {
            // Our pending request was refused: remember it (« Invitation refusée »).
            item.ask = false;
            item.refused = true;
        }
        item.subscription = match item.subscription {
            Subscription::To | Subscription::None => Subscription::None,
            Subscription::Both | Subscription::From => Subscription::From,
        };
        if item != before {
            server.put_roster_item(user, &item).await?;
            roster::push(server, user, &item);
            to_available(server, user, &stanza);
        }
    }
    Ok(())
}

/// A session went away: if it was available, everyone who saw it gets
/// unavailable presence.
pub async fn departed(server: &Server, session: &Session, departed: Departed) {
    if !departed.was_available {
        return;
    }
    let stanza = presence_el(
        Some("unavailable"),
        &session.jid.to_string(),
        &session.bare.to_string(),
    );
    match server.store.roster(&session.user).await {
        Ok(roster) => {
            broadcast_to(server, &session.user, &roster, &stanza, &departed.directed).await
        }
        Err(e) => warn!(error = %e, "cannot read roster to broadcast unavailable presence"),
    }
}
