//! XEP-0198 stream management, the state of one session that enabled it: the counters
//! (mod 2^32), the stanzas sent and not yet acknowledged, and, when resumption was asked
//! for, the [`Resumption`] its registry entry carries.
//!
//! A session that never sends `<enable/>` has none of this: the connection task keeps an
//! `Option<Box<StreamMgmt>>` (one word) and the registry entry an
//! `Option<Arc<Resumption>>` (one word). The stream's own code (`c2s`) counts, answers
//! `<r/>` once what the handled stanzas did is durable (`Server::durable`), asks the
//! client for acknowledgements, and at the end of the session hands the unacknowledged
//! stanzas to `detached` (which re-routes them: never lost).
//!
//! Resumption hands the whole state from one connection task to another: the new
//! connection finds the session by its id in the registry (`Sessions::resumable`, only
//! among the authenticated account's own sessions), [`Resumption::claim`]s it and asks
//! the session's task to yield (`Outbound::Yield`); that task, live or detached, sends the
//! [`Parked`] state (the session's queue and this state) through the claim.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causerie_proto::Element;
use tokio::sync::oneshot;

use crate::mailbox::Inbox;
use crate::outbound::Outbound;

/// The XEP-0198 namespace.
pub const NS: &str = "urn:xmpp:sm:3";
/// The server asks for an acknowledgement after this many stanzas sent without one
/// (and after a short idle, `c2s`).
pub const REQUEST_EVERY: u32 = 5;
/// `<r/>`, as written.
pub const REQUEST: &str = "<r xmlns='urn:xmpp:sm:3'/>";

/// A stanza kept until the client acknowledges it.
///
/// A written stanza is kept as the text written, not as its tree: one allocation instead
/// of a tree's dozen for a session that keeps up to `limits.send_queue_len` of them (a
/// phone detached for its resumption window), one free when the client acknowledges it,
/// and nothing to serialise again when a resumption writes it again.
#[derive(Debug)]
pub enum Kept {
    /// Written as this text; `shared`: one of a room's stanzas ([`Outbound::Shared`]).
    Written { text: Box<str>, shared: bool },
    /// Not written yet (the connection went first): the item as it was queued.
    Queued(Outbound),
}

impl Kept {
    /// The stanza as written to the session whose ` to` attribute is `to_attr` (a queued
    /// one serialised now); None when it cannot be serialised.
    pub fn text<'a>(&'a self, to_attr: &str) -> Option<std::borrow::Cow<'a, str>> {
        use std::borrow::Cow;
        let text = match self {
            Kept::Written { text, .. } => Cow::Borrowed(&**text),
            Kept::Queued(Outbound::Stanza(el)) => Cow::Owned(causerie_proto::xml::to_string(el)),
            Kept::Queued(Outbound::Shared(shared)) => Cow::Owned(shared.addressed_to(to_attr)),
            Kept::Queued(_) => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// The stanza as written to the session whose ` to` attribute is `to_attr` (a queued
    /// one serialised now, [`Self::text`]); None when it cannot be serialised.
    fn into_written(self, to_attr: &str) -> Option<Kept> {
        let shared = match &self {
            Kept::Written { .. } => return Some(self),
            Kept::Queued(item) => matches!(item, Outbound::Shared(_)),
        };
        let text: Box<str> = self.text(to_attr)?.into();
        Some(Kept::Written { text, shared })
    }

    /// The message or IQ request to give its fate when the session ends (`detached`): a
    /// room's stanzas and presences have none (a room's archive keeps its messages, a
    /// presence is not kept for later).
    pub fn to_reroute(self) -> Option<Element> {
        match self {
            Kept::Written {
                text,
                shared: false,
            } if text.starts_with("<message") || text.starts_with("<iq") => match text.parse() {
                Ok(el) => Some(el),
                Err(e) => {
                    // Never expected: the text is what this server wrote.
                    tracing::warn!(error = %e, "an unacknowledged stanza did not parse back: dropped");
                    None
                }
            },
            Kept::Queued(Outbound::Stanza(el)) => Some(*el),
            _ => None,
        }
    }
}

/// One session's stream management state (see the module docs).
#[derive(Debug)]
pub struct StreamMgmt {
    /// Stanzas received from the client and handled since `<enable/>` (our `h`).
    pub inbound: u32,
    /// The `inbound` of the last `<a/>` we sent: no durability wait when it did not move.
    pub inbound_acked: u32,
    /// The client's last `h`: stanzas it acknowledged.
    acked: u32,
    /// Stanzas written to the client since `<enable/>` (or since a resumption: `acked`
    /// then). `<a h/>` may not exceed it.
    sent: u32,
    /// Stanzas written or still to write and not acknowledged, oldest first. The first
    /// `sent - acked` of them were written.
    unacked: VecDeque<Kept>,
    /// Stanzas written since the last `<r/>`.
    since_request: u32,
    /// Set when the client asked for resumption.
    pub resumption: Option<Arc<Resumption>>,
    /// The archive writer's mark before the first stanza handled since the last `<a/>`.
    pub durable_since: Option<crate::services::Mark>,
}

/// An `<a h/>` acknowledging more than was sent (XEP-0198 §5, `handled-count-too-high`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooHigh {
    pub h: u32,
    pub sent: u32,
}

impl StreamMgmt {
    pub fn new(resumption: Option<Arc<Resumption>>) -> Box<StreamMgmt> {
        Box::new(StreamMgmt {
            inbound: 0,
            inbound_acked: 0,
            acked: 0,
            sent: 0,
            unacked: VecDeque::new(),
            since_request: 0,
            resumption,
            durable_since: None,
        })
    }

    /// A stanza was written to the client as `text` (`shared`: a room's, see [`Kept`]):
    /// it is kept until acknowledged.
    pub fn sent(&mut self, text: &str, shared: bool) {
        self.sent = self.sent.wrapping_add(1);
        self.since_request += 1;
        self.unacked.push_back(Kept::Written {
            text: text.into(),
            shared,
        });
    }

    /// A stanza for the client that was not written (the connection went): kept to be
    /// written on resumption, or re-routed.
    pub fn keep(&mut self, item: Outbound) {
        if matches!(item, Outbound::Stanza(_) | Outbound::Shared(_)) {
            self.unacked.push_back(Kept::Queued(item));
        }
    }

    /// [`Self::keep`] for every item of `items`, which is left empty.
    pub fn keep_all(&mut self, items: &mut VecDeque<Outbound>) {
        items.drain(..).for_each(|item| self.keep(item));
    }

    /// Stanzas kept (written or not) and not acknowledged.
    pub fn unacked_len(&self) -> usize {
        self.unacked.len()
    }

    /// The client acknowledged `h` stanzas in all: they are forgotten.
    pub fn ack(&mut self, h: u32) -> Result<(), TooHigh> {
        let new = h.wrapping_sub(self.acked);
        let outstanding = self.sent.wrapping_sub(self.acked);
        if new > outstanding || new as usize > self.unacked.len() {
            return Err(TooHigh { h, sent: self.sent });
        }
        self.unacked.drain(..new as usize);
        self.acked = h;
        Ok(())
    }

    /// Whether an `<r/>` is due after a batch ([`REQUEST_EVERY`] stanzas), or, with
    /// `idle`, after any stanza; resets the count when it is.
    pub fn request_due(&mut self, idle: bool) -> bool {
        let due = if idle {
            self.since_request > 0
        } else {
            self.since_request >= REQUEST_EVERY
        };
        if due {
            self.since_request = 0;
        }
        due
    }

    /// For a resumption: everything not acknowledged is to be written again (the client
    /// counts it anew); the texts, oldest first, for the connection to write to the
    /// session whose ` to` attribute is `to_attr`. A stanza still queued is serialised now
    /// and kept as written; one that cannot be (never expected: it was checked before it
    /// was queued) is dropped before the count, so that the client's `h` and the server's
    /// count agree (counted but not written, it would leave every later `<a/>` one short).
    pub fn rewind(&mut self, to_attr: &str) -> impl Iterator<Item = &str> {
        let unacked = std::mem::take(&mut self.unacked);
        self.unacked = unacked
            .into_iter()
            .filter_map(|kept| kept.into_written(to_attr))
            .collect();
        self.sent = self.acked.wrapping_add(self.unacked.len() as u32);
        self.since_request = self.unacked.len() as u32;
        self.unacked.iter().filter_map(|kept| match kept {
            Kept::Written { text, .. } => Some(&**text),
            Kept::Queued(_) => None,
        })
    }

    /// Takes every unacknowledged stanza (the session ends: they are re-routed).
    pub fn take_unacked(&mut self) -> VecDeque<Kept> {
        std::mem::take(&mut self.unacked)
    }

    /// `<a h/>` for the stanzas handled so far.
    pub fn answer(&mut self) -> String {
        self.inbound_acked = self.inbound;
        format!("<a xmlns='{NS}' h='{}'/>", self.inbound)
    }
}

/// `<enabled/>`, with the resumption id and window when resumable.
pub fn enabled(resumption: Option<&Resumption>) -> String {
    match resumption {
        Some(r) => format!(
            "<enabled xmlns='{NS}' id='{}' resume='true' max='{}'/>",
            r.id(),
            r.window.as_secs()
        ),
        None => format!("<enabled xmlns='{NS}'/>"),
    }
}

/// `<resumed/>`.
pub fn resumed(previd: &str, h: u32) -> String {
    format!(
        "<resumed xmlns='{NS}' previd='{}' h='{h}'/>",
        causerie_proto::errors::escape(previd)
    )
}

/// `<failed/>` with a stanza error condition (and `h` when known).
pub fn failed(condition: &str, h: Option<u32>) -> String {
    let h = h.map(|h| format!(" h='{h}'")).unwrap_or_default();
    format!(
        "<failed xmlns='{NS}'{h}><{condition} xmlns='{}'/></failed>",
        causerie_proto::ns::STANZAS
    )
}

/// `<failed/>` for a resumption whose `h` acknowledges more than was sent (§5).
pub fn failed_too_high(t: TooHigh) -> String {
    format!(
        "<failed xmlns='{NS}'><undefined-condition xmlns='{}'/>\
         <handled-count-too-high xmlns='{NS}' h='{}' send-count='{}'/></failed>",
        causerie_proto::ns::STANZAS,
        t.h,
        t.sent
    )
}

/// A stream management element from the client, parsed (xmpp-parsers' types); `None`
/// when it is in the namespace but malformed or unknown.
pub fn parse(el: Element) -> Option<xmpp_parsers::sm::Nonza> {
    xmpp_parsers::sm::Nonza::try_from(el).ok()
}

/// What a connection task hands to the one resuming its session.
#[derive(Debug)]
pub struct Parked {
    pub inbox: Inbox,
    pub sm: Box<StreamMgmt>,
}

/// A resumable session's id and window, shared by its registry entry and its state.
#[derive(Debug)]
pub struct Resumption {
    /// 128 random bits (the thread's CSPRNG), hex: unguessable. It is only ever looked up
    /// among the authenticated account's own sessions, so it is bound to that account.
    id: String,
    /// How long the session waits, detached, for a resumption.
    pub window: Duration,
    /// The connection that claimed the session and waits for its state.
    claim: Mutex<Option<oneshot::Sender<Parked>>>,
}

impl Resumption {
    pub fn new(window: Duration) -> Arc<Resumption> {
        Arc::new(Resumption {
            id: format!("{:032x}", rand::random::<u128>()),
            window,
            claim: Mutex::new(None),
        })
    }

    /// The id given in `<enabled/>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `id` is this session's (in constant time).
    pub fn matches(&self, id: &str) -> bool {
        let (a, b) = (self.id.as_bytes(), id.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// A new connection claims the session (a previous claim is dropped: its connection
    /// fails to resume); the state arrives once the session's task yields.
    pub fn claim(&self) -> oneshot::Receiver<Parked> {
        let (tx, rx) = oneshot::channel();
        *self.claim.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    /// The session's task hands its state to the claiming connection; gives it back when
    /// nobody waits for it any more.
    pub fn hand_over(&self, parked: Parked) -> Result<(), Parked> {
        let claim = self.claim.lock().unwrap_or_else(|e| e.into_inner()).take();
        match claim {
            Some(tx) => tx.send(parked),
            None => Err(parked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(n: u32) -> Outbound {
        let mut el = Element::bare("message", "jabber:client");
        causerie_proto::xml::set_attr(&mut el, "id", n.to_string());
        Outbound::Stanza(Box::new(el))
    }

    /// Writes `n` as `emit` in `c2s` does: serialised, then counted as sent.
    fn send(sm: &mut StreamMgmt, n: u32) {
        let Outbound::Stanza(el) = stanza(n) else {
            unreachable!()
        };
        sm.sent(&causerie_proto::xml::to_string(&el), false);
    }

    fn ids(q: &VecDeque<Kept>) -> Vec<String> {
        q.iter()
            .map(|k| match k.text(" to='a@x/r'") {
                Some(t) => t
                    .parse::<Element>()
                    .ok()
                    .and_then(|el| el.attr("id").map(str::to_string))
                    .unwrap_or_default(),
                None => "?".into(),
            })
            .collect()
    }

    #[test]
    fn acks_forget_what_they_cover_and_counters_wrap() {
        let mut sm = StreamMgmt::new(None);
        // Start near the wrap.
        sm.acked = u32::MAX - 1;
        sm.sent = u32::MAX - 1;
        for n in 0..4 {
            send(&mut sm, n);
        }
        assert_eq!(sm.ack(u32::MAX), Ok(()));
        assert_eq!(ids(&sm.unacked), ["1", "2", "3"]);
        assert_eq!(sm.ack(1), Ok(()), "wraps to 1");
        assert_eq!(ids(&sm.unacked), ["3"]);
        assert_eq!(sm.ack(3), Err(TooHigh { h: 3, sent: 2 }));
        assert_eq!(sm.ack(1), Ok(()), "the same h again is no error");
        // Kept but never written: not acknowledgeable.
        sm.keep(stanza(9));
        assert_eq!(sm.ack(3), Err(TooHigh { h: 3, sent: 2 }));
        assert_eq!(sm.rewind(" to='a@x/r'").count(), 2);
        assert_eq!(sm.ack(3), Ok(()));
        assert_eq!(sm.unacked_len(), 0);
    }

    /// A resumption writes again what was written and what was still queued, and counts
    /// only what it writes: a queued stanza that cannot be serialised (a control
    /// character in its text) is dropped, not counted, so that the client's `h` covers
    /// everything after it.
    #[test]
    fn a_resumption_counts_what_it_writes() {
        let mut sm = StreamMgmt::new(None);
        send(&mut sm, 1);
        send(&mut sm, 2);
        sm.keep(stanza(3));
        let mut bad = Element::bare("message", "jabber:client");
        bad.append_text_node("\u{1}");
        sm.keep(Outbound::Stanza(Box::new(bad)));
        sm.keep(stanza(4));
        let written: Vec<String> = sm.rewind(" to='a@x/r'").map(str::to_string).collect();
        assert_eq!(written.len(), 4, "{written:?}");
        assert_eq!(written[2], "<message xmlns='jabber:client' id='3'/>");
        assert_eq!(ids(&sm.unacked), ["1", "2", "3", "4"]);
        // Kept as written now: all of them Written, and the client's h of 4 covers them all.
        assert!(sm.unacked.iter().all(|k| matches!(k, Kept::Written { .. })));
        assert_eq!(sm.ack(5), Err(TooHigh { h: 5, sent: 4 }));
        assert_eq!(sm.ack(4), Ok(()));
        assert_eq!(sm.unacked_len(), 0);
    }

    /// What a session that ends leaves to re-route: its unacknowledged messages and IQ
    /// requests, as they were, whether written (kept as text) or still queued; not a
    /// room's stanzas nor presences.
    #[test]
    fn unacknowledged_stanzas_are_rerouted_as_they_were() {
        let mut sm = StreamMgmt::new(None);
        let message: Element = "<message xmlns='jabber:client' from='a@x/r' to='b@x/p' \
             type='chat' id='m1'><body>Bonjour &lt;3 &amp; «à demain»</body></message>"
            .parse()
            .unwrap();
        let request: Element = "<iq xmlns='jabber:client' from='a@x/r' to='b@x/p' type='get' \
             id='q1'><query xmlns='jabber:iq:version'/></iq>"
            .parse()
            .unwrap();
        let presence: Element = "<presence xmlns='jabber:client' from='a@x/r' to='b@x'/>"
            .parse()
            .unwrap();
        let post: Element = "<message xmlns='jabber:client' from='room@rooms.x/a' \
             type='groupchat' id='g1'><body>à tous</body></message>"
            .parse()
            .unwrap();
        for el in [&message, &request, &presence] {
            sm.sent(&causerie_proto::xml::to_string(el), false);
        }
        sm.sent(&causerie_proto::xml::to_string(&post), true);
        sm.keep(Outbound::Stanza(Box::new(message.clone())));
        let kept = sm.take_unacked();
        assert_eq!(kept.len(), 5);
        let rerouted: Vec<Element> = kept.into_iter().filter_map(Kept::to_reroute).collect();
        assert_eq!(rerouted, [message.clone(), request, message]);
    }

    #[test]
    fn requests_come_every_few_stanzas_or_when_idle() {
        let mut sm = StreamMgmt::new(None);
        assert!(!sm.request_due(true));
        send(&mut sm, 1);
        assert!(!sm.request_due(false));
        assert!(sm.request_due(true));
        for n in 0..REQUEST_EVERY {
            send(&mut sm, n);
        }
        assert!(sm.request_due(false));
        assert!(!sm.request_due(true));
    }

    #[test]
    fn ids_are_random_and_compared_whole() {
        let a = Resumption::new(Duration::from_secs(1));
        let b = Resumption::new(Duration::from_secs(1));
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 32);
        assert!(a.matches(a.id()));
        assert!(!a.matches(b.id()));
        assert!(!a.matches(&a.id()[..31]));
        assert!(!a.matches(""));
    }

    #[test]
    fn elements_parse_and_malformed_ones_are_refused() {
        let el: Element = "<a xmlns='urn:xmpp:sm:3' h='7'/>".parse().unwrap();
        assert!(matches!(parse(el), Some(xmpp_parsers::sm::Nonza::Ack(a)) if a.h == 7));
        let el: Element = "<a xmlns='urn:xmpp:sm:3' h='x'/>".parse().unwrap();
        assert!(parse(el).is_none());
        let el: Element = "<resume xmlns='urn:xmpp:sm:3' h='1' previd='abc'/>"
            .parse()
            .unwrap();
        assert!(matches!(
            parse(el),
            Some(xmpp_parsers::sm::Nonza::Resume(_))
        ));
        for text in [
            enabled(Some(&Resumption::new(Duration::from_secs(300)))),
            resumed("a'b", 4),
            failed("item-not-found", Some(3)),
            failed_too_high(TooHigh { h: 5, sent: 2 }),
        ] {
            text.parse::<Element>().expect(&text);
        }
    }

    #[test]
    fn a_claim_receives_the_state_once() {
        let r = Resumption::new(Duration::from_secs(1));
        let (_tx, inbox) = crate::mailbox::mailbox(4);
        let parked = Parked {
            inbox,
            sm: StreamMgmt::new(None),
        };
        let parked = r.hand_over(parked).expect_err("nobody claimed it");
        let mut rx = r.claim();
        assert!(r.hand_over(parked).is_ok());
        assert!(rx.try_recv().is_ok());
    }
}
