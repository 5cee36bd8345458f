//! Sans-I/O framing of an XMPP stream: bytes in, stream events out.
//!
//! [`StreamParser`] feeds the bytes a client sends into `rxml`'s restricted
//! parser (no DTD, no entity declarations, no processing instructions, no
//! comments: they are refused, never expanded) and assembles every depth-1
//! child of `<stream:stream>` into a [`minidom::Element`]. It enforces the
//! limits a server needs and that no parser gives us out of the box: the size
//! of one top-level element (`max_stanza_bytes`) and its nesting depth.
//!
//! Both transports use it: TCP feeds the byte stream; RFC 7395 WebSocket
//! frames are complete elements, which the parser frames the same way.
//! After STARTTLS or SASL success the stream restarts: call
//! [`StreamParser::reset`].
//!
//! An idle connection can give its parser's buffers back
//! ([`StreamParser::park`]): rxml keeps a scratch buffer of the longest token
//! per parser (4 KiB) and namespace tables, most of an idle session's memory.
//! Between two stanzas the parser's whole state is "inside the stream header",
//! so a parked parser is dropped and, on the next bytes, a fresh one is fed the
//! stream's own header again (kept as received, a few hundred bytes): the
//! same namespace declarations, the same state.

use minidom::Element;
use rxml::{Event, Parse, Parser, WithOptions};

use crate::ns;

/// What the stream header said (RFC 6120 §4.7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamHeader {
    pub to: Option<String>,
    pub from: Option<String>,
    pub version: Option<String>,
    pub lang: Option<String>,
    /// The default namespace of the stream's content (`jabber:client`).
    pub content_ns: String,
    /// `true` for RFC 7395's `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`.
    pub framing: bool,
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// `<stream:stream …>` (or the WebSocket `<open/>`).
    Open(StreamHeader),
    /// A complete top-level element: a stanza or a nonza.
    Element(Element),
    /// `</stream:stream>` (or the WebSocket `<close/>`).
    Close,
}

/// Why a stream cannot go on; each maps to one RFC 6120 §4.9.3 condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Bytes that are not well-formed XML.
    #[error("not well-formed XML: {0}")]
    NotWellFormed(String),
    /// DTD, entity declaration, processing instruction or comment.
    #[error("restricted XML construct: {0}")]
    RestrictedXml(String),
    /// A top-level element over the configured size.
    #[error("stanza larger than {0} bytes")]
    TooBig(usize),
    /// A top-level element nested deeper than allowed.
    #[error("element nested deeper than {0} levels")]
    TooDeep(usize),
    /// The root element is not a stream header.
    #[error("invalid stream namespace or root element")]
    InvalidNamespace,
}

impl FramingError {
    /// The stream error condition (RFC 6120 §4.9.3) to send before closing.
    pub fn condition(&self) -> &'static str {
        match self {
            FramingError::NotWellFormed(_) => "not-well-formed",
            FramingError::RestrictedXml(_) => "restricted-xml",
            FramingError::TooBig(_) | FramingError::TooDeep(_) => "policy-violation",
            FramingError::InvalidNamespace => "invalid-namespace",
        }
    }
}

/// Limits applied while framing.
#[derive(Debug, Clone, Copy)]
pub struct FramingLimits {
    /// Bytes of one top-level element, header and text included.
    pub max_stanza_bytes: usize,
    /// Nesting depth inside one top-level element (the element itself is 1).
    pub max_depth: usize,
}

impl Default for FramingLimits {
    fn default() -> Self {
        FramingLimits {
            max_stanza_bytes: 256 * 1024,
            max_depth: 64,
        }
    }
}

/// Longest single token (name, attribute value, reference) rxml buffers.
const MAX_TOKEN_BYTES: usize = 4096;

/// A stream header longer than this is not kept, and its parser never parked.
const MAX_KEPT_HEADER: usize = 2048;

/// The incremental parser of one stream (see the module docs).
pub struct StreamParser {
    parser: Parser,
    limits: FramingLimits,
    /// Elements being built; `stack[0]` is the current top-level element.
    stack: Vec<Element>,
    /// `true` once the stream header has been seen.
    opened: bool,
    /// `true` once the stream has ended (footer, or a fatal error).
    closed: bool,
    /// Bytes counted so far for the current top-level element.
    current_bytes: usize,
    /// Bytes the parser took since it last gave an event: a tag's attributes are held
    /// inside rxml until the tag ends, so they count against the limit while they come
    /// (else a header or a start tag with millions of attributes, never closed, would be
    /// buffered whole before any check).
    since_event: usize,
    /// The bytes of the stream up to the end of its header, as received
    /// (collected until the header is complete; empty when too long).
    header: Vec<u8>,
    /// Nothing but whitespace followed the last complete top-level element:
    /// the parser holds no part of a stanza.
    between_stanzas: bool,
    /// The parser was dropped (see [`StreamParser::park`]).
    parked: bool,
}

impl StreamParser {
    /// A parser for a TCP stream (`<stream:stream>` root).
    pub fn new(limits: FramingLimits) -> Self {
        StreamParser {
            parser: Self::make_parser(&limits),
            limits,
            stack: Vec::new(),
            opened: false,
            closed: false,
            current_bytes: 0,
            since_event: 0,
            header: Vec::new(),
            between_stanzas: false,
            parked: false,
        }
    }

    /// Changes the size limit of the top-level elements to come (and of the one being
    /// read): a connection keeps a small one until it is authenticated.
    pub fn set_max_stanza_bytes(&mut self, max: usize) {
        self.limits.max_stanza_bytes = max;
    }

    fn make_parser(limits: &FramingLimits) -> Parser {
        // rxml reserves a scratch buffer of `max_token_length` bytes per
        // parser, i.e. per connection: keep it small. Longer text is split
        // into several text events (no error); only a name or reference
        // longer than this fails. The stanza limit is counted here, not there.
        Parser::with_options(rxml::parser::Options {
            max_token_length: MAX_TOKEN_BYTES.min(limits.max_stanza_bytes),
            ..Default::default()
        })
    }

    /// Starts over after STARTTLS or SASL success (RFC 6120 §5.4.3.3, §6.4.6):
    /// the next bytes begin with a new stream header.
    pub fn reset(&mut self) {
        self.parser = Self::make_parser(&self.limits);
        self.stack.clear();
        self.opened = false;
        self.closed = false;
        self.current_bytes = 0;
        self.since_event = 0;
        self.header.clear();
        self.between_stanzas = false;
        self.parked = false;
    }

    /// Gives the parser's buffers back while the stream is between two
    /// stanzas (see the module docs); returns whether it did. The next
    /// [`StreamParser::feed`] rebuilds the parser from the kept header first.
    pub fn park(&mut self) -> bool {
        if self.parked {
            return true;
        }
        if !self.opened
            || self.closed
            || !self.between_stanzas
            || !self.stack.is_empty()
            || self.header.is_empty()
        {
            return false;
        }
        self.parser = Self::make_parser(&self.limits);
        self.stack = Vec::new();
        self.parked = true;
        true
    }

    /// Feeds the kept header to a fresh parser, discarding its events.
    fn unpark(&mut self) -> Result<(), FramingError> {
        self.parked = false;
        let mut buf = &self.header[..];
        loop {
            match self.parser.parse(&mut buf, false) {
                Ok(Some(_)) => {}
                Ok(None) | Err(rxml::error::EndOrError::NeedMoreData) => return Ok(()),
                Err(rxml::error::EndOrError::Error(e)) => return Err(map_rxml_error(e)),
            }
        }
    }

    /// Whether the stream header has been received.
    pub fn is_open(&self) -> bool {
        self.opened
    }

    /// Feeds `data` and appends the events it completes to `out`.
    ///
    /// On error the stream is unusable: the caller sends the stream error of
    /// [`FramingError::condition`] and closes the connection.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), FramingError> {
        if self.closed {
            return Ok(());
        }
        if self.parked
            && let Err(e) = self.unpark()
        {
            self.closed = true;
            return Err(e);
        }
        if !self.opened && self.header.len() <= MAX_KEPT_HEADER {
            self.header.extend_from_slice(data);
        }
        // Where the bytes after the last complete top-level element begin.
        let mut after_last = if self.between_stanzas { Some(0) } else { None };
        let mut buf = data;
        loop {
            let was_open = self.opened;
            let before = self.stack.len();
            let unread = buf.len();
            match self.parser.parse(&mut buf, false) {
                Ok(Some(event)) => {
                    self.since_event = 0;
                    let ends_top_level = before == 1 && matches!(event, Event::EndElement(_));
                    if let Err(e) = self.on_event(event, out) {
                        self.closed = true;
                        return Err(e);
                    }
                    if self.closed {
                        return Ok(());
                    }
                    let consumed = data.len() - buf.len();
                    if !was_open && self.opened {
                        // The header ends here: keep exactly its bytes.
                        let extra = data.len() - consumed;
                        if self.header.len() > MAX_KEPT_HEADER || extra > self.header.len() {
                            self.header = Vec::new();
                        } else {
                            self.header.truncate(self.header.len() - extra);
                            self.header.shrink_to_fit();
                        }
                        after_last = Some(consumed);
                    }
                    if ends_top_level {
                        after_last = Some(consumed);
                    }
                }
                Ok(None) => {
                    self.closed = true;
                    return Ok(());
                }
                // The parser keeps a partial token internally, bounded by
                // `max_token_length`.
                Err(rxml::error::EndOrError::NeedMoreData) => {
                    self.since_event += unread - buf.len();
                    // What the parser holds of an unfinished tag (or header) and the
                    // element it belongs to, within the element's limit.
                    if self.current_bytes + self.since_event > self.limits.max_stanza_bytes {
                        self.closed = true;
                        return Err(FramingError::TooBig(self.limits.max_stanza_bytes));
                    }
                    self.between_stanzas = self.opened
                        && self.stack.is_empty()
                        && after_last.is_some_and(|at| {
                            data[at.min(data.len())..]
                                .iter()
                                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                        });
                    return Ok(());
                }
                Err(rxml::error::EndOrError::Error(e)) => {
                    self.closed = true;
                    return Err(map_rxml_error(e));
                }
            }
        }
    }

    fn on_event(&mut self, event: Event, out: &mut Vec<StreamEvent>) -> Result<(), FramingError> {
        match event {
            Event::XmlDeclaration(..) => Ok(()),
            Event::StartElement(metrics, (ns_uri, name), attrs) => {
                if !self.opened {
                    return self.open(ns_uri.as_str(), name.as_str(), attrs, out);
                }
                self.count(metrics.len())?;
                if self.stack.len() + 1 > self.limits.max_depth {
                    return Err(FramingError::TooDeep(self.limits.max_depth));
                }
                // rxml lets `xmlns='http://www.w3.org/2000/xmlns/'` through.
                if !crate::xml::usable_ns(ns_uri.as_str()) {
                    return Err(FramingError::NotWellFormed(format!(
                        "element {} in the reserved namespace {}",
                        name.as_str(),
                        ns_uri.as_str()
                    )));
                }
                let mut el = Element::bare(name.as_str(), ns_uri.as_str());
                for ((attr_ns, attr_name), value) in attrs.into_iter() {
                    el.attrs_mut().insert(attr_ns, attr_name, value);
                }
                self.stack.push(el);
                Ok(())
            }
            Event::EndElement(metrics) => {
                match self.stack.pop() {
                    Some(el) => {
                        self.count(metrics.len())?;
                        match self.stack.last_mut() {
                            Some(parent) => {
                                parent.append_child(el);
                            }
                            None => {
                                self.current_bytes = 0;
                                out.push(StreamEvent::Element(el));
                            }
                        }
                    }
                    None => {
                        // The root closes: end of stream.
                        self.closed = true;
                        out.push(StreamEvent::Close);
                    }
                }
                Ok(())
            }
            Event::Text(metrics, text) => {
                // Text between stanzas (whitespace keepalives, RFC 6120
                // §4.6.1) has no meaning and is ignored.
                if let Some(el) = self.stack.last_mut() {
                    let len = metrics.len().max(text.len());
                    self.current_bytes += len;
                    if self.current_bytes > self.limits.max_stanza_bytes {
                        return Err(FramingError::TooBig(self.limits.max_stanza_bytes));
                    }
                    el.append_text(text);
                }
                Ok(())
            }
        }
    }

    fn count(&mut self, n: usize) -> Result<(), FramingError> {
        self.current_bytes += n;
        if self.current_bytes > self.limits.max_stanza_bytes {
            Err(FramingError::TooBig(self.limits.max_stanza_bytes))
        } else {
            Ok(())
        }
    }

    fn open(
        &mut self,
        ns_uri: &str,
        name: &str,
        attrs: rxml::AttrMap,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), FramingError> {
        let framing = match (ns_uri, name) {
            (ns::STREAM, "stream") => false,
            (ns::FRAMING, "open") => true,
            _ => return Err(FramingError::InvalidNamespace),
        };
        let get = |n: &str| attrs.get(rxml::Namespace::none(), n).cloned();
        let header = StreamHeader {
            to: get("to"),
            from: get("from"),
            version: get("version"),
            lang: attrs.get(rxml::Namespace::xml(), "lang").cloned(),
            content_ns: ns::CLIENT.to_string(),
            framing,
        };
        self.opened = true;
        out.push(StreamEvent::Open(header));
        Ok(())
    }
}

/// Frames a single WebSocket message (RFC 7395 §3.3: one complete element).
///
/// Returns the `<open/>` / `<close/>` framing elements as [`StreamEvent::Open`]
/// and [`StreamEvent::Close`], anything else as [`StreamEvent::Element`].
pub fn parse_websocket_frame(
    text: &str,
    limits: FramingLimits,
) -> Result<StreamEvent, FramingError> {
    if text.len() > limits.max_stanza_bytes {
        return Err(FramingError::TooBig(limits.max_stanza_bytes));
    }
    // Wrap the frame in a synthetic stream so the same code frames it; the
    // default namespace of stanzas over WebSocket is jabber:client too.
    let mut parser = StreamParser::new(limits);
    let mut out = Vec::with_capacity(2);
    parser.feed(
        format!(
            "<stream:stream xmlns='{}' xmlns:stream='{}'>",
            ns::CLIENT,
            ns::STREAM
        )
        .as_bytes(),
        &mut out,
    )?;
    out.clear();
    parser.feed(text.as_bytes(), &mut out)?;
    if !parser.stack.is_empty() {
        return Err(FramingError::NotWellFormed(
            "incomplete element in WebSocket frame".into(),
        ));
    }
    let mut events = out.into_iter();
    let first = events
        .next()
        .ok_or_else(|| FramingError::NotWellFormed("empty WebSocket frame".into()))?;
    if events.next().is_some() {
        return Err(FramingError::NotWellFormed(
            "more than one element in a WebSocket frame".into(),
        ));
    }
    Ok(match first {
        StreamEvent::Element(el) if el.is("open", ns::FRAMING) => {
            let get = |n: &str| el.attr(n).map(str::to_string);
            StreamEvent::Open(StreamHeader {
                to: get("to"),
                from: get("from"),
                version: get("version"),
                lang: el.attrs().get(rxml::Namespace::xml(), "lang").cloned(),
                content_ns: ns::CLIENT.to_string(),
                framing: true,
            })
        }
        StreamEvent::Element(el) if el.is("close", ns::FRAMING) => StreamEvent::Close,
        other => other,
    })
}

fn map_rxml_error(e: rxml::Error) -> FramingError {
    match e {
        // A name or reference over the token limit: too big, not restricted.
        rxml::Error::RestrictedXml("long name or reference") => {
            FramingError::TooBig(MAX_TOKEN_BYTES)
        }
        rxml::Error::RestrictedXml(what) => FramingError::RestrictedXml(what.to_string()),
        // A reference to an entity no one may declare here (`&foo;`).
        rxml::Error::UndeclaredEntity => {
            FramingError::RestrictedXml("undeclared entity reference".into())
        }
        // `<!` that opens neither a comment nor CDATA is a DOCTYPE or another
        // markup declaration: restricted XML (RFC 6120 §11.1).
        rxml::Error::InvalidSyntax(what) if what.contains("cdata or comment section start") => {
            FramingError::RestrictedXml("document type declaration".into())
        }
        other => FramingError::NotWellFormed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='fr'>";

    fn feed_all(p: &mut StreamParser, data: &str) -> Result<Vec<StreamEvent>, FramingError> {
        let mut out = Vec::new();
        p.feed(data.as_bytes(), &mut out)?;
        Ok(out)
    }

    fn elements(events: &[StreamEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                StreamEvent::Element(el) => String::from(el),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_parked_parser_goes_on_as_if_never_parked() {
        let stanzas = [
            "<message to='a@localhost' type='chat'><body>un</body></message>",
            "<presence><show>away</show></presence>",
            "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>",
        ];
        let mut straight = StreamParser::new(FramingLimits::default());
        let mut parked = StreamParser::new(FramingLimits::default());
        // The header arrives in two pieces, the first stanza right behind it.
        let first = format!("{}{}", &HEADER[40..], stanzas[0]);
        for p in [&mut straight, &mut parked] {
            feed_all(p, &HEADER[..40]).unwrap();
        }
        let a = feed_all(&mut straight, &first).unwrap();
        let b = feed_all(&mut parked, &first).unwrap();
        assert_eq!(elements(&a), elements(&b));
        for (i, stanza) in stanzas[1..].iter().enumerate() {
            // a whitespace keepalive between stanzas does not prevent parking
            let data = format!(" \n{stanza}\n");
            assert!(parked.park(), "between stanzas, before stanza {i}");
            assert!(parked.park(), "parking twice is harmless");
            let a = feed_all(&mut straight, &data).unwrap();
            let b = feed_all(&mut parked, &data).unwrap();
            assert_eq!(elements(&a), elements(&b));
            assert_eq!(b.len(), 1, "{b:?}");
        }
        assert!(parked.park());
        assert_eq!(
            feed_all(&mut parked, "</stream:stream>").unwrap(),
            vec![StreamEvent::Close]
        );
    }

    #[test]
    fn no_parking_inside_a_stanza_or_before_the_header() {
        let mut p = StreamParser::new(FramingLimits::default());
        assert!(!p.park(), "nothing received yet");
        feed_all(&mut p, "<?xml version='1.0'?><stream:str").unwrap();
        assert!(!p.park(), "inside the header");
        feed_all(&mut p, &HEADER[32..]).unwrap();
        feed_all(&mut p, "<message><body>moi").unwrap();
        assert!(!p.park(), "inside a stanza");
        let out = feed_all(&mut p, "tié</body></message><pres").unwrap();
        assert_eq!(out.len(), 1);
        assert!(!p.park(), "inside the next stanza's start tag");
        let out = feed_all(&mut p, "ence/>").unwrap();
        assert_eq!(out.len(), 1);
        assert!(p.park());
    }

    #[test]
    fn parking_keeps_the_headers_namespace_declarations() {
        let mut p = StreamParser::new(FramingLimits::default());
        let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
            xmlns:x='urn:example:x' version='1.0'>";
        feed_all(&mut p, header).unwrap();
        assert!(p.park());
        let out = feed_all(&mut p, "<x:ping id='1'/><message/>").unwrap();
        match &out[..] {
            [StreamEvent::Element(x), StreamEvent::Element(m)] => {
                assert!(x.is("ping", "urn:example:x"), "{x:?}");
                assert!(m.is("message", "jabber:client"), "{m:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_restarted_stream_parks_with_its_new_header() {
        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        p.reset();
        let second = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
            xmlns:y='urn:example:y' version='1.0'>";
        feed_all(&mut p, second).unwrap();
        assert!(p.park());
        let out = feed_all(&mut p, "<y:a/>").unwrap();
        assert!(
            matches!(&out[..], [StreamEvent::Element(e)] if e.is("a", "urn:example:y")),
            "{out:?}"
        );
    }

    #[test]
    fn bad_bytes_after_parking_are_still_refused() {
        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        assert!(p.park());
        assert!(matches!(
            feed_all(&mut p, "<message><body></message>"),
            Err(FramingError::NotWellFormed(_))
        ));
    }

    #[test]
    fn header_and_stanzas_in_small_chunks() {
        let mut p = StreamParser::new(FramingLimits::default());
        let doc = format!(
            "{HEADER}<message to='a@localhost' type='chat'><body>Bonjour 😀 &amp; &lt;b&gt;</body></message> \n<presence/></stream:stream>"
        );
        let mut out = Vec::new();
        for chunk in doc.as_bytes().chunks(7) {
            p.feed(chunk, &mut out).unwrap();
        }
        assert_eq!(out.len(), 4, "{out:?}");
        match &out[0] {
            StreamEvent::Open(h) => {
                assert_eq!(h.to.as_deref(), Some("localhost"));
                assert_eq!(h.version.as_deref(), Some("1.0"));
                assert_eq!(h.lang.as_deref(), Some("fr"));
            }
            other => panic!("{other:?}"),
        }
        match &out[1] {
            StreamEvent::Element(el) => {
                assert!(el.is("message", ns::CLIENT));
                assert_eq!(el.attr("to"), Some("a@localhost"));
                let body = el.get_child("body", ns::CLIENT).unwrap();
                assert_eq!(body.text(), "Bonjour 😀 & <b>");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[2], StreamEvent::Element(el) if el.is("presence", ns::CLIENT)));
        assert_eq!(out[3], StreamEvent::Close);
    }

    #[test]
    fn doctype_and_entities_are_refused() {
        let mut p = StreamParser::new(FramingLimits::default());
        let err = feed_all(
            &mut p,
            "<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY lol 'lol'>]><stream:stream/>",
        )
        .unwrap_err();
        assert_eq!(err.condition(), "restricted-xml");

        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        let err = feed_all(&mut p, "<message><body>&lol;</body></message>").unwrap_err();
        assert_eq!(err.condition(), "restricted-xml");

        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        let err = feed_all(&mut p, "<?evil processing?>").unwrap_err();
        assert!(matches!(
            err.condition(),
            "restricted-xml" | "not-well-formed"
        ));
    }

    #[test]
    fn malformed_xml_is_not_well_formed() {
        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        let err = feed_all(&mut p, "<message><body></message>").unwrap_err();
        assert_eq!(err.condition(), "not-well-formed");
        // Once broken, the parser swallows everything silently.
        assert!(feed_all(&mut p, "<presence/>").unwrap().is_empty());
    }

    /// `n` attributes `a0='1' a1='1' …`, as an attacker pads an unfinished tag.
    fn attributes(n: usize) -> String {
        (0..n).map(|i| format!(" a{i}='1'")).collect()
    }

    #[test]
    fn an_unfinished_tag_full_of_attributes_is_refused_while_it_comes() {
        let limits = FramingLimits {
            max_stanza_bytes: 16 * 1024,
            max_depth: 64,
        };
        // Opens with `opening`, then attributes in pieces, never closing the tag: the
        // error, once the parser took no more than a few times the limit.
        let padded = |header: bool, opening: &[u8]| {
            let mut p = StreamParser::new(limits);
            if header {
                feed_all(&mut p, HEADER).unwrap();
            }
            let mut out = Vec::new();
            p.feed(opening, &mut out).unwrap();
            let piece = attributes(500);
            let mut fed = 0;
            let result = loop {
                match p.feed(piece.as_bytes(), &mut out) {
                    Ok(()) => fed += piece.len(),
                    Err(e) => break e,
                }
                assert!(fed < 64 * 1024, "still buffering after {fed} bytes");
            };
            assert!(out.is_empty(), "{out:?}");
            result
        };
        // In a stanza's start tag, and in the stream header itself.
        assert_eq!(
            padded(true, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'"),
            FramingError::TooBig(16 * 1024)
        );
        assert_eq!(
            padded(
                false,
                b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
            ),
            FramingError::TooBig(16 * 1024)
        );
    }

    #[test]
    fn a_raised_limit_lets_bigger_stanzas_through_and_tags_just_under_it_pass() {
        let mut p = StreamParser::new(FramingLimits {
            max_stanza_bytes: 2048,
            max_depth: 64,
        });
        feed_all(&mut p, HEADER).unwrap();
        // A start tag of ~1,500 bytes of attributes, fed in pieces, under the limit.
        let tag = format!("<message{}>", attributes(150));
        assert!(tag.len() < 2048, "{}", tag.len());
        let mut out = Vec::new();
        for piece in tag.as_bytes().chunks(100) {
            p.feed(piece, &mut out).unwrap();
        }
        p.feed(b"</message>", &mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        // Authenticated: a stanza of 8 KiB passes once the limit is raised.
        p.set_max_stanza_bytes(16 * 1024);
        let out = feed_all(
            &mut p,
            &format!("<message><body>{}</body></message>", "c".repeat(8000)),
        )
        .unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn oversized_stanza_is_refused_even_before_it_ends() {
        let limits = FramingLimits {
            max_stanza_bytes: 1000,
            max_depth: 64,
        };
        let mut p = StreamParser::new(limits);
        feed_all(&mut p, HEADER).unwrap();
        let mut out = Vec::new();
        p.feed(b"<message><body>", &mut out).unwrap();
        let big = "a".repeat(600);
        let mut result = Ok(());
        for _ in 0..4 {
            result = p.feed(big.as_bytes(), &mut out);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err(), FramingError::TooBig(1000));
        // A stanza just under the limit passes, and the count restarts.
        let mut p = StreamParser::new(limits);
        feed_all(&mut p, HEADER).unwrap();
        for _ in 0..3 {
            let out = feed_all(
                &mut p,
                &format!("<message><body>{}</body></message>", "b".repeat(900)),
            )
            .unwrap();
            assert_eq!(out.len(), 1);
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        let deep = "<a>".repeat(1000);
        let err = feed_all(&mut p, &format!("<message>{deep}")).unwrap_err();
        assert_eq!(err, FramingError::TooDeep(64));
    }

    #[test]
    fn wrong_root_is_invalid_namespace() {
        let mut p = StreamParser::new(FramingLimits::default());
        let err = feed_all(&mut p, "<stream xmlns='jabber:client'>").unwrap_err();
        assert_eq!(err.condition(), "invalid-namespace");
    }

    #[test]
    fn reset_accepts_a_new_header() {
        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        p.reset();
        let out = feed_all(&mut p, &format!("{HEADER}<iq type='get' id='1'/>")).unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn prefixed_children_keep_their_namespace() {
        let mut p = StreamParser::new(FramingLimits::default());
        feed_all(&mut p, HEADER).unwrap();
        let out = feed_all(
            &mut p,
            "<iq type='get' id='x'><q:query xmlns:q='jabber:iq:roster'/></iq>",
        )
        .unwrap();
        let StreamEvent::Element(el) = &out[0] else {
            panic!()
        };
        assert!(el.get_child("query", "jabber:iq:roster").is_some());
        // Serialising it back gives parseable XML without the prefix games.
        let s = String::from(el);
        let again: Element = s.parse().unwrap();
        assert!(again.get_child("query", "jabber:iq:roster").is_some());
    }

    #[test]
    fn websocket_frames() {
        let l = FramingLimits::default();
        let open = parse_websocket_frame(
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>",
            l,
        )
        .unwrap();
        assert!(
            matches!(open, StreamEvent::Open(h) if h.framing && h.to.as_deref() == Some("localhost"))
        );
        let msg =
            parse_websocket_frame("<message xmlns='jabber:client' to='a@localhost'/>", l).unwrap();
        assert!(matches!(msg, StreamEvent::Element(el) if el.is("message", ns::CLIENT)));
        let close =
            parse_websocket_frame("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>", l)
                .unwrap();
        assert_eq!(close, StreamEvent::Close);
        assert!(parse_websocket_frame("<a/><b/>", l).is_err());
        assert!(parse_websocket_frame("<a>", l).is_err());
    }
}
