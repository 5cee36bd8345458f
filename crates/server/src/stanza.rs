//! The shared vocabulary of the server, lowest in the crate: where a stanza is going
//! ([`Dest`], [`MucDest`]), what an IQ handler answers ([`IqResult`]) and the builders of
//! answers. It imports nothing of the server.

use causerie_ent::{Register, Text};
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use tracing::warn;

/// A headline from the server (`from` its domain) to `to` with `text`: French in
/// `register` and English, the deployment's language first without xml:lang
/// (`french_first`), the other with it; then `payload`, if any.
pub fn server_headline(
    domain: &str,
    to: &str,
    text: &Text<String>,
    register: Register,
    french_first: bool,
    payload: Option<Element>,
) -> Element {
    let mut m = xml::elem(
        "message",
        ns::CLIENT,
        &[("type", "headline"), ("from", domain), ("to", to)],
    );
    let fr = text.fr(register).to_string();
    let en = text.en.clone();
    let (first, other) = if french_first {
        (fr, ("en", en))
    } else {
        (en, ("fr", fr))
    };
    m.append_child(xml::text_elem("body", ns::CLIENT, first));
    let mut body = xml::text_elem("body", ns::CLIENT, other.1);
    xml::set_lang(&mut body, other.0);
    m.append_child(body);
    if let Some(p) = payload {
        m.append_child(p);
    }
    m
}

/// Where a stanza is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// The server itself (`to` = the domain).
    Domain,
    /// A local account's bare JID (also: no `to`, meaning the sender's own account).
    Bare(String),
    /// A local account's full JID.
    Full(String, String),
    /// The directory search service (XEP-0055) at `search.DOMAIN`.
    Search,
    /// The file sharing service (XEP-0363) at `upload.DOMAIN`.
    Upload,
    /// Another domain: no federation, so `remote-server-not-found`.
    Remote,
}

impl Dest {
    /// The localpart of a local account destination.
    pub fn user(&self) -> Option<&str> {
        match self {
            Dest::Bare(u) | Dest::Full(u, _) => Some(u),
            _ => None,
        }
    }

    /// The resource of a full JID destination.
    pub fn resource(&self) -> Option<&str> {
        match self {
            Dest::Full(_, r) => Some(r),
            _ => None,
        }
    }
}

/// A destination on the conversation service (`conference.DOMAIN`, XEP-0045).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MucDest {
    /// The service itself.
    Service,
    /// A room (`room@conference.DOMAIN`), or one of its occupants (`…/nick`).
    Room { room: String, nick: Option<String> },
}

/// What an IQ handler answers: the result's payload, or an error.
pub type IqResult = Result<Option<Element>, StanzaError>;

/// Turns a store failure into `internal-server-error`, logging it.
pub fn internal(e: impl std::fmt::Display) -> StanzaError {
    warn!(error = %e, "storage failure while handling a stanza");
    StanzaError::new(Condition::InternalServerError)
}

/// A stanza error with its French and English texts, for a French text that addresses
/// nobody in particular (« Ce compte n'existe pas. »). A text that speaks to the reader
/// (« tu »/« vous », an imperative) is [`addressed`].
pub fn error(condition: Condition, fr: impl Into<String>, en: impl Into<String>) -> StanzaError {
    StanzaError::new(condition)
        .with_text("fr", fr)
        .with_text("en", en)
}

/// The language tags of the French forms of an [`addressed`] error until it is sent
/// (BCP 47 private use): `session::reply_error` keeps the reader's as `fr` and drops the
/// other, so they never reach a client.
pub const FR_TU: &str = "fr-x-tu";
/// See [`FR_TU`].
pub const FR_VOUS: &str = "fr-x-vous";

/// A stanza error whose text speaks to its reader, in its three forms
/// (`causerie_ent::register`): `addressed(Condition::NotAcceptable, said!(tu: "…", vous:
/// "…", en: "…"))` or a `Text::new(…)` constant. The reply to the session that sent the
/// stanza carries the French form of that session's register (`Session::register`, from
/// the directory profile: « tu » for a pupil, « vous » for everyone else) and the English.
pub fn addressed<S: AsRef<str>>(condition: Condition, text: Text<S>) -> StanzaError {
    let (tu, vous, en) = (text.tu.as_ref(), text.vous.as_ref(), text.en.as_ref());
    let e = StanzaError::new(condition);
    let e = if tu == vous {
        e.with_text("fr", tu)
    } else {
        e.with_text(FR_TU, tu).with_text(FR_VOUS, vous)
    };
    e.with_text("en", en)
}

/// `err` as read by someone in `register`: of the French forms of an [`addressed`]
/// error, the one of `register` becomes the `fr` text and the other is dropped.
pub fn for_register(mut err: StanzaError, register: Register) -> StanzaError {
    let (keep, drop) = match register {
        Register::Tu => (FR_TU, FR_VOUS),
        Register::Vous => (FR_VOUS, FR_TU),
    };
    err.texts.retain(|(lang, _)| lang != drop);
    for (lang, _) in &mut err.texts {
        if lang == keep {
            *lang = "fr".into();
        }
    }
    err
}

/// The result of an IQ request: same id, addresses swapped.
pub fn result_for(request: &Element, payload: Option<Element>) -> Element {
    let mut r = xml::elem("iq", ns::CLIENT, &[("type", "result")]);
    if let Some(id) = request.attr("id") {
        xml::set_attr(&mut r, "id", id);
    }
    if let Some(from) = request.attr("from") {
        xml::set_attr(&mut r, "to", from);
    }
    if let Some(to) = request.attr("to") {
        xml::set_attr(&mut r, "from", to);
    }
    if let Some(p) = payload {
        r.append_child(p);
    }
    r
}

/// The localpart of a bare JID string of `domain` (`lea@domain` → `lea`).
pub fn local_user(domain: &str, bare: &str) -> Option<String> {
    let (node, d) = bare.split_once('@')?;
    (d == domain && !node.is_empty() && !node.contains('/')).then(|| node.to_string())
}

/// XEP-0082 date-time of a millisecond timestamp (archives' and delays' stamps).
pub fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A new XEP-0359 stanza-id for the archives: a UUIDv7 (48 bits of time, 74 random), so
/// that the archives' unique keys grow at their end. Written without `format!`'s
/// machinery (one per archived message).
pub fn time_ordered_id() -> String {
    let mut buf = uuid::Uuid::encode_buffer();
    uuid::Uuid::now_v7()
        .hyphenated()
        .encode_lower(&mut buf)
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn archive_ids_are_uuid_v7_as_uuid_writes_them() {
        let id = super::time_ordered_id();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(id, parsed.to_string());
        assert_ne!(id, super::time_ordered_id());
    }
}
