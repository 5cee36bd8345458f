//! A bound session as the rest of the server sees it: its identity (account, bare and
//! full JID) and the sending side of its queue ([`SessionHandle`]).
//!
//! A [`Session`] can only write to itself: [`Session::reply`], [`reply_error`] and
//! [`answer`] queue stanzas for the session that sent the stanza being handled. Whatever
//! goes to another account goes through the gate (`services::gate`), which alone holds
//! the registry of everyone else's sessions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use causerie_ent::Register;
use causerie_proto::Element;
use causerie_proto::errors::{Condition, StanzaError, error_reply, may_reply_with_error};
use jid::{BareJid, FullJid};

use crate::config::Language;
use crate::mailbox::{Inbox, Mailbox, mailbox};
use crate::outbound::{Outbound, Shared, Stop};
use crate::stanza::{IqResult, for_register, result_for};

/// The sending side of one bound session's queue.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    pub id: u64,
    /// The resource this session bound.
    pub resource: String,
    tx: Mailbox,
}

impl SessionHandle {
    /// A handle and the receiving side the connection task reads.
    pub fn new(resource: String, queue_len: usize) -> (SessionHandle, Inbox) {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let (tx, rx) = mailbox(queue_len);
        (
            SessionHandle {
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                resource,
                tx,
            },
            rx,
        )
    }

    /// Queues a stanza. A full queue means the client stopped reading: the
    /// session is told to close, and the stanza is not queued (returns false).
    pub(crate) fn send(&self, stanza: Element) -> bool {
        self.tx.push(Outbound::Stanza(Box::new(stanza)))
    }

    /// Queues a stanza serialised once for several recipients; as [`Self::send`].
    pub(crate) fn send_shared(&self, stanza: &Arc<Shared>) -> bool {
        self.tx.push(Outbound::Shared(stanza.clone()))
    }

    /// Resolves once the session ended and what was left for it has its fate
    /// ([`Mailbox::settled`]).
    pub(crate) async fn settled(&self) {
        self.tx.settled().await
    }

    /// Asks the session to close with a stream error.
    pub fn stop(&self, condition: &'static str) {
        self.tx.push(Outbound::Stop(Box::new(Stop {
            condition,
            text: None,
        })));
    }

    /// Asks the session's task to hand the session over to a connection that resumes it
    /// (XEP-0198, `stream_mgmt`).
    pub(crate) fn yield_to_resumption(&self) {
        self.tx.push(Outbound::Yield);
    }

    /// Asks the session to close with a stream error carrying a text.
    pub fn stop_with_text(&self, condition: &'static str, text: &str) {
        self.tx.push(Outbound::Stop(Box::new(Stop {
            condition,
            text: Some(text.to_string()),
        })));
    }
}

/// A bound session, as the router and the features see it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account's localpart.
    pub user: String,
    pub bare: BareJid,
    pub jid: FullJid,
    /// The language of the client's stream (its `xml:lang`, else the server's): error
    /// texts in it come last, where clients look.
    pub lang: Language,
    /// How French texts address this user: « tu » for a pupil, « vous » for everyone
    /// else (his directory profile when the session was bound; `causerie_ent::register`).
    pub register: Register,
    handle: SessionHandle,
    /// Stanzas refused with `resource-constraint` (a rate limit, an overload) since the
    /// connection task last read it: the task then waits before reading more
    /// ([`Session::take_refused`]; docs/safety.md, « Limites »).
    refused: Arc<std::sync::atomic::AtomicU32>,
}

impl Session {
    pub fn new(
        user: String,
        jid: FullJid,
        lang: Language,
        register: Register,
        handle: SessionHandle,
    ) -> Session {
        Session {
            bare: jid.to_bare(),
            jid,
            user,
            lang,
            register,
            handle,
            refused: Arc::new(std::sync::atomic::AtomicU32::new(0)),
        }
    }

    /// How many of its stanzas were refused as over a limit since the last call, and
    /// back to zero.
    pub fn take_refused(&self) -> u32 {
        self.refused.swap(0, Ordering::Relaxed)
    }

    /// The session's id in the registry.
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// The session's resource.
    pub fn resource(&self) -> &str {
        &self.handle.resource
    }

    /// The session's own handle (for the registries that list it: rooms it is in).
    pub(crate) fn handle(&self) -> &SessionHandle {
        &self.handle
    }

    /// Queues a stanza for this very session (an answer, an error, what the server tells
    /// it). False when its queue is full (it is then being closed).
    pub fn reply(&self, stanza: Element) -> bool {
        self.handle.send(stanza)
    }

    /// [`Self::reply`] with a stanza serialised once for several recipients: it is
    /// written addressed to this session.
    pub fn reply_shared(&self, stanza: &Arc<Shared>) -> bool {
        self.handle.send_shared(stanza)
    }

    /// Queues again an item the connection task took from this session's queue (what an
    /// inactive session held back, when it becomes active: `c2s`).
    pub(crate) fn requeue(&self, item: Outbound) -> bool {
        self.handle.tx.push(item)
    }
}

/// Sends an error reply for `stanza` back to its sender, unless it is itself an error.
/// Its French text is in the session's register ([`for_register`]), its texts ordered
/// for the session's language ([`for_language`]).
pub fn reply_error(session: &Session, stanza: &Element, err: impl Into<StanzaError>) {
    let err = err.into();
    if err.condition == Condition::ResourceConstraint {
        session.refused.fetch_add(1, Ordering::Relaxed);
    }
    if may_reply_with_error(stanza) {
        let err = for_register(err, session.register);
        let err = for_language(err, session.lang);
        session.reply(error_reply(stanza, &err));
    }
}

/// `err` with its texts in the language `lang` last (clients such as Converse show the
/// last `<text>`), the others in their order before it.
pub fn for_language(mut err: StanzaError, lang: Language) -> StanzaError {
    err.texts.sort_by_key(|(l, _)| l == lang.code());
    err
}

/// The language of a stream whose header declared `declared` (`fr-FR` is French), the
/// server's `default` when it declared none or one the server has no texts in.
pub fn stream_language(declared: Option<&str>, default: Language) -> Language {
    let primary = declared
        .and_then(|l| l.split(['-', '_']).next())
        .map(str::to_ascii_lowercase);
    match primary.as_deref() {
        Some("fr") => Language::Fr,
        Some("en") => Language::En,
        _ => default,
    }
}

/// Sends the result (or error) of an IQ request back to its sender.
pub fn answer(session: &Session, request: &Element, result: IqResult) {
    match result {
        Ok(payload) => {
            session.reply(result_for(request, payload));
        }
        Err(e) => reply_error(session, request, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causerie_proto::errors::Condition;

    #[test]
    fn the_streams_language_comes_last() {
        let e = || {
            StanzaError::new(Condition::Forbidden)
                .with_text("fr", "Non.")
                .with_text("en", "No.")
        };
        let langs = |e: StanzaError| e.texts.into_iter().map(|t| t.0).collect::<Vec<_>>();
        assert_eq!(langs(for_language(e(), Language::Fr)), ["en", "fr"]);
        assert_eq!(langs(for_language(e(), Language::En)), ["fr", "en"]);
        let only_en = StanzaError::new(Condition::BadRequest).with_text("en", "bad");
        assert_eq!(langs(for_language(only_en, Language::Fr)), ["en"]);
        assert_eq!(stream_language(Some("fr-FR"), Language::En), Language::Fr);
        assert_eq!(stream_language(Some("EN"), Language::Fr), Language::En);
        assert_eq!(stream_language(None, Language::Fr), Language::Fr);
        assert_eq!(stream_language(Some("de"), Language::En), Language::En);
    }

    #[test]
    fn an_addressed_error_speaks_in_the_readers_register() {
        let e = || {
            crate::stanza::addressed(
                Condition::NotAcceptable,
                causerie_ent::Text::new("Attends.", "Attendez.", "Wait."),
            )
        };
        let texts = |e: StanzaError| e.texts;
        let pair = |l: &str, t: &str| (l.to_string(), t.to_string());
        assert_eq!(
            texts(for_language(for_register(e(), Register::Tu), Language::Fr)),
            [pair("en", "Wait."), pair("fr", "Attends.")]
        );
        assert_eq!(
            texts(for_language(
                for_register(e(), Register::Vous),
                Language::En
            )),
            [pair("fr", "Attendez."), pair("en", "Wait.")]
        );
        // One form for both: a plain `fr` text from the start.
        let same = crate::stanza::addressed(
            Condition::NotAcceptable,
            causerie_ent::Text::same("Non.", "No."),
        );
        assert_eq!(texts(same.clone()), [pair("fr", "Non."), pair("en", "No.")]);
        assert_eq!(for_register(same.clone(), Register::Tu), same);
    }
}
