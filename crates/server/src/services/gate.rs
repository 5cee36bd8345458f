//! The gate: the one place that decides who may send what to whom.
//!
//! Every stanza that leaves one account for another is classified ([`classify`]: chat,
//! groupchat, message error, each kind of presence and subscription, IQ request, IQ
//! answer) and decided ([`Gate::decide`]) against the school's rules as they are now
//! (`services::policy`), the mutual contacts (`services::contacts`) and the requests each
//! session is waiting answers for (`services::sessions`). The answer is a [`Verdict`]:
//! deliver (with the [`Pass`] the registry asks for), deliver stripped of any text, refuse
//! with an error for the sender, drop silently, or withhold. A class the gate does not
//! know is refused. Features build and answer stanzas; they never decide reachability.
//!
//! The table it applies, row by row, is in docs/directory.md ("Who can send what to
//! whom"). In short, for two different accounts A and B, with reach = the rules allow the
//! pair and chat = reach and, between directory users, mutual contacts:
//! - messages (chat, normal, headline) and IQ requests to a full JID need chat; a
//!   groupchat message to an account is refused; a message error needs chat (else dropped);
//! - subscription requests, approvals, directed presence, probes and presence errors need
//!   reach; a request to someone who refused A for good is withheld; unsubscribe and
//!   unsubscribed need an existing relation (else dropped), and lose their text without
//!   reach; without reach, no available presence goes, and an unavailable one goes
//!   stripped of its status only where it ends a presence the other side was receiving
//!   (a subscriber's, or a directed one); when the rules change, the presences they end
//!   are ended at once the same way (`enforce`);
//! - an IQ answer reaches a full JID only as the answer to a request that very session
//!   sent to the answering full JID, which the gate let through (once, within two
//!   minutes), and while the rules still allow the pair;
//! - rooms: an invitation needs the inviter to reach the invitee and the invitee to reach
//!   every member, or the room to be supervised (its owner a teacher or staff member who
//!   reaches the invitee) — [`Gate::room_admits`]; a post needs the sender to be allowed
//!   to chat at all;
//! - a PEP notification (what A published on his account, told by the server to B) needs
//!   reach, like A's presence; otherwise it is not sent.
//! - blocking (XEP-0191, `services::blocking`), before all of the above: between an
//!   account and one it blocked nothing goes either way. The blocked one's messages and
//!   IQ requests get `service-unavailable` (which does not tell him he is blocked, §3.5),
//!   the rest of what he sends is dropped without a word; the blocker's own messages, IQ
//!   requests, subscription requests and approvals and available directed presence get
//!   `not-acceptable` with `<blocked xmlns='urn:xmpp:blocking:errors'/>` (§3.6), the rest
//!   (broadcasts, unavailable, answers, errors) is dropped. An invitation to a room
//!   between them is refused the same way.
//! - rates (`services::rates`, docs/safety.md « Limites »): what an account sends from a
//!   session is counted against its profile's limits (`[rates.pupils]` for pupils,
//!   `[rates.adults]` for everyone else) once the rest allowed it: messages with a body
//!   and distinct recipients a minute ([`Gate::decide_sent`], and [`Gate::room_message`]
//!   for rooms), contact requests an hour, room creations a day
//!   ([`Gate::room_creation`]), invitations to one room an hour ([`Gate::invite`]).
//!   Beyond a limit the stanza is refused with `<resource-constraint/>` and a text
//!   saying when to try again (« tu » to a pupil, « vous » to an adult): never dropped.
//! - the kill switch (docs/safety.md « Coupure »): under `read_only` or
//!   `staff_to_families`, what a user of the structure sends from a session — a message
//!   with a body, a contact request ([`Gate::decide_sent`]), a room post with a body
//!   ([`Gate::room_message`]), an invitation ([`Gate::invite`]) — is refused with
//!   `<forbidden/>`, `<shutdown xmlns='urn:causerie:policy:0'/>` and the school's text
//!   ([`View::may_send`]); under `off` his account may not chat at all (`View::access`).

use causerie_ent::{DenyReason, Profile};
use causerie_proto::Element;
use causerie_proto::errors::{Condition, StanzaError};
use tracing::{debug, warn};

use super::blocking::Blocklists;
use super::components::{Awaited, Components};
use super::contacts::Contacts;
use super::pass::Pass;
use super::policy::{Policy, View, not_a_contact, refusal};
use super::rates::{Exceeded, Kind, Rates};
use super::sessions::Sessions;
use crate::config::{RateLimits, Rates as RateConfig};
use crate::session::Session;
use crate::stanza::error;

/// What a stanza from one account to another is, for the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class<'a> {
    /// A message of type chat, normal (or none) or headline.
    Chat,
    /// A message of type groupchat (to an account: refused).
    Groupchat,
    /// A message of type error.
    MessageError,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    /// Presence with a `to` (available or unavailable).
    Directed {
        available: bool,
    },
    /// Presence without `to`, broadcast to a subscriber.
    Broadcast {
        available: bool,
    },
    Probe,
    PresenceError,
    /// IQ get or set, with its id.
    IqRequest {
        id: &'a str,
    },
    /// IQ result or error, with its id.
    IqAnswer {
        id: &'a str,
    },
    /// A PEP notification (XEP-0163): the server tells a contact of what the sender
    /// published, retracted or deleted on his own account. Never sent by a client (so
    /// [`classify`] never returns it).
    PepEvent,
    /// Anything else: refused.
    Unknown,
}

/// Classifies a stanza a client sent (`to` absent means a presence broadcast).
pub fn classify(stanza: &Element) -> Class<'_> {
    let kind = stanza.attr("type");
    match stanza.name() {
        "message" => match kind {
            None | Some("chat" | "normal" | "headline") => Class::Chat,
            Some("groupchat") => Class::Groupchat,
            Some("error") => Class::MessageError,
            Some(_) => Class::Unknown,
        },
        "presence" => {
            let directed = stanza.attr("to").is_some();
            match kind {
                None | Some("unavailable") => {
                    let available = kind.is_none();
                    if directed {
                        Class::Directed { available }
                    } else {
                        Class::Broadcast { available }
                    }
                }
                Some("subscribe") => Class::Subscribe,
                Some("subscribed") => Class::Subscribed,
                Some("unsubscribe") => Class::Unsubscribe,
                Some("unsubscribed") => Class::Unsubscribed,
                Some("probe") => Class::Probe,
                Some("error") => Class::PresenceError,
                Some(_) => Class::Unknown,
            }
        }
        "iq" => match (kind, stanza.attr("id")) {
            (Some("get" | "set"), Some(id)) => Class::IqRequest { id },
            (Some("result" | "error"), Some(id)) => Class::IqAnswer { id },
            _ => Class::Unknown,
        },
        _ => Class::Unknown,
    }
}

/// The gate's answer.
#[derive(Debug)]
pub enum Verdict {
    /// Deliver the stanza as it is.
    Deliver(Pass),
    /// Deliver it without any text or payload (an unavailable presence, an unsubscription
    /// to someone the rules no longer allow).
    Stripped(Pass),
    /// Refuse it: this error goes back to the sender.
    Refuse(StanzaError),
    /// Drop it without a word (answers and errors, which nobody answers).
    Drop,
    /// A subscription request to someone who refused the sender for good: not delivered;
    /// the sender's own side is kept as refused.
    Withheld,
}

impl Verdict {
    /// The pass, when the stanza (or its stripped form) may go.
    pub fn pass(&self) -> Option<&Pass> {
        match self {
            Verdict::Deliver(p) | Verdict::Stripped(p) => Some(p),
            _ => None,
        }
    }
}

/// Who sends: an account, the full JID it sends from, and its live session if any (a
/// stored offline message has none).
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub user: &'a str,
    pub full: &'a str,
    pub session: Option<u64>,
}

impl<'a> Sender<'a> {
    /// The bound session `s`.
    pub fn of(s: &'a Session, full: &'a str) -> Sender<'a> {
        Sender {
            user: &s.user,
            full,
            session: Some(s.id()),
        }
    }
}

/// The error of a groupchat message sent to an account.
fn groupchat_to_account() -> StanzaError {
    error(
        Condition::ServiceUnavailable,
        "Un message de groupe s'adresse à une conversation, pas à une personne.",
        "A groupchat message is for a conversation, not for a person.",
    )
}

/// XEP-0191 §3.6: what the blocker is told when he writes to someone he blocked.
pub fn blocked_error() -> StanzaError {
    let mut e = crate::stanza::addressed(
        Condition::NotAcceptable,
        causerie_ent::Text::new(
            "Tu as bloqué cette personne : débloque-la pour lui écrire.",
            "Vous avez bloqué cette personne : débloquez-la pour lui écrire.",
            "You blocked this person: unblock them to write to them.",
        ),
    );
    e.app = Some(Box::new(Element::bare("blocked", NS_BLOCKING_ERRORS)));
    e
}

/// The namespace of XEP-0191's error condition.
pub const NS_BLOCKING_ERRORS: &str = causerie_proto::ns::BLOCKING_ERRORS;

fn unknown_class() -> StanzaError {
    error(
        Condition::BadRequest,
        "Type de message, de présence ou de requête inconnu.",
        "Unknown message, presence or request type.",
    )
}

/// The gate, over the services it asks (see the module docs).
pub struct Gate<'a> {
    pub(crate) policy: &'a Policy,
    pub(crate) contacts: &'a Contacts,
    pub(crate) sessions: &'a Sessions,
    pub(crate) blocking: &'a Blocklists,
    pub(crate) components: &'a Components,
    pub(crate) domain: &'a str,
    pub(crate) rates: &'a Rates,
    pub(crate) rate_limits: &'a RateConfig,
}

/// What went over a limit, for the refusal's text.
#[derive(Debug, Clone, Copy)]
enum Over {
    Messages,
    Recipients,
    ContactRequests,
    RoomCreations,
    Invitations,
}

/// When to try again, in words: (French, English).
fn again_in(retry: std::time::Duration) -> (String, String) {
    let minutes = retry.as_secs().max(1).div_ceil(60);
    if minutes <= 1 {
        ("dans une minute".into(), "in a minute".into())
    } else if minutes < 60 {
        (
            format!("dans {minutes} minutes"),
            format!("in {minutes} minutes"),
        )
    } else {
        let h = minutes.div_ceil(60);
        if h == 1 {
            ("dans une heure".into(), "in an hour".into())
        } else {
            (format!("dans {h} heures"), format!("in {h} hours"))
        }
    }
}

/// The refusal of a stanza beyond a rate limit: `<resource-constraint/>` (type wait),
/// in both registers (the reader's is kept when it is sent: `session::reply_error`).
fn over_limit(over: Over, e: Exceeded) -> StanzaError {
    let (fr_when, en_when) = again_in(e.retry_after);
    let (tu, vous, en) = match over {
        Over::Messages => (
            "Tu envoies trop de messages",
            "Vous envoyez trop de messages",
            "You are sending too many messages",
        ),
        Over::Recipients => (
            "Tu écris à trop de personnes à la fois",
            "Vous écrivez à trop de personnes à la fois",
            "You are writing to too many people at once",
        ),
        Over::ContactRequests => (
            "Tu as envoyé trop de demandes de contact",
            "Vous avez envoyé trop de demandes de contact",
            "You have sent too many contact requests",
        ),
        Over::RoomCreations => (
            "Tu as créé trop de conversations aujourd'hui",
            "Vous avez créé trop de conversations aujourd'hui",
            "You have created too many conversations today",
        ),
        Over::Invitations => (
            "Tu as envoyé trop d'invitations dans cette conversation",
            "Vous avez envoyé trop d'invitations dans cette conversation",
            "You have sent too many invitations to this conversation",
        ),
    };
    crate::stanza::addressed(
        Condition::ResourceConstraint,
        causerie_ent::register::Text {
            tu: format!("{tu}, réessaie {fr_when}."),
            vous: format!("{vous}, réessayez {fr_when}."),
            en: format!("{en}: try again {en_when}."),
        },
    )
}

/// Where a component's stanza is going, for the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentTo<'a> {
    /// The server itself (its domain).
    Server,
    /// An account (its bare or full JID, normalised).
    Account(&'a str),
    /// Anything else: a room, the search service, another component, another server.
    Elsewhere,
}

/// The gate's answer for a component's stanza.
#[derive(Debug)]
pub enum ComponentVerdict {
    /// A request for the server itself to answer.
    Server,
    /// The answer to one of the server's requests: hand it over.
    Answer(Awaited),
    /// Refused: this error goes back to the component.
    Refuse(StanzaError),
    /// Dropped without a word.
    Drop,
}

/// The refusal of what a user sent under his structure's kill switch (`read_only`,
/// `staff_to_families`): `<forbidden/>` with the text and the school's own, and
/// `<shutdown xmlns='urn:causerie:policy:0'/>`.
pub fn shutdown_refusal(text: causerie_ent::Text<String>) -> StanzaError {
    let mut err = crate::stanza::addressed(Condition::Forbidden, text);
    err.app = Some(Box::new(Element::bare(
        "shutdown",
        super::policy::NS_POLICY,
    )));
    err
}

/// Whether a message says something (what the kill switch stops and the rates count):
/// any child but the signals that carry no words of the sender's — chat states,
/// receipts, markers, ids, processing hints, a thread id. A subject, a reaction, XHTML-IM
/// or any element a client invents count, as a body does.
fn carries_text(stanza: &Element) -> bool {
    // On every message sent: `has_ns` compares without copying the namespace.
    const SIGNALS: [&str; 5] = [
        "http://jabber.org/protocol/chatstates",
        "urn:xmpp:receipts",
        "urn:xmpp:chat-markers:0",
        "urn:xmpp:sid:0",
        "urn:xmpp:hints",
    ];
    stanza.children().any(|c| {
        let signal =
            SIGNALS.iter().any(|ns| c.has_ns(*ns)) || c.is("thread", causerie_proto::ns::CLIENT);
        !signal
    })
}

/// Whether a message carries an end-to-end encrypted payload (OMEMO, OpenPGP).
fn end_to_end(stanza: &Element) -> bool {
    // The payloads' names first: a body's namespace is not copied for nothing.
    stanza.children().any(|c| {
        matches!(c.name(), "encrypted" | "openpgp" | "x")
            && causerie_ent::profile_policy::end_to_end_payload(c.name(), &c.ns())
    })
}

/// The refusal of an end-to-end encrypted message from or to a pupil (docs/safety.md):
/// `<policy-violation/>` with why, in the sender's register.
fn end_to_end_refused() -> StanzaError {
    crate::stanza::addressed(
        Condition::PolicyViolation,
        causerie_ent::profile_policy::END_TO_END_REFUSED,
    )
}

fn component_refused() -> StanzaError {
    error(
        Condition::ServiceUnavailable,
        "Ce service externe ne communique qu'avec le serveur, pas avec les comptes.",
        "This external service talks with the server only, not with accounts.",
    )
}

fn component_may_not_send() -> StanzaError {
    error(
        Condition::ServiceUnavailable,
        "Un service externe ne peut écrire qu'au serveur lui-même.",
        "An external service may only write to the server itself.",
    )
}

impl Gate<'_> {
    /// `user`'s rate limits: his profile's, with his structures' own (`[rates.structures]`).
    fn limits_of(&self, view: &View, user: &str) -> RateLimits {
        match view.user(user) {
            Some(u) => self.rate_limits.limits_for(
                u.profile == Profile::Student,
                u.structures.iter().map(String::as_str),
            ),
            None => self.rate_limits.limits_for(false, []),
        }
    }

    /// [`Gate::decide`] for a stanza a client sent from its session (the router), with
    /// the sender's rate limits counted once the rest lets it go: a message with a body
    /// spends one of the messages a minute and, to a new person, one of the distinct
    /// recipients; a subscription request one of the contact requests an hour.
    pub async fn decide_sent(
        &self,
        from: &Sender<'_>,
        to: &str,
        resource: Option<&str>,
        class: Class<'_>,
        stanza: &Element,
    ) -> Verdict {
        let verdict = self.decide(from, to, resource, class).await;
        if to == from.user || !matches!(verdict, Verdict::Deliver(_)) {
            return verdict;
        }
        if class == Class::Chat && end_to_end(stanza) {
            let view = self.policy.view().await;
            if view.is_pupil(from.user) || view.is_pupil(to) {
                debug!(
                    user = from.user,
                    "an end-to-end encrypted message with a pupil"
                );
                return Verdict::Refuse(end_to_end_refused());
            }
        }
        let counted = match class {
            Class::Chat => carries_text(stanza),
            Class::Subscribe => true,
            _ => false,
        };
        if !counted {
            return verdict;
        }
        let view = self.policy.view().await;
        if let Err(text) = view.may_send(from.user, Some(to)) {
            debug!(user = from.user, ?class, "refused by the kill switch");
            return Verdict::Refuse(shutdown_refusal(text));
        }
        let limits = self.limits_of(&view, from.user);
        let spent = if class == Class::Subscribe {
            self.rates
                .spend(
                    from.user,
                    Kind::ContactRequest,
                    "",
                    limits.contact_requests_per_hour,
                )
                .map_err(|e| over_limit(Over::ContactRequests, e))
        } else {
            self.rates
                .recipient(from.user, to, limits.recipients_per_minute)
                .map_err(|e| over_limit(Over::Recipients, e))
                .and_then(|()| {
                    self.rates
                        .spend(from.user, Kind::Message, "", limits.messages_per_minute)
                        .map_err(|e| over_limit(Over::Messages, e))
                })
        };
        match spent {
            Ok(()) => verdict,
            Err(e) => {
                debug!(user = from.user, ?class, "over a rate limit");
                Verdict::Refuse(e)
            }
        }
    }

    /// Whether `user` may write something others read outside a message (a room's name
    /// or subject in its configuration, the reason given with a removal or a decline):
    /// not under his structure's kill switch (`read_only`, `staff_to_families`).
    pub async fn may_write(&self, user: &str) -> Result<(), StanzaError> {
        self.policy
            .view()
            .await
            .may_send(user, None)
            .map_err(shutdown_refusal)
    }

    /// Whether `user` may post `stanza` in a room now: [`Gate::room_post`], not end-to-end
    /// encrypted when he is a pupil, then, for a message that says something (a body, a
    /// subject, a reaction…: not a chat state), one of his messages a minute.
    pub async fn room_message(&self, user: &str, stanza: &Element) -> Result<(), StanzaError> {
        self.room_post(user).await?;
        if end_to_end(stanza) && self.policy.view().await.is_pupil(user) {
            return Err(end_to_end_refused());
        }
        if !carries_text(stanza) {
            return Ok(());
        }
        let view = self.policy.view().await;
        view.may_send(user, None).map_err(shutdown_refusal)?;
        let limits = self.limits_of(&view, user);
        self.rates
            .spend(user, Kind::Message, "", limits.messages_per_minute)
            .map_err(|e| over_limit(Over::Messages, e))
    }

    /// Whether `user` may create one more room today (his room creations a day); spends
    /// nothing: [`Gate::room_created`] counts the room once made, so that a creation
    /// refused for another reason (the rooms one may belong to) costs nothing.
    pub async fn room_creation(&self, user: &str) -> Result<(), StanzaError> {
        let view = self.policy.view().await;
        let limits = self.limits_of(&view, user);
        self.rates
            .check(user, Kind::RoomCreation, "", limits.rooms_per_day)
            .map_err(|e| over_limit(Over::RoomCreations, e))
    }

    /// Counts a room `user` created (see [`Gate::room_creation`]).
    pub async fn room_created(&self, user: &str) {
        let view = self.policy.view().await;
        let limits = self.limits_of(&view, user);
        let _ = self
            .rates
            .spend(user, Kind::RoomCreation, "", limits.rooms_per_day);
    }

    /// Decides a stanza of `class` from `from` to account `to` (at `resource`, for a
    /// full JID), with the rules in force now.
    pub async fn decide(
        &self,
        from: &Sender<'_>,
        to: &str,
        resource: Option<&str>,
        class: Class<'_>,
    ) -> Verdict {
        if to == from.user {
            return own(to, class);
        }
        let view = self.policy.view().await;
        self.decide_in(&view, from, to, resource, class).await
    }

    /// [`Gate::decide`] with a view already in hand (a broadcast to many).
    pub async fn decide_in(
        &self,
        view: &View,
        from: &Sender<'_>,
        to: &str,
        resource: Option<&str>,
        class: Class<'_>,
    ) -> Verdict {
        if to == from.user {
            return own(to, class);
        }
        if let Some(v) = self.blocked(from, to, resource, class) {
            return v;
        }
        let detail = view.reach_detail(from.user, to);
        let reach = detail.map(|_| ());
        let pass = || Pass::new(to);
        match class {
            Class::Unknown => Verdict::Refuse(unknown_class()),
            Class::Groupchat => Verdict::Refuse(groupchat_to_account()),
            Class::Chat => match self.chat(from, to, detail).await {
                Ok(()) => Verdict::Deliver(pass()),
                Err(e) => Verdict::Refuse(e),
            },
            Class::MessageError => match self.chat(from, to, detail).await {
                Ok(()) => Verdict::Deliver(pass()),
                Err(_) => Verdict::Drop,
            },
            Class::Subscribe => match reach {
                Err(r) => Verdict::Refuse(refusal(&r)),
                Ok(()) => match self
                    .contacts
                    .has_refused(to, &format!("{}@{}", from.user, self.domain))
                    .await
                {
                    Ok(true) => Verdict::Withheld,
                    Ok(false) => Verdict::Deliver(pass()),
                    Err(e) => Verdict::Refuse(crate::stanza::internal(e)),
                },
            },
            Class::Subscribed | Class::Probe => match reach {
                Err(r) => Verdict::Refuse(refusal(&r)),
                Ok(()) => Verdict::Deliver(pass()),
            },
            Class::Unsubscribe | Class::Unsubscribed => {
                match self.contacts.related(from.user, to).await {
                    Ok(true) if reach.is_ok() => Verdict::Deliver(pass()),
                    Ok(true) => Verdict::Stripped(pass()),
                    Ok(false) => Verdict::Drop,
                    Err(e) => {
                        warn!(error = %e, "cannot read the relation of two accounts");
                        Verdict::Drop
                    }
                }
            }
            Class::Directed { available } => match reach {
                Ok(()) => Verdict::Deliver(pass()),
                Err(r) if available => Verdict::Refuse(refusal(&r)),
                Err(_) => {
                    let jid = match resource {
                        Some(r) => format!("{to}@{}/{r}", self.domain),
                        None => format!("{to}@{}", self.domain),
                    };
                    let seen = from
                        .session
                        .is_some_and(|id| self.sessions.has_directed(from.user, id, &jid));
                    if seen {
                        Verdict::Stripped(pass())
                    } else {
                        Verdict::Drop
                    }
                }
            },
            // A subscriber the rules no longer allow gets no presence; the end of one
            // (unavailable) goes stripped of its status, as when the rules changed
            // (`enforce` ends the presences then; this covers an unavailable routed
            // before it ran).
            Class::Broadcast { available } => match reach {
                Ok(()) => Verdict::Deliver(pass()),
                Err(_) if available => Verdict::Drop,
                Err(_) => Verdict::Stripped(pass()),
            },
            Class::PresenceError => match reach {
                Ok(()) => Verdict::Deliver(pass()),
                Err(_) => Verdict::Drop,
            },
            // What one publishes goes where his presence may go: the rules must allow the
            // pair (the node's access model, presence or whitelist, is the PEP service's
            // own check on top). Nothing goes otherwise, without a word.
            Class::PepEvent => match reach {
                Ok(()) => Verdict::Deliver(pass()),
                Err(_) => Verdict::Drop,
            },
            Class::IqRequest { id } => match resource {
                // To an account's bare JID: the server answers on its behalf.
                None => match reach {
                    Ok(()) => Verdict::Deliver(pass()),
                    Err(r) => Verdict::Refuse(refusal(&r)),
                },
                Some(r) => match self.chat(from, to, detail).await {
                    Ok(()) => {
                        if let Some(session) = from.session {
                            let peer = format!("{to}@{}/{r}", self.domain);
                            self.sessions.note_request(from.user, session, &peer, id);
                        }
                        Verdict::Deliver(pass())
                    }
                    Err(e) => Verdict::Refuse(e),
                },
            },
            // An answer answers a request the gate let through, and only while the rules
            // still allow the pair (a request made before a change is not answered after).
            Class::IqAnswer { id } => match resource {
                Some(r) if reach.is_ok() && self.sessions.take_answer(to, r, from.full, id) => {
                    Verdict::Deliver(pass())
                }
                _ => Verdict::Drop,
            },
        }
    }

    /// The verdict when `from` blocked `to` or `to` blocked `from` (see the module docs);
    /// `None` when neither did. Costs one atomic load while nobody blocked anyone.
    fn blocked(
        &self,
        from: &Sender<'_>,
        to: &str,
        resource: Option<&str>,
        class: Class<'_>,
    ) -> Option<Verdict> {
        if !self.blocking.any() {
            return None;
        }
        let to_jid = match resource {
            Some(r) => format!("{to}@{}/{r}", self.domain),
            None => format!("{to}@{}", self.domain),
        };
        if self.blocking.blocks(from.user, &to_jid) {
            return Some(match class {
                Class::Chat
                | Class::IqRequest { .. }
                | Class::Subscribe
                | Class::Subscribed
                | Class::Directed { available: true } => Verdict::Refuse(blocked_error()),
                _ => Verdict::Drop,
            });
        }
        if self.blocking.blocks(to, from.full) {
            return Some(match class {
                Class::Chat | Class::IqRequest { .. } => {
                    Verdict::Refuse(StanzaError::new(Condition::ServiceUnavailable))
                }
                _ => Verdict::Drop,
            });
        }
        None
    }

    /// Whether `from` may write to `to`: the rules, and between directory users the
    /// seed's "only contacts who accepted" (`detail`: `View::reach_detail`).
    async fn chat(
        &self,
        from: &Sender<'_>,
        to: &str,
        detail: Result<bool, DenyReason>,
    ) -> Result<(), StanzaError> {
        let contacts_rule = detail.map_err(|r| refusal(&r))?;
        if !contacts_rule {
            return Ok(());
        }
        // A live sender's contacts are kept while he is connected.
        let keep = from.session.is_some();
        match self.contacts.is_mutual(from.user, to, keep).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_a_contact()),
            Err(e) => Err(crate::stanza::internal(e)),
        }
    }

    /// Whether `user` may speak in a room at all (his account may chat).
    pub async fn room_post(&self, user: &str) -> Result<(), StanzaError> {
        let view = self.policy.view().await;
        view.access(user)
            .map_err(|d| crate::stanza::addressed(Condition::Forbidden, view.denied_text(user, d)))
    }

    /// Whether `candidate` may be a member of a room whose other members are `others`
    /// and whose owner is `owner` (see the module docs). The error names the member he
    /// may not reach.
    pub fn room_admits(
        view: &View,
        candidate: &str,
        others: &[&str],
        owner: Option<&str>,
    ) -> Result<(), RoomRefusal> {
        if view.access(candidate).is_err() {
            return Err(RoomRefusal::NoAccess);
        }
        if let Some(owner) = owner
            && supervises(view, owner)
            && view.reach(owner, candidate).is_ok()
        {
            return Ok(());
        }
        match others
            .iter()
            .find(|m| **m != candidate && view.reach(candidate, m).is_err())
        {
            Some(m) => Err(RoomRefusal::CannotReach(m.to_string())),
            None => Ok(()),
        }
    }

    /// An invitation of `invitee` by `inviter` to a room of `members` (its owner
    /// `owner`): the pass to deliver it, or the error for the inviter.
    /// Once allowed, it spends one of the inviter's invitations to `room` an hour.
    pub async fn invite(
        &self,
        inviter: &str,
        invitee: &str,
        room: &str,
        members: &[&str],
        owner: Option<&str>,
    ) -> Result<Pass, StanzaError> {
        if self
            .blocking
            .blocks(inviter, &format!("{invitee}@{}", self.domain))
        {
            return Err(blocked_error());
        }
        if self
            .blocking
            .blocks(invitee, &format!("{inviter}@{}", self.domain))
        {
            return Err(StanzaError::new(Condition::ServiceUnavailable));
        }
        let view = self.policy.view().await;
        view.reach(inviter, invitee).map_err(|r| refusal(&r))?;
        view.may_send(inviter, Some(invitee))
            .map_err(shutdown_refusal)?;
        match Gate::room_admits(&view, invitee, members, owner) {
            Ok(()) => {
                let limits = self.limits_of(&view, inviter);
                self.rates
                    .spend(
                        inviter,
                        Kind::Invitation,
                        room,
                        limits.invitations_per_room_per_hour,
                    )
                    .map_err(|e| over_limit(Over::Invitations, e))?;
                Ok(Pass::new(invitee))
            }
            Err(RoomRefusal::NoAccess) => Err(refusal(&DenyReason::Inactive)),
            Err(RoomRefusal::CannotReach(m)) => {
                let name = |u: &str| {
                    view.user(u)
                        .map(|x| x.display_name())
                        .unwrap_or_else(|| u.to_string())
                };
                let (who, whom) = (name(invitee), name(&m));
                let mut err = error(
                    Condition::Forbidden,
                    format!(
                        "Les règles de l'établissement ne permettent pas à {who} de communiquer avec {whom}, membre de cette conversation."
                    ),
                    format!(
                        "The school's rules do not allow {who} to communicate with {whom}, a member of this conversation."
                    ),
                );
                err.app = Some(Box::new(Element::bare(
                    "school-rules",
                    super::policy::NS_POLICY,
                )));
                Err(err)
            }
        }
    }

    /// A stanza of `class` from an account to a component (XEP-0114): refused in this
    /// version (answers and errors, which nobody answers, are dropped).
    pub fn to_component(&self, class: Class<'_>) -> Verdict {
        match class {
            Class::MessageError
            | Class::PresenceError
            | Class::IqAnswer { .. }
            | Class::Broadcast { .. }
            | Class::Directed { available: false }
            | Class::Unsubscribe
            | Class::Unsubscribed => Verdict::Drop,
            _ => Verdict::Refuse(component_refused()),
        }
    }

    /// A stanza of `class` from `from` on component `component` (its `from` was checked
    /// to be in the component's domain) to `to`.
    pub fn from_component(
        &self,
        component: &str,
        from: &str,
        to: ComponentTo<'_>,
        class: Class<'_>,
    ) -> ComponentVerdict {
        let requester = match to {
            ComponentTo::Server => Some(self.domain),
            ComponentTo::Account(jid) => Some(jid),
            ComponentTo::Elsewhere => None,
        };
        match (class, to) {
            (Class::IqAnswer { id }, _) => {
                match requester.and_then(|r| self.components.take_awaited(component, from, r, id)) {
                    Some(awaited) => ComponentVerdict::Answer(awaited),
                    None => ComponentVerdict::Drop,
                }
            }
            (Class::IqRequest { .. }, ComponentTo::Server) => ComponentVerdict::Server,
            (Class::MessageError | Class::PresenceError, _) => ComponentVerdict::Drop,
            // A component's presence to the server (some announce themselves): ignored.
            (
                Class::Directed { .. } | Class::Broadcast { .. } | Class::Probe,
                ComponentTo::Server,
            ) => ComponentVerdict::Drop,
            _ => ComponentVerdict::Refuse(component_may_not_send()),
        }
    }

    /// Whether an account may have the server send its push notifications (XEP-0357) to
    /// `domain`: only to a configured component (the school's app server); returns that
    /// component.
    pub fn push_target(&self, domain: &str) -> Result<String, StanzaError> {
        self.components
            .owner(domain)
            .map(str::to_string)
            .ok_or_else(|| {
                error(
                    Condition::NotAllowed,
                    "Les notifications ne peuvent être envoyées qu'au service de notifications de l'établissement.",
                    "Notifications may only be sent to the school's push service.",
                )
            })
    }

    /// A decline of an invitation by `decliner`, told to `inviter`: the pass, and whether
    /// the decliner's reason may go with it (only if he may still reach the inviter).
    pub async fn decline(&self, decliner: &str, inviter: &str) -> (Pass, bool) {
        let view = self.policy.view().await;
        (Pass::new(inviter), view.reach(decliner, inviter).is_ok())
    }
}

/// Why someone may not be (or stay) a member of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRefusal {
    /// His account may not chat (deactivated, locked, access off).
    NoAccess,
    /// He may not reach this member, and the room is not supervised.
    CannotReach(String),
}

/// Whether `owner` makes his room supervised: an adult of the directory (a teacher or a
/// staff member) who may chat.
pub fn supervises(view: &View, owner: &str) -> bool {
    view.user(owner)
        .is_some_and(|u| matches!(u.profile, Profile::Teacher | Profile::Personnel))
        && view.access(owner).is_ok()
}

/// A stanza to one's own account: allowed, but for what never goes to an account.
fn own(user: &str, class: Class<'_>) -> Verdict {
    match class {
        Class::Unknown => Verdict::Refuse(unknown_class()),
        Class::Groupchat => Verdict::Refuse(groupchat_to_account()),
        _ => Verdict::Deliver(Pass::new(user)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn when_to_try_again_in_words() {
        let at = |secs| again_in(std::time::Duration::from_secs(secs));
        assert_eq!(at(0).0, "dans une minute");
        assert_eq!(at(59).1, "in a minute");
        assert_eq!(at(61).0, "dans 2 minutes");
        assert_eq!(at(1799).1, "in 30 minutes");
        assert_eq!(at(3599).0, "dans une heure");
        assert_eq!(at(86_399).1, "in 24 hours");
    }

    #[test]
    fn a_refusal_says_tu_to_a_pupil_and_vous_to_an_adult() {
        let wait = Exceeded {
            retry_after: std::time::Duration::from_secs(30),
        };
        use causerie_ent::register::Register;
        let xml = |r| {
            let e = crate::stanza::for_register(over_limit(Over::Messages, wait), r);
            causerie_proto::xml::to_string(&e.to_element())
        };
        let pupil = xml(Register::Tu);
        assert!(pupil.contains("Tu envoies trop de messages, réessaie dans une minute."));
        assert!(!pupil.contains("Vous envoyez"), "{pupil}");
        assert!(pupil.contains("resource-constraint"), "{pupil}");
        let adult = xml(Register::Vous);
        assert!(adult.contains("Vous envoyez trop de messages, réessayez dans une minute."));
        assert!(!adult.contains("Tu envoies"), "{adult}");
        assert!(adult.contains("You are sending too many messages: try again in a minute."));
    }

    #[test]
    fn every_stanza_has_a_class_and_unknown_types_are_unknown() {
        let c = |x: &str| classify_owned(&el(x));
        fn classify_owned(e: &Element) -> String {
            format!("{:?}", classify(e))
        }
        let m = "xmlns='jabber:client'";
        assert_eq!(c(&format!("<message {m}/>")), "Chat");
        assert_eq!(c(&format!("<message {m} type='headline'/>")), "Chat");
        assert_eq!(c(&format!("<message {m} type='groupchat'/>")), "Groupchat");
        assert_eq!(c(&format!("<message {m} type='error'/>")), "MessageError");
        assert_eq!(c(&format!("<message {m} type='x'/>")), "Unknown");
        assert_eq!(
            c(&format!("<presence {m} to='a@b'/>")),
            "Directed { available: true }"
        );
        assert_eq!(
            c(&format!("<presence {m} type='unavailable'/>")),
            "Broadcast { available: false }"
        );
        assert_eq!(
            c(&format!("<presence {m} type='probe' to='a@b'/>")),
            "Probe"
        );
        assert_eq!(c(&format!("<presence {m} type='error'/>")), "PresenceError");
        assert_eq!(c(&format!("<presence {m} type='x'/>")), "Unknown");
        assert_eq!(
            c(&format!("<iq {m} type='get' id='1'/>")),
            "IqRequest { id: \"1\" }"
        );
        assert_eq!(
            c(&format!("<iq {m} type='error' id='1'/>")),
            "IqAnswer { id: \"1\" }"
        );
        assert_eq!(c(&format!("<iq {m} type='get'/>")), "Unknown", "no id");
        assert_eq!(c(&format!("<iq {m} type='x' id='1'/>")), "Unknown");
        assert_eq!(c(&format!("<foo {m}/>")), "Unknown");
    }

    #[test]
    fn to_oneself_everything_but_groupchat_and_the_unknown() {
        assert!(matches!(own("a", Class::Chat), Verdict::Deliver(_)));
        assert!(matches!(
            own("a", Class::IqAnswer { id: "1" }),
            Verdict::Deliver(_)
        ));
        assert!(matches!(own("a", Class::Groupchat), Verdict::Refuse(_)));
        assert!(matches!(own("a", Class::Unknown), Verdict::Refuse(_)));
    }
}
