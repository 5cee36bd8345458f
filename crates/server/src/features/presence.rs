//! RFC 6121 §3–4: presence subscriptions (the whole state machine, with pending requests
//! kept while the contact is offline, and pre-approval) and presence broadcast (initial
//! presence, probes, directed presence, unavailable on disconnect).
//!
//! Subscription stanzas carry bare JIDs. Each change of a roster item is stored first
//! (through the contacts service), then pushed, then the stanza is delivered — with the
//! gate's pass: the router decided the stanza the client sent, and every presence this
//! feature sends on a user's behalf to someone else (broadcast to subscribers, to directed
//! recipients, at departure) is decided by the gate too. A presence that the rules no
//! longer allow is not sent; when the rules change, the presences they end are ended at
//! once with an unavailable stripped of any status ([`rules_changed`]).
//!
//! A refused request is final for the pair: when the user refuses a request, later
//! requests from the same requester are withheld (his item stays « Invitation refusée »)
//! until the user asks him himself.

use std::collections::HashSet;
use std::sync::Arc;

use causerie_proto::errors::Condition;
use causerie_proto::{Element, ns, xml};
use causerie_store::{OfflineStore, RosterItem, StoreError, Subscription};
use jid::Jid;
use tracing::warn;

use super::message;
use super::roster_push;
use crate::outbound::Shared;
use crate::server::Server;
use crate::services::gate::{Class, Sender};
use crate::services::sessions::Departed;
use crate::services::{Pass, Verdict};
use crate::session::{Session, reply_error};
use crate::stanza::{Dest, local_user};

type Result<T> = std::result::Result<T, StoreError>;

pub async fn outbound(
    server: &Server,
    session: &Session,
    stanza: Element,
    dest: Dest,
    verdict: Option<Verdict>,
) {
    let kind = stanza.attr("type").map(str::to_string);
    let directed_to = stanza.attr("to").is_some();
    let result = match (kind.as_deref(), directed_to) {
        (None | Some("unavailable"), false) => {
            broadcast(server, session, stanza, kind.is_none()).await
        }
        (None | Some("unavailable"), true) => {
            directed(server, session, stanza, &dest, verdict, kind.is_none());
            Ok(())
        }
        (Some(k @ ("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")), true) => {
            subscription(server, session, stanza, k, dest, verdict).await
        }
        (Some("probe"), true) => probe(server, session, &dest, verdict).await,
        (Some("error"), true) => {
            if let (Dest::Full(_, resource), Some(pass)) =
                (&dest, verdict.as_ref().and_then(Verdict::pass))
            {
                server.sessions.deliver_full(pass, resource, stanza);
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

/// `stanza` without its text or payload: the same addresses and type, nothing else.
fn stripped(stanza: &Element) -> Element {
    let mut p = Element::bare(stanza.name(), ns::CLIENT);
    for attr in ["from", "to", "type", "id"] {
        if let Some(v) = stanza.attr(attr) {
            xml::set_attr(&mut p, attr, v);
        }
    }
    p
}

/// Delivers `stanza`, or its stripped form, as the verdict says, to the available
/// sessions of the verdict's account (or to one resource).
fn deliver(server: &Server, verdict: &Verdict, resource: Option<&str>, stanza: Element) {
    let (pass, stanza) = match verdict {
        Verdict::Deliver(p) => (p, stanza),
        Verdict::Stripped(p) => (p, stripped(&stanza)),
        _ => return,
    };
    match resource {
        Some(r) => {
            server.sessions.deliver_full(pass, r, stanza);
        }
        None => {
            server.sessions.deliver_available_owned(pass, stanza, false);
        }
    }
}

/// Sends the current presence of each available resource of `from_user` to every
/// available resource of the account of `pass`.
fn send_presences(server: &Server, from_user: &str, pass: &Pass) {
    let to_bare = bare_of(server, pass.to());
    for a in server.sessions.available(from_user) {
        let mut p = a.presence;
        xml::set_attr(&mut p, "to", to_bare.clone());
        server.sessions.deliver_available_owned(pass, p, false);
    }
}

/// Sends the current presence of each available resource of `from_user` to `session`
/// (`full`: its JID).
fn presences_to(server: &Server, from_user: &str, session: &Session) {
    // Each serialised once when it was set (`Shared::presence`): a login answered by 29
    // online classmates neither copies nor serialises their presences again.
    for p in server.sessions.available_shared(from_user) {
        session.reply_shared(&p);
    }
}

/// Sends unavailable presence (with no status) from each available resource of
/// `from_user` to the available resources of the account of `pass` (a subscription
/// through which it received them just ended). `here`: only from the resources on this
/// node (what every node does for its own when the rules change).
fn send_unavailables(server: &Server, from_user: &str, pass: &Pass, here: bool) {
    let to_bare = bare_of(server, pass.to());
    let from_sessions = if here {
        server.sessions.available_here(from_user)
    } else {
        server.sessions.available(from_user)
    };
    for a in from_sessions {
        let from = format!("{}/{}", bare_of(server, from_user), a.resource);
        server.sessions.deliver_available(
            pass,
            &presence_el(Some("unavailable"), &from, &to_bare),
            false,
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
    let was = server.sessions.is_available(user, session.id());
    // Becoming available and reading what was kept offline, in one step for the messages
    // being kept meanwhile (`Sessions::arrival`).
    let arrival = if available && !was {
        Some(server.sessions.arrival(user).await)
    } else {
        None
    };
    let (directed, shared) = if available {
        server.sessions.set_presence(
            user,
            session.id(),
            Some(stanza.clone()),
            parse_priority(&stanza),
        );
        // Serialised once by the registry as it kept it: the broadcast writes that text.
        let shared = server.sessions.shared_presence(user, session.id());
        (HashSet::new(), shared)
    } else {
        if !was {
            return Ok(());
        }
        let directed = server.sessions.take_directed(user, session.id());
        server.sessions.set_presence(user, session.id(), None, 0);
        (directed, None)
    };
    let initial = available && !was;
    let roster = if initial {
        server.contacts.roster_for_presence(user).await?
    } else {
        server.contacts.roster(user).await?
    };
    let full = session.jid.to_string();
    let sender = Sender::of(session, &full);
    broadcast_to(
        server, session, &sender, &roster, &stanza, shared, &directed,
    )
    .await;
    if initial {
        // Initial presence: probe contacts, show own other resources, then what waited
        // while offline, each decided again with the rules in force.
        let view = server.view().await;
        let gate = server.gate();
        for item in roster
            .iter()
            .filter(|i| matches!(i.subscription, Subscription::To | Subscription::Both))
        {
            // Only available resources answer a probe here: a contact without one is
            // skipped before the gate (nothing would be sent).
            if let Some(contact) = local_user(&server.domain, &item.contact)
                && server.sessions.has_available(&contact)
                && matches!(
                    gate.decide_in(&view, &sender, &contact, None, Class::Probe)
                        .await,
                    Verdict::Deliver(_)
                )
            {
                presences_to(server, &contact, session);
            }
        }
        for a in server.sessions.available(user) {
            if a.id != session.id() {
                let mut p = a.presence;
                xml::set_attr(&mut p, "to", full.as_str());
                session.reply(p);
            }
        }
        let waiting = server.store.waiting(user).await?;
        for (_, raw) in waiting.pending_in {
            if let Ok(p) = raw.parse::<Element>()
                && message::still_deliverable(server, session, &p).await
            {
                session.reply(p);
            }
        }
        // In quiet hours, what waits stays there until they end (features::quiet).
        let quiet = super::quiet::on_login(server, session).await;
        if parse_priority(&stanza) >= 0 && !quiet {
            message::deliver_offline(server, session, waiting.messages).await;
        }
    }
    drop(arrival);
    if available {
        // XEP-0163 §4.3.4: the last items of the nodes it wants, once its capabilities
        // are known (now, or when it answers the server's query: `features::caps`).
        if let Some(nodes) = super::caps::presence_sent(server, session, &stanza)
            && initial
        {
            super::pep_events::last_items(server, session, &nodes).await;
        }
    }
    Ok(())
}

/// Sends `stanza` (from a resource of `session`'s account) to the contacts subscribed to
/// it, as the gate decides each, to the account's own available resources, and to the
/// `directed` JIDs (who received a directed presence: they get its end, stripped when the
/// rules no longer allow the pair).
async fn broadcast_to(
    server: &Server,
    session: &Session,
    sender: &Sender<'_>,
    roster: &[RosterItem],
    stanza: &Element,
    shared: Option<Arc<Shared>>,
    directed: &HashSet<String>,
) {
    let available = stanza.attr("type").is_none();
    let class = Class::Broadcast { available };
    let view = server.view().await;
    let gate = server.gate();
    // The contacts told by the broadcast, that the directed presences below skip.
    let mut done: HashSet<String> = HashSet::new();
    // The presence serialised once: as the registry keeps it (`shared`, an available
    // presence), else when a first contact gets it as it is.
    let shared: std::cell::OnceCell<Option<Arc<Shared>>> = match shared {
        Some(shared) => Some(shared).into(),
        None => std::cell::OnceCell::new(),
    };
    for item in roster
        .iter()
        .filter(|i| matches!(i.subscription, Subscription::From | Subscription::Both))
    {
        if let Some(contact) = local_user(&server.domain, &item.contact) {
            if !directed.is_empty() {
                done.insert(item.contact.clone());
            }
            // A broadcast presence is not kept for later (RFC 6121 §4.2.2): with none of
            // the contact's resources available there is nothing to decide or copy. A
            // class's roster is mostly offline at 8:00 (BENCHMARKS.md, "Login: fewer
            // writes, fewer lookups").
            if !server.sessions.has_available(&contact) {
                continue;
            }
            let verdict = gate.decide_in(&view, sender, &contact, None, class).await;
            let addressed = || {
                let mut p = stanza.clone();
                xml::set_attr(&mut p, "to", item.contact.clone());
                p
            };
            // The presence as it is, to every contact the gate lets it reach: serialised
            // once for all of them (each session adds its own `to`).
            if let Verdict::Deliver(pass) = &verdict
                && let Some(shared) = shared.get_or_init(|| Shared::presence(stanza))
            {
                server
                    .sessions
                    .deliver_available_shared(pass, shared, addressed);
                continue;
            }
            deliver(server, &verdict, None, addressed());
        }
    }
    let own = bare_of(server, &session.user);
    let mut p = stanza.clone();
    xml::set_attr(&mut p, "to", own.clone());
    server
        .sessions
        .deliver_available_owned(&Pass::own(session), p, false);
    for to in directed {
        let Ok(jid) = Jid::new(to) else { continue };
        let bare = jid.to_bare().to_string();
        if done.contains(&bare) || bare == own || jid.domain().as_str() != server.domain {
            continue;
        }
        let Some(user) = jid.node().map(|n| n.to_string()) else {
            continue;
        };
        // They received a directed presence: its end goes as a broadcast would.
        let verdict = gate.decide_in(&view, sender, &user, None, class).await;
        let mut p = stanza.clone();
        xml::set_attr(&mut p, "to", to.as_str());
        deliver(server, &verdict, jid.resource().map(|r| r.as_str()), p);
    }
}

/// Directed presence (RFC 6121 §4.6), as the gate decided it.
fn directed(
    server: &Server,
    session: &Session,
    stanza: Element,
    dest: &Dest,
    verdict: Option<Verdict>,
    available: bool,
) {
    let (to, resource) = match dest {
        Dest::Bare(u) => (bare_of(server, u), None),
        Dest::Full(u, r) => (format!("{}/{r}", bare_of(server, u)), Some(r.as_str())),
        Dest::Domain | Dest::Remote | Dest::Search | Dest::Upload => return,
    };
    let Some(verdict) = verdict else { return };
    let delivered_available = available && matches!(verdict, Verdict::Deliver(_));
    server
        .sessions
        .note_directed(&session.user, session.id(), &to, delivered_available);
    deliver(server, &verdict, resource, stanza);
}

/// A client's probe: answered only for contacts it is subscribed to (the gate checked
/// that the rules allow the pair).
async fn probe(
    server: &Server,
    session: &Session,
    dest: &Dest,
    verdict: Option<Verdict>,
) -> Result<()> {
    let (Some(contact), Some(Verdict::Deliver(_))) = (dest.user(), verdict) else {
        return Ok(());
    };
    let item = server
        .contacts
        .item(&session.user, &bare_of(server, contact))
        .await?;
    if item.is_some_and(|i| matches!(i.subscription, Subscription::To | Subscription::Both)) {
        presences_to(server, contact, session);
    }
    Ok(())
}

async fn subscription(
    server: &Server,
    session: &Session,
    stanza: Element,
    kind: &str,
    dest: Dest,
    verdict: Option<Verdict>,
) -> Result<()> {
    let contact = match &dest {
        Dest::Bare(u) | Dest::Full(u, _) => u.clone(),
        Dest::Remote => {
            reply_error(session, &stanza, Condition::RemoteServerNotFound);
            return Ok(());
        }
        Dest::Domain | Dest::Search | Dest::Upload => return Ok(()),
    };
    let Some(verdict) = verdict else {
        return Ok(());
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
    let contacts = &server.contacts;
    match kind {
        "subscribe" => {
            let mut item = contacts
                .item(user, &contact_bare)
                .await?
                .unwrap_or_else(|| RosterItem::new(contact_bare.clone()));
            let subscribed = matches!(item.subscription, Subscription::To | Subscription::Both);
            if matches!(verdict, Verdict::Withheld) {
                // The contact refused us for good: the request stays refused.
                if !subscribed && (item.ask || !item.refused) {
                    item.ask = false;
                    item.refused = true;
                    contacts.put(user, &item).await?;
                    roster_push::push(server, user, &item).await;
                }
                return Ok(());
            }
            let Some(pass) = verdict.pass().cloned() else {
                return Ok(());
            };
            // Asking him ends a refusal of ours.
            contacts.lift_refusal(user, &contact_bare).await?;
            if !subscribed && (!item.ask || item.refused) {
                item.ask = true;
                item.refused = false;
                contacts.put(user, &item).await?;
                roster_push::push(server, user, &item).await;
            }
            inbound_subscribe(server, session, &contact, stanza, &pass).await
        }
        "subscribed" => {
            let Some(pass) = verdict.pass().cloned() else {
                return Ok(());
            };
            contacts.lift_refusal(user, &contact_bare).await?;
            let mut item = contacts
                .item(user, &contact_bare)
                .await?
                .unwrap_or_else(|| RosterItem::new(contact_bare.clone()));
            if contacts.remove_pending_in(user, &contact_bare).await? {
                item.subscription = match item.subscription {
                    Subscription::None | Subscription::From => Subscription::From,
                    Subscription::To | Subscription::Both => Subscription::Both,
                };
                item.approved = false;
                contacts.put(user, &item).await?;
                roster_push::push(server, user, &item).await;
                inbound_subscribed(server, &contact, user, stanza, &pass).await?;
                send_presences(server, user, &pass);
            } else if matches!(item.subscription, Subscription::None | Subscription::To)
                && !item.approved
            {
                // Pre-approval (RFC 6121 §3.4).
                item.approved = true;
                contacts.put(user, &item).await?;
                roster_push::push(server, user, &item).await;
            }
            Ok(())
        }
        "unsubscribe" => {
            if let Some(mut item) = contacts.item(user, &contact_bare).await? {
                let before = item.clone();
                item.subscription = match item.subscription {
                    Subscription::To | Subscription::None => Subscription::None,
                    Subscription::Both | Subscription::From => Subscription::From,
                };
                item.ask = false;
                if item != before {
                    contacts.put(user, &item).await?;
                    roster_push::push(server, user, &item).await;
                }
            }
            unsubscribe_effects(server, session, &contact_bare, &verdict).await
        }
        _ => {
            // unsubscribed: cancel the contact's subscription to us, or refuse a request.
            let denial = contacts.remove_pending_in(user, &contact_bare).await?;
            let mut was_sending = false;
            if let Some(mut item) = contacts.item(user, &contact_bare).await? {
                let before = item.clone();
                was_sending = matches!(item.subscription, Subscription::From | Subscription::Both);
                item.subscription = match item.subscription {
                    Subscription::From | Subscription::None => Subscription::None,
                    Subscription::Both | Subscription::To => Subscription::To,
                };
                item.approved = false;
                if item != before {
                    contacts.put(user, &item).await?;
                    roster_push::push(server, user, &item).await;
                }
            }
            unsubscribed_effects(server, user, &contact_bare, denial, was_sending, &verdict).await
        }
    }
}

/// A subscription request arrives for local `contact` from `session`'s account.
async fn inbound_subscribe(
    server: &Server,
    session: &Session,
    contact: &str,
    stanza: Element,
    pass: &Pass,
) -> Result<()> {
    let user = &session.user;
    let user_bare = bare_of(server, user);
    let contact_bare = bare_of(server, contact);
    let own = Pass::own(session);
    if !server.user_exists(contact).await {
        // RFC 6121 §3.1.3: no such contact; answer as if refused.
        let reply = presence_el(Some("unsubscribed"), &contact_bare, &user_bare);
        return inbound_unsubscribed(server, user, contact, reply, &own).await;
    }
    let item = server.contacts.item(contact, &user_bare).await?;
    if let Some(mut item) = item {
        if matches!(item.subscription, Subscription::From | Subscription::Both) {
            let reply = presence_el(Some("subscribed"), &contact_bare, &user_bare);
            return inbound_subscribed(server, user, contact, reply, &own).await;
        }
        if item.approved {
            item.approved = false;
            item.subscription = match item.subscription {
                Subscription::To => Subscription::Both,
                _ => Subscription::From,
            };
            server.contacts.put(contact, &item).await?;
            roster_push::push(server, contact, &item).await;
            let reply = presence_el(Some("subscribed"), &contact_bare, &user_bare);
            inbound_subscribed(server, user, contact, reply, &own).await?;
            send_presences(server, contact, &own);
            return Ok(());
        }
    }
    server
        .contacts
        .add_pending_in(contact, &user_bare, &xml::to_string(&stanza))
        .await?;
    server.sessions.deliver_available(pass, &stanza, false);
    Ok(())
}

/// `contact` approved `user`'s request: `user` (the account of `pass`) now sees `contact`.
async fn inbound_subscribed(
    server: &Server,
    user: &str,
    contact: &str,
    stanza: Element,
    pass: &Pass,
) -> Result<()> {
    let contact_bare = bare_of(server, contact);
    let Some(mut item) = server.contacts.item(user, &contact_bare).await? else {
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
    server.contacts.put(user, &item).await?;
    roster_push::push(server, user, &item).await;
    server.sessions.deliver_available(pass, &stanza, false);
    Ok(())
}

/// `session`'s account no longer wants `contact_bare`'s presence: the contact's side
/// (RFC 6121 §3.3.3). `verdict` is the gate's for the contact.
pub async fn unsubscribe_effects(
    server: &Server,
    session: &Session,
    contact_bare: &str,
    verdict: &Verdict,
) -> Result<()> {
    let Some(contact) = local_user(&server.domain, contact_bare) else {
        return Ok(());
    };
    if verdict.pass().is_none() {
        return Ok(());
    }
    let user = &session.user;
    let user_bare = bare_of(server, user);
    server
        .contacts
        .remove_pending_in(&contact, &user_bare)
        .await?;
    let mut was_sending = false;
    if let Some(mut item) = server.contacts.item(&contact, &user_bare).await? {
        let before = item.clone();
        was_sending = matches!(item.subscription, Subscription::From | Subscription::Both);
        item.subscription = match item.subscription {
            Subscription::From | Subscription::None => Subscription::None,
            Subscription::Both | Subscription::To => Subscription::To,
        };
        if item != before {
            server.contacts.put(&contact, &item).await?;
            roster_push::push(server, &contact, &item).await;
        }
    }
    deliver(
        server,
        verdict,
        None,
        presence_el(Some("unsubscribe"), &user_bare, contact_bare),
    );
    if was_sending && matches!(verdict, Verdict::Deliver(_)) {
        // The user was receiving the contact's presence: it ends. (Without reach, it
        // ended when the rules changed: nothing of the contact's goes now.)
        send_unavailables(server, &contact, &Pass::own(session), false);
    }
    Ok(())
}

/// `canceller` cancelled (or, with `denial`, refused) `contact_bare`'s subscription: the
/// contact's side (RFC 6121 §3.2.3). A refusal is final for the pair. `was_sending`: the
/// contact was receiving the canceller's presence. `verdict` is the gate's for the
/// contact.
pub async fn unsubscribed_effects(
    server: &Server,
    canceller: &str,
    contact_bare: &str,
    denial: bool,
    was_sending: bool,
    verdict: &Verdict,
) -> Result<()> {
    let Some(contact) = local_user(&server.domain, contact_bare) else {
        return Ok(());
    };
    if denial {
        tracing::debug!(user = %canceller, "subscription request refused");
        server.contacts.refuse(canceller, contact_bare).await?;
    }
    let Some(pass) = verdict.pass() else {
        return Ok(());
    };
    let from = bare_of(server, canceller);
    let notice = presence_el(Some("unsubscribed"), &from, contact_bare);
    let notice = match verdict {
        Verdict::Stripped(_) => stripped(&notice),
        _ => notice,
    };
    inbound_unsubscribed(server, &contact, canceller, notice, pass).await?;
    if was_sending && matches!(verdict, Verdict::Deliver(_)) {
        send_unavailables(server, canceller, pass, false);
    }
    Ok(())
}

/// `user` (the account of `pass`) receives `unsubscribed` from `contact`.
async fn inbound_unsubscribed(
    server: &Server,
    user: &str,
    contact: &str,
    stanza: Element,
    pass: &Pass,
) -> Result<()> {
    let contact_bare = bare_of(server, contact);
    if let Some(mut item) = server.contacts.item(user, &contact_bare).await? {
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
            server.contacts.put(user, &item).await?;
            roster_push::push(server, user, &item).await;
            server.sessions.deliver_available(pass, &stanza, false);
        }
    }
    Ok(())
}

/// A session went away: if it was available, everyone who saw it gets unavailable
/// presence (as the gate decides each).
pub async fn departed(server: &Server, session: &Session, departed: Departed) {
    if !departed.was_available {
        return;
    }
    let full = session.jid.to_string();
    let stanza = presence_el(Some("unavailable"), &full, &session.bare.to_string());
    // The session is gone from the registry: decided as a sender without a session.
    let sender = Sender {
        user: &session.user,
        full: &full,
        session: None,
    };
    match server.contacts.roster(&session.user).await {
        Ok(roster) => {
            broadcast_to(
                server,
                session,
                &sender,
                &roster,
                &stanza,
                None,
                &departed.directed,
            )
            .await
        }
        Err(e) => warn!(error = %e, "cannot read roster to broadcast unavailable presence"),
    }
}

/// The rules changed from `old` to `new`: between each pair of accounts among `affected`
/// and their contacts that could reach each other and no longer can, the presences they
/// were receiving from each other end now, with an unavailable presence that carries
/// nothing else (no status); directed presences too. Later presences between them are
/// not sent (the gate drops them).
pub async fn rules_changed(
    server: &Server,
    old: &crate::services::View,
    new: &crate::services::View,
    affected: &HashSet<String>,
) {
    // Directed presences sent to those the sender may no longer reach.
    for user in server.sessions.users() {
        for s in server.sessions.available_here(&user) {
            let directed = server.sessions.take_directed(&user, s.id);
            for to in directed {
                let other = Jid::new(&to)
                    .ok()
                    .filter(|j| j.domain().as_str() == server.domain)
                    .and_then(|j| j.node().map(|n| n.to_string()));
                let ended = other
                    .as_deref()
                    .is_some_and(|o| old.reach(&user, o).is_ok() && new.reach(&user, o).is_err());
                match other {
                    Some(other) if ended => {
                        let from = format!("{}/{}", bare_of(server, &user), s.resource);
                        let end = presence_el(Some("unavailable"), &from, &to);
                        let pass = Pass::server_notice(&other);
                        match to.split_once('/') {
                            Some((_, r)) => {
                                server.sessions.deliver_full(&pass, r, end);
                            }
                            None => {
                                server.sessions.deliver_available(&pass, &end, false);
                            }
                        }
                    }
                    _ => server.sessions.note_directed(&user, s.id, &to, true),
                }
            }
        }
    }
    for user in affected {
        let roster = match server.contacts.roster(user).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "cannot read a roster to end presences");
                continue;
            }
        };
        for item in roster.iter() {
            let Some(contact) = local_user(&server.domain, &item.contact) else {
                continue;
            };
            if !(old.reach(user, &contact).is_ok() && new.reach(user, &contact).is_err()) {
                continue;
            }
            tracing::debug!(%user, %contact, "the rules no longer let them see each other's presence");
            if matches!(item.subscription, Subscription::From | Subscription::Both) {
                // The contact was receiving the user's presence.
                send_unavailables(server, user, &Pass::server_notice(&contact), true);
            }
            if matches!(item.subscription, Subscription::To | Subscription::Both) {
                // The user was receiving the contact's presence.
                send_unavailables(server, &contact, &Pass::server_notice(user), true);
            }
        }
    }
}

/// `user` blocked `other` (XEP-0191 §3.3): the presences they were receiving from each
/// other end now with an unavailable that carries nothing else, as when the rules change
/// (the gate stops every later one).
pub async fn blocked(server: &Server, user: &str, other: &str) {
    let item = match server.contacts.item(user, &bare_of(server, other)).await {
        Ok(i) => i,
        Err(e) => {
            warn!(error = %e, "cannot read a roster item to end presences");
            return;
        }
    };
    let subscription = item.map(|i| i.subscription).unwrap_or_default();
    if matches!(subscription, Subscription::To | Subscription::Both) {
        // The blocker sees the blocked one offline.
        send_unavailables(server, other, &Pass::server_notice(user), false);
    }
    if matches!(subscription, Subscription::From | Subscription::Both) {
        send_unavailables(server, user, &Pass::server_notice(other), false);
    }
}

/// `user` unblocked `other` (XEP-0191 §3.4): the presences their subscriptions call for
/// go again, as the gate decides each.
pub async fn unblocked(server: &Server, user: &str, other: &str) {
    let item = match server.contacts.item(user, &bare_of(server, other)).await {
        Ok(i) => i,
        Err(e) => {
            warn!(error = %e, "cannot read a roster item to restore presences");
            return;
        }
    };
    let subscription = item.map(|i| i.subscription).unwrap_or_default();
    let gate = server.gate();
    let class = Class::Broadcast { available: true };
    let (user_bare, other_bare) = (bare_of(server, user), bare_of(server, other));
    if matches!(subscription, Subscription::To | Subscription::Both) {
        let from = Sender {
            user: other,
            full: &other_bare,
            session: None,
        };
        if let Verdict::Deliver(pass) = gate.decide(&from, user, None, class).await {
            send_presences(server, other, &pass);
        }
    }
    if matches!(subscription, Subscription::From | Subscription::Both) {
        let from = Sender {
            user,
            full: &user_bare,
            session: None,
        };
        if let Verdict::Deliver(pass) = gate.decide(&from, other, None, class).await {
            send_presences(server, user, &pass);
        }
    }
}
