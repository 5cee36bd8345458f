//! Small helpers over [`minidom::Element`] for the attribute work stanzas need.
//!
//! minidom 0.19 takes attribute names as validated `NcName`s; these helpers
//! take `&str` and ignore names that are not valid XML names (every caller
//! passes a literal).

use minidom::Element;
use rxml::{Namespace, NcName, XMLNS_XML, XMLNS_XMLNS};

/// Sets (or replaces) an attribute without namespace.
pub fn set_attr(el: &mut Element, name: &str, value: impl Into<String>) {
    if let Ok(n) = NcName::try_from(name) {
        el.attrs_mut().insert(Namespace::NONE, n, value.into());
    }
}

/// Removes an attribute without namespace, returning its value.
pub fn remove_attr(el: &mut Element, name: &str) -> Option<String> {
    el.attrs_mut().remove(Namespace::none(), name)
}

/// `xml:lang` of an element.
pub fn lang(el: &Element) -> Option<&str> {
    el.attrs().get(Namespace::xml(), "lang").map(String::as_str)
}

/// Sets `xml:lang`.
pub fn set_lang(el: &mut Element, lang: &str) {
    if let Ok(n) = NcName::try_from("lang") {
        el.attrs_mut()
            .insert(Namespace::xml().clone(), n, lang.to_string());
    }
}

/// A new element with attributes, e.g. `elem("item", ns::ROSTER, &[("jid", j)])`.
pub fn elem(name: &str, ns: &str, attrs: &[(&str, &str)]) -> Element {
    let mut el = Element::bare(name, ns);
    for (k, v) in attrs {
        set_attr(&mut el, k, *v);
    }
    el
}

/// A new element holding one text node.
pub fn text_elem(name: &str, ns: &str, text: impl Into<String>) -> Element {
    let mut el = Element::bare(name, ns);
    el.append_text(text.into());
    el
}

/// Serialises an element to a string: the bytes minidom's writer would write.
///
/// Written by hand for the elements every stanza is made of (namespaces as default
/// declarations, attributes without namespace or in `xml:`): minidom's writer hands
/// each item (an element's head, each attribute, each text) to rxml's encoder through
/// a buffer of its own, allocated and grown per item, with the namespace tracker's
/// maps and clones around it; serialising a 1:1 message cost about as much as parsing
/// it (BENCHMARKS.md, "Serialised by hand"). Declared prefixes and attributes in other
/// namespaces go through minidom's writer.
///
/// A tree that cannot be written as namespace-well-formed XML (a character XML cannot
/// carry, a name that is not an XML name, an element in the `xml:` or `xmlns:`
/// namespace, a reserved prefix declared) yields an empty string: the stream parser
/// builds no such tree, so it is a bug in our own construction, and minidom's encoder
/// panics on several of them.
pub fn to_string(el: &Element) -> String {
    let mut out = String::with_capacity(256);
    match write_element(el, None, &mut out) {
        Ok(()) => out,
        Err(Stop::Refused) => String::new(),
        Err(Stop::Minidom) if minidom_can_write(el) => minidom_string(el),
        Err(Stop::Minidom) => String::new(),
    }
}

/// Why the hand writer stops.
enum Stop {
    /// What minidom's writer does (declared prefixes, attributes in other namespaces).
    Minidom,
    /// What nothing may write (see [`to_string`]).
    Refused,
}

/// Whether an element may be in namespace `ns`: not in the XML namespace (`xml:`) nor in
/// that of namespace declarations (`xmlns:`), which are bound to their prefixes (Namespaces
/// in XML 1.0, §3). The stream parser refuses such elements with it.
pub(crate) fn usable_ns(ns: &str) -> bool {
    ns != XMLNS_XML && ns != XMLNS_XMLNS
}

/// Whether minidom's writer writes the tree without panicking and as namespace-well-formed
/// XML: its characters, its elements' namespaces, its attributes' namespaces and its
/// declared prefixes (rxml's `declare_fixed` panics on the reserved ones).
fn minidom_can_write(el: &Element) -> bool {
    let fits = |s: &str| escape(s, false, &mut String::new()).is_ok();
    let ns = el.ns();
    fits(&ns)
        && usable_ns(&ns)
        && el
            .attrs()
            .into_iter()
            .all(|((attr_ns, _), v)| attr_ns.as_str() != XMLNS_XMLNS && fits(v))
        && el.prefixes.declared_prefixes().iter().all(|(prefix, ns)| {
            !matches!(prefix.as_deref(), Some("xml" | "xmlns")) && usable_ns(ns) && fits(ns)
        })
        && el.nodes().all(|node| match node {
            minidom::Node::Element(child) => minidom_can_write(child),
            minidom::Node::Text(text) => fits(text),
        })
}

/// minidom's own serialisation (the reference `to_string` follows).
fn minidom_string(el: &Element) -> String {
    let mut buf = Vec::with_capacity(256);
    if el.write_to(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Writes `el` as rxml's encoder with its `SimpleNamespaces` tracker does, inside a
/// parent whose default namespace is `parent` (None: `el` is the root).
fn write_element(el: &Element, parent: Option<&str>, out: &mut String) -> Result<(), Stop> {
    let declared = el.prefixes.declared_prefixes();
    // A default namespace declared on the element itself (minidom then always writes
    // it); any prefix goes to minidom's writer.
    let forced = match declared.get(&None) {
        Some(ns) if !ns.is_empty() && el.has_ns(ns.as_str()) => true,
        Some(_) => return Err(Stop::Minidom),
        None => false,
    };
    if declared.len() > usize::from(forced) {
        return Err(Stop::Minidom);
    }
    // minidom checks the name too (and fails); nothing here may write a name that is
    // not one (it would be markup).
    if <&rxml::NcNameStr>::try_from(el.name()).is_err() {
        return Err(Stop::Refused);
    }
    out.push('<');
    out.push_str(el.name());
    let own;
    let ns = match parent {
        Some(p) if !forced && el.has_ns(p) => p,
        _ => {
            own = el.ns();
            if !usable_ns(&own) {
                return Err(Stop::Refused);
            }
            // The root's empty namespace is not declared.
            if parent.is_some() || !own.is_empty() {
                out.push_str(" xmlns='");
                escape(&own, true, out)?;
                out.push('\'');
            }
            own.as_str()
        }
    };
    for ((attr_ns, name), value) in el.attrs() {
        out.push(' ');
        if attr_ns.is_none() {
        } else if attr_ns == Namespace::xml() {
            out.push_str("xml:");
        } else {
            return Err(Stop::Minidom);
        }
        out.push_str(name.as_str());
        out.push_str("='");
        escape(value, true, out)?;
        out.push('\'');
    }
    if el.nodes().next().is_none() {
        out.push_str("/>");
        return Ok(());
    }
    out.push('>');
    for node in el.nodes() {
        match node {
            minidom::Node::Element(child) => write_element(child, Some(ns), out)?,
            minidom::Node::Text(text) => escape(text, false, out)?,
        }
    }
    out.push_str("</");
    out.push_str(el.name());
    out.push('>');
    Ok(())
}

/// Appends `text` escaped as rxml's encoder escapes it (in an attribute's value when
/// `attribute`); refused on a character XML 1.0 cannot carry.
fn escape(text: &str, attribute: bool, out: &mut String) -> Result<(), Stop> {
    let bytes = text.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            0..=8 | 0x0b | 0x0c | 0x0e..=0x1f => return Err(Stop::Refused),
            b'"' if attribute => "&#34;",
            b'\'' if attribute => "&#39;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'\r' => "&#xd;",
            b'\n' if attribute => "&#xa;",
            b'\t' if attribute => "&#x9;",
            // U+FFFE and U+FFFF (EF BF BE, EF BF BF).
            0xbe | 0xbf if i >= 2 && bytes[i - 2] == 0xef && bytes[i - 1] == 0xbf => {
                return Err(Stop::Refused);
            }
            _ => continue,
        };
        // Every byte escaped is ASCII: `i` is a character boundary.
        out.push_str(&text[last..i]);
        out.push_str(escaped);
        last = i + 1;
    }
    out.push_str(&text[last..]);
    Ok(())
}

/// A copy of `el` where every element in namespace `from` is in namespace `to` instead
/// (attributes, text and other namespaces unchanged): a stanza crossing between a client
/// stream (`jabber:client`) and a component stream (`jabber:component:accept`), whose
/// stanzas differ only by their default namespace (XEP-0114).
pub fn renamespace(el: &Element, from: &str, to: &str) -> Element {
    let ns = el.ns();
    let mut out = Element::bare(el.name(), if ns == from { to } else { ns.as_str() });
    *out.attrs_mut() = el.attrs().clone();
    for node in el.nodes() {
        match node {
            minidom::Node::Element(child) => {
                out.append_child(renamespace(child, from, to));
            }
            minidom::Node::Text(text) => out.append_text(text.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut el = elem(
            "message",
            "jabber:client",
            &[("to", "a@b"), ("type", "chat")],
        );
        set_lang(&mut el, "fr");
        set_attr(&mut el, "to", "c@d");
        assert_eq!(el.attr("to"), Some("c@d"));
        assert_eq!(lang(&el), Some("fr"));
        assert_eq!(remove_attr(&mut el, "type").as_deref(), Some("chat"));
        assert_eq!(el.attr("type"), None);
        let s = to_string(&el);
        let back: Element = s.parse().unwrap();
        assert_eq!(back.attr("to"), Some("c@d"));
        assert_eq!(lang(&back), Some("fr"));
    }

    #[test]
    fn renamespace_changes_only_the_default_namespace() {
        let el: Element = "<message xmlns='jabber:component:accept' from='a' to='b'><body>hi &amp; bye</body><x xmlns='jabber:x:data'><field var='v'/></x></message>"
            .parse()
            .unwrap();
        let c = renamespace(&el, "jabber:component:accept", "jabber:client");
        assert_eq!(c.ns(), "jabber:client");
        assert_eq!(c.attr("from"), Some("a"));
        let body = c.get_child("body", "jabber:client").unwrap();
        assert_eq!(body.text(), "hi & bye");
        assert!(
            c.get_child("x", "jabber:x:data")
                .unwrap()
                .children()
                .next()
                .is_some()
        );
        let back = renamespace(&c, "jabber:client", "jabber:component:accept");
        assert_eq!(back, el);
    }

    /// A tree of elements drawn from `seed`: names, namespaces (the empty one, one that
    /// needs escaping, and the two reserved ones), attributes with and without `xml:`,
    /// texts with every character XML escapes.
    fn random_tree(seed: &mut u64, depth: u32) -> Element {
        fn next_of(seed: &mut u64, n: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        }
        const NAMES: [&str; 4] = ["message", "body", "x", "stanza-id"];
        const NSS: [&str; 6] = [
            "jabber:client",
            "",
            "urn:xmpp:sid:0",
            "a'b&c<d>\"e",
            XMLNS_XML,
            XMLNS_XMLNS,
        ];
        const TEXTS: [&str; 6] = [
            "",
            "plain",
            "a < b & c > d",
            "quote ' and \" here",
            "line\r\nnext\ttab",
            "é 😀 ü",
        ];
        // The reserved namespaces rarely, so that most trees are writable.
        let ns = match next_of(seed, 40) {
            0 => XMLNS_XML,
            1 => XMLNS_XMLNS,
            n => NSS[(n % 4) as usize],
        };
        let mut el = Element::bare(NAMES[next_of(seed, 4) as usize], ns);
        for _ in 0..next_of(seed, 4) {
            let name = ["id", "to", "from", "type", "by"][next_of(seed, 5) as usize];
            set_attr(&mut el, name, TEXTS[next_of(seed, 6) as usize]);
        }
        if next_of(seed, 3) == 0 {
            set_lang(&mut el, TEXTS[next_of(seed, 6) as usize]);
        }
        for _ in 0..if depth == 0 { 0 } else { next_of(seed, 4) } {
            if next_of(seed, 2) == 0 {
                el.append_text(TEXTS[next_of(seed, 6) as usize]);
            } else {
                let child = random_tree(seed, depth - 1);
                el.append_child(child);
            }
        }
        el
    }

    fn has_reserved_ns(el: &Element) -> bool {
        !usable_ns(&el.ns()) || el.children().any(has_reserved_ns)
    }

    #[test]
    fn the_hand_writer_writes_what_minidom_writes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let (mut written, mut refused, mut read_back) = (0, 0, 0);
        for _ in 0..5000 {
            let el = random_tree(&mut seed, 3);
            if has_reserved_ns(&el) {
                // Never written: not namespace-well-formed (minidom writes `xml:x` or
                // `xmlns:x`, which no parser takes back).
                assert_eq!(to_string(&el), "");
                refused += 1;
                continue;
            }
            let mut fast = String::new();
            assert!(write_element(&el, None, &mut fast).is_ok());
            assert_eq!(fast, minidom_string(&el));
            assert_eq!(to_string(&el), fast);
            written += 1;
            // What minidom's parser makes of it (the archive and offline storage read
            // stanzas back so: every element that declared its namespace keeps it as a
            // declared prefix) is written as minidom writes it too. A root without a
            // namespace does not parse (minidom: MissingNamespace).
            if !el.ns().is_empty() {
                let back: Element = fast.parse().unwrap();
                let mut again = String::new();
                // By hand, unless a child declares the empty namespace (`xmlns=''`).
                if write_element(&back, None, &mut again).is_ok() {
                    read_back += 1;
                    assert_eq!(again, minidom_string(&back));
                }
                assert_eq!(to_string(&back), minidom_string(&back));
            }
        }
        assert!(
            written > 4000 && refused > 100 && read_back > 2000,
            "{written} {refused} {read_back}"
        );
    }

    /// The stanzas of `bytes`, sent after a stream header, through the stream parser.
    fn parsed(bytes: &[u8]) -> Result<Vec<Element>, crate::framing::FramingError> {
        let mut parser =
            crate::framing::StreamParser::new(crate::framing::FramingLimits::default());
        let mut got = Vec::new();
        parser.feed(
            b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='e'>",
            &mut got,
        )?;
        parser.feed(bytes, &mut got)?;
        Ok(got
            .into_iter()
            .filter_map(|e| match e {
                crate::framing::StreamEvent::Element(el) => Some(el),
                _ => None,
            })
            .collect())
    }

    #[test]
    fn what_a_client_sends_is_written_by_hand_or_refused_at_the_door() {
        // Prefixes, an empty default namespace and escapes: written by hand.
        let got = parsed(
            b"<message to='b@e' type='chat' xml:lang='fr'><body>a &amp; b &lt;c&gt; &apos;\"</body>\
              <p:x xmlns:p='urn:p'><y/><z xmlns=''/></p:x><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
        )
        .unwrap();
        assert_eq!(got.len(), 1);
        let mut fast = String::new();
        assert!(write_element(&got[0], None, &mut fast).is_ok());
        assert_eq!(fast, minidom_string(&got[0]));
        assert!(
            fast.contains("<x xmlns='urn:p'><y xmlns='jabber:client'/><z xmlns=''/></x>"),
            "{fast}"
        );
        // Read back by minidom (an empty default declared: minidom's writer) and again.
        let back: Element = fast.parse().unwrap();
        assert_eq!(to_string(&back), minidom_string(&back));
        assert!(!to_string(&back).is_empty());
        // An attribute in a namespace: minidom's writer.
        let got = parsed(b"<message><x xmlns='urn:x' xmlns:q='urn:q' q:a='1'/></message>").unwrap();
        assert!(write_element(&got[0], None, &mut String::new()).is_err());
        assert_eq!(to_string(&got[0]), minidom_string(&got[0]));
        // Elements in the reserved namespaces never get past the parser.
        for bad in [
            &b"<message><c xmlns='http://www.w3.org/2000/xmlns/'/></message>"[..],
            &b"<message><xml:c/></message>"[..],
        ] {
            assert!(matches!(
                parsed(bad),
                Err(crate::framing::FramingError::NotWellFormed(_))
            ));
        }
    }

    #[test]
    fn what_the_hand_writer_leaves_goes_through_minidom_or_nowhere() {
        // Declared prefixes (minidom's parser keeps them) and attributes in a namespace.
        let el: Element = "<a xmlns='urn:a' xmlns:p='urn:p'><p:b p:c='1'/><d xmlns='urn:d'/></a>"
            .parse()
            .unwrap();
        assert!(write_element(&el, None, &mut String::new()).is_err());
        assert_eq!(to_string(&el), minidom_string(&el));
        // A character XML cannot carry (minidom's writer panics on it): an empty string,
        // on both paths.
        let bad = text_elem("body", "jabber:client", "a\u{1}b");
        assert_eq!(to_string(&bad), "");
        let bad = elem("body", "jabber:client", &[("id", "\u{fffe}")]);
        assert_eq!(to_string(&bad), "");
        let mut bad = el.clone();
        bad.append_text("\u{1b}");
        assert_eq!(to_string(&bad), "");
        // A name that is not an XML name, and an element in `xmlns:` under a prefixed
        // tree (rxml's namespace tracker panics on it): nothing written.
        let bad = Element::bare("a b", "urn:a");
        assert_eq!(to_string(&bad), "");
        let mut bad = el.clone();
        bad.append_child(Element::bare("c", XMLNS_XMLNS));
        assert_eq!(to_string(&bad), "");
        let mut bad = el.clone();
        bad.append_child(Element::bare("c", XMLNS_XML));
        assert_eq!(to_string(&bad), "");
    }
}
