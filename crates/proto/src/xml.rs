//! Small helpers over [`minidom::Element`] for the attribute work stanzas need.
//!
//! minidom 0.19 takes attribute names as validated `NcName`s; these helpers
//! take `&str` and ignore names that are not valid XML names (every caller
//! passes a literal).

use minidom::Element;
use rxml::{Namespace, NcName};

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
/// it (BENCHMARKS.md, "Serialised by hand"). Anything else (declared prefixes,
/// attributes in other namespaces, a character XML cannot carry) goes through
/// minidom's writer, which decides it.
///
/// minidom's writer only fails on names it could not have parsed or on characters
/// XML cannot carry, so a failure here is a bug in our own construction; it yields an
/// empty string rather than a panic.
pub fn to_string(el: &Element) -> String {
    let mut out = String::with_capacity(256);
    if write_element(el, None, &mut out).is_some() {
        return out;
    }
    // minidom's encoder panics on a character XML cannot carry (`expect`): checked first.
    if !only_xml_chars(el) {
        return String::new();
    }
    minidom_string(el)
}

/// Whether every text, attribute value and namespace of the tree is made of characters
/// XML 1.0 can carry.
fn only_xml_chars(el: &Element) -> bool {
    let fits = |s: &str| escape(s, false, &mut String::new()).is_some();
    fits(&el.ns())
        && el.attrs().into_iter().all(|(_, v)| fits(v))
        && el.prefixes.declared_prefixes().values().all(|ns| fits(ns))
        && el.nodes().all(|node| match node {
            minidom::Node::Element(child) => only_xml_chars(child),
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
/// parent whose default namespace is `parent` (None: `el` is the root). None when the
/// element needs what only minidom's writer does (see [`to_string`]).
fn write_element(el: &Element, parent: Option<&str>, out: &mut String) -> Option<()> {
    let declared = el.prefixes.declared_prefixes();
    // A default namespace declared on the element itself (minidom then always writes
    // it); any prefix goes to minidom's writer.
    let forced = match declared.get(&None) {
        Some(ns) if !ns.is_empty() && el.has_ns(ns.as_str()) => true,
        Some(_) => return None,
        None => false,
    };
    if declared.len() > usize::from(forced) {
        return None;
    }
    out.push('<');
    out.push_str(el.name());
    let own;
    let ns = match parent {
        Some(p) if !forced && el.has_ns(p) => p,
        _ => {
            own = el.ns();
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
            return None;
        }
        out.push_str(name.as_str());
        out.push_str("='");
        escape(value, true, out)?;
        out.push('\'');
    }
    if el.nodes().next().is_none() {
        out.push_str("/>");
        return Some(());
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
    Some(())
}

/// Appends `text` escaped as rxml's encoder escapes it (in an attribute's value when
/// `attribute`); None on a character XML 1.0 cannot carry.
fn escape(text: &str, attribute: bool, out: &mut String) -> Option<()> {
    let bytes = text.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            0..=8 | 0x0b | 0x0c | 0x0e..=0x1f => return None,
            b'"' if attribute => "&#34;",
            b'\'' if attribute => "&#39;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'\r' => "&#xd;",
            b'\n' if attribute => "&#xa;",
            b'\t' if attribute => "&#x9;",
            // U+FFFE and U+FFFF (EF BF BE, EF BF BF).
            0xbe | 0xbf if i >= 2 && bytes[i - 2] == 0xef && bytes[i - 1] == 0xbf => return None,
            _ => continue,
        };
        // Every byte escaped is ASCII: `i` is a character boundary.
        out.push_str(&text[last..i]);
        out.push_str(escaped);
        last = i + 1;
    }
    out.push_str(&text[last..]);
    Some(())
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

    /// A tree of elements drawn from `seed`: names, namespaces (the empty one too),
    /// attributes with and without `xml:`, texts with every character XML escapes.
    fn random_tree(seed: &mut u64, depth: u32) -> Element {
        fn next_of(seed: &mut u64, n: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        }
        const NAMES: [&str; 4] = ["message", "body", "x", "stanza-id"];
        const NSS: [&str; 4] = ["jabber:client", "", "urn:xmpp:sid:0", "a'b&c<d>\"e"];
        const TEXTS: [&str; 6] = [
            "",
            "plain",
            "a < b & c > d",
            "quote ' and \" here",
            "line\r\nnext\ttab",
            "é 😀 ü",
        ];
        let mut el = Element::bare(
            NAMES[next_of(seed, 4) as usize],
            NSS[next_of(seed, 4) as usize],
        );
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

    #[test]
    fn the_hand_writer_writes_what_minidom_writes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5000 {
            let el = random_tree(&mut seed, 3);
            let mut fast = String::new();
            assert!(write_element(&el, None, &mut fast).is_some());
            assert_eq!(fast, minidom_string(&el));
            // And it reads back as the same tree.
            if let Ok(back) = fast.parse::<Element>() {
                assert_eq!(to_string(&back), minidom_string(&back));
            }
        }
        // What a client sends, through the stream parser.
        let mut parser =
            crate::framing::StreamParser::new(crate::framing::FramingLimits::default());
        let mut got = Vec::new();
        parser
            .feed(
                b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='e'>\
                  <message to='b@e' type='chat' xml:lang='fr'><body>a &amp; b &lt;c&gt; &apos;\"</body>\
                  <p:x xmlns:p='urn:p' p2:a='1' xmlns:p2='urn:q'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
                &mut got,
            )
            .unwrap();
        let stanzas: Vec<&Element> = got
            .iter()
            .filter_map(|e| match e {
                crate::framing::StreamEvent::Element(el) => Some(el),
                _ => None,
            })
            .collect();
        assert_eq!(stanzas.len(), 1);
        assert_eq!(to_string(stanzas[0]), minidom_string(stanzas[0]));
    }

    #[test]
    fn what_the_hand_writer_leaves_goes_through_minidom() {
        // Declared prefixes (minidom's parser keeps them) and attributes in a namespace.
        let el: Element = "<a xmlns='urn:a' xmlns:p='urn:p'><p:b p:c='1'/><d xmlns='urn:d'/></a>"
            .parse()
            .unwrap();
        assert!(write_element(&el, None, &mut String::new()).is_none());
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
    }
}
