//! Roster pushes (RFC 6121 §2.1.6): the `<item/>` of a roster item, and its push to every
//! resource of the account that has its roster: those that asked for it, and those that
//! sent available presence (a client that keeps its roster between connections, as
//! Converse does across a page reload, does not ask again; see `sessions::Interest`).
//! When a session asked for the roster with a version (RFC 6121 §2.6), pushes carry the
//! roster's version after the change. A push is what the server itself says to an account
//! about its own roster (`Pass::server_notice`). Causerie adds one
//! documented extension to an item, `<refused xmlns='urn:causerie:roster:0'/>`, present
//! while the contact has refused our request (« Invitation refusée »).

use causerie_proto::{Element, ns, xml};
use causerie_store::RosterItem;

use crate::server::Server;
use crate::services::Pass;
use crate::services::sessions::Interest;

/// The `<item/>` of a roster item.
pub fn item_element(item: &RosterItem) -> Element {
    let mut el = xml::elem(
        "item",
        ns::ROSTER,
        &[
            ("jid", &item.contact),
            ("subscription", item.subscription.as_str()),
        ],
    );
    if let Some(name) = &item.name {
        xml::set_attr(&mut el, "name", name.as_str());
    }
    if item.ask {
        xml::set_attr(&mut el, "ask", "subscribe");
    }
    if item.approved {
        xml::set_attr(&mut el, "approved", "true");
    }
    for g in &item.groups {
        el.append_child(xml::text_elem("group", ns::ROSTER, g.clone()));
    }
    if item.refused {
        el.append_child(Element::bare("refused", ns::CAUSERIE_ROSTER));
    }
    el
}

/// Sends a roster push (RFC 6121 §2.1.6) of `item` to `user`'s interested resources.
pub async fn push(server: &Server, user: &str, item: &RosterItem) {
    push_element(server, user, item_element(item)).await;
}

/// Sends a roster push of `item` (an `<item/>`) to `user`'s interested resources.
pub async fn push_element(server: &Server, user: &str, item: Element) {
    if !server.sessions.is_online(user) {
        return;
    }
    let ver = if server.sessions.wants_roster_ver(user) {
        match server.contacts.version(user).await {
            Ok(v) => Some(v.to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a roster version for a push");
                None
            }
        }
    } else {
        None
    };
    let to = format!("{user}@{}", server.domain);
    server
        .sessions
        .deliver_interested(&Pass::server_notice(user), Interest::Roster, |resource| {
            let mut iq = xml::elem("iq", ns::CLIENT, &[("type", "set")]);
            xml::set_attr(
                &mut iq,
                "id",
                format!("push-{}", uuid::Uuid::new_v4().simple()),
            );
            xml::set_attr(&mut iq, "to", format!("{to}/{resource}"));
            let mut q = Element::bare("query", ns::ROSTER);
            if let Some(v) = &ver {
                xml::set_attr(&mut q, "ver", v.as_str());
            }
            q.append_child(item.clone());
            iq.append_child(q);
            iq
        });
}
