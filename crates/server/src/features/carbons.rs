//! XEP-0280 message carbons: a resource that enables them receives copies of
//! the chat messages its account sends and receives on other resources, so a
//! conversation follows the user across devices.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};

use crate::server::Server;
use crate::services::Pass;
use crate::session::Session;
use crate::stanza::IqResult;

pub fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !set {
        return Err(StanzaError::new(Condition::BadRequest));
    }
    let enable = payload.name() == "enable";
    server
        .sessions
        .set_carbons(&session.user, session.id(), enable);
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

/// Copies a message the account of `pass` sent (`direction` = "sent") or received
/// ("received") to its carbon-enabled resources other than `except`. The pass is the
/// one that let the message reach that account (its own, for "sent").
pub fn copy(server: &Server, pass: &Pass, except: u64, direction: &str, stanza: &Element) {
    let user = pass.to();
    if !server.sessions.wants_carbons(user, except) {
        return;
    }
    let bare = format!("{user}@{}", server.domain);
    server.sessions.deliver_carbons(pass, except, |resource| {
        let mut wrapper = xml::elem(
            "message",
            ns::CLIENT,
            &[
                ("from", &bare),
                ("to", &format!("{bare}/{resource}")),
                ("type", "chat"),
            ],
        );
        let mut dir = Element::bare(direction, ns::CARBONS);
        let mut fwd = Element::bare("forwarded", ns::FORWARD);
        fwd.append_child(stanza.clone());
        dir.append_child(fwd);
        wrapper.append_child(dir);
        wrapper
    });
}
