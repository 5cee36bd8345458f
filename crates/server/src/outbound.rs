//! What a connection task is asked to write: a stanza, a stanza serialised once for many
//! recipients ([`Shared`], a room's fan-out), a stop with its stream error, or to yield
//! its session to a connection that resumes it. These are
//! the items of a session's queue (`mailbox`); nothing here knows who may send what to
//! whom (that is the gate's, `services::gate`).

use std::sync::Arc;

use causerie_proto::Element;

/// What a connection task is asked to do.
#[derive(Debug)]
pub enum Outbound {
    /// Write this stanza. Boxed so that a queue slot is two words (an inline
    /// `Element` is about 110 bytes, and a busy queue keeps its buffer).
    Stanza(Box<Element>),
    /// Write this stanza, serialised once for many recipients (a room's
    /// occupants): the connection task adds its own full JID as `to`.
    Shared(Arc<Shared>),
    /// Close the stream with this stream error (boxed too: it is rare, and
    /// the slot stays the size of a pointer).
    Stop(Box<Stop>),
    /// Another connection resumes this session (XEP-0198): hand the session's state over
    /// through its `stream_mgmt::Resumption` and leave without ending the session.
    Yield,
}

/// A stanza serialised once for every recipient, without its `to` (see
/// [`Shared::addressed_to`]). A room of 30 used to clone and serialise each
/// post 30 times, once per occupant: that was most of a delivery's cost. An account's
/// presence is one too ([`Shared::presence`]): serialised when it is set, written as is
/// to each contact it is broadcast to and to each new session of a contact that probes it.
#[derive(Debug)]
pub struct Shared {
    /// The serialised stanza, without `to`.
    text: String,
    /// Where the `to` attribute goes: right after `<` and the element's name.
    at: usize,
    /// For a presence update an inactive session may hold back (XEP-0352), its sender
    /// ([`held_while_inactive`]); None for everything else, a room's fan-out included.
    held_as: Option<Box<str>>,
}

/// The sender of `el` when it is a presence update that a session whose client says it is
/// inactive (XEP-0352, `c2s`) may hold back, keeping the latest per sender: available or
/// unavailable presence, not a subscription, an error or a room's presence about the
/// session itself (status 110, which answers its own action). None otherwise.
pub fn held_while_inactive(el: &Element) -> Option<&str> {
    if el.name() != "presence" || !matches!(el.attr("type"), None | Some("unavailable")) {
        return None;
    }
    let own = el.children().any(|x| {
        x.children()
            .any(|c| c.name() == "status" && c.attr("code") == Some("110"))
    });
    (!own).then(|| el.attr("from").unwrap_or_default())
}

impl Shared {
    /// Serialises `stanza` (its `to`, if any, left out). None when it cannot be
    /// serialised, or does not start with its own name (never expected).
    pub fn new(stanza: &Element) -> Option<Arc<Shared>> {
        Shared::serialise(stanza).map(Arc::new)
    }

    /// An account's presence, serialised once for every contact it goes to; an inactive
    /// session holds it back as it would the presence itself ([`held_while_inactive`]).
    pub fn presence(presence: &Element) -> Option<Arc<Shared>> {
        let mut shared = Shared::serialise(presence)?;
        shared.held_as = held_while_inactive(presence).map(Box::from);
        Some(Arc::new(shared))
    }

    fn serialise(stanza: &Element) -> Option<Shared> {
        let text = if stanza.attr("to").is_some() {
            let mut bare = stanza.clone();
            causerie_proto::xml::remove_attr(&mut bare, "to");
            causerie_proto::xml::to_string(&bare)
        } else {
            causerie_proto::xml::to_string(stanza)
        };
        let at = 1 + stanza.name().len();
        let starts = text.as_bytes().first() == Some(&b'<')
            && text.get(1..at) == Some(stanza.name())
            && matches!(text.as_bytes().get(at), Some(b' ' | b'>' | b'/'));
        starts.then_some(Shared {
            text,
            at,
            held_as: None,
        })
    }

    /// The sender whose latest presence an inactive session keeps of this one; None when
    /// it is not held back ([`Shared::presence`]).
    pub fn held_as(&self) -> Option<&str> {
        self.held_as.as_deref()
    }

    /// The serialised stanza, as it would be with no `to`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The stanza addressed to `to_attr`, an attribute made by [`to_attribute`].
    pub fn addressed_to(&self, to_attr: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + to_attr.len());
        out.push_str(&self.text[..self.at]);
        out.push_str(to_attr);
        out.push_str(&self.text[self.at..]);
        out
    }
}

/// ` to="JID"`, escaped for the attribute (a resource may hold quotes,
/// ampersands or angle brackets).
pub fn to_attribute(jid: &str) -> String {
    format!(" to=\"{}\"", causerie_proto::errors::escape(jid))
}

/// Why a connection task must close its stream.
#[derive(Debug)]
pub struct Stop {
    /// The stream error condition (e.g. `conflict`).
    pub condition: &'static str,
    /// Its text, if any (an administrator's action says so).
    pub text: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_stanza_reads_as_the_stanza_addressed_to_each_recipient() {
        let sent: Element = "<message xmlns='jabber:client' from='r@conference.x/L&apos;éa' \
             to='someone@else' type='groupchat' id='m1'><body>a &lt; b &amp; \"c\"</body></message>"
            .parse()
            .unwrap();
        let shared = Shared::new(&sent).unwrap();
        assert!(
            !shared.text().contains("someone@else"),
            "the old 'to' is dropped"
        );
        for jid in ["lea@x/web", "hugo@x/a\"b<c>&'d\te"] {
            let text = shared.addressed_to(&to_attribute(jid));
            let got: Element = text.parse().unwrap();
            let mut want = sent.clone();
            causerie_proto::xml::set_attr(&mut want, "to", jid);
            assert_eq!(got, want, "{text}");
        }
        let empty = Element::bare("presence", "jabber:client");
        let got: Element = Shared::new(&empty)
            .unwrap()
            .addressed_to(&to_attribute("a@x/r"))
            .parse()
            .unwrap();
        assert_eq!(got.attr("to"), Some("a@x/r"));
    }

    /// Every session's queue allocates its slots 32 at a time, idle or not:
    /// a slot must stay the size of a pointer and its tag.
    #[test]
    fn a_queue_slot_is_two_words() {
        assert!(std::mem::size_of::<Outbound>() <= 16);
    }
}
