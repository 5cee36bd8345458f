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

/// Serialises an element to a string.
///
/// minidom's writer only fails on names it could not have parsed, so a
/// failure here is a bug in our own construction; it yields an empty string
/// rather than a panic.
pub fn to_string(el: &Element) -> String {
    let mut buf = Vec::with_capacity(256);
    if el.write_to(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
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
}
