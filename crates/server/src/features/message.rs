//! RFC 6121 §8 message delivery between accounts and resources, and XEP-0160 offline
//! storage: a message for an account with no available resource is committed to the
//! store first, and delivered at the next login with an XEP-0203 delay stamp — after the
//! gate decided it again with the rules of that moment. A message kept offline is told
//! to the account's push app servers (`features::push::notify`).
//!
//! Whether a message may go at all is the gate's decision, taken by the router: here a
//! message comes with its pass.
//!
//! The accounts' archive (XEP-0313, `features::mam`): a message of type chat or normal with
//! a body, once delivered to a resource or stored offline, is archived for its sender and
//! for its recipient (once for a message to oneself). It gets an XEP-0359
//! `<stanza-id by='recipient@DOMAIN'/>` before delivery, so that the recipient's sessions,
//! his carbons, his offline copy and both archives hold the same id; stanza-ids a client
//! put in claiming to be by one of our accounts (or the domain, or its rooms) are removed
//! from every message first, and `<origin-id/>` is kept. A place in the archive writer's
//! queue is reserved before delivery: when the writer is too far behind, the message is
//! refused (`resource-constraint`) rather than delivered without being archived. The
//! hints `no-store` and `no-permanent-store` are not honoured: the school keeps each
//! conversation for its retention (docs/config.md, "Archive").

use crate::stanza::addressed;
use causerie_ent::Text;
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{AccountArchiveEntry, AccountMessage, OfflineMessage, OfflineStore};
use jid::Jid;
use tracing::{debug, warn};

use super::carbons;
use crate::server::Server;
use crate::services::archive::Slot;
use crate::services::sessions::Full;
use crate::services::{Pass, Verdict};
use crate::session::{Session, reply_error};
use crate::stanza::Dest;

/// Whether a message goes into the accounts' archive when delivered (XEP-0313 §5.1.1:
/// chat and normal messages with a body).
fn archivable(stanza: &Element) -> bool {
    matches!(stanza.attr("type"), None | Some("chat" | "normal"))
        && stanza.get_child("body", ns::CLIENT).is_some()
}

/// Whether a message is worth keeping offline (XEP-0160): one with content; chat states
/// alone are not.
fn worth_keeping(stanza: &Element) -> bool {
    stanza.get_child("body", ns::CLIENT).is_some()
        || stanza.get_child("subject", ns::CLIENT).is_some()
}

/// Removes the stanza-ids a client put in claiming to be by this server: by one of its
/// accounts, its domain or its rooms (XEP-0359 §3.1).
fn strip_forged_ids(server: &Server, stanza: &mut Element) {
    let ours = |by: &str| {
        let domain = by.rsplit_once('@').map_or(by, |(_, d)| d);
        let domain = domain.split('/').next().unwrap_or(domain).to_lowercase();
        domain == server.domain || domain == server.muc_domain()
    };
    let forged = |c: &Element| c.is("stanza-id", ns::SID) && c.attr("by").is_none_or(ours);
    if stanza.children().any(forged) {
        let mut kept = Vec::new();
        while let Some(c) = stanza.remove_child("stanza-id", ns::SID) {
            if !forged(&c) {
                kept.push(c);
            }
        }
        for c in kept {
            stanza.append_child(c);
        }
    }
}

/// A delivered message's entries in its sender's and its recipient's archives.
fn archive_entries(
    server: &Server,
    sender: &str,
    recipient: &str,
    stanza_id: &str,
    stanza: &Element,
) -> Vec<AccountArchiveEntry> {
    let text = xml::to_string(stanza);
    let stamp_ms = chrono::Utc::now().timestamp_millis();
    let entry = |owner: &str, with: &str, outgoing: bool, stanza: String| AccountArchiveEntry {
        owner: owner.to_string(),
        message: AccountMessage {
            stanza_id: stanza_id.to_string(),
            with: server.bare_jid(with),
            outgoing,
            stanza,
            stamp_ms,
        },
    };
    if sender == recipient {
        return vec![entry(sender, sender, true, text)];
    }
    vec![
        entry(sender, recipient, true, text.clone()),
        entry(recipient, sender, false, text),
    ]
}

pub async fn outbound(
    server: &Server,
    session: &Session,
    mut stanza: Element,
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
        (Dest::Search | Dest::Upload, _) => {
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
    strip_forged_ids(server, &mut stanza);
    // A place in the archive's queue first, and the id both archives will hold.
    let mut archive = None;
    if archivable(&stanza) {
        let Some(slot) = server.archive.reserve().await else {
            reply_error(
                session,
                &stanza,
                addressed(
                    Condition::ResourceConstraint,
                    Text::new(
                        "Le message n'a pas pu être enregistré ; réessaie.",
                        "Le message n'a pas pu être enregistré ; réessayez.",
                        "The message could not be stored; try again.",
                    ),
                ),
            );
            return;
        };
        // Time-ordered (UUIDv7: 48 bits of time, 74 random): the archives' unique index
        // on (owner, stanza id) grows at its end instead of at random places.
        let stanza_id = crate::stanza::time_ordered_id();
        stanza.append_child(xml::elem(
            "stanza-id",
            ns::SID,
            &[("id", &stanza_id), ("by", &server.bare_jid(pass.to()))],
        ));
        archive = Some((slot, stanza_id));
    }
    // Quiet hours: kept in the recipient's offline storage until they end, the sender
    // told (features::quiet).
    if super::quiet::holdable(&session.user, pass.to(), &stanza)
        && let Some(quiet) = super::quiet::quiet_now(server, pass.to()).await
    {
        if carbons::eligible(&stanza) {
            carbons::copy(server, &Pass::own(session), session.id(), "sent", &stanza);
        }
        let kept = hold(server, session, &pass, &stanza).await;
        if kept {
            super::quiet::tell_sender(server, session, pass.to(), &quiet).await;
            if let Some((slot, stanza_id)) = archive {
                archived(server, slot, &session.user, pass.to(), &stanza_id, &stanza);
            }
        }
        return;
    }
    let to_other = dest.user() != Some(session.user.as_str());
    let carbons = carbons::eligible(&stanza) && to_other;
    if carbons {
        carbons::copy(server, &Pass::own(session), session.id(), "sent", &stanza);
    }
    let delivered = match dest {
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
                // Overflow: queued for a session that is being closed for not reading;
                // the archive keeps what the server accepted for him.
                Full::Queued | Full::Overflow => true,
                // RFC 6121 §8.5.3.2.1: no such resource.
                Full::NoSuchResource => match kind.as_str() {
                    "chat" | "normal" => {
                        to_account(server, session, &pass, stanza.clone(), &kind).await
                    }
                    _ => false,
                },
            }
        }
        Dest::Bare(_) => to_account(server, session, &pass, stanza.clone(), &kind).await,
        _ => false,
    };
    if let Some((slot, stanza_id)) = archive
        && delivered
    {
        archived(server, slot, &session.user, pass.to(), &stanza_id, &stanza);
    }
}

/// Queues a delivered message for its archives, in the place reserved for it.
fn archived(
    server: &Server,
    slot: Slot<'_>,
    sender: &str,
    recipient: &str,
    stanza_id: &str,
    stanza: &Element,
) {
    slot.send(archive_entries(
        server, sender, recipient, stanza_id, stanza,
    ));
}

/// Delivers to a local account's bare JID (RFC 6121 §8.5.2); true when it was queued for
/// a session or stored offline.
async fn to_account(
    server: &Server,
    session: &Session,
    pass: &Pass,
    stanza: Element,
    kind: &str,
) -> bool {
    if kind == "error" {
        server.sessions.deliver_best(pass, stanza);
        return false;
    }
    if server.sessions.deliver_available(pass, &stanza, true) > 0 {
        return true;
    }
    if kind == "headline" {
        return false;
    }
    let user = pass.to();
    if !server.user_exists(user).await {
        reply_error(session, &stanza, Condition::ServiceUnavailable);
        return false;
    }
    if !worth_keeping(&stanza) {
        return false;
    }
    match keep_offline_or_deliver(server, pass, &stanza).await {
        Ok(Kept::Delivered) => true,
        Ok(Kept::Stored) => {
            // Kept: the account's phones are told (XEP-0357).
            super::push::notify(server, pass.to(), &stanza);
            true
        }
        Ok(Kept::Full) => {
            reply_error(
                session,
                &stanza,
                StanzaError::new(Condition::ServiceUnavailable)
                    .with_text("en", "the recipient's offline storage is full")
                    .with_text(
                        "fr",
                        "La boîte de messages hors ligne du destinataire est pleine.",
                    ),
            );
            false
        }
        Err(e) => {
            warn!(error = %e, "cannot store an offline message");
            reply_error(session, &stanza, Condition::InternalServerError);
            false
        }
    }
}

/// Keeps a message for `pass.to()`, who is in quiet hours, in his offline storage (as if
/// he had no available session); false (the sender got the error) when it could not be.
async fn hold(server: &Server, session: &Session, pass: &Pass, stanza: &Element) -> bool {
    let _arrival = server.sessions.arrival(pass.to()).await;
    match keep_offline(server, pass.to(), stanza).await {
        Ok(true) => true,
        Ok(false) => {
            reply_error(
                session,
                stanza,
                StanzaError::new(Condition::ServiceUnavailable)
                    .with_text("en", "the recipient's offline storage is full")
                    .with_text(
                        "fr",
                        "La boîte de messages hors ligne du destinataire est pleine.",
                    ),
            );
            false
        }
        Err(e) => {
            warn!(error = %e, "cannot keep a message during quiet hours");
            reply_error(session, stanza, Condition::InternalServerError);
            false
        }
    }
}

/// What became of a message for an account that had no available session.
enum Kept {
    /// A session of the account became available meanwhile: it has it.
    Delivered,
    /// In offline storage.
    Stored,
    /// The account's offline storage is full.
    Full,
}

/// A message another node's gate let through for `user`, as the only copy for a session
/// of that node which had gone by the time it arrived (`crate::cluster`): kept offline
/// (or delivered to a session that became available meanwhile), as one for an account
/// without a session is.
pub async fn relayed_undelivered(server: &Server, user: &str, stanza: Element) {
    if !matches!(stanza.attr("type"), None | Some("chat" | "normal")) || !worth_keeping(&stanza) {
        return;
    }
    let pass = Pass::relayed(user);
    match keep_offline_or_deliver(server, &pass, &stanza).await {
        Ok(Kept::Stored) => super::push::notify(server, user, &stanza),
        Ok(Kept::Delivered) => {}
        Ok(Kept::Full) => warn!(%user, "offline storage full: a relayed message not kept"),
        Err(e) => warn!(error = %e, "cannot keep a relayed message offline"),
    }
}

/// Keeps `stanza` in offline storage for `pass.to()`, which the caller found without an
/// available session, unless one became available since (then it goes to it). This and a
/// session's becoming available and reading its offline storage (`features::presence`)
/// are serialised per account (`Sessions::arrival`): without it, a message committed just
/// after the new session read its storage waited for the next login.
async fn keep_offline_or_deliver(
    server: &Server,
    pass: &Pass,
    stanza: &Element,
) -> Result<Kept, causerie_store::StoreError> {
    let _arrival = server.sessions.arrival(pass.to()).await;
    if server.sessions.deliver_available(pass, stanza, true) > 0 {
        return Ok(Kept::Delivered);
    }
    Ok(if keep_offline(server, pass.to(), stanza).await? {
        Kept::Stored
    } else {
        Kept::Full
    })
}

/// Commits `stanza` to `user`'s offline storage with an XEP-0203 delay stamp (unless it
/// already carries ours: a message that came back from a session that ended without
/// acknowledging it); false when the storage is full.
async fn keep_offline(
    server: &Server,
    user: &str,
    stanza: &Element,
) -> Result<bool, causerie_store::StoreError> {
    let now = chrono::Utc::now();
    let mut stored = stanza.clone();
    let stamped = stanza
        .children()
        .any(|c| c.is("delay", ns::DELAY) && c.attr("from") == Some(server.domain.as_str()));
    if !stamped {
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
    }
    let max = server.config.limits.max_offline_per_user;
    server
        .store
        .store_offline(user, &xml::to_string(&stored), now.timestamp_millis(), max)
        .await
}

/// A message that reached `session` but was never acknowledged by its client (XEP-0198),
/// now that the session has ended (unregistered): a chat or normal message with a body
/// goes to the account's other available resources (RFC 6121 §8.5.2.1.1), else to
/// offline storage, as it is (its id and stanza-id kept, addressed to the bare JID);
/// anything else is dropped (RFC 6121: a groupchat, headline or error message for a
/// resource that is gone). The gate decided it when it was first routed: it stays
/// within the account (`Pass::own`).
pub async fn undelivered(server: &Server, session: &Session, mut stanza: Element) {
    let kind = stanza.attr("type").unwrap_or("normal");
    if !matches!(kind, "chat" | "normal") || stanza.get_child("body", ns::CLIENT).is_none() {
        return;
    }
    xml::set_attr(&mut stanza, "to", session.bare.to_string());
    if server
        .sessions
        .deliver_available(&Pass::own(session), &stanza, true)
        > 0
    {
        return;
    }
    match keep_offline_or_deliver(server, &Pass::own(session), &stanza).await {
        Ok(Kept::Delivered) => {}
        Ok(Kept::Stored) => super::push::notify(server, &session.user, &stanza),
        Ok(Kept::Full) => {
            warn!(user = %session.user, "offline storage full: an unacknowledged message is dropped")
        }
        Err(e) => warn!(error = %e, "cannot store an unacknowledged message offline"),
    }
}

/// Whether a stanza kept while `session`'s account was offline may still be delivered:
/// an invitation to a room only while the invitee is still a member of it and the inviter
/// may still reach him; a decline only while the decliner may still reach the inviter;
/// another one from another account is decided again by the gate with the rules in force
/// now (its sender may have changed class, or been blocked, meanwhile); one the server or
/// a room composed goes.
pub async fn still_deliverable(server: &Server, session: &Session, stanza: &Element) -> bool {
    // An invitation (from the room, or a direct one from the inviter): while the invitee
    // is still a member (the rooms' policy decided it when he was invited) and the
    // inviter, whose words it carries, may still reach him.
    if let Some(room) = super::muc::invite::invitation_room(server, stanza) {
        return super::muc::invite::still_member(server, &session.user, &room).await
            && super::kept::author_still_reaches(server, &session.user, stanza).await;
    }
    let Some(from) = stanza.attr("from").and_then(|f| Jid::new(f).ok()) else {
        return false;
    };
    let domain = from.domain().as_str();
    if domain == server.muc_domain() {
        // The room's other notices (a removal; a decline, with the decliner's words).
        return super::kept::author_still_reaches(server, &session.user, stanza).await;
    }
    if domain != server.domain {
        return false;
    }
    if from.node().is_none() {
        return true; // the server itself
    }
    matches!(
        super::kept::decided_again(server, &session.user, stanza).await,
        Some(Verdict::Deliver(_))
    )
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
