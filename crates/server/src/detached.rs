//! How a session that enabled XEP-0198 stream management ends, and how one with
//! resumption waits, detached, for its client to come back.
//!
//! When the connection of a resumable session drops without `</stream>`, its task keeps
//! the session ([`after`]): it stays registered (same resource, presence unchanged, so
//! its contacts still see it available), its queue keeps filling and is drained into the
//! stream management state, bounded by `limits.send_queue_len` (past it the session
//! ends). A connection that resumes it (`c2s`, after SASL, same account) makes this task
//! yield: the state goes over and this task leaves without ending the session. When the
//! window closes, the queue overflows, or the session is stopped (a new bind of the same
//! resource, an administrator, the shutdown), the session ends as any other
//! (`router::session_ended`: unregistered, unavailable broadcast, rooms left) and then
//! [`end`] gives every unacknowledged or still-queued stanza a fate: messages with a body
//! to the account's other resources or offline storage (`features::message::undelivered`),
//! IQ requests an error back to their sender; presences and the rest are dropped.
//!
//! It runs in the connection's own task (tracked by the listener, so a shutdown waits
//! for it and its offline writes).

use std::collections::VecDeque;

use causerie_proto::Element;
use causerie_proto::errors::{Condition, StanzaError, error_reply};
use jid::Jid;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::features;
use crate::mailbox::{Inbox, Next};
use crate::outbound::Outbound;
use crate::router;
use crate::server::Server;
use crate::session::Session;
use crate::stream_mgmt::{Kept, Parked, StreamMgmt};

/// The session's connection is over (`lost`: dropped without `</stream>`): waits for a
/// resumption when the session is resumable and the connection was lost, then ends it.
pub async fn after(
    server: &Server,
    session: Session,
    inbox: Inbox,
    sm: Option<Box<StreamMgmt>>,
    lost: bool,
) {
    let Some(sm) = sm else {
        router::session_ended(server, &session).await;
        return;
    };
    let sm = match (&sm.resumption, lost) {
        (Some(r), true) => {
            let window = r.window;
            match wait(server, &session, inbox, sm, window).await {
                Some(Parked { inbox, sm }) => return end(server, &session, inbox, sm).await,
                None => return,
            }
        }
        _ => sm,
    };
    end(server, &session, inbox, sm).await;
}

/// Waits, detached, for a resumption; `None` when the session was handed over, else
/// its state to end it.
async fn wait(
    server: &Server,
    session: &Session,
    mut inbox: Inbox,
    mut sm: Box<StreamMgmt>,
    window: std::time::Duration,
) -> Option<Parked> {
    info!(jid = %session.jid, secs = window.as_secs(), "session detached, waiting for a resumption");
    let deadline = Instant::now() + window;
    let limit = server.config.limits.send_queue_len;
    let mut buf = VecDeque::new();
    loop {
        let next = tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                info!(jid = %session.jid, "resumption window closed");
                break;
            }
            next = inbox.next(&mut buf) => next,
        };
        if next != Next::Items {
            break;
        }
        let (mut stop, mut yielded) = (false, false);
        for item in buf.drain(..) {
            match item {
                Outbound::Stop(s) => {
                    debug!(jid = %session.jid, condition = s.condition, "detached session stopped");
                    stop = true;
                }
                Outbound::Yield => yielded = true,
                item => sm.keep(item),
            }
        }
        if stop || sm.unacked_len() > limit {
            break;
        }
        if yielded && let Some(r) = sm.resumption.clone() {
            match r.hand_over(Parked { inbox, sm }) {
                Ok(()) => return None,
                // The claiming connection gave up: still detached.
                Err(p) => (inbox, sm) = (p.inbox, p.sm),
            }
        }
    }
    Some(Parked { inbox, sm })
}

/// Ends a session that enabled stream management: as any session, then every stanza it
/// did not acknowledge, or that was still queued for it, gets its fate (module docs).
pub async fn end(server: &Server, session: &Session, inbox: Inbox, mut sm: Box<StreamMgmt>) {
    router::session_ended(server, session).await;
    // Nobody delivers to it any more: what is queued now is all there is.
    let mut queued = VecDeque::new();
    inbox.take_now(&mut queued);
    let rest = sm
        .take_unacked()
        .into_iter()
        .chain(queued.into_iter().map(Kept::Queued));
    // Settled (`Mailbox::settled`) once every stanza below has its fate: a new bind of
    // the same resource waits for that.
    let _settle = inbox.close();
    for kept in rest {
        let Some(el) = kept.to_reroute() else {
            continue;
        };
        match el.name() {
            "message" => features::message::undelivered(server, session, el).await,
            "iq" if matches!(el.attr("type"), Some("get" | "set")) => {
                bounce(server, session, &el).await
            }
            _ => {}
        }
    }
}

/// An IQ request the session will never answer: `service-unavailable` back to the other
/// account's resource that sent it (RFC 6120 §8.3, XEP-0198 §4), through the router
/// as if the session answered (answers only answer: the gate lets it through once).
async fn bounce(server: &Server, session: &Session, request: &Element) {
    let from = request.attr("from").and_then(|f| Jid::new(f).ok());
    let from_other = from.is_some_and(|j| {
        j.resource().is_some() && j.node().is_some_and(|n| n.as_str() != session.user)
    });
    if !from_other {
        return; // the server's own requests (roster pushes, pings)
    }
    let err = error_reply(
        request,
        &StanzaError::new(Condition::ServiceUnavailable)
            .with_text("en", "the recipient's session has ended"),
    );
    Box::pin(router::route(server, session, err)).await;
}
