//! Stanza errors (RFC 6120 §8.3) and stream errors (§4.9): the conditions,
//! their default types, and the elements that carry them.
//!
//! Handlers return a [`StanzaError`]; the router turns it into an error reply
//! addressed back to the sender with [`error_reply`]. Texts may be given in
//! several languages (French for the users, English beside it).

use minidom::Element;

use crate::{ns, xml};

/// The `type` attribute of `<error/>` (RFC 6120 §8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Auth,
    Cancel,
    Continue,
    Modify,
    Wait,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Continue => "continue",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }
}

/// The defined stanza error conditions (RFC 6120 §8.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    BadRequest,
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    Gone,
    InternalServerError,
    ItemNotFound,
    JidMalformed,
    NotAcceptable,
    NotAllowed,
    NotAuthorized,
    PolicyViolation,
    RecipientUnavailable,
    Redirect,
    RegistrationRequired,
    RemoteServerNotFound,
    RemoteServerTimeout,
    ResourceConstraint,
    ServiceUnavailable,
    SubscriptionRequired,
    UndefinedCondition,
    UnexpectedRequest,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        use Condition::*;
        match self {
            BadRequest => "bad-request",
            Conflict => "conflict",
            FeatureNotImplemented => "feature-not-implemented",
            Forbidden => "forbidden",
            Gone => "gone",
            InternalServerError => "internal-server-error",
            ItemNotFound => "item-not-found",
            JidMalformed => "jid-malformed",
            NotAcceptable => "not-acceptable",
            NotAllowed => "not-allowed",
            NotAuthorized => "not-authorized",
            PolicyViolation => "policy-violation",
            RecipientUnavailable => "recipient-unavailable",
            Redirect => "redirect",
            RegistrationRequired => "registration-required",
            RemoteServerNotFound => "remote-server-not-found",
            RemoteServerTimeout => "remote-server-timeout",
            ResourceConstraint => "resource-constraint",
            ServiceUnavailable => "service-unavailable",
            SubscriptionRequired => "subscription-required",
            UndefinedCondition => "undefined-condition",
            UnexpectedRequest => "unexpected-request",
        }
    }

    /// The type RFC 6120 §8.3.3 gives in its examples for each condition.
    pub fn default_type(self) -> ErrorType {
        use Condition::*;
        match self {
            BadRequest | JidMalformed | NotAcceptable | PolicyViolation | Redirect | Gone => {
                ErrorType::Modify
            }
            Forbidden | NotAuthorized | RegistrationRequired | SubscriptionRequired => {
                ErrorType::Auth
            }
            RecipientUnavailable | RemoteServerTimeout | ResourceConstraint | UnexpectedRequest => {
                ErrorType::Wait
            }
            Conflict
            | FeatureNotImplemented
            | InternalServerError
            | ItemNotFound
            | NotAllowed
            | RemoteServerNotFound
            | ServiceUnavailable
            | UndefinedCondition => ErrorType::Cancel,
        }
    }
}

/// A stanza error to send back: condition, type and optional texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaError {
    pub condition: Condition,
    pub kind: ErrorType,
    /// `(xml:lang, text)` pairs.
    pub texts: Vec<(String, String)>,
    /// An application-specific condition element, if any.
    pub app: Option<Box<Element>>,
    /// The entity that returns the error (RFC 6120 §8.3.2 `by`), when it is not the
    /// one the stanza was addressed to (a room answering for an occupant).
    pub by: Option<String>,
}

impl StanzaError {
    pub fn new(condition: Condition) -> Self {
        StanzaError {
            condition,
            kind: condition.default_type(),
            texts: Vec::new(),
            app: None,
            by: None,
        }
    }

    /// Adds a human-readable text in `lang`.
    pub fn with_text(mut self, lang: &str, text: impl Into<String>) -> Self {
        self.texts.push((lang.to_string(), text.into()));
        self
    }

    /// Names the entity that returns the error (the `by` attribute).
    pub fn with_by(mut self, by: impl Into<String>) -> Self {
        self.by = Some(by.into());
        self
    }

    pub fn with_type(mut self, kind: ErrorType) -> Self {
        self.kind = kind;
        self
    }

    /// The `<error/>` element (with `by` when the error names who returns it).
    pub fn to_element(&self) -> Element {
        let mut error = xml::elem("error", ns::CLIENT, &[("type", self.kind.as_str())]);
        if let Some(by) = &self.by {
            xml::set_attr(&mut error, "by", by);
        }
        error.append_child(Element::bare(self.condition.as_str(), ns::STANZAS));
        for (lang, text) in &self.texts {
            let mut t = xml::text_elem("text", ns::STANZAS, text.clone());
            xml::set_lang(&mut t, lang);
            error.append_child(t);
        }
        if let Some(app) = &self.app {
            error.append_child((**app).clone());
        }
        error
    }
}

impl From<Condition> for StanzaError {
    fn from(c: Condition) -> Self {
        StanzaError::new(c)
    }
}

/// The error reply to `original` (RFC 6120 §8.2): same name and id, `to` and
/// `from` swapped, `type='error'`, the original payload kept so the sender
/// can tell which stanza failed.
pub fn error_reply(original: &Element, err: &StanzaError) -> Element {
    let mut reply = Element::bare(original.name(), ns::CLIENT);
    if let Some(id) = original.attr("id") {
        xml::set_attr(&mut reply, "id", id);
    }
    if let Some(from) = original.attr("from") {
        xml::set_attr(&mut reply, "to", from);
    }
    if let Some(to) = original.attr("to") {
        xml::set_attr(&mut reply, "from", to);
    }
    xml::set_attr(&mut reply, "type", "error");
    for child in original.children() {
        if !child.is("error", ns::CLIENT) {
            reply.append_child(child.clone());
        }
    }
    reply.append_child(err.to_element());
    reply
}

/// Whether an error reply may be sent for this stanza: never in answer to an
/// error (RFC 6120 §8.3.1), to avoid loops.
pub fn may_reply_with_error(stanza: &Element) -> bool {
    stanza.attr("type") != Some("error")
}

/// Serialised `<stream:error>` with the given condition (RFC 6120 §4.9.3),
/// followed by the closing stream tag.
pub fn stream_error_xml(condition: &str, text: Option<&str>) -> String {
    let mut s = String::with_capacity(200);
    s.push_str("<stream:error><");
    s.push_str(condition);
    s.push_str(" xmlns='");
    s.push_str(ns::STREAMS);
    s.push_str("'/>");
    if let Some(text) = text {
        s.push_str("<text xmlns='");
        s.push_str(ns::STREAMS);
        s.push_str("' xml:lang='en'>");
        s.push_str(&escape(text));
        s.push_str("</text>");
    }
    s.push_str("</stream:error></stream:stream>");
    s
}

/// Escapes text for an XML attribute value (single- or double-quoted) or text node.
/// Tabs and line breaks become character references, so that an attribute value
/// keeps them (a parser turns literal ones into spaces there).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_swaps_addresses_and_keeps_id() {
        let orig: Element = "<iq xmlns='jabber:client' type='get' id='q1' from='a@x/r' to='x'><query xmlns='urn:unknown'/></iq>"
            .parse()
            .unwrap();
        let err = StanzaError::new(Condition::ServiceUnavailable)
            .with_text("fr", "Service indisponible")
            .with_text("en", "Service unavailable");
        let reply = error_reply(&orig, &err);
        assert_eq!(reply.attr("type"), Some("error"));
        assert_eq!(reply.attr("id"), Some("q1"));
        assert_eq!(reply.attr("to"), Some("a@x/r"));
        assert_eq!(reply.attr("from"), Some("x"));
        let e = reply.get_child("error", ns::CLIENT).unwrap();
        assert_eq!(e.attr("type"), Some("cancel"));
        assert!(e.get_child("service-unavailable", ns::STANZAS).is_some());
        assert_eq!(e.attr("by"), None);
        let texts: Vec<_> = e
            .children()
            .filter(|c| c.is("text", ns::STANZAS))
            .map(|c| (xml::lang(c).unwrap().to_string(), c.text()))
            .collect();
        assert_eq!(texts.len(), 2);
        assert_eq!(texts[0], ("fr".into(), "Service indisponible".into()));
        // Round-trips through the parser.
        let back: Element = xml::to_string(&reply).parse().unwrap();
        assert!(back.get_child("error", ns::CLIENT).is_some());
    }

    #[test]
    fn an_error_names_who_returns_it_when_asked() {
        let orig: Element = "<iq xmlns='jabber:client' type='get' id='p' from='a@x/r' to='room@conference.x/Anna'><ping xmlns='urn:xmpp:ping'/></iq>"
            .parse()
            .unwrap();
        let err = StanzaError::new(Condition::NotAcceptable).with_by("room@conference.x");
        let reply = error_reply(&orig, &err);
        assert_eq!(reply.attr("from"), Some("room@conference.x/Anna"));
        let e = reply.get_child("error", ns::CLIENT).unwrap();
        assert_eq!(e.attr("by"), Some("room@conference.x"));
        assert!(e.get_child("not-acceptable", ns::STANZAS).is_some());
    }

    #[test]
    fn no_error_in_answer_to_an_error() {
        let e: Element = "<message xmlns='jabber:client' type='error'/>"
            .parse()
            .unwrap();
        assert!(!may_reply_with_error(&e));
    }

    #[test]
    fn stream_error_escapes_text() {
        let s = stream_error_xml("policy-violation", Some("too <big>"));
        assert!(s.contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"));
        assert!(s.contains("too &lt;big&gt;"));
        assert!(s.ends_with("</stream:stream>"));
    }
}
