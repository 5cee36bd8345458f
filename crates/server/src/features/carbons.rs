//! XEP-0280 message carbons: a resource that enables them receives copies of
//! the chat messages its account sends and receives on other resources, so a
//! conversation follows the user across devices.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};

use super::IqResult;
use crate::Server;
use crate::c2s::Session;

pub fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !set {
        return Err(StanzaError::new(Condition::BadRequest));
    }
    let enable = payload.name() == "enable";
    server
        .sessions
        .set_carbons(&session.user, session.handle.id, enable);
    Ok(None)
}

/// Whether `stanza` is a message carbons apply to (XEP-0280 §6).
pub fn eligible(stanza: &Element) -> bool {
    stanza.attr("type") == Some("chat")
        && stanza.get_child("private", ns::CARBONS).is_none()
        && stanza.get_child("no-copy", ns::HINTS).is_none()
        && stanza.get_child("received", ns::CARBONS).is_none()
        && stanza.get_child("sent", ns::CARBONS).is_none()
}

/// Copies a message `user` sent (`direction` = "sent") or received
/// ("received") to the user's other carbon-enabled resources.
pub fn copy(server: &Server, user: &str, except: u64, direction: &str, stanza: &Element) {
    let copies = server.sessions.carbon_copies(user, except);
    if copies.is_empty() {
        return;
    }
    let bare = format!("{user}@{}", server.domain);
    for h in copies {
        let mut wrapper = xml::elem(
            "message",
            ns::CLIENT,
            &[
                ("from", &bare),
                ("to", &format!("{bare}/{}", h.resource)),
                ("type", "chat"),
            ],
        );
        let mut dir = Element::bare(direction, ns::CARBONS);
        let mut fwd = Element::bare("forwarded", ns::FORWARD);
        fwd.append_child(stanza.clone());
        dir.append_child(fwd);
        wrapper.append_child(dir);
        h.send(wrapper);
    }
}
