//! A minimal incremental reader of the server's XML stream, far lighter than a
//! parser: it only finds where each top-level element (stanza) starts and ends,
//! and reads attributes and text out of it on demand. It trusts the server to
//! send well-formed XML (the server under test is not the adversary here), and
//! skips the XML declaration, comments and CDATA sections.

use anyhow::{Result, bail};

/// What the framer found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's `<stream:stream ...>` header (its bytes).
    Open(Vec<u8>),
    /// One complete top-level element: `buf[range]`.
    Element(std::ops::Range<usize>),
    /// `</stream:stream>`.
    Close,
}

/// Finds stanzas in the bytes read from the server.
#[derive(Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes before this index have been handed out and may be dropped.
    consumed: usize,
    /// Scan position.
    pos: usize,
    depth: usize,
    elem_start: usize,
}

/// Limit of one unfinished stanza, so that a runaway server cannot exhaust us.
const MAX_PENDING: usize = 16 << 20;

impl Framer {
    pub fn new() -> Framer {
        Framer::default()
    }

    /// Forgets everything (a stream restart after STARTTLS or SASL).
    pub fn reset(&mut self) {
        *self = Framer::default();
    }

    /// Appends bytes read from the socket. Elements returned before are invalidated.
    pub fn feed(&mut self, data: &[u8]) -> Result<()> {
        if self.consumed > 0 {
            self.buf.drain(..self.consumed);
            self.pos -= self.consumed;
            self.elem_start = self.elem_start.saturating_sub(self.consumed);
            self.consumed = 0;
        }
        if self.buf.len() + data.len() > MAX_PENDING {
            bail!("server sent an element over {MAX_PENDING} bytes");
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The bytes of an element returned by [`Framer::next`].
    pub fn get(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// The next event, or None when more bytes are needed.
    pub fn next(&mut self) -> Result<Option<Event>> {
        loop {
            let Some(lt) = memchr(b'<', &self.buf[self.pos..]) else {
                // Text (whitespace keepalives at depth 1, character data inside).
                self.pos = self.buf.len();
                if self.depth <= 1 {
                    self.consumed = self.pos;
                }
                return Ok(None);
            };
            let start = self.pos + lt;
            let rest = &self.buf[start..];
            if rest.len() < 2 {
                self.pos = start;
                return Ok(None);
            }
            // Declarations, comments, CDATA: skip to their terminator.
            let skip: Option<&[u8]> = if rest.starts_with(b"<?") {
                Some(b"?>")
            } else if rest.starts_with(b"<!--") {
                Some(b"-->")
            } else if rest.starts_with(b"<![CDATA[") {
                Some(b"]]>")
            } else if rest.len() < 9 && (rest.starts_with(b"<!") || b"<![CDATA[".starts_with(rest))
            {
                self.pos = start;
                return Ok(None);
            } else {
                None
            };
            if let Some(term) = skip {
                match find(rest, term) {
                    Some(i) => {
                        self.pos = start + i + term.len();
                        if self.depth <= 1 {
                            self.consumed = self.pos;
                        }
                        continue;
                    }
                    None => {
                        self.pos = start;
                        return Ok(None);
                    }
                }
            }
            let Some(len) = tag_len(rest) else {
                self.pos = start;
                return Ok(None);
            };
            let end = start + len;
            self.pos = end;
            let tag = &self.buf[start..end];
            if tag[1] == b'/' {
                match self.depth {
                    0 => bail!("closing tag outside the stream"),
                    1 => {
                        self.depth = 0;
                        self.consumed = end;
                        return Ok(Some(Event::Close));
                    }
                    2 => {
                        self.depth = 1;
                        self.consumed = end;
                        return Ok(Some(Event::Element(self.elem_start..end)));
                    }
                    _ => self.depth -= 1,
                }
            } else if tag[len - 2] == b'/' {
                match self.depth {
                    0 => bail!("empty element instead of a stream header"),
                    1 => {
                        self.consumed = end;
                        return Ok(Some(Event::Element(start..end)));
                    }
                    _ => {}
                }
            } else {
                match self.depth {
                    0 => {
                        self.depth = 1;
                        self.consumed = end;
                        return Ok(Some(Event::Open(tag.to_vec())));
                    }
                    1 => {
                        self.elem_start = start;
                        self.depth = 2;
                    }
                    _ => self.depth += 1,
                }
            }
        }
    }
}

fn memchr(b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == b)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The length of the tag starting at `s[0] == '<'`, up to and including `>`,
/// skipping quoted attribute values; None when incomplete.
fn tag_len(s: &[u8]) -> Option<usize> {
    let mut quote = 0u8;
    for (i, &c) in s.iter().enumerate().skip(1) {
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'>' {
            return Some(i + 1);
        }
    }
    None
}

/// The local name of the element (prefix dropped): `stream:features` gives `features`.
pub fn name(el: &[u8]) -> &[u8] {
    let end = el
        .iter()
        .skip(1)
        .position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
        .map_or(el.len(), |i| i + 1);
    let qname = &el[1.min(end)..end];
    match qname.iter().position(|&c| c == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

/// The (unescaped only for the five predefined entities) value of attribute `attr`
/// of the element's start tag.
pub fn attr(el: &[u8], attr: &str) -> Option<String> {
    let tag = &el[..tag_len(el).unwrap_or(el.len())];
    let a = attr.as_bytes();
    let mut i = 1;
    let mut quote = 0u8;
    while i < tag.len() {
        let c = tag[i];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            quote = c;
            i += 1;
            continue;
        }
        if tag[i - 1].is_ascii_whitespace() && tag[i..].starts_with(a) {
            let mut j = i + a.len();
            while j < tag.len() && tag[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < tag.len() && tag[j] == b'=' {
                j += 1;
                while j < tag.len() && tag[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < tag.len() && (tag[j] == b'"' || tag[j] == b'\'') {
                    let q = tag[j];
                    let v0 = j + 1;
                    let v1 = tag[v0..].iter().position(|&c| c == q)? + v0;
                    return Some(unescape(&tag[v0..v1]));
                }
            }
        }
        i += 1;
    }
    None
}

/// The text of the first descendant element named `child` (local name), e.g.
/// `<challenge>` content or `<jid>` inside `<bind>`.
pub fn child_text(el: &[u8], child: &str) -> Option<String> {
    let c = child.as_bytes();
    let mut i = 0;
    while let Some(lt) = memchr(b'<', &el[i..]) {
        let s = i + lt;
        let tag = &el[s..];
        let len = tag_len(tag)?;
        if tag.get(1) != Some(&b'/') && name(tag) == c {
            if tag[len - 2] == b'/' {
                return Some(String::new());
            }
            let body = &el[s + len..];
            let end = memchr(b'<', body)?;
            return Some(unescape(&body[..end]));
        }
        i = s + 1;
    }
    None
}

/// The text content of the element itself (up to its first child or end tag).
pub fn text(el: &[u8]) -> Option<String> {
    let len = tag_len(el)?;
    if el[len - 2] == b'/' {
        return Some(String::new());
    }
    let body = &el[len..];
    let end = memchr(b'<', body)?;
    Some(unescape(&body[..end]))
}

/// Whether the element contains `needle` anywhere (a cheap test for a child or a value).
pub fn contains(el: &[u8], needle: &str) -> bool {
    find(el, needle.as_bytes()).is_some()
}

fn unescape(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if !s.contains('&') {
        return s.into_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Escapes text for an attribute value or character data.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// The value of attribute `attr` of the first descendant element named `child` (local
/// name), e.g. the `token` of `<token/>` inside `<success/>`.
pub fn find_attr_of(el: &[u8], child: &str, attr_name: &str) -> Option<String> {
    let c = child.as_bytes();
    let mut i = 0;
    while let Some(lt) = memchr(b'<', &el[i..]) {
        let s = i + lt;
        let tag = &el[s..];
        if tag.get(1) != Some(&b'/') && name(tag) == c {
            return attr(tag, attr_name);
        }
        i = s + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(fr: &mut Framer) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(ev) = fr.next().unwrap() {
            out.push(match ev {
                Event::Open(h) => format!("OPEN {}", String::from_utf8_lossy(&h)),
                Event::Element(r) => String::from_utf8_lossy(fr.get(r)).into_owned(),
                Event::Close => "CLOSE".into(),
            });
        }
        out
    }

    #[test]
    fn frames_a_stream_fed_byte_by_byte() {
        let stream = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='a>b'>\
            <stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features> \
            <message to='x' a=\"q'>\"><body>hi &amp; <![CDATA[<no>]]></body></message><!-- c -->\
            <presence/></stream:stream>";
        let mut fr = Framer::new();
        let mut got = Vec::new();
        for b in stream.as_bytes() {
            fr.feed(&[*b]).unwrap();
            got.extend(all(&mut fr));
        }
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got[0].starts_with("OPEN <stream:stream"));
        assert!(got[1].starts_with("<stream:features>"));
        assert!(got[2].starts_with("<message") && got[2].ends_with("</message>"));
        assert_eq!(got[3], "<presence/>");
        assert_eq!(got[4], "CLOSE");
    }

    #[test]
    fn reads_names_attributes_and_text() {
        let el = b"<iq type='result' id=\"b&amp;1\"><bind xmlns='x'><jid>u1@localhost/r</jid></bind></iq>";
        assert_eq!(name(el), b"iq");
        assert_eq!(attr(el, "type").as_deref(), Some("result"));
        assert_eq!(attr(el, "id").as_deref(), Some("b&1"));
        assert_eq!(attr(el, "d"), None);
        assert_eq!(child_text(el, "jid").as_deref(), Some("u1@localhost/r"));
        assert_eq!(name(b"<stream:features>"), b"features");
        assert_eq!(
            text(b"<challenge xmlns='s'>cj1h</challenge>").as_deref(),
            Some("cj1h")
        );
    }
}
